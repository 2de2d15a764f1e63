"""Games, followers, the three game pools and the batch environment of the stackelberg scenario.

Kept apart from the runnable scenario so that ``python -m policies.train
--scenario stackelberg``, ``python -m policies.tune`` and the tests can build the
training problem without the CLI. See ``scenarios/stackelberg.py`` for the
evaluation protocol and the score.

**The game.** Each round the leader (the principal) commits to a mixed strategy
``p`` over its ``m`` rows (default 2), the follower picks one of its ``n``
columns (default 3), and the leader earns ``p @ L[:, j]`` (expected over its own
mixing). With two rows a commitment is one number, ``q = p[0]``, and the
follower's best-response regions are intervals of ``q``; the optimal commitment
(the strong Stackelberg equilibrium, Conitzer & Sandholm 2006) lies on the
boundary of one of them, so the leader must locate a boundary of *this*
follower's regions, which it cannot see.

**The family of games and followers** (fields of :class:`GameSetup`). The
leader's payoffs ``L`` have entries uniform in [0, 1]; the follower's are
``F = rho L + sqrt(1 - rho^2) N`` with ``N`` an independent uniform [0, 1]
matrix (``corr(L_ij, F_ij) = rho``). In the training family the interests
conflict, ``rho ~ U[-0.9, -0.3]`` (``rho_low``, ``rho_high``): a follower tends
to prefer the columns that are bad for the leader, as an inspected firm, a
defender's attacker or a regulated monopolist would. Past followers therefore
carry information about a new one: across the training games, the leader's own
payoffs predict where the new follower's best-response boundaries lie (the
prior a meta-learned world model can learn), and one episode with the follower
locates them. With ``rho`` symmetric around 0 the leader's payoffs would say
nothing about the follower's, and there would be nothing to meta-learn.

**Followers.** The greedy follower of MERMAIDE's first experiment (Banerjee et
al. 2023): ``simulator``'s ``best_response`` learner with the expected payoffs
under the commitment, ``p @ F``, as posted offsets; it plays
``argmax_j (p @ F)_j`` (random tie-breaking; logit noise with
``br_temperature`` > 0). Evaluation can also use ``fictitious_play`` (a best
response to the leader's *empirical* strategy) or ``bandit`` (a simulator
bandit learner over the columns that does not see the commitment); training
uses ``train_mix`` (default: best response only).

**Observation.** The leader knows its own payoffs ``L`` (the rows' *context*),
not ``F``; it sees the follower's column, replaced by a uniformly random one
with probability ``noise`` (``train_noise`` in training, drawn per task), never
its own payoff (which would reveal the column).

**Three disjoint pools**, each from its own seeded stream (a test checks that
they never share a game):

* training: fresh games of the training family for every task, from the
  training run's generator;
* validation (:func:`validation_pool`): ``validation_games`` games per
  validation setting (:data:`VALIDATION_SETTINGS`: the training family, and a
  shift of another kind than the test shift, independent interests
  ``rho ~ U[-0.25, 0.25]``); the learning curves and every tuning choice
  (``python -m policies.tune --scenario stackelberg``) are read on it, and it is
  never reported;
* test (:func:`sample_games`): per evaluation seed and held-out setting
  (:data:`TEST_SETTINGS`): ``in_distribution`` (the training family, fresh
  games) and ``common_interest`` (``rho ~ U[0.3, 0.9]``: the learned prior
  points the wrong way, so the leader has to unlearn it from the follower's
  answers).

**Action set of the learned leaders**: a grid of commitments, ``levels`` evenly
spaced values of ``q`` from 0 to 1 (two rows; for more rows, the simplex grid
with ``levels - 1`` divisions per axis). On random games of the training
family the best grid point with ``levels = 201`` reaches about 0.99 of the
Nash-to-Stackelberg gap (the rest is the grid's resolution, 0.005 in ``q``).

**Environment**: :class:`StackelbergEnv` steps a batch of rows (one game, one
follower, one noise level each; a row's trajectory depends only on its own
seed and the commitments it receives) and is the
:class:`policies.problem.BatchEnv` the learned leaders train in.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policies.mermaide import MermaideConfig
from policies.problem import NetSpec, StepResult
from policies.stackelberg import nash_value, solve_stackelberg
from policies.stackelberg_principals import LeaderObservation, strict_commitment
from simulator import PrincipalSpec, make_learner
from simulator.config import option

__all__ = [
    "FOLLOWER_KINDS",
    "OBSERVATIONS",
    "TEST_SETTINGS",
    "TRAIN_CONFIGS",
    "VALIDATION_SETTINGS",
    "EpisodeRecord",
    "Follower",
    "Game",
    "GameSetup",
    "StackelbergEnv",
    "StackelbergProblem",
    "Task",
    "checkpoint_name",
    "commitment_grid",
    "draw_game",
    "evaluation_follower",
    "play_episode",
    "sample_games",
    "train_config",
    "training_followers",
    "training_problem",
    "validation_pool",
]

FOLLOWER_KINDS = ("best_response", "fictitious_play", "bandit")

TEST_SETTINGS: dict[str, tuple[float, float]] = {
    "in_distribution": (float("nan"), float("nan")),  # the training range (GameSetup.rho_low, rho_high)
    "common_interest": (0.3, 0.9),
}
"""Held-out settings: the range ``rho`` is drawn from (NaN: the training family's)."""

VALIDATION_SETTINGS: dict[str, tuple[float, float]] = {
    "val_in_distribution": (float("nan"), float("nan")),
    "val_independent": (-0.25, 0.25),
}
"""Validation settings (never reported): the training family and a shift of another kind than the test's."""

STREAM_VALIDATION, STREAM_TEST = 202, 303
"""Keys of the validation and test streams (training games come from the training run's generator)."""


@dataclass
class GameSetup:
    """The repeated game, its family of games and followers (all config fields)."""

    n_leader: int = option(2, help="leader actions m (rows)", low=2, high=6)
    n_follower: int = option(3, help="follower actions n (columns)", low=2, high=8)
    horizon: int = option(30, help="rounds T per episode", low=2, high=10000)
    payoff_low: float = option(0.0, help="lowest payoff entry")
    payoff_high: float = option(1.0, help="highest payoff entry")
    rho_low: float = option(-0.9, help="training family: lowest correlation of F with L", low=-1.0, high=1.0)
    rho_high: float = option(-0.3, help="training family: highest correlation of F with L", low=-1.0, high=1.0)
    levels: int = option(
        201, help="the learned leaders' commitment grid: values of q = p[0] from 0 to 1 (two rows)", low=2, high=2001
    )
    br_temperature: float = option(0.0, help="best-response follower: logit noise (0 = exact argmax)", low=0.0)
    fp_prior_weight: float = option(1.0, help="fictitious play: uniform pseudo-rounds of its prior", low=0.0)
    fp_observes: str = option("realized", help="fictitious play: what it averages", choices=("realized", "commitment"))
    bandit_learner: str = option("epsilon_greedy", help="bandit follower: simulator learner spec")
    bandit_epsilon: float = option(0.1, help="bandit follower: epsilon", low=0.0, high=1.0)
    bandit_initial_value: float = option(0.5, help="bandit follower: prior mean of every column")
    bandit_observes: str = option(
        "commitment",
        help="bandit follower: reward = expected payoff or realised payoff",
        choices=("commitment", "realized"),
    )
    train_mix: dict[str, float] = option(
        default_factory=lambda: {"best_response": 1.0}, help="training followers: {kind: weight}"
    )
    train_noise: list[float] = option(
        default_factory=lambda: [0.0],
        help="observation noise levels drawn (uniformly from this list) for training tasks",
        low=0.0,
        high=1.0,
    )
    validation_games: int = option(100, help="validation games per validation setting", low=1)
    pool_seed: int = option(0, help="seed of the validation pool", low=0)

    def check(self) -> None:
        """Cross-field checks."""
        if not self.payoff_low < self.payoff_high:
            raise ValueError("payoff_low must be < payoff_high")
        if not self.rho_low <= self.rho_high:
            raise ValueError("rho_low must be <= rho_high")
        bad = [k for k in self.train_mix if k not in FOLLOWER_KINDS]
        if bad:
            raise ValueError(f"train_mix: unknown follower {bad[0]!r}; available: {', '.join(FOLLOWER_KINDS)}")
        if not self.train_mix or sum(self.train_mix.values()) <= 0 or min(self.train_mix.values()) < 0:
            raise ValueError("train_mix needs non-negative weights with a positive sum")
        if not self.train_noise:
            raise ValueError("train_noise needs at least one level")
        count = self.levels if self.n_leader == 2 else math.comb(self.levels - 1 + self.n_leader - 1, self.n_leader - 1)
        if count > 5000:
            raise ValueError(f"levels: {self.levels} levels for {self.n_leader} rows give {count} commitments (> 5000)")

    @property
    def observation(self) -> str:
        """The observation setting the learned leaders train for."""
        return "noisy" if max(self.train_noise) > 0 else "actions"

    def net_spec(self) -> NetSpec:
        """What a learned leader for this setup is built for (checked against its checkpoint)."""
        m, n = self.n_leader, self.n_follower
        return NetSpec(
            n_actions=n,
            actions=commitment_grid(m, self.levels).tolist(),
            null_action=0,
            values=[],
            cost=0.0,
            horizon=self.horizon,
            observation=self.observation,  # type: ignore[arg-type]
            obs_noise=0.0,  # the level varies by task; the world model's random-choice floor absorbs it
            reward="bilinear",
            context_dim=m * n,
            x_scale=1.0,
            reward_scale=max(abs(self.payoff_low), abs(self.payoff_high)),
            posted=True,
        )


def commitment_grid(m: int, levels: int) -> np.ndarray:
    """The learned leaders' commitments: (P, m) mixed strategies on a grid of the simplex.

    Two rows: ``[q, 1 - q]`` for ``levels`` values of ``q`` evenly from 0 to 1. More
    rows: every ``p`` with ``p_i = c_i / (levels - 1)``, integer ``c_i`` summing to
    ``levels - 1``.
    """
    d = levels - 1
    if m == 2:
        q = np.linspace(0.0, 1.0, levels)
        return np.stack([q, 1.0 - q], axis=1)
    pts = [c for c in itertools.product(range(d + 1), repeat=m - 1) if sum(c) <= d]
    return np.array([[*c, d - sum(c)] for c in pts], dtype=float) / d


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

    @property
    def gap(self) -> float:
        """The value of commitment: SE value minus the leader-best Nash value (>= 0)."""
        return self.se_value - self.nash_value

    def strict_value(self, margin: float = 1e-3) -> float:
        """The value of the optimal commitment moved ``margin`` inside its region."""
        key = f"strict{margin}"
        if key not in self._cache:
            self._cache[key] = strict_commitment(self.L, self.F, margin)[2]
        return self._cache[key]

    def key(self) -> bytes:
        """A hashable identity (both payoff matrices), to check that pools do not overlap."""
        return np.round(np.concatenate([self.L.ravel(), self.F.ravel()]), 12).tobytes()


def draw_game(setup: GameSetup, rho: float, rng: np.random.Generator, game_id: str) -> Game:
    """One game with correlation ``rho``: ``F = rho L + sqrt(1 - rho^2) N``."""
    shape = (setup.n_leader, setup.n_follower)
    L = rng.uniform(setup.payoff_low, setup.payoff_high, shape)
    N = rng.uniform(setup.payoff_low, setup.payoff_high, shape)
    F = rho * L + np.sqrt(max(1.0 - rho * rho, 0.0)) * N
    return Game(L=L, F=F, rho=float(rho), game_id=game_id)


def _rho_range(setup: GameSetup, setting: str) -> tuple[float, float]:
    table = {"train": (float("nan"), float("nan")), **TEST_SETTINGS, **VALIDATION_SETTINGS}
    if setting not in table:
        raise ValueError(f"unknown setting {setting!r}; available: {', '.join(TEST_SETTINGS)}")
    low, high = table[setting]
    return (setup.rho_low, setup.rho_high) if np.isnan(low) else (low, high)


def _draw_games(setup: GameSetup, setting: str, n: int, rng: np.random.Generator, prefix: str) -> list[Game]:
    low, high = _rho_range(setup, setting)
    return [draw_game(setup, float(rng.uniform(low, high)), rng, f"{prefix}-g{i}") for i in range(n)]


def sample_games(setup: GameSetup, setting: str, n: int, seed: int) -> list[Game]:
    """``n`` test games of a held-out setting for evaluation seed ``seed`` (the test stream)."""
    if setting not in TEST_SETTINGS:
        raise ValueError(f"unknown test setting {setting!r}; available: {', '.join(TEST_SETTINGS)}")
    rng = np.random.default_rng([STREAM_TEST, int(seed), zlib.crc32(setting.encode())])
    return _draw_games(setup, setting, n, rng, f"{setting}-s{seed}")


def validation_pool(setup: GameSetup) -> list[Game]:
    """The fixed validation pool: ``validation_games`` games per validation setting (its own stream)."""
    out: list[Game] = []
    for name in VALIDATION_SETTINGS:
        rng = np.random.default_rng([STREAM_VALIDATION, setup.pool_seed, zlib.crc32(name.encode())])
        out.extend(_draw_games(setup, name, setup.validation_games, rng, name))
    return out


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
    return [evaluation_follower(setup, kinds[int(i)]) for i in picks]


class _Row:
    """One game with one follower and its observation noise, with its own random streams.

    Best-responding followers are stepped together by the environment (one
    simulator learner for all of them); the others by :meth:`respond`.
    """

    def __init__(self, game: Game, follower: Follower, noise: float, seed: Sequence[int]) -> None:
        self.game = game
        self.follower = follower
        self.noise = float(noise)
        self.rng = np.random.default_rng([*seed, 1])
        self.learner: Any = None
        m, n = game.F.shape
        params = {k: v for k, v in follower.params.items() if k not in ("observes", "prior_weight")}
        if follower.kind == "fictitious_play":
            self.learner = make_learner(
                "best_response", 1, n, rng=np.random.default_rng([*seed, 2]), means=np.zeros(n), **params
            )
        elif follower.kind != "best_response":
            self.learner = make_learner(follower.spec, 1, n, rng=np.random.default_rng([*seed, 2]), **params)
        self.prior_weight = float(follower.params.get("prior_weight", 1.0))
        self.seen = np.zeros(m)
        self.rounds = 0

    def leader_row(self, p: np.ndarray) -> int:
        """The leader's realised row this round, drawn from its commitment."""
        return int(min(np.searchsorted(np.cumsum(p), self.rng.uniform(), side="right"), len(p) - 1))

    def respond(self, p: np.ndarray, i: int) -> int:
        """The column of a follower that is not a best responder (fictitious play, bandit)."""
        g = self.game
        m = g.L.shape[0]
        observes = self.follower.params.get("observes", "commitment")
        if self.follower.kind == "fictitious_play":
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
        return j

    def observe(self, j: int) -> int:
        """The column the leader sees: ``j``, or a uniformly random one with probability ``noise``."""
        u = self.rng.uniform()
        flip = int(self.rng.integers(self.game.F.shape[1]))
        return flip if u < self.noise else j


class StackelbergEnv:
    """A batch of independent rows (game + follower + observation noise), stepped together.

    The :class:`policies.problem.BatchEnv` of the learned leaders: ``step`` takes
    the rows' commitments (rows, m) and returns the observed columns and the
    leader's true payoffs; ``context`` holds each row's leader payoffs, flattened.

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
        # best responders: one simulator learner for all of them (per-row temperatures), stepped in one call
        self._br = np.array([r for r, f in enumerate(followers) if f.kind == "best_response"], dtype=np.int64)
        self._br_learner = None
        if self._br.size:
            n = games[0].F.shape[1]
            temps = np.array([float(followers[r].params.get("temperature", 0.0)) for r in self._br])
            key = [int(v) for s in (seeds[r] for r in self._br[:1]) for v in s]
            self._br_learner = make_learner(
                "best_response",
                self._br.size,
                n,
                rng=np.random.default_rng([*key, 3]),
                means=np.zeros((self._br.size, n)),
                temperature=temps,
            )
        self.games = list(games)
        self.horizon = int(horizon)
        self.leader_payoffs = np.stack([g.L for g in games])
        self.follower_payoffs = np.stack([g.F for g in games])
        self.context = self.leader_payoffs.reshape(len(games), -1)
        self.noise = noise_arr.copy()
        self.round = 0
        self.true_actions: list[np.ndarray] = []  # per round: the follower's true column, per row
        self.payoffs: list[np.ndarray] = []  # per round: the leader's payoff, per row

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.rows)

    def principal_spec(self, *, model_access: bool = False) -> PrincipalSpec:
        """What a leader is told at ``reset``: its payoffs, the noise, the follower's number of actions (K).

        ``model_access`` adds the follower's payoffs (for the benchmark leaders only).
        """
        m, n = self.leader_payoffs.shape[1:]
        extra: dict[str, Any] = {
            "game": "stackelberg",
            "leader_payoffs": self.leader_payoffs.copy(),
            "observation_noise": self.noise.copy(),
            "n_leader_actions": m,
            "independent_agents": True,
        }
        if model_access:
            extra["follower_payoffs"] = self.follower_payoffs.copy()
        return PrincipalSpec(
            n_actions=n,
            n_agents=self.n_rows,
            observation="noisy" if float(self.noise.max(initial=0.0)) > 0 else "actions",
            lower=np.zeros(n),
            upper=np.ones(n),
            horizon=self.horizon,
            posted=True,
            extra=extra,
        )

    def step(self, commitments: np.ndarray) -> StepResult:
        """Play one round with per-row commitments (rows, m): observed columns and the leader's true payoffs."""
        P = check_commitments(commitments, self.n_rows, self.leader_payoffs.shape[1])
        leader = np.array([row.leader_row(P[r]) for r, row in enumerate(self.rows)], dtype=np.int64)
        j = np.zeros(self.n_rows, dtype=np.int64)
        if self._br_learner is not None:
            offsets = np.einsum("rm,rmn->rn", P[self._br], self.follower_payoffs[self._br])
            j[self._br] = self._br_learner.act(offsets)
            self._br_learner.update(j[self._br], np.zeros(self._br.size))
        for r, row in enumerate(self.rows):
            if row.learner is not None:
                j[r] = row.respond(P[r], int(leader[r]))
        observed = np.array([row.observe(int(j[r])) for r, row in enumerate(self.rows)], dtype=np.int64)
        payoff = np.einsum("rm,rm->r", P, self.leader_payoffs[np.arange(self.n_rows), :, j])
        self.leader_actions = leader
        self.true_actions.append(j.copy())
        self.payoffs.append(payoff)
        self.round += 1
        return StepResult(actions=observed, shares=None, rewards=None, principal_reward=payoff)


def check_commitments(p: Any, rows: int, m: int) -> np.ndarray:
    """Validate and normalise (rows, m) mixed strategies (a clear error for anything else)."""
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


def play_episode(principal: Any, env: StackelbergEnv, rng: np.random.Generator | None) -> EpisodeRecord:
    """Run one episode of ``env.horizon`` rounds with a principal through the Principal protocol."""
    principal.reset(env.principal_spec(model_access=getattr(principal, "needs_model_access", False)), rng)
    m, n = env.leader_payoffs.shape[1:]
    seen, commits = [], []
    for t in range(env.horizon):
        p = check_commitments(principal.act(), env.n_rows, m)
        step = env.step(p)
        observed = np.asarray(step.actions)
        if getattr(principal, "observes", True):
            principal.observe(
                LeaderObservation(
                    round=t,
                    incentives=p,
                    n_agents=env.n_rows,
                    shares=np.bincount(observed, minlength=n) / env.n_rows,
                    actions=observed.copy(),
                    leader_actions=env.leader_actions.copy(),
                    principal_reward=float(
                        np.einsum("rm,rm->r", p, env.leader_payoffs[np.arange(env.n_rows), :, observed]).sum()
                    ),
                )
            )
        seen.append(observed)
        commits.append(p)
    return EpisodeRecord(
        np.stack(env.payoffs, 1), np.stack(env.true_actions, 1), np.stack(seen, 1), np.stack(commits, 1)
    )


# ------------------------------------------------------------ the training problem (policies.train)
@dataclass
class Task:
    """One task: a game, a follower type and the observation noise."""

    game: Game
    follower: Follower
    noise: float = 0.0


@dataclass
class StackelbergProblem:
    """The training problem of the learned leaders (:class:`policies.problem.TrainingProblem`)."""

    setup: GameSetup
    name: str = "stackelberg"
    device: str = "cpu"  # the followers are simulated on the CPU
    validation_rows: int = 1  # a best-responding follower is deterministic: one row per validation game

    def __post_init__(self) -> None:
        self.net_spec = self.setup.net_spec()
        self._validation: list[Task] | None = None

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        """``n`` fresh training tasks: games of the training family x followers x noise levels."""
        followers = training_followers(self.setup, n, rng)
        noise = rng.choice(np.asarray(self.setup.train_noise, dtype=float), size=n)
        games = _draw_games(self.setup, "train", n, rng, "train")
        return [Task(g, f, float(z)) for g, f, z in zip(games, followers, noise, strict=True)]

    def validation_tasks(self) -> list[Task]:
        """The validation pool with best-responding followers, noise-free (fixed; never reported)."""
        if self._validation is None:
            br = evaluation_follower(self.setup, "best_response")
            self._validation = [Task(g, br, 0.0) for g in validation_pool(self.setup)]
        return self._validation

    def make_env(self, tasks: list[Task], rows_per_task: int, seed: int) -> StackelbergEnv:
        """Fresh followers for the tasks, ``rows_per_task`` rows each (task-major)."""
        rows = [t for t in tasks for _ in range(rows_per_task)]
        return StackelbergEnv(
            [t.game for t in rows],
            [t.follower for t in rows],
            [t.noise for t in rows],
            [(int(seed), i) for i in range(len(rows))],
            self.setup.horizon,
        )


OBSERVATIONS = ("actions",)
"""The observation settings learned leaders are trained for (noise-free; the noise study reuses them)."""

TRAIN_CONFIGS: dict[str, dict[str, Any]] = {
    "mermaide": {
        "adapt": ["encoder.h0", "response_offset"],
        "lr": 0.003,
        "inner_lr": 1.0,
        "inner_steps": 10,
        "explore": 0.2,
        "probe": True,
        "probe_prior": 0.5,
        "memory": True,
    },
    "wm_only": {
        "adapt": ["encoder.h0", "response_offset"],
        "lr": 0.003,
        "finetune_lr": 1.0,
        "inner_steps": 10,
        "explore": 0.2,
        "probe": True,
        "probe_prior": 0.5,
        "memory": True,
    },
    "meta_only": {"lr": 0.003, "inner_lr": 0.3},
    "model_free": {"lr": 0.003, "finetune_lr": 1.0},
}
"""Each variant's settings beyond :data:`BASE_CONFIG`, chosen on the validation pool by
``python -m policies.tune --scenario stackelberg --lrs 0.003 --steps 0.1,0.3,1.0`` (three settings of the
adaptation step per variant, the same budget for each; the search's table is shipped beside the
checkpoints, ``tuning.json``) and by the comparisons below on the same pool.

The world-model variants adapt the initial belief and the per-task correction of the follower's payoffs
(``response_offset``, see :meth:`policies.mermaide.PrincipalNet._bilinear_response`) with 10 steps per
episode. In exploring episodes (training, adaptation) they probe (``probe``: the commitment whose answer is
expected to raise most what the leader has secured, :func:`policies.planning.probe_actions`, the answers
predicted by the world model mixed half and half with a uniformly placed boundary between two observed
columns, ``probe_prior``) and play a random commitment in 20% of the rounds; they keep the ranges of
commitments under which each column was observed from one episode with a follower type to the next
(``memory``). Chosen on the validation pool's gap games (1-shot share of the Nash-to-SE gap, mermaide /
wm_only): the initial belief alone, 1 step, exploring 15% at random, without the model's best-response
consistency (the earliest setting): 0.43 / 0.43; with the consistency bonus: 0.49 (mermaide); plus the
offset, 10 steps, exploring 50% at random: 0.75 / 0.52 (wm_only's fine-tuning step 1.0; 0.49 at 0.3, 0.48
at 0.1). With those checkpoints: keeping the ranges 0.89 (mermaide); plus probing by the world model alone
with 0 / 10 / 20 / 30 / 50% random rounds: 0.92 / 0.95 / 0.97 / 0.97 / 0.96 (mermaide), - / 0.96 / 0.97 /
0.96 / 0.96 (wm_only). Retrained with that probing and 20%: 0.965 / 0.974; with the convexity-corrected
answers (``probe_prior`` 0.5; 1.0 gave the same 0.987 / 0.989, and 0.5 kept more with no random rounds:
0.976 vs 0.956): 0.987 / 0.989, retrained with it (the shipped checkpoints): 0.981 / 0.989. The step sizes
were not searched again."""

BASE_CONFIG: dict[str, Any] = {
    "hidden": 64,
    "width": 128,
    "tasks_per_batch": 16,
    "agents_per_task": 1,
    "iterations": 200,
    "tails": ["constant"],
    "lookahead": 1,
    "terminal_value": False,
    "samples": 1,
    "eval_every": 25,
}
"""Settings shared by every variant (a best-responding follower is deterministic: one row per task). These
are fixed, not searched: the validation search covers the step sizes only. The planner looks one round ahead
without a terminal value (a myopic best commitment under the world model); a longer lookahead with the learned
terminal value, which could value what a probing commitment reveals, costs about 8x the planning per round and
has not been compared on the validation pool."""


def training_problem(observation: str = "actions", device: str = "cpu") -> StackelbergProblem:
    """The training problem for an observation setting (default game family)."""
    if observation not in OBSERVATIONS:
        raise ValueError(f"observation: stackelberg trains for {', '.join(OBSERVATIONS)}, not {observation!r}")
    return StackelbergProblem(GameSetup(), device=device)


def train_config(variant: str, observation: str = "actions") -> MermaideConfig:
    """A variant's tuned training settings."""
    return MermaideConfig(variant=variant, **{**BASE_CONFIG, **TRAIN_CONFIGS[variant]})  # type: ignore[arg-type]


def checkpoint_name(variant: str, observation: str = "actions") -> str:
    """File stem of a shipped checkpoint."""
    return variant
