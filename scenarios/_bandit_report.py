"""The report of scenarios.bandit_alignment: tables, figures and a plain-language summary."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from analysis.plots import bar_ci, curves_ci
from analysis.report import Report, format_summary
from analysis.stats import paired_difference, summarize

__all__ = ["summary_table", "write_report"]

METRICS = ["normalized_score", "principal_return", "intervention_cost", "adaptation_cost", "target_rate"]


def _per_seed(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Average over agent types within each seed (the seed is the independent unit)."""
    return results.groupby([*by, "seed"], sort=False)[METRICS].mean().reset_index()


def summary_table(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and 95% CI over seeds of every metric per group."""
    return summarize(_per_seed(results, by), by=by, metrics=METRICS)


def _verdicts(results: pd.DataFrame) -> list[str]:
    """Sentences comparing MERMAIDE with each other principal, on held-out settings."""
    held = results[results.setting != "in_distribution"]
    held = held[np.isfinite(held.normalized_score.to_numpy(dtype=float))]  # undefined without none and oracle
    if "mermaide" not in set(held.principal) or held.empty:
        return []
    lines = []
    per = _per_seed(held, ["principal", "observation", "shots"])
    for (obs, shots), grp in per.groupby(["observation", "shots"]):
        mer = grp[grp.principal == "mermaide"].set_index("seed")["normalized_score"]
        if mer.empty:
            continue
        parts = []
        for other in sorted(set(grp.principal) - {"mermaide", "oracle", "none"}):
            oth = grp[grp.principal == other].set_index("seed")["normalized_score"]
            if len(oth.index.intersection(mer.index)) < 2:  # a paired test needs two shared seeds
                continue
            d = paired_difference(mer, oth)
            verdict = "significant" if d.significant else "not significant"
            parts.append(f"{other} {d.mean:+.2f} ({verdict})")
        against = "; difference to " + ", ".join(parts) if parts else ""
        lines.append(
            f"{obs} observation, {shots}-shot: MERMAIDE normalized score {mer.mean():.2f} on held-out types{against}."
        )
    return lines


def write_report(rf: Any, results: pd.DataFrame, rounds: pd.DataFrame, args: Any, seconds: float) -> None:
    """Render report.html / report.md and the PNG figures into the run folder."""
    rep = Report("bandit_alignment: steering learning agents to a target arm", records=rf.record)
    n_seeds = results.seed.nunique()
    rep.paragraph(
        f"{len(set(results.principal))} principals, {n_seeds} seed(s), settings {sorted(set(results.setting))}, "
        f"observations {sorted(set(results.observation))}, shots {sorted(set(results.shots))}; "
        f"{args.test_types} agent types per setting, {args.agents_per_type} fresh agents per type and episode; "
        f"ran in {seconds:.0f} s. Normalized score = (return - none) / (oracle - none) per type; "
        "means and 95% confidence intervals over seeds (t-interval below 10 seeds, BCa bootstrap from 10)."
    )
    for line in _verdicts(results):
        rep.paragraph(line)

    rep.heading("Normalized score on held-out settings", 2)
    held = results[results.setting != "in_distribution"]
    scored = results[np.isfinite(results.normalized_score.to_numpy(dtype=float))]
    held = held[np.isfinite(held.normalized_score.to_numpy(dtype=float))]
    if held.empty:
        rep.paragraph("Normalized scores need both the 'none' and the 'oracle' principals in the run.")
    else:
        s = summary_table(held, ["principal", "observation", "shots"])
        rep.table(format_summary(s[s.metric == "normalized_score"]), caption="held-out settings, mean over types")
        fig = bar_ci(s, "normalized_score", x="principal", hue="shots", unit="share of oracle gain")
        rep.figure(fig, caption="Normalized score by principal and shots (held-out settings)", name="score_by_shots")
    if not scored.empty:
        rep.heading("By setting", 2)
        s = summary_table(scored, ["setting", "principal", "shots"])
        rep.table(format_summary(s[s.metric == "normalized_score"]), caption="normalized score by setting")
    rep.heading("Returns and costs", 2)
    s = summary_table(results, ["principal", "observation", "shots"])
    rep.table(format_summary(s[s.metric != "normalized_score"]), caption="per agent and episode")

    per_shot = _per_seed(scored[scored.principal != "none"], ["principal", "shots"])
    if not per_shot.empty and per_shot.shots.nunique() > 1:
        fig = curves_ci(per_shot, x="shots", y="normalized_score", hue="principal", x_unit="episodes")
        rep.figure(fig, caption="Adaptation: normalized score vs adaptation episodes", name="adaptation_curve")
    r = rounds[rounds.shots == rounds.shots.max()]
    r = r.groupby(["principal", "seed", "round"], sort=False)[["target_share", "incentive_target"]].mean().reset_index()
    fig = curves_ci(r, x="round", y="target_share", hue="principal", y_unit="share")
    rep.figure(fig, caption="Share of agents on the target arm per round", name="target_share")
    fig = curves_ci(r, x="round", y="incentive_target", hue="principal", y_unit="reward units")
    rep.figure(fig, caption="Incentive offered on the target arm per round (mean over agents)", name="incentive_path")

    rep.heading("Assumptions", 2)
    rep.paragraph(
        "Agents learn with the simulator's learner families; held-out settings lie outside the training "
        "distribution (see the scenario docstring). The oracle sees each agent's learning state and pays the "
        "myopically optimal incentive; MERMAIDE and the learned ablations never see test types before "
        "evaluation, and best_constant is searched on training types only."
    )
    rep.kv({k: v for k, v in dataclasses.asdict(args.setup).items() if not isinstance(v, dict)}, caption="game")
    rep.code(_toml(rf))
    rf.write_report(rep)


def _toml(rf: Any) -> str:
    try:
        return rf.path("config.toml").read_text()
    except OSError:
        return ""


def finite_mean(x: pd.Series) -> float:
    """Mean of the finite values (NaN if none)."""
    v = x.to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")
