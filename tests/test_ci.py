"""CI (.ci/run) runs what the README tells a user to run: the CPU torch first, ruff, then the test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    assert block, "the README starts with a bash block of its two commands"
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    tests = [c for c in commands if "pytest" in c]
    assert len(tests) == 1, commands
    return tests[0].strip()


def test_ci_runs_ruff_then_exactly_the_readme_test_command_after_the_cpu_torch():
    lines = [line.strip() for line in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()]
    command = _readme_test_command()
    assert command in lines, f"{command!r} is not a line of .ci/run"
    position = {key: lines.index(key) for key in ("python -m pip install -q torch==2.13.0", "ruff check .")}
    position["ruff format --check ."] = lines.index("ruff format --check .")
    assert position["python -m pip install -q torch==2.13.0"] < position["ruff check ."]
    assert position["ruff check ."] < position["ruff format --check ."] < lines.index(command)
    assert lines.index('python3 -m venv "$venv"') < position["python -m pip install -q torch==2.13.0"]


def test_the_ruff_ci_installs_is_pinned_in_the_dev_extra():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"ruff==\d+\.\d+\.\d+"', pyproject)
    assert 'grep -o \'"ruff==[^"]*"\' pyproject.toml' in (ROOT / ".ci/run").read_text(encoding="utf-8")
