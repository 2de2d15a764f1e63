"""simulator: vectorized populations of learning consumers on Mesa.

Public API (DESIGN.md section 3): :class:`Learner` and :func:`make_learner`,
the learner families, :class:`TypeDistribution` / :class:`AgentType` /
:class:`Population`, :class:`IncentiveGame`, the observation models,
the :class:`Ledger` and the Mesa :class:`IncentiveModel`.

The simulator does not import torch at import time (DESIGN.md section 8).
"""

from __future__ import annotations

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
