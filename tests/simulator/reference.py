"""Plain per-agent Python reference implementations of the learner families.

Written from the rules documented in ``simulator/learners.py`` and
``simulator/_kernels.py``, one agent at a time, with no numba and no
vectorisation. They consume exactly the same counter-based random draws as the
kernels, through the numpy twins in :mod:`simulator._rng`:

* the act stream of round ``t`` is keyed by ``stream_key(seed_key, PURPOSE_ACT, t)``,
  where ``t`` is the number of completed updates;
* draw 0 is the exploration coin, draw 1 the exploration action or the uniform
  of a logit / proportional choice, draw 2 the tie break, draws 3.. the
  Thompson normals (one per action);
* ties of an argmax are broken by counting the tied indices and taking the
  ``int(u * count)``-th of them in ascending order.

State is float32 and every per-agent formula is evaluated in float32 scalars in
the order the rule is written, so the actions agree exactly and the estimates to
float32 rounding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator._rng import (
    PURPOSE_ACT,
    agent_base_np,
    draw_bits_np,
    normal_np,
    seed_key_from,
    stream_key,
    uniform_np,
)

F = np.float32

DEFAULTS: dict[str, dict[str, Any]] = {
    "epsilon_greedy": {
        "epsilon": 0.1,
        "epsilon_decay": 0.0,
        "initial_values": 0.0,
        "prior_weight": 1.0,
        "learning_rate": None,
    },
    "ucb1": {"c": 1.0, "initial_values": 0.0, "prior_weight": 1.0, "learning_rate": None},
    "thompson": {"sigma": 1.0, "initial_values": 0.0, "prior_weight": 1.0, "learning_rate": None},
    "softmax": {"temperature": 1.0, "initial_values": 0.0, "prior_weight": 1.0, "learning_rate": None},
    "ewa": {"phi": 0.9, "rho": 0.9, "delta": 0.0, "precision": 1.0, "initial_values": 0.0, "prior_weight": 1.0},
    "roth_erev": {
        "phi": 0.1,
        "experimentation": 0.2,
        "reward_floor": 0.0,
        "initial_values": 1.0,
        "prior_weight": 1.0,
    },
    "best_response": {"means": None, "temperature": 0.0},
}

_ACTION_PARAMS = {"initial_values", "means"}


def _agent_param(value: Any, n: int) -> list[np.float32]:
    """A scalar or (n,) parameter as one float32 per agent (None -> 0, i.e. 'off')."""
    if value is None:
        return [F(0.0)] * n
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return [F(arr)] * n
    return [F(x) for x in arr]


def _action_param(value: Any, n: int, k: int) -> np.ndarray:
    """A scalar, (k,) or (n, k) parameter as a float32 (n, k) array (a private copy)."""
    arr = np.asarray(value, dtype=np.float64)
    return np.array(np.broadcast_to(arr, (n, k)), dtype=np.float32)


def _draws(key: int, t: int, n: int, k: int) -> dict[str, np.ndarray]:
    """The act-stream draws of round ``t`` for agents 0..n-1."""
    klo, khi = stream_key(key, PURPOSE_ACT, t)
    base = agent_base_np(klo, khi, np.arange(n))
    return {
        "coin": uniform_np(draw_bits_np(base, 0)),
        "u": uniform_np(draw_bits_np(base, 1)),
        "tie": uniform_np(draw_bits_np(base, 2)),
        "z": np.stack([normal_np(draw_bits_np(base, 3 + j)) for j in range(k)], axis=1),
    }


def argmax_tiebreak(scores: list[np.float32], u_tie: np.float32) -> int:
    """Index of the maximum; ties -> the int(u * count)-th tied index, ascending."""
    best = scores[0]
    for s in scores[1:]:
        if s > best:
            best = s
    tied = [j for j, s in enumerate(scores) if s == best]
    if len(tied) == 1:
        return tied[0]
    return tied[int(float(u_tie) * len(tied))]


def logit_pick(scores: list[np.float32], scale: np.float32, u: np.float32, u_tie: np.float32) -> int:
    """Sample from softmax(scale * scores) by inverting the cumulative sum with one uniform."""
    if math.isinf(float(scale)):
        return argmax_tiebreak(scores, u_tie)
    m = max(scores)
    weights = [F(np.exp(F(scale * F(s - m)))) for s in scores]
    return proportional_pick(weights, u)


def proportional_pick(weights: list[np.float32], u: np.float32) -> int:
    """First index whose cumulative weight exceeds u * total (the last one if rounding leaves none)."""
    total = F(0.0)
    for w in weights:
        total = F(total + w)
    target = F(u * total)
    acc = F(0.0)
    for j, w in enumerate(weights):
        acc = F(acc + w)
        if target < acc:
            return j
    return len(weights) - 1


class ReferenceLearner:
    """One learner family as a loop over agents (same contract as ``simulator.Learner``).

    Args:
        family: registered family name.
        n_agents: number of agents.
        n_actions: K.
        rng: the generator the real learner would get (one 63-bit key is drawn from it).
        **params: the family's parameters, scalars or per-agent / per-action arrays.
    """

    def __init__(self, family: str, n_agents: int, n_actions: int, *, rng: np.random.Generator, **params: Any):
        self.family, self.n, self.k = family, n_agents, n_actions
        self.key = seed_key_from(rng)
        self.t = 0
        p = {**DEFAULTS[family], **params}
        self.p: dict[str, Any] = {}
        for name, value in p.items():
            if name in _ACTION_PARAMS:
                self.p[name] = _action_param(value, n_agents, n_actions)
            else:
                self.p[name] = _agent_param(value, n_agents)
        n, k = n_agents, n_actions
        if family == "roth_erev":
            # initial propensity = prior_weight * max(initial_values - reward_floor, 1e-6)
            init = self.p["initial_values"]
            self.prop = np.empty((n, k), dtype=np.float32)
            for i in range(n):
                for j in range(k):
                    level = max(float(init[i, j]) - float(self.p["reward_floor"][i]), 1e-6)
                    self.prop[i, j] = F(float(self.p["prior_weight"][i]) * level)
            self.last_off = np.zeros((n, k), dtype=np.float32)
        elif family == "ewa":
            self.att = self.p["initial_values"].copy()
            self.nexp = list(self.p["prior_weight"])
        elif family != "best_response":
            self.q = self.p["initial_values"].copy()
            self.counts = np.zeros((n, k), dtype=np.float32)

    # ------------------------------------------------------------- helpers
    def _offsets(self, offsets: Any) -> np.ndarray:
        if offsets is None:
            return np.zeros((self.n, self.k), dtype=np.float32)
        arr = np.asarray(offsets, dtype=np.float64)
        return np.array(np.broadcast_to(arr, (self.n, self.k)), dtype=np.float32)

    @property
    def estimates(self) -> np.ndarray:
        """The (n, K) scores: q, attractions, propensities or known means."""
        if self.family == "roth_erev":
            return self.prop
        if self.family == "ewa":
            return self.att
        if self.family == "best_response":
            return self.p["means"]
        return self.q

    # ----------------------------------------------------------------- act
    def act(self, offsets: Any = None) -> np.ndarray:
        """One action per agent, chosen agent by agent."""
        off = self._offsets(offsets)
        d = _draws(self.key, self.t, self.n, self.k)
        out = np.empty(self.n, dtype=np.int32)
        for i in range(self.n):
            out[i] = self._choose(i, off[i], d["coin"][i], d["u"][i], d["tie"][i], d["z"][i])
        if self.family == "roth_erev":
            self.last_off = off
        return out

    def _choose(self, i: int, off: np.ndarray, coin, u, tie, z) -> int:
        k, p, fam = self.k, self.p, self.family
        if fam == "epsilon_greedy":
            # explore with prob. eps_t = eps / (1 + decay * t): uniform action from draw 1
            eps_t = F(p["epsilon"][i] / F(F(1.0) + F(p["epsilon_decay"][i] * F(self.t))))
            if coin < eps_t:
                return min(int(float(u) * k), k - 1)
            return argmax_tiebreak([F(self.q[i, j] + off[j]) for j in range(k)], tie)
        if fam == "ucb1":
            return argmax_tiebreak(self._ucb_scores(i, off), tie)
        if fam == "thompson":
            # theta_j = q_j + sigma z_j / sqrt(n_eff), z_j = draw 3 + j; argmax theta + off
            pw, sd = p["prior_weight"][i], p["sigma"][i]
            scores = []
            for j in range(k):
                neff = F(pw + self.counts[i, j])
                if neff <= 0:
                    scores.append(F(np.inf))
                else:
                    scores.append(F(F(self.q[i, j] + off[j]) + F(F(sd * z[j]) / F(np.sqrt(neff)))))
            return argmax_tiebreak(scores, tie)
        if fam == "softmax":
            scale = F(1.0 / float(p["temperature"][i]))
            return logit_pick([F(self.q[i, j] + off[j]) for j in range(k)], scale, u, tie)
        if fam == "ewa":
            return logit_pick([F(self.att[i, j] + off[j]) for j in range(k)], p["precision"][i], u, tie)
        if fam == "best_response":
            temp = float(p["temperature"][i])
            scale = F(np.inf) if temp == 0 else F(1.0 / temp)
            return logit_pick([F(p["means"][i, j] + off[j]) for j in range(k)], scale, u, tie)
        if fam == "roth_erev":
            # P(j) = q_j / sum q, offsets ignored at choice time
            return proportional_pick([self.prop[i, j] for j in range(k)], u)
        raise ValueError(fam)

    def _ucb_scores(self, i: int, off: np.ndarray) -> list[np.float32]:
        """UCB1 index q + off + c sqrt(2 ln T / n_eff); n_eff = prior_weight + count, T = sum of n_eff."""
        p, k = self.p, self.k
        pw = p["prior_weight"][i]
        total = F(0.0)
        for j in range(k):
            total = F(total + F(pw + self.counts[i, j]))
        two_log_t = F(F(2.0) * F(np.log(max(total, F(1.0)))))
        scores = []
        for j in range(k):
            neff = F(pw + self.counts[i, j])
            if neff <= 0:
                scores.append(F(np.inf))  # untried: first
            else:
                c = p["c"][i]
                with np.errstate(over="ignore"):  # a tiny n_eff: the bonus is infinite unless c = 0
                    bonus = F(c * F(np.sqrt(F(two_log_t / neff)))) if c > 0 else F(0.0)
                scores.append(F(F(self.q[i, j] + off[j]) + bonus))
        return scores

    # -------------------------------------------------------------- update
    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn agent by agent, then advance the round."""
        for i in range(self.n):
            self._learn(i, int(actions[i]), F(rewards[i]))
        self.t += 1

    def _learn(self, i: int, a: int, r: np.float32) -> None:
        p, fam, k = self.p, self.family, self.k
        if fam in ("epsilon_greedy", "ucb1", "thompson", "softmax"):
            # sample average with prior_weight pseudo-observations, or a constant step
            self.counts[i, a] = F(self.counts[i, a] + F(1.0))
            lr = p["learning_rate"][i]
            step = lr if lr > 0 else F(F(1.0) / F(p["prior_weight"][i] + self.counts[i, a]))
            self.q[i, a] = F(self.q[i, a] + F(step * F(r - self.q[i, a])))
        elif fam == "ewa":
            # N(t) = rho N(t-1) + 1; A_j = [phi N(t-1) A_j + (delta + (1-delta) 1[j=a]) payoff_j] / N(t)
            # with the foregone payoff of an unchosen action imputed as its own attraction
            n_old = self.nexp[i]
            n_new = F(F(p["rho"][i] * n_old) + F(1.0))
            keep = F(p["phi"][i] * n_old)
            for j in range(k):
                if j == a:
                    self.att[i, j] = F(F(F(keep * self.att[i, j]) + r) / n_new)
                else:
                    self.att[i, j] = F(F(F(keep * self.att[i, j]) + F(p["delta"][i] * self.att[i, j])) / n_new)
            self.nexp[i] = n_new
        elif fam == "roth_erev":
            # R = max(reward + posted offset of the chosen action - floor, 0);
            # q_j <- (1 - phi) q_j + (R (1 - e) if j = a else R e / (K - 1)); q >= 1e-30
            big_r = F(F(r + self.last_off[i, a]) - p["reward_floor"][i])
            big_r = big_r if big_r > 0 else F(0.0)
            keep = F(F(1.0) - p["phi"][i])
            e = p["experimentation"][i]
            other = F(F(big_r * e) / F(k - 1))
            mine = F(big_r * F(F(1.0) - e))
            for j in range(k):
                v = F(F(keep * self.prop[i, j]) + (mine if j == a else other))
                self.prop[i, j] = v if v > F(1e-30) else F(1e-30)

    # -------------------------------------------------------- probabilities
    def action_probs(self, offsets: Any = None) -> np.ndarray:
        """Choice probabilities in float64 of the float32 scores ``act`` compares (Thompson by quadrature)."""
        off = self._offsets(offsets)
        out = np.zeros((self.n, self.k))
        for i in range(self.n):
            out[i] = self._probs(i, off[i])
        return out

    def _probs(self, i: int, off: np.ndarray) -> np.ndarray:
        k, p, fam = self.k, self.p, self.family

        def one_hot_max(scores: np.ndarray) -> np.ndarray:
            best = scores == scores.max()
            return best / best.sum()

        def softmax(scores: np.ndarray, scale: float) -> np.ndarray:
            if math.isinf(scale):
                return one_hot_max(scores)
            w = np.exp(scale * (scores - scores.max()))
            return w / w.sum()

        if fam == "epsilon_greedy":
            eps_t = float(p["epsilon"][i]) / (1.0 + float(p["epsilon_decay"][i]) * self.t)
            return (1 - eps_t) * one_hot_max((self.q[i] + off).astype(np.float64)) + eps_t / k
        if fam == "ucb1":
            # the same float32 index act() maximises
            return one_hot_max(np.array(self._ucb_scores(i, off), dtype=np.float64))
        if fam == "softmax":
            return softmax((self.q[i] + off).astype(np.float64), 1.0 / float(p["temperature"][i]))
        if fam == "ewa":
            return softmax((self.att[i] + off).astype(np.float64), float(p["precision"][i]))
        if fam == "best_response":
            temp = float(p["temperature"][i])
            return softmax((p["means"][i] + off).astype(np.float64), math.inf if temp == 0 else 1.0 / temp)
        if fam == "roth_erev":
            return self.prop[i] / self.prop[i].sum(dtype=np.float64)
        if fam == "thompson":
            return thompson_probs(
                (self.q[i] + off).astype(np.float64),
                float(p["sigma"][i]) / np.sqrt(float(p["prior_weight"][i]) + self.counts[i].astype(np.float64)),
            )
        raise ValueError(fam)


def thompson_probs(mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """P(theta_j is the largest) for independent N(mu_j, sd_j^2), by adaptive quadrature."""
    from scipy import integrate

    k = len(mu)
    mu = [float(x) for x in mu]
    sd = [float(x) for x in sd]

    def pdf(x: float, m: float, s: float) -> float:
        return math.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    def cdf(x: float, m: float, s: float) -> float:
        return 0.5 * math.erfc(-(x - m) / (s * math.sqrt(2.0)))

    out = np.zeros(k)
    for j in range(k):

        def integrand(x: float, j: int = j) -> float:
            val = pdf(x, mu[j], sd[j])
            for o in range(k):
                if o != j:
                    val *= cdf(x, mu[o], sd[o])
            return val

        lo, hi = mu[j] - 12 * sd[j], mu[j] + 12 * sd[j]
        out[j] = integrate.quad(integrand, lo, hi, epsabs=1e-12, limit=200)[0]
    return out / out.sum()
