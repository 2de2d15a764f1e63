"""Reports of runs that leave out a reference principal: they say less, and never end in a traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scenarios import bandit_alignment
from scenarios._bandit_report import _verdicts


@pytest.mark.slow  # about 40 s; the fast test below checks the verdicts on the same kind of table
def test_bandit_run_without_the_oracle_finishes_with_its_report(tmp_path, capsys):
    """The issue's command (smaller): normalized scores need the oracle, so the verdicts skip them."""
    argv = [
        "--learner",
        "epsilon_greedy",
        "--principals",
        "none,constant,mermaide",
        "--shots",
        "0,1",
        "--seeds",
        "2",
        "--test-types",
        "1",
        "--agents-per-type",
        "2",
        "--observations",
        "full",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
    ]
    assert bandit_alignment.main(argv) == 0, capsys.readouterr().err
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert results.normalized_score.isna().all()  # nothing to normalize by
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Normalized scores need both the" in html


def _results(score: float) -> pd.DataFrame:
    rows = []
    for seed in range(3):
        for principal, level in (("none", 0.0), ("constant", 0.4), ("mermaide", 0.7)):
            rows.append(
                {
                    "principal": principal,
                    "observation": "full",
                    "shots": 1,
                    "setting": "explorative",
                    "seed": seed,
                    "normalized_score": score if np.isnan(score) else level + 0.05 * seed * (principal == "mermaide"),
                    "principal_return": level,
                    "intervention_cost": 0.0,
                    "adaptation_cost": 0.0,
                    "target_rate": 0.5,
                }
            )
    return pd.DataFrame(rows)


def test_verdicts_compare_where_scores_exist_and_are_silent_where_they_do_not():
    assert _verdicts(_results(float("nan"))) == []
    (line,) = _verdicts(_results(0.0))
    assert line.startswith("full observation, 1-shot: MERMAIDE normalized score 0.75") and "constant +0.35" in line
