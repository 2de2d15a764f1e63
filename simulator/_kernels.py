"""Numba kernels of the learner families: one narrow function per rule and step.

Every kernel works on a struct of arrays (one row per agent), loops over blocks
of agents with ``prange`` and draws its randomness from the counter-based
stream of :mod:`simulator._rng`, so its output does not depend on the thread
count. Only :mod:`simulator.learners` and :mod:`simulator.game` call these;
nothing outside ``simulator/`` touches them (docs/design.md).

Conventions shared by all kernels:

* ``off`` is a float32 array of shape (1, K) (the same offsets for everyone) or
  (n, K) (per agent); ``per`` says which. ``row = i * per``.
* Per-agent parameters are float32 arrays of length n or 1 (one value for
  everyone, read through :func:`_at`: no per-agent memory traffic).
* Draw indices of an agent's ``act`` stream: 0 exploration coin, 1 exploration
  action or the logit/proportional uniform, 2 tie break, 3.. Thompson normals.
* Each block first fills its random numbers in a tight loop the compiler
  vectorizes (the hash is most of the arithmetic; SIMD makes it ~10x cheaper),
  then makes the per-agent choices from them.
* Ties in an argmax are broken uniformly at random with one extra draw.
* Each family's choice and learning rule is one per-agent ``inline`` function
  (``_choose_*``, ``_learn_*``) called by its ``act_*`` / ``update_*`` kernel.
  A fused choose-pay-learn kernel per family was measured and was no faster
  (8.2 vs 7.9 ms a round for 1M agents, K=5, 2 threads): each phase's loop stays
  simple enough to compile well, and the arrays are streamed anyway.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

from ._rng import agent_base, draw_bits, to_normal, to_uniform

_TIE0 = 2
_NORMAL0 = 3
BLOCK = 4096
_F32_TINY = np.float32(1e-30)


SERIAL_MAX = 4 * BLOCK
"""Populations up to this size step on the calling thread alone (see :func:`threads_for`)."""


@contextmanager
def threads_for(n: int) -> Iterator[None]:
    """Run kernels on the calling thread alone for populations of up to ``SERIAL_MAX`` agents.

    A parallel kernel waits for every worker thread; with the cores busy that wait
    dominated small populations (a 500-agent round took 21 ms on 2 threads against
    40 us on one; 20,000 agents 25-34 ms against 0.3 ms), while on a quiet machine
    two threads gain little below ~16,000 agents (0.24 vs 0.29 ms at 20,000).
    Results are unchanged: they never depend on the thread count.

    With numba's OpenMP threading layer, ``numba.set_num_threads`` also sets the
    OpenMP thread count that PyTorch's CPU ops use, so PyTorch's setting (if it is
    imported) is put back afterwards: a principal that runs torch on one thread
    beside a busy core stays on one thread.
    """
    prev = numba.get_num_threads()
    if n > SERIAL_MAX or prev == 1:
        yield
        return
    torch = sys.modules.get("torch")
    torch_prev = torch.get_num_threads() if torch is not None else None
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)
        if torch is not None and torch.get_num_threads() != torch_prev:
            torch.set_num_threads(torch_prev)


@njit(inline="always", cache=True)
def _at(arr, i):
    """Per-agent parameter ``arr[i]``; an array of length 1 holds one value for everyone."""
    return arr[np.int64(i) * np.int64(arr.shape[0] > 1)]


@njit(inline="always", cache=True)
def _nblocks(n):
    return (n + BLOCK - 1) // BLOCK


# ================================================================ block draws


@njit(inline="always", cache=True)
def _fill_uniforms(klo, khi, lo, m, base, u):
    """base[ii] and the uniforms of draws 0 and 1 of agents lo..lo+m-1 (vectorizable)."""
    for ii in range(m):
        bs = agent_base(klo, khi, lo + ii)
        base[ii] = bs
        u[0, ii] = to_uniform(draw_bits(bs, 0))
        u[1, ii] = to_uniform(draw_bits(bs, 1))


@njit(inline="always", cache=True)
def _fill_normals(base, m, k, z):
    """Standard normals z[j, ii] = draw 3 + j of each agent of the block."""
    for j in range(k):
        for ii in range(m):
            z[j, ii] = to_normal(draw_bits(base[ii], _NORMAL0 + j))


@njit(inline="always", cache=True)
def _fill_reward_draws(rlo, rhi, glo, m, bern, rz):
    """Reward noise of population agents glo..glo+m-1: a normal, or a uniform for Bernoulli rewards."""
    if bern:
        for ii in range(m):
            rz[ii] = to_uniform(draw_bits(agent_base(rlo, rhi, glo + ii), 0))
    else:
        for ii in range(m):
            rz[ii] = to_normal(draw_bits(agent_base(rlo, rhi, glo + ii), 0))


# ================================================================ argmax


@njit(inline="always", cache=True)
def _tie_pick(sc, best, k, bs):
    """Uniform choice among the indices where ``sc == best`` (slow path, ties only)."""
    c = 0
    for j in range(k):
        c += np.int64(sc[j] == best)
    pick = np.int64(to_uniform(draw_bits(bs, _TIE0)) * c)
    a = 0
    for j in range(k):
        if sc[j] == best:
            if pick == 0:
                a = j
                break
            pick -= 1
    return a


@njit(inline="always", cache=True)
def _argmax_sc(sc, k, bs):
    """Argmax of the scores ``sc[:k]``, ties broken uniformly with one extra draw.

    One pass of selects (no data-dependent jumps) finds the first and the last
    index holding the running maximum; only when they differ (a tie) does the
    slow path count and pick. A branchy argmax mispredicts about once per agent
    on random data, which cost several times the rest of an epsilon-greedy step.
    """
    best = sc[0]
    a = 0
    z = 0
    for j in range(1, k):
        v = sc[j]
        z = j if v >= best else z
        a = j if v > best else a
        best = v if v > best else best
    if a != z:
        a = _tie_pick(sc, best, k, bs)
    return a


@njit(inline="always", cache=True)
def _argmax_q(q, i, off, row, k, bs, sc):
    """argmax_j q[i, j] + off[row, j] like :func:`_argmax_sc`, reading q directly."""
    best = q[i, 0] + off[row, 0]
    a = 0
    z = 0
    for j in range(1, k):
        v = q[i, j] + off[row, j]
        z = j if v >= best else z
        a = j if v > best else a
        best = v if v > best else best
    if a != z:
        for j in range(k):
            sc[j] = q[i, j] + off[row, j]
        a = _tie_pick(sc, best, k, bs)
    return a


@njit(inline="always", cache=True)
def _logit_choice(q, i, off, row, scale, k, u, sc):
    """Sample from softmax(scale * (q[i] + off[row])) with one uniform u (max subtracted: no overflow)."""
    m = q[i, 0] + off[row, 0]
    for j in range(1, k):
        v = q[i, j] + off[row, j]
        m = v if v > m else m
    total = np.float32(0.0)
    for j in range(k):
        e = np.float32(math.exp(scale * (q[i, j] + off[row, j] - m)))
        sc[j] = e
        total += e
    # the first j whose running sum exceeds the target = the number of running sums
    # (over j < K-1) that do not: counted without branches (same result as a loop with break)
    target = u * total
    acc = np.float32(0.0)
    a = 0
    for j in range(k - 1):
        acc += sc[j]
        a += np.int64(acc <= target)
    return a


# ================================================================ choice rules


@njit(inline="always", cache=True)
def _choose_eg(q, eps, decay, t, i, off, row, k, u_coin, u_expl, bs, sc):
    e = _at(eps, i) / (np.float32(1.0) + _at(decay, i) * np.float32(t))
    g = _argmax_q(q, i, off, row, k, bs, sc)
    x = np.int64(u_expl * k)
    x = x if x < k else k - 1
    return x if u_coin < e else g


@njit(inline="always", cache=True)
def _ucb_scores(q, cnt, c_expl, prior_w, i, off, row, k, sc):
    """sc[j] = q + off + c sqrt(2 ln T / n_eff) of agent ``i`` (inf if n_eff <= 0): what act and probs compare."""
    pw = _at(prior_w, i)
    total = np.float32(0.0)
    for j in range(k):
        total += pw + cnt[i, j]
    two_logt = np.float32(2.0) * np.float32(math.log(max(total, np.float32(1.0))))
    c = _at(c_expl, i)
    for j in range(k):
        neff = pw + cnt[i, j]
        if neff <= 0.0:
            sc[j] = np.inf
        else:
            # c = 0 means no bonus, even where a tiny n_eff makes the square root overflow (0 * inf = NaN)
            bonus = c * np.float32(math.sqrt(two_logt / neff)) if c > 0.0 else np.float32(0.0)
            sc[j] = q[i, j] + off[row, j] + bonus


@njit(inline="always", cache=True)
def _choose_ucb(q, cnt, c_expl, prior_w, i, off, row, k, bs, sc):
    _ucb_scores(q, cnt, c_expl, prior_w, i, off, row, k, sc)
    return _argmax_sc(sc, k, bs)


@njit(inline="always", cache=True)
def _choose_ts(q, cnt, sigma, prior_w, i, off, row, k, z, ii, bs, sc):
    pw = _at(prior_w, i)
    sd = _at(sigma, i)
    for j in range(k):
        neff = pw + cnt[i, j]
        if neff <= 0.0:
            sc[j] = np.inf
        else:
            sc[j] = q[i, j] + off[row, j] + sd * z[j, ii] / np.float32(math.sqrt(neff))
    return _argmax_sc(sc, k, bs)


@njit(inline="always", cache=True)
def _choose_logit(q, scale, i, off, row, k, u, bs, sc):
    s = _at(scale, i)
    if math.isinf(s):
        return _argmax_q(q, i, off, row, k, bs, sc)
    return _logit_choice(q, i, off, row, s, k, u, sc)


@njit(inline="always", cache=True)
def _choose_prop(prop, i, k, u):
    total = np.float32(0.0)
    for j in range(k):
        total += prop[i, j]
    target = u * total
    acc = np.float32(0.0)
    a = k - 1
    for j in range(k):
        acc += prop[i, j]
        if target < acc:
            a = j
            break
    return a


# ================================================================ learning rules


@njit(inline="always", cache=True)
def _learn_avg(q, cnt, lr, prior_w, i, a, r):
    """Sample average with prior pseudo-counts, or a constant step if lr > 0."""
    cnt[i, a] += np.float32(1.0)
    step = _at(lr, i)
    if step <= 0.0:
        step = np.float32(1.0) / (_at(prior_w, i) + cnt[i, a])
    q[i, a] += step * (r - q[i, a])


@njit(inline="always", cache=True)
def _learn_ewa(att, nexp, phi, rho, delta, i, a, r, k):
    """Camerer-Ho EWA with bandit feedback (foregone payoff imputed as own attraction)."""
    n_old = nexp[i]
    n_new = _at(rho, i) * n_old + np.float32(1.0)
    keep = _at(phi, i) * n_old
    dl = _at(delta, i)
    for j in range(k):
        if j == a:
            att[i, j] = (keep * att[i, j] + r) / n_new
        else:
            att[i, j] = (keep * att[i, j] + dl * att[i, j]) / n_new
    nexp[i] = n_new


@njit(inline="always", cache=True)
def _learn_re(prop, phi, expl, floor, i, a, r_total, k):
    """Roth-Erev: q <- (1-phi) q + E, E = R(1-e) chosen, R e/(K-1) others, R = max(r - floor, 0)."""
    r = r_total - _at(floor, i)
    r = r if r > 0.0 else np.float32(0.0)
    keep = np.float32(1.0) - _at(phi, i)
    e = _at(expl, i)
    other = r * e / np.float32(k - 1)
    mine = r * (np.float32(1.0) - e)
    for j in range(k):
        v = keep * prop[i, j] + (mine if j == a else other)
        prop[i, j] = v if v > _F32_TINY else _F32_TINY


# ================================================================ payoffs and ledger
# G = (means, per_means, noise, bern, inc, per_inc, posted, groups): the game
# L = (counts, priv, pos, neg, hh_inc, hh_priv, track): per-block ledger sums
# (pos/neg are only summed per agent when incentives are per agent)


@njit(inline="always", cache=True)
def _payoff(gi, a, means, per_means, noise, bern, inc, per_inc, posted, rz):
    """Private reward, incentive and learning signal of agent ``gi`` choosing ``a``."""
    m = means[gi * np.int64(per_means), a]
    if bern:
        r = np.float32(1.0) if rz < m else np.float32(0.0)
    else:
        r = m + noise[a] * rz
    x = inc[gi * np.int64(per_inc), a]
    lrn = r if posted else np.float32(r + x)
    return r, x, lrn


@njit(inline="always", cache=True)
def _book(counts, priv, pos, neg, hh_inc, hh_priv, track, per_inc, b, g, gi, a, r, x):
    """Add one agent's outcome to its block's sums (and its household totals)."""
    counts[b, g, a] += 1.0
    priv[b, g, a] += r
    if per_inc:  # with one incentive vector for everyone, paid/collected follow from the counts
        pos[b, g, a] += x if x > 0.0 else 0.0
        neg[b, g, a] += -x if x < 0.0 else 0.0
    if track:
        hh_inc[gi] += x
        hh_priv[gi] += r


@njit(parallel=True, cache=True)
def realize_kernel(actions, G, L, rlo, rhi, offset, learn, match):
    """Draw rewards for ``actions`` of population agents offset..offset+n-1 and book them.

    ``match`` holds each agent's match value with its current choice (a persistent
    taste shock, added to its private reward), or one zero for everyone. The
    tuples are unpacked once, outside the agent loop: unpacking arrays from a
    tuple inside the loop costs an atomic reference-count update per array per agent.
    """
    means, per_means, noise, bern, inc, per_inc, posted, groups = G
    counts, priv, pos, neg, hh_inc, hh_priv, track = L
    n = actions.shape[0]
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        rz = np.empty(m, dtype=np.float32)
        _fill_reward_draws(rlo, rhi, offset + lo, m, bern, rz)
        for ii in range(m):
            gi = offset + lo + ii
            a = actions[lo + ii]
            r, x, lrn = _payoff(gi, a, means, per_means, noise, bern, inc, per_inc, posted, rz[ii])
            mv = _at(match, gi)
            r += mv
            lrn += mv
            learn[lo + ii] = lrn
            _book(counts, priv, pos, neg, hh_inc, hh_priv, track, per_inc, b, _at(groups, gi), gi, a, r, x)


@njit(parallel=True, cache=True)
def apply_switching(actions, prev, prob, klo, khi, shock, match, has_shock):
    """Inertia: agent i re-chooses with probability ``prob``, else keeps ``prev[i]``.

    Re-choosers take the new action (and, with taste shocks, its match value);
    the others keep their previous action and match value.
    """
    n = actions.shape[0]
    for i in prange(n):
        u = to_uniform(draw_bits(agent_base(klo, khi, i), 0))
        if u < prob:
            if has_shock:
                match[i] = shock[i]
        else:
            actions[i] = prev[i]


# ================================================================ act kernels


@njit(parallel=True, cache=True)
def act_epsilon_greedy(q, eps, decay, t, off, per, klo, khi, out):
    """Explore uniformly with probability eps/(1+decay*t), else argmax(q + off)."""
    n, k = q.shape
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        base = np.empty(m, dtype=np.uint32)
        u = np.empty((2, m), dtype=np.float32)
        sc = np.empty(k, dtype=np.float32)
        _fill_uniforms(klo, khi, lo, m, base, u)
        for ii in range(m):
            i = lo + ii
            out[i] = _choose_eg(q, eps, decay, t, i, off, i * np.int64(per), k, u[0, ii], u[1, ii], base[ii], sc)


@njit(parallel=True, cache=True)
def act_ucb1(q, cnt, c_expl, prior_w, off, per, klo, khi, out):
    """UCB1 (Auer et al. 2002): argmax q + c * sqrt(2 ln T / n_eff); untried first."""
    n, k = q.shape
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        sc = np.empty(k, dtype=np.float32)
        for ii in range(m):
            i = lo + ii
            out[i] = _choose_ucb(q, cnt, c_expl, prior_w, i, off, i * np.int64(per), k, agent_base(klo, khi, i), sc)


@njit(parallel=True, cache=True)
def act_thompson(q, cnt, sigma, prior_w, off, per, klo, khi, out):
    """Gaussian Thompson sampling: theta_j ~ N(q_j, sigma^2 / n_eff_j), argmax theta + off."""
    n, k = q.shape
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        base = np.empty(m, dtype=np.uint32)
        u = np.empty((2, m), dtype=np.float32)
        z = np.empty((k, m), dtype=np.float32)
        sc = np.empty(k, dtype=np.float32)
        _fill_uniforms(klo, khi, lo, m, base, u)
        _fill_normals(base, m, k, z)
        for ii in range(m):
            i = lo + ii
            out[i] = _choose_ts(q, cnt, sigma, prior_w, i, off, i * np.int64(per), k, z, ii, base[ii], sc)


@njit(parallel=True, cache=True)
def act_logit(q, scale, off, per, klo, khi, out):
    """Logit (softmax) choice with per-agent precision ``scale`` (= 1/temperature; inf = argmax)."""
    n, k = q.shape
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        base = np.empty(m, dtype=np.uint32)
        u = np.empty((2, m), dtype=np.float32)
        sc = np.empty(k, dtype=np.float32)
        _fill_uniforms(klo, khi, lo, m, base, u)
        for ii in range(m):
            i = lo + ii
            out[i] = _choose_logit(q, scale, i, off, i * np.int64(per), k, u[1, ii], base[ii], sc)


@njit(parallel=True, cache=True)
def act_gumbel(means, temp, off, per, klo, khi, out, shock):
    """Random-utility choice: argmax_j means + off + T g_j with Gumbel g (Gumbel-max = logit).

    ``shock[i]`` receives the realised taste shock T g of the chosen action: the
    household's match value with what it chose (McFadden 1974).
    """
    n, k = means.shape
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        sc = np.empty(k, dtype=np.float32)
        g = np.empty(k, dtype=np.float32)
        for ii in range(m):
            i = lo + ii
            bs = agent_base(klo, khi, i)
            row = i * np.int64(per)
            t = _at(temp, i)
            for j in range(k):
                # 23 random bits + 1/2: u in [2^-24, 1 - 2^-24], exact in float32 (never 0 or 1)
                u = (np.float32(draw_bits(bs, _NORMAL0 + j) >> np.uint32(9)) + np.float32(0.5)) * np.float32(
                    1.0 / 8388608.0
                )
                g[j] = -np.float32(math.log(-math.log(u))) * t
                sc[j] = means[i, j] + off[row, j] + g[j]
            a = _argmax_sc(sc, k, bs)
            out[i] = a
            shock[i] = g[a]


@njit(parallel=True, cache=True)
def act_proportional(prop, klo, khi, out):
    """Choose with probability proportional to (positive) propensities."""
    n, k = prop.shape
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        base = np.empty(m, dtype=np.uint32)
        u = np.empty((2, m), dtype=np.float32)
        _fill_uniforms(klo, khi, lo, m, base, u)
        for ii in range(m):
            out[lo + ii] = _choose_prop(prop, lo + ii, k, u[1, ii])


# ================================================================ update kernels


@njit(parallel=True, cache=True)
def update_average(q, cnt, lr, prior_w, actions, rewards):
    """Sample-average (with prior pseudo-counts) or constant-step update."""
    for i in prange(q.shape[0]):
        _learn_avg(q, cnt, lr, prior_w, i, actions[i], rewards[i])


@njit(parallel=True, cache=True)
def update_ewa(att, nexp, phi, rho, delta, actions, rewards):
    """EWA update of every agent."""
    k = att.shape[1]
    for i in prange(att.shape[0]):
        _learn_ewa(att, nexp, phi, rho, delta, i, actions[i], rewards[i], k)


@njit(parallel=True, cache=True)
def update_roth_erev(prop, phi, expl, floor, actions, rewards, bonus, per):
    """Roth-Erev update; ``bonus`` are the posted offsets of the last act, added to the reinforcement."""
    k = prop.shape[1]
    for i in prange(prop.shape[0]):
        a = actions[i]
        _learn_re(prop, phi, expl, floor, i, a, rewards[i] + bonus[i * np.int64(per), a], k)


# ------------------------------------------------------------ probabilities


@njit(parallel=True, cache=True)
def probs_argmax(scores, off, per, out):
    """One-hot on argmax(scores + off), ties split evenly (inf-aware)."""
    n, k = scores.shape
    for i in prange(n):
        row = i * np.int64(per)
        m = -np.inf
        for j in range(k):
            v = scores[i, j] + off[row, j]
            if v > m:
                m = v
        cnt = 0
        for j in range(k):
            if scores[i, j] + off[row, j] == m:
                cnt += 1
        for j in range(k):
            out[i, j] = (1.0 / cnt) if scores[i, j] + off[row, j] == m else 0.0


@njit(parallel=True, cache=True)
def probs_ucb1(q, cnt, c_expl, prior_w, off, per, out):
    """One-hot on the float32 UCB1 index that act_ucb1 maximises, ties split evenly."""
    n, k = q.shape
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        sc = np.empty(k, dtype=np.float32)
        for i in range(lo, min(n, lo + BLOCK)):
            _ucb_scores(q, cnt, c_expl, prior_w, i, off, i * np.int64(per), k, sc)
            m = sc[0]
            for j in range(1, k):
                m = sc[j] if sc[j] > m else m
            c = 0
            for j in range(k):
                c += np.int64(sc[j] == m)
            for j in range(k):
                out[i, j] = (1.0 / c) if sc[j] == m else 0.0


@njit(parallel=True, cache=True)
def probs_logit(q, scale, off, per, out):
    """Exact softmax(scale * (q + off)) per agent, max subtracted."""
    n, k = q.shape
    for i in prange(n):
        row = i * np.int64(per)
        s = _at(scale, i)
        m = -np.inf
        for j in range(k):
            v = q[i, j] + off[row, j]
            if v > m:
                m = v
        if math.isinf(s):
            cnt = 0
            for j in range(k):
                if q[i, j] + off[row, j] == m:
                    cnt += 1
            for j in range(k):
                out[i, j] = (1.0 / cnt) if q[i, j] + off[row, j] == m else 0.0
            continue
        total = 0.0
        for j in range(k):
            e = math.exp(s * (q[i, j] + off[row, j] - m))
            out[i, j] = e
            total += e
        for j in range(k):
            out[i, j] /= total


@njit(cache=True)
def _norm_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@njit(parallel=True, cache=True)
def probs_thompson(q, cnt, sigma, prior_w, off, per, grid, out):
    """P(theta_j is the max) for independent Gaussians, by quadrature on ``grid`` (std units)."""
    n, k = q.shape
    g = grid.shape[0]
    for i in prange(n):
        row = i * np.int64(per)
        n_untried = 0
        for j in range(k):
            if _at(prior_w, i) + cnt[i, j] <= 0.0:
                n_untried += 1
        if n_untried > 0:
            for j in range(k):
                out[i, j] = (1.0 / n_untried) if _at(prior_w, i) + cnt[i, j] <= 0.0 else 0.0
            continue
        total = 0.0
        for j in range(k):
            mu_j = q[i, j] + off[row, j]
            sd_j = _at(sigma, i) / math.sqrt(_at(prior_w, i) + cnt[i, j])
            acc = 0.0
            for s in range(g):
                z = grid[s]
                x = mu_j + sd_j * z
                dens = math.exp(-0.5 * z * z)
                prod = 1.0
                for o in range(k):
                    if o != j:
                        sd_o = _at(sigma, i) / math.sqrt(_at(prior_w, i) + cnt[i, o])
                        prod *= _norm_cdf((x - q[i, o] - off[row, o]) / sd_o)
                acc += dens * prod
            out[i, j] = acc
            total += acc
        if total > 0.0:
            for j in range(k):
                out[i, j] /= total
        else:
            for j in range(k):
                out[i, j] = 1.0 / k
