"""Choose every learned variant's settings on the validation pool: ``python -m policies.tune --scenario NAME``.

One documented, rerunnable search with the same budget for every variant
(no test setting is ever consulted):

* each variant is offered the same number of configurations: two outer
  learning rates x three K-shot adaptation steps (``--lrs``, ``--steps``);
  ``inner_lr`` for the meta variants, whose training depends on it (one training
  run per configuration), ``finetune_lr`` for the others, whose training does not
  (one training run per learning rate, evaluated with each step);
* every run trains with the scenario's base settings and seed 0 (the training
  budget is the scenario's, the same for every variant), then plays the
  problem's validation pool: ``--eval-seeds`` episodes of fresh agents per
  type, K-shot with K = 0 and 1, as the scenario's evaluation does;
* a configuration's score is its mean validation return at K = ``--select-shots``
  (default 1, the headline budget); the best configuration of each variant wins.

Writes ``DIR/tuning.json`` (every configuration's scores, learning-curve
summary and the choices) and prints the table. The scenario's ``TRAIN_CONFIGS``
hold the choices; a test checks them against the shipped ``tuning.json``.

This is an entry point: it may import scenarios.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from simulator.config import RunOptions, option, parse_args, run_cli, thread_limit

from .mermaide import VARIANTS, MermaideConfig
from .train import SCENARIO_MODULES, scenario_module
from .training import episode_returns, evaluate_kshot, meta_train

__all__ = ["TuneArgs", "main", "validation_kshot"]


@dataclass
class TuneArgs(RunOptions):
    """Settings of the validation search."""

    RUN_NAME: ClassVar[str] = "tune"
    DEVICE_NOTE: ClassVar[str] = "the training agents step"

    scenario: str = option("bandit_alignment", help="scenario to tune", choices=tuple(SCENARIO_MODULES))
    observation: str | None = option(None, help="observation setting searched", default_text="the scenario's first")
    variants: list[str] = option(default_factory=lambda: list(VARIANTS), help="variants to tune", choices=VARIANTS)
    lrs: list[float] = option(default_factory=lambda: [1e-3, 3e-3], help="outer learning rates tried", low=0)
    steps: list[float] = option(default_factory=lambda: [0.03, 0.1, 0.3], help="K-shot adaptation steps tried", low=0)
    eval_seeds: int = option(2, help="validation episodes (fresh agents) per configuration", low=1)
    select_shots: int = option(1, help="K whose validation return chooses the configuration", low=0, high=5)
    iterations: int | None = option(None, help="training updates", low=1, default_text="the scenario's")
    quick: bool = option(False, help="a few updates only (smoke test)")


def validation_kshot(problem: Any, net: Any, cfg: MermaideConfig, seeds: Sequence[int], shots: Sequence[int]):
    """Mean validation return per K: the validation pool, fresh agents, K-shot as the scenarios evaluate."""
    tasks = problem.validation_tasks()
    rows = int(getattr(problem, "validation_rows", 4))
    out: dict[int, list[float]] = {k: [] for k in shots}
    for s in seeds:

        def make_env(kind: str, k: int, s: int = s) -> Any:
            return problem.make_env(tasks, rows, 5_000_000 + 1000 * s + (0 if kind == "score" else k))

        gen = torch.Generator().manual_seed(9_000_000 + s)
        res = evaluate_kshot(net, cfg, make_env, len(tasks), rows, list(shots), gen)
        for k, (_env, traj, _) in res.items():
            out[k].append(float(episode_returns(traj).mean()))
    return {k: float(np.mean(v)) for k, v in out.items()}


def _curve_summary(logs: list[dict[str, float]]) -> dict[str, float]:
    """First and last validation points, and the mean of the last third against the middle third (flatness)."""
    pts = [(log["update"], log["val/return"]) for log in logs if "val/return" in log]
    if not pts:
        return {}
    vals = np.array([v for _, v in pts])
    third = max(1, len(vals) // 3)
    return {
        "first": float(vals[0]),
        "last": float(vals[-1]),
        "middle_third": float(vals[third : 2 * third].mean()) if len(vals) >= 3 else float("nan"),
        "last_third": float(vals[-third:].mean()),
    }


def run(args: TuneArgs) -> Path:
    """Run the search; returns the output folder."""
    from analysis.runs import default_out_dir

    module = scenario_module(args.scenario)
    obs = args.observation or module.OBSERVATIONS[0]
    problem = module.training_problem(obs, args.device)
    out = Path(args.out) if args.out else default_out_dir(TuneArgs.RUN_NAME)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.eval_seeds))
    shots = sorted({0, args.select_shots})
    table: list[dict[str, Any]] = []
    for variant in args.variants:
        base = module.train_config(variant, obs)
        base = dataclasses.replace(base, iterations=args.iterations or base.iterations)
        if args.quick:
            base = dataclasses.replace(base, iterations=2, tasks_per_batch=2, agents_per_task=2, eval_every=1)
        step_field = "inner_lr" if base.meta else "finetune_lr"
        for lr in args.lrs:
            trained = None
            for step in args.steps:
                cfg = dataclasses.replace(base, lr=lr, **{step_field: step})
                started = time.time()
                if trained is None or cfg.meta:  # a non-meta variant's training does not depend on its step
                    trained = meta_train(problem, cfg, args.seed, validate=True)
                net, logs = trained
                scores = validation_kshot(problem, net, cfg, seeds, shots)
                row = {
                    "variant": variant,
                    "lr": lr,
                    step_field: step,
                    **{f"val_return_{k}shot": v for k, v in scores.items()},
                    "curve": _curve_summary(logs),
                    "seconds": time.time() - started,
                }
                table.append(row)
                print(json.dumps(row), flush=True)
    choices = {}
    for variant in args.variants:
        rows = [r for r in table if r["variant"] == variant]
        best = max(rows, key=lambda r: r[f"val_return_{args.select_shots}shot"])
        step_field = "inner_lr" if variant in ("mermaide", "meta_only") else "finetune_lr"
        choices[variant] = {"lr": best["lr"], step_field: best[step_field]}
    result = {
        "scenario": args.scenario,
        "observation": obs,
        "select_shots": args.select_shots,
        "eval_seeds": args.eval_seeds,
        "seed": args.seed,
        "table": table,
        "choices": choices,
    }
    (out / "tuning.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(choices, indent=2))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m policies.tune``."""

    def go() -> None:
        args, _ = parse_args(TuneArgs, argv, prog="python -m policies.tune", description=__doc__)
        from scenarios._cli import prepare_run

        prepare_run(args)
        with thread_limit(args.thread_count):
            run(args)

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
