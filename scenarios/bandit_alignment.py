"""bandit_alignment: steer a learning agent to a target arm at least cost (MERMAIDE's bandit experiments).

The setting (Banerjee et al. 2023, arXiv 2304.04668, section on bandit agents;
every detail they leave open is a field of :class:`BanditSetup`):

* an agent plays a K-armed bandit (default K = 3) for T rounds (default 40) with
  its own learning rule (a learner family from ``simulator``) and parameters
  (exploration, pessimism = prior means of the arms, temperature);
* its private mean rewards differ per agent type: the target arm's mean is drawn
  in [0.05, 0.35] and the others' in [0.45, 0.95] (Gaussian reward noise 0.1), so
  the target is never the agent's own best arm;
* each round the principal may announce a non-negative incentive on each arm
  (``posted``: the agent adds it to its score before choosing, as an announced
  bonus; ``posted = false`` makes incentives felt only, learned from
  experience) and pays the incentive of the arm actually played. Principal
  reward per round: value 1 if the target is played, minus cost 1 x incentive
  paid;
* agent types: learner family x parameters x private means. MERMAIDE and the
  learned ablations meta-train on a training distribution (epsilon-greedy with
  epsilon in [0.05, 0.2] and softmax with temperature in [0.03, 0.1], neutral
  priors 0.3-0.7) and are evaluated on held-out settings **outside** it:
  ``explorative`` (epsilon 0.4), ``pessimistic`` (priors -0.5 weighted as 3
  observations), ``unseen_family`` (Thompson sampling, never seen in
  training), plus fresh ``in_distribution`` draws;
* observation settings: ``full`` (actions and the agent's rewards), ``actions``
  only, ``noisy`` (each observed action replaced by a random one w.p. 0.2).

Evaluation protocol (DESIGN.md section 8): for each test agent type, the
principal meets ``agents_per_type`` fresh agents of that type for an episode;
the K-shot score is the episode after K adaptation episodes with fresh agents
of the type (their cost is ``adaptation_cost``). Episode e is both the e-shot
score and the (e+1)-th adaptation episode. ``normalized_score = (return -
none) / (oracle - none)`` per seed, setting, observation, agent type and shots.

Run ``python -m scenarios.bandit_alignment --help``; results go to a run folder
(results.csv, rounds.csv, config.toml, run.json, plots, report.html).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from policies import make_principal, principal_class
from policies.baselines import search_best_constant
from policies.learned import LearnedPrincipal
from policies.mermaide import VARIANTS, MermaideConfig
from policies.training import CheckpointError, meta_train, save_checkpoint
from simulator import AgentType
from simulator.config import ConfigError, ScenarioOptions, option, to_dict

from ._bandit_tasks import (
    TEST_SETTINGS,
    BanditProblem,
    BanditSetup,
    BanditTask,
    _draw_means,
    make_model,
    sample_test_tasks,
)
from ._cli import scenario_main

__all__ = [
    "CHECKPOINT_DIR",
    "TASK_KEYS",
    "Args",
    "EvalTask",
    "eval_tasks",
    "evaluate",
    "evaluate_task",
    "main",
    "resolve",
    "train_variant",
]

SCENARIO = "bandit_alignment"
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints" / SCENARIO
ALL_PRINCIPALS = (
    "none",
    "constant",
    "best_constant",
    "ipa",
    "oracle",
    "model_free",
    "meta_only",
    "wm_only",
    "mermaide",
)


@dataclass
class Args(ScenarioOptions):
    """Command-line and TOML settings of the scenario (the shared run options: ScenarioOptions)."""

    RUN_NAME: ClassVar[str] = SCENARIO
    DEVICE_NOTE: ClassVar[str] = "the evaluated agents are simulated (training stays on the CPU)"

    quick: bool = option(False, help="tiny budget for smoke tests (2 types, 4 agents, 1 seed)")
    principals: list[str] = option(default_factory=lambda: list(ALL_PRINCIPALS), help="principals to compare")
    learner: str | None = option(
        None, help="replace the evaluation agents by this learner spec (name or module:Class); default params"
    )
    settings: list[str] = option(
        default_factory=lambda: list(TEST_SETTINGS), help="held-out test settings", choices=tuple(TEST_SETTINGS)
    )
    observations: list[str] = option(
        default_factory=lambda: ["full", "actions"],
        help="observation settings evaluated",
        choices=("full", "actions", "noisy"),
    )
    test_types: int = option(10, help="held-out agent types per setting (the paper used 10)", low=1)
    agents_per_type: int = option(16, help="independent fresh agents per type and episode", low=1)
    constant_incentive: float = option(0.5, help="the 'constant' principal's incentive on the target", low=0.0)
    best_constant_grid: int = option(21, help="levels tried by the best_constant search", low=2)
    best_constant_types: int = option(24, help="training types used by the best_constant search", low=1)
    checkpoints: str | None = option(None, help="folder of trained principals (default: the shipped ones)")
    retrain: bool = option(False, help="train the learned principals from scratch (progress bar)")
    setup: BanditSetup = option(default_factory=BanditSetup, help="the game and the training distribution")
    train: MermaideConfig = option(default_factory=MermaideConfig, help="training settings (with --retrain)")

    def check(self) -> None:
        """Cross-field checks; principal and learner specs are resolved here, before a run."""
        super().check()
        unknown = [p for p in self.principals if p not in ALL_PRINCIPALS and ":" not in p]
        if unknown:
            raise ValueError(f"principals: unknown {unknown[0]!r}; available: {', '.join(ALL_PRINCIPALS)}")
        for p in self.principals:
            if p not in VARIANTS:
                try:
                    principal_class(p)
                except ValueError as exc:
                    raise ValueError(f"principals: {exc}") from None
        if any(s < 0 for s in self.shots):
            raise ValueError("shots: must be >= 0")
        if self.learner:  # one agent of the custom type, built as the run builds it
            try:
                make_model(self.setup, _custom_tasks(self.setup, self.learner, 1, np.random.default_rng(0)), 1, 0)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"learner: {exc}") from None


# ------------------------------------------------------------ principals
def checkpoint_path(folder: str | Path, variant: str, observation: str) -> Path:
    """Where the checkpoint of a variant for an observation setting lives."""
    return Path(folder) / f"{variant}-{observation}.pt"


def train_variant(
    setup: BanditSetup, cfg: MermaideConfig, seed: int, path: Path | None, *, progress: bool = True
) -> LearnedPrincipal:
    """Meta-train one learned principal on the training distribution and save it."""
    problem = BanditProblem(setup)
    problem.fix_pool(np.random.default_rng(seed + 1))
    bar = tqdm(total=cfg.iterations, desc=f"train {cfg.variant} ({setup.observation})", disable=not progress)

    def report(it: int, log: dict[str, float]) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{log.get('loss/post', log.get('loss/pre', 0.0)):.3f}", ret=f"{log['return/query']:.2f}")

    net, logs = meta_train(problem, cfg, seed, progress=report)
    bar.close()
    if path is not None:
        save_checkpoint(path, net, cfg, problem=SCENARIO, extra={"seed": int(seed), "final": logs[-1]})
    return principal_class(cfg.variant)(net=net, config=cfg, seed=seed)


def _learned(name: str, setup: BanditSetup, args: Args) -> LearnedPrincipal:
    folder = Path(args.checkpoints) if args.checkpoints else CHECKPOINT_DIR
    path = checkpoint_path(folder, name, setup.observation)
    try:
        principal = make_principal(name, checkpoint=path, seed=args.seed)
    except CheckpointError as exc:
        raise ConfigError(
            f"{name}: {exc}. Train it with: python -m policies.train --scenario {SCENARIO} "
            f"--variant {name} --observation {setup.observation} --out {folder}"
        ) from None
    spec_now = setup.net_spec()
    trained = principal.net.spec
    for field_name in ("n_actions", "horizon", "observation", "values", "cost", "high", "obs_noise"):
        if getattr(trained, field_name) != getattr(spec_now, field_name):
            raise ConfigError(
                f"{name}: the checkpoint {path} was trained for {field_name}={getattr(trained, field_name)!r}, "
                f"this run has {getattr(spec_now, field_name)!r}; use --retrain"
            )
    return principal


def _best_constant_level(setup: BanditSetup, args: Args, seed: int) -> float:
    """Search the target incentive level with the best mean return on *training* types."""
    rng = np.random.default_rng(10_000 + seed)
    problem = BanditProblem(setup)
    tasks = problem.sample_tasks(args.best_constant_types, rng)
    env_seed = int(rng.integers(2**31))
    levels = np.linspace(0.0, setup.max_incentive, args.best_constant_grid)

    def mean_return(vec: np.ndarray) -> float:
        model = make_model(setup, tasks, args.agents_per_type, env_seed, make_principal("constant", incentives=vec))
        model.run(setup.horizon)
        return float(model.ledger.to_frame()["principal_return"].sum()) / model.n_agents

    vecs = []
    for lv in levels:
        v = np.zeros(setup.n_actions)
        v[setup.target] = lv
        vecs.append(v)
    best, _ = search_best_constant(mean_return, vecs)
    return float(best[setup.target])


# ------------------------------------------------------------ evaluation
def _episode(
    setup: BanditSetup, task: BanditTask, m: int, seed: int, principal: Any, device: str = "cpu"
) -> tuple[dict, pd.DataFrame]:
    model = make_model(setup, [task], m, seed, principal, device=device)
    model.run(setup.horizon)
    led = model.ledger.to_frame()
    n = model.n_agents
    share_col = f"share_arm{setup.target}"
    summary = {
        "principal_return": float(led["principal_return"].sum()) / n,
        "intervention_cost": float(led["paid"].sum()) / n,
        "target_rate": float(led[share_col].mean()),
    }
    rounds = pd.DataFrame(
        {
            "round": led["round"],
            "target_share": led[share_col],
            "incentive_target": led[f"incentive_arm{setup.target}"],
            "principal_return": led["principal_return"] / n,
            "paid": led["paid"] / n,
        }
    )
    return summary, rounds


def evaluate(
    name: str,
    principal_factory: Any,
    setup: BanditSetup,
    tasks: list[BanditTask],
    shots: Sequence[int],
    m: int,
    seed: int,
    device: str = "cpu",
) -> tuple[list[dict], list[pd.DataFrame]]:
    """Score one principal on every task for every K in ``shots`` (agents simulated on ``device``).

    Every episode meets ``m`` fresh agents of the task's type. The K-shot score of
    a learned principal is a deterministic episode after adapting on K
    adaptation episodes, which it plays exploring as in meta-training; their
    intervention cost is ``adaptation_cost``. Principals that do not adapt start
    every scored episode afresh (their K-shot score is another fresh episode).
    """
    rows, rounds = [], []
    k_max = max(shots)
    for ti, task in enumerate(tasks):
        principal = principal_factory()
        adaptive = isinstance(principal, LearnedPrincipal)
        episodes = []
        spent = 0.0
        if adaptive:
            principal.reset_adaptation()
        for k in range(k_max + 1):
            ep_seed = seed * 1_000_003 + ti * 101 + 2 * k
            if k > 0 and adaptive:  # one more adaptation episode, exploring, then adapt from the initialisation
                principal.explore = True
                summary, _ = _episode(setup, task, m, ep_seed + 1, principal, device)
                principal.explore = False
                spent += summary["intervention_cost"]
                episodes.append(principal.episode())
                principal.reset_adaptation()
                principal.adapt(list(episodes))
            if k not in shots:
                continue
            summary, rdf = _episode(setup, task, m, ep_seed, principal, device)
            rows.append(
                {
                    "principal": name,
                    "shots": k,
                    "agent_type": task.label,
                    "family": task.agent_type.family,
                    "type_index": ti,
                    "adaptation_cost": spent,
                    **summary,
                }
            )
            rounds.append(rdf.assign(principal=name, shots=k, type_index=ti))
    return rows, rounds


def _custom_tasks(setup: BanditSetup, spec: str, n: int, rng: np.random.Generator) -> list[BanditTask]:
    return [BanditTask(AgentType(spec, {}, spec), _draw_means(setup, rng), "custom") for _ in range(n)]


TASK_KEYS = ("observation", "seed", "setting")
"""The result columns that identify an evaluation task (one per observation x seed x setting)."""


def resolve(args: Args) -> Args:
    """The settings a run actually uses (``--quick`` shrinks the budget)."""
    if not args.quick:
        return args
    return dataclasses.replace(
        args,
        seeds=1,
        test_types=2,
        agents_per_type=4,
        best_constant_grid=5,
        best_constant_types=4,
        settings=args.settings[:2],
        observations=args.observations[:1],
        train=dataclasses.replace(args.train, iterations=3, tasks_per_batch=4, agents_per_task=2),
    )


@dataclass
class EvalTask:
    """One evaluation task: every principal on the test types of one observation x seed x setting.

    The test types come from ``(seed, setting)`` and every episode's seed from
    ``seed`` and the type index, so the task gives the same rows in any process.
    """

    args: Args
    observation: str
    seed: int
    setting: str
    learned: dict[str, LearnedPrincipal] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, str]:
        """Values of :data:`TASK_KEYS`."""
        return (self.observation, self.seed, self.setting)


def eval_tasks(args: Args, rf: Any = None) -> list[EvalTask]:
    """The tasks of a run (observation-major, then seed, then setting), learned principals loaded or trained once.

    With ``--retrain`` the principals are trained here and saved under
    ``checkpoints/`` of the run folder ``rf``; a resumed run reloads them from there.
    """
    settings = ["custom"] if args.learner else list(args.settings)
    tasks = []
    for observation in args.observations:
        setup = dataclasses.replace(args.setup, observation=observation)
        learned: dict[str, LearnedPrincipal] = {}
        for name in args.principals:
            if name not in VARIANTS:
                continue
            if not args.retrain:
                learned[name] = _learned(name, setup, args)
                continue
            ckpt = rf.path(f"checkpoints/{name}-{observation}.pt") if rf is not None else None
            if args.resume and ckpt is not None and ckpt.exists():
                learned[name] = make_principal(name, checkpoint=ckpt, seed=args.seed)
            else:
                cfg = dataclasses.replace(args.train, variant=name)
                learned[name] = train_variant(setup, cfg, args.seed, ckpt, progress=args.progress)
        for seed in range(args.seed, args.seed + args.seeds):
            tasks.extend(EvalTask(args, observation, seed, setting, learned) for setting in settings)
    return tasks


_BEST_LEVELS: dict[str, float] = {}


def _best_level_cached(setup: BanditSetup, args: Args, seed: int) -> float:
    """``_best_constant_level``, computed once per process for the settings of one observation x seed."""
    key = json.dumps(
        [to_dict(setup), args.best_constant_types, args.best_constant_grid, args.agents_per_type, seed],
        sort_keys=True,
        default=str,
    )
    if key not in _BEST_LEVELS:
        _BEST_LEVELS[key] = _best_constant_level(setup, args, seed)
    return _BEST_LEVELS[key]


def evaluate_task(task: EvalTask) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Run one task: every principal on the task's test types; returns (rows, per-round table)."""
    args, observation, seed, setting = task.args, task.observation, task.seed, task.setting
    setup = dataclasses.replace(args.setup, observation=observation)
    best_level = _best_level_cached(setup, args, seed) if "best_constant" in args.principals else 0.0
    rng = np.random.default_rng([seed, zlib.crc32(setting.encode())])
    tasks = (
        _custom_tasks(setup, args.learner, args.test_types, rng)
        if setting == "custom"
        else sample_test_tasks(setup, setting, args.test_types, rng)
    )
    # fresh copies of the learned principals: their exploration noise then depends on this task only
    learned = {name: _fresh(p) for name, p in task.learned.items()}
    all_rows: list[dict[str, Any]] = []
    all_rounds: list[pd.DataFrame] = []
    for name in args.principals:
        factory = _factory(name, setup, args, learned, best_level, seed)
        rows, rounds = evaluate(name, factory, setup, tasks, args.shots, args.agents_per_type, seed, args.device)
        for r in rows:
            r.update(scenario=SCENARIO, seed=seed, setting=setting, observation=observation)
        all_rows.extend(rows)
        all_rounds.extend(df.assign(seed=seed, setting=setting, observation=observation) for df in rounds)
    return all_rows, pd.concat(all_rounds, ignore_index=True)


def _fresh(principal: LearnedPrincipal) -> LearnedPrincipal:
    return type(principal)(net=principal.net, config=principal.cfg, seed=principal.seed)


def run(args: Args) -> Path:
    """Run the whole comparison and write the run folder; returns its path.

    The evaluation runs as independent tasks, one per observation x seed x
    setting, on ``args.backend`` (this process or Ray); each task's rows are
    appended to ``results.csv`` as it finishes, and ``--resume`` continues an
    interrupted run folder by skipping the tasks already there. The final tables
    are sorted in task order, so they do not depend on the backend.
    """
    from analysis.runs import default_out_dir

    from ._backend import TaskStore, check_backend, open_run_folder, run_tasks

    args = resolve(args)
    check_backend(args.backend)
    if args.resume and not args.out:
        raise ConfigError("resume: give --out, the run folder to continue")
    out = Path(args.out) if args.out else default_out_dir(SCENARIO)
    cfg_dict = to_dict(args)
    cfg_dict.pop("resume", None)
    started = time.time()
    seeds = list(range(args.seed, args.seed + args.seeds))
    with open_run_folder(out, scenario=SCENARIO, config=cfg_dict, seeds=seeds, resume=args.resume) as rf:
        rf.write_config(cfg_dict)
        tasks = eval_tasks(args, rf)
        store = TaskStore(rf, TASK_KEYS, resume=args.resume)
        todo = [t for t in tasks if not store.is_done(t.key)]
        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=SCENARIO, disable=not args.progress)

        def on_result(i: int, out: tuple[list[dict[str, Any]], pd.DataFrame]) -> None:
            store.add(todo[i].key, *out)
            bar.update(1)
            bar.set_postfix(done=f"{'/'.join(map(str, todo[i].key))}")

        threads = (args.threads or 1) if args.backend == "ray" else None
        run_tasks(evaluate_task, todo, backend=args.backend, on_result=on_result, threads_per_task=threads)
        bar.close()
        results, rounds_df = store.collect([t.key for t in tasks])
        results = _normalize(results.drop(columns=["normalized_score"], errors="ignore"))
        rf.write_results(results[_ordered_columns(results)])
        rf.write_rounds(rounds_df)
        store.cleanup()
        _report(rf, results, rounds_df, args, time.time() - started)
        _print_table(results)
    return out


def _factory(name: str, setup: BanditSetup, args: Args, learned: dict, best_level: float, seed: int):
    if name in learned:
        return lambda: learned[name]
    if name == "constant":
        vec = np.zeros(setup.n_actions)
        vec[setup.target] = min(args.constant_incentive, setup.max_incentive)
        return lambda: make_principal("constant", incentives=vec)
    if name == "best_constant":
        vec = np.zeros(setup.n_actions)
        vec[setup.target] = best_level
        return lambda: make_principal("best_constant", incentives=vec)
    return lambda: make_principal(name)


def _normalize(results: pd.DataFrame) -> pd.DataFrame:
    keys = ["seed", "setting", "observation", "shots", "type_index"]
    ref = results[results.principal.isin(["none", "oracle"])].pivot_table(
        index=keys, columns="principal", values="principal_return"
    )
    merged = results.join(ref, on=keys)
    if {"none", "oracle"} <= set(ref.columns):
        gap = merged["oracle"] - merged["none"]
        lift = merged.principal_return - merged["none"]
        merged["normalized_score"] = np.where(gap.abs() > 1e-9, lift / gap, np.nan)
    else:
        merged["normalized_score"] = np.nan
    return merged.drop(columns=[c for c in ("none", "oracle") if c in merged.columns])


def _ordered_columns(df: pd.DataFrame) -> list[str]:
    first = [
        "scenario",
        "principal",
        "seed",
        "shots",
        "principal_return",
        "intervention_cost",
        "adaptation_cost",
        "target_rate",
        "normalized_score",
        "setting",
        "observation",
        "agent_type",
    ]
    return [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]


def _print_table(results: pd.DataFrame) -> None:
    from analysis.stats import summarize

    per_seed = (
        results.groupby(["principal", "observation", "shots", "seed"])[["normalized_score", "principal_return"]]
        .mean()
        .reset_index()
    )
    table = summarize(per_seed, by=["principal", "observation", "shots"], metrics=["normalized_score"])
    print(table.to_string(index=False), file=sys.stdout)


def _report(rf: Any, results: pd.DataFrame, rounds: pd.DataFrame, args: Args, seconds: float) -> None:
    from ._bandit_report import write_report

    write_report(rf, results, rounds, args, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scenarios.bandit_alignment``."""
    return scenario_main(Args, argv, prog="python -m scenarios.bandit_alignment", description=__doc__, run=run)


if __name__ == "__main__":
    raise SystemExit(main())
