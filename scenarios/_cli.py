"""The command line shared by every scenario: parse, run, report user errors in one line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulator.config import ConfigError, parse_args, run_cli

__all__ = ["scenario_main"]


def scenario_main(
    args_cls: type, argv: Sequence[str] | None, *, prog: str, description: str | None, run: Callable[[Any], Path]
) -> int:
    """Parse ``argv`` into ``args_cls``, call ``run(args)`` and print the run folder.

    Configuration and run-folder mistakes (an existing or interrupted folder, say)
    print ``error: ...`` on one line and return exit code 2 (DESIGN.md section 8).
    """
    from analysis.runs import RunFolderError

    def go() -> None:
        args, _ = parse_args(args_cls, argv, prog=prog, description=description)
        try:
            path = run(args)
        except RunFolderError as exc:
            raise ConfigError(str(exc)) from None
        print(f"run folder: {path}")

    return run_cli(go)
