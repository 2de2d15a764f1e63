"""Counter-based random streams shared by every population kernel.

Every random number a population step uses is a pure function of
``(seed key, purpose, round, agent, draw index)``; nothing advances a stateful
generator in agent order. So results do not depend on the number of threads,
on how agents are split into blocks or workers, or on the device (docs/design.md):
a GPU build of the same hash reproduces the CPU's draws bit for bit.

Construction (all arithmetic on unsigned 32-bit integers, wrapping):

* host side, once per round: ``stream_key(seed_key, purpose, round)`` mixes the
  64-bit seed key with the purpose and round through SplitMix64 and splits the
  result into two 32-bit words ``(klo, khi)``;
* per agent: ``base = fmix32(fmix32(agent + klo) ^ khi)``;
* per draw: ``bits = fmix32(base + draw * 0x9E3779B9)``.

``fmix32`` is MurmurHash3's 32-bit finaliser (Appleby 2011), a bijection with
full avalanche. Uniforms are ``(bits >> 8) * 2**-24``, exact float32 values in
[0, 1). Standard normals use a 4096-cell inverse-CDF table with linear
interpolation (two table reads and one multiply-add instead of Box-Muller's
log, sqrt and cosine); the two tail cells end at values that keep each cell's
conditional mean exact. Its first four moments match N(0, 1) to about 1e-3
and it is bounded at about +-4.0.

The numba functions here are ``inline='always'`` building blocks for kernels;
the ``*_np`` functions are plain numpy versions of the same maps, used by the
reference implementations in the tests and by non-hot code.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from numba import njit

__all__ = [
    "NORMAL_TABLE",
    "PURPOSE_ACT",
    "PURPOSE_OBS",
    "PURPOSE_POP",
    "PURPOSE_PROBS",
    "PURPOSE_REWARD",
    "PURPOSE_SWITCH",
    "agent_base",
    "agent_base_np",
    "draw_bits",
    "draw_bits_np",
    "fmix32",
    "normal_np",
    "seed_key_from",
    "stream_key",
    "to_normal",
    "to_uniform",
    "uniform_np",
]

# Purposes separate the streams of different consumers of randomness.
PURPOSE_ACT = 1
PURPOSE_REWARD = 2
PURPOSE_OBS = 3
PURPOSE_PROBS = 4
PURPOSE_POP = 5
PURPOSE_SWITCH = 6

_MASK64 = (1 << 64) - 1
_GOLDEN32 = np.uint32(0x9E3779B9)
_TWO_M24 = np.float32(1.0 / 16777216.0)
_TWO_M12 = np.float32(1.0 / 4096.0)


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def seed_key_from(rng: np.random.Generator) -> int:
    """Draw a 63-bit stream key from a passed-down generator."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return int(rng.integers(0, 2**63))


def stream_key(seed_key: int, purpose: int, round_: int) -> tuple[np.uint32, np.uint32]:
    """Return the two 32-bit words that key one purpose's stream in one round."""
    h = _splitmix64(int(seed_key) & _MASK64)
    h = _splitmix64(h ^ (int(purpose) & 0xFFFF))
    h = _splitmix64(h ^ (int(round_) & _MASK64))
    return np.uint32(h & 0xFFFFFFFF), np.uint32(h >> 32)


def _normal_table(cells: int = 4096) -> np.ndarray:
    nd = NormalDist()
    p = 1.0 / cells
    t = np.empty(cells + 1, dtype=np.float64)
    for k in range(1, cells):
        t[k] = nd.inv_cdf(k * p)
    # The tail cells are linear from t[0] to t[1]: choose t[0] so that the cell's
    # mean equals E[Z | U < p] = -pdf(q) / p, and symmetrically at the top.
    tail_mean = -nd.pdf(t[1]) / p
    t[0] = 2.0 * tail_mean - t[1]
    t[cells] = -t[0]
    return t.astype(np.float32)


NORMAL_TABLE = _normal_table()


@njit(inline="always", cache=True)
def fmix32(h):
    """MurmurHash3 finaliser on a uint32."""
    h = np.uint32(h)
    h ^= h >> np.uint32(16)
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> np.uint32(13)
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h ^= h >> np.uint32(16)
    return h


@njit(inline="always", cache=True)
def agent_base(klo, khi, agent):
    """Per-agent base word of a (seed, purpose, round) stream."""
    return fmix32(fmix32(np.uint32(np.uint32(agent) + klo)) ^ khi)


@njit(inline="always", cache=True)
def draw_bits(base, d):
    """32 random bits: draw number ``d`` of an agent's stream."""
    return fmix32(np.uint32(base + np.uint32(np.uint32(d) * _GOLDEN32)))


@njit(inline="always", cache=True)
def to_uniform(bits):
    """Map 32 random bits to a float32 uniform in [0, 1) (24 bits of precision)."""
    return np.float32(bits >> np.uint32(8)) * _TWO_M24


@njit(inline="always", cache=True)
def to_normal(bits):
    """Map 32 random bits to an approximately standard normal float32."""
    idx = np.int64(bits >> np.uint32(20))
    frac = np.float32((bits >> np.uint32(8)) & np.uint32(0xFFF)) * _TWO_M12
    lo = NORMAL_TABLE[idx]
    return lo + frac * (NORMAL_TABLE[idx + 1] - lo)


# ---------------------------------------------------------------- numpy twins


def _fmix32_np(h: np.ndarray) -> np.ndarray:
    h = h.astype(np.uint32, copy=True)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def agent_base_np(klo: np.uint32, khi: np.uint32, agents: np.ndarray) -> np.ndarray:
    """Numpy version of :func:`agent_base` over an array of agent indices."""
    a = np.asarray(agents).astype(np.uint32)
    with np.errstate(over="ignore"):
        return _fmix32_np(_fmix32_np(a + np.uint32(klo)) ^ np.uint32(khi))


def draw_bits_np(base: np.ndarray, d: int | np.ndarray) -> np.ndarray:
    """Numpy version of :func:`draw_bits`."""
    with np.errstate(over="ignore"):
        inc = (np.asarray(d).astype(np.uint32) * _GOLDEN32).astype(np.uint32)
        return _fmix32_np(np.asarray(base, dtype=np.uint32) + inc)


def uniform_np(bits: np.ndarray) -> np.ndarray:
    """Numpy version of :func:`to_uniform`."""
    return (bits >> np.uint32(8)).astype(np.float32) * _TWO_M24


def normal_np(bits: np.ndarray) -> np.ndarray:
    """Numpy version of :func:`to_normal`."""
    idx = (bits >> np.uint32(20)).astype(np.int64)
    frac = ((bits >> np.uint32(8)) & np.uint32(0xFFF)).astype(np.float32) * _TWO_M12
    lo = NORMAL_TABLE[idx]
    return lo + frac * (NORMAL_TABLE[idx + 1] - lo)


def _check_table() -> None:  # pragma: no cover - import-time sanity check
    if not (math.isfinite(float(NORMAL_TABLE[0])) and NORMAL_TABLE[0] < -3.5):
        raise RuntimeError("normal table construction failed")


_check_table()
