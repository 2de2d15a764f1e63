"""End-to-end tests for ``python -m analysis.compare`` on tiny fixture runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from analysis_testdata import BASE_CONFIG, make_run

from analysis.compare import main
from analysis.runs import RunFolder


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_compare_end_to_end(tmp_path, capsys):
    a = make_run(tmp_path / "runs", "a", seeds=list(range(6)), agent_types=True)
    b = make_run(tmp_path / "runs", "b", seeds=list(range(6, 12)), agent_types=True)
    out = tmp_path / "cmp"
    assert main([str(a), str(b), "--out", str(out), "--baseline", "none"]) == 0
    stdout = capsys.readouterr().out
    assert "wrote" in stdout and "Main metric: welfare" in stdout

    merged = pd.read_csv(out / "results.csv")
    assert set(merged["run"]) == {"a", "b"} and merged["seed"].nunique() == 12

    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"""src\s*=\s*["']?https?://""", html)
    assert "http://" not in html and "https://" not in html
    assert html.count("<img ") >= 8  # 6 metric bars, frontier, shots, rounds, paths, agent types
    md = (out / "report.md").read_text()
    for name in ("frontier.png", "shots.png", "rounds.png", "incentive-paths.png", "by-agent-type.png"):
        assert (out / name).exists() and f"]({name})" in md

    # the summary names the best principal and flags significance from the numbers
    assert "Best at shots=0: mermaide" in md
    assert re.search(r"mermaide is better than none: .*significant at 95%", md)
    assert re.search(r"pigouvian is (better|worse) than none: .*NOT significant", md)
    comp = pd.read_csv(out / "comparisons.csv")
    assert set(comp["reference"]) == {"none"} and set(comp["test"]) == {"paired t"}
    assert comp.loc[comp.principal == "mermaide", "significant"].all()
    assert not comp.loc[comp.principal == "pigouvian", "significant"].any()
    summary = pd.read_csv(out / "summary.csv")
    assert (summary.loc[summary.metric == "welfare", "n"] == 12).all()
    assert (summary.loc[summary.metric == "welfare", "method"] == "bca").all()
    prov = json.loads((out / "compare.json").read_text())
    assert [r["label"] for r in prov["runs"]] == ["a", "b"] and prov["main_metric"] == "welfare"
    # config, seeds, versions and commit of each run appear
    assert "n_households = 200" in md and "0, 1, 2, 3, 4, 5" in md and "numpy" in md and "git commit" in md


def test_compare_metrics_option_and_default_main_metric(two_runs, tmp_path, capsys):
    a, b = two_runs
    assert main([str(a), str(b), "--out", str(tmp_path / "o"), "--metrics", "principal_return,emissions"]) == 0
    md = (tmp_path / "o" / "report.md").read_text()
    assert "Main metric: principal\\_return" in md
    assert not (tmp_path / "o" / "bar-welfare.png").exists()
    capsys.readouterr()
    assert main([str(a), str(b), "--out", str(tmp_path / "o"), "--metrics", "nope"]) == 2
    line = _one_error_line(capsys)
    assert "unknown metric 'nope'" in line and "welfare" in line
    assert main([str(a), "--out", str(tmp_path / "o"), "--baseline", "ghost"]) == 2
    assert "unknown baseline" in _one_error_line(capsys)


def test_compare_missing_dir(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert _one_error_line(capsys) == f"error: no such run folder: {tmp_path / 'missing'}"


def test_compare_refuses_incomparable_runs_unless_forced(tmp_path, capsys):
    a = make_run(tmp_path / "runs", "a", seeds=[0, 1, 2])
    c = make_run(tmp_path / "runs", "c", seeds=[0, 1, 2], config={**BASE_CONFIG, "rounds": 16})
    assert main([str(a), str(c), "--out", str(tmp_path / "o")]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: runs are not comparable: rounds: 8 vs 16")
    assert not (tmp_path / "o").exists()
    assert main([str(a), str(c), "--out", str(tmp_path / "o"), "--force"]) == 0
    err = capsys.readouterr().err
    assert "warning: runs are not comparable: rounds: 8 vs 16" in err
    merged = pd.read_csv(tmp_path / "o" / "results.csv")
    # the same principal from runs with different configs is kept apart
    assert {"none (a)", "none (c)"} <= set(merged["principal"])
    assert main([str(a), str(c), "--out", str(tmp_path / "o2"), "--ignore", "rounds"]) == 0
    merged = pd.read_csv(tmp_path / "o2" / "results.csv")
    assert "none" in set(merged["principal"])  # ignored key: same principal pooled across runs
    assert "appear in several runs" in capsys.readouterr().err  # same seeds in both runs: warned


def test_compare_incomplete_run_and_missing_results(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt), RunFolder(tmp_path / "r", scenario="green_tax", results_columns=()) as run:
        run.append_results({"principal": "none", "seed": 0, "welfare": 1.0})
        raise KeyboardInterrupt
    assert main([str(tmp_path / "r.partial"), "--out", str(tmp_path / "o")]) == 2
    assert "incomplete run" in _one_error_line(capsys)
    with RunFolder(tmp_path / "empty", scenario="green_tax"):
        pass
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "has no results.csv" in _one_error_line(capsys)
    assert main(["--out", str(tmp_path / "o")]) == 2  # no run folders: usage error, one line
    assert _one_error_line(capsys).startswith("error: ")


def test_compare_unshared_seeds_use_welch_and_single_principal(tmp_path, capsys):
    run = make_run(tmp_path / "runs", "a", seeds=[0, 1, 2, 3, 4, 5], rounds=False)
    df = pd.read_csv(run / "results.csv")
    cfg = {"rounds": 8}
    # baseline and challenger evaluated on different seeds, in separate runs: no pairing possible
    with RunFolder(tmp_path / "base", scenario="green_tax", config={**cfg, "seeds": 3}) as r:
        r.write_results(df[(df.principal == "none") & (df.seed < 3)])
    with RunFolder(tmp_path / "new", scenario="green_tax", config={**cfg, "seed": 3}) as r:
        r.write_results(df[(df.principal == "mermaide") & (df.seed >= 3)])
    assert main([str(tmp_path / "base"), str(tmp_path / "new"), "--out", str(tmp_path / "o")]) == 0
    comp = pd.read_csv(tmp_path / "o" / "comparisons.csv")
    assert set(comp["test"]) == {"Welch t"} and set(comp["reference"]) == {"mermaide"}
    assert "Welch t p=" in capsys.readouterr().out
    with RunFolder(tmp_path / "solo", scenario="green_tax", config=cfg) as r:
        r.write_results(df[df.principal == "none"])
    assert main([str(tmp_path / "solo"), "--out", str(tmp_path / "o2")]) == 0
    assert "Only one principal (none)" in capsys.readouterr().out


def test_module_entry_point_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.compare", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: no such run folder: {tmp_path / 'missing'}"]
    usage = subprocess.run([sys.executable, "-m", "analysis"], capture_output=True, text=True, check=False)
    assert usage.returncode == 0 and "compare" in usage.stdout


def test_two_runs_on_the_same_one_seed_are_paired_not_welch(tmp_path, capsys):
    a = make_run(tmp_path / "runs", "a", seeds=[0], rounds=False)
    b = make_run(tmp_path / "runs", "b", seeds=[0], rounds=False)
    assert main([str(a), str(b), "--out", str(tmp_path / "o"), "--baseline", "none"]) == 0
    out = capsys.readouterr().out
    comp = pd.read_csv(tmp_path / "o" / "comparisons.csv")
    assert set(comp["test"]) == {"paired t"} and set(comp["n"]) == {1}  # one shared seed: a pair, not n=2 Welch
    assert comp["low"].isna().all() and comp["p_value"].isna().all()
    assert "Welch" not in out and "too few seeds for an interval or a test" in out
    assert "CI [" not in out.split("Against")[0]  # the best principal's mean has no zero-width interval
    assert not re.search(r"\de[+-]\d", out)  # no scientific notation
