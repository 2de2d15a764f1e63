"""The command line shared by every scenario: parse, check the run options, run, report user errors in one line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulator.config import ConfigError, RunOptions, parse_args, run_cli, thread_limit

__all__ = ["prepare_run", "scenario_main"]


def prepare_run(args: RunOptions) -> None:
    """What every run checks and sets before any work, from its :class:`~simulator.config.RunOptions`.

    * ``--backend``: known, and Ray installed for ``ray``;
    * ``--resume`` names the folder to continue (``--out``);
    * ``--out`` (or the ``runs/`` folder it defaults to) can be created: not through
      a file, not below a folder that cannot be written;

    Raises:
        ConfigError: one line naming the option.
    """
    from analysis.runs import RunFolderError, check_out_dir

    from ._backend import check_backend

    check_backend(args.backend)
    if args.resume and not args.out:
        raise ConfigError("resume: give --out, the run folder to continue")
    try:
        check_out_dir(args.out if args.out else "runs")
    except RunFolderError as exc:
        raise ConfigError(str(exc)) from None


def scenario_main(
    args_cls: type, argv: Sequence[str] | None, *, prog: str, description: str | None, run: Callable[[Any], Path]
) -> int:
    """Parse ``argv`` into ``args_cls``, check the run options, call ``run(args)`` and print the run folder.

    ``run`` runs with this process's numba and torch threads set by ``--threads``
    (or the run's default), restored afterwards, and with ``--workers`` and
    ``--threads`` as the defaults of :func:`scenarios._backend.run_tasks`.

    Configuration and run-folder mistakes (an existing or interrupted folder, an
    output path that cannot be created, say) print ``error: ...`` on one line and
    return exit code 2.
    """
    from analysis.runs import RunFolderError
    from simulator.model import resolve_device

    from ._backend import local_pool, start_pool_server

    def go() -> None:
        args, _ = parse_args(args_cls, argv, prog=prog, description=description)
        threads = workers = None
        if isinstance(args, RunOptions):
            prepare_run(args)
            threads = args.thread_count
            workers = getattr(args, "workers", None)
            if workers is None and args.device != "cpu" and resolve_device(args.device) != "cpu":
                workers = 1  # the tasks share one GPU: one at a time, in this process
            if args.backend == "local" and workers != 1:
                start_pool_server(run.__module__)  # its imports overlap this run's setup
        try:
            # this process's threads and the local pool's workers and threads per task, for this run only
            with thread_limit(threads), local_pool(workers, threads):
                path = run(args)
        except RunFolderError as exc:
            raise ConfigError(str(exc)) from None
        print(f"run folder: {path}")

    return run_cli(go)
