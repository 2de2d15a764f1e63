"""Meta-training rollouts in per-task environments, stepped in this process or inside Ray actors.

:func:`policies.training.meta_train` normally builds one batched environment per
episode for all B tasks, seeded by one draw. With ``task_envs=True`` or
``backend="ray"`` it builds instead one environment per task, seeded from (run
seed, iteration, episode phase, task index) by :func:`task_env_seed`, so the
trajectories do not depend on where the environments live or how the tasks are
split:

* ``backend="local"``: the per-task environments live here (:class:`TaskShard`);
* ``backend="ray"``: the tasks are split into contiguous shards, one Ray actor
  per shard (one CPU, single-threaded); every round the driver sends each actor
  its rows' incentives and gathers what the principal observes. The network and
  the optimizer stay on the driver.

Same seed, same checkpoint weights for both (tested). The problem object is
pickled to the actors, so it must be picklable and its module importable there.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.config import ConfigError, set_threads

from .problem import BatchEnv, StepResult, TrainingProblem

__all__ = [
    "PHASES",
    "RAY_INSTALL_HINT",
    "ShardedEnv",
    "TaskEnvSource",
    "TaskShard",
    "available_cpus",
    "concat_steps",
    "import_ray",
    "init_ray",
    "task_env_seed",
]

RAY_INSTALL_HINT = 'backend: Ray is not installed; install it with: pip install "learning-incentives[ray]"'

PHASES = {"support": 0, "query": 1}
"""The episodes of one meta-training update (part of each environment's seed)."""


# ------------------------------------------------------------------- Ray
def import_ray() -> Any:
    """The ``ray`` module, or a :class:`~simulator.config.ConfigError` saying how to install it (one line)."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_INSTALL_HINT) from None
    return ray


def available_cpus() -> int:
    """CPUs this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def init_ray(num_cpus: int | None = None) -> Any:
    """Start Ray once per process and return the module.

    With ``RAY_ADDRESS`` set (a cluster started with ``ray start --head``, or a job
    sent with ``ray job submit``), join that cluster (``address="auto"``, or the
    ``ray://`` address of a Ray Client server as given);
    otherwise start a local Ray with ``num_cpus`` CPUs (default: the CPUs this
    process may use).
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = os.environ.get("RAY_ADDRESS", "")
    if address.startswith("ray://"):  # Ray Client (a remote cluster's client server)
        ray.init(address=address, ignore_reinit_error=True)
    elif address:
        ray.init(address="auto", ignore_reinit_error=True)
    else:
        ray.init(
            num_cpus=num_cpus or available_cpus(),
            include_dashboard=False,
            ignore_reinit_error=True,
            logging_level="warning",
        )
    return ray


# ------------------------------------------------------------- rollouts
def task_env_seed(seed: int, iteration: int, phase: str, task_index: int) -> int:
    """Seed of one task's environment in one episode of one update (a 31-bit integer)."""
    ss = np.random.SeedSequence([int(seed), int(iteration), PHASES[phase], int(task_index)])
    return int(ss.generate_state(1, np.uint32)[0] >> 1)


def concat_steps(parts: Sequence[StepResult]) -> StepResult:
    """Stack the per-shard results of one round (rows in shard order)."""

    def cat(name: str) -> np.ndarray | None:
        vals = [getattr(p, name) for p in parts]
        if any(v is None for v in vals):
            return None
        return np.concatenate([np.asarray(v) for v in vals], axis=0)

    reward = cat("principal_reward")
    assert reward is not None
    return StepResult(actions=cat("actions"), shares=cat("shares"), rewards=cat("rewards"), principal_reward=reward)


class TaskShard:
    """The environments of a contiguous shard of tasks, one per task (an actor's state under Ray).

    Args:
        problem: the training problem (builds each task's environment).
        threads: numba/torch threads in this process (``None``: leave them).
    """

    def __init__(self, problem: TrainingProblem, threads: int | None = None) -> None:
        if threads:
            set_threads(threads)
        self.problem = problem
        self.envs: list[BatchEnv] = []

    def reset(self, tasks: Sequence[Any], rows_per_task: int, seeds: Sequence[int]) -> int:
        """Build fresh environments for ``tasks`` (one each, with its seed); returns the number of rows."""
        self.envs = [self.problem.make_env([t], rows_per_task, int(s)) for t, s in zip(tasks, seeds, strict=True)]
        return sum(env.n_rows for env in self.envs)

    def step(self, incentives: np.ndarray) -> StepResult:
        """One round in every environment of the shard; ``incentives`` (rows, K) in task-major order."""
        parts, start = [], 0
        for env in self.envs:
            parts.append(env.step(incentives[start : start + env.n_rows]))
            start += env.n_rows
        return concat_steps(parts)


class ShardedEnv:
    """A :class:`policies.training.BatchEnv` over shards (local :class:`TaskShard` objects or Ray actor handles)."""

    def __init__(self, shards: Sequence[Any], rows: Sequence[int], ray: Any = None) -> None:
        self.shards = list(shards)
        self.rows = list(rows)
        self.n_rows = int(sum(self.rows))
        self._ray = ray

    def step(self, incentives: np.ndarray) -> StepResult:
        """One round in every shard (in parallel under Ray)."""
        bounds = np.cumsum([0, *self.rows])
        slices = [incentives[a:b] for a, b in itertools.pairwise(bounds)]
        if self._ray is None:
            parts = [s.step(x) for s, x in zip(self.shards, slices, strict=True)]
        else:
            parts = self._ray.get([s.step.remote(x) for s, x in zip(self.shards, slices, strict=True)])
        return concat_steps(parts)


class TaskEnvSource:
    """Builds the per-task environments of each episode, here or in Ray actors.

    Args:
        problem: the training problem.
        seed: the run's seed.
        backend: ``"local"`` or ``"ray"``.
        workers: Ray actors (default: the CPUs Ray offers; never more than tasks per batch).
        max_tasks: tasks per batch (caps ``workers``).
    """

    def __init__(
        self,
        problem: TrainingProblem,
        seed: int,
        *,
        backend: str = "local",
        workers: int | None = None,
        max_tasks: int | None = None,
    ) -> None:
        self.problem = problem
        self.seed = int(seed)
        self.backend = backend
        self._ray: Any = None
        self._actors: list[Any] = []
        if backend == "local":
            self._local = TaskShard(problem)
        elif backend == "ray":
            ray = init_ray()
            n = workers or max(1, int(ray.available_resources().get("CPU", 1)))
            if max_tasks:
                n = min(n, max_tasks)
            actor_cls = ray.remote(num_cpus=1)(TaskShard)
            problem_ref = ray.put(problem)
            self._actors = [actor_cls.remote(problem_ref, 1) for _ in range(n)]
            self._ray = ray
        else:
            raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")

    def make_env(self, tasks: Sequence[Any], rows_per_task: int, iteration: int, phase: str) -> BatchEnv:
        """Fresh environments for the tasks of one episode."""
        seeds = [task_env_seed(self.seed, iteration, phase, i) for i in range(len(tasks))]
        if self._ray is None:
            rows = self._local.reset(tasks, rows_per_task, seeds)
            return ShardedEnv([self._local], [rows])
        splits = np.array_split(np.arange(len(tasks)), min(len(self._actors), len(tasks)))
        used = [a for a, idx in zip(self._actors, splits, strict=False) if len(idx)]
        refs = [
            actor.reset.remote([tasks[i] for i in idx], rows_per_task, [seeds[i] for i in idx])
            for actor, idx in zip(used, splits, strict=False)
            if len(idx)
        ]
        return ShardedEnv(used, self._ray.get(refs), ray=self._ray)

    def close(self) -> None:
        """Stop the actors."""
        if self._ray is not None:
            for actor in self._actors:
                self._ray.kill(actor)
            self._actors = []
