"""Compare run folders: ``python -m analysis.compare RUN_DIR [RUN_DIR ...] --out DIR``.

Loads the runs, checks that they are comparable (same scenario and resolved config apart from seeds and
output paths; ``--force`` overrides), warns about differing package versions or git commits, merges the
results and writes to ``DIR``:

- ``results.csv``: the merged results, with a ``run`` column;
- ``summary.csv``: mean and 95% CI over seeds per principal (and evaluation setting) and metric;
- ``comparisons.csv``: each principal against the reference (``--baseline``, else the best principal on
  the main metric): difference, CI, p-value, test, significance;
- ``report.html`` (self-contained) and ``report.md`` with its PNG figures;
- ``compare.json``: which runs went in (paths, fingerprints, sha256 of their results) and the warnings.

Evaluation settings are ``shots`` and the text columns of the results other than ``scenario``,
``principal`` and ``agent_type`` that take several values; ``agent_type`` rows are averaged within each
seed (the test population), and shown by type in their own figure. The main metric is ``welfare`` when
present, else ``principal_return``, else the first metric. Differences are paired t-tests over shared
seeds (common random numbers), Welch t-tests otherwise; "significant" means p < 0.05, two-sided, not
adjusted for multiple comparisons.

Every user error prints one line ``error: ...`` on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import tomli_w

from ._io import atomic_write_text, sha256_file
from .report import Report, format_number, format_summary
from .runs import (
    IncomparableRunsError,
    Run,
    RunFolderError,
    check_comparable,
    check_out_dir,
    config_fingerprint,
    environment_warnings,
    load_runs_list,
    toml_config,
)
from .stats import Difference, numeric_metrics, paired_difference, summarize, unpaired_difference

__all__ = ["KNOWN_METRICS", "LOWER_IS_BETTER", "UNITS", "CompareError", "compare_runs", "main"]

KNOWN_METRICS: tuple[str, ...] = (
    "welfare",
    "principal_return",
    "intervention_cost",
    "adaptation_cost",
    "target_rate",
    "emissions",
    "clean_share",
    "tax_revenue",
    "subsidy_cost",
    "se_value",
    "gap_to_se",
)
"""Metrics of the results contract (docs/design.md, "Run folders"), in the order reports list them."""

LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"intervention_cost", "adaptation_cost", "emissions", "subsidy_cost", "gap_to_se", "regret", "cost"}
)
"""Metrics where a smaller value is better; every other metric is higher-is-better."""

UNITS: dict[str, str] = {
    "welfare": "$ per household-year",
    "intervention_cost": "$ per household-year",
    "adaptation_cost": "$ per household-year",
    "tax_revenue": "$ per household-year",
    "subsidy_cost": "$ per household-year",
    "emissions": "t CO2 per household-year",
    "clean_share": "share",
    "target_rate": "share",
}
"""Default axis units for the green_tax metrics (money per household-year)."""

_NOT_SETTINGS = frozenset({"run", "scenario", "principal", "agent_type", "seed"})
_LEVEL = 0.95
_MAX_BAR_FIGURES = 8
_MAX_SUMMARY_CELLS = 6


class CompareError(ValueError):
    """A user error in a comparison (unknown metric or principal, unusable results)."""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m analysis.compare",
        description="Compare run folders: merged results, CIs over seeds, paired tests, figures and a report.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (or folders containing run folders)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder for the merged results and report")
    p.add_argument("--metrics", metavar="A,B", help="metrics to report (default: all numeric result columns)")
    p.add_argument("--baseline", metavar="PRINCIPAL", help="compare every principal against this one")
    p.add_argument("--force", action="store_true", help="compare runs even if their configs differ")
    p.add_argument(
        "--ignore", metavar="KEY,KEY", default="", help="top-level config keys allowed to differ (e.g. principals)"
    )
    p.add_argument("--title", default=None, help="report title")
    return p


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _fmt(x: float) -> str:
    return format_number(x)


def _pick_metrics(df: pd.DataFrame, requested: list[str]) -> tuple[list[str], str]:
    available = [m for m in numeric_metrics(df, ["run"]) if df[m].notna().any()]  # all-empty columns: nothing to show
    if requested:
        for m in requested:
            if m not in df.columns:
                raise CompareError(f"unknown metric {m!r} (available: {', '.join(available) or 'none'})")
            if m not in available:
                raise CompareError(f"metric {m!r} is not numeric or has no values")
        metrics = list(dict.fromkeys(requested))
    else:
        metrics = [m for m in KNOWN_METRICS if m in available]
        metrics += [m for m in available if m not in metrics]
    if not metrics:
        raise CompareError("the results have no numeric metric columns")
    main = next((m for m in ("welfare", "principal_return") if m in metrics), metrics[0])
    return metrics, main


def _settings(df: pd.DataFrame) -> list[str]:
    cols = []
    for c in df.columns:
        if c in _NOT_SETTINGS:
            continue
        is_setting = c == "shots" or not pd.api.types.is_numeric_dtype(df[c])
        if is_setting and df[c].nunique(dropna=False) > 1:
            cols.append(c)
    return cols


def _relabel_principals(runs: list[Run], ignore: Sequence[str]) -> list[pd.DataFrame]:
    """Results per run; a principal present in runs with different configs is renamed ``name (run)``."""
    frames = [r.results.assign(run=r.name) for r in runs]
    owners: dict[str, set[str]] = {}
    for r in runs:
        if "principal" in r.results.columns:
            fp = config_fingerprint(r.config, ignore)
            for p in r.results["principal"].astype(str).unique():
                owners.setdefault(p, set()).add(fp)
    clash = {p for p, fps in owners.items() if len(fps) > 1}
    if clash:
        for f in frames:
            if "principal" in f.columns:
                f["principal"] = [
                    f"{p} ({run})" if str(p) in clash else p for p, run in zip(f["principal"], f["run"], strict=True)
                ]
    return frames


def _duplicate_warning(df: pd.DataFrame, settings: list[str]) -> str | None:
    if "seed" not in df.columns:
        return None
    keys = ["principal", "seed", *settings, *(["agent_type"] if "agent_type" in df.columns else [])]
    per_key = df.groupby(keys, dropna=False)["run"].nunique()
    dup = per_key[per_key > 1]
    if dup.empty:
        return None
    return (
        f"{len(dup)} principal/seed/setting combinations appear in several runs "
        "(e.g. the same principal rerun on the same seeds); their rows are averaged"
    )


def _cell_label(settings: list[str], key: tuple[Any, ...]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(settings, key, strict=True))


def _seed_values(df: pd.DataFrame, metric: str) -> dict[str, pd.Series]:
    """Per principal, the metric averaged within each seed (a Series indexed by seed)."""
    out = {}
    for principal, g in df.groupby("principal", sort=False):
        if "seed" in g.columns:
            s = g.groupby("seed")[metric].mean().dropna()
        else:
            s = g[metric].dropna().reset_index(drop=True)
        out[str(principal)] = s
    return out


def _compare_cell(
    values: dict[str, pd.Series], baseline: str | None, higher_better: bool, paired_ok: bool
) -> tuple[str | None, list[tuple[str, Difference]]]:
    means = {p: float(s.mean()) for p, s in values.items() if len(s)}
    if not means:
        return None, []
    best = (max if higher_better else min)(means, key=lambda p: means[p])
    ref = baseline if baseline is not None else best
    if ref not in values or not len(values[ref]):
        return best, []
    diffs = []
    for p, s in values.items():
        if p == ref or not len(s):
            continue
        shared = s.index.intersection(values[ref].index) if paired_ok else []
        if len(shared):  # shared seeds are pairs, even one (then: no interval, no test), never Welch
            d = paired_difference(s.loc[shared], values[ref].loc[shared], _LEVEL, np.random.default_rng(0))
        else:
            d = unpaired_difference(s.to_numpy(), values[ref].to_numpy(), _LEVEL)
        diffs.append((p, d))
    return best, diffs


def _describe(p: str, ref: str, d: Difference, higher_better: bool, level: float) -> str:
    if d.mean == 0 and (d.ci.low == d.ci.high == 0 or (d.test == "paired t" and not d.ci.has_interval)):
        return f"{p} is identical to {ref} on every shared seed"
    word = "better" if (d.mean > 0) == higher_better else "worse"
    if not d.ci.has_interval:  # one seed (or one value in a sample): no interval, no test
        what = "on the one shared seed" if d.test == "paired t" else f"from {d.n_a} and {d.n_b} value(s)"
        return (
            f"{p} is {word} than {ref} {what}: difference {_fmt(d.mean)} "
            f"(n={d.n}: too few seeds for an interval or a test)"
        )
    if not np.isfinite(d.p_value):
        ptext = f"{d.test}: too few seeds for a test"
    elif d.p_value < 0.001:
        ptext = f"{d.test} p<0.001"
    else:
        ptext = f"{d.test} p={d.p_value:.2g}"
    flag = f"significant at {level:.0%}" if d.significant else "NOT significant"
    return (
        f"{p} is {word} than {ref}: difference {_fmt(d.mean)} "
        f"({level:.0%} CI [{_fmt(d.ci.low)}, {_fmt(d.ci.high)}], n={d.n}, {ptext}; {flag})"
    )


def _summary_paragraph(
    cells: list[tuple[str, tuple[Any, ...], str | None, dict[str, pd.Series], list[tuple[str, Difference]]]],
    metric: str,
    baseline: str | None,
    higher_better: bool,
    n_runs: int,
    summary: pd.DataFrame,
    settings: list[str],
) -> str:
    direction = "higher is better" if higher_better else "lower is better"
    sentences = [f"Main metric: {metric} ({direction}), pooled from {n_runs} run{'s' if n_runs != 1 else ''}."]
    for label, key, best, values, diffs in cells[:_MAX_SUMMARY_CELLS]:
        where = f" at {label}" if label else ""
        if best is None:
            sentences.append(f"No values{where}.")
            continue
        rows = summary[(summary["metric"] == metric) & (summary["principal"].astype(str) == best)]
        for c, v in zip(settings, key, strict=True):
            rows = rows[rows[c].astype(str) == str(v)]
        if len(values) == 1:
            sentences.append(f"Only one principal ({best}) was evaluated{where}; there is nothing to compare.")
            continue
        if not rows.empty and np.isfinite(float(rows.iloc[0]["low"])):
            r = rows.iloc[0]
            ci_text = f"mean {_fmt(r['mean'])}, {_LEVEL:.0%} CI [{_fmt(r['low'])}, {_fmt(r['high'])}], n={int(r['n'])}"
        elif not rows.empty:
            ci_text = f"mean {_fmt(rows.iloc[0]['mean'])}, n={int(rows.iloc[0]['n'])}: no interval"
        else:
            ci_text = f"mean {_fmt(values[best].mean())}"
        sentences.append(f"Best{where}: {best} ({ci_text}).")
        ref = baseline if baseline is not None else best
        if diffs:
            parts = [_describe(p, ref, d, higher_better, _LEVEL) for p, d in diffs]
            sentences.append(("Against the baseline: " if baseline else "Against it: ") + "; ".join(parts) + ".")
        elif baseline is not None:
            sentences.append(f"The baseline {baseline} has no values{where}.")
    if len(cells) > _MAX_SUMMARY_CELLS:
        sentences.append(f"{len(cells) - _MAX_SUMMARY_CELLS} more settings are in the comparison table.")
    used = {d.test for *_, diffs in cells for _, d in diffs if np.isfinite(d.p_value)}
    if used:
        kinds = {"paired t": "paired t-tests over shared seeds", "Welch t": "Welch t-tests (runs on different seeds)"}
        sentences.append(
            "Tests are " + " and ".join(kinds[t] for t in sorted(used, reverse=True)) + ", two-sided, "
            "not adjusted for multiple comparisons."
        )
    elif any(diffs for *_, diffs in cells):
        sentences.append("With one seed there is no interval and no test: run more seeds to compare.")
    return " ".join(sentences)


def _rounds_frame(runs: list[Run]) -> pd.DataFrame | None:
    frames = [r.rounds.assign(run=r.name) for r in runs if r.rounds is not None and not r.rounds.empty]
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True, sort=False)


def _versions_table(runs: list[Run]) -> pd.DataFrame:
    rows = []
    for r in runs:
        rec = r.record
        row: dict[str, Any] = {"run": r.name}
        commit = rec.get("git_commit")
        row["git commit"] = (commit[:10] + (" (dirty)" if rec.get("git_dirty") else "")) if commit else "unknown"
        row.update(rec.get("versions") or {})
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def compare_runs(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    metrics: Sequence[str] | None = None,
    baseline: str | None = None,
    force: bool = False,
    ignore: Sequence[str] = (),
    title: str | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Compare runs and write the merged results and report (the library form of the CLI).

    Args:
        run_dirs: run folders, or folders containing run folders.
        out: output folder (created; files in it are replaced).
        metrics: metrics to report (default: all numeric result columns, contract metrics first).
        baseline: principal every other is compared with (default: the best on the main metric).
        force: compare incomparable runs anyway (the difference is reported as a warning).
        ignore: top-level config keys allowed to differ.
        title: report title.
        log: a text stream for warnings (default ``sys.stderr``).

    Returns:
        ``{"summary": DataFrame, "comparisons": DataFrame, "paragraph": str, "warnings": [...],
        "files": {...}}``.

    Raises:
        RunFolderError: missing or incomplete runs, or incomparable runs without ``force``.
        CompareError: unknown metric or baseline, results without a ``principal`` column.
    """
    log = log or sys.stderr
    runs = load_runs_list(list(dict.fromkeys(str(Path(d)) for d in run_dirs)))
    out_dir = Path(out)
    if (out_dir / "run.json").exists() or any(out_dir.resolve() == r.path.resolve() for r in runs):
        raise CompareError(f"refusing to write the comparison into a run folder: {out_dir}")
    warnings_: list[str] = []
    try:
        warnings_ += check_comparable(runs, ignore=ignore)
    except IncomparableRunsError as err:
        if not force:
            raise
        warnings_.append(f"{err} (compared anyway: --force)")
        warnings_ += environment_warnings(runs)
    for r in runs:
        if "principal" not in r.results.columns:
            raise CompareError(f"{r.path}/results.csv has no 'principal' column")
        if r.results.empty:
            raise CompareError(f"{r.path}/results.csv has no rows")
    merged = pd.concat(_relabel_principals(runs, ignore), ignore_index=True, sort=False)
    merged = merged[["run", *[c for c in merged.columns if c != "run"]]]
    merged["principal"] = merged["principal"].astype(str)
    chosen, main = _pick_metrics(merged, list(metrics or []))
    principals = list(dict.fromkeys(merged["principal"]))
    if baseline is not None and baseline not in principals:
        raise CompareError(f"unknown baseline principal {baseline!r} (available: {', '.join(principals)})")
    settings = _settings(merged)
    dup = _duplicate_warning(merged, settings)
    if dup:
        warnings_.append(dup)
    for w in warnings_:
        print(f"warning: {w}", file=log)

    rng = np.random.default_rng(0)
    by = ["principal", *settings]
    summary = summarize(merged, by, chosen, _LEVEL, rng)
    higher_better = main not in LOWER_IS_BETTER

    # ---- paired comparisons per evaluation setting
    cells = []
    comp_rows = []
    groups = merged.groupby(settings, sort=True, dropna=False) if settings else [((), merged)]
    for key, g in groups:
        key_t = key if isinstance(key, tuple) else (key,)
        label = _cell_label(settings, key_t)
        values = _seed_values(g, main)
        best, diffs = _compare_cell(values, baseline, higher_better, "seed" in g.columns)
        cells.append((label, key_t, best, values, diffs))
        ref = baseline if baseline is not None else best
        for p, d in diffs:
            row = dict(zip(settings, key_t, strict=True))
            row.update(
                principal=p,
                reference=ref,
                metric=main,
                difference=d.mean,
                low=d.ci.low,
                high=d.ci.high,
                p_value=d.p_value,
                test=d.test,
                n=d.n,
                significant=d.significant,
            )
            if d.bootstrap_ci is not None:
                row.update(bootstrap_low=d.bootstrap_ci.low, bootstrap_high=d.bootstrap_ci.high)
            comp_rows.append(row)
    comparisons = pd.DataFrame(comp_rows)
    paragraph = _summary_paragraph(cells, main, baseline, higher_better, len(runs), summary, settings)

    # ---- report
    scen = runs[0].scenario or "runs"
    report = Report(title or f"Comparison: {scen}", records=[r.record for r in runs if r.record])
    report.heading("Summary").paragraph(paragraph)
    for w in warnings_:
        report.paragraph(f"Warning: {w}")
    report.heading("Results")
    report.table(
        format_summary(summary),
        caption=f"Mean [{_LEVEL:.0%} CI] over seeds, n = seeds; intervals: t for n < 10, BCa bootstrap for n >= 10",
    )
    detail = summary[summary["metric"] == main].drop(columns=["metric", "level"])
    report.table(detail, caption=f"{main}: mean, CI bounds, seeds and interval method")
    if not comparisons.empty:
        report.table(
            comparisons, caption="Differences of the main metric against the reference (principal - reference)"
        )

    report.heading("Figures")
    cell_col = None
    plot_summary = summary
    if settings:
        cell_col = "setting" if "setting" not in settings else "evaluation setting"
        plot_summary = summary.assign(
            **{
                cell_col: [
                    _cell_label(settings, tuple(r)) for r in summary[settings].itertuples(index=False, name=None)
                ]
            }
        ).drop(columns=settings)
    _add_figures(report, merged, plot_summary, runs, chosen, main, settings, cell_col, rng)

    report.heading("Runs")
    report.table(_versions_table(runs), caption="Versions and git commit of each run")
    same_config = len({r.fingerprint for r in runs}) == 1
    for i, r in enumerate(runs):
        rec = r.record
        report.heading(r.name, 3)
        report.kv(
            {
                "folder": str(r.path),
                "scenario": r.scenario or "",
                "seeds": ", ".join(map(str, r.seeds)),
                "config fingerprint": (rec.get("config_fingerprint") or r.fingerprint)[:16],
                "started": rec.get("started") or "",
                "duration (s)": rec.get("duration_s") if rec.get("duration_s") is not None else "",
                "host": rec.get("hostname") or "",
                "command": " ".join(rec.get("command") or []),
            }
        )
        if i == 0 or not same_config:
            caption = "config.toml" + (
                " (the same for every run, apart from seeds and paths)" if same_config and len(runs) > 1 else ""
            )
            report.paragraph(caption)
            try:
                report.code(tomli_w.dumps(toml_config(r.config)), "toml")
            except (TypeError, ValueError):
                report.code(json.dumps(r.config, indent=2, default=str), "json")

    # ---- write
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "results": atomic_write_text(out_dir / "results.csv", merged.to_csv(index=False)),
        "summary": atomic_write_text(out_dir / "summary.csv", summary.to_csv(index=False)),
        "comparisons": atomic_write_text(out_dir / "comparisons.csv", comparisons.to_csv(index=False)),
    }
    files["report_html"], files["report_md"] = report.save(out_dir)
    provenance = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": list(sys.argv),
        "main_metric": main,
        "metrics": chosen,
        "baseline": baseline,
        "forced": force,
        "warnings": warnings_,
        "runs": [
            {
                "path": str(r.path),
                "label": r.name,
                "scenario": r.scenario,
                "config_fingerprint": r.fingerprint,
                "results_sha256": sha256_file(r.path / "results.csv"),
                "git_commit": r.record.get("git_commit"),
            }
            for r in runs
        ],
    }
    files["compare"] = atomic_write_text(out_dir / "compare.json", json.dumps(provenance, indent=2) + "\n")
    return {
        "summary": summary,
        "comparisons": comparisons,
        "paragraph": paragraph,
        "warnings": warnings_,
        "files": files,
        "main_metric": main,
    }


def _add_figures(
    report: Report,
    merged: pd.DataFrame,
    summary: pd.DataFrame,
    runs: list[Run],
    metrics: list[str],
    main: str,
    settings: list[str],
    cell_col: str | None,
    rng: np.random.Generator,
) -> None:
    from . import plots

    for m in metrics[:_MAX_BAR_FIGURES]:
        fig = plots.bar_ci(summary, m, hue=cell_col, unit=UNITS.get(m, ""))
        report.figure(fig, f"{m}: mean and {_LEVEL:.0%} CI over seeds", name=f"bar-{m}")
    benefit = (
        "welfare"
        if "welfare" in merged.columns
        else ("principal_return" if "principal_return" in merged.columns else None)
    )
    if "intervention_cost" in merged.columns and benefit and merged["intervention_cost"].notna().any():
        by = ["principal", *settings]
        fsum = summarize(merged, by, ["intervention_cost", benefit], _LEVEL, rng)
        fig = plots.frontier(
            fsum, "intervention_cost", benefit, x_unit=UNITS["intervention_cost"], y_unit=UNITS.get(benefit, "")
        )
        report.figure(fig, f"intervention cost vs {benefit}; dashed: non-dominated principals", name="frontier")
    if "shots" in merged.columns and merged["shots"].nunique() > 1:
        seed_level = _seed_level(merged, main, ["principal", "shots"])
        fig = plots.curves_ci(
            seed_level, "shots", main, "principal", x_unit="adaptation episodes K", y_unit=UNITS.get(main, "")
        )
        report.figure(
            fig,
            f"adaptation: {main} against the number of shots K (mean and {_LEVEL:.0%} t-band over seeds)",
            name="shots",
        )
    rounds = _rounds_frame(runs)
    if rounds is not None:
        _add_round_figures(report, rounds, main)
    if "agent_type" in merged.columns and merged["agent_type"].nunique() > 1:
        fig = plots.by_group(merged, main, group="agent_type", hue="principal", unit=UNITS.get(main, ""))
        report.figure(fig, f"{main} by agent type (one point per seed and setting)", name="by-agent-type")


def _seed_level(df: pd.DataFrame, metric: str, keys: list[str]) -> pd.DataFrame:
    if "seed" not in df.columns:
        return df[[*keys, metric]]
    return df.groupby([*keys, "seed"], dropna=False)[metric].mean().reset_index()


def _add_round_figures(report: Report, rounds: pd.DataFrame, main: str) -> None:
    from . import plots

    round_col = next((c for c in ("round", "t", "step") if c in rounds.columns), None)
    if round_col is None:
        return
    note = ""
    if "shots" in rounds.columns and rounds["shots"].nunique() > 1:
        k = rounds["shots"].max()
        rounds = rounds[rounds["shots"] == k]
        note = f" (K = {k} shots)"
    hue = "principal" if "principal" in rounds.columns else None
    if hue:
        rounds = rounds.assign(principal=rounds["principal"].astype(str))
    value = main if main in rounds.columns else None
    if value is None:
        candidates = numeric_metrics(rounds, [round_col, "run"])
        value = next((m for m in KNOWN_METRICS if m in candidates), None)
    if value is not None:
        fig = plots.curves_ci(rounds, round_col, value, hue, y_unit=UNITS.get(value, ""))
        report.figure(fig, f"{value} per round{note}: mean and {_LEVEL:.0%} t-band over seeds", name="rounds")
    try:
        fig = plots.incentive_paths(rounds, round_col=round_col, hue=hue)
    except ValueError:
        return
    report.figure(fig, f"intervention paths per round{note}", name="incentive-paths")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison CLI.

    Args:
        argv: arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on a user error (one ``error: ...`` line on stderr).
    """
    try:
        args = _parser().parse_args(argv)
    except _UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        check_out_dir(args.out)
        result = compare_runs(
            args.runs,
            args.out,
            metrics=_split(args.metrics),
            baseline=args.baseline,
            force=args.force,
            ignore=_split(args.ignore),
            title=args.title,
        )
    except (RunFolderError, CompareError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err.strerror or err}: {err.filename or args.out}", file=sys.stderr)
        return 2
    print(result["paragraph"])
    print(f"wrote {result['files']['report_html']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
