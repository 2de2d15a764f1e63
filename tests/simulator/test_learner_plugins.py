"""A user-defined learner class (not a subclass of Learner) works by import path (docs/design.md)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import simulator
from simulator import IncentiveGame, IncentiveModel
from tests.simulator.helpers import BadShapeLearner, ConstantReturner, MyLearner, ReadmeLearner

PATH = "tests.simulator.helpers:MyLearner"


def test_import_path_resolves_to_the_class() -> None:
    assert simulator.learner_class(PATH) is MyLearner
    assert not issubclass(MyLearner, simulator.Learner)
    lr = simulator.make_learner(PATH, 4, 3, rng=np.random.default_rng(0), favourite=2)
    assert_array_equal(lr.act(), [2, 2, 2, 2])


def test_plugin_alone_in_the_model() -> None:
    game = IncentiveGame(payoff_means=[0.0, 1.0, 3.0], noise=0.0)
    model = IncentiveModel(n_agents=20, n_actions=3, learner=PATH, learner_params={"favourite": 1}, game=game, seed=0)
    model.run(5)
    frame = model.datacollector.get_model_vars_dataframe()
    assert_allclose(frame["share_a1"], 1.0)
    assert_allclose(frame["mean_reward"], 1.0)
    (plugin,) = model.population.learners
    assert isinstance(plugin, MyLearner)
    assert plugin.updates == 5
    assert_allclose(plugin.reward_sum, 5.0)  # noise-free private reward of action 1
    assert model.population.labels == [PATH]
    assert model.agents[0].group == PATH
    assert model.agents[0].state == {"group": PATH}  # no agent_state(): only the group is known


def test_plugin_in_a_mixture_with_builtins_sees_posted_offsets() -> None:
    n = 40
    subsidy = np.array([0.0, 0.0, 2.0])
    model = IncentiveModel(
        n_agents=n,
        n_actions=3,
        learner=[
            (0.25, PATH, {"favourite": 0, "margin": 1.0}),
            (0.75, "epsilon_greedy", {"epsilon": 0.1}),
        ],
        principal=ConstantReturner(subsidy),
        game=IncentiveGame(payoff_means=[1.0, 0.5, 0.0], noise=0.1),
        seed=1,
    )
    assert model.population.labels == [PATH, "epsilon_greedy"]
    assert model.population.slices[0] == slice(0, 10)
    model.run(8)
    plugin = model.population.learners[0]
    # the subsidy is posted: the plugin saw it as a (K,) offset and switched (2.0 - 0.0 > margin)
    assert_allclose(plugin.offsets_seen[-1], subsidy)
    assert (model.last_actions[:10] == 2).all()
    counts = model.ledger.last.counts  # (groups, actions)
    assert counts.shape == (2, 3)
    assert_array_equal(counts[0], [0, 0, 10])
    assert counts[1].sum() == 30
    # the plugin learns the private reward only (posted incentives are not included again)
    assert_allclose(plugin.reward_sum / plugin.updates, 0.0, atol=0.5)  # not 2.0 = private + subsidy


def test_plugin_by_class_object_and_in_type_distribution() -> None:
    td = simulator.TypeDistribution([(1.0, MyLearner, {"favourite": 2}), (1.0, "softmax", {"temperature": 0.2})])
    pop = td.sample_population(10, 3, np.random.default_rng(0))
    a = pop.act()
    assert_array_equal(a[:5], 2)
    assert_array_equal(pop.action_probs()[:5], np.tile([0.0, 0.0, 1.0], (5, 1)))


README_PATH = "tests.simulator.helpers:ReadmeLearner"


@pytest.mark.parametrize("learner", [ReadmeLearner, README_PATH], ids=["class", "import_path"])
def test_the_readme_learner_shape_is_enough(learner) -> None:
    """Only __init__(n_agents, n_actions, *, rng, **params), act(offsets=None) and update(actions, rewards)."""
    assert not hasattr(ReadmeLearner, "n_actions") and not hasattr(ReadmeLearner, "params")
    game = IncentiveGame(payoff_means=[0.0, 1.0, 2.0], noise=0.0)
    model = IncentiveModel(n_agents=30, n_actions=3, learner=learner, learner_params={"shift": 1}, game=game, seed=0)
    model.run(4)
    (plugin,) = model.population.learners
    assert isinstance(plugin, ReadmeLearner)
    assert plugin._round == 4
    assert_array_equal(model.last_actions, (np.arange(30) + 3 + 1) % 3)
    assert plugin.total_reward == pytest.approx(4 * 30 * 1.0)  # every action equally often: mean reward 1
    assert model.agents[5].group == model.population.labels[0]
    # in a mixture, beside a built-in family, with a per-agent view of the second group
    mixed = IncentiveModel(
        n_agents=40, n_actions=3, learner=[(0.5, learner, {}), (0.5, "epsilon_greedy", {})], game=game, seed=1
    )
    mixed.run(2)
    assert mixed.population.slices == [slice(0, 20), slice(20, 40)]
    assert mixed.agents[25].group == "epsilon_greedy"
    with pytest.raises(ValueError, match="does not provide estimates"):
        mixed.population.estimates()


def test_a_plugin_returning_bad_actions_is_refused_in_one_line() -> None:
    model = IncentiveModel(n_agents=10, n_actions=3, learner=BadShapeLearner, seed=0)
    with pytest.raises(ValueError, match=r"learner group .*BadShapeLearner.*act\(\): actions must have shape \(10,\)"):
        model.step()


def test_a_hand_built_population_of_readme_learners_names_what_is_missing() -> None:
    lr = ReadmeLearner(5, 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="no n_agents attribute; pass sizes= and n_actions="):
        simulator.Population([("mine", lr)])
    pop = simulator.Population([("mine", lr)], sizes=[5], n_actions=3)
    assert_array_equal(pop.act(), [0, 1, 2, 0, 1])
