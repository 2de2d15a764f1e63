"""Training reliability: kill -9 and --resume give the uninterrupted weights; non-finite losses stop the run.

The kill/resume test runs the real entry point (``python -m policies.train``)
in subprocesses: one uninterrupted run, one killed with SIGKILL as soon as its
first checkpoint exists, then resumed to the end. The final weights must be
equal bit for bit, and the JSON-lines log must hold each update once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from policies import train as train_cli
from policies.checkpoints import CheckpointError, load_checkpoint
from policies.mermaide import MermaideConfig
from policies.training import meta_train
from scenarios._bandit_tasks import BanditProblem, BanditSetup

ROOT = Path(__file__).resolve().parents[2]
NAME = "mermaide-full"
# tiny networks and batches: an update takes well under a second on one thread
TINY = [
    "--overrides",
    json.dumps({"tasks_per_batch": 2, "agents_per_task": 2, "hidden": 8, "width": 8, "samples": 1, "lookahead": 2}),
]
# wall-clock fields of a log line (they differ between any two runs)
TIMING_KEYS = {"seconds", "env_steps_per_s"}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny networks: one thread is fastest (and the machine may be shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _argv(out: Path, iterations: int, every: int, *extra: str) -> list[str]:
    return [
        "--scenario",
        "bandit_alignment",
        "--variant",
        "mermaide",
        "--observations",
        "full",
        "--seed",
        "0",
        "--iterations",
        str(iterations),
        *TINY[:1],
        json.dumps({**json.loads(TINY[1]), "checkpoint_every": every, "eval_every": 3}),
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _train(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "policies.train", *argv],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["state_dict"]


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), f"{key} differs"


def _log_lines(path: Path) -> list[dict[str, float]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in d.items() if k not in TIMING_KEYS} for d in lines]


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_weights(tmp_path):
    iterations, every = 8, 3
    ref = _train(_argv(tmp_path / "ref", iterations, every))
    assert ref.returncode == 0, ref.stderr

    out = tmp_path / "killed"
    state = out / f"{NAME}.train.pt"
    log = out / "logs" / f"{NAME}.jsonl"

    def logged() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    proc = subprocess.Popen(
        [sys.executable, "-m", "policies.train", *_argv(out, iterations, every)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        # kill between two checkpoints: after the first, with an update logged that it does not hold
        while not (state.exists() and logged() > every):
            assert proc.poll() is None, f"training ended before its first checkpoint: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / f"{NAME}.pt").exists(), "the run finished before it was killed"
    done = int(load_checkpoint(state)["iteration"])  # the checkpoint left behind is loadable
    assert every <= done < iterations

    # without --resume the interrupted training is refused in one line
    again = _train(_argv(out, iterations, every))
    assert again.returncode == 2
    assert again.stderr.strip().startswith("error:") and "--resume" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    resumed = _train(_argv(out, iterations, every, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert not state.exists()
    _assert_same_weights(_weights(tmp_path / "ref" / f"{NAME}.pt"), _weights(out / f"{NAME}.pt"))
    curve_ref, curve_res = (load_checkpoint(p / f"{NAME}.pt")["logs"] for p in (tmp_path / "ref", out))
    assert curve_ref, "the shipped checkpoint keeps the validation learning curve"
    assert [{k: v for k, v in d.items() if k not in TIMING_KEYS} for d in curve_ref] == [
        {k: v for k, v in d.items() if k not in TIMING_KEYS} for d in curve_res
    ]
    # the log holds every update once, with the uninterrupted run's values
    ref_log = _log_lines(tmp_path / "ref" / "logs" / f"{NAME}.jsonl")
    res_log = _log_lines(out / "logs" / f"{NAME}.jsonl")
    assert [d["update"] for d in res_log] == list(range(iterations))
    assert res_log == ref_log


def _problem() -> BanditProblem:
    return BanditProblem(BanditSetup(horizon=6, validation_types=2), validation_rows=2)


def _cfg(**kw) -> MermaideConfig:
    base = {
        "iterations": 4,
        "tasks_per_batch": 2,
        "agents_per_task": 2,
        "hidden": 8,
        "width": 8,
        "samples": 1,
        "lookahead": 2,
        "checkpoint_every": 2,
        "eval_every": 2,
    }
    return MermaideConfig(**{**base, **kw})


class _StopError(Exception):
    pass


@pytest.mark.parametrize("variant", ["mermaide", "model_free"])
def test_interrupted_meta_train_resumes_bit_exactly(tmp_path, variant):
    """In-process: stop right after update 2 (a checkpoint), resume, compare with an uninterrupted run."""
    problem, cfg = _problem(), _cfg(variant=variant, iterations=5)
    ref, ref_logs = meta_train(problem, cfg, seed=3)

    path = tmp_path / "state.pt"

    def stop_after_3(it, log):
        if it == 2:  # the checkpoint of update 2 is written after this call: interrupted before it
            raise _StopError

    with pytest.raises(_StopError):
        meta_train(problem, cfg, seed=3, progress=stop_after_3, checkpoint_path=path)
    assert int(load_checkpoint(path)["iteration"]) == 2
    seen = []
    net, logs = meta_train(
        problem, cfg, seed=3, progress=lambda it, log: seen.append(it), checkpoint_path=path, resume=True
    )
    assert seen == [2, 3, 4]
    _assert_same_weights(ref.state_dict(), net.state_dict())
    strip = [{k: v for k, v in d.items() if k not in TIMING_KEYS} for d in logs]
    assert strip == [{k: v for k, v in d.items() if k not in TIMING_KEYS} for d in ref_logs]


def test_resume_with_another_config_or_seed_is_refused(tmp_path):
    problem, cfg = _problem(), _cfg()
    path = tmp_path / "state.pt"
    meta_train(problem, _cfg(iterations=2), seed=0, checkpoint_path=path)
    with pytest.raises(CheckpointError, match="lr"):
        meta_train(problem, _cfg(lr=1e-2), seed=0, checkpoint_path=path, resume=True)
    with pytest.raises(CheckpointError, match="seed"):
        meta_train(problem, cfg, seed=1, checkpoint_path=path, resume=True)
    with pytest.raises(CheckpointError, match="horizon"):
        meta_train(_problem_of(horizon=7), cfg, seed=0, checkpoint_path=path, resume=True)
    # more iterations (or another checkpoint interval) may continue the run
    _, logs = meta_train(problem, _cfg(iterations=3, checkpoint_every=1), seed=0, checkpoint_path=path, resume=True)
    assert [d["update"] for d in logs] == [0, 1, 2]


def _problem_of(**setup) -> BanditProblem:
    return BanditProblem(BanditSetup(validation_types=2, **setup), validation_rows=2)


# ------------------------------------------------------------------- NaN/inf guard
class _InfProblem(BanditProblem):
    """From update ``bad_from`` on, the environment's ``field`` becomes ``value`` (inf, or overflowing float32)."""

    validation_tasks = None  # no validation episodes: every environment built is a training one

    def __init__(self, bad_from: int, field: str, value: float) -> None:
        super().__init__(BanditSetup(horizon=6, validation_types=2), validation_rows=2)
        self.bad_from, self.field, self.value, self.env_calls = bad_from, field, value, 0

    def make_env(self, tasks, rows_per_task, seed):
        env = super().make_env(tasks, rows_per_task, seed)
        self.env_calls += 1
        if self.env_calls <= 2 * self.bad_from:  # support and query episode per update
            return env
        step, field, value = env.step, self.field, self.value

        def bad_step(incentives):
            res = step(incentives)
            setattr(res, field, np.full(np.shape(getattr(res, field)), value))
            return res

        env.step = bad_step
        return env


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize(
    ("variant", "field", "value", "named"),
    [
        ("model_free", "principal_reward", np.inf, "non-finite loss"),  # trained on the true reward
        ("model_free", "principal_reward", 1e300, "non-finite loss"),  # finite, but inf in float32
        ("mermaide", "rewards", np.inf, "non-finite observed rewards"),  # would make the next incentives NaN
    ],
)
def test_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, variant, field, value, named):
    path = tmp_path / "state.pt"
    problem = _InfProblem(bad_from=3, field=field, value=value)
    with pytest.raises(FloatingPointError, match=r"at update 3\b") as err:
        meta_train(problem, _cfg(variant=variant, iterations=6), seed=0, checkpoint_path=path)
    assert named in str(err.value)
    state = load_checkpoint(path)  # the last good checkpoint (update 2) is intact and loadable
    assert int(state["iteration"]) == 2
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())


def test_non_finite_gradient_is_caught(tmp_path, monkeypatch):
    """A finite loss whose gradient is not finite also stops the run (naming the update)."""
    import policies.training as training

    real = training.outer_loss
    calls = {"n": 0}

    def loss_with_inf_grad(*args, **kw):
        loss, log = real(*args, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            net = args[0]
            p = next(net.parameters())
            # a finite value (0) with a non-finite gradient: d/dp sqrt(|p - p0|) at p = p0
            loss = loss + torch.sqrt((p - p.detach()).abs()).sum()
        return loss, log

    monkeypatch.setattr(training, "outer_loss", loss_with_inf_grad)
    with pytest.raises(FloatingPointError, match=r"gradient.*update 1\b"):
        meta_train(_problem(), _cfg(variant="model_free", iterations=3), seed=0, checkpoint_path=tmp_path / "s.pt")


def test_cli_reports_a_non_finite_loss_in_one_line(tmp_path, monkeypatch, capsys):
    """``python -m policies.train``: no traceback, one ``error:`` line naming the update, exit code 2."""
    import scenarios._bandit_tasks as tasks

    monkeypatch.setattr(tasks, "BanditProblem", lambda setup, **kw: _InfProblem(2, "principal_reward", np.inf))
    monkeypatch.setattr(tasks, "OBSERVATIONS", ("full",))
    out = tmp_path / "out"
    argv = _argv(out, 5, 1)
    argv[argv.index("mermaide")] = "model_free"
    code = train_cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: model_free-full: training stopped: non-finite loss")
    assert "at update 2" in err[0] and "last good checkpoint" in err[0]
    assert int(load_checkpoint(out / "model_free-full.train.pt")["iteration"]) == 2
    assert not (out / "model_free-full.pt").exists()
