"""A consumer learner of your own: satisficing households (Simon 1955), for the tutorial.

Use it by import path once this folder is importable (see docs/tutorial.md, section 3):

    PYTHONPATH=docs/examples python -m scenarios.green_tax --learner my_learners:Satisficer

A household keeps what it has while it is happy with it. It is happy when last
year's payoff (the value it experienced plus the posted subsidy, minus the posted
tax) reached its *aspiration level*; the aspiration moves towards the payoffs it
gets (at speed ``aspiration_speed``). An unhappy household switches to the option
it now thinks best: its beliefs (its prior, then the average of its own
experience) plus the posted taxes and subsidies, among the options other than its
current one.

The class has the shape of ``simulator.Learner`` (docs/design.md, "Learners"):
``__init__(n_agents, n_actions, *, rng, **params)``, ``act(offsets)`` and
``update(actions, rewards)``; every array holds one row per household. The class
attribute ``params`` lists the parameters it accepts with their defaults; a
scenario that knows household priors (green_tax does) passes them as
``initial_values`` because that name is listed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


class Satisficer:
    """Satisficing households: stay while the payoff meets the aspiration, else switch to the best other option.

    Args:
        n_agents: households.
        n_actions: options (technologies).
        rng: the random generator passed down by the model (ties are broken at random).
        initial_values: prior belief of each option, scalar, (K,) or (n, K), $/yr.
        prior_weight: how many years of experience the prior counts for.
        aspiration_speed: weight of the newest payoff in the aspiration level (0 to 1).
        tolerance: shortfall below the aspiration a household puts up with, $/yr.
    """

    params: ClassVar[dict[str, Any]] = {
        "initial_values": 0.0,
        "prior_weight": 1.0,
        "aspiration_speed": 0.2,
        "tolerance": 0.0,
    }

    def __init__(
        self,
        n_agents: int,
        n_actions: int,
        *,
        rng: np.random.Generator,
        initial_values: Any = 0.0,
        prior_weight: Any = 1.0,
        aspiration_speed: Any = 0.2,
        tolerance: Any = 0.0,
    ) -> None:
        self.n_agents, self.n_actions = int(n_agents), int(n_actions)  # read by simulator.Population
        self.n, self.k = self.n_agents, self.n_actions
        self.rng = rng
        shape = (self.n, self.k)
        self.beliefs = np.broadcast_to(np.asarray(initial_values, dtype=np.float64), shape).copy()
        self.weights = np.broadcast_to(_per_household(prior_weight, self.n)[:, None], shape).copy()
        self.speed = _per_household(aspiration_speed, self.n)
        self.tolerance = _per_household(tolerance, self.n)
        self.current = np.full(self.n, -1)  # -1: has not chosen yet
        self.aspiration = np.full(self.n, -np.inf)
        self.last_payoff = np.full(self.n, -np.inf)
        self._offsets = np.zeros(shape)

    def _scores(self, offsets: np.ndarray | None) -> np.ndarray:
        off = np.zeros((self.n, self.k)) if offsets is None else np.broadcast_to(offsets, (self.n, self.k))
        self._offsets = np.array(off, dtype=np.float64)
        # a tiny random jitter breaks ties at random
        return self.beliefs + self._offsets + 1e-9 * self.rng.random((self.n, self.k))

    def act(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """This year's choices: keep the current option if happy, else the best other option."""
        scores = self._scores(offsets)
        first = self.current < 0
        unhappy = ~first & (self.last_payoff < self.aspiration - self.tolerance)
        choice = self.current.copy()
        choice[first] = scores[first].argmax(axis=1)
        if unhappy.any():
            rows = np.flatnonzero(unhappy)
            others = scores[rows].copy()
            others[np.arange(rows.size), self.current[rows]] = -np.inf
            choice[rows] = others.argmax(axis=1)
        self.current = choice
        return choice.astype(np.int64)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from the year: beliefs about the option used, last payoff, aspiration."""
        rows = np.arange(self.n)
        a = np.asarray(actions, dtype=np.int64)
        r = np.asarray(rewards, dtype=np.float64)
        self.weights[rows, a] += 1.0
        self.beliefs[rows, a] += (r - self.beliefs[rows, a]) / self.weights[rows, a]
        self.current = a  # households that did not re-choose keep what they have
        payoff = r + self._offsets[rows, a]
        self.last_payoff = payoff
        start = ~np.isfinite(self.aspiration)
        self.aspiration[start] = payoff[start]
        self.aspiration[~start] += self.speed[~start] * (payoff[~start] - self.aspiration[~start])

    def action_probs(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """The choice each household would make now, as a one-hot distribution (a deterministic rule)."""
        saved = (self.current.copy(), self._offsets)
        choice = self.act(offsets)
        self.current, self._offsets = saved
        probs = np.zeros((self.n, self.k))
        probs[np.arange(self.n), choice] = 1.0
        return probs


def _per_household(value: Any, n: int) -> np.ndarray:
    """A parameter given as one number or one number per household, as an (n,) array."""
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    return np.broadcast_to(arr, (n,)).copy()
