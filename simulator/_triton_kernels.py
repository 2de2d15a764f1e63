"""Optional fused Triton kernel: one epsilon-greedy round (choose, pay, book, learn) per agent in one pass.

EXPERIMENTAL and opt-in (``DeviceSimulation.use_fused("triton")``; the throughput benchmark
times it beside the eager path when Triton imports). The tested reference is the torch-ops
path of :mod:`simulator._torch_backend`; this kernel must reproduce its actions bit for bit
(``tests/simulator/test_device_backend.py::test_fused_triton_matches_eager``, a ``gpu``
test). It was written on a machine without a GPU or Triton and has not been run here.

What the eager path does in about 150 kernels over whole-population tensors, this does in
one: each agent's K estimates and counts are read once, the counter-based hash runs in
native uint32 registers (wrapping products, logical shifts), the table normal is two
gathers, ties are broken with draw 2 exactly as the CPU rule, and each program writes the
(count, private-reward sum) of every action for its block of agents; the host side reduces
those partials in block order (a pairwise tree in float64). Float32 arithmetic is kept in
the rule's order: ``enable_fp_fusion=False`` (no FMA contraction) and ``tl.div_rn``
(IEEE division; Triton's ``/`` is a 2-ulp approximation). Per-block float64 sums use
``tl.sum``'s fixed order, so the ledger agrees with the eager path to float64 rounding.

Scope (anything else falls back to the eager path): one epsilon-greedy group, one household
group, one incentive vector for everyone, Gaussian rewards, no inertia, no taste shocks.
"""

from __future__ import annotations

import triton
import triton.language as tl

_div_rn = getattr(tl, "div_rn", None)
if _div_rn is None:  # older Triton: the libdevice function
    from triton.language.extra.cuda.libdevice import div_rn as _div_rn  # type: ignore[no-redef]

BLOCK_AGENTS = 1024


@triton.jit
def _fmix32(h):
    h = h ^ (h >> 16)
    h = h * 0x85EBCA6B
    h = h ^ (h >> 13)
    h = h * 0xC2B2AE35
    h = h ^ (h >> 16)
    return h


@triton.jit
def _uniform(bits):
    return (bits >> 8).to(tl.float32) * 5.9604644775390625e-08


@triton.jit(do_not_specialize=["n"])
def eg_round_kernel(
    q_ptr,  # float32 (K, n), action-major, updated in place
    cnt_ptr,  # float32 (K, n), updated in place
    eps_ptr,
    eps_stride,  # 0: one value for everyone, 1: per agent
    decay_ptr,
    decay_stride,
    lr_ptr,
    lr_stride,
    pw_ptr,
    pw_stride,
    t_ptr,  # float32 (1,): the learner's round, as float32
    off_ptr,  # float32 (K,): posted offsets (zeros when not posted)
    keys_ptr,  # int64 (4,): act stream klo, khi; reward stream rlo, rhi
    means_ptr,  # float32 (K, n) or (K, 1)
    means_row,  # n or 1: stride between actions
    means_col,  # 1 or 0: stride between agents
    noise_ptr,  # float32 (K,)
    inc_ptr,  # float64 (K,)
    table_ptr,  # float32 (4097,): the normal table
    act_ptr,  # int64 (n,) out
    learn_ptr,  # float32 (n,) out
    hh_inc_ptr,  # float64 (n,) in/out (when TRACK)
    hh_priv_ptr,
    part_ptr,  # float64 (programs, 2, K) out: counts, private sums
    n,
    K: tl.constexpr,
    POSTED: tl.constexpr,
    TRACK: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = offs < n
    n64 = n.to(tl.int64)
    klo = tl.load(keys_ptr).to(tl.uint32)
    khi = tl.load(keys_ptr + 1).to(tl.uint32)
    rlo = tl.load(keys_ptr + 2).to(tl.uint32)
    rhi = tl.load(keys_ptr + 3).to(tl.uint32)
    agent = offs.to(tl.uint32)

    # ---- draws of the act stream: 0 exploration coin, 1 exploration action, 2 tie break
    base = _fmix32(_fmix32(agent + klo) ^ khi)
    u_coin = _uniform(_fmix32(base))
    u_expl = _uniform(_fmix32(base + 0x9E3779B9))
    u_tie = _uniform(_fmix32(base + 0x3C6EF372))

    # ---- argmax of q + off: the CPU's select chain (first maximum, last maximum)
    best = tl.load(q_ptr + offs, mask=mask, other=0.0) + tl.load(off_ptr)
    a = tl.zeros([BLOCK], dtype=tl.int32)
    z = tl.zeros([BLOCK], dtype=tl.int32)
    for j in tl.static_range(1, K):
        v = tl.load(q_ptr + j * n64 + offs, mask=mask, other=0.0) + tl.load(off_ptr + j)
        gt = v > best
        z = tl.where(v >= best, j, z)
        a = tl.where(gt, j, a)
        best = tl.where(gt, v, best)
    # ties: the int(u * count)-th tied index in ascending order (u * count in float64)
    count = tl.zeros([BLOCK], dtype=tl.int32)
    for j in tl.static_range(K):
        v = tl.load(q_ptr + j * n64 + offs, mask=mask, other=0.0) + tl.load(off_ptr + j)
        count += (v == best).to(tl.int32)
    pick = (u_tie.to(tl.float64) * count.to(tl.float64)).to(tl.int32)
    rank = tl.zeros([BLOCK], dtype=tl.int32)
    sel = tl.zeros([BLOCK], dtype=tl.int32)
    for j in tl.static_range(K):
        v = tl.load(q_ptr + j * n64 + offs, mask=mask, other=0.0) + tl.load(off_ptr + j)
        eq = v == best
        sel = tl.where(eq & (rank == pick), j, sel)
        rank += eq.to(tl.int32)
    a = tl.where(a != z, sel, a)

    # ---- exploration: eps_t = eps / (1 + decay t)
    eps = tl.load(eps_ptr + offs * eps_stride, mask=mask, other=0.0)
    decay = tl.load(decay_ptr + offs * decay_stride, mask=mask, other=0.0)
    e = _div_rn(eps, 1.0 + decay * tl.load(t_ptr))
    x = tl.minimum((u_expl.to(tl.float64) * K).to(tl.int32), K - 1)
    act = tl.where(u_coin < e, x, a)

    # ---- payoffs: mean + noise * table normal (reward stream, draw 0)
    bits = _fmix32(_fmix32(_fmix32(agent + rlo) ^ rhi))
    idx = (bits >> 20).to(tl.int32)
    frac = ((bits >> 8) & 0xFFF).to(tl.float32) * 0.000244140625
    lo = tl.load(table_ptr + idx, mask=mask, other=0.0)
    hi = tl.load(table_ptr + idx + 1, mask=mask, other=0.0)
    rz = lo + frac * (hi - lo)
    act64 = act.to(tl.int64)
    m = tl.load(means_ptr + act64 * means_row + offs * means_col, mask=mask, other=0.0)
    r = m + tl.load(noise_ptr + act64, mask=mask, other=0.0) * rz
    inc = tl.load(inc_ptr + act64, mask=mask, other=0.0)
    if POSTED:
        lrn = r
    else:
        lrn = (r.to(tl.float64) + inc).to(tl.float32)
    r64 = r.to(tl.float64)
    if TRACK:
        tl.store(hh_inc_ptr + offs, tl.load(hh_inc_ptr + offs, mask=mask, other=0.0) + inc, mask=mask)
        tl.store(hh_priv_ptr + offs, tl.load(hh_priv_ptr + offs, mask=mask, other=0.0) + r64, mask=mask)
    for j in tl.static_range(K):
        chosen = mask & (act == j)
        tl.store(part_ptr + pid * (2 * K) + j, tl.sum(chosen.to(tl.float64), axis=0))
        tl.store(part_ptr + pid * (2 * K) + K + j, tl.sum(tl.where(chosen, r64, 0.0), axis=0))

    # ---- learning: sample average with prior pseudo-counts, or a constant step
    at = act64 * n64 + offs
    c = tl.load(cnt_ptr + at, mask=mask, other=0.0) + 1.0
    tl.store(cnt_ptr + at, c, mask=mask)
    lr = tl.load(lr_ptr + offs * lr_stride, mask=mask, other=0.0)
    pw = tl.load(pw_ptr + offs * pw_stride, mask=mask, other=1.0)
    step = tl.where(lr <= 0.0, _div_rn(tl.full([BLOCK], 1.0, tl.float32), pw + c), lr)
    qa = tl.load(q_ptr + at, mask=mask, other=0.0)
    tl.store(q_ptr + at, qa + step * (lrn - qa), mask=mask)
    tl.store(act_ptr + offs, act64, mask=mask)
    tl.store(learn_ptr + offs, lrn, mask=mask)


def launch_eg_round(args: dict, n: int, k: int, posted: bool, track: bool) -> int:
    """Launch :func:`eg_round_kernel` over ``n`` agents; returns the number of programs (partials rows)."""
    programs = triton.cdiv(n, BLOCK_AGENTS)
    eg_round_kernel[(programs,)](
        **args,
        n=n,
        K=k,
        POSTED=posted,
        TRACK=track,
        BLOCK=BLOCK_AGENTS,
        num_warps=4,
        enable_fp_fusion=False,
    )
    return programs
