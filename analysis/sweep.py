"""Sweeps over scenario parameters: ``python -m analysis.sweep SWEEP.toml [--backend local|ray] [--resume]``.

A sweep file names a scenario, the settings every point shares, and the points:
a ``[grid]`` (every combination of the listed values) or ``[random]`` draws::

    scenario = "green_tax"       # or "bandit_alignment", or a module with the same task interface
    seeds = 5                    # seeds per point (seed, seeds: as on the scenario's command line)
    base = "heating.toml"        # optional: a scenario config file (relative to this file)

    [config]                     # optional: scenario settings shared by every point
    principals = ["none", "pigouvian", "best_constant"]

    [grid]                       # dotted config keys -> lists of values
    "economy.scc" = [51, 190]
    "households.pessimistic_share" = [0.2, 0.5]

    # or, instead of [grid]:
    # [random]
    # samples = 8                # points drawn
    # seed = 0                   # seed of the draws
    # "economy.scc" = { dist = "uniform", low = 50, high = 250 }     # also loguniform
    # "households.n_households" = { dist = "int", low = 1000, high = 5000 }   # inclusive
    # "economy.mcpf" = { dist = "choice", values = [1.0, 1.3] }

Every point x seed x evaluation setting is one task of the scenario (its
``evaluate_task``), run single-threaded on this machine's cores (one worker
process per core; ``--workers 1``: one after another in this process) or on Ray
(``--backend ray``: a local Ray on this machine's CPUs, or the cluster named by
``RAY_ADDRESS``).
Each finished task's rows go straight into ``results.csv`` of one run folder,
with a ``point`` column and one column per swept key; a crash or Ctrl-C loses
only unfinished tasks, and ``--resume`` continues the interrupted folder
``<out>.partial``, skipping the tasks already there. The final ``results.csv``
is sorted by task, so it does not depend on the backend. ``--quick`` runs every
point with the scenario's ``--quick`` budget (for tests).

Any mistake in the sweep file or on the command line prints one line
``error: ...`` and exits with code 2.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib
import itertools
import json
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import numpy as np
import pandas as pd

from simulator.config import (
    ConfigError,
    OutputOptions,
    TaskOptions,
    from_dict,
    load_toml,
    option,
    parse_args,
    run_cli,
    to_dict,
)

__all__ = ["SCENARIOS", "Sweep", "SweepArgs", "SweepTask", "load_sweep", "main", "run_sweep", "run_sweep_task"]

SCENARIOS = {"green_tax": "scenarios.green_tax", "bandit_alignment": "scenarios.bandit_alignment"}
"""Scenarios that can be swept by name (any module with the same task interface works by import path)."""

_TOP_KEYS = ("scenario", "seed", "seeds", "base", "config", "grid", "random")
_NON_RESULT = ("backend", "resume", "out", "progress", "threads", "workers")
_DISTS = ("uniform", "loguniform", "int", "choice")


@dataclasses.dataclass
class Sweep:
    """A parsed sweep file.

    Attributes:
        scenario: the scenario name (or module path).
        module: the imported scenario module.
        base: the shared scenario config (before the points' values).
        keys: the swept dotted keys, in file order.
        points: one dict ``{dotted key: value}`` per point.
        spec: the sweep as recorded in the run folder's ``config.toml``.
        files: input files to record (the sweep file, the base config).
    """

    scenario: str
    module: Any
    base: Any
    keys: list[str]
    points: list[dict[str, Any]]
    spec: dict[str, Any]
    files: dict[str, Path]


@dataclasses.dataclass
class SweepTask:
    """One task of a sweep: a scenario task at one point."""

    point: int
    values: dict[str, Any]
    task: Any
    module: str

    @property
    def key(self) -> tuple[Any, ...]:
        """The values of the sweep's key columns (``point`` and the scenario's task keys)."""
        return (self.point, *self.task.key)


def _err(path: str, message: str) -> NoReturn:
    raise ConfigError(f"{path}: {message}")


def _nested(dotted: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part} is a setting, not a section")
        node[parts[-1]] = value
    return out


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _draw(spec: Any, rng: np.random.Generator, where: str) -> Any:
    if not isinstance(spec, dict) or "dist" not in spec:
        _err(where, f'must be a table like {{ dist = "uniform", low = 0, high = 1 }}, got {spec!r}')
    dist = spec["dist"]
    if dist not in _DISTS:
        _err(where, f"dist must be one of {', '.join(_DISTS)}, got {dist!r}")
    if dist == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values or set(spec) - {"dist", "values"}:
            _err(where, "choice needs values = [...] (a non-empty list) and nothing else")
        return values[int(rng.integers(len(values)))]
    if set(spec) != {"dist", "low", "high"}:
        _err(where, f"{dist} needs exactly low and high")
    low, high = spec["low"], spec["high"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or low > high:
        _err(where, f"low and high must be numbers with low <= high, got {low!r}, {high!r}")
    if dist == "uniform":
        return float(rng.uniform(low, high))
    if dist == "loguniform":
        if low <= 0:
            _err(where, "loguniform needs low > 0")
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    if not (float(low).is_integer() and float(high).is_integer()):
        _err(where, "int needs integer low and high")
    return int(rng.integers(int(low), int(high) + 1))


def _points(doc: dict[str, Any], name: str) -> tuple[list[str], list[dict[str, Any]]]:
    grid, rand = doc.get("grid"), doc.get("random")
    if grid is not None and rand is not None:
        _err(name, "give [grid] or [random], not both")
    if grid is not None:
        if not isinstance(grid, dict) or not grid:
            _err(f"{name}: grid", "must map dotted config keys to lists of values")
        keys = list(_flat_keys(grid))
        lists = []
        for key in keys:
            values = _get(grid, key)
            if not isinstance(values, list) or not values:
                _err(f"{name}: grid.{key}", f"must be a non-empty list of values, got {values!r}")
            lists.append(values)
        return keys, [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*lists)]
    if rand is not None:
        if not isinstance(rand, dict):
            _err(f"{name}: random", "must be a table")
        rand = dict(rand)
        samples = rand.pop("samples", None)
        seed = rand.pop("seed", 0)
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            _err(f"{name}: random.samples", f"must be an integer >= 1, got {samples!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            _err(f"{name}: random.seed", f"must be an integer >= 0, got {seed!r}")
        keys = list(_flat_keys(rand, leaf=lambda v: isinstance(v, dict) and "dist" in v))
        if not keys:
            _err(f"{name}: random", "needs at least one dotted key with a distribution")
        rng = np.random.default_rng(seed)
        return keys, [{k: _draw(_get(rand, k), rng, f"{name}: random.{k}") for k in keys} for _ in range(samples)]
    return [], [{}]


def _flat_keys(table: dict[str, Any], prefix: str = "", leaf: Any = None) -> list[str]:
    # TOML parses "economy.scc" (quoted) as one key and economy.scc (bare) as nested tables: accept both
    out = []
    for k, v in table.items():
        full = f"{prefix}{k}"
        if isinstance(v, dict) and not (leaf and leaf(v)):
            out.extend(_flat_keys(v, f"{full}.", leaf))
        else:
            out.append(full)
    return out


def _get(table: dict[str, Any], dotted: str) -> Any:
    if dotted in table:
        return table[dotted]
    head, _, rest = dotted.partition(".")
    return _get(table[head], rest)


def _scenario_module(name: Any, where: str) -> Any:
    if not isinstance(name, str) or not name:
        _err(where, f"scenario must be a name ({', '.join(SCENARIOS)}) or a module path")
    modname = SCENARIOS.get(name, name)
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        _err(where, f"scenario {name!r} cannot be imported ({exc}); available: {', '.join(SCENARIOS)}")
    missing = [a for a in ("Args", "TASK_KEYS", "eval_tasks", "evaluate_task") if not hasattr(module, a)]
    if missing:
        _err(where, f"scenario module {modname} lacks {', '.join(missing)} (the task interface of a sweep)")
    return module


def load_sweep(path: str | Path, *, quick: bool = False) -> Sweep:
    """Read and check a sweep file; every point's config is validated before anything runs.

    Raises:
        ConfigError: any mistake, as one line naming the file and the key.
    """
    path = Path(path)
    name = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _err(name, f"cannot read sweep file: {exc.strerror or exc}")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        _err(name, f"not valid TOML: {exc}")
    unknown = [k for k in doc if k not in _TOP_KEYS]
    if unknown:
        _err(f"{name}: {unknown[0]}", f"unknown sweep setting; valid: {', '.join(_TOP_KEYS)}")
    if "scenario" not in doc:
        _err(name, 'scenario = "..." is missing (e.g. green_tax)')
    module = _scenario_module(doc["scenario"], f"{name}: scenario")
    args_cls = module.Args
    files = {"sweep.toml": path}
    base = args_cls()
    if "base" in doc:
        base_path = (path.parent / str(doc["base"])).resolve()
        try:
            base = load_toml(args_cls, base_path)
        except ConfigError as exc:
            _err(f"{name}: base", str(exc))
        files["base.toml"] = base_path
    shared = doc.get("config", {})
    if not isinstance(shared, dict):
        _err(f"{name}: config", "must be a table of scenario settings")
    for key in ("seed", "seeds"):
        if key in doc:
            shared = {**shared, key: doc[key]}
    if quick:
        shared = {**shared, "quick": True}
    try:
        base = from_dict(args_cls, shared, base=base)
    except ConfigError as exc:
        _err(f"{name}: config", str(exc))
    if getattr(base, "response", False):
        _err(f"{name}: config.response", "the response sweep cannot be swept; sweep its parameters instead")
    keys, points = _points(doc, name)
    for i, values in enumerate(points):
        try:
            from_dict(args_cls, _nested(values), base=base)
        except ConfigError as exc:
            _err(f"{name}: point {i}", str(exc))
    base_dict = {k: v for k, v in to_dict(base).items() if k not in _NON_RESULT}
    spec = {"scenario": doc["scenario"], "config": base_dict, "keys": keys}
    if "grid" in doc:
        spec["grid"] = doc["grid"]
    if "random" in doc:
        spec["random"] = doc["random"]
    return Sweep(doc["scenario"], module, base, keys, points, spec, files)


def run_sweep_task(task: SweepTask) -> list[dict[str, Any]]:
    """Run one scenario task and label its rows with the point (a module-level function, so Ray can ship it)."""
    module = importlib.import_module(task.module)
    rows, _rounds = module.evaluate_task(task.task)
    labels = {"point": task.point, **{k: _cell(v) for k, v in task.values.items()}}
    return [{**labels, **row} for row in rows]


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def sweep_tasks(sweep: Sweep, *, backend: str = "local") -> list[SweepTask]:
    """Every point x scenario task (point-major), each with its point's resolved config."""
    out = []
    resolve = getattr(sweep.module, "resolve", lambda a: a)
    for i, values in enumerate(sweep.points):
        args = from_dict(type(sweep.base), _nested(values), base=sweep.base)
        runtime = {k: v for k, v in (("backend", backend), ("progress", False)) if hasattr(args, k)}
        args = resolve(dataclasses.replace(args, **runtime))
        out.extend(SweepTask(i, values, t, sweep.module.__name__) for t in sweep.module.eval_tasks(args))
    return out


def run_sweep(
    path: str | Path,
    *,
    backend: str = "local",
    out: str | Path | None = None,
    resume: bool = False,
    quick: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Run a sweep file into one run folder; returns its path (see the module docstring).

    ``workers``: tasks run at once on this machine with the local backend (default one
    per core; 1: one after another in this process); the results are the same.
    """
    from tqdm import tqdm

    from scenarios._backend import TaskStore, check_backend, open_run_folder, run_tasks

    from .runs import RunFolderError, check_out_dir, default_out_dir

    check_backend(backend)
    if resume and out is None:
        raise ConfigError("resume: give --out, the run folder to continue")
    try:
        check_out_dir(out if out is not None else "runs")
    except RunFolderError as exc:
        raise ConfigError(str(exc)) from None
    sweep = load_sweep(path, quick=quick)
    folder = Path(out) if out is not None else default_out_dir(f"{Path(sweep.scenario).name}_sweep")
    seeds = list(range(sweep.base.seed, sweep.base.seed + sweep.base.seeds))
    key_columns = ("point", *sweep.module.TASK_KEYS)
    started = time.time()
    with open_run_folder(
        folder,
        scenario=f"{sweep.scenario}_sweep",
        config=sweep.spec,
        seeds=seeds,
        resume=resume,
        inputs=sweep.files,
        extra={"points": len(sweep.points)},
    ) as rf:
        tasks = sweep_tasks(sweep, backend=backend)
        store = TaskStore(rf, key_columns, resume=resume)
        todo = [t for t in tasks if not store.is_done(t.key)]
        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="sweep", disable=not progress)

        def on_result(i: int, rows: list[dict[str, Any]]) -> None:
            store.add(todo[i].key, rows)
            bar.update(1)

        run_tasks(run_sweep_task, todo, backend=backend, on_result=on_result, threads_per_task=1, workers=workers)
        bar.close()
        results, _ = store.collect([t.key for t in tasks])
        rf.write_results(results)
        store.cleanup()
        rf.write_text("summary.md", _summary(results, sweep.keys, time.time() - started))
    print(_summary(results, sweep.keys, None))
    print(f"run folder: {folder}")
    return folder


def _summary(results: pd.DataFrame, keys: list[str], seconds: float | None) -> str:
    if results.empty:
        return "no results\n"
    metric = "welfare" if "welfare" in results.columns else "principal_return"
    by = ["point", *keys, "principal"]
    if "shots" in results.columns:
        by.append("shots")
    # mean over seeds (and settings, types) per point and principal
    table = results.groupby(by, dropna=False, sort=False)[metric].agg(["mean", "std", "count"]).reset_index()
    table[["mean", "std"]] = table[["mean", "std"]].round(2)
    head = f"mean {metric} per point and principal (over seeds and settings)"
    if seconds is not None:
        head += f"; {len(results)} rows in {seconds:.0f} s"
    return head + "\n\n" + table.to_string(index=False) + "\n"


@dataclasses.dataclass
class SweepArgs(TaskOptions, OutputOptions):
    """The command line of a sweep (the shared options: OutputOptions, TaskOptions) besides the sweep file."""

    RUN_NAME: ClassVar[str] = "<scenario>_sweep"

    quick: bool = option(False, help="the scenario's tiny --quick budget at every point")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m analysis.sweep``."""

    def positional(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("sweep", metavar="SWEEP.toml", help="the sweep file")

    def go() -> None:
        args, ns = parse_args(
            SweepArgs,
            argv,
            prog="python -m analysis.sweep",
            description=__doc__,
            extend=positional,
            config_file=False,
        )
        run_sweep(
            ns.sweep,
            backend=args.backend,
            out=args.out,
            resume=args.resume,
            quick=args.quick,
            progress=args.progress,
            workers=args.workers,
        )

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
