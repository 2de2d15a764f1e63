"""Test plugins: a user-defined learner and principals, reachable by import path.

``MyLearner`` does not inherit from ``simulator.Learner``; it only has the shape
of the contract (docs/design.md), so ``learner="tests.simulator.helpers:MyLearner"``
must work inside ``IncentiveModel``, alone or in a mixture with built-in families.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


class MyLearner:
    """Stubborn consumers: each always picks its ``favourite`` action unless a posted
    offset makes another action better by more than ``margin``.

    It keeps the average reward it experienced, so tests can check that
    ``update`` received what the game paid.
    """

    params: ClassVar[dict[str, Any]] = {"favourite": 0, "margin": 1.0}

    def __init__(self, n_agents: int, n_actions: int, *, rng: np.random.Generator, favourite: Any = 0, margin=1.0):
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy Generator")
        self.n_agents, self.n_actions = int(n_agents), int(n_actions)
        self.favourite = np.broadcast_to(np.asarray(favourite).astype(np.int64), (self.n_agents,)).copy()
        self.margin = float(np.asarray(margin).flat[0])
        self.updates = 0
        self.reward_sum = np.zeros(self.n_agents)
        self.offsets_seen: list[np.ndarray | None] = []

    def act(self, offsets: np.ndarray | None = None) -> np.ndarray:
        self.offsets_seen.append(None if offsets is None else np.array(offsets, copy=True))
        actions = self.favourite.copy()
        if offsets is not None:
            off = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (self.n_agents, self.n_actions))
            rows = np.arange(self.n_agents)
            gain = off.max(axis=1) - off[rows, actions]
            switch = gain > self.margin
            actions[switch] = off.argmax(axis=1)[switch]
        return actions.astype(np.int32)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.updates += 1
        self.reward_sum += np.asarray(rewards, dtype=np.float64)

    def action_probs(self, offsets: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros((self.n_agents, self.n_actions))
        out[np.arange(self.n_agents), self.favourite] = 1.0
        return out


class NotALearner:
    """Has update() but no act(): must be refused with a clear message."""

    def __init__(self, n_agents: int, n_actions: int, *, rng: np.random.Generator) -> None:
        pass

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        pass


class SchedulePrincipal:
    """Plays a fixed list of incentives (one (K,) or (n, K) array per round) and records what it sees."""

    def __init__(self, schedule: list[Any]) -> None:
        self.schedule = [np.asarray(x, dtype=np.float64) for x in schedule]
        self.observations: list[Any] = []
        self.spec: Any = None

    def reset(self, spec: Any, rng: np.random.Generator) -> None:
        self.spec = spec
        self.observations = []
        self._t = 0

    def act(self) -> np.ndarray:
        x = self.schedule[self._t % len(self.schedule)]
        self._t += 1
        return x

    def observe(self, obs: Any) -> None:
        self.observations.append(obs)


class ConstantReturner:
    """Returns whatever it was given, every round (for bad-incentive tests)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def reset(self, spec: Any, rng: np.random.Generator) -> None:
        pass

    def act(self) -> Any:
        return self.value

    def observe(self, obs: Any) -> None:
        pass


class RandomPrincipal:
    """Draws signed incentives from the generator it is given at reset (so it is seeded by the model);
    one (K,) vector, or a per-agent (n, K) matrix with ``per_agent``."""

    def __init__(self, scale: float = 0.5, per_agent: bool = False) -> None:
        self.scale, self.per_agent = scale, per_agent

    def reset(self, spec: Any, rng: np.random.Generator) -> None:
        self.spec, self.rng = spec, rng
        self.seen = 0

    def act(self) -> np.ndarray:
        shape = (self.spec.n_agents, self.spec.n_actions) if self.per_agent else self.spec.n_actions
        x = self.rng.normal(0.0, self.scale, shape)
        return np.clip(x, self.spec.lower, self.spec.upper)

    def observe(self, obs: Any) -> None:
        self.seen += 1


class ReadmeLearner:
    """Exactly the README's "Your own learner" shape: ``__init__``, ``act`` and ``update``, nothing else.

    It keeps its sizes under its own names (no ``n_agents`` / ``n_actions`` attributes, no
    ``params``, no ``estimates``): plays action ``(agent + round) % K`` and counts the rewards.
    """

    def __init__(self, n_agents, n_actions, *, rng, **params):
        self._n, self._k = n_agents, n_actions
        self._round = 0
        self.total_reward = 0.0
        # parameters arrive as one value or one per agent (drawn by the model): broadcast either
        self.shift = np.broadcast_to(np.asarray(params.get("shift", 0)).astype(np.int64), (n_agents,))

    def act(self, offsets=None):
        return (np.arange(self._n) + self._round + self.shift) % self._k

    def update(self, actions, rewards):
        self._round += 1
        self.total_reward += float(np.sum(rewards))


class BadShapeLearner(ReadmeLearner):
    """Returns one action too few."""

    def act(self, offsets=None):
        return super().act(offsets)[1:]
