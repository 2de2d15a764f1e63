"""The counter-based random streams (simulator/_rng.py, docs/design.md)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import simulator
from simulator import _rng


def test_numba_and_numpy_twins_agree() -> None:
    klo, khi = _rng.stream_key(123456789, _rng.PURPOSE_ACT, 7)
    agents = np.arange(0, 5000, 37)
    base_np = _rng.agent_base_np(klo, khi, agents)
    base_nb = np.array([_rng.agent_base(klo, khi, int(i)) for i in agents], dtype=np.uint32)
    assert_array_equal(base_np, base_nb)
    for d in (0, 1, 2, 3, 9):
        bits_np = _rng.draw_bits_np(base_np, d)
        bits_nb = np.array([_rng.draw_bits(b, d) for b in base_nb], dtype=np.uint32)
        assert_array_equal(bits_np, bits_nb)
        assert_array_equal(_rng.uniform_np(bits_np), np.array([_rng.to_uniform(b) for b in bits_nb]))
        assert_array_equal(_rng.normal_np(bits_np), np.array([_rng.to_normal(b) for b in bits_nb]))


def test_uniforms_are_uniform_and_in_unit_interval() -> None:
    klo, khi = _rng.stream_key(1, _rng.PURPOSE_REWARD, 0)
    u = _rng.uniform_np(_rng.draw_bits_np(_rng.agent_base_np(klo, khi, np.arange(200_000)), 1))
    assert u.dtype == np.float32
    assert u.min() >= 0.0 and u.max() < 1.0
    hist = np.histogram(u, bins=20, range=(0, 1))[0]
    expected = len(u) / 20
    chi2 = ((hist - expected) ** 2 / expected).sum()
    assert chi2 < 45.3  # 0.999 quantile of chi2(19)


def test_normal_transform_moments_exact() -> None:
    """The table normal over every cell (and 256 of the 4096 interpolation points of each, evenly spread):
    moments of N(0, 1) to about 1e-3, bounded at about 4."""
    bits = ((np.arange(2**20, dtype=np.uint64) << np.uint64(12)) + np.uint64(8 << 8)).astype(np.uint32)
    z = _rng.normal_np(bits).astype(np.float64)
    assert abs(z.mean()) < 1e-5
    assert abs(z.var() - 1.0) < 1e-3
    assert abs((z**3).mean()) < 1e-4
    assert abs((z**4).mean() - 3.0) < 3e-3
    assert 3.9 < z.max() < 4.1 and -4.1 < z.min() < -3.9


def test_streams_differ_by_purpose_round_and_agent() -> None:
    key = 42
    words = {(p, t) for p in (1, 2, 3, 4, 5) for t in range(50)}
    keys = {_rng.stream_key(key, p, t) for p, t in words}
    assert len(keys) == len(words)
    klo, khi = _rng.stream_key(key, 1, 0)
    u0 = _rng.uniform_np(_rng.draw_bits_np(_rng.agent_base_np(klo, khi, np.arange(100_000)), 0))
    u1 = _rng.uniform_np(_rng.draw_bits_np(_rng.agent_base_np(klo, khi, np.arange(100_000)), 1))
    klo2, khi2 = _rng.stream_key(key, 1, 1)
    v0 = _rng.uniform_np(_rng.draw_bits_np(_rng.agent_base_np(klo2, khi2, np.arange(100_000)), 0))
    for a, b in ((u0, u1), (u0, v0), (u0[:-1], u0[1:])):
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.015  # 4.7 standard errors at n = 1e5


def test_seed_key_needs_a_generator() -> None:
    with pytest.raises(ValueError, match=r"numpy\.random\.Generator"):
        _rng.seed_key_from(np.random.RandomState(0))


@pytest.mark.parametrize("family", ["epsilon_greedy", "thompson", "softmax", "roth_erev"])
def test_actions_do_not_depend_on_population_size_or_blocks(family: str) -> None:
    """Agent i's draws depend on (key, round, i) only: the first 100 agents of a 9000-agent learner
    (three kernel blocks) act exactly like a 100-agent learner with the same key."""
    small = simulator.make_learner(family, 100, 3, rng=np.random.default_rng(9))
    big = simulator.make_learner(family, 9000, 3, rng=np.random.default_rng(9))
    rng = np.random.default_rng(10)
    for _ in range(5):
        a_small, a_big = small.act(), big.act()
        assert_array_equal(a_small, a_big[:100])
        r = rng.normal(size=9000)
        small.update(a_small, r[:100])
        big.update(a_big, r)
