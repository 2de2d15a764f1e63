"""policies: principals that set per-round incentives.

Registered names (DESIGN.md section 8) resolve through :func:`make_principal`;
any class with ``reset(spec, rng)``, ``act()`` and ``observe(obs)`` works by
import path (``package.module:ClassName``).
"""

from __future__ import annotations

from simulator import Observation, PrincipalSpec

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

__all__ = [
    "PRINCIPALS",
    "BasePrincipal",
    "ConstantIncentive",
    "NoIntervention",
    "Observation",
    "Principal",
    "PrincipalSpec",
    "make_principal",
    "principal_class",
    "register_principal",
]
