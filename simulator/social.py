"""Social learning: agents also learn from a sample of other agents' experience.

Learners in :mod:`simulator.learners` learn from their own rewards. With social learning, after each
round every agent additionally hears the experience of other agents, its *contacts*: the action a
contact took this round and the reward the contact experienced, and learns from it exactly as from
its own experience (one more ``update`` of the public Learner API with the contacts' actions and
rewards). A household that never owned an electric car can so learn what its neighbours who own one
experience, and adoption diffuses over years instead of waiting for each household's own trial; a bad
experience spreads as well (peers matter for clean-technology adoption: Bollinger & Gillingham 2012,
Marketing Science 31(6); Heutel & Muehlegger 2015, Environmental and Resource Economics 62).

**Strength.** ``strength`` s >= 0 is the number of others' experiences an agent learns from per round,
each weighted as one of its own observations: each round every agent hears ``floor(s)`` contacts plus
one more with probability ``s - floor(s)`` (the same count for every agent of the round, drawn from the
round's own stream). s = 0 is no social learning; s = 1 doubles the experience an agent learns from.

**Contacts.** ``groups`` (one integer per agent) restricts contacts to agents of the same group
(neighbours: e.g. households of the same area and income decile); None draws contacts from the whole
population (random mixing). A contact is drawn uniformly within the group (it can be the agent itself
with probability 1 / group size).

**Randomness.** The draws of round r come from ``numpy.random.default_rng([seed, 13, r])``: the same
seed gives the same contacts, whatever else runs. Learners count the extra updates as rounds (their
``t``), which keys their own random streams: runs with and without social learning differ from the
first heard round on, and agree exactly with ``strength = 0``.

**Forks.** A copy (``copy.deepcopy``, e.g. a planner's fork of a model) keeps its own count of contacts
heard but shares the draws: forks replaying the same rounds draw the same contacts, computed once and
kept (up to ``CACHE_BYTES`` of contact arrays, oldest dropped first).

Learners that do not learn (``best_response``) ignore the extra updates, as they ignore their own.
The rule uses only the public Learner API (``update(actions, rewards)``), so it works with any learner
family, plugins included.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ._kernels import threads_for

__all__ = ["SocialLearning"]

STREAM = 13
"""Purpose tag of the social-learning streams (``default_rng([seed, STREAM, round])``)."""

CACHE_BYTES = 32 * 1024 * 1024
"""Contact arrays kept for forks that replay the same rounds (bytes; oldest dropped first)."""


class SocialLearning:
    """Extra updates from other agents' experience.

    Args:
        strength: expected number of contacts heard per agent and round (>= 0).
        groups: (n,) integer group of each agent; contacts come from the same group. None: anyone.
        seed: the run's seed.
        learners: (n,) bool, the agents that learn socially (default all); only used to report.
    """

    def __init__(
        self,
        strength: float,
        groups: np.ndarray | None = None,
        seed: int = 0,
        learners: np.ndarray | None = None,
    ) -> None:
        s = float(strength)
        if not np.isfinite(s) or s < 0:
            raise ValueError(f"social learning: strength must be a number >= 0, got {strength!r}")
        self.strength = s
        self.seed = int(seed)
        self.learners = learners
        self.heard = 0  # contacts heard so far (per agent)
        self._counts: dict[int, int] = {}  # shared with copies: contacts per round
        self._draws: dict[tuple[int, int, int], np.ndarray] = {}  # shared with copies: (n, round, draw) -> who
        if groups is None:
            self._order = None
        else:
            g = np.asarray(groups)
            if g.ndim != 1 or not np.issubdtype(g.dtype, np.integer) or (g < 0).any():
                raise ValueError("social learning: groups must be non-negative integers, one per agent")
            self._order = np.argsort(g, kind="stable")
            counts = np.bincount(g)
            self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[g]
            self._sizes = counts[g]

    def __deepcopy__(self, memo: dict[int, Any]) -> SocialLearning:
        """A copy with its own count of contacts heard; the draws (pure functions of seed and round) shared."""
        return copy.copy(self)

    def contacts_this_round(self, round_: int) -> int:
        """How many contacts every agent hears in round ``round_``."""
        r = int(round_)
        m = self._counts.get(r)
        if m is None:
            rng = np.random.default_rng([self.seed, STREAM, r, 0])
            whole = int(np.floor(self.strength))
            m = self._counts[r] = whole + int(rng.random() < self.strength - whole)
        return m

    def sample(self, n: int, round_: int, draw: int) -> np.ndarray:
        """(n,) the contact of each agent for draw ``draw`` of round ``round_`` (read-only)."""
        key = (int(n), int(round_), int(draw))
        who = self._draws.get(key)
        if who is not None:
            return who
        rng = np.random.default_rng([self.seed, STREAM, int(round_), 1 + draw])
        if self._order is None:
            who = rng.integers(0, n, size=n)
        else:
            u = rng.random(n)
            pick = self._starts + np.minimum((u * self._sizes).astype(np.int64), self._sizes - 1)
            who = self._order[pick]
        who.flags.writeable = False
        if who.nbytes <= CACHE_BYTES:
            while self._draws and (len(self._draws) + 1) * who.nbytes > CACHE_BYTES:
                self._draws.pop(next(iter(self._draws)))
            self._draws[key] = who
        return who

    def after_round(self, population: Any, actions: np.ndarray, rewards: np.ndarray, round_: int) -> int:
        """Let every agent learn from its contacts' actions and rewards of this round.

        Args:
            population: the agents (a :class:`simulator.Population` or a learner with ``update``).
            actions: (n,) this round's actions.
            rewards: (n,) the rewards the agents learned from this round.
            round_: the round (keys the draws).

        Returns:
            the number of contacts each agent heard.
        """
        if self.strength == 0:
            return 0
        m = self.contacts_this_round(round_)
        if m == 0:
            return 0
        n = len(actions)
        if isinstance(actions, np.ndarray):
            a = actions
            r = np.asarray(rewards, dtype=np.float32)
            with threads_for(n):  # small populations on the calling thread, as the simulator's own rounds
                for d in range(m):
                    who = self.sample(n, round_, d)
                    population.update(a[who].astype(np.int32), r[who])
        else:  # device tensors (a torch population): the same contacts, gathered on the device
            import torch

            for d in range(m):
                who = torch.as_tensor(self.sample(n, round_, d).copy(), device=actions.device)
                population.update(actions[who], rewards[who])
        self.heard += m
        return m

    def after_model_round(self, model: Any) -> int:
        """:meth:`after_round` for the round an :class:`simulator.IncentiveModel` just played, on its device.

        On the numba path it reads the model's actions and the rewards its learners learned from; on a
        torch device it updates the device population in place (the host copies are refreshed when read).
        """
        sim = getattr(model, "_device_sim", None)
        if sim is None:
            return self.after_round(model.population, model.last_actions, model.learned_rewards, model.round)
        heard = self.after_round(sim.population, sim.actions, sim.learn, model.round)
        if heard:
            sim.version += 1  # the learners changed: the next read syncs them to the host
        return heard
