"""simulator: vectorized populations of learning consumers on Mesa.

Public API (docs/design.md): :class:`Learner` and :func:`make_learner`,
the learner families, :class:`TypeDistribution` / :class:`AgentType` /
:class:`Population`, :class:`IncentiveGame`, the observation models,
the :class:`Ledger` and the Mesa :class:`IncentiveModel`.

The simulator does not import torch at import time (docs/design.md).
"""

from __future__ import annotations

import os as _os

# numba's OpenMP threading layer shares its runtime with PyTorch's CPU ops. With the default (active) wait policy,
# the worker threads of every parallel region spin for a while after it ends; on a 2-core machine that spinning took
# the core PyTorch computes on (a principal's world-model rollout ran 6x slower after each small population step).
# Sleeping threads cost a few microseconds per parallel region instead. Set before the OpenMP runtime loads; a value
# in the environment wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .game import IncentiveGame
from .learners import (
    EWA,
    LEARNERS,
    UCB1,
    BestResponse,
    EpsilonGreedy,
    Learner,
    ParamSpec,
    RothErev,
    Softmax,
    Thompson,
    learner_class,
    make_learner,
)
from .ledger import Ledger, RoundRecord
from .model import ConsumerAgent, IncentiveModel, default_game
from .observation import OBSERVATION_SETTINGS, Observation, ObservationModel, PrincipalSpec
from .population import (
    AgentType,
    Choice,
    Component,
    Const,
    Dist,
    LogUniform,
    Normal,
    Population,
    TypeDistribution,
    Uniform,
    as_dist,
)

__version__ = "0.1.0"

__all__ = [
    "EWA",
    "LEARNERS",
    "OBSERVATION_SETTINGS",
    "UCB1",
    "AgentType",
    "BestResponse",
    "Choice",
    "Component",
    "Const",
    "ConsumerAgent",
    "Dist",
    "EpsilonGreedy",
    "IncentiveGame",
    "IncentiveModel",
    "Learner",
    "Ledger",
    "LogUniform",
    "Normal",
    "Observation",
    "ObservationModel",
    "ParamSpec",
    "Population",
    "PrincipalSpec",
    "RothErev",
    "RoundRecord",
    "Softmax",
    "Thompson",
    "TypeDistribution",
    "Uniform",
    "as_dist",
    "default_game",
    "learner_class",
    "make_learner",
]
