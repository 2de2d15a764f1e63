"""Stopping ``python -m scenarios.dashboard`` ends the ``solara run`` server it started (the whole process group)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        __import__("importlib").util.find_spec("solara") is None, reason="needs the dashboard extra (solara)"
    ),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_wrapper_stops_the_server(sig, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = (tmp_path / "server.log").open("w")
    cmd = [sys.executable, "-m", "scenarios.dashboard", "--host", "127.0.0.1", "--port", str(port)]
    # the wrapper in this test's process group, as a shell would start it; it must take its server along
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _serving(url):
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.5)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the wrapper runs the server in a child process"
        group = os.getpgid(children[0].pid)
        assert group != os.getpgid(0)  # a process group of its own
        proc.send_signal(sig)  # the wrapper only, not its group
        assert proc.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"still running after the wrapper stopped: {[p.pid for p in alive]}"
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
        assert not _serving(url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in psutil.Process().children(recursive=True):
            child.kill()
