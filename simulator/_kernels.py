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
  (``_choose_*``, ``_learn_*``). The ``act_*`` / ``update_*`` kernels call them for
  :meth:`Learner.act` and :meth:`Learner.update`; the ``play_*`` kernels call the same
  functions in one pass per agent for a whole model round (choose, keep the old choice
  under inertia, draw the payoff, book it, learn), so an agent's row is read once a
  round instead of three times. Both give the same numbers, float for float: the same
  operations on the same values in the same order.
* A round travels as named tuples (:class:`GameArrays`, :class:`Rules`, :class:`Sinks`,
  :class:`GroupRound`, :class:`Estimates`), read by field name; see "named structures"
  below for why written arrays are bound to local names first.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import njit, prange

from ._rng import agent_base, draw_bits, to_normal, to_uniform

_TIE0 = 2
_NORMAL0 = 3
BLOCK = 4096
_F32_TINY = np.float32(1e-30)


# ================================================================ named structures
# A round travels to the kernels as named tuples. Kernels read their fields by name, but an
# array a kernel *writes* is first bound to a local variable, in the kernel's first lines
# (before its prange loop), and handed to the per-agent helpers as that local: inside a
# prange loop numba loses writes made through a named tuple's attribute (numba issues #7135
# and #10338). Hence :class:`Sinks` (everything a round writes) is unpacked by name at the
# top of every kernel, and the per-agent helper ``_settle`` lists those arrays.


class GameArrays(NamedTuple):
    """One round's game as the kernels read it (built by :func:`simulator.game.play_round`)."""

    means: np.ndarray
    """float32 (n, K): private mean reward of each agent and action; (1, K) when everyone shares it."""
    per_means: bool
    """Whether ``means`` has a row per agent."""
    noise: np.ndarray
    """float32 (K,): reward noise standard deviation of each action (Gaussian rewards)."""
    bern: bool
    """Bernoulli rewards (1 with probability ``means[., a]``, else 0) instead of Gaussian ones."""
    inc: np.ndarray
    """float64 (n, K) or (1, K): this round's incentive on each action (taxes negative)."""
    per_inc: bool
    """Whether ``inc`` has a row per agent."""
    posted: bool
    """Agents knew the incentives before choosing (offsets): they learn only the private reward."""
    groups: np.ndarray
    """int32 (n,): household group of each agent; (1,) when there is one group."""
    rlo: np.uint32
    """The reward stream's key of this round (low word; :func:`simulator._rng.stream_key`)."""
    rhi: np.uint32
    """The reward stream's key of this round (high word)."""


class Rules(NamedTuple):
    """What a round does besides choosing and paying: inertia, which totals it keeps, what it writes."""

    prev: np.ndarray
    """int32 (n,): last round's actions; (1,) when ``switching`` is off."""
    switching: bool
    """Only a share ``prob`` of agents re-choose; the others keep ``prev`` (and their match value)."""
    prob: np.float32
    """Probability of re-choosing."""
    slo: np.uint32
    """The switch stream's key of this round (low word)."""
    shi: np.uint32
    """The switch stream's key of this round (high word)."""
    has_match: bool
    """Some learner draws taste shocks: ``Sinks.match`` has a row per household."""
    track: bool
    """Add to the per-household totals of private rewards (and of incentives where ``track_incentive``)."""
    track_incentive: bool
    """``Sinks.hh_incentive`` has a row per household (it is allocated at the first non-zero incentive)."""
    write_learn: bool
    """Write what each agent learned from into ``Sinks.learn`` (someone reads it)."""


PARTS_COUNTS, PARTS_PRIVATE, PARTS_PAID, PARTS_COLLECTED = 0, 1, 2, 3
"""The four (B, G, K) sums of ``Sinks.parts``."""


class Sinks(NamedTuple):
    """Everything a round writes (unpacked by name at the top of each kernel; see above)."""

    parts: np.ndarray
    """float64 (4, B, G, K): per block b, group g and action, ``PARTS_COUNTS`` agents who chose it,
    ``PARTS_PRIVATE`` their private rewards, ``PARTS_PAID`` positive incentives and
    ``PARTS_COLLECTED`` taxes as positive numbers (these two only with per-agent incentives)."""
    hh_incentive: np.ndarray
    """float64 (n,): each household's running total of incentives; (1,) when not kept."""
    hh_private: np.ndarray
    """float64 (n,): each household's running total of private rewards; (1,) when not kept."""
    match: np.ndarray
    """float32 (n,): match value (taste shock) of each household's current choice, added to its
    private reward; (1,) zero when no learner draws taste shocks."""
    actions: np.ndarray
    """int32 (n,): the action each agent ends the round with."""
    learn: np.ndarray
    """float32 (n,): what each agent learned from (see ``Rules.write_learn``); (1,) when not kept."""


class GroupRound(NamedTuple):
    """One learner group's part of a round: its agents, its choice stream and the posted offsets."""

    first: int
    """Population index of the group's first agent."""
    size: int
    """Agents in the group."""
    t: int
    """The learner's completed rounds (keys its stream; epsilon decay)."""
    klo: np.uint32
    """The learner's choice stream key of this round (low word)."""
    khi: np.uint32
    """The learner's choice stream key of this round (high word)."""
    off: np.ndarray
    """float32 (1, K) offsets everyone knows before choosing, or (n, K) per agent (population rows)."""
    per: bool
    """Whether ``off`` has a row per agent."""


class Estimates(NamedTuple):
    """State and learning parameters of the sample-average families (epsilon-greedy, UCB1, Thompson, softmax)."""

    q: np.ndarray
    """float32 (m, K): value estimates."""
    counts: np.ndarray
    """uint16 (m, K) while every count fits (fewer than 65,535 rounds), float32 after: times chosen."""
    learning_rate: np.ndarray
    """float32 (m,) or (1,): constant step size; 0 means the sample average."""
    prior_weight: np.ndarray
    """float32 (m,) or (1,): weight of the prior, in pseudo-observations."""


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
def _count(cnt, i, j):
    """Count ``cnt[i, j]`` as float32, whether the counts are kept as uint16 or float32 (the same value)."""
    return np.float32(cnt[i, j])


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
def _ucb_two_logt(total):
    """2 ln T of UCB1's bonus, T = the agent's total count (prior weights included), at least 1."""
    return np.float32(2.0) * np.float32(math.log(max(total, np.float32(1.0))))


@njit(inline="always", cache=True)
def _ucb_bonus(c, two_logt, neff):
    """C sqrt(2 ln T / n_eff) for n_eff > 0."""
    # c = 0 means no bonus, even where a tiny n_eff makes the square root overflow (0 * inf = NaN)
    return c * np.float32(math.sqrt(two_logt / neff)) if c > 0.0 else np.float32(0.0)


@njit(inline="always", cache=True)
def _ucb_scores(q, cnt, c_expl, prior_w, i, off, row, k, sc):
    """sc[j] = q + off + c sqrt(2 ln T / n_eff) of agent ``i`` (inf if n_eff <= 0): what act and probs compare."""
    pw = _at(prior_w, i)
    total = np.float32(0.0)
    for j in range(k):
        total += pw + _count(cnt, i, j)
    two_logt = _ucb_two_logt(total)
    c = _at(c_expl, i)
    for j in range(k):
        neff = pw + _count(cnt, i, j)
        if neff <= 0.0:
            sc[j] = np.inf
        else:
            sc[j] = q[i, j] + off[row, j] + _ucb_bonus(c, two_logt, neff)


@njit(inline="always", cache=True)
def _choose_ucb(q, cnt, c_expl, prior_w, i, off, row, k, bs, sc):
    _ucb_scores(q, cnt, c_expl, prior_w, i, off, row, k, sc)
    return _argmax_sc(sc, k, bs)


@njit(inline="always", cache=True)
def _choose_ts(q, cnt, sigma, prior_w, i, off, row, k, z, ii, bs, sc):
    pw = _at(prior_w, i)
    sd = _at(sigma, i)
    for j in range(k):
        neff = pw + _count(cnt, i, j)
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
    cnt[i, a] = _count(cnt, i, a) + np.float32(1.0)
    step = _at(lr, i)
    if step <= 0.0:
        step = np.float32(1.0) / (_at(prior_w, i) + _count(cnt, i, a))
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


@njit(inline="always", cache=True)
def _payoff(game, gi, a, rz):
    """Private reward, incentive and learning signal of agent ``gi`` choosing ``a`` (``rz``: its reward draw)."""
    m = game.means[gi * np.int64(game.per_means), a]
    if game.bern:
        r = np.float32(1.0) if rz < m else np.float32(0.0)
    else:
        r = m + game.noise[a] * rz
    x = game.inc[gi * np.int64(game.per_inc), a]
    lrn = r if game.posted else np.float32(r + x)
    return r, x, lrn


@njit(inline="always", cache=True)
def _book(game, rules, b, gi, a, r, x, parts, hh_inc, hh_priv):
    """Add one agent's outcome to block ``b``'s sums of its group (and to its household's totals).

    With one incentive vector for everyone, paid and collected follow from the counts, so they
    are summed per agent only with per-agent incentives. A zero incentive is not added to the
    household's total: adding 0.0 leaves a float unchanged, so skipping it changes no bit.
    """
    g = _at(game.groups, gi)
    parts[PARTS_COUNTS, b, g, a] += 1.0
    parts[PARTS_PRIVATE, b, g, a] += r
    if game.per_inc:
        parts[PARTS_PAID, b, g, a] += x if x > 0.0 else 0.0
        parts[PARTS_COLLECTED, b, g, a] += -x if x < 0.0 else 0.0
    if rules.track:
        hh_priv[gi] += r
        if rules.track_incentive and x != 0.0:
            hh_inc[gi] += x


@njit(inline="always", cache=True)
def _switch(rules, gi, a, shock, match):
    """Inertia: agent ``gi`` keeps last round's action unless it re-chooses (probability ``rules.prob``).

    A re-chooser takes its new action ``a`` and, with taste shocks, the new match value ``shock``.
    """
    if rules.switching:
        if to_uniform(draw_bits(agent_base(rules.slo, rules.shi, gi), 0)) < rules.prob:
            if rules.has_match:
                match[gi] = shock
        else:
            a = np.int64(rules.prev[gi])
    elif rules.has_match:
        match[gi] = shock
    return a


@njit(parallel=True, cache=True)
def realize_kernel(game, rules, sinks):
    """Draw rewards for ``sinks.actions`` of every agent, book them and write what each learns.

    The payoff step of a round whose choices were made by ``act`` calls (a population with a
    user's learner in it); ``sinks.match`` holds each agent's match value with its current choice.
    """
    parts, hh_inc, hh_priv = sinks.parts, sinks.hh_incentive, sinks.hh_private
    match, actions, learn = sinks.match, sinks.actions, sinks.learn
    n = actions.shape[0]
    for b in prange(_nblocks(n)):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        rz = np.empty(m, dtype=np.float32)
        _fill_reward_draws(game.rlo, game.rhi, lo, m, game.bern, rz)
        for ii in range(m):
            gi = lo + ii
            a = actions[gi]
            r, x, lrn = _payoff(game, gi, a, rz[ii])
            mv = _at(match, gi)
            r += mv
            lrn += mv
            learn[gi] = lrn
            _book(game, rules, b, gi, a, r, x, parts, hh_inc, hh_priv)


@njit(parallel=True, cache=True)
def apply_switching(actions, shock, rules, match):
    """Inertia over the whole population: agent i re-chooses with probability ``rules.prob``, else keeps ``prev[i]``.

    Re-choosers take the new action (and, with taste shocks, its match value ``shock[i]``);
    the others keep their previous action and match value.
    """
    for i in prange(actions.shape[0]):
        actions[i] = _switch(rules, i, actions[i], _at(shock, i), match)


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


@njit(inline="always", cache=True)
def _gumbel_choice(means, temp, i, off, row, k, bs, sc, g):
    """argmax_j means + off + T g_j with Gumbel g_j (g holds the shocks afterwards)."""
    t = _at(temp, i)
    for j in range(k):
        # 23 random bits + 1/2: u in [2^-24, 1 - 2^-24], exact in float32 (never 0 or 1)
        u = (np.float32(draw_bits(bs, _NORMAL0 + j) >> np.uint32(9)) + np.float32(0.5)) * np.float32(1.0 / 8388608.0)
        g[j] = -np.float32(math.log(-math.log(u))) * t
        sc[j] = means[i, j] + off[row, j] + g[j]
    return _argmax_sc(sc, k, bs)


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
            a = _gumbel_choice(means, temp, i, off, i * np.int64(per), k, agent_base(klo, khi, i), sc, g)
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


# ================================================================ whole rounds (play kernels)
# One kernel per family plays a learner group's part of a model round, agent by agent
# (every family but the two that learn and choose by logit, softmax and EWA: their round is
# K exponentials per agent either way, and measured at 1M agents it ran no faster fused, up
# to a third slower; they always play in the separate kernels, see ``Learner.fuses``):
# the family's choice rule (as in its act kernel), then _settle (inertia, payoff, books,
# outputs), then its learning rule (as in its update kernel). Blocks are the population's
# blocks (agents b*BLOCK..), so a block shared by two groups is summed in agent order,
# exactly as the separate act / realize / update kernels sum it.
#
# The kernels are compiled per round *spec* (:class:`Spec`): the features a round uses,
# as compile-time constants, so the code of a feature the round does not use is gone from
# the loop rather than tested for every agent. They cover the common rounds: one incentive
# vector for everyone, Gaussian rewards, no inertia and no taste shocks (:func:`round_spec`);
# every other round runs the separate act, payoff and update kernels, which the families
# share (fewer kernels to compile for rarer rounds).

_ZERO32 = np.float32(0.0)

FUSE_MIN_AGENTS = 100_000
"""Smallest population whose common rounds run in the one-pass play kernels.

Smaller populations play every round in the separate act / payoff / update kernels, which
give the same numbers. A play kernel is compiled per family and round spec, a few seconds
each on a first run (numba then caches it on disk); a round of a small population lasts
well under a millisecond either way, so the compile would never pay for itself there, while
at a million agents the one pass saves milliseconds in every round.
"""


class Spec(NamedTuple):
    """The features a round's play kernels are compiled for (each distinct spec is its own compile).

    The play kernels implement all of them (``_settle``); :func:`round_spec` only hands them
    rounds without inertia, taste shocks, per-agent incentives or offsets or Bernoulli
    rewards, so those fields are always False in practice.
    """

    switching: bool
    """Inertia (``Rules.switching``)."""
    has_match: bool
    """Taste shocks and match values (``Rules.has_match``)."""
    per_inc: bool
    """Per-agent incentives (``GameArrays.per_inc``)."""
    groups: bool
    """More than one household group (``GameArrays.groups`` per agent)."""
    per_off: bool
    """Per-agent posted offsets (``GroupRound.per``)."""
    bern: bool
    """Bernoulli rewards (``GameArrays.bern``)."""
    per_means: bool
    """Per-agent means (``GameArrays.per_means``)."""
    posted: bool
    """Posted incentives (``GameArrays.posted``)."""
    track: bool
    """Per-household totals kept (``Rules.track``)."""
    track_incentive: bool
    """Per-household incentive totals kept (``Rules.track_incentive``)."""
    write_learn: bool
    """``Sinks.learn`` written (``Rules.write_learn``)."""


def round_spec(game: GameArrays, rules: Rules, per_off: bool) -> Spec | None:
    """The spec of a round the play kernels cover, or None (the round runs the separate kernels)."""
    if rules.switching or rules.has_match or game.per_inc or per_off or game.bern:
        return None
    return Spec(
        switching=False,
        has_match=False,
        per_inc=False,
        groups=game.groups.shape[0] > 1,
        per_off=False,
        bern=False,
        per_means=bool(game.per_means),
        posted=bool(game.posted),
        track=bool(rules.track),
        track_incentive=bool(rules.track_incentive),
        write_learn=bool(rules.write_learn),
    )


@njit(inline="always", cache=True)
def _settle(spec, game, rules, b, gi, a, shock, rz, parts, hh_inc, hh_priv, match, actions, learn):
    """Everything after agent ``gi``'s choice ``a`` in block ``b``: inertia, payoff, books, outputs.

    The same steps as :func:`_switch`, :func:`_payoff` and :func:`_book` (which the separate
    kernels use), with the round's features (``spec``) as constants. ``shock`` is the taste
    shock of the choice (0 for learners without), ``rz`` the agent's reward draw; the arrays
    after it are the round's :class:`Sinks`. Returns the action the agent ends the round
    with and what it learns from.
    """
    if spec.switching:
        if to_uniform(draw_bits(agent_base(rules.slo, rules.shi, gi), 0)) < rules.prob:
            if spec.has_match:
                match[gi] = shock
        else:
            a = np.int64(rules.prev[gi])
    elif spec.has_match:
        match[gi] = shock
    m = game.means[gi * np.int64(spec.per_means), a]
    if spec.bern:
        r = np.float32(1.0) if rz < m else np.float32(0.0)
    else:
        r = m + game.noise[a] * rz
    x = game.inc[gi * np.int64(spec.per_inc), a]
    lrn = r if spec.posted else np.float32(r + x)
    mv = match[gi] if spec.has_match else _ZERO32
    r += mv  # also without taste shocks: adding 0 turns a -0.0 into 0.0, as the separate kernels do
    lrn += mv
    g = _at(game.groups, gi) if spec.groups else 0
    parts[PARTS_COUNTS, b, g, a] += 1.0
    parts[PARTS_PRIVATE, b, g, a] += r
    if spec.per_inc:
        parts[PARTS_PAID, b, g, a] += x if x > 0.0 else 0.0
        parts[PARTS_COLLECTED, b, g, a] += -x if x < 0.0 else 0.0
    if spec.track:
        hh_priv[gi] += r
        if spec.track_incentive and x != 0.0:
            hh_inc[gi] += x
    actions[gi] = a
    if spec.write_learn:
        learn[gi] = lrn
    return a, lrn


@njit(inline="always", cache=True)
def _eps_at(eps, decay, t, i, shared, e_shared):
    """Agent ``i``'s exploration probability eps / (1 + decay t) (``e_shared`` when everyone shares it)."""
    return e_shared if shared else _at(eps, i) / (np.float32(1.0) + _at(decay, i) * np.float32(t))


class UcbTable(NamedTuple):
    """UCB1's bonuses of one round for agents that share ``c`` and an integral prior weight.

    While the counts are exact small integers, an agent whose counts sum to ``t`` has the
    total ``K * prior_weight + t`` that every such agent has, so its bonus for an action
    depends only on that action's count: ``bonus[count]``, computed once a round with the
    same float32 operations. An agent whose total differs is scored the long way.
    """

    use: bool
    """Whether the table applies this round (shared c and prior weight, uint16 counts)."""
    total: np.float32
    """The total count (prior weights included) the table was built for."""
    bonus: np.ndarray
    """float32 (t + 1,): the bonus of an action chosen ``count`` times (inf where n_eff <= 0)."""


@njit(cache=True)
def ucb_table(c, pw, k, t):
    """The :class:`UcbTable` fields ``total`` and ``bonus`` for shared ``c`` and prior weight ``pw``."""
    total = np.float32(0.0)
    for _ in range(k):  # k * pw + t, summed like _ucb_scores sums it (exact: see UcbTable)
        total += pw
    total += np.float32(t)
    two_logt = _ucb_two_logt(total)
    bonus = np.empty(t + 1, dtype=np.float32)
    for v in range(t + 1):
        neff = pw + np.float32(v)
        bonus[v] = np.inf if neff <= 0.0 else _ucb_bonus(c, two_logt, neff)
    return total, bonus


@njit(inline="always", cache=True)
def _group_blocks(grp):
    """The population blocks that hold agents of the group."""
    return grp.first // BLOCK, (grp.first + grp.size + BLOCK - 1) // BLOCK


@njit(inline="always", cache=True)
def _span(grp, b):
    """Block ``b``'s agents of the group: first population index, count, first group index."""
    glo = max(b * BLOCK, grp.first)
    m = min(b * BLOCK + BLOCK, grp.first + grp.size) - glo
    return glo, m, glo - grp.first


class PlayKernels(NamedTuple):
    """The play kernels of every family, compiled for one :class:`Spec`."""

    epsilon_greedy: Any
    ucb1: Any
    thompson: Any
    roth_erev: Any
    best_response: Any
    gumbel: Any


@functools.cache
def play_kernels(spec: Spec) -> PlayKernels:
    """The play kernels for ``spec`` (built once per spec; numba caches each on disk)."""
    return _build_play_kernels(tuple(spec))


def _build_play_kernels(spec_values: tuple[int, ...]) -> PlayKernels:
    S = Spec(*spec_values)  # a closure constant: its fixed features fold away at compile time

    @njit(parallel=True, cache=True)
    def play_epsilon_greedy(est, eps, decay, grp, game, rules, sinks):
        """A round of an epsilon-greedy group: :func:`act_epsilon_greedy`, settle, :func:`update_average`."""
        q, cnt, lr, pw = est.q, est.counts, est.learning_rate, est.prior_weight
        k = q.shape[1]
        parts, hh_inc, hh_priv = sinks.parts, sinks.hh_incentive, sinks.hh_private
        match, actions, learn = sinks.match, sinks.actions, sinks.learn
        per = np.int64(S.per_off)
        shared = eps.shape[0] == 1 and decay.shape[0] == 1
        e_shared = eps[0] / (np.float32(1.0) + decay[0] * np.float32(grp.t))
        b0, b1 = _group_blocks(grp)
        for b in prange(b0, b1):
            glo, m, lo = _span(grp, b)
            base = np.empty(m, dtype=np.uint32)
            u = np.empty((2, m), dtype=np.float32)
            rz = np.empty(m, dtype=np.float32)
            sc = np.empty(k, dtype=np.float32)
            _fill_uniforms(grp.klo, grp.khi, lo, m, base, u)
            _fill_reward_draws(game.rlo, game.rhi, glo, m, S.bern, rz)
            for ii in range(m):
                i, gi = lo + ii, glo + ii
                g = _argmax_q(q, i, grp.off, gi * per, k, base[ii], sc)
                x = np.int64(u[1, ii] * k)
                x = x if x < k else k - 1
                a = x if u[0, ii] < _eps_at(eps, decay, grp.t, i, shared, e_shared) else g
                a, lrn = _settle(
                    S, game, rules, b, gi, a, _ZERO32, rz[ii], parts, hh_inc, hh_priv, match, actions, learn
                )
                _learn_avg(q, cnt, lr, pw, i, a, lrn)

    @njit(parallel=True, cache=True)
    def play_ucb1(est, c_expl, table, grp, game, rules, sinks):
        """A round of a UCB1 group: :func:`act_ucb1` (bonuses from ``table`` where it applies), settle, learn."""
        q, cnt, lr, pw = est.q, est.counts, est.learning_rate, est.prior_weight
        k = q.shape[1]
        parts, hh_inc, hh_priv = sinks.parts, sinks.hh_incentive, sinks.hh_private
        match, actions, learn = sinks.match, sinks.actions, sinks.learn
        per = np.int64(S.per_off)
        use, total_t, bonus = table.use, table.total, table.bonus
        b0, b1 = _group_blocks(grp)
        for b in prange(b0, b1):
            glo, m, lo = _span(grp, b)
            rz = np.empty(m, dtype=np.float32)
            sc = np.empty(k, dtype=np.float32)
            _fill_reward_draws(game.rlo, game.rhi, glo, m, S.bern, rz)
            for ii in range(m):
                i, gi = lo + ii, glo + ii
                row = gi * per
                bs = agent_base(grp.klo, grp.khi, i)
                fast = False
                if use:
                    total = np.float32(0.0)
                    for j in range(k):
                        total += pw[0] + _count(cnt, i, j)
                    fast = total == total_t
                if fast:
                    for j in range(k):
                        sc[j] = q[i, j] + grp.off[row, j] + bonus[np.int64(cnt[i, j])]
                    a = _argmax_sc(sc, k, bs)
                else:
                    a = _choose_ucb(q, cnt, c_expl, pw, i, grp.off, row, k, bs, sc)
                a, lrn = _settle(
                    S, game, rules, b, gi, a, _ZERO32, rz[ii], parts, hh_inc, hh_priv, match, actions, learn
                )
                _learn_avg(q, cnt, lr, pw, i, a, lrn)

    @njit(parallel=True, cache=True)
    def play_thompson(est, sigma, grp, game, rules, sinks):
        """A round of a Gaussian Thompson group: :func:`act_thompson`, settle, :func:`update_average`."""
        q, cnt, lr, pw = est.q, est.counts, est.learning_rate, est.prior_weight
        k = q.shape[1]
        parts, hh_inc, hh_priv = sinks.parts, sinks.hh_incentive, sinks.hh_private
        match, actions, learn = sinks.match, sinks.actions, sinks.learn
        per = np.int64(S.per_off)
        b0, b1 = _group_blocks(grp)
        for b in prange(b0, b1):
            glo, m, lo = _span(grp, b)
            base = np.empty(m, dtype=np.uint32)
            u = np.empty((2, m), dtype=np.float32)
            z = np.empty((k, m), dtype=np.float32)
            rz = np.empty(m, dtype=np.float32)
            sc = np.empty(k, dtype=np.float32)
            _fill_uniforms(grp.klo, grp.khi, lo, m, base, u)
            _fill_normals(base, m, k, z)
            _fill_reward_draws(game.rlo, game.rhi, glo, m, S.bern, rz)
            for ii in range(m):
                i, gi = lo + ii, glo + ii
                a = _choose_ts(q, cnt, sigma, pw, i, grp.off, gi * per, k, z, ii, base[ii], sc)
                a, lrn = _settle(
                    S, game, rules, b, gi, a, _ZERO32, rz[ii], parts, hh_inc, hh_priv, match, actions, learn
                )
                _learn_avg(q, cnt, lr, pw, i, a, lrn)

    @njit(parallel=True, cache=True)
    def play_roth_erev(prop, phi, expl, floor, grp, game, rules, sinks):
        """A round of a Roth-Erev group: :func:`act_proportional`, settle, :func:`update_roth_erev`.

        The posted offset of the action played is added to the reinforcement, as the update kernel does.
        """
        k = prop.shape[1]
        parts, hh_inc, hh_priv = sinks.parts, sinks.hh_incentive, sinks.hh_private
        match, actions, learn = sinks.match, sinks.actions, sinks.learn
        per = np.int64(S.per_off)
        b0, b1 = _group_blocks(grp)
        for b in prange(b0, b1):
            glo, m, lo = _span(grp, b)
            base = np.empty(m, dtype=np.uint32)
            u = np.empty((2, m), dtype=np.float32)
            rz = np.empty(m, dtype=np.float32)
            _fill_uniforms(grp.klo, grp.khi, lo, m, base, u)
            _fill_reward_draws(game.rlo, game.rhi, glo, m, S.bern, rz)
            for ii in range(m):
                i, gi = lo + ii, glo + ii
                a = _choose_prop(prop, i, k, u[1, ii])
                a, lrn = _settle(
                    S, game, rules, b, gi, a, _ZERO32, rz[ii], parts, hh_inc, hh_priv, match, actions, learn
                )
                _learn_re(prop, phi, expl, floor, i, a, lrn + grp.off[gi * per, a], k)

    @njit(parallel=True, cache=True)
    def play_best_response(means, scale, grp, game, rules, sinks):
        """A round of a best-response group without taste shocks: :func:`act_logit` on its means, settle."""
        k = means.shape[1]
        parts, hh_inc, hh_priv = sinks.parts, sinks.hh_incentive, sinks.hh_private
        match, actions, learn = sinks.match, sinks.actions, sinks.learn
        per = np.int64(S.per_off)
        b0, b1 = _group_blocks(grp)
        for b in prange(b0, b1):
            glo, m, lo = _span(grp, b)
            base = np.empty(m, dtype=np.uint32)
            u = np.empty((2, m), dtype=np.float32)
            rz = np.empty(m, dtype=np.float32)
            sc = np.empty(k, dtype=np.float32)
            _fill_uniforms(grp.klo, grp.khi, lo, m, base, u)
            _fill_reward_draws(game.rlo, game.rhi, glo, m, S.bern, rz)
            for ii in range(m):
                i, gi = lo + ii, glo + ii
                a = _choose_logit(means, scale, i, grp.off, gi * per, k, u[1, ii], base[ii], sc)
                _settle(S, game, rules, b, gi, a, _ZERO32, rz[ii], parts, hh_inc, hh_priv, match, actions, learn)

    @njit(parallel=True, cache=True)
    def play_gumbel(means, temp, grp, game, rules, sinks, shock):
        """A round of a best-response group with taste shocks: :func:`act_gumbel`, settle (match values)."""
        k = means.shape[1]
        parts, hh_inc, hh_priv = sinks.parts, sinks.hh_incentive, sinks.hh_private
        match, actions, learn = sinks.match, sinks.actions, sinks.learn
        per = np.int64(S.per_off)
        b0, b1 = _group_blocks(grp)
        for b in prange(b0, b1):
            glo, m, lo = _span(grp, b)
            rz = np.empty(m, dtype=np.float32)
            sc = np.empty(k, dtype=np.float32)
            g = np.empty(k, dtype=np.float32)
            _fill_reward_draws(game.rlo, game.rhi, glo, m, S.bern, rz)
            for ii in range(m):
                i, gi = lo + ii, glo + ii
                bs = agent_base(grp.klo, grp.khi, i)
                a = _gumbel_choice(means, temp, i, grp.off, gi * per, k, bs, sc, g)
                shock[i] = g[a]
                _settle(S, game, rules, b, gi, a, g[a], rz[ii], parts, hh_inc, hh_priv, match, actions, learn)

    return PlayKernels(
        epsilon_greedy=play_epsilon_greedy,
        ucb1=play_ucb1,
        thompson=play_thompson,
        roth_erev=play_roth_erev,
        best_response=play_best_response,
        gumbel=play_gumbel,
    )


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
            if _at(prior_w, i) + _count(cnt, i, j) <= 0.0:
                n_untried += 1
        if n_untried > 0:
            for j in range(k):
                out[i, j] = (1.0 / n_untried) if _at(prior_w, i) + _count(cnt, i, j) <= 0.0 else 0.0
            continue
        total = 0.0
        for j in range(k):
            mu_j = q[i, j] + off[row, j]
            sd_j = _at(sigma, i) / math.sqrt(_at(prior_w, i) + _count(cnt, i, j))
            acc = 0.0
            for s in range(g):
                z = grid[s]
                x = mu_j + sd_j * z
                dens = math.exp(-0.5 * z * z)
                prod = 1.0
                for o in range(k):
                    if o != j:
                        sd_o = _at(sigma, i) / math.sqrt(_at(prior_w, i) + _count(cnt, i, o))
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
