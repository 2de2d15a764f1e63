"""The report of scenarios.green_tax: comparison tables, figures and a plain-language summary."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from analysis.plots import bar_ci, curves_ci, frontier
from analysis.report import Report, format_summary
from analysis.stats import paired_difference, summarize

__all__ = ["print_table", "write_report", "write_response_report"]

MAIN = ["welfare", "emissions", "clean_share", "intervention_cost", "tax_revenue", "subsidy_cost"]


def _label(row: pd.Series) -> str:
    return row.principal if row.shots == 0 or row.principal not in _learned() else f"{row.principal} ({row.shots}-shot)"


def _learned() -> set[str]:
    return {"mermaide", "wm_only", "meta_only", "model_free"}


def _with_labels(results: pd.DataFrame) -> pd.DataFrame:
    df = results.copy()
    df["policy"] = [_label(r) for r in df.itertuples()]
    return df


def summary(results: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """Mean and 95% CI over seeds per setting and policy."""
    df = _with_labels(results)
    return summarize(df, by=["setting", "policy"], metrics=metrics or MAIN)


def print_table(results: pd.DataFrame) -> None:
    """The terminal table: welfare, emissions, clean share and cost per setting, mean [95% CI]."""
    s = summary(results, ["welfare", "emissions", "clean_share", "intervention_cost"])
    wide = format_summary(s[s.metric != "clean_share"], "{:,.0f}", show_n=False)
    shares = format_summary(s[s.metric == "clean_share"], "{:.3f}", show_n=False)
    wide = wide.merge(shares, on=["setting", "policy"], how="left")
    n = int(results.seed.nunique())
    print(
        f"green_tax: discounted welfare and costs in $ per household over the horizon, emissions in tCO2 per "
        f"household, clean share = yearly mean; mean [95% CI] over {n} seed(s)"
    )
    for setting, grp in wide.groupby("setting", sort=False):
        print(f"\n[{setting}]")
        print(grp.drop(columns=["setting"]).to_string(index=False))


def _sentences(results: pd.DataFrame) -> list[str]:
    out = []
    df = _with_labels(results)
    for setting, grp in df.groupby("setting", sort=False):
        per = grp.groupby(["policy", "seed"]).welfare.mean().unstack(0)
        if per.empty:
            continue
        means = per.mean().sort_values(ascending=False)
        best = means.index[0]
        text = f"{setting}: highest welfare under {best} ({means.iloc[0]:,.0f} $/household)"
        if "pigouvian" in per.columns and best != "pigouvian":
            d = paired_difference(per[best], per["pigouvian"])
            sig = "significant" if d.significant else "not significant"
            text += f", {d.mean:+,.0f} vs the Pigouvian tax ({sig} at 95%, n={d.n})"
        fb = grp.first_best.mean()
        none = grp[grp.policy == "none"].welfare.mean() if "none" in set(grp.policy) else np.nan
        if np.isfinite(none) and abs(fb - none) > 1e-9:
            share = (means.iloc[0] - none) / (fb - none)
            text += f"; it closes {share:.0%} of the gap from no policy to the informed first best"
        out.append(text + ".")
    return out


def write_report(rf: Any, results: pd.DataFrame, rounds: pd.DataFrame, args: Any) -> None:
    """report.html / report.md with tables and figures."""
    econ = args.economy
    rep = Report("green_tax: carbon taxation of learning households", records=rf.record)
    rep.paragraph(
        f"{args.households.n_households:,} households, {econ.horizon} years, {results.seed.nunique()} seed(s); "
        f"SCC ${econ.scc:g}/tCO2, lambda {econ.mcpf:g}. Welfare is the discounted sum ({econ.discount:.0%}/yr) "
        "of realised private values minus prices, damages and the excess cost of subsidies, in $ per household. "
        "Means with 95% confidence intervals over seeds (t-interval below 10 seeds, BCa bootstrap from 10)."
    )
    for s in _sentences(results):
        rep.paragraph(s)
    rep.heading("Comparison", 2)
    s = summary(results)
    rep.table(format_summary(s, "{:,.1f}"), caption="per household over the horizon; shares are yearly means")
    for setting in results.setting.unique():
        sub = s[s.setting == setting]
        rep.figure(
            bar_ci(sub, "welfare", x="policy", unit="$ per household", title=f"Welfare ({setting})"),
            caption=f"Welfare by policy, {setting}",
            name=f"welfare_{setting}",
        )
        if {"intervention_cost", "welfare"} <= set(sub.metric):
            fig = frontier(
                sub.rename(columns={"policy": "principal"}),
                x="intervention_cost",
                y="welfare",
                x_unit="$ per household",
                y_unit="$ per household",
            )
            rep.figure(fig, caption=f"Cost vs welfare frontier, {setting}", name=f"frontier_{setting}")
    rep.heading("Adoption and tax paths", 2)
    r = _with_labels(rounds)
    for setting in r.setting.unique():
        sub = r[r.setting == setting]
        rep.figure(
            curves_ci(sub, x="round", y="clean_share", hue="policy", x_unit="year", y_unit="share"),
            caption=f"Share of households with a {econ.technologies[econ.clean]} car, {setting}",
            name=f"adoption_{setting}",
        )
        col = f"tax_{econ.technologies[econ.clean]}"
        rep.figure(
            curves_ci(sub, x="round", y=col, hue="policy", x_unit="year", y_unit="$ per year (negative = subsidy)"),
            caption=f"Tax on the {econ.technologies[econ.clean]} car, {setting}",
            name=f"tax_path_{setting}",
        )
    rep.heading("Welfare decomposition", 2)
    dec = (
        _with_labels(results)
        .groupby(["setting", "policy"])[["private_surplus", "tax_revenue", "damages", "subsidy_cost", "welfare"]]
        .mean()
    )
    rep.table(
        dec.reset_index(),
        caption="means over seeds, $ per household (welfare = private + revenue - damages "
        "- lambda x subsidies; private surplus is net of taxes and subsidies)",
        float_format="{:,.0f}",
    )
    inc_cols = [c for c in results.columns if c.startswith("net_surplus_")]
    if inc_cols:
        rep.heading("Incidence by household group", 2)
        inc = _with_labels(results).groupby(["setting", "policy"])[inc_cols].mean().reset_index()
        rep.table(
            inc, caption="undiscounted net private surplus per household over the horizon, $", float_format="{:,.0f}"
        )
    rep.heading("Assumptions and sources", 2)
    rep.paragraph(
        "Prices: AAA (2022) yearly costs of owning; emissions: EPA (gasoline), AAA x EIA grid factor (EV), hybrid "
        "assumed 35% below gasoline; SCC: US EPA (2023); lambda: Norway's official marginal cost of public funds; "
        "fleet turnover and logit noise calibrated to short-run -0.25 / long-run -0.6 gasoline demand elasticities "
        "(Goodwin, Dargay & Hanly 2004; Brons et al. 2008; Havranek & Kokes 2015). Private values, pessimism and "
        "learning rules are this project's assumptions; see the config."
    )
    rep.kv({k: v for k, v in dataclasses.asdict(econ).items() if not isinstance(v, list | dict)}, caption="economy")
    rep.code(rf.path("config.toml").read_text() if rf.path("config.toml").exists() else "")
    rf.write_report(rep)


def write_response_report(rf: Any, table: pd.DataFrame, args: Any) -> None:
    """Report of the --response sweep."""
    rep = Report(
        "green_tax --response: how learning and rational households respond to a gasoline tax", records=rf.record
    )
    analytic = table.attrs.get("analytic", {})
    rep.paragraph(
        "Elasticity of gasoline-car demand with respect to the gasoline price, measured by simulation "
        "(common random numbers against an untaxed run). Short run: the year the tax starts; long run: the end "
        f"of the horizon. Calibration target for rational households: about -0.25 short run and -0.6 long run; "
        f"analytic logit values at the calibration: SR {analytic.get('short_run', float('nan')):.3f}, "
        f"LR {analytic.get('long_run', float('nan')):.3f}."
    )
    s = summarize(table, by=["population", "price_rise"], metrics=["short_run", "long_run"])
    rep.table(format_summary(s, "{:.3f}"), caption="elasticities, mean [95% CI] over seeds")
    rep.figure(
        bar_ci(s, "long_run", x="price_rise", hue="population", unit="elasticity"),
        caption="Long-run elasticity by price rise",
        name="response_long_run",
    )
    rep.figure(
        bar_ci(s, "short_run", x="price_rise", hue="population", unit="elasticity"),
        caption="Short-run elasticity by price rise",
        name="response_short_run",
    )
    rf.write_report(rep)
