"""Device backend: the population step in torch tensor ops, one source for the CPU and CUDA.

``IncentiveModel(..., device="cuda")`` (or ``"torch-cpu"``, which runs this same code on
the CPU and is what the tests exercise everywhere) steps the population here instead of in
the numba kernels of :mod:`simulator._kernels`. This module imports torch; the simulator
imports it only inside the device path (docs/design.md), so ``import simulator`` and a
``device="cpu"`` model never load torch.

Agreement with the numba path (docs/design.md)
------------------------------------------------------------
* **Counter-based draws, bit for bit.** The hash of :mod:`simulator._rng` (MurmurHash3's
  ``fmix32`` over ``(seed key, purpose, round, agent, draw)``) is computed on int64 tensors
  that hold uint32 values: xor and logical right shifts are exact on non-negative values, and
  every product is reduced ``& 0xFFFFFFFF``. A product of two 32-bit values can exceed
  ``2**63``, so it relies on int64 multiplication wrapping modulo ``2**64`` (what CPUs and
  GPUs do); :func:`wrapping_mul_ok` checks that once per device on extreme values and
  otherwise switches to an exact split product (16-bit halves, never above ``2**49``).
  Uniforms (``(bits >> 8) * 2**-24``), table normals (the same 4096-cell table, two gathers
  and one multiply-add) and the Gumbel uniforms are the same float32 maps, so every draw is
  identical to the numba path's.
* **Same float32 formulas in the same order.** Each rule is written as in the numba kernel:
  one float32 operation per step (no fused multiply-add, no reassociation), sums over the K
  actions accumulated column by column as the kernels' loops do, divisions by device tensors
  (CUDA turns a division by a host scalar into a multiplication by its reciprocal). With
  correctly rounded ``+ - * / sqrt`` the epsilon-greedy, Thompson and Roth-Erev choices and
  every update are bit-identical. ``exp`` and ``log`` are not correctly rounded and differ
  by an ulp between libm (numba) and torch's vectorised versions (and CUDA's): softmax, EWA,
  logit best response and UCB1 can then choose differently when a draw falls within an ulp
  of a boundary (a floating-point near-tie), and that agent's path diverges afterwards.
* **Ties** of an argmax are broken as the CPU rule does: count the tied maxima and take the
  ``int(u * count)``-th in ascending order, ``u`` from draw index 2 (the product in float64).
  The draw is only computed for the agents that have a tie.
* **Ledger sums** (per group x action) are reduced in float64 in a fixed order: per block of
  ``BLOCK`` agents by a pairwise tree, then the block sums by a pairwise tree in block order.
  Elementwise float64 additions in a fixed order give the same bits on every device and any
  thread count; against the numba path (sequential within a block) they agree to float64
  rounding. Counts are integers (exact). Per-household totals are one float64 addition per
  agent and round: bit-identical.
* **Layout.** State is float32 and action-major, shape (K, n): one action's column of every
  agent is contiguous, so the column loops read coalesced memory on a GPU. Only per-round
  aggregates (counts and sums per group x action) cross to the host; actions, rewards,
  household totals and learner state are copied back on demand
  (:meth:`DeviceSimulation.sync_to_host`).

Performance on a GPU (not measured here: this was written on a machine without one)
--------------------------------------------------------------------------------------
Every line below is a separate eager kernel that reads and writes whole (n,) or (K, n)
tensors, so a round is bound by memory traffic: about a hundred int64 passes for the
hash emulation alone (two ``fmix32`` per agent base, one per draw; 8-byte elements where
the hash needs 4). Anchors from the issue for one H100, epsilon-greedy, K=5: eager torch
ops about 7.5e9 agent-steps/s, ``torch.compile`` of the same functions about 1.2e10 (the
elementwise chains fuse, but the column loops and the gathers/scatters stay separate
kernels), a fused Triton kernel per family about 4.3e10 (each agent's state read once and
written once; native uint32 hash in registers; the ledger reduced per block in shared
memory). The target (>= 3e10) needs the fused kernel per family. This module is the tested
reference for such kernels: a fused kernel must reproduce its actions and per-block sums.
:mod:`simulator._triton_kernels` is such a kernel for epsilon-greedy (one launch per round,
about 100 bytes of memory traffic per agent against about 2.4 KB here: the hash words, the
int64 emulation and the ledger's masked passes are what the eager path spends its time on);
it is optional and experimental (``DeviceSimulation.use_fused("triton")``, timed by the
throughput benchmark on CUDA, checked against this path by a ``gpu`` test) and was written
without a GPU to run it. ``torch.compile`` may contract ``a * b + c`` into an FMA and change
float32 roundings, so it is not used; compiling only the integer hash would be exact. The
per-round cost is one host synchronisation (the aggregates), plus one for the (rare) agents
with a tied argmax.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import torch

from ._kernels import BLOCK
from ._rng import NORMAL_TABLE, PURPOSE_ACT, PURPOSE_REWARD, PURPOSE_SWITCH, stream_key
from .learners import EWA, UCB1, BestResponse, EpsilonGreedy, Learner, RothErev, Softmax, Thompson
from .ledger import Ledger

__all__ = [
    "DeviceLedger",
    "DeviceSimulation",
    "TorchPopulation",
    "agent_base",
    "check_device_memory",
    "draw_bits",
    "fmix32",
    "gumbel_uniform",
    "to_normal",
    "to_uniform",
    "torch_device",
    "wrapping_mul_ok",
]

M32 = 0xFFFFFFFF
_GOLDEN32 = 0x9E3779B9
_C1 = 0x85EBCA6B
_C2 = 0xC2B2AE35
_TIE0 = 2
_NORMAL0 = 3
_TWO_M24 = 1.0 / 16777216.0
_TWO_M23 = 1.0 / 8388608.0
_TWO_M12 = 1.0 / 4096.0
_I64 = torch.int64
_F32 = torch.float32
_F64 = torch.float64


# ================================================================ devices


def torch_device(device: str) -> torch.device:
    """The torch device of a resolved simulator device name (``"torch-cpu"`` or ``"cuda[:i]"``)."""
    return torch.device("cpu") if device == "torch-cpu" else torch.device(device)


# ================================================================ the counter-based hash


def _mul32_wrap(h: torch.Tensor, c: int) -> torch.Tensor:
    return (h * c) & M32


def _mul32_split(h: torch.Tensor, c: int) -> torch.Tensor:
    # h * c mod 2**32 with every intermediate below 2**49
    return (h * (c & 0xFFFF) + (((h * (c >> 16)) & 0xFFFF) << 16)) & M32


@cache
def wrapping_mul_ok(device_type: str) -> bool:
    """Whether int64 products wrap modulo 2**64 on this device type (checked on extreme values)."""
    vals = [0, 1, 0x7FFFFFFF, 0x80000000, 0xDEADBEEF, 0xFFFFFFFE, M32]
    h = torch.tensor(vals, dtype=_I64, device=device_type)
    ok = True
    for c in (_C1, _C2, _GOLDEN32, M32):
        got = _mul32_wrap(h, c).cpu().tolist()
        ok &= got == [(v * c) & M32 for v in vals]
    return bool(ok)


def _mul32(h: torch.Tensor, c: int) -> torch.Tensor:
    return _mul32_wrap(h, c) if wrapping_mul_ok(h.device.type) else _mul32_split(h, c)


def fmix32(h: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's 32-bit finaliser on int64 tensors holding uint32 values."""
    h = h ^ (h >> 16)
    h = _mul32(h, _C1)
    h ^= h >> 13
    h = _mul32(h, _C2)
    h ^= h >> 16
    return h


def agent_base(klo: int, khi: int, agents: torch.Tensor) -> torch.Tensor:
    """Per-agent base words of a (seed, purpose, round) stream, like :func:`simulator._rng.agent_base`."""
    h = fmix32((agents + int(klo)) & M32)
    h ^= int(khi)
    return fmix32(h)


def draw_bits(base: torch.Tensor, d: int) -> torch.Tensor:
    """32 random bits: draw number ``d`` of each agent's stream."""
    return fmix32((base + ((int(d) * _GOLDEN32) & M32)) & M32)


def to_uniform(bits: torch.Tensor) -> torch.Tensor:
    """float32 uniforms in [0, 1) with 24 bits, exactly as :func:`simulator._rng.to_uniform`."""
    return (bits >> 8).to(_F32) * _TWO_M24


@cache
def _normal_table(device: torch.device) -> torch.Tensor:
    return torch.from_numpy(NORMAL_TABLE.copy()).to(device)


def to_normal(bits: torch.Tensor) -> torch.Tensor:
    """Table normals, exactly as :func:`simulator._rng.to_normal`."""
    table = _normal_table(bits.device)
    idx = bits >> 20
    frac = ((bits >> 8) & 0xFFF).to(_F32) * _TWO_M12
    lo = table[idx]
    return lo + frac * (table[idx + 1] - lo)


def gumbel_uniform(bits: torch.Tensor) -> torch.Tensor:
    """23 random bits + 1/2, scaled: a float32 uniform in [2^-24, 1 - 2^-24] (never 0 or 1)."""
    return ((bits >> 9).to(_F32) + 0.5) * _TWO_M23


def _arange(n: int, device: torch.device, offset: int = 0) -> torch.Tensor:
    return torch.arange(offset, offset + n, dtype=_I64, device=device)


# ================================================================ float32 maths


def _sqrt32(x: torch.Tensor) -> torch.Tensor:
    """Correctly rounded float32 square root (float64, then rounded: exact for float32 inputs).

    torch's vectorised float32 ``sqrt`` on the CPU is not correctly rounded (1 ulp off for
    about a fifth of inputs on an AVX-512 build); numba's is.
    """
    return torch.sqrt(x.to(_F64)).to(_F32)


def _exp32(x: torch.Tensor) -> torch.Tensor:
    """float32 ``exp`` computed in float64 and rounded: the same bits on every device.

    numba calls the C library's ``expf``, which is not correctly rounded; this differs from
    it for about 7e-4 of arguments by one ulp (torch's own float32 ``exp``: 1e-2).
    """
    return torch.exp(x.to(_F64)).to(_F32)


def _log32(x: torch.Tensor) -> torch.Tensor:
    """float32 ``log`` computed in float64 and rounded (see :func:`_exp32`; 3e-4 of arguments differ from libm)."""
    return torch.log(x.to(_F64)).to(_F32)


# ================================================================ argmax and choice rules


def _argmax_chain(sc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The numba select chain over the K rows of ``sc``: first maximum, the maximum, and 'tied'."""
    k = sc.shape[0]
    best = sc[0]
    a = torch.zeros(sc.shape[1], dtype=_I64, device=sc.device)
    z = torch.zeros_like(a)
    for j in range(1, k):
        v = sc[j]
        gt = v > best
        z = torch.where(v >= best, j, z)
        a = torch.where(gt, j, a)
        best = torch.where(gt, v, best)
    return a, best, a != z


def _break_ties(
    sc: torch.Tensor,
    a: torch.Tensor,
    best: torch.Tensor,
    tied: torch.Tensor,
    base_of: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Replace the choice of tied agents by the int(u * count)-th tied index, u = draw 2 (ascending order)."""
    idx = tied.nonzero().squeeze(1)
    if idx.numel() == 0:
        return a
    s = sc[:, idx]
    b = best[idx]
    u = to_uniform(draw_bits(base_of(idx), _TIE0))
    eq = s == b
    count = eq.sum(0)
    pick = (u.to(_F64) * count.to(_F64)).to(_I64)  # numba: float32 * int64 -> float64, truncated
    rank = torch.zeros_like(pick)
    sel = torch.zeros_like(pick)
    for j in range(s.shape[0]):
        sel = torch.where(eq[j] & (rank == pick), j, sel)
        rank += eq[j].to(_I64)
    a = a.clone()
    a[idx] = sel
    return a


def _argmax(sc: torch.Tensor, base_of: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    a, best, tied = _argmax_chain(sc)
    return _break_ties(sc, a, best, tied, base_of)


def _logit(sc: torch.Tensor, scale: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Sample from softmax(scale * sc) with one uniform, max subtracted (numba ``_logit_choice``)."""
    k = sc.shape[0]
    m = sc[0]
    for j in range(1, k):
        m = torch.where(sc[j] > m, sc[j], m)
    e = _exp32(scale * (sc - m))
    total = e[0]
    for j in range(1, k):
        total = total + e[j]
    target = u * total
    acc = torch.zeros_like(total)
    a = torch.zeros(sc.shape[1], dtype=_I64, device=sc.device)
    for j in range(k - 1):
        acc = acc + e[j]
        a += (acc <= target).to(_I64)
    return a


class _Scale:
    """A logit precision (1,) or (m,) on the device, with where it is infinite (known on the host)."""

    def __init__(self, host: np.ndarray, device: torch.device) -> None:
        inf = np.isinf(host)
        self.mode = "inf" if inf.all() else ("finite" if not inf.any() else "mixed")
        self.inf = torch.from_numpy(inf).to(device)
        self.value = _param(np.where(inf, 0.0, host), device)


def _choose_logit(
    sc: torch.Tensor, scale: _Scale, u: torch.Tensor, base_of: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Logit choice (numba ``_choose_logit``); an infinite scale is the exact argmax with random ties."""
    if scale.mode == "finite":
        return _logit(sc, scale.value, u)
    if scale.mode == "inf":
        return _argmax(sc, base_of)
    return torch.where(scale.inf, _argmax(sc, base_of), _logit(sc, scale.value, u))


def _proportional(prop: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """First j whose running sum of propensities exceeds u * total (else K-1): numba ``_choose_prop``."""
    k = prop.shape[0]
    total = prop[0]
    for j in range(1, k):
        total = total + prop[j]
    target = u * total
    acc = torch.zeros_like(total)
    a = torch.full(total.shape, k - 1, dtype=_I64, device=prop.device)
    found = torch.zeros(total.shape, dtype=torch.bool, device=prop.device)
    for j in range(k):
        acc = acc + prop[j]
        hit = (target < acc) & ~found
        a = torch.where(hit, j, a)
        found |= hit
    return a


# ================================================================ learner groups


def _param(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    """A per-agent parameter, (1,) for everyone or (m,), as a float32 device tensor."""
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(device)


def _cols(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host (m, K) array as a contiguous action-major (K, m) float32 device tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(arr, dtype=np.float32).T)).to(device)


def _to_rows(t: torch.Tensor) -> np.ndarray:
    """A device (K, m) tensor as a host (m, K) float32 array."""
    return np.ascontiguousarray(t.T.cpu().numpy())


class _Group(ABC):
    """One learner of a population, on the device: state (K, m), parameters (1,) or (m,)."""

    host_class: type[Learner]
    state_names: tuple[str, ...] = ()

    def __init__(self, host: Learner, device: torch.device) -> None:
        self.host = host
        self.device = device
        self.n, self.k = host.n_agents, host.n_actions
        self.key = host._key
        self.t = host.t
        self.p = {name: _param(arr, device) for name, arr in host.p.items() if name not in ("initial_values", "means")}
        self.from_host()

    def stream(self) -> tuple[int, int]:
        klo, khi = stream_key(self.key, PURPOSE_ACT, self.t)
        return int(klo), int(khi)

    def base_of(self, klo: int, khi: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda idx: agent_base(klo, khi, idx)

    def uniforms(self) -> tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """Draws 0 and 1 of every agent, and the base of any agents (for tie breaks)."""
        klo, khi = self.stream()
        base = agent_base(klo, khi, _arange(self.n, self.device))
        return to_uniform(draw_bits(base, 0)), to_uniform(draw_bits(base, 1)), lambda idx: base[idx]

    @abstractmethod
    def act(self, off: torch.Tensor) -> torch.Tensor:
        """The family's choice rule: actions (n,) given the payoff offsets (K, n) known before choosing."""

    def update(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        self._update(actions, rewards)
        self.t += 1

    @abstractmethod
    def _update(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        """The family's learning rule for this round's actions and rewards."""

    @abstractmethod
    def from_host(self) -> None:
        """(Re)load the state from the host learner."""

    def to_host(self) -> None:
        """Write the state back into the host learner."""
        self.host.t = self.t

    def state_bytes(self) -> int:
        return sum(getattr(self, name).numel() * getattr(self, name).element_size() for name in self.state_names)


class _EstimateGroup(_Group):
    """q (K, m) and counts (K, m); sample-average or constant-step updates (numba ``update_average``)."""

    state_names = ("q", "counts")

    def from_host(self) -> None:
        self.q = _cols(self.host.q, self.device)
        self.counts = _cols(self.host.counts, self.device)
        self.one = torch.ones(1, dtype=_F32, device=self.device)

    def to_host(self) -> None:
        super().to_host()
        self.host.q[...] = _to_rows(self.q)
        self.host.counts[...] = _to_rows(self.counts)

    def _update(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        a = actions.unsqueeze(0)
        cnt = self.counts.gather(0, a)[0] + 1.0
        self.counts.scatter_(0, a, cnt.unsqueeze(0))
        lr = self.p["learning_rate"]
        step = torch.where(lr <= 0.0, self.one / (self.p["prior_weight"] + cnt), lr)
        q = self.q.gather(0, a)[0]
        q = q + step * (rewards - q)
        self.q.scatter_(0, a, q.unsqueeze(0))


class _EpsilonGreedyGroup(_EstimateGroup):
    host_class = EpsilonGreedy

    def act(self, off: torch.Tensor) -> torch.Tensor:
        u_coin, u_expl, base_of = self.uniforms()
        t = torch.tensor(np.float32(self.t), device=self.device)
        e = self.p["epsilon"] / (1.0 + self.p["epsilon_decay"] * t)
        g = _argmax(self.q + off, base_of)
        x = (u_expl.to(_F64) * self.k).to(_I64).clamp_max(self.k - 1)
        return torch.where(u_coin < e, x, g)


class _UCB1Group(_EstimateGroup):
    host_class = UCB1

    def scores(self, off: torch.Tensor) -> torch.Tensor:
        pw, c = self.p["prior_weight"], self.p["c"]
        neff = pw + self.counts  # (K, m)
        total = neff[0]
        for j in range(1, self.k):
            total = total + neff[j]
        two_logt = 2.0 * _log32(torch.clamp_min(total, 1.0))
        bonus = torch.where(c > 0.0, c * _sqrt32(two_logt / neff), 0.0)
        return torch.where(neff <= 0.0, math.inf, (self.q + off) + bonus)

    def act(self, off: torch.Tensor) -> torch.Tensor:
        klo, khi = self.stream()
        return _argmax(self.scores(off), self.base_of(klo, khi))


class _ThompsonGroup(_EstimateGroup):
    host_class = Thompson

    def act(self, off: torch.Tensor) -> torch.Tensor:
        klo, khi = self.stream()
        base = agent_base(klo, khi, _arange(self.n, self.device))
        z = torch.stack([to_normal(draw_bits(base, _NORMAL0 + j)) for j in range(self.k)])
        neff = self.p["prior_weight"] + self.counts
        sc = torch.where(neff <= 0.0, math.inf, (self.q + off) + (self.p["sigma"] * z) / _sqrt32(neff))
        return _argmax(sc, lambda idx: base[idx])


class _SoftmaxGroup(_EstimateGroup):
    host_class = Softmax

    def __init__(self, host: Learner, device: torch.device) -> None:
        super().__init__(host, device)
        self.scale = _Scale(host._scale(), device)

    def act(self, off: torch.Tensor) -> torch.Tensor:
        _, u, base_of = self.uniforms()
        return _choose_logit(self.q + off, self.scale, u, base_of)


class _EWAGroup(_Group):
    """Experience-weighted attraction (numba ``_learn_ewa``) with logit choice."""

    host_class = EWA
    state_names = ("att", "nexp")

    def from_host(self) -> None:
        self.att = _cols(self.host.att, self.device)
        self.nexp = _param(self.host.nexp, self.device)
        self.precision = _Scale(self.host.p["precision"], self.device)

    def to_host(self) -> None:
        super().to_host()
        self.host.att[...] = _to_rows(self.att)
        self.host.nexp[...] = self.nexp.cpu().numpy()

    def act(self, off: torch.Tensor) -> torch.Tensor:
        _, u, base_of = self.uniforms()
        return _choose_logit(self.att + off, self.precision, u, base_of)

    def _update(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        p = self.p
        n_old = self.nexp
        n_new = p["rho"] * n_old + 1.0
        keep = p["phi"] * n_old
        kept = keep * self.att
        chosen = (kept + rewards) / n_new
        other = (kept + p["delta"] * self.att) / n_new
        mine = actions.unsqueeze(0) == _arange(self.k, self.device).unsqueeze(1)
        self.att = torch.where(mine, chosen, other)
        self.nexp = n_new.expand(self.n).contiguous() if n_new.numel() == 1 else n_new


class _RothErevGroup(_Group):
    """Roth-Erev reinforcement (numba ``_learn_re``); the posted offsets of the last act join the reward."""

    host_class = RothErev
    state_names = ("prop",)

    def from_host(self) -> None:
        self.prop = _cols(self.host.prop, self.device)
        self.last_off = _cols(self.host._last_off, self.device)
        self.km1 = torch.tensor([np.float32(self.k - 1)], device=self.device)
        self.tiny = torch.tensor(np.float32(1e-30), device=self.device)

    def to_host(self) -> None:
        super().to_host()
        self.host.prop[...] = _to_rows(self.prop)
        self.host._last_off = _to_rows(self.last_off)
        self.host._last_per = self.last_off.shape[1] > 1

    def act(self, off: torch.Tensor) -> torch.Tensor:
        self.last_off = off
        _, u, _ = self.uniforms()
        return _proportional(self.prop, u)

    def _update(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        p = self.p
        a = actions.unsqueeze(0)
        bonus = self.last_off.gather(0, a)[0] if self.last_off.shape[1] > 1 else self.last_off[:, 0][actions]
        r = (rewards + bonus) - p["reward_floor"]
        r = torch.where(r > 0.0, r, 0.0)
        keep = 1.0 - p["phi"]
        e = p["experimentation"]
        other = (r * e) / self.km1
        mine = r * (1.0 - e)
        chosen = a == _arange(self.k, self.device).unsqueeze(1)
        v = keep * self.prop + torch.where(chosen, mine, other)
        self.prop = torch.where(v > self.tiny, v, self.tiny)


class _BestResponseGroup(_Group):
    """Argmax, logit or Gumbel-max (taste shocks) on the known means + offsets; no learning."""

    host_class = BestResponse

    def from_host(self) -> None:
        self.means = _cols(self.host.p["means"], self.device)
        self.scale = _Scale(self.host._scale(), self.device)
        self.shocks = self.host.shocks
        self.last_shock = _param(self.host.last_shock, self.device)

    def to_host(self) -> None:
        super().to_host()
        self.host.last_shock[...] = self.last_shock.cpu().numpy()

    def state_bytes(self) -> int:
        return self.means.numel() * 4 + self.last_shock.numel() * 4

    def act(self, off: torch.Tensor) -> torch.Tensor:
        if not self.shocks:
            _, u, base_of = self.uniforms()
            return _choose_logit(self.means + off, self.scale, u, base_of)
        klo, khi = self.stream()
        base = agent_base(klo, khi, _arange(self.n, self.device))
        temp = self.p["temperature"]
        g = torch.stack([-_log32(-_log32(gumbel_uniform(draw_bits(base, _NORMAL0 + j)))) * temp for j in range(self.k)])
        a = _argmax((self.means + off) + g, lambda idx: base[idx])
        self.last_shock = g.gather(0, a.unsqueeze(0))[0]
        return a

    def _update(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        pass


_GROUPS: dict[type, type[_Group]] = {
    cls.host_class: cls
    for cls in (
        _EpsilonGreedyGroup,
        _UCB1Group,
        _ThompsonGroup,
        _SoftmaxGroup,
        _EWAGroup,
        _RothErevGroup,
        _BestResponseGroup,
    )
}


class TorchPopulation:
    """A :class:`simulator.Population` on a torch device, built from its learners' parameters and state.

    The host population keeps its learners; this object holds device copies of their
    state and parameters and steps them with the same rules (see the module docstring).
    :meth:`sync_to_host` writes the state back, so the host learners can be inspected,
    copied or stepped on by the numba path.

    Args:
        population: the host population (built-in learner families only).
        device: a torch device (``"cpu"`` or ``"cuda"``).
    """

    def __init__(self, population: Any, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.population = population
        self.n_agents = population.n_agents
        self.n_actions = population.n_actions
        self.slices = population.slices
        self.groups: list[_Group] = []
        for label, lr in zip(population.labels, population.learners, strict=True):
            cls = _GROUPS.get(type(lr))
            if cls is None:
                raise ValueError(
                    f"learner group {label!r} ({type(lr).__name__}) has no device rule; the device path runs the "
                    f"built-in families {', '.join(sorted(c.host_class.name for c in _GROUPS.values()))}: "
                    "use device='cpu' for this population"
                )
            self.groups.append(cls(lr, self.device))
        self.has_shocks = any(getattr(g, "shocks", False) for g in self.groups)

    def act_device(self, off: torch.Tensor) -> torch.Tensor:
        """Actions (n,) int64 on the device; ``off`` is float32 (K, 1) or (K, n) on the device."""
        per = off.shape[1] > 1
        outs = [g.act(off[:, s] if per else off) for g, s in zip(self.groups, self.slices, strict=True)]
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def update_device(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        """Learn from device actions (n,) int64 and rewards (n,) float32."""
        for g, s in zip(self.groups, self.slices, strict=True):
            g.update(actions[s], rewards[s])

    def taste_shocks(self) -> torch.Tensor | None:
        """Realised taste shocks of the last act (n,) float32, or None if no group draws them."""
        if not self.has_shocks:
            return None
        parts = [
            g.last_shock if getattr(g, "shocks", False) else torch.zeros(g.n, dtype=_F32, device=self.device)
            for g in self.groups
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def act(self, offsets: Any = None) -> torch.Tensor:
        """Like :meth:`simulator.Population.act`; returns a device int64 tensor."""
        from ._validate import check_offsets

        off, _ = check_offsets(offsets, self.n_agents, self.n_actions)
        return self.act_device(torch.from_numpy(np.ascontiguousarray(off.T)).to(self.device))

    def update(self, actions: Any, rewards: Any) -> None:
        """Like :meth:`simulator.Population.update`; actions and rewards may be arrays or tensors."""
        a = torch.as_tensor(actions, device=self.device).to(_I64)
        r = torch.as_tensor(rewards, device=self.device).to(_F32)
        self.update_device(a, r)

    def sync_to_host(self) -> None:
        """Write every group's state and round counter back into the host learners."""
        for g in self.groups:
            g.to_host()

    def state_bytes(self) -> int:
        """Bytes of learner state and parameters held on the device."""
        params = sum(t.numel() * t.element_size() for g in self.groups for t in g.p.values())
        return sum(g.state_bytes() for g in self.groups) + params


# ================================================================ realize: payoffs and the ledger


def _tree_sum_rows(x: torch.Tensor) -> torch.Tensor:
    """Sum each row of (rows, 2**p) by pairwise halving: a fixed order on every device."""
    w = x.shape[1]
    while w > 1:
        w //= 2
        x = x[:, :w] + x[:, w : 2 * w]
    return x[:, 0]


def _tree_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum a vector in a fixed pairwise order (block order), zero-padded to a power of two."""
    n = x.shape[0]
    size = 1 << max(n - 1, 0).bit_length()
    if size != n:
        x = torch.cat([x, x.new_zeros(size - n)])
    while x.shape[0] > 1:
        h = x.shape[0] // 2
        x = x[:h] + x[h:]
    return x[0]


def keyed_block_sums(values: torch.Tensor, key: torch.Tensor, n_keys: int) -> torch.Tensor:
    """Float64 sums of ``values`` per key in [0, n_keys): per block of BLOCK agents, then in block order.

    Each block is summed by a pairwise tree and the block sums by another, so the result
    is the same on every device and for any thread count (docs/design.md).
    """
    n = values.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    buf = values.new_zeros(nb * BLOCK)  # the tail of the last block stays zero
    zero = values.new_zeros(())
    out = []
    for c in range(n_keys):
        torch.where(key == c, values, zero, out=buf[:n])
        out.append(_tree_sum(_tree_sum_rows(buf.view(nb, BLOCK))))
    return torch.stack(out)


class DeviceLedger(Ledger):
    """A :class:`simulator.Ledger` whose per-household totals live on the device.

    ``hh_incentive`` and ``hh_private`` are fetched from the device when read (and cached
    until the next round), so they cost no transfer in rounds nobody reads them.
    """

    def __post_init__(self) -> None:
        self._sim: DeviceSimulation | None = None
        self._fresh = True
        super().__post_init__()
        self._hh_incentive = np.zeros(self._hh_n, dtype=np.float64)  # filled from the device when read

    def _pull(self) -> None:
        if self._sim is not None and not self._fresh and self._sim.hh_incentive is not None:
            self._hh_incentive[...] = self._sim.hh_incentive.cpu().numpy()
            self._hh_private[...] = self._sim.hh_private.cpu().numpy()
        self._fresh = True

    @property
    def hh_incentive(self) -> np.ndarray:  # type: ignore[override]
        self._pull()
        return self._hh_incentive

    @hh_incentive.setter
    def hh_incentive(self, value: np.ndarray) -> None:
        self._hh_incentive = value

    @property
    def hh_private(self) -> np.ndarray:  # type: ignore[override]
        self._pull()
        return self._hh_private

    @hh_private.setter
    def hh_private(self, value: np.ndarray) -> None:
        self._hh_private = value


class DeviceSimulation:
    """The device side of an :class:`simulator.IncentiveModel`: population, game arrays and ledger buffers.

    :meth:`play` is :func:`simulator.game.play_round` on the device: choose, switch
    (inertia), draw payoffs, book the ledger sums, learn. Only the (G, K) sums return
    to the host each round.

    Args:
        model: the model (its bound game, host population, groups, keys and ledger).
        device: the torch device.
    """

    def __init__(self, model: Any, device: torch.device) -> None:
        self.device = device
        game = model.game
        n, k = model.n_agents, model.n_actions
        self.n, self.k = n, k
        self.population = TorchPopulation(model.population, device)
        self.per_means = bool(game.per_agent_means)
        self.means = _cols(game.means if self.per_means else game.means[:1], device)  # (K, n) or (K, 1)
        self.noise = torch.from_numpy(np.ascontiguousarray(game.noise, dtype=np.float32)).to(device)
        self.bernoulli = bool(game.bernoulli)
        self.posted = bool(game.posted)
        self.switch_prob = float(game.switch_prob)
        self.switch_prob32 = torch.tensor(np.float32(game.switch_prob), device=device)
        groups = np.asarray(model.groups)
        self.groups = None if groups.shape[0] == 1 else torch.from_numpy(groups.astype(np.int64)).to(device)
        self.n_groups = int(model._n_groups)
        self.reward_key = model._reward_key
        self.track = bool(model.ledger.track_households)
        self.hh_incentive = torch.zeros(n, dtype=_F64, device=device) if self.track else None
        self.hh_private = torch.zeros(n, dtype=_F64, device=device) if self.track else None
        self.match = torch.zeros(n, dtype=_F32, device=device) if model._match is not None else None
        self.learn = torch.zeros(n, dtype=_F32, device=device)
        self.actions: torch.Tensor | None = None
        self.version = 0  # rounds played; the host copies are current when synced_version == version
        self.synced_version = 0
        self.fused: str | None = None
        self._tk: Any = None

    # ------------------------------------------------------------ fused kernels (optional)
    def use_fused(self, kind: str | None) -> tuple[bool, str]:
        """Opt in to a fused kernel (``"triton"``: epsilon-greedy, :mod:`simulator._triton_kernels`).

        Returns whether it will be used and why not. Rounds outside its scope (per-agent
        incentives) still take the eager path. ``None`` switches back to the eager path.
        """
        self.fused = None
        if kind is None:
            return False, "eager torch ops"
        if kind != "triton":
            return False, f"unknown fused kernel {kind!r}"
        groups = self.population.groups
        reasons = [
            (self.device.type != "cuda", "needs a CUDA device"),
            (len(groups) != 1 or type(groups[0]) is not _EpsilonGreedyGroup, "one epsilon-greedy group only"),
            (self.groups is not None or self.n_groups != 1, "one household group only"),
            (self.bernoulli, "Gaussian rewards only"),
            (self.match is not None, "no taste shocks"),
            (self.switch_prob < 1.0, "no inertia (switch_prob = 1)"),
            (self.k > 64, "at most 64 actions"),
        ]
        why = [text for bad, text in reasons if bad]
        if why:
            return False, "; ".join(why)
        try:
            from . import _triton_kernels
        except Exception as exc:  # ImportError without Triton; anything Triton raises at import
            return False, f"triton unavailable: {type(exc).__name__}: {exc}"
        self._tk = _triton_kernels
        self.fused = kind
        return True, "fused Triton epsilon-greedy round"

    def _play_fused(self, inc64: np.ndarray, round_: int) -> dict[str, np.ndarray]:
        """One round of the fused epsilon-greedy kernel (same draws and rules as the eager path)."""
        g = self.population.groups[0]
        n, k, dev = self.n, self.k, self.device
        klo, khi = g.stream()
        rlo, rhi = stream_key(self.reward_key, PURPOSE_REWARD, round_)
        inc = torch.from_numpy(np.ascontiguousarray(inc64[0])).to(dev)
        off = inc.to(_F32) if self.posted else torch.zeros(k, dtype=_F32, device=dev)
        actions = torch.empty(n, dtype=_I64, device=dev)
        learn = torch.empty(n, dtype=_F32, device=dev)
        programs = -(-n // self._tk.BLOCK_AGENTS)
        part = torch.empty((programs, 2, k), dtype=_F64, device=dev)
        p = g.p
        args = {
            "q_ptr": g.q,
            "cnt_ptr": g.counts,
            "eps_ptr": p["epsilon"],
            "eps_stride": int(p["epsilon"].numel() > 1),
            "decay_ptr": p["epsilon_decay"],
            "decay_stride": int(p["epsilon_decay"].numel() > 1),
            "lr_ptr": p["learning_rate"],
            "lr_stride": int(p["learning_rate"].numel() > 1),
            "pw_ptr": p["prior_weight"],
            "pw_stride": int(p["prior_weight"].numel() > 1),
            "t_ptr": torch.tensor([np.float32(g.t)], device=dev),
            "off_ptr": off,
            "keys_ptr": torch.tensor([klo, khi, int(rlo), int(rhi)], dtype=_I64, device=dev),
            "means_ptr": self.means,
            "means_row": n if self.per_means else 1,
            "means_col": 1 if self.per_means else 0,
            "noise_ptr": self.noise,
            "inc_ptr": inc,
            "table_ptr": _normal_table(dev),
            "act_ptr": actions,
            "learn_ptr": learn,
            "hh_inc_ptr": self.hh_incentive if self.track else learn,
            "hh_priv_ptr": self.hh_private if self.track else learn,
            "part_ptr": part,
        }
        self._tk.launch_eg_round(args, n, k, self.posted, self.track)
        g.t += 1
        rows = part.permute(1, 2, 0).reshape(2 * k, programs)
        width = 1 << max(programs - 1, 0).bit_length()
        if width != programs:
            rows = torch.cat([rows, rows.new_zeros(2 * k, width - programs)], dim=1)
        host = _tree_sum_rows(rows).cpu().numpy().reshape(2, 1, k)
        counts, private = host[0], host[1]
        self.actions, self.learn = actions, learn
        self.version += 1
        return {
            "counts": counts,
            "private": private,
            "paid": counts * np.maximum(inc64[0], 0.0),
            "collected": counts * np.maximum(-inc64[0], 0.0),
        }

    # ------------------------------------------------------------ one round
    def play(self, incentives: np.ndarray, per_agent: bool, round_: int) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
        """One round with (K,) or (n, K) float64 incentives; returns device actions and the host (G, K) sums."""
        n, k, dev = self.n, self.k, self.device
        inc64 = np.ascontiguousarray(np.asarray(incentives, dtype=np.float64).reshape(-1, k))
        if self.fused is not None and not per_agent:
            actions_sums = self._play_fused(inc64, round_)
            return self.actions, actions_sums
        inc_dev = torch.from_numpy(np.ascontiguousarray(inc64.T)).to(dev)  # (K, 1) or (K, n) float64
        if self.posted:
            off = inc_dev.to(_F32)
        else:
            off = torch.zeros((k, 1), dtype=_F32, device=dev)
        actions = self.population.act_device(off)
        shock = self.population.taste_shocks()
        prev = self.actions
        if self.match is not None and shock is not None and prev is None:
            self.match = shock.clone()  # first round: everyone buys
        if prev is not None and self.switch_prob < 1.0:
            slo, shi = stream_key(self.reward_key, PURPOSE_SWITCH, round_)
            u = to_uniform(draw_bits(agent_base(int(slo), int(shi), _arange(n, dev)), 0))
            rechoose = u < self.switch_prob32
            if self.match is not None and shock is not None:
                self.match = torch.where(rechoose, shock, self.match)
            actions = torch.where(rechoose, actions, prev)
        elif self.match is not None and shock is not None:
            self.match = shock.clone()
        sums = self._realize(actions, inc_dev, per_agent, round_)
        self.population.update_device(actions, self.learn)
        self.actions = actions
        self.version += 1
        return actions, sums

    def _realize(self, actions: torch.Tensor, inc: torch.Tensor, per_inc: bool, round_: int) -> dict[str, np.ndarray]:
        """Payoffs, learning signals and the ledger sums (numba ``realize_kernel``)."""
        n, k, dev = self.n, self.k, self.device
        rlo, rhi = stream_key(self.reward_key, PURPOSE_REWARD, round_)
        bits = draw_bits(agent_base(int(rlo), int(rhi), _arange(n, dev)), 0)
        a = actions.unsqueeze(0)
        m = self.means.gather(0, a)[0] if self.per_means else self.means[:, 0][actions]
        if self.bernoulli:
            r = torch.where(to_uniform(bits) < m, 1.0, 0.0).to(_F32)
        else:
            r = m + self.noise[actions] * to_normal(bits)
        x = inc.gather(0, a)[0] if per_inc else inc[:, 0][actions]  # float64
        lrn = r if self.posted else (r.to(_F64) + x).to(_F32)
        if self.match is not None:
            r = r + self.match
            lrn = lrn + self.match
        self.learn = lrn
        r64 = r.to(_F64)
        if self.track:
            self.hh_incentive += x
            self.hh_private += r64
        gk = self.n_groups * k
        key = actions if self.groups is None else self.groups * k + actions
        rows = [torch.bincount(key, minlength=gk).to(_F64), keyed_block_sums(r64, key, gk)]
        if per_inc:
            rows.append(keyed_block_sums(torch.where(x > 0.0, x, 0.0), key, gk))
            rows.append(keyed_block_sums(torch.where(x < 0.0, -x, 0.0), key, gk))
        host = torch.stack(rows).cpu().numpy().reshape(len(rows), self.n_groups, k)
        counts, private = host[0], host[1]
        if per_inc:
            paid, collected = host[2], host[3]
        else:  # one vector for everyone: paid and collected follow from the counts (as in play_round)
            inc0 = inc[:, 0].cpu().numpy()
            paid = counts * np.maximum(inc0, 0.0)
            collected = counts * np.maximum(-inc0, 0.0)
        return {"counts": counts, "private": private, "paid": paid, "collected": collected}

    # ------------------------------------------------------------ host copies
    def actions_host(self) -> np.ndarray | None:
        """The last round's actions as a host int32 array (a device-to-host copy)."""
        return None if self.actions is None else self.actions.to(torch.int32).cpu().numpy()

    def learn_host(self) -> np.ndarray:
        """What each agent learned from in the last round, host float32 (n,)."""
        return self.learn.cpu().numpy()

    def sync_to_host(self, model: Any) -> None:
        """Copy learner state, match values and household totals into the model's host objects."""
        if self.synced_version == self.version:
            return
        self.synced_version = self.version
        self.population.sync_to_host()
        if self.match is not None and model._match is not None:
            model._match[...] = self.match.cpu().numpy()
        if isinstance(model.ledger, DeviceLedger):
            model.ledger._pull()


# ================================================================ memory check


def check_device_memory(
    estimate: dict[str, int],
    device: torch.device,
    *,
    n: int,
    k: int,
    mem_get_info: Callable[[torch.device], tuple[int, int]] | None = None,
) -> None:
    """Refuse, in one line, a population whose estimated bytes exceed the device's free memory.

    Only CUDA devices are checked (``torch-cpu`` uses host memory like the numba path).
    """
    if device.type != "cuda":
        return
    info = mem_get_info or torch.cuda.mem_get_info
    free, total = info(device)
    need = estimate["total"]
    if need > free:
        gib = 1024.0**3
        raise ValueError(
            f"a population of {n} agents x {k} actions needs about {need} bytes ({need / gib:.2f} GiB: "
            f"state {estimate['state'] / gib:.2f}, game {estimate['game'] / gib:.2f}, ledger "
            f"{estimate['ledger'] / gib:.2f}, round temporaries {estimate['work'] / gib:.2f}) on {device}, "
            f"but only {free} bytes ({free / gib:.2f} GiB) of {total / gib:.2f} GiB are free; "
            "use fewer agents, track_households=False, or device='cpu'"
        )
