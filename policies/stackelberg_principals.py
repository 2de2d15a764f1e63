"""Leaders of a repeated Stackelberg game against a learning follower: benchmarks, probing, learned.

Each round the leader (the principal) commits to a mixed strategy ``p`` over its
``m`` rows, the follower (a learner from :mod:`simulator`) picks one of its ``n``
columns, and the leader gets ``p @ L[:, j]``. The leader knows its own payoffs
``L`` (``spec.extra["leader_payoffs"]``), not the follower's ``F``; it sees the
follower's action, possibly replaced by a uniformly random column with the
known probability ``spec.extra["observation_noise"]``. Principals act for a
batch of independent rows (one game and follower each): ``act()`` returns
``(rows, m)`` commitments, ``observe(obs)`` receives ``obs.actions`` (the
observed columns) and ``obs.leader_actions`` (the leader's realised rows).

Principals (registered names in brackets):

* ``stackelberg`` [``stackelberg``]: knows both matrices and plays the exact
  optimal commitment (Conitzer & Sandholm, EC 2006), moved ``margin`` inside the
  follower's best-response region so that a follower who must *strictly*
  prefer the column (an argmax with random tie-breaking) still plays it. The
  margin is a Euclidean distance within the simplex to every indifference
  boundary of the induced column (follower payoffs rescaled to [0, 1]); where
  the region is thinner than twice the margin it is halved until it fits. The
  upper bound every other leader is compared with.
* ``nash`` [``nash``]: knows both matrices and commits to its strategy in the
  leader-best Nash equilibrium (the value the leader gets without commitment
  power; REFERENCES.md section 2).
* ``probing`` [``probing``]: knows ``L`` only and learns the follower's
  best-response regions by queries, Letchford, Conitzer & Munagala (SAGT 2009)
  style, with :func:`policies.stackelberg.learn_commitment_by_queries`: each
  round it commits to the search's next query and takes the observed action as
  the answer (the search is re-run from its start with the answers so far,
  which replays deterministically); when the search ends it commits to the best
  commitment found. Its answers carry over from the adaptation episodes with
  one follower type (``episode()`` snapshots them, ``adapt`` continues from the
  last snapshot), so an adaptation episode is ``horizon`` more queries.
* learned leaders (see below): ``mermaide`` and the ablations ``wm_only``,
  ``meta_only``, ``model_free``, registered as ``stackelberg_mermaide`` etc.
  (the plain names belong to the incentive principals of :mod:`policies.learned`).

Learned leaders: the world-model variants (``mermaide``, ``wm_only``)
---------------------------------------------------------------------

The leader must learn *how this follower responds* to commitments in a game it
has never seen, within 0 or 1 episodes. Its world model predicts the
follower's next column given the commitment ``p``, the interaction history and
the leader's own payoffs (MERMAIDE: Banerjee, Phade, Ermon & Zheng 2023; every
detail is this project's choice and a field of :class:`LeaderConfig`):

* **Response model.** An ensemble of ``members`` hypotheses ``e`` about the
  follower, each a utility matrix ``U_e`` (m x n) with a sharpness ``beta_e``, a
  tremble ``eps_e`` and a weight ``alpha_e`` on the current commitment versus the
  leader's empirical play so far ``qbar`` (a fictitious-play follower responds to
  ``qbar``):
  ``P_e(j | p, h) = (1 - eps_e) softmax_j(beta_e (alpha_e p + (1 - alpha_e) qbar) @ U_e + c(h)) + eps_e / n``.
  The observed column is corrupted with the known noise ``eta``:
  ``(1 - eta) P_e + eta / n``. Best-response regions of every hypothesis are
  polytopes, so the model's optimal commitment is an exact LP.
* **Belief.** ``c(h)`` is a logit correction read from a GRU over the episode's
  history (commitments, realised leader actions, observed columns), for
  followers whose response depends on their own learning state (bandit
  learners); the hypotheses' parameters (the fast weights) are fitted to
  everything observed with this follower: after every round, ``online_steps``
  Adam steps on the MAP objective (negative log-likelihood plus
  ``prior_weight`` x squared distance to the member's prior draw: a
  randomised-prior ensemble, Osband, Aslanides & Cassirer 2018, as an
  approximate posterior); members are weighted by their likelihood.
* **Meta-learned prior.** Member ``e`` has ``U_e = mu(L) + sigma(L) u_e``, its
  standardised utilities ``u_e`` starting at ``z_e ~ N(0, 1)`` (fixed per
  follower), where ``mu``, ``sigma`` come from a small permutation-equivariant
  network of the leader's payoffs (features of each entry, its row and its
  column), plus initial ``beta``, ``eps`` and ``alpha``: MAML (Finn, Abbeel &
  Levine 2017) over games x follower types. The fit moves ``u_e`` (steps and
  prior pull in units of the prior's spread). ``mu`` is shrunk towards 0 by
  ``prior_mean_l2`` in the outer loss: with ``rho`` symmetric around 0 in
  training, the leader's payoffs carry no information about the mean of the
  follower's, and an unshrunk ``mu`` learned from few updates shifts all members
  alike and costs the ensemble its diversity. The inner loop is the
  adaptation: ``inner_steps`` steps from the initialisation on the adaptation
  episodes' likelihood (Adam-normalised steps; with ``first_order = False``
  they are taken with ``torch.func.grad`` and the outer gradient flows through
  them, by default the first-order approximation is used); the outer loss is
  the likelihood of a fresh episode with the same follower under the adapted
  parameters, plus ``zero_shot_weight`` x the likelihood of the adaptation
  episode under the initial ones. ``adapt`` names the fast weights that adapt.
* **Decisions.** Candidates: for every member and column ``t`` the LP optimum
  of ``p @ L[:, t]`` over the member's region of ``t`` at each distance in
  ``margins`` inside it (exact, by enumerating the vertices of the polytope),
  the pure strategies and the uniform one. *Exploration* (adaptation episodes,
  and the first ``explore_until`` observed rounds of a scored episode, none by
  default) scores each candidate by the member's exact (argmax) response:
  ``explore_rule = "optimistic"`` (the default in adaptation episodes) plays
  the best candidate of the most optimistic plausible member (likelihood
  weight at least ``plausible`` x the largest), which is the cutting-plane
  step of the probing leader in model form: commit to the best commitment some
  hypothesis consistent with the data promises; either the follower confirms
  it or the refuting observation moves the fitted boundaries, so the probes
  bisect the boundary that matters. ``"thompson"`` plays the best candidate of
  one member drawn by weight (posterior sampling; Thompson 1933). Either rule
  skips commitments whose answer is already *known* (the response memory
  below, from a uniform prior, gives one column probability >= ``known``: one
  observation of a noise-free follower, about three agreeing ones at 40%
  noise) while an unknown feasible candidate remains: replaying a known
  commitment teaches nothing, and without this rule an adaptation episode
  whose members had all converged on one verified commitment replayed it for
  the rest of the episode instead of testing the next-best hypothesis (on the
  validation games, never the test games, this raised the 1-shot gap share
  from 0.93 to 0.96).
  *Exploitation* adds every commitment played before with this follower to the
  candidates and maximises the expected payoff under the ensemble's
  likelihood-weighted predictive, sharpened at commitments already played by a
  *response memory* (the follower's answer to a commitment it has seen is
  evidence about that commitment: likelihood ``(1 - e) 1[o = j] + e / n`` per
  observation, with ``e = max(memory_floor, 1 - (1 - eps)(1 - eta))``), so a
  verified commitment is preferred to an unverified one just beyond it.
* ``wm_only``: the same model and decisions, trained on the same data without
  meta-learning (the initialisation fitted to all episodes directly), adapted at
  test time by the same fine-tuning steps.

The policy-gradient variants (``meta_only``, ``model_free``) have no world
model: a GRU over the history and the leader's payoffs feeds an MLP whose
output logits (plus Gaussian exploration noise) give the commitment by a
softmax; REINFORCE with reward-to-go and a learned value baseline. ``meta_only``
meta-learns its initialisation by MAML with policy-gradient inner steps,
``model_free`` trains across tasks without an inner loop (and fine-tunes with
the same steps at test time). Every variant sees the same number of environment
steps in training (two episodes of ``tasks_per_batch`` tasks per update).

Randomness: a ``torch.Generator`` seeded from the principal's ``seed`` draws the
members' prior noise and the posterior samples; training uses generators made
from the run's seed. Checkpoints: ``torch.save`` of the weights with the
config and the problem spec beside them, written atomically, read with
``torch.load(weights_only=True)``; a checkpoint for another game size, horizon
or a noise level beyond its training range is refused (:class:`CheckpointError`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from scipy.optimize import linprog
from torch import nn
from torch.func import functional_call, grad

from simulator import Observation, PrincipalSpec
from simulator.config import option

from .base import BasePrincipal, register_principal
from .checkpoints import CheckpointError, atomic_torch_save, load_checkpoint
from .nets import MLP, GRUCell, reinit
from .stackelberg import learn_commitment_by_queries, nash_equilibria, solve_stackelberg

__all__ = [
    "CHECKPOINT_FORMAT",
    "LEADER_CLASSES",
    "LEARNED_NAMES",
    "VARIANTS",
    "LeaderConfig",
    "LeaderEnv",
    "LeaderNet",
    "LeaderObservation",
    "LeaderSpec",
    "LeaderStep",
    "LearnedLeader",
    "MermaideLeader",
    "MetaPolicyLeader",
    "ModelFreeLeader",
    "NashLeader",
    "ProbingLeader",
    "StackelbergLeader",
    "WorldModelLeader",
    "load_leader",
    "save_leader",
    "simplex_lp",
    "strict_commitment",
    "train_leader",
]

VARIANTS = ("mermaide", "wm_only", "meta_only", "model_free")
#: registry names of the learned leaders (the plain names are the incentive principals')
LEARNED_NAMES = {v: f"stackelberg_{v}" for v in VARIANTS}
CHECKPOINT_FORMAT = "learning-incentives/stackelberg-leader"
CHECKPOINT_VERSION = 1
_DTYPE = torch.float64


# ---------------------------------------------------------------------------------------------------------------------
# Exact LPs over the simplex
# ---------------------------------------------------------------------------------------------------------------------

_COMBOS: dict[tuple[int, int], torch.Tensor] = {}


def _combos(total: int, r: int) -> torch.Tensor:
    key = (total, r)
    if key not in _COMBOS:
        _COMBOS[key] = torch.tensor(list(itertools.combinations(range(total), r)), dtype=torch.long).reshape(-1, r)
    return _COMBOS[key]


def simplex_lp(
    objective: torch.Tensor, A: torch.Tensor, b: torch.Tensor, tol: float = 1e-9
) -> tuple[torch.Tensor, torch.Tensor]:
    """``max objective @ p`` s.t. ``A p >= b``, ``p`` in the simplex, for a batch of small LPs.

    Exact by vertex enumeration: every vertex of the feasible polytope solves
    ``m - 1`` of the inequalities (the ``k`` rows of ``A`` and ``p_i >= 0``) with
    equality plus ``sum p = 1``; all ``C(k + m, m - 1)`` such systems are solved
    at once and the best feasible one is kept. Cheap for the small games here
    (3 x 3: 10 systems of size 3 per LP) and batched over any leading dims.

    Args:
        objective: (..., m).
        A: (..., k, m), rows scaled to unit norm within the simplex (see callers).
        b: (..., k).
        tol: feasibility tolerance.

    Returns:
        ``p`` (..., m) (a vertex, renormalised; arbitrary where infeasible) and a
        feasibility flag (...).
    """
    m = objective.shape[-1]
    batch = A.shape[:-2]
    eye = torch.eye(m, dtype=A.dtype)
    Af = torch.cat([A, eye.expand(*batch, m, m)], -2)
    bf = torch.cat([b, torch.zeros(*batch, m, dtype=A.dtype)], -1)
    combos = _combos(Af.shape[-2], m - 1)
    n_c = combos.shape[0]
    system = torch.cat([Af[..., combos, :], torch.ones(*batch, n_c, 1, m, dtype=A.dtype)], -2)
    rhs = torch.cat([bf[..., combos], torch.ones(*batch, n_c, 1, dtype=A.dtype)], -1)
    p, info = torch.linalg.solve_ex(system, rhs.unsqueeze(-1))
    p = p.squeeze(-1)
    ok = (info == 0) & torch.isfinite(p).all(-1)
    p = torch.where(ok.unsqueeze(-1), p, torch.zeros_like(p))
    slack = torch.einsum("...km,...cm->...ck", Af, p) - bf.unsqueeze(-2)
    ok = ok & (slack >= -tol).all(-1)
    value = torch.where(ok, torch.einsum("...m,...cm->...c", objective, p), torch.tensor(-math.inf, dtype=A.dtype))
    best = value.argmax(-1)
    p_best = p.gather(-2, best[..., None, None].expand(*batch, 1, m)).squeeze(-2).clamp_min(0.0)
    feasible = torch.isfinite(value.max(-1).values)
    p_best = torch.where(feasible.unsqueeze(-1), p_best, torch.full_like(p_best, 1.0 / m))
    return p_best / p_best.sum(-1, keepdim=True), feasible


def _region_rows(diff: torch.Tensor, const: torch.Tensor, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Constraints ``diff @ p + const >= 0`` as unit rows within the simplex, ``margin`` inside.

    On the simplex ``diff @ p = diff_c @ p + mean(diff)`` with ``diff_c`` centred,
    so the row becomes ``(diff_c / |diff_c|) @ p >= -(const + mean(diff)) / |diff_c| + margin``:
    ``margin`` is then a Euclidean distance to the boundary within the simplex. A
    row constant on the simplex is kept as ``0 >= -1`` (always true) or ``0 >= 1``.
    """
    mean = diff.mean(-1)
    centred = diff - mean.unsqueeze(-1)
    norm = centred.norm(dim=-1)
    flat = norm < 1e-12
    safe = torch.where(flat, torch.ones_like(norm), norm)
    rows = torch.where(flat.unsqueeze(-1), torch.zeros_like(centred), centred / safe.unsqueeze(-1))
    rhs = torch.where(flat, torch.where(const + mean >= 0, -10.0, 10.0).to(diff.dtype), -(const + mean) / safe + margin)
    return rows, rhs


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
        if L.ndim != 3 or L.shape[1] != spec.n_actions:
            raise ValueError(f"leader_payoffs must have shape (rows, {spec.n_actions}, n), got {L.shape}")
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


# ---------------------------------------------------------------------------------------------------------------------
# Learned leaders: config, spec, networks
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class LeaderSpec:
    """The problem a learned leader is trained for (checked when a checkpoint is used).

    Attributes:
        n_leader: the leader's actions m.
        n_follower: the follower's actions n.
        horizon: rounds per episode T.
        max_noise: the largest observation noise seen in training.
    """

    n_leader: int
    n_follower: int
    horizon: int
    max_noise: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for checkpoints."""
        return dataclasses.asdict(self)


@dataclass
class LeaderConfig:
    """Hyperparameters of the learned leaders (all documented, all overridable)."""

    variant: Literal["mermaide", "wm_only", "meta_only", "model_free"] = option(
        "mermaide", help="method: mermaide (world model + MAML), wm_only, meta_only (MAML, no model), model_free"
    )
    members: int = option(8, help="hypotheses in the world model's ensemble", low=1, high=64)
    hidden: int = option(16, help="GRU belief size", low=2, high=256)
    prior_hidden: int = option(16, help="width of the prior network", low=2, high=256)
    prior_sd: float = option(1.0, help="initial spread of the members' utilities", low=0.0, low_open=True)
    beta_init: float = option(20.0, help="initial sharpness of the members' responses", low=0.0, low_open=True)
    eps_init: float = option(0.01, help="initial tremble probability", low=0.0, high=0.5, low_open=True)
    alpha_init: float = option(
        0.95, help="initial weight on the current commitment vs the empirical leader play", low=0.0, high=1.0
    )
    prior_weight: float = option(0.01, help="MAP pull towards each member's prior draw", low=0.0)
    prior_mean_l2: float = option(1.0, help="outer-loss penalty on the prior mean's square (shrinks it to 0)", low=0.0)
    inner_lr: float = option(0.1, help="step size of the (Adam-normalised) fitting steps", low=0.0)
    inner_steps: int = option(60, help="adaptation: fitting steps from the initialisation", low=1, high=500)
    online_steps: int = option(
        30,
        help="fitting steps after each observed round (30: best of 10/20/30/50 on validation games)",
        low=0,
        high=200,
    )
    train_online_steps: int = option(3, help="fitting steps after each round in training rollouts", low=0, high=200)
    first_order: bool = option(True, help="first-order MAML (drop second derivatives)")
    adapt: list[str] = option(
        default_factory=lambda: ["U", "log_beta", "eps_logit", "alpha_logit"], help="fast weights adapted"
    )
    margins: list[float] = option(
        default_factory=lambda: [1e-6, 3e-3, 1e-2], help="distances inside a predicted region of the LP candidates"
    )
    explore_until: int = option(0, help="scored episodes explore while fewer rounds than this were observed", low=0)
    explore_rule: Literal["thompson", "optimistic"] = option(
        "optimistic",
        help="exploration in adaptation episodes: the most optimistic plausible member, or one drawn by weight",
    )
    scored_explore_rule: Literal["thompson", "optimistic"] = option(
        "thompson", help="exploration in the first explore_until rounds of a scored episode"
    )
    plausible: float = option(
        1e-3, help="optimistic exploration: members with weight >= this x the largest count as plausible", low=0, high=1
    )
    memory_floor: float = option(0.01, help="least corruption assumed by the response memory", low=0.0, high=1.0)
    known: float = option(
        0.95,
        help="exploration skips commitments whose response the memory already knows with at least this "
        "probability (1: never skip)",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    posterior_temperature: float = option(1.0, help="temperature of the members' likelihood weights", low=0.0)
    iterations: int = option(60, help="outer (meta) updates", low=1)
    tasks_per_batch: int = option(16, help="tasks (game x follower) per outer update", low=1)
    lr: float = option(3e-3, help="outer learning rate (Adam)", low=0.0, low_open=True)
    zero_shot_weight: float = option(0.5, help="weight of the unadapted (0-shot) loss in the outer loss", low=0.0)
    grad_clip: float = option(5.0, help="gradient-norm clip of the outer update", low=0.0, low_open=True)
    pg_hidden: int = option(32, help="policy-gradient variants: GRU and MLP width", low=2, high=512)
    explore_std: float = option(0.5, help="policy-gradient variants: std of the logit noise at start", low=0.0)
    pg_inner_lr: float = option(0.1, help="policy-gradient variants: inner-loop / fine-tuning step size", low=0.0)
    pg_inner_steps: int = option(1, help="policy-gradient variants: inner steps per adaptation", low=1, high=20)
    value_weight: float = option(0.5, help="policy-gradient variants: weight of the value loss", low=0.0)

    @property
    def uses_world_model(self) -> bool:
        """Model-based variants (mermaide, wm_only)."""
        return self.variant in ("mermaide", "wm_only")

    @property
    def meta(self) -> bool:
        """Meta-learned variants (mermaide, meta_only)."""
        return self.variant in ("mermaide", "meta_only")

    def check(self) -> None:
        """Cross-field checks."""
        bad = [a for a in self.adapt if a not in ("U", "log_beta", "eps_logit", "alpha_logit")]
        if bad:
            raise ValueError(f"adapt: unknown fast weight {bad[0]!r} (U, log_beta, eps_logit, alpha_logit)")
        if not self.margins or any(m < 0 for m in self.margins):
            raise ValueError("margins: need at least one distance >= 0")


def _logit(x: float) -> float:
    return math.log(x / (1.0 - x))


def _history_dim(m: int, n: int) -> int:
    # commitment, realised leader action, observed column, noise, t / T, perceived payoff
    return 2 * m + n + 3


def _payoff_features(L: torch.Tensor) -> torch.Tensor:
    """Per-entry features of the leader's payoffs (..., m, n, 4): entry, row mean, column mean, overall mean."""
    overall = L.mean((-2, -1), keepdim=True)
    row = L.mean(-1, keepdim=True).expand_as(L)
    col = L.mean(-2, keepdim=True).expand_as(L)
    return torch.stack([L - overall, row - overall, col - overall, overall.expand_as(L)], dim=-1)


class LeaderNet(nn.Module):
    """Slow weights of the world-model leaders: the prior network, initial scalars, the GRU belief.

    Evaluated through ``functional_call(net, params, (kind, *args))``.
    """

    def __init__(self, spec: LeaderSpec, cfg: LeaderConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.spec = spec
        m, n = spec.n_leader, spec.n_follower
        self.prior = MLP([4, cfg.prior_hidden, 2], out_gain=0.1)
        self.log_sd = nn.Parameter(torch.tensor(math.log(cfg.prior_sd)))
        self.log_beta0 = nn.Parameter(torch.tensor(math.log(cfg.beta_init)))
        self.eps_logit0 = nn.Parameter(torch.tensor(_logit(cfg.eps_init)))
        self.alpha_logit0 = nn.Parameter(torch.tensor(_logit(min(max(cfg.alpha_init, 1e-3), 1 - 1e-3))))
        self.cell = GRUCell(_history_dim(m, n), cfg.hidden)
        self.h0 = nn.Parameter(torch.zeros(cfg.hidden))
        self.correction = MLP([cfg.hidden, cfg.hidden, n], out_gain=0.0)
        if generator is not None:
            reinit(self, generator)
            with torch.no_grad():
                self.log_sd.fill_(math.log(cfg.prior_sd))
                self.log_beta0.fill_(math.log(cfg.beta_init))
                self.eps_logit0.fill_(_logit(cfg.eps_init))
                self.alpha_logit0.fill_(_logit(min(max(cfg.alpha_init, 1e-3), 1 - 1e-3)))
                self.correction.net[-1].weight.zero_()
        self.to(_DTYPE)

    def forward(self, kind: str, *args: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Dispatch: ``prior`` (L -> mu, sd), ``init`` (scalars), ``step`` (GRU), ``h0``, ``correction``."""
        if kind == "prior":
            out = self.prior(_payoff_features(args[0]))
            return out[..., 0], torch.exp(self.log_sd + out[..., 1])
        if kind == "init":
            return self.log_beta0, self.eps_logit0, self.alpha_logit0
        if kind == "step":
            return self.cell(*args)
        if kind == "h0":
            return self.h0
        if kind == "correction":
            return self.correction(args[0])
        raise ValueError(f"unknown kind {kind!r}")


class PolicyNet(nn.Module):
    """Recurrent policy of the policy-gradient variants: GRU over the history + the leader's payoffs."""

    def __init__(self, spec: LeaderSpec, cfg: LeaderConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.spec = spec
        m, n = spec.n_leader, spec.n_follower
        h = cfg.pg_hidden
        self.cell = GRUCell(_history_dim(m, n), h)
        self.h0 = nn.Parameter(torch.zeros(h))
        self.policy = MLP([h + m * n + 1, h, m], out_gain=0.1)
        self.value = MLP([h + m * n + 1, h, 1], out_gain=0.1)
        self.log_std = nn.Parameter(torch.full((m,), math.log(max(cfg.explore_std, 1e-3))))
        if generator is not None:
            reinit(self, generator)
            with torch.no_grad():
                self.log_std.fill_(math.log(max(cfg.explore_std, 1e-3)))
        self.to(_DTYPE)

    def forward(self, kind: str, *args: torch.Tensor) -> torch.Tensor:
        """Dispatch: ``step`` (GRU), ``h0``, ``policy`` / ``value`` (h, L flat, t/T), ``log_std``."""
        if kind == "step":
            return self.cell(*args)
        if kind == "h0":
            return self.h0
        if kind == "policy":
            return self.policy(torch.cat(args, -1))
        if kind == "value":
            return self.value(torch.cat(args, -1)).squeeze(-1)
        if kind == "log_std":
            return self.log_std
        raise ValueError(f"unknown kind {kind!r}")


# ---------------------------------------------------------------------------------------------------------------------
# Histories: what a leader saw, as tensors
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Episode:
    """One episode with a batch of rows, as the leader recorded it (leading dim: rows).

    Attributes:
        commitments: (rows, T, m).
        leader_actions: (rows, T) long, the realised rows.
        observed: (rows, T) long, the observed columns.
        payoff: (rows, T) the payoff as the leader perceives it, ``p @ L[:, observed]``.
        explore_pre: (rows, T, m) the PG policy's noisy logits (PG variants; else empty).
    """

    commitments: torch.Tensor
    leader_actions: torch.Tensor
    observed: torch.Tensor
    payoff: torch.Tensor
    explore_pre: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    @property
    def length(self) -> int:
        """Rounds recorded."""
        return int(self.commitments.shape[1])


def _features(
    ep_p: torch.Tensor,
    ep_a: torch.Tensor,
    ep_o: torch.Tensor,
    ep_r: torch.Tensor,
    noise: torch.Tensor,
    horizon: int,
    m: int,
    n: int,
) -> torch.Tensor:
    """History features per round (rows, T, D): commitment, leader action, observed column, noise, t/T, payoff."""
    rows, T = ep_a.shape
    tf = (torch.arange(T, dtype=_DTYPE) + 1.0) / horizon
    return torch.cat(
        [
            ep_p,
            nn.functional.one_hot(ep_a, m).to(_DTYPE),
            nn.functional.one_hot(ep_o, n).to(_DTYPE),
            noise[:, None, None].expand(rows, T, 1),
            tf[None, :, None].expand(rows, T, 1),
            ep_r.unsqueeze(-1),
        ],
        -1,
    )


def _empirical_play(ep_a: torch.Tensor, m: int) -> torch.Tensor:
    """The leader's empirical mixed strategy before each round (rows, T, m), one uniform pseudo-round."""
    onehot = nn.functional.one_hot(ep_a, m).to(_DTYPE)
    before = torch.cumsum(onehot, 1) - onehot
    count = torch.arange(ep_a.shape[1], dtype=_DTYPE)[None, :, None]
    return (before + 1.0 / m) / (count + 1.0)


@dataclass
class _Data:
    """Observations with one follower, flattened over episodes: what the fitting loss needs."""

    p: torch.Tensor  # (rows, N, m)
    qbar: torch.Tensor  # (rows, N, m)
    corr: torch.Tensor  # (rows, N, n) GRU logit corrections
    obs: torch.Tensor  # (rows, N) long
    mask: torch.Tensor  # (rows, N)


def _episode_corrections(
    net: LeaderNet, params: dict[str, torch.Tensor], ep: Episode, noise: torch.Tensor, horizon: int
) -> torch.Tensor:
    """The GRU's logit correction before each round of an episode (rows, T, n), from the slow weights."""
    m, n = net.spec.n_leader, net.spec.n_follower
    feats = _features(ep.commitments, ep.leader_actions, ep.observed, ep.payoff, noise, horizon, m, n)
    h = functional_call(net, params, ("h0",)).expand(feats.shape[0], -1)
    out = []
    for t in range(feats.shape[1]):
        out.append(functional_call(net, params, ("correction", h)))
        h = functional_call(net, params, ("step", feats[:, t], h))
    return torch.stack(out, 1) if out else torch.zeros(feats.shape[0], 0, n, dtype=_DTYPE)


def _data_from(
    net: LeaderNet, params: dict[str, torch.Tensor], episodes: Sequence[Episode], noise: torch.Tensor, horizon: int
) -> _Data:
    m, n = net.spec.n_leader, net.spec.n_follower
    rows = noise.shape[0]
    if not episodes:
        z = torch.zeros(rows, 0, dtype=_DTYPE)
        return _Data(
            torch.zeros(rows, 0, m, dtype=_DTYPE),
            torch.zeros(rows, 0, m, dtype=_DTYPE),
            torch.zeros(rows, 0, n, dtype=_DTYPE),
            torch.zeros(rows, 0, dtype=torch.long),
            z,
        )
    ps, qs, cs, os_, ms = [], [], [], [], []
    for ep in episodes:
        ps.append(ep.commitments)
        qs.append(_empirical_play(ep.leader_actions, m))
        cs.append(_episode_corrections(net, params, ep, noise, horizon))
        os_.append(ep.observed)
        ms.append(torch.ones(ep.observed.shape, dtype=_DTYPE))
    return _Data(torch.cat(ps, 1), torch.cat(qs, 1), torch.cat(cs, 1), torch.cat(os_, 1), torch.cat(ms, 1))


# ---------------------------------------------------------------------------------------------------------------------
# The world model: members' predictions, the fitting loss, the inner loop
# ---------------------------------------------------------------------------------------------------------------------


def _member_logits(fast: dict[str, torch.Tensor], p: torch.Tensor, qbar: torch.Tensor, corr: torch.Tensor):
    """Logits (rows, E, N, n) and tremble (rows, E) of every member for commitments p (rows, N, m)."""
    alpha = torch.sigmoid(fast["alpha_logit"])[..., None, None]  # rows, E, 1, 1
    x = alpha * p.unsqueeze(1) + (1.0 - alpha) * qbar.unsqueeze(1)  # rows, E, N, m
    util = torch.einsum("renm,remk->renk", x, _utilities(fast))
    logits = torch.exp(fast["log_beta"])[..., None, None] * util + corr.unsqueeze(1)
    return logits, torch.sigmoid(fast["eps_logit"])


def _log_obs_prob(logits: torch.Tensor, eps: torch.Tensor, noise: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Log-probability of the observed column (rows, E, N) under tremble eps (rows, E) and observation noise (rows,)."""
    n = logits.shape[-1]
    logp = torch.log_softmax(logits, -1).gather(-1, obs[:, None, :, None].expand(*logits.shape[:-1], 1)).squeeze(-1)
    keep = (1.0 - noise)[:, None, None] * (1.0 - eps)[..., None]
    floor = ((1.0 - noise)[:, None, None] * eps[..., None] + noise[:, None, None]) / n
    return torch.logaddexp(logp + torch.log(keep), torch.log(floor.clamp_min(1e-300)))


def _fit_loss(
    fast: dict[str, torch.Tensor],
    anchor: dict[str, torch.Tensor],
    data: _Data,
    noise: torch.Tensor,
    prior_weight: float,
) -> torch.Tensor:
    """MAP objective summed over rows and members: mean NLL per member + prior pull to its draw."""
    logits, eps = _member_logits(fast, data.p, data.qbar, data.corr)
    ll = _log_obs_prob(logits, eps, noise, data.obs) * data.mask.unsqueeze(1)
    count = data.mask.sum(-1).clamp_min(1.0)[:, None]
    nll = -(ll.sum(-1) / count)
    pull = sum(((fast[k] - anchor[k]) ** 2).reshape(*fast[k].shape[:2], -1).sum(-1) for k in fast)
    return (nll + prior_weight * pull).sum()


def _member_loglik(fast: dict[str, torch.Tensor], data: _Data, noise: torch.Tensor) -> torch.Tensor:
    """Log-likelihood of the data under every member (rows, E)."""
    logits, eps = _member_logits(fast, data.p, data.qbar, data.corr)
    return (_log_obs_prob(logits, eps, noise, data.obs) * data.mask.unsqueeze(1)).sum(-1)


def fit_members(
    fast: dict[str, torch.Tensor],
    anchor: dict[str, torch.Tensor],
    data: _Data,
    noise: torch.Tensor,
    cfg: LeaderConfig,
    steps: int,
    *,
    create_graph: bool = False,
) -> dict[str, torch.Tensor]:
    """Adam-normalised gradient steps on the MAP objective (the inner loop); returns new fast weights.

    A fresh Adam state per call; only the names in ``cfg.adapt`` move and
    ``inner_lr = 0`` returns the input values. With ``create_graph`` the steps
    are taken with ``torch.func.grad`` and stay differentiable in the initial
    fast weights (second-order MAML); otherwise each step's gradient is a
    constant (plain autograd, several times faster on these tiny tensors).
    """
    if steps <= 0 or data.obs.shape[1] == 0:
        return dict(fast)
    moving = {k: v for k, v in fast.items() if k in cfg.adapt}
    fixed = {k: v for k, v in fast.items() if k not in cfg.adapt}
    if not moving:
        return dict(fast)

    def loss(mv: dict[str, torch.Tensor]) -> torch.Tensor:
        return _fit_loss({**fixed, **mv}, anchor, data, noise, cfg.prior_weight)

    m1 = {k: torch.zeros_like(v) for k, v in moving.items()}
    m2 = {k: torch.zeros_like(v) for k, v in moving.items()}
    b1, b2 = 0.9, 0.999
    if create_graph:
        g_fn = grad(loss)
    for i in range(1, steps + 1):
        if create_graph:
            g = g_fn(moving)
        else:  # plain autograd is several times faster than torch.func.grad for these tiny tensors
            with torch.enable_grad():
                leaves = {k: v.detach().requires_grad_(True) for k, v in moving.items()}
                grads = torch.autograd.grad(loss(leaves), list(leaves.values()))
            g = dict(zip(leaves, grads, strict=True))
        m1 = {k: b1 * m1[k] + (1 - b1) * g[k] for k in g}
        m2 = {k: b2 * m2[k] + (1 - b2) * g[k] ** 2 for k in g}
        moving = {
            k: moving[k] - cfg.inner_lr * (m1[k] / (1 - b1**i)) / (torch.sqrt(m2[k] / (1 - b2**i)) + 1e-8)
            for k in moving
        }
        if not create_graph:
            moving = {k: v.detach() for k, v in moving.items()}
    return {**fixed, **moving}


def _utilities(fast: dict[str, torch.Tensor]) -> torch.Tensor:
    """The members' utility matrices ``mu + sd * U`` (rows, E, m, n); ``U`` is the standardised fast weight."""
    return fast["mu"] + fast["sd"] * fast["U"]


def init_fast(net: LeaderNet, params: dict[str, torch.Tensor], L: torch.Tensor, z: torch.Tensor):
    """Members' initial fast weights (rows, E, ...) from the prior network and the draws z (rows, E, m, n).

    The utilities are fitted in standardised form, ``U_e = mu(L) + sd(L) * u_e`` with
    ``u_e`` the fast weight starting at ``z_e``: the fitting steps and the pull
    towards the prior draw are then in units of the prior's spread, whatever
    spread the meta-learning picks (``mu`` and ``sd`` are not adapted).
    """
    mu, sd = functional_call(net, params, ("prior", L))
    lb, el, al = functional_call(net, params, ("init",))
    rows, E = z.shape[:2]
    return {
        "U": z,
        "mu": mu.unsqueeze(1).expand_as(z),
        "sd": sd.unsqueeze(1).expand_as(z),
        "log_beta": lb.expand(rows, E),
        "eps_logit": el.expand(rows, E),
        "alpha_logit": al.expand(rows, E),
    }


# ---------------------------------------------------------------------------------------------------------------------
# Decisions of the world-model leaders
# ---------------------------------------------------------------------------------------------------------------------


def _member_candidates(
    fast: dict[str, torch.Tensor], L: torch.Tensor, qbar: torch.Tensor, corr: torch.Tensor, margins: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every member's LP optimum per column and margin: (rows, E, n * M, m) and feasibility (rows, E, n * M).

    ``fast`` may hold any number of members (e.g. one drawn member per row).
    """
    U = torch.exp(fast["log_beta"])[..., None, None] * _utilities(fast)  # rows, E, m, n
    alpha = torch.sigmoid(fast["alpha_logit"])[..., None, None]  # rows, E, 1, 1
    rows, E, m, n = U.shape
    others = torch.tensor([[s for s in range(n) if s != t] for t in range(n)], dtype=torch.long)  # n, n-1
    dU = U.unsqueeze(-1) - U[..., others]  # rows, E, m, n, n-1: U[:, t] - U[:, s]
    diff = alpha.unsqueeze(-1) * dU.permute(0, 1, 3, 4, 2)  # rows, E, n, n-1, m
    const = (1.0 - alpha) * torch.einsum("rm,remtk->retk", qbar, dU) + (
        corr[:, None, :, None] - corr[:, None, others]
    )  # rows, E, n, n-1
    M = len(margins)
    mg = torch.tensor(list(margins), dtype=_DTYPE)
    A, b0 = _region_rows(diff, const, 0.0)
    A = A.unsqueeze(3).expand(rows, E, n, M, n - 1, m)
    b = b0.unsqueeze(3) + mg[:, None]  # rows, E, n, M, n-1
    obj = L.permute(0, 2, 1)[:, None, :, None, :].expand(rows, E, n, M, m)
    p, ok = simplex_lp(obj, A, b)
    return p.reshape(rows, E, n * M, m), ok.reshape(rows, E, n * M)


def _values(
    fast: dict[str, torch.Tensor],
    cand: torch.Tensor,
    L: torch.Tensor,
    qbar: torch.Tensor,
    corr: torch.Tensor,
    hard: bool,
) -> torch.Tensor:
    """Expected leader payoff of candidates (rows, E, C) under every member; cand (rows, E, C, m) or (rows, C, m)."""
    if cand.dim() == 3:
        cand = cand.unsqueeze(1).expand(-1, fast["U"].shape[1], -1, -1)
    alpha = torch.sigmoid(fast["alpha_logit"])[..., None, None]
    x = alpha * cand + (1.0 - alpha) * qbar[:, None, None, :]
    logits = torch.exp(fast["log_beta"])[..., None, None] * torch.einsum("recm,remk->reck", x, _utilities(fast))
    logits = logits + corr[:, None, None, :]
    n = logits.shape[-1]
    if hard:
        probs = nn.functional.one_hot(logits.argmax(-1), n).to(_DTYPE)
    else:
        eps = torch.sigmoid(fast["eps_logit"])[..., None, None]
        probs = (1.0 - eps) * torch.softmax(logits, -1) + eps / n
    payoff = torch.einsum("recm,rmk->reck", cand, L)
    return (probs * payoff).sum(-1)


def _fixed_candidates(rows: int, m: int) -> torch.Tensor:
    eye = torch.eye(m, dtype=_DTYPE)
    return torch.cat([eye, torch.full((1, m), 1.0 / m, dtype=_DTYPE)]).unsqueeze(0).expand(rows, m + 1, m)


def decide(
    fast: dict[str, torch.Tensor],
    weights: torch.Tensor,
    L: torch.Tensor,
    qbar: torch.Tensor,
    corr: torch.Tensor,
    past: _Data,
    noise: torch.Tensor,
    explore: torch.Tensor,
    cfg: LeaderConfig,
    generator: torch.Generator,
    rule: str = "thompson",
) -> torch.Tensor:
    """This round's commitments (rows, m): posterior sampling where ``explore``, else the ensemble's best.

    Args:
        fast: members' fast weights (rows, E, ...).
        weights: members' posterior weights (rows, E).
        L: leader payoffs (rows, m, n).
        qbar: the leader's empirical play so far this episode (rows, m).
        corr: the GRU's logit correction for this round (rows, n).
        past: every earlier observation with these followers (candidates and response memory).
        noise: observation noise per row (rows,).
        explore: per-row flag (rows,) bool.
        cfg: the config (margins, memory floor).
        generator: draws the posterior samples.
        rule: exploration rule, ``thompson`` or ``optimistic``.
    """
    rows, m, _ = L.shape
    fixed = _fixed_candidates(rows, m)
    choice = torch.empty(rows, m, dtype=_DTYPE)
    idx = torch.arange(rows)
    member = torch.multinomial(weights, 1, generator=generator).squeeze(-1)  # rows
    if bool(explore.any()):
        if rule == "thompson":
            # posterior sampling: one member drawn by weight, its own candidates, its exact (hard) response
            pool = {k: v[idx, member].unsqueeze(1) for k, v in fast.items()}
        else:  # optimistic: every plausible member's own best, the best of them
            pool = fast
        lp, lp_ok = _member_candidates(pool, L, qbar, corr, cfg.margins)  # rows, E', C, m
        E1 = lp.shape[1]
        own = torch.cat([lp, fixed.unsqueeze(1).expand(rows, E1, m + 1, m)], 2)
        own_ok = torch.cat([lp_ok, torch.ones(rows, E1, m + 1, dtype=torch.bool)], 2)
        v = torch.where(own_ok, _values(pool, own, L, qbar, corr, hard=True), torch.tensor(-math.inf, dtype=_DTYPE))
        if rule != "thompson":
            plausible = weights >= cfg.plausible * weights.amax(-1, keepdim=True)
            v = torch.where(plausible.unsqueeze(-1), v, torch.tensor(-math.inf, dtype=_DTYPE))
        if cfg.known < 1.0:
            v = _skip_known(v, own, fast, weights, past, noise, cfg)
        flat = v.reshape(rows, -1).argmax(-1)
        choice[explore] = own.reshape(rows, -1, m)[idx, flat][explore]
    if bool((~explore).any()):
        lp, lp_ok = _member_candidates(fast, L, qbar, corr, cfg.margins)  # rows, E, C, m
        cand = torch.cat([lp.reshape(rows, -1, m), fixed, past.p], 1)
        ok = torch.cat([lp_ok.reshape(rows, -1), torch.ones(rows, m + 1, dtype=torch.bool), past.mask > 0], 1)
        probs = _bma_probs(fast, weights, cand, qbar, corr)  # rows, C, n
        probs = _with_memory(probs, fast, weights, cand, past, noise, cfg.memory_floor)
        v = (probs * torch.einsum("rcm,rmk->rck", cand, L)).sum(-1)
        v = torch.where(ok, v, torch.tensor(-math.inf, dtype=_DTYPE))
        choice[~explore] = cand[idx, v.argmax(-1)][~explore]
    choice = choice.clamp_min(0.0)
    return choice / choice.sum(-1, keepdim=True)


def _skip_known(
    v: torch.Tensor,
    cand: torch.Tensor,
    fast: dict[str, torch.Tensor],
    weights: torch.Tensor,
    past: _Data,
    noise: torch.Tensor,
    cfg: LeaderConfig,
) -> torch.Tensor:
    """Exploration values ``v`` (rows, E', C) with commitments whose answer is already known set to -inf.

    A commitment is known when the response memory alone (a uniform prior
    conditioned on what was observed at exactly that commitment) gives one
    column probability at least ``cfg.known``: playing it again teaches
    nothing about a deterministic follower, and little once noisy answers
    agree. Rows where every feasible candidate is known keep their values.
    """
    if past.p.shape[1] == 0:
        return v
    rows, E1, C, m = cand.shape
    n = int(fast["U"].shape[-1])
    flat = cand.reshape(rows, E1 * C, m)
    uniform = torch.full((rows, E1 * C, n), 1.0 / n, dtype=_DTYPE)
    memory = _with_memory(uniform, fast, weights, flat, past, noise, cfg.memory_floor)
    known = (memory.amax(-1) >= cfg.known).reshape(rows, E1, C)
    skipped = torch.where(known, torch.tensor(-math.inf, dtype=_DTYPE), v)
    any_left = torch.isfinite(skipped).reshape(rows, -1).any(-1)
    return torch.where(any_left[:, None, None], skipped, v)


def _bma_probs(
    fast: dict[str, torch.Tensor], weights: torch.Tensor, cand: torch.Tensor, qbar: torch.Tensor, corr: torch.Tensor
) -> torch.Tensor:
    """Posterior-weighted response probabilities (rows, C, n) of candidates (rows, C, m)."""
    E = fast["U"].shape[1]
    x_c = cand.unsqueeze(1).expand(-1, E, -1, -1)
    alpha = torch.sigmoid(fast["alpha_logit"])[..., None, None]
    x = alpha * x_c + (1.0 - alpha) * qbar[:, None, None, :]
    logits = torch.exp(fast["log_beta"])[..., None, None] * torch.einsum("recm,remk->reck", x, _utilities(fast))
    logits = logits + corr[:, None, None, :]
    n = logits.shape[-1]
    eps = torch.sigmoid(fast["eps_logit"])[..., None, None]
    probs = (1.0 - eps) * torch.softmax(logits, -1) + eps / n
    return torch.einsum("re,reck->rck", weights, probs)


def _with_memory(
    probs: torch.Tensor,
    fast: dict[str, torch.Tensor],
    weights: torch.Tensor,
    cand: torch.Tensor,
    past: _Data,
    noise: torch.Tensor,
    floor: float,
) -> torch.Tensor:
    """Condition the predicted response at commitments already played on what was observed there."""
    if past.p.shape[1] == 0:
        return probs
    n = probs.shape[-1]
    eps = (weights * torch.sigmoid(fast["eps_logit"])).sum(-1)  # rows
    corrupt = torch.clamp(1.0 - (1.0 - eps) * (1.0 - noise), min=floor, max=1.0 - 1e-9)  # rows
    same = ((cand[:, :, None, :] - past.p[:, None, :, :]).abs().amax(-1) < 1e-12) & (past.mask[:, None, :] > 0)
    onehot = nn.functional.one_hot(past.obs, n).to(_DTYPE)  # rows, N, n
    loglik_hit = torch.log(1.0 - corrupt + corrupt / n)[:, None]
    loglik_miss = torch.log(corrupt / n)[:, None]
    per_obs = onehot * loglik_hit[..., None] + (1.0 - onehot) * loglik_miss[..., None]  # rows, N, n
    loglik = torch.einsum("rcd,rdk->rck", same.to(_DTYPE), per_obs)
    post = torch.log(probs.clamp_min(1e-300)) + loglik
    return torch.softmax(post, -1)


# ---------------------------------------------------------------------------------------------------------------------
# The learned leader behind the Principal protocol
# ---------------------------------------------------------------------------------------------------------------------


class LearnedLeader(_RowLeader):
    """A trained world-model or policy-gradient leader acting through the Principal protocol.

    Beyond the protocol: ``explore`` (set for adaptation episodes), ``episode()``
    (the last episode as recorded), ``adapt(episodes)`` (K-shot adaptation with
    the same follower type), ``reset_adaptation()`` (a new follower type).

    Args:
        checkpoint: a checkpoint written by :func:`save_leader`.
        net: an in-memory network (instead of a checkpoint), with ``config``.
        config: its config.
        seed: seeds the members' prior draws and the posterior samples.
    """

    variant = "mermaide"

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        net: LeaderNet | PolicyNet | None = None,
        config: LeaderConfig | None = None,
        seed: int = 0,
    ) -> None:
        if (checkpoint is None) == (net is None):
            raise ValueError(f"{self.variant}: give either a checkpoint path or a network")
        if checkpoint is not None:
            net, config = load_leader(checkpoint, expect_variant=self.variant)
        assert net is not None
        self.net = net
        self.cfg = config if config is not None else LeaderConfig(variant=self.variant)
        if self.cfg.variant != self.variant:
            raise CheckpointError(f"network is for variant {self.cfg.variant!r}, not {self.variant!r}")
        self.params = {k: v.detach() for k, v in net.named_parameters()}
        self.seed = int(seed)
        self.explore = False
        self.shots = 0
        self._gen = torch.Generator().manual_seed(self.seed)
        self._z: torch.Tensor | None = None
        self._adapted: dict[str, torch.Tensor] | None = None
        self._past: list[Episode] = []

    # ------------------------------------------------------------------ protocol
    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Start an episode with the rows in ``spec`` (the same games as the adaptation episodes, if any)."""
        super().reset(spec, rng)
        ns = self.net.spec
        if (self.m, self.n) != (ns.n_leader, ns.n_follower):
            raise CheckpointError(
                f"{self.variant}: trained for {ns.n_leader} x {ns.n_follower} games, this run has {self.m} x {self.n}"
            )
        if spec.horizon is not None and spec.horizon != ns.horizon:
            raise CheckpointError(f"{self.variant}: trained for horizon {ns.horizon}, this run has {spec.horizon}")
        if float(self.noise.max(initial=0.0)) > ns.max_noise + 1e-9:
            raise CheckpointError(
                f"{self.variant}: trained for observation noise up to {ns.max_noise}, this run has "
                f"{float(self.noise.max())}"
            )
        self.Lt = torch.as_tensor(self.L, dtype=_DTYPE)
        self.noise_t = torch.as_tensor(self.noise, dtype=_DTYPE)
        if self._z is None or self._z.shape[0] != self.rows:
            self.reset_adaptation()
        # this episode's record, one entry per round
        self._p: list[torch.Tensor] = []
        self._a: list[torch.Tensor] = []
        self._o: list[torch.Tensor] = []
        self._r: list[torch.Tensor] = []
        self._pre: list[torch.Tensor] = []
        self._q: list[torch.Tensor] = []
        self._c: list[torch.Tensor] = []
        self._pol = self._adapted if (self._adapted is not None and not self.cfg.uses_world_model) else self.params
        self._h = functional_call(self.net, self._pol, ("h0",)).expand(self.rows, -1)
        if self.cfg.uses_world_model:
            self._past_data = _data_from(self.net, self.params, self._past, self.noise_t, ns.horizon)
            self._fast = self._start_fast()
            self._weights = self._member_weights(self._fast, self._past_data)

    def reset_adaptation(self) -> None:
        """Forget the follower: new prior draws, no adaptation data."""
        rows = getattr(self, "rows", 1)
        self.shots = 0
        self._adapted = None
        self._past = []
        if self.cfg.uses_world_model:
            m, n = self.net.spec.n_leader, self.net.spec.n_follower
            self._z = torch.randn((rows, self.cfg.members, m, n), generator=self._gen, dtype=_DTYPE)
        else:
            self._z = torch.zeros((rows, 1), dtype=_DTYPE)

    def _start_fast(self) -> dict[str, torch.Tensor]:
        if self._adapted is not None:
            return dict(self._adapted)
        return self._anchor()

    def _anchor(self) -> dict[str, torch.Tensor]:
        return {k: v.detach() for k, v in init_fast(self.net, self.params, self.Lt, self._z).items()}

    def _member_weights(self, fast: dict[str, torch.Tensor], data: _Data) -> torch.Tensor:
        rows, E = fast["U"].shape[:2]
        if data.obs.shape[1] == 0:
            return torch.full((rows, E), 1.0 / E, dtype=_DTYPE)
        ll = _member_loglik(fast, data, self.noise_t)
        temp = max(self.cfg.posterior_temperature, 1e-6)
        return torch.softmax(ll / temp, -1)

    def _current(self) -> Episode:
        rows, m = self.rows, self.m
        if not self._o:
            return Episode(
                torch.zeros(rows, 0, m, dtype=_DTYPE),
                torch.zeros(rows, 0, dtype=torch.long),
                torch.zeros(rows, 0, dtype=torch.long),
                torch.zeros(rows, 0, dtype=_DTYPE),
            )
        T = len(self._o)
        return Episode(
            torch.stack(self._p[:T], 1),
            torch.stack(self._a, 1),
            torch.stack(self._o, 1),
            torch.stack(self._r, 1),
            torch.stack(self._pre[:T], 1) if self._pre else torch.zeros(0),
        )

    def _qbar(self) -> torch.Tensor:
        m = self.m
        if not self._a:
            return torch.full((self.rows, m), 1.0 / m, dtype=_DTYPE)
        counts = nn.functional.one_hot(torch.stack(self._a, 1), m).to(_DTYPE).sum(1)
        return (counts + 1.0 / m) / (len(self._a) + 1.0)

    def _all_data(self) -> _Data:
        """Everything observed with these followers: the adaptation episodes, then this episode so far."""
        past = self._past_data
        T = len(self._o)
        if T == 0:
            return past
        cur = _Data(
            torch.stack(self._p[:T], 1),
            torch.stack(self._q[:T], 1),
            torch.stack(self._c[:T], 1),
            torch.stack(self._o, 1),
            torch.ones(self.rows, T, dtype=_DTYPE),
        )
        return _Data(*(torch.cat([getattr(past, f.name), getattr(cur, f.name)], 1) for f in dataclasses.fields(_Data)))

    @torch.no_grad()
    def act(self) -> np.ndarray:
        """This round's commitments (rows, m)."""
        if len(self._p) > len(self._o):
            raise RuntimeError(f"{self.variant}: act() called twice without observe()")
        p = self._act_model() if self.cfg.uses_world_model else self._act_policy()
        self._p.append(p)
        return p.numpy().copy()

    def _act_model(self) -> torch.Tensor:
        corr = functional_call(self.net, self.params, ("correction", self._h))
        qbar = self._qbar()
        seen = self._past_data.obs.shape[1] + len(self._o)
        explore = torch.full((self.rows,), bool(self.explore or seen < self.cfg.explore_until))
        rule = self.cfg.explore_rule if self.explore else self.cfg.scored_explore_rule
        p = decide(
            self._fast,
            self._weights,
            self.Lt,
            qbar,
            corr,
            self._all_data(),
            self.noise_t,
            explore,
            self.cfg,
            self._gen,
            rule,
        )
        self._q.append(qbar)
        self._c.append(corr)
        return p

    def _act_policy(self) -> torch.Tensor:
        tf = torch.full((self.rows, 1), len(self._o) / self.net.spec.horizon, dtype=_DTYPE)
        mean = functional_call(self.net, self._pol, ("policy", self._h, self.Lt.reshape(self.rows, -1), tf))
        if self.explore:
            std = torch.exp(functional_call(self.net, self._pol, ("log_std",))).clamp(0.05, 2.0)
            pre = mean + std * torch.randn(mean.shape, generator=self._gen, dtype=_DTYPE)
        else:
            pre = mean
        self._pre.append(pre)
        return torch.softmax(pre, -1)

    @torch.no_grad()
    def observe(self, obs: Observation) -> None:
        """Record the round, update the belief, refit the members (world-model variants)."""
        super().observe(obs)
        if len(self._p) != len(self._o) + 1:
            raise RuntimeError(f"{self.variant}: observe() without a preceding act()")
        p = self._p[-1]
        realised = getattr(obs, "leader_actions", None)
        a = torch.as_tensor(np.asarray(realised), dtype=torch.long) if realised is not None else p.argmax(-1)
        o = torch.as_tensor(np.asarray(obs.actions), dtype=torch.long).reshape(self.rows)
        r = torch.einsum("rm,rm->r", p, self.Lt[torch.arange(self.rows), :, o])
        self._a.append(a.reshape(self.rows))
        self._o.append(o)
        self._r.append(r)
        feats = _features(
            p[:, None],
            a.reshape(self.rows, 1),
            o[:, None],
            r[:, None],
            self.noise_t,
            self.net.spec.horizon,
            self.m,
            self.n,
        )[:, 0]
        self._h = functional_call(self.net, self._pol, ("step", feats, self._h))
        if self.cfg.uses_world_model and self.cfg.online_steps > 0:
            data = self._all_data()
            self._fast = fit_members(self._fast, self._anchor(), data, self.noise_t, self.cfg, self.cfg.online_steps)
            self._weights = self._member_weights(self._fast, data)

    # ---------------------------------------------------------------- adaptation
    def episode(self) -> Episode:
        """The episode played since the last reset."""
        if not self._o:
            raise ValueError(f"{self.variant}: no episode recorded yet")
        return self._current()

    def adapt(self, episodes: Sequence[Episode]) -> None:
        """K-shot adaptation from the initialisation on ``episodes`` (the MAML inner loop / fine-tuning)."""
        episodes = list(episodes)
        self.shots = len(episodes)
        if not episodes:
            self._adapted = None
            self._past = []
            return
        if self.cfg.uses_world_model:
            self._past = episodes
            data = _data_from(self.net, self.params, episodes, self.noise_t, self.net.spec.horizon)
            anchor = self._anchor()
            self._adapted = fit_members(anchor, anchor, data, self.noise_t, self.cfg, self.cfg.inner_steps)
        else:
            params = dict(self.params)
            for ep in episodes:
                params = pg_adapt(self.net, params, ep, self.Lt, self.noise_t, self.cfg, create_graph=False)
            self._adapted = {k: v.detach() for k, v in params.items()}


@register_principal(LEARNED_NAMES["mermaide"])
class MermaideLeader(LearnedLeader):
    """MERMAIDE for the Stackelberg game: world model + MAML (Banerjee et al. 2023)."""

    variant = "mermaide"


@register_principal(LEARNED_NAMES["wm_only"])
class WorldModelLeader(LearnedLeader):
    """Ablation: the same world model and decisions, trained without meta-learning."""

    variant = "wm_only"


@register_principal(LEARNED_NAMES["meta_only"])
class MetaPolicyLeader(LearnedLeader):
    """Ablation: MAML on a recurrent policy trained by policy gradient, no world model."""

    variant = "meta_only"


@register_principal(LEARNED_NAMES["model_free"])
class ModelFreeLeader(LearnedLeader):
    """Ablation: a recurrent policy trained by policy gradient, no world model, no meta-learning."""

    variant = "model_free"


LEADER_CLASSES: dict[str, type[LearnedLeader]] = {
    "mermaide": MermaideLeader,
    "wm_only": WorldModelLeader,
    "meta_only": MetaPolicyLeader,
    "model_free": ModelFreeLeader,
}


# ---------------------------------------------------------------------------------------------------------------------
# Policy-gradient variants: loss and inner loop
# ---------------------------------------------------------------------------------------------------------------------


def _pg_loss(
    net: PolicyNet,
    params: dict[str, torch.Tensor],
    ep: Episode,
    L: torch.Tensor,
    noise: torch.Tensor,
    reward: torch.Tensor,
    value_weight: float,
) -> torch.Tensor:
    """REINFORCE with reward-to-go and a value baseline on one batch of episodes (rows, T)."""
    m, n = net.spec.n_leader, net.spec.n_follower
    rows, T = ep.observed.shape
    feats = _features(ep.commitments, ep.leader_actions, ep.observed, ep.payoff, noise, net.spec.horizon, m, n)
    h = functional_call(net, params, ("h0",)).expand(rows, -1)
    Lflat = L.reshape(rows, -1)
    means, values = [], []
    for t in range(T):
        tf = torch.full((rows, 1), t / net.spec.horizon, dtype=_DTYPE)
        means.append(functional_call(net, params, ("policy", h, Lflat, tf)))
        values.append(functional_call(net, params, ("value", h, Lflat, tf)))
        h = functional_call(net, params, ("step", feats[:, t], h))
    mean = torch.stack(means, 1)
    value = torch.stack(values, 1)
    std = torch.exp(functional_call(net, params, ("log_std",))).clamp(0.05, 2.0)
    logp = torch.distributions.Normal(mean, std).log_prob(ep.explore_pre).sum(-1)
    rtg = torch.flip(torch.cumsum(torch.flip(reward, [-1]), -1), [-1])
    adv = (rtg - value).detach()
    adv = adv / (adv.std() + 1e-6) if adv.numel() > 1 else adv
    return -(logp * adv).mean() + value_weight * ((value - rtg) ** 2).mean()


def pg_adapt(
    net: PolicyNet,
    params: dict[str, torch.Tensor],
    ep: Episode,
    L: torch.Tensor,
    noise: torch.Tensor,
    cfg: LeaderConfig,
    *,
    create_graph: bool,
    reward: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Policy-gradient inner steps (MAML inner loop / fine-tuning) on one batch of episodes."""
    rew = ep.payoff if reward is None else reward
    p = dict(params)
    second = create_graph and not cfg.first_order
    for _ in range(cfg.pg_inner_steps):
        if second:
            g = grad(lambda q: _pg_loss(net, q, ep, L, noise, rew, cfg.value_weight))(p)
        else:  # first order: each step's gradient is a constant (plain autograd is faster)
            with torch.enable_grad():
                leaves = {k: v.detach().requires_grad_(True) for k, v in p.items()}
                grads = torch.autograd.grad(
                    _pg_loss(net, leaves, ep, L, noise, rew, cfg.value_weight), list(leaves.values())
                )
            g = dict(zip(leaves, grads, strict=True))
        p = {k: p[k] - cfg.pg_inner_lr * g[k] for k in p}
    return p


# ---------------------------------------------------------------------------------------------------------------------
# Training (meta-training and its ablations)
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class LeaderStep:
    """What one round returns for every row (the environment's side of a training rollout).

    Attributes:
        observed: observed follower column per row (rows,).
        leader_actions: the leader's realised row per row (rows,).
        payoff: the leader's true payoff per row, ``p @ L[:, true column]`` (rows,).
    """

    observed: np.ndarray
    leader_actions: np.ndarray
    payoff: np.ndarray


class LeaderEnv(Protocol):
    """A batch of independent rows (game + follower) that a training problem provides."""

    leader_payoffs: np.ndarray  # (rows, m, n)
    noise: np.ndarray  # (rows,)

    def step(self, commitments: np.ndarray) -> LeaderStep:
        """Play one round."""


class LeaderProblem(Protocol):
    """A task distribution of games x followers (provided by a scenario)."""

    name: str
    leader_spec: LeaderSpec

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        """Draw ``n`` training tasks."""

    def make_env(self, tasks: list[Any], seed: int) -> LeaderEnv:
        """A fresh batch of followers, one row per task."""


def _spec_for(env: LeaderEnv, horizon: int) -> PrincipalSpec:
    L = np.asarray(env.leader_payoffs, dtype=float)
    noise = np.asarray(env.noise, dtype=float)
    return PrincipalSpec(
        n_actions=L.shape[1],
        n_agents=L.shape[0],
        observation="noisy" if float(noise.max(initial=0.0)) > 0 else "actions",
        lower=np.zeros(L.shape[1]),
        upper=np.ones(L.shape[1]),
        horizon=horizon,
        extra={"leader_payoffs": L, "observation_noise": noise, "n_follower_actions": L.shape[2]},
    )


def _play(leader: LearnedLeader, env: LeaderEnv, horizon: int, rng: np.random.Generator) -> tuple[Episode, np.ndarray]:
    """One training episode through the Principal protocol; returns the leader's record and the true payoffs."""
    leader.reset(_spec_for(env, horizon), rng)
    true = []
    for t in range(horizon):
        p = leader.act()
        step = env.step(p)
        obs = LeaderObservation(
            round=t,
            incentives=p,
            n_agents=p.shape[0],
            shares=np.zeros(p.shape[1]),
            actions=np.asarray(step.observed),
            leader_actions=np.asarray(step.leader_actions),
        )
        leader.observe(obs)
        true.append(np.asarray(step.payoff, dtype=float))
    return leader.episode(), np.stack(true, 1)


def train_leader(
    problem: LeaderProblem,
    cfg: LeaderConfig,
    seed: int,
    *,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[LeaderNet | PolicyNet, list[dict[str, float]]]:
    """Train one learned leader (any variant) on ``problem``'s distribution of games x followers.

    Each update draws ``tasks_per_batch`` tasks and plays two episodes with
    fresh followers of each: a support episode (exploring, from the
    initialisation) and a query episode (after adapting on the support episode:
    the inner loop for the meta variants, the same fine-tuning for the others).
    World-model variants: ``mermaide`` minimises the query episode's negative
    log-likelihood under the adapted members plus ``zero_shot_weight`` x the
    support episode's under the initial ones (first- or second-order MAML);
    ``wm_only`` minimises both episodes' negative log-likelihood under the
    initial members (no inner loop). Policy-gradient variants: ``meta_only``
    minimises the REINFORCE loss of the query episode under the adapted policy
    (plus the weighted support loss), ``model_free`` the loss of both episodes
    under the initial policy; they learn from the true payoffs in training.

    Returns:
        The trained network and one log dict per update.
    """
    spec = problem.leader_spec
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng([int(seed), 17])
    net: LeaderNet | PolicyNet
    if cfg.uses_world_model:
        net = LeaderNet(spec, cfg, generator=gen)
    else:
        net = PolicyNet(spec, cfg, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    logs: list[dict[str, float]] = []
    cls = LEADER_CLASSES[cfg.variant]
    rollout_cfg = dataclasses.replace(cfg, online_steps=cfg.train_online_steps)
    for it in range(cfg.iterations):
        t0 = time.perf_counter()
        tasks = problem.sample_tasks(cfg.tasks_per_batch, rng)
        leader = cls(net=net, config=rollout_cfg, seed=int(rng.integers(2**31)))
        leader.explore = True
        support, true_s = _play(leader, problem.make_env(tasks, int(rng.integers(2**31))), spec.horizon, rng)
        leader.explore = not cfg.uses_world_model  # PG variants explore in both episodes of training
        leader.adapt([support])
        query, true_q = _play(leader, problem.make_env(tasks, int(rng.integers(2**31))), spec.horizon, rng)
        params = dict(net.named_parameters())
        L = leader.Lt
        noise = leader.noise_t
        log: dict[str, float] = {"update": it}
        if cfg.uses_world_model:
            loss = _wm_outer_loss(net, params, leader, support, query, L, noise, cfg, log)
        else:
            rs = torch.as_tensor(true_s, dtype=_DTYPE)
            rq = torch.as_tensor(true_q, dtype=_DTYPE)
            if cfg.meta:
                adapted = pg_adapt(net, params, support, L, noise, cfg, create_graph=not cfg.first_order)
                post = _pg_loss(net, adapted, query, L, noise, rq, cfg.value_weight)
                pre = _pg_loss(net, params, support, L, noise, rs, cfg.value_weight)
                loss = post + cfg.zero_shot_weight * pre
            else:
                loss = _pg_loss(net, params, support, L, noise, rs, cfg.value_weight) + _pg_loss(
                    net, params, query, L, noise, rq, cfg.value_weight
                )
            log["loss"] = float(loss.detach())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at update {it}: {log}")
        opt.zero_grad()
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        log.update(
            {
                "return/support": float(true_s.mean()),
                "return/query": float(true_q.mean()),
                "grad_norm": float(gnorm),
                "seconds": time.perf_counter() - t0,
            }
        )
        logs.append(log)
        if progress is not None:
            progress(it, log)
    return net, logs


def _wm_outer_loss(
    net: LeaderNet,
    params: dict[str, torch.Tensor],
    leader: LearnedLeader,
    support: Episode,
    query: Episode,
    L: torch.Tensor,
    noise: torch.Tensor,
    cfg: LeaderConfig,
    log: dict[str, float],
) -> torch.Tensor:
    """World-model training loss (see :func:`train_leader`)."""
    horizon = net.spec.horizon
    z = leader._z
    assert z is not None
    init = init_fast(net, params, L, z)
    d_support = _data_from(net, params, [support], noise, horizon)
    d_query = _data_from(net, params, [query], noise, horizon)

    def nll(fast: dict[str, torch.Tensor], data: _Data) -> torch.Tensor:
        ll = _member_loglik(fast, data, noise)  # rows, E
        return -(ll.sum(-1) / (data.mask.sum(-1) * ll.shape[1]).clamp_min(1.0)).mean()

    shrink = cfg.prior_mean_l2 * (init["mu"] ** 2).mean()
    if cfg.meta:
        if cfg.first_order:
            adapted = leader._adapted  # the same inner loop the query episode was played with
            assert adapted is not None
            fast = {k: init[k] + (adapted[k] - init[k]).detach() for k in init}
        else:
            fast = fit_members(init, init, d_support, noise, cfg, cfg.inner_steps, create_graph=True)
        post = nll(fast, d_query)
        pre = nll(init, d_support)
        log["loss/post"] = float(post.detach())
        log["loss/pre"] = float(pre.detach())
        return post + cfg.zero_shot_weight * pre + shrink
    both = nll(init, d_support) + nll(init, d_query)
    log["loss/pre"] = float(both.detach() / 2)
    return both + shrink


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------------------------


def save_leader(
    path: str | Path, net: LeaderNet | PolicyNet, cfg: LeaderConfig, *, extra: dict[str, Any] | None = None
) -> None:
    """Write a checkpoint atomically: the weights with the config and the problem spec beside them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "variant": cfg.variant,
        "spec": net.spec.to_dict(),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()},
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        **(extra or {}),
    }
    atomic_torch_save(payload, path)


def load_leader(
    path: str | Path, *, expect_variant: str | None = None, expect_spec: LeaderSpec | None = None
) -> tuple[LeaderNet | PolicyNet, LeaderConfig]:
    """Load a checkpoint (``weights_only=True``) and rebuild the network and its config.

    Raises:
        CheckpointError: missing, corrupt or foreign file, another format version or
            variant, or a spec that differs from ``expect_spec`` (game size, horizon)
            or whose noise range does not cover ``expect_spec.max_noise``.
    """
    path = Path(path)
    state = load_checkpoint(
        path, expect_variant=expect_variant, file_format=CHECKPOINT_FORMAT, file_version=CHECKPOINT_VERSION
    )
    spec = LeaderSpec(**state["spec"])
    if expect_spec is not None:
        for key in ("n_leader", "n_follower", "horizon"):
            if getattr(spec, key) != getattr(expect_spec, key):
                raise CheckpointError(
                    f"checkpoint {path} was trained for {key}={getattr(spec, key)!r}, "
                    f"but this run has {key}={getattr(expect_spec, key)!r}"
                )
        if expect_spec.max_noise > spec.max_noise + 1e-9:
            raise CheckpointError(
                f"checkpoint {path} was trained for observation noise up to {spec.max_noise}, "
                f"but this run has {expect_spec.max_noise}"
            )
    fields = {f.name for f in dataclasses.fields(LeaderConfig)}
    cfg = LeaderConfig(**{k: v for k, v in state["config"].items() if k in fields})
    net: LeaderNet | PolicyNet = LeaderNet(spec, cfg) if cfg.uses_world_model else PolicyNet(spec, cfg)
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint weights do not fit the network: {exc}") from None
    return net, cfg
