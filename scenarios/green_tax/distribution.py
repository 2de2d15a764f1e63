"""Distributional analysis of a reform: income deciles, winners and losers, Gini coefficients.

The tables follow the habits of Tax-Calculator / Tax-Brain (changes by income decile, counts of
units better and worse off) and PolicyEngine (winners and losers in five buckets of the percent
change in household net income). Weighted statistics come from ``microdf`` (PolicyEngine's
weighted pandas; ``microdf-python`` on PyPI): decile ranks (:meth:`MicroSeries.decile_rank`),
weighted means and the Gini coefficient (:meth:`MicroSeries.gini`). Simulated households all weigh
1 today; the weights argument is there for survey-weighted populations.

Definitions (per household, over the horizon, discounted at the economy's rate):

* **net surplus** = realised private value (v - p) - taxes borne - price changes + subsidies
  received + dividends: the household's money-metric gain from the car market and the policy;
* **net income** = income over the horizon + net surplus: the base of percent changes;
* **change** = reform - baseline net surplus (the same household: common random numbers);
* a household is **better off** when its change exceeds ``tolerance`` percent (0.1%) of its
  baseline net income, **worse off** when it falls short of minus that, else **unchanged**; the five
  buckets split the better and worse off at 5% of net income (lose more than 5%, lose less than
  5%, no change, gain less than 5%, gain more than 5%);
* the **relative change** of a decile is its mean change over the absolute value of its mean
  baseline net surplus;
* **Gini** of net surplus and of net income, with negative values counted as zero (microdf's
  ``negatives="zero"``), since a Gini coefficient is defined for non-negative amounts.
"""

from __future__ import annotations

import warnings
from typing import Any

import microdf as mdf
import numpy as np
import pandas as pd

__all__ = ["BUCKETS", "BUCKET_LABELS", "buckets", "distribution_table", "gini", "income_deciles"]

BUCKETS = ("lose_gt5", "lose_lt5", "no_change", "gain_lt5", "gain_gt5")
"""Keys of the five winners-and-losers buckets, from the biggest losers to the biggest winners."""

BUCKET_LABELS = {
    "lose_gt5": "lose more than 5%",
    "lose_lt5": "lose less than 5%",
    "no_change": "no change (within 0.1%)",
    "gain_lt5": "gain less than 5%",
    "gain_gt5": "gain more than 5%",
}


def _weights(n: int, weights: Any) -> np.ndarray:
    return np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)


def income_deciles(income: Any, weights: Any = None) -> np.ndarray:
    """Income decile (1 = poorest 10%, 10 = richest) of each household, weighted (microdf)."""
    x = np.asarray(income, dtype=np.float64)
    s = mdf.MicroSeries(x, weights=_weights(x.size, weights))
    return np.asarray(s.decile_rank(), dtype=np.int64)


def gini(values: Any, weights: Any = None) -> float:
    """Weighted Gini coefficient (microdf), negative values counted as zero."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    s = mdf.MicroSeries(x, weights=_weights(x.size, weights))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(s.gini(negatives="zero"))


def buckets(pct_change: Any, *, threshold: float = 5.0, tolerance: float = 0.1) -> np.ndarray:
    """Bucket index (0-4, in :data:`BUCKETS` order) of each household's percent change of net income."""
    p = np.asarray(pct_change, dtype=np.float64)
    out = np.full(p.shape, 2, dtype=np.int64)
    out[p < -tolerance] = 1
    out[p < -threshold] = 0
    out[p > tolerance] = 3
    out[p > threshold] = 4
    return out


def distribution_table(
    income: Any,
    base: Any,
    reform: Any,
    income_total: Any,
    weights: Any = None,
    *,
    threshold: float = 5.0,
    tolerance: float = 0.1,
) -> pd.DataFrame:
    """Per income decile and for everyone: means, changes, counts, buckets and Gini, as a long table.

    Args:
        income: (n,) yearly income (defines the deciles).
        base: (n,) baseline net surplus over the horizon.
        reform: (n,) reform net surplus of the same households.
        income_total: (n,) income over the horizon (same discounting as the surpluses).
        weights: (n,) household weights (default 1).
        threshold: the 5% boundary of the buckets.
        tolerance: the "no change" band, percent of net income.

    Returns:
        Columns ``group`` (``"1"``..``"10"``, ``"all"``), ``metric``, ``value``. Metrics:
        ``baseline_mean``, ``reform_mean``, ``change``, ``relative_change_pct``,
        ``change_pct_income`` (the group's mean change over its mean baseline net income),
        ``better_off``, ``worse_off``, ``unchanged`` (weighted counts), ``gainers_pct`` (percent of households
        whose change is positive, however small),
        ``share_<bucket>`` (percent of households) for each bucket, ``households``, ``income_mean``,
        and for ``all`` also ``gini_surplus_baseline``, ``gini_surplus_reform``,
        ``gini_income_baseline``, ``gini_income_reform`` (net income).
    """
    y = np.asarray(income, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    r = np.asarray(reform, dtype=np.float64)
    tot = np.asarray(income_total, dtype=np.float64)
    w = _weights(y.size, weights)
    d = r - b
    net_base = tot + b
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(net_base > 0, 100.0 * d / net_base, np.nan)
    bucket = buckets(np.nan_to_num(pct, nan=0.0), threshold=threshold, tolerance=tolerance)
    frame = mdf.MicroDataFrame(
        {
            "decile": income_deciles(y, w),
            "income": y,
            "base": b,
            "reform": r,
            "change": d,
            "pct": pct,
            "net_base": net_base,
            "better": (bucket >= 3).astype(float),
            "gain": (d > 0).astype(float) * 100.0,
            "worse": (bucket <= 1).astype(float),
            "unchanged": (bucket == 2).astype(float),
            **{f"share_{k}": (bucket == i).astype(float) * 100.0 for i, k in enumerate(BUCKETS)},
        },
        weights=w,
    )
    rows: list[dict[str, Any]] = []

    def add(group: str, sub: Any) -> None:
        base_mean = float(sub.base.mean())
        change = float(sub.change.mean())
        stats = {
            "households": float(sub.weights.sum()) if hasattr(sub, "weights") else float(len(sub)),
            "income_mean": float(sub.income.mean()),
            "baseline_mean": base_mean,
            "reform_mean": float(sub.reform.mean()),
            "change": change,
            "relative_change_pct": 100.0 * change / abs(base_mean) if base_mean != 0 else float("nan"),
            "change_pct_income": 100.0 * change / float(sub.net_base.mean()),
            "better_off": float(sub.better.sum()),
            "worse_off": float(sub.worse.sum()),
            "unchanged": float(sub.unchanged.sum()),
            "gainers_pct": float(sub.gain.mean()),
        }
        for k in BUCKETS:
            stats[f"share_{k}"] = float(sub[f"share_{k}"].mean())
        rows.extend({"group": group, "metric": m, "value": v} for m, v in stats.items())

    for dec in range(1, 11):
        sub = frame[frame.decile == dec]
        if len(sub):
            add(str(dec), sub)
    add("all", frame)
    for name, values in (
        ("gini_surplus_baseline", b),
        ("gini_surplus_reform", r),
        ("gini_income_baseline", tot + b),
        ("gini_income_reform", tot + r),
    ):
        rows.append({"group": "all", "metric": name, "value": gini(values, w)})
    return pd.DataFrame(rows)
