"""stackelberg: the principal as Stackelberg leader against a learning follower.

A repeated bimatrix game (``scenarios._stackelberg_games`` documents the game
distribution, the followers and the environment): each round the leader commits
to a mixed strategy over its rows, the follower (a simulator learner: myopic
best response, fictitious play on the leader's empirical play, or a bandit
learner) picks a column, and the leader earns ``p @ L[:, j]``. The leader knows
its own payoffs, not the follower's, and sees the follower's action, replaced
by a uniformly random one with probability ``p`` (observation noise).

Principals: ``stackelberg`` (knows both matrices, plays the exact LP commitment
of Conitzer & Sandholm 2006 moved ``stackelberg_margin`` inside the follower's
region: the upper bound), ``nash`` (commits to its leader-best Nash strategy),
``probing`` (learns the best-response regions by queries, Letchford, Conitzer &
Munagala 2009, one query per round), and the learned leaders ``mermaide``
(world model + MAML; Banerjee et al. 2023; Finn et al. 2017), ``wm_only``,
``meta_only``, ``model_free`` (``policies.stackelberg_principals``).

Evaluation protocol (DESIGN.md section 8): for each held-out game the leader
meets a fresh follower of the evaluated type for K adaptation episodes (played
exploring; their shortfall from the SE value is ``adaptation_cost``), then is
scored on one more episode with a freshly initialised follower. Non-adaptive
leaders play every episode afresh; the prober keeps its answers from the
adaptation episodes. Per game: ``principal_return`` = mean leader payoff per
round of the scored episode, ``se_value`` = the LP value, ``nash_value`` = the
leader-best Nash value, ``gap_to_se`` = se_value - principal_return,
``normalized_score`` = (return - nash) / (se - nash) (NaN where the SE and Nash
values differ by less than 1e-6), ``target_rate`` = share of scored rounds in
which the follower played the SE column, ``intervention_cost`` = 0 (a
commitment costs the leader nothing beyond its payoff). The headline number,
*share of the Nash-to-SE gap*, is computed per seed over all games of a setting
as ``sum(return - nash) / sum(se - nash)`` (most random games have no gap:
averaging per-game ratios would be dominated by near-zero denominators), with a
95% t-interval over seeds. The run's verdict on MERMAIDE (1-shot at least 0.95,
0-shot below it) uses the same share over all games of all seeds, the mean
return, Nash and SE values over games, and prints the per-seed interval beside it.

Noise study: for observation noise ``p`` in ``--noise`` the leaders in
``--noise-principals`` play ``--noise-shots`` adaptation episodes and a scored
episode on held-out games against best-responding followers; the learning curve
over those rounds (per round, the share of the Nash-to-SE gap over games) gives
the rounds needed to reach 90% of the gap (trailing mean of 5 rounds; the
literal "90% of the SE value" would be met by the Nash commitment in most
games) and the adaptation episodes needed (the first K whose scored episode
reaches 90%).

Run ``python -m scenarios.stackelberg --help``. The shipped checkpoints are
reproduced by ``python -m scenarios.stackelberg --train-only --seed 0``
(written to ``scenarios/checkpoints/stackelberg``; about 1.5 minutes on one
core: model_free and meta_only 8 s each, wm_only and mermaide about 40 s each).
The default run (5 seeds, 40 held-out games per setting and seed, 40 games in
the noise study) takes about 9 minutes on one core; only about 35% of the
random games have a Nash-to-SE gap, so with 10 games per seed the gap share
rests on about 4 games per seed and its interval is very wide.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from policies import make_principal
from policies.checkpoints import CheckpointError
from policies.stackelberg_principals import (
    LEADER_CLASSES,
    VARIANTS,
    LeaderConfig,
    save_leader,
    train_leader,
)
from simulator.config import ConfigError, ScenarioOptions, option, to_dict

from ._backend import TaskStore, check_backend, open_run_folder, run_tasks
from ._cli import scenario_main
from ._stackelberg_games import (
    FOLLOWER_KINDS,
    TEST_SETTINGS,
    Game,
    GameSetup,
    StackelbergEnv,
    StackelbergProblem,
    evaluation_follower,
    play_episode,
    sample_games,
)

__all__ = ["ALL_PRINCIPALS", "CHECKPOINT_DIR", "Args", "evaluate", "main", "run", "train_variant"]

SCENARIO = "stackelberg"
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints" / SCENARIO
ALL_PRINCIPALS = ("stackelberg", "nash", "probing", "model_free", "meta_only", "wm_only", "mermaide")
GAP_TOL = 1e-6
# settings of the learned leaders that act at decision time (taken from the run's config, not the checkpoint's)
DECISION_FIELDS = (
    "members",
    "online_steps",
    "inner_steps",
    "margins",
    "explore_until",
    "explore_rule",
    "scored_explore_rule",
    "plausible",
    "memory_floor",
    "known",
    "posterior_temperature",
    "pg_inner_lr",
    "pg_inner_steps",
)
TASK_KEYS = ("study", "seed", "setting", "follower", "noise", "principal")
"""The result columns that identify an evaluation task (what ``--resume`` skips)."""
TARGET_SHARE = 0.9
SMOOTH = 5


@dataclass
class Args(ScenarioOptions):
    """Command-line and TOML settings of the scenario (the shared run options: ScenarioOptions)."""

    RUN_NAME: ClassVar[str] = SCENARIO
    DEVICE_NOTE: ClassVar[str] = "the followers are simulated (one agent per game)"
    DEVICES: ClassVar[tuple[str, ...] | None] = ("cpu",)
    DEFAULT_THREADS: ClassVar[int | None] = 1  # the tensors are tiny: extra threads only wait on busy cores
    THREADS_DEFAULT: ClassVar[str] = "1"

    quick: bool = option(
        False,
        help="tiny budget for smoke tests (1 seed, 3 games, 1 setting; noise study only for --principals, p = 0, 0.4)",
    )
    principals: list[str] = option(default_factory=lambda: list(ALL_PRINCIPALS), help="principals to compare")
    learner: str | None = option(
        None, help="evaluation follower: best_response, fictitious_play, bandit or a simulator learner spec"
    )
    followers: list[str] = option(
        default_factory=lambda: ["best_response"], help="evaluation followers (ignored with --learner)"
    )
    settings: list[str] = option(
        default_factory=lambda: list(TEST_SETTINGS), help="held-out game settings", choices=TEST_SETTINGS
    )
    games: int = option(40, help="held-out games per setting and seed (most have no Nash-to-SE gap)", low=1)
    main_noise: float = option(0.0, help="observation noise of the main comparison", low=0.0, high=1.0)
    noise: list[float] = option(
        default_factory=lambda: [0.0, 0.1, 0.2, 0.4], help="observation noise levels of the noise study", low=0, high=1
    )
    noise_principals: list[str] = option(
        default_factory=lambda: ["mermaide", "probing"], help="principals of the noise study (empty: skip it)"
    )
    noise_shots: int = option(2, help="noise study: adaptation episodes before the last scored one", low=0, high=20)
    noise_games: int = option(40, help="noise study: held-out games per seed", low=1)
    stackelberg_margin: float = option(1e-3, help="the stackelberg leader's distance inside the region", low=0.0)
    probing_tol: float = option(2e-3, help="the prober's search precision", low=0.0, low_open=True, high=0.5)
    checkpoints: str | None = option(None, help="folder of trained leaders (default: the shipped ones)")
    retrain: bool = option(False, help="train the learned leaders from scratch before evaluating")
    train_only: bool = option(False, help="only train the learned leaders in --principals and save them")
    save_checkpoints: str | None = option(
        None, help="where trained leaders are written (default: the run folder; with --train-only the shipped folder)"
    )
    setup: GameSetup = option(default_factory=GameSetup, help="the game, its distribution and the training followers")
    train: LeaderConfig = option(default_factory=LeaderConfig, help="learned leaders' settings (training, decisions)")

    def check(self) -> None:
        """Cross-field checks."""
        super().check()
        for p in [*self.principals, *self.noise_principals]:
            if p not in ALL_PRINCIPALS and ":" not in p:
                raise ValueError(f"principals: unknown {p!r}; available: {', '.join(ALL_PRINCIPALS)}")
        bad = [f for f in self.followers if f not in FOLLOWER_KINDS]
        if bad and self.learner is None:
            raise ValueError(f"followers: unknown {bad[0]!r}; available: {', '.join(FOLLOWER_KINDS)}")


# ------------------------------------------------------------ principals
def checkpoint_path(folder: str | Path, variant: str) -> Path:
    """Where the checkpoint of a variant lives."""
    return Path(folder) / f"{variant}.pt"


def train_variant(setup: GameSetup, cfg: LeaderConfig, seed: int, *, progress: bool = True) -> tuple[Any, float]:
    """Train one learned leader on the training distribution; returns the network and the seconds it took."""
    problem = StackelbergProblem(setup)
    bar = tqdm(total=cfg.iterations, desc=f"train {cfg.variant}", disable=not progress)

    def report(it: int, log: dict[str, float]) -> None:
        bar.update(1)
        loss = log.get("loss/post", log.get("loss/pre", log.get("loss", float("nan"))))
        bar.set_postfix(loss=f"{loss:.3f}", ret=f"{log['return/query']:.3f}")

    started = time.time()
    net, _ = train_leader(problem, cfg, seed, progress=report)
    bar.close()
    return net, time.time() - started


def _expected_noise(args: Args) -> float:
    levels = [args.main_noise, *(args.noise if args.noise_principals else [])]
    return float(max(levels))


def _load_learned(name: str, args: Args, setup: GameSetup, folder: Path | None = None) -> tuple[Any, LeaderConfig]:
    from policies.stackelberg_principals import load_leader

    if folder is None:
        folder = Path(args.checkpoints) if args.checkpoints else CHECKPOINT_DIR
    path = checkpoint_path(folder, name)
    spec = dataclasses.replace(setup.leader_spec(), max_noise=_expected_noise(args))
    try:
        net, cfg = load_leader(path, expect_variant=name, expect_spec=spec)
    except CheckpointError as exc:
        raise ConfigError(
            f"{name}: {exc}. Train it with: python -m scenarios.stackelberg --train-only --principals {name} "
            f"--save-checkpoints {folder} (plus your --setup options), or run with --retrain"
        ) from None
    # decision-time settings come from this run's config; the trained weights and training settings stay
    decision = {name: getattr(args.train, name) for name in DECISION_FIELDS}
    return net, dataclasses.replace(cfg, **decision)


def _factory(name: str, args: Args, learned: dict[str, tuple[Any, LeaderConfig]], seed: int) -> Callable[[], Any]:
    if name in learned:
        net, cfg = learned[name]
        cls = LEADER_CLASSES[name]
        return lambda: cls(net=net, config=cfg, seed=seed)
    if name == "stackelberg":
        return lambda: make_principal("stackelberg", margin=args.stackelberg_margin)
    if name == "probing":
        return lambda: make_principal("probing", tol=args.probing_tol, seed=seed)
    return lambda: make_principal(name)


# ------------------------------------------------------------ evaluation
def _env(games: list[Game], follower: Any, noise: float, setup: GameSetup, key: Sequence[int]) -> StackelbergEnv:
    return StackelbergEnv(games, [follower] * len(games), noise, [(*key, i) for i in range(len(games))], setup.horizon)


def evaluate(
    name: str,
    factory: Callable[[], Any],
    games: list[Game],
    follower: Any,
    noise: float,
    shots: Sequence[int],
    seed: int,
    setup: GameSetup,
) -> tuple[list[dict[str, Any]], list[np.ndarray], dict[int, np.ndarray]]:
    """Score one principal on a batch of games for every K in ``shots``.

    Returns per-game result rows, the adaptation episodes' payoffs (games, T)
    in order, and the scored episodes' payoffs per K.
    """
    principal = factory()
    adaptive = callable(getattr(principal, "adapt", None))
    se = np.array([g.se_value for g in games])
    nash = np.array([g.nash_value for g in games])
    target = np.array([g.se_column for g in games])
    rng = np.random.default_rng([seed, 99])
    rows: list[dict[str, Any]] = []
    adapt_payoffs: list[np.ndarray] = []
    scored: dict[int, np.ndarray] = {}
    episodes: list[Any] = []
    spent = np.zeros(len(games))
    if adaptive:
        principal.rows = len(games)
        principal.reset_adaptation()
    for k in range(max(shots) + 1):
        base = (seed, zlib.crc32(name.encode()) % 100_000, k)
        if k > 0 and adaptive:  # one more adaptation episode with a fresh follower, exploring
            principal.adapt(list(episodes))
            principal.explore = True
            rec = play_episode(principal, _env(games, follower, noise, setup, (*base, 1)), rng)
            principal.explore = False
            episodes.append(principal.episode())
            principal.adapt(list(episodes))
            adapt_payoffs.append(rec.payoff)
            spent += (se[:, None] - rec.payoff).sum(1) / setup.horizon
        if k not in shots:
            continue
        rec = play_episode(principal, _env(games, follower, noise, setup, (*base, 0)), rng)
        scored[k] = rec.payoff
        ret = rec.payoff.mean(1)
        for g, game in enumerate(games):
            gap = se[g] - nash[g]
            rows.append(
                {
                    "principal": name,
                    "shots": k,
                    "principal_return": float(ret[g]),
                    "intervention_cost": 0.0,
                    "adaptation_cost": float(spent[g]) if k > 0 else 0.0,
                    "target_rate": float((rec.true_actions[g] == target[g]).mean()),
                    "se_value": float(se[g]),
                    "nash_value": float(nash[g]),
                    "gap_to_se": float(se[g] - ret[g]),
                    "normalized_score": float((ret[g] - nash[g]) / gap) if gap > GAP_TOL else float("nan"),
                    "game": game.game_id,
                    "rho": game.rho,
                }
            )
    return rows, adapt_payoffs, scored


def gap_share(df: pd.DataFrame, by: list[str], *, per_seed: bool = True) -> pd.DataFrame:
    """Share of the Nash-to-SE gap per group and seed: sum(return - nash) / sum(se - nash) over games.

    With ``per_seed=False`` the games of all seeds are pooled (one share per group).
    """
    g = df.assign(_num=df.principal_return - df.nash_value, _den=df.se_value - df.nash_value)
    keys = [*by, "seed"] if per_seed else list(by)
    out = g.groupby(keys, sort=False)[["_num", "_den"]].sum().reset_index()
    out["gap_share"] = np.where(out._den > GAP_TOL, out._num / out._den.where(out._den > GAP_TOL, 1.0), np.nan)
    return out.drop(columns=["_num", "_den"])


def _curve(payoffs: list[np.ndarray], se: np.ndarray, nash: np.ndarray) -> np.ndarray:
    """Per-round share of the Nash-to-SE gap over games, along a sequence of episodes."""
    seq = np.concatenate(payoffs, axis=1)
    den = float((se - nash).sum())
    if den <= GAP_TOL:
        return np.full(seq.shape[1], np.nan)
    return (seq - nash[:, None]).sum(0) / den


def rounds_to_target(curve: np.ndarray, share: float = TARGET_SHARE, smooth: int = SMOOTH) -> float:
    """First round (1-based) where the trailing mean of ``smooth`` rounds reaches ``share``; NaN if never."""
    if curve.size == 0 or not np.isfinite(curve).all():
        return float("nan")
    c = np.cumsum(np.insert(curve, 0, 0.0))
    idx = np.arange(1, curve.size + 1)
    lo = np.maximum(idx - smooth, 0)
    trailing = (c[idx] - c[lo]) / (idx - lo)
    hit = np.nonzero(trailing >= share)[0]
    return float(hit[0] + 1) if hit.size else float("nan")


def run(args: Args) -> Path:
    """Run the comparison and the noise study; write the run folder; return its path."""
    from analysis.runs import default_out_dir

    check_backend(args.backend)  # Ray installed? (before any folder is made)
    if args.resume and not args.out:
        raise ConfigError("resume: give --out, the run folder to continue")
    if args.quick:
        args = dataclasses.replace(
            args,
            seeds=1,
            games=3,
            settings=args.settings[:1],
            noise=[0.0, 0.4],
            noise_shots=1,
            noise_games=3,
            noise_principals=[p for p in args.noise_principals if p in args.principals],
            train=dataclasses.replace(args.train, iterations=2, tasks_per_batch=4),
        )
    setup = args.setup
    learned_names = [p for p in dict.fromkeys([*args.principals, *args.noise_principals]) if p in VARIANTS]
    if args.train_only:
        return _train_only(args, learned_names)
    out = Path(args.out) if args.out else default_out_dir(SCENARIO)
    followers = [args.learner] if args.learner else list(args.followers)
    cfg_dict = to_dict(args)
    cfg_dict.pop("resume", None)
    seeds = list(range(args.seed, args.seed + args.seeds))
    started = time.time()
    with open_run_folder(out, scenario=SCENARIO, config=cfg_dict, seeds=seeds, resume=args.resume) as rf:
        learned: dict[str, tuple[Any, LeaderConfig]] = {}
        train_seconds: dict[str, float] = {}
        for name in learned_names:
            if args.retrain:
                folder = Path(args.save_checkpoints) if args.save_checkpoints else rf.path("checkpoints")
                if args.resume and checkpoint_path(folder, name).exists():  # trained before the interruption
                    learned[name] = _load_learned(name, args, setup, folder)
                    continue
                cfg = dataclasses.replace(args.train, variant=name)
                net, secs = train_variant(setup, cfg, args.seed, progress=args.progress)
                train_seconds[name] = secs
                save_leader(checkpoint_path(folder, name), net, cfg, extra={"seed": args.seed, "seconds": secs})
                learned[name] = (net, cfg)
            else:
                learned[name] = _load_learned(name, args, setup)
        tasks = [
            _Task(args, learned, "main", seed, setting, fname, args.main_noise, name)
            for seed in seeds
            for setting in args.settings
            for fname in followers
            for name in args.principals
        ]
        tasks += [
            _Task(args, learned, "noise", seed, "in_distribution", "best_response", p_noise, name)
            for seed in seeds
            if args.noise_principals
            for p_noise in args.noise
            for name in args.noise_principals
        ]
        store = TaskStore(rf, TASK_KEYS, resume=args.resume)
        todo = [t for t in tasks if not store.is_done(t.key)]
        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="evaluate", disable=not args.progress)

        def on_result(i: int, out: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
            store.add(todo[i].key, out[0], pd.DataFrame(out[1]))
            bar.update(1)

        run_tasks(
            _run_task,
            todo,
            backend=args.backend,
            on_result=on_result,
            threads_per_task=(args.threads or 1) if args.backend == "ray" else None,
        )
        bar.close()
        results_df, rounds_df = store.collect([t.key for t in tasks])
        results_df = results_df[_ordered_columns(results_df)]
        rounds_df = rounds_df if rounds_df is not None else pd.DataFrame()
        rf.write_results(results_df)
        rf.write_rounds(rounds_df)
        store.cleanup()
        noise_df = noise_table(results_df, rounds_df, args.noise_shots, setup.horizon)
        if not noise_df.empty:
            rf.write_text("noise.csv", noise_df.to_csv(index=False))
        summary = write_report(rf, results_df, rounds_df, noise_df, args, time.time() - started, train_seconds)
        print(summary, file=sys.stdout)
    return out


@dataclass
class _Task:
    """One evaluation task: a principal on one seed's games of a setting, with one follower and noise level."""

    args: Args
    learned: dict[str, Any]
    study: str  # "main" or "noise"
    seed: int
    setting: str
    follower: str
    noise: float
    principal: str

    @property
    def key(self) -> tuple[Any, ...]:
        """The values of :data:`TASK_KEYS` in this task's result rows."""
        label = evaluation_follower(self.args.setup, self.follower).label
        return (self.study, self.seed, self.setting, label, self.noise, self.principal)


def _run_task(task: _Task) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Evaluate one task (a module-level function, so Ray workers can run it); returns (results, rounds) rows."""
    args, setup = task.args, task.args.setup
    if task.study == "main":
        games = sample_games(setup, task.setting, args.games, task.seed)
        shots = list(args.shots)
    else:  # the noise study's own held-out games
        games = sample_games(setup, "in_distribution", args.noise_games, 10_000 + task.seed)
        shots = list(range(args.noise_shots + 1))
    follower = evaluation_follower(setup, task.follower)
    factory = _factory(task.principal, args, task.learned, task.seed)
    rows, adapt, scored = evaluate(task.principal, factory, games, follower, task.noise, shots, task.seed, setup)
    meta = {
        "study": task.study,
        "seed": task.seed,
        "setting": task.setting,
        "follower": follower.label,
        "noise": task.noise,
    }
    return [{"scenario": SCENARIO, **meta, **r} for r in rows], _round_rows(meta, task.principal, games, adapt, scored)


def _train_only(args: Args, names: list[str]) -> Path:
    folder = Path(args.save_checkpoints) if args.save_checkpoints else CHECKPOINT_DIR
    if not names:
        raise ConfigError("principals: --train-only needs at least one learned leader (mermaide, wm_only, ...)")
    for name in names:
        cfg = dataclasses.replace(args.train, variant=name)
        net, secs = train_variant(args.setup, cfg, args.seed, progress=args.progress)
        path = checkpoint_path(folder, name)
        save_leader(path, net, cfg, extra={"seed": args.seed, "seconds": secs})
        print(f"{name}: trained in {secs:.0f} s -> {path}")
    return folder


def _round_rows(
    meta: dict[str, Any], name: str, games: list[Game], adapt: list[np.ndarray], scored: dict[int, np.ndarray]
) -> list[dict[str, Any]]:
    """Per-round series (aggregated over games): the adaptation episodes, then each scored episode."""
    se = np.array([g.se_value for g in games])
    nash = np.array([g.nash_value for g in games])
    out = []
    horizon = next(iter(scored.values())).shape[1] if scored else 0
    for k, pay in scored.items():
        seq = [*adapt[:k], pay]
        curve = _curve(seq, se, nash)
        payoff = np.concatenate(seq, axis=1).mean(0)
        for r in range(curve.size):
            out.append(
                {
                    **meta,
                    "principal": name,
                    "shots": k,
                    "round": r,
                    "episode": "adaptation" if r < k * horizon else "scored",
                    "payoff": float(payoff[r]),
                    "gap_share": float(curve[r]),
                }
            )
    return out


def noise_table(results: pd.DataFrame, rounds: pd.DataFrame, noise_shots: int, horizon: int) -> pd.DataFrame:
    """Rounds and adaptation episodes needed to reach 90% of the Nash-to-SE gap, per principal, noise and seed."""
    if results.empty or "study" not in results or not (results.study == "noise").any():
        return pd.DataFrame()
    res = results[results.study == "noise"]
    per_k = gap_share(res, ["principal", "noise", "shots"])
    rows = []
    rd = rounds[(rounds.study == "noise") & (rounds.shots == noise_shots)]
    for (name, p_noise, seed), grp in rd.groupby(["principal", "noise", "seed"], sort=False):
        curve = grp.sort_values("round").gap_share.to_numpy(float)
        rr = rounds_to_target(curve)
        ks = per_k[(per_k.principal == name) & (per_k.noise == p_noise) & (per_k.seed == seed)]
        reached = ks[ks.gap_share >= TARGET_SHARE].shots
        rows.append(
            {
                "principal": name,
                "noise": p_noise,
                "seed": seed,
                "rounds_to_90": rr,
                "reached": bool(np.isfinite(rr)),
                # censored at one round past the curve when never reached (for means and trends)
                "rounds_to_90_censored": rr if np.isfinite(rr) else float((noise_shots + 1) * horizon + 1),
                "shots_to_90": float(reached.min()) if len(reached) else float("nan"),
                "final_gap_share": float(ks[ks.shots == noise_shots].gap_share.mean()) if len(ks) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------ report
def _summary(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Gap share and the other metrics per group: mean and 95% CI over seeds (games averaged within a seed)."""
    from analysis.stats import summarize

    share = gap_share(results, by)
    metrics = ["principal_return", "gap_to_se", "target_rate", "adaptation_cost"]
    per_seed = results.groupby([*by, "seed"], sort=False)[metrics].mean().reset_index()
    per_seed = per_seed.merge(share, on=[*by, "seed"])
    return summarize(per_seed, by=by, metrics=["gap_share", *metrics])


def acceptance(results: pd.DataFrame) -> dict[str, Any] | None:
    """MERMAIDE's share of the Nash-to-SE gap at 0 and 1 shot on held-out in-distribution games, best response.

    Returns per K in (0, 1) the per-seed shares' mean and t-interval (``out[k]``) and the share over all
    games of all seeds (``out["pooled"][k]``: (mean return - mean Nash) / (mean SE - mean Nash) over games,
    the issue's "mean over games"); ``met`` applies the issue's test (1-shot >= 0.95, 0-shot below it) to
    the latter. ``games`` counts the games.
    """
    from analysis.stats import mean_ci

    main = results[(results.study == "main") & (results.setting == "in_distribution")]
    main = main[(main.follower == "best_response") & (main.principal == "mermaide")]
    if main.empty or not {0, 1} <= set(main.shots):
        return None
    share = gap_share(main, ["shots"])
    pooled = gap_share(main, ["shots"], per_seed=False).set_index("shots").gap_share
    out: dict[str, Any] = {"pooled": {}}
    for k in (0, 1):
        vals = share[share.shots == k].gap_share.to_numpy(float)
        out[k] = mean_ci(vals, method="t") if np.isfinite(vals).any() else None
        out["pooled"][k] = float(pooled[k])
    if out[0] is None or out[1] is None or not np.isfinite(out["pooled"][1]):
        return None
    out["games"] = int((main.shots == 1).sum())
    out["met"] = bool(out["pooled"][1] >= 0.95 and out["pooled"][0] < out["pooled"][1])
    return out


def noise_trend(noise_df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per principal: mean rounds to 90% (censored) per noise level and whether it grows with the noise."""
    out: dict[str, dict[str, Any]] = {}
    if noise_df.empty:
        return out
    for name, grp in noise_df.groupby("principal", sort=False):
        means = grp.groupby("noise").rounds_to_90_censored.mean().sort_index()
        vals = means.to_numpy(float)
        grows = bool(len(vals) > 1 and np.all(np.diff(vals) >= 0) and vals[-1] > vals[0])
        out[str(name)] = {"means": means, "grows": grows, "reached": grp.groupby("noise").reached.mean()}
    return out


def write_report(
    rf: Any,
    results: pd.DataFrame,
    rounds: pd.DataFrame,
    noise_df: pd.DataFrame,
    args: Args,
    seconds: float,
    train_seconds: dict[str, float],
) -> str:
    """Render report.html / report.md with tables, figures and computed statements; return the terminal summary."""
    from analysis.plots import bar_ci, curves_ci
    from analysis.report import Report, format_summary
    from analysis.stats import summarize

    lines: list[str] = []
    rep = Report("stackelberg: committing against a learning follower", records=rf.record)
    main = results[results.study == "main"]
    n_seeds = results.seed.nunique()
    rep.paragraph(
        f"{main.principal.nunique()} leaders, {n_seeds} seed(s), {args.games} held-out games per setting and seed "
        f"({args.setup.n_leader} x {args.setup.n_follower}, horizon {args.setup.horizon}), settings "
        f"{sorted(set(main.setting))}, followers {sorted(set(main.follower))}, observation noise {args.main_noise}, "
        f"shots {sorted(set(main.shots))}; ran in {seconds:.0f} s. Gap share = sum(return - Nash value) / "
        "sum(SE value - Nash value) over a seed's games (1 = the exact Stackelberg value, 0 = the leader-best Nash "
        "value); means and 95% t-intervals over seeds."
        + (f" Trained here: {', '.join(f'{k} {v:.0f} s' for k, v in train_seconds.items())}." if train_seconds else "")
    )
    acc = acceptance(results)
    if acc is not None:
        c0, c1 = acc[0], acc[1]
        verdict = "is met" if acc["met"] else "is not met"
        p0, p1 = acc["pooled"][0], acc["pooled"][1]
        text = (
            f"MERMAIDE against best-responding followers on held-out in-distribution games: 1-shot gap share "
            f"over all {acc['games']} games (mean return, Nash and SE values over games) {p1:.3f}, 0-shot {p0:.3f}; "
            f"per seed, 1-shot {c1.mean:.3f} (95% CI {c1.low:.3f} to {c1.high:.3f}, n = {c1.n} seeds), 0-shot "
            f"{c0.mean:.3f} ({c0.low:.3f} to {c0.high:.3f}); the target (1-shot >= 0.95 and 0-shot below it, "
            f"mean over games) {verdict}."
        )
        rep.paragraph(text)
        lines.append(text)
    trend = noise_trend(noise_df)
    for name, info in trend.items():
        means = info["means"]
        pairs = ", ".join(f"p={p:g}: {v:.1f}" for p, v in means.items())
        text = (
            f"Noise study, {name}: mean rounds to 90% of the Nash-to-SE gap (censored at one past the curve when "
            f"never reached) {pairs}; it {'grows' if info['grows'] else 'does not grow'} with the noise."
        )
        rep.paragraph(text)
        lines.append(text)

    rep.heading("Share of the Nash-to-SE gap", 2)
    if not main.empty:
        s = _summary(main, ["setting", "follower", "principal", "shots"])
        rep.table(format_summary(s[s.metric == "gap_share"]), caption="gap share by setting, follower, leader, shots")
        table = s[s.metric == "gap_share"][["setting", "follower", "principal", "shots", "mean", "low", "high", "n"]]
        if table.empty:
            lines.append("Gap share: no evaluated game has a Nash-to-SE gap (the SE and Nash values coincide).")
        else:
            lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        for (setting, follower), grp in s.groupby(["setting", "follower"], sort=False):
            if not (grp.metric == "gap_share").any():
                continue
            fig = bar_ci(
                grp,
                "gap_share",
                x="principal",
                hue="shots",
                unit="share of Nash-to-SE gap",
                title=f"{setting}, {follower}: gap share (mean, 95% CI over seeds)",
            )
            rep.figure(
                fig,
                caption=f"Gap share by leader and shots ({setting}, {follower})",
                name=f"gap_share_{setting}_{follower}".replace(" ", "_"),
            )
        rep.heading("Returns, gap to the SE value, target rate, adaptation cost", 2)
        rep.table(format_summary(s[s.metric != "gap_share"]), caption="per round of the scored episode")
    if not noise_df.empty:
        rep.heading("Observation noise: rounds needed to reach 90% of the gap", 2)
        nt = summarize(
            noise_df, by=["principal", "noise"], metrics=["rounds_to_90_censored", "shots_to_90", "final_gap_share"]
        )
        rep.table(
            format_summary(nt),
            caption=(
                f"rounds_to_90_censored: first round of the learning curve ({args.noise_shots} adaptation "
                f"episodes, then a scored one; {args.noise_games} held-out games, best-responding followers) "
                f"whose {SMOOTH}-round trailing mean reaches 90% of the gap, one past the curve if never; "
                "shots_to_90: first K whose scored episode reaches 90% (NaN: none); final_gap_share: the last "
                "scored episode"
            ),
        )
        reached = noise_df.groupby(["principal", "noise"]).reached.mean().reset_index()
        rep.table(
            reached.rename(columns={"reached": "share of seeds reaching 90%"}), caption="reached within the curve"
        )
        lines.append(
            nt[nt.metric == "rounds_to_90_censored"][["principal", "noise", "mean", "low", "high", "n"]].to_string(
                index=False, float_format=lambda v: f"{v:.1f}"
            )
        )
        fig = curves_ci(
            noise_df,
            x="noise",
            y="rounds_to_90_censored",
            hue="principal",
            x_unit="probability",
            y_unit="rounds",
            title="Rounds to 90% of the Nash-to-SE gap vs observation noise",
        )
        rep.figure(fig, caption="Rounds needed vs observation noise (mean and 95% CI over seeds)", name="noise_rounds")
        rd = rounds[(rounds.study == "noise") & (rounds.shots == args.noise_shots)]
        for name, grp in rd.groupby("principal", sort=False):
            fig = curves_ci(
                grp.assign(noise=grp.noise.map(lambda v: f"p={v:g}")),
                x="round",
                y="gap_share",
                hue="noise",
                y_unit="share of gap",
                title=f"{name}: learning curve by observation noise",
            )
            rep.figure(
                fig,
                caption=f"{name}: per-round gap share over adaptation episodes and the scored one",
                name=f"noise_curve_{name}",
            )
    r = rounds[(rounds.study == "main") & (rounds.setting == "in_distribution")]
    if not r.empty:
        r = r[r.shots == r.shots.max()]
        fig = curves_ci(
            r,
            x="round",
            y="gap_share",
            hue="principal",
            y_unit="share of gap",
            title=f"Per-round gap share, {int(r.shots.max())} adaptation episode(s) then scored",
        )
        rep.figure(fig, caption="Learning curves on held-out in-distribution games", name="curves_main")
    rep.heading("Assumptions", 2)
    rep.paragraph(
        "The leader knows its own payoffs and the observation noise, not the follower's payoffs or learning rule; "
        "it sees the follower's action (replaced by a random one with the noise probability) and its own realised "
        "action, never its payoff. The stackelberg and nash leaders know both matrices (benchmarks). The "
        "stackelberg leader commits a small margin inside the follower's region so that an argmax follower plays "
        "the SE column; the SE value itself assumes ties broken for the leader. intervention_cost is 0 (a "
        "commitment costs nothing beyond its payoff); adaptation_cost is the adaptation episodes' summed "
        "shortfall from the SE value, in per-round units (sum over rounds / horizon). Held-out games come from "
        "other random streams than training games; ood_correlation games have |rho| outside the training range."
    )
    rep.kv({k: v for k, v in dataclasses.asdict(args.setup).items() if not isinstance(v, dict | list)}, caption="game")
    with contextlib.suppress(OSError):
        rep.code(rf.path("config.toml").read_text())
    rf.write_report(rep)
    return "\n\n".join(lines)


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
        "se_value",
        "nash_value",
        "gap_to_se",
        "normalized_score",
        "setting",
        "noise",
        "game",
        "follower",
        "study",
    ]
    return [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scenarios.stackelberg``."""
    return scenario_main(Args, argv, prog="python -m scenarios.stackelberg", description=__doc__, run=run)


if __name__ == "__main__":
    raise SystemExit(main())
