"""green_tax: carbon taxation of learning households, the project's headline scenario.

``python -m scenarios.green_tax --help`` runs it (:mod:`scenarios.green_tax.cli`). The package's
modules, each with one job:

* :mod:`~scenarios.green_tax.economy`: the households, their fleet, the driving and ownership margins,
  welfare (one computation, through the ledger) and incidence;
* :mod:`~scenarios.green_tax.params`: the parameter schema (defaults, ranges, units, sources) behind
  configs, reform files and ``docs/parameters.md``;
* :mod:`~scenarios.green_tax.reforms`: reform files, their resolution, baseline-vs-reform runs and
  tables (:mod:`~scenarios.green_tax.distribution`: the decile tables);
* :mod:`~scenarios.green_tax.report`: the scenario's wording (figures and tables from :mod:`analysis`);
* :mod:`~scenarios.green_tax.cli`: the command line, the principals compared, the runs.

Imports point one way: cli -> report -> reforms -> economy -> params.
"""

from __future__ import annotations

from .cli import (
    BASELINES,
    LEARNED,
    SCENARIO,
    SCENARIO_BUILT,
    SETTINGS,
    TASK_KEYS,
    Args,
    EvalTask,
    OracleConfig,
    best_constant_vector,
    episode,
    eval_tasks,
    evaluate_task,
    informed_mix,
    main,
    make_baseline,
    resolve,
    response_sweep,
    run,
    run_reform_analysis,
    setting_mix,
)

__all__ = [
    "BASELINES",
    "LEARNED",
    "SCENARIO",
    "SCENARIO_BUILT",
    "SETTINGS",
    "TASK_KEYS",
    "Args",
    "EvalTask",
    "OracleConfig",
    "best_constant_vector",
    "episode",
    "eval_tasks",
    "evaluate_task",
    "informed_mix",
    "main",
    "make_baseline",
    "resolve",
    "response_sweep",
    "run",
    "run_reform_analysis",
    "setting_mix",
]
