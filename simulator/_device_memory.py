"""How much device memory a model will need, estimated from its arguments before anything is built.

:class:`simulator.IncentiveModel` refuses, in one line, a population that would not fit on the
GPU (:func:`check_model_fits`). The estimate needs the population's types, not torch, so it
lives here, below both :mod:`simulator.population` and the torch backend: the backend imports
neither this module nor the population module, and this module imports the backend (and torch)
only inside :func:`check_model_fits`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .learners import learner_class
from .population import Const, Population, TypeDistribution, split_counts

__all__ = ["FAMILY_BYTES", "WORK_BYTES", "check_model_fits", "estimate_device_bytes", "model_estimate"]


FAMILY_BYTES: dict[str, tuple[int, int]] = {
    "epsilon_greedy": (8, 0),
    "ucb1": (8, 0),
    "thompson": (8, 0),
    "softmax": (8, 0),
    "ewa": (4, 4),
    "roth_erev": (4, 0),
    "best_response": (4, 4),
}
"""Device state bytes per agent of each family: (per action, per agent)."""

WORK_BYTES = (48, 160)
"""Peak temporaries of one round per agent: (per action, per agent). Eager torch keeps a few
(K, n) float32 score/exponential tensors and about a dozen (n,) int64/float64 vectors alive
(hash words, draws, actions, rewards, masked ledger values). Measured as the peak RSS growth
of a round on the CPU build at 2e6 agents (bytes per agent: epsilon-greedy K=2 206,
softmax K=5 253, EWA K=5 273, Thompson K=10 413) and rounded up; a GPU's caching allocator
may hold somewhat more."""


def estimate_device_bytes(
    n: int,
    k: int,
    families: Sequence[tuple[str, int, int]],
    *,
    per_agent_means: bool = True,
    per_agent_groups: bool = False,
    track_households: bool = True,
    taste_shocks: bool = False,
) -> dict[str, int]:
    """Bytes a population needs on the device, by part.

    Args:
        n: agents.
        k: actions.
        families: ``(family, agents, per-agent parameters)`` per learner group; a family
            outside :data:`FAMILY_BYTES` counts as epsilon-greedy.
        per_agent_means: whether the game's payoff means are per agent (n, K).
        per_agent_groups: whether household groups are per agent.
        track_households: whether the ledger keeps per-household totals (2 float64 each).
        taste_shocks: whether match values are kept (one float32 each).

    Returns:
        ``state``, ``game``, ``ledger``, ``buffers``, ``work`` and ``total`` in bytes.
    """
    state = 0
    for family, m, n_params in families:
        per_action, per_agent = FAMILY_BYTES.get(family, FAMILY_BYTES["epsilon_greedy"])
        state += m * (per_action * k + per_agent + 4 * n_params)
    game = (4 * k * n if per_agent_means else 4 * k) + (8 * n if per_agent_groups else 0)
    ledger = 16 * n if track_households else 0
    buffers = n * (4 + 8 + 8 + (4 if taste_shocks else 0))  # learn, actions, previous actions, match
    work = n * (WORK_BYTES[0] * k + WORK_BYTES[1])
    parts = {"state": state, "game": game, "ledger": ledger, "buffers": buffers, "work": work}
    parts["total"] = sum(parts.values())
    return parts


def _n_per_agent(params: dict[str, Any]) -> int:
    return sum(1 for v in params.values() if v is not None and not isinstance(v, Const | int | float))


def model_estimate(
    n: int, k: int, learner: Any, learner_params: Any, game: Any, groups: Any, track_households: bool
) -> dict[str, int]:
    """:func:`estimate_device_bytes` from an :class:`IncentiveModel`'s arguments, before anything is built."""
    if isinstance(learner, Population):
        fams = [
            (getattr(lr, "name", ""), lr.n_agents, sum(v.shape[0] > 1 for v in getattr(lr, "p", {}).values()))
            for lr in learner.learners
        ]
    else:
        types = TypeDistribution.from_spec(learner, learner_params)
        counts = split_counts(n, [c.weight for c in types.components])
        fams = [
            (getattr(learner_class(c.family), "name", ""), int(m), _n_per_agent(c.params))
            for c, m in zip(types.components, counts, strict=True)
        ]
    shocks = any(fam == "best_response" for fam, _, _ in fams)
    per_means = game is None or np.ndim(getattr(game, "payoff_means", 0)) == 2
    return estimate_device_bytes(
        n,
        k,
        fams,
        per_agent_means=per_means,
        per_agent_groups=groups is not None,
        track_households=track_households,
        taste_shocks=shocks,
    )


def check_model_fits(
    n: int,
    k: int,
    learner: Any,
    learner_params: Any,
    game: Any,
    groups: Any,
    track_households: bool,
    device: str,
    *,
    mem_get_info: Callable[[Any], tuple[int, int]] | None = None,
) -> dict[str, int]:
    """Estimate a model's device bytes and refuse it up front if they exceed the free GPU memory.

    Imports torch (through :mod:`simulator._torch_backend`): call it only for a device model.
    """
    from . import _torch_backend as TB  # torch only off the numba path

    est = model_estimate(n, k, learner, learner_params, game, groups, track_households)
    TB.check_device_memory(est, TB.torch_device(device), n=n, k=k, mem_get_info=mem_get_info)
    return est
