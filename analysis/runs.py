"""Run folders: the on-disk contract every scenario writes and every analysis reads.

A run folder holds one execution of a scenario (docs/design.md, "Run folders")::

    runs/green_tax/20261127-103400/
        run.json        the run record (scenario, resolved config, fingerprint, seeds, versions,
                        git commit, host, times, sha256 of inputs and of every file written)
        config.toml     the resolved config, everything needed to rerun
        results.csv     one row per principal x seed x evaluation setting
        rounds.csv      per-round series (optional)
        inputs/         copies of the input files (e.g. the user's --config file)
        *.png, report.html, report.md

While a run is in progress it lives in ``<out_dir>.partial/``; a clean exit from :class:`RunFolder`
writes the final ``run.json`` and renames the folder to ``out_dir`` (one :func:`os.rename`, atomic on one
file system). An exception, ``KeyboardInterrupt`` included, leaves the ``.partial`` folder with an
``INCOMPLETE`` marker, so an interrupted run never looks complete. Every file is written through a
temporary file and :func:`os.replace`; :meth:`RunFolder.append_results` is the one exception (it
appends whole rows, each append flushed and fsync'ed, and repairs a torn last line on resume).

``config.toml`` cannot hold ``None``: keys whose value is ``None`` are left out (a config loader then
falls back to the field default, which for an optional ``float | None`` field is ``None``); ``None``
inside a list is an error. ``run.json`` keeps the exact config, nulls included, and is what
:func:`load_run` and :func:`check_comparable` read.

``results.csv`` has at least the columns of :data:`RESULT_COLUMNS`; :class:`RunFolder` refuses a results
table without them (other tables go through :meth:`RunFolder.write_table`).

The code lives in three modules, re-exported here: ``analysis._runs_write`` (:class:`RunFolder`,
:func:`default_out_dir`, :func:`check_out_dir`), ``analysis._runs_read`` (:func:`load_run`,
:func:`load_runs`, :func:`find_runs`, :func:`check_comparable`...) and ``analysis._runs_record`` (what
both share: layout, format version, errors, config fingerprints, the environment record).
"""

from __future__ import annotations

from ._runs_read import (
    Run,
    check_comparable,
    environment_warnings,
    find_runs,
    is_complete,
    load_run,
    load_runs,
    load_runs_list,
)
from ._runs_record import (
    CONFIG_FILE,
    FORMAT_VERSION,
    INCOMPLETE_FILE,
    INPUTS_DIR,
    NON_RESULT_KEYS,
    PARTIAL_SUFFIX,
    RECORD_FILE,
    RESULT_COLUMNS,
    RESULTS_FILE,
    ROUNDS_FILE,
    IncomparableRunsError,
    IncompleteRunError,
    RunFolderError,
    config_differences,
    config_fingerprint,
    environment_info,
    git_info,
    toml_config,
)
from ._runs_write import RunFolder, check_out_dir, default_out_dir

__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "INCOMPLETE_FILE",
    "INPUTS_DIR",
    "NON_RESULT_KEYS",
    "PARTIAL_SUFFIX",
    "RECORD_FILE",
    "RESULTS_FILE",
    "RESULT_COLUMNS",
    "ROUNDS_FILE",
    "IncomparableRunsError",
    "IncompleteRunError",
    "Run",
    "RunFolder",
    "RunFolderError",
    "check_comparable",
    "check_out_dir",
    "config_differences",
    "config_fingerprint",
    "default_out_dir",
    "environment_info",
    "environment_warnings",
    "find_runs",
    "git_info",
    "is_complete",
    "load_run",
    "load_runs",
    "load_runs_list",
    "toml_config",
]
