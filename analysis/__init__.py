"""Analysis of run folders: run records, statistics over seeds, figures, reports and comparisons.

The layer reads what scenarios write (``results.csv``, ``rounds.csv``, ``run.json``) and never imports
``policies`` or ``scenarios``. Scenarios use :class:`RunFolder` to write their run folder and
:class:`Report` to render ``report.html``; notebook users start from :func:`load_runs`; the command line
is ``python -m analysis.compare``.
"""

from __future__ import annotations

from .report import Report, format_number, format_summary, format_value, terminal_table
from .runs import (
    NON_RESULT_KEYS,
    IncomparableRunsError,
    IncompleteRunError,
    Run,
    RunFolder,
    RunFolderError,
    check_comparable,
    config_differences,
    config_fingerprint,
    default_out_dir,
    environment_info,
    environment_warnings,
    find_runs,
    git_info,
    is_complete,
    load_run,
    load_runs,
    load_runs_list,
    toml_config,
)
from .stats import (
    CI,
    Difference,
    adaptation_speed,
    mean_ci,
    normalized_score,
    numeric_metrics,
    paired_difference,
    paired_differences,
    share_of_gap,
    shots_curve,
    summarize,
    unpaired_difference,
)

__all__ = [
    "CI",
    "NON_RESULT_KEYS",
    "Difference",
    "IncomparableRunsError",
    "IncompleteRunError",
    "Report",
    "Run",
    "RunFolder",
    "RunFolderError",
    "adaptation_speed",
    "check_comparable",
    "config_differences",
    "config_fingerprint",
    "default_out_dir",
    "environment_info",
    "environment_warnings",
    "find_runs",
    "format_number",
    "format_summary",
    "format_value",
    "git_info",
    "is_complete",
    "load_run",
    "load_runs",
    "load_runs_list",
    "mean_ci",
    "normalized_score",
    "numeric_metrics",
    "paired_difference",
    "paired_differences",
    "share_of_gap",
    "shots_curve",
    "summarize",
    "terminal_table",
    "toml_config",
    "unpaired_difference",
]
