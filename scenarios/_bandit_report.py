"""The report of scenarios.bandit_alignment: the comparison MERMAIDE must win, curves, tables, and their wording."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from analysis.plots import curves_panels, differences_ci
from analysis.report import Report, format_summary
from analysis.stats import paired_difference, paired_differences, summarize

from ._bandit_tasks import HELD_OUT

__all__ = ["COMPARATORS", "normalize", "paired_table", "pooled_scores", "write_report"]

METRICS = ["principal_return", "intervention_cost", "adaptation_cost", "target_rate"]
COMPARATORS = (
    ("wm_only", 1),
    ("mermaide", 0),
    ("model_free", 0),
    ("model_free", 1),
    ("meta_only", 0),
    ("meta_only", 1),
)
"""What MERMAIDE 1-shot is compared with, paired by seed (the issue's acceptance list)."""

LEARNED = ("mermaide", "wm_only", "meta_only", "model_free")


def normalize(results: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Add ``gap`` (oracle - none of the type) and ``normalized_score`` (NaN where the gap is below ``threshold``)."""
    keys = ["seed", "setting", "observation", "type_index"]
    ref = results[results.principal.isin(["none", "oracle"]) & (results.shots == 0)]
    ref = ref.pivot_table(index=keys, columns="principal", values="principal_return")
    out = results.drop(columns=["gap", "normalized_score", "none_return"], errors="ignore")
    if not {"none", "oracle"} <= set(ref.columns):
        return out.assign(gap=np.nan, normalized_score=np.nan, none_return=np.nan)
    ref = ref.rename(columns={"none": "none_return"})
    ref["gap"] = ref["oracle"] - ref["none_return"]
    out = out.join(ref[["none_return", "gap"]], on=keys)
    scored = out["gap"] >= threshold
    out["normalized_score"] = np.where(scored, (out.principal_return - out.none_return) / out.gap, np.nan)
    return out


def pooled_scores(results: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Normalised score per seed, pooled over the types with a gap of at least ``threshold``.

    ``sum(return - none) / sum(oracle - none)`` over those types, per
    (principal, observation, setting, shots, seed); the unit of the confidence intervals is the seed.
    """
    ok = results[results.gap >= threshold].copy()
    ok["lift"] = ok.principal_return - ok.none_return
    grp = ok.groupby(["principal", "observation", "setting", "shots", "seed"], sort=False)
    out = grp[["lift", "gap"]].sum().reset_index()
    out["normalized_score"] = out.lift / out.gap
    return out.drop(columns=["lift"])


def _per_seed(results: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Average over agent types within each seed (the seed is the independent unit)."""
    return results.groupby([*by, "seed"], sort=False)[metrics].mean().reset_index()


def paired_table(results: pd.DataFrame) -> pd.DataFrame:
    """MERMAIDE 1-shot minus each comparator, per setting and observation: return per agent, paired by seed.

    Columns: setting, observation, comparator, shots, difference, low, high, n, verdict.
    """
    per = _per_seed(results, ["principal", "shots", "setting", "observation"], ["principal_return"])
    rows = []
    for (setting, obs), grp in per.groupby(["setting", "observation"], sort=False):
        mer = grp[(grp.principal == "mermaide") & (grp.shots == 1)].set_index("seed")["principal_return"]
        if mer.empty:
            continue
        for other, k in COMPARATORS:
            oth = grp[(grp.principal == other) & (grp.shots == k)].set_index("seed")["principal_return"]
            if oth.empty:
                continue
            d = paired_difference(mer, oth)
            if d.n < 2:
                verdict = "one seed: no interval"
            elif d.ci.low > 0:
                verdict = "MERMAIDE better"
            elif d.ci.high < 0:
                verdict = "MERMAIDE worse"
            else:
                verdict = "no clear difference"
            rows.append(
                {
                    "setting": setting,
                    "observation": obs,
                    "comparator": f"{other} {k}-shot",
                    "difference": d.mean,
                    "low": d.ci.low if d.n >= 2 else np.nan,
                    "high": d.ci.high if d.n >= 2 else np.nan,
                    "n": d.n,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows)


def _wins(table: pd.DataFrame) -> list[str]:
    """One sentence per observation: on how many held-out settings MERMAIDE 1-shot beats every comparator run."""
    lines: list[str] = []
    if table.empty:
        return lines
    held = table[table.setting.isin(HELD_OUT)]
    for obs, grp in held.groupby("observation", sort=False):
        won = [s for s, g in grp.groupby("setting", sort=False) if (g.verdict == "MERMAIDE better").all()]
        present = grp.comparator.nunique()
        lines.append(
            f"{obs} observation: MERMAIDE 1-shot beats all {present} comparators in the run"
            f"{'' if present == len(COMPARATORS) else f' (of the {len(COMPARATORS)} the comparison needs)'} "
            f"(95% paired interval above zero) on {len(won)} of {grp.setting.nunique()} held-out settings"
            + (f" ({', '.join(won)})." if won else ".")
        )
    return lines


def _learning_curves(learned: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Validation learning curves of the learned principals, per observation setting."""
    rows = []
    for obs, principals in learned.items():
        for name, principal in principals.items():
            for log in getattr(principal, "training_logs", None) or []:
                if "val/return" in log:
                    rows.append(
                        {
                            "principal": name,
                            "observation": obs,
                            "env_steps": log["env_steps"],
                            "val_return": log["val/return"],
                        }
                    )
    return pd.DataFrame(rows)


def write_report(
    rf: Any, results: pd.DataFrame, rounds: pd.DataFrame, args: Any, seconds: float, learned: dict[str, dict[str, Any]]
) -> None:
    """Render report.html / report.md and the PNG figures into the run folder."""
    rep = Report("bandit_alignment: steering learning agents to a target arm", records=rf.record)
    n_seeds = results.seed.nunique()
    game = (
        "posted (announced) incentives" if args.setup.posted else "felt incentives (added to the reward learned from)"
    )
    rep.paragraph(
        f"{results.principal.nunique()} principals, {n_seeds} seed(s), settings {sorted(set(results.setting))}, "
        f"observations {sorted(set(results.observation))}, adaptation episodes K in {sorted(set(results.shots))}; "
        f"{args.test_types} test types per setting and seed, {args.agents_per_type} fresh agents per type and "
        f"episode; {game}; ran in {seconds:.0f} s. Returns are per agent and {args.setup.horizon}-round episode "
        f"(value {args.setup.value:g} per round on the target, minus incentives paid). The normalised score is "
        f"(return - none) / (oracle - none), pooled over the types whose gap oracle - none is at least "
        f"{args.score_threshold:g}; the oracle knows each agent's rule, parameters and state and plans incentive "
        "sequences on copies of it. Intervals: 95% over seeds (t below 10 seeds, BCa bootstrap from 10); "
        "differences are paired by seed."
    )
    table = paired_table(results)
    for line in _wins(table):
        rep.paragraph(line)

    rep.heading("MERMAIDE 1-shot against its ablations, per held-out setting", 2)
    if table.empty:
        rep.paragraph("The run has no MERMAIDE 1-shot rows (add mermaide to --principals and 1 to --shots).")
    else:
        shown = table.assign(
            difference=table.difference.map("{:+.2f}".format),
            interval=[
                f"[{lo:+.2f}, {hi:+.2f}]" if np.isfinite(lo) else ""
                for lo, hi in zip(table.low, table.high, strict=True)
            ],
        )[["setting", "observation", "comparator", "difference", "interval", "n", "verdict"]]
        rep.table(shown, caption="return per agent and episode, MERMAIDE 1-shot minus the comparator (paired by seed)")

        per = _per_seed(results, ["principal", "shots", "setting", "observation"], ["principal_return"])
        per = per.assign(curve=per.principal + " " + per.shots.astype(str) + "-shot")
        wanted = {"mermaide 1-shot", *(f"{p} {k}-shot" for p, k in COMPARATORS)}
        diffs = paired_differences(
            per[per.curve.isin(wanted)],
            "principal_return",
            "mermaide 1-shot",
            by=["observation", "setting"],
            name="curve",
        )
        for obs in sorted(set(diffs.observation)):
            fig = differences_ci(
                diffs[diffs.observation == obs], metric="principal_return", unit="per agent and episode",
                panel="setting", name="curve", title=f"Return minus MERMAIDE 1-shot, {obs} observation",
            )  # fmt: skip
            rep.figure(fig, caption=f"Each comparator minus MERMAIDE 1-shot, {obs} observation", name=f"paired_{obs}")

    pooled = pooled_scores(results, args.score_threshold)
    if not {"none", "oracle"} <= set(results.principal):
        rep.paragraph("Normalized scores need both the 'none' and the 'oracle' principals in the run.")
    if not pooled.empty:
        rep.heading("Normalised score (share of the oracle's gain)", 2)
        s = summarize(pooled, by=["setting", "observation", "principal", "shots"], metrics=["normalized_score"])
        rep.table(format_summary(s), caption=f"pooled over types with a gap >= {args.score_threshold:g}")
        learned_rows = pooled[pooled.principal.isin(LEARNED) & pooled.setting.isin(HELD_OUT)]
        for obs in sorted(set(learned_rows.observation)):
            part = learned_rows[learned_rows.observation == obs]
            if part.shots.nunique() < 2:
                continue
            fig = curves_panels(
                part, x="shots", y="normalized_score", hue="principal", panel="setting",
                x_unit="episodes", y_unit="share of the oracle's gain",
                title=f"K-shot curves on held-out types, {obs} observation",
            )  # fmt: skip
            rep.figure(fig, caption=f"Normalised score vs adaptation episodes, {obs} observation", name=f"kshot_{obs}")
    low = results[(results.gap < args.score_threshold) & (results.shots == 0)]
    if not low.empty:
        n_low = low.drop_duplicates(["seed", "setting", "observation", "type_index"]).shape[0]
        rep.paragraph(
            f"{n_low} type(s) have an oracle - none gap below {args.score_threshold:g} and get no normalised score; "
            "their returns are in the table below."
        )

    curves = _learning_curves(learned)
    if not curves.empty:
        rep.heading("Learning curves", 2)
        rep.paragraph(
            "Return per agent on the fixed validation pool (never reported as a result) of each variant's "
            "initialisation, without exploring, against environment steps of training: a variant counts as "
            "trained when this curve is flat."
        )
        fig = curves_panels(
            curves, x="env_steps", y="val_return", hue="principal", panel="observation", x_unit="environment steps",
            y_unit="per agent and episode", labels={"val_return": "Validation return"},
            title="Validation learning curves",
        )  # fmt: skip
        rep.figure(fig, caption="Validation return vs environment steps, all variants", name="learning_curves")

    rep.heading("Returns and costs", 2)
    s = summarize(
        _per_seed(results, ["setting", "observation", "principal", "shots"], METRICS),
        by=["setting", "observation", "principal", "shots"],
        metrics=METRICS,
    )
    rep.table(format_summary(s), caption="per agent and episode; principals that do not adapt are scored at K = 0")

    r = rounds[rounds.shots.isin([0, 1]) & ~(rounds.principal.isin(LEARNED) & (rounds.shots == 0))]
    r = r.groupby(["principal", "setting", "seed", "round"], sort=False)[["target_share", "incentive_target"]].mean()
    r = r.reset_index()
    fig = curves_panels(
        r,
        x="round",
        y="target_share",
        hue="principal",
        panel="setting",
        y_unit="share",
        title="Agents on the target arm (learned principals 1-shot)",
    )
    rep.figure(fig, caption="Share of agents on the target arm per round", name="target_share")
    fig = curves_panels(
        r,
        x="round",
        y="incentive_target",
        hue="principal",
        panel="setting",
        y_unit="reward units",
        labels={"incentive_target": "Incentive offered on the target"},
        title="Incentive offered on the target arm (learned principals 1-shot)",
    )
    rep.figure(fig, caption="Incentive offered on the target arm per round (mean over agents)", name="incentive_path")

    rep.heading("Assumptions", 2)
    rep.paragraph(
        "Agents learn with the simulator's learner families. The learned principals train on 15 fixed training "
        "types; every hyperparameter was chosen on a separate validation pool; the held-out settings lie outside "
        "the training ranges (see the scenario's documentation). best_constant is the best fixed level on the "
        "training types. The learned principals' own random numbers depend on the evaluation seed."
    )
    rep.kv({k: v for k, v in dataclasses.asdict(args.setup).items() if not isinstance(v, dict)}, caption="game")
    rep.code(_toml(rf))
    rf.write_report(rep)


def _toml(rf: Any) -> str:
    try:
        return rf.path("config.toml").read_text()
    except OSError:
        return ""
