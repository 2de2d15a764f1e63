"""Synthetic green_tax-like run folders for the analysis tests (fixed seeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.runs import RunFolder

BASE_CONFIG: dict[str, Any] = {
    "n_households": 200,
    "rounds": 8,
    "principals": ["none", "pigouvian", "mermaide"],
    "game": {"scc": 190.0, "lambda_mcpf": 1.2, "noise": None},
    "shots": [0, 1],
    "seed": 0,
    "seeds": 4,
    "out": "runs/x",
}

# true mean welfare per principal (mermaide clearly best, pigouvian close to none)
TRUE_WELFARE = {"none": 100.0, "pigouvian": 100.2, "mermaide": 110.0}


def synthetic_results(seeds: list[int], *, shots: tuple[int, ...] = (0, 1), agent_types: bool = False) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        common = rng.normal(0, 2.0)  # common random numbers: shared by principals on one seed
        for principal, mu in TRUE_WELFARE.items():
            for k in shots:
                for at in ["optimist", "pessimist"] if agent_types else [None]:
                    w = mu + common + rng.normal(0, 0.5) + 0.5 * k * (principal == "mermaide")
                    row = {
                        "scenario": "green_tax",
                        "principal": principal,
                        "seed": seed,
                        "shots": k,
                        "principal_return": w - 90,
                        "intervention_cost": {"none": 0.0, "pigouvian": 3.0, "mermaide": 5.0}[principal]
                        + rng.normal(0, 0.2),
                        "adaptation_cost": 0.1 * k,
                        "target_rate": 0.3 + 0.01 * (w - 100),
                        "welfare": w,
                        "emissions": 4.6 - 0.05 * (w - 100),
                    }
                    if at is not None:
                        row["agent_type"] = at
                    rows.append(row)
    return pd.DataFrame(rows)


def synthetic_rounds(seeds: list[int], n_rounds: int = 8) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(2000 + seed)
        for principal, mu in TRUE_WELFARE.items():
            for t in range(n_rounds):
                rows.append(
                    {
                        "principal": principal,
                        "seed": seed,
                        "shots": 1,
                        "round": t,
                        "welfare": mu * (1 - np.exp(-(t + 1) / 2)) + rng.normal(0, 1),
                        "incentive_0": 0.0 if principal == "none" else 50.0 + 5 * t + rng.normal(0, 2),
                        "tax": 0.0 if principal == "none" else 874.0 + rng.normal(0, 10),
                    }
                )
    return pd.DataFrame(rows)


def make_run(
    root: Path,
    name: str,
    *,
    seeds: list[int],
    config: dict[str, Any] | None = None,
    rounds: bool = True,
    agent_types: bool = False,
) -> Path:
    cfg = dict(BASE_CONFIG if config is None else config)
    cfg["seed"], cfg["seeds"], cfg["out"] = seeds[0], len(seeds), str(root / name)
    out = root / name
    with RunFolder(out, scenario="green_tax", config=cfg, seeds=seeds, inputs={"user.toml": b"rounds = 8\n"}) as run:
        run.write_results(synthetic_results(seeds, agent_types=agent_types))
        if rounds:
            run.write_rounds(synthetic_rounds(seeds))
    return out
