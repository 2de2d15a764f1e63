"""green_tax at scale: wall time and peak memory of a whole scenario run with a million households (a benchmark).

Run ``python -m benchmarks.green_tax_scale`` (``--help`` lists the options). For
each ``--households`` size it runs, each in a fresh subprocess so that peak
memory is that run's alone (``os.wait4`` rusage of the child):

* ``scenario``: ``python -m scenarios.green_tax`` with the ``--quick`` budget
  (1 seed, the first two settings, the short best-constant grid and oracle
  candidates) but *all* N households (``--quick`` itself caps N at 2,000), the
  principals of ``--principals``, into a temporary run folder: wall time, peak
  RSS, and the rows of ``results.csv``;
* ``model``: the economy alone at N: the cost of one round (median of 8, social
  learning on and off) against a bare ``IncentiveModel`` round of the same
  households (the ratio; the target is at most 2), the model's own arrays (sum of
  ``nbytes``; the project bounds them at 300 MB for 1M agents) beside the
  process RSS;
* ``imports``: the peak RSS of importing the scenario, the floor of every run.

``--dashboard-step [N]`` instead times the live dashboard's model step at N households
(default 10,000; the latency the page adds before drawing), median and max of 10 steps.

Everything prints as one JSON document on stdout (progress on stderr) and goes to
``--out FILE.json`` when given. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(t)) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of sizes: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return sizes


def _parser() -> _Parser:
    p = _Parser(prog="python -m benchmarks.green_tax_scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--households", type=_sizes, default=[1_000_000], help="household counts N (1e6 notation, A,B)")
    p.add_argument("--principals", default="none,pigouvian,best_constant,oracle", help="principals of the run")
    p.add_argument("--threads", type=int, default=None, help="numba/torch threads of the run (default: all)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is stopped")
    p.add_argument("--skip-model", action="store_true", help="only the scenario runs")
    p.add_argument("--out", default=None, help="also write the JSON to this file")
    p.add_argument("--model-only", type=int, default=None, help=argparse.SUPPRESS)  # the child of 'model'
    p.add_argument(
        "--dashboard-step",
        type=int,
        nargs="?",
        const=10_000,
        default=None,
        help="only the dashboard model's step latency at this many households (default 10,000)",
    )
    return p


def _log(message: str) -> None:
    print(f"[green_tax_scale] {message}", file=sys.stderr, flush=True)


def _measure(cmd: list[str], timeout: float, cwd: Path) -> dict[str, Any]:
    """Run ``cmd``; its wall time, peak RSS (this child only), exit code and output tail."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    # ru_maxrss is in kilobytes on Linux, bytes on macOS
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {
        "exit_code": proc.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak / MB, 1),
        "user_s": round(usage.ru_utime, 2),
        "system_s": round(usage.ru_stime, 2),
        "stdout_tail": stdout[-20_000:],  # the model-only child prints one JSON line of about 2 kB at 1M
        "stderr_tail": stderr[-1500:],
    }


def scenario_argv(n: int, principals: str, out: Path, threads: int | None) -> list[str]:
    """The ``--quick`` budget with N households (``--quick`` would cap N at 2,000)."""
    from scenarios import green_tax

    q = green_tax.resolve(green_tax.Args(quick=True))
    argv = [
        "--seeds",
        str(q.seeds),
        "--settings",
        ",".join(q.settings),
        "--principals",
        principals,
        "--households.n-households",
        str(n),
        "--best-constant-grid",
        ",".join(map(str, q.best_constant_grid)),
        "--oracle.levels",
        ",".join(map(str, q.oracle.levels)),
        "--oracle.durations",
        ",".join(map(str, q.oracle.durations)),
        "--no-progress",
        "--out",
        str(out),
    ]
    return argv + (["--threads", str(threads)] if threads else [])


def _round_times(step: Any, rounds: int) -> list[float]:
    step()  # warm
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        out.append(time.perf_counter() - start)
    return out


def model_only(n: int, rounds: int = 8) -> dict[str, Any]:
    """The child of the ``model`` measurement: the economy at N, one round's cost against a bare model's.

    Builds the green-tax economy (a 2-year burn-in instead of 30: the state's size does not depend on
    it), times ``rounds`` rounds under the Pigouvian principal (social learning on, as by default, and
    off), and a bare :class:`simulator.IncentiveModel` of the same households, learners and game with
    one incentive vector for everyone (what the simulator costs without the economy's per-household
    offsets, accounts and social learning), all in this process; medians and the ratio.
    """
    import copy
    import dataclasses
    import resource

    import numpy as np

    from benchmarks.throughput import model_state_bytes
    from policies import make_principal
    from scenarios.green_tax.economy import Economy, HouseholdMix, build
    from simulator import IncentiveGame, IncentiveModel

    econ = dataclasses.replace(Economy(), burn_in=2)
    mix = HouseholdMix(n_households=n)
    start = time.perf_counter()
    green = build(econ, mix, 0, make_principal("pigouvian"), n=n)
    built = time.perf_counter() - start
    quiet = build(econ, dataclasses.replace(mix, social_strength=0.0), 0, make_principal("pigouvian"), n=n)
    hh = green.hh

    class Zero:
        observes = False

        def reset(self, spec: Any, rng: Any) -> None:
            self.x = np.zeros(spec.n_actions)

        def act(self) -> Any:
            return self.x

        def observe(self, obs: Any) -> None:
            """Nothing to learn."""

    game = IncentiveGame(
        payoff_means=hh.values, noise=econ.reward_noise, signed=True, posted=True, switch_prob=econ.replacement_prob
    )
    bare = IncentiveModel(
        n_agents=n,
        n_actions=econ.k,
        learner=copy.deepcopy(hh.population),
        principal=Zero(),
        seed=0,
        game=game,
        groups=hh.group,
        group_names=[str(g) for g in range(int(hh.group.max()) + 1)],
        collect_every=10**9,
        max_agent_views=0,
        track_households=False,
    )
    times = {"green": [], "green_no_social": [], "bare": []}
    for _ in range(2):  # interleaved, so that a busy moment hits all three
        times["green"] += _round_times(green.step, rounds // 2)
        times["green_no_social"] += _round_times(quiet.step, rounds // 2)
        times["bare"] += _round_times(bare.step, rounds // 2)
    med = {k: float(np.median(v)) for k, v in times.items()}
    state = model_state_bytes(green.model)
    return {
        "n": n,
        "build_s": round(built, 2),
        "round_s": {k: round(v, 4) for k, v in med.items()},
        "ratio_green_to_bare": round(med["green"] / med["bare"], 2),
        "ratio_green_no_social_to_bare": round(med["green_no_social"] / med["bare"], 2),
        "model_state_mb": round(state["total_mb"], 1) if "total_mb" in state else state,
        "state": state,
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def dashboard_step(n: int, steps: int = 10) -> dict[str, Any]:
    """Server-side time of one dashboard step (``GreenDashboardModel.step``) at N households, one numba thread."""
    import numpy as np

    from scenarios.dashboard import GreenDashboardModel

    model = GreenDashboardModel(n_households=n, principal="pigouvian", threads=1)
    model.step()  # kernels loaded
    times = _round_times(model.step, steps)
    return {
        "benchmark": "dashboard_step",
        "households": n,
        "median_ms": round(1e3 * float(np.median(times)), 2),
        "max_ms": round(1e3 * max(times), 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; returns the JSON document."""
    doc: dict[str, Any] = {
        "benchmark": "green_tax_scale",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "principals": args.principals,
    }
    with tempfile.TemporaryDirectory(prefix="green_tax_scale.") as tmp:
        tmp_path = Path(tmp)
        _log("imports")
        doc["imports"] = _measure([sys.executable, "-c", "import scenarios.green_tax"], args.timeout, tmp_path)
        doc["runs"] = []
        for n in args.households:
            entry: dict[str, Any] = {"households": n}
            if not args.skip_model:
                _log(f"model alone, N = {n:,}")
                child = [sys.executable, "-m", "benchmarks.green_tax_scale", "--model-only", str(n)]
                m = _measure(child, args.timeout, ROOT)
                if m["exit_code"] == 0:
                    m.update(json.loads(m.pop("stdout_tail").strip().splitlines()[-1]))
                entry["model"] = m
            _log(f"scenario run, N = {n:,}")
            out = tmp_path / f"run-{n}"
            cmd = [sys.executable, "-m", "scenarios.green_tax", *scenario_argv(n, args.principals, out, args.threads)]
            entry["command"] = " ".join(cmd[1:])
            s = _measure(cmd, args.timeout, tmp_path)
            if (out / "results.csv").exists():
                entry["results_rows"] = sum(1 for _ in (out / "results.csv").open()) - 1
            entry["scenario"] = s
            _log(f"N = {n:,}: exit {s['exit_code']}, {s['wall_s']:.0f} s, peak RSS {s['peak_rss_mb']:.0f} MB")
            doc["runs"].append(entry)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.green_tax_scale``."""
    args = _parser().parse_args(argv)
    if args.model_only is not None:
        print(json.dumps(model_only(args.model_only)))
        return 0
    if args.dashboard_step is not None:
        print(json.dumps(dashboard_step(args.dashboard_step)))
        return 0
    doc = run(args)
    text = json.dumps(doc, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0 if all(r["scenario"]["exit_code"] == 0 for r in doc["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
