"""``python -m analysis``: list the analysis commands, or run one (``python -m analysis compare ...``)."""

from __future__ import annotations

import sys

_USAGE = """usage: python -m analysis COMMAND [ARGS]

commands:
  compare   compare run folders: merged results, CIs over seeds, paired tests, report
            (same as python -m analysis.compare; --help for its options)
  sweep     run a scenario over a grid or random draws of its parameters x principals x seeds
            (same as python -m analysis.sweep; --help for its options)
"""


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand or print usage.

    Args:
        argv: arguments without the program name.

    Returns:
        The exit code: 0 for help, 2 for an unknown command.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_USAGE, end="")
        return 0
    if args[0] == "compare":
        from .compare import main as compare_main

        return compare_main(args[1:])
    if args[0] == "sweep":
        from .sweep import main as sweep_main

        return sweep_main(args[1:])
    print(f"error: unknown command {args[0]!r} (available: compare, sweep)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
