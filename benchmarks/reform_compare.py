"""Time of a baseline-vs-reform comparison of green_tax (a benchmark, not a test).

``python -m benchmarks.reform_compare [--reform NAME|FILE] [--seeds 10] [--households 10000]``
runs ``python -m scenarios.green_tax --reform ... --settings headline`` in this process, end to
end (both policies on every seed's households, the aggregate and distributional tables with CIs,
the figures and report.html), and prints JSON with the wall time split into simulation (the
episodes, with their per-household accounting) and analysis (CIs over seeds, plots, report), and
the headline numbers: the changes of cumulative emissions, discounted welfare and net budget, and
of the poorest and richest income deciles' net surplus, each mean [95% CI] over seeds.

``--all-examples`` does this for every shipped reform (``scenarios/reforms/``). ``--quick``: 2
seeds, 1,000 households (what a smoke test runs). The numba kernels are compiled (or loaded from
the cache) by an untimed warm-up run first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd


def _ci(df: pd.DataFrame, **keys: Any) -> dict[str, float] | None:
    sub = df
    for k, v in keys.items():
        sub = sub[sub[k] == v]
    if sub.empty:
        return None
    r = sub.iloc[0]
    return {"mean": float(r["mean"]), "low": float(r["low"]), "high": float(r["high"]), "n": int(r["n"])}


def headline(out: Path, setting: str = "headline") -> dict[str, Any]:
    """The acceptance numbers of a reform run folder."""
    agg = pd.read_csv(out / "aggregate.csv")
    agg = agg[agg.setting == setting]
    dist = pd.read_csv(out / "distribution.csv", dtype={"group": str})
    dist = dist[dist.setting == setting]
    return {
        "emissions_change_cumulative_t": _ci(agg, quantity="emissions", basis="cumulative", metric="change"),
        "emissions_change_cumulative_pct": _ci(agg, quantity="emissions", basis="cumulative", metric="pct_change"),
        "welfare_change_discounted": _ci(agg, quantity="welfare", basis="discounted", metric="change"),
        "net_budget_change_discounted": _ci(agg, quantity="net_budget", basis="discounted", metric="change"),
        "consumer_surplus_change_discounted": _ci(
            agg, quantity="consumer_surplus", basis="discounted", metric="change"
        ),
        "decile1_change": _ci(dist, group="1", metric="change"),
        "decile10_change": _ci(dist, group="10", metric="change"),
        "decile1_change_pct_income": _ci(dist, group="1", metric="change_pct_income"),
        "decile10_change_pct_income": _ci(dist, group="10", metric="change_pct_income"),
    }


def time_reform(reform: str, seeds: int, households: int, root: Path) -> dict[str, Any]:
    """One timed comparison; returns timings and headline numbers."""
    from scenarios import green_tax
    from scenarios.green_tax import reforms as R
    from simulator.config import from_dict

    out = root / Path(reform).stem
    args = from_dict(
        green_tax.Args,
        {
            "reform": reform,
            "seeds": seeds,
            "settings": ["headline"],
            "households": {"n_households": households},
            "out": str(out),
            "progress": False,
        },
    )
    # simulation alone: the tasks, as the run does them
    pols = R.load_policies(args)
    tasks = [R.ReformTask(args, s, "headline", pols.baseline, pols.reform) for s in range(seeds)]
    t0 = time.perf_counter()
    for task in tasks:
        R.evaluate_reform_task(task)
    sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    green_tax.run(args)
    total = time.perf_counter() - t0
    return {
        "reform": reform,
        "seeds": seeds,
        "households": households,
        "total_s": round(total, 3),
        "simulation_s": round(sim, 3),
        "analysis_and_report_s": round(total - sim, 3),
        "per_seed_pair_s": round(sim / seeds, 4),
        "headline": headline(out),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reform_compare", description=__doc__)
    parser.add_argument("--reform", default="tax_and_dividend", help="reform file or shipped name")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 10)")
    parser.add_argument("--households", type=int, default=None, help="households (default 10,000)")
    parser.add_argument("--all-examples", action="store_true", help="every shipped reform")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1,000 households")
    parser.add_argument("--out", default=None, help="also write the JSON to this file")
    ns = parser.parse_args(argv)
    seeds = ns.seeds or (2 if ns.quick else 10)
    households = ns.households or (1000 if ns.quick else 10_000)
    import numba

    from scenarios.green_tax import reforms as R

    names = list(R.shipped_reforms()) if ns.all_examples else [ns.reform]
    result: dict[str, Any] = {"numba_threads": numba.get_num_threads(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        time_reform(names[0], 1, min(households, 1000), root / "warmup")  # compile / load the kernels
        for name in names:
            print(f"reform_compare: {name}, {seeds} seeds x {households:,} households", file=sys.stderr)
            result["runs"].append(time_reform(name, seeds, households, root))
    text = json.dumps(result, indent=2)
    print(text)
    if ns.out:
        Path(ns.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
