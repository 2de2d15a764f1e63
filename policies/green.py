"""Tax principals for markets with an externality: Pigouvian tax, scheduled policies, planning oracle.

Incentives are signed: a tax tau_j on technology j is the incentive -tau_j.

* ``pigouvian`` (:class:`Pigouvian`): tau_j = SCC x e_j every round (Pigou 1920);
  with informed households it attains first best.
* :class:`Schedule`: a fixed incentive path, one row per round (the last row stays
  in force): the building block of reforms and of the oracle's candidates.
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

__all__ = ["Pigouvian", "PlanningOracle", "Schedule", "pigouvian_incentives", "subsidy_then_tax_schedules"]


def pigouvian_incentives(spec: PrincipalSpec) -> np.ndarray:
    """Incentives -SCC x e_j from the spec's ``extra`` (``scc``, ``emissions``)."""
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
    """tau_j = SCC x e_j, every round."""

    observes = False

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
    level on every other technology (the same relative price, without subsidy outlays).
    """
    base = pigouvian_incentives(spec)
    out = [np.tile(base, (horizon, 1))]
    others = [j for j in range(spec.n_actions) if j != clean]
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
