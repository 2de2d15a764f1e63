"""Throughput, determinism, memory and profile of the vectorized simulator (a benchmark, not a test).

Run ``python -m benchmarks.throughput`` (``--help`` lists the options). In one run it measures:

(a) agent-steps per second of :class:`simulator.IncentiveModel` (epsilon-greedy agents,
    default game, no principal) with the DataCollector every round and every 10th round,
    after a warm-up; numba's first-call cost is reported separately (``compile_s``, and a
    truly cold compile in a subprocess with an empty numba cache, ``compile_cold_s``);
(b) the same agents as a plain per-agent Mesa model (:mod:`benchmarks.mesa_baseline`) at a
    size it can handle, and the speed-up of (a) over it;
(c) the other learner families at the same size, as agent-steps per second and slowdown
    against epsilon-greedy, and every family against a minimal fused epsilon-greedy kernel
    (:mod:`benchmarks.reference_kernel`), all timed round-robin so that drift hits all alike;
(d) determinism: same seed twice, and numba threads 1 vs 2, compared on the per-round
    choice shares and on a digest of the final actions and estimates;
(e) memory: the model's own arrays (sum of ``nbytes``, by category) and process RSS;
(f) a cProfile of a few rounds, as a table of the top entries and a breakdown by phase;
(g) meta-training throughput (environment steps per second of the MERMAIDE training loop,
    :mod:`benchmarks.train_time`), beside the step speed.

With ``--device cuda`` (or ``torch-cpu``, or ``auto`` when it finds a GPU) the population steps
on that device instead (:mod:`simulator._torch_backend`) and the run measures, instead of (a)-(f):
the device model at every ``--agents`` size, the numba CPU path at ``--cpu-agents`` timed
round-robin with the device at that size, the other families on the device, the share of actions
that differ from the numba path's (per family), and device determinism (see :func:`run_device`).

Everything prints as one JSON document on stdout (progress goes to stderr) and is written
to ``--out FILE.json`` when given. See ``benchmarks/README.md`` for how to read it.
Timings on a shared machine are noisy: compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import hashlib
import json
import math
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import mesa
import numba
import numpy as np
import psutil

import simulator
from benchmarks.mesa_baseline import MesaGreedyModel
from benchmarks.reference_kernel import ReferenceEpsilonGreedy
from simulator import LEARNERS, IncentiveModel
from simulator.model import resolve_device

__all__ = ["main", "model_state_bytes", "parse_sizes"]

BASELINE_FAMILY = "epsilon_greedy"
REFERENCE = "reference"
OTHER_FAMILIES = tuple(name for name in LEARNERS if name != BASELINE_FAMILY)
STATE_TARGET_MB = 60.0
"""The model's own arrays at 1M agents, K = 5 (issue 19)."""
FAMILY_SLOWDOWN_TARGET = 2.0
"""Every family within this factor of epsilon-greedy's round time."""
REFERENCE_TARGET = 0.8
"""Epsilon-greedy's model round at least this fraction of the reference kernel's speed."""
CORES_TARGET = 1.7
"""The speed-up of a round on 2 threads over 1 thread (same results: the determinism section checks them)."""
MB = 1024.0 * 1024.0

# Defaults of a full run and of --quick; an option given on the command line wins over both.
FULL = {
    "agents": [1_000_000],
    "rounds": 10,
    "repeats": 15,
    "warmup": 3,
    "mesa_agents": 20_000,
    "mesa_rounds": 12,
    "profile_rounds": 20,
    "determinism_rounds": 5,
    "cold_compile": True,
    "threads": None,
    "train_iterations": 10,
}
QUICK = {
    "agents": [2_000],
    "rounds": 4,
    "repeats": 3,
    "warmup": 1,
    "mesa_agents": 300,
    "mesa_rounds": 3,
    "profile_rounds": 3,
    "determinism_rounds": 2,
    "cold_compile": False,
    "threads": 1,  # tiny kernels on a busy machine: a second thread only adds waiting (see README, Noise)
    "train_iterations": 0,
}


# ----------------------------------------------------------------- command line
class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one line ``error: ...`` and exits with code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\n")


def parse_sizes(text: str) -> list[int]:
    """Parse ``"1e6"``, ``"100000"`` or a comma-separated list of those into positive integers."""
    sizes = []
    for part in text.split(","):
        part = part.strip().replace("_", "")
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {part!r}") from None
        if not math.isfinite(value) or value != int(value) or value < 1:
            raise argparse.ArgumentTypeError(f"agent counts must be whole numbers >= 1, got {part!r}")
        sizes.append(int(value))
    return sizes


def _positive_int(text: str) -> int:
    try:
        value = parse_sizes(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("agent counts", "values")) from None
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"expected one number, got {text!r}")
    return value[0]


def _families(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LEARNERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown learner family {', '.join(unknown)}; known: {', '.join(LEARNERS)}")
    return [name for name in dict.fromkeys(names) if name != BASELINE_FAMILY]


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="python -m benchmarks.throughput",
        description="Agent-steps per second of the vectorized IncentiveModel against a per-agent Mesa model, "
        "per learner family, with determinism, memory and profile checks. Prints JSON.",
    )
    parser.add_argument("--agents", type=parse_sizes, help="agent counts, e.g. 1e6 or 1e5,1e6 (default 1e6)")
    parser.add_argument("--actions", type=_positive_int, default=5, help="number of actions K (default 5)")
    parser.add_argument("--rounds", type=_positive_int, help="rounds per timed repeat (default 10)")
    parser.add_argument(
        "--repeats", type=_positive_int, help="timed repeats; median and best are reported (default 15)"
    )
    parser.add_argument("--warmup", type=_positive_int, help="untimed rounds after the first (default 3)")
    parser.add_argument(
        "--threads", type=_positive_int, help="numba threads (default: all numba may use; 1 with --quick)"
    )
    parser.add_argument(
        "--families",
        type=_families,
        help=f"learner families to compare with epsilon_greedy (default {','.join(OTHER_FAMILIES)})",
    )
    parser.add_argument("--mesa-agents", type=_positive_int, help="agents of the per-agent Mesa model (default 2e4)")
    parser.add_argument("--mesa-rounds", type=_positive_int, help="Mesa rounds per timed repeat (default 12)")
    parser.add_argument("--profile-rounds", type=_positive_int, help="rounds under cProfile (default 20)")
    parser.add_argument("--determinism-rounds", type=_positive_int, help="rounds of each determinism run (default 5)")
    parser.add_argument(
        "--cold-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time a cold numba compile in a subprocess with an empty cache (default on, off with --quick)",
    )
    parser.add_argument(
        "--train-iterations",
        type=int,
        help="meta-training updates timed in section (g); 0 skips it (default 10, 0 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test (a few seconds)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every model (default 0)")
    parser.add_argument(
        "--device",
        default="cpu",
        help="where the population steps: cpu (numba, default), cuda, cuda:N, auto (cuda if usable), torch-cpu",
    )
    parser.add_argument(
        "--cpu-agents",
        type=_positive_int,
        help="with a device: agents of the numba CPU reference timed in the same run (default 1e6, 2e3 with --quick)",
    )
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    return parser


def _resolve(args: argparse.Namespace) -> argparse.Namespace:
    base = QUICK if args.quick else FULL
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.threads is None:
        args.threads = numba.get_num_threads()
    if args.families is None:
        args.families = list(OTHER_FAMILIES)
    return args


def _log(message: str) -> None:
    print(f"[throughput] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------- helpers
def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MB


def _top_level_packages() -> set[str]:
    return {name.partition(".")[0] for name in list(sys.modules)}


def _load() -> float:
    """One-minute load average (other work on the machine inflates the timings)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - platforms without getloadavg
        return float("nan")


def _timed(model: mesa.Model, rounds: int) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``rounds`` steps."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        model.step()
    return time.perf_counter() - t0, time.process_time() - c0


def _run_rounds(model: mesa.Model, rounds: int) -> float:
    return _timed(model, rounds)[0]


def _repeats(model: mesa.Model, rounds: int, repeats: int) -> list[tuple[float, float]]:
    return [_timed(model, rounds) for _ in range(repeats)]


def _rate(n_agents: int, rounds: int, samples: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Summary of timed repeats (wall, cpu): median and best ms per round and agent-steps per second.

    ``cpu_per_wall`` is process CPU time over wall time (median over repeats): about
    the number of busy threads; well below the thread count means the run waited
    for CPUs that other work held.
    """
    seconds = [wall for wall, _ in samples]
    med, best = statistics.median(seconds), min(seconds)
    return {
        "agents": n_agents,
        "rounds_per_repeat": rounds,
        "repeats": len(seconds),
        "ms_per_round": med / rounds * 1e3,
        "ms_per_round_min": best / rounds * 1e3,
        "ms_per_round_max": max(seconds) / rounds * 1e3,
        "agent_steps_per_s": n_agents * rounds / med,
        "agent_steps_per_s_best": n_agents * rounds / best,
        "cpu_per_wall": statistics.median(cpu / wall for wall, cpu in samples),
    }


def _build(
    n: int, k: int, family: str, seed: int, collect_every: int = 1, device: str = "cpu"
) -> tuple[IncentiveModel, float]:
    t0 = time.perf_counter()
    model = IncentiveModel(
        n_agents=n, n_actions=k, learner=family, seed=seed, collect_every=collect_every, device=device
    )
    return model, time.perf_counter() - t0


# ------------------------------------------------------------------ (e) memory
def _owner(arr: np.ndarray) -> np.ndarray:
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def _category(path: str) -> str:
    if path.startswith("population.learners"):
        return "learner_params" if ".p[" in path else "learner_state"
    if path.startswith("population."):
        return "population_index"
    if path.startswith("game."):
        return "game"
    if path.startswith("ledger.hh_"):
        return "ledger_households"
    if path.startswith("ledger."):
        return "ledger_rounds"
    return "buffers"


def model_state_bytes(model: IncentiveModel) -> dict[str, Any]:
    """Sum the ``nbytes`` of every numpy array the model holds, by category.

    Walks the model's attributes (dicts, lists, tuples and objects of the
    ``simulator`` and ``policies`` packages), counting each memory buffer once
    (views count as their owner). Mesa's own bookkeeping (agent sets, the
    DataCollector's lists, the generators) holds no arrays and is skipped.

    Returns:
        ``total_bytes``, ``total_mb``, ``by_category`` (MB) and ``largest``
        (the biggest arrays with their attribute paths).
    """
    skip = {"_agents", "_agents_by_type", "_all_agents", "datacollector", "rng", "random", "_rng", "_seed"}
    seen_objects: set[int] = set()
    owners: dict[int, tuple[str, np.ndarray]] = {}

    def visit(obj: Any, path: str) -> None:
        if isinstance(obj, np.ndarray):
            owner = _owner(obj)
            owners.setdefault(id(owner), (path, owner))
            return
        if id(obj) in seen_objects or isinstance(obj, str | bytes | int | float | bool | type(None)):
            return
        seen_objects.add(id(obj))
        if isinstance(obj, dict):
            for key, value in obj.items():
                visit(value, f"{path}[{key!r}]")
        elif isinstance(obj, list | tuple):
            for j, value in enumerate(obj):
                visit(value, f"{path}[{j}]")
        elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("simulator", "policies"):
            for key, value in vars(obj).items():
                visit(value, f"{path}.{key}" if path else key)

    for key, value in vars(model).items():
        if key not in skip:
            # properties keep their data in _population / _last_actions: report them by their public names
            visit(value, key[1:] if key in ("_population", "_last_actions") else key)

    by_category: dict[str, int] = {}
    for path, arr in owners.values():
        cat = _category(path)
        by_category[cat] = by_category.get(cat, 0) + arr.nbytes
    total = sum(by_category.values())
    largest = sorted(owners.values(), key=lambda item: -item[1].nbytes)[:10]
    return {
        "total_bytes": total,
        "total_mb": total / MB,
        "by_category_mb": {cat: b / MB for cat, b in sorted(by_category.items(), key=lambda kv: -kv[1])},
        "largest": [
            {"path": path, "shape": list(arr.shape), "dtype": str(arr.dtype), "mb": arr.nbytes / MB}
            for path, arr in largest
        ],
        "n_arrays": len(owners),
    }


# --------------------------------------------------------- (a) vectorized model
def bench_vectorized(n: int, args: argparse.Namespace, *, with_memory: bool) -> dict[str, Any]:
    """Time the epsilon-greedy IncentiveModel at ``n`` agents.

    Three settings, timed round-robin in every repeat so that a busy spell of
    the machine hits all of them: the DataCollector every round (the headline),
    every 10th round, and (when numba has more than one thread) every round on
    one thread, the fair comparison with the single-threaded Mesa baseline.
    """
    out: dict[str, Any] = {"load_avg_1m_start": _load()}
    gc.collect()
    rss_before = _rss_mb()
    model, init_s = _build(n, args.actions, BASELINE_FAMILY, args.seed)
    first_s = _run_rounds(model, 1)
    _run_rounds(model, args.warmup)
    if with_memory:
        rss_after = _rss_mb()
        out["memory"] = {
            "agents": n,
            "actions": args.actions,
            "model_state": model_state_bytes(model),
            "rss_before_model_mb": rss_before,
            "rss_after_warmup_mb": rss_after,
            "rss_delta_mb": rss_after - rss_before,
            "peak_rss_after_warmup_mb": _peak_rss_mb(),
        }
    model10, _ = _build(n, args.actions, BASELINE_FAMILY, args.seed, collect_every=10)
    _run_rounds(model10, 1 + args.warmup)
    rounds = 10 * math.ceil(args.rounds / 10)  # whole collection periods per repeat
    threads = numba.get_num_threads()
    settings = ["collect_every_1", "collect_every_10"] + (["collect_every_1_threads_1"] if threads > 1 else [])
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in settings}
    try:
        for _ in range(args.repeats):
            for name in settings:
                numba.set_num_threads(1 if name.endswith("threads_1") else threads)
                samples[name].append(_timed(model10 if name == "collect_every_10" else model, rounds))
    finally:
        numba.set_num_threads(threads)
    del model, model10
    gc.collect()
    for name in settings:
        out[name] = _rate(n, rounds, samples[name])
    every_1 = out["collect_every_1"]
    every_1.update(init_s=init_s, first_step_s=first_s, compile_s=max(first_s - every_1["ms_per_round"] / 1e3, 0.0))
    paired = [
        t10 / t1 for (t1, _), (t10, _) in zip(samples["collect_every_1"], samples["collect_every_10"], strict=True)
    ]
    out["datacollector_share"] = 1.0 - statistics.median(paired) if len(paired) else float("nan")
    out["threads"] = threads
    out["load_avg_1m_end"] = _load()
    return out


_COLD_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import simulator
t1 = time.perf_counter()
m = simulator.IncentiveModel(n_agents=1000, n_actions=int(sys.argv[1]), learner=sys.argv[2], seed=0)
t2 = time.perf_counter()
m.step()
t3 = time.perf_counter()
m.step()
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_step_s": t3 - t2, "second_step_s": t4 - t3}))
"""


def bench_cold_compile(k: int, family: str = BASELINE_FAMILY) -> dict[str, Any]:
    """First-step time of a fresh interpreter with an empty numba cache (a true compile)."""
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        proc = subprocess.run(
            [sys.executable, "-c", _COLD_SCRIPT, str(k), family],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["compile_cold_s"] = max(res["first_step_s"] - res["second_step_s"], 0.0)
    res["family"] = family
    return res


# ------------------------------------------------------------ (b) Mesa baseline
def _last_shares(df: Any, k: int) -> list[float]:
    return [float(df[f"share_a{j}"].iloc[-1]) for j in range(k)]


def bench_mesa(args: argparse.Namespace) -> dict[str, Any]:
    """Time the per-agent Mesa model, and the vectorized model at the same size for a same-size ratio."""
    m, k = args.mesa_agents, args.actions
    load0 = _load()
    t0 = time.perf_counter()
    model = MesaGreedyModel(m, k, seed=args.seed)
    init_s = time.perf_counter() - t0
    _run_rounds(model, 1)
    res = _rate(m, args.mesa_rounds, _repeats(model, args.mesa_rounds, args.repeats))
    res.update(init_s=init_s, load_avg_1m_start=load0, load_avg_1m_end=_load())
    total_rounds = 1 + args.mesa_rounds * args.repeats
    mesa_shares = _last_shares(model.datacollector.get_model_vars_dataframe(), k)
    del model
    gc.collect()

    vec, _ = _build(m, k, BASELINE_FAMILY, args.seed)
    _run_rounds(vec, 1)
    same_size = _rate(m, args.mesa_rounds, _repeats(vec, args.mesa_rounds, args.repeats))
    vec_shares = _last_shares(vec.datacollector.get_model_vars_dataframe(), k)
    del vec
    gc.collect()
    res["vectorized_same_size"] = same_size
    res["speedup_same_size"] = same_size["agent_steps_per_s"] / res["agent_steps_per_s"]
    res["share_check"] = {
        "note": "last-round choice shares after the same number of rounds; different random streams, so close, "
        "not equal (sampling sd of a share is about 0.5/sqrt(agents))",
        "rounds": total_rounds,
        "mesa": mesa_shares,
        "vectorized": vec_shares,
        "max_abs_diff": max(abs(a - b) for a, b in zip(mesa_shares, vec_shares, strict=True)),
    }
    return res


# ---------------------------------------------------------- (c) learner families
def bench_families(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """All families at ``n`` agents and the reference kernel, timed round-robin in every repeat.

    The slowdown of a family is the median over repeats of its time divided by
    epsilon-greedy's time in the same repeat (paired, so slow phases of a busy
    machine hit both); the ratio of the best times is reported beside it.
    ``speed_vs_reference`` is, likewise, the median over repeats of the reference
    kernel's time over the family's time: the model's speed as a share of a minimal
    fused epsilon-greedy kernel's at the same size, threads and process.
    """
    names = [BASELINE_FAMILY, *args.families]
    models: dict[str, IncentiveModel] = {}
    res: dict[str, dict[str, Any]] = {}
    for name in names:
        model, init_s = _build(n, args.actions, name, args.seed)
        first_s = _run_rounds(model, 1)
        _run_rounds(model, args.warmup)
        models[name] = model
        res[name] = {"init_s": init_s, "first_step_s": first_s}
    ref = ReferenceEpsilonGreedy(n, args.actions, args.seed)
    for _ in range(1 + args.warmup):
        ref.step()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in [*names, REFERENCE]}
    for _ in range(args.repeats):
        for name in names:
            samples[name].append(_timed(models[name], args.rounds))
        samples[REFERENCE].append(_timed(ref, args.rounds))
    for name in names:
        res[name]["kernel_ms_per_round"] = _kernel_split(models[name], max(args.rounds // 3, 1))
    models.clear()
    del ref
    gc.collect()
    base = [wall for wall, _ in samples[BASELINE_FAMILY]]
    ref_walls = [wall for wall, _ in samples[REFERENCE]]
    for name in names:
        rate = _rate(n, args.rounds, samples[name])
        walls = [wall for wall, _ in samples[name]]
        paired = statistics.median(t / b for t, b in zip(walls, base, strict=True))
        vs_ref = statistics.median(r / t for t, r in zip(walls, ref_walls, strict=True))
        res[name].update(rate)
        res[name].update(
            compile_s=max(res[name]["first_step_s"] - rate["ms_per_round"] / 1e3, 0.0),
            slowdown_vs_epsilon_greedy=paired,
            slowdown_best_vs_epsilon_greedy=min(walls) / min(base),
            ratio_to_epsilon_greedy=1.0 / paired,
            within_target=paired <= FAMILY_SLOWDOWN_TARGET,
            speed_vs_reference=vs_ref,
            speed_best_vs_reference=min(ref_walls) / min(walls),
        )
    res[REFERENCE] = {
        **_rate(n, args.rounds, samples[REFERENCE]),
        "what": "benchmarks.reference_kernel: a minimal fused epsilon-greedy round (same hash stream, float32 "
        "estimates and counts, per-agent means, per-block choice and reward sums; no ledger, household totals, "
        "offsets or DataCollector)",
    }
    return res


# ----------------------------------------------------------------- (d) determinism
def _determinism_run(n: int, k: int, seed: int, rounds: int, threads: int) -> tuple[np.ndarray, str]:
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        model, _ = _build(n, k, BASELINE_FAMILY, seed)
        _run_rounds(model, rounds)
    finally:
        numba.set_num_threads(previous)
    df = model.datacollector.get_model_vars_dataframe()
    shares = df[[f"share_a{j}" for j in range(k)]].to_numpy()
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(model.last_actions).tobytes())
    digest.update(np.ascontiguousarray(model.population.estimates()).tobytes())
    digest.update(np.ascontiguousarray(model.ledger.hh_private).tobytes())
    del model
    gc.collect()
    return shares, digest.hexdigest()[:16]


def bench_determinism(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Same seed twice; numba threads 1 vs 2; and a different seed (which must differ)."""
    k, rounds, seed, threads = args.actions, args.determinism_rounds, args.seed, numba.get_num_threads()
    a_shares, a_digest = _determinism_run(n, k, seed, rounds, threads)
    b_shares, b_digest = _determinism_run(n, k, seed, rounds, threads)
    res: dict[str, Any] = {
        "agents": n,
        "rounds": rounds,
        "compared": "per-round choice shares (DataCollector) and a sha256 of final actions, estimates "
        "and per-household private totals",
        "same_seed": {
            "threads": threads,
            "shares_identical": bool(np.array_equal(a_shares, b_shares)),
            "state_identical": a_digest == b_digest,
            "digest": a_digest,
        },
    }
    max_threads = numba.config.NUMBA_NUM_THREADS
    if max_threads < 2:
        res["threads_1_vs_2"] = {"skipped": f"numba may use only {max_threads} thread(s) here"}
    else:
        one = _determinism_run(n, k, seed, rounds, 1)
        two = (a_shares, a_digest) if threads == 2 else _determinism_run(n, k, seed, rounds, 2)
        res["threads_1_vs_2"] = {
            "shares_identical": bool(np.array_equal(one[0], two[0])),
            "state_identical": one[1] == two[1],
            "digests": [one[1], two[1]],
        }
    c_shares, c_digest = _determinism_run(n, k, seed + 1, rounds, threads)
    res["other_seed_differs"] = bool(not np.array_equal(a_shares, c_shares) and a_digest != c_digest)
    res["deterministic"] = bool(
        res["same_seed"]["shares_identical"]
        and res["same_seed"]["state_identical"]
        and res["threads_1_vs_2"].get("shares_identical", True)
        and res["threads_1_vs_2"].get("state_identical", True)
    )
    res["first_round_shares"] = [float(x) for x in a_shares[0]]
    return res


# ---------------------------------------------------------------------- (f) profile
_PHASES: list[tuple[str, Callable[[str, str], bool], str]] = [
    ("play_kernel", lambda f, fn: f.endswith("_kernels.py") and fn.startswith("play_"), "tottime"),
    ("act_kernel", lambda f, fn: f.endswith("_kernels.py") and fn.startswith("act_"), "tottime"),
    ("realize_kernel", lambda f, fn: f.endswith("_kernels.py") and fn == "realize_kernel", "tottime"),
    ("update_kernel", lambda f, fn: f.endswith("_kernels.py") and fn.startswith("update_"), "tottime"),
    ("ledger_record", lambda f, fn: f.endswith("ledger.py") and fn == "record", "cumtime"),
    ("datacollector", lambda f, fn: f.endswith("datacollection.py") and fn == "collect", "cumtime"),
    (
        "observation",
        lambda f, fn: f.endswith(os.path.join("simulator", "model.py")) and fn == "_observation",
        "cumtime",
    ),
]


def _profile(model: mesa.Model, rounds: int) -> tuple[dict[tuple[str, int, str], tuple], float]:
    prof = cProfile.Profile()
    prof.enable()
    _run_rounds(model, rounds)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = max((row[3] for (_, _, fn), row in stats.items() if fn == "_wrapped_step"), default=0.0)
    if total <= 0.0:
        total = sum(row[2] for row in stats.values())
    return stats, total


def _phases(stats: dict[tuple[str, int, str], tuple], total: float) -> dict[str, float]:
    """Seconds per phase; what the phases do not cover is Python and numpy glue."""
    out: dict[str, float] = {}
    for phase, match, column in _PHASES:
        out[phase] = sum(row[2] if column == "tottime" else row[3] for (f, _, fn), row in stats.items() if match(f, fn))
    out["python_and_numpy_glue"] = total - sum(out.values())
    return out


def _kernel_split(model: mesa.Model, rounds: int, chunks: int = 3) -> dict[str, float]:
    """Milliseconds per round in the play kernel (a whole common round in one pass), the act,
    realize and update kernels (the other rounds), and the rest.

    Short cProfiles of ``chunks`` x ``rounds`` rounds; each phase keeps its
    smallest value over the chunks (the least disturbed by other work).
    """
    kernels = ("play_kernel", "act_kernel", "realize_kernel", "update_kernel")
    best: dict[str, float] = {}
    for _ in range(chunks):
        stats, total = _profile(model, rounds)
        phases = _phases(stats, total)
        split = {name: phases[name] / rounds * 1e3 for name in kernels}
        split["other"] = (total - sum(phases[name] for name in kernels)) / rounds * 1e3
        best = split if not best else {name: min(best[name], split[name]) for name in split}
    return best


def _short(filename: str) -> str:
    parts = Path(filename).parts
    for anchor in ("site-packages", "simulator", "benchmarks", "policies"):
        if anchor in parts:
            idx = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[idx + (1 if anchor == "site-packages" else 0) :])
    return filename


def bench_profile(n: int, args: argparse.Namespace, top: int = 15) -> dict[str, Any]:
    """cProfile ``--profile-rounds`` rounds after a warm-up; numba kernels appear as their own entries."""
    model, _ = _build(n, args.actions, BASELINE_FAMILY, args.seed)
    _run_rounds(model, 1 + args.warmup)
    stats, total = _profile(model, args.profile_rounds)
    del model
    gc.collect()
    rows = sorted(stats.items(), key=lambda item: -item[1][3])
    rows = [item for item in rows if not item[0][0].endswith("throughput.py")][:top]
    table = [
        {
            "function": f"{_short(f)}:{line}({fn})" if line else fn,
            "ncalls": int(row[1]),
            "tottime_s": row[2],
            "cumtime_s": row[3],
            "cum_pct": 100.0 * row[3] / total,
        }
        for (f, line, fn), row in rows
    ]
    phases = _phases(stats, total)
    return {
        "agents": n,
        "rounds": args.profile_rounds,
        "total_s": total,
        "ms_per_round_profiled": total / args.profile_rounds * 1e3,
        "phases": {
            name: {"ms_per_round": s / args.profile_rounds * 1e3, "pct": 100.0 * s / total}
            for name, s in phases.items()
        },
        "top_by_cumtime": table,
        "note": "cProfile of model.step(); numba dispatchers are profiled as functions, so a kernel's tottime is "
        "its run time; python_and_numpy_glue = total - the listed phases",
    }


# ---------------------------------------------------------------------- (g) training
def bench_training(args: argparse.Namespace) -> dict[str, Any]:
    """Meta-training throughput: ``--train-iterations`` MERMAIDE updates on the bandit_alignment training set.

    Runs :func:`benchmarks.train_time.measure` in this process (it imports torch, which no
    earlier section does), with PyTorch on as many threads as numba.
    """
    import torch

    from benchmarks.train_time import measure

    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        res = measure("mermaide", iterations=args.train_iterations, seed=args.seed)
    finally:
        torch.set_num_threads(previous)
    res.update(
        variant="mermaide",
        torch_threads=args.threads,
        note="env_steps = 2 episodes x tasks per batch x agents per task x horizon x updates: agent-rounds of the "
        "training rollouts, the unit of the step speed",
    )
    return res


# ------------------------------------------------------------------------- meta
def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[1]
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """The machine in words: CPU model, logical CPUs, memory (for the README's tables)."""
    gib = psutil.virtual_memory().total / 1024**3
    return f"{_cpu_model()}, {os.cpu_count()} logical CPUs, {gib:.0f} GiB"


def _meta(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    return {
        "machine": machine(),
        "argv": list(argv),
        "timestamp_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "load_avg_1m_start": _load(),
        "numba_threads": numba.get_num_threads(),
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "versions": {
            "simulator": simulator.__version__,
            "numpy": np.__version__,
            "numba": numba.__version__,
            "mesa": mesa.__version__,
        },
        "config": {
            "agents": args.agents,
            "actions": args.actions,
            "rounds": args.rounds,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "families": [BASELINE_FAMILY, *args.families],
            "mesa_agents": args.mesa_agents,
            "mesa_rounds": args.mesa_rounds,
            "profile_rounds": args.profile_rounds,
            "determinism_rounds": args.determinism_rounds,
            "train_iterations": args.train_iterations,
            "seed": args.seed,
            "quick": args.quick,
            "learner_params": "defaults (epsilon 0.1, initial_values 0, prior_weight 1)",
            "game": "simulator.default_game, no principal",
        },
    }


def _clean(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------------------- main
def run(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Run every section and return the result document."""
    numba.set_num_threads(args.threads)
    sizes = args.agents
    primary = max(sizes)
    result: dict[str, Any] = {"meta": _meta(args, argv)}
    t_start = time.perf_counter()

    vectorized: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    packages_before = _top_level_packages()
    for n in sizes:
        _log(f"(a) vectorized epsilon-greedy, {n} agents")
        res = bench_vectorized(n, args, with_memory=n == primary and not memory)
        memory = res.pop("memory", memory)
        vectorized[str(n)] = res
        if "packages_imported_by_first_model" not in memory:
            # what building and stepping the first model imported (counted in that model's RSS)
            new = sorted(_top_level_packages() - packages_before)
            memory["packages_imported_by_first_model"] = new
            memory["torch_imported_by_model"] = "torch" in new
    result["vectorized"] = vectorized
    first = vectorized[str(sizes[0])]["collect_every_1"]
    result["compile"] = {
        "compile_s": first["compile_s"],
        "note": "first step minus a steady round in this process; numba loads its on-disk cache when that is "
        "warm, so the true compile is compile_cold_s (a fresh interpreter with an empty NUMBA_CACHE_DIR)",
    }
    if args.cold_compile:
        _log("cold numba compile in a subprocess")
        result["compile"]["cold"] = bench_cold_compile(args.actions)
        result["compile"]["compile_cold_s"] = result["compile"]["cold"].get("compile_cold_s")

    _log(f"(b) per-agent Mesa baseline, {args.mesa_agents} agents")
    result["mesa_baseline"] = bench_mesa(args)

    _log(f"(c) learner families, {primary} agents: {', '.join([BASELINE_FAMILY, *args.families])}")
    load0 = _load()
    result["families"] = bench_families(primary, args)
    result["families_load_avg_1m"] = [load0, _load()]

    _log(f"(d) determinism, {primary} agents")
    result["determinism"] = bench_determinism(primary, args)

    _log(f"(f) profile, {primary} agents, {args.profile_rounds} rounds")
    load0 = _load()
    result["profile"] = bench_profile(primary, args)
    result["profile"]["load_avg_1m"] = [load0, _load()]

    if args.train_iterations > 0:
        _log(f"(g) meta-training throughput, {args.train_iterations} MERMAIDE updates")
        result["training"] = bench_training(args)

    memory["peak_rss_mb"] = _peak_rss_mb()
    memory["peak_rss_note"] = (
        "process high-water mark (getrusage maxrss) at the end of the run; the families section holds "
        f"{1 + len(args.families)} models at once, so peak_rss_after_warmup_mb is the one-model figure"
    )
    memory["rss_end_mb"] = _rss_mb()
    memory["state_target_mb"] = STATE_TARGET_MB
    memory["within_target"] = memory["model_state"]["total_mb"] <= STATE_TARGET_MB
    result["memory"] = memory

    head = vectorized[str(primary)]
    mesa_res = result["mesa_baseline"]
    fams = {name: r for name, r in result["families"].items() if name != REFERENCE}
    slowdowns = {name: r["slowdown_vs_epsilon_greedy"] for name, r in fams.items()}
    one_thread = head.get("collect_every_1_threads_1", head["collect_every_1"])
    result["summary"] = {
        "agents": primary,
        "actions": args.actions,
        "threads": head["threads"],
        "agent_steps_per_s": head["collect_every_1"]["agent_steps_per_s"],
        "agent_steps_per_s_best": head["collect_every_1"]["agent_steps_per_s_best"],
        "agent_steps_per_s_collect_every_10": head["collect_every_10"]["agent_steps_per_s"],
        "agent_steps_per_s_1_thread": one_thread["agent_steps_per_s"],
        "ms_per_round": head["collect_every_1"]["ms_per_round"],
        "mesa_agents": args.mesa_agents,
        "mesa_agent_steps_per_s": mesa_res["agent_steps_per_s"],
        "speedup_vs_mesa": head["collect_every_1"]["agent_steps_per_s"] / mesa_res["agent_steps_per_s"],
        "speedup_vs_mesa_best": head["collect_every_1"]["agent_steps_per_s_best"] / mesa_res["agent_steps_per_s_best"],
        "speedup_vs_mesa_1_thread": one_thread["agent_steps_per_s"] / mesa_res["agent_steps_per_s"],
        "speedup_vs_1_thread": head["collect_every_1"]["agent_steps_per_s"] / one_thread["agent_steps_per_s"],
        "speedup_vs_1_thread_within_target": (
            head["collect_every_1"]["agent_steps_per_s"] / one_thread["agent_steps_per_s"] >= CORES_TARGET
            if head["threads"] > 1
            else None
        ),
        "speedup_vs_mesa_same_size": mesa_res["speedup_same_size"],
        "family_slowdown_vs_epsilon_greedy": slowdowns,
        "family_slowdown_best_vs_epsilon_greedy": {
            name: r["slowdown_best_vs_epsilon_greedy"] for name, r in fams.items()
        },
        "worst_family": max(slowdowns, key=lambda name: slowdowns[name]),
        "families_within_2x": all(r["within_target"] for r in fams.values()),
        "reference_agent_steps_per_s": result["families"][REFERENCE]["agent_steps_per_s"],
        "speed_vs_reference": {name: r["speed_vs_reference"] for name, r in fams.items()},
        "epsilon_greedy_vs_reference_within_target": fams[BASELINE_FAMILY]["speed_vs_reference"] >= REFERENCE_TARGET,
        "targets": {
            "epsilon_greedy_speed_vs_reference": REFERENCE_TARGET,
            "family_slowdown_vs_epsilon_greedy": FAMILY_SLOWDOWN_TARGET,
            "model_state_mb": STATE_TARGET_MB,
            "speedup_vs_1_thread_on_2_cores": CORES_TARGET,
        },
        "deterministic": result["determinism"]["deterministic"],
        "model_state_mb": memory["model_state"]["total_mb"],
        "model_state_within_target": memory["within_target"],
        "meta_training_env_steps_per_s": result.get("training", {}).get("env_steps_per_s"),
        "peak_rss_one_model_mb": memory["peak_rss_after_warmup_mb"],
        "peak_rss_mb": memory["peak_rss_mb"],
        "compile_s": result["compile"]["compile_s"],
        "compile_cold_s": result["compile"].get("compile_cold_s"),
        "profile_pct": {name: p["pct"] for name, p in result["profile"]["phases"].items()},
        "numba_threading_layer": numba.threading_layer(),
        "load_avg_1m_end": _load(),
        "wall_s": time.perf_counter() - t_start,
    }
    return result


# ------------------------------------------------------------------- device runs
def _torch() -> Any:
    import torch  # only for a device run: the CPU benchmark never imports torch

    return torch


def _device_memory(device: str) -> dict[str, Any]:
    torch = _torch()
    if not device.startswith("cuda"):
        return {}
    free, total = torch.cuda.mem_get_info()
    return {
        "max_allocated_mb": torch.cuda.max_memory_allocated() / MB,
        "max_reserved_mb": torch.cuda.max_memory_reserved() / MB,
        "free_mb": free / MB,
        "total_mb": total / MB,
    }


def _reset_device_peak(device: str) -> None:
    torch = _torch()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def bench_device_size(n: int, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """Time the epsilon-greedy model on ``device`` at ``n`` agents (DataCollector every round).

    Every round ends with the (G, K) ledger sums copied to the host, which waits for the
    device: the wall time of ``step()`` is the device time of the round.
    """
    from simulator._device_memory import model_estimate

    gc.collect()
    _reset_device_peak(device)
    est = model_estimate(n, args.actions, BASELINE_FAMILY, None, None, None, True)
    try:
        model, init_s = _build(n, args.actions, BASELINE_FAMILY, args.seed, device=device)
    except ValueError as exc:  # refused up front: more than the GPU's free memory
        return {"agents": n, "refused": str(exc), "estimated_device_mb": est["total"] / MB}
    first_s = _run_rounds(model, 1)
    _run_rounds(model, args.warmup)
    samples = _repeats(model, args.rounds, args.repeats)
    res = _rate(n, args.rounds, samples)
    if device.startswith("cuda"):
        res["fused_triton"] = _time_fused(model, n, args)
    res.update(
        init_s=init_s,
        first_step_s=first_s,
        device=device,
        estimated_device_mb=est["total"] / MB,
        estimate_mb_by_part={key: value / MB for key, value in est.items()},
        device_memory=_device_memory(device),
        load_avg_1m_end=_load(),
    )
    del model
    gc.collect()
    return res


def _time_fused(model: IncentiveModel, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The optional fused Triton kernel on the same model (experimental): rate, or why it did not run."""
    sim = model._device_sim
    ok, why = sim.use_fused("triton")
    if not ok:
        return {"used": False, "reason": why}
    try:
        first = _run_rounds(model, 1)  # Triton compiles on the first launch
        res = _rate(n, args.rounds, _repeats(model, args.rounds, args.repeats))
        res.update(used=True, first_step_s=first)
        return res
    except Exception as exc:  # experimental: report, do not abort the benchmark
        return {"used": False, "error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
    finally:
        sim.use_fused(None)


def bench_fused_agreement(n: int, rounds: int, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """The fused Triton kernel against the eager torch path on the same seed: identical actions?"""
    eager, _ = _build(n, args.actions, BASELINE_FAMILY, args.seed, device=device)
    fused, _ = _build(n, args.actions, BASELINE_FAMILY, args.seed, device=device)
    ok, why = fused._device_sim.use_fused("triton")
    if not ok:
        return {"used": False, "reason": why}
    mismatches, max_rel = 0, 0.0
    try:
        for _ in range(rounds):
            eager.step()
            fused.step()
            mismatches += int((eager.last_actions != fused.last_actions).sum())
            a, b = eager.ledger.last.private, fused.ledger.last.private
            max_rel = max(max_rel, float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1.0))))
    except Exception as exc:
        return {"used": False, "error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
    same_state = bool(
        np.array_equal(eager.sync_to_host().population.estimates(), fused.sync_to_host().population.estimates())
    )
    return {
        "used": True,
        "agents": n,
        "rounds": rounds,
        "mismatch_rate": mismatches / (n * rounds),
        "identical_estimates": same_state,
        "ledger_private_max_rel_diff": max_rel,
    }


def bench_cpu_reference(n: int, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """The numba CPU path and the device at the same size, timed round-robin in every repeat."""
    cpu, cpu_init = _build(n, args.actions, BASELINE_FAMILY, args.seed)
    dev, _ = _build(n, args.actions, BASELINE_FAMILY, args.seed, device=device)
    for model in (cpu, dev):
        _run_rounds(model, 1 + args.warmup)
    samples: dict[str, list[tuple[float, float]]] = {"cpu": [], "device": []}
    for _ in range(args.repeats):
        samples["cpu"].append(_timed(cpu, args.rounds))
        samples["device"].append(_timed(dev, args.rounds))
    cpu_rate, dev_rate = _rate(n, args.rounds, samples["cpu"]), _rate(n, args.rounds, samples["device"])
    same = bool(np.array_equal(cpu.last_actions, dev.last_actions))
    del cpu, dev
    gc.collect()
    return {
        "agents": n,
        "numba_threads": numba.get_num_threads(),
        "cpu": {**cpu_rate, "init_s": cpu_init},
        "device": dev_rate,
        "device_speedup_vs_cpu": dev_rate["agent_steps_per_s"] / cpu_rate["agent_steps_per_s"],
        "same_last_actions": same,
        "rounds_played_each": 1 + args.warmup + args.rounds * args.repeats,
    }


def bench_device_agreement(n: int, rounds: int, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """Share of agent-rounds whose action on the device differs from the numba path's, per family."""
    out: dict[str, Any] = {"agents": n, "rounds": rounds, "actions": args.actions}
    for family in [BASELINE_FAMILY, *args.families]:
        cpu, _ = _build(n, args.actions, family, args.seed)
        dev, _ = _build(n, args.actions, family, args.seed, device=device)
        mismatches = 0
        for _ in range(rounds):
            cpu.step()
            dev.step()
            mismatches += int((cpu.last_actions != dev.last_actions).sum())
        cpu_private = np.array([r.private for r in cpu.ledger.records])
        dev_private = np.array([r.private for r in dev.ledger.records])
        out[family] = {
            "mismatch_rate": mismatches / (n * rounds),
            "ledger_private_max_rel_diff": float(
                np.max(np.abs(cpu_private - dev_private) / np.maximum(np.abs(cpu_private), 1.0))
            ),
        }
        del cpu, dev
    gc.collect()
    return out


def bench_device_families(n: int, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """Every family on the device at ``n`` agents, timed round-robin with epsilon-greedy."""
    names = [BASELINE_FAMILY, *args.families]
    models = {}
    for name in names:
        models[name], _ = _build(n, args.actions, name, args.seed, device=device)
        _run_rounds(models[name], 1 + args.warmup)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            samples[name].append(_timed(models[name], args.rounds))
    models.clear()
    gc.collect()
    base = [wall for wall, _ in samples[BASELINE_FAMILY]]
    res: dict[str, Any] = {}
    for name in names:
        walls = [wall for wall, _ in samples[name]]
        res[name] = _rate(n, args.rounds, samples[name])
        res[name]["slowdown_vs_epsilon_greedy"] = statistics.median(t / b for t, b in zip(walls, base, strict=True))
    return res


def bench_device_determinism(n: int, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """The same seed twice on the device: identical choice shares and final actions and estimates."""
    digests, shares = [], []
    for _ in range(2):
        model, _ = _build(n, args.actions, BASELINE_FAMILY, args.seed, device=device)
        _run_rounds(model, args.determinism_rounds)
        df = model.datacollector.get_model_vars_dataframe()
        shares.append(df[[f"share_a{j}" for j in range(args.actions)]].to_numpy())
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(model.last_actions).tobytes())
        digest.update(np.ascontiguousarray(model.sync_to_host().population.estimates()).tobytes())
        digest.update(np.ascontiguousarray(model.ledger.hh_private).tobytes())
        digests.append(digest.hexdigest()[:16])
        del model
    gc.collect()
    return {
        "agents": n,
        "rounds": args.determinism_rounds,
        "shares_identical": bool(np.array_equal(shares[0], shares[1])),
        "state_identical": digests[0] == digests[1],
        "digests": digests,
    }


def _checkpoint(result: dict[str, Any], args: argparse.Namespace) -> None:
    """Write what a device run has measured so far (``complete: false``) to ``--out``.

    A run cut short by a time limit (``benchmarks/gpu_check.sh``) still leaves its finished sections.
    """
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(_clean({**result, "complete": False}), indent=2) + "\n", encoding="utf-8")


def run_device(args: argparse.Namespace, argv: Sequence[str], device: str) -> dict[str, Any]:
    """The benchmark of a device run, most important first (each section is checkpointed to ``--out``).

    1. ``cpu_reference``: the numba CPU path and the device at ``--cpu-agents``, round-robin;
    2. ``agreement``: share of agent-rounds whose action differs from the numba path's, per family;
    3. ``device_sizes``: epsilon-greedy on the device at every ``--agents`` size, smallest first;
    4. ``families``: every family on the device at the smallest size;
    5. ``determinism``: the same seed twice on the device.
    """
    torch = _torch()
    t_start = time.perf_counter()
    numba.set_num_threads(args.threads)
    torch_threads = torch.get_num_threads()
    if device == "torch-cpu":
        torch.set_num_threads(args.threads)  # the same CPU threads as numba's
    result: dict[str, Any] = {"meta": _meta(args, argv)}
    meta = result["meta"]
    meta["device"] = device
    meta["versions"]["torch"] = torch.__version__
    meta["torch_threads"] = torch.get_num_threads()
    meta["config"]["cpu_agents"] = args.cpu_agents
    if device.startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name(torch.device(device))
        meta["cuda"] = torch.version.cuda
    sizes = sorted(args.agents)
    small = sizes[0]
    try:
        _log(f"numba CPU reference and {device} at {args.cpu_agents} agents, round-robin")
        result["cpu_reference"] = bench_cpu_reference(args.cpu_agents, args, device)
        _checkpoint(result, args)
        agree_n = min(small, 100_000)
        _log(f"agreement with the numba path, {agree_n} agents, {args.determinism_rounds} rounds per family")
        result["agreement"] = bench_device_agreement(agree_n, args.determinism_rounds, args, device)
        if device.startswith("cuda"):
            result["agreement"]["fused_triton_vs_eager"] = bench_fused_agreement(
                agree_n, args.determinism_rounds, args, device
            )
        _checkpoint(result, args)
        result["device_sizes"] = {}
        for n in sizes:
            _log(f"device {device}: epsilon-greedy, {n} agents")
            result["device_sizes"][str(n)] = bench_device_size(n, args, device)
            _checkpoint(result, args)
        _log(f"families on {device}, {small} agents")
        result["families"] = bench_device_families(small, args, device)
        _checkpoint(result, args)
        _log(f"determinism on {device}, {small} agents")
        result["determinism"] = bench_device_determinism(small, args, device)
    finally:
        torch.set_num_threads(torch_threads)

    ran = [n for n in sizes if "agent_steps_per_s" in result["device_sizes"][str(n)]]
    best = max(ran, key=lambda n: result["device_sizes"][str(n)]["agent_steps_per_s"], default=None)
    ref = result["cpu_reference"]
    result["summary"] = {
        "device": device,
        "gpu": meta.get("gpu"),
        "actions": args.actions,
        "agent_steps_per_s_by_size": {str(n): result["device_sizes"][str(n)]["agent_steps_per_s"] for n in ran},
        "ms_per_round_by_size": {str(n): result["device_sizes"][str(n)]["ms_per_round"] for n in ran},
        "refused_sizes": [n for n in sizes if n not in ran],
        "best_size": best,
        "agent_steps_per_s_best_size": None if best is None else result["device_sizes"][str(best)]["agent_steps_per_s"],
        "cpu_agents": ref["agents"],
        "cpu_agent_steps_per_s": ref["cpu"]["agent_steps_per_s"],
        "device_agent_steps_per_s_at_cpu_agents": ref["device"]["agent_steps_per_s"],
        "device_speedup_vs_cpu_same_size": ref["device_speedup_vs_cpu"],
        "mismatch_rate": {
            name: r.get("mismatch_rate") for name, r in result["agreement"].items() if isinstance(r, dict)
        },
        "fused_triton_agent_steps_per_s_by_size": {
            str(n): result["device_sizes"][str(n)].get("fused_triton", {}).get("agent_steps_per_s") for n in ran
        },
        "family_slowdown_vs_epsilon_greedy": {
            name: r["slowdown_vs_epsilon_greedy"] for name, r in result["families"].items()
        },
        "deterministic": result["determinism"]["shares_identical"] and result["determinism"]["state_identical"],
        "peak_rss_mb": _peak_rss_mb(),
        "wall_s": time.perf_counter() - t_start,
    }
    result["complete"] = True
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the benchmark, print JSON and write ``--out``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    args = _resolve(parser.parse_args(argv))
    if args.actions < 2:
        parser.error("argument --actions: need at least 2 actions")
    max_threads = numba.config.NUMBA_NUM_THREADS
    if args.threads > max_threads:
        parser.error(f"argument --threads: numba may use at most {max_threads} threads here (NUMBA_NUM_THREADS)")
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        parser.error(f"argument --device: {exc}")
    if args.cpu_agents is None:
        args.cpu_agents = 2_000 if args.quick else 1_000_000
    previous_threads = numba.get_num_threads()
    try:
        result = _clean(run(args, argv) if device == "cpu" else run_device(args, argv, device))
    finally:
        numba.set_num_threads(previous_threads)
    text = json.dumps(result, indent=2, allow_nan=False)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
