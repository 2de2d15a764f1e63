"""Property tests (hypothesis): ledger conservation and valid probabilities for any valid input."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import simulator
from simulator import IncentiveGame, IncentiveModel
from tests.simulator.helpers import SchedulePrincipal

# Fixed seed (derandomize) so CI is reproducible; raise SIM_HYPOTHESIS_EXAMPLES for a deeper search.
SETTINGS = settings(
    max_examples=int(os.environ.get("SIM_HYPOTHESIS_EXAMPLES", "40")),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

finite = st.floats(-50.0, 50.0, allow_nan=False, allow_infinity=False, width=64)


# ------------------------------------------------------------------ ledger


@st.composite
def schedules(draw: Any) -> dict[str, Any]:
    """A population size, K, and a schedule of signed incentives, some rounds per agent."""
    n = draw(st.integers(1, 25))
    k = draw(st.integers(2, 4))
    rounds = draw(st.integers(1, 6))
    sched = []
    for _ in range(rounds):
        if draw(st.booleans()):
            sched.append(draw(hnp.arrays(np.float64, (n, k), elements=finite)))
        else:
            sched.append(draw(hnp.arrays(np.float64, (k,), elements=finite)))
    return {
        "n": n,
        "k": k,
        "schedule": sched,
        "posted": draw(st.booleans()),
        "learner": draw(st.sampled_from(["epsilon_greedy", "softmax", "roth_erev", "ucb1"])),
        "seed": draw(st.integers(0, 2**16)),
        "cost": draw(st.floats(0.0, 3.0)),
    }


@SETTINGS
@given(schedules())
def test_ledger_conserves_transfers(case: dict[str, Any]) -> None:
    """paid - collected == sum of household running totals == sum over rounds of what the chosen actions carried."""
    n, k = case["n"], case["k"]
    principal = SchedulePrincipal(case["schedule"])
    pv = np.linspace(1.0, 0.0, k)
    model = IncentiveModel(
        n_agents=n,
        n_actions=k,
        learner=case["learner"],
        principal=principal,
        seed=case["seed"],
        game=IncentiveGame(
            payoff_means=np.linspace(0.0, 1.0, k),
            noise=0.5,
            signed=True,
            posted=case["posted"],
            principal_values=pv,
            incentive_cost=case["cost"],
        ),
        observation="actions",
    )
    expected_net = 0.0
    expected_hh = np.zeros(n)
    for inc in case["schedule"]:
        model.step()
        a = model.last_actions
        got = inc[np.arange(n), a] if inc.ndim == 2 else inc[a]
        expected_hh += got
        expected_net += got.sum()
        rec = model.ledger.last
        assert_array_equal(rec.counts.sum(axis=0), np.bincount(a, minlength=k))
        assert_allclose(rec.paid.sum(), np.maximum(got, 0).sum(), rtol=1e-12, atol=1e-9)
        assert_allclose(rec.collected.sum(), np.maximum(-got, 0).sum(), rtol=1e-12, atol=1e-9)
        assert (rec.paid >= 0).all() and (rec.collected >= 0).all()
        # the principal's payoff: value of the choices minus cost x net transfer
        value = model.game.principal_values[a].sum()  # stored as float32 values, summed in float64
        assert_allclose(rec.principal_return, value - case["cost"] * got.sum(), rtol=1e-9, atol=1e-9)
    ledger = model.ledger
    net = ledger.total_paid() - ledger.total_collected()
    assert_allclose(net, expected_net, rtol=1e-12, atol=1e-9)
    assert_allclose(ledger.hh_incentive, expected_hh, rtol=1e-12, atol=1e-9)
    assert_allclose(ledger.hh_incentive.sum(), net, rtol=1e-12, atol=1e-9)
    assert_allclose(ledger.hh_private.sum(), sum(r.private.sum() for r in ledger.records), rtol=1e-9, atol=1e-6)
    frame = model.datacollector.get_model_vars_dataframe()
    assert_allclose(frame["incentive_paid"].sum() - frame["tax_collected"].sum(), net, rtol=1e-12, atol=1e-9)


# ----------------------------------------------------- learner probabilities

temps = st.floats(1e-30, 1e30, allow_nan=False, allow_infinity=False)
unit = st.floats(0.0, 1.0)
weights = st.floats(0.0, 1e6)
values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def family_params(family: str) -> st.SearchStrategy[dict[str, Any]]:
    init = {"initial_values": values}
    est = {**init, "prior_weight": weights, "learning_rate": st.none() | st.floats(1e-6, 1.0)}
    spaces: dict[str, dict[str, st.SearchStrategy]] = {
        "epsilon_greedy": {"epsilon": unit, "epsilon_decay": st.floats(0.0, 1e6), **est},
        "ucb1": {"c": st.floats(0.0, 1e3), **est},
        "thompson": {"sigma": st.floats(1e-6, 1e6), **est},
        "softmax": {"temperature": temps, **est},
        "ewa": {"phi": unit, "rho": unit, "delta": unit, "precision": st.just(0.0) | temps, **init},
        "roth_erev": {
            "phi": unit,
            "experimentation": unit,
            "reward_floor": st.floats(-1e3, 1e3),
            "initial_values": st.floats(-1e3, 1e3),
            "prior_weight": st.floats(1e-6, 1e3),
        },
        "best_response": {"means": values, "temperature": st.just(0.0) | temps},
    }
    return st.fixed_dictionaries(spaces[family])


FAMILIES = sorted(simulator.LEARNERS)


@st.composite
def learner_cases(draw: Any) -> dict[str, Any]:
    family = draw(st.sampled_from(FAMILIES))
    n = draw(st.integers(1, 12))
    k = draw(st.integers(2, 5))
    params = draw(family_params(family))
    offset_scale = draw(st.sampled_from([0.0, 1.0, 1e3, 1e6]))
    return {
        "family": family,
        "n": n,
        "k": k,
        "params": params,
        "offset_scale": offset_scale,
        "seed": draw(st.integers(0, 999)),
    }


def check_probs(p: np.ndarray, n: int, k: int) -> None:
    assert p.shape == (n, k)
    assert np.isfinite(p).all()
    assert (p >= 0).all() and (p <= 1).all()
    assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)


@SETTINGS
@given(learner_cases())
def test_probabilities_valid_and_state_finite(case: dict[str, Any]) -> None:
    """Every family, any valid parameters (extreme temperatures, precisions, weights, large offsets):
    actions in range, rows of action_probs a distribution, no NaN or inf in estimates."""
    n, k = case["n"], case["k"]
    rng = np.random.default_rng(case["seed"])
    lr = simulator.make_learner(case["family"], n, k, rng=np.random.default_rng(case["seed"]), **case["params"])
    for t in range(4):
        scale = case["offset_scale"]
        off = None if scale == 0 else rng.uniform(-scale, scale, (n, k) if t % 2 else k)
        check_probs(lr.action_probs(off), n, k)
        a = lr.act(off)
        assert a.shape == (n,) and a.dtype == np.int32
        assert ((a >= 0) & (a < k)).all()
        lr.update(a, rng.uniform(-1e3, 1e3, n))
        assert np.isfinite(lr.estimates).all()
    check_probs(lr.action_probs(), n, k)


DEEP = settings(SETTINGS, max_examples=300)


@pytest.mark.slow
@DEEP
@given(schedules())
def test_ledger_conserves_transfers_deep(case: dict[str, Any]) -> None:
    test_ledger_conserves_transfers.hypothesis.inner_test(case)


@pytest.mark.slow
@DEEP
@given(learner_cases())
def test_probabilities_valid_and_state_finite_deep(case: dict[str, Any]) -> None:
    test_probabilities_valid_and_state_finite.hypothesis.inner_test(case)
