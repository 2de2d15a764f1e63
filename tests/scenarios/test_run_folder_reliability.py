"""Interrupted scenario runs: only ``<out>.partial`` with INCOMPLETE, never a final folder that looks complete.

Each test runs the real scenario entry point in-process (``main([...,
"--quick"])``) and interrupts it from below the scenario's run loop (the
simulator's ``IncentiveModel.run``, or the report writer), so the checks hold
whatever the loop looks like.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.runs import INCOMPLETE_FILE, PARTIAL_SUFFIX, IncompleteRunError, is_complete, load_run
from scenarios import bandit_alignment, green_tax
from simulator.model import IncentiveModel

# 2 tasks (seed 0 x headline, rational); per task: the first-best episode, then none and pigouvian
GREEN = [
    "--quick",
    "--principals",
    "none,pigouvian",
    "--households.n-households",
    "300",
    "--economy.horizon",
    "6",
    "--no-progress",
]
GREEN_RUNS_PER_TASK = 3
# 2 tasks (seed 0, observation full x 2 settings), 2 test types each
BANDIT = ["--quick", "--principals", "none,constant", "--setup.horizon", "8", "--no-progress"]


class _Interrupt:
    """Makes ``target.run`` (an episode; default ``IncentiveModel.run``) raise ``exc`` on its ``at``-th call."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, at: int, exc: type[BaseException], target: type = IncentiveModel
    ) -> None:
        self.calls, self.at, self.exc = 0, at, exc
        real = target.run

        def run(model: Any, *args: Any) -> Any:
            self.calls += 1
            if self.calls == self.at:
                raise self.exc("interrupted by the test")
            return real(model, *args)

        monkeypatch.setattr(target, "run", run)


def _assert_incomplete(out: Path, exc: type[BaseException]) -> Path:
    """Only ``<out>.partial`` exists, marked INCOMPLETE with the error, and no tool takes it for a run."""
    partial = out.with_name(out.name + PARTIAL_SUFFIX)
    assert not out.exists(), "an interrupted run published its final folder"
    assert partial.is_dir()
    marker = json.loads((partial / INCOMPLETE_FILE).read_text())
    assert marker["error_type"] == exc.__name__
    assert json.loads((partial / "run.json").read_text())["status"] == "running"
    assert not is_complete(partial)
    with pytest.raises(IncompleteRunError):
        load_run(partial)
    return partial


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    return lines[0]


@pytest.mark.parametrize(
    ("at", "exc", "settings_left"),
    [
        (1, KeyboardInterrupt, set()),  # Ctrl-C in the first task: no rows at all
        (GREEN_RUNS_PER_TASK + 2, RuntimeError, {"headline"}),  # a crash in the second task
    ],
)
def test_green_tax_interrupted_mid_run(tmp_path, monkeypatch, capsys, at, exc, settings_left):
    from scenarios.green_tax.economy import GreenModel

    out = tmp_path / "run"
    stop = _Interrupt(monkeypatch, at, exc, target=GreenModel)  # green_tax's episodes run the economy
    with pytest.raises(exc, match="interrupted by the test"):
        green_tax.main([*GREEN, "--out", str(out)])
    assert stop.calls == at
    partial = _assert_incomplete(out, exc)
    results = partial / "results.csv"
    have = set(pd.read_csv(results).setting) if results.exists() and results.stat().st_size else set()
    assert have == settings_left  # only finished tasks, never the interrupted one
    assert not (partial / "report.html").exists()

    # the same command again is refused in one line; --resume finishes it
    assert green_tax.main([*GREEN, "--out", str(out)]) == 2
    assert "--resume" in _one_error_line(capsys)
    monkeypatch.undo()
    assert green_tax.main([*GREEN, "--out", str(out), "--resume"]) == 0
    assert not out.with_name(out.name + PARTIAL_SUFFIX).exists()
    assert not (out / INCOMPLETE_FILE).exists() and is_complete(out)
    df = pd.read_csv(out / "results.csv")
    assert sorted(df.setting.unique()) == ["headline", "rational"] and len(df) == 4
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError])
def test_green_tax_interrupted_while_writing_the_report(tmp_path, monkeypatch, exc):
    """The results table is written, the report is not: still only a .partial folder."""
    import scenarios.green_tax.report as report

    def broken(*args, **kwargs):
        raise exc("interrupted by the test")

    monkeypatch.setattr(report, "write_report", broken)
    out = tmp_path / "run"
    with pytest.raises(exc):
        green_tax.main([*GREEN, "--out", str(out)])
    partial = _assert_incomplete(out, exc)
    assert len(pd.read_csv(partial / "results.csv")) == 4  # complete rows, but in a folder marked INCOMPLETE


def test_bandit_alignment_interrupted_mid_run(tmp_path, monkeypatch, capsys):
    # an uninterrupted run, counting the episodes: Ctrl-C then comes in the middle of the run
    clean = tmp_path / "clean"
    counter = _Interrupt(monkeypatch, 0, KeyboardInterrupt)
    assert bandit_alignment.main([*BANDIT, "--out", str(clean)]) == 0
    n_clean, per_run = len(pd.read_csv(clean / "results.csv")), counter.calls
    monkeypatch.undo()

    out = tmp_path / "run"
    _Interrupt(monkeypatch, per_run // 2 + 1, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        bandit_alignment.main([*BANDIT, "--out", str(out)])
    partial = _assert_incomplete(out, KeyboardInterrupt)
    results = partial / "results.csv"
    n_left = len(pd.read_csv(results)) if results.exists() and results.stat().st_size else 0
    assert n_left < n_clean
    assert bandit_alignment.main([*BANDIT, "--out", str(out)]) == 2
    assert "--resume" in _one_error_line(capsys)

    monkeypatch.undo()
    assert bandit_alignment.main([*BANDIT, "--out", str(out), "--resume"]) == 0
    assert is_complete(out) and not out.with_name(out.name + PARTIAL_SUFFIX).exists()
    assert (out / "results.csv").read_bytes() == (clean / "results.csv").read_bytes()
