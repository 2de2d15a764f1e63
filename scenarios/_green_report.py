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
    learned = learned_sentences(results)
    if learned:
        print("\nlearned governments (share of the no-policy-to-oracle gap; paired difference to best_constant):")
        for s in learned:
            print(f"  {s}")


def _welfare_by_seed(grp: pd.DataFrame) -> pd.DataFrame:
    """Mean welfare per seed (rows) and policy label (columns) of one setting's labelled results."""
    return grp.groupby(["policy", "seed"]).welfare.mean().unstack(0)


def _sentences(results: pd.DataFrame) -> list[str]:
    out = []
    df = _with_labels(results)
    for setting, grp in df.groupby("setting", sort=False):
        per = _welfare_by_seed(grp)
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


def learned_sentences(results: pd.DataFrame) -> list[str]:
    """One sentence per setting and learned principal x shots: how it compares with the benchmarks.

    The share of the no-policy-to-oracle gap it closes, its difference to the best constant tax (paired
    over seeds) and its intervention cost against the oracle's.

    The share is computed from means over seeds, ``(W - W_none) / (W_oracle - W_none)``; against
    ``oracle_clean`` too when it was run (the oracle limited to the learned governments' lever).
    """
    out = []
    df = _with_labels(results)
    learned = _learned()
    for setting, grp in df.groupby("setting", sort=False):
        per = _welfare_by_seed(grp)
        cost = grp.groupby("policy").intervention_cost.mean()
        if not {"none", "oracle"} <= set(per.columns):
            continue
        none, oracle = per["none"].mean(), per["oracle"].mean()
        for label in per.columns:
            name = label.split(" (")[0]
            if name not in learned:
                continue
            w = per[label].mean()
            text = f"{setting}, {label}: {w:,.0f} $/household"
            if abs(oracle - none) > 1e-9:
                text += f", {(w - none) / (oracle - none):.0%} of the way from no policy to the oracle"
            if "oracle_clean" in per.columns and abs(per["oracle_clean"].mean() - none) > 1e-9:
                text += f" ({(w - none) / (per['oracle_clean'].mean() - none):.0%} of the way to oracle_clean)"
            text += f", {w / oracle - 1:+.1%} vs the oracle's welfare"
            if "best_constant" in per.columns:
                d = paired_difference(per[label], per["best_constant"])
                text += f"; vs best_constant {d.mean:+,.0f} [{d.ci.low:+,.0f}, {d.ci.high:+,.0f}]"
            text += f"; intervention cost {cost[label]:,.0f} (oracle {cost['oracle']:,.0f})"
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
    learned = learned_sentences(results)
    if learned:
        rep.heading("Learned governments against the benchmarks", 2)
        rep.paragraph(
            "Share of the welfare gap from no policy to the oracle closed (from means over seeds), the paired "
            "difference to the best constant tax with its 95% interval over seeds, and the intervention cost."
        )
        for s in learned:
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
    if "reform" in getattr(args, "principals", ()) and getattr(args, "reform", None):
        from .reform import load_policies

        pols = load_policies(args)
        f = pols.reform_file
        rep.heading("The reform principal", 2)
        rep.paragraph(
            f"The principal 'reform' plays the reform file {f.path} ({f.title}; sha256 {f.sha256[:12]}): its taxes, "
            "subsidies, pass-through and income limits, with its own accounting of revenue, outlays and dividends. "
            "Every principal faces the configured economy here"
            + (
                f"; the file's scenario changes ({', '.join(f.sets_scenario())}) apply only in the "
                "baseline-vs-reform analysis (--reform without 'reform' among --principals)."
                if f.sets_scenario()
                else "."
            )
        )
        rep.table(
            pols.reform.table(pols.baseline, rounds={k: list(v) for k, v in f.changes.items()}),
            caption="what the reform file sets (a value holds until the next round listed)",
        )
    _describe_policies(rep, set(results["principal"]))
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


_POLICY_TEXT = {
    "none": "no carbon policy.",
    "pigouvian": "a tax per technology equal to the social cost of its emissions (SCC x tCO2), every year.",
    "constant": "a fixed vector of taxes (negative: subsidies) given in the config.",
    "best_constant": "the constant tax vector with the highest welfare on this population, found by coordinate "
    "search around the Pigouvian rates with hindsight (it knows the households).",
    "oracle": "plans with the true simulator and the households' learning state over 'early push for d years, then "
    "Pigouvian' and 'early push, then the best constant vector' schedules (the push: an EV subsidy or a surcharge on "
    "the other technologies) and re-plans every few years: a benchmark no real government has (it knows the "
    "households and the best constant vector).",
    "oracle_clean": "the same planner limited to 'EV subsidy for d years (or for good), then the Pigouvian tax': "
    "the best temporary-subsidy policy, with full knowledge.",
    "reform": "the reform file's schedule (see above).",
    "mermaide": "the meta-learned government (Banerjee et al. 2023): a recurrent belief over the choice shares it "
    "observes, a world model of the households' response, a policy that sets the EV's rate between the Pigouvian "
    "tax and a $5,000 subsidy below it and the other technologies' rates within $1,000 of their Pigouvian tax; "
    "trained with MAML on a distribution of populations (shipped checkpoint), "
    "it never sees welfare or the households' values. K-shot = after K adaptation episodes on populations of the "
    "same kind (K = 0: as shipped).",
    "wm_only": "MERMAIDE without meta-learning (its K-shot adaptation is plain fine-tuning).",
    "meta_only": "MERMAIDE without the world model.",
    "model_free": "a recurrent policy trained by policy gradient, without world model or meta-learning.",
}


def _describe_policies(rep: Report, names: set[str]) -> None:
    """One line per compared policy: what it is and what it knows."""
    known = [n for n in _POLICY_TEXT if n in names]
    if not known:
        return
    rep.heading("Policies compared", 2)
    rep.kv({n: _POLICY_TEXT[n] for n in known})


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


# ======================================================================== baseline vs reform
def _fmt(quantity: str, stat: str) -> str:
    if stat == "pct_change":
        return "{:+.2f}%"
    if stat == "change":
        return {"emissions": "{:+,.2f}", "clean_share": "{:+.3f}"}.get(quantity, "{:+,.0f}")
    return {"emissions": "{:,.2f}", "clean_share": "{:.3f}"}.get(quantity, "{:,.0f}")


def _ci(row: Any, fmt: str) -> str:
    from analysis.report import format_value

    mean, low, high = (format_value(float(row[k]), fmt) for k in ("mean", "low", "high"))
    return f"{mean} [{low}, {high}]" if mean else ""


def _lookup(summary: pd.DataFrame, **keys: Any) -> pd.Series | None:
    mask = np.ones(len(summary), dtype=bool)
    for k, v in keys.items():
        mask &= (summary[k] == v).to_numpy()
    hit = summary[mask]
    return None if hit.empty else hit.iloc[0]


_STATS = (("baseline", "baseline"), ("reform", "reform"), ("change", "reform - baseline"), ("pct_change", "% change"))


def reform_horizon_table(horizon: pd.DataFrame, setting: str, basis: str) -> pd.DataFrame:
    """Rows: the aggregate metrics; columns: baseline, reform, change, % change, each ``mean [95% CI]``."""
    from .reform import METRICS

    rows = []
    for q, (label, unit, kind) in METRICS.items():
        what = "mean over years" if kind == "share" else ("sum" if basis == "cumulative" else "present value")
        if kind == "share" and basis == "discounted":
            what = "discounted mean"
        row = {"quantity": label, "unit": f"{unit}, {what}"}
        found = False
        for stat, col in _STATS:
            r = _lookup(horizon, setting=setting, quantity=q, basis=basis, metric=stat)
            row[col] = "" if r is None else _ci(r, _fmt(q, stat))
            found |= r is not None
        if found:
            rows.append(row)
    return pd.DataFrame(rows)


def reform_round_table(by_round: pd.DataFrame, setting: str, quantities: list[str]) -> pd.DataFrame:
    """Per round: the change (reform - baseline) of each quantity, ``mean [95% CI]``."""
    from .reform import METRICS

    sub = by_round[(by_round.setting == setting) & (by_round.metric == "change")]
    out = []
    for t in sorted(sub["round"].unique()):
        row: dict[str, Any] = {"year": int(t)}
        for q in quantities:
            r = _lookup(sub, quantity=q, round=t)
            row[METRICS[q][0]] = "" if r is None else _ci(r, _fmt(q, "change"))
        out.append(row)
    return pd.DataFrame(out)


_DECILE_COLUMNS = (
    ("households", "households", "{:,.0f}"),
    ("income_mean", "mean income, $/yr", "{:,.0f}"),
    ("baseline_mean", "baseline net surplus", "{:,.0f}"),
    ("reform_mean", "reform net surplus", "{:,.0f}"),
    ("change", "change", "{:+,.0f}"),
    ("relative_change_pct", "change, % of net surplus", "{:+.2f}%"),
    ("change_pct_income", "change, % of net income", "{:+.3f}%"),
    ("better_off", "better off", "{:,.0f}"),
    ("worse_off", "worse off", "{:,.0f}"),
    ("unchanged", "unchanged", "{:,.0f}"),
)


def _group_label(g: str) -> str:
    return "all" if g == "all" else f"decile {g}"


def decile_table(dist: pd.DataFrame, setting: str) -> pd.DataFrame:
    """Net surplus by income decile: means, changes and counts, ``mean [95% CI]`` over seeds."""
    sub = dist[dist.setting == setting]
    rows = []
    for g in dict.fromkeys(sub["group"]):
        row = {"income group": _group_label(str(g))}
        for key, label, fmt in _DECILE_COLUMNS:
            r = _lookup(sub, group=g, metric=key)
            row[label] = "" if r is None else _ci(r, fmt)
        rows.append(row)
    return pd.DataFrame(rows)


def winners_losers_table(dist: pd.DataFrame, setting: str) -> pd.DataFrame:
    """Percent of households in each of the five buckets, by income decile (means over seeds)."""
    from ._distribution import BUCKET_LABELS, BUCKETS

    sub = dist[dist.setting == setting]
    rows = []
    for g in dict.fromkeys(sub["group"]):
        row = {"income group": _group_label(str(g))}
        for b in BUCKETS:
            r = _lookup(sub, group=g, metric=f"share_{b}")
            row[BUCKET_LABELS[b]] = "" if r is None else _ci(r, "{:.1f}%")
        rows.append(row)
    return pd.DataFrame(rows)


def gini_table(dist: pd.DataFrame, setting: str) -> pd.DataFrame:
    """Gini coefficients of net surplus and net income, baseline and reform."""
    sub = dist[(dist.setting == setting) & (dist.group == "all")]
    rows = []
    for what, key in (("net surplus", "surplus"), ("net income (income + net surplus)", "income")):
        row = {"Gini of": what}
        for pol in ("baseline", "reform"):
            r = _lookup(sub, metric=f"gini_{key}_{pol}")
            row[pol] = "" if r is None else _ci(r, "{:.4f}")
        rows.append(row)
    return pd.DataFrame(rows)


def _winners_losers_figure(dist: pd.DataFrame, setting: str) -> Any:
    from matplotlib.figure import Figure

    from ._distribution import BUCKET_LABELS, BUCKETS

    colors = ("#D55E00", "#E69F00", "#BBBBBB", "#56B4E9", "#009E73")
    sub = dist[dist.setting == setting]
    groups = list(dict.fromkeys(sub["group"]))
    fig = Figure(figsize=(7.2, 4.0))
    ax = fig.add_subplot()
    left = np.zeros(len(groups))
    ypos = np.arange(len(groups))[::-1]
    for b, color in zip(BUCKETS, colors, strict=True):
        vals = np.array(
            [float(r["mean"]) if (r := _lookup(sub, group=g, metric=f"share_{b}")) is not None else 0.0 for g in groups]
        )
        ax.barh(ypos, vals, left=left, color=color, edgecolor="white", linewidth=0.5, label=BUCKET_LABELS[b])
        left += vals
    ax.set_yticks(ypos, [_group_label(str(g)) for g in groups])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of households (mean over seeds)")
    ax.set_title("Winners and losers: change of net income (income + net surplus)")
    ax.legend(frameon=False, fontsize="small", ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    fig.subplots_adjust(bottom=0.3, left=0.16)
    return fig


def _num(r: pd.Series | None, fmt: str) -> str:
    return "n/a" if r is None else _ci(r, fmt)


def _reform_sentences(tables: dict[str, pd.DataFrame], setting: str) -> list[str]:
    h, dist = tables["horizon"], tables["distribution"]

    def get(q: str, basis: str, stat: str) -> pd.Series | None:
        return _lookup(h, setting=setting, quantity=q, basis=basis, metric=stat)

    emis = get("emissions", "cumulative", "pct_change")
    emis_abs = get("emissions", "cumulative", "change")
    welfare = get("welfare", "discounted", "change")
    budget = get("net_budget", "discounted", "change")
    cs = get("consumer_surplus", "discounted", "change")
    out = [
        f"{setting}: the reform changes cumulative emissions by {_num(emis, '{:+.2f}%')} "
        f"({_num(emis_abs, '{:+,.2f}')} tCO2 per household over the horizon), welfare by "
        f"{_num(welfare, '{:+,.0f}')} $ per household (present value), the net budget by "
        f"{_num(budget, '{:+,.0f}')} $ per household and consumer surplus by {_num(cs, '{:+,.0f}')} $ "
        "per household (present values; mean [95% CI] over seeds)."
    ]
    bottom = _lookup(dist, setting=setting, group="1", metric="change")
    top = _lookup(dist, setting=setting, group="10", metric="change")
    bottom_pct = _lookup(dist, setting=setting, group="1", metric="change_pct_income")
    top_pct = _lookup(dist, setting=setting, group="10", metric="change_pct_income")
    if bottom is not None and top is not None:
        out.append(
            f"The poorest income decile's net surplus changes by {_num(bottom, '{:+,.0f}')} $ per household "
            f"({_num(bottom_pct, '{:+.3f}%')} of net income), the richest decile's by {_num(top, '{:+,.0f}')} $ "
            f"({_num(top_pct, '{:+.3f}%')})."
        )
    return out


def print_reform_table(tables: dict[str, pd.DataFrame], args: Any, policies: Any) -> None:
    """Terminal summary of a baseline-vs-reform run: the discounted horizon table per setting."""
    n = int(tables["results"].seed.nunique())
    title = policies.reform_file.title if policies.reform_file is not None else "reform"
    base = policies.baseline_file.title if policies.baseline_file is not None else "current policy"
    print(f"green_tax reform: {title} vs {base}; per household, mean [95% CI] over {n} seed(s)")
    for setting in tables["results"].setting.unique():
        print(f"\n[{setting}] discounted at {args.economy.discount:.0%}/yr (shares: discounted means)")
        print(
            reform_horizon_table(tables["horizon"], setting, "discounted").drop(columns="unit").to_string(index=False)
        )
        for s in _reform_sentences(tables, setting)[1:]:
            print(s)


def _policy_block(rep: Any, role: str, f: Any, pol: Any, other: Any) -> None:
    if f is None:
        rep.paragraph(
            "Current policy: the configured economy (prices, emissions, SCC and lambda of the config), no tax, "
            "no subsidy, no dividend. Its parameters:"
        )
        rep.table(pol.table(), caption=f"{role}: every parameter, from the round it takes its value")
        return
    rep.paragraph(f"{f.title}. " + (f.description or ""))
    meta = {"file": str(f.path), "sha256": f.sha256, "title": f.title}
    if f.reference:
        meta["reference"] = "; ".join(f.reference)
    rep.kv(meta, caption=f"the {role} file")
    rep.table(
        pol.table(other, rounds={k: list(v) for k, v in f.changes.items()}),
        caption=f"what the {role} file sets (a value holds until the next round listed)"
        + ("; baseline: the value it replaces" if other is not None else ""),
    )
    scenario = f.sets_scenario()
    if scenario:
        rep.paragraph(
            f"Scenario changes in this file ({', '.join(scenario)}): prices are posted to households from the round "
            "they take effect; emissions, SCC and lambda enter the welfare accounting."
        )


def write_reform_report(rf: Any, tables: dict[str, pd.DataFrame], args: Any, policies: Any) -> None:
    """report.html / report.md of the baseline-vs-reform analysis, in the order economists expect.

    Summary, aggregate changes, distributional analysis, the policy (the reform file as a table),
    the baseline, assumptions, citations.
    """
    from analysis.plots import bar_ci, curves_ci, incentive_paths

    from . import _params
    from ._distribution import BUCKET_LABELS
    from .reform import METRICS

    econ, mix = args.economy, args.households
    results, rounds = tables["results"], tables["rounds"]
    rfile, bfile = policies.reform_file, policies.baseline_file
    title = rfile.title if rfile is not None else "reform"
    base_title = bfile.title if bfile is not None else "current policy"
    n_seeds = int(results.seed.nunique())
    settings = list(dict.fromkeys(results.setting))
    rep = Report(f"green_tax reform analysis: {title} vs {base_title}", records=rf.record)

    # 1. summary
    rep.heading("Summary", 2)
    rep.paragraph(
        f"{mix.n_households:,} households, {econ.horizon} years, {n_seeds} seed(s), population(s): "
        f"{', '.join(settings)}. Each seed's households live through the horizon twice, under the baseline "
        f"({base_title}) and under the reform ({title}), with the same random draws (common random numbers), so "
        "every difference is the policy's. Money in $ per household; present values discounted at "
        f"{econ.discount:.0%}/yr. Means with 95% confidence intervals over seeds (t-interval below 10 seeds, BCa "
        "bootstrap from 10; per-year values: t-intervals)."
    )
    for setting in settings:
        for s in _reform_sentences(tables, setting):
            rep.paragraph(s)

    # 2. aggregate changes
    rep.heading("Aggregate changes", 2)
    for setting in settings:
        if len(settings) > 1:
            rep.heading(f"Population: {setting}", 3)
        for basis in ("discounted", "cumulative"):
            rep.table(
                reform_horizon_table(tables["horizon"], setting, basis),
                caption=f"over the horizon, {basis}"
                + (f" at {econ.discount:.0%}/yr" if basis == "discounted" else " (undiscounted)")
                + "; mean [95% CI] over seeds",
            )
        rep.table(
            reform_round_table(
                tables["by_round"], setting, ["emissions", "clean_share", "net_budget", "consumer_surplus", "welfare"]
            ),
            caption="change (reform - baseline) by year, per household; mean [95% t-interval] over seeds "
            "(every quantity by year in aggregate_by_round.csv)",
        )
        pr = tables["paired_rounds"]
        pr = pr[pr.setting == setting].assign(metric=lambda d: d["quantity"].map(lambda q: METRICS[q][0]))
        shown = pr[pr.quantity.isin(["emissions", "clean_share", "consumer_surplus", "welfare"])]
        rep.figure(
            curves_ci(
                shown.dropna(subset=["pct_change"]),
                x="round",
                y="pct_change",
                hue="metric",
                x_unit="year",
                y_unit="% difference, reform vs baseline",
                title="% difference from the baseline by year (mean, 95% CI)",
            ),
            caption=f"Percent differences by year, {setting}",
            name=f"pct_difference_{setting}",
        )
        money = pr[pr.quantity.isin(["tax_revenue", "subsidy_cost", "dividends", "net_budget"])]
        rep.figure(
            curves_ci(
                money,
                x="round",
                y="change",
                hue="metric",
                x_unit="year",
                y_unit="$ per household",
                title="Public accounts: change from the baseline by year",
            ),
            caption=f"Revenue, outlays, dividends and net budget impact by year, {setting}",
            name=f"budget_{setting}",
        )
        shares = [f"share_{t}" for t in econ.technologies]
        sub = rounds[rounds.setting == setting].rename(columns={"principal": "policy"})
        rep.figure(
            incentive_paths(
                sub,
                columns=shares,
                hue="policy",
                unit="share of households",
                title="Technology shares by year: baseline vs reform (mean and 95% CI over seeds)",
            ),
            caption=f"Technology shares by year, {setting}",
            name=f"technology_shares_{setting}",
        )

    # 3. distributional analysis
    rep.heading("Distributional analysis", 2)
    rep.paragraph(
        "Households are ranked by income (lognormal, median "
        f"${mix.income_median:,.0f}, log sd {mix.income_sigma:g}) into deciles (1 = poorest). Net surplus = realised "
        "private value of the car (v - p) minus taxes borne and price changes, plus subsidies received and "
        "dividends, present value over the horizon, $ per household. Net income = income over the horizon + net "
        "surplus. Better off / worse off: a change above / below 0.1% of the household's baseline net income; "
        "counts are households per seed. Weighted statistics by microdf."
    )
    dist = tables["distribution"]
    for setting in settings:
        if len(settings) > 1:
            rep.heading(f"Population: {setting}", 3)
        rep.table(decile_table(dist, setting), caption="net surplus by income decile; mean [95% CI] over seeds")
        rep.table(
            winners_losers_table(dist, setting),
            caption="winners and losers: % of households by change of net income; mean [95% CI] over seeds",
        )
        rep.table(gini_table(dist, setting), caption="inequality (negative amounts counted as zero)")
        dec = dist[(dist.setting == setting) & (dist.group != "all")].rename(columns={"group": "income decile"})
        rep.figure(
            bar_ci(
                dec,
                "change",
                x="income decile",
                unit="$ per household (present value)",
                title="Change of net surplus by income decile (mean, 95% CI)",
            ),
            caption=f"Change of net surplus by income decile, {setting}",
            name=f"deciles_{setting}",
        )
        rep.figure(
            _winners_losers_figure(dist, setting),
            caption=f"Winners and losers by income decile, {setting} ({', '.join(BUCKET_LABELS.values())})",
            name=f"winners_losers_{setting}",
        )

    # 4-5. the policy and the baseline
    rep.heading("The policy", 2)
    _policy_block(rep, "reform", rfile, policies.reform, policies.baseline)
    rep.heading("The baseline", 2)
    _policy_block(rep, "baseline", bfile, policies.baseline, None)

    # 6. assumptions
    rep.heading("Assumptions", 2)
    learners = ", ".join(f"{fam} ({p})" for fam, p in mix.learners.items())
    rep.paragraph(
        f"Households: {mix.rational_share:.0%} informed (logit best response, taste-shock scale "
        f"${mix.rational_temperature:,.0f}/yr), the rest learning: {learners}; {mix.pessimistic_share:.0%} of the "
        f"learners start ${mix.pessimism_depth:,.0f}/yr pessimistic about the {econ.technologies[econ.clean]} car. "
        f"Each year {econ.switch_prob:.0%} of households re-choose (fleet turnover). Populations evaluated: "
        f"{', '.join(settings)} (see python -m scenarios.green_tax --help)."
    )
    rep.paragraph(
        "Accounting: taxes and dividends are transfers; subsidies cost public funds at lambda; welfare = realised "
        "private value at current prices - damages - (lambda - 1) x subsidy outlays - administrative cost = consumer "
        "surplus - producer burden + net budget - damages - (lambda - 1) x outlays. Households see posted prices, "
        "taxes (the passed-through part) and subsidies before choosing; dividends are lump-sum and do not change "
        "choices; price changes are posted and paid to sellers."
    )
    used = list(_params.PARAMETERS)
    rep.table(
        pd.DataFrame([{"parameter": p.name, "title": p.title, "unit": p.unit, "source": p.source} for p in used]),
        caption="parameters and calibration sources (docs/parameters.md)",
    )
    rep.kv({k: v for k, v in dataclasses.asdict(econ).items() if not isinstance(v, list | dict)}, caption="economy")
    rep.code(rf.path("config.toml").read_text() if rf.path("config.toml").exists() else "")

    # 7. citations
    rep.heading("Citations", 2)
    rec = rf.record or {}
    versions = rec.get("versions") or {}
    rep.paragraph(
        "Software: learning-incentives "
        f"{versions.get('learning-incentives') or versions.get('learning_incentives') or ''}".rstrip()
        + (f" (git {str(rec.get('git_commit'))[:10]})" if rec.get("git_commit") else "")
        + "; "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if v and k != "learning-incentives")
        + "; pydantic (parameter schema), microdf-python (weighted statistics)."
    )
    rep.paragraph(_citation_text())
    rep.paragraph(
        "Methods: reforms as {parameter: {round: value}} with carry-forward follow Tax-Calculator (PSLmodels) and "
        "PolicyEngine; distributional tables follow Tax-Brain (income deciles) and PolicyEngine (winners and "
        "losers in five buckets). Sources of the defaults: US EPA (2023) SC-GHG report; EPA-420-F-23-014; AAA "
        "(2022) Your Driving Costs; EIA (2022) grid emissions; Goodwin, Dargay and Hanly (2004); Brons et al. (2008); "
        "Havranek and Kokes (2015); US Census Bureau P60-282 (income); see shared/REFERENCES.md."
    )
    rf.write_report(rep)


def _citation_text() -> str:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "CITATION.cff"
    if not path.exists():
        return "How to cite: see CITATION.cff."
    try:
        import yaml

        cff = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:
        return "How to cite: see CITATION.cff."
    authors = ", ".join(
        a.get("name") or f"{a.get('given-names', '')} {a.get('family-names', '')}".strip()
        for a in cff.get("authors", [])
    )
    text = f"How to cite: {authors}. {cff.get('title', '')}. Version {cff.get('version', '')}"
    if cff.get("date-released"):
        text += f", released {cff['date-released']}"
    text += f". {cff.get('license', '')} license. {cff.get('message', '')}"
    refs = [r.get("title") for r in cff.get("references", []) if r.get("title")]
    if refs:
        text += " References: " + "; ".join(refs) + "."
    return text
