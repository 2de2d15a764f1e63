"""Leaders of a repeated Stackelberg game against a learning follower that are not learned: benchmarks and probing.

Each round the leader (the principal) commits to a mixed strategy ``p`` over its
``m`` rows, the follower (a learner from :mod:`simulator`) picks one of its ``n``
columns, and the leader gets ``p @ L[:, j]``. The leader knows its own payoffs
``L`` (``spec.extra["leader_payoffs"]``), not the follower's ``F``; it sees the
follower's action, possibly replaced by a uniformly random column with the
known probability ``spec.extra["observation_noise"]``. Principals act for a
batch of independent rows (one game and follower each): ``act()`` returns
``(rows, m)`` commitments, ``observe(obs)`` receives ``obs.actions`` (the
observed columns) and ``obs.leader_actions`` (the leader's realised rows).

Principals (registered names):

* ``stackelberg``: knows both matrices and plays the exact optimal commitment
  (Conitzer & Sandholm, EC 2006), moved ``margin`` inside the follower's
  best-response region so that a follower who must *strictly* prefer the
  column (an argmax with random tie-breaking) still plays it. The margin is a
  Euclidean distance within the simplex to every indifference boundary of the
  induced column (follower payoffs rescaled to [0, 1]); where the region is
  thinner than twice the margin it is halved until it fits. The upper bound
  every other leader is compared with.
* ``nash``: knows both matrices and commits to its strategy in the leader-best
  Nash equilibrium (the value the leader gets without commitment power).
* ``probing``: knows ``L`` only and learns the follower's best-response regions
  by queries, Letchford, Conitzer & Munagala (SAGT 2009) style, with
  :func:`policies.stackelberg.learn_commitment_by_queries`: each round it
  commits to the search's next query and takes the observed action as the
  answer (the search is re-run from its start with the answers so far, which
  replays deterministically); when the search ends it commits to the best
  commitment found. Its answers carry over from the adaptation episodes with
  one follower type (``episode()`` snapshots them, ``adapt`` continues from the
  last snapshot), so an adaptation episode is ``horizon`` more queries.

The learned leaders (``mermaide``, ``wm_only``, ``meta_only``, ``model_free``)
are the core's :class:`policies.learned.LearnedPrincipal`, loaded from a
checkpoint whose :class:`~policies.problem.NetSpec` describes the Stackelberg
game (a bilinear reward with the leader's payoffs as the rows' context, a grid
of commitments as the action set); ``scenarios._stackelberg_games`` builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

from simulator import Observation, PrincipalSpec

from .base import BasePrincipal, register_principal
from .stackelberg import learn_commitment_by_queries, nash_equilibria, solve_stackelberg

__all__ = [
    "LeaderObservation",
    "NashLeader",
    "ProbingLeader",
    "StackelbergLeader",
    "strict_commitment",
]


# ---------------------------------------------------------------------------------------------------------------------
# The optimal commitment, strictly inside its region
# ---------------------------------------------------------------------------------------------------------------------


def strict_commitment(
    leader_payoffs: Any, follower_payoffs: Any, margin: float = 1e-3
) -> tuple[np.ndarray, int, float]:
    """The optimal commitment moved ``margin`` inside the induced column's best-response region.

    Solves the Conitzer-Sandholm LP of the optimal column ``t`` again with every
    constraint tightened to ``(F[:, t] - F[:, t']) @ p >= margin * |centred row|``
    (follower payoffs rescaled to [0, 1]), i.e. ``p`` at least ``margin`` (a
    distance within the simplex) from every indifference boundary of ``t``. If
    that is infeasible (the region is thinner), the margin is halved, down to
    1e-9, and the exact solution is kept last.

    Returns:
        The commitment, the column it induces strictly and its leader value.
    """
    L = np.asarray(leader_payoffs, dtype=float)
    F = np.asarray(follower_payoffs, dtype=float)
    sol = solve_stackelberg(L, F)
    t = sol.follower_action
    span = F.max() - F.min()
    Fr = (F - F.min()) / span if span > 0 else np.zeros_like(F)
    others = [s for s in range(F.shape[1]) if s != t]
    if not others or margin <= 0:
        return np.array(sol.leader_strategy), t, sol.leader_value
    diff = (Fr[:, [t]] - Fr[:, others]).T
    centred = diff - diff.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    m = L.shape[0]
    d = float(margin)
    while d >= 1e-9:
        res = linprog(
            -L[:, t],
            A_ub=-diff,
            b_ub=-d * norms,
            A_eq=np.ones((1, m)),
            b_eq=np.ones(1),
            bounds=[(0.0, 1.0)] * m,
            method="highs",
        )
        if res.status == 0 and res.x is not None:
            p = np.clip(res.x, 0.0, None)
            p /= p.sum()
            return p, t, float(p @ L[:, t])
        d /= 2
    return np.array(sol.leader_strategy), t, sol.leader_value


@dataclass
class LeaderObservation(Observation):
    """One round of the repeated Stackelberg game as the leader sees it.

    ``actions`` are the observed follower columns (rows,), ``incentives`` the
    commitments played (rows, m); ``leader_actions`` adds the leader's own
    realised rows (rows,), which it knows.
    """

    leader_actions: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------------------------------
# Rows of games: what every leader reads from the spec
# ---------------------------------------------------------------------------------------------------------------------


class _RowLeader(BasePrincipal):
    """Base of the leaders: reads the rows' payoffs and noise from ``spec.extra``."""

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Read the leader payoffs (rows, m, n) and the observation noise per row."""
        super().reset(spec, rng)
        extra = spec.extra
        if "leader_payoffs" not in extra:
            raise ValueError(f"{type(self).__name__} plays the Stackelberg game: spec.extra lacks 'leader_payoffs'")
        L = np.asarray(extra["leader_payoffs"], dtype=float)
        if L.ndim == 2:
            L = L[None]
        if L.ndim != 3 or L.shape[2] != spec.n_actions:
            raise ValueError(f"leader_payoffs must have shape (rows, m, {spec.n_actions}), got {L.shape}")
        self.L = L
        self.rows, self.m, self.n = L.shape
        self.noise = np.broadcast_to(np.asarray(extra.get("observation_noise", 0.0), dtype=float), (self.rows,)).copy()

    def _follower_payoffs(self) -> np.ndarray:
        F = self.spec.extra.get("follower_payoffs")
        if F is None:
            raise ValueError(f"{type(self).__name__} needs the follower's payoffs (built with model access)")
        F = np.asarray(F, dtype=float)
        return F[None] if F.ndim == 2 else F


@register_principal("stackelberg")
class StackelbergLeader(_RowLeader):
    """The exact optimal commitment, a margin inside the induced region (knows both matrices).

    Args:
        margin: distance within the simplex from every indifference boundary of
            the induced column (follower payoffs rescaled to [0, 1]); 1e-3 costs
            at most about 1e-3 of the leader's payoff range.
    """

    observes = False
    needs_model_access = True

    def __init__(self, margin: float = 1e-3) -> None:
        if not (np.isfinite(margin) and margin >= 0):
            raise ValueError(f"stackelberg: margin must be >= 0, got {margin}")
        self.margin = float(margin)

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Solve every row's game once."""
        super().reset(spec, rng)
        F = self._follower_payoffs()
        self._p = np.stack([strict_commitment(self.L[r], F[r], self.margin)[0] for r in range(self.rows)])

    def act(self) -> np.ndarray:
        """The same commitment every round."""
        return self._p.copy()


@register_principal("nash")
class NashLeader(_RowLeader):
    """Commits to its strategy in the leader-best Nash equilibrium (knows both matrices)."""

    observes = False
    needs_model_access = True

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Find each row's leader-best Nash equilibrium."""
        super().reset(spec, rng)
        F = self._follower_payoffs()
        self._p = np.stack([np.array(nash_equilibria(self.L[r], F[r])[0][0]) for r in range(self.rows)])

    def act(self) -> np.ndarray:
        """The same commitment every round."""
        return self._p.copy()


class _NeedQueryError(Exception):
    def __init__(self, p: np.ndarray) -> None:
        super().__init__("next query")
        self.p = p


@register_principal("probing")
class ProbingLeader(_RowLeader):
    """Learns the optimal commitment by best-response queries, one query per round.

    Letchford, Conitzer & Munagala (SAGT 2009) style, through
    :func:`policies.stackelberg.learn_commitment_by_queries`: the search is run
    with an oracle that answers from the responses observed so far and stops at
    the first query not yet asked, which is this round's commitment. Once the
    search completes the leader commits to the best strategy found. Observed
    (possibly noisy) actions are taken as the answers. The answers persist
    across episodes with the same follower (``adapt``); ``reset_adaptation``
    forgets them.

    Args:
        tol: the search's precision and initial margin (a distance within the simplex).
        n_explore: random exploration queries (default ``2 * m * n``).
        max_queries: cap on the search's queries.
        seed: seeds the search's exploration draws.
    """

    def __init__(self, tol: float = 2e-3, n_explore: int | None = None, max_queries: int = 400, seed: int = 0) -> None:
        self.tol = float(tol)
        self.n_explore = n_explore
        self.max_queries = int(max_queries)
        self.seed = int(seed)
        self._answers: list[list[tuple[np.ndarray, int]]] | None = None
        self._final: list[np.ndarray | None] = []
        self.explore = False

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Keep the answers of earlier episodes with this follower (same rows and games)."""
        super().reset(spec, rng)
        if self._answers is None or len(self._answers) != self.rows:
            self.reset_adaptation()
        self._pending: list[np.ndarray | None] = [None] * self.rows

    def reset_adaptation(self) -> None:
        """Forget every answer (a new follower type)."""
        rows = getattr(self, "rows", 0)
        self._answers = [[] for _ in range(rows)]
        self._final = [None] * rows

    def adapt(self, episodes: Sequence[Any]) -> None:
        """Continue from the answers recorded by the last adaptation episode (``episode()`` snapshots).

        Answers observed in scored episodes are thereby dropped, as for the learned
        leaders, which adapt on adaptation episodes only.
        """
        episodes = list(episodes)
        if not episodes:
            self.reset_adaptation()
            return
        last = episodes[-1]
        self._answers = [list(a) for a in last]
        self._final = [None] * len(self._answers)

    def _next(self, r: int) -> np.ndarray:
        if self._final[r] is not None:
            return self._final[r]
        answers = self._answers[r]
        asked = 0

        def oracle(p: np.ndarray) -> int:
            nonlocal asked
            if asked < len(answers):
                _, a = answers[asked]
                asked += 1
                return a
            raise _NeedQueryError(p)

        try:
            res = learn_commitment_by_queries(
                self.L[r],
                oracle,
                n_follower_actions=self.n,
                tol=self.tol,
                max_queries=self.max_queries,
                n_explore=self.n_explore if self.n_explore is not None else 2 * self.m * self.n,
                rng=np.random.default_rng([self.seed, r]),
            )
        except _NeedQueryError as q:
            return np.asarray(q.p, dtype=float)
        self._final[r] = np.array(res.leader_strategy, dtype=float)
        return self._final[r]

    def act(self) -> np.ndarray:
        """Each row's next query, or its final commitment."""
        out = np.empty((self.rows, self.m))
        for r in range(self.rows):
            p = self._next(r)
            self._pending[r] = p if self._final[r] is None else None
            out[r] = p
        return out

    def observe(self, obs: Observation) -> None:
        """Record the observed action as the answer to each pending query."""
        super().observe(obs)
        acts = np.asarray(obs.actions)
        for r in range(self.rows):
            if self._pending[r] is not None:
                self._answers[r].append((self._pending[r], int(acts[r])))
                self._pending[r] = None

    def episode(self) -> list[list[tuple[np.ndarray, int]]]:
        """A snapshot of every answer so far (what ``adapt`` continues from)."""
        assert self._answers is not None
        return [list(a) for a in self._answers]
