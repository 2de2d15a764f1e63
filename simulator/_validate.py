"""Input checks shared by the public constructors: one clear ValueError per mistake.

Every message names the parameter and the allowed range, so a user never sees
a traceback from deep inside numpy for a wrong argument.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "ANY",
    "Range",
    "check_actions",
    "check_float",
    "check_int",
    "check_offsets",
    "check_rewards",
    "per_action",
    "per_agent",
]


class Range:
    """A closed or open interval used to validate a number and to describe it."""

    def __init__(
        self,
        low: float = -math.inf,
        high: float = math.inf,
        *,
        low_open: bool = False,
        high_open: bool = False,
    ) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def contains(self, x: np.ndarray | float) -> np.ndarray | bool:
        """Elementwise membership (NaN is never inside; an infinite bound is open, as ``str`` shows)."""
        x = np.asarray(x, dtype=np.float64)
        lo = x > self.low if self.low_open or math.isinf(self.low) else x >= self.low
        hi = x < self.high if self.high_open or math.isinf(self.high) else x <= self.high
        return lo & hi

    def __str__(self) -> str:
        lb = "(" if self.low_open or math.isinf(self.low) else "["
        hb = ")" if self.high_open or math.isinf(self.high) else "]"
        return f"{lb}{_fmt(self.low)}, {_fmt(self.high)}{hb}"


ANY = Range()
"""The whole real line (NaN excluded)."""


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise ValueError naming ``name`` and the range."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value}")
    return value


def check_float(name: str, value: Any, rng: Range = ANY) -> float:
    """Return ``value`` as a finite-or-allowed float inside ``rng``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in {rng}, got {value!r}") from None
    if not bool(rng.contains(x)):
        raise ValueError(f"{name} must be in {rng}, got {value!r}")
    return x


def _to_float32(name: str, arr: np.ndarray) -> np.ndarray:
    """Cast to float32, refusing finite values that would overflow to inf (|x| > 3.4e38)."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    if (np.isfinite(arr) & ~np.isfinite(out)).any():
        first = arr[~np.isfinite(out)].flat[0]
        raise ValueError(f"{name} must be within the float32 range (|x| <= 3.4e38), got {first!r}")
    return out


def _as_float_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {type(value).__name__}") from None
    return arr


def per_agent(name: str, value: Any, n: int, rng: Range = ANY, *, compact: bool = True) -> np.ndarray:
    """A scalar or an (n,) array -> float32 array, checked against ``rng``.

    With ``compact`` a scalar stays one value (shape (1,)), which the kernels read
    for every agent: no per-agent memory or memory traffic for a homogeneous
    parameter. Otherwise the result has shape (n,).
    """
    arr = _as_float_array(name, value)
    if arr.ndim == 0:
        arr = np.full(1 if compact else n, float(arr))
    elif arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {arr.shape}")
    bad = ~rng.contains(arr)
    if bad.any():
        first = arr[np.argmax(bad)]
        raise ValueError(f"{name} must be in {rng} for every agent, got {first!r}")
    return _to_float32(name, arr)


def per_action(name: str, value: Any, n: int, k: int, rng: Range = ANY, *, compact: bool = False) -> np.ndarray:
    """A scalar, a (k,) vector or an (n, k) array -> float32 array of shape (n, k).

    With ``compact`` a scalar or (k,) vector stays one row, shape (1, k): the same
    values for every agent without per-agent memory.
    """
    arr = _as_float_array(name, value)
    rows = 1 if compact else n
    if arr.ndim == 0:
        arr = np.full((rows, k), float(arr))
    elif arr.shape == (k,):
        arr = np.broadcast_to(arr, (rows, k))
    elif arr.shape != (n, k):
        raise ValueError(f"{name} must be a scalar or have shape ({k},) or ({n}, {k}), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got a NaN or inf")
    bad = ~rng.contains(arr)
    if bad.any():
        raise ValueError(f"{name} must be in {rng}, got {arr[bad].flat[0]!r}")
    return _to_float32(name, arr)


def check_offsets(offsets: Any, n: int, k: int, name: str = "offsets") -> tuple[np.ndarray, bool]:
    """Return offsets as float32 (1, k) or (n, k) plus a per-agent flag."""
    if offsets is None:
        return np.zeros((1, k), dtype=np.float32), False
    arr = _as_float_array(name, offsets)
    if arr.shape == (k,):
        out, per = arr.reshape(1, k), False
    elif arr.shape == (n, k):
        out, per = arr, True
    else:
        raise ValueError(f"{name} must have shape ({k},) or ({n}, {k}), got shape {arr.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"{name} must be finite, got a NaN or inf")
    return _to_float32(name, out), per


def check_actions(actions: Any, n: int, k: int) -> np.ndarray:
    """Integer actions of shape (n,) in [0, k)."""
    arr = np.asarray(actions)
    if arr.shape != (n,):
        raise ValueError(f"actions must have shape ({n},), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"actions must be integers, got dtype {arr.dtype}")
    if n and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(f"actions must be in [0, {k - 1}], got values in [{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.int32)


def check_rewards(rewards: Any, n: int) -> np.ndarray:
    """Finite rewards of shape (n,) as float32."""
    arr = _as_float_array("rewards", rewards)
    if arr.shape != (n,):
        raise ValueError(f"rewards must have shape ({n},), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("rewards must be finite, got a NaN or inf")
    return _to_float32("rewards", arr)
