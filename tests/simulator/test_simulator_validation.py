"""Bad input: every public constructor and entry point raises one ValueError naming the parameter."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import simulator
from simulator import IncentiveGame, IncentiveModel, ObservationModel, Population, TypeDistribution
from tests.simulator.helpers import ConstantReturner, MyLearner

N, K = 5, 3


def make(family: str, n: int = N, k: int = K, **params: Any):
    return simulator.make_learner(family, n, k, rng=np.random.default_rng(0), **params)


# ------------------------------------------------------------- learners

BAD_PARAMS = [
    ("epsilon_greedy", {"epsilon": 1.5}, r"epsilon_greedy\.epsilon must be in \[0, 1\].*1\.5"),
    ("epsilon_greedy", {"epsilon": -0.1}, r"epsilon_greedy\.epsilon must be in \[0, 1\]"),
    ("epsilon_greedy", {"epsilon": float("nan")}, r"epsilon_greedy\.epsilon must be in \[0, 1\].*nan"),
    ("epsilon_greedy", {"epsilon": np.array([0.1, 0.2, 0.3, 0.4, 2.0])}, r"epsilon_greedy\.epsilon .*every agent"),
    ("epsilon_greedy", {"epsilon_decay": -1.0}, r"epsilon_greedy\.epsilon_decay must be in \[0, inf\)"),
    ("epsilon_greedy", {"epsilon_decay": np.inf}, r"epsilon_greedy\.epsilon_decay must be in \[0, inf\)"),
    ("epsilon_greedy", {"learning_rate": -0.1}, r"epsilon_greedy\.learning_rate must be in \[0, 1\]"),
    ("epsilon_greedy", {"learning_rate": 1.5}, r"epsilon_greedy\.learning_rate must be in \[0, 1\]"),
    ("epsilon_greedy", {"prior_weight": -1.0}, r"epsilon_greedy\.prior_weight must be in \[0, inf\)"),
    ("softmax", {"temperature": -1.0}, r"softmax\.temperature must be in \(0, inf\)"),
    ("softmax", {"temperature": 0.0}, r"softmax\.temperature must be in \(0, inf\)"),
    ("softmax", {"temperature": np.inf}, r"softmax\.temperature must be in \(0, inf\)"),
    ("best_response", {"means": [0, 1, 2], "temperature": -0.5}, r"best_response\.temperature must be in \[0, inf\)"),
    ("ewa", {"precision": -1.0}, r"ewa\.precision must be in \[0, inf\)"),
    ("ewa", {"phi": 1.1}, r"ewa\.phi must be in \[0, 1\]"),
    ("ewa", {"rho": -0.1}, r"ewa\.rho must be in \[0, 1\]"),
    ("ewa", {"delta": 2.0}, r"ewa\.delta must be in \[0, 1\]"),
    ("thompson", {"sigma": 0.0}, r"thompson\.sigma must be in \(0, inf\)"),
    ("ucb1", {"c": -1.0}, r"ucb1\.c must be in \[0, inf\)"),
    ("roth_erev", {"prior_weight": 0.0}, r"roth_erev\.prior_weight must be in \(0, inf\)"),
    ("roth_erev", {"experimentation": 1.5}, r"roth_erev\.experimentation must be in \[0, 1\]"),
    ("roth_erev", {"reward_floor": -np.inf}, r"roth_erev\.reward_floor must be in \(-inf, inf\)"),
    # shapes
    ("epsilon_greedy", {"epsilon": np.full(3, 0.1)}, r"epsilon_greedy\.epsilon must be a scalar or have shape \(5,\)"),
    ("ucb1", {"c": np.ones((N, 1))}, r"ucb1\.c must be a scalar or have shape \(5,\), got shape \(5, 1\)"),
    ("ucb1", {"initial_values": [0.0, 1.0]}, r"ucb1\.initial_values must be a scalar or have shape \(3,\) or \(5, 3\)"),
    ("ewa", {"initial_values": np.zeros((K, N))}, r"ewa\.initial_values .*got shape \(3, 5\)"),
    ("best_response", {"means": np.zeros(4)}, r"best_response\.means must be a scalar or have shape \(3,\)"),
    # non-finite or non-float32 values
    ("thompson", {"initial_values": [0.0, np.nan, 1.0]}, r"thompson\.initial_values must be finite"),
    ("softmax", {"initial_values": [0.0, np.inf, 1.0]}, r"softmax\.initial_values must be finite"),
    ("ucb1", {"initial_values": 1e39}, r"ucb1\.initial_values must be within the float32 range"),
    ("ucb1", {"prior_weight": 1e39}, r"ucb1\.prior_weight must be within the float32 range"),
    ("softmax", {"temperature": "hot"}, r"softmax\.temperature must be numeric"),
    ("best_response", {}, r"best_response\.means is required"),
]


@pytest.mark.parametrize(("family", "params", "match"), BAD_PARAMS)
def test_bad_learner_parameters(family: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(family, **params)


@pytest.mark.parametrize(
    ("n", "k", "match"),
    [
        (0, 3, r"n_agents must be an integer in \[1, inf\], got 0"),
        (-4, 3, r"n_agents must be an integer in \[1, inf\]"),
        (2.5, 3, r"n_agents must be an integer, got 2\.5"),
        (True, 3, r"n_agents must be an integer"),
        (5, 1, r"n_actions must be an integer in \[2, inf\], got 1"),
        (5, "3", r"n_actions must be an integer"),
    ],
)
@pytest.mark.parametrize("family", ["epsilon_greedy", "roth_erev"])
def test_bad_sizes(family: str, n: Any, k: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulator.make_learner(family, n, k, rng=np.random.default_rng(0))


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator, got int"):
        simulator.make_learner("softmax", N, K, rng=0)


def test_unknown_parameter_names_are_listed() -> None:
    msg = (
        "epsilon_greedy: unknown parameter(s) eps, temperature; accepted: "
        "epsilon, epsilon_decay, initial_values, learning_rate, prior_weight"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        make("epsilon_greedy", eps=0.1, temperature=1.0)


def test_unknown_learner_lists_available() -> None:
    available = ", ".join(sorted(simulator.LEARNERS))
    with pytest.raises(ValueError, match=r"unknown learner 'epsilon_gredy' \(did you mean epsilon_greedy\?\)") as exc:
        make("epsilon_gredy")
    assert f"available: {available}" in str(exc.value)
    assert "package.module:ClassName" in str(exc.value)
    with pytest.raises(ValueError, match="available: best_response, epsilon_greedy, ewa, roth_erev, softmax"):
        make("qlearning")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no_such_module_xyz:Foo", r"cannot import module 'no_such_module_xyz': ModuleNotFoundError"),
        (
            "tests.simulator.broken_plugin:BrokenLearner",
            r"cannot import module 'tests\.simulator\.broken_plugin': ModuleNotFoundError: "
            r"No module named '_no_such_dependency_for_the_tests'",
        ),
        ("tests.simulator.helpers:NoSuchClass", r"module 'tests\.simulator\.helpers' has no attribute 'NoSuchClass'"),
        ("tests.simulator.helpers:NotALearner", r"must be a class with act\(offsets\) and update\(actions, rewards\)"),
        (":MyLearner", r"must look like 'package\.module:ClassName'"),
        ("tests.simulator.helpers:", r"must look like 'package\.module:ClassName'"),
    ],
)
def test_bad_import_paths_say_why(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulator.learner_class(spec)


def test_learner_spec_of_wrong_type() -> None:
    with pytest.raises(ValueError, match=r"learner must be a registered name, 'module:Class' or a class, got 3"):
        simulator.learner_class(3)


# ---------------------------------------------------- act / update inputs


@pytest.mark.parametrize("family", sorted(simulator.LEARNERS))
def test_bad_act_and_update_inputs(family: str) -> None:
    lr = make(family, **({"means": [0.0, 1.0, 2.0]} if family == "best_response" else {}))
    for bad_off, match in [
        (np.zeros(K + 1), r"offsets must have shape \(3,\) or \(5, 3\), got shape \(4,\)"),
        (np.zeros((N, K + 1)), r"offsets must have shape \(3,\) or \(5, 3\)"),
        (np.array([0.0, np.nan, 0.0]), r"offsets must be finite"),
        (np.array([0.0, -np.inf, 0.0]), r"offsets must be finite"),
        (np.array([0.0, 1e39, 0.0]), r"offsets must be within the float32 range"),
        (["a", "b", "c"], r"offsets must be numeric"),
    ]:
        with pytest.raises(ValueError, match=match):
            lr.act(bad_off)
        with pytest.raises(ValueError, match=match):
            lr.action_probs(bad_off)
    a = lr.act()
    for bad_a, bad_r, match in [
        (a, np.full(N, np.nan), r"rewards must be finite"),
        (a, np.full(N, np.inf), r"rewards must be finite"),
        (a, np.full(N, 1e39), r"rewards must be within the float32 range"),
        (a, np.zeros(N + 1), r"rewards must have shape \(5,\), got shape \(6,\)"),
        (np.full(N, K), np.zeros(N), r"actions must be in \[0, 2\], got values in \[3, 3\]"),
        (np.full(N, -1), np.zeros(N), r"actions must be in \[0, 2\]"),
        (a.astype(float), np.zeros(N), r"actions must be integers, got dtype float64"),
        (a[:-1], np.zeros(N), r"actions must have shape \(5,\), got shape \(4,\)"),
    ]:
        before = lr.estimates.copy()
        with pytest.raises(ValueError, match=match):
            lr.update(bad_a, bad_r)
        assert lr.t == 0, "a refused update must not advance the round"
        np.testing.assert_array_equal(lr.estimates, before)


# ----------------------------------------------------------------- game

BAD_GAMES = [
    ({"payoff_means": [0.0, 1.0]}, r"game\.payoff_means must be a scalar or have shape \(3,\) or \(4, 3\)"),
    ({"payoff_means": [0.0, np.nan, 1.0]}, r"game\.payoff_means must be finite"),
    ({"payoff_means": [0, 1, 2], "noise": -0.1}, r"game\.noise must be in \[0, inf\)"),
    ({"payoff_means": [0, 1, 2], "noise": [0.1, 0.2]}, r"game\.noise must be a scalar or have shape \(3,\)"),
    ({"payoff_means": [0, 1, 2], "noise_kind": "poisson"}, r"game\.noise_kind must be 'gaussian' or 'bernoulli'"),
    ({"payoff_means": [0, 0.5, 1.5], "noise_kind": "bernoulli"}, r"game\.payoff_means must be in \[0, 1\] for bern"),
    ({"payoff_means": [0, 1, 2], "incentive_cost": -1.0}, r"game\.incentive_cost must be in \[0, inf\)"),
    ({"payoff_means": [0, 1, 2], "incentive_cost": np.nan}, r"game\.incentive_cost must be in \[0, inf\)"),
    ({"payoff_means": [0, 1, 2], "incentive_cost": "x"}, r"game\.incentive_cost must be a number"),
    ({"payoff_means": [0, 1, 2], "lower": -1.0}, r"game\.lower must be >= 0 when game\.signed is False"),
    ({"payoff_means": [0, 1, 2], "lower": 2.0, "upper": 1.0}, r"game\.lower must be <= game\.upper"),
    ({"payoff_means": [0, 1, 2], "lower": [0.0, 0.0]}, r"game\.lower must be a number or a vector of 3 numbers"),
    ({"payoff_means": [0, 1, 2], "upper": [1.0, np.nan, 1.0]}, r"game\.upper must be a number or a vector of 3"),
    ({"payoff_means": [0, 1, 2], "principal_values": [1.0, np.nan, 0.0]}, r"game\.principal_values must be finite"),
    ({"payoff_means": [0, 1, 2], "principal_values": [1.0, 0.0]}, r"game\.principal_values must be a scalar or"),
    ({"payoff_means": [0, 1, 2], "action_names": ["a", "b"]}, r"game\.action_names must be 3 distinct names"),
    ({"payoff_means": [0, 1, 2], "action_names": ["a", "a", "b"]}, r"game\.action_names must be 3 distinct names"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_GAMES)
def test_bad_incentive_game(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IncentiveGame(**kwargs).bind(4, 3)
    with pytest.raises(ValueError, match=match):
        IncentiveModel(n_agents=4, n_actions=3, game=IncentiveGame(**kwargs), seed=0)


# ---------------------------------------------------------------- model


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_agents": 0}, r"n_agents must be an integer in \[1, inf\]"),
        ({"n_actions": 1}, r"n_actions must be an integer in \[2, inf\]"),
        ({"collect_every": 0}, r"collect_every must be an integer in \[1, inf\]"),
        ({"game": {"payoff_means": [0, 1, 2]}}, r"game must be an IncentiveGame, got dict"),
        ({"observation": "telepathy"}, r"observation must be one of full, actions, shares, noisy, got 'telepathy'"),
        ({"observation": "noisy", "observation_noise": 1.5}, r"observation noise must be in \[0, 1\]"),
        ({"observation": "shares", "observation_noise": 0.2}, r"the 'shares' setting has none"),
        ({"observation": ObservationModel("full"), "observation_noise": 0.2}, r"observation_noise applies when"),
        ({"groups": np.zeros(3, dtype=int)}, r"groups must be non-negative integers of shape \(6,\)"),
        ({"groups": -np.ones(6, dtype=int)}, r"groups must be non-negative integers"),
        ({"groups": np.arange(6) % 3, "group_names": ["x"]}, r"group_names needs 3 names, got 1"),
        ({"learner": "epsilon_gredy"}, r"unknown learner 'epsilon_gredy'.*available: best_response"),
        ({"learner_params": {"epsilon": 0.1, "foo": 1}}, r"epsilon_greedy: unknown parameter\(s\) foo; accepted"),
        ({"learner_params": {"epsilon": 2.0}}, r"epsilon_greedy\.epsilon must be in \[0, 1\]"),
        ({"learner_params": {"epsilon": {"dist": "gamma"}}}, r"epsilon_greedy\.epsilon: unknown distribution 'gamma'"),
        (
            {"learner_params": {"epsilon": {"dist": "uniform", "low": 0.5, "high": 0.1}}},
            r"uniform distribution needs finite low <= high",
        ),
        (
            {"learner": [(0.5, "epsilon_greedy", {}), (0.5, "softmax", {})], "learner_params": {"epsilon": 0.1}},
            r"learner_params applies to a single learner",
        ),
        ({"learner": [(0.5, "softmax", {}), ("softmax",)]}, r"a mixture component must be \(share, learner, params\)"),
        ({"learner": [(-1.0, "softmax", {}), (1.0, "ucb1", {})]}, r"mixture weights must be non-negative"),
        ({"learner": [(0.5, "softmax", {"precision": 1.0})]}, r"softmax: unknown parameter\(s\) precision"),
        ({"principal": "no_such_principal"}, r"unknown principal 'no_such_principal'.*available:"),
        ({"principal": ConstantReturner(0.0), "principal_params": {"x": 1}}, r"principal_params applies when"),
        ({"principal": object()}, r"lacks the method reset\(\) of the Principal protocol"),
    ],
)
def test_bad_model_arguments(kwargs: dict, match: str) -> None:
    base = {"n_agents": 6, "n_actions": 3, "seed": 0}
    with pytest.raises(ValueError, match=match):
        IncentiveModel(**{**base, **kwargs})


@pytest.mark.parametrize(
    ("returned", "match"),
    [
        (np.array([-1.0, 0.0, 0.0]), r"principal returned incentives outside the allowed bounds"),
        (np.array([0.0, 5.0, 0.0]), r"principal returned incentives outside the allowed bounds"),
        (np.array([0.0, np.nan, 0.0]), r"principal returned a NaN or inf incentive"),
        (np.array([np.inf, 0.0, 0.0]), r"principal returned a NaN or inf incentive"),
        (np.zeros(2), r"principal returned incentives of shape \(2,\); expected \(3,\) or \(6, 3\)"),
        (np.zeros((5, 3)), r"principal returned incentives of shape \(5, 3\); expected \(3,\) or \(6, 3\)"),
        ("lots", r"principal returned non-numeric incentives: 'lots'"),
        (None, r"principal returned a NaN or inf incentive|principal returned incentives of shape"),
    ],
)
def test_principal_returning_bad_incentives(returned: Any, match: str) -> None:
    game = IncentiveGame(payoff_means=[0.0, 0.5, 1.0], upper=2.0)
    model = IncentiveModel(n_agents=6, n_actions=3, principal=ConstantReturner(returned), game=game, seed=0)
    with pytest.raises(ValueError, match=match):
        model.step()
    assert model.round == 0 and not model.ledger.records, "a refused round must leave no trace"


def test_signed_game_accepts_taxes_and_unsigned_refuses() -> None:
    tax = np.array([-1.0, 0.0, 0.5])
    signed = IncentiveModel(
        n_agents=6,
        n_actions=3,
        principal=ConstantReturner(tax),
        game=IncentiveGame(payoff_means=[0, 1, 2], signed=True),
        seed=0,
    )
    signed.step()
    assert signed.round == 1
    unsigned = IncentiveModel(
        n_agents=6, n_actions=3, principal=ConstantReturner(tax), game=IncentiveGame(payoff_means=[0, 1, 2]), seed=0
    )
    with pytest.raises(ValueError, match="outside the allowed bounds"):
        unsigned.step()


def test_population_groups_need_the_same_k() -> None:
    a = make("softmax", 3, 3)
    b = make("softmax", 3, 4)
    with pytest.raises(ValueError, match=r"same number of actions, got \[3, 4\]"):
        Population([("a", a), ("b", b)])
    with pytest.raises(ValueError, match="at least one learner group"):
        Population([])


def test_type_distribution_needs_components() -> None:
    with pytest.raises(ValueError, match="at least one component"):
        TypeDistribution([])
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) colour"):
        TypeDistribution([(1.0, "tests.simulator.helpers:MyLearner", {"colour": 1})])
    assert MyLearner.params  # the plugin's declared parameters are what is checked
