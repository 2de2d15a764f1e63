"""The one-pass play kernels against the separate act / payoff / update kernels, and 16-bit counts.

A common round (``simulator._kernels.round_spec``) of a population of at least
``FUSE_MIN_AGENTS`` agents runs each learner group in one ``play_*`` kernel; every other round
runs act, the payoff kernel and update in turn. Both must give the
same numbers, float for float: here the same models are stepped both ways (the separate path
forced by making ``round_spec`` decline every round) and compared round by round.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numpy.testing import assert_array_equal

import simulator
from simulator import IncentiveGame, IncentiveModel
from simulator import _kernels as K
from simulator.learners import COUNT16_ROUNDS
from tests.simulator.helpers import RandomPrincipal, SchedulePrincipal

FAMILIES = ("epsilon_greedy", "ucb1", "thompson", "roth_erev", "best_response")
"""The families with a play kernel (softmax and EWA always play in the separate kernels)."""


def _trajectory(build, rounds: int) -> list[tuple[np.ndarray, ...]]:
    model = build()
    out = []
    for _ in range(rounds):
        model.step()
        rec = model.ledger.last
        out.append(
            (
                model.last_actions.copy(),
                rec.counts,
                rec.private,
                rec.paid,
                rec.collected,
                model.population.estimates(),
                model.ledger.hh_private.copy(),
                model.ledger.hh_incentive.copy(),
            )
        )
    return out


def _both_ways(monkeypatch: pytest.MonkeyPatch, build, rounds: int = 5) -> tuple[list, list, int]:
    calls = []
    real = K.round_spec

    def counting(*args):
        spec = real(*args)
        calls.append(spec)
        return spec

    monkeypatch.setattr(K, "round_spec", counting)
    monkeypatch.setattr(K, "FUSE_MIN_AGENTS", 0)  # these populations are smaller than the default threshold
    fused = _trajectory(build, rounds)
    monkeypatch.setattr(K, "round_spec", lambda *args: None)
    separate = _trajectory(build, rounds)
    return fused, separate, sum(spec is not None for spec in calls)


def _assert_same(fused: list, separate: list) -> None:
    for r, (a, b) in enumerate(zip(fused, separate, strict=True)):
        for x, y in zip(a, b, strict=True):
            assert_array_equal(x, y, err_msg=f"round {r}")


# each family's first play kernel compiles for several seconds: epsilon-greedy in the quick suite, the rest slow
@pytest.mark.parametrize(
    "family", [f if f == "epsilon_greedy" else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES]
)
@pytest.mark.parametrize("threads", [1, 2])
def test_play_kernels_equal_the_separate_kernels(monkeypatch: pytest.MonkeyPatch, family: str, threads: int) -> None:
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("needs 2 numba threads")
    numba.set_num_threads(threads)
    params = {"temperature": 0.3} if family == "best_response" else None
    # 3 x 4096 + 1000 agents: several blocks; a shared (K,) signed incentive, felt and observed
    game = IncentiveGame(payoff_means=np.random.default_rng(0).normal(0.3, 0.2, (13_288, 4)), noise=0.2, signed=True)

    def build() -> IncentiveModel:
        return IncentiveModel(
            n_agents=13_288,
            n_actions=4,
            learner=family,
            learner_params=params,
            principal=RandomPrincipal(),
            game=game,
            seed=11,
        )

    fused, separate, n_fused = _both_ways(monkeypatch, build)
    assert n_fused == 5  # every round of this model is a common round
    _assert_same(fused, separate)


@pytest.mark.slow
def test_a_mixture_of_groups_across_block_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups that share blocks: each group's kernel adds to the same block sums in agent order."""
    mixture = [
        (0.31, "epsilon_greedy", {"epsilon": {"dist": "uniform", "low": 0.0, "high": 0.3}}),
        (0.23, "ucb1", {"c": 0.7}),
        (0.17, "thompson", {"sigma": 0.5, "learning_rate": 0.3}),
        (0.29, "roth_erev", {}),
    ]
    game = IncentiveGame(payoff_means=[0.1, 0.5, 0.3], noise=0.3, posted=False)

    def build() -> IncentiveModel:
        return IncentiveModel(
            n_agents=10_001,
            n_actions=3,
            learner=mixture,
            principal=SchedulePrincipal([[0.0, 0.0, 0.2]]),
            game=game,
            seed=3,
            observation="full",
        )

    fused, separate, n_fused = _both_ways(monkeypatch, build)
    assert n_fused == 5
    _assert_same(fused, separate)


@pytest.mark.parametrize("n_agents", [999, 1000])
def test_only_populations_from_the_threshold_up_use_the_play_kernels(
    monkeypatch: pytest.MonkeyPatch, n_agents: int
) -> None:
    """Below ``FUSE_MIN_AGENTS`` a common round runs the separate kernels (no play kernel is compiled)."""
    asked = []
    real = K.round_spec
    monkeypatch.setattr(K, "FUSE_MIN_AGENTS", 1000)
    monkeypatch.setattr(K, "round_spec", lambda *args: asked.append(real(*args)) or asked[-1])
    IncentiveModel(n_agents=n_agents, n_actions=3, seed=0).run(rounds=2)
    assert len(asked) == (2 if n_agents >= 1000 else 0)
    assert all(spec is not None for spec in asked)


@pytest.mark.parametrize("mixture", [["softmax"], ["ewa"], [(0.5, "epsilon_greedy", {}), (0.5, "softmax", {})]])
def test_logit_families_play_in_the_separate_kernels(monkeypatch: pytest.MonkeyPatch, mixture: list) -> None:
    """A softmax or EWA group makes the round run the separate kernels (no play kernel asked for)."""
    asked = []
    monkeypatch.setattr(K, "FUSE_MIN_AGENTS", 0)
    monkeypatch.setattr(K, "round_spec", lambda *args: asked.append(args))
    learner = mixture[0] if len(mixture) == 1 else mixture
    model = IncentiveModel(n_agents=500, n_actions=3, learner=learner, seed=0)
    model.run(rounds=2)
    assert asked == [] and not model.population.fusable
    assert model.population.learners[0].fuses == (len(mixture) > 1)  # the epsilon-greedy group could fuse alone


def test_uncommon_rounds_run_the_separate_kernels() -> None:
    game = IncentiveGame(payoff_means=[0.2, 0.4], noise=0.1, switch_prob=0.5)
    model = IncentiveModel(n_agents=100, n_actions=2, game=game, seed=0)
    rules = K.Rules(
        prev=np.zeros(100, np.int32),
        switching=True,
        prob=np.float32(0.5),
        slo=np.uint32(0),
        shi=np.uint32(0),
        has_match=False,
        track=True,
        track_incentive=False,
        write_learn=False,
    )
    g = K.GameArrays(
        means=model.game.means,
        per_means=False,
        noise=model.game.noise,
        bern=False,
        inc=np.zeros((1, 2)),
        per_inc=False,
        posted=True,
        groups=np.zeros(1, np.int32),
        rlo=np.uint32(0),
        rhi=np.uint32(0),
    )
    assert K.round_spec(g, rules, False) is None
    assert K.round_spec(g, rules._replace(switching=False), False) is not None
    assert K.round_spec(g, rules._replace(switching=False), True) is None
    assert K.round_spec(g._replace(groups=np.zeros(100, np.int32)), rules._replace(switching=False), False).groups
    assert K.round_spec(g._replace(per_inc=True), rules._replace(switching=False), False) is None


def test_counts_are_16_bit_until_they_could_overflow_then_float32() -> None:
    """Counts are exact either way; past 65,535 rounds they widen, and the estimates do not notice."""
    rng = np.random.default_rng(0)
    lr = simulator.make_learner("ucb1", 3, 2, rng=np.random.default_rng(1), prior_weight=1.0)
    ref = simulator.make_learner("ucb1", 3, 2, rng=np.random.default_rng(1), prior_weight=1.0)
    ref.counts = ref.counts.astype(np.float32)  # the float32 counts of before, as the reference
    assert lr.counts.dtype == np.uint16
    for t in range(COUNT16_ROUNDS + 3):
        actions = np.array([0, t % 2, 1], dtype=np.int32)
        rewards = rng.normal(0.0, 1.0, 3).astype(np.float32)
        lr.update(actions, rewards)
        ref.update(actions, rewards)
        if t == COUNT16_ROUNDS - 2:
            assert lr.counts.dtype == np.uint16 and lr.counts[0, 0] == COUNT16_ROUNDS - 1
    assert lr.counts.dtype == np.float32
    assert lr.counts[0, 0] == COUNT16_ROUNDS + 3  # more than 16 bits hold
    assert_array_equal(lr.counts, ref.counts)
    assert_array_equal(lr.q, ref.q)
    assert_array_equal(lr.act(), ref.act())
