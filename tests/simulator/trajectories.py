"""Digests of whole model trajectories, to show that a refactor or a faster kernel changes no result.

Each case builds an :class:`simulator.IncentiveModel`, steps it a few rounds and hashes
everything a user can see: the actions of every round, every ledger record (counts,
private rewards, paid, collected, the principal's value and cost), the per-household
totals, the learners' final state and the rewards the principal observed. The cases
cover every learner family, per-agent and shared incentives, posted and unposted games,
Bernoulli rewards, fleet inertia with taste shocks, mixtures and household groups, at
sizes above and below the serial threshold (so several parallel blocks are exercised).

``python -m tests.simulator.trajectories > FILE.json`` prints the digests;
``tests/simulator/golden_trajectories.json`` holds the ones recorded at commit 6ee68fd
(before the fused kernels), and ``test_golden_trajectories.py`` compares against them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from simulator import IncentiveGame, IncentiveModel
from tests.simulator.helpers import RandomPrincipal

ROUNDS = 6
FAMILIES = ("epsilon_greedy", "ucb1", "thompson", "softmax", "ewa", "roth_erev", "best_response")


def _hash_arrays(h: Any, *arrays: Any) -> None:
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())


class _Recorder:
    """Wraps a principal and records the observations it gets."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[Any] = []

    def reset(self, spec: Any, rng: np.random.Generator) -> None:
        self.inner.reset(spec, rng)

    def act(self) -> Any:
        return self.inner.act()

    def observe(self, obs: Any) -> None:
        self.seen.append(obs)
        self.inner.observe(obs)


def digest(model: IncentiveModel, rounds: int = ROUNDS) -> str:
    """sha256 (first 20 hex digits) of a model's trajectory over ``rounds`` rounds."""
    h = hashlib.sha256()
    for _ in range(rounds):
        model.step()
        _hash_arrays(h, model.last_actions)
        rec = model.ledger.last
        _hash_arrays(h, rec.counts, rec.private, rec.paid, rec.collected, rec.incentives)
        h.update(np.float64(rec.principal_value).tobytes())
        h.update(np.float64(rec.principal_cost).tobytes())
    _hash_arrays(h, model.ledger.hh_incentive, model.ledger.hh_private, model.population.estimates())
    for lr in model.population.learners:
        for name in ("counts", "nexp", "last_shock"):
            if hasattr(lr, name):
                _hash_arrays(h, getattr(lr, name))
    principal = model.principal
    for obs in getattr(principal, "seen", []):
        for name in ("actions", "rewards", "shares"):
            value = getattr(obs, name, None)
            if value is not None:
                _hash_arrays(h, value)
    return h.hexdigest()[:20]


def _game(k: int, **kw: Any) -> IncentiveGame:
    means = kw.pop("payoff_means", np.linspace(0.2, 0.8, k))
    return IncentiveGame(payoff_means=means, noise=kw.pop("noise", 0.3), principal_values=[1.0] + [0.0] * (k - 1), **kw)


def cases() -> dict[str, Callable[[], IncentiveModel]]:
    """Named model builders (each returns a fresh model)."""
    out: dict[str, Callable[[], IncentiveModel]] = {}
    for fam in FAMILIES:
        for n in (3_000, 40_000):
            for seed in (0, 1):
                out[f"{fam}/default/n{n}/s{seed}"] = lambda fam=fam, n=n, seed=seed: IncentiveModel(
                    n_agents=n, n_actions=5, learner=fam, seed=seed
                )
        # a principal with per-agent signed incentives, posted, per-agent means, full observation
        out[f"{fam}/per_agent_posted"] = lambda fam=fam: IncentiveModel(
            n_agents=20_000,
            n_actions=4,
            learner=fam,
            seed=3,
            principal=_Recorder(RandomPrincipal(per_agent=True)),
            game=_game(4, signed=True, payoff_means=np.random.default_rng(5).normal(0.5, 0.2, (20_000, 4))),
        )
        # shared signed incentives that the agents do not see in advance (felt only)
        out[f"{fam}/shared_unposted"] = lambda fam=fam: IncentiveModel(
            n_agents=20_000,
            n_actions=3,
            learner=fam,
            seed=4,
            principal=_Recorder(RandomPrincipal()),
            game=_game(3, signed=True, posted=False),
            observation="noisy",
        )
    out["bernoulli/thompson"] = lambda: IncentiveModel(
        n_agents=20_000,
        n_actions=3,
        learner="thompson",
        seed=5,
        principal=_Recorder(RandomPrincipal(scale=0.2)),
        game=_game(3, noise=0.0, noise_kind="bernoulli", payoff_means=[0.2, 0.5, 0.7], signed=True),
    )
    out["fleet/taste_shocks"] = lambda: IncentiveModel(
        n_agents=20_000,
        n_actions=4,
        learner="best_response",
        learner_params={"temperature": 0.5, "taste_shocks": 1.0},
        seed=6,
        principal=_Recorder(RandomPrincipal()),
        game=_game(4, signed=True, switch_prob=0.3),
    )
    out["fleet/epsilon_greedy"] = lambda: IncentiveModel(
        n_agents=20_000,
        n_actions=4,
        learner="epsilon_greedy",
        seed=7,
        principal=_Recorder(RandomPrincipal(per_agent=True)),
        game=_game(4, signed=True, switch_prob=0.5),
        observation="actions",
    )
    mixture = [
        (0.3, "epsilon_greedy", {"epsilon": {"dist": "uniform", "low": 0.05, "high": 0.3}}),
        (0.2, "softmax", {"temperature": {"dist": "loguniform", "low": 0.05, "high": 1.0}}),
        (0.2, "thompson", {"sigma": 0.5, "initial_values": [0.0, {"dist": "uniform", "low": -1.0, "high": 0.0}, 0.0]}),
        (0.1, "ucb1", {"c": 0.5, "learning_rate": 0.2}),
        (0.1, "ewa", {"phi": 0.8, "precision": 3.0}),
        (0.1, "roth_erev", {"reward_floor": -1.0}),
    ]
    out["mixture/groups"] = lambda: IncentiveModel(
        n_agents=30_000,
        n_actions=3,
        learner=mixture,
        seed=8,
        principal=_Recorder(RandomPrincipal()),
        game=_game(3, signed=True),
        groups=np.arange(30_000) % 4,
    )
    out["mixture/per_agent"] = lambda: IncentiveModel(
        n_agents=30_000,
        n_actions=3,
        learner=mixture,
        seed=9,
        principal=_Recorder(RandomPrincipal(per_agent=True)),
        game=_game(3, signed=True),
        track_households=False,
    )
    return out


def digests(threads: int) -> dict[str, str]:
    """Every case's digest with ``threads`` numba threads."""
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return {name: digest(build()) for name, build in cases().items()}
    finally:
        numba.set_num_threads(before)


def main() -> int:
    threads = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})
    out = {str(t): digests(t) for t in threads}
    print(json.dumps(out, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
