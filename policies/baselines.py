"""Baseline principals: the planning oracle, the myopic oracle, the incentive-bandit algorithm IPA, best constant.

* ``oracle`` (:class:`PlanningOracle`): knows each agent's learning rule, its
  parameters and its current state (it is built with explicit access to the
  model) and plans incentive sequences on copies of the true agents: every
  round, for each agent, every candidate plan over the principal's action set
  is simulated on ``samples`` copies of that agent with random draws of their
  own (never the true future's), to the end of the episode or over
  ``lookahead`` rounds, and the first action of the plan with the highest mean
  return is played (receding horizon). Plans: every sequence when there are at
  most ``exhaustive`` of them (so the oracle is exactly optimal for
  deterministic agents on short horizons, which a test checks by brute force);
  otherwise, for every action ``i``, "``i`` throughout" and "``i`` now, then
  nothing". The upper bound of the normalised score, in posted and felt games alike.
* ``oracle_myopic`` (:class:`Oracle`): knows each agent's choice probabilities
  and pays, every round, the incentive that maximises this round's expected
  reward (posted incentives only: with felt incentives today's choice does not
  depend on today's incentive, and a myopic oracle would never pay).
* ``ipa`` (:class:`IPA`): the incentivized principal-agent bandit algorithm of
  Scheid et al. (ICML 2024, arXiv 2403.03811): it assumes the agent plays
  ``argmax(theta + incentive)``, finds the minimal incentive that makes the
  valued action chosen by binary search (about log2 T rounds), then commits to it.
  With one valued action the paper's UCB stage over actions reduces to committing
  to that action. ``repeats`` > 1 takes a majority vote per query (a robust search
  in the spirit of Liu & Ratliff 2025 for exploring agents).
* ``best_constant`` (:class:`BestConstant`): a fixed incentive vector chosen by
  search on the *training* agents (:func:`search_best_constant`); never
  tuned on test agents.

All work per agent when ``spec.extra["independent_agents"]`` is set (a batch of
independent principal-agent pairs, as in bandit_alignment), else on the
population as a whole.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from simulator import IncentiveGame, IncentiveModel, Observation, Population, PrincipalSpec
from simulator._rng import seed_key_from

from .base import BasePrincipal, ConstantIncentive, register_principal

__all__ = [
    "IPA",
    "BestConstant",
    "Oracle",
    "PlanningOracle",
    "oracle_incentives",
    "replicate_population",
    "search_best_constant",
]


def _valued(spec: PrincipalSpec) -> np.ndarray:
    """Actions the principal values (those it might pay for)."""
    v = np.asarray(spec.principal_values, dtype=np.float64)
    return np.flatnonzero(v > 0) if (v > 0).any() else np.arange(spec.n_actions)


def oracle_incentives(
    probs_fn: Callable[[np.ndarray], np.ndarray],
    spec: PrincipalSpec,
    n: int,
    *,
    grid: int = 101,
    thresholds: np.ndarray | None = None,
) -> np.ndarray:
    """Per-agent incentives maximising this round's expected principal reward.

    Args:
        probs_fn: maps per-agent offsets (n, K) to the agents' exact choice probabilities (n, K).
        spec: the principal's spec (values, cost, bounds).
        n: number of agents.
        grid: incentive levels tried per valued action (between its bounds).
        thresholds: optional (n, K) exact break-even incentives per action to try as well.

    Returns:
        (n, K) incentives; each agent gets the best candidate (incentives on one
        valued action at a time, others at their lower bound, or no intervention).
    """
    k = spec.n_actions
    values = np.asarray(spec.principal_values, dtype=np.float64)
    lower = np.asarray(spec.lower, dtype=np.float64)
    upper = np.asarray(spec.upper, dtype=np.float64)
    base = np.broadcast_to(np.where(np.isfinite(lower), lower, 0.0), (n, k)).copy()
    best_x = base.copy()
    best_r = _expected_reward(probs_fn(base), base, values, spec.incentive_cost)
    for j in _valued(spec):
        cap = max(1.0, float(np.abs(values).max()) / max(spec.incentive_cost, 1e-9))
        hi = upper[j] if np.isfinite(upper[j]) else cap
        levels = [np.full(n, lv) for lv in np.linspace(base[0, j], hi, grid)]
        if thresholds is not None:
            levels.append(np.clip(thresholds[:, j], base[0, j], hi))
        for lv in levels:
            x = base.copy()
            x[:, j] = lv
            r = _expected_reward(probs_fn(x), x, values, spec.incentive_cost)
            better = r > best_r + 1e-12
            best_r = np.where(better, r, best_r)
            best_x[better] = x[better]
    return best_x


def _expected_reward(p: np.ndarray, x: np.ndarray, values: np.ndarray, cost: float) -> np.ndarray:
    return (p * (values[None, :] - cost * x)).sum(axis=1)


@register_principal("oracle_myopic")
class Oracle(BasePrincipal):
    """Knows each agent's learning state; pays the myopically optimal incentive (posted incentives only).

    Args:
        grid: incentive levels tried per valued action each round.
    """

    needs_model_access = True
    observes = False

    def __init__(self, grid: int = 101) -> None:
        if grid < 2:
            raise ValueError(f"oracle grid must be >= 2, got {grid}")
        self.grid = int(grid)
        self.model: Any = None

    def attach(self, model: Any) -> None:
        """Explicit access to the simulator (the oracle alone gets it)."""
        if not model.game.posted:
            raise ValueError("the oracle needs posted incentives (agents see them before choosing)")
        self.model = model

    def act(self) -> np.ndarray:
        """Per-agent (n, K) incentives from the agents' exact choice probabilities."""
        if self.model is None:
            raise ValueError("the oracle must be attached to a model before it acts")
        pop = self.model.population
        n = pop.n_agents
        thresholds = _argmax_thresholds(pop.estimates(), _valued(self.spec))
        x = oracle_incentives(pop.action_probs, self.spec, n, grid=self.grid, thresholds=thresholds)
        if not self.spec.extra.get("independent_agents", False):
            return x.mean(axis=0)  # one vector for a population: the average best response
        return x


def _argmax_thresholds(scores: np.ndarray, valued: np.ndarray) -> np.ndarray:
    """Incentive on j that just puts j above every other action's score (+1e-5)."""
    n, k = scores.shape
    out = np.zeros((n, k))
    for j in valued:
        others = np.delete(scores, j, axis=1).max(axis=1) if k > 1 else np.zeros(n)
        out[:, j] = np.maximum(others - scores[:, j], 0.0) + 1e-5
    return out


@register_principal("ipa")
class IPA(BasePrincipal):
    """Binary search for the minimal incentive on the valued action, then commit (Scheid et al. 2024).

    Args:
        rounds_per_arm: search rounds (default ceil(log2 T)).
        repeats: each query is repeated this many times and decided by majority.
        margin: added to the found threshold when committing (share of the bound).
    """

    def __init__(self, rounds_per_arm: int | None = None, repeats: int = 1, margin: float = 0.02) -> None:
        if repeats < 1:
            raise ValueError(f"ipa repeats must be >= 1, got {repeats}")
        if margin < 0:
            raise ValueError(f"ipa margin must be >= 0, got {margin}")
        self.rounds_per_arm, self.repeats, self.margin = rounds_per_arm, int(repeats), float(margin)

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Start the search for every agent."""
        super().reset(spec, rng)
        if spec.observation == "shares":
            raise ValueError("ipa needs observed actions (observation 'full', 'actions' or 'noisy')")
        self.rows = spec.n_agents if spec.extra.get("independent_agents", False) else 1
        self.target = int(_valued(spec)[np.argmax(np.asarray(spec.principal_values)[_valued(spec)])])
        hi = float(spec.upper[self.target]) if np.isfinite(spec.upper[self.target]) else 1.0
        lo = float(max(spec.lower[self.target], 0.0))
        horizon = spec.horizon or 64
        self.search_rounds = self.rounds_per_arm or max(1, math.ceil(math.log2(max(horizon, 2))))
        self.lo = np.full(self.rows, lo)
        self.hi = np.full(self.rows, hi)
        self.bound = hi
        self.votes = np.zeros(self.rows)
        self.query = 0
        self.rep = 0

    def _offer(self) -> np.ndarray:
        if self.query < self.search_rounds:
            return 0.5 * (self.lo + self.hi)
        return np.minimum(self.hi + self.margin * self.bound, self.bound)

    def act(self) -> np.ndarray:
        """Search midpoint, or the committed incentive."""
        x = np.zeros((self.rows, self.spec.n_actions))
        x[:, self.target] = self._offer()
        x = np.clip(x, self.spec.lower, self.spec.upper)
        return x if self.rows > 1 or self.spec.extra.get("independent_agents", False) else x[0]

    def observe(self, obs: Observation) -> None:
        """Narrow the search interval from whether the valued action was chosen."""
        super().observe(obs)
        if self.query >= self.search_rounds or obs.actions is None:
            return
        chosen = np.asarray(obs.actions).reshape(-1)[: self.rows] == self.target
        if self.rows == 1 and obs.actions.shape[0] > 1:
            chosen = np.array([np.mean(obs.actions == self.target) > 0.5])
        self.votes += chosen
        self.rep += 1
        if self.rep < self.repeats:
            return
        yes = self.votes > self.repeats / 2
        mid = 0.5 * (self.lo + self.hi)
        self.hi = np.where(yes, mid, self.hi)
        self.lo = np.where(yes, self.lo, mid)
        self.votes[:] = 0
        self.rep = 0
        self.query += 1


@register_principal("best_constant")
class BestConstant(ConstantIncentive):
    """A constant incentive vector found by search on the training distribution.

    Args:
        incentives: the vector found by :func:`search_best_constant` (the scenario runs the search).
    """


def search_best_constant(
    evaluate: Callable[[np.ndarray], float], candidates: Sequence[np.ndarray]
) -> tuple[np.ndarray, list[float]]:
    """Pick the candidate vector with the highest ``evaluate`` (mean return on training agents)."""
    if not candidates:
        raise ValueError("search_best_constant needs at least one candidate")
    scores = [float(evaluate(np.asarray(c, dtype=np.float64))) for c in candidates]
    return np.asarray(candidates[int(np.argmax(scores))], dtype=np.float64), scores


# -------------------------------------------------------------- the planning oracle
def replicate_population(population: Population, reps: int, rng: np.random.Generator) -> Population:
    """A copy of a population in which every agent appears ``reps`` times in a row, with fresh random streams.

    Each copy starts from its agent's current state (estimates, counts, round) and
    parameters; the copies' random draws come from a key drawn from ``rng``, so
    they are independent of the true agents' future draws.
    """
    groups = []
    for label, lr in zip(population.labels, population.learners, strict=True):
        n = int(lr.n_agents)
        twin = copy.deepcopy(lr)
        for name, value in list(vars(twin).items()):
            if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:  # per-agent state
                setattr(twin, name, np.repeat(value, reps, axis=0))
        params = getattr(twin, "p", None)
        if isinstance(params, dict):
            for name, value in params.items():
                if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n and n > 1:
                    params[name] = np.repeat(value, reps, axis=0)
        twin.n_agents = n * reps
        if hasattr(twin, "_key"):
            twin._key = seed_key_from(rng)
        groups.append((label, twin))
    return Population(groups)


class _Scripted:
    """A principal that plays per-agent incentives set from outside (the oracle's simulations)."""

    observes = False

    def __init__(self) -> None:
        self.incentives: np.ndarray | None = None

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Nothing to prepare."""

    def act(self) -> np.ndarray:
        """The incentives set by the oracle."""
        assert self.incentives is not None
        return self.incentives

    def observe(self, obs: Observation) -> None:
        """Nothing to learn."""


def oracle_plans(
    n_choices: int, steps: int, null_action: int, exhaustive: int, durations: Sequence[int] = (1, 2, 4, 8, 16)
) -> np.ndarray:
    """Candidate plans as a (Q, steps) table of action indices.

    Every sequence when there are at most ``exhaustive`` of them; otherwise, for
    every action ``i``: ``i`` throughout, and ``i`` for ``d`` rounds then no
    intervention, for each ``d`` in ``durations`` shorter than ``steps``.
    """
    if n_choices**steps <= exhaustive:
        return np.array(list(itertools.product(range(n_choices), repeat=steps)), dtype=np.int64).reshape(-1, steps)
    rows = []
    for i in range(n_choices):
        rows.append([i] * steps)
        if i != null_action:
            for d in sorted({d for d in durations if 0 < d < steps}):
                rows.append([i] * d + [null_action] * (steps - d))
    return np.array(rows, dtype=np.int64)


@register_principal("oracle")
class PlanningOracle(BasePrincipal):
    """Knows every agent's rule, parameters and state; plans on copies of the agents (the upper bound).

    Args:
        levels: the principal's action set, as incentive vectors (P, K); default: the game's
            ``spec.extra["action_set"]``.
        samples: simulated futures per agent and plan (independent random draws).
        lookahead: rounds simulated per plan (default: to the end of the episode).
        exhaustive: try every sequence of actions when there are at most this many.
        null_action: index of "no intervention" in ``levels`` (default 0).
        durations: otherwise, plans play an action for each of these numbers of rounds, then nothing
            (besides playing it throughout).
    """

    needs_model_access = True
    observes = False

    def __init__(
        self,
        levels: Any = None,
        samples: int = 8,
        lookahead: int | None = None,
        exhaustive: int = 256,
        null_action: int = 0,
        durations: Sequence[int] = (1, 2, 4, 8, 16),
    ) -> None:
        if samples < 1:
            raise ValueError(f"oracle samples must be >= 1, got {samples}")
        if lookahead is not None and lookahead < 1:
            raise ValueError(f"oracle lookahead must be >= 1, got {lookahead}")
        self.levels = None if levels is None else np.asarray(levels, dtype=np.float64)
        self.samples = int(samples)
        self.lookahead = lookahead
        self.exhaustive = int(exhaustive)
        self.null_action = int(null_action)
        self.durations = tuple(int(d) for d in durations)
        self.model: Any = None

    def attach(self, model: Any) -> None:
        """Explicit access to the simulator (the oracles alone get it)."""
        self.model = model

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Take the action set from the spec when none was given."""
        super().reset(spec, rng)
        table = self.levels if self.levels is not None else spec.extra.get("action_set")
        if table is None:
            raise ValueError("the planning oracle needs an action set (levels=, or spec.extra['action_set'])")
        self.table = np.asarray(table, dtype=np.float64).reshape(-1, spec.n_actions)
        if not 0 <= self.null_action < len(self.table):
            raise ValueError(f"oracle null_action {self.null_action} is not an index of the action set")
        if spec.horizon is None:
            raise ValueError("the planning oracle needs a finite horizon")

    def act(self) -> np.ndarray:
        """Per-agent (n, K) incentives: the first action of each agent's best plan."""
        if self.model is None:
            raise ValueError("the oracle must be attached to a model before it acts")
        model = self.model
        t = model.round
        steps = self.spec.horizon - t
        if self.lookahead is not None:
            steps = min(steps, self.lookahead)
        plans = oracle_plans(len(self.table), steps, self.null_action, self.exhaustive, self.durations)
        scores = self.plan_values(plans)  # (n, Q)
        best = plans[scores.argmax(axis=1), 0]
        x = self.table[best]
        if not self.spec.extra.get("independent_agents", False):
            return x.mean(axis=0)
        return x

    def plan_values(self, plans: np.ndarray) -> np.ndarray:
        """Mean simulated return (n, Q) of every plan for every agent, from the agents' current state."""
        model = self.model
        n = model.n_agents
        q, steps = plans.shape
        reps = q * self.samples
        pop = replicate_population(model.sync_to_host().population, reps, self.rng)
        game = model.game
        means = np.broadcast_to(
            np.asarray(game.means, dtype=np.float64).reshape(-1, model.n_actions), (n, model.n_actions)
        )
        means = np.repeat(means, reps, axis=0)
        twin_game = IncentiveGame(
            payoff_means=means,
            noise=game.noise,
            noise_kind="bernoulli" if game.bernoulli else "gaussian",
            principal_values=game.principal_values,
            incentive_cost=game.incentive_cost,
            signed=bool(game.signed),
            lower=game.lower,
            upper=game.upper,
            posted=game.posted,
        )
        driver = _Scripted()
        sim = IncentiveModel(
            n_agents=n * reps,
            n_actions=model.n_actions,
            learner=pop,
            principal=driver,
            seed=int(self.rng.integers(2**31)),
            game=twin_game,
            observation="actions",
            collect_every=10**9,
            track_households=False,
            spec_extra={"independent_agents": True},
        )
        # row r = agent r // reps, plan (r % reps) // samples, sample r % samples
        plan_of_row = np.tile(np.repeat(np.arange(q), self.samples), n)
        values = np.asarray(game.principal_values, dtype=np.float64)
        ret = np.zeros(n * reps)
        rows = np.arange(n * reps)
        for tau in range(steps):
            x = self.table[plans[plan_of_row, tau]]
            driver.incentives = x
            sim.step()
            a = sim.last_actions
            ret += values[a] - game.incentive_cost * np.maximum(x[rows, a], 0.0)
        return ret.reshape(n, q, self.samples).mean(axis=2)
