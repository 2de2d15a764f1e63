"""The Principal protocol, the registry of principals, and the simplest baselines.

A principal sets each round's intervention and learns from what it observes
(``docs/design.md``, "Public contracts"):

* ``reset(spec, rng)``: a new episode; ``spec`` (:class:`simulator.PrincipalSpec`)
  says K, the observation setting, whether incentives are signed and their
  bounds; ``rng`` is the passed-down ``numpy.random.Generator``;
* ``act() -> ndarray``: this round's intervention, (K,) incentives or taxes
  (per agent (n, K) only for the oracle; a probability vector over the
  leader's actions in the Stackelberg game);
* ``observe(obs)``: what the observation model reveals (:class:`simulator.Observation`).

A principal never reads the simulator's internals; the oracle is the one
principal built with explicit access (``needs_model_access = True`` and an
``attach(model)`` method). Setting ``observes = False`` tells the model to skip
building observations for a principal that ignores them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from simulator import Observation, PrincipalSpec
from simulator._plugins import resolve

__all__ = [
    "PRINCIPALS",
    "BasePrincipal",
    "ConstantIncentive",
    "NoIntervention",
    "Principal",
    "make_principal",
    "principal_class",
    "register_principal",
]


@runtime_checkable
class Principal(Protocol):
    """What the model needs from a principal."""

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Start an episode."""

    def act(self) -> np.ndarray:
        """This round's intervention."""

    def observe(self, obs: Observation) -> None:
        """Learn from the round just played."""


PRINCIPALS: dict[str, type] = {}


def register_principal(name: str):
    """Class decorator: register a principal under ``name``."""

    def deco(cls: type) -> type:
        PRINCIPALS[name] = cls
        cls.registered_name = name
        return cls

    return deco


def principal_class(spec: str | type) -> type:
    """The principal class named by a registered name or a ``module:ClassName`` path."""
    cls = resolve(spec, PRINCIPALS, "principal")
    if not isinstance(cls, type):
        raise ValueError(f"principal {spec!r} must be a class, got {type(cls).__name__}")
    missing = [m for m in ("reset", "act", "observe") if not callable(getattr(cls, m, None))]
    if missing:
        raise ValueError(f"principal {spec!r} lacks {', '.join(missing)}() of the Principal protocol")
    return cls


def make_principal(spec: str | type, **params: Any) -> Any:
    """Build a principal from a registered name, an import path or a class."""
    cls = principal_class(spec)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"principal {spec!r}: bad parameters: {exc}") from None


class BasePrincipal:
    """Convenience base: stores the spec and rng, counts rounds, keeps the last observation."""

    observes = True
    needs_model_access = False

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Store the spec and generator and start counting rounds at 0."""
        self.spec = spec
        self.rng = rng
        self.round = 0
        self.last_obs: Observation | None = None

    def act(self) -> np.ndarray:
        """No incentives (override)."""
        return np.zeros(self.spec.n_actions)

    def observe(self, obs: Observation) -> None:
        """Remember the observation and advance the round counter."""
        self.last_obs = obs
        self.round += 1

    def clip(self, incentives: np.ndarray) -> np.ndarray:
        """Clip an incentive vector to the spec's bounds."""
        return np.clip(np.asarray(incentives, dtype=np.float64), self.spec.lower, self.spec.upper)


@register_principal("none")
class NoIntervention(BasePrincipal):
    """No incentives, ever: the lower bound every principal is compared with."""

    observes = False


@register_principal("constant")
class ConstantIncentive(BasePrincipal):
    """The same incentive vector every round.

    Args:
        incentives: (K,) vector (a scalar is applied to every action); bonuses >= 0
            unless the game allows signed incentives (taxes < 0).
    """

    observes = False

    def __init__(self, incentives: Any = 0.0) -> None:
        arr = np.asarray(incentives, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("constant principal: incentives must be finite")
        self.incentives = arr

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Check the vector against K and the bounds."""
        super().reset(spec, rng)
        k = spec.n_actions
        vec = np.full(k, float(self.incentives)) if self.incentives.ndim == 0 else self.incentives
        if vec.shape != (k,):
            raise ValueError(f"constant principal: incentives must have {k} entries, got shape {vec.shape}")
        if (vec < spec.lower - 1e-9).any() or (vec > spec.upper + 1e-9).any():
            raise ValueError(
                f"constant principal: incentives {vec.tolist()} outside the bounds "
                f"[{spec.lower.tolist()}, {spec.upper.tolist()}]"
            )
        self._vec = vec

    def act(self) -> np.ndarray:
        """The fixed vector."""
        return self._vec
