"""Two implementations agree: the numba learner kernels vs a per-agent Python loop.

The reference (tests/simulator/reference.py) is written from the documented
rules and consumes the same counter-based draws, so the actions must agree
exactly, round after round, for heterogeneous agents (per-agent parameters,
per-action and per-agent initial values, shared and per-agent offsets), and the
estimates to float32 rounding.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import simulator
from tests.simulator.reference import ReferenceLearner

N_AGENTS = 200
N_ROUNDS = 60
EST_RTOL, EST_ATOL = 1e-6, 1e-6  # a few float32 ulps: the same float32 operations in the same order
PROB_ATOL = 1e-6


def heterogeneous_params(family: str, n: int, k: int, rng: np.random.Generator) -> dict[str, Any]:
    """Per-agent parameter arrays (and per-agent or per-action initial values) for one family."""
    init_agent = np.round(rng.normal(0.0, 1.0, (n, k))) / 2  # coarse: exact ties occur
    init_action = np.round(rng.normal(0.0, 1.0, k), 1)
    init_action[-1] = init_action[0]  # a tie in the prior of every agent
    if family == "epsilon_greedy":
        return {
            "epsilon": rng.uniform(0.0, 0.5, n),
            "epsilon_decay": rng.uniform(0.0, 0.3, n),
            "initial_values": init_agent,
            "prior_weight": rng.choice([0.0, 0.5, 1.0, 3.0], n),
        }
    if family == "epsilon_greedy_lr":
        return {
            "epsilon": 0.2,
            "epsilon_decay": 0.1,
            "initial_values": init_action,
            "learning_rate": rng.uniform(0.05, 1.0, n),
        }
    if family == "ucb1":
        return {
            "c": rng.uniform(0.0, 2.0, n),
            "initial_values": init_agent,
            "prior_weight": rng.choice([0.0, 0.3, 1.0, 2.0], n),
        }
    if family == "thompson":
        return {
            "sigma": rng.uniform(0.1, 2.0, n),
            "initial_values": init_action,
            "prior_weight": rng.choice([0.0, 0.5, 1.0, 4.0], n),
        }
    if family == "softmax":
        return {
            "temperature": np.exp(rng.uniform(np.log(0.01), np.log(10.0), n)),
            "initial_values": init_agent,
            "learning_rate": rng.uniform(0.05, 1.0, n),
        }
    if family == "ewa":
        return {
            "phi": rng.uniform(0.0, 1.0, n),
            "rho": rng.uniform(0.0, 1.0, n),
            "delta": rng.uniform(0.0, 1.0, n),
            "precision": np.where(rng.uniform(size=n) < 0.1, 0.0, rng.uniform(0.1, 10.0, n)),
            "initial_values": init_agent,
            "prior_weight": rng.uniform(0.0, 3.0, n),
        }
    if family == "roth_erev":
        return {
            "phi": rng.uniform(0.0, 0.5, n),
            "experimentation": rng.uniform(0.0, 0.6, n),
            "reward_floor": rng.uniform(-2.0, 0.5, n),
            "initial_values": init_agent,
            "prior_weight": rng.uniform(0.1, 3.0, n),
        }
    if family == "best_response":
        return {
            "means": np.round(rng.normal(0.0, 1.0, (n, k)), 0),  # many exact ties
            "temperature": np.where(rng.uniform(size=n) < 0.5, 0.0, rng.uniform(0.05, 2.0, n)),
        }
    raise ValueError(family)


FAMILIES = [
    "epsilon_greedy",
    "epsilon_greedy_lr",
    "ucb1",
    "thompson",
    "softmax",
    "ewa",
    "roth_erev",
    "best_response",
]
OFFSET_MODES = ["none", "shared", "per_agent"]


def make_offsets(mode: str, t: int, n: int, k: int, rng: np.random.Generator) -> np.ndarray | None:
    """Offsets of round ``t``: none, one (K,) vector, or per agent (n, K); rounded so ties happen."""
    if mode == "none" or (mode == "shared" and t % 4 == 3):
        return None
    if mode == "shared":
        return np.round(rng.normal(0.0, 1.0, k)) / 2
    return np.round(rng.normal(0.0, 1.0, (n, k))) / 2


def run_lockstep(
    family: str, mode: str, k: int, seed: int, n_agents: int = N_AGENTS, n_rounds: int = N_ROUNDS
) -> tuple[Any, ReferenceLearner]:
    """Step the kernel learner and the loop reference side by side, comparing after every step."""
    rng = np.random.default_rng(seed)
    params = heterogeneous_params(family, n_agents, k, rng)
    name = "epsilon_greedy" if family == "epsilon_greedy_lr" else family
    learner_seed = 1000 + seed
    impl = simulator.make_learner(name, n_agents, k, rng=np.random.default_rng(learner_seed), **params)
    ref = ReferenceLearner(name, n_agents, k, rng=np.random.default_rng(learner_seed), **params)
    true_means = rng.normal(0.0, 1.0, (n_agents, k))
    for t in range(n_rounds):
        off = make_offsets(mode, t, n_agents, k, rng)
        a_impl = impl.act(off)
        a_ref = ref.act(off)
        assert a_impl.dtype == np.int32
        assert_array_equal(a_impl, a_ref, err_msg=f"{family}/{mode}: actions differ in round {t}")
        if t % 10 == 0 and name != "thompson":  # Thompson: see test_thompson_probs_match_quadrature
            assert_allclose(
                impl.action_probs(off),
                ref.action_probs(off),
                rtol=0,
                atol=PROB_ATOL,
                err_msg=f"{family}/{mode}: probabilities differ in round {t}",
            )
        noise = rng.normal(0.0, 0.5, n_agents)
        rewards = true_means[np.arange(n_agents), a_impl] + noise
        if t % 2:
            rewards = np.round(rewards, 1)
        impl.update(a_impl, rewards)
        ref.update(a_ref, rewards)
        assert_allclose(
            impl.estimates,
            ref.estimates,
            rtol=EST_RTOL,
            atol=EST_ATOL,
            err_msg=f"{family}/{mode}: estimates differ after round {t}",
        )
        if hasattr(ref, "counts"):
            assert_array_equal(impl.counts, ref.counts)
    return impl, ref


@pytest.mark.parametrize("mode", OFFSET_MODES)
@pytest.mark.parametrize("family", FAMILIES)
def test_kernel_matches_loop_reference(family: str, mode: str) -> None:
    impl, ref = run_lockstep(family, mode, k=3, seed=FAMILIES.index(family) * 10 + OFFSET_MODES.index(mode))
    assert impl.t == ref.t == N_ROUNDS


@pytest.mark.parametrize("k", [2, 5])
@pytest.mark.parametrize("family", FAMILIES)
def test_kernel_matches_loop_reference_other_k(family: str, k: int) -> None:
    run_lockstep(family, "per_agent", k=k, seed=500 + k + FAMILIES.index(family))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("family", FAMILIES)
def test_kernel_matches_loop_reference_across_blocks_two_threads(family: str) -> None:
    """4100 agents span two kernel blocks of 4096, stepped by two threads: still agent-by-agent equal."""
    numba.set_num_threads(2)  # the autouse fixture restores the previous count
    run_lockstep(family, "per_agent", k=3, seed=900 + FAMILIES.index(family), n_agents=4100, n_rounds=6)


def test_thompson_probs_match_quadrature() -> None:
    """probs_thompson (161-point grid) vs adaptive quadrature of P(theta_j is the max)."""
    n, k = 30, 3
    rng = np.random.default_rng(3)
    params = heterogeneous_params("thompson", n, k, rng)
    params["prior_weight"] = rng.uniform(0.2, 3.0, n)  # every arm has a finite posterior
    impl = simulator.make_learner("thompson", n, k, rng=np.random.default_rng(4), **params)
    ref = ReferenceLearner("thompson", n, k, rng=np.random.default_rng(4), **params)
    for t in range(6):
        a = impl.act()
        rewards = rng.normal(0.0, 1.0, n)
        impl.update(a, rewards)
        ref.update(a, rewards)
        off = rng.normal(0.0, 0.3, (n, k)) if t % 2 else None
        assert_allclose(impl.action_probs(off), ref.action_probs(off), rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["shared", "per_agent"])
@pytest.mark.parametrize("family", FAMILIES)
def test_kernel_matches_loop_reference_long(family: str, mode: str) -> None:
    """1000 agents, K = 4, 150 rounds: long enough for estimates to settle into near-ties."""
    run_lockstep(family, mode, k=4, seed=2000 + FAMILIES.index(family), n_agents=1000, n_rounds=150)
