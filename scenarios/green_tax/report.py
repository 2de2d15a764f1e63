"""The report of scenarios.green_tax: comparison tables, figures and a plain-language summary.

Wording rules (the sentences are tested): welfare and money are whole dollars with thousands
separators, shares are percentages with one decimal; "first best" is always defined where used; a
share of a gap is printed only when that gap is larger than its noise (its paired 95% interval over
seeds excludes zero); several policies are named "highest" together when they are tied within noise;
subsidy outlays are called so (taxes collected are revenue, not a cost).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from analysis.plots import PRINCIPAL_LABELS, bar_ci, curves_panels, differences_ci, frontier
from analysis.report import Report, format_number, format_summary
from analysis.stats import paired_difference, paired_differences, share_of_gap, summarize

__all__ = ["print_response_table", "print_table", "write_report", "write_response_report"]

MAIN = ["welfare", "emissions", "clean_share", "subsidy_cost", "tax_revenue", "dividends"]
LEARNED = ("mermaide", "wm_only", "meta_only", "model_free")
LABELS = {
    "welfare": "welfare ($/household)",
    "first_best": "informed first best ($/household)",
    "emissions": "emissions (tCO2/household)",
    "clean_share": "electric share of vehicles",
    "subsidy_cost": "subsidy outlay ($/household)",
    "intervention_cost": "subsidy outlay + admin ($/household)",
    "tax_revenue": "tax revenue ($/household)",
    "dividends": "dividends ($/household)",
    "no_car_share": "households without a car",
}
FIRST_BEST = (
    "the informed first best (the welfare of the same households, informed, under the Pigouvian carbon tax: "
    "with informed households nothing does better)"
)


def _label(row: Any) -> str:
    return row.principal if row.principal not in LEARNED else f"{row.principal} ({row.shots}-shot)"


def _with_labels(results: pd.DataFrame) -> pd.DataFrame:
    df = results.copy()
    df["policy"] = [_label(r) for r in df.itertuples()]
    return df


def _figure_names(policies: Any) -> dict[str, Any]:
    """The shared figures' keyword arguments for this scenario's policy labels.

    Learned principals with their shots keep the learned family's colour and a display name ("MERMAIDE (1-shot)").
    """
    labels, learned = {}, []
    for p in dict.fromkeys(policies):
        base, _, rest = str(p).partition(" (")
        if base in LEARNED:
            labels[p] = f"{PRINCIPAL_LABELS.get(base, base)} ({rest}"
            learned.append(p)
    return {"principal_labels": labels, "families": {"learned": (*LEARNED, *learned)}}


def summary(results: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """Mean and 95% CI over seeds per setting and policy."""
    df = _with_labels(results)
    return summarize(df, by=["setting", "policy"], metrics=metrics or MAIN)


def _fmt_cell(metric: str) -> str:
    if metric.endswith("_share"):
        return "{:.1%}"
    if metric == "emissions":
        return "{:,.1f}"
    return "{:,.0f}"


def display_table(results: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Setting, policy and one column per metric: ``mean [95% CI]`` (the mean alone for one seed)."""
    s = summary(results, metrics)
    one_seed = results.seed.nunique() < 2
    parts = []
    for m in metrics:
        sub = s[s.metric == m]
        if one_seed:
            col = sub[["setting", "policy"]].copy()
            col[m] = [_fmt_cell(m).format(v) for v in sub["mean"]]
        else:
            col = format_summary(sub, _fmt_cell(m), show_n=False)
        parts.append(col.rename(columns={m: LABELS.get(m, m)}))
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part, on=["setting", "policy"], how="left")
    return out


def print_table(results: pd.DataFrame) -> None:
    """The terminal table: welfare, emissions, electric share, subsidy outlay per setting."""
    n = int(results.seed.nunique())
    table = display_table(results, ["welfare", "emissions", "clean_share", "subsidy_cost"])
    ci = f"mean [95% CI] over {n} seeds" if n > 1 else "one seed (no intervals)"
    print(
        f"green_tax: welfare and money in $ per household, discounted sums over the horizon; emissions in tCO2 "
        f"per household over the horizon; electric share of vehicles = yearly mean; {ci}"
    )
    for setting, grp in table.groupby("setting", sort=False):
        print(f"\n[{setting}]")
        print(grp.drop(columns=["setting"]).to_string(index=False))
    for text in _sentences(results) + learned_sentences(results) + kshot_sentences(results):
        print(f"\n{text}")


def _welfare_by_seed(grp: pd.DataFrame, col: str = "welfare") -> pd.DataFrame:
    """Mean welfare per seed (rows) and policy label (columns) of one setting's labelled results."""
    return grp.groupby(["policy", "seed"])[col].mean().unstack(0)


def _beyond_noise(a: pd.Series, b: pd.Series) -> tuple[bool, str]:
    """Whether a - b is larger than its noise (paired 95% interval over seeds excludes 0), and the text."""
    diff = a - b
    if diff.abs().max() < 1e-9:
        return False, "0 (identical)"
    if len(diff.dropna()) < 2:
        return False, f"{diff.mean():+,.0f} (one seed: no interval)"
    d = paired_difference(a, b)
    text = f"{_signed(d.mean)} [{_signed(d.ci.low)}, {_signed(d.ci.high)}]"
    return bool(d.ci.low > 0 or d.ci.high < 0), text


def _signed(x: float) -> str:
    return format_number(round(float(x)), 1, signed=True)


def _dollars(x: float) -> str:
    return format_number(round(float(x)), 1)


def _share_of_gap(per: pd.DataFrame, label: str, low: str, high: str, what: str) -> str:
    """'x% of the way from low to high' when that gap is beyond noise, else the gap in dollars and why not.

    The share is analysis.stats.share_of_gap with the noise = the half-width of the gap's paired 95% interval.
    """
    ok, gap = _beyond_noise(per[high], per[low])
    if len(per) < 2 or not ok:
        why = "with one seed its noise is unknown" if len(per) < 2 else "it is within noise"
        return f"the gap from {low} to {what} is {gap} $/household: {why}, so no share of it is reported"
    d = paired_difference(per[high], per[low])
    share = share_of_gap(
        float(per[label].mean()), float(per[low].mean()), float(per[high].mean()), noise=(d.ci.high - d.ci.low) / 2
    )
    if share is None:  # pragma: no cover - excluded above
        return f"the gap from {low} to {what} is within noise ({gap} $/household): no share of it is reported"
    return f"{share:.0%} of the way from {low} to {what} (a gap of {gap} $/household)"


def _sentences(results: pd.DataFrame) -> list[str]:
    """Per setting: the highest welfare (ties within noise named together) and its place in the gap to first best."""
    out = []
    df = _with_labels(results)
    for setting, grp in df.groupby("setting", sort=False):
        per = _welfare_by_seed(grp)
        if per.empty:
            continue
        means = per.mean().sort_values(ascending=False)
        best = means.index[0]
        if len(per) < 2:  # one seed: ties cannot be told from noise, only exact ones
            tied = [p for p in means.index[1:] if abs(means[p] - means.iloc[0]) < 1e-6]
        else:
            tied = [p for p in means.index[1:] if not _beyond_noise(per[best], per[p])[0]]
        names = ", ".join([best, *tied])
        text = f"{setting}: highest welfare under {names} ({_dollars(means.iloc[0])} $/household"
        if tied:
            text += ", tied exactly)" if len(per) < 2 else ", tied within noise)"
        else:
            text += ", one seed: differences not tested)" if len(per) < 2 else ")"
        if "pigouvian" in per.columns and best != "pigouvian" and "pigouvian" not in tied:
            text += f"; {_beyond_noise(per[best], per['pigouvian'])[1]} $/household vs the Pigouvian tax"
        fb = grp.groupby("seed").first_best.first()
        if "none" in per.columns:
            per = per.assign(first_best=fb)
            text += "; " + _share_of_gap(per, best, "none", "first_best", FIRST_BEST)
        out.append(text + ".")
    return out


def learned_sentences(results: pd.DataFrame) -> list[str]:
    """One sentence per setting and learned principal x shots: how it compares with the benchmarks.

    The share of the no-policy-to-oracle gap it closes (only when that gap is beyond noise), its paired
    difference to the best constant policy and to the oracle, and its subsidy outlay against the oracle's.
    """
    out = []
    df = _with_labels(results)
    for setting, grp in df.groupby("setting", sort=False):
        per = _welfare_by_seed(grp)
        cost = grp.groupby("policy").subsidy_cost.mean()
        if not {"none", "oracle"} <= set(per.columns):
            continue
        for label in per.columns:
            if label.split(" (")[0] not in LEARNED:
                continue
            text = f"{setting}, {label}: {_dollars(per[label].mean())} $/household, "
            text += _share_of_gap(per, label, "none", "oracle", "the oracle")
            if "oracle_clean" in per.columns:
                text += "; " + _share_of_gap(per, label, "none", "oracle_clean", "oracle_clean")
            if "best_constant" in per.columns:
                text += f"; vs best_constant {_beyond_noise(per[label], per['best_constant'])[1]}"
            text += f"; vs the oracle {_beyond_noise(per[label], per['oracle'])[1]}"
            text += f"; subsidy outlay {_dollars(cost[label])} (oracle {_dollars(cost['oracle'])}) $/household"
            out.append(text + ".")
    return out


def kshot_sentences(results: pd.DataFrame) -> list[str]:
    """Per setting and learned principal evaluated at several K: welfare at each K and its paired change from K = 0.

    Says whether the curve rises: the K > 0 above K = 0 beyond noise (the paired 95% interval over seeds
    excludes 0), and the K below it beyond noise.
    """
    out = []
    learned = results[results.principal.isin(LEARNED)]
    for (setting, name), grp in learned.groupby(["setting", "principal"], sort=False):
        per = grp.groupby(["shots", "seed"]).welfare.mean().unstack(0)
        if per.shape[1] < 2 or 0 not in per.columns:
            continue
        parts = [f"K=0 {_dollars(per[0].mean())}"]
        up, down = [], []
        for k in [c for c in per.columns if c != 0]:
            beyond, text = _beyond_noise(per[k], per[0])
            if beyond:
                (up if per[k].mean() > per[0].mean() else down).append(str(k))
            parts.append(f"K={k} {_dollars(per[k].mean())} ({text} vs K=0)")
        verdict = f"rises beyond noise (K={', '.join(up)})" if up else "does not rise beyond noise"
        if down:
            verdict += f"{' but' if up else ';'} falls beyond noise at K={', '.join(down)}"
        out.append(f"{setting}, {name}: welfare $/household " + "; ".join(parts) + f": the K-shot curve {verdict}.")
    return out


def learning_curves(args: Any) -> pd.DataFrame:
    """Validation learning curves of the learned principals compared (from their checkpoints; none with --retrain)."""
    from pathlib import Path

    from policies.checkpoints import CheckpointError, load_checkpoint

    if getattr(args, "retrain", False):
        return pd.DataFrame()
    folder = Path(args.checkpoints) if args.checkpoints else Path(__file__).parents[1] / "checkpoints" / "green_tax"
    rows = []
    for name in [p for p in args.principals if p in LEARNED]:
        try:
            state = load_checkpoint(folder / f"{name}.pt", expect_variant=name)
        except (CheckpointError, OSError):
            continue
        for log in state.get("logs") or []:
            value = log.get("val/return", log.get("val/return_final"))
            if value is not None:
                rows.append({"principal": name, "env_steps": log["env_steps"], "val_return": value})
    return pd.DataFrame(rows)


def incidence_table(results: pd.DataFrame) -> pd.DataFrame:
    """Net surplus per household by income decile (discounted, net of dividends and financing), means over seeds."""
    cols = [f"net_surplus_d{d}" for d in range(1, 11)]
    cols = [c for c in cols if c in results.columns]
    inc = _with_labels(results).groupby(["setting", "policy"], sort=False)[cols].mean().reset_index()
    return inc.rename(columns={c: f"decile {c.rsplit('d', 1)[1]}" for c in cols})


def write_report(rf: Any, results: pd.DataFrame, rounds: pd.DataFrame, args: Any) -> None:
    """report.html / report.md with tables and figures."""
    from .economy import scc_path

    econ = args.economy
    scc = scc_path(econ)
    n = results.seed.nunique()
    rep = Report("green_tax: carbon taxation of learning households", records=rf.record)
    rep.paragraph(
        f"{args.households.n_households:,} households, a {econ.burn_in}-year burn-in under no policy, then "
        f"{econ.horizon} years ({econ.start_year}-{econ.start_year + econ.horizon - 1}); {n} seed(s). Welfare is the "
        f"sum over the years, discounted at {econ.discount:.1%} (the rate of the SCC path: US EPA 2023, "
        f"${scc[0]:,.0f}/t in {econ.start_year} to ${scc[-1]:,.0f}/t in {econ.start_year + econ.horizon - 1}, "
        "2022 dollars), of the households' realised values at resource cost minus the damages of their emissions, "
        f"plus (lambda - 1) x the net public budget (lambda = {econ.mcpf:g}); in $ per household. Every principal "
        f"but 'none' acts on top of a carbon tax of {econ.carbon_tax_default:g} x the SCC, and returns "
        f"{econ.dividend_default:.0%} of its net revenue as a dividend. The reference '{FIRST_BEST}' is computed "
        "for every seed. Means with 95% confidence intervals over seeds (t-interval below 10 seeds, BCa bootstrap "
        "from 10); with one seed, means only."
    )
    for text in _sentences(results):
        rep.paragraph(text)
    learned = learned_sentences(results)
    if learned:
        rep.heading("Learned governments against the benchmarks", 2)
        rep.paragraph(
            "The share of the welfare gap from no policy to the oracle closed (only where that gap is beyond noise), "
            "paired differences to the best constant policy and to the oracle with their 95% intervals over seeds, "
            "and the subsidy outlay."
        )
        for text in learned:
            rep.paragraph(text)
    kshot = kshot_sentences(results)
    if kshot:
        rep.heading("K-shot curves", 2)
        rep.paragraph(
            "Welfare of each learned government after K adaptation episodes on fresh populations of the same kind "
            "(K = 0: as trained), and its paired change from K = 0 with the 95% interval over seeds."
        )
        for text in kshot:
            rep.paragraph(text)
        part = results[results.principal.isin(LEARNED)]
        if part.seed.nunique() > 1 and part.shots.nunique() > 1:
            keys = ["setting", "principal", "seed"]
            zero = part[part.shots == 0].groupby(keys).welfare.mean().rename("welfare_k0")
            change = part.join(zero, on=keys).assign(welfare_change=lambda d: d.welfare - d.welfare_k0)
            rep.figure(
                curves_panels(
                    change.dropna(subset=["welfare_change"]),
                    x="shots",
                    y="welfare_change",
                    hue="principal",
                    panel="setting",
                    y_unit="$ per household",
                    labels={"shots": "Adaptation episodes K", "welfare_change": "Welfare change from K = 0"},
                    title="K-shot curves: welfare change from K = 0, paired by seed",
                    sharey=False,
                ),
                caption="Welfare after K adaptation episodes minus welfare at K = 0, per seed: mean and 95% interval",
                name="kshot",
            )
    curves = learning_curves(args)
    if not curves.empty:
        rep.heading("Validation learning curves", 2)
        rep.paragraph(
            "Welfare gain per household over the Pigouvian carbon tax alone, summed over the horizon, of each "
            "variant's initialisation on the validation populations (never reported as results), without "
            "exploring, against environment steps (population-years) of training: a variant counts as trained "
            "when its curve is flat."
        )
        if curves.env_steps.nunique() > 1:
            kind = curves.principal.map(lambda p: "world model" if p in ("mermaide", "wm_only") else "policy only")
            rep.figure(
                curves_panels(
                    curves.assign(steps=curves.env_steps / 1000.0, kind=kind),
                    x="steps",
                    y="val_return",
                    hue="principal",
                    panel="kind",
                    x_unit="thousands",
                    y_unit="$ per household",
                    labels={"val_return": "Validation return", "steps": "Environment steps"},
                    title="Validation learning curves",
                    sharey=False,
                ),
                caption="Validation return vs environment steps (population-years), all variants",
                name="learning_curves",
            )
        rep.table(
            curves.pivot_table(index="env_steps", columns="principal", values="val_return").reset_index(),
            caption="validation return, $ per household",
            float_format="{:,.0f}",
        )
    rep.heading("Comparison", 2)
    rep.table(
        display_table(results, ["welfare", "first_best", *MAIN[1:], "no_car_share"]),
        caption="per household over the horizon (money discounted); shares are yearly means",
    )
    labelled = _with_labels(results)
    names = _figure_names(labelled.policy)
    diffs = paired_differences(labelled, "welfare", "none", by="setting", name="policy", rng=0)
    if not diffs.empty:
        rep.figure(
            differences_ci(diffs, metric="welfare", unit="$ per household", panel="setting", name="policy", **names),
            caption="Welfare of each policy minus no policy's, paired by seed (a hollow marker: one seed, no interval)",
            name="welfare_differences",
        )
    s = summary(results, ["welfare", "subsidy_cost"])
    for setting in results.setting.unique():
        fig = frontier(
            s[s.setting == setting].rename(columns={"policy": "principal"}),
            x="subsidy_cost",
            y="welfare",
            x_unit="$ per household",
            y_unit="$ per household",
        )
        rep.figure(fig, caption=f"Subsidy outlay vs welfare, {setting}", name=f"frontier_{setting}")
    rep.heading("Adoption and policy paths", 2)
    r = _with_labels(rounds)
    names = _figure_names(r.policy)
    clean = econ.technologies[econ.clean]
    rep.figure(
        curves_panels(
            r,
            x="round",
            y="clean_share",
            hue="policy",
            panel="setting",
            x_unit="year",
            y_unit="share",
            labels={"clean_share": "Electric share of vehicles"},
            **names,
        ),
        caption="Electric share of vehicles by year of the horizon, one panel per setting",
        name="adoption",
    )
    rep.figure(
        curves_panels(
            r,
            x="round",
            y=f"subsidy_{clean}",
            hue="policy",
            panel="setting",
            x_unit="year",
            y_unit="$ per vehicle and year",
            labels={f"subsidy_{clean}": f"Subsidy per {clean} vehicle"},
            **names,
        ),
        caption=f"Subsidy per {clean} vehicle and year (negative: a tax), one panel per setting",
        name="subsidy_path",
    )
    rep.heading("Welfare decomposition", 2)
    dec = (
        _with_labels(results)
        .groupby(["setting", "policy"], sort=False)[
            ["private_value", "damages", "tax_revenue", "subsidy_cost", "dividends", "net_budget", "welfare"]
        ]
        .mean()
    )
    rep.table(
        dec.reset_index(),
        caption=f"means over seeds, $ per household, discounted: welfare = private value - damages + "
        f"({econ.mcpf:g} - 1) x net budget, net budget = revenue - subsidy outlay - dividends (administrative "
        "costs, if set, also subtracted); private value = realised values at resource cost (taxes are transfers)",
        float_format="{:,.0f}",
    )
    rep.heading("Incidence by income decile", 2)
    rep.table(
        incidence_table(results),
        caption="net surplus per household over the horizon, discounted, $: realised values - taxes borne + "
        f"subsidies + dividends - its share of the net budget (financed '{econ.subsidy_financing}'); decile 1 = "
        "poorest. The baseline-vs-reform analysis (--reform) gives winners and losers and the comparison with "
        "published incidence studies.",
        float_format="{:,.0f}",
    )
    if "reform" in getattr(args, "principals", ()) and getattr(args, "reform", None):
        from .reforms import load_policies

        pols = load_policies(args)
        f = pols.reform_file
        rep.heading("The reform principal", 2)
        rep.paragraph(
            f"The principal 'reform' plays the reform file {f.path} ({f.title}; sha256 {f.sha256[:12]}): its taxes, "
            "subsidies, pass-through, income limits and dividends. Every principal faces the configured economy here"
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
        "Every parameter's value, unit and source is in docs/parameters.md. In short: vehicle costs AAA (2022); "
        "fuel economy and CO2 per gallon EPA (2023 fact sheet); grid intensity EIA (2022); SCC path US EPA (2023) "
        "at the discount rate; lambda Norway's official value; ownership and vehicles by income 2001 NHTS; "
        "replacement probability from new registrations over vehicles in operation (S&P Global Mobility); miles "
        "elasticity Small & Van Dender (2007) and Gillingham (2014); values, pessimism and learning rules are this "
        "project's calibration and assumptions."
    )
    rep.kv({k: v for k, v in dataclasses.asdict(econ).items() if not isinstance(v, list | dict)}, caption="economy")
    rep.code(rf.path("config.toml").read_text() if rf.path("config.toml").exists() else "")
    rf.write_report(rep)


_POLICY_TEXT = {
    "none": "no carbon tax and no vehicle incentive.",
    "pigouvian": "a carbon tax equal to the social cost of carbon of the year, on gasoline and charging "
    "electricity (paid per mile), announced; no vehicle incentive. First best for informed households.",
    "constant": "a fixed vector of vehicle taxes (negative: subsidies) from the config, on top of the Pigouvian "
    "carbon tax.",
    "best_constant": "the constant vehicle taxes or subsidies with the highest welfare on this population, on top "
    "of the Pigouvian carbon tax, found by coordinate search with hindsight (it knows the households).",
    "oracle": "plans with the true simulator and the households' learning state over 'an early push for d years' "
    "schedules on top of the Pigouvian carbon tax and of the best constant vector (the push: an electric-car "
    "subsidy or a surcharge on the other cars), re-planning every few years: a benchmark no real government has.",
    "oracle_clean": "the same planner limited to 'an electric-car subsidy for d years (or for good)': the best "
    "temporary-subsidy policy, with full knowledge.",
    "reform": "the reform file's schedule (see above).",
    "mermaide": "the meta-learned government (Banerjee et al. 2023): a recurrent belief over the choice shares it "
    "observes, a world model of the households' response and of a year's welfare gain over the Pigouvian carbon "
    "tax alone, and a planner that picks each year, through that model, one of 35 policies on top of the "
    "Pigouvian carbon tax (an electric-car subsidy of $0 to $2,000 a year per vehicle times a surcharge or rebate "
    "of up to $500 on the other cars); trained with MAML on a distribution of simulated populations (shipped "
    "checkpoint). K-shot = after K adaptation episodes on populations of the same kind, whose choice shares and "
    "welfare gains (from the simulation) it fits (K = 0: as shipped).",
    "wm_only": "MERMAIDE without meta-learning (its K-shot adaptation is plain fine-tuning of the world model).",
    "meta_only": "MERMAIDE without the world model: a meta-learned policy over the same 35 policies (actor-critic).",
    "model_free": "a recurrent policy over the same 35 policies trained by actor-critic, without world model or "
    "meta-learning.",
}


def _describe_policies(rep: Report, names: set[str]) -> None:
    """One line per compared policy: what it is and what it knows."""
    known = [n for n in _POLICY_TEXT if n in names]
    if not known:
        return
    rep.heading("Policies compared", 2)
    rep.kv({n: _POLICY_TEXT[n] for n in known})


# ======================================================================== --response
PUBLISHED = {
    "short_run": (
        "short run: -0.034 to -0.077 in 2001-2006 (Hughes, Knittel & Sperling 2008), median -0.15 (Dahl 2012), "
        "mean -0.34 (Brons et al. 2008)",
        -0.34,
        -0.034,
    ),
    "long_run": ("long run: median -0.55 (Dahl 2012), mean -0.84 (Brons et al. 2008)", -0.84, -0.55),
    "miles": (
        "miles: -0.107 to -0.222 long run (Small & Van Dender 2007), -0.22 medium run (Gillingham 2014)",
        -0.222,
        -0.107,
    ),
}
"""Published elasticities of gasoline demand and of miles to the gasoline price: (text, low, high)."""


def response_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% CI over seeds of every elasticity, per population and price rise."""
    metrics = [c for c in table.columns if c.startswith(("short_run", "long_run"))]
    return summarize(table, by=["population", "price_rise"], metrics=metrics)


def print_response_table(table: pd.DataFrame) -> None:
    """The terminal table of --response, with units and the published ranges."""
    s = response_summary(table)
    n = table.seed.nunique()
    if n > 1:
        wide = format_summary(s, "{:+.3f}", show_n=False)
    else:
        wide = s.pivot_table(index=["population", "price_rise"], columns="metric", values="mean", sort=False)
        wide = wide.map(lambda v: f"{v:+.3f}").reset_index()
        wide.columns.name = None
    print(
        "green_tax --response: elasticity of gasoline demand to the gasoline price (d log gallons / d log price), "
        f"short run = first year, long run = after the horizon; from miles (fleet held) and from the fleet; "
        f"{'mean [95% CI]' if n > 1 else 'one seed'} over {n} seed(s)"
    )
    print(wide.to_string(index=False))
    analytic = table.attrs.get("analytic", {})
    if analytic:
        print(
            f"informed households, analytic, full adjustment: short run {analytic['short_run']:+.3f} (miles "
            f"{analytic['miles']:+.3f}), long run {analytic['long_run']:+.3f} "
            f"(fleet {analytic['fleet_long_run']:+.3f}: technology {analytic['technology_long_run']:+.3f}, "
            f"ownership {analytic['ownership_long_run']:+.3f})"
        )
    print("published: " + "; ".join(text for text, _, _ in PUBLISHED.values()))


def write_response_report(rf: Any, table: pd.DataFrame, args: Any) -> None:
    """Report of the --response sweep."""
    econ = args.economy
    rep = Report("green_tax --response: gasoline demand of learning and informed households", records=rf.record)
    analytic = table.attrs.get("analytic", {})
    rep.paragraph(
        "Elasticity of gasoline demand with respect to the gasoline price, by simulation: each rise starts after "
        "the burn-in and stays; the untaxed run of the same households is the counterfactual (common random "
        "numbers). Short run: the first year; long run: after "
        f"{econ.horizon} years (with {econ.replacement_prob:.0%} of households replacing their cars a year, the fleet "
        f"has by then made about {1 - (1 - econ.replacement_prob) ** econ.horizon:.0%} of its adjustment). Each "
        "elasticity is split into the part from miles (the rise's miles on the untaxed run's fleet) and the part "
        "from the fleet (technologies and ownership)."
    )
    if analytic:
        rep.paragraph(
            f"Informed households, analytic, full adjustment of the fleet: short run {analytic['short_run']:+.3f} "
            f"(miles {analytic['miles']:+.3f}), long run {analytic['long_run']:+.3f} (fleet "
            f"{analytic['fleet_long_run']:+.3f}: technology {analytic['technology_long_run']:+.3f}, ownership "
            f"{analytic['ownership_long_run']:+.3f})."
        )
    rep.paragraph("Published: " + "; ".join(text for text, _, _ in PUBLISHED.values()) + ".")
    s = response_summary(table)
    rep.table(format_summary(s, "{:+.3f}"), caption="elasticities, mean [95% CI] over seeds")
    for metric in ("short_run", "long_run"):
        rep.figure(
            bar_ci(s, metric, x="price_rise", hue="population", unit="elasticity"),
            caption=f"{metric.replace('_', ' ')} elasticity of gasoline demand by price rise",
            name=f"response_{metric}",
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
    from .reforms import METRICS

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
    from .reforms import METRICS

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
    from .distribution import BUCKET_LABELS, BUCKETS

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

    from .distribution import BUCKET_LABELS, BUCKETS

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

    from . import params as _params
    from .distribution import BUCKET_LABELS
    from .reforms import METRICS

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
        "value of the household's cars and driving (v - p) minus taxes borne and price changes, plus subsidies "
        f"received and dividends, minus its share of the net budget ('{econ.subsidy_financing}'), present value over "
        "the horizon, $ per household. Net income = income over the horizon + net "
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

    rep.heading("Against the published incidence studies", 2)
    rep.paragraph(
        "How the distributional tables compare with what published incidence studies find, for the kind of policy "
        "the reform is (a carbon tax, a dividend, a subsidy). 'This run' is the mean over seeds of the headline "
        "quantity; the studies measure people or tax filers and actual US policies, this model households over "
        "the horizon: a check of shape and rough size, not an estimate."
    )
    for setting in settings:
        checks = incidence_checks(dist, setting, econ, policies)
        if checks.empty:
            continue
        if len(settings) > 1:
            rep.heading(f"Population: {setting}", 3)
        rep.table(checks, caption="this run against published incidence studies")

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
        f"Both runs start from the same steady-state fleet ({econ.burn_in} years under the baseline); each year "
        f"{econ.replacement_prob:.0%} of households replace their cars. Populations evaluated: "
        f"{', '.join(settings)} (see python -m scenarios.green_tax --help)."
    )
    rep.paragraph(
        "Accounting (one computation for every run): taxes, subsidies and dividends are transfers; welfare = "
        "realised values at resource cost - damages + (lambda - 1) x net budget - administrative cost, the net "
        "budget being revenue - subsidy outlays - dividends. Households see posted prices, taxes (the passed-through "
        "part of a vehicle tax, the carbon tax through their cost per mile) and subsidies before choosing, valued "
        f"over their expected holding period under the announced schedule ({econ.foresight}); dividends are "
        "lump-sum and do not change choices; price changes are posted and paid to sellers. In the distributional "
        f"tables the net budget is raised from (or returned to) households by the rule '{econ.subsidy_financing}'."
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
        "(2022) Your Driving Costs; EIA (2022) grid emissions; 2001 NHTS (ownership by income); S&P Global Mobility "
        "(fleet turnover); Small and Van Dender (2007), Gillingham (2014) (miles); Brons et al. (2008), Dahl (2012), "
        "Hughes, Knittel and Sperling (2008) (gasoline demand); US Census Bureau P60-282 (income); incidence: "
        "Borenstein and Davis (2016), Fremstad and Paul (2019), Grainger and Kolstad (2010); docs/parameters.md."
    )
    rf.write_report(rep)


def _mean(dist: pd.DataFrame, setting: str, group: str, metric: str) -> float:
    hit = dist[(dist.setting == setting) & (dist.group == group) & (dist.metric == metric)]
    return float(hit["mean"].iloc[0]) if len(hit) else float("nan")


def incidence_checks(dist: pd.DataFrame, setting: str, econ: Any, policies: Any) -> pd.DataFrame:
    """Rows: a finding of the incidence literature, this run's number, the published one, the source.

    Carbon taxes (the reform taxes carbon): the dollar burden rises with income, the burden as a share of
    income falls (regressive on annual income: Grainger & Kolstad 2010; Hassett, Mathur & Metcalf 2009);
    with a dividend most lower-income households gain (Fremstad & Paul 2019: 56% of people, 84% of the
    bottom half, at $50/t with an equal per-capita dividend). Subsidies: the top income quintile's share
    of the outlays (Borenstein & Davis 2016: about 90% of US electric-vehicle credits 2006-2012; NBER
    w32688, 2024: more than 80%). Energy spending as a share of income by decile, beside the CEX's
    hump-shaped gasoline share of spending by quintile (5.1, 5.7, 5.7, 5.2, 3.8% in 2007).
    """
    pol = policies.reform
    rows = []
    deciles = [str(d) for d in range(1, 11)]
    horizon_years = float(((1.0 + econ.discount) ** -np.arange(econ.horizon)).sum())
    carbon = (pol["carbon_tax"] > 0).any() or (pol["carbon_tax_scc_share"] > 0).any()
    if carbon:
        burden = [_mean(dist, setting, d, "taxes_borne") for d in deciles]
        income = [_mean(dist, setting, d, "income_mean") * horizon_years for d in deciles]
        pct = [100.0 * b / i for b, i in zip(burden, income, strict=True)]
        rows.append(
            {
                "finding": "dollar burden of the taxes rises with income (decile 10 / decile 1)",
                "this run": f"{burden[-1] / burden[0]:.1f}x (${burden[0]:,.0f} to ${burden[-1]:,.0f})",
                "published": "rises with income",
                "source": "Grainger & Kolstad (2010); Hassett, Mathur & Metcalf (2009)",
                "agrees": "yes" if burden[-1] > burden[0] else "no",
            }
        )
        rows.append(
            {
                "finding": "burden as a share of annual income falls with income (regressive)",
                "this run": f"{pct[0]:.2f}% (decile 1) to {pct[-1]:.2f}% (decile 10)",
                "published": "regressive on annual income, much less on lifetime income",
                "source": "Grainger & Kolstad (2010); Williams et al. (2015)",
                "agrees": "yes" if pct[0] > pct[-1] else "no",
            }
        )
        if (pol["dividend_share"] > 0).any():
            share = _mean(dist, setting, "all", "gainers_pct")
            bottom = float(np.mean([_mean(dist, setting, d, "gainers_pct") for d in deciles[:5]]))
            rows.append(
                {
                    "finding": "with an equal dividend most households, and most of the bottom half, gain",
                    "this run": f"{share:.0f}% of households gain, {bottom:.0f}% of the bottom half",
                    "published": "56% of people, 84% of the bottom half ($50/t on all consumption, per-capita "
                    "dividend)",
                    "source": "Fremstad & Paul (2019), Ecological Economics 163",
                    "agrees": "yes" if share > 50 and bottom > share else ("in direction" if bottom > share else "no"),
                }
            )
    if (pol["subsidy"] > 0).any():
        top = _mean(dist, setting, "9", "subsidy_share_pct") + _mean(dist, setting, "10", "subsidy_share_pct")
        bottom3 = sum(_mean(dist, setting, d, "subsidy_share_pct") for d in deciles[:6])
        capped = bool(np.isfinite(pol["subsidy_income_limit"]).any())
        rows.append(
            {
                "finding": "subsidy outlays go mostly to the top income quintile"
                + (" (here with an income limit, which the credits studied did not have)" if capped else ""),
                "this run": f"top quintile {top:.0f}%, bottom three quintiles {bottom3:.0f}%",
                "published": "EV credits: top quintile about 90%, bottom three quintiles about 10% of all clean "
                "energy credits (2006-2012); EV credits more than 80% to the top quintile (to 2022)",
                "source": "Borenstein & Davis (2016); NBER w32688 (2024)",
                "agrees": "not comparable (income limit)" if capped else ("yes" if top > 50 else "no"),
            }
        )
    spend = [_mean(dist, setting, d, "energy_spend_pct_income") for d in deciles]
    if all(np.isfinite(spend)):
        rows.append(
            {
                "finding": "energy for driving as a share of income by decile (baseline)",
                "this run": ", ".join(f"{v:.1f}" for v in spend) + " %",
                "published": "gasoline share of spending by quintile 5.1, 5.7, 5.7, 5.2, 3.8% (2007)",
                "source": "BLS Consumer Expenditure Survey (spending, not income, in the denominator)",
                "agrees": "falls at the top" if spend[-1] < max(spend) else "no",
            }
        )
    return pd.DataFrame(rows)


def _citation_text() -> str:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "CITATION.cff"
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
