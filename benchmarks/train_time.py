"""Meta-training time of the learned principals (a benchmark, not a test).

``python -m benchmarks.train_time [--variants mermaide,wm_only,meta_only,model_free] [--iterations N]``
trains each variant on the bandit_alignment training distribution with the
default config (full observation), and prints JSON with the wall time, the
environment steps per second, and when the query return (a moving average over
20 updates) first reached 90% of its final value ("final quality": the mean of
the last 10% of updates), all measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np


def _time_to_quality(returns: list[float], seconds: list[float], frac: float = 0.9) -> dict[str, float]:
    r = np.asarray(returns)
    t = np.cumsum(seconds)
    window = max(1, min(20, len(r) // 5))
    smooth = np.convolve(r, np.ones(window) / window, mode="valid")
    final = float(np.mean(r[-max(1, len(r) // 10) :]))
    start = float(smooth[0])
    target = start + frac * (final - start)
    reached = np.flatnonzero(smooth >= target) if final >= start else np.flatnonzero(smooth <= target)
    idx = int(reached[0]) + window - 1 if reached.size else len(r) - 1
    return {"final_return": final, "start_return": start, "update_reached": idx, "seconds_to_quality": float(t[idx])}


def measure(
    variant: str, *, iterations: int | None = None, observation: str = "full", seed: int = 0
) -> dict[str, float]:
    """Meta-train one variant on the bandit_alignment training distribution; wall time and environment steps/s.

    An environment step is one agent's round in a training rollout: ``2 (support and query
    episodes) x tasks per batch x agents per task x horizon`` per update.
    """
    from policies.mermaide import MermaideConfig
    from policies.training import meta_train
    from scenarios._bandit_tasks import BanditProblem, BanditSetup

    problem = BanditProblem(BanditSetup(observation=observation))
    cfg = dataclasses.replace(MermaideConfig(), variant=variant)
    if iterations:
        cfg = dataclasses.replace(cfg, iterations=iterations)
    t0 = time.perf_counter()
    _, logs = meta_train(problem, cfg, seed)
    wall = time.perf_counter() - t0
    steps = 2 * cfg.tasks_per_batch * cfg.agents_per_task * problem.net_spec.horizon * cfg.iterations
    return {
        "iterations": cfg.iterations,
        "wall_s": wall,
        "env_steps": steps,
        "env_steps_per_s": steps / wall,
        **_time_to_quality([lg["return/query"] for lg in logs], [lg["seconds"] for lg in logs]),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_time", description=__doc__)
    parser.add_argument("--variants", default="mermaide,wm_only,meta_only,model_free")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--observation", default="full", choices=["full", "actions", "noisy"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    import torch

    out: dict[str, object] = {"threads": torch.get_num_threads(), "variants": {}}
    for variant in args.variants.split(","):
        out["variants"][variant] = measure(
            variant, iterations=args.iterations, observation=args.observation, seed=args.seed
        )
        print(variant, json.dumps(out["variants"][variant]), file=sys.stderr)
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
