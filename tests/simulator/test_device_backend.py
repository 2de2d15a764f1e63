"""Device backend: the torch path chooses what the numba path chooses (docs/design.md).

``device="torch-cpu"`` runs the device code (:mod:`simulator._torch_backend`) on the CPU,
so these tests need no GPU. Measured on 10,000 agents x 200 rounds per family, the
mismatch rate (share of agent-rounds whose action differs from the numba path's) is 0 for
every family (see ``test_actions_match_numba``). The assertions are the contract:

* epsilon-greedy and Roth-Erev (only correctly rounded float32 arithmetic): identical;
* softmax and Thompson: mismatch rate < 1e-4 (differences only at floating-point near-ties);
* UCB1, EWA and best response: mismatch rate < 1e-3 and every round's choice shares within
  2e-3 (``exp``/``log`` of the C library (numba) and of the device may differ by an ulp, and
  an agent that chooses differently once follows its own path afterwards).

Ledger sums agree to float rounding; the device path is deterministic and independent of
the torch thread count. Tests that need a real GPU are marked ``gpu`` and skipped without one.
"""

from __future__ import annotations

import copy
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from simulator import IncentiveGame, IncentiveModel, make_learner
from simulator._device_memory import estimate_device_bytes
from simulator._rng import (
    PURPOSE_ACT,
    agent_base_np,
    draw_bits_np,
    normal_np,
    stream_key,
    uniform_np,
)
from simulator.population import Population
from tests.simulator.helpers import RandomPrincipal, SchedulePrincipal

torch = pytest.importorskip("torch")
TB = pytest.importorskip("simulator._torch_backend")

HAS_CUDA = torch.cuda.is_available()
NEEDS_GPU = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU: torch.cuda.is_available() is False")
NO_GPU = pytest.mark.skipif(HAS_CUDA, reason="checks the behaviour of a machine without a usable GPU")

N, ROUNDS, K = 10_000, 200, 4

# family -> (parameters, largest allowed mismatch rate, whether choice shares are checked per round)
FAMILIES: dict[str, tuple[dict[str, Any], float]] = {
    "epsilon_greedy": ({"epsilon": 0.1}, 0.0),
    "roth_erev": ({"experimentation": 0.1}, 0.0),
    "softmax": ({"temperature": 0.1}, 1e-4),
    "thompson": ({"sigma": 0.5}, 1e-4),
    "ucb1": ({"c": 0.5}, 1e-3),
    "ewa": ({"precision": 10.0, "delta": 0.5}, 1e-3),
    "best_response": ({"temperature": 0.2}, 1e-3),
}
SHARE_TOL = 2e-3


@pytest.fixture(autouse=True)
def single_torch_thread() -> Iterator[None]:
    """One torch thread, like the numba fixture: on a busy 2-core runner a second thread only waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def paired(device: str, rounds: int = ROUNDS, n: int = N, **kw: Any) -> dict[str, Any]:
    """Run the numba model and a device model with the same arguments side by side."""
    models = [IncentiveModel(n_agents=n, device=dev, **copy.deepcopy(kw)) for dev in ("cpu", device)]
    cpu, dev = models
    mismatches = 0
    share_diff = 0.0
    for _ in range(rounds):
        cpu.step()
        dev.step()
        mismatches += int((cpu.last_actions != dev.last_actions).sum())
        share_diff = max(share_diff, float(np.abs(cpu.ledger.last.counts - dev.ledger.last.counts).max()) / n)
    return {"cpu": cpu, "dev": dev, "rate": mismatches / (n * rounds), "share_diff": share_diff}


def ledger_arrays(model: IncentiveModel, what: str) -> np.ndarray:
    return np.array([getattr(r, what) for r in model.ledger.records])


# ---------------------------------------------------------------------------- the hash


def test_counter_hash_and_transforms_are_bit_identical() -> None:
    rng = np.random.default_rng(0)
    agents = np.concatenate([rng.integers(0, 2**32, 50_000), [0, 1, 2**31 - 1, 2**31, 2**32 - 1]]).astype(np.uint32)
    for seed_key, purpose, round_ in ((0, PURPOSE_ACT, 0), (2**63 - 1, 6, 10**9), (12345, 2, 7)):
        klo, khi = stream_key(seed_key, purpose, round_)
        base_np = agent_base_np(klo, khi, agents)
        base_t = TB.agent_base(int(klo), int(khi), torch.from_numpy(agents.astype(np.int64)))
        assert_array_equal(base_t.numpy().astype(np.uint32), base_np)
        for d in (0, 1, 2, 3, 11, 2**31):
            bits_np = draw_bits_np(base_np, d)
            bits_t = TB.draw_bits(base_t, d)
            assert_array_equal(bits_t.numpy().astype(np.uint32), bits_np)
            assert_array_equal(TB.to_uniform(bits_t).numpy(), uniform_np(bits_np))
            assert_array_equal(TB.to_normal(bits_t).numpy(), normal_np(bits_np))
            gumbel_u = ((bits_np >> np.uint32(9)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-23)
            assert_array_equal(TB.gumbel_uniform(bits_t).numpy(), gumbel_u)


def test_split_product_equals_wrapping_product() -> None:
    h = torch.tensor([0, 1, 0x7FFFFFFF, 0x80000000, 0xDEADBEEF, 0xFFFFFFFF], dtype=torch.int64)
    for c in (0x85EBCA6B, 0xC2B2AE35, 0x9E3779B9, 0xFFFFFFFF):
        want = [(int(x) * c) & 0xFFFFFFFF for x in h]
        assert TB._mul32_split(h, c).tolist() == want
    assert TB.wrapping_mul_ok("cpu")


def test_float32_maths_is_correctly_rounded() -> None:
    """sqrt from float64 is exact for float32 inputs; torch's own float32 sqrt is not on every CPU build."""
    x = np.random.default_rng(1).random(100_000).astype(np.float32) * 1000
    assert_array_equal(TB._sqrt32(torch.from_numpy(x)).numpy(), np.sqrt(x))


# ---------------------------------------------------------------- agreement with numba


@pytest.mark.parametrize("family", list(FAMILIES))
def test_actions_match_numba(family: str, record_property: Any) -> None:
    params, max_rate = FAMILIES[family]
    res = paired(
        "torch-cpu", n_actions=K, learner=family, learner_params=params, principal=RandomPrincipal(0.2), seed=7
    )
    record_property("mismatch_rate", res["rate"])
    print(f"{family}: mismatch rate {res['rate']:.2e} over {N} agents x {ROUNDS} rounds")
    assert res["rate"] <= max_rate
    if max_rate == 0.0:
        assert_array_equal(ledger_arrays(res["cpu"], "counts"), ledger_arrays(res["dev"], "counts"))
    else:
        assert res["share_diff"] <= SHARE_TOL
    if res["rate"] == 0.0:  # same choices: the ledger agrees to float64 rounding
        cpu, dev = res["cpu"], res["dev"]
        for what in ("private", "paid", "collected"):
            assert_allclose(ledger_arrays(dev, what), ledger_arrays(cpu, what), rtol=1e-12, atol=1e-9)
        assert_allclose(dev.ledger.hh_private, cpu.ledger.hh_private, rtol=1e-12, atol=1e-9)
        assert_array_equal(dev.sync_to_host().population.estimates(), cpu.population.estimates())


MIXTURE = [
    (0.4, "epsilon_greedy", {"epsilon": {"dist": "uniform", "low": 0.05, "high": 0.3}, "epsilon_decay": 0.01}),
    (0.3, "softmax", {"temperature": {"dist": "loguniform", "low": 0.05, "high": 1.0}}),
    (0.2, "thompson", {"sigma": 0.5, "initial_values": [0.0, {"dist": "uniform", "low": -1.0, "high": 0.0}, 0.0]}),
    (0.1, "roth_erev", {"experimentation": {"dist": "uniform", "low": 0.0, "high": 0.3}}),
]


def signed_game(**kw: Any) -> IncentiveGame:
    return IncentiveGame(
        payoff_means=kw.pop("means", [0.2, 0.5, 0.4]), noise=0.3, signed=True, principal_values=[1.0, 0, 0], **kw
    )


def test_heterogeneous_mixture_per_agent_incentives_and_groups() -> None:
    """Per-agent parameters, per-agent posted incentives, four household groups, noisy observation."""
    res = paired(
        "torch-cpu",
        rounds=60,
        n=6000,
        n_actions=3,
        learner=MIXTURE,
        principal=RandomPrincipal(per_agent=True),
        game=signed_game(),
        groups=np.arange(6000) % 4,
        observation="noisy",
        seed=3,
    )
    assert res["rate"] <= 1e-4
    cpu, dev = res["cpu"], res["dev"]
    if res["rate"] == 0.0:
        assert_array_equal(ledger_arrays(dev, "counts"), ledger_arrays(cpu, "counts"))
        for what in ("private", "paid", "collected"):
            assert_allclose(ledger_arrays(dev, what), ledger_arrays(cpu, what), rtol=1e-12, atol=1e-9)
    pd.testing.assert_frame_equal(
        dev.datacollector.get_model_vars_dataframe(),
        cpu.datacollector.get_model_vars_dataframe(),
        check_exact=False,
        rtol=1e-9,
    )


def test_taste_shocks_with_switching() -> None:
    """green_tax's households: Gumbel-max choice, persistent match values, fleet turnover."""
    res = paired(
        "torch-cpu",
        rounds=60,
        n=6000,
        n_actions=3,
        learner="best_response",
        learner_params={"temperature": 0.5, "taste_shocks": 1},
        principal=RandomPrincipal(),
        game=signed_game(switch_prob=0.2),
        seed=5,
    )
    assert res["rate"] <= 1e-4
    cpu, dev = res["cpu"], res["dev"]
    # the shocks go through log(-log u): an ulp apart at most, so the sums agree to float32 rounding
    assert_allclose(ledger_arrays(dev, "private"), ledger_arrays(cpu, "private"), rtol=1e-6, atol=1e-3)
    dev.sync_to_host()
    assert_allclose(dev._match, cpu._match, rtol=1e-6, atol=1e-6)


def test_unposted_bernoulli_rewards() -> None:
    res = paired(
        "torch-cpu",
        rounds=60,
        n=6000,
        n_actions=3,
        learner="ewa",
        learner_params={"precision": 5.0, "delta": 0.5},
        principal=RandomPrincipal(0.2),
        game=IncentiveGame(payoff_means=[0.2, 0.5, 0.4], noise_kind="bernoulli", posted=False, signed=True),
        seed=9,
    )
    assert res["rate"] <= 1e-3
    assert res["share_diff"] <= SHARE_TOL


def test_argmax_ties_are_broken_like_the_cpu() -> None:
    """Equal means: every agent has a K-way tie each round, broken by draw 2."""
    res = paired(
        "torch-cpu",
        rounds=20,
        n=5000,
        n_actions=5,
        learner="best_response",
        game=IncentiveGame(payoff_means=0.5),
        seed=2,
    )
    assert res["rate"] == 0.0
    shares = res["dev"].ledger.last.counts.sum(axis=0) / 5000
    assert np.all(np.abs(shares - 0.2) < 0.03)  # ties broken uniformly


def test_observations_match() -> None:
    schedule = [np.array([0.0, 0.3, 0.1]), np.array([0.2, 0.0, 0.0])]
    for setting in ("full", "actions", "shares"):
        seen = []
        for device in ("cpu", "torch-cpu"):
            principal = SchedulePrincipal(schedule)
            IncentiveModel(500, 3, "softmax", principal=principal, seed=1, observation=setting, device=device).run(4)
            seen.append(principal.observations)
        for a, b in zip(*seen, strict=True):
            assert a.round == b.round
            assert_array_equal(a.shares, b.shares)
            for field in ("actions", "rewards"):
                x, y = getattr(a, field), getattr(b, field)
                assert (x is None) == (y is None)
                if x is not None:
                    assert_array_equal(x, y)


def test_fork_and_views_of_a_device_model() -> None:
    kw = {"n_agents": 300, "n_actions": 3, "learner": "thompson", "seed": 4}
    cpu, dev = IncentiveModel(**kw).run(5), IncentiveModel(**kw, device="torch-cpu").run(5)
    inc = np.array([0.0, 0.2, 0.1])
    assert_array_equal(dev.fork().step(inc)["counts"], cpu.fork().step(inc)["counts"])
    agent = next(a for a in dev.agents if a.index == 17)
    assert agent.state == next(a for a in cpu.agents if a.index == 17).state
    assert agent.action == int(cpu.last_actions[17])
    dev.run(2)  # the device keeps stepping after a sync
    cpu.run(2)
    assert_array_equal(dev.last_actions, cpu.last_actions)


def test_population_to_torch() -> None:
    learners = [
        ("eg", make_learner("epsilon_greedy", 700, 3, rng=np.random.default_rng(1))),
        ("re", make_learner("roth_erev", 300, 3, rng=np.random.default_rng(2))),
    ]
    host = Population(learners)
    twin = Population(copy.deepcopy(learners))
    dev = twin.to_torch("cpu")
    rng = np.random.default_rng(3)
    for _ in range(10):
        off = rng.normal(0, 0.3, 3)
        a = host.act(off)
        assert_array_equal(dev.act(off).numpy(), a)
        r = rng.normal(0.5, 0.2, 1000).astype(np.float32)
        host.update(a, r)
        dev.update(a, r)
    dev.sync_to_host()
    assert_array_equal(twin.estimates(), host.estimates())
    assert [lr.t for lr in twin.learners] == [lr.t for lr in host.learners]


# ---------------------------------------------------------------------- determinism


def run_digest(threads: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    torch.set_num_threads(threads)
    model = IncentiveModel(
        5000, 3, MIXTURE, principal=RandomPrincipal(), seed=seed, game=signed_game(), device="torch-cpu"
    ).run(15)
    return (
        model.datacollector.get_model_vars_dataframe(),
        model.ledger.hh_private.copy(),
        model.sync_to_host().population.estimates(),
    )


def test_same_seed_same_bits_any_thread_count() -> None:
    a, b, c = run_digest(1), run_digest(1), run_digest(2)
    for other in (b, c):
        pd.testing.assert_frame_equal(a[0], other[0], check_exact=True)
        assert_array_equal(a[1], other[1])
        assert_array_equal(a[2], other[2])
    d = run_digest(1, seed=1)
    assert not a[0].equals(d[0])


def test_block_sums_fixed_order() -> None:
    rng = np.random.default_rng(0)
    n = 3 * 4096 + 123
    vals = torch.from_numpy(rng.normal(0, 1e3, n))
    key = torch.from_numpy(rng.integers(0, 6, n))
    got = TB.keyed_block_sums(vals, key, 6).numpy()
    want = np.array([vals.numpy()[key.numpy() == c].sum() for c in range(6)])
    assert_allclose(got, want, rtol=1e-12)
    torch.set_num_threads(2)
    assert_array_equal(TB.keyed_block_sums(vals, key, 6).numpy(), got)


# ------------------------------------------------------------------------ bad input


@NO_GPU
def test_cuda_without_gpu_is_one_line_error() -> None:
    with pytest.raises(ValueError, match="needs a usable CUDA GPU") as err:
        IncentiveModel(100, 3, device="cuda")
    assert "\n" not in str(err.value)


@NO_GPU
def test_auto_without_gpu_runs_numba_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="simulator.model"):
        model = IncentiveModel(100, 3, device="auto")
    assert model.device == "cpu" and model._device_sim is None
    assert any("device='auto'" in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", 0, "metal"])
def test_unknown_device_is_refused(device: Any) -> None:
    with pytest.raises(ValueError, match="device must be one of"):
        IncentiveModel(100, 3, device=device)


def test_population_too_large_for_the_gpu_is_refused_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """The estimate is compared with torch.cuda.mem_get_info() before anything is built."""
    gib = 1024**3
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * gib, 80 * gib))
    with pytest.raises(ValueError, match=r"needs about \d+ bytes .* but only 2147483648 bytes") as err:
        IncentiveModel(n_agents=10**9, n_actions=5, device="cuda")  # would take minutes to build if not refused
    assert "\n" not in str(err.value)
    est = estimate_device_bytes(10**6, 5, [("epsilon_greedy", 10**6, 0)])
    assert est["state"] == 40 * 10**6 and est["total"] > est["state"] + est["game"]


def test_custom_learner_is_refused_on_a_device() -> None:
    with pytest.raises(ValueError, match="has no device rule"):
        IncentiveModel(50, 3, "tests.simulator.helpers:MyLearner", device="torch-cpu")


def test_cpu_model_does_not_import_torch() -> None:
    code = (
        "import sys, simulator; simulator.IncentiveModel(200, 3, seed=0, device='cpu').run(2); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------- real GPU


@pytest.mark.gpu
@NEEDS_GPU
@pytest.mark.parametrize("family", list(FAMILIES))
def test_cuda_actions_match_numba(family: str, record_property: Any) -> None:
    params, max_rate = FAMILIES[family]
    res = paired("cuda", n_actions=K, learner=family, learner_params=params, principal=RandomPrincipal(0.2), seed=7)
    record_property("mismatch_rate", res["rate"])
    print(f"cuda {family}: mismatch rate {res['rate']:.2e} over {N} agents x {ROUNDS} rounds")
    assert res["rate"] <= max_rate
    if max_rate:
        assert res["share_diff"] <= SHARE_TOL


@pytest.mark.gpu
@NEEDS_GPU
def test_cuda_equals_torch_cpu_bit_for_bit() -> None:
    """Same device code: the same actions and the same float64 ledger bits (fixed-order tree sums)."""
    kw = {"n_agents": 20_000, "n_actions": 3, "learner": MIXTURE, "principal": None, "seed": 1, "game": signed_game()}
    cpu_t = IncentiveModel(**copy.deepcopy(kw), device="torch-cpu")
    gpu = IncentiveModel(**copy.deepcopy(kw), device="cuda")
    for _ in range(30):
        cpu_t.step()
        gpu.step()
        assert_array_equal(gpu.last_actions, cpu_t.last_actions)
        for what in ("counts", "private", "paid", "collected"):
            assert_array_equal(getattr(gpu.ledger.last, what), getattr(cpu_t.ledger.last, what))
    assert_array_equal(gpu.ledger.hh_private, cpu_t.ledger.hh_private)


@pytest.mark.gpu
@NEEDS_GPU
def test_cuda_refuses_a_population_beyond_its_memory() -> None:
    free, _ = torch.cuda.mem_get_info()
    n = int(free // 40) + 1  # epsilon-greedy state alone is 8 K = 40 bytes per agent at K = 5
    with pytest.raises(ValueError, match="needs about"):
        IncentiveModel(n_agents=n, n_actions=5, device="cuda")


@pytest.mark.gpu
@NEEDS_GPU
def test_cuda_deterministic() -> None:
    runs = [IncentiveModel(100_000, 5, "softmax", seed=3, device="cuda").run(10) for _ in range(2)]
    pd.testing.assert_frame_equal(
        runs[0].datacollector.get_model_vars_dataframe(), runs[1].datacollector.get_model_vars_dataframe()
    )
    assert_array_equal(runs[0].last_actions, runs[1].last_actions)


@pytest.mark.gpu
@NEEDS_GPU
def test_fused_triton_matches_eager() -> None:
    """The optional fused epsilon-greedy kernel reproduces the eager torch path (experimental)."""
    pytest.importorskip("triton", reason="the fused kernel needs Triton")
    schedule = [np.array([0.0, 0.1, 0.0, 0.05, 0.0]), np.zeros(5)]
    kw = {"n_agents": 50_000, "n_actions": 5, "learner_params": {"epsilon": 0.2}, "seed": 2, "device": "cuda"}
    eager = IncentiveModel(principal=SchedulePrincipal(schedule), **kw)
    fused = IncentiveModel(principal=SchedulePrincipal(schedule), **kw)
    ok, why = fused._device_sim.use_fused("triton")
    assert ok, why
    for _ in range(20):
        eager.step()
        fused.step()
        assert_array_equal(fused.last_actions, eager.last_actions)
        assert_array_equal(fused.ledger.last.counts, eager.ledger.last.counts)
        assert_allclose(fused.ledger.last.private, eager.ledger.last.private, rtol=1e-12)
    assert_array_equal(fused.sync_to_host().population.estimates(), eager.sync_to_host().population.estimates())
    assert_allclose(fused.ledger.hh_private, eager.ledger.hh_private, rtol=1e-12)


def test_fused_kernel_is_refused_off_cuda() -> None:
    model = IncentiveModel(100, 3, device="torch-cpu")
    ok, why = model._device_sim.use_fused("triton")
    assert not ok and "CUDA" in why
    model.run(2)  # the eager path still runs


@pytest.mark.slow
def test_agreement_at_scale_all_families() -> None:
    """100,000 agents (the one-pass kernels' size) x 40 rounds per family (about half a minute)."""
    for family, (params, max_rate) in FAMILIES.items():
        res = paired("torch-cpu", rounds=40, n=100_000, n_actions=5, learner=family, learner_params=params, seed=13)
        assert res["rate"] <= max_rate, family
