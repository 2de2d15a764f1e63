"""simulator.social: agents learn from a sample of others' experience, through the public Learner API."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import Population, make_learner
from simulator.social import SocialLearning


def _population(n: int = 6, k: int = 3) -> Population:
    lr = make_learner(
        "epsilon_greedy", n, k, rng=np.random.default_rng(0), epsilon=0.0, initial_values=0.0, prior_weight=1.0
    )
    return Population([("eps", lr)])


def test_no_strength_no_update():
    pop = _population()
    before = pop.estimates()
    assert SocialLearning(0.0).after_round(pop, np.zeros(6, np.int32), np.ones(6, np.float32), 0) == 0
    np.testing.assert_array_equal(pop.estimates(), before)
    assert pop.learners[0].t == 0


def test_one_contact_is_one_observation_of_the_contact_s_action():
    """Hand-solved: everyone in one group hears one contact; a sample-average learner moves halfway to it."""
    pop = _population(n=4)
    actions = np.array([0, 1, 2, 2], dtype=np.int32)
    rewards = np.array([8.0, 8.0, 8.0, 8.0], dtype=np.float32)
    social = SocialLearning(1.0, groups=np.zeros(4, dtype=np.int64), seed=3)
    who = social.sample(4, 7, 0)
    assert social.after_round(pop, actions, rewards, 7) == 1
    est = pop.estimates()
    for i in range(4):
        j = actions[who[i]]
        assert est[i, j] == pytest.approx(4.0)  # prior 0 (weight 1) and one observation of 8
        assert np.count_nonzero(est[i]) == 1
    assert pop.learners[0].t == 1 and social.heard == 1


def test_contacts_stay_in_their_group_and_repeat_with_the_seed():
    groups = np.repeat(np.arange(5), 40)
    social = SocialLearning(2.0, groups=groups, seed=11)
    for draw in range(3):
        who = social.sample(len(groups), 4, draw)
        assert (groups[who] == groups).all()
    np.testing.assert_array_equal(
        social.sample(200, 4, 1), SocialLearning(2.0, groups=groups, seed=11).sample(200, 4, 1)
    )
    assert not np.array_equal(social.sample(200, 4, 1), SocialLearning(2.0, groups=groups, seed=12).sample(200, 4, 1))
    anyone = SocialLearning(1.0, seed=1).sample(200, 0, 0)
    assert (groups[anyone] != groups).any()  # random mixing crosses groups


def test_fractional_strength_is_a_probability_per_round():
    social = SocialLearning(1.25, seed=5)
    counts = [social.contacts_this_round(r) for r in range(4000)]
    assert set(counts) == {1, 2}
    assert np.mean(counts) == pytest.approx(1.25, abs=0.03)
    assert counts == [SocialLearning(1.25, seed=5).contacts_this_round(r) for r in range(4000)]


def test_bad_strength_and_groups_are_refused():
    with pytest.raises(ValueError, match="strength"):
        SocialLearning(-1.0)
    with pytest.raises(ValueError, match="groups"):
        SocialLearning(1.0, groups=np.array([0.5, 1.0]))


def test_learners_that_do_not_learn_ignore_it():
    pop = Population([("br", make_learner("best_response", 5, 2, rng=np.random.default_rng(0), means=[1.0, 2.0]))])
    SocialLearning(3.0).after_round(pop, np.zeros(5, np.int32), np.ones(5, np.float32), 0)
    np.testing.assert_array_equal(pop.estimates(), np.tile([1.0, 2.0], (5, 1)))


def test_copies_share_the_draws_and_count_their_own_contacts():
    """A fork (deepcopy) draws the same contacts without redrawing them, and keeps its own count."""
    import copy

    groups = np.repeat(np.arange(3), 50)
    social = SocialLearning(1.5, groups=groups, seed=4)
    first = social.sample(150, 2, 0)
    fork = copy.deepcopy(social)
    assert fork.sample(150, 2, 0) is first  # kept, not redrawn
    np.testing.assert_array_equal(first, SocialLearning(1.5, groups=groups, seed=4).sample(150, 2, 0))
    assert not first.flags.writeable
    fork.heard = 5
    assert social.heard == 0
    assert [fork.contacts_this_round(r) for r in range(20)] == [social.contacts_this_round(r) for r in range(20)]


def test_a_model_keeps_what_its_agents_learned_from_only_when_asked():
    """Social learning reads the rewards each agent learned from; a model keeps them with keep_learned."""
    from simulator import IncentiveModel

    plain = IncentiveModel(n_agents=300, n_actions=3, seed=4)
    plain.step()
    with pytest.raises(ValueError, match="keep_learned"):
        SocialLearning(1.0, seed=0).after_model_round(plain)

    kept = IncentiveModel(n_agents=300, n_actions=3, seed=4)
    kept.keep_learned = True
    with pytest.raises(ValueError, match="not played"):
        _ = kept.learned_rewards
    for _ in range(3):
        kept.step()
        learned = kept.learned_rewards
        assert np.unique(learned).size > 10  # real draws, not a placeholder
        # no incentives: what each agent learned from is its private reward, booked per action in the ledger
        by_action = np.bincount(kept.last_actions, weights=learned.astype(np.float64), minlength=3)
        np.testing.assert_allclose(by_action, kept.ledger.last.private.sum(axis=0), rtol=1e-5)
        fork = kept.fork()
        assert fork.keep_learned
        fork.step(np.zeros(3))
        assert fork.learned_rewards.shape == (300,)
    assert SocialLearning(1.0, seed=0).after_model_round(kept) == 1
