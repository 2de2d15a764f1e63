"""green_tax: carbon taxation of learning households, the project's headline run.

N households (default 10,000), of ten income deciles and two areas, own no car or cars of one of three
technologies (gasoline, hybrid, electric) and drive them. They start from a steady-state fleet (a
burn-in under no policy) and replace their cars with a probability of 6% a year; between
replacements they adjust their miles to the cost per mile. They know prices and posted policy but
must *learn* the value of a technology by owning it (or from others' experience); a share are
pessimistic about the electric car (their prior is $2,500/yr below the truth), a share are informed
(the textbook rational consumer). The government sets a carbon tax (per tonne, paid per mile: on
gasoline and on charging electricity) and vehicle taxes or subsidies per technology. The economy's
equations, defaults and sources are in :mod:`scenarios.green_tax.economy` and ``docs/parameters.md``; in
short, welfare = realised values at resource cost - SCC x emissions + (lambda - 1) x (revenue - subsidy
outlays - dividends), discounted at the rate of the EPA (2023) SCC path used (2% by default).

Principals (``--principals``): ``none`` (no carbon tax either); ``pigouvian`` (a carbon tax equal to the
SCC of the year, no vehicle incentive: first best for informed households at lambda = 1); the others set
vehicle incentives on top of the Pigouvian carbon tax: ``best_constant`` (the best constant vehicle
taxes or subsidies, searched with hindsight on this very population); ``oracle`` (plans with the true
simulator and the households' learning state over "an early push for d years" schedules, the push being
an electric-car subsidy or a surcharge on the other cars, also on top of the best constant vector,
re-planning every 5 years: never below ``best_constant``); ``oracle_clean`` (the same planner limited to
"an electric-car subsidy for d years or for good"); the learned principals ``mermaide``, ``wm_only``,
``meta_only``, ``model_free`` (meta-trained on a distribution of populations, evaluated 0- and 1-shot on
held-out populations). ``first_best`` in the results is a reference value, not a principal: the welfare
of the same households, informed, under the Pigouvian carbon tax.

Evaluation settings (``--settings``): ``headline`` (the default population), ``rational`` (everyone
informed: the Pigouvian tax must be optimal), ``deep_pessimism`` and ``unseen_family`` (held out: deeper
and more widespread pessimism; Thompson-sampling households, a family absent from training).

``--response`` instead raises the gasoline price (by each of ``--response-rises``, from round 0 on) and
reports the short-run (first year) and long-run (end of the horizon) elasticities of gasoline demand,
split into the part from miles (the fleet held at the untaxed run's) and the part from the fleet
(technology and ownership), for learning vs informed households, against the published ranges; it
writes ``response.csv`` and ``rounds.csv``.

``--reform FILE`` (JSON, TOML or YAML: ``{parameter: {round: value}}``, or a shipped reform's name such
as ``tax_and_dividend``) runs the baseline-vs-reform analysis instead (:mod:`scenarios.reform`): the same
households under the baseline (``--baseline FILE``, default current policy) and under the reform,
aggregate and distributional tables with CIs over seeds. With ``reform`` among ``--principals`` the file
is played as one more principal in the comparison. Parameters: ``docs/parameters.md``.

Run ``python -m scenarios.green_tax --help``. Output: a run folder with results.csv, rounds.csv,
config.toml, run.json, plots and report.html.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from policies import make_principal
from policies.baselines import search_best_constant
from policies.green import PlanningOracle, subsidy_then_tax_schedules
from simulator.config import ConfigError, ScenarioOptions, option, to_dict

from .._backend import run_tasks
from .._cli import scenario_main
from . import reforms as _reform
from . import report as _report
from .economy import (
    SETTINGS,
    Economy,
    HouseholdMix,
    Instruments,
    PolicySource,
    build,
    elasticities,
    gallons_per_mile,
    informed_mix,
    no_policy,
    pin_ownership,
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

SCENARIO = "green_tax"
BASELINES = ("none", "pigouvian", "best_constant", "oracle", "oracle_clean")
#: baselines built by this scenario (``make_baseline``), not registered principals
SCENARIO_BUILT = frozenset({"oracle_clean"})
LEARNED = ("model_free", "meta_only", "wm_only", "mermaide")
CHECKPOINT_DIR = Path(__file__).parents[1] / "checkpoints" / SCENARIO


@dataclass
class OracleConfig:
    """Candidate schedules of the planning oracle."""

    levels: list[float] = option(
        default_factory=lambda: [250.0, 500.0, 1000.0, 2000.0],
        help="electric-car subsidies tried, $/yr per vehicle",
        low=0,
    )
    durations: list[int] = option(default_factory=lambda: [1, 2, 4, 8], help="subsidy durations tried, years", low=1)
    replan_every: int = option(5, help="years between re-plans", low=1)
    surcharge_levels: list[float] = option(
        default_factory=lambda: [250.0, 500.0, 1000.0],
        help="early surcharges on the other cars tried, $/yr per vehicle",
        low=0,
    )
    clean_levels: list[float] = option(
        default_factory=lambda: [125.0, 250.0, 500.0, 1000.0, 2000.0, 3000.0],
        help="oracle_clean: electric-car subsidies tried, $/yr per vehicle",
        low=0,
    )
    clean_durations: list[int] = option(
        default_factory=lambda: [1, 2, 4, 8, 1000],
        help="oracle_clean: subsidy durations tried, years (beyond the horizon: permanent)",
        low=1,
    )


@dataclass
class Args(ScenarioOptions):
    """Command-line and TOML settings of the green-tax scenario (the shared run options: ScenarioOptions)."""

    RUN_NAME: ClassVar[str] = SCENARIO
    DEVICE_NOTE: ClassVar[str] = "the households are simulated"

    quick: bool = option(False, help="tiny budget for smoke tests (1 seed, 2,000 households, 2 settings)")
    principals: list[str] = option(
        default_factory=lambda: [*BASELINES, *LEARNED], help="principals to compare (names or module:Class)"
    )
    learner: str | None = option(None, help="replace the learning households' families by this learner spec")
    settings: list[str] = option(default_factory=lambda: list(SETTINGS), help="populations evaluated", choices=SETTINGS)
    response: bool = option(False, help="run the tax-response (elasticity) sweep instead of the comparison")
    response_rises: list[float] = option(
        default_factory=lambda: [0.05, 0.1, 0.2, 0.5], help="gasoline price rises of the --response sweep", low=0
    )
    best_constant_grid: list[float] = option(
        default_factory=lambda: [-1000.0, -500.0, -250.0, 0.0, 250.0, 500.0, 1000.0],
        help="vehicle taxes (> 0) or subsidies (< 0) tried per technology by best_constant, on top of the Pigouvian "
        "carbon tax, $/yr per vehicle",
    )
    checkpoints: str | None = option(None, help="folder of trained principals (default: the shipped ones)")
    retrain: bool = option(False, help="train the learned principals from scratch (progress bar, ETA)")
    reform: str | None = option(
        None, help="reform file (JSON/TOML/YAML) or shipped reform name: baseline vs reform, or principal 'reform'"
    )
    baseline: str | None = option(None, help="baseline policy file for --reform (default: current policy, no tax)")
    reform_sha256: str | None = option(None, cli=False, help="sha256 of the reform file (recorded by the run)")
    baseline_sha256: str | None = option(None, cli=False, help="sha256 of the baseline file (recorded by the run)")
    economy: Economy = option(default_factory=Economy, help="technologies, prices, emissions, SCC, lambda")
    households: HouseholdMix = option(default_factory=HouseholdMix, help="who the households are")
    oracle: OracleConfig = option(default_factory=OracleConfig, help="the planning oracle's candidates")

    def check(self) -> None:
        """Cross-field checks (errors name the field); principal and learner specs are resolved here, before a run."""
        from policies import principal_class

        from .economy import draw_households

        super().check()
        known = set(BASELINES) | set(LEARNED) | {"constant", "reform"}
        for p in self.principals:
            if p not in known and ":" not in p:
                raise ValueError(f"principals: unknown {p!r}; available: {', '.join(sorted(known))}")
            if p not in LEARNED and p not in SCENARIO_BUILT:
                try:
                    principal_class(p)
                except ValueError as exc:
                    raise ValueError(f"principals: {exc}") from None
        try:
            self.economy.check()
        except ValueError as exc:
            raise ValueError(f"economy.{exc}") from None
        try:
            self.households.check(self.economy.k)
        except ValueError as exc:
            raise ValueError(f"households.{exc}") from None
        # every learner family of every setting as one household
        for setting in self.settings:
            mix = setting_mix(self.households, setting, self.learner)
            where = "learner" if self.learner else "households.learners"
            for family, params in mix.learners.items():
                weight = params.get("weight", 1.0) if isinstance(params, dict) else None
                if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < np.inf:
                    raise ValueError(
                        f"{where}: {family} needs a table of parameters with a weight >= 0, got {params!r}"
                    )
                one = dataclasses.replace(
                    mix,
                    rational_share=0.0,
                    pessimistic_share=float(mix.pessimistic_share > 0),  # the household drawn is a pessimist
                    learners={family: {**params, "weight": 1.0}},
                )
                try:
                    draw_households(self.economy, one, 1, np.random.default_rng(0))
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{where}: {exc}") from None
            if mix.rational_share < 1 and not sum(p["weight"] for p in mix.learners.values()) > 0:
                raise ValueError(f"{where}: needs a learner family with a weight > 0 (rational_share < 1)")
        _reform.check_args(self)  # reform and baseline files: validated before anything runs


# ----------------------------------------------------------------- setup
def _reward(sums: dict[str, float], incentives: np.ndarray, round_: int) -> float:
    """The oracle's reward of a simulated round: welfare per household (a fork of the economy's step)."""
    return sums["welfare"]


def make_baseline(name: str, args: Args, econ: Economy, n: int, best_vec: np.ndarray | None) -> Any:
    """Build a non-learned principal."""
    if name in ("oracle", "oracle_clean"):
        full = name == "oracle"
        cfg = args.oracle

        def candidates(spec: Any) -> list[np.ndarray]:
            # oracle: early pushes (an electric-car subsidy, or a surcharge on the other cars) for d years on top of
            # the Pigouvian carbon tax and on top of the best constant vector when it is known, plus both constants:
            # never below best_constant. oracle_clean: electric-car subsidies only.
            if not full:
                return subsidy_then_tax_schedules(spec, econ.horizon, cfg.clean_levels, cfg.clean_durations, econ.clean)
            family = subsidy_then_tax_schedules(spec, econ.horizon, cfg.levels, cfg.durations, econ.clean)
            family += subsidy_then_tax_schedules(
                spec, econ.horizon, cfg.surcharge_levels, cfg.durations, econ.clean, surcharge=True
            )[1:]
            if best_vec is None:
                return family
            return family + [np.clip(path - path[-1] + best_vec, spec.lower, spec.upper) for path in family]

        return PlanningOracle(candidates, _reward, discount=econ.discount, replan_every=args.oracle.replan_every)
    if name == "best_constant":
        assert best_vec is not None
        return make_principal("best_constant", incentives=best_vec)
    return make_principal(name)


# -------------------------------------------------------------- episodes
def episode(
    econ: Economy,
    mix: HouseholdMix,
    seed: int,
    principal: Any,
    *,
    n: int | None = None,
    device: str = "cpu",
) -> tuple[dict[str, float], pd.DataFrame]:
    """Run the burn-in and the horizon; return the discounted totals per household and the per-year table."""
    model = build(econ, mix, seed, principal, n=n, device=device).run()
    return model.totals(), model.rounds()


def best_constant_vector(econ: Economy, mix: HouseholdMix, seed: int, grid: Sequence[float], n: int) -> np.ndarray:
    """Coordinate search (two sweeps) over constant vehicle taxes per technology, on top of the Pigouvian carbon tax.

    With hindsight on this population: every candidate is played on a fork of the same burned-in economy
    (the same households and random streams). A grid value d taxes technology j by d (subsidises it by -d).
    """
    model = build(econ, mix, seed, make_principal("constant", incentives=np.zeros(econ.k)), n=n)
    disc = (1.0 + econ.discount) ** -np.arange(econ.horizon)

    def value(x: np.ndarray) -> float:
        fork = model.fork()
        return float(sum(disc[t] * fork.step(x)["welfare"] for t in range(econ.horizon)))

    best = np.zeros(econ.k)
    for _sweep in range(2):
        for j in range(1, econ.k):  # no incentive on having no car
            cands = []
            for d in grid:
                c = best.copy()
                c[j] = -d
                cands.append(c)
            best, _ = search_best_constant(value, cands)
    return best


# ------------------------------------------------------------------ runs
TASK_KEYS = ("seed", "setting")
"""The result columns that identify an evaluation task (one per seed x setting)."""


def resolve(args: Args) -> Args:
    """The settings a run actually uses (``--quick`` shrinks the budget)."""
    if not args.quick:
        return args
    return dataclasses.replace(
        args,
        seeds=1,
        settings=args.settings[:2],
        households=dataclasses.replace(args.households, n_households=min(args.households.n_households, 2000)),
        best_constant_grid=[-2000.0, 0.0, 1000.0],
        oracle=dataclasses.replace(
            args.oracle,
            levels=args.oracle.levels[:2],
            durations=args.oracle.durations[:2],
            surcharge_levels=args.oracle.surcharge_levels[:1],
            clean_levels=args.oracle.clean_levels[:2],
            clean_durations=args.oracle.clean_durations[:2],
        ),
    )


def run(args: Args) -> Path:
    """The comparison of principals (or the response sweep); writes and returns the run folder.

    The comparison runs as independent tasks, one per seed x setting, on
    ``args.backend`` (this process or Ray); each task's rows are appended to
    ``results.csv`` as it finishes, and ``--resume`` continues an interrupted
    run folder by skipping the tasks already there. The final ``results.csv``
    and ``rounds.csv`` are sorted in task order, so they do not depend on the
    backend.
    """
    from analysis.runs import default_out_dir

    from .._backend import check_backend, open_run_folder

    args = resolve(args)
    check_backend(args.backend)
    if args.resume and not args.out:
        raise ConfigError("resume: give --out, the run folder to continue")
    policies = _reform.load_policies(args) if args.reform else None
    reform_mode = policies is not None and "reform" not in args.principals and not args.response
    suffix = "_response" if args.response else "_reform" if reform_mode else ""
    out = Path(args.out) if args.out else default_out_dir(SCENARIO + suffix)
    cfg = to_dict(args)
    cfg.pop("resume", None)
    cfg.pop("reform_sha256", None)  # recorded from the files actually read (below), never taken from input
    cfg.pop("baseline_sha256", None)
    folder: dict[str, Any] = {}
    if policies is not None:  # the files' hashes in the config (comparability), copies and resolved values
        cfg.update(policies.config_entries())
        folder = {"inputs": policies.inputs(), "extra": policies.record()}
    seeds = list(range(args.seed, args.seed + args.seeds))
    with open_run_folder(out, scenario=SCENARIO, config=cfg, seeds=seeds, resume=args.resume, **folder) as rf:
        rf.write_config(cfg)
        if reform_mode:
            run_reform_analysis(rf, args, seeds, policies)
        elif args.response:
            table, rounds = response_sweep(args, seeds)
            rf.write_table("response.csv", table)  # not results: a table of elasticities
            rf.write_rounds(rounds)
            _report.write_response_report(rf, table, args)
            _report.print_response_table(table)
        else:
            results, rounds = _compare_into(rf, args, seeds)
            _report.write_report(rf, results, rounds, args)
            _report.print_table(results)
    return out


@dataclass
class EvalTask:
    """One evaluation task: every principal on the population of one seed x setting.

    All randomness comes from ``seed`` (the populations, the episodes) and the
    principals' own seeds, so the task gives the same rows in any process.
    """

    args: Args
    seed: int
    setting: str
    learned: dict[str, Any] = dataclasses.field(default_factory=dict)
    reform: Any = None  # the resolved reform of the principal "reform" (scenarios.green_tax.reforms.ResolvedPolicy)

    @property
    def key(self) -> tuple[int, str]:
        """Values of :data:`TASK_KEYS`."""
        return (self.seed, self.setting)


def eval_tasks(args: Args, seeds: Sequence[int] | None = None) -> list[EvalTask]:
    """The tasks of a comparison (seed-major), with the learned principals loaded (or trained) once."""
    if seeds is None:
        seeds = range(args.seed, args.seed + args.seeds)
    learned = _load_learned(args)
    reform = _reform.load_policies(args).reform if "reform" in args.principals else None
    return [EvalTask(args, seed, setting, learned, reform) for seed in seeds for setting in args.settings]


def evaluate_task(task: EvalTask) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Run one task: the informed first-best reference, then every principal; returns (rows, per-year table)."""
    args, seed, setting = task.args, task.seed, task.setting
    econ = args.economy
    n = args.households.n_households
    mix = pin_ownership(econ, args.households, setting_mix(args.households, setting, args.learner))
    common = {"scenario": SCENARIO, "seed": seed, "setting": setting}
    dev = args.device
    fb, _ = episode(econ, informed_mix(mix), seed, make_principal("pigouvian"), n=n, device=dev)
    best_vec = (
        best_constant_vector(econ, mix, seed, args.best_constant_grid, n)
        if {"best_constant", "oracle"} & set(args.principals)
        else None
    )
    rows: list[dict[str, Any]] = []
    rounds: list[pd.DataFrame] = []
    for name in args.principals:
        if name in task.learned:
            # a fresh copy per task: its exploration noise then depends on this task only
            principal = _fresh(task.learned[name])
            outs = _learned_episodes(principal, econ, mix, seed, n, args.shots, dev)
        elif name == "reform":  # a scheduled reform file, with its own accounting (pass-through, dividends)
            outs = [(0, 0.0, *_reform.comparison_episode(task.reform, econ, mix, seed, n))]
        else:
            principal = make_baseline(name, args, econ, n, best_vec)
            outs = [(0, 0.0, *episode(econ, mix, seed, principal, n=n, device=dev))]
        for shots, adapt_cost, totals, df in outs:
            row = {**common, "principal": name, "shots": shots, "adaptation_cost": adapt_cost}
            row.update(first_best=fb["welfare"], **totals)
            for d in range(1, 11):  # every task writes the same columns
                row.setdefault(f"net_surplus_d{d}", float("nan"))
            rows.append(row)
            rounds.append(df.assign(principal=name, shots=shots, **common))
    return [_ordered(r) for r in rows], pd.concat(rounds, ignore_index=True)


def _fresh(principal: Any) -> Any:
    return type(principal)(net=principal.net, config=principal.cfg, seed=principal.seed)


_FIRST = ["scenario", "principal", "seed", "shots", "setting", "principal_return", "intervention_cost"]
_FIRST += ["adaptation_cost", "target_rate", "welfare", "emissions", "clean_share", "tax_revenue", "subsidy_cost"]


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {**{c: row[c] for c in _FIRST if c in row}, **{c: v for c, v in row.items() if c not in _FIRST}}


def compare(args: Args, seeds: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every principal x setting x seed (x shots for learned principals), in memory, on ``args.backend``."""
    tasks = eval_tasks(args, seeds)
    bar = tqdm(total=len(tasks), desc="green_tax", disable=not args.progress)
    outs = run_tasks(evaluate_task, tasks, backend=args.backend, on_result=lambda i, r: bar.update(1), **_ray(args))
    bar.close()
    results = pd.DataFrame([row for rows, _ in outs for row in rows])
    return results, pd.concat([df for _, df in outs], ignore_index=True)


def _ray(args: Args) -> dict[str, Any]:
    # each Ray task single-threaded (or --threads); locally the process settings (set by --threads) stay
    return {"threads_per_task": (args.threads or 1) if args.backend == "ray" else None}


def _compare_into(rf: Any, args: Args, seeds: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the comparison's tasks, streaming each task's rows into ``rf``; returns the final tables."""
    from .._backend import TaskStore

    tasks = eval_tasks(args, seeds)
    store = TaskStore(rf, TASK_KEYS, resume=args.resume)
    todo = [t for t in tasks if not store.is_done(t.key)]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="green_tax", disable=not args.progress)
    started = time.time()

    def on_result(i: int, out: tuple[list[dict[str, Any]], pd.DataFrame]) -> None:
        store.add(todo[i].key, *out)
        bar.update(1)
        bar.set_postfix(elapsed=f"{time.time() - started:.0f}s")

    run_tasks(evaluate_task, todo, backend=args.backend, on_result=on_result, **_ray(args))
    bar.close()
    results, rounds = store.collect([t.key for t in tasks])
    rf.write_results(results)
    rf.write_rounds(rounds)
    store.cleanup()
    return results, rounds


def _load_learned(args: Args) -> dict[str, Any]:
    names = [p for p in args.principals if p in LEARNED]
    if not names:
        return {}
    from .._green_learning import load_or_train

    return load_or_train(names, args)


def _learned_episodes(
    principal: Any, econ: Economy, mix: HouseholdMix, seed: int, n: int, shots: Sequence[int], device: str = "cpu"
):
    from .._green_learning import evaluate_learned

    return evaluate_learned(principal, econ, mix, seed, n, shots, functools.partial(episode, device=device))


class _GasolinePriceRise(PolicySource):
    """No policy; the gasoline price is ``rise`` higher from round 0 on (a market price, not a tax)."""

    def __init__(self, econ: Economy, rise: float) -> None:
        self.ins = no_policy(econ.k)
        self.ins.energy_change = rise * gallons_per_mile(econ) * econ.gasoline_price

    def instruments(self, t: int) -> Instruments:
        return self.ins

    def announced(self, t: int, rounds: int) -> list[Instruments]:
        return [self.ins] * rounds


def _gasoline(counts: np.ndarray, miles: np.ndarray, gal: np.ndarray) -> float:
    return float((counts * miles * gal[None, :]).sum())


def response_sweep(args: Args, seeds: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Short- and long-run elasticities of gasoline demand, from miles and from the fleet, learning vs informed.

    Each rise r of the gasoline price starts in round 0, after the burn-in, and stays; the untaxed run of
    the same households (common random numbers) is the counterfactual. With G the gallons of a year,
    the elasticity is log(G_r / G_0) / log(1 + r), split into **miles** (the rise's miles on the untaxed
    run's fleet: log(G_mix / G_0)) and **fleet** (technologies and ownership: log(G_r / G_mix)). Short run:
    round 0; long run: the last round (``economy.horizon`` years after the rise). Returns the table
    (``attrs["analytic"]``: the informed households' analytic values, full steady state) and the rounds.
    """
    econ = args.economy
    n = args.households.n_households
    gal = gallons_per_mile(econ)
    rows, rounds = [], []
    for pop in ("informed", "learning"):
        share = 1.0 if pop == "informed" else 0.0
        mix = pin_ownership(econ, args.households, dataclasses.replace(args.households, rational_share=share))
        for seed in seeds:
            base = build(econ, mix, seed, make_principal("none"), n=n, device=args.device).run()
            rounds.append(base.rounds().assign(population=pop, seed=seed, price_rise=0.0))
            for rise in args.response_rises:
                shock = build(econ, mix, seed, _GasolinePriceRise(econ, rise), n=n, device=args.device).run()
                rounds.append(shock.rounds().assign(population=pop, seed=seed, price_rise=rise))
                lp = np.log1p(rise)
                row: dict[str, Any] = {"population": pop, "seed": seed, "price_rise": rise}
                for label, t in (("short_run", 0), ("long_run", econ.horizon - 1)):
                    cb, mb = base.counts_history[t], base.miles_history[t]
                    cs, ms = shock.counts_history[t], shock.miles_history[t]
                    g0, g_mix, g1 = _gasoline(cb, mb, gal), _gasoline(cb, ms, gal), _gasoline(cs, ms, gal)
                    row[label] = np.log(g1 / g0) / lp
                    row[f"{label}_miles"] = np.log(g_mix / g0) / lp
                    row[f"{label}_fleet"] = np.log(g1 / g_mix) / lp
                rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["analytic"] = elasticities(econ, args.households)
    return table, pd.concat(rounds, ignore_index=True)


def run_reform_analysis(rf: Any, args: Args, seeds: list[int], policies: Any) -> dict[str, pd.DataFrame]:
    """The baseline-vs-reform analysis into run folder ``rf``: tasks (streamed, resumable), tables, report.

    The tasks (:func:`scenarios.green_tax.reforms.evaluate_reform_task`, one per seed x setting) and the
    tables are the reforms module's; this drives them and writes the report.
    """
    from .._backend import TaskStore

    assert policies.reform is not None
    tasks = [
        _reform.ReformTask(args, seed, setting, policies.baseline, policies.reform)
        for seed in seeds
        for setting in args.settings
    ]
    store = TaskStore(rf, ("seed", "setting"), resume=args.resume)
    todo = [t for t in tasks if not store.is_done(t.key)]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="green_tax reform", disable=not args.progress)
    started = time.perf_counter()

    def dist_file(key: tuple[int, str]) -> str:
        return f"tasks/dist-{hashlib.sha1(json.dumps([str(k) for k in key]).encode()).hexdigest()[:20]}.csv"

    def on_result(i: int, out: tuple[list[dict[str, Any]], pd.DataFrame, pd.DataFrame]) -> None:
        rows, rounds, dist = out
        rf.write_text(dist_file(todo[i].key), dist.to_csv(index=False))
        store.add(todo[i].key, [_ordered(r) for r in rows], rounds)
        bar.update(1)

    threads = (args.threads or 1) if args.backend == "ray" else None
    run_tasks(_reform.evaluate_reform_task, todo, backend=args.backend, on_result=on_result, threads_per_task=threads)
    bar.close()
    sim_seconds = time.perf_counter() - started
    results, rounds = store.collect([t.key for t in tasks])
    earlier = rf.path("distribution_by_seed.csv")  # a complete folder being resumed keeps its tables only
    old = pd.read_csv(earlier, dtype={"group": str}) if args.resume and earlier.exists() else None
    parts = []
    for t in tasks:
        part = rf.path(dist_file(t.key))
        if part.exists():
            parts.append(pd.read_csv(part, dtype={"group": str}))
        elif old is not None:
            parts.append(old[(old.seed == t.seed) & (old.setting.astype(str) == t.setting)])
        else:
            raise ConfigError(f"resume: the distributional table of seed {t.seed}, {t.setting} is missing; rerun")
    dist = pd.concat(parts, ignore_index=True)
    rf.write_results(results)
    rf.write_rounds(rounds)
    store.cleanup()
    started = time.perf_counter()
    econ = args.economy
    tables = {
        "results": results,
        "rounds": rounds,
        "horizon": _reform.aggregate_horizon(rounds, econ.discount),
        "by_round": _reform.aggregate_by_round(rounds, econ.discount),
        "paired_rounds": _reform.paired_rounds(rounds, econ.discount),
        "distribution_seeds": dist,
        "distribution": _reform.distribution_summary(dist),
    }
    rf.write_table("aggregate.csv", tables["horizon"])
    rf.write_table("aggregate_by_round.csv", tables["by_round"])
    rf.write_table("distribution.csv", tables["distribution"])
    rf.write_table("distribution_by_seed.csv", dist)
    rf.write_text("policies.json", json.dumps(policies.record()["policies"], indent=2, allow_nan=False) + "\n")
    _report.write_reform_report(rf, tables, args, policies)
    tables["timing"] = pd.DataFrame(
        [{"simulation_s": sim_seconds, "analysis_s": time.perf_counter() - started, "tasks": len(todo)}]
    )
    _report.print_reform_table(tables, args, policies)
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scenarios.green_tax``."""
    return scenario_main(Args, argv, prog="python -m scenarios.green_tax", description=__doc__, run=run)
