"""Meta-train learned principals: ``python -m policies.train --scenario bandit_alignment --out DIR``.

Trains MERMAIDE (or an ablation: ``--variant wm_only``, ``meta_only``,
``model_free``, or ``all``) on a scenario's training distribution, with a
progress bar (loss, return, ETA), scalars logged as JSON lines in
``DIR/logs/``, and checkpoints written atomically every
``--train.checkpoint-every`` updates. ``--resume`` continues an interrupted
training from its last checkpoint (same seed, same result as an uninterrupted
run).

The shipped checkpoints are reproduced bit for bit by (one thread: torch's float reductions, and so the
weights, depend on the thread count)::

    python -m policies.train --scenario bandit_alignment --variant all --threads 1
        --observations full,actions,noisy --seed 0 --out scenarios/checkpoints/bandit_alignment
    python -m policies.train --scenario green_tax --variant all --threads 1 --seed 0
        --out scenarios/checkpoints/green_tax

This is an entry point: it may import scenarios (library modules only import downward).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tqdm import tqdm

from scenarios._cli import prepare_run
from simulator.config import ConfigError, RunOptions, option, parse_args, run_cli, thread_limit

from .mermaide import VARIANTS, MermaideConfig
from .training import CheckpointError, meta_train, save_checkpoint

__all__ = ["TrainArgs", "main"]


@dataclass
class TrainArgs(RunOptions):
    """Settings of a training run (the shared run options: RunOptions)."""

    RUN_NAME: ClassVar[str] = "train"
    DEVICE_NOTE: ClassVar[str] = "the training agents step (the network trains on the CPU either way)"

    scenario: str = option(
        "bandit_alignment",
        help="scenario whose training distribution is used",
        choices=("bandit_alignment", "green_tax"),
    )
    variant: str = option("mermaide", help="method, or 'all'", choices=(*VARIANTS, "all"))
    observations: list[str] = option(
        default_factory=lambda: ["full"],
        help="observation settings (bandit_alignment)",
        choices=("full", "actions", "noisy"),
    )
    iterations: int | None = option(None, help="outer updates (default: the method config's)", low=1)
    quick: bool = option(False, help="a few updates only (smoke test)")
    task_envs: bool = option(
        False, help="one environment per task, seeded per task (the random stream of the ray backend, in-process)"
    )
    train: MermaideConfig = option(default_factory=MermaideConfig, help="method settings (bandit_alignment)")


def _jobs(args: TrainArgs) -> list[tuple[str, str, Any, MermaideConfig]]:
    """(variant, observation, problem, config) for each checkpoint to produce."""
    variants = list(VARIANTS) if args.variant == "all" else [args.variant]
    jobs = []
    if args.scenario == "bandit_alignment":
        from scenarios._bandit_tasks import BanditProblem, BanditSetup

        for obs in args.observations:
            problem = BanditProblem(BanditSetup(observation=obs), device=args.device)
            for v in variants:
                jobs.append((v, obs, problem, dataclasses.replace(args.train, variant=v)))
    else:
        from scenarios._green_economy import Economy, HouseholdMix
        from scenarios._green_learning import GreenProblem, default_train_config

        problem = GreenProblem(Economy(), HouseholdMix(), device=args.device)
        for v in variants:
            jobs.append((v, "shares", problem, default_train_config(v)))
    out = []
    for v, obs, problem, cfg in jobs:
        if args.iterations is not None:
            cfg = dataclasses.replace(cfg, iterations=args.iterations)
        if args.quick:
            cfg = dataclasses.replace(cfg, iterations=2, tasks_per_batch=2, agents_per_task=min(cfg.agents_per_task, 2))
        out.append((v, obs, problem, cfg))
    return out


def _name(scenario: str, variant: str, obs: str) -> str:
    return f"{variant}-{obs}" if scenario == "bandit_alignment" else variant


def _keep_log_before(path: Path, update: int) -> None:
    """Keep only the log lines of updates before ``update`` (and drop a line cut off by a kill)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line)["update"]) < update:
                keep.append(line + "\n")
        except (ValueError, KeyError, TypeError):
            continue
    path.write_text("".join(keep))


def run(args: TrainArgs) -> Path:
    """Train every requested variant; returns the output folder."""
    from analysis.runs import default_out_dir

    out = Path(args.out) if args.out else default_out_dir(TrainArgs.RUN_NAME)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    for variant, obs, problem, cfg in _jobs(args):
        name = _name(args.scenario, variant, obs)
        ckpt = out / f"{name}.pt"
        state = out / f"{name}.train.pt"  # full training state (optimizer, RNG) for --resume
        if (ckpt.exists() or state.exists()) and not args.resume:
            raise ConfigError(
                f"{ckpt if ckpt.exists() else state} exists; pass --resume to continue it or choose another --out"
            )
        if ckpt.exists() and not state.exists():
            print(f"{name}: already trained ({ckpt}); skipped")
            continue
        log_path = out / "logs" / f"{name}.jsonl"
        bar = tqdm(total=cfg.iterations, desc=f"train {name}", disable=not args.progress)
        started = time.time()
        session = {"first": True}

        def report(
            it: int, log: dict[str, float], bar: Any = bar, log_path: Path = log_path, session: dict = session
        ) -> None:
            if session.pop("first", False):  # updates after the checkpoint resumed from are logged again
                _keep_log_before(log_path, it)
                bar.update(it)
            bar.update(1)
            loss = log.get("loss/post", log.get("loss/pre", float("nan")))
            bar.set_postfix(loss=f"{loss:.3f}", ret=f"{log['return/query']:.2f}")
            with log_path.open("a") as fh:
                fh.write(json.dumps({k: float(v) for k, v in log.items()}) + "\n")

        try:
            net, logs = meta_train(
                problem,
                cfg,
                args.seed,
                progress=report,
                checkpoint_path=state,
                resume=args.resume,
                backend=args.backend,
                task_envs=args.task_envs,
            )
        except CheckpointError as exc:
            raise ConfigError(str(exc)) from None
        except FloatingPointError as exc:  # the NaN/inf guard: say where, keep the last good checkpoint
            last = f"; the last good checkpoint is {state}" if state.exists() else ""
            raise ConfigError(f"{name}: training stopped: {exc}{last}") from None
        bar.close()
        # the shipped checkpoint: weights and config only (no optimizer or RNG state)
        save_checkpoint(ckpt, net, cfg, problem=args.scenario, extra={"seed": int(args.seed), "final": logs[-1]})
        state.unlink(missing_ok=True)
        print(f"{name}: {time.time() - started:.0f} s -> {ckpt} ({ckpt.stat().st_size / 1e3:.0f} kB)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m policies.train``."""

    def go() -> None:
        args, _ = parse_args(TrainArgs, argv, prog="python -m policies.train", description=__doc__)
        prepare_run(args)
        with thread_limit(args.thread_count):
            run(args)

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
