"""Where a scenario's independent tasks run (this process or a Ray cluster), and how their results stream.

A scenario splits its evaluation into *tasks* (green_tax: one per seed x setting;
bandit_alignment: one per observation x seed x setting; a sweep: one per point x
that). Each task derives all of its randomness from its own arguments, so a task
gives the same rows wherever and in whatever order it runs:

* :func:`run_tasks` runs them one after another here (``backend="local"``) or as
  Ray tasks (``backend="ray"``, one CPU and single-threaded numba/torch each, so a
  speed-up is measured fairly, DESIGN.md section 8) and calls ``on_result`` as
  each one finishes;
* :class:`TaskStore` appends each finished task's rows to ``results.csv`` of a run
  folder at once (a crash or Ctrl-C loses only unfinished tasks), logs the task
  as done, and on ``--resume`` tells which tasks to skip. At the end it gives the
  whole table back in task order, so ``results.csv`` is the same, byte for byte,
  whichever backend ran it and however often it was resumed.

Ray is an optional extra: without it, ``--backend ray`` ends in one line (exit
code 2) that says how to install it. ``ray.init`` starts a local Ray on this
machine's CPUs, or joins the cluster named by ``RAY_ADDRESS`` (``address="auto"``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from policies.ray_rollouts import RAY_INSTALL_HINT, available_cpus, import_ray, init_ray
from simulator.config import BACKENDS, ConfigError, set_threads, thread_limit

__all__ = [
    "BACKENDS",
    "RAY_INSTALL_HINT",
    "TaskStore",
    "available_cpus",
    "check_backend",
    "import_ray",
    "init_ray",
    "open_run_folder",
    "run_tasks",
    "thread_limit",
]

TASKS_DIR = "tasks"
# floats read back exactly: pandas 3 does so by default (and deprecates the option), pandas 2 needs it
_EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
DONE_FILE = "done.jsonl"


# ------------------------------------------------------------------- Ray
def check_backend(backend: str) -> None:
    """Fail early, before a run folder exists: an unknown backend, or ``"ray"`` without Ray installed."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "ray":
        import_ray()


def _call_in_worker(fn: Callable[[Any], Any], task: Any, threads: int) -> tuple[Any, float]:
    """What a Ray worker runs: ``fn(task)`` with ``threads`` numba/torch threads; returns (result, seconds)."""
    set_threads(threads)
    start = time.perf_counter()
    out = fn(task)
    return out, time.perf_counter() - start


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    backend: str = "local",
    on_result: Callable[[int, Any], None] | None = None,
    threads_per_task: int | None = 1,
    num_cpus: int | None = None,
) -> list[Any]:
    """Run ``fn(task)`` for every task; results in task order, ``on_result`` as each finishes.

    Args:
        fn: a module-level function (Ray ships it to workers by import path). It
            must derive all randomness from its argument.
        tasks: the tasks (picklable for ``backend="ray"``).
        backend: ``"local"`` (one after another in this process) or ``"ray"``.
        on_result: called with ``(index, result)`` in this process as soon as a
            task finishes (completion order under Ray, task order locally).
        threads_per_task: numba and torch threads inside a task; each Ray task
            reserves that many CPUs. ``None`` leaves this process's settings alone
            locally and means 1 under Ray.
        num_cpus: CPUs of a local Ray started here (default: all this process may
            use); ignored when Ray already runs or ``RAY_ADDRESS`` is set.

    Returns:
        ``fn(task)`` for each task, in the order of ``tasks``.

    Raises:
        ConfigError: an unknown backend, or ``"ray"`` without Ray installed.
        Exception: whatever a task raised (under Ray, the other tasks are cancelled).
    """
    tasks = list(tasks)
    results: list[Any] = [None] * len(tasks)
    if backend == "local":
        with thread_limit(threads_per_task):
            for i, task in enumerate(tasks):
                results[i] = fn(task)
                if on_result is not None:
                    on_result(i, results[i])
        return results
    if backend != "ray":
        raise ConfigError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    ray = init_ray(num_cpus)
    threads = threads_per_task or 1
    remote = ray.remote(num_cpus=threads)(_call_in_worker)
    fn_ref = ray.put(fn)
    index = {remote.remote(fn_ref, task, threads): i for i, task in enumerate(tasks)}
    pending = list(index)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index[ref]
                results[i], _seconds = _get(ray, ref)
                if on_result is not None:
                    on_result(i, results[i])
    except BaseException:  # a failed task, Ctrl-C: stop the rest, keep what was streamed
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    return results


def _get(ray: Any, ref: Any) -> Any:
    """``ray.get``, re-raising a task's own exception (a ConfigError stays one line), remote traceback as a note."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if not isinstance(cause, Exception):
            raise
        cause.add_note(f"(raised in a Ray task: {str(err).strip()})")
        raise cause from None


# ----------------------------------------------------------- run folders
@contextlib.contextmanager
def open_run_folder(out: str | os.PathLike[str], **kwargs: Any) -> Iterator[Any]:
    """``analysis.runs.RunFolder(out, **kwargs)`` as a context; a folder that cannot be opened is a ConfigError.

    (An existing folder without ``--resume``, an interrupted one, or a resume with
    another config end in one line and exit code 2, not a traceback.)
    """
    from analysis.runs import RunFolder

    with contextlib.ExitStack() as stack:
        try:
            rf = stack.enter_context(RunFolder(out, **kwargs))
        except ValueError as exc:  # the scenarios have --resume but no --overwrite
            message = str(exc).replace("pass resume=True (--resume)", "pass --resume").split(" or overwrite=True")[0]
            raise ConfigError(f"out: {message}") from None
        yield rf


def _key(values: Sequence[Any]) -> str:
    return json.dumps([str(v) for v in values])


class TaskStore:
    """Streams finished tasks into a run folder and remembers which are done.

    Each task is identified by the values of ``key_columns`` in its rows (e.g.
    ``("seed", "setting")``). :meth:`add` writes the task's per-round table to
    ``tasks/<hash of key>.rounds.csv``, appends its rows to ``results.csv``, then logs the
    key in ``tasks/done.jsonl`` (flushed and fsync'ed). A task is done only once
    its key is logged, so rows of a task cut off between the two writes are
    dropped on resume and the task runs again. A folder without the log (a
    complete run being resumed) counts every task in ``results.csv`` as done.

    Args:
        rf: an active :class:`analysis.runs.RunFolder`.
        key_columns: the result columns that identify a task.
        resume: read what an earlier session left (else start empty).
    """

    def __init__(self, rf: Any, key_columns: Sequence[str], *, resume: bool = False) -> None:
        self.rf = rf
        self.key_columns = list(key_columns)
        self.done: set[str] = set()
        self._legacy_rounds = False
        if resume:
            self._load()

    @property
    def _dir(self) -> Path:
        return Path(self.rf.dir) / TASKS_DIR

    def _read_csv(self, path: Path) -> pd.DataFrame:
        return pd.read_csv(path, **_EXACT_FLOATS)

    def _load(self) -> None:
        log = self._dir / DONE_FILE
        results_path = Path(self.rf.dir) / "results.csv"
        have = self._read_csv(results_path) if results_path.exists() and results_path.stat().st_size else None
        if log.exists():
            for line in log.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    self.done.add(json.dumps(json.loads(line)))
            if have is not None:
                keep = have[[self.key_of(r) in self.done for r in have[self.key_columns].itertuples(index=False)]]
                if len(keep) < len(have):  # rows of tasks cut off before they were logged
                    self.rf.write_results(keep)
        elif have is not None:  # a complete run folder: everything in it is done
            self.done = {self.key_of(r) for r in have[self.key_columns].itertuples(index=False)}
            self._legacy_rounds = (Path(self.rf.dir) / "rounds.csv").exists()

    @staticmethod
    def _part(key: str) -> str:
        return f"{TASKS_DIR}/{hashlib.sha1(key.encode()).hexdigest()[:20]}.rounds.csv"

    def key_of(self, values: Sequence[Any]) -> str:
        """The key of a task from its key-column values (in ``key_columns`` order)."""
        return _key(values)

    def is_done(self, values: Sequence[Any]) -> bool:
        """Whether the task with these key values already has its rows in ``results.csv``."""
        return self.key_of(values) in self.done

    def add(self, values: Sequence[Any], rows: Sequence[dict[str, Any]], rounds: pd.DataFrame | None = None) -> None:
        """Store one finished task: its per-round table, its result rows, then the done mark."""
        key = self.key_of(values)
        self._dir.mkdir(parents=True, exist_ok=True)
        if rounds is not None and len(rounds):
            self.rf.write_text(self._part(key), rounds.to_csv(index=False))
        if rows:
            self.rf.append_results(list(rows))
        with open(self._dir / DONE_FILE, "a", encoding="utf-8") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.done.add(key)

    def collect(self, order: Sequence[Sequence[Any]]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """All rows (and per-round rows) so far, sorted by task in the order of ``order`` (stable within a task).

        Values are read back exactly (round-trip float parsing), so the
        table does not depend on which backend or session produced which rows.
        """
        rank = {self.key_of(v): i for i, v in enumerate(order)}
        results_path = Path(self.rf.dir) / "results.csv"
        results = self._read_csv(results_path) if results_path.exists() else pd.DataFrame()
        results = self._sorted(results, rank)
        frames = []
        for values in order:
            key = self.key_of(values)
            part = Path(self.rf.dir) / self._part(key)
            if key in self.done and part.exists():
                frames.append(self._read_csv(part))
        if self._legacy_rounds:
            frames.insert(0, self._read_csv(Path(self.rf.dir) / "rounds.csv"))
        rounds = self._sorted(pd.concat(frames, ignore_index=True), rank) if frames else None
        return results, rounds

    def _sorted(self, df: pd.DataFrame, rank: dict[str, int]) -> pd.DataFrame:
        if df.empty or not set(self.key_columns) <= set(df.columns):
            return df.reset_index(drop=True)
        pos = [rank.get(self.key_of(r), len(rank)) for r in df[self.key_columns].itertuples(index=False)]
        return df.assign(_task=pos).sort_values("_task", kind="stable").drop(columns="_task").reset_index(drop=True)

    def cleanup(self) -> None:
        """Remove the task log and per-task files (after the final tables are written)."""
        shutil.rmtree(self._dir, ignore_errors=True)
