"""What the principal sees: observation models and the principal's spec.

Settings (docs/design.md):

* ``full``: every agent's action and the reward it experienced;
* ``actions``: actions only;
* ``shares``: aggregate choice shares only (no individual actions);
* ``noisy``: actions, each replaced by a uniformly random action with
  probability ``noise`` (drawn from the counter-based stream, so it is
  reproducible and independent of the thread count).

``noise`` may also be set with ``full`` or ``actions`` to corrupt the actions
those settings reveal. The principal always learns its own payoff of the round
(``principal_reward``), as in any reinforcement-learning formulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._rng import PURPOSE_OBS, agent_base_np, draw_bits_np, stream_key, uniform_np
from ._validate import Range, check_float

__all__ = ["OBSERVATION_SETTINGS", "Observation", "ObservationModel", "PrincipalSpec"]

OBSERVATION_SETTINGS = ("full", "actions", "shares", "noisy")


@dataclass
class Observation:
    """One round as the principal sees it.

    Attributes:
        round: 0-based round index.
        incentives: the incentives the principal set, (K,) (or (n, K) for per-agent principals).
        n_agents: population size.
        actions: observed actions (n,) or None (``shares`` setting).
        shares: observed choice shares (K,), computed from the observed actions.
        rewards: the rewards agents experienced (n,), only under ``full``.
        principal_reward: the principal's own payoff this round (total over agents).
    """

    round: int
    incentives: np.ndarray
    n_agents: int
    shares: np.ndarray
    actions: np.ndarray | None = None
    rewards: np.ndarray | None = None
    principal_reward: float = 0.0


@dataclass
class PrincipalSpec:
    """What a principal is told at ``reset(spec, rng)`` (docs/design.md).

    Attributes:
        n_actions: K.
        n_agents: population size.
        observation: the observation setting (one of ``OBSERVATION_SETTINGS``).
        signed: whether negative incentives (taxes) are allowed.
        lower: lowest incentive per action (K,).
        upper: highest incentive per action (K,).
        horizon: rounds per episode, if known.
        principal_values: the principal's value of each action (K,).
        incentive_cost: the principal's cost per unit of incentive.
        posted: whether agents see incentives before choosing.
        action_names: names of the actions.
        extra: scenario-specific facts (e.g. emissions, social cost of carbon).
    """

    n_actions: int
    n_agents: int
    observation: str = "full"
    signed: bool = False
    lower: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    horizon: int | None = None
    principal_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    incentive_cost: float = 1.0
    posted: bool = True
    action_names: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class ObservationModel:
    """Turns a round's true outcome into the principal's :class:`Observation`.

    Args:
        setting: one of ``full``, ``actions``, ``shares``, ``noisy``.
        noise: probability that an observed action is replaced by a uniformly random
            one (default 0.1 for ``noisy``, else 0).
        seed_key: key of the counter-based stream for the noise.
    """

    def __init__(self, setting: str = "full", noise: float | None = None, *, seed_key: int = 0) -> None:
        if setting not in OBSERVATION_SETTINGS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATION_SETTINGS)}, got {setting!r}")
        if noise is None:
            noise = 0.1 if setting == "noisy" else 0.0
        self.noise = check_float("observation noise", noise, Range(0.0, 1.0))
        if setting == "shares" and self.noise > 0:
            raise ValueError("observation noise applies to observed actions; the 'shares' setting has none")
        self.setting = setting
        self._key = seed_key

    def observe(
        self,
        round_: int,
        incentives: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray | None,
        n_actions: int,
        principal_reward: float,
    ) -> Observation:
        """Build the principal's view of one round (``rewards`` are read only in the ``full`` setting)."""
        n = actions.shape[0]
        seen = actions
        if self.noise > 0 and self.setting != "shares":
            klo, khi = stream_key(self._key, PURPOSE_OBS, round_)
            base = agent_base_np(klo, khi, np.arange(n))
            flip = uniform_np(draw_bits_np(base, 0)) < self.noise
            rand = np.minimum((uniform_np(draw_bits_np(base, 1)) * n_actions).astype(np.int32), n_actions - 1)
            seen = np.where(flip, rand, actions).astype(np.int32)
        shares = np.bincount(seen, minlength=n_actions).astype(np.float64) / max(n, 1)
        return Observation(
            round=round_,
            incentives=np.array(incentives, copy=True),
            n_agents=n,
            shares=shares,
            actions=None if self.setting == "shares" else seen,
            rewards=np.array(rewards, copy=True) if self.setting == "full" else None,
            principal_reward=float(principal_reward),
        )
