"""green_tax: carbon taxation of learning households, the project's headline run.

N households (default 10,000) choose each year one of K technologies (default:
gasoline car, hybrid, electric car). They know prices and posted taxes but must
*learn* the value of a technology by owning it; a share are pessimistic about the
electric car (range anxiety: their prior is $2,500/yr below the truth), a share
are informed best-responders (the textbook rational consumer). The government
sets each year a tax or subsidy per technology. The economy's equations,
defaults and sources are in :mod:`scenarios._green_economy`; in short:
welfare = sum of realised private values - prices - SCC x emissions - (lambda -
1) x subsidy outlays (taxes are transfers; DESIGN.md section 8).

Principals (``--principals``): ``none``; ``pigouvian`` (tau = SCC x e);
``best_constant`` (the best constant tax vector, searched with hindsight on this
very population); ``oracle`` (plans with the true simulator and the households'
learning state over "an early push for d years, then the Pigouvian tax" and
"an early push, then the best constant vector" schedules, the push being a
clean subsidy or a surcharge on the other technologies, re-planning every 5
years: never below ``best_constant``); ``oracle_clean`` (the same planner
limited to "a clean subsidy for d years or for good, then the Pigouvian tax":
the best version, with full knowledge, of the temporary-subsidy policy); the
learned principals ``mermaide``, ``wm_only``,
``meta_only``, ``model_free`` (meta-trained on a distribution of populations,
evaluated 0- and 1-shot on held-out populations). ``first_best`` in the results
is a reference value, not a principal: the same households, informed, under the
Pigouvian tax.

Evaluation settings (``--settings``): ``headline`` (the default population),
``rational`` (everyone informed: the Pigouvian tax must be optimal),
``deep_pessimism`` and ``unseen_family`` (held out: deeper and more widespread
pessimism; Thompson-sampling households, a family absent from training).

``--response`` instead sweeps gasoline price rises (as taxes proportional to
fuel use) and reports short-run (next year) and long-run (end of horizon)
elasticities of gasoline-car demand for learning vs rational households.

``--reform FILE`` (JSON, TOML or YAML: ``{parameter: {round: value}}``, or a
shipped reform's name such as ``tax_and_dividend``) runs the baseline-vs-reform
analysis instead (:mod:`scenarios.reform`): the same households under the
baseline (``--baseline FILE``, default current policy) and under the reform,
aggregate and distributional tables with CIs over seeds. With ``reform`` among
``--principals`` the file is played as one more principal in the comparison.
Parameters: ``docs/parameters.md``.

Run ``python -m scenarios.green_tax --help``. Output: a run folder with
results.csv, rounds.csv, config.toml, run.json, plots and report.html.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
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
from policies.green import PlanningOracle, Schedule, subsidy_then_tax_schedules
from simulator.config import ConfigError, ScenarioOptions, option, to_dict

from . import reform as _reform  # registers the "reform" principal
from ._backend import run_tasks
from ._cli import scenario_main
from ._green_economy import Economy, HouseholdMix, build_model, elasticities, pigouvian_tax, welfare_of

__all__ = [
    "SETTINGS",
    "TASK_KEYS",
    "Args",
    "EvalTask",
    "episode",
    "eval_tasks",
    "evaluate_task",
    "main",
    "resolve",
    "run",
    "setting_mix",
]

SCENARIO = "green_tax"
BASELINES = ("none", "pigouvian", "best_constant", "oracle", "oracle_clean")
#: baselines built by this scenario (``make_baseline``), not registered principals
SCENARIO_BUILT = frozenset({"oracle_clean"})
LEARNED = ("model_free", "meta_only", "wm_only", "mermaide")
SETTINGS = ("headline", "rational", "deep_pessimism", "unseen_family")
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints" / SCENARIO


@dataclass
class OracleConfig:
    """Candidate schedules of the planning oracle."""

    levels: list[float] = option(
        default_factory=lambda: [1000.0, 2000.0, 3000.0, 4500.0], help="clean-technology subsidies tried, $/yr", low=0
    )
    durations: list[int] = option(default_factory=lambda: [1, 2, 4, 8], help="subsidy durations tried, years", low=1)
    replan_every: int = option(5, help="years between re-plans", low=1)
    surcharge_levels: list[float] = option(
        default_factory=lambda: [500.0, 1000.0, 2000.0],
        help="early surcharges on the non-clean technologies tried, $/yr",
        low=0,
    )
    clean_levels: list[float] = option(
        default_factory=lambda: [250.0, 500.0, 1000.0, 2000.0, 3000.0, 4500.0],
        help="oracle_clean: clean-technology subsidies tried, $/yr",
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
        default_factory=lambda: [-3000.0, -2000.0, -1000.0, -500.0, 0.0, 500.0, 1000.0],
        help="deviations from the Pigouvian rate tried per technology by best_constant, $/yr",
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

        from ._green_economy import draw_households

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
        if self.economy.clean >= len(self.economy.technologies):
            raise ValueError("economy.clean: not a technology index")
        # the model with one rational household, and every learner family of every setting as one household
        for setting in self.settings:
            mix = setting_mix(self.households, setting, self.learner)
            try:  # the game (values, taxes) too
                build_model(self.economy, dataclasses.replace(mix, rational_share=1.0), 0, n_households=1)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"economy, households: {exc}") from None
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
def setting_mix(mix: HouseholdMix, setting: str, learner: str | None = None) -> HouseholdMix:
    """The household mix of an evaluation setting."""
    if setting == "rational":
        return dataclasses.replace(mix, rational_share=1.0)
    if setting == "deep_pessimism":
        mix = dataclasses.replace(mix, pessimistic_share=0.8, pessimism_depth=4000.0)
    elif setting == "unseen_family":
        mix = dataclasses.replace(mix, learners={"thompson": {"weight": 1.0, "sigma": 800.0}})
    elif setting != "headline":
        raise ValueError(f"unknown setting {setting!r}")
    if learner:
        mix = dataclasses.replace(mix, learners={learner: {"weight": 1.0}})
    return mix


def informed_mix(mix: HouseholdMix) -> HouseholdMix:
    """The same households, informed: learners replaced by exact best responders."""
    return dataclasses.replace(mix, learners={"best_response": {"weight": 1.0, "temperature": 0.0}})


def _reward_fn(econ: Economy, n: int):
    disc = 1.0

    def reward(sums: dict[str, np.ndarray], incentives: np.ndarray, round_: int) -> float:
        return welfare_of(econ, sums, n, changed=False)["welfare"] * disc

    return reward


def make_baseline(name: str, args: Args, econ: Economy, n: int, best_vec: np.ndarray | None) -> Any:
    """Build a non-learned principal."""
    if name in ("oracle", "oracle_clean"):
        full = name == "oracle"
        cfg = args.oracle

        def candidates(spec: Any) -> list[np.ndarray]:
            # oracle: early pushes (a clean subsidy, or a surcharge on the other technologies) for d years on
            # top of the Pigouvian tax and on top of the best constant vector when it is known, plus both
            # constants: never below best_constant. oracle_clean: clean subsidies then the Pigouvian tax only.
            if not full:
                return subsidy_then_tax_schedules(spec, econ.horizon, cfg.clean_levels, cfg.clean_durations, econ.clean)
            family = subsidy_then_tax_schedules(spec, econ.horizon, cfg.levels, cfg.durations, econ.clean)
            family += subsidy_then_tax_schedules(
                spec, econ.horizon, cfg.surcharge_levels, cfg.durations, econ.clean, surcharge=True
            )[1:]
            if best_vec is None:
                return family
            return family + [np.clip(path - path[-1] + best_vec, spec.lower, spec.upper) for path in family]

        return PlanningOracle(
            candidates, _reward_fn(econ, n), discount=econ.discount, replan_every=args.oracle.replan_every
        )
    if name == "best_constant":
        assert best_vec is not None
        return make_principal("best_constant", incentives=best_vec)
    return make_principal(name)


# -------------------------------------------------------------- episodes
def _rates_changed(prev: np.ndarray | None, x: np.ndarray) -> bool:
    return prev is not None and not np.allclose(prev, x)


def episode(
    econ: Economy, mix: HouseholdMix, seed: int, principal: Any, *, n: int | None = None, device: str = "cpu"
) -> tuple[dict[str, float], pd.DataFrame]:
    """Run one horizon; return the discounted totals per household and the per-year table."""
    model, hh = build_model(econ, mix, seed, principal, n_households=n, collect_every=10**9, device=device)
    model.run(econ.horizon)
    return summarize_ledger(econ, model, hh)


def summarize_ledger(econ: Economy, model: Any, hh: Any) -> tuple[dict[str, float], pd.DataFrame]:
    """Per-year welfare decomposition from the ledger, and discounted totals per household."""
    n = model.n_agents
    rows = []
    prev = None
    for rec in model.ledger.records:
        sums = {"counts": rec.counts, "private": rec.private, "paid": rec.paid, "collected": rec.collected}
        w = welfare_of(econ, sums, n, changed=_rates_changed(prev, rec.incentives))
        prev = rec.incentives
        row = {"round": rec.round, **w}
        for j, tech in enumerate(econ.technologies):
            row[f"tax_{tech}"] = -float(rec.incentives[j])
            row[f"share_{tech}"] = float(rec.counts[:, j].sum() / max(rec.counts.sum(), 1.0))
        rows.append(row)
    df = pd.DataFrame(rows)
    disc = (1.0 + econ.discount) ** -df["round"].to_numpy()
    totals = {
        "welfare": float((df.welfare * disc).sum()),
        "private_surplus": float((df.private_surplus * disc).sum()),
        "damages": float((df.damages * disc).sum()),
        "tax_revenue": float((df.tax_revenue * disc).sum()),
        "subsidy_cost": float((df.subsidy_cost * disc).sum()),
        "admin_cost": float((df.admin_cost * disc).sum()),
        "emissions": float(df.emissions.sum()),
        "clean_share": float(df.clean_share.mean()),
        "final_clean_share": float(df.clean_share.iloc[-1]),
        "dirty_share": float(df.dirty_share.mean()),
    }
    totals["intervention_cost"] = totals["subsidy_cost"] + totals["admin_cost"]
    totals["principal_return"] = totals["welfare"]
    totals["target_rate"] = totals["clean_share"]
    groups = _incidence(econ, model, hh)
    totals.update(groups)
    return totals, df


def _incidence(econ: Economy, model: Any, hh: Any) -> dict[str, float]:
    """Mean net private surplus (values - prices - taxes + subsidies) per household group."""
    out = {}
    if model.ledger.track_households:
        net = model.ledger.hh_private + model.ledger.hh_incentive
        for g, name in enumerate(econ.group_names):
            sel = hh.group == g
            if sel.any():
                out[f"net_surplus_{name}"] = float(net[sel].mean())
    return out


def best_constant_vector(econ: Economy, mix: HouseholdMix, seed: int, grid: Sequence[float], n: int) -> np.ndarray:
    """Coordinate search (two sweeps) over constant tax vectors around Pigouvian, with hindsight on this population."""
    model, _ = build_model(econ, mix, seed, make_principal("none"), n_households=n, collect_every=10**9)
    reward = _reward_fn(econ, n)
    base = -pigouvian_tax(econ)

    def value(x: np.ndarray) -> float:
        fork = model.fork()
        return sum((1 + econ.discount) ** -t * reward(fork.step(x), x, t) for t in range(econ.horizon))

    best = base.copy()
    for _sweep in range(2):
        for j in range(econ.k):
            cands = []
            for d in grid:
                c = best.copy()
                c[j] = base[j] - d  # a deviation d raises the tax on j by d
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

    from ._backend import check_backend, open_run_folder

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
            _reform.run_analysis(rf, args, seeds, policies)
        elif args.response:
            table = response_sweep(args, seeds)
            rf.write_table("response.csv", table)  # not results: a table of elasticities
            from ._green_report import write_response_report

            write_response_report(rf, table, args)
            print(table.to_string(index=False))
        else:
            results, rounds = _compare_into(rf, args, seeds)
            from ._green_report import print_table, write_report

            write_report(rf, results, rounds, args)
            print_table(results)
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
    reform: Any = None  # the resolved reform of the principal "reform" (scenarios.reform.ResolvedPolicy)

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
    mix = setting_mix(args.households, setting, args.learner)
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
            for group in econ.group_names:  # every task writes the same columns (a group may be empty)
                row.setdefault(f"net_surplus_{group}", float("nan"))
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
    from ._backend import TaskStore

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
    from ._green_learning import load_or_train

    return load_or_train(names, args)


def _learned_episodes(
    principal: Any, econ: Economy, mix: HouseholdMix, seed: int, n: int, shots: Sequence[int], device: str = "cpu"
):
    from ._green_learning import evaluate_learned

    return evaluate_learned(principal, econ, mix, seed, n, shots, functools.partial(episode, device=device))


def response_sweep(args: Args, seeds: list[int]) -> pd.DataFrame:
    """Short- and long-run elasticities of gasoline-car demand, learning vs rational households.

    A gasoline price rise of r is a tax r x fuel cost on each technology (its
    gasoline use), introduced after ``burn_in`` = horizon // 2 years of no policy;
    SR compares the dirty share in the year of introduction with the untaxed run
    (same seed, common random numbers), LR at the end of the horizon.
    """
    econ = args.economy
    burn_in = max(econ.horizon // 2, 1)
    horizon = burn_in + max(econ.horizon, 20)
    econ_r = dataclasses.replace(econ, horizon=horizon)
    n = args.households.n_households
    rows = []
    for pop in ("rational", "learning"):
        mix = (
            dataclasses.replace(args.households, rational_share=1.0)
            if pop == "rational"
            else dataclasses.replace(args.households, rational_share=0.0)
        )
        for seed in seeds:
            base_df = episode(econ_r, mix, seed, make_principal("none"), n=n, device=args.device)[1]
            for rise in args.response_rises:
                path = np.zeros((horizon, econ.k))
                path[burn_in:] = -rise * np.asarray(econ.fuel_costs)
                df = episode(econ_r, mix, seed, Schedule(path), n=n, device=args.device)[1]
                log_p = np.log1p(rise)
                sr = np.log(df.dirty_share.iloc[burn_in] / base_df.dirty_share.iloc[burn_in]) / log_p
                lr = np.log(df.dirty_share.iloc[-1] / base_df.dirty_share.iloc[-1]) / log_p
                rows.append({"population": pop, "seed": seed, "price_rise": rise, "short_run": sr, "long_run": lr})
    table = pd.DataFrame(rows)
    analytic = elasticities(econ, args.households)
    table.attrs["analytic"] = analytic
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scenarios.green_tax``."""
    return scenario_main(Args, argv, prog="python -m scenarios.green_tax", description=__doc__, run=run)


if __name__ == "__main__":
    sys.exit(main())
