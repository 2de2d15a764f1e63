"""Tests for policies.stackelberg_principals: the strict optimal commitment, benchmark leaders, probing.

Kinds: known answers (the textbook game), two implementations agree (replayed
probing vs the direct search), invariants (strictness, near-optimality), bad
input. The learned leaders are the core's (tests/policies/test_stackelberg_core.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from policies.stackelberg import follower_best_response, learn_commitment_by_queries, solve_stackelberg
from policies.stackelberg_principals import (
    LeaderObservation,
    NashLeader,
    ProbingLeader,
    StackelbergLeader,
    strict_commitment,
)
from simulator import PrincipalSpec

TEXTBOOK_L = np.array([[2.0, 4.0], [1.0, 3.0]])
TEXTBOOK_F = np.array([[1.0, 0.0], [0.0, 1.0]])


def _spec(L: np.ndarray, F: np.ndarray | None = None, noise: float = 0.0, horizon: int = 6) -> PrincipalSpec:
    L = np.asarray(L, dtype=float)
    if L.ndim == 2:
        L = L[None]
    extra = {"leader_payoffs": L, "observation_noise": np.full(L.shape[0], noise)}
    if F is not None:
        extra["follower_payoffs"] = F if np.ndim(F) == 3 else np.asarray(F)[None]
    return PrincipalSpec(n_actions=L.shape[2], n_agents=L.shape[0], horizon=horizon, extra=extra)


def _obs(t: int, p: np.ndarray, observed: np.ndarray, leader: np.ndarray) -> LeaderObservation:
    return LeaderObservation(
        round=t, incentives=p, n_agents=p.shape[0], shares=np.zeros(3), actions=observed, leader_actions=leader
    )


# ---------------------------------------------------------------------------------------------------------------------
# The strict optimal commitment
# ---------------------------------------------------------------------------------------------------------------------


def test_strict_commitment_textbook():
    p, t, v = strict_commitment(TEXTBOOK_L, TEXTBOOK_F, margin=1e-3)
    assert t == 1
    assert 3.5 - 2e-3 < v < 3.5
    f = p @ TEXTBOOK_F
    assert f[1] > f[0]  # strict, so an argmax follower plays column 1


def test_strict_commitment_random_games_are_strict_and_near_optimal():
    rng = np.random.default_rng(3)
    for _ in range(30):
        L, F = rng.random((3, 3)), rng.random((3, 3))
        sol = solve_stackelberg(L, F)
        p, t, v = strict_commitment(L, F, margin=1e-3)
        assert t == sol.follower_action
        f = p @ F
        assert np.argmax(f) == t and np.sort(f)[-1] > np.sort(f)[-2]
        assert sol.leader_value - v < 0.01 * (L.max() - L.min()) + 1e-9


# ---------------------------------------------------------------------------------------------------------------------
# Benchmark leaders and probing
# ---------------------------------------------------------------------------------------------------------------------


def test_stackelberg_leader_induces_the_se_column():
    rng = np.random.default_rng(0)
    L, F = rng.random((2, 3, 3)), rng.random((2, 3, 3))
    leader = StackelbergLeader(margin=1e-3)
    leader.reset(_spec(L, F), np.random.default_rng(0))
    p = leader.act()
    for r in range(2):
        sol = solve_stackelberg(L[r], F[r])
        assert int(np.argmax(p[r] @ F[r])) == sol.follower_action
        assert abs(p[r] @ L[r][:, sol.follower_action] - sol.leader_value) < 0.01


def test_benchmarks_need_model_access():
    with pytest.raises(ValueError, match="follower's payoffs"):
        StackelbergLeader().reset(_spec(TEXTBOOK_L), np.random.default_rng(0))
    with pytest.raises(ValueError, match="leader_payoffs"):
        NashLeader().reset(PrincipalSpec(n_actions=2, n_agents=1), np.random.default_rng(0))


def test_nash_leader_commits_to_an_equilibrium_strategy():
    leader = NashLeader()
    leader.reset(_spec(TEXTBOOK_L, TEXTBOOK_F), np.random.default_rng(0))
    np.testing.assert_allclose(leader.act()[0], [1.0, 0.0])  # the unique NE: row 0, column 0


def test_probing_replays_the_direct_search():
    """One query per round through the protocol = the direct search's query log."""
    rng = np.random.default_rng(5)
    L, F = rng.random((3, 3)), rng.random((3, 3))
    oracle = lambda p: int(np.argmax(p @ F))  # noqa: E731
    direct = learn_commitment_by_queries(
        L, oracle, n_follower_actions=3, tol=2e-3, n_explore=18, rng=np.random.default_rng([0, 0])
    )
    leader = ProbingLeader(tol=2e-3, seed=0)
    leader.reset(_spec(L, horizon=500), np.random.default_rng(0))
    played = []
    for t in range(direct.n_queries + 3):
        p = leader.act()
        played.append(p[0].copy())
        leader.observe(_obs(t, p, np.array([oracle(p[0])]), np.array([0])))
    for (q, _), p in zip(direct.queries, played, strict=False):
        np.testing.assert_allclose(p, q, atol=1e-12)
    np.testing.assert_allclose(played[-1], direct.leader_strategy, atol=1e-12)


def test_probing_adapt_restores_snapshot():
    rng = np.random.default_rng(6)
    L, F = rng.random((3, 3)), rng.random((3, 3))
    leader = ProbingLeader(seed=1)
    leader.reset(_spec(L), np.random.default_rng(0))
    for t in range(4):
        p = leader.act()
        leader.observe(_obs(t, p, np.array([int(np.argmax(p[0] @ F))]), np.array([0])))
    snap = leader.episode()
    p = leader.act()
    leader.observe(_obs(4, p, np.array([0]), np.array([0])))
    leader.adapt([snap])
    assert len(leader.episode()[0]) == 4
    leader.adapt([])
    assert leader.episode() == [[]]


def test_follower_best_response_agrees_with_argmax_for_strict_commitments():
    p, t, _ = strict_commitment(TEXTBOOK_L, TEXTBOOK_F)
    assert follower_best_response(TEXTBOOK_F, p) == t
