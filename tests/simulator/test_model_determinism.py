"""Determinism: one seed, one result, bit for bit (docs/design.md).

Same seed -> identical DataCollector tables; different seed -> different
tables; the numba thread count does not matter; drawing from the global
``np.random`` / ``random`` between runs does not matter (PettingZoo's
seed_test); two models stepped in turn do not interfere.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numba
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from simulator import IncentiveGame, IncentiveModel
from tests.simulator.helpers import RandomPrincipal

MIXTURE = [
    (0.5, "epsilon_greedy", {"epsilon": {"dist": "uniform", "low": 0.05, "high": 0.3}}),
    (0.3, "softmax", {"temperature": {"dist": "loguniform", "low": 0.05, "high": 1.0}}),
    (0.2, "thompson", {"sigma": 0.5, "initial_values": [0.0, {"dist": "uniform", "low": -1.0, "high": 0.0}, 0.0]}),
]


def build(seed: int, n: int = 300, learner=None, per_agent: bool = False, **kw) -> IncentiveModel:
    """A model whose every stochastic part is exercised: mixture, heterogeneous game, random principal."""
    return IncentiveModel(
        n_agents=n,
        n_actions=3,
        learner=MIXTURE if learner is None else learner,
        principal=RandomPrincipal(per_agent=per_agent),
        seed=seed,
        game=kw.pop("game", None)
        or IncentiveGame(payoff_means=[0.2, 0.5, 0.4], noise=0.3, signed=True, principal_values=[1.0, 0, 0]),
        observation=kw.pop("observation", "noisy"),
        **kw,
    )


def fingerprint(model: IncentiveModel, rounds: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    model.run(rounds)
    return (
        model.datacollector.get_model_vars_dataframe(),
        model.population.estimates(),
        model.ledger.hh_incentive.copy(),
        model.last_actions.copy(),
    )


def assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    for x, y in zip(a[1:], b[1:], strict=True):
        assert_array_equal(x, y)


def test_same_seed_identical_tables() -> None:
    a = fingerprint(build(7), 12)
    b = fingerprint(build(7), 12)
    assert_same(a, b)
    assert len(a[0]) == 12


def test_different_seed_different_tables() -> None:
    a = fingerprint(build(7), 12)
    b = fingerprint(build(8), 12)
    assert not a[0].equals(b[0])
    assert not np.array_equal(a[1], b[1])


def test_single_learner_and_best_response_deterministic() -> None:
    for learner, params in (("ucb1", {"c": 0.5}), ("best_response", {"temperature": 0.1}), ("roth_erev", None)):
        runs = [
            fingerprint(IncentiveModel(n_agents=50, n_actions=3, learner=learner, learner_params=params, seed=3), 8)
            for _ in range(2)
        ]
        assert_same(*runs)


def test_mixture_population_deterministic() -> None:
    learner = [(0.5, "epsilon_greedy", {"epsilon": 0.2}), (0.5, "softmax", {"temperature": 0.3})]
    a = build(11, learner=learner)
    b = build(11, learner=learner)
    assert a.population.labels == ["epsilon_greedy", "softmax"]
    assert_same(fingerprint(a, 10), fingerprint(b, 10))


@pytest.fixture
def restore_global_random() -> Iterator[None]:
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


def test_global_random_state_does_not_matter(restore_global_random: None) -> None:
    """PettingZoo seed_test: seed and draw from the global generators between two seeded runs."""
    np.random.seed(1)  # noqa: NPY002
    random.seed(1)
    a = fingerprint(build(5), 10)
    np.random.seed(2)  # noqa: NPY002
    random.seed(2)
    np.random.random(1000)  # noqa: NPY002
    random.random()
    b = fingerprint(build(5), 10)
    msg = "results changed with the global random state: is np.random or random used directly?"
    assert a[0].equals(b[0]), msg
    assert_same(a, b)


def test_two_models_stepped_in_turn_do_not_interfere() -> None:
    """Meta-training steps many simulators in one process: interleaving must not change any of them."""
    alone_a = fingerprint(build(21), 6)
    alone_b = fingerprint(build(22), 6)
    a, b = build(21), build(22)
    for _ in range(6):
        a.step()
        b.step()
    assert_same(alone_a, fingerprint(a, 0))
    assert_same(alone_b, fingerprint(b, 0))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_thread_count_does_not_change_results() -> None:
    """9000 agents = three kernel blocks; per-agent incentives use the per-block ledger sums."""
    n = 9000
    rng = np.random.default_rng(0)
    game = IncentiveGame(
        payoff_means=rng.normal(0.5, 0.2, (n, 3)), noise=0.3, signed=True, principal_values=[1.0, 0.0, 0.0]
    )
    results = {}
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            model = build(4, n=n, game=game, observation="full", max_agent_views=0, per_agent=True)
            results[threads] = fingerprint(model, 6)
            results[threads] += (model.ledger.total_paid(), model.ledger.total_collected())
    finally:
        numba.set_num_threads(before)
    assert_same(results[1][:4], results[2][:4])
    assert results[1][4:] == results[2][4:]


def test_small_models_leave_torch_threads_alone():
    """The serial-kernel switch for small populations restores PyTorch's OpenMP thread count too."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = IncentiveModel(n_agents=300, n_actions=3, seed=0)
        model.run(3)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
