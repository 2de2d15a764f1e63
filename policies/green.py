"""Tax principals for markets with an externality: Pigouvian tax, scheduled policies, planning oracle.

Incentives are signed: a tax tau_j on technology j is the incentive -tau_j.

* ``pigouvian`` (:class:`Pigouvian`): the tax equal to marginal damages (Pigou 1920); with informed
  households it attains first best. In an economy with a carbon tax (the spec's ``extra`` has
  ``scc_path``, as green_tax's) it is a carbon tax of the SCC of the year (``carbon_tax_share`` 1)
  and no vehicle incentive; otherwise tau_j = SCC x e_j on each action.
* :class:`Schedule`: a fixed incentive path, one row per round (the last row stays
  in force), announced in advance (``schedule``): the building block of the oracle's candidates.
* :class:`PlanningOracle`: sees the households' learning state and plans with the
  true simulator: every ``replan_every`` rounds it simulates each candidate
  schedule (relative to that round) over the rest of the horizon on a fork of the model (the same random
  streams, so with hindsight) and follows the best one. An upper bound for
  principals that must learn how households respond.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from simulator import PrincipalSpec

from .base import BasePrincipal, register_principal

__all__ = [
    "Pigouvian",
    "PlanningOracle",
    "ReformPrincipal",
    "Schedule",
    "carbon_tax_economy",
    "pigouvian_incentives",
    "subsidy_then_tax_schedules",
]


def carbon_tax_economy(spec: PrincipalSpec) -> bool:
    """Whether the scenario taxes carbon per mile (its spec's ``extra`` has ``scc_path``)."""
    return "scc_path" in spec.extra


def pigouvian_incentives(spec: PrincipalSpec) -> np.ndarray:
    """The Pigouvian incentives on the actions: 0 where a carbon tax does the job, else -SCC x e_j."""
    if carbon_tax_economy(spec):
        return np.zeros(spec.n_actions)
    try:
        scc = float(spec.extra["scc"])
        emissions = np.asarray(spec.extra["emissions"], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(f"the Pigouvian tax needs {exc.args[0]!r} in the scenario's spec") from None
    if emissions.shape != (spec.n_actions,):
        raise ValueError(f"emissions must have {spec.n_actions} entries, got {emissions.shape}")
    return -scc * emissions


@register_principal("pigouvian")
class Pigouvian(BasePrincipal):
    """The Pigouvian tax every round: a carbon tax at the SCC, or tau_j = SCC x e_j on each action."""

    observes = False

    def carbon_tax_share(self, t: int) -> float:
        """The carbon tax as a share of the SCC of round t: 1."""
        return 1.0

    def schedule(self, t: int, rounds: int) -> np.ndarray:
        """Announced: the same incentives every round."""
        return np.tile(self._x, (rounds, 1))

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Compute the tax vector once."""
        super().reset(spec, rng)
        if not spec.signed:
            raise ValueError("the Pigouvian tax needs signed incentives (taxes)")
        self._x = np.clip(pigouvian_incentives(spec), spec.lower, spec.upper)

    def act(self) -> np.ndarray:
        """The Pigouvian incentive vector (minus the taxes)."""
        return self._x


class Schedule(BasePrincipal):
    """A fixed path of incentives: row t is played in round t; the last row stays in force.

    Args:
        path: (T, K) incentives (minus taxes), or (K,) for a constant.
    """

    observes = True  # it counts rounds through observe()

    def __init__(self, path: Any) -> None:
        arr = np.asarray(path, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or not np.isfinite(arr).all() or arr.shape[0] == 0:
            raise ValueError("a schedule must be a finite (T, K) or (K,) array")
        self.path = arr

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Check the path against K and the bounds."""
        super().reset(spec, rng)
        if self.path.shape[1] != spec.n_actions:
            raise ValueError(f"schedule has {self.path.shape[1]} columns, the game has {spec.n_actions} actions")
        if (self.path < spec.lower - 1e-9).any() or (self.path > spec.upper + 1e-9).any():
            raise ValueError("schedule leaves the allowed incentive bounds")

    def act(self) -> np.ndarray:
        """This round's row."""
        return self.path[min(self.round, len(self.path) - 1)]

    def schedule(self, t: int, rounds: int) -> np.ndarray:
        """The announced rows of rounds t .. t + rounds - 1 (the last row carried forward)."""
        idx = np.minimum(np.arange(t, t + rounds), len(self.path) - 1)
        return self.path[idx]


def subsidy_then_tax_schedules(
    spec: PrincipalSpec,
    horizon: int,
    levels: Sequence[float],
    durations: Sequence[int],
    clean: int,
    *,
    surcharge: bool = False,
) -> list[np.ndarray]:
    """Candidate paths: an early push for d rounds on top of the Pigouvian tax, then Pigouvian.

    The push is a subsidy of each level on the clean technology, or with ``surcharge`` a tax of each
    level on every other technology (the same relative price, without subsidy outlays) except the
    outside option (``spec.extra["outside"]``, when the scenario has one). In a carbon-tax economy the
    Pigouvian part is the carbon tax and the base incentives are 0.
    """
    base = pigouvian_incentives(spec)
    out = [np.tile(base, (horizon, 1))]
    outside = spec.extra.get("outside")
    others = [j for j in range(spec.n_actions) if j != clean and j != outside]
    for s in levels:
        if s <= 0:
            continue
        for d in durations:
            path = np.tile(base, (horizon, 1))
            if surcharge:
                path[: min(d, horizon), others] -= s
            else:
                path[: min(d, horizon), clean] += s
            out.append(np.clip(path, spec.lower, spec.upper))
    return out


@register_principal("planning_oracle")
class PlanningOracle(BasePrincipal):
    """Plans with the true simulator over candidate schedules (an upper bound).

    Args:
        candidates: callable ``(spec) -> list of (T, K) paths`` or the list itself; row 0 of a
            path applies in the round it is chosen (paths are relative to the re-plan round).
        reward: callable ``(sums, incentives, round) -> float``, the principal's reward of
            a simulated round from the ledger sums (e.g. welfare).
        discount: per-round discount rate of simulated rewards (weights (1 + r)^-t).
        replan_every: rounds between re-plans (1 = model-predictive control every round).
    """

    needs_model_access = True
    observes = True  # it counts rounds through observe()

    def __init__(
        self,
        candidates: Callable[[PrincipalSpec], list[np.ndarray]] | list[np.ndarray],
        reward: Callable[[dict[str, np.ndarray], np.ndarray, int], float],
        discount: float = 0.0,
        replan_every: int = 5,
    ) -> None:
        if replan_every < 1:
            raise ValueError(f"replan_every must be >= 1, got {replan_every}")
        self.candidates_fn = candidates
        self.reward = reward
        self.discount = float(discount)
        self.replan_every = int(replan_every)
        self.model: Any = None

    def attach(self, model: Any) -> None:
        """Explicit access to the simulator."""
        self.model = model

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Start an episode."""
        super().reset(spec, rng)
        cands = self.candidates_fn(spec) if callable(self.candidates_fn) else self.candidates_fn
        self.candidates = [np.asarray(c, dtype=np.float64) for c in cands]
        if not self.candidates:
            raise ValueError("the planning oracle needs at least one candidate schedule")
        self.plan: np.ndarray | None = None
        self.plan_start = 0
        self.chosen: list[int] = []

    def _value(self, path: np.ndarray, start: int) -> float:
        fork = self.model.fork()
        total = 0.0
        horizon = self.spec.horizon or len(path)
        for t in range(start, horizon):
            x = path[min(t - start, len(path) - 1)]
            total += (1.0 + self.discount) ** -(t - start) * self.reward(fork.step(x), x, t)
        return total

    def act(self) -> np.ndarray:
        """Follow the best candidate from the current state; re-plan every ``replan_every`` rounds."""
        if self.model is None:
            raise ValueError("the planning oracle must be attached to a model before it acts")
        t = self.round
        if self.plan is None or (t - self.plan_start) % self.replan_every == 0:
            cands = list(self.candidates)
            if self.plan is not None:  # carrying on with the current plan is always a candidate
                cands.append(self.plan[min(t - self.plan_start, len(self.plan) - 1) :])
            values = [self._value(c, t) for c in cands]
            best = int(np.argmax(values))
            self.plan = cands[best]
            self.plan_start = t
            self.chosen.append(best)
        return self.plan[min(t - self.plan_start, len(self.plan) - 1)]


@register_principal("reform")
class ReformPrincipal(BasePrincipal):
    """A scheduled policy (a reform file, resolved): every instrument's value in every round, announced.

    Args:
        policy: ``{parameter: values}`` with a (T,) array for a scalar parameter and (T, K) (or (T, 10) for
            income deciles) for a vector one; any mapping with ``__getitem__`` and ``keys()``, such as
            ``scenarios.green_tax.reforms.ResolvedPolicy``. The names are green_tax's reform parameters (``tax``,
            ``subsidy``, ``pass_through``, ``subsidy_income_limit``, ``carbon_tax``,
            ``carbon_tax_scc_share``, ``dividend_share``, ``dividend_weights``, ``prices``, ...). None: no
            change of policy (plays 0).
        base_prices: the prices the game's values are net of; given, the policy's price changes from them
            are posted too.

    In an economy with a carbon tax (green_tax) the economy reads every instrument of a round from
    :meth:`round_values`. Elsewhere :meth:`act` posts ``subsidy x eligible - pass_through x tax`` (minus
    the price changes) on each action; households whose income (``spec.extra["income"]``) exceeds the
    round's ``subsidy_income_limit`` get no subsidy, and then the incentives are per household (n, K).
    """

    observes = True  # it counts rounds through observe()

    def __init__(self, policy: Any = None, *, base_prices: Any = None) -> None:
        self.policy = policy
        self.base_prices = None if base_prices is None else np.asarray(base_prices, dtype=np.float64)

    def _get(self, name: str, default: Any = None) -> Any:
        if self.policy is None or name not in self.policy:
            return default
        return np.asarray(self.policy[name], dtype=np.float64)

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Precompute the posted vectors of every round."""
        super().reset(spec, rng)
        k = spec.n_actions
        tax = self._get("tax")
        horizon = spec.horizon or 1
        t_len = len(tax) if tax is not None else horizon
        zeros = np.zeros((t_len, k))
        tax = zeros if tax is None else tax
        if tax.shape[1] != k:
            raise ValueError(f"the reform has {tax.shape[1]} technologies, the game {k}")
        if not spec.signed:
            raise ValueError("a reform needs signed incentives (taxes)")
        rho = self._get("pass_through", np.ones_like(tax))
        posted = -(rho * tax)
        prices = self._get("prices")
        if self.base_prices is not None and prices is not None:
            posted = posted - (prices - self.base_prices[None, :])
        self._posted = posted
        self._subsidy = self._get("subsidy", zeros)
        self._limit = self._get("subsidy_income_limit", np.full(t_len, np.inf))
        self._capped = np.isfinite(self._limit) & (self._subsidy > 0).any(axis=1)
        self._income = None
        self._len = t_len
        if self._capped.any() and not carbon_tax_economy(spec):
            income = spec.extra.get("income")
            if income is None or np.shape(income) != (spec.n_agents,):
                raise ValueError("subsidy_income_limit needs each household's income in spec.extra['income']")
            self._income = np.asarray(income, dtype=np.float64)

    def round_values(self, t: int) -> dict[str, Any]:
        """Every parameter's value in round t (the last round's after the schedule)."""
        if self.policy is None:
            return {}
        out = {}
        for name in self.policy:
            arr = np.asarray(self.policy[name], dtype=np.float64)
            out[name] = arr[min(t, len(arr) - 1)]
        return out

    def eligible(self, t: int) -> np.ndarray | None:
        """(n,) whether each household gets round t's subsidy, or None when everyone does."""
        t = min(t, self._len - 1)
        if not self._capped[t] or self._income is None:
            return None
        return self._income <= self._limit[t]

    def act(self) -> np.ndarray:
        """This round's posted price changes (minus the taxes borne plus the subsidies), (K,) or (n, K)."""
        t = min(self.round, self._len - 1)
        elig = self.eligible(t)
        if elig is None:
            return self._posted[t] + self._subsidy[t]
        return self._posted[t][None, :] + self._subsidy[t][None, :] * elig[:, None]

    def schedule(self, t: int, rounds: int) -> np.ndarray:
        """The announced posted vectors of rounds t .. t + rounds - 1 (everyone eligible)."""
        idx = np.minimum(np.arange(t, t + rounds), self._len - 1)
        return self._posted[idx] + self._subsidy[idx]
