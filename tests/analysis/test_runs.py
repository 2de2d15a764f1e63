"""Tests for analysis.runs: the run folder contract, readers and comparability checks."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_testdata import BASE_CONFIG, make_run
from matplotlib.figure import Figure

from analysis.runs import (
    IncomparableRunsError,
    IncompleteRunError,
    RunFolder,
    RunFolderError,
    check_comparable,
    config_fingerprint,
    default_out_dir,
    is_complete,
    load_run,
    load_runs,
    toml_config,
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_clean_run_publishes_folder_with_matching_hashes(tmp_path):
    out = tmp_path / "deep" / "runs" / "r1"
    df = pd.DataFrame({"principal": ["none", "oracle"], "seed": [0, 0], "welfare": [1.0, 2.0]})
    fig = Figure()
    fig.add_subplot().plot([0, 1], [0, 1])
    cfg = {"n": np.int64(3), "eps": np.float32(0.5), "arr": np.arange(3), "pair": (1, 2), "opt": None, "seed": 0}
    with RunFolder(
        out, scenario="demo", results_columns=(), config=cfg, seeds=[0], inputs={"config.toml": b"n = 3\n"}
    ) as run:
        assert run.dir == out.with_name("r1.partial") and run.dir.is_dir()
        assert not out.exists()
        run.write_results(df)
        run.write_rounds(df.assign(round=0))
        png = run.save_figure("welfare", fig)
        run.write_report("<html></html>", "# r")
        ckpt = run.path("checkpoints/model.pt")
        assert ckpt.parent.is_dir() and ckpt.parent.parent == run.dir
        ckpt.write_bytes(b"weights")
        with pytest.raises(ValueError):
            run.path("../escape.txt")
        assert png.name == "welfare.png"
    assert out.is_dir() and not out.with_name("r1.partial").exists()
    assert is_complete(out) and run.dir == out
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "complete" and record["scenario"] == "demo"
    assert record["config"] == {"n": 3, "eps": 0.5, "arr": [0, 1, 2], "pair": [1, 2], "opt": None, "seed": 0}
    assert record["config_fingerprint"] == config_fingerprint(record["config"])
    assert record["seeds"] == [0]
    assert set(record["versions"]) >= {"python", "numpy", "scipy", "pandas", "torch", "mesa", "numba"}
    assert "git_commit" in record and "git_dirty" in record
    assert record["duration_s"] >= 0 and record["started"] <= record["finished"]
    assert record["inputs"] == {"config.toml": hashlib.sha256(b"n = 3\n").hexdigest()}
    expected = {"results.csv", "rounds.csv", "welfare.png", "report.html", "report.md", "config.toml"}
    expected |= {"checkpoints/model.pt"}
    assert expected | {"inputs/config.toml"} == set(record["files"])
    for rel, digest in record["files"].items():
        assert _sha(out / rel) == digest, rel
    assert (out / "welfare.png").read_bytes().startswith(b"\x89PNG")
    # config.toml: plain types, None dropped
    toml = tomllib.loads((out / "config.toml").read_text())
    assert toml == {"n": 3, "eps": 0.5, "arr": [0, 1, 2], "pair": [1, 2], "seed": 0}
    # no temporary files left behind, and files get the usual permissions (not mkstemp's 0600)
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
    mask = os.umask(0)
    os.umask(mask)
    assert (out / "results.csv").stat().st_mode & 0o777 == 0o666 & ~mask
    loaded = load_run(out, verify=True)
    assert list(loaded.results["welfare"]) == [1.0, 2.0] and loaded.rounds is not None


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_interrupted_run_leaves_partial_with_marker(tmp_path, exc):
    out = tmp_path / "r"
    with pytest.raises(type(exc)), RunFolder(out, scenario="demo", results_columns=(), config={"a": 1}) as run:
        run.append_results({"principal": "none", "seed": 0, "welfare": 1.0})
        raise exc
    partial = tmp_path / "r.partial"
    assert not out.exists()
    assert partial.is_dir() and (partial / "results.csv").exists()
    marker = json.loads((partial / "INCOMPLETE").read_text())
    assert marker["error_type"] == type(exc).__name__ and marker["time"]
    if isinstance(exc, RuntimeError):
        assert marker["message"] == "boom"
    assert not is_complete(partial)
    with pytest.raises(IncompleteRunError, match="incomplete"):
        load_run(partial)
    assert load_run(partial, allow_incomplete=True).results.shape == (1, 3)


def test_existing_folder_refused_unless_overwrite(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "something").write_text("x")
    with pytest.raises(ValueError, match="already exists"), RunFolder(out, scenario="demo", results_columns=()):
        pass
    assert not (tmp_path / "r.partial").exists()
    with RunFolder(out, scenario="demo", results_columns=(), overwrite=True) as run:
        run.write_results(pd.DataFrame({"x": [1]}))
    assert not (out / "something").exists() and is_complete(out)
    empty = tmp_path / "empty"
    empty.mkdir()
    with RunFolder(empty, scenario="demo", results_columns=()) as run:  # an empty folder is fine
        run.write_results(pd.DataFrame({"x": [1]}))
    assert is_complete(empty)
    with pytest.raises(ValueError, match="mutually exclusive"):
        RunFolder(out, scenario="demo", results_columns=(), resume=True, overwrite=True)


def test_stale_partial_refused_then_resumed(tmp_path):
    out = tmp_path / "sweep"
    cfg = {"rounds": 10, "seeds": 3}
    with pytest.raises(RuntimeError), RunFolder(out, scenario="demo", results_columns=(), config=cfg) as run:
        run.append_results([{"principal": "none", "seed": 0, "welfare": 1.5}])
        raise RuntimeError("killed")
    with (
        pytest.raises(ValueError, match="interrupted run"),
        RunFolder(out, scenario="demo", results_columns=(), config=cfg),
    ):
        pass
    with (
        pytest.raises(ValueError, match="rounds: 10 vs 20"),
        RunFolder(out, scenario="demo", results_columns=(), config={"rounds": 20}, resume=True),
    ):
        pass
    with RunFolder(out, scenario="demo", results_columns=(), config={**cfg, "seeds": 4}, resume=True) as run:
        done = run.read_results()
        assert list(done["seed"]) == [0]
        assert not (run.dir / "INCOMPLETE").exists()
        run.append_results([{"principal": "none", "seed": 1, "welfare": 2.5}])
    assert list(load_run(out).results["seed"]) == [0, 1]
    assert len(json.loads((out / "run.json").read_text())["resumed"]) == 1


def test_resume_complete_run_adds_rows(tmp_path):
    out = tmp_path / "r"
    with RunFolder(out, scenario="demo", results_columns=(), config={"a": 1, "seeds": 1}) as run:
        run.append_results({"seed": 0, "x": 1.0})
    with RunFolder(out, scenario="demo", results_columns=(), config={"a": 1, "seeds": 2}, resume=True) as run:
        assert out.exists() and is_complete(out)  # the complete run stays until the resumed one ends
        run.append_results({"seed": 1, "x": 2.0})
    assert list(load_run(out, verify=True).results["seed"]) == [0, 1]
    assert not list(tmp_path.glob("r.*"))


def test_append_results_streams_and_repairs_torn_line(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt), RunFolder(out, scenario="demo", results_columns=()) as run:
        path = run.append_results({"principal": "a", "seed": 0, "welfare": 1.0})
        # visible on disk immediately, header written once
        assert path.read_text().splitlines() == ["principal,seed,welfare", "a,0,1.0"]
        run.append_results(
            pd.DataFrame({"principal": ["b", "c"], "seed": [1, 2], "welfare": [np.float64(2.0), np.nan]})
        )
        run.append_results([{"seed": 3, "principal": "d"}])  # missing column -> empty cell
        with pytest.raises(ValueError, match=r"not in the results\.csv header"):
            run.append_results({"principal": "e", "bogus": 1})
        with open(path, "a") as fh:  # simulate a crash in the middle of writing a row
            fh.write("torn,4")
        raise KeyboardInterrupt
    lines = (tmp_path / "r.partial" / "results.csv").read_text().splitlines()
    assert lines[0] == "principal,seed,welfare" and lines[-1] == "torn,4"
    with RunFolder(out, scenario="demo", results_columns=(), resume=True) as run:
        run.append_results({"principal": "f", "seed": 5, "welfare": 6.0})
    rows = list(csv.reader((out / "results.csv").read_text().splitlines()))
    assert rows == [
        ["principal", "seed", "welfare"],
        ["a", "0", "1.0"],
        ["b", "1", "2.0"],
        ["c", "2", ""],
        ["d", "3", ""],
        ["f", "5", "6.0"],
    ]


def test_toml_config_rules():
    assert toml_config({"a": None, "b": {"c": None, "d": (1, 2)}}) == {"b": {"d": [1, 2]}}
    with pytest.raises(ValueError, match="None inside a list"):
        toml_config({"a": [1, None]})
    with pytest.raises(TypeError, match="'obj'"):
        toml_config({"obj": object()})


def test_bad_config_fails_before_writing_and_dataclass_config(tmp_path):
    with pytest.raises(ValueError, match="None inside a list"):
        RunFolder(tmp_path / "x", scenario="demo", results_columns=(), config={"a": [1, None]})
    assert list(tmp_path.iterdir()) == []

    @dataclasses.dataclass
    class Args:
        rounds: int = 5
        eps: tuple[float, ...] = (0.1, 0.2)
        scc: float | None = None

    with RunFolder(tmp_path / "dc", scenario="demo", results_columns=(), config=Args()) as run:
        run.write_results(pd.DataFrame({"x": [1]}))
    assert tomllib.loads((tmp_path / "dc" / "config.toml").read_text()) == {"rounds": 5, "eps": [0.1, 0.2]}
    assert load_run(tmp_path / "dc").config == {"rounds": 5, "eps": [0.1, 0.2], "scc": None}


def test_default_out_dir_unique_within_one_second(tmp_path):
    a = default_out_dir("green_tax", root=tmp_path)
    b = default_out_dir("green_tax", root=tmp_path)
    assert a != b and a.parent == b.parent == tmp_path / "green_tax"
    assert len(a.name.split("-")[0]) == 8 and len(a.name.split("-")[1]) == 6


def test_fingerprint_ignores_seeds_and_out():
    base = {"rounds": 5, "game": {"noise": 0.1}}
    fp = config_fingerprint(base)
    assert fp == config_fingerprint({**base, "seed": 3, "seeds": 10, "out": "x", "threads": 4, "backend": "ray"})
    assert fp != config_fingerprint({**base, "rounds": 6})
    assert fp == config_fingerprint({"game": {"noise": 0.1}, "rounds": 5})  # key order irrelevant


def test_load_runs_two_runs_and_parent_folder(two_runs, tmp_path):
    a, b = two_runs
    df = load_runs([a, b])
    assert df.columns[0] == "run" and set(df["run"]) == {"a", "b"}
    assert len(df) == 2 * 6 * 3 * 2  # runs x seeds x principals x shots
    parent = load_runs(tmp_path / "runs")
    assert len(parent) == len(df)
    single = load_runs(a)
    assert set(single["run"]) == {"a"}
    # an interrupted run next to them is skipped when searching a parent folder
    with pytest.raises(RuntimeError), RunFolder(tmp_path / "runs" / "c", scenario="green_tax"):
        raise RuntimeError("x")
    assert len(load_runs(tmp_path / "runs")) == len(df)
    with pytest.raises(RunFolderError, match="no such run folder"):
        load_runs(tmp_path / "missing")


def test_load_run_errors(tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder"):
        load_run(tmp_path / "nope")
    with RunFolder(tmp_path / "noresults", scenario="demo", results_columns=()):
        pass
    with pytest.raises(RunFolderError, match=r"has no results\.csv"):
        load_run(tmp_path / "noresults")


def test_check_comparable(two_runs, tmp_path):
    a, b = two_runs
    assert check_comparable([a, b]) == [] or all("uncommitted" in w for w in check_comparable([a, b]))
    other = make_run(tmp_path / "runs", "c", seeds=[0, 1], config={**BASE_CONFIG, "n_households": 500})
    with pytest.raises(IncomparableRunsError) as err:
        check_comparable([a, other])
    assert "runs are not comparable: n_households: 200 vs 500" in str(err.value)
    assert err.value.differences == [("n_households", 200, 500)]
    nested = make_run(
        tmp_path / "runs", "d", seeds=[0], config={**BASE_CONFIG, "game": {**BASE_CONFIG["game"], "scc": 51.0}}
    )
    with pytest.raises(IncomparableRunsError, match=r"game\.scc: 190\.0 vs 51\.0"):
        check_comparable([a, nested])
    assert isinstance(check_comparable([a, nested], ignore=["game"]), list)


def test_check_comparable_warns_on_versions_and_commits(two_runs):
    a, b = two_runs
    rec = json.loads((b / "run.json").read_text())
    rec["versions"]["numpy"] = "0.0.1"
    rec["git_commit"] = "f" * 40
    rec["git_dirty"] = False
    (b / "run.json").write_text(json.dumps(rec))
    warnings = check_comparable([a, b])
    assert any(w.startswith("numpy versions differ") and "0.0.1 (b)" in w for w in warnings)
    assert any("different git commits" in w for w in warnings)
    rec["scenario"] = "stackelberg"
    (b / "run.json").write_text(json.dumps(rec))
    with pytest.raises(IncomparableRunsError, match="scenario: green_tax vs stackelberg"):
        check_comparable([a, b])


def test_analysis_does_not_import_policies_or_scenarios():
    code = (
        "import sys, analysis, analysis.compare, analysis.plots, analysis.report;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('policies', 'scenarios', 'torch')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_results_must_have_the_contract_columns_and_other_tables_have_their_own_method(tmp_path):
    from analysis.runs import RESULT_COLUMNS

    row = dict.fromkeys(RESULT_COLUMNS, 0) | {"scenario": "demo", "principal": "none", "welfare": 1.5}
    with RunFolder(tmp_path / "r", scenario="demo") as run:
        with pytest.raises(RunFolderError, match="missing: shots, principal_return"):
            run.write_results(pd.DataFrame([{"scenario": "demo", "principal": "none", "seed": 0}]))
        with pytest.raises(RunFolderError, match="missing: target_rate"):
            run.append_results([{k: v for k, v in row.items() if k != "target_rate"}])
        run.append_results([row])  # the full contract: accepted
        run.write_table("response.csv", pd.DataFrame({"price_rise": [0.1], "short_run": [-0.3]}))
        with pytest.raises(ValueError, match="write_results"):
            run.write_table("results.csv", pd.DataFrame())
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert "response.csv" in record["files"] and "results.csv" in record["files"]
    assert pd.read_csv(tmp_path / "r" / "response.csv").short_run.tolist() == [-0.3]
