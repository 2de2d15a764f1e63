"""A minimal fused epsilon-greedy kernel: the speed the model's step is measured against.

One numba function does a whole round for every agent in one pass over the arrays, with
nothing a simulator of this kind can do without and nothing more:

* draws from the same kind of counter-based hash stream as the model
  (:mod:`simulator._rng`: an exploration coin, an exploration action, a tie break and a
  reward noise per agent), so that it pays the same arithmetic for its randomness;
* chooses epsilon-greedily on float32 estimates (random tie break only on a tie);
* draws a Gaussian reward around a per-agent float32 mean (the default game's
  heterogeneity) and updates the float32 estimate and float32 count of the chosen
  action by the sample average;
* sums, per block of agents, how many chose each action and their rewards (the choice
  shares and mean reward a user reads each round), in float64.

It keeps no per-household totals, no incentives or offsets, no ledger, no DataCollector and
no Python per round beyond the call. ``python -m benchmarks.throughput`` reports every
family's model round against this kernel's round at the same size, in the same process, on
the same threads (``reference`` in the JSON). ``python -m benchmarks.reference_kernel`` times
it alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from simulator._rng import agent_base, draw_bits, seed_key_from, stream_key, to_normal, to_uniform

__all__ = ["BLOCK", "ReferenceEpsilonGreedy", "fused_epsilon_greedy_round"]

BLOCK = 4096
"""Agents per block (and per partial sum), as in the model's kernels."""


@njit(parallel=True, cache=True)
def fused_epsilon_greedy_round(q, cnt, means, eps, noise, klo, khi, rlo, rhi, block_counts, block_rewards):
    """One round of every agent: choose, draw the reward, learn, and sum per block.

    Args:
        q: float32 (n, K) estimates, updated in place.
        cnt: float32 (n, K) counts, updated in place.
        means: float32 (n, K) mean reward of each agent and action.
        eps: float32 exploration probability (everyone).
        noise: float32 reward noise standard deviation.
        klo, khi: the choice stream's key words of this round.
        rlo, rhi: the reward stream's key words of this round.
        block_counts: float64 (B, K) output: choices per block and action.
        block_rewards: float64 (B, K) output: reward sums per block and action.
    """
    n, k = q.shape
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        for j in range(k):
            block_counts[b, j] = 0.0
            block_rewards[b, j] = 0.0
        for i in range(lo, hi):
            bs = agent_base(klo, khi, i)
            best = q[i, 0]
            a = 0
            last = 0
            for j in range(1, k):
                v = q[i, j]
                last = j if v >= best else last
                a = j if v > best else a
                best = v if v > best else best
            if a != last:  # a tie: uniform among the maxima
                ties = 0
                for j in range(k):
                    ties += np.int64(q[i, j] == best)
                pick = np.int64(to_uniform(draw_bits(bs, 2)) * ties)
                for j in range(k):
                    if q[i, j] == best:
                        if pick == 0:
                            a = j
                            break
                        pick -= 1
            if to_uniform(draw_bits(bs, 0)) < eps:
                a = min(np.int64(to_uniform(draw_bits(bs, 1)) * k), k - 1)
            r = means[i, a] + noise * to_normal(draw_bits(agent_base(rlo, rhi, i), 0))
            c = cnt[i, a] + np.float32(1.0)
            cnt[i, a] = c
            q[i, a] += (r - q[i, a]) / (np.float32(1.0) + c)  # the prior counts as one observation
            block_counts[b, a] += 1.0
            block_rewards[b, a] += r


class ReferenceEpsilonGreedy:
    """The reference kernel's state for ``n`` agents and ``k`` actions, stepped a round at a time.

    The means are drawn like :func:`simulator.default_game`'s (0.2 to 0.8 across actions plus
    N(0, 0.1) per agent), epsilon is 0.1 and the reward noise 0.1, the model's defaults.
    """

    def __init__(self, n: int, k: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.means = (np.linspace(0.2, 0.8, k) + rng.normal(0.0, 0.1, (n, k))).astype(np.float32)
        self.q = np.zeros((n, k), dtype=np.float32)
        self.cnt = np.zeros((n, k), dtype=np.float32)
        nb = (n + BLOCK - 1) // BLOCK
        self.block_counts = np.zeros((nb, k))
        self.block_rewards = np.zeros((nb, k))
        self.key = seed_key_from(rng)
        self.round = 0

    def step(self) -> None:
        """One round; the shares and mean reward of the round are ``shares()`` and ``mean_reward()``."""
        klo, khi = stream_key(self.key, 1, self.round)
        rlo, rhi = stream_key(self.key, 2, self.round)
        fused_epsilon_greedy_round(
            self.q,
            self.cnt,
            self.means,
            np.float32(0.1),
            np.float32(0.1),
            klo,
            khi,
            rlo,
            rhi,
            self.block_counts,
            self.block_rewards,
        )
        self.round += 1

    def shares(self) -> np.ndarray:
        """Choice shares of the last round."""
        counts = self.block_counts.sum(axis=0)
        return counts / counts.sum()

    def mean_reward(self) -> float:
        """Mean reward of the last round."""
        return float(self.block_rewards.sum() / self.block_counts.sum())

    def state_bytes(self) -> int:
        """Bytes of the arrays it keeps (estimates, counts, means, block sums)."""
        return sum(a.nbytes for a in (self.q, self.cnt, self.means, self.block_counts, self.block_rewards))


def time_reference(n: int, k: int, rounds: int, repeats: int, warmup: int = 3, seed: int = 0) -> dict[str, Any]:
    """Median and best milliseconds per round of the reference kernel at ``n`` agents."""
    ref = ReferenceEpsilonGreedy(n, k, seed)
    for _ in range(1 + warmup):
        ref.step()
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(rounds):
            ref.step()
        walls.append((time.perf_counter() - t0) / rounds)
    med = statistics.median(walls)
    return {
        "agents": n,
        "ms_per_round": med * 1e3,
        "ms_per_round_min": min(walls) * 1e3,
        "agent_steps_per_s": n / med,
        "shares_last_round": ref.shares().tolist(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Time the reference kernel alone: ``python -m benchmarks.reference_kernel --agents 1000000``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reference_kernel", description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--actions", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=numba.get_num_threads())
    args = parser.parse_args(argv)
    numba.set_num_threads(args.threads)
    res = time_reference(args.agents, args.actions, args.rounds, args.repeats)
    print(
        f"{args.agents} agents, K={args.actions}, {args.threads} threads: {res['ms_per_round']:.2f} ms/round, "
        f"{res['agent_steps_per_s']:.3g} agent-steps/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
