"""Mesa integration of IncentiveModel: agent views, steps, DataCollector, observations, the game."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import simulator
from simulator import ConsumerAgent, IncentiveGame, IncentiveModel
from tests.simulator.helpers import ConstantReturner, MyLearner, SchedulePrincipal

COLUMNS = {
    "round",
    "share_a0",
    "share_a1",
    "share_a2",
    "incentive_a0",
    "incentive_a1",
    "incentive_a2",
    "mean_reward",
    "incentive_paid",
    "tax_collected",
    "principal_return",
}


def test_is_a_mesa_model_with_agent_views_for_small_n() -> None:
    model = IncentiveModel(n_agents=30, n_actions=3, seed=0)
    assert isinstance(model, mesa.Model)
    assert len(model.agents) == 30
    views = sorted(model.agents, key=lambda a: a.index)
    assert all(isinstance(v, ConsumerAgent) for v in views)
    assert [v.index for v in views] == list(range(30))
    assert views[4].action is None
    model.step()
    assert [v.action for v in views] == model.last_actions.tolist()
    state = views[4].state
    assert state["group"] == views[4].group == "epsilon_greedy"
    assert state["family"] == "epsilon_greedy"
    assert_allclose(state["estimates"], model.population.estimates()[4], rtol=1e-7)
    assert sum(state["counts"]) == 1


def test_no_agent_views_for_large_n() -> None:
    model = IncentiveModel(n_agents=50, n_actions=2, seed=0, max_agent_views=49)
    assert len(model.agents) == 0
    model.run(2)
    assert model.round == 2


def test_steps_advance_and_datacollector_columns() -> None:
    model = IncentiveModel(n_agents=40, n_actions=3, seed=1, principal=ConstantReturner(np.array([0.3, 0.0, 0.1])))
    assert model.steps == 0 and model.round == 0
    assert model.run(4) is model
    assert model.steps == 4 and model.round == 4
    frame = model.datacollector.get_model_vars_dataframe()
    assert set(frame.columns) == COLUMNS
    assert len(frame) == 4
    assert_array_equal(frame["round"], [1, 2, 3, 4])
    assert_allclose(frame[["share_a0", "share_a1", "share_a2"]].sum(axis=1), 1.0)
    assert_allclose(frame[["incentive_a0", "incentive_a1", "incentive_a2"]], np.tile([0.3, 0.0, 0.1], (4, 1)))
    # every number is derived from the ledger (one source of truth)
    ledger = model.ledger.to_frame()
    assert_allclose(frame["incentive_paid"], ledger["paid"])
    assert_allclose(frame["principal_return"], ledger["principal_return"])
    assert_allclose(frame["mean_reward"], ledger["private_reward"] / 40)
    counts = np.array([r.counts.sum(axis=0) for r in model.ledger.records])
    assert_allclose(frame["incentive_paid"], counts @ np.array([0.3, 0.0, 0.1]))
    # default game: the principal values action 0 at 1, pays 1 per unit of incentive
    assert_allclose(frame["principal_return"], counts[:, 0] - counts @ np.array([0.3, 0.0, 0.1]))


def test_collect_every_and_horizon() -> None:
    model = IncentiveModel(n_agents=10, n_actions=2, seed=2, collect_every=3, horizon=7)
    model.run(7)
    frame = model.datacollector.get_model_vars_dataframe()
    assert_array_equal(frame["round"], [3, 6, 7])  # and always at the horizon
    assert model.running is False
    assert model.spec.horizon == 7


def test_principal_spec_describes_the_game() -> None:
    principal = SchedulePrincipal([np.zeros(3)])
    game = IncentiveGame(
        payoff_means=[0, 1, 2],
        signed=True,
        lower=[-1.0, -2.0, 0.0],
        upper=3.0,
        principal_values=[2.0, 0.0, -1.0],
        incentive_cost=1.2,
        posted=False,
        action_names=["ev", "hybrid", "gasoline"],
    )
    model = IncentiveModel(
        n_agents=8,
        n_actions=3,
        principal=principal,
        game=game,
        observation="actions",
        horizon=12,
        seed=0,
        spec_extra={"scc": 190.0},
    )
    spec = principal.spec
    assert isinstance(spec, simulator.PrincipalSpec)
    assert (spec.n_actions, spec.n_agents, spec.observation, spec.signed, spec.posted) == (3, 8, "actions", True, False)
    assert_array_equal(spec.lower, [-1.0, -2.0, 0.0])
    assert_array_equal(spec.upper, [3.0, 3.0, 3.0])
    assert_array_equal(spec.principal_values, [2.0, 0.0, -1.0])
    assert spec.incentive_cost == pytest.approx(1.2)
    assert spec.action_names == ["ev", "hybrid", "gasoline"]
    assert spec.horizon == 12 and spec.extra == {"scc": 190.0}
    model.step()
    assert {"share_ev", "incentive_gasoline"} <= set(model.datacollector.get_model_vars_dataframe().columns)


# ---------------------------------------------------------- observations


def observed(setting: str, noise: float | None = None, n: int = 60, k: int = 3, posted: bool = True):
    """One round with a noise-free game and a per-round incentive; returns (model, observation, incentives)."""
    inc = np.array([0.5, 0.0, 0.25, 0.0][:k])
    principal = SchedulePrincipal([inc])
    game = IncentiveGame(
        payoff_means=np.linspace(0.0, 1.0, k), noise=0.0, posted=posted, principal_values=[1.0] + [0] * (k - 1)
    )
    model = IncentiveModel(
        n_agents=n,
        n_actions=k,
        learner="epsilon_greedy",
        learner_params={"epsilon": 0.5},
        principal=principal,
        game=game,
        observation=setting,
        observation_noise=noise,
        seed=5,
    )
    model.step()
    (obs,) = principal.observations
    return model, obs, inc


@pytest.mark.parametrize("posted", [True, False])
def test_full_observation_reveals_actions_and_felt_rewards(posted: bool) -> None:
    model, obs, inc = observed("full", posted=posted)
    assert isinstance(obs, simulator.Observation)
    assert obs.round == 0 and obs.n_agents == 60
    assert_array_equal(obs.actions, model.last_actions)
    means = np.linspace(0.0, 1.0, 3)
    # the household felt its private reward plus the incentive, posted or not
    assert_allclose(obs.rewards, means[obs.actions] + inc[obs.actions], rtol=1e-6, atol=1e-7)
    assert_allclose(obs.shares, np.bincount(model.last_actions, minlength=3) / 60)
    assert_array_equal(obs.incentives, inc)
    assert obs.principal_reward == pytest.approx(model.ledger.last.principal_return)


def test_actions_observation_hides_rewards() -> None:
    model, obs, _ = observed("actions")
    assert_array_equal(obs.actions, model.last_actions)
    assert obs.rewards is None


def test_shares_observation_hides_actions_and_rewards() -> None:
    model, obs, _ = observed("shares")
    assert obs.actions is None and obs.rewards is None
    assert_allclose(obs.shares, np.bincount(model.last_actions, minlength=3) / 60)
    assert obs.shares.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("noise", "expected_noise"), [(None, 0.1), (0.3, 0.3)])
def test_noisy_observation_replaces_about_p_of_the_actions(noise: float | None, expected_noise: float) -> None:
    """Each observed action is replaced with probability p by a uniform action (which may equal the
    true one), so about p (K - 1) / K of the observed actions differ from the truth."""
    n, k = 20_000, 4
    model, obs, _ = observed("noisy", noise, n=n, k=k)
    assert model.observation.noise == expected_noise
    assert obs.rewards is None
    differ = (obs.actions != model.last_actions).mean()
    p = expected_noise * (k - 1) / k
    assert abs(differ - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert_allclose(obs.shares, np.bincount(obs.actions, minlength=k) / n)  # shares of what was seen
    # the true shares are still what the ledger books
    assert_allclose(model.ledger.last.counts.sum(axis=0), np.bincount(model.last_actions, minlength=k))


def test_noise_with_full_setting_corrupts_actions_only() -> None:
    n = 5000
    model, obs, inc = observed("full", 0.5, n=n)
    assert (obs.actions != model.last_actions).mean() > 0.25
    true_a = model.last_actions
    assert_allclose(obs.rewards, np.linspace(0, 1, 3)[true_a] + inc[true_a], rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------- the game


def test_unposted_incentives_are_learned_posted_are_not_included_again() -> None:
    inc = np.array([0.0, 2.0, 0.0])
    for posted, expected in ((True, 1.0), (False, 3.0)):
        model = IncentiveModel(
            n_agents=5,
            n_actions=3,
            learner=[(1.0, "tests.simulator.helpers:MyLearner", {"favourite": 1, "margin": 100.0})],
            principal=ConstantReturner(inc),
            game=IncentiveGame(payoff_means=[0.0, 1.0, 0.5], noise=0.0, posted=posted),
            seed=0,
        )
        model.run(3)
        plugin = model.population.learners[0]
        assert isinstance(plugin, MyLearner)
        assert_allclose(plugin.reward_sum, 3 * expected)
        seen = plugin.offsets_seen[-1]
        assert_allclose(seen, inc if posted else 0.0)  # unposted incentives are not known before choosing
        assert model.ledger.total_paid() == pytest.approx(3 * 5 * 2.0)


def test_bernoulli_rewards() -> None:
    n = 4000
    model = IncentiveModel(
        n_agents=n,
        n_actions=2,
        learner="tests.simulator.helpers:MyLearner",
        learner_params={"favourite": 1},
        game=IncentiveGame(payoff_means=[0.9, 0.3], noise_kind="bernoulli"),
        seed=0,
        max_agent_views=0,
    )
    model.run(3)
    rewards = model.population.learners[0].reward_sum
    assert set(np.unique(rewards)) <= {0.0, 1.0, 2.0, 3.0}
    assert abs(rewards.mean() / 3 - 0.3) < 4 * math.sqrt(0.3 * 0.7 / (3 * n))


def test_gaussian_reward_noise_scale() -> None:
    n = 20_000
    model = IncentiveModel(
        n_agents=n,
        n_actions=2,
        learner="tests.simulator.helpers:MyLearner",
        learner_params={"favourite": 0},
        game=IncentiveGame(payoff_means=[1.0, 0.0], noise=[0.5, 0.0]),
        seed=0,
        max_agent_views=0,
    )
    model.step()
    r = model.population.learners[0].reward_sum
    assert abs(r.mean() - 1.0) < 4 * 0.5 / math.sqrt(n)
    assert abs(r.std() - 0.5) < 0.02


def test_household_groups_and_group_frame() -> None:
    groups = np.array([0, 1, 1, 2, 2, 2])
    model = IncentiveModel(
        n_agents=6,
        n_actions=2,
        learner="tests.simulator.helpers:MyLearner",
        learner_params={"favourite": np.array([0, 1, 1, 0, 0, 1])},
        principal=ConstantReturner(np.array([1.0, 0.0])),
        game=IncentiveGame(payoff_means=[0.0, 0.0], noise=0.0),
        groups=groups,
        group_names=["rural", "suburban", "urban"],
        seed=0,
    )
    model.run(2)
    gf = model.ledger.group_frame()
    last = gf[gf["round"] == 1].set_index(["group", "action"])
    assert last.loc[("rural", "a0"), "count"] == 1
    assert last.loc[("suburban", "a1"), "count"] == 2
    assert last.loc[("urban", "a0"), "count"] == 2 and last.loc[("urban", "a1"), "count"] == 1
    assert last.loc[("urban", "a0"), "paid"] == pytest.approx(2.0)
    assert_allclose(model.ledger.hh_incentive, 2 * np.array([1.0, 0, 0, 1, 1, 0]))


def test_track_households_off_keeps_aggregates() -> None:
    model = IncentiveModel(
        n_agents=20, n_actions=2, seed=0, track_households=False, principal=ConstantReturner(np.array([0.5, 0.5]))
    )
    model.run(3)
    assert model.ledger.hh_incentive.shape == (1,)
    assert model.ledger.total_paid() == pytest.approx(3 * 20 * 0.5)


def test_best_response_population_uses_the_game_means() -> None:
    """best_response agents know their own (heterogeneous) payoff means from the game."""
    n = 50
    means = np.random.default_rng(0).normal(size=(n, 3))
    model = IncentiveModel(
        n_agents=n, n_actions=3, learner="best_response", game=IncentiveGame(payoff_means=means, noise=1.0), seed=0
    )
    model.step()
    assert_array_equal(model.last_actions, means.argmax(axis=1))
