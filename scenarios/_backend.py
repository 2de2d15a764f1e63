"""Where a scenario's independent tasks run (this machine's cores or a Ray cluster), and how their results stream.

A scenario splits its evaluation into *tasks* (green_tax: one per seed x setting;
bandit_alignment: one per observation x seed x setting; stackelberg: one per
seed x setting x follower x principal; a sweep: one per point x that). Each task
derives all of its randomness from its own arguments, so a task gives the same
rows wherever and in whatever order it runs:

* :func:`run_tasks` runs them on a pool of worker processes on this machine
  (``backend="local"``, one per core by default, each single-threaded), one after
  another in this process (``--workers 1``), or as Ray tasks (``backend="ray"``,
  one CPU and single-threaded numba/torch each, so a speed-up is measured fairly);
  it calls ``on_result`` in this process as each one finishes;
* :class:`TaskStore` appends each finished task's rows to ``results.csv`` of a run
  folder at once (a crash or Ctrl-C loses only unfinished tasks), logs the task
  as done, and on ``--resume`` tells which tasks to skip. At the end it gives the
  whole table back in task order, so ``results.csv`` is the same, byte for byte,
  whichever backend ran it, with how many workers, and however often it was
  resumed.

The pool starts its workers with ``spawn`` (a fresh interpreter each: no state
inherited from this process's numba and OpenMP threads, which are not safe to
fork), and runs each task with ``--threads`` numba/torch threads (default 1) so
that a task's numbers do not depend on how many run at once.

Ray is an optional extra: without it, ``--backend ray`` ends in one line (exit
code 2) that says how to install it. ``ray.init`` starts a local Ray on this
machine's CPUs, or joins the cluster named by ``RAY_ADDRESS`` (``address="auto"``).
"""

from __future__ import annotations

import concurrent.futures as _futures
import contextlib
import contextvars
import hashlib
import importlib.util
import json
import multiprocessing
import os
import pickle
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
    "local_pool",
    "open_run_folder",
    "run_tasks",
    "start_pool_server",
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


# ------------------------------------------------------------ local pool
@dataclass(frozen=True)
class _LocalPool:
    workers: int | None = None
    threads: int | None = None


_LOCAL: contextvars.ContextVar[_LocalPool | None] = contextvars.ContextVar("local_pool", default=None)


@contextlib.contextmanager
def local_pool(workers: int | None = None, threads: int | None = None) -> Iterator[None]:
    """Inside the block, :func:`run_tasks` (local backend) uses these defaults: a run's ``--workers``/``--threads``.

    Args:
        workers: worker processes (``1``: tasks run in this process; ``None``: as outside the
            block, by default one per core).
        threads: numba and torch threads of each task (``None``: as outside the block, by default 1).
    """
    outer = _LOCAL.get() or _LocalPool()
    token = _LOCAL.set(_LocalPool(workers or outer.workers, threads or outer.threads))
    try:
        yield
    finally:
        _LOCAL.reset(token)


def _init_worker(threads: int) -> None:
    """Each pool worker: ``threads`` numba/torch threads, for every task it runs."""
    set_threads(threads)


def _picklable(fn: Callable[[Any], Any]) -> bool:
    try:
        pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


_TORCH_LAZY = ("torch._dynamo",)
"""Loaded by torch on first use of torch.func's transforms (about 4 s): imported once by the fork server."""


def _main_module_name() -> str | None:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None)


def _preload(module: str | None) -> list[str]:
    names = [module] if module else []
    if "torch" in sys.modules:  # the tasks will use torch: its lazily loaded parts too
        names += [m for m in _TORCH_LAZY if importlib.util.find_spec(m.split(".")[0]) is not None]
    return names


_QUIET_RUNPY = "ignore::RuntimeWarning:runpy"
"""Each worker re-runs the ``python -m`` module as ``__mp_main__``, which the fork server has already
imported; runpy then warns that the module "may result in unpredictable behaviour" (it is the same module,
imported twice, harmless). The fork server and its workers ignore runpy's RuntimeWarning."""


def _quiet_main_rerun() -> None:
    current = os.environ.get("PYTHONWARNINGS", "")
    if _QUIET_RUNPY not in current.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [current, _QUIET_RUNPY]))


def _context(module: str | None) -> Any:
    """How pool workers start: ``forkserver`` where there is one, else ``spawn``; never ``fork``.

    The fork server is a fresh process that imports the tasks' module (numpy,
    numba, torch...) once; each worker is then forked from it in a fraction of a
    second. ``fork`` from this process is unsafe: its numba and OpenMP threads may
    be running.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    _quiet_main_rerun()  # before the fork server starts: it reads the environment once
    ctx.set_forkserver_preload(_preload(module))
    return ctx


def start_pool_server(module: str | None = None) -> None:
    """Start the fork server now, so that its imports overlap this process's own setup (a no-op without one).

    Args:
        module: the module whose functions the tasks run (default: the ``python -m`` module).
    """
    module = _main_module_name() if module in (None, "__main__") else module
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        _context(module)
        forkserver.ensure_running()


def _task_module(fn: Callable[[Any], Any]) -> str | None:
    module = getattr(fn, "__module__", None)
    return _main_module_name() if module == "__main__" else module


def _run_pool(
    fn: Callable[[Any], Any],
    tasks: list[Any],
    workers: int,
    threads: int,
    on_result: Callable[[int, Any], None] | None,
) -> list[Any]:
    results: list[Any] = [None] * len(tasks)
    pool = _futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(_task_module(fn)), initializer=_init_worker, initargs=(threads,)
    )
    try:
        index = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
        for future in _futures.as_completed(index):
            i = index[future]
            results[i] = future.result()
            if on_result is not None:
                on_result(i, results[i])
    except BaseException:  # a failed task, Ctrl-C: stop the others now, keep what was streamed
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            with contextlib.suppress(Exception):
                proc.terminate()
        raise
    pool.shutdown(wait=True)
    return results


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    backend: str = "local",
    on_result: Callable[[int, Any], None] | None = None,
    threads_per_task: int | None = None,
    num_cpus: int | None = None,
    workers: int | None = None,
) -> list[Any]:
    """Run ``fn(task)`` for every task; results in task order, ``on_result`` as each finishes.

    Locally the tasks go to a pool of ``workers`` processes (default: the run's
    ``--workers``, else one per CPU this process may use, at most one per task), each
    with ``threads_per_task`` threads; with one worker, or a ``fn`` that cannot be
    pickled by reference (a closure, a lambda), they run one after another in this
    process with those threads. Either way each task sees the same thread count, so
    the results are the same.

    Args:
        fn: a module-level function (workers import it by name). It must derive all
            randomness from its argument.
        tasks: the tasks (picklable, for a pool or Ray).
        backend: ``"local"`` or ``"ray"``.
        on_result: called with ``(index, result)`` in this process as soon as a
            task finishes (completion order with a pool or Ray, task order in this process).
        threads_per_task: numba and torch threads inside a task; each Ray task
            reserves that many CPUs (default: the run's ``--threads``, else 1).
        num_cpus: CPUs of a local Ray started here (default: all this process may
            use); ignored when Ray already runs or ``RAY_ADDRESS`` is set.
        workers: local worker processes (default: see above; 1: in this process).

    Returns:
        ``fn(task)`` for each task, in the order of ``tasks``.

    Raises:
        ConfigError: an unknown backend, or ``"ray"`` without Ray installed.
        Exception: whatever a task raised (the other tasks are stopped).
    """
    tasks = list(tasks)
    results: list[Any] = [None] * len(tasks)
    defaults = _LOCAL.get() or _LocalPool()
    threads = threads_per_task or defaults.threads or 1
    if backend == "local":
        n = workers or defaults.workers or max(1, available_cpus() // threads)
        n = max(1, min(n, len(tasks)))
        if n > 1 and _picklable(fn):
            return _run_pool(fn, tasks, n, threads, on_result)
        with thread_limit(threads):
            for i, task in enumerate(tasks):
                results[i] = fn(task)
                if on_result is not None:
                    on_result(i, results[i])
        return results
    if backend != "ray":
        raise ConfigError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    ray = init_ray(num_cpus)
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
