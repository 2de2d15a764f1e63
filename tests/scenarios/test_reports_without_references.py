"""Reports of runs that leave out a reference principal: they say less, and never end in a traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scenarios import bandit_alignment
from scenarios._bandit_report import _wins, normalize, paired_table, pooled_scores


@pytest.mark.slow  # about a minute; the fast tests below check the scores and verdicts on small tables
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
        "--retrain",
        "--train.iterations",
        "2",
        "--out",
        str(tmp_path / "run"),
    ]
    assert bandit_alignment.main(argv) == 0, capsys.readouterr().err
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert results.normalized_score.isna().all()  # nothing to normalize by
    assert set(results.shots[results.principal == "mermaide"]) == {0, 1}
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Normalized scores need both the" in html


def _results(with_oracle: bool) -> pd.DataFrame:
    rows = []
    names = (("none", 0.0, 0), ("mermaide", 0.7, 1), ("mermaide", 0.5, 0), ("wm_only", 0.4, 1))
    if with_oracle:
        names += (("oracle", 1.0, 0),)
    for seed in range(3):
        for principal, level, shots in names:
            rows.append(
                {
                    "principal": principal,
                    "observation": "full",
                    "shots": shots,
                    "setting": "explorative",
                    "seed": seed,
                    "type_index": 0,
                    "principal_return": 10 * level + 0.1 * seed * (principal == "mermaide"),
                    "intervention_cost": 0.0,
                    "adaptation_cost": 0.0,
                    "target_rate": 0.5,
                }
            )
    return pd.DataFrame(rows)


def test_scores_and_verdicts_exist_only_where_their_references_do():
    without = normalize(_results(False), threshold=1.0)
    assert without.normalized_score.isna().all() and pooled_scores(without, 1.0).empty
    with_ref = normalize(_results(True), threshold=1.0)
    pooled = pooled_scores(with_ref, 1.0)
    assert set(pooled.principal) == {"none", "mermaide", "wm_only", "oracle"}
    np.testing.assert_allclose(pooled[pooled.principal == "oracle"].normalized_score, 1.0)
    table = paired_table(with_ref)  # MERMAIDE 1-shot vs the comparators present (wm_only 1-shot, itself 0-shot)
    assert set(table.comparator) == {"wm_only 1-shot", "mermaide 0-shot"}
    assert (table.verdict == "MERMAIDE better").all()
    (line,) = _wins(table)
    assert line.startswith("full observation: MERMAIDE 1-shot beats all") and "1 of 1 held-out" in line


def test_no_mermaide_means_no_comparison_table():
    results = normalize(_results(True), threshold=1.0)
    assert paired_table(results[results.principal != "mermaide"]).empty
    assert _wins(pd.DataFrame()) == []
