"""Statistics over seeds: means with confidence intervals, paired comparisons, adaptation metrics.

Methods and sources:

- **t-interval** (Student 1908, "The probable error of a mean", Biometrika 6(1):1-25): mean ± t(1-α/2,
  n-1) · s/√n. Exact for normal data; used for n < 10, where a bootstrap has too few distinct
  resamples to be trusted.
- **BCa bootstrap** (Efron 1987, "Better bootstrap confidence intervals", JASA 82(397):171-185; Efron &
  Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 14): bias-corrected and accelerated percentile
  interval, via :func:`scipy.stats.bootstrap`; used for n >= 10 (docs/design.md, "Statistics"). When BCa
  cannot be computed (e.g. all values equal, so the acceleration is 0/0) the plain percentile interval
  is used, which is then zero-width.
- **Paired t-test** on per-seed differences for principals evaluated on the same seeds (common random
  numbers make the pairing meaningful); **Welch's t-test** (Welch 1947, Biometrika 34(1-2):28-35) when
  the seeds are not shared.

Randomness: bootstrap functions take ``rng`` (a :class:`numpy.random.Generator` or an int seed); ``None``
means a fixed seed 0, so the same data always give the same interval. No global RNG is used.
NaN values (e.g. a metric that does not apply to a principal) are dropped; ``n`` counts the rest.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = [
    "BOOTSTRAP_MIN_N",
    "CI",
    "Difference",
    "adaptation_speed",
    "mean_ci",
    "normalized_score",
    "numeric_metrics",
    "paired_difference",
    "paired_differences",
    "share_of_gap",
    "shots_curve",
    "summarize",
    "unpaired_difference",
]

BOOTSTRAP_MIN_N = 10
"""Smallest sample for which ``method="auto"`` uses the BCa bootstrap instead of the t-interval."""

_ID_COLUMNS = frozenset({"seed", "shots", "round"})

Method = Literal["auto", "t", "bca", "percentile"]


@dataclass(frozen=True)
class CI:
    """A mean with a confidence interval.

    Attributes:
        mean: sample mean.
        low: lower bound.
        high: upper bound.
        n: number of (finite) values.
        method: ``"t"``, ``"bca"``, ``"percentile"``, ``"welch"`` or ``"single"`` (one value, or one in
            either sample: no interval, ``low`` and ``high`` are NaN).
        level: confidence level.
    """

    mean: float
    low: float
    high: float
    n: int
    method: str
    level: float = 0.95

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2

    @property
    def has_interval(self) -> bool:
        """Whether there is an interval at all (not for one value)."""
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval (never, without an interval)."""
        return self.has_interval and self.low <= value <= self.high

    def __str__(self) -> str:
        if not self.has_interval:
            return f"{self.mean:.4g} (n={self.n}, no interval)"
        return f"{self.mean:.4g} [{self.low:.4g}, {self.high:.4g}] (n={self.n}, {self.method})"


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _clean(values: Any) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _t_interval(x: np.ndarray, level: float) -> tuple[float, float]:
    m = float(np.mean(x))
    s = float(np.std(x, ddof=1))
    half = float(_st.t.ppf((1 + level) / 2, x.size - 1)) * s / math.sqrt(x.size)
    return m - half, m + half


# scipy >= 1.15 takes `rng`; older versions (the project allows >= 1.11) take `random_state`
_RNG_KW = "rng" if "rng" in inspect.signature(_st.bootstrap).parameters else "random_state"


def _bootstrap(
    x: np.ndarray, level: float, rng: np.random.Generator, method: str, n_resamples: int
) -> tuple[float, float, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate-data warnings: handled by the fallback below
        if method == "bca":
            res = _st.bootstrap(
                (x,),
                np.mean,
                vectorized=True,
                method="BCa",
                confidence_level=level,
                n_resamples=n_resamples,
                **{_RNG_KW: rng},
            )
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
            if np.isfinite(lo) and np.isfinite(hi):
                return lo, hi, "bca"
        res = _st.bootstrap(
            (x,),
            np.mean,
            vectorized=True,
            method="percentile",
            confidence_level=level,
            n_resamples=n_resamples,
            **{_RNG_KW: rng},
        )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        m = float(np.mean(x))
        lo = hi = m
    return lo, hi, "percentile"


def mean_ci(
    values: Any,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
    method: Method = "auto",
    *,
    n_resamples: int = 9999,
) -> CI:
    """Mean of ``values`` with a confidence interval.

    Args:
        values: numbers (array-like); NaN and infinite values are dropped.
        level: confidence level, e.g. 0.95.
        rng: generator (or int seed) for the bootstrap; ``None`` = fixed seed 0.
        method: ``"auto"`` (t-interval for n < 10, BCa bootstrap for n >= 10), ``"t"``, ``"bca"`` or
            ``"percentile"``. BCa falls back to the percentile interval when it cannot be computed.
        n_resamples: bootstrap resamples.

    Returns:
        The :class:`CI`; ``method`` says which interval was computed.

    Raises:
        ValueError: no finite values, an unknown method, or a level outside (0, 1).
    """
    _check_level(level)
    if method not in ("auto", "t", "bca", "percentile"):
        raise ValueError(f"unknown CI method {method!r} (auto, t, bca, percentile)")
    x = _clean(values)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one finite value")
    m = float(np.mean(x))
    if x.size == 1:  # one value: no interval (a zero-width one would claim certainty)
        return CI(m, math.nan, math.nan, 1, "single", level)
    if method == "auto":
        method = "t" if x.size < BOOTSTRAP_MIN_N else "bca"
    if method == "t":
        lo, hi = _t_interval(x, level)
        return CI(m, lo, hi, int(x.size), "t", level)
    lo, hi, used = _bootstrap(x, level, _as_rng(rng), method, n_resamples)
    return CI(m, lo, hi, int(x.size), used, level)


@dataclass(frozen=True)
class Difference:
    """A difference of means ``a - b`` with its interval and test.

    Attributes:
        mean: mean difference (paired: mean of per-seed differences).
        ci: t (paired) or Welch interval of the difference.
        p_value: two-sided p-value of the t-test (NaN when it cannot be computed, n < 2).
        significant: ``p_value < 1 - level``.
        test: ``"paired t"`` or ``"Welch t"``.
        n_a: observations of ``a`` (pairs, for a paired test).
        n_b: observations of ``b``.
        level: confidence level.
        bootstrap_ci: BCa bootstrap interval of the paired differences when n >= 10, else ``None``.
    """

    mean: float
    ci: CI
    p_value: float
    significant: bool
    test: str
    n_a: int
    n_b: int
    level: float = 0.95
    bootstrap_ci: CI | None = None

    @property
    def n(self) -> int:
        """Number of pairs (paired) or of observations in both groups (unpaired)."""
        return self.n_a if self.test == "paired t" else self.n_a + self.n_b


def _paired_arrays(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner")
        xa, xb = joined["a"].to_numpy(float), joined["b"].to_numpy(float)
    else:
        xa, xb = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
        if xa.shape != xb.shape:
            raise ValueError(f"paired samples need equal lengths, got {xa.size} and {xb.size}")
    keep = np.isfinite(xa) & np.isfinite(xb)
    return xa[keep], xb[keep]


def _degenerate_p(d_mean: float) -> float:
    return 1.0 if d_mean == 0 else 0.0


def paired_difference(
    a: Any,
    b: Any,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
    *,
    n_resamples: int = 9999,
) -> Difference:
    """Paired comparison of ``a`` and ``b`` over shared seeds (``a - b``).

    Args:
        a: values of the first principal, one per seed. Two :class:`pandas.Series` are aligned on their
            index (e.g. seed) and only shared labels are used; arrays must have equal length.
        b: values of the second principal.
        level: confidence level; ``significant`` means p < 1 - level.
        rng: generator for the bootstrap interval (n >= 10).
        n_resamples: bootstrap resamples.

    Returns:
        A :class:`Difference` with the paired t-test (Student 1908) and its interval; for n >= 10 also a
        BCa bootstrap interval of the differences. When all differences are equal the test is
        degenerate: p = 1 if they are zero, else 0.

    Raises:
        ValueError: no complete pairs, or unequal lengths.
    """
    _check_level(level)
    xa, xb = _paired_arrays(a, b)
    d = xa - xb
    if d.size == 0:
        raise ValueError("paired_difference needs at least one pair of finite values")
    ci = mean_ci(d, level, method="t")
    boot = mean_ci(d, level, rng, method="bca", n_resamples=n_resamples) if d.size >= BOOTSTRAP_MIN_N else None
    if d.size < 2:
        p = float("nan")
    elif np.ptp(d) == 0:
        p = _degenerate_p(float(d[0]))
    else:
        p = float(_st.ttest_rel(xa, xb).pvalue)
    significant = bool(np.isfinite(p) and p < 1 - level)
    return Difference(float(d.mean()), ci, p, significant, "paired t", int(d.size), int(d.size), level, boot)


def paired_differences(
    df: pd.DataFrame,
    metric: str,
    reference: str,
    *,
    by: str | Sequence[str] | None = None,
    name: str = "principal",
    unit: str = "seed",
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
    """Each principal's difference from ``reference`` in ``metric``, paired by seed, per group of ``by``.

    Rows are first averaged within each (group, principal, seed), so ``n`` counts seeds.
    Only seeds where both values are finite are paired; a principal with no such
    seed in a group gets no row (e.g. a normalized score is undefined where the run
    has no oracle to normalize by), and so does ``reference`` itself.

    Args:
        df: results, one row per principal x seed x setting (and more).
        metric: the value column.
        reference: the principal every other one is compared with (``a - reference``).
        by: grouping column(s), e.g. ``"setting"`` or ``["setting", "shots"]``.
        name: the column naming principals.
        unit: the pairing unit.
        level: confidence level.
        rng: generator for the bootstrap intervals (n >= 10).

    Returns:
        Columns ``[*by, name, "reference", "mean", "low", "high", "p_value", "significant", "n",
        "test", "level"]``, groups and principals in order of first appearance. With one seed the
        difference has no interval (``low``, ``high`` NaN) and no test.
    """
    by_cols = _as_list(by)
    for col in [*by_cols, name, unit, metric]:
        if col not in df.columns:
            raise KeyError(f"column {col!r} not in the table")
    gen = _as_rng(rng)
    keys = [*by_cols, name, unit]
    per = df.groupby(keys, sort=False, dropna=False)[metric].mean().reset_index()
    rows: list[dict[str, Any]] = []
    grouped = per.groupby(by_cols, sort=False, dropna=False) if by_cols else [((), per)]
    for key, g in grouped:
        key_t = key if isinstance(key, tuple) else (key,)
        ref = g[g[name] == reference].set_index(unit)[metric]
        if ref.empty:
            continue
        for other in dict.fromkeys(g[name]):
            if other == reference:
                continue
            vals = g[g[name] == other].set_index(unit)[metric]
            joined = pd.concat([vals.rename("a"), ref.rename("b")], axis=1, join="inner")
            joined = joined[np.isfinite(joined["a"].to_numpy(float)) & np.isfinite(joined["b"].to_numpy(float))]
            if joined.empty:
                continue
            d = paired_difference(joined["a"], joined["b"], level, gen)
            row = dict(zip(by_cols, key_t, strict=True))
            row.update(
                {
                    name: other,
                    "reference": reference,
                    "mean": d.mean,
                    "low": d.ci.low,
                    "high": d.ci.high,
                    "p_value": d.p_value,
                    "significant": d.significant,
                    "n": d.n,
                    "test": d.test,
                    "level": level,
                }
            )
            rows.append(row)
    columns = [*by_cols, name, "reference", "mean", "low", "high", "p_value", "significant", "n", "test", "level"]
    return pd.DataFrame(rows, columns=columns)


def share_of_gap(value: float, low: float, high: float, *, noise: float) -> float | None:
    """How far ``value`` lies from ``low`` towards ``high``, as a share; None when the gap is within noise.

    A share of a gap no larger than the noise in the values (say, the half-width of
    their confidence interval) says nothing: "-286% of the way" from a $164 gap. Such
    a gap is reported in absolute terms instead.

    Args:
        value: the principal's value.
        low: the lower reference (e.g. no policy).
        high: the upper reference (e.g. the oracle).
        noise: the smallest gap that counts (>= 0), in the values' units.

    Returns:
        ``(value - low) / (high - low)``, or None when ``|high - low| <= noise`` or a value is not finite.
    """
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    gap = high - low
    if not (np.isfinite(value) and np.isfinite(gap)) or abs(gap) <= noise or gap == 0:
        return None
    return float((value - low) / gap)


def unpaired_difference(a: Any, b: Any, level: float = 0.95) -> Difference:
    """Welch comparison of two independent samples (``mean(a) - mean(b)``), for runs without shared seeds.

    Args:
        a: first sample (NaN dropped).
        b: second sample.
        level: confidence level.

    Returns:
        A :class:`Difference` with Welch's t-test and interval (Welch-Satterthwaite degrees of freedom).

    Raises:
        ValueError: either sample is empty.
    """
    _check_level(level)
    xa, xb = _clean(a), _clean(b)
    if xa.size == 0 or xb.size == 0:
        raise ValueError("unpaired_difference needs at least one finite value in each sample")
    diff = float(xa.mean() - xb.mean())
    if xa.size < 2 or xb.size < 2:
        ci = CI(diff, math.nan, math.nan, int(xa.size + xb.size), "single", level)
        return Difference(diff, ci, float("nan"), False, "Welch t", int(xa.size), int(xb.size), level)
    va, vb = xa.var(ddof=1) / xa.size, xb.var(ddof=1) / xb.size
    se = math.sqrt(va + vb)
    if se == 0:
        ci = CI(diff, diff, diff, int(xa.size + xb.size), "welch", level)
        p = _degenerate_p(diff)
    else:
        dof = (va + vb) ** 2 / (va**2 / (xa.size - 1) + vb**2 / (xb.size - 1))
        half = float(_st.t.ppf((1 + level) / 2, dof)) * se
        ci = CI(diff, diff - half, diff + half, int(xa.size + xb.size), "welch", level)
        p = float(_st.ttest_ind(xa, xb, equal_var=False).pvalue)
    return Difference(diff, ci, p, bool(p < 1 - level), "Welch t", int(xa.size), int(xb.size), level)


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def numeric_metrics(df: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Numeric columns of ``df`` other than ``exclude`` and the id columns seed, shots and round."""
    skip = set(exclude) | _ID_COLUMNS
    return [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])]


def summarize(
    df: pd.DataFrame,
    by: str | Sequence[str],
    metrics: str | Sequence[str] | None = None,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
    *,
    method: Method = "auto",
    unit: str | None = "seed",
    n_resamples: int = 9999,
) -> pd.DataFrame:
    """Mean and confidence interval of each metric in each group, as a tidy (long) table.

    Long format, one row per group and metric, because it feeds plots and tables directly; pivot it
    (or use :func:`analysis.report.format_summary`) for a wide display.

    Args:
        df: results, one row per principal x seed x setting.
        by: grouping column(s), e.g. ``"principal"`` or ``["principal", "shots"]``.
        metrics: metric column(s); default every numeric column except ``by``, seed, shots and round.
        level: confidence level.
        rng: generator for the bootstrap, used in group order.
        method: interval method (see :func:`mean_ci`).
        unit: the independent unit. When this column exists, rows are first averaged within each
            (group, unit) so that ``n`` counts units (seeds), not rows. ``None``: every row is one
            observation.
        n_resamples: bootstrap resamples.

    Returns:
        Columns ``[*by, "metric", "mean", "low", "high", "n", "std", "method", "level"]``; groups in
        order of first appearance; a group with no finite value of a metric gets no row.

    Raises:
        KeyError: a missing column.
        ValueError: a non-numeric metric.
    """
    by_cols = _as_list(by)
    missing = [c for c in by_cols if c not in df.columns]
    if missing:
        raise KeyError(f"grouping column(s) not in the table: {missing}")
    metric_cols = _as_list(metrics) if metrics is not None else numeric_metrics(df, by_cols)
    for m in metric_cols:
        if m not in df.columns:
            raise KeyError(f"metric {m!r} not in the table")
        if not pd.api.types.is_numeric_dtype(df[m]):
            raise ValueError(f"metric {m!r} is not numeric")
    gen = _as_rng(rng)
    rows: list[dict[str, Any]] = []
    use_unit = unit is not None and unit in df.columns and unit not in by_cols
    grouped = df.groupby(by_cols, sort=False, dropna=False) if by_cols else [((), df)]
    for key, g in grouped:
        key_t = key if isinstance(key, tuple) else (key,)
        if use_unit:
            g = g.groupby(unit, sort=True, dropna=False)[metric_cols].mean()
        for m in metric_cols:
            x = _clean(g[m])
            if x.size == 0:
                continue
            ci = mean_ci(x, level, gen, method, n_resamples=n_resamples)
            std = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
            row = dict(zip(by_cols, key_t, strict=True))
            row.update(metric=m, mean=ci.mean, low=ci.low, high=ci.high, n=ci.n, std=std, method=ci.method, level=level)
            rows.append(row)
    columns = [*by_cols, "metric", "mean", "low", "high", "n", "std", "method", "level"]
    return pd.DataFrame(rows, columns=columns)


def normalized_score(x: Any, lower: Any, upper: Any) -> Any:
    """Min-max normalised score ``(x - lower) / (upper - lower)``.

    Typical use: 0 = no intervention, 1 = oracle. Broadcasts like numpy; a Series keeps its index.

    Args:
        x: values.
        lower: value mapped to 0.
        upper: value mapped to 1.

    Returns:
        The scores (same shape as ``x``); NaN where ``upper == lower``.
    """
    xa = np.asarray(x, dtype=float)
    lo = np.asarray(lower, dtype=float)
    denom = np.asarray(upper, dtype=float) - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom != 0, (xa - lo) / np.where(denom != 0, denom, 1.0), np.nan)
    if isinstance(x, pd.Series):
        return pd.Series(out, index=x.index, name=x.name)
    if out.ndim == 0:
        return float(out)
    return out


def adaptation_speed(
    rounds_df: pd.DataFrame,
    value_col: str,
    target: float | str | Mapping[Hashable, float] = "final",
    by: str | Sequence[str] | None = None,
    fraction: float = 0.9,
    *,
    round_col: str = "round",
    baseline: float | Literal["start"] = "start",
    smooth: int = 1,
) -> pd.DataFrame:
    """Rounds until a running value first covers ``fraction`` of the way to a target.

    For each group the series is sorted by ``round_col`` and smoothed with a trailing moving average of
    ``smooth`` rounds. With ``b`` the baseline (the first smoothed value, or a given number) and ``T`` the
    target, the round reached is the first where ``(v - b) / (T - b) >= fraction``. ``baseline=0``
    gives the literal "fraction of the target" for positive series; the default measures progress from
    where the series started, so it works for negative or decreasing series too.

    Args:
        rounds_df: per-round table (``rounds.csv``).
        value_col: the series, e.g. ``"welfare"``.
        target: ``"final"`` (the group's last smoothed value), a number (e.g. the oracle's value), a
            column name (the group's mean of that column), or a mapping from group key to number.
        by: grouping columns, e.g. ``["principal", "seed"]``; ``None`` = one series.
        fraction: share of the way to the target, in (0, 1].
        round_col: the round column.
        baseline: ``"start"`` or a number.
        smooth: trailing moving-average window in rounds (1 = raw values).

    Returns:
        One row per group: ``[*by, "rounds_to_target", "round_reached", "reached", "start", "target",
        "threshold"]``. ``rounds_to_target`` counts rounds from the group's first round, inclusive (1 =
        reached in the first round); NaN (and ``reached`` False) when never reached.

    Raises:
        KeyError: a missing column or group key.
        ValueError: bad ``fraction`` or ``smooth``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    by_cols = _as_list(by)
    for c in [*by_cols, value_col, round_col]:
        if c not in rounds_df.columns:
            raise KeyError(f"column {c!r} not in the rounds table")
    rows = []
    grouped = rounds_df.groupby(by_cols, sort=True, dropna=False) if by_cols else [((), rounds_df)]
    for key, g in grouped:
        key_t = key if isinstance(key, tuple) else (key,)
        g = g.sort_values(round_col)
        v = g[value_col].astype(float).rolling(smooth, min_periods=1).mean().to_numpy()
        rounds = g[round_col].to_numpy()
        start = float(v[0]) if baseline == "start" else float(baseline)
        if isinstance(target, str) and target == "final":
            tgt = float(v[-1])
        elif isinstance(target, str):
            if target not in g.columns:
                raise KeyError(f"target column {target!r} not in the rounds table")
            tgt = float(g[target].mean())
        elif isinstance(target, Mapping):
            lookup = key_t if len(key_t) != 1 else key_t[0]
            if lookup not in target:
                raise KeyError(f"no target for group {lookup!r}")
            tgt = float(target[lookup])
        else:
            tgt = float(target)
        gap = tgt - start
        threshold = start + fraction * gap
        if gap == 0:
            idx: int | None = 0
        else:
            hits = np.nonzero((v - start) / gap >= fraction)[0]
            idx = int(hits[0]) if hits.size else None
        row = dict(zip(by_cols, key_t, strict=True))
        row.update(
            rounds_to_target=float(idx + 1) if idx is not None else np.nan,
            round_reached=rounds[idx] if idx is not None else np.nan,
            reached=idx is not None,
            start=start,
            target=tgt,
            threshold=threshold,
        )
        rows.append(row)
    columns = [*by_cols, "rounds_to_target", "round_reached", "reached", "start", "target", "threshold"]
    return pd.DataFrame(rows, columns=columns)


def shots_curve(
    results_df: pd.DataFrame,
    metric: str,
    by: str | Sequence[str] = "principal",
    *,
    shots_col: str = "shots",
    shots: Sequence[int] | None = None,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
    """Metric against the number of adaptation episodes K (typically 0..5), with CIs over seeds.

    Args:
        results_df: results with a ``shots`` column.
        metric: the metric, e.g. ``"principal_return"``.
        by: grouping column(s) besides shots.
        shots_col: the K column.
        shots: the K values to keep (default: all present).
        level: confidence level.
        rng: generator for the bootstrap.

    Returns:
        :func:`summarize` output grouped by ``[*by, shots_col]``, sorted by group then K.

    Raises:
        KeyError: a missing column.
    """
    if shots_col not in results_df.columns:
        raise KeyError(f"column {shots_col!r} not in the results")
    df = results_df if shots is None else results_df[results_df[shots_col].isin(list(shots))]
    by_cols = _as_list(by)
    out = summarize(df, [*by_cols, shots_col], metric, level, rng)
    return out.sort_values([*by_cols, shots_col], kind="stable").reset_index(drop=True)
