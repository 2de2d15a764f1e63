"""Games, followers and the repeated-game environment of the stackelberg scenario.

Kept apart from the runnable scenario so that tests and training code can build
the task distribution without the CLI. See ``scenarios/stackelberg.py`` for the
protocol and the reports.

**Game distribution** (fields of :class:`GameSetup`): the leader's payoffs ``L``
(m x n, default 3 x 3) have entries uniform in [0, 1]; the follower's are
``F = rho L + sqrt(1 - rho^2) N`` with ``N`` an independent uniform [0, 1]
matrix, so that ``corr(L_ij, F_ij) = rho`` exactly. Training games draw
``rho ~ U[-0.5, 0.5]``; held-out test games come from other random streams,
``in_distribution`` with the training range of ``rho`` and ``ood_correlation``
with ``|rho| ~ U[0.6, 0.9]`` (random sign: common-interest and nearly
zero-sum games, outside the training range); ``validation`` games (training
range, a stream of their own) are for choosing settings during development,
so that the test games are never used for tuning. A game of another size needs its
own training (checkpoints refuse it).

**Followers** (the simulator's learners; each row of the environment is one
game with one follower, built from its own random stream):

* ``best_response``: ``simulator``'s ``best_response`` learner with the expected
  payoffs under the commitment, ``p @ F``, as posted offsets: it plays
  ``argmax_j (p @ F)_j`` (random tie-breaking; with ``temperature`` > 0 a logit
  choice). The default, and the follower of the acceptance check.
* ``fictitious_play``: the same learner responding to the leader's *empirical*
  strategy instead of the current commitment (greedy on the empirical mix of
  the leader's realised actions, ``observes = "realized"``, or of its
  announced commitments, ``"commitment"``; ``prior_weight`` uniform
  pseudo-rounds).
* ``bandit``: a simulator bandit learner over its columns (default
  ``epsilon_greedy``) that does not see the commitment; its reward for column
  ``j`` is the expected payoff under the commitment ``p @ F[:, j]``
  (``observes = "commitment"``) or the realised ``F[i, j]`` (``"realized"``).
* any other learner spec (``--learner mypkg.mod:Class``): used as a bandit
  follower.

Training mixes them (default 50% best response, 25% fictitious play, 25%
epsilon-greedy with epsilon ~ U[0.05, 0.2]) and draws the observation noise of
each task from ``train_noise``.

**Environment**: :class:`StackelbergEnv` steps a batch of rows. Each round the
leader's realised action is drawn from its commitment, the follower chooses,
the leader gets ``p @ L[:, j]`` (expected over its own mixing: the leader's
payoff metric carries no sampling noise of its own), and the leader observes
``j``, replaced by a uniformly random column with probability ``noise`` (and its
own realised action). Its payoff is not revealed separately, since it would
reveal ``j``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policies.stackelberg import nash_value, solve_stackelberg
from policies.stackelberg_principals import LeaderObservation, LeaderSpec, LeaderStep, strict_commitment
from simulator import PrincipalSpec, make_learner
from simulator.config import option

__all__ = [
    "FOLLOWER_KINDS",
    "TEST_SETTINGS",
    "Follower",
    "Game",
    "GameSetup",
    "StackelbergEnv",
    "StackelbergProblem",
    "Task",
    "draw_game",
    "evaluation_follower",
    "play_episode",
    "sample_games",
    "training_followers",
]

FOLLOWER_KINDS = ("best_response", "fictitious_play", "bandit")
TEST_SETTINGS = ("in_distribution", "ood_correlation")


@dataclass
class GameSetup:
    """The repeated game, its game distribution and the training followers (all config fields)."""

    n_leader: int = option(3, help="leader actions m (rows)", low=1, high=8)
    n_follower: int = option(3, help="follower actions n (columns)", low=2, high=8)
    horizon: int = option(30, help="rounds T per episode", low=2, high=10000)
    payoff_low: float = option(0.0, help="lowest payoff entry")
    payoff_high: float = option(1.0, help="highest payoff entry")
    rho_low: float = option(-0.5, help="training games: lowest correlation of F with L", low=-1.0, high=1.0)
    rho_high: float = option(0.5, help="training games: highest correlation of F with L", low=-1.0, high=1.0)
    ood_abs_rho_low: float = option(0.6, help="ood_correlation games: lowest |rho|", low=0.0, high=1.0)
    ood_abs_rho_high: float = option(0.9, help="ood_correlation games: highest |rho|", low=0.0, high=1.0)
    br_temperature: float = option(0.0, help="best-response follower: logit noise (0 = exact argmax)", low=0.0)
    fp_prior_weight: float = option(1.0, help="fictitious play: uniform pseudo-rounds of its prior", low=0.0)
    fp_observes: str = option("realized", help="fictitious play: what it averages", choices=("realized", "commitment"))
    bandit_learner: str = option("epsilon_greedy", help="bandit follower: simulator learner spec")
    bandit_epsilon_low: float = option(0.05, help="bandit follower: lowest epsilon in training", low=0.0, high=1.0)
    bandit_epsilon_high: float = option(0.2, help="bandit follower: highest epsilon in training", low=0.0, high=1.0)
    bandit_epsilon: float = option(0.1, help="bandit follower: epsilon in evaluation", low=0.0, high=1.0)
    bandit_initial_value: float = option(0.5, help="bandit follower: prior mean of every column")
    bandit_observes: str = option(
        "commitment",
        help="bandit follower: reward = expected payoff or realised payoff",
        choices=("commitment", "realized"),
    )
    train_mix: dict[str, float] = option(
        default_factory=lambda: {"best_response": 0.5, "fictitious_play": 0.25, "bandit": 0.25},
        help="training followers: {kind: weight}",
    )
    train_noise: list[float] = option(
        default_factory=lambda: [0.0, 0.0, 0.1, 0.2, 0.4],
        help="observation noise levels drawn (uniformly from this list) for training tasks",
        low=0.0,
        high=1.0,
    )

    def check(self) -> None:
        """Cross-field checks."""
        if not self.payoff_low < self.payoff_high:
            raise ValueError("payoff_low must be < payoff_high")
        if not self.rho_low <= self.rho_high:
            raise ValueError("rho_low must be <= rho_high")
        if not self.ood_abs_rho_low <= self.ood_abs_rho_high:
            raise ValueError("ood_abs_rho_low must be <= ood_abs_rho_high")
        bad = [k for k in self.train_mix if k not in FOLLOWER_KINDS]
        if bad:
            raise ValueError(f"train_mix: unknown follower {bad[0]!r}; available: {', '.join(FOLLOWER_KINDS)}")
        if not self.train_mix or sum(self.train_mix.values()) <= 0 or min(self.train_mix.values()) < 0:
            raise ValueError("train_mix needs non-negative weights with a positive sum")
        if not self.train_noise:
            raise ValueError("train_noise needs at least one level")

    def leader_spec(self) -> LeaderSpec:
        """What a learned leader for this setup is built for."""
        return LeaderSpec(self.n_leader, self.n_follower, self.horizon, float(max(self.train_noise)))


@dataclass
class Game:
    """One bimatrix game with its benchmarks (computed once, on demand).

    Attributes:
        L: (m, n) leader payoffs.
        F: (m, n) follower payoffs.
        rho: the correlation it was drawn with.
        game_id: a readable identifier (setting, seed, index).
    """

    L: np.ndarray
    F: np.ndarray
    rho: float
    game_id: str
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def se_value(self) -> float:
        """The leader's strong Stackelberg value (Conitzer & Sandholm 2006 LP)."""
        if "se" not in self._cache:
            sol = solve_stackelberg(self.L, self.F)
            self._cache["se"] = sol.leader_value
            self._cache["se_column"] = sol.follower_action
        return self._cache["se"]

    @property
    def se_column(self) -> int:
        """The follower column the optimal commitment induces."""
        _ = self.se_value
        return self._cache["se_column"]

    @property
    def nash_value(self) -> float:
        """The leader's value at its best Nash equilibrium."""
        if "nash" not in self._cache:
            self._cache["nash"] = nash_value(self.L, self.F)
        return self._cache["nash"]

    def strict_value(self, margin: float = 1e-3) -> float:
        """The value of the optimal commitment moved ``margin`` inside its region."""
        key = f"strict{margin}"
        if key not in self._cache:
            self._cache[key] = strict_commitment(self.L, self.F, margin)[2]
        return self._cache[key]


def draw_game(setup: GameSetup, rho: float, rng: np.random.Generator, game_id: str) -> Game:
    """One game with correlation ``rho``: ``F = rho L + sqrt(1 - rho^2) N``."""
    shape = (setup.n_leader, setup.n_follower)
    L = rng.uniform(setup.payoff_low, setup.payoff_high, shape)
    N = rng.uniform(setup.payoff_low, setup.payoff_high, shape)
    F = rho * L + np.sqrt(max(1.0 - rho * rho, 0.0)) * N
    return Game(L=L, F=F, rho=float(rho), game_id=game_id)


def _draw_rho(setup: GameSetup, setting: str, rng: np.random.Generator) -> float:
    if setting in ("train", "in_distribution", "validation"):
        return float(rng.uniform(setup.rho_low, setup.rho_high))
    if setting == "ood_correlation":
        sign = 1.0 if rng.uniform() < 0.5 else -1.0
        return sign * float(rng.uniform(setup.ood_abs_rho_low, setup.ood_abs_rho_high))
    raise ValueError(f"unknown setting {setting!r}; available: train, {', '.join(TEST_SETTINGS)}")


def sample_games(setup: GameSetup, setting: str, n: int, seed: int) -> list[Game]:
    """``n`` games of a setting from the stream ``(seed, setting)``; test and training streams never overlap."""
    rng = np.random.default_rng([int(seed), zlib.crc32(setting.encode()), 101])
    return [draw_game(setup, _draw_rho(setup, setting, rng), rng, f"{setting}-s{seed}-g{i}") for i in range(n)]


@dataclass
class Follower:
    """A follower type: kind and parameters.

    Attributes:
        kind: ``best_response``, ``fictitious_play``, ``bandit`` or ``learner`` (any simulator learner spec).
        params: the learner's parameters (plus ``observes`` / ``prior_weight`` where they apply).
        spec: the simulator learner spec (``bandit`` and ``learner``).
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    spec: str = "best_response"

    @property
    def label(self) -> str:
        """Readable name."""
        if self.kind in ("bandit", "learner"):
            shown = {k: v for k, v in self.params.items() if k != "observes"}
            return f"{self.spec}{shown}" if shown else self.spec
        return self.kind


def evaluation_follower(setup: GameSetup, name: str) -> Follower:
    """The follower of an evaluation setting: a kind name, or a simulator learner spec (bandit-style)."""
    if name == "best_response":
        return Follower("best_response", {"temperature": setup.br_temperature})
    if name == "fictitious_play":
        return Follower("fictitious_play", {"prior_weight": setup.fp_prior_weight, "observes": setup.fp_observes})
    if name == "bandit":
        params: dict[str, Any] = {"initial_values": setup.bandit_initial_value, "observes": setup.bandit_observes}
        if setup.bandit_learner == "epsilon_greedy":
            params["epsilon"] = setup.bandit_epsilon
        return Follower("bandit", params, setup.bandit_learner)
    return Follower("learner", {"observes": "commitment"}, name)


def training_followers(setup: GameSetup, n: int, rng: np.random.Generator) -> list[Follower]:
    """``n`` followers from the training mix."""
    kinds = list(setup.train_mix)
    w = np.array([setup.train_mix[k] for k in kinds], dtype=float)
    picks = rng.choice(len(kinds), size=n, p=w / w.sum())
    out = []
    for i in picks:
        kind = kinds[int(i)]
        if kind == "best_response":
            out.append(Follower("best_response", {"temperature": setup.br_temperature}))
        elif kind == "fictitious_play":
            out.append(
                Follower("fictitious_play", {"prior_weight": setup.fp_prior_weight, "observes": setup.fp_observes})
            )
        else:
            params: dict[str, Any] = {"initial_values": setup.bandit_initial_value, "observes": setup.bandit_observes}
            if setup.bandit_learner == "epsilon_greedy":
                params["epsilon"] = float(rng.uniform(setup.bandit_epsilon_low, setup.bandit_epsilon_high))
            out.append(Follower("bandit", params, setup.bandit_learner))
    return out


class _Row:
    """One game with one follower, with its own random streams."""

    def __init__(self, game: Game, follower: Follower, noise: float, seed: Sequence[int]) -> None:
        self.game = game
        self.follower = follower
        self.noise = float(noise)
        self.rng = np.random.default_rng([*seed, 1])
        learner_rng = np.random.default_rng([*seed, 2])
        n = game.F.shape[1]
        params = {k: v for k, v in follower.params.items() if k not in ("observes", "prior_weight")}
        if follower.kind in ("best_response", "fictitious_play"):
            self.learner = make_learner("best_response", 1, n, rng=learner_rng, means=np.zeros(n), **params)
        else:
            self.learner = make_learner(follower.spec, 1, n, rng=learner_rng, **params)
        m = game.L.shape[0]
        self.prior_weight = float(follower.params.get("prior_weight", 1.0))
        self.seen = np.zeros(m)
        self.rounds = 0

    def step(self, p: np.ndarray) -> tuple[int, int, int]:
        """One round: (the leader's realised row, the follower's column, the observed column)."""
        g = self.game
        m, n = g.L.shape
        i = int(min(np.searchsorted(np.cumsum(p), self.rng.uniform(), side="right"), m - 1))
        kind = self.follower.kind
        observes = self.follower.params.get("observes", "commitment")
        if kind == "best_response":
            j = int(self.learner.act(p @ g.F)[0])
            self.learner.update(np.array([j]), np.zeros(1))
        elif kind == "fictitious_play":
            total = self.prior_weight + self.rounds
            belief = (self.prior_weight / m + self.seen) / total if total > 0 else np.full(m, 1.0 / m)
            j = int(self.learner.act(belief @ g.F)[0])
            self.learner.update(np.array([j]), np.zeros(1))
            self.seen += np.eye(m)[i] if observes == "realized" else p
        else:
            j = int(self.learner.act()[0])
            reward = g.F[i, j] if observes == "realized" else float(p @ g.F[:, j])
            self.learner.update(np.array([j]), np.array([reward]))
        self.rounds += 1
        u = self.rng.uniform()
        flip = self.rng.integers(n)
        seen = int(flip) if u < self.noise else j
        return i, j, seen


class StackelbergEnv:
    """A batch of independent rows (game + follower + observation noise), stepped together.

    Args:
        games: one game per row.
        followers: one follower type per row (a fresh learner is built for each).
        noise: observation noise per row (or one number).
        seeds: one seed tuple per row; a row's trajectory depends only on its
            seed and the commitments it receives, not on the other rows.
        horizon: rounds per episode (told to the principal).
    """

    def __init__(
        self,
        games: Sequence[Game],
        followers: Sequence[Follower],
        noise: Sequence[float] | float,
        seeds: Sequence[Sequence[int]],
        horizon: int,
    ) -> None:
        if not (len(games) == len(followers) == len(seeds)):
            raise ValueError("games, followers and seeds must have one entry per row")
        noise_arr = np.broadcast_to(np.asarray(noise, dtype=float), (len(games),))
        self.rows = [_Row(g, f, float(z), s) for g, f, z, s in zip(games, followers, noise_arr, seeds, strict=True)]
        self.horizon = int(horizon)
        self.leader_payoffs = np.stack([g.L for g in games])
        self.follower_payoffs = np.stack([g.F for g in games])
        self.noise = noise_arr.copy()
        self.round = 0

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.rows)

    def principal_spec(self, *, model_access: bool = False) -> PrincipalSpec:
        """What a leader is told at ``reset``: its payoffs, the noise, the follower's number of actions.

        ``model_access`` adds the follower's payoffs (for the benchmark leaders only).
        """
        m = self.leader_payoffs.shape[1]
        extra: dict[str, Any] = {
            "game": "stackelberg",
            "leader_payoffs": self.leader_payoffs.copy(),
            "observation_noise": self.noise.copy(),
            "n_follower_actions": self.leader_payoffs.shape[2],
            "independent_agents": True,
        }
        if model_access:
            extra["follower_payoffs"] = self.follower_payoffs.copy()
        return PrincipalSpec(
            n_actions=m,
            n_agents=self.n_rows,
            observation="noisy" if float(self.noise.max(initial=0.0)) > 0 else "actions",
            lower=np.zeros(m),
            upper=np.ones(m),
            horizon=self.horizon,
            extra=extra,
        )

    def step(self, commitments: np.ndarray) -> LeaderStep:
        """Play one round with per-row commitments (rows, m); returns observed columns and true payoffs."""
        P = _check_commitments(commitments, self.n_rows, self.leader_payoffs.shape[1])
        out = np.array([row.step(P[r]) for r, row in enumerate(self.rows)], dtype=np.int64).reshape(-1, 3)
        self.true_actions = out[:, 1]
        payoff = np.einsum("rm,rm->r", P, self.leader_payoffs[np.arange(self.n_rows), :, out[:, 1]])
        self.round += 1
        return LeaderStep(observed=out[:, 2], leader_actions=out[:, 0], payoff=payoff)


def _check_commitments(p: Any, rows: int, m: int) -> np.ndarray:
    P = np.asarray(p, dtype=float)
    if P.ndim == 1 and rows == 1:
        P = P[None]
    if P.shape != (rows, m):
        raise ValueError(f"a leader must commit to ({rows}, {m}) mixed strategies, got shape {P.shape}")
    if not np.isfinite(P).all() or (P < -1e-9).any():
        raise ValueError("commitments must be finite and non-negative")
    P = np.clip(P, 0.0, None)
    s = P.sum(axis=1, keepdims=True)
    if (np.abs(s - 1.0) > 1e-6).any():
        raise ValueError(f"each commitment must sum to 1, got sums {s.ravel().tolist()}")
    return P / s


@dataclass
class EpisodeRecord:
    """What happened in one episode, per row and round (arrays (rows, T))."""

    payoff: np.ndarray
    true_actions: np.ndarray
    observed: np.ndarray
    commitments: np.ndarray  # (rows, T, m)


def play_episode(principal: Any, env: StackelbergEnv, rng: np.random.Generator) -> EpisodeRecord:
    """Run one episode of ``env.horizon`` rounds with a principal through the Principal protocol."""
    principal.reset(env.principal_spec(model_access=getattr(principal, "needs_model_access", False)), rng)
    payoff, acts, seen, commits = [], [], [], []
    for t in range(env.horizon):
        p = _check_commitments(principal.act(), env.n_rows, env.leader_payoffs.shape[1])
        step = env.step(p)
        if getattr(principal, "observes", True):
            principal.observe(
                LeaderObservation(
                    round=t,
                    incentives=p,
                    n_agents=env.n_rows,
                    shares=np.bincount(step.observed, minlength=env.leader_payoffs.shape[2]) / env.n_rows,
                    actions=step.observed.copy(),
                    leader_actions=step.leader_actions.copy(),
                    principal_reward=float(
                        np.einsum("rm,rm->r", p, env.leader_payoffs[np.arange(env.n_rows), :, step.observed]).sum()
                    ),
                )
            )
        payoff.append(step.payoff)
        acts.append(env.true_actions.copy())
        seen.append(step.observed)
        commits.append(p)
    return EpisodeRecord(np.stack(payoff, 1), np.stack(acts, 1), np.stack(seen, 1), np.stack(commits, 1))


@dataclass
class Task:
    """One training task: a game, a follower type and the observation noise."""

    game: Game
    follower: Follower
    noise: float


@dataclass
class StackelbergProblem:
    """The training problem of the learned leaders (``policies.stackelberg_principals.LeaderProblem``)."""

    setup: GameSetup
    name: str = "stackelberg"

    def __post_init__(self) -> None:
        self.leader_spec = self.setup.leader_spec()
        self._count = 0

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        """Fresh training games (rho in the training range) x followers x noise levels."""
        followers = training_followers(self.setup, n, rng)
        noise = rng.choice(np.asarray(self.setup.train_noise, dtype=float), size=n)
        tasks = []
        for i in range(n):
            game = draw_game(self.setup, _draw_rho(self.setup, "train", rng), rng, f"train-{self._count}")
            self._count += 1
            tasks.append(Task(game, followers[i], float(noise[i])))
        return tasks

    def make_env(self, tasks: list[Task], seed: int) -> StackelbergEnv:
        """Fresh followers for the tasks, one row each."""
        return StackelbergEnv(
            [t.game for t in tasks],
            [t.follower for t in tasks],
            [t.noise for t in tasks],
            [(int(seed), i) for i in range(len(tasks))],
            self.setup.horizon,
        )
