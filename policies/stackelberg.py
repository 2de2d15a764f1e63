"""Optimal commitment in bimatrix games: exact Stackelberg LPs, Nash equilibria, and learning by queries.

Rows are the leader's actions, columns the follower's. The leader commits to a
mixed strategy ``p`` over its rows; the follower observes ``p`` and plays a best
response; ties are broken in the leader's favour (strong Stackelberg equilibrium).

* :func:`solve_stackelberg`: the exact optimal commitment by the multiple-LPs
  method of Conitzer & Sandholm, "Computing the optimal strategy to commit to",
  EC 2006: one LP per follower column ``t``,

      maximise  sum_s p_s L[s, t]
      s.t.      sum_s p_s (F[s, t] - F[s, t']) >= 0   for every column t',
                p in the simplex,

  infeasible LPs skipped, the best ``t`` wins.
* :func:`nash_equilibria` / :func:`nash_value`: the Nash equilibria of the same
  game via ``nashpy``, so reports can show the value of commitment
  (Stackelberg value minus Nash value; never negative for the leader, see
  von Stengel & Zamir, "Leadership games with convex strategy sets", GEB 2010).
* :func:`learn_commitment_by_queries`: a probing baseline in the style of
  Letchford, Conitzer & Munagala, "Learning and approximating the optimal
  strategy to commit to", SAGT 2009: the leader knows its own payoffs only and
  may ask for the follower's best response to any mixed strategy.

Textbook example (Conitzer & Sandholm 2006): ``L = [[2, 4], [1, 3]]``,
``F = [[1, 0], [0, 1]]``: commit to (0.5, 0.5), the follower plays column 1,
the leader gets 3.5, against 3 for the best pure commitment and 2 at the unique
Nash equilibrium.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import nashpy
import numpy as np
from scipy.optimize import linprog
from scipy.spatial import QhullError

__all__ = [
    "ProbingResult",
    "StackelbergSolution",
    "follower_best_response",
    "learn_commitment_by_queries",
    "nash_equilibria",
    "nash_value",
    "solve_stackelberg",
]

# Two LP values closer than this (payoffs rescaled to [0, 1]) count as a tie.
_VALUE_TIE_TOL = 1e-9
# Probabilities below this are rounding noise from the LP solver and are set to 0.
_PROB_EPS = 1e-12
# Largest regret (payoffs rescaled to [1, 2]) a profile may have and count as a Nash equilibrium.
_NASH_TOL = 1e-9


# ---------------------------------------------------------------------------------------------------------------------
# Input checks and small helpers
# ---------------------------------------------------------------------------------------------------------------------


def _as_payoff_matrix(x: Any, name: str) -> np.ndarray:
    try:
        a = np.array(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 2-D array of numbers: {exc}") from None
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (rows = leader actions, columns = follower actions), got ndim={a.ndim}"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain only finite numbers (found NaN or inf)")
    return a


def _validate_game(leader_payoffs: Any, follower_payoffs: Any) -> tuple[np.ndarray, np.ndarray]:
    L = _as_payoff_matrix(leader_payoffs, "leader_payoffs")
    F = _as_payoff_matrix(follower_payoffs, "follower_payoffs")
    if L.shape != F.shape:
        raise ValueError(f"leader_payoffs and follower_payoffs must have the same shape, got {L.shape} and {F.shape}")
    return L, F


def _rescale(a: np.ndarray, low: float = 0.0) -> np.ndarray:
    """``a`` mapped affinely onto [low, low + 1] (a constant matrix becomes ``low``).

    Best responses, equilibria and the commitment LPs' feasible sets are invariant
    under positive affine maps of a player's payoffs; rescaling keeps the solvers'
    absolute tolerances meaningful whatever the payoff units.
    """
    if not np.isfinite(a.max() - a.min()):  # a range beyond float64 (entries near +-1.8e308)
        a = a / np.abs(a).max()
    span = float(a.max() - a.min())
    if span == 0.0:
        return np.full_like(a, low)
    return low + (a - a.min()) / span


def _clean_distribution(x: np.ndarray) -> np.ndarray:
    """Clip solver noise (tiny negatives, 1e-15 entries) and renormalise onto the simplex."""
    p = np.asarray(x, dtype=float).copy()
    p[p < _PROB_EPS] = 0.0
    total = p.sum()
    if total <= 0.0:
        raise ValueError("a mixed strategy must have positive total mass")
    return p / total


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


def follower_best_response(
    follower_payoffs: Any,
    strategy: Any,
    *,
    leader_payoffs: Any | None = None,
    atol: float = 1e-12,
) -> int:
    """The follower's best response to the leader's mixed strategy, ties in the leader's favour.

    Columns whose expected payoff is within ``atol`` (relative to the follower's
    payoff range) of the best count as tied; among them the one that is best for
    the leader wins (when ``leader_payoffs`` is given), then the lowest index.
    This is the follower of the strong Stackelberg equilibrium, and a ready-made
    oracle for :func:`learn_commitment_by_queries`.

    Args:
        follower_payoffs: (m, n) follower payoffs.
        strategy: (m,) leader mixed strategy (nonnegative, summing to 1).
        leader_payoffs: optional (m, n) leader payoffs for the tie-break.
        atol: tie tolerance, as a fraction of the follower's payoff range.

    Returns:
        The follower's column index.
    """
    F = _as_payoff_matrix(follower_payoffs, "follower_payoffs")
    p = np.asarray(strategy, dtype=float)
    if p.shape != (F.shape[0],):
        raise ValueError(f"strategy must have shape ({F.shape[0]},), got {p.shape}")
    f = p @ _rescale(F)
    tied = np.flatnonzero(f >= f.max() - atol)
    if leader_payoffs is None or tied.size == 1:
        return int(tied[0])
    L = _as_payoff_matrix(leader_payoffs, "leader_payoffs")
    if L.shape != F.shape:
        raise ValueError(f"leader_payoffs must have shape {F.shape}, got {L.shape}")
    lv = p @ L[:, tied]
    return int(tied[np.argmax(lv)])  # argmax: first (lowest index) among equal leader values


# ---------------------------------------------------------------------------------------------------------------------
# Exact optimal commitment (Conitzer & Sandholm 2006)
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StackelbergSolution:
    """The leader's optimal mixed commitment (strong Stackelberg equilibrium).

    Attributes:
        leader_strategy: (m,) read-only probabilities over the leader's actions (rows).
        follower_action: the follower column induced by the commitment.
        leader_value: the leader's expected payoff, ``leader_strategy @ L[:, follower_action]``.
        follower_value: the follower's expected payoff, ``leader_strategy @ F[:, follower_action]``.

    The follower is typically indifferent between ``follower_action`` and another
    column at the optimum and is assumed to break the tie in the leader's favour;
    a follower that must strictly prefer the column needs a commitment moved
    slightly inside its best-response region.
    """

    leader_strategy: np.ndarray
    follower_action: int
    leader_value: float
    follower_value: float


def _commitment_lp(
    Lr: np.ndarray, Fr: np.ndarray | None, t: int, margin: float = 0.0, extra: np.ndarray | None = None
) -> np.ndarray | None:
    """Solve the LP that makes column ``t`` a best response; ``None`` when infeasible.

    ``extra`` (k, m) adds constraints ``extra @ p >= margin`` (used by the prober);
    ``Fr`` may be ``None`` when only ``extra`` constrains ``p``.
    """
    m = Lr.shape[0]
    rows = []
    if Fr is not None and Fr.shape[1] > 1:
        others = np.delete(np.arange(Fr.shape[1]), t)
        rows.append((Fr[:, [t]] - Fr[:, others]).T)
    if extra is not None and len(extra):
        rows.append(np.asarray(extra, dtype=float))
    if m == 2:  # one free variable: the feasible set is an interval, solved exactly without an LP solver
        A = np.vstack(rows) if rows else np.zeros((0, 2))
        return _two_row_lp(Lr[:, t], A, np.full(A.shape[0], float(margin)))
    A_ub = -np.vstack(rows) if rows else None
    b_ub = np.full(A_ub.shape[0], -margin) if A_ub is not None else None
    res = linprog(
        -Lr[:, t],
        A_ub=A_ub,
        b_ub=b_ub,
        A_eq=np.ones((1, m)),
        b_eq=np.ones(1),
        bounds=[(0.0, 1.0)] * m,
        method="highs",
    )
    if res.status == 2:  # infeasible: column t cannot be induced
        return None
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"commitment LP for follower column {t} failed: {res.message}")
    return res.x


def _two_row_lp(objective: np.ndarray, A: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> np.ndarray | None:
    """``max objective @ p`` s.t. ``A @ p >= b``, ``p = (q, 1 - q)``, ``0 <= q <= 1``; ``None`` when infeasible.

    Each row reads ``(A0 - A1) q >= b - A1``: a lower or an upper bound on ``q``
    (or, with ``A0 = A1``, a condition that holds for every ``q`` or for none);
    the optimum is the end of the feasible interval the objective points to (the
    lower end when it is flat). Bounds that cross by at most ``tol`` count as one
    point, about the feasibility tolerance of an LP solver.
    """
    lo, hi = 0.0, 1.0
    for (a0, a1), rhs in zip(A, b, strict=True):
        slope, need = a0 - a1, rhs - a1
        if abs(slope) <= 1e-15:
            if need > tol:
                return None
        elif slope > 0:
            lo = max(lo, need / slope)
        else:
            hi = min(hi, need / slope)
    if lo > hi + tol:
        return None
    if lo > hi:
        lo = hi = 0.5 * (lo + hi)
    q = hi if objective[0] > objective[1] else lo
    return np.array([q, 1.0 - q])


def solve_stackelberg(leader_payoffs: Any, follower_payoffs: Any) -> StackelbergSolution:
    """The leader's optimal mixed strategy to commit to (strong Stackelberg equilibrium).

    Multiple-LPs method of Conitzer & Sandholm (EC 2006): for every follower column
    ``t``, maximise the leader's expected payoff ``sum_s p_s L[s, t]`` over mixed
    strategies ``p`` under which ``t`` is a best response
    (``sum_s p_s (F[s, t] - F[s, t']) >= 0`` for all ``t'``); infeasible LPs are
    skipped and the best ``t`` wins. Because the follower only needs to weakly
    prefer ``t``, ties are resolved in the leader's favour. Values that differ by
    less than 1e-9 of the leader's payoff range count as equal, and the lowest
    such ``t`` wins, so the result is deterministic. Each LP is solved by HiGHS
    (``scipy.optimize.linprog``) on payoffs rescaled to [0, 1]; the solution is
    clipped and renormalised onto the simplex, and the values are recomputed on
    the original payoffs; with two leader rows the feasible set is an interval and
    each LP is solved exactly in closed form. Cost: ``n`` LPs with ``m``
    variables and ``n - 1`` inequality constraints.

    Args:
        leader_payoffs: (m, n) leader payoffs; rows = leader actions, columns = follower actions.
        follower_payoffs: (m, n) follower payoffs, same layout.

    Returns:
        The optimal commitment, the induced column and both players' values.

    Raises:
        ValueError: non-2-D or empty matrices, different shapes, or NaN/inf entries.
        RuntimeError: the LP solver failed for a reason other than infeasibility.

    Example:
        >>> sol = solve_stackelberg([[2, 4], [1, 3]], [[1, 0], [0, 1]])
        >>> sol.leader_strategy.round(6).tolist(), sol.follower_action, round(sol.leader_value, 6)
        ([0.5, 0.5], 1, 3.5)
    """
    L, F = _validate_game(leader_payoffs, follower_payoffs)
    Lr, Fr = _rescale(L), _rescale(F)
    best_t, best_p, best_v = -1, None, -np.inf
    for t in range(L.shape[1]):
        x = _commitment_lp(Lr, Fr, t)
        if x is None:
            continue
        p = _clean_distribution(x)
        v = float(p @ Lr[:, t])
        if v > best_v + _VALUE_TIE_TOL:
            best_t, best_p, best_v = t, p, v
    if best_p is None:  # cannot happen: some column is a best response to every p
        raise RuntimeError("no follower column could be induced; the LP solver misbehaved")
    return StackelbergSolution(
        leader_strategy=_readonly(best_p),
        follower_action=best_t,
        leader_value=float(best_p @ L[:, best_t]),
        follower_value=float(best_p @ F[:, best_t]),
    )


# ---------------------------------------------------------------------------------------------------------------------
# Nash equilibria (nashpy)
# ---------------------------------------------------------------------------------------------------------------------


def _max_regret(A: np.ndarray, B: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """The larger of the two players' gains from their best pure deviation."""
    row = float((A @ y).max() - x @ A @ y)
    col = float((x @ B).max() - x @ B @ y)
    return max(row, col)


def _nashpy_candidates(A: np.ndarray, B: np.ndarray, method: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Candidate equilibria from nashpy; an algorithm that fails on a degenerate game yields none."""
    game = nashpy.Game(A, B)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    with warnings.catch_warnings():
        # nashpy warns "An even number of equilibria ... the game is degenerate"; degenerate
        # games are expected here and handled by running several algorithms.
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            if method == "support":
                out.extend(game.support_enumeration())
            elif method == "vertex":
                out.extend(game.vertex_enumeration())
            elif method == "lemke_howson":
                for label in range(sum(A.shape)):
                    out.append(game.lemke_howson(initial_dropped_label=label))
        except (QhullError, ValueError, IndexError, np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError):
            return out
    return [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in out]


def _pure_equilibria(A: np.ndarray, B: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    m, n = A.shape
    row_regret = A.max(axis=0, keepdims=True) - A  # the row player's gain from deviating, per cell
    col_regret = B.max(axis=1, keepdims=True) - B
    ok = (row_regret <= _NASH_TOL) & (col_regret <= _NASH_TOL)
    return [(np.eye(m)[i], np.eye(n)[j]) for i, j in zip(*np.nonzero(ok), strict=True)]


def nash_equilibria(
    leader_payoffs: Any,
    follower_payoffs: Any,
    *,
    method: Literal["auto", "support", "vertex", "lemke_howson"] = "auto",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Nash equilibria of the simultaneous-move bimatrix game, via ``nashpy``.

    ``method="auto"`` (the default) takes the union of nashpy's support enumeration
    and vertex enumeration plus every pure equilibrium, and falls back to
    Lemke-Howson from every initial label if that finds nothing. Both enumerations
    are run because each misses equilibria on its own: support enumeration only
    solves supports of equal size (degenerate games have others) and tests the
    best-response condition with exact float equality, which rounding can fail even
    in non-degenerate games; vertex enumeration needs Qhull and fails on 1-D
    polytopes. Payoffs are rescaled to [1, 2] first (equilibria are unchanged;
    vertex enumeration needs positive payoffs). Every candidate is checked: it is
    kept only if neither player gains more than 1e-9 of its payoff range by
    deviating; strategies are clipped, renormalised and de-duplicated. A 1 x n or
    m x 1 game is solved directly: the single-strategy player's opponent plays any
    pure best response.

    For a non-degenerate game ``auto`` returns all equilibria. For a degenerate
    game (continua of equilibria) it returns the extreme equilibria that vertex
    enumeration finds, which are all of them when Qhull succeeds. Support
    enumeration costs ``O(2^(m+n))`` linear solves and vertex enumeration a
    product of the polytopes' vertex counts: fine for games up to about 8 x 8.

    Args:
        leader_payoffs: (m, n) row player's (leader's) payoffs.
        follower_payoffs: (m, n) column player's (follower's) payoffs.
        method: ``"auto"`` or one nashpy algorithm alone (still verified and de-duplicated).

    Returns:
        A list of ``(row_strategy (m,), col_strategy (n,))`` pairs, sorted by the
        leader's value (highest first), then lexicographically.

    Raises:
        ValueError: bad payoff matrices or an unknown ``method``.
        RuntimeError: no equilibrium was found (only possible with a single ``method``,
            or if every algorithm failed numerically).
    """
    L, F = _validate_game(leader_payoffs, follower_payoffs)
    if method not in ("auto", "support", "vertex", "lemke_howson"):
        raise ValueError(f"method must be 'auto', 'support', 'vertex' or 'lemke_howson', got {method!r}")
    A, B = _rescale(L, 1.0), _rescale(F, 1.0)
    m, n = A.shape
    if m == 1 or n == 1:
        candidates = _pure_equilibria(A, B)  # extreme equilibria of a game where one player has one action
    elif method == "auto":
        candidates = _nashpy_candidates(A, B, "support") + _nashpy_candidates(A, B, "vertex") + _pure_equilibria(A, B)
        if not any(_max_regret(A, B, x, y) <= _NASH_TOL for x, y in candidates if _is_distribution(x, y)):
            candidates += _nashpy_candidates(A, B, "lemke_howson")
    else:
        candidates = _nashpy_candidates(A, B, method)

    found: dict[tuple[float, ...], tuple[np.ndarray, np.ndarray]] = {}
    for x, y in candidates:
        if not _is_distribution(x, y):
            continue
        x, y = _clean_distribution(x), _clean_distribution(y)
        if _max_regret(A, B, x, y) > _NASH_TOL:
            continue
        key = tuple(np.round(np.concatenate([x, y]), 8))
        found.setdefault(key, (_readonly(x), _readonly(y)))
    if not found:
        raise RuntimeError(f"no Nash equilibrium found by method={method!r}; try method='auto'")
    eqs = list(found.items())
    eqs.sort(key=lambda kv: (-float(kv[1][0] @ L @ kv[1][1]), kv[0]))
    return [eq for _, eq in eqs]


def _is_distribution(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether nashpy returned two finite, (nearly) nonnegative vectors with positive mass."""
    return all(v.ndim == 1 and np.all(np.isfinite(v)) and v.min() >= -1e-9 and v.sum() > 0 for v in (x, y))


def nash_value(
    leader_payoffs: Any,
    follower_payoffs: Any,
    *,
    which: Literal["best", "worst"] = "best",
) -> float:
    """The leader's expected payoff at the best (or worst) Nash equilibrium found.

    The default ``which="best"`` is the leader-optimistic Nash value, the fairest
    comparison with the strong Stackelberg value (which also breaks ties for the
    leader): ``solve_stackelberg(...).leader_value - nash_value(...)`` is the value
    of commitment and is never negative. ``which="worst"`` gives the pessimistic
    end, so reports can show the range. Because the leader's payoff is bilinear
    and each set of interchangeable equilibria is a product of polytopes, both
    extremes are attained at extreme equilibria, so they are exact whenever
    :func:`nash_equilibria` finds all extreme equilibria (see there).

    Args:
        leader_payoffs: (m, n) leader (row player) payoffs.
        follower_payoffs: (m, n) follower (column player) payoffs.
        which: ``"best"`` or ``"worst"`` equilibrium for the leader.

    Returns:
        ``x @ L @ y`` maximised (or minimised) over the equilibria ``(x, y)``.
    """
    if which not in ("best", "worst"):
        raise ValueError(f"which must be 'best' or 'worst', got {which!r}")
    L = _as_payoff_matrix(leader_payoffs, "leader_payoffs")
    values = [float(x @ L @ y) for x, y in nash_equilibria(leader_payoffs, follower_payoffs)]
    return max(values) if which == "best" else min(values)


# ---------------------------------------------------------------------------------------------------------------------
# Learning the commitment from best-response queries (Letchford, Conitzer & Munagala 2009)
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProbingResult:
    """What :func:`learn_commitment_by_queries` found.

    Attributes:
        leader_strategy: (m,) read-only commitment; it was queried and induced ``follower_action``.
        follower_action: the follower's observed response to ``leader_strategy``.
        leader_value: ``leader_strategy @ L[:, follower_action]``, realised against the oracle.
        n_queries: number of oracle calls used (``len(queries)``).
        queries: every ``(strategy, response)`` pair in the order asked, so that a
            repeated-game principal can replay them one round each.
        inducible_actions: the follower actions seen in any response, sorted.
        budget_exhausted: whether the search stopped at ``max_queries``.
    """

    leader_strategy: np.ndarray
    follower_action: int
    leader_value: float
    n_queries: int
    queries: tuple[tuple[np.ndarray, int], ...]
    inducible_actions: tuple[int, ...]
    budget_exhausted: bool


class _BudgetExhaustedError(Exception):
    """Raised internally when the query budget is spent."""


class _Prober:
    """State of one probing run: the query log, the points seen per action, the learned boundaries."""

    def __init__(
        self,
        L: np.ndarray,
        oracle: Callable[[np.ndarray], int],
        n: int,
        *,
        tol: float,
        max_queries: int,
        rng: np.random.Generator,
    ) -> None:
        self.L, self.Lr, self.oracle, self.n, self.m = L, _rescale(L), oracle, n, L.shape[0]
        self.tol, self.max_queries, self.rng = tol, max_queries, rng
        self.queries: list[tuple[np.ndarray, int]] = []
        self.members: dict[int, list[np.ndarray]] = {t: [] for t in range(n)}
        self.best: tuple[float, np.ndarray, int] | None = None  # (rescaled value, strategy, response)
        self.boundary_points: dict[tuple[int, int], list[np.ndarray]] = {}
        self.normals: dict[tuple[int, int], np.ndarray] = {}  # oriented positive on the key[0] side

    # -- oracle access ------------------------------------------------------------------------------------------------
    def ask(self, p: np.ndarray) -> int:
        if len(self.queries) >= self.max_queries:
            raise _BudgetExhaustedError
        p = _clean_distribution(p)
        p.setflags(write=False)
        raw = self.oracle(p.copy())
        try:
            r = operator.index(raw)
        except TypeError:
            raise ValueError(f"best_response must return an int column index, got {raw!r}") from None
        if not 0 <= r < self.n:
            raise ValueError(f"best_response returned {r}, outside [0, n_follower_actions={self.n})")
        self.queries.append((p, r))
        self.members[r].append(p)
        v = float(p @ self.Lr[:, r])
        if self.best is None or v > self.best[0] + _VALUE_TIE_TOL:
            self.best = (v, p, r)
        return r

    # -- learned best-response regions --------------------------------------------------------------------------------
    def constraints(self, t: int) -> np.ndarray:
        """Rows ``d`` with ``d @ p >= 0`` on region ``t``, one per learned boundary of ``t``."""
        rows = [d if key[0] == t else -d for key, d in self.normals.items() if t in key]
        return np.array(rows).reshape(len(rows), self.m)

    def lp(self, t: int, margin: float) -> np.ndarray | None:
        """Leader-best strategy in the learned outer approximation of region ``t``, ``margin`` inside it."""
        x = _commitment_lp(self.Lr, None, t, margin=margin, extra=self.constraints(t))
        return None if x is None else _clean_distribution(x)

    def bisect(self, t: int, p_in: np.ndarray, p_out: np.ndarray, r_out: int) -> tuple[np.ndarray, int]:
        """Where the segment from ``p_in`` (response ``t``) to ``p_out`` leaves region ``t``, and the column beyond."""
        lo, hi, r_hi = p_in, p_out, r_out
        while np.linalg.norm(hi - lo) > self.tol / 4:
            mid = 0.5 * (lo + hi)
            r = self.ask(mid)
            if r == t:
                lo = mid
            else:
                hi, r_hi = mid, r
        return 0.5 * (lo + hi), r_hi

    def fit_boundary(self, key: tuple[int, int], direction: np.ndarray) -> None:
        """Fit the hyperplane ``d @ p = 0`` through the boundary points of ``key``.

        The follower is indifferent between columns ``a`` and ``b`` on
        ``(F[:, a] - F[:, b]) @ p = 0``, a hyperplane through the origin of R^m;
        ``m - 1`` independent points on it fix its normal (smallest singular vector).
        With fewer points the normal is the part of ``direction`` (pointing from
        the ``b`` side to the ``a`` side) orthogonal to the points found. The normal
        is scaled so that ``d @ p`` is the signed distance to the boundary within
        the simplex.
        """
        P = np.array(self.boundary_points[key])
        _, _, vt = np.linalg.svd(P, full_matrices=True)
        if len(P) >= self.m - 1:
            d = vt[-1]
        else:
            null = vt[len(P) :]
            d = null.T @ (null @ direction)
        if d @ direction < 0:
            d = -d
        tangent = d - d.mean()
        scale = np.linalg.norm(tangent)
        if scale > 0:
            self.normals[key] = d / scale

    def learn_boundary(self, t: int, p_in: np.ndarray, p_out: np.ndarray, r_out: int) -> bool:
        """Locate the boundary of region ``t`` crossed on the way to ``p_out`` and learn its hyperplane.

        Returns whether that boundary had been learned before (so the margin was too small).
        """
        q0, r = self.bisect(t, p_in, p_out, r_out)
        key = (min(t, r), max(t, r))
        seen = key in self.normals
        pts = [q0]
        # m - 2 more points on the same boundary: bisect towards p_out pulled slightly towards each vertex.
        for c in self.rng.permutation(self.m):
            if len(pts) >= self.m - 1:
                break
            beta = 0.3
            for _ in range(3):
                target = (1 - beta) * p_out + beta * np.eye(self.m)[c]
                if np.linalg.norm(target - p_out) < self.tol:
                    break
                r_target = self.ask(target)
                if r_target != t:
                    q, r_q = self.bisect(t, p_in, target, r_target)
                    if r_q == r and _adds_rank(pts, q):
                        pts.append(q)
                        break
                beta /= 2
        self.boundary_points.setdefault(key, []).extend(pts)
        direction = p_in - p_out if key[0] == t else p_out - p_in
        self.fit_boundary(key, direction)
        return seen

    def interior_point(self, t: int) -> np.ndarray:
        """A point the follower answers with ``t``: the mean of those seen (convexity), else the first seen."""
        centre = np.mean(self.members[t], axis=0)
        if len(self.members[t]) > 1 and self.ask(centre) == t:
            return centre
        return self.members[t][0]

    # -- the search -------------------------------------------------------------------------------------------------
    def run(self, n_explore: int, max_rounds_per_action: int) -> None:
        m = self.m
        for i in range(m):
            self.ask(np.eye(m)[i])
        if m > 1:
            self.ask(np.full(m, 1.0 / m))
            for p in self.rng.dirichlet(np.ones(m), size=n_explore):
                self.ask(p)
        margin = dict.fromkeys(range(self.n), self.tol)
        rounds = dict.fromkeys(range(self.n), 0)
        done: set[int] = set()
        scanned: set[tuple[int, int]] = set()
        while True:
            self.optimise(margin, rounds, done, max_rounds_per_action)
            if not self.scan(scanned):
                return

    def scan(self, scanned: set[tuple[int, int]]) -> bool:
        """Look for unseen columns between seen regions; whether any was found.

        Only when some unseen column could still beat the best value (its best
        entry of ``L`` is higher): for each pair of seen columns ``a < b`` not yet
        scanned, bisect from a point of ``R_a`` towards a point of ``R_b``; the
        column just beyond the exit of ``R_a`` may be new (a thin region between
        known ones that exploration missed).
        """
        unseen = [u for u in range(self.n) if not self.members[u]]
        if not any(self.Lr[:, u].max() > self.best[0] + _VALUE_TIE_TOL for u in unseen):
            return False
        seen = [t for t in range(self.n) if self.members[t]]
        for a in seen:
            for b in seen:
                if a < b and (a, b) not in scanned:
                    scanned.add((a, b))
                    self.bisect(a, self.interior_point(a), self.members[b][0], b)
        return any(self.members[u] for u in unseen)

    def optimise(self, margin: dict[int, float], rounds: dict[int, int], done: set[int], max_rounds: int) -> None:
        """Cutting-plane search for the best commitment in every seen region that could beat the best so far."""
        while True:
            open_actions = [t for t in range(self.n) if self.members[t] and t not in done]
            bounds = {}
            for t in open_actions:
                x = self.lp(t, 0.0)
                bounds[t] = -np.inf if x is None else float(x @ self.Lr[:, t])
            open_actions = [t for t in open_actions if bounds[t] > self.best[0] + _VALUE_TIE_TOL]
            if not open_actions:
                return
            t = max(open_actions, key=lambda a: (bounds[a], -a))
            if rounds[t] >= max_rounds:
                done.add(t)
                continue
            rounds[t] += 1
            p_star = self.lp(t, margin[t])
            if p_star is None:  # the margin leaves nothing of the learned region: shrink it, then give up
                margin[t] /= 2
                if margin[t] < self.tol / 8:
                    done.add(t)
                continue
            r = self.ask(p_star)
            if r == t:  # the optimum of the (shrunk) outer approximation is induced: near-optimal for t
                done.add(t)
                continue
            if self.learn_boundary(t, self.interior_point(t), p_star, r):
                margin[t] *= 2


def _adds_rank(points: list[np.ndarray], q: np.ndarray) -> bool:
    """Whether ``q`` is clearly linearly independent of ``points`` (so the hyperplane fit is well posed)."""
    P = np.array([*points, q])
    s = np.linalg.svd(P, compute_uv=False)
    return bool(s[-1] > 1e-3 * s[0])


def learn_commitment_by_queries(
    leader_payoffs: Any,
    best_response: Callable[[np.ndarray], int],
    *,
    n_follower_actions: int,
    tol: float = 1e-3,
    max_queries: int = 2000,
    n_explore: int | None = None,
    rng: np.random.Generator | None = None,
) -> ProbingResult:
    """Find a near-optimal commitment when only the follower's best responses can be observed.

    A probing baseline in the style of Letchford, Conitzer & Munagala, "Learning
    and approximating the optimal strategy to commit to" (SAGT 2009). The leader
    knows its own payoffs ``L`` but not the follower's; it may query
    ``best_response(p)``, the follower's best response to the mixed strategy ``p``.
    The follower's best-response region for column ``t`` is the convex polytope
    ``R_t = {p in simplex : (F[:, t] - F[:, t']) @ p >= 0 for all t'}``, and the
    optimal commitment maximises ``L[:, t] @ p`` over some ``R_t``.

    Algorithm:

    1. Explore: query the ``m`` pure strategies, the uniform strategy and
       ``n_explore`` Dirichlet(1) draws; every response reveals an inducible column
       and a point of its region.
    2. Cutting planes, best upper bound first: for each discovered column ``t``,
       solve the LP ``max L[:, t] @ p`` over the simplex cut by the boundaries of
       ``R_t`` learned so far (an outer approximation of ``R_t``), with the
       constraints tightened by a margin (initially ``tol``) so the follower
       strictly prefers ``t``, and query the solution ``p*``. If the follower
       answers ``t``, ``p*`` is (up to the margin) optimal within ``R_t``. If it
       answers another column, bisect the segment from a known point of ``R_t``
       to ``p*`` (precision ``tol / 4``) to find where it leaves ``R_t`` and which
       column ``r`` lies beyond, then fan out ``m - 2`` more bisections to points
       of that boundary and fit the hyperplane ``(F[:, t] - F[:, r]) @ p = 0``
       through them (``m - 1`` points fix it). Each boundary is shared by two
       regions and is learned once; if ``p*`` lands beyond a boundary already
       learned (estimation error larger than the margin), the new points refine
       the fit and the margin doubles. A column whose upper bound cannot beat the
       best value realised so far is dropped; newly seen columns join the search.
    3. Scan (only while some unseen column could still beat the best value,
       judged from ``L`` alone): for each pair of seen columns, bisect from one
       region towards the other; a thin region between them that exploration
       missed shows up as the column beyond the exit, and step 2 resumes.
    4. Return the best queried strategy: its value is realised exactly against
       the oracle (no model error), so the result is never worse than reported.

    Query count: a bisection costs at most ``b = ceil(log2(4 sqrt(2) / tol))``
    queries (13 for ``tol = 1e-3``). Exploration costs ``m + 1 + n_explore``
    (just 1 when ``m = 1``); each cutting-plane step one query, plus at most
    ``1 + b`` to locate a boundary and, when ``m >= 3``, ``3 m (1 + b)`` to fan
    out; there are at most ``2 n + 2`` steps per column; the scan costs at most
    ``1 + b`` per pair of columns. Altogether at most
    ``m + 1 + n_explore + n (2 n + 2) (2 + b + [m >= 3] 3 m (1 + b)) + n (n - 1) / 2 (1 + b)``,
    a loose worst case; ``max_queries`` is a hard cap on top (``budget_exhausted``
    says whether it bit). Measured with a leader-favourable oracle on random
    games with uniform payoffs (300 seeds each, defaults): mean 23 / max 35
    queries for 2 x 2, 36 / 58 for 2 x 3, 91 / 219 for 3 x 4, 169 / 570 for
    4 x 5 (100 seeds); the shortfall from the exact Stackelberg value was at most
    0.0001 of the leader's payoff range for 2 x n, 0.002 for 3 x 4, 0.012 for
    4 x 5 and 5 x 3.

    Guarantees and limits: with an exact oracle, every boundary learned is the
    true indifference hyperplane up to the bisection precision, so once the
    search for ``t`` ends with ``p*`` answered by ``t``, ``p*`` is within the margin
    (a few ``tol``, amplified by how acute the region's corner is) of the best
    strategy in ``R_t``. There is no worst-case guarantee beyond that: the
    search only finds columns whose regions it hits. A column whose region is
    small (volume below about ``1 / n_explore`` of the simplex), not crossed by
    any scan segment (with ``m = 2`` the scan finds every region wider than
    ``tol / 4``), or has empty interior (the follower is indifferent everywhere
    on it) is missed unless it contains a queried point such as a vertex; this
    is the volume dependence of Letchford et al.'s bound. In particular an
    optimal commitment that relies on the follower breaking an exact tie in the
    leader's favour on a lower-dimensional region (possible in games with
    repeated payoffs) is not found, since commitments are placed strictly inside
    regions; on integer payoffs in {0..3}, 1 of 300 3 x 4 games lost a third of
    the payoff range this way. Noisy or inconsistent responses are not modelled.

    Args:
        leader_payoffs: (m, n) leader payoffs (rows = leader actions).
        best_response: the oracle, ``p (m,) -> follower column``; called with a copy.
        n_follower_actions: ``n``, the follower's number of actions.
        tol: precision of the boundary search and initial margin, as a distance
            within the simplex.
        max_queries: hard cap on oracle calls.
        n_explore: random exploration queries; default ``4 * m * n``.
        rng: source of the exploration draws and of the order of the fan-out
            directions; ``None`` means ``numpy.random.default_rng(0)``, so
            results are deterministic either way.

    Returns:
        The best commitment found, its response and value, and the query log.

    Raises:
        ValueError: bad payoffs or arguments, or an oracle answer outside ``[0, n)``.
    """
    L = _as_payoff_matrix(leader_payoffs, "leader_payoffs")
    m, n = L.shape
    if operator.index(n_follower_actions) != n:
        raise ValueError(f"n_follower_actions={n_follower_actions} does not match leader_payoffs' {n} columns")
    if not (np.isfinite(tol) and 0 < tol < 0.5):
        raise ValueError(f"tol must be in (0, 0.5), got {tol}")
    if operator.index(max_queries) < m:
        raise ValueError(f"max_queries must be at least m={m} (one query per pure strategy), got {max_queries}")
    n_explore = 4 * m * n if n_explore is None else operator.index(n_explore)
    if n_explore < 0:
        raise ValueError(f"n_explore must be >= 0, got {n_explore}")
    rng = np.random.default_rng(0) if rng is None else rng

    prober = _Prober(L, best_response, n, tol=tol, max_queries=max_queries, rng=rng)
    exhausted = False
    try:
        prober.run(n_explore, max_rounds_per_action=2 * n + 2)
    except _BudgetExhaustedError:
        exhausted = True
    _, p, r = prober.best
    return ProbingResult(
        leader_strategy=_readonly(p),
        follower_action=r,
        leader_value=float(p @ L[:, r]),
        n_queries=len(prober.queries),
        queries=tuple(prober.queries),
        inducible_actions=tuple(t for t in range(n) if prober.members[t]),
        budget_exhausted=exhausted,
    )
