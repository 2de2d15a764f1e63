"""What writing and reading a run folder share: its layout, format version, errors, config fingerprints.

Also the environment record written into ``run.json`` (package versions, git commit,
host). Public names are re-exported by :mod:`analysis.runs`.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._io import sha256_bytes, to_plain

FORMAT_VERSION = 2
"""Version of the ``run.json`` layout."""

NON_RESULT_KEYS: frozenset[str] = frozenset(
    {"seed", "seeds", "out", "out_dir", "resume", "overwrite", "backend", "threads", "workers", "progress"}
)
"""Top-level config keys that do not change results; left out of the config fingerprint."""

RESULT_COLUMNS: tuple[str, ...] = (
    "scenario",
    "principal",
    "seed",
    "shots",
    "principal_return",
    "intervention_cost",
    "adaptation_cost",
    "target_rate",
)
"""Columns every scenario's ``results.csv`` has (one row per principal x seed x evaluation setting)."""

RECORD_FILE = "run.json"
INCOMPLETE_FILE = "INCOMPLETE"
RESULTS_FILE = "results.csv"
ROUNDS_FILE = "rounds.csv"
CONFIG_FILE = "config.toml"
INPUTS_DIR = "inputs"
PARTIAL_SUFFIX = ".partial"

_VERSION_PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "torch", "mesa", "numba")
_PROJECT_DIST = "learning-incentives"


class RunFolderError(ValueError):
    """A run folder is missing, malformed or cannot be written."""


class IncompleteRunError(RunFolderError):
    """The folder holds an interrupted or still-running run."""


class IncomparableRunsError(RunFolderError):
    """Runs differ in scenario or in a config field that changes results.

    Attributes:
        differences: ``(field, value_a, value_b)`` triples, in field order.
    """

    def __init__(self, message: str, differences: Sequence[tuple[str, Any, Any]] = ()):
        super().__init__(message)
        self.differences = list(differences)


# ---------------------------------------------------------------------------------------------------
# config helpers
# ---------------------------------------------------------------------------------------------------


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _result_config(config: Mapping[str, Any] | None, ignore: Iterable[str] = ()) -> dict[str, Any]:
    plain = to_plain(dict(config or {}))
    skip = NON_RESULT_KEYS | set(ignore)
    return {k: v for k, v in plain.items() if k not in skip}


def config_fingerprint(config: Mapping[str, Any] | None, ignore: Iterable[str] = ()) -> str:
    """SHA-256 of a config's canonical JSON, without the keys that do not change results.

    Canonical JSON: keys sorted, no whitespace, ASCII; values converted to plain types first (numpy
    scalars to numbers, tuples to lists...). The top-level keys in :data:`NON_RESULT_KEYS` (seed, seeds,
    out, resume, backend, threads, progress, ...) and ``ignore`` are left out, so two runs that differ
    only there have the same fingerprint.

    Args:
        config: the resolved config (a mapping or a dataclass instance).
        ignore: further top-level keys to leave out.

    Returns:
        64 hex digits.
    """
    if config is not None and not isinstance(config, Mapping):
        config = to_plain(config)
    return sha256_bytes(_canonical_json(_result_config(config, ignore)).encode("ascii"))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping) and v:
                out.update(_flatten(v, key))
            else:
                out[key] = v
        return out
    return {prefix: value}


_MISSING = "<missing>"


def config_differences(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, ignore: Iterable[str] = ()
) -> list[tuple[str, Any, Any]]:
    """Fields (dotted paths into nested tables) whose values differ between two configs.

    Keys that do not change results (:data:`NON_RESULT_KEYS` and ``ignore``) are skipped.

    Args:
        a: first config.
        b: second config.
        ignore: further top-level keys to skip.

    Returns:
        ``(field, value_in_a, value_in_b)`` triples sorted by field; a key absent from one side has the
        value ``"<missing>"`` there.
    """
    fa = _flatten(_result_config(a, ignore))
    fb = _flatten(_result_config(b, ignore))
    diffs = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key, _MISSING), fb.get(key, _MISSING)
        if _canonical_json(va) != _canonical_json(vb):
            diffs.append((key, va, vb))
    return diffs


def _drop_none(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v, f"{where}.{k}" if where else k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if any(v is None for v in value):
            raise ValueError(f"config.toml cannot hold None inside a list (at {where or '<root>'!r})")
        return [_drop_none(v, where) for v in value]
    return value


def toml_config(config: Mapping[str, Any] | Any) -> dict[str, Any]:
    """The config as ``config.toml`` stores it: plain types, ``None`` values left out.

    Args:
        config: a mapping or dataclass instance.

    Returns:
        A dict that :mod:`tomli_w` can write.

    Raises:
        ValueError: ``None`` inside a list, or the config is not a table.
        TypeError: a value that is not plain data.
    """
    plain = to_plain(config)
    if not isinstance(plain, dict):
        raise ValueError("a config must be a mapping (a TOML table)")
    return _drop_none(plain, "")


# ---------------------------------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------------------------------


def _package_version(name: str) -> str | None:
    module = sys.modules.get(name)
    version = getattr(module, "__version__", None) if module is not None else None
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version(name)
    except Exception:  # any metadata problem just means "unknown"
        return None


def environment_info() -> dict[str, Any]:
    """Versions of Python and the scientific stack, plus host and platform.

    Versions come from installed package metadata (``importlib.metadata``), so nothing heavy (torch) is
    imported; a package that is not installed maps to ``None``. ``learning-incentives`` is this
    project's own version.

    Returns:
        ``{"versions": {...}, "hostname": str, "platform": str}``.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSION_PACKAGES:
        versions[name] = _package_version(name)
    try:
        versions[_PROJECT_DIST] = importlib.metadata.version(_PROJECT_DIST)
    except Exception:
        versions[_PROJECT_DIST] = None
    return {"versions": versions, "hostname": socket.gethostname(), "platform": platform.platform()}


def git_info(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Git commit and dirty flag of a working directory.

    ``dirty`` counts changes to tracked files only (``git status --porcelain --untracked-files=no``),
    so run folders written inside the repository do not make it dirty.

    Args:
        cwd: the folder to ask about (default: the current directory).

    Returns:
        ``{"commit": str | None, "dirty": bool | None}``; both ``None`` outside a repository or when git
        is missing.
    """

    def _git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout if proc.returncode == 0 else None

    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _format_differences(diffs: Sequence[tuple[str, Any, Any]], limit: int = 5) -> str:
    parts = [f"{k}: {_fmt(a)} vs {_fmt(b)}" for k, a, b in diffs[:limit]]
    if len(diffs) > limit:
        parts.append(f"and {len(diffs) - limit} more")
    return "; ".join(parts)
