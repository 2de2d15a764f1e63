"""Figures for results and per-round series (matplotlib, Agg renderer, no pyplot state).

Every function returns a :class:`matplotlib.figure.Figure` built directly (not through ``pyplot``), so
figures are never registered globally and need no display. Colours come from the Okabe-Ito palette
(Okabe & Ito 2008, "Color Universal Design"), which stays distinguishable under the common forms of
colour blindness. Axis labels carry the unit strings callers pass (``"$ per household-year"``,
``"t CO2"``...). Error bars and bands are the confidence intervals of :func:`analysis.stats.summarize`
(bars, frontier), of :func:`analysis.stats.paired_differences` (differences) or t-intervals over seeds
(curves; Student 1908).

Principals are drawn in one colour per *family* (:data:`PRINCIPAL_FAMILIES`: no policy, fixed rules,
references, theory algorithms, learned principals), told apart within a family by marker and line
style, and named by :func:`principal_label` ("World model only", not ``wm_only``); metrics are named
by :func:`axis_label`. The figures reports should use:

* :func:`differences_ci`: each principal's paired difference from a baseline, with its interval, in
  small multiples (one panel per setting): differences of 23.5k-24.8k welfare are visible, bars
  from 0 would hide them;
* :func:`curves_panels`: mean and band over seeds per principal, one panel per setting, integer ticks
  for rounds and years, the legend outside the data;
* :func:`bar_ci`, :func:`curves_ci`, :func:`frontier`, :func:`incentive_paths`, :func:`by_group`: single
  panels, with the same colours and labels.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from scipy import stats as _st

__all__ = [
    "FAMILY_COLORS",
    "METRIC_LABELS",
    "OKABE_ITO",
    "PRINCIPAL_FAMILIES",
    "PRINCIPAL_LABELS",
    "Style",
    "axis_label",
    "bar_ci",
    "by_group",
    "curves_ci",
    "curves_panels",
    "differences_ci",
    "figure_to_png",
    "frontier",
    "incentive_paths",
    "palette",
    "principal_label",
    "principal_styles",
]

OKABE_ITO: tuple[str, ...] = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#000000",  # black
    "#F0E442",  # yellow (low contrast on white: last)
)
"""Okabe-Ito colour-blind-safe palette, in the order used for series."""

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
_STAT_COLUMNS = frozenset({"metric", "mean", "low", "high", "n", "std", "method", "level"})
DEFAULT_DPI = 120

PRINCIPAL_FAMILIES: dict[str, tuple[str, ...]] = {
    "no policy": ("none",),
    "fixed rules": ("constant", "pigouvian", "best_constant", "reform", "stackelberg", "nash"),
    "references": ("first_best", "oracle", "oracle_clean", "oracle_myopic"),
    "theory": ("ipa", "probing"),
    "learned": ("mermaide", "wm_only", "meta_only", "model_free"),
}
"""Families of principals, each drawn in one colour; names not listed form the family ``"other"``."""

FAMILY_COLORS: dict[str, str] = {
    "no policy": "#000000",  # black
    "fixed rules": "#0072B2",  # blue
    "references": "#009E73",  # bluish green
    "theory": "#CC79A7",  # reddish purple
    "learned": "#D55E00",  # vermillion
    "other": "#E69F00",  # orange
}
"""One Okabe-Ito colour per family."""

PRINCIPAL_LABELS: dict[str, str] = {
    "none": "No policy",
    "constant": "Constant",
    "pigouvian": "Pigouvian tax",
    "best_constant": "Best constant",
    "reform": "Reform",
    "stackelberg": "Stackelberg (LP)",
    "nash": "Nash",
    "first_best": "First best (informed)",
    "oracle": "Oracle",
    "oracle_clean": "Oracle, clean subsidy",
    "oracle_myopic": "Myopic oracle",
    "ipa": "IPA",
    "probing": "Probing",
    "mermaide": "MERMAIDE",
    "wm_only": "World model only",
    "meta_only": "Meta-learning only",
    "model_free": "Model-free RL",
}
"""How principals are named in figures (unknown names are shown as given)."""

METRIC_LABELS: dict[str, str] = {
    "welfare": "Welfare",
    "principal_return": "Principal's return",
    "intervention_cost": "Intervention cost",
    "adaptation_cost": "Adaptation cost",
    "target_rate": "Target rate",
    "normalized_score": "Normalized score",
    "clean_share": "Clean share",
    "emissions": "Emissions",
    "tax_revenue": "Tax revenue",
    "subsidy_cost": "Subsidy outlay",
    "gap_share": "Share of the Nash-to-SE gap",
    "round": "Round",
    "year": "Year",
    "shots": "Adaptation episodes (K)",
    "setting": "Setting",
    "principal": "Principal",
}
"""Axis names of the common columns (scenarios pass their own for the rest)."""


@dataclass(frozen=True)
class Style:
    """How one principal is drawn.

    Attributes:
        color: its family's colour.
        marker: marker, distinct within the family.
        linestyle: line style, distinct within the family.
        family: the family's name.
        label: the display name.
    """

    color: str
    marker: str
    linestyle: Any
    family: str
    label: str


def principal_label(name: Any, labels: Mapping[str, str] | None = None) -> str:
    """The display name of a principal: ``labels``, then :data:`PRINCIPAL_LABELS`, else the name itself."""
    key = str(name)
    return (labels or {}).get(key) or PRINCIPAL_LABELS.get(key, key)


def axis_label(name: str, unit: str = "", labels: Mapping[str, str] | None = None) -> str:
    """``"Clean share (%)"`` for ``("clean_share", "%")``: a human name and the unit in parentheses."""
    text = (labels or {}).get(name) or METRIC_LABELS.get(name) or name.replace("_", " ").capitalize()
    return f"{text} ({unit})" if unit else text


def principal_styles(
    names: Iterable[Any],
    *,
    families: Mapping[str, Sequence[str]] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[Any, Style]:
    """A :class:`Style` for every principal: one colour per family, marker and line style per member.

    Args:
        names: the principals (order of first appearance decides the markers within a family).
        families: family -> member names, replacing :data:`PRINCIPAL_FAMILIES` where given.
        labels: display names, on top of :data:`PRINCIPAL_LABELS`.

    Returns:
        name -> Style.
    """
    fams = {**PRINCIPAL_FAMILIES, **dict(families or {})}
    member_of = {m: f for f, members in fams.items() for m in members}
    out: dict[Any, Style] = {}
    used: dict[str, int] = {}
    for name in dict.fromkeys(names):
        family = member_of.get(str(name), "other")
        k = used.get(family, 0)
        used[family] = k + 1
        out[name] = Style(
            color=FAMILY_COLORS.get(family, FAMILY_COLORS["other"]),
            marker=_MARKERS[k % len(_MARKERS)],
            linestyle=_LINESTYLES[k % len(_LINESTYLES)],
            family=family,
            label=principal_label(name, labels),
        )
    return out


def _in_sentence(label: str) -> str:
    """A display name inside a sentence: "no policy", but "MERMAIDE" and "IPA" as they are."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def _integer_ticks(ax: Axes, values: Iterable[Any], axis: str = "x") -> None:
    """Whole-number ticks for an axis of rounds, years or episodes (no tick at 2.5)."""
    vals = np.asarray(list(values), dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size and np.all(vals == np.round(vals)):
        target = ax.xaxis if axis == "x" else ax.yaxis
        target.set_major_locator(MaxNLocator(integer=True))


def _thousands(ax: Axes, axis: str = "y") -> None:
    """Tick labels with thousands separators, never an offset or scientific notation."""
    fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def palette(labels: Iterable[Hashable]) -> dict[Hashable, str]:
    """Map labels (in order of first appearance) to Okabe-Ito colours, cycling after eight."""
    out: dict[Hashable, str] = {}
    for lab in labels:
        if lab not in out:
            out[lab] = OKABE_ITO[len(out) % len(OKABE_ITO)]
    return out


def figure_to_png(fig: Figure, *, dpi: int = DEFAULT_DPI, close: bool = True) -> bytes:
    """Render a figure to PNG bytes with the Agg renderer.

    Args:
        fig: the figure.
        dpi: resolution.
        close: release the figure afterwards (also from ``pyplot``'s registry when it came from there).

    Returns:
        The PNG file contents.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if close:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(fig)
        fig.clear()
    return buf.getvalue()


def _new_figure(figsize: tuple[float, float]) -> Figure:
    return Figure(figsize=figsize, layout="constrained")


def _legend_outside(fig: Figure, ax: Axes, title: str | None = None) -> None:
    """The axes' legend beside the plot, outside the data."""
    handles, names = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside right upper", frameon=False, fontsize="small", title=title)


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _errors(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.vstack([np.clip(mean - low, 0, None), np.clip(high - mean, 0, None)])


def _metric_rows(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    if "metric" not in summary.columns:
        raise ValueError("expected a summary table from analysis.stats.summarize (no 'metric' column)")
    rows = summary[summary["metric"] == metric]
    if rows.empty:
        raise ValueError(f"metric {metric!r} not in the summary")
    return rows


def bar_ci(
    summary: pd.DataFrame,
    metric: str,
    *,
    x: str = "principal",
    hue: str | None = None,
    unit: str = "",
    title: str | None = None,
    figsize: tuple[float, float] = (6.4, 3.8),
) -> Figure:
    """Bars of a metric's mean per group with confidence-interval error bars.

    Args:
        summary: long table from :func:`analysis.stats.summarize`.
        metric: which metric to draw.
        x: the category on the x axis.
        hue: optional second grouping drawn as side-by-side bars (e.g. ``"shots"``).
        unit: unit of the metric, shown on the y axis.
        title: figure title (default: the metric and the CI level).
        figsize: inches.

    Returns:
        The figure.
    """
    rows = _metric_rows(summary, metric)
    cats = _unique(rows[x])
    hues = _unique(rows[hue]) if hue else [None]
    styles = _styles_for(hue if hue else x, hues if hue else cats)
    colors = {k: st.color for k, st in styles.items()}
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    width = 0.8 / len(hues)
    for j, h in enumerate(hues):
        sub = rows if h is None else rows[rows[hue] == h]
        sub = sub.groupby(x, sort=False)[["mean", "low", "high"]].mean().reindex(cats)
        pos = np.arange(len(cats)) - 0.4 + width * (j + 0.5)
        mean, low, high = (sub[c].to_numpy(float) for c in ("mean", "low", "high"))
        color = [colors[c] for c in cats] if h is None else colors[h]
        ax.bar(
            pos,
            mean,
            width * 0.92,
            color=color,
            edgecolor="black",
            linewidth=0.5,
            label=None if h is None else str(h),
        )
        ax.errorbar(pos, mean, yerr=_errors(mean, low, high), fmt="none", ecolor="black", capsize=3, linewidth=1)
    names = [principal_label(c) if x == "principal" else str(c) for c in cats]
    ax.set_xticks(
        np.arange(len(cats)),
        names,
        rotation=30 if len(cats) > 4 else 0,
        ha="right" if len(cats) > 4 else "center",
    )
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(metric, unit))
    ax.axhline(0, color="0.6", linewidth=0.6)
    level = rows["level"].iloc[0] if "level" in rows.columns else 0.95
    ax.set_title(title or f"{axis_label(metric)}: mean and {level:.0%} CI over seeds")
    if hue:
        _legend_outside(fig, ax, axis_label(hue))
    ax.grid(axis="y", alpha=0.3)
    _thousands(ax, "y")
    return fig


def _pareto(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated for (low x, high y), sorted by x."""
    order = np.lexsort((-ys, xs))
    keep, best = [], -np.inf
    for i in order:
        if ys[i] > best:
            keep.append(i)
            best = ys[i]
    return np.asarray(keep, dtype=int)


def frontier(
    summary: pd.DataFrame,
    x: str = "intervention_cost",
    y: str = "welfare",
    *,
    label: str = "principal",
    x_unit: str = "",
    y_unit: str = "",
    title: str | None = None,
    figsize: tuple[float, float] = (6.4, 4.4),
) -> Figure:
    """Cost against benefit per principal, with CI error bars in both directions.

    Points not dominated (no other point has lower ``x`` and higher ``y``) are joined by a dashed line:
    the empirical cost-welfare frontier.

    Args:
        summary: long table from :func:`analysis.stats.summarize` containing both metrics.
        x: cost metric (lower is better).
        y: benefit metric (higher is better).
        label: the column naming each point; other grouping columns in ``summary`` are appended.
        x_unit: unit of ``x``.
        y_unit: unit of ``y``.
        title: figure title.
        figsize: inches.

    Returns:
        The figure.
    """
    group_cols = [c for c in summary.columns if c not in _STAT_COLUMNS]
    if label not in group_cols:
        raise ValueError(f"column {label!r} not in the summary")
    sx = _metric_rows(summary, x).set_index(group_cols)
    sy = _metric_rows(summary, y).set_index(group_cols)
    keys = [k for k in sy.index if k in sx.index]
    if not keys:
        raise ValueError(f"no group has both {x!r} and {y!r}")
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    label_pos = group_cols.index(label)
    point_names = _unique(k[label_pos] if isinstance(k, tuple) else k for k in keys)
    styles = _styles_for(label, point_names)
    xs, ys = [], []
    for i, key in enumerate(keys):
        kt = key if isinstance(key, tuple) else (key,)
        rx, ry = sx.loc[key], sy.loc[key]
        if isinstance(rx, pd.DataFrame):
            rx = rx.iloc[0]
        if isinstance(ry, pd.DataFrame):
            ry = ry.iloc[0]
        mx, my = float(rx["mean"]), float(ry["mean"])
        xerr = _errors(np.array([mx]), np.array([rx["low"]], float), np.array([rx["high"]], float))
        yerr = _errors(np.array([my]), np.array([ry["low"]], float), np.array([ry["high"]], float))
        st = styles[kt[label_pos]]
        others = [str(v).replace("_", " ") for c, v in zip(group_cols, kt, strict=True) if c != label]
        name = st.label + (f", {', '.join(others)}" if others else "")
        ax.errorbar(
            mx,
            my,
            xerr=xerr,
            yerr=yerr,
            fmt=st.marker if label == "principal" else _MARKERS[i % len(_MARKERS)],
            color=st.color,
            markeredgecolor="black",
            markersize=7,
            capsize=3,
            label=name,
        )
        xs.append(mx)
        ys.append(my)
    idx = _pareto(np.asarray(xs), np.asarray(ys))
    if idx.size > 1:
        ax.plot(
            np.asarray(xs)[idx], np.asarray(ys)[idx], linestyle="--", color="0.4", linewidth=1, label="non-dominated"
        )
    ax.set_xlabel(axis_label(x, x_unit))
    ax.set_ylabel(axis_label(y, y_unit))
    ax.set_title(title or f"{axis_label(x)} and {axis_label(y).lower()} (mean and CI over seeds)")
    ax.grid(alpha=0.3)
    _thousands(ax, "x")
    _thousands(ax, "y")
    _legend_outside(fig, ax)
    return fig


def _curve_stats(df: pd.DataFrame, x: str, y: str, hue: str | None, level: float) -> pd.DataFrame:
    keys = [hue, x] if hue else [x]
    g = df.groupby(keys, sort=True, dropna=False)[y]
    out = g.agg(["mean", "std", "count"]).reset_index()
    n = out["count"].to_numpy(float)
    tcrit = np.where(n > 1, _st.t.ppf((1 + level) / 2, np.maximum(n - 1, 1)), 0.0)
    half = np.where(n > 1, tcrit * out["std"].fillna(0).to_numpy(float) / np.sqrt(np.maximum(n, 1)), 0.0)
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    return out


def _draw_curves(ax: Axes, df: pd.DataFrame, x: str, y: str, hue: str | None, level: float) -> None:
    stats = _curve_stats(df, x, y, hue, level)
    groups = _unique(df[hue]) if hue else [None]
    styles = _styles_for(hue, groups) if hue else {}
    for h in groups:
        sub = stats if h is None else stats[stats[hue] == h]
        if sub.empty:
            continue
        xs = sub[x].to_numpy()
        st = styles.get(h, Style(OKABE_ITO[0], "o", "-", "", ""))
        marker = st.marker if len(xs) <= 12 else None
        ax.plot(
            xs, sub["mean"], color=st.color, marker=marker, linestyle=st.linestyle, linewidth=1.5,
            label=None if h is None else st.label,
        )  # fmt: skip
        ax.fill_between(
            xs, sub["low"].to_numpy(float), sub["high"].to_numpy(float), color=st.color, alpha=0.2, linewidth=0
        )
    _integer_ticks(ax, df[x])


def curves_ci(
    df: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None = None,
    *,
    level: float = 0.95,
    x_unit: str = "",
    y_unit: str = "",
    title: str | None = None,
    figsize: tuple[float, float] = (6.4, 3.8),
) -> Figure:
    """Mean line with a confidence band over seeds, one line per ``hue`` value.

    Each (hue, x) cell pools its rows (one per seed) into a mean and a t-interval; cells with one row
    have no band. Use for adaptation curves (x = shots) or per-round paths (x = round).

    Args:
        df: long table with columns ``x``, ``y`` and ``hue``.
        x: x column.
        y: value column.
        hue: line grouping (e.g. ``"principal"``).
        level: confidence level of the band.
        x_unit: unit of ``x``.
        y_unit: unit of ``y``.
        title: figure title.
        figsize: inches.

    Returns:
        The figure.
    """
    for c in [x, y, *([hue] if hue else [])]:
        if c not in df.columns:
            raise ValueError(f"column {c!r} not in the table")
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    _draw_curves(ax, df, x, y, hue, level)
    ax.set_xlabel(axis_label(x, x_unit))
    ax.set_ylabel(axis_label(y, y_unit))
    ax.set_title(title or f"{axis_label(y)}: mean and {level:.0%} CI over seeds")
    ax.grid(alpha=0.3)
    _thousands(ax, "y")
    if hue:
        _legend_outside(fig, ax, axis_label(hue))
    return fig


def _styles_for(hue: str | None, values: Sequence[Any], families: Any = None, labels: Any = None) -> dict[Any, Style]:
    """Principal styles for a ``principal`` column, else one Okabe-Ito colour and marker per value."""
    if hue == "principal":
        return principal_styles(values, families=families, labels=labels)
    colors = palette(values)
    return {
        v: Style(colors[v], _MARKERS[i % len(_MARKERS)], "-", "", str(v)) for i, v in enumerate(dict.fromkeys(values))
    }


def _panel_title(panel: str, value: Any, panel_labels: Mapping[Any, str] | None) -> str:
    if panel_labels and value in panel_labels:
        return panel_labels[value]
    return f"{axis_label(panel)}: {str(value).replace('_', ' ')}"


def _grid(n: int, ncols: int, size: tuple[float, float], **kw: Any) -> tuple[Figure, list[Axes]]:
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = _new_figure((size[0] * ncols, size[1] * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def differences_ci(
    diffs: pd.DataFrame,
    *,
    metric: str,
    unit: str = "",
    panel: str | None = None,
    name: str = "principal",
    labels: Mapping[str, str] | None = None,
    principal_labels: Mapping[str, str] | None = None,
    panel_labels: Mapping[Any, str] | None = None,
    families: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
    ncols: int = 3,
) -> Figure:
    """Each principal's paired difference from a reference, with its interval, in small multiples.

    One row per principal (grouped by family, the same order in every panel), a
    point at the mean difference and a whisker for its interval; a dashed line at 0
    is the reference itself. Panels (one per value of ``panel``, e.g. the
    setting) share the x axis, so they can be compared. A difference without an
    interval (one seed) is drawn as a hollow marker.

    Args:
        diffs: a table from :func:`analysis.stats.paired_differences`.
        metric: the metric the differences are of (for the axis label).
        unit: its unit.
        panel: the column that splits the panels (``None``: one panel).
        name: the column naming principals.
        labels: metric display names, on top of :data:`METRIC_LABELS`.
        principal_labels: principal display names, on top of :data:`PRINCIPAL_LABELS`.
        panel_labels: panel value -> panel title (default ``"Setting: headline"``).
        families: principal families, on top of :data:`PRINCIPAL_FAMILIES`.
        title: figure title (default: the metric, the reference and the interval level).
        ncols: panels per row.

    Returns:
        The figure.

    Raises:
        ValueError: an empty table or a missing column.
    """
    for col in [name, "reference", "mean", "low", "high", *([panel] if panel else [])]:
        if col not in diffs.columns:
            raise ValueError(f"column {col!r} not in the table of differences")
    if diffs.empty:
        raise ValueError("no differences to draw")
    styles = principal_styles(diffs[name], families=families, labels=principal_labels)
    fam_order = list(FAMILY_COLORS)
    order = sorted(dict.fromkeys(diffs[name]), key=lambda p: fam_order.index(styles[p].family))
    panels = _unique(diffs[panel]) if panel else [None]
    fig, axes = _grid(len(panels), ncols, (4.4, 0.45 * len(order) + 1.4), sharex=True, sharey=True)
    ref = principal_label(diffs["reference"].iloc[0], principal_labels)
    for ax, value in zip(axes, panels, strict=True):
        sub = diffs if value is None else diffs[diffs[panel] == value]
        for i, p in enumerate(order):
            row = sub[sub[name] == p]
            if row.empty:
                continue
            r = row.iloc[0]
            st = styles[p]
            mean, low, high = float(r["mean"]), float(r["low"]), float(r["high"])
            has_ci = math.isfinite(low) and math.isfinite(high)
            if has_ci:
                ax.errorbar(
                    mean, i, xerr=_errors(np.array([mean]), np.array([low]), np.array([high])), fmt="none",
                    ecolor=st.color, capsize=3, linewidth=1.2,
                )  # fmt: skip
            ax.plot(
                mean, i, marker=st.marker, color=st.color, markersize=7, linestyle="none",
                markerfacecolor=st.color if has_ci else "white", markeredgecolor=st.color,
            )  # fmt: skip
        ax.axvline(0, color="0.4", linestyle="--", linewidth=0.9)
        ax.set_yticks(range(len(order)), [styles[p].label for p in order])
        ax.set_ylim(len(order) - 0.5, -0.5)  # the first principal on top
        ax.grid(axis="x", alpha=0.3)
        if value is not None:
            ax.set_title(_panel_title(panel, value, panel_labels), fontsize="medium")
        _thousands(ax, "x")
    fig.supxlabel(f"{axis_label(metric, unit, labels)}, difference from {_in_sentence(ref)}", fontsize="medium")
    level = float(diffs["level"].iloc[0]) if "level" in diffs.columns else 0.95
    what = axis_label(metric, "", labels)
    fig.suptitle(title or f"{what}: difference from {_in_sentence(ref)}, mean and {level:.0%} CI over seeds")
    return fig


def curves_panels(
    df: pd.DataFrame,
    x: str,
    y: str,
    *,
    hue: str | None = "principal",
    panel: str | None = None,
    level: float = 0.95,
    x_unit: str = "",
    y_unit: str = "",
    labels: Mapping[str, str] | None = None,
    principal_labels: Mapping[str, str] | None = None,
    panel_labels: Mapping[Any, str] | None = None,
    families: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
    ncols: int = 3,
    sharey: bool = True,
) -> Figure:
    """Mean and confidence band over seeds per ``hue``, one panel per value of ``panel``.

    Principals keep one colour per family and a line style per member; x ticks are
    whole numbers when ``x`` holds whole numbers (rounds, years, episodes); the
    legend sits below the panels, outside the data.

    Args:
        df: long table with columns ``x``, ``y``, ``hue`` and ``panel`` (one row per seed and x).
        x: x column.
        y: value column.
        hue: line grouping (``"principal"`` gets the family styles).
        panel: the column that splits the panels (``None``: one panel).
        level: confidence level of the bands.
        x_unit: unit of ``x``.
        y_unit: unit of ``y``.
        labels: axis display names, on top of :data:`METRIC_LABELS`.
        principal_labels: principal display names.
        panel_labels: panel value -> panel title.
        families: principal families.
        title: figure title (default: ``y`` and the interval level).
        ncols: panels per row.
        sharey: one y scale for every panel.

    Returns:
        The figure.
    """
    for c in [x, y, *([hue] if hue else []), *([panel] if panel else [])]:
        if c not in df.columns:
            raise ValueError(f"column {c!r} not in the table")
    hues = _unique(df[hue]) if hue else [None]
    styles = _styles_for(hue, hues, families, principal_labels) if hue else {}
    panels = _unique(df[panel]) if panel else [None]
    fig, axes = _grid(len(panels), ncols, (4.2, 3.2), sharex=True, sharey=sharey)
    handles: dict[str, Any] = {}
    for ax, value in zip(axes, panels, strict=True):
        sub = df if value is None else df[df[panel] == value]
        stats = _curve_stats(sub, x, y, hue, level)
        for h in hues:
            part = stats if h is None else stats[stats[hue] == h]
            if part.empty:
                continue
            st = styles.get(h, Style(OKABE_ITO[0], "o", "-", "", y))
            xs = part[x].to_numpy()
            (line,) = ax.plot(
                xs, part["mean"], color=st.color, linestyle=st.linestyle, linewidth=1.5,
                marker=st.marker if len(xs) <= 12 else None, markersize=4,
            )  # fmt: skip
            ax.fill_between(xs, part["low"].to_numpy(float), part["high"].to_numpy(float), color=st.color, alpha=0.15)
            handles.setdefault(st.label, line)
        _integer_ticks(ax, sub[x])
        _thousands(ax, "y")
        ax.grid(alpha=0.3)
        if value is not None:
            ax.set_title(_panel_title(panel, value, panel_labels), fontsize="medium")
        ax.set_xlabel(axis_label(x, x_unit, labels))
    axes[0].set_ylabel(axis_label(y, y_unit, labels))
    if hue and len(handles) > 1:
        fig.legend(
            list(handles.values()), list(handles), loc="outside lower center", ncols=min(4, len(handles)), frameon=False
        )
    fig.suptitle(title or f"{axis_label(y, '', labels)}: mean and {level:.0%} CI over seeds")
    return fig


_INCENTIVE_PREFIXES = ("incentive", "tax", "subsidy")


def incentive_paths(
    rounds_df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    round_col: str = "round",
    hue: str | None = "principal",
    unit: str = "$ per household-year",
    level: float = 0.95,
    title: str | None = None,
) -> Figure:
    """Per-round intervention paths (incentives, taxes, subsidies), mean and CI band over seeds.

    One panel per column.

    Args:
        rounds_df: per-round table (``rounds.csv``).
        columns: columns to draw; default the numeric columns whose name starts with ``incentive``,
            ``tax`` or ``subsidy``.
        round_col: x axis.
        hue: line grouping (ignored when the column is absent).
        unit: unit of the incentive values.
        level: confidence level of the bands.
        title: figure title.

    Returns:
        The figure.

    Raises:
        ValueError: no columns to draw, or a missing column.
    """
    if columns is None:
        columns = [
            c
            for c in rounds_df.columns
            if str(c).lower().startswith(_INCENTIVE_PREFIXES) and pd.api.types.is_numeric_dtype(rounds_df[c])
        ]
    columns = list(columns)
    if not columns:
        raise ValueError("no incentive, tax or subsidy columns in the rounds table")
    for c in [*columns, round_col]:
        if c not in rounds_df.columns:
            raise ValueError(f"column {c!r} not in the rounds table")
    hue = hue if hue and hue in rounds_df.columns else None
    ncols = min(3, len(columns))
    nrows = -(-len(columns) // ncols)
    fig = _new_figure((4.2 * ncols, 3.2 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    for k, col in enumerate(columns):
        ax = axes[k // ncols][k % ncols]
        _draw_curves(ax, rounds_df, round_col, col, hue, level)
        ax.set_title(axis_label(col))
        ax.set_xlabel(axis_label(round_col))
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        _thousands(ax, "y")
    for k in range(len(columns), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    if hue:
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=min(4, len(names)), frameon=False)
    fig.suptitle(title or f"Intervention paths: mean and {level:.0%} CI over seeds")
    return fig


def by_group(
    df: pd.DataFrame,
    metric: str,
    *,
    group: str = "agent_type",
    hue: str | None = "principal",
    unit: str = "",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Distribution of a metric across groups (e.g. agent types): box plots with the individual points.

    Points are spread horizontally at fixed offsets (no random jitter).

    Args:
        df: results table.
        metric: value column.
        group: category on the x axis.
        hue: second grouping drawn side by side (ignored when absent).
        unit: unit of the metric.
        title: figure title.
        figsize: inches (default grows with the number of groups).

    Returns:
        The figure.
    """
    for c in (metric, group):
        if c not in df.columns:
            raise ValueError(f"column {c!r} not in the table")
    hue = hue if hue and hue in df.columns else None
    groups = _unique(df[group])
    hues = _unique(df[hue]) if hue else [None]
    styles = _styles_for(hue, hues) if hue else {None: Style(OKABE_ITO[0], "s", "-", "", "")}
    fig = _new_figure(figsize or (max(6.4, 1.1 * len(groups) * max(1, len(hues) / 2)), 3.8))
    ax = fig.add_subplot()
    width = 0.8 / len(hues)
    for j, h in enumerate(hues):
        data, pos = [], []
        for i, g in enumerate(groups):
            mask = df[group] == g
            if h is not None:
                mask &= df[hue] == h
            vals = df.loc[mask, metric].to_numpy(float)
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue
            p = i - 0.4 + width * (j + 0.5)
            data.append(vals)
            pos.append(p)
            offsets = np.linspace(-width * 0.25, width * 0.25, vals.size) if vals.size > 1 else np.zeros(1)
            ax.scatter(p + offsets, vals, s=10, color="black", alpha=0.6, zorder=3, linewidths=0)
        if not data:
            continue
        bp = ax.boxplot(
            data, positions=pos, widths=width * 0.8, patch_artist=True, showfliers=False, manage_ticks=False
        )
        for patch in bp["boxes"]:
            patch.set_facecolor(styles[h].color)
            patch.set_alpha(0.7)
        for med in bp["medians"]:
            med.set_color("black")
        if h is not None:
            ax.plot([], [], styles[h].marker, color=styles[h].color, label=styles[h].label)
    ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups], rotation=30 if len(groups) > 4 else 0)
    ax.set_xlabel(axis_label(group))
    ax.set_ylabel(axis_label(metric, unit))
    ax.set_title(title or f"{axis_label(metric)} by {axis_label(group).lower()}")
    ax.grid(axis="y", alpha=0.3)
    _thousands(ax, "y")
    if hue:
        _legend_outside(fig, ax, axis_label(hue))
    return fig
