"""stackelberg: the principal as Stackelberg leader against a learning follower.

A repeated bimatrix game (``scenarios._stackelberg_games`` documents the family
of games and followers, the pools and the environment): each round the leader
commits to a mixed strategy over its rows, the follower (by default the greedy
follower of MERMAIDE's first experiment: a myopic best response to the
commitment) picks a column, and the leader earns ``p @ L[:, j]``. The leader
knows its own payoffs, not the follower's, and sees the follower's action,
replaced by a uniformly random one with probability ``p`` (observation noise).
In the default family (2 x 3 games) the follower's interests conflict with the
leader's (``rho ~ U[-0.9, -0.3]``), so experience with past followers predicts
where a new follower's best-response boundaries lie.

Principals: ``stackelberg`` (knows both matrices, plays the exact LP commitment
of Conitzer & Sandholm 2006 moved ``stackelberg_margin`` inside the follower's
region: the upper bound), ``nash`` (commits to its leader-best Nash strategy),
``probing`` (learns the best-response regions by queries, Letchford, Conitzer &
Munagala 2009, one query per round), and the learned leaders ``mermaide``
(Banerjee et al. 2023: a world model of the follower, meta-learned with MAML,
Finn et al. 2017, planned through), ``wm_only``, ``meta_only`` and
``model_free``: the core's :class:`policies.learned.LearnedPrincipal` loaded
from checkpoints trained on this game family (``python -m policies.train
--scenario stackelberg``).

Evaluation protocol: for each held-out game the leader meets a fresh follower
of the evaluated type for K adaptation episodes (played exploring; their
shortfall from the SE value is ``adaptation_cost``), then is scored on one more
episode with a freshly initialised follower (the same scored follower for every
K, so the K-shot curve is paired). Non-adaptive leaders play every episode
afresh; the prober keeps its answers from the adaptation episodes, and the
world-model leaders adapt their parameters on them and keep the ranges of
commitments under which each column was observed (``memory``; their exploring
episodes probe for the boundaries, ``probe``). Per game:
``principal_return`` = mean leader payoff per round of the scored episode,
``se_value`` = the LP value, ``nash_value`` = the leader-best Nash value,
``gap`` = se_value - nash_value (the value of commitment), ``gap_game`` =
whether the gap exceeds ``--gap-threshold`` (default 0.05, 5% of the payoff
range), ``normalized_score`` = (return - nash) / gap on gap games (NaN on the
others), ``loss_vs_se`` = se_value - return, ``target_rate`` = share of scored
rounds in which the follower played the SE column, ``intervention_cost`` = 0
(a commitment costs the leader nothing beyond its payoff).

**The score** is the share of the Nash-to-SE gap over gap games only: per seed,
``sum(return - nash) / sum(se - nash)`` over that seed's gap games (a mean
with a 95% interval over seeds), pooled over all seeds' gap games, and the mean
of the per-game shares. Games without a gap (about two thirds of random games,
where committing is worth nothing) are reported apart, as the loss vs the SE
value. The run's verdict on MERMAIDE: 1-shot share >= 0.95 on the
in-distribution gap games, pooled and as the per-seed mean, and its paired
difference to ``wm_only`` at 1 shot (per-seed shares).

Noise study: for observation noise ``p`` in ``--noise`` the leaders in
``--noise-principals`` play ``--noise-shots`` adaptation episodes and a scored
episode on held-out games; the learning curve over those rounds (per round,
the share of the gap over gap games) gives the rounds needed to reach 90% of
the gap (trailing mean of 5 rounds) and the adaptation episodes needed (the
first K whose scored episode reaches 90%).

Run ``python -m scenarios.stackelberg --help``. The seeds and shots take the
shared defaults of every scenario (5 seeds, K = 0 and 1); the reported run, with
ten seeds and the K-shot curve K = 0..3, is::

    python -m scenarios.stackelberg --seeds 10 --shots 0,1,2,3 --out RUN

The shipped checkpoints
(``scenarios/checkpoints/stackelberg``) are reproduced by::

    python -m policies.train --scenario stackelberg --variant all --threads 1 --seed 0
        --out scenarios/checkpoints/stackelberg

and their settings were chosen on the validation pool by ``python -m
policies.tune --scenario stackelberg --lrs 0.003 --steps 0.1,0.3,1.0``
(``tuning.json`` beside them) and by the comparisons listed in
``scenarios._stackelberg_games.TRAIN_CONFIGS``.
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
import torch
from tqdm import tqdm

from policies import make_principal
from policies.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from policies.learned import LearnedPrincipal
from policies.mermaide import VARIANTS
from policies.training import evaluate_kshot, meta_train
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
    train_config,
    validation_pool,
)

__all__ = [
    "ALL_PRINCIPALS",
    "CHECKPOINT_DIR",
    "Args",
    "acceptance",
    "evaluate",
    "gap_share",
    "main",
    "no_gap_loss",
    "rounds_to_target",
    "run",
]

SCENARIO = "stackelberg"
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints" / SCENARIO
ALL_PRINCIPALS = ("stackelberg", "nash", "probing", "model_free", "meta_only", "wm_only", "mermaide")
DEFAULT_PRINCIPALS = ("stackelberg", "nash", "probing", "wm_only", "mermaide")
"""The default comparison. The policy-gradient leaders (model_free, meta_only) are left out: on this game
their validation learning curves stay at the level of a uniformly random commitment (see the report's
learning curves); they can still be run with ``--principals``."""
TASK_KEYS = ("study", "seed", "setting", "follower", "noise", "principal")
"""The result columns that identify an evaluation task (what ``--resume`` skips)."""
TARGET_SHARE = 0.9
SMOOTH = 5
ACCEPT_SHARE = 0.95


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
        help="tiny budget for smoke tests (1 seed, 6 games, 1 setting, shots 0 and 1; noise study only for "
        "--principals, p = 0, 0.4)",
    )
    principals: list[str] = option(
        default_factory=lambda: list(DEFAULT_PRINCIPALS),
        help=f"principals to compare (available: {', '.join(ALL_PRINCIPALS)}; the policy-gradient leaders model_free "
        "and meta_only do not learn this game and are left out by default)",
    )
    learner: str | None = option(
        None, help="evaluation follower: best_response, fictitious_play, bandit or a simulator learner spec"
    )
    followers: list[str] = option(
        default_factory=lambda: ["best_response"], help="evaluation followers (ignored with --learner)"
    )
    settings: list[str] = option(
        default_factory=lambda: list(TEST_SETTINGS), help="held-out game settings", choices=tuple(TEST_SETTINGS)
    )
    games: int = option(60, help="held-out games per setting and seed (about a third have a gap)", low=1)
    gap_threshold: float = option(
        0.05, help="games whose SE value exceeds the Nash value by more than this are scored by gap share", low=0.0
    )
    main_noise: float = option(0.0, help="observation noise of the main comparison", low=0.0, high=1.0)
    noise: list[float] = option(
        default_factory=lambda: [0.0, 0.1, 0.2, 0.4], help="observation noise levels of the noise study", low=0, high=1
    )
    noise_principals: list[str] = option(
        default_factory=lambda: ["mermaide", "probing"], help="principals of the noise study (empty: skip it)"
    )
    noise_shots: int = option(2, help="noise study: adaptation episodes before the last scored one", low=0, high=20)
    noise_games: int = option(60, help="noise study: held-out games per seed", low=1)
    stackelberg_margin: float = option(1e-3, help="the stackelberg leader's distance inside the region", low=0.0)
    probing_tol: float = option(2e-3, help="the prober's search precision", low=0.0, low_open=True, high=0.5)
    principal_seed: int | None = option(
        None, help="seed of the leaders' own random numbers (default: the evaluation seed)", low=0
    )
    checkpoints: str | None = option(None, help="folder of trained leaders (default: the shipped ones)")
    retrain: bool = option(
        False, help="train the learned leaders (their tuned settings) into the run folder before evaluating"
    )
    setup: GameSetup = option(default_factory=GameSetup, help="the game, its family and the training followers")

    def check(self) -> None:
        """Cross-field checks."""
        super().check()
        for p in [*self.principals, *self.noise_principals]:
            if p not in ALL_PRINCIPALS and ":" not in p:
                raise ValueError(f"principals: unknown {p!r}; available: {', '.join(ALL_PRINCIPALS)}")
        bad = [f for f in self.followers if f not in FOLLOWER_KINDS]
        if bad and self.learner is None:
            raise ValueError(f"followers: unknown {bad[0]!r}; available: {', '.join(FOLLOWER_KINDS)}")
        self.setup.check()


# ------------------------------------------------------------ principals
def checkpoint_path(folder: str | Path, variant: str) -> Path:
    """Where the checkpoint of a variant lives."""
    return Path(folder) / f"{variant}.pt"


def load_learned(name: str, path: Path, setup: GameSetup, seed: int) -> LearnedPrincipal:
    """A learned leader from its checkpoint, checked against this run's game (one line if it does not fit)."""
    hint = (
        f"train it with: python -m policies.train --scenario {SCENARIO} --variant {name} --out {path.parent} "
        "(the default game), or run with --retrain"
    )
    try:
        principal = make_principal(name, checkpoint=path, seed=seed)
    except CheckpointError as exc:
        raise ConfigError(f"{name}: {exc}; {hint}") from None
    trained, now = principal.net.spec, setup.net_spec()
    for field_name in ("n_actions", "action_dim", "horizon", "reward", "context_dim", "actions"):
        if getattr(trained, field_name) != getattr(now, field_name):
            shown = "levels" if field_name == "actions" else field_name
            raise ConfigError(
                f"{name}: the checkpoint {path} was trained for another game ({shown}: "
                f"n_leader x n_follower = {trained.action_dim} x {trained.n_actions}, horizon {trained.horizon}, "
                f"{trained.n_choices} commitments; this run: {now.action_dim} x {now.n_actions}, horizon "
                f"{now.horizon}, {now.n_choices}); {hint}"
            )
    return principal


def train_variant(setup: GameSetup, variant: str, seed: int, path: Path, *, quick: bool, progress: bool) -> float:
    """Train one learned leader with its tuned settings on ``setup``'s family; save it; return the seconds."""
    cfg = train_config(variant)
    if quick:
        cfg = dataclasses.replace(cfg, iterations=2, tasks_per_batch=2, eval_every=1)
    bar = tqdm(total=cfg.iterations, desc=f"train {variant}", disable=not progress)

    def report(it: int, log: dict[str, float]) -> None:
        bar.update(1)

    started = time.time()
    net, logs = meta_train(StackelbergProblem(setup), cfg, seed, progress=report)
    bar.close()
    secs = time.time() - started
    save_checkpoint(path, net, cfg, problem=SCENARIO, extra={"seed": int(seed), "logs": logs})
    return secs


def _principal_seed(args: Args, seed: int, name: str) -> int:
    base = args.principal_seed if args.principal_seed is not None else seed
    return int(np.random.SeedSequence([base, zlib.crc32(name.encode())]).generate_state(1)[0])


def _factory(name: str, args: Args, seed: int) -> Callable[[], Any]:
    pseed = _principal_seed(args, seed, name)
    if name == "stackelberg":
        return lambda: make_principal("stackelberg", margin=args.stackelberg_margin)
    if name == "probing":
        return lambda: make_principal("probing", tol=args.probing_tol, seed=pseed)
    return lambda: make_principal(name)


# ------------------------------------------------------------ evaluation
def _env(games: list[Game], follower: Any, noise: float, setup: GameSetup, key: Sequence[int]) -> StackelbergEnv:
    return StackelbergEnv(games, [follower] * len(games), noise, [(*key, i) for i in range(len(games))], setup.horizon)


def _rows(
    name: str,
    k: int,
    games: list[Game],
    payoff: np.ndarray,
    true_actions: np.ndarray,
    spent: np.ndarray,
    threshold: float,
) -> list[dict[str, Any]]:
    """Per-game result rows of one scored episode (payoff, true_actions: (games, T))."""
    rows = []
    ret = payoff.mean(1)
    for g, game in enumerate(games):
        gap = game.gap
        gap_game = bool(gap > threshold)
        rows.append(
            {
                "principal": name,
                "shots": k,
                "principal_return": float(ret[g]),
                "intervention_cost": 0.0,
                "adaptation_cost": float(spent[g]),
                "target_rate": float((true_actions[g] == game.se_column).mean()),
                "se_value": float(game.se_value),
                "nash_value": float(game.nash_value),
                "gap": float(gap),
                "gap_game": gap_game,
                "normalized_score": float((ret[g] - game.nash_value) / gap) if gap_game else float("nan"),
                "loss_vs_se": float(game.se_value - ret[g]),
                "game": game.game_id,
                "rho": game.rho,
            }
        )
    return rows


def evaluate(
    name: str,
    games: list[Game],
    follower: Any,
    noise: float,
    shots: Sequence[int],
    seed: int,
    args: Args,
    checkpoints: Path,
) -> tuple[list[dict[str, Any]], list[np.ndarray], dict[int, np.ndarray]]:
    """Score one principal on a batch of games for every K in ``shots``.

    The followers of an episode depend on (seed, K, episode kind, game) only, so
    every principal meets the same followers (common random numbers); the
    principal's own random numbers come from (principal seed, name).

    Returns:
        Per-game result rows, the adaptation episodes' payoffs (games, T) in order, and the
        scored episodes' payoffs per K.
    """
    setup = args.setup
    se = np.array([g.se_value for g in games])
    env_key = (seed, 0 if noise == args.main_noise else 1)

    def make_env(kind: str, k: int) -> StackelbergEnv:
        return _env(games, follower, noise, setup, (*env_key, k if kind == "adapt" else 0, kind == "adapt"))

    rows: list[dict[str, Any]] = []
    scored: dict[int, np.ndarray] = {}
    adapt_payoffs: list[np.ndarray] = []
    if name in VARIANTS:
        principal = load_learned(name, checkpoint_path(checkpoints, name), setup, seed)
        gen = torch.Generator().manual_seed(_principal_seed(args, seed, name))
        out = evaluate_kshot(principal.net, principal.cfg, make_env, len(games), 1, list(shots), gen)
        for k in sorted(out):
            env, _, adapt_envs = out[k]
            adapt_payoffs = [np.stack(a.payoffs, 1) for a in adapt_envs]
            spent = sum(((se[:, None] - p).sum(1) / setup.horizon for p in adapt_payoffs), np.zeros(len(games)))
            scored[k] = np.stack(env.payoffs, 1)
            rows += _rows(name, k, games, scored[k], np.stack(env.true_actions, 1), spent, args.gap_threshold)
        return rows, adapt_payoffs, scored
    principal = _factory(name, args, seed)()
    adaptive = callable(getattr(principal, "adapt", None))
    rng = np.random.default_rng([seed, 99])
    spent = np.zeros(len(games))
    episodes: list[Any] = []
    if adaptive:
        principal.rows = len(games)
        principal.reset_adaptation()
    for k in range(max(shots) + 1):
        if k > 0 and adaptive:  # one more adaptation episode with a fresh follower, exploring
            principal.adapt(list(episodes))
            principal.explore = True
            rec = play_episode(principal, make_env("adapt", k), rng)
            principal.explore = False
            episodes.append(principal.episode())
            principal.adapt(list(episodes))
            adapt_payoffs.append(rec.payoff)
            spent += (se[:, None] - rec.payoff).sum(1) / setup.horizon
        if k not in shots:
            continue
        rec = play_episode(principal, make_env("score", k), rng)
        scored[k] = rec.payoff
        rows += _rows(name, k, games, rec.payoff, rec.true_actions, spent, args.gap_threshold)
    return rows, adapt_payoffs, scored


def gap_share(df: pd.DataFrame, by: list[str], *, per_seed: bool = True) -> pd.DataFrame:
    """Share of the Nash-to-SE gap over gap games: sum(return - nash) / sum(se - nash), per group and seed.

    Only games with ``gap_game`` count (the threshold is the run's ``--gap-threshold``);
    ``gap_games`` says how many. With ``per_seed=False`` the gap games of all seeds are
    pooled (one share per group). Groups without a gap game are left out.
    """
    g = df[df.gap_game.astype(bool)]
    g = g.assign(_num=g.principal_return - g.nash_value, _den=g.se_value - g.nash_value)
    keys = [*by, "seed"] if per_seed else list(by)
    out = g.groupby(keys, sort=False).agg(_num=("_num", "sum"), _den=("_den", "sum"), gap_games=("_den", "size"))
    out = out.reset_index()
    out["gap_share"] = out._num / out._den
    return out.drop(columns=["_num", "_den"])


def no_gap_loss(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean loss vs the SE value (se - return) over the games without a gap, per group and seed."""
    g = df[~df.gap_game.astype(bool)]
    out = g.groupby([*by, "seed"], sort=False).agg(loss_vs_se=("loss_vs_se", "mean"), games=("loss_vs_se", "size"))
    return out.reset_index()


def _curve(payoffs: list[np.ndarray], games: list[Game], threshold: float) -> np.ndarray:
    """Per-round share of the Nash-to-SE gap over the gap games, along a sequence of episodes."""
    seq = np.concatenate(payoffs, axis=1)
    gap = np.array([g.gap for g in games])
    nash = np.array([g.nash_value for g in games])
    sel = gap > threshold
    if not sel.any():
        return np.full(seq.shape[1], np.nan)
    return (seq[sel] - nash[sel, None]).sum(0) / gap[sel].sum()


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


def resolve(args: Args) -> Args:
    """The settings a run actually uses (``--quick`` shrinks the budget)."""
    if not args.quick:
        return args
    return dataclasses.replace(
        args,
        seeds=1,
        games=6,
        shots=[k for k in args.shots if k <= 1] or [0],
        settings=args.settings[:1],
        noise=[0.0, 0.4],
        noise_shots=1,
        noise_games=6,
        noise_principals=[p for p in args.noise_principals if p in args.principals],
    )


def run(args: Args) -> Path:
    """Run the comparison and the noise study; write the run folder; return its path."""
    from analysis.runs import default_out_dir

    check_backend(args.backend)  # Ray installed? (before any folder is made)
    if args.resume and not args.out:
        raise ConfigError("resume: give --out, the run folder to continue")
    args = resolve(args)
    setup = args.setup
    learned_names = [p for p in dict.fromkeys([*args.principals, *args.noise_principals]) if p in VARIANTS]
    out = Path(args.out) if args.out else default_out_dir(SCENARIO)
    followers = [args.learner] if args.learner else list(args.followers)
    cfg_dict = to_dict(args)
    cfg_dict.pop("resume", None)
    seeds = args.seed_list
    started = time.time()
    folder = Path(args.checkpoints) if args.checkpoints else CHECKPOINT_DIR
    if not args.retrain:  # refuse a checkpoint that does not fit before any work
        for name in learned_names:
            load_learned(name, checkpoint_path(folder, name), setup, args.seed)
    with open_run_folder(out, scenario=SCENARIO, config=cfg_dict, seeds=seeds, resume=args.resume) as rf:
        train_seconds: dict[str, float] = {}
        if args.retrain:
            folder = rf.path("checkpoints")
            folder.mkdir(parents=True, exist_ok=True)
            for name in learned_names:
                path = checkpoint_path(folder, name)
                if not (args.resume and path.exists()):  # trained before an interruption: keep it
                    train_seconds[name] = train_variant(
                        setup, name, args.seed, path, quick=args.quick, progress=args.progress
                    )
        tasks = [
            _Task(args, str(folder), "main", seed, setting, fname, args.main_noise, name)
            for seed in seeds
            for setting in args.settings
            for fname in followers
            for name in args.principals
        ]
        tasks += [
            _Task(args, str(folder), "noise", seed, "in_distribution", "best_response", p_noise, name)
            for seed in seeds
            if args.noise_principals
            for p_noise in args.noise
            for name in args.noise_principals
        ]
        store = TaskStore(rf, TASK_KEYS, resume=args.resume)
        todo = [t for t in tasks if not store.is_done(t.key)]
        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="evaluate", disable=not args.progress)

        def on_result(i: int, res: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
            store.add(todo[i].key, res[0], pd.DataFrame(res[1]))
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
        curves = learning_curves(folder, list(VARIANTS))
        if not curves.empty:
            rf.write_text("learning_curves.csv", curves.to_csv(index=False))
        summary = write_report(rf, results_df, rounds_df, noise_df, curves, args, time.time() - started, train_seconds)
        print(summary, file=sys.stdout)
    return out


@dataclass
class _Task:
    """One evaluation task: a principal on one seed's games of a setting, with one follower and noise level."""

    args: Args
    checkpoints: str
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


_GAMES: dict[tuple[str, str, int, int], list[Game]] = {}


def _held_out_games(setup: GameSetup, setting: str, n: int, seed: int) -> list[Game]:
    """The test games of a setting and seed, kept in this process.

    Their benchmarks (the SE and Nash values) are then computed once for all the principals evaluated on them.
    """
    key = (repr(dataclasses.asdict(setup)), setting, int(n), int(seed))
    if key not in _GAMES:
        if len(_GAMES) >= 64:
            _GAMES.clear()
        _GAMES[key] = sample_games(setup, setting, n, seed)
    return _GAMES[key]


def _run_task(task: _Task) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Evaluate one task (a module-level function, so Ray workers can run it); returns (results, rounds) rows."""
    args, setup = task.args, task.args.setup
    if task.study == "main":
        games = _held_out_games(setup, task.setting, args.games, task.seed)
        shots = list(args.shots)
    else:  # the noise study's own held-out games
        games = _held_out_games(setup, "in_distribution", args.noise_games, 10_000 + task.seed)
        shots = list(range(args.noise_shots + 1))
    follower = evaluation_follower(setup, task.follower)
    rows, adapt, scored = evaluate(
        task.principal, games, follower, task.noise, shots, task.seed, args, Path(task.checkpoints)
    )
    meta = {
        "study": task.study,
        "seed": task.seed,
        "setting": task.setting,
        "follower": follower.label,
        "noise": task.noise,
    }
    rounds = _round_rows(meta, task.principal, games, adapt, scored, args.gap_threshold)
    return [{"scenario": SCENARIO, **meta, **r} for r in rows], rounds


def _round_rows(
    meta: dict[str, Any],
    name: str,
    games: list[Game],
    adapt: list[np.ndarray],
    scored: dict[int, np.ndarray],
    threshold: float,
) -> list[dict[str, Any]]:
    """Per-round series (aggregated over games): the adaptation episodes, then each scored episode."""
    out = []
    horizon = next(iter(scored.values())).shape[1] if scored else 0
    for k, pay in scored.items():
        seq = [*adapt[:k], pay]
        curve = _curve(seq, games, threshold)
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


def learning_curves(folder: Path, names: list[str]) -> pd.DataFrame:
    """The validation learning curves stored in the learned leaders' checkpoints (val/return vs env steps)."""
    rows = []
    for name in names:
        path = checkpoint_path(folder, name)
        if not path.exists():
            continue
        with contextlib.suppress(CheckpointError):
            for log in load_checkpoint(path).get("logs") or []:
                value = log.get("val/return", log.get("val/return_final"))
                if value is not None:
                    rows.append({"principal": name, "env_steps": log.get("env_steps"), "val_return": value})
    return pd.DataFrame(rows)


# ------------------------------------------------------------ verdicts
def acceptance(results: pd.DataFrame) -> dict[str, Any] | None:
    """MERMAIDE's share of the gap on held-out in-distribution gap games (best response, main study).

    Returns per K the per-seed shares' mean and t-interval (``out["per_seed"][k]``), the share over all
    gap games of all seeds (``out["pooled"][k]``) and the mean of the per-game shares
    (``out["per_game"][k]``); ``out["vs_wm_only"]`` is the paired difference of the per-seed 1-shot shares
    to wm_only (None without wm_only). ``met`` applies the target: 1-shot >= 0.95, pooled and per-seed mean.
    """
    from analysis.stats import mean_ci, paired_difference

    main = results[(results.study == "main") & (results.setting == "in_distribution")]
    main = main[main.follower == "best_response"]
    mer = main[main.principal == "mermaide"]
    if mer.empty or 1 not in set(mer.shots) or not mer.gap_game.astype(bool).any():
        return None
    share = gap_share(mer, ["shots"])
    pooled = gap_share(mer, ["shots"], per_seed=False).set_index("shots").gap_share
    out: dict[str, Any] = {"per_seed": {}, "pooled": {}, "per_game": {}}
    for k in sorted(set(share.shots)):
        vals = share[share.shots == k].gap_share.to_numpy(float)
        out["per_seed"][k] = mean_ci(vals, method="t")
        out["pooled"][k] = float(pooled[k])
        out["per_game"][k] = float(mer[(mer.shots == k) & mer.gap_game.astype(bool)].normalized_score.mean())
    out["gap_games"] = int((mer.shots == 1).sum() and mer[(mer.shots == 1)].gap_game.astype(bool).sum())
    out["games"] = int((mer.shots == 1).sum())
    out["vs_wm_only"] = None
    wm = main[(main.principal == "wm_only") & (main.shots == 1)]
    if not wm.empty and wm.gap_game.astype(bool).any():
        a = share[share.shots == 1].set_index("seed").gap_share
        b = gap_share(wm, ["shots"]).set_index("seed").gap_share
        if len(a.index.intersection(b.index)) >= 1:
            out["vs_wm_only"] = paired_difference(a, b)
    c1 = out["per_seed"][1]
    out["met"] = bool(out["pooled"][1] >= ACCEPT_SHARE and c1.mean >= ACCEPT_SHARE)
    return out


def _sentence_acceptance(acc: dict[str, Any]) -> str:
    c1 = acc["per_seed"][1]
    ci = f" (95% CI {c1.low:.3f} to {c1.high:.3f})" if c1.has_interval else ""
    parts = [
        f"MERMAIDE 1-shot against best-responding followers on held-out in-distribution games, over the "
        f"{acc['gap_games']} of {acc['games']} games whose gap exceeds the threshold: share of the Nash-to-SE gap "
        f"{acc['pooled'][1]:.3f} pooled, {c1.mean:.3f} as the mean over {c1.n} seeds{ci}, "
        f"{acc['per_game'][1]:.3f} as the mean per game"
    ]
    if 0 in acc["pooled"]:
        parts.append(f"(0-shot: {acc['pooled'][0]:.3f} pooled)")
    text = (
        " ".join(parts)
        + f"; the target (>= {ACCEPT_SHARE} pooled and per-seed mean) is "
        + ("met." if acc["met"] else "not met.")
    )
    d = acc.get("vs_wm_only")
    if d is not None:
        if d.ci.has_interval:
            side = "above" if d.ci.low > 0 else ("below" if d.ci.high < 0 else "not distinguishable from")
            text += (
                f" Paired difference to wm_only at 1 shot (per-seed shares): {d.mean:+.3f} "
                f"(95% CI {d.ci.low:+.3f} to {d.ci.high:+.3f}, n = {d.n}): MERMAIDE is {side} wm_only."
            )
        else:
            text += f" Difference to wm_only at 1 shot: {d.mean:+.3f} (one seed, no interval)."
    return text


def noise_trend(noise_df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per principal: mean rounds to 90% (censored) per noise level and whether it grows with the noise."""
    out: dict[str, dict[str, Any]] = {}
    if noise_df.empty:
        return out
    for name, grp in noise_df.groupby("principal", sort=False):
        means = grp.groupby("noise").rounds_to_90_censored.mean().sort_index()
        vals = means.to_numpy(float)
        grows = bool(len(vals) > 1 and np.all(np.diff(vals) >= 0) and vals[-1] > vals[0])
        final = grp.groupby("noise").final_gap_share.mean().sort_index()
        out[str(name)] = {
            "means": means,
            "grows": grows,
            "reached": grp.groupby("noise").reached.mean(),
            "never": not bool(grp.reached.any()),  # every value censored: rounds say nothing about the noise
            "final": final,
        }
    return out


# ------------------------------------------------------------ report
def validation_references(setup: GameSetup, curves: pd.DataFrame) -> str:
    """A sentence placing the validation learning curves between the pool's Nash and SE returns per episode."""
    pool = validation_pool(setup)
    se = float(np.mean([g.se_value for g in pool])) * setup.horizon
    nash = float(np.mean([g.nash_value for g in pool])) * setup.horizon
    parts = []
    for name, grp in curves.groupby("principal", sort=False):
        vals = grp.sort_values("env_steps").val_return.to_numpy(float)
        if len(vals):
            parts.append(f"{name} {vals[0]:.2f} at the start, {vals[-1]:.2f} at the end")
    return (
        f"Reference returns per episode on the validation pool ({len(pool)} games, all of them, with and without "
        f"a gap): the exact SE commitment {se:.2f}, the leader-best Nash commitment {nash:.2f}. "
        f"Validation return: {'; '.join(parts)}."
    )


def _summary(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Gap share (gap games) and loss vs SE (no-gap games): mean and 95% CI over seeds."""
    from analysis.stats import summarize

    share = gap_share(results, by)
    frames = []
    if not share.empty:
        frames.append(summarize(share, by=by, metrics=["gap_share"], method="t"))
    loss = no_gap_loss(results, by)
    if not loss.empty:
        frames.append(summarize(loss, by=by, metrics=["loss_vs_se"], method="t"))
    metrics = ["principal_return", "target_rate", "adaptation_cost"]
    per_seed = results.groupby([*by, "seed"], sort=False)[metrics].mean().reset_index()
    frames.append(summarize(per_seed, by=by, metrics=metrics, method="t"))
    return pd.concat(frames, ignore_index=True)


def write_report(
    rf: Any,
    results: pd.DataFrame,
    rounds: pd.DataFrame,
    noise_df: pd.DataFrame,
    curves: pd.DataFrame,
    args: Args,
    seconds: float,
    train_seconds: dict[str, float],
) -> str:
    """Render report.html / report.md with tables, figures and computed statements; return the terminal summary."""
    from analysis.plots import curves_ci, curves_panels
    from analysis.report import Report, format_summary
    from analysis.stats import summarize

    lines: list[str] = []
    rep = Report("stackelberg: committing against a learning follower", records=rf.record)
    main = results[results.study == "main"]
    n_seeds = results.seed.nunique()
    s = args.setup
    rep.paragraph(
        f"{main.principal.nunique()} leaders, {n_seeds} seed(s), {args.games} held-out games per setting and seed "
        f"({s.n_leader} x {s.n_follower}, horizon {s.horizon}), settings {sorted(set(main.setting))}, followers "
        f"{sorted(set(main.follower))}, observation noise {args.main_noise}, shots {sorted(set(main.shots))}; ran in "
        f"{seconds:.0f} s. Gap share = sum(return - Nash value) / sum(SE value - Nash value) over the games whose "
        f"gap exceeds {args.gap_threshold:g} (1 = the exact Stackelberg value, 0 = the leader-best Nash value); "
        "games without a gap are reported apart, as the loss vs the SE value; means and 95% t-intervals over seeds."
        + (f" Trained here: {', '.join(f'{k} {v:.0f} s' for k, v in train_seconds.items())}." if train_seconds else "")
    )
    rep.paragraph(
        f"Game family: the follower's payoffs are F = rho L + sqrt(1 - rho^2) N with training rho in "
        f"[{s.rho_low:g}, {s.rho_high:g}] (conflicting interests: the leader's own payoffs predict the follower's); "
        "in_distribution test games come from the same family (fresh games), common_interest games have rho in "
        "[0.3, 0.9] (the learned prior points the wrong way). The learned leaders commit on a grid of "
        f"{s.levels} commitments; their step sizes were chosen on a separate validation pool (the planner's settings, "
        "one-round lookahead without a terminal value, are fixed, not searched)."
    )
    acc = acceptance(results)
    if acc is not None:
        text = _sentence_acceptance(acc)
        rep.paragraph(text)
        lines.append(text)
    trend = noise_trend(noise_df)
    for name, info in trend.items():
        pairs = ", ".join(f"p={p:g}: {v:.1f}" for p, v in info["means"].items())
        finals = ", ".join(f"p={p:g}: {v:.2f}" for p, v in info["final"].items())
        if info["never"]:
            text = (
                f"Noise study, {name}: never reaches 90% of the Nash-to-SE gap at any noise level (so the rounds "
                f"needed cannot show a trend); gap share of the last scored episode {finals}."
            )
        else:
            text = (
                f"Noise study, {name}: mean rounds to 90% of the Nash-to-SE gap (censored at one past the curve "
                f"when never reached) {pairs}; it {'grows' if info['grows'] else 'does not grow'} with the noise. "
                f"Gap share of the last scored episode {finals}."
            )
        rep.paragraph(text)
        lines.append(text)

    if not main.empty:
        s_main = _summary(main, ["setting", "follower", "principal", "shots"])
        rep.heading("Share of the Nash-to-SE gap (gap games)", 2)
        share_tab = s_main[s_main.metric == "gap_share"]
        pooled = gap_share(main, ["setting", "follower", "principal", "shots"], per_seed=False)
        if share_tab.empty:
            lines.append(f"Gap share: no evaluated game has a gap above {args.gap_threshold:g}.")
        else:
            rep.table(format_summary(share_tab), caption="gap share per seed: mean and 95% CI over seeds")
            rep.table(pooled, caption="gap share pooled over all seeds' gap games (gap_games: how many)")
            table = share_tab[["setting", "principal", "shots", "mean", "low", "high", "n"]].merge(
                pooled[["setting", "principal", "shots", "gap_share", "gap_games"]].rename(
                    columns={"gap_share": "pooled"}
                ),
                on=["setting", "principal", "shots"],
            )
            lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            ks = gap_share(main, ["setting", "follower", "principal", "shots"])
            fig = curves_panels(
                ks,
                x="shots",
                y="gap_share",
                panel="setting",
                x_unit="adaptation episodes",
                y_unit="share of gap",
                title="K-shot curve: share of the Nash-to-SE gap on gap games (mean, 95% CI over seeds)",
            )
            rep.figure(fig, caption="K-shot curves per held-out setting", name="kshot_gap_share")
        rep.heading("Games without a gap: loss vs the SE value", 2)
        loss_tab = s_main[s_main.metric == "loss_vs_se"]
        if not loss_tab.empty:
            rep.table(format_summary(loss_tab), caption="SE value - return per round, mean over no-gap games")
        rep.heading("Returns, target rate, adaptation cost (all games)", 2)
        rep.table(
            format_summary(s_main[s_main.metric.isin(["principal_return", "target_rate", "adaptation_cost"])]),
            caption="per round of the scored episode",
        )
    if not curves.empty:
        rep.heading("Learning curves of the learned leaders", 2)
        fig = curves_ci(
            curves.assign(seed=0),
            x="env_steps",
            y="val_return",
            hue="principal",
            x_unit="environment steps",
            y_unit="return per episode",
            title="Validation learning curves (validation pool, no exploring)",
        )
        rep.figure(fig, caption="val/return vs environment steps, every variant", name="learning_curves")
        rep.paragraph(validation_references(args.setup, curves))
    if not noise_df.empty:
        rep.heading("Observation noise: rounds needed to reach 90% of the gap", 2)
        nt = summarize(
            noise_df,
            by=["principal", "noise"],
            metrics=["rounds_to_90_censored", "shots_to_90", "final_gap_share"],
            method="t",
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
        lines.append(
            nt[nt.metric.isin(["rounds_to_90_censored", "final_gap_share"])][
                ["principal", "noise", "metric", "mean", "low", "high", "n"]
            ].to_string(index=False, float_format=lambda v: f"{v:.2f}")
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
    r = rounds[(rounds.study == "main") & (rounds.setting == "in_distribution")] if not rounds.empty else rounds
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
        "The leader knows its own payoffs, not the follower's payoffs or learning rule; it sees the follower's "
        "action (replaced by a random one with the noise probability), never its payoff. The stackelberg and nash "
        "leaders know both matrices (benchmarks). The stackelberg leader commits a small margin inside the "
        "follower's region so that an argmax follower plays the SE column; the SE value itself assumes ties broken "
        "for the leader, so no leader exceeds it against a best-responding follower. intervention_cost is 0 (a "
        "commitment costs nothing beyond its payoff); adaptation_cost is the adaptation episodes' summed shortfall "
        "from the SE value, in per-round units (sum over rounds / horizon). Held-out games come from other random "
        "streams than the training and validation games."
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
        "gap",
        "gap_game",
        "normalized_score",
        "loss_vs_se",
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
