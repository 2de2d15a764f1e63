"""Backends of the scenarios: local vs Ray give the same results, resume skips finished tasks, Ray is optional."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.runs import RunFolder
from scenarios import bandit_alignment, green_tax, stackelberg
from scenarios._backend import RAY_INSTALL_HINT, TaskStore, run_tasks

# a small green_tax comparison: 2 tasks (seed 0 x headline, rational), 400 households, 8 years
GREEN = [
    "--quick",
    "--principals",
    "none,pigouvian",
    "--households.n-households",
    "400",
    "--economy.horizon",
    "8",
    "--no-progress",
]
BANDIT = ["--quick", "--principals", "none,constant,oracle", "--setup.horizon", "10", "--no-progress"]
STACK = ["--quick", "--principals", "stackelberg,nash,mermaide", "--noise-principals", "mermaide", "--no-progress"]


def _square(task: int) -> dict[str, float]:
    rng = np.random.default_rng(task)  # randomness from the task's own argument only
    return {"task": task, "draw": float(rng.random())}


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    # the workers cannot import this test module by name: ship its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    if started:
        ray.shutdown()


# ------------------------------------------------------------------ run_tasks
def test_local_run_tasks_streams_in_order():
    seen = []
    out = run_tasks(_square, [3, 1, 2], on_result=lambda i, r: seen.append((i, r["task"])))
    assert [r["task"] for r in out] == [3, 1, 2]
    assert seen == [(0, 3), (1, 1), (2, 2)]


def test_a_local_pool_gives_what_this_process_gives():
    tasks = [3, 1, 2, 7, 5]
    seen = []
    pooled = run_tasks(_square, tasks, workers=2, on_result=lambda i, r: seen.append(i))
    assert pooled == run_tasks(_square, tasks, workers=1)  # results in task order
    assert sorted(seen) == list(range(len(tasks)))  # every task reported once, as it finished
    with pytest.raises(Exception, match=r"task \d: bad input") as info:  # a task's error, as the task raised it
        run_tasks(_fails, [1, 2], workers=2)
    assert type(info.value).__name__ == "ConfigError"


def test_pool_workers_of_a_python_m_module_do_not_warn(tmp_path):
    """Workers re-run the ``python -m`` module the fork server preloaded; runpy's warning about it stays silent."""
    import subprocess

    args = ["--principals", "none", "--setup.horizon", "6", "--workers", "2", "--out", str(tmp_path / "run")]
    cmd = [sys.executable, "-m", "scenarios.bandit_alignment", "--quick", "--no-progress", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RuntimeWarning" not in done.stderr, done.stderr[-2000:]


def test_a_closure_runs_in_this_process():
    local = []  # a function that cannot be pickled by reference cannot go to a worker: it runs here
    assert run_tasks(lambda t: local.append(t) or t * 2, [1, 2, 3], workers=2) == [2, 4, 6] and local == [1, 2, 3]


def test_unknown_backend_is_a_config_error():
    from simulator.config import ConfigError

    with pytest.raises(ConfigError, match="backend"):
        run_tasks(_square, [1], backend="dask")


def test_thread_limit_sets_the_threads_inside_and_restores_them():
    import numba

    before = (numba.get_num_threads(), torch.get_num_threads())
    torch.set_num_threads(2)
    try:
        inside = run_tasks(lambda t: (numba.get_num_threads(), torch.get_num_threads()), [0], threads_per_task=1)
        assert inside == [(1, 1)]  # the task ran with the threads it was given
        assert torch.get_num_threads() == 2  # and the process got its own back
        assert numba.get_num_threads() == before[0]
    finally:
        torch.set_num_threads(before[1])


@pytest.mark.slow
def test_ray_run_tasks_equals_local(ray_local):
    tasks = list(range(6))
    seen = []
    remote = run_tasks(_square, tasks, backend="ray", on_result=lambda i, r: seen.append(i))
    assert remote == run_tasks(_square, tasks)
    assert sorted(seen) == tasks


# ------------------------------------------------------------- Ray not there
@pytest.mark.parametrize("scenario", [green_tax, bandit_alignment, stackelberg])
def test_backend_ray_without_ray_says_how_to_install(scenario, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    base = {green_tax: GREEN, bandit_alignment: BANDIT, stackelberg: STACK}[scenario]
    argv = [*base, "--backend", "ray", "--out", str(tmp_path / "r")]
    assert scenario.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {RAY_INSTALL_HINT}"
    assert 'pip install "learning-incentives[ray]"' in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.partial").exists()  # checked before any folder


# ----------------------------------------------------------------- TaskStore
def test_task_store_drops_rows_of_tasks_cut_off_before_their_done_mark(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), RunFolder(out, scenario="t", config={"a": 1}, results_columns=()) as rf:
        store = TaskStore(rf, ["seed"])
        store.add([0], [{"seed": 0, "x": 1.5}], pd.DataFrame({"seed": [0], "r": [1]}))
        rf.append_results([{"seed": 1, "x": 2.5}])  # rows written, then killed before the done mark
        raise KeyboardInterrupt
    with RunFolder(out, scenario="t", config={"a": 1}, results_columns=(), resume=True) as rf:
        store = TaskStore(rf, ["seed"], resume=True)
        assert store.is_done([0]) and not store.is_done([1])
        store.add([1], [{"seed": 1, "x": 2.25}], pd.DataFrame({"seed": [1], "r": [2]}))
        results, rounds = store.collect([[1], [0]])
        assert results.to_dict("list") == {"seed": [1, 0], "x": [2.25, 1.5]}
        assert rounds.to_dict("list") == {"seed": [1, 0], "r": [2, 1]}
        store.cleanup()
        rf.write_results(results)
    assert not (out / "tasks").exists()


# ------------------------------------------------------------------ resume
def test_green_tax_resume_skips_finished_tasks(tmp_path, monkeypatch):
    clean = tmp_path / "clean"
    assert green_tax.main([*GREEN, "--out", str(clean)]) == 0

    real = green_tax.evaluate_task
    calls: list[tuple] = []

    def crash_on_second(task):
        calls.append(task.key)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the second task
        return real(task)

    monkeypatch.setattr(green_tax.cli, "evaluate_task", crash_on_second)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        green_tax.main([*GREEN, "--out", str(out)])
    partial = tmp_path / "run.partial"
    assert (partial / "INCOMPLETE").exists()
    assert set(pd.read_csv(partial / "results.csv").setting) == {"headline"}  # the first task's rows survived

    calls.clear()
    monkeypatch.setattr(green_tax.cli, "evaluate_task", lambda task: (calls.append(task.key), real(task))[1])
    assert green_tax.main([*GREEN, "--out", str(out), "--resume"]) == 0
    assert calls == [(0, "rational")]  # only the unfinished task ran again
    assert (out / "results.csv").read_bytes() == (clean / "results.csv").read_bytes()
    assert (out / "rounds.csv").read_bytes() == (clean / "rounds.csv").read_bytes()
    assert not (out / "tasks").exists()
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "complete" and len(record["resumed"]) == 1

    # resuming a complete run runs nothing and changes nothing
    calls.clear()
    assert green_tax.main([*GREEN, "--out", str(out), "--resume"]) == 0
    assert calls == []
    assert (out / "results.csv").read_bytes() == (clean / "results.csv").read_bytes()


def test_bandit_alignment_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    clean = tmp_path / "clean"
    assert bandit_alignment.main([*BANDIT, "--out", str(clean)]) == 0
    real = bandit_alignment.evaluate_task
    calls: list[tuple] = []

    def crash_on_second(task):
        calls.append(task.key)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(task)

    monkeypatch.setattr(bandit_alignment, "evaluate_task", crash_on_second)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        bandit_alignment.main([*BANDIT, "--out", str(out)])
    calls.clear()
    monkeypatch.setattr(bandit_alignment, "evaluate_task", lambda task: (calls.append(task.key), real(task))[1])
    assert bandit_alignment.main([*BANDIT, "--out", str(out), "--resume"]) == 0
    assert calls == [(0, "pessimistic")]  # the second task of the quick run (seed 0: in_distribution, pessimistic)
    for name in ("results.csv", "rounds.csv"):
        assert (out / name).read_bytes() == (clean / name).read_bytes()


def test_stackelberg_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    argv = [*STACK, "--principals", "stackelberg,nash", "--noise-principals", ""]
    clean = tmp_path / "clean"
    assert stackelberg.main([*argv, "--out", str(clean)]) == 0
    real = stackelberg._run_task
    calls: list[tuple] = []

    def crash_on_second(task):
        calls.append(task.key)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(stackelberg, "_run_task", crash_on_second)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        stackelberg.main([*argv, "--out", str(out)])
    first = calls[0]
    calls.clear()
    monkeypatch.setattr(stackelberg, "_run_task", lambda task: (calls.append(task.key), real(task))[1])
    assert stackelberg.main([*argv, "--out", str(out), "--resume"]) == 0
    assert first not in calls and len(calls) == 1  # only the unfinished task ran again
    for name in ("results.csv", "rounds.csv"):
        assert (out / name).read_bytes() == (clean / name).read_bytes()


def test_resume_needs_out_and_an_existing_folder_is_one_line(tmp_path, capsys):
    assert green_tax.main([*GREEN, "--resume"]) == 2
    assert "resume" in capsys.readouterr().err
    out = tmp_path / "r"
    out.mkdir()
    (out / "x").write_text("x")
    assert green_tax.main([*GREEN, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: out:") and "--resume" in err and len(err.splitlines()) == 1


def test_resume_with_another_config_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(green_tax.cli, "evaluate_task", lambda task: (_ for _ in ()).throw(KeyboardInterrupt()))
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        green_tax.main([*GREEN, "--out", str(out)])
    assert green_tax.main([*GREEN, "--out", str(out), "--resume", "--economy.scc", "51"]) == 2
    assert "different config" in capsys.readouterr().err


# ------------------------------------------- a pool of workers == this process
def test_green_tax_pool_equals_this_process_with_a_learned_principal(tmp_path):
    argv = ["--quick", "--principals", "none,pigouvian,mermaide", "--households.n-households", "400", "--no-progress"]
    assert green_tax.main([*argv, "--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert green_tax.main([*argv, "--out", str(tmp_path / "pool"), "--workers", "2"]) == 0
    for name in ("results.csv", "rounds.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()


@pytest.mark.slow  # about a minute on 2 cores: the learned leaders' tasks are the slow ones
def test_stackelberg_pool_equals_this_process(tmp_path):
    assert stackelberg.main([*STACK, "--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert stackelberg.main([*STACK, "--out", str(tmp_path / "pool"), "--workers", "2"]) == 0
    for name in ("results.csv", "rounds.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()


@pytest.mark.slow
def test_bandit_alignment_pool_equals_this_process(tmp_path):
    argv = ["--quick", "--principals", "none,constant,oracle,mermaide,wm_only", "--no-progress", "--retrain"]
    assert bandit_alignment.main([*argv, "--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert bandit_alignment.main([*argv, "--out", str(tmp_path / "pool"), "--workers", "2"]) == 0
    for name in ("results.csv", "rounds.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()


# ------------------------------------------------------- local == ray (files)
@pytest.mark.slow
def test_green_tax_ray_equals_local(tmp_path, ray_local):
    assert green_tax.main([*GREEN, "--out", str(tmp_path / "local")]) == 0
    assert green_tax.main([*GREEN, "--out", str(tmp_path / "ray"), "--backend", "ray"]) == 0
    for name in ("results.csv", "rounds.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()


@pytest.mark.slow
def test_bandit_alignment_ray_equals_local(tmp_path, ray_local):
    argv = [*BANDIT, "--score-threshold", "0.2"]  # 10 rounds: small oracle - none gaps
    assert bandit_alignment.main([*argv, "--out", str(tmp_path / "local")]) == 0
    assert bandit_alignment.main([*argv, "--out", str(tmp_path / "ray"), "--backend", "ray"]) == 0
    for name in ("results.csv", "rounds.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
    results = pd.read_csv(tmp_path / "ray" / "results.csv")
    scored = results.gap >= 0.2  # types with a smaller gap get no score
    assert results.normalized_score[scored].notna().all() and results.normalized_score[~scored].isna().all()
    assert scored.any()


@pytest.mark.slow
def test_stackelberg_ray_equals_local(tmp_path, ray_local):
    assert stackelberg.main([*STACK, "--out", str(tmp_path / "local")]) == 0
    assert stackelberg.main([*STACK, "--out", str(tmp_path / "ray"), "--backend", "ray"]) == 0
    for name in ("results.csv", "rounds.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()


# ------------------------------------------------------------ meta-training
@pytest.mark.slow
def test_meta_train_ray_rollouts_give_the_same_checkpoint(tmp_path, ray_local):
    from policies.checkpoints import load_checkpoint
    from policies.mermaide import MermaideConfig
    from policies.training import meta_train
    from scenarios._bandit_tasks import BanditProblem, BanditSetup

    problem = BanditProblem(BanditSetup(horizon=6, validation_types=2), validation_rows=2)
    cfg = MermaideConfig(iterations=2, tasks_per_batch=3, agents_per_task=2, hidden=8, width=8, samples=1)
    meta_train(problem, cfg, 3, task_envs=True, checkpoint_path=tmp_path / "local.pt")
    meta_train(problem, cfg, 3, backend="ray", workers=2, checkpoint_path=tmp_path / "ray.pt")
    a = load_checkpoint(tmp_path / "local.pt")["state_dict"]
    b = load_checkpoint(tmp_path / "ray.pt")["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    other, _ = meta_train(problem, cfg, 4, task_envs=True)
    assert any(not torch.equal(a[k], v) for k, v in other.state_dict().items())


def test_task_env_seeds_are_distinct_and_stable():
    from policies.ray_rollouts import task_env_seed

    seeds = {task_env_seed(0, it, phase, i) for it in range(3) for phase in ("support", "query") for i in range(4)}
    assert len(seeds) == 24
    assert task_env_seed(5, 1, "query", 2) == task_env_seed(5, 1, "query", 2) < 2**31


def _fails(task: int) -> int:
    from simulator.config import ConfigError

    raise ConfigError(f"task {task}: bad input")


@pytest.mark.slow
def test_a_ray_task_error_arrives_as_the_task_raised_it(ray_local):
    from simulator.config import ConfigError

    with pytest.raises(ConfigError) as info:
        run_tasks(_fails, [0], backend="ray")
    assert str(info.value) == "task 0: bad input"  # the one line the CLI prints; the remote traceback is a note
    assert "Ray task" in info.value.__notes__[0]
