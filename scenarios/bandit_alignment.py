"""bandit_alignment: steer a learning agent to a target arm at least cost (MERMAIDE's bandit experiments).

The game (Banerjee et al. 2023, arXiv 2304.04668; every detail they leave open
is a field of :class:`~scenarios._bandit_tasks.BanditSetup`):

* an agent plays a K-armed bandit (default K = 3) for T rounds (default 40)
  with its own learning rule and parameters; the target arm's private mean
  reward is drawn in [0.05, 0.35] and the others' in [0.45, 0.95] (Gaussian
  noise 0.1), so the target is never the agent's own best arm;
* each round the principal chooses an incentive on the target arm from 11
  levels (0, 0.1, ..., 1) and pays it if the agent plays the target. By default
  the incentive is **felt**: it is added to the reward the agent experiences and
  learns from, and the agent does not see it before choosing (the paper's
  principal intervenes on the agent's rewards). ``--setup.posted`` gives the
  second game, where incentives are announced bonuses the agent adds to its
  scores before choosing. Principal reward per round: 1 if the target is
  played, minus the incentive paid;
* agent types differ in family, exploration, pessimism (prior and its weight)
  and learning rate (see :mod:`scenarios._bandit_tasks`): 15 training types, a
  validation pool (never reported), and 10 fresh test types per setting and
  seed in three held-out settings outside the training ranges (``pessimistic``:
  priors -0.8 to -0.5 weighted as 4 to 6 observations; ``explorative``:
  epsilon 0.4; ``unseen_family``: Thompson sampling) plus ``in_distribution``;
* the principal observes actions and rewards (``full``), actions only
  (``actions``), or noisy actions (``noisy``).

Principals: ``none``; ``constant`` (a fixed level); ``best_constant`` (the best
fixed level on the training types); ``ipa`` (Scheid et al. 2024); ``oracle``
(plans incentive sequences on copies of each true agent, knowing its rule,
parameters and state; the upper bound); ``oracle_myopic`` (posted game only);
and the learned ``mermaide``, ``wm_only``, ``meta_only``, ``model_free``
(:mod:`policies.mermaide`).

Evaluation protocol, per seed x setting and observation setting: every principal meets
the same ``agents_per_type`` fresh agents of each test type (common random
numbers) in its scored episode. A learned principal's K-shot score comes after
K adaptation episodes with other fresh agents of the type, played exploring,
then K-shot adaptation from its initialisation (their cost is
``adaptation_cost``); every K meets the same scored agents, so K-shot curves
are paired. Principals that do not adapt are scored at K = 0 only. The
evaluation seed varies everything random, the principal's own random numbers
included (``--principal-seed`` moves only those).

Normalised score = (return - none) / (oracle - none), pooled over the types
whose gap (oracle - none) is at least ``--score-threshold`` (return units per
agent and episode); the other types are reported apart, in absolute terms.

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
import torch
from tqdm import tqdm

from policies import make_principal, principal_class
from policies.baselines import search_best_constant
from policies.checkpoints import CheckpointError, save_checkpoint
from policies.learned import LearnedPrincipal
from policies.mermaide import VARIANTS, MermaideConfig
from policies.training import evaluate_kshot, meta_train
from simulator import AgentType
from simulator.config import ConfigError, ScenarioOptions, option, to_dict

from ._bandit_report import normalize, pooled_scores
from ._bandit_tasks import (
    HELD_OUT,
    TEST_SETTINGS,
    BanditEnv,
    BanditProblem,
    BanditSetup,
    BanditTask,
    _draw_means,
    make_model,
    sample_test_tasks,
    training_pool,
)
from ._cli import scenario_main

__all__ = [
    "CHECKPOINT_DIR",
    "TASK_KEYS",
    "Args",
    "EvalTask",
    "eval_tasks",
    "evaluate_task",
    "main",
    "normalize",
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
    "oracle_myopic",
    "model_free",
    "meta_only",
    "wm_only",
    "mermaide",
)
DEFAULT_PRINCIPALS = tuple(p for p in ALL_PRINCIPALS if p != "oracle_myopic")


@dataclass
class Args(ScenarioOptions):
    """Command-line and TOML settings of the scenario (the shared run options: ScenarioOptions)."""

    RUN_NAME: ClassVar[str] = SCENARIO
    DEVICE_NOTE: ClassVar[str] = "the agents of the non-learned principals are simulated (training stays on the CPU)"

    quick: bool = option(False, help="tiny budget for smoke tests (2 types, 4 agents, 1 seed, shots 0 and 1)")
    principals: list[str] = option(default_factory=lambda: list(DEFAULT_PRINCIPALS), help="principals to compare")
    learner: str | None = option(
        None, help="replace the evaluation agents by this learner spec (name or module:Class); default params"
    )
    settings: list[str] = option(
        default_factory=lambda: list(TEST_SETTINGS), help="test settings", choices=tuple(TEST_SETTINGS)
    )
    observations: list[str] = option(
        default_factory=lambda: ["full", "actions"],
        help="observation settings evaluated",
        choices=("full", "actions", "noisy"),
    )
    test_types: int = option(10, help="test agent types per setting and seed (the paper used 10)", low=1)
    agents_per_type: int = option(16, help="independent fresh agents per type and episode", low=1)
    constant_level: float = option(0.5, help="the 'constant' principal's incentive on the target", low=0.0)
    oracle_samples: int = option(8, help="the oracle's simulated futures per agent and plan", low=1)
    ipa_margin: float = option(0.02, help="IPA: added to the found threshold (share of the bound)", low=0.0)
    ipa_repeats: int = option(1, help="IPA: repeats per query (majority vote)", low=1)
    score_threshold: float = option(
        1.0, help="types whose oracle - none gap is below this (per agent and episode) get no normalised score", low=0
    )
    principal_seed: int | None = option(
        None, help="seed of the learned principals' own random numbers", low=0, default_text="the evaluation seed"
    )
    checkpoints: str | None = option(
        None, help="folder of trained principals", default_text="scenarios/checkpoints/bandit_alignment"
    )
    retrain: bool = option(False, help="train the learned principals from scratch (progress bar)")
    setup: BanditSetup = option(default_factory=BanditSetup, help="the game and the agent-type pools")
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
        if "oracle_myopic" in self.principals and not self.setup.posted:
            raise ValueError("principals: oracle_myopic needs posted incentives (--setup.posted)")
        if self.learner:  # one agent of the custom type, built as the run builds it
            try:
                make_model(self.setup, _custom_tasks(self.setup, self.learner, 1, 0), 1, 0)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"learner: {exc}") from None


# ------------------------------------------------------------ principals
def checkpoint_path(folder: str | Path, variant: str, observation: str) -> Path:
    """Where the checkpoint of a variant for an observation setting lives."""
    return Path(folder) / f"{variant}-{observation}.pt"


def train_variant(
    setup: BanditSetup, cfg: MermaideConfig, seed: int, path: Path | None, *, progress: bool = True
) -> LearnedPrincipal:
    """Meta-train one learned principal on the training pool and save it."""
    problem = BanditProblem(setup)
    bar = tqdm(total=cfg.iterations, desc=f"train {cfg.variant} ({setup.observation})", disable=not progress)

    def report(it: int, log: dict[str, float]) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{log.get('loss/post', log.get('loss/pre', 0.0)):.3f}", ret=f"{log['return/query']:.2f}")

    net, logs = meta_train(problem, cfg, seed, progress=report)
    bar.close()
    if path is not None:
        save_checkpoint(path, net, cfg, problem=SCENARIO, extra={"seed": int(seed), "logs": logs})
    return principal_class(cfg.variant)(net=net, config=cfg, seed=seed, training_logs=logs)


def _learned(name: str, setup: BanditSetup, args: Args) -> LearnedPrincipal:
    folder = Path(args.checkpoints) if args.checkpoints else CHECKPOINT_DIR
    path = checkpoint_path(folder, name, setup.observation)
    try:
        principal = make_principal(name, checkpoint=path, seed=args.seed)
    except CheckpointError as exc:
        raise ConfigError(
            f"{name}: {exc}. Train it with: python -m policies.train --scenario {SCENARIO} "
            f"--variant {name} --observations {setup.observation} --out {folder}"
        ) from None
    spec_now = setup.net_spec()
    trained = principal.net.spec
    for field_name in ("n_actions", "horizon", "observation", "values", "cost", "actions", "obs_noise", "posted"):
        if getattr(trained, field_name) != getattr(spec_now, field_name):
            raise ConfigError(
                f"{name}: the checkpoint {path} was trained for {field_name}={getattr(trained, field_name)!r}, "
                f"this run has {getattr(spec_now, field_name)!r}; use --retrain"
            )
    return principal


def _best_constant_level(setup: BanditSetup, args: Args) -> float:
    """The incentive level with the best mean return on the *training* types (the training pool)."""
    tasks = training_pool(setup)
    rng = np.random.default_rng([10_000, setup.pool_seed])
    env_seed = int(rng.integers(2**31))

    def mean_return(vec: np.ndarray) -> float:
        model = make_model(setup, tasks, args.agents_per_type, env_seed, make_principal("constant", incentives=vec))
        model.run(setup.horizon)
        return float(model.ledger.to_frame()["principal_return"].sum()) / model.n_agents

    best, _ = search_best_constant(mean_return, [np.asarray(v) for v in setup.action_set()])
    return float(best[setup.target])


# ------------------------------------------------------------ evaluation
def _seed_of(*parts: Any) -> int:
    """A stable 31-bit seed from readable parts (the same in every process)."""
    return zlib.crc32(json.dumps([str(p) for p in parts]).encode()) & 0x7FFFFFFF


def _custom_tasks(setup: BanditSetup, spec: str, n: int, seed: int) -> list[BanditTask]:
    rng = np.random.default_rng([44, seed])
    return [BanditTask(AgentType(spec, {}, spec), _draw_means(setup, rng), "custom") for _ in range(n)]


class _Recorder:
    """Wraps a principal and keeps the incentives it set each round (the model keeps the actions)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.offered: list[np.ndarray] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def reset(self, spec: Any, rng: np.random.Generator) -> None:
        """Start the inner principal."""
        self.inner.reset(spec, rng)

    def act(self) -> np.ndarray:
        """The inner principal's incentives, recorded."""
        x = self.inner.act()
        self.offered.append(np.asarray(x, dtype=np.float64))
        return x

    def observe(self, obs: Any) -> None:
        """Pass the observation on."""
        self.inner.observe(obs)


def _stats(setup: BanditSetup, actions: np.ndarray, offered: np.ndarray, m: int) -> dict[str, np.ndarray]:
    """Per-type means over agents of return, cost and target rate; per-round means over all agents.

    Args:
        setup: the game.
        actions: true actions (T, n).
        offered: incentive offered on the target (T, n).
        m: agents per type.
    """
    on_target = actions == setup.target
    paid = np.where(on_target, np.maximum(offered, 0.0), 0.0)
    reward = setup.value * on_target - setup.cost * paid
    per_row = {"principal_return": reward.sum(0), "intervention_cost": paid.sum(0), "target_rate": on_target.mean(0)}
    per_type = {k: v.reshape(-1, m).mean(1) for k, v in per_row.items()}
    per_round = {
        "target_share": on_target.mean(1),
        "incentive_target": offered.mean(1),
        "principal_return": reward.mean(1),
        "paid": paid.mean(1),
    }
    return {**per_type, **{f"round/{k}": v for k, v in per_round.items()}}


def _rows(name: str, shots: int, stats: dict[str, np.ndarray], tasks: list[BanditTask], adapt_cost: np.ndarray):
    rows = []
    for ti, task in enumerate(tasks):
        rows.append(
            {
                "principal": name,
                "shots": shots,
                "agent_type": task.label,
                "family": task.agent_type.family,
                "type_index": ti,
                "principal_return": float(stats["principal_return"][ti]),
                "intervention_cost": float(stats["intervention_cost"][ti]),
                "adaptation_cost": float(adapt_cost[ti]),
                "target_rate": float(stats["target_rate"][ti]),
            }
        )
    horizon = len(stats["round/target_share"])
    rounds = pd.DataFrame(
        {
            "round": np.arange(horizon),
            "target_share": stats["round/target_share"],
            "incentive_target": stats["round/incentive_target"],
            "principal_return": stats["round/principal_return"],
            "paid": stats["round/paid"],
        }
    ).assign(principal=name, shots=shots)
    return rows, rounds


def _evaluate_fixed(name: str, principal: Any, setup: BanditSetup, tasks: list[BanditTask], m: int, seed: int, device):
    """One scored episode of a principal that does not adapt, on every test type at once (K = 0)."""
    rec = _Recorder(principal)
    model = make_model(setup, tasks, m, seed, rec, collect_every=10**9, device=device)
    actions = []
    for _ in range(setup.horizon):  # round by round: the true actions of every agent are kept
        model.run(1)
        actions.append(np.asarray(model.last_actions).copy())
    offered = np.stack([np.broadcast_to(x, (len(tasks) * m, setup.n_actions))[:, setup.target] for x in rec.offered])
    return _rows(name, 0, _stats(setup, np.stack(actions), offered, m), tasks, np.zeros(len(tasks)))


def _evaluate_learned(
    name: str, principal: LearnedPrincipal, setup: BanditSetup, tasks: list[BanditTask], args: Args, seeds: dict
):
    """K-shot scores of a learned principal on every test type at once (each type adapts on its own)."""
    m = args.agents_per_type
    gen = torch.Generator().manual_seed(seeds["principal"])

    def make_env(kind: str, k: int) -> BanditEnv:
        return BanditEnv(setup, tasks, m, seeds["score"] if kind == "score" else _seed_of(seeds["adapt"], k))

    out = evaluate_kshot(principal.net, principal.cfg, make_env, len(tasks), m, list(args.shots), gen)
    rows, rounds = [], []
    table = setup.incentive_levels()
    for k in sorted(out):
        env, traj, adapt_envs = out[k]
        offered = table[traj.act.reshape(len(tasks) * m, -1).T.numpy()]
        stats = _stats(setup, np.stack(env.actions), offered, m)
        cost = np.zeros(len(tasks))
        for a_env in adapt_envs:
            cost += np.stack(a_env.paid).sum(0).reshape(-1, m).mean(1)
        r, rd = _rows(name, k, stats, tasks, cost)
        rows.extend(r)
        rounds.append(rd)
    return rows, pd.concat(rounds, ignore_index=True)


TASK_KEYS = ("seed", "setting")
"""The result columns that identify an evaluation task (one per seed x setting, all observation settings)."""


def resolve(args: Args) -> Args:
    """The settings a run actually uses (``--quick`` shrinks the budget)."""
    if not args.quick:
        return args
    return dataclasses.replace(
        args,
        seeds=1,
        test_types=2,
        agents_per_type=4,
        oracle_samples=2,
        shots=[k for k in args.shots if k <= 1] or [0],
        settings=args.settings[:2],
        observations=args.observations[:1],
        train=dataclasses.replace(args.train, iterations=3, tasks_per_batch=4, agents_per_task=2, eval_every=2),
    )


@dataclass
class EvalTask:
    """One evaluation task: every principal on the test types of one seed x setting, in every observation setting.

    The test types come from ``(seed, setting)`` and every episode's seed from
    them, so the task gives the same rows in any process. Principals that do not
    observe (``observes = False``: none, constant, best_constant, the oracle) play
    once, and their rows are the same for every observation setting.
    """

    args: Args
    seed: int
    setting: str
    learned: dict[str, dict[str, LearnedPrincipal]] = dataclasses.field(default_factory=dict)
    best_level: float = 0.0

    @property
    def key(self) -> tuple[int, str]:
        """Values of :data:`TASK_KEYS`."""
        return (self.seed, self.setting)


def eval_tasks(args: Args, rf: Any = None) -> list[EvalTask]:
    """The tasks of a run (seed-major, then setting), learned principals loaded or trained once.

    With ``--retrain`` the principals are trained here and saved under
    ``checkpoints/`` of the run folder ``rf``; a resumed run reloads them from there.
    """
    settings = ["custom"] if args.learner else list(args.settings)
    best_level = _best_constant_level(args.setup, args) if "best_constant" in args.principals else 0.0
    learned: dict[str, dict[str, LearnedPrincipal]] = {}
    for observation in args.observations:
        setup = dataclasses.replace(args.setup, observation=observation)
        learned[observation] = {}
        for name in args.principals:
            if name not in VARIANTS:
                continue
            if not args.retrain:
                learned[observation][name] = _learned(name, setup, args)
                continue
            ckpt = rf.path(f"checkpoints/{name}-{observation}.pt") if rf is not None else None
            if args.resume and ckpt is not None and ckpt.exists():
                learned[observation][name] = make_principal(name, checkpoint=ckpt, seed=args.seed)
            else:
                cfg = dataclasses.replace(args.train, variant=name)
                learned[observation][name] = train_variant(setup, cfg, args.seed, ckpt, progress=args.progress)
    return [
        EvalTask(args, seed, setting, learned, best_level)
        for seed in range(args.seed, args.seed + args.seeds)
        for setting in settings
    ]


def evaluate_task(task: EvalTask) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Run one task: every principal on the task's test types, per observation setting; (rows, per-round table)."""
    args, seed, setting = task.args, task.seed, task.setting
    tasks = (
        _custom_tasks(args.setup, args.learner, args.test_types, seed)
        if setting == "custom"
        else sample_test_tasks(args.setup, setting, args.test_types, seed)
    )
    pseed = seed if args.principal_seed is None else args.principal_seed
    seeds = {"score": _seed_of(seed, setting, "score"), "adapt": _seed_of(seed, setting, "adapt")}
    m = args.agents_per_type
    all_rows: list[dict[str, Any]] = []
    all_rounds: list[pd.DataFrame] = []
    blind: dict[str, tuple[list[dict[str, Any]], pd.DataFrame]] = {}  # principals that do not observe, played once
    for observation in args.observations:
        setup = dataclasses.replace(args.setup, observation=observation)
        for name in args.principals:
            if name in task.learned.get(observation, {}):
                pseeds = {**seeds, "principal": _seed_of(pseed, setting, observation, name)}
                rows, rounds = _evaluate_learned(name, task.learned[observation][name], setup, tasks, args, pseeds)
            elif name in blind:
                rows, rounds = blind[name]
            else:
                principal = _make_fixed(name, setup, args, task.best_level)
                rows, rounds = _evaluate_fixed(name, principal, setup, tasks, m, seeds["score"], args.device)
                if not getattr(principal, "observes", True):
                    blind[name] = (rows, rounds)
            rows = [
                {**r, "scenario": SCENARIO, "seed": seed, "setting": setting, "observation": observation} for r in rows
            ]
            all_rows.extend(rows)
            all_rounds.append(rounds.assign(seed=seed, setting=setting, observation=observation))
    return all_rows, pd.concat(all_rounds, ignore_index=True)


def _make_fixed(name: str, setup: BanditSetup, args: Args, best_level: float) -> Any:
    vec = np.zeros(setup.n_actions)
    if name == "constant":
        vec[setup.target] = min(args.constant_level, setup.max_incentive)
        return make_principal("constant", incentives=vec)
    if name == "best_constant":
        vec[setup.target] = best_level
        return make_principal("best_constant", incentives=vec)
    if name == "oracle":
        return make_principal("oracle", levels=setup.action_set(), samples=args.oracle_samples)
    if name == "ipa":
        return make_principal("ipa", margin=args.ipa_margin, repeats=args.ipa_repeats)
    return make_principal(name)


def run(args: Args) -> Path:
    """Run the whole comparison and write the run folder; returns its path.

    The evaluation runs as independent tasks, one per seed x setting (every
    observation setting inside), on ``args.backend`` (this process or Ray); each task's rows are
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
        results = normalize(results, args.score_threshold)
        rf.write_results(results[_ordered_columns(results)])
        rf.write_rounds(rounds_df)
        store.cleanup()
        _report(rf, results, rounds_df, args, time.time() - started, tasks)
        _print_table(results, args)
    return out


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
        "gap",
        "none_return",
        "setting",
        "observation",
        "agent_type",
    ]
    return [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]


def _print_table(results: pd.DataFrame, args: Args) -> None:
    from analysis.report import terminal_table
    from analysis.stats import summarize

    pooled = pooled_scores(results, args.score_threshold)
    held = pooled[pooled.setting.isin(HELD_OUT)]
    if held.empty:
        data = results.groupby(["principal", "observation", "shots", "seed"])[["principal_return"]].mean().reset_index()
        table = summarize(data, by=["principal", "observation", "shots"], metrics=["principal_return"])
        title, unit = "Return per agent and episode, mean and 95% CI over seeds", "per agent and episode"
    else:
        table = summarize(held, by=["principal", "observation", "shots"], metrics=["normalized_score"])
        title = (
            "Normalised score on held-out types (share of the oracle's gain over no intervention; types with a gap "
            f">= {args.score_threshold:g}), mean and 95% CI over seeds"
        )
        unit = "share"
    shown = table[["principal", "observation", "shots", "mean", "low", "high", "n"]]
    print(title, file=sys.stdout)
    print(
        terminal_table(shown, units={"mean": unit, "low": unit, "high": unit}, labels={"n": "seeds"}), file=sys.stdout
    )


def _report(rf: Any, results: pd.DataFrame, rounds: pd.DataFrame, args: Args, seconds: float, tasks: list) -> None:
    from ._bandit_report import write_report

    learned = tasks[0].learned if tasks else {}
    write_report(rf, results, rounds, args, seconds, learned)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scenarios.bandit_alignment``."""
    return scenario_main(Args, argv, prog="python -m scenarios.bandit_alignment", description=__doc__, run=run)


if __name__ == "__main__":
    raise SystemExit(main())
