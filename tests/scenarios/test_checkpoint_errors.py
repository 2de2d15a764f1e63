"""A checkpoint that does not fit the run ends the scenario CLI in one line naming the mismatch (exit code 2).

Wrong K, observation setting or horizon, another format version or variant,
weights that do not fit the stored config, a truncated file, flipped bits (the
zip CRC-32 that ``torch.load`` does not check), a pickle that is not plain data,
or no file at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from policies.checkpoints import save_checkpoint
from policies.mermaide import MermaideConfig, PrincipalNet
from scenarios import bandit_alignment, green_tax
from scenarios._bandit_tasks import BanditSetup

ROOT = Path(__file__).resolve().parents[2]
BANDIT = ["--quick", "--principals", "none,mermaide", "--no-progress"]
TINY = MermaideConfig(hidden=8, width=8)


def _save(path: Path, setup: BanditSetup, cfg: MermaideConfig = TINY, **extra) -> Path:
    net = PrincipalNet(setup.net_spec(), cfg.hidden, cfg.width, generator=torch.Generator().manual_seed(0))
    save_checkpoint(path, net, cfg, problem="bandit_alignment", extra=extra or None)
    return path


def _good(folder: Path) -> Path:
    return _save(folder / "mermaide-full.pt", BanditSetup())


def _flip_tensor_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data/8") + 200  # inside a weight matrix, past its local header
    raw[at] ^= 0x40
    path.write_bytes(bytes(raw))


def _weights_too_small(folder: Path) -> None:
    # the config says 16 hidden units, the weights have 8
    path = _good(folder)
    state = torch.load(path, weights_only=True)
    state["config"]["hidden"] = 16
    torch.save(state, path)


def _other_version(folder: Path) -> None:
    path = _good(folder)
    state = torch.load(path, weights_only=True)
    state["format_version"] = 99
    torch.save(state, path)


class _NotData:
    pass


CASES = {
    "n_actions": (lambda d: _save(d / "mermaide-full.pt", BanditSetup(n_actions=4)), "n_actions=4"),
    "observation": (lambda d: _save(d / "mermaide-full.pt", BanditSetup(observation="actions")), "observation"),
    "horizon": (lambda d: _save(d / "mermaide-full.pt", BanditSetup(horizon=12)), "horizon=12"),
    "format_version": (_other_version, "format version 99"),
    "variant": (
        lambda d: _save(d / "mermaide-full.pt", BanditSetup(), MermaideConfig(variant="wm_only", hidden=8, width=8)),
        "variant 'wm_only'",
    ),
    "weights": (_weights_too_small, "hidden=16"),
    "truncated": (lambda d: (p := _good(d)).write_bytes(p.read_bytes()[:-300]), "truncated"),
    "bit_flip": (lambda d: _flip_tensor_byte(_good(d)), "CRC-32"),
    "empty": (lambda d: (d / "mermaide-full.pt").write_bytes(b""), "empty"),
    "text": (lambda d: (d / "mermaide-full.pt").write_text("not a checkpoint\n"), "not a checkpoint file"),
    "pickle": (lambda d: torch.save({"format": _NotData()}, d / "mermaide-full.pt"), "Python objects"),
    "missing": (lambda d: None, "does not exist"),
}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mermaide: "), lines
    return lines[0]


@pytest.mark.parametrize("case", list(CASES))
def test_bandit_alignment_refuses_a_wrong_checkpoint_in_one_line(tmp_path, capsys, case):
    make, expect = CASES[case]
    folder = tmp_path / "ckpt"
    folder.mkdir()
    make(folder)
    code = bandit_alignment.main([*BANDIT, "--checkpoints", str(folder), "--out", str(tmp_path / "run")])
    line = _one_error_line(capsys)
    assert code == 2
    assert expect in line
    assert line.endswith(f"--out {folder}") or str(folder) in line  # the whole message, with the retrain hint
    assert not (tmp_path / "run").exists()  # never a final run folder


def test_a_good_checkpoint_passes_the_same_checks(tmp_path):
    folder = tmp_path / "ckpt"
    _good(folder)
    setup = BanditSetup()
    args = bandit_alignment.Args(checkpoints=str(folder))
    principal = bandit_alignment._learned("mermaide", setup, args)
    assert principal.net.spec == setup.net_spec()


def test_green_tax_refuses_a_bandit_checkpoint_in_one_line(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    _save(folder / "mermaide.pt", BanditSetup())
    argv = ["--quick", "--principals", "none,mermaide", "--no-progress", "--checkpoints", str(folder)]
    assert green_tax.main([*argv, "--out", str(tmp_path / "run")]) == 2
    line = _one_error_line(capsys)
    assert "another economy" in line or "trained for" in line


def test_cli_subprocess_truncated_checkpoint(tmp_path):
    """The real command line: exit code 2, one line on stderr, no traceback."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    CASES["truncated"][0](folder)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.bandit_alignment", *BANDIT, "--checkpoints", str(folder)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mermaide: ") and "truncated" in lines[0], proc.stderr
