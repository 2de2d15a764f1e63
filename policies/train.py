"""Meta-train learned principals: ``python -m policies.train --scenario bandit_alignment --out DIR``.

One trainer for every scenario (:mod:`policies.training`): it trains MERMAIDE
(or an ablation: ``--variant wm_only``, ``meta_only``, ``model_free``, or
``all``) on the scenario's training pool with the scenario's tuned settings
(chosen on its validation pool by ``python -m policies.tune``), with a progress
bar, scalars logged as JSON lines in ``DIR/logs/`` (the validation learning
curve among them), and checkpoints written atomically every
``--train.checkpoint-every`` updates. ``--resume`` continues an interrupted
training from its last checkpoint (same seed, same result as an uninterrupted
run).

A scenario provides, in its training module (``scenarios._bandit_tasks``,
``scenarios._stackelberg_games``, ``scenarios._green_learning``):
``OBSERVATIONS`` (the observation settings it trains for),
``training_problem(observation, device)``, ``train_config(variant,
observation)`` (the tuned settings) and ``checkpoint_name(variant, observation)``.

The shipped checkpoints are reproduced bit for bit by (one thread: torch's float reductions, and so the
weights, depend on the thread count)::

    python -m policies.train --scenario bandit_alignment --variant all --threads 1
        --observations full,actions --seed 0 --out scenarios/checkpoints/bandit_alignment

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

from .checkpoints import CheckpointError, save_checkpoint
from .mermaide import VARIANTS, MermaideConfig
from .training import meta_train

__all__ = ["TrainArgs", "main"]


SCENARIO_MODULES = {
    "bandit_alignment": "scenarios._bandit_tasks",
    "stackelberg": "scenarios._stackelberg_games",
    "green_tax": "scenarios._green_learning",
}


def scenario_module(scenario: str) -> Any:
    """The training module of a scenario (its problem, tuned configs and checkpoint names)."""
    import importlib

    return importlib.import_module(SCENARIO_MODULES[scenario])


@dataclass
class TrainArgs(RunOptions):
    """Settings of a training run (the shared run options: RunOptions)."""

    RUN_NAME: ClassVar[str] = "train"
    DEVICE_NOTE: ClassVar[str] = "the training agents step (the network trains on the CPU either way)"
    THREADS_NOTE: ClassVar[str] = "numba and torch threads (the shipped checkpoints were trained on 1)"
    THREADS_DEFAULT: ClassVar[str] = "every core"
    BACKEND_NOTE: ClassVar[str] = (
        "where the training environments step: local (this process) or ray (Ray actors, one CPU each; the same "
        "checkpoint)"
    )

    scenario: str = option(
        "bandit_alignment", help="scenario whose training pool is used", choices=tuple(SCENARIO_MODULES)
    )
    variant: str = option("mermaide", help="method, or 'all'", choices=(*VARIANTS, "all"))
    observations: list[str] | None = option(
        None,
        help="observation settings to train for",
        default_text="every one the scenario trains for",
        choices=("full", "actions", "noisy", "shares"),
    )
    iterations: int | None = option(None, help="outer updates", low=1, default_text="the scenario's tuned setting")
    quick: bool = option(False, help="a few updates only (smoke test)")
    task_envs: bool = option(
        False, help="one environment per task, seeded per task (the random stream of the ray backend, in-process)"
    )
    overrides: dict[str, Any] = option(
        default_factory=dict, help="method settings that replace the scenario's tuned ones, e.g. '{\"lr\": 0.001}'"
    )

    def check(self) -> None:
        """The observation settings exist in the scenario; overrides name fields of the method config."""
        super().check()
        module = scenario_module(self.scenario)
        bad = [o for o in (self.observations or []) if o not in module.OBSERVATIONS]
        if bad:
            raise ValueError(
                f"observations: {self.scenario} trains for {', '.join(module.OBSERVATIONS)}, not {bad[0]!r}"
            )
        fields = {f.name for f in dataclasses.fields(MermaideConfig)}
        unknown = sorted(set(self.overrides) - fields)
        if unknown:
            raise ValueError(f"overrides: unknown method setting {unknown[0]!r}")


def _jobs(args: TrainArgs) -> list[tuple[str, str, Any, MermaideConfig]]:
    """(checkpoint name, variant, problem, config) for each checkpoint to produce."""
    module = scenario_module(args.scenario)
    variants = list(VARIANTS) if args.variant == "all" else [args.variant]
    jobs = []
    for obs in args.observations or list(module.OBSERVATIONS):
        problem = module.training_problem(obs, args.device)
        for v in variants:
            cfg = dataclasses.replace(module.train_config(v, obs), **args.overrides)
            if args.iterations is not None:
                cfg = dataclasses.replace(cfg, iterations=args.iterations)
            if args.quick:
                cfg = dataclasses.replace(
                    cfg, iterations=2, tasks_per_batch=2, agents_per_task=min(cfg.agents_per_task, 2), eval_every=1
                )
            jobs.append((module.checkpoint_name(v, obs), v, problem, cfg))
    return jobs


def curve_points(logs: list[dict[str, float]]) -> list[dict[str, float]]:
    """The learning-curve entries of a training log (kept in the shipped checkpoint, for reports)."""
    keep = ("update", "env_steps", "val/return", "val/return_final", "return/query", "seconds")
    return [
        {k: float(v) for k, v in log.items() if k in keep}
        for log in logs
        if "val/return" in log or "val/return_final" in log
    ]


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
    for name, _variant, problem, cfg in _jobs(args):
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
            with log_path.open("a", encoding="utf-8") as fh:
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
        save_checkpoint(
            ckpt, net, cfg, problem=args.scenario, extra={"seed": int(args.seed), "logs": curve_points(logs)}
        )
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
