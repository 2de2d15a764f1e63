"""The incentive game: private payoffs, reward noise, the principal's value and cost.

K actions. Agent i's private mean reward of action j is ``payoff_means[i, j]``
(heterogeneous, or one (K,) vector for everyone). Each round the principal sets
an incentive vector (a bonus >= 0, or a signed tax/subsidy where ``signed``);
the agent who chooses j feels ``private reward + incentive_j``. Whether the
agent knows the incentives before choosing is ``posted``: posted incentives are
offsets the learner adds to its scores (prices, taxes); unposted ones are only
felt and must be learned from experience (the MERMAIDE bandit setting).

The principal's payoff per round is ``sum_i value[a_i] - incentive_cost *
sum_i incentive[a_i]``: a tax (negative incentive) is revenue.

All realized quantities go through one numba kernel that also writes the
ledger's per-block partial sums (float64, combined in block order, so totals do
not depend on the thread count; docs/design.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import _kernels as K
from ._rng import PURPOSE_REWARD, PURPOSE_SWITCH, stream_key
from ._validate import Range, check_float, per_action

if TYPE_CHECKING:
    from .ledger import Ledger
    from .population import Population

__all__ = ["BLOCK", "BoundGame", "IncentiveGame", "play_round"]

BLOCK = K.BLOCK
"""Agents per block of the deterministic reductions."""


@dataclass
class IncentiveGame:
    """Payoffs of the incentive game (docs/design.md: ``IncentiveModel(game=...)``).

    Attributes:
        payoff_means: private mean reward per action, (K,) or (n, K).
        noise: reward noise standard deviation, scalar or (K,) (Gaussian rewards).
        noise_kind: ``"gaussian"`` (mean + noise * z) or ``"bernoulli"`` (reward 1
            with probability mean, which must lie in [0, 1]).
        principal_values: the principal's value of an agent choosing each action (K,).
        incentive_cost: the principal's cost per unit of incentive paid (>= 0).
        signed: whether negative incentives (taxes) are allowed.
        lower: lowest incentive per action (scalar or (K,)); default 0, or -inf if signed.
        upper: highest incentive per action (scalar or (K,)); default +inf.
        posted: whether agents see the incentives before choosing.
        action_names: one name per action (default ``a0, a1, ...``).
        switch_prob: probability that an agent re-chooses in a round (1 = every
            round); the others keep last round's action, like households that keep
            their car (fleet turnover). Everyone chooses in the first round.
    """

    payoff_means: Any
    noise: Any = 0.0
    noise_kind: Literal["gaussian", "bernoulli"] = "gaussian"
    principal_values: Any = None
    incentive_cost: float = 1.0
    signed: bool = False
    lower: Any = None
    upper: Any = None
    posted: bool = True
    action_names: list[str] | None = field(default=None)
    switch_prob: float = 1.0

    def bind(self, n_agents: int, n_actions: int) -> BoundGame:
        """Validate against a population size and K; return the arrays the kernel uses."""
        means = per_action("game.payoff_means", self.payoff_means, n_agents, n_actions, compact=True)
        if means.shape[0] > 1 and np.all(means == means[0]):  # the same row for everyone: keep one
            means = means[:1].copy()
        if self.noise_kind not in ("gaussian", "bernoulli"):
            raise ValueError(f"game.noise_kind must be 'gaussian' or 'bernoulli', got {self.noise_kind!r}")
        if self.noise_kind == "bernoulli" and ((means < 0).any() or (means > 1).any()):
            raise ValueError("game.payoff_means must be in [0, 1] for bernoulli rewards")
        noise = per_action("game.noise", self.noise, 1, n_actions, Range(0.0))[0]
        pv = (
            np.zeros(n_actions)
            if self.principal_values is None
            else per_action("game.principal_values", self.principal_values, 1, n_actions)[0].astype(np.float64)
        )
        cost = check_float("game.incentive_cost", self.incentive_cost, Range(0.0, np.inf))
        lo_default = -np.inf if self.signed else 0.0
        lower = _bound("game.lower", self.lower, lo_default, n_actions)
        upper = _bound("game.upper", self.upper, np.inf, n_actions)
        if not self.signed and (lower < 0).any():
            raise ValueError("game.lower must be >= 0 when game.signed is False (bonuses only)")
        if (lower > upper).any():
            raise ValueError("game.lower must be <= game.upper for every action")
        switch = check_float("game.switch_prob", self.switch_prob, Range(0.0, 1.0, low_open=True))
        names = self.action_names or [f"a{j}" for j in range(n_actions)]
        if len(names) != n_actions or len(set(names)) != n_actions:
            raise ValueError(f"game.action_names must be {n_actions} distinct names, got {names!r}")
        return BoundGame(
            means=means,
            per_agent_means=means.shape[0] > 1,
            noise=noise,
            bernoulli=self.noise_kind == "bernoulli",
            principal_values=pv,
            incentive_cost=cost,
            signed=bool(self.signed),
            lower=lower,
            upper=upper,
            posted=bool(self.posted),
            action_names=list(names),
            switch_prob=switch,
        )


def _bound(name: str, value: Any, default: float, k: int) -> np.ndarray:
    if value is None:
        return np.full(k, default)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(k, float(arr))
    if arr.shape != (k,) or np.isnan(arr).any():
        raise ValueError(f"{name} must be a number or a vector of {k} numbers, got {value!r}")
    return arr


@dataclass
class BoundGame:
    """A validated game for a given population (arrays ready for the kernel).

    ``means`` is (n, K) when agents' means differ and (1, K) when everyone shares them
    (``per_agent_means``); :meth:`agent_means` gives the (n, K) view either way.
    """

    means: np.ndarray
    per_agent_means: bool
    noise: np.ndarray
    bernoulli: bool
    principal_values: np.ndarray
    incentive_cost: float
    signed: bool
    lower: np.ndarray
    upper: np.ndarray
    posted: bool
    action_names: list[str]
    switch_prob: float = 1.0

    @property
    def n_actions(self) -> int:
        """Number of actions K."""
        return self.means.shape[1]

    def agent_means(self, n_agents: int) -> np.ndarray:
        """(n, K) private mean rewards (a read-only broadcast view when they are shared)."""
        return self.means if self.per_agent_means else np.broadcast_to(self.means, (n_agents, self.n_actions))

    def check_incentives(self, inc: Any, n_agents: int, who: str = "principal") -> tuple[np.ndarray, bool]:
        """Validate an incentive vector (K,) or per-agent matrix (n, K) against the bounds."""
        k = self.n_actions
        try:
            arr = np.asarray(inc, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{who} returned non-numeric incentives: {inc!r}") from None
        if arr.shape == (k,):
            per = False
        elif arr.shape == (n_agents, k):
            per = True
        else:
            raise ValueError(f"{who} returned incentives of shape {arr.shape}; expected ({k},) or ({n_agents}, {k})")
        if not np.isfinite(arr).all():
            raise ValueError(f"{who} returned a NaN or inf incentive")
        tol = 1e-9
        if (arr < self.lower - tol).any() or (arr > self.upper + tol).any():
            raise ValueError(
                f"{who} returned incentives outside the allowed bounds "
                f"[{self.lower.tolist()}, {self.upper.tolist()}]: {arr.reshape(-1, k)[0].tolist()}"
            )
        return arr, per


def play_round(
    game: BoundGame,
    population: Population,
    incentives: np.ndarray,
    per_agent_incentives: bool,
    *,
    round_: int,
    seed_key: int,
    groups: np.ndarray,
    n_groups: int,
    ledger: Ledger | None = None,
    learn_out: np.ndarray | None = None,
    prev_actions: np.ndarray | None = None,
    match: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Play one round: every agent chooses, payoffs are drawn, the ledger sums are reduced, learners learn.

    A population of built-in families with at least ``simulator._kernels.FUSE_MIN_AGENTS``
    agents plays a common round (:func:`simulator._kernels.round_spec`) in one kernel per
    learner group (:func:`simulator._kernels.play_kernels`); a smaller population, one with a
    user's learner in it, and a rarer round play it in three steps (act, the payoff kernel,
    update). Both give the same numbers.

    Args:
        game: the bound game.
        population: the learners.
        incentives: (K,) or (n, K) incentives of this round.
        per_agent_incentives: whether ``incentives`` is per agent.
        round_: round index (keys the streams).
        seed_key: the reward stream's key.
        groups: household group of each agent (n,), or one entry for everyone.
        n_groups: number of groups G.
        ledger: the ledger whose per-household totals are updated in place (None: none kept).
        learn_out: (n,) buffer that receives what each agent learned from (None: not kept).
        prev_actions: last round's actions (for ``switch_prob`` < 1), None in the first round.
        match: per-household match values (taste shocks of the current choice), updated
            in place for re-choosers and added to private rewards; None if unused.

    Returns:
        actions (n,) int32 and a dict of float64 (G, K) sums: ``counts``, ``private``
        (sum of private rewards), ``paid`` (positive incentives paid) and
        ``collected`` (taxes collected, as positive numbers).
    """
    n = population.n_agents
    k = game.n_actions
    inc64 = np.ascontiguousarray(incentives.reshape(-1, k), dtype=np.float64)
    rlo, rhi = stream_key(seed_key, PURPOSE_REWARD, round_)
    g_arr = K.GameArrays(
        means=game.means,
        per_means=game.per_agent_means,
        noise=game.noise,
        bern=game.bernoulli,
        inc=inc64,
        per_inc=per_agent_incentives,
        posted=game.posted,
        groups=groups,
        rlo=rlo,
        rhi=rhi,
    )
    if game.posted:
        off = np.ascontiguousarray(inc64, dtype=np.float32)
    else:
        off = np.zeros((1, k), dtype=np.float32)
    per_off = game.posted and per_agent_incentives
    parts = np.zeros((4, (n + BLOCK - 1) // BLOCK, n_groups, k), dtype=np.float64)
    if ledger is not None and ledger.track_households:
        hh_incentive, hh_private = ledger.household_totals(any_incentive=bool(np.any(inc64 != 0.0)))
    else:
        hh_incentive, hh_private = None, None
    switching = prev_actions is not None and game.switch_prob < 1.0
    slo, shi = stream_key(seed_key, PURPOSE_SWITCH, round_) if switching else (np.uint32(0), np.uint32(0))
    rules = K.Rules(
        prev=prev_actions if switching else _unused(np.int32),
        switching=switching,
        prob=np.float32(game.switch_prob),
        slo=slo,
        shi=shi,
        has_match=match is not None,
        track=hh_private is not None,
        track_incentive=hh_incentive is not None,
        write_learn=learn_out is not None,
    )
    sinks = K.Sinks(
        parts=parts,
        hh_incentive=_unused(np.float64) if hh_incentive is None else hh_incentive,
        hh_private=_unused(np.float64) if hh_private is None else hh_private,
        match=_unused(np.float32) if match is None else match,
        actions=np.empty(n, dtype=np.int32),
        learn=learn_out if learn_out is not None else _unused(np.float32),
    )
    spec = K.round_spec(g_arr, rules, per_off) if population.fusable and n >= K.FUSE_MIN_AGENTS else None
    with K.threads_for(n):
        if spec is not None:
            population._play(K.play_kernels(spec), off, per_off, g_arr, rules, sinks)
        else:  # a user's learner, or a round the play kernels do not cover: act, switch, pay and book, update
            if learn_out is None:
                sinks = sinks._replace(learn=np.empty(n, dtype=np.float32))
                rules = rules._replace(write_learn=True)
            _play_in_steps(population, off, per_off, g_arr, rules, sinks)
    actions = sinks.actions
    totals = parts.sum(axis=1)  # combined in block order: deterministic whatever the thread count
    if not per_agent_incentives:  # one vector for all: paid and collected follow from the counts
        totals[2] = totals[0] * np.maximum(inc64[0], 0.0)
        totals[3] = totals[0] * np.maximum(-inc64[0], 0.0)
    return actions, {"counts": totals[0], "private": totals[1], "paid": totals[2], "collected": totals[3]}


def _unused(dtype: Any) -> np.ndarray:
    """A one-element zero array where a kernel takes an array it does not use this round (or reads as 0)."""
    return np.zeros(1, dtype=dtype)


def _play_in_steps(
    population: Population, off: np.ndarray, per_off: bool, game: K.GameArrays, rules: K.Rules, sinks: K.Sinks
) -> None:
    """The round of a population with a user's learner in it: act, switch, pay and book, update."""
    sinks.actions[:] = population._act(off, per_off)
    shock = population.taste_shocks()
    if rules.switching:
        K.apply_switching(sinks.actions, _unused(np.float32) if shock is None else shock, rules, sinks.match)
    elif rules.has_match and shock is not None:
        sinks.match[:] = shock
    K.realize_kernel(game, rules, sinks)
    population.update(sinks.actions, sinks.learn)
