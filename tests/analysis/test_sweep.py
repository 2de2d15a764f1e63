"""python -m analysis.sweep: grids and random draws, streamed results, resume, local == Ray, one-line errors."""

from __future__ import annotations

import json
import sys
import textwrap

import pandas as pd
import pytest

from analysis import sweep as sweep_mod
from analysis.sweep import load_sweep, main

GRID = """
scenario = "green_tax"
seeds = 1

[config]
principals = ["none", "pigouvian"]
settings = ["headline"]

[config.households]
n_households = 300

[config.economy]
horizon = 6

[grid]
"economy.scc" = [51, 190]
economy.mcpf = [1.0, 1.3]
"""


def _write(tmp_path, text: str, name: str = "sweep.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_grid_is_every_combination(tmp_path):
    sweep = load_sweep(_write(tmp_path, GRID))
    assert sweep.keys == ["economy.scc", "economy.mcpf"]
    assert sweep.points == [
        {"economy.scc": 51, "economy.mcpf": 1.0},
        {"economy.scc": 51, "economy.mcpf": 1.3},
        {"economy.scc": 190, "economy.mcpf": 1.0},
        {"economy.scc": 190, "economy.mcpf": 1.3},
    ]
    assert sweep.base.principals == ["none", "pigouvian"] and sweep.base.households.n_households == 300


def test_random_draws_are_seeded_and_in_range(tmp_path):
    text = """
    scenario = "green_tax"
    [random]
    samples = 5
    seed = 3
    "economy.scc" = { dist = "uniform", low = 50, high = 250 }
    "economy.mcpf" = { dist = "loguniform", low = 1.0, high = 2.0 }
    "households.n_households" = { dist = "int", low = 100, high = 200 }
    "households.pessimistic_share" = { dist = "choice", values = [0.25, 0.75] }
    """
    a = load_sweep(_write(tmp_path, text)).points
    b = load_sweep(_write(tmp_path, text)).points
    assert a == b and len(a) == 5
    for p in a:
        assert 50 <= p["economy.scc"] <= 250 and 1.0 <= p["economy.mcpf"] <= 2.0
        assert isinstance(p["households.n_households"], int) and 100 <= p["households.n_households"] <= 200
        assert p["households.pessimistic_share"] in (0.25, 0.75)
    other = load_sweep(_write(tmp_path, text.replace("seed = 3", "seed = 4"))).points
    assert other != a


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('scenario = "green_tax"\nsamples = 3\n', "samples: unknown sweep setting"),
        ('seeds = 2\n[grid]\n"economy.scc" = [1]\n', "scenario"),
        ('scenario = "no_such_scenario"\n', "cannot be imported"),
        ('scenario = "green_tax"\n[grid]\n"economy.scc" = 51\n', "grid.economy.scc: must be a non-empty list"),
        ('scenario = "green_tax"\n[grid]\n"economy.scx" = [1]\n', "point 0: economy.scx: unknown setting"),
        ('scenario = "green_tax"\n[grid]\n"economy.scc" = [-5]\n', "point 0: economy.scc: must be in"),
        ('scenario = "green_tax"\n[grid]\na = [1]\n[random]\nsamples = 1\n', "not both"),
        ('scenario = "green_tax"\n[random]\nsamples = 0\n"economy.scc" = {dist="uniform",low=1,high=2}\n', "samples"),
        ('scenario = "green_tax"\n[random]\nsamples = 2\n"economy.scc" = {dist="beta",low=1,high=2}\n', "dist"),
        ('scenario = "green_tax"\n[config]\nprincipals = ["nobody"]\n', "principals: unknown"),
        ('scenario = "green_tax"\n[grid\n', "not valid TOML"),
    ],
)
def test_sweep_file_errors_are_one_line_exit_2(tmp_path, capsys, text, needle):
    path = _write(tmp_path, text)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err, err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_missing_file_and_bad_flags_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main([str(_write(tmp_path, GRID)), "--backend", "spark"]) == 2
    assert "backend" in capsys.readouterr().err


def test_backend_ray_without_ray_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    assert main([str(_write(tmp_path, GRID)), "--backend", "ray", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert 'pip install "learning-incentives[ray]"' in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r.partial").exists()


def test_sweep_streams_rows_with_the_swept_columns_and_resumes(tmp_path, monkeypatch):
    path = _write(tmp_path, GRID)
    clean = tmp_path / "clean"
    assert main([str(path), "--out", str(clean), "--no-progress"]) == 0
    results = pd.read_csv(clean / "results.csv")
    assert list(results.columns[:3]) == ["point", "economy.scc", "economy.mcpf"]
    assert results.point.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert results.principal.tolist() == ["none", "pigouvian"] * 4
    assert results.groupby("point")["economy.scc"].first().tolist() == [51, 51, 190, 190]
    # the swept values reached the scenario: a higher SCC means a higher Pigouvian tax revenue
    pig = results[results.principal == "pigouvian"].set_index("point")
    assert pig.tax_revenue[2] > pig.tax_revenue[0]
    record = json.loads((clean / "run.json").read_text())
    assert record["scenario"] == "green_tax_sweep" and "sweep.toml" in record["inputs"]
    assert (clean / "summary.md").exists() and not (clean / "tasks").exists()

    real = sweep_mod.run_sweep_task
    calls: list[int] = []

    def interrupted(task):
        calls.append(task.point)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(sweep_mod, "run_sweep_task", interrupted)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        main([str(path), "--out", str(out), "--no-progress"])
    assert pd.read_csv(tmp_path / "run.partial" / "results.csv").point.tolist() == [0, 0, 1, 1]

    calls.clear()
    monkeypatch.setattr(sweep_mod, "run_sweep_task", lambda task: (calls.append(task.point), real(task))[1])
    assert main([str(path), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert calls == [2, 3]  # the finished points were skipped
    assert (out / "results.csv").read_bytes() == (clean / "results.csv").read_bytes()


def test_resume_with_a_changed_sweep_is_refused(tmp_path, monkeypatch, capsys):
    path = _write(tmp_path, GRID)
    monkeypatch.setattr(sweep_mod, "run_sweep_task", lambda task: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        main([str(path), "--out", str(tmp_path / "run"), "--no-progress"])
    _write(tmp_path, GRID.replace("[51, 190]", "[51, 100]"))
    assert main([str(path), "--out", str(tmp_path / "run"), "--resume"]) == 2
    assert "different config" in capsys.readouterr().err


def test_bandit_alignment_sweep(tmp_path):
    text = """
    scenario = "bandit_alignment"
    [config]
    principals = ["none", "constant"]
    settings = ["in_distribution"]
    observations = ["full"]
    test_types = 2
    agents_per_type = 2
    [config.setup]
    horizon = 8
    [grid]
    constant_level = [0.2, 0.6]
    """
    out = tmp_path / "b"
    assert main([str(_write(tmp_path, text)), "--out", str(out), "--no-progress", "--quick"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results.constant_level) == {0.2, 0.6}
    assert {"observation", "setting", "type_index"} <= set(results.columns)


@pytest.mark.slow
def test_ray_sweep_equals_local(tmp_path):
    ray = pytest.importorskip("ray")
    path = _write(tmp_path, GRID)
    assert main([str(path), "--out", str(tmp_path / "local"), "--no-progress"]) == 0
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    try:
        assert main([str(path), "--out", str(tmp_path / "ray"), "--backend", "ray", "--no-progress"]) == 0
    finally:
        if started:
            ray.shutdown()
    assert (tmp_path / "local" / "results.csv").read_bytes() == (tmp_path / "ray" / "results.csv").read_bytes()
