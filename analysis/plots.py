"""Figures for results and per-round series (matplotlib, Agg renderer, no pyplot state).

Every function returns a :class:`matplotlib.figure.Figure` built directly (not through ``pyplot``), so
figures are never registered globally and need no display. Colours come from the Okabe-Ito palette
(Okabe & Ito 2008, "Color Universal Design"), which stays distinguishable under the common forms of
colour blindness; lines also cycle through markers. Axis labels carry the unit strings callers pass
(``"$ per household-year"``, ``"t CO2"``...). Error bars and bands are the confidence intervals of
:func:`analysis.stats.summarize` (bars, frontier) or t-intervals over seeds (curves; Student 1908).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats as _st

__all__ = [
    "OKABE_ITO",
    "bar_ci",
    "by_group",
    "curves_ci",
    "figure_to_png",
    "frontier",
    "incentive_paths",
    "palette",
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
_STAT_COLUMNS = frozenset({"metric", "mean", "low", "high", "n", "std", "method", "level"})
DEFAULT_DPI = 120


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


def _label(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


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
    colors = palette(hues if hue else cats)
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
    ax.set_xticks(
        np.arange(len(cats)),
        [str(c) for c in cats],
        rotation=30 if len(cats) > 4 else 0,
        ha="right" if len(cats) > 4 else "center",
    )
    ax.set_xlabel(x)
    ax.set_ylabel(_label(metric, unit))
    ax.axhline(0, color="0.6", linewidth=0.6)
    level = rows["level"].iloc[0] if "level" in rows.columns else 0.95
    ax.set_title(title or f"{metric}: mean and {level:.0%} CI over seeds")
    if hue:
        ax.legend(frameon=False, title=hue, fontsize="small")
    ax.grid(axis="y", alpha=0.3)
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
    colors = palette(k[label_pos] if isinstance(k, tuple) else k for k in keys)
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
        name = " ".join(str(v) if c == label else f"{c}={v}" for c, v in zip(group_cols, kt, strict=True))
        ax.errorbar(
            mx,
            my,
            xerr=xerr,
            yerr=yerr,
            fmt=_MARKERS[i % len(_MARKERS)],
            color=colors[kt[label_pos]],
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
    ax.set_xlabel(_label(x, x_unit))
    ax.set_ylabel(_label(y, y_unit))
    ax.set_title(title or f"{x} vs {y} (mean and CI over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize="small")
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


def _draw_curves(
    ax: Axes, df: pd.DataFrame, x: str, y: str, hue: str | None, level: float, colors: dict[Hashable, str]
) -> None:
    stats = _curve_stats(df, x, y, hue, level)
    groups = _unique(df[hue]) if hue else [None]
    for i, h in enumerate(groups):
        sub = stats if h is None else stats[stats[hue] == h]
        if sub.empty:
            continue
        xs = sub[x].to_numpy()
        color = colors.get(h, OKABE_ITO[0])
        marker = _MARKERS[i % len(_MARKERS)] if len(xs) <= 12 else None
        ax.plot(xs, sub["mean"], color=color, marker=marker, linewidth=1.5, label=None if h is None else str(h))
        ax.fill_between(
            xs, sub["low"].to_numpy(float), sub["high"].to_numpy(float), color=color, alpha=0.2, linewidth=0
        )


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
    colors = palette(_unique(df[hue])) if hue else {None: OKABE_ITO[0]}
    _draw_curves(ax, df, x, y, hue, level, colors)
    ax.set_xlabel(_label(x, x_unit))
    ax.set_ylabel(_label(y, y_unit))
    ax.set_title(title or f"{y}: mean and {level:.0%} CI over seeds")
    ax.grid(alpha=0.3)
    if hue:
        ax.legend(frameon=False, fontsize="small", title=hue)
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
    colors = palette(_unique(rounds_df[hue])) if hue else {None: OKABE_ITO[0]}
    for k, col in enumerate(columns):
        ax = axes[k // ncols][k % ncols]
        _draw_curves(ax, rounds_df, round_col, col, hue, level, colors)
        ax.set_title(col)
        ax.set_xlabel(round_col)
        ax.set_ylabel(_label(col, unit))
        ax.grid(alpha=0.3)
    for k in range(len(columns), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    if hue:
        axes[0][0].legend(frameon=False, fontsize="small", title=hue)
    fig.suptitle(title or f"intervention paths: mean and {level:.0%} CI over seeds")
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
    colors = palette(hues)
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
            patch.set_facecolor(colors[h])
            patch.set_alpha(0.7)
        for med in bp["medians"]:
            med.set_color("black")
        if h is not None:
            ax.plot([], [], "s", color=colors[h], label=str(h))
    ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups], rotation=30 if len(groups) > 4 else 0)
    ax.set_xlabel(group)
    ax.set_ylabel(_label(metric, unit))
    ax.set_title(title or f"{metric} by {group}")
    ax.grid(axis="y", alpha=0.3)
    if hue:
        ax.legend(frameon=False, fontsize="small", title=hue)
    return fig
