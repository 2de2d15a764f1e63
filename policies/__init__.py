"""policies: principals that set per-round incentives.

Registered names (``docs/design.md``) resolve through :func:`make_principal`;
any class with ``reset(spec, rng)``, ``act()`` and ``observe(obs)`` works by
import path (``package.module:ClassName``).
"""

from __future__ import annotations

from simulator import Observation, PrincipalSpec

from . import baselines as _baselines  # noqa: F401  (registers oracle, ipa, best_constant)
from . import green as _green  # noqa: F401  (registers pigouvian, planning_oracle)
from . import learned as _learned  # noqa: F401  (registers mermaide and its ablations)
from . import stackelberg_principals as _stackelberg_principals  # noqa: F401  (stackelberg, nash, probing)
from .base import (
    PRINCIPALS,
    BasePrincipal,
    ConstantIncentive,
    NoIntervention,
    Principal,
    make_principal,
    principal_class,
    register_principal,
)
from .stackelberg import (
    ProbingResult,
    StackelbergSolution,
    follower_best_response,
    learn_commitment_by_queries,
    nash_equilibria,
    nash_value,
    solve_stackelberg,
)

__all__ = [
    "PRINCIPALS",
    "BasePrincipal",
    "ConstantIncentive",
    "NoIntervention",
    "Observation",
    "Principal",
    "PrincipalSpec",
    "ProbingResult",
    "StackelbergSolution",
    "follower_best_response",
    "learn_commitment_by_queries",
    "make_principal",
    "nash_equilibria",
    "nash_value",
    "principal_class",
    "register_principal",
    "solve_stackelberg",
]
