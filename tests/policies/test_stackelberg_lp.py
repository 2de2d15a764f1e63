"""Tests for policies.stackelberg: exact commitment LPs, Nash equilibria, learning by queries.

Known answers (the textbook game of Conitzer & Sandholm 2006), brute force over
grids of mixed strategies, and the invariants SE value >= Nash value and "no
profitable deviation" at every equilibrium.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from policies.stackelberg import (
    ProbingResult,
    StackelbergSolution,
    follower_best_response,
    learn_commitment_by_queries,
    nash_equilibria,
    nash_value,
    solve_stackelberg,
)

TEXTBOOK_L = np.array([[2.0, 4.0], [1.0, 3.0]])
TEXTBOOK_F = np.array([[1.0, 0.0], [0.0, 1.0]])
TIE_ATOL = 1e-12  # the brute force's tie tolerance on follower payoffs
# Probing: shortfall from the exact SE value allowed, as a fraction of the leader's payoff range.
# Measured max over 300 seeds per size: 1e-4 (2 x n), 2e-3 (3 x 4); 5x headroom.
PROBING_REL_TOL = 0.01


def random_game(rng: np.random.Generator, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.random((m, n)), rng.random((m, n))


def simplex_grid(m: int, k: int) -> np.ndarray:
    """All points of the (m-1)-simplex with coordinates in multiples of 1/k (m = 2 or 3)."""
    if m == 2:
        x = np.linspace(0.0, 1.0, k + 1)
        return np.column_stack([x, 1.0 - x])
    i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    keep = i + j <= k
    a, b = i[keep] / k, j[keep] / k
    return np.column_stack([a, b, np.clip(1.0 - a - b, 0.0, None)])


def brute_force_value(L: np.ndarray, F: np.ndarray, points: np.ndarray) -> float:
    """Best leader value over ``points``, the follower best-responding with ties in the leader's favour."""
    fu, lu = points @ F, points @ L
    tied = fu >= fu.max(axis=1, keepdims=True) - TIE_ATOL
    return float(np.where(tied, lu, -np.inf).max())


def oracle_for(L: np.ndarray, F: np.ndarray, *, favour_leader: bool = True):
    if favour_leader:
        return lambda p: follower_best_response(F, p, leader_payoffs=L)
    return lambda p: follower_best_response(F, p, leader_payoffs=-L)  # ties broken against the leader


def query_bound(m: int, n: int, tol: float, n_explore: int) -> int:
    """The worst-case query count stated in learn_commitment_by_queries' docstring."""
    b = math.ceil(math.log2(4 * math.sqrt(2) / tol))
    explore = 1 if m == 1 else m + 1 + n_explore
    fan = 3 * m * (1 + b) if m >= 3 else 0
    return explore + n * (2 * n + 2) * (2 + b + fan) + n * (n - 1) // 2 * (1 + b)


def max_regret(L: np.ndarray, F: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return max(float((L @ y).max() - x @ L @ y), float((x @ F).max() - x @ F @ y))


# ---------------------------------------------------------------------------------------------------------------------
# solve_stackelberg
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 2, 4])
def test_two_row_lp_matches_highs(k):
    """The closed-form two-row LP (an interval) agrees with HiGHS on value and feasibility."""
    from scipy.optimize import linprog

    from policies.stackelberg import _two_row_lp

    rng = np.random.default_rng(k)
    for _ in range(300):
        obj = rng.normal(size=2)
        if rng.random() < 0.1:
            obj[1] = obj[0]  # a flat objective: any feasible point is optimal
        A = rng.normal(size=(k, 2))
        if k and rng.random() < 0.1:
            A[0, 1] = A[0, 0]  # a row constant in q
        b = rng.normal(scale=0.5, size=k)
        p = _two_row_lp(obj, A, b)
        res = linprog(
            -obj,
            A_ub=-A if k else None,
            b_ub=-b if k else None,
            A_eq=np.ones((1, 2)),
            b_eq=[1.0],
            bounds=[(0, 1)] * 2,
            method="highs",
        )
        assert (p is not None) == (res.status == 0)
        if p is not None:
            assert p.min() >= 0 and p.sum() == pytest.approx(1.0)
            assert float(obj @ p) == pytest.approx(-res.fun, abs=1e-9)
            assert np.all(A @ p >= b - 1e-9)


def test_textbook_game():
    sol = solve_stackelberg(TEXTBOOK_L, TEXTBOOK_F)
    assert isinstance(sol, StackelbergSolution)
    np.testing.assert_allclose(sol.leader_strategy, [0.5, 0.5], atol=1e-9)
    assert sol.follower_action == 1
    assert sol.leader_value == pytest.approx(3.5, abs=1e-9)
    assert sol.follower_value == pytest.approx(0.5, abs=1e-9)
    # best pure commitment is 3 (row 1 induces column 1), the unique Nash equilibrium gives 2
    pure = max(
        TEXTBOOK_L[s, follower_best_response(TEXTBOOK_F, np.eye(2)[s], leader_payoffs=TEXTBOOK_L)] for s in range(2)
    )
    assert pure == 3.0
    assert nash_value(TEXTBOOK_L, TEXTBOOK_F) == pytest.approx(2.0)


def test_solution_is_immutable_and_accepts_lists():
    sol = solve_stackelberg([[2, 4], [1, 3]], [[1, 0], [0, 1]])
    with pytest.raises(ValueError):
        sol.leader_strategy[0] = 1.0
    with pytest.raises(AttributeError):
        sol.follower_action = 0  # type: ignore[misc]
    assert isinstance(sol.follower_action, int) and isinstance(sol.leader_value, float)


def test_scale_and_shift_invariance():
    base = solve_stackelberg(TEXTBOOK_L, TEXTBOOK_F)
    sol = solve_stackelberg(1e6 * TEXTBOOK_L - 7.0, 1e-3 * TEXTBOOK_F + 5.0)
    np.testing.assert_allclose(sol.leader_strategy, base.leader_strategy, atol=1e-9)
    assert sol.follower_action == base.follower_action
    assert sol.leader_value == pytest.approx(1e6 * 3.5 - 7.0)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_on_2xn(n, seed):
    k = 10_000
    L, F = random_game(np.random.default_rng(1000 * n + seed), 2, n)
    sol = solve_stackelberg(L, F)
    grid = brute_force_value(L, F, simplex_grid(2, k))
    lipschitz = L.max() - L.min()  # |d/dx (x L[0,t] + (1-x) L[1,t])| <= payoff range
    assert sol.leader_value >= grid - 1e-9
    assert sol.leader_value <= grid + lipschitz / k + 1e-9
    # the reported action is a best response to the reported strategy (ties allowed)
    f = sol.leader_strategy @ F
    assert f[sol.follower_action] >= f.max() - 1e-7
    assert sol.leader_value == pytest.approx(float(sol.leader_strategy @ L[:, sol.follower_action]))


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force_on_3xn(n, seed):
    k = 300
    L, F = random_game(np.random.default_rng(2000 * n + seed), 3, n)
    sol = solve_stackelberg(L, F)
    grid = brute_force_value(L, F, simplex_grid(3, k))
    # measured (LP - grid) <= 0.82 * range / k; 5 / k leaves room for acute corners of best-response regions
    assert sol.leader_value >= grid - 1e-9
    assert sol.leader_value <= grid + 5 * (L.max() - L.min()) / k
    assert sol.leader_strategy.shape == (3,)
    assert sol.leader_strategy.min() >= 0 and sol.leader_strategy.sum() == pytest.approx(1.0, abs=1e-12)


def test_one_leader_row():
    # follower indifferent between columns 0 and 1: tie broken for the leader (5 > 1)
    sol = solve_stackelberg([[1.0, 5.0, 3.0]], [[2.0, 2.0, 1.0]])
    np.testing.assert_array_equal(sol.leader_strategy, [1.0])
    assert sol.follower_action == 1
    assert sol.leader_value == 5.0 and sol.follower_value == 2.0


def test_one_follower_column():
    sol = solve_stackelberg([[1.0], [5.0], [3.0]], [[2.0], [2.0], [9.0]])
    np.testing.assert_allclose(sol.leader_strategy, [0.0, 1.0, 0.0])
    assert sol.follower_action == 0 and sol.leader_value == pytest.approx(5.0)


def test_one_by_one():
    sol = solve_stackelberg([[3.0]], [[-4.0]])
    assert sol.follower_action == 0 and sol.leader_value == 3.0 and sol.follower_value == -4.0


@pytest.mark.parametrize("shape", [(2, 2), (3, 4), (1, 3), (4, 1)])
def test_all_equal_payoffs(shape):
    sol = solve_stackelberg(np.full(shape, 2.5), np.full(shape, -1.0))
    assert sol.leader_value == pytest.approx(2.5)
    assert sol.follower_action == 0  # every column ties in value: the lowest wins
    assert sol.leader_strategy.shape == (shape[0],)
    assert sol.leader_strategy.min() >= 0 and sol.leader_strategy.sum() == pytest.approx(1.0)


def test_dominated_leader_row_gets_no_weight():
    # row 2 is worse than row 0 for the leader in every column and identical to row 0 for the follower
    L = np.array([[2.0, 4.0], [1.0, 3.0], [0.0, 0.0]])
    F = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    sol = solve_stackelberg(L, F)
    assert sol.leader_value == pytest.approx(3.5)
    assert sol.leader_strategy[2] == pytest.approx(0.0, abs=1e-9)
    assert brute_force_value(L, F, simplex_grid(3, 200)) == pytest.approx(3.5)


def test_dominated_follower_column_is_never_induced():
    # column 2 is strictly dominated for the follower but would be best for the leader
    L = np.array([[2.0, 4.0, 10.0], [1.0, 3.0, 10.0]])
    F = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])
    sol = solve_stackelberg(L, F)
    assert sol.follower_action == 1 and sol.leader_value == pytest.approx(3.5)


def test_weakly_dominated_row_used_to_induce_a_tie():
    # duplicate and degenerate rows: the brute force with leader-favourable ties agrees
    L = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0]])
    F = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    sol = solve_stackelberg(L, F)
    assert sol.leader_value == pytest.approx(brute_force_value(L, F, simplex_grid(3, 60)))
    assert sol.leader_value == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("L", "F", "match"),
    [
        (np.ones((2, 2)), np.ones((2, 3)), "same shape"),
        (np.ones((2, 2)), np.ones((3, 2)), "same shape"),
        ([[1.0, np.nan], [0.0, 1.0]], np.ones((2, 2)), "finite"),
        (np.ones((2, 2)), [[1.0, np.inf], [0.0, 1.0]], "finite"),
        (np.ones(3), np.ones(3), "2-D"),
        (np.ones((2, 2, 2)), np.ones((2, 2, 2)), "2-D"),
        (np.ones((0, 2)), np.ones((0, 2)), "at least one row and one column"),
        (np.ones((2, 0)), np.ones((2, 0)), "at least one row and one column"),
        ([[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0]], "2-D array of numbers"),
        ([["a", "b"]], [[1.0, 2.0]], "2-D array of numbers"),
    ],
)
def test_bad_input(L, F, match):
    with pytest.raises(ValueError, match=match):
        solve_stackelberg(L, F)
    with pytest.raises(ValueError, match=match):
        nash_equilibria(L, F)


def test_bad_input_names_the_matrix():
    with pytest.raises(ValueError, match="follower_payoffs must contain only finite"):
        solve_stackelberg(np.ones((2, 2)), [[0.0, np.nan], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"got \(2, 2\) and \(2, 3\)"):
        solve_stackelberg(np.ones((2, 2)), np.ones((2, 3)))


def test_follower_best_response_tie_breaking():
    F = np.array([[1.0, 1.0, 0.0]])
    L = np.array([[0.0, 3.0, 9.0]])
    assert follower_best_response(F, [1.0]) == 0  # no leader payoffs: lowest index
    assert follower_best_response(F, [1.0], leader_payoffs=L) == 1
    assert follower_best_response(F, [1.0], leader_payoffs=-L) == 0
    with pytest.raises(ValueError, match="strategy must have shape"):
        follower_best_response(F, [0.5, 0.5])


# ---------------------------------------------------------------------------------------------------------------------
# Nash equilibria
# ---------------------------------------------------------------------------------------------------------------------


def test_textbook_nash_is_unique_and_pure():
    eqs = nash_equilibria(TEXTBOOK_L, TEXTBOOK_F)
    assert len(eqs) == 1
    np.testing.assert_allclose(eqs[0][0], [1.0, 0.0])
    np.testing.assert_allclose(eqs[0][1], [1.0, 0.0])


def test_matching_pennies_and_battle_of_the_sexes():
    A = np.array([[1.0, -1.0], [-1.0, 1.0]])
    (x, y), *rest = nash_equilibria(A, -A)
    assert not rest
    np.testing.assert_allclose(x, [0.5, 0.5])
    np.testing.assert_allclose(y, [0.5, 0.5])

    L = np.array([[3.0, 0.0], [0.0, 2.0]])
    F = np.array([[2.0, 0.0], [0.0, 3.0]])
    eqs = nash_equilibria(L, F)
    assert len(eqs) == 3  # two pure, one mixed ((3/5, 2/5), (2/5, 3/5))
    values = sorted(float(x @ L @ y) for x, y in eqs)
    np.testing.assert_allclose(values, [6 / 5, 2.0, 3.0])
    assert nash_value(L, F) == pytest.approx(3.0)
    assert nash_value(L, F, which="worst") == pytest.approx(6 / 5)
    assert [float(x @ L @ y) for x, y in eqs] == sorted(values, reverse=True)  # best for the leader first


@pytest.mark.parametrize(("m", "n"), [(2, 2), (2, 3), (3, 3), (3, 4), (4, 4)])
def test_equilibria_have_no_profitable_deviation(m, n):
    for seed in range(8):
        L, F = random_game(np.random.default_rng(3000 + 10 * m + n + 100 * seed), m, n)
        eqs = nash_equilibria(L, F)
        assert len(eqs) % 2 == 1  # non-degenerate games have an odd number (Lemke-Howson)
        for x, y in eqs:
            assert x.shape == (m,) and y.shape == (n,)
            assert x.min() >= 0 and y.min() >= 0
            assert x.sum() == pytest.approx(1.0, abs=1e-12) and y.sum() == pytest.approx(1.0, abs=1e-12)
            assert max_regret(L, F, x, y) <= 1e-8


@pytest.mark.parametrize("seed", range(30))
def test_degenerate_integer_games_never_crash(seed):
    rng = np.random.default_rng(seed)
    m, n = (int(v) for v in rng.integers(1, 5, size=2))
    L, F = rng.integers(0, 3, (m, n)).astype(float), rng.integers(0, 3, (m, n)).astype(float)
    eqs = nash_equilibria(L, F)
    assert eqs
    for x, y in eqs:
        assert max_regret(L, F, x, y) <= 1e-8
    assert nash_value(L, F, which="best") >= nash_value(L, F, which="worst")


def test_degenerate_games_cover_the_extremes():
    # all-equal: every profile is an equilibrium; the extreme ones are the 9 pure profiles
    eqs = nash_equilibria(np.ones((3, 3)), np.ones((3, 3)))
    assert len(eqs) == 9
    # one leader row: the follower is indifferent between columns 0 and 1; leader values 1 and 5
    L, F = [[1.0, 5.0, 3.0]], [[2.0, 2.0, 1.0]]
    assert len(nash_equilibria(L, F)) == 2
    assert nash_value(L, F) == 5.0 and nash_value(L, F, which="worst") == 1.0
    # one follower column: the leader plays its best row
    assert nash_value([[1.0], [5.0], [3.0]], [[2.0], [2.0], [9.0]]) == 5.0
    # duplicated rows: a continuum of equilibria; best and worst extremes for the leader
    L = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0]])
    F = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert nash_value(L, F) == pytest.approx(2.0) and nash_value(L, F, which="worst") == pytest.approx(1.0)


def test_nash_value_rejects_unknown_choice():
    with pytest.raises(ValueError, match="'best' or 'worst'"):
        nash_value(TEXTBOOK_L, TEXTBOOK_F, which="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method must be"):
        nash_equilibria(TEXTBOOK_L, TEXTBOOK_F, method="magic")  # type: ignore[arg-type]


def test_auto_finds_equilibria_support_enumeration_alone_misses():
    # nashpy's support enumeration checks best responses with exact float equality and drops one of
    # the three equilibria of this non-degenerate game; the union with vertex enumeration keeps it
    L, F = random_game(np.random.default_rng(0), 3, 3)
    eqs = nash_equilibria(L, F)
    assert len(eqs) == 3
    assert all(max_regret(L, F, x, y) <= 1e-8 for x, y in eqs)


def test_single_nashpy_methods_agree_on_a_nondegenerate_game():
    L, F = random_game(np.random.default_rng(7), 3, 3)
    auto = nash_equilibria(L, F)
    for method in ("support", "vertex", "lemke_howson"):
        for x, y in nash_equilibria(L, F, method=method):
            assert any(np.allclose(x, a) and np.allclose(y, b) for a, b in auto)


@pytest.mark.parametrize(("m", "n"), [(1, 3), (2, 2), (2, 4), (3, 3), (3, 4), (4, 2)])
def test_stackelberg_value_at_least_every_nash_value(m, n):
    for seed in range(10):
        rng = np.random.default_rng(4000 + 10 * m + n + 100 * seed)
        if seed % 2:
            L, F = random_game(rng, m, n)
        else:  # integer payoffs: degenerate games with ties
            L, F = rng.integers(0, 3, (m, n)).astype(float), rng.integers(0, 3, (m, n)).astype(float)
        se = solve_stackelberg(L, F).leader_value
        for x, y in nash_equilibria(L, F):
            assert se >= float(x @ L @ y) - 1e-9
        assert se >= nash_value(L, F) - 1e-9


# ---------------------------------------------------------------------------------------------------------------------
# Learning the commitment by queries
# ---------------------------------------------------------------------------------------------------------------------


def test_probing_textbook_game():
    res = learn_commitment_by_queries(TEXTBOOK_L, oracle_for(TEXTBOOK_L, TEXTBOOK_F), n_follower_actions=2)
    assert isinstance(res, ProbingResult)
    assert res.follower_action == 1
    assert 3.5 - 1e-2 <= res.leader_value <= 3.5
    assert res.n_queries == len(res.queries) <= query_bound(2, 2, 1e-3, 16)
    assert res.inducible_actions == (0, 1) and not res.budget_exhausted


@pytest.mark.parametrize(("m", "n"), [(2, 2), (2, 3), (2, 4), (3, 2), (3, 3), (3, 4)])
def test_probing_is_near_optimal_on_random_games(m, n):
    tol = 1e-3
    for seed in range(10):
        L, F = random_game(np.random.default_rng(5000 + 10 * m + n + 100 * seed), m, n)
        oracle = oracle_for(L, F)
        res = learn_commitment_by_queries(L, oracle, n_follower_actions=n, tol=tol, rng=np.random.default_rng(seed))
        se = solve_stackelberg(L, F).leader_value
        assert res.leader_value >= se - PROBING_REL_TOL * (L.max() - L.min())
        assert res.leader_value <= se + 1e-9
        assert not res.budget_exhausted
        assert res.n_queries <= query_bound(m, n, tol, 4 * m * n)
        # the reported commitment is one that was asked, and replays to the same answer
        assert oracle(res.leader_strategy) == res.follower_action
        assert res.leader_value == pytest.approx(float(res.leader_strategy @ L[:, res.follower_action]))


def test_probing_with_ties_broken_against_the_leader():
    # commitments sit strictly inside best-response regions, so the tie-breaking rule does not matter
    for seed in range(5):
        L, F = random_game(np.random.default_rng(6000 + seed), 3, 3)
        res = learn_commitment_by_queries(L, oracle_for(L, F, favour_leader=False), n_follower_actions=3)
        assert res.leader_value >= solve_stackelberg(L, F).leader_value - PROBING_REL_TOL * (L.max() - L.min())


def test_probing_query_log_replays_round_by_round():
    L, F = random_game(np.random.default_rng(11), 3, 3)
    oracle = oracle_for(L, F)
    res = learn_commitment_by_queries(L, oracle, n_follower_actions=3, rng=np.random.default_rng(1))
    for p, r in res.queries:
        assert p.shape == (3,) and p.min() >= 0 and p.sum() == pytest.approx(1.0)
        assert oracle(p) == r
    assert any(p is res.leader_strategy or np.array_equal(p, res.leader_strategy) for p, _ in res.queries)
    assert set(res.inducible_actions) == {r for _, r in res.queries}


def test_probing_is_deterministic_given_rng():
    L, F = random_game(np.random.default_rng(12), 3, 4)
    oracle = oracle_for(L, F)

    def run(rng):
        return learn_commitment_by_queries(L, oracle, n_follower_actions=4, rng=rng)

    a, b = run(np.random.default_rng(3)), run(np.random.default_rng(3))
    assert a.n_queries == b.n_queries
    assert all(np.array_equal(p, q) and r == s for (p, r), (q, s) in zip(a.queries, b.queries, strict=True))
    c, d = run(None), run(None)
    assert [r for _, r in c.queries] == [r for _, r in d.queries]
    e = run(np.random.default_rng(4))
    assert not all(np.array_equal(p, q) for (p, _), (q, _) in zip(a.queries, e.queries, strict=False))


def test_probing_respects_the_budget():
    L, F = random_game(np.random.default_rng(13), 3, 3)
    res = learn_commitment_by_queries(L, oracle_for(L, F), n_follower_actions=3, max_queries=5)
    assert res.budget_exhausted and res.n_queries == 5
    assert res.leader_value == pytest.approx(float(res.leader_strategy @ L[:, res.follower_action]))


def test_probing_degenerate_sizes():
    res = learn_commitment_by_queries([[1.0, 5.0, 3.0]], lambda p: 1, n_follower_actions=3)
    assert res.n_queries == 1 and res.follower_action == 1 and res.leader_value == 5.0
    L, F = np.array([[1.0], [5.0], [3.0]]), np.ones((3, 1))
    res = learn_commitment_by_queries(L, oracle_for(L, F), n_follower_actions=1)
    assert res.follower_action == 0 and res.leader_value == pytest.approx(5.0)
    L, F = np.full((2, 3), 1.0), np.full((2, 3), 1.0)
    res = learn_commitment_by_queries(L, oracle_for(L, F), n_follower_actions=3)
    assert res.leader_value == 1.0


def test_probing_bad_arguments():
    L = TEXTBOOK_L
    oracle = oracle_for(L, TEXTBOOK_F)
    with pytest.raises(ValueError, match="n_follower_actions=3 does not match"):
        learn_commitment_by_queries(L, oracle, n_follower_actions=3)
    with pytest.raises(ValueError, match="tol must be in"):
        learn_commitment_by_queries(L, oracle, n_follower_actions=2, tol=0.0)
    with pytest.raises(ValueError, match="max_queries must be at least"):
        learn_commitment_by_queries(L, oracle, n_follower_actions=2, max_queries=1)
    with pytest.raises(ValueError, match="outside"):
        learn_commitment_by_queries(L, lambda p: 2, n_follower_actions=2)
    with pytest.raises(ValueError, match="int column index"):
        learn_commitment_by_queries(L, lambda p: 0.5, n_follower_actions=2)
    with pytest.raises(ValueError, match="finite"):
        learn_commitment_by_queries([[np.nan, 1.0]], oracle, n_follower_actions=2)
