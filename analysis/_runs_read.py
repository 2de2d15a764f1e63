"""Reading run folders: :func:`load_run`, :func:`load_runs`, :func:`find_runs` and the comparability checks.

Public names are re-exported by :mod:`analysis.runs`, which describes the folder layout.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._io import sha256_file
from ._runs_record import (
    CONFIG_FILE,
    INCOMPLETE_FILE,
    PARTIAL_SUFFIX,
    RECORD_FILE,
    RESULTS_FILE,
    ROUNDS_FILE,
    IncomparableRunsError,
    IncompleteRunError,
    RunFolderError,
    _format_differences,
    config_differences,
    config_fingerprint,
)

# ---------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run folder, loaded.

    Attributes:
        path: the folder.
        record: the parsed ``run.json`` (empty if absent and loading was allowed).
        config: the resolved config (from ``run.json``, else ``config.toml``).
        results: ``results.csv``.
        rounds: ``rounds.csv`` or ``None``.
    """

    path: Path
    record: dict[str, Any]
    config: dict[str, Any]
    results: pd.DataFrame
    rounds: pd.DataFrame | None = None
    label: str = field(default="")

    @property
    def name(self) -> str:
        """A short name for the run (``label`` if set, else the folder name)."""
        return self.label or self.path.name

    @property
    def scenario(self) -> str | None:
        """Scenario from the record, else from the results' ``scenario`` column."""
        if self.record.get("scenario"):
            return str(self.record["scenario"])
        if "scenario" in self.results.columns and len(self.results):
            return str(self.results["scenario"].iloc[0])
        return None

    @property
    def seeds(self) -> list[int]:
        """Seeds from the record, else the distinct ``seed`` values of the results."""
        if self.record.get("seeds"):
            return [int(s) for s in self.record["seeds"]]
        if "seed" in self.results.columns:
            return sorted(int(s) for s in self.results["seed"].dropna().unique())
        return []

    @property
    def fingerprint(self) -> str:
        """Config fingerprint, recomputed from ``config``."""
        return config_fingerprint(self.config)


def _is_run_folder(path: Path) -> bool:
    return path.name.endswith(PARTIAL_SUFFIX) or any(
        (path / f).exists() for f in (RECORD_FILE, RESULTS_FILE, INCOMPLETE_FILE)
    )


def is_complete(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a complete run folder.

    Complete means: a folder not named ``*.partial``, without an ``INCOMPLETE`` marker, with a
    ``run.json`` whose status is ``complete``.
    """
    p = Path(path)
    if not p.is_dir() or p.name.endswith(PARTIAL_SUFFIX) or (p / INCOMPLETE_FILE).exists():
        return False
    try:
        record = json.loads((p / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("status") == "complete"


def _incomplete_reason(p: Path) -> str | None:
    marker = p / INCOMPLETE_FILE
    if marker.exists():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            return f"{p} is an incomplete run (stopped by {info.get('error_type')}: {info.get('message')})"
        except (OSError, ValueError):
            return f"{p} is an incomplete run (INCOMPLETE marker present)"
    if p.name.endswith(PARTIAL_SUFFIX):
        return f"{p} is an incomplete run (a .partial folder: still running or killed)"
    if not (p / RECORD_FILE).exists():
        return f"{p} has no run.json (not a complete run folder)"
    if not is_complete(p):
        return f"{p} is an incomplete run (run.json status is not 'complete')"
    return None


def load_run(path: str | os.PathLike[str], *, allow_incomplete: bool = False, verify: bool = False) -> Run:
    """Load one run folder.

    Args:
        path: the run folder.
        allow_incomplete: also load ``.partial`` folders, folders with an ``INCOMPLETE`` marker and
            folders without ``run.json`` (e.g. hand-made results), as long as ``results.csv`` exists.
        verify: check the sha256 of every file listed in ``run.json`` against the file.

    Returns:
        The loaded :class:`Run`.

    Raises:
        RunFolderError: no such folder, no ``results.csv``, unreadable files, or a hash mismatch.
        IncompleteRunError: the run is incomplete and ``allow_incomplete`` is false.
    """
    p = Path(path)
    if not p.exists():
        raise RunFolderError(f"no such run folder: {p}")
    if not p.is_dir():
        raise RunFolderError(f"not a folder: {p}")
    if not allow_incomplete:
        reason = _incomplete_reason(p)
        if reason:
            raise IncompleteRunError(reason)
    record: dict[str, Any] = {}
    if (p / RECORD_FILE).exists():
        try:
            record = json.loads((p / RECORD_FILE).read_text(encoding="utf-8"))
        except ValueError as err:
            raise RunFolderError(f"{p / RECORD_FILE} is not valid JSON: {err}") from None
    results_path = p / RESULTS_FILE
    if not results_path.exists():
        raise RunFolderError(f"{p} has no results.csv")
    results = _read_csv(results_path)
    _check_results(results, results_path)
    _check_record(record, p / RECORD_FILE)
    rounds = _read_csv(p / ROUNDS_FILE) if (p / ROUNDS_FILE).exists() else None
    if isinstance(record.get("config"), dict):
        config = record["config"]
    elif (p / CONFIG_FILE).exists():
        try:
            config = tomllib.loads((p / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise RunFolderError(f"{p / CONFIG_FILE} cannot be read: {err}") from None
    else:
        config = {}
    if verify:
        for rel, digest in (record.get("files") or {}).items():
            f = p / rel
            if not f.exists():
                raise RunFolderError(f"{f} is listed in run.json but missing")
            if sha256_file(f) != digest:
                raise RunFolderError(f"{f} changed since the run (sha256 differs from run.json)")
    return Run(path=p, record=record, config=config, results=results, rounds=rounds)


def _integer_valued(values: pd.Series) -> bool:
    nums = pd.to_numeric(values, errors="coerce")
    return bool(nums.notna().all()) and bool((nums == nums.round()).all())


def _check_results(results: pd.DataFrame, path: Path) -> None:
    """The columns every analysis relies on have the types it expects (one clear error otherwise)."""
    if "principal" in results.columns:
        names = results["principal"]
        if names.isna().any() or (names.astype(str).str.strip() == "").any():
            row = int(np.flatnonzero(names.isna().to_numpy() | (names.astype(str).str.strip() == "").to_numpy())[0])
            raise RunFolderError(f"{path}: row {row + 2} has no principal name")
        results["principal"] = names.astype(str)
    for col in ("seed", "shots"):
        if col in results.columns:
            vals = results[col].dropna()
            if not _integer_valued(vals):
                nums = pd.to_numeric(vals, errors="coerce")
                bad = vals[nums.isna() | (nums % 1 != 0)]
                raise RunFolderError(f"{path}: column {col!r} must hold integers, found {bad.iloc[0]!r}")


def _check_record(record: dict[str, Any], path: Path) -> None:
    seeds = record.get("seeds")
    if seeds is None:
        return
    ok = isinstance(seeds, list) and all(
        isinstance(s, int) or (isinstance(s, str) and s.strip().lstrip("-").isdigit()) for s in seeds
    )
    if not ok:
        raise RunFolderError(f"{path}: 'seeds' must be a list of integers, got {seeds!r}")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise RunFolderError(f"{path} is empty") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{path} cannot be read: {err}") from None


def find_runs(root: str | os.PathLike[str]) -> list[Path]:
    """Complete run folders at or below ``root`` (``.partial`` and incomplete folders are skipped).

    Args:
        root: a run folder, or a folder containing run folders at any depth.

    Returns:
        Sorted folder paths.

    Raises:
        RunFolderError: ``root`` does not exist.
    """
    p = Path(root)
    if not p.exists():
        raise RunFolderError(f"no such run folder: {p}")
    if _is_run_folder(p):
        return [p]
    found = sorted({f.parent for f in p.rglob(RECORD_FILE)})
    return [f for f in found if not any(part.endswith(PARTIAL_SUFFIX) for part in f.parts) and is_complete(f)]


def _expand(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if not p.exists():
            raise RunFolderError(f"no such run folder: {p}")
        if _is_run_folder(p):
            out.append(p)
            continue
        found = find_runs(p)
        if not found:
            raise RunFolderError(f"no complete run folders in {p}")
        out.extend(found)
    return out


def _labels(paths: Sequence[Path]) -> list[str]:
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    resolved = [p.resolve() for p in paths]
    common = Path(os.path.commonpath(resolved)) if len(resolved) > 1 else resolved[0].parent
    labels = [r.relative_to(common).as_posix() or r.name for r in resolved]
    if len(set(labels)) < len(labels):
        labels = [str(r) for r in resolved]
    return labels


def load_runs_list(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, allow_incomplete: bool = False
) -> list[Run]:
    """Load several runs (see :func:`load_runs` for what ``paths`` may be), each labelled uniquely."""
    folders = list(dict.fromkeys(_expand(paths)))
    runs = [load_run(f, allow_incomplete=allow_incomplete) for f in folders]
    for run, label in zip(runs, _labels(folders), strict=True):
        run.label = label
    return runs


def load_runs(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, allow_incomplete: bool = False
) -> pd.DataFrame:
    """The results of several runs in one table, with a ``run`` column first.

    The notebook entry point: ``load_runs("runs/green_tax")`` reads every complete run below that
    folder; ``load_runs(["runs/a", "runs/b"])`` reads the named ones.

    Args:
        paths: a run folder, a folder containing run folders (searched recursively, incomplete runs
            skipped), or an iterable of either.
        allow_incomplete: also load explicitly named incomplete runs.

    Returns:
        Concatenated ``results.csv`` tables; ``run`` is the folder name (or a longer relative path when
        names repeat).

    Raises:
        RunFolderError: a missing folder, an explicitly named incomplete run, or no runs found.
    """
    runs = load_runs_list(paths, allow_incomplete=allow_incomplete)
    frames = [r.results.assign(run=r.name) for r in runs]
    df = pd.concat(frames, ignore_index=True, sort=False)
    return df[["run", *[c for c in df.columns if c != "run"]]]


# ---------------------------------------------------------------------------------------------------
# comparability
# ---------------------------------------------------------------------------------------------------


def check_comparable(runs: Sequence[Run | str | os.PathLike[str]], *, ignore: Iterable[str] = ()) -> list[str]:
    """Check that runs can be pooled or compared; return warnings.

    Runs are comparable when they have the same scenario and their resolved configs are equal apart
    from seeds and output paths (the keys in :data:`NON_RESULT_KEYS`, plus ``ignore``).

    Args:
        runs: loaded runs or run folders.
        ignore: further top-level config keys allowed to differ (e.g. ``"principals"``).

    Returns:
        Warnings (one line each) about differing package versions, git commits, runs made from a dirty
        working tree, and runs without a run record.

    Raises:
        IncomparableRunsError: scenario or config differ; the message names each differing field with
            both values, e.g. ``runs are not comparable: n_agents: 1000 vs 2000 (in a vs b)``.
    """
    loaded = [r if isinstance(r, Run) else load_run(r) for r in runs]
    if not loaded:
        return []
    ignore = set(ignore)
    ref = loaded[0]
    for other in loaded[1:]:
        if ref.scenario != other.scenario:
            diffs = [("scenario", ref.scenario, other.scenario)]
            raise IncomparableRunsError(
                f"runs are not comparable: {_format_differences(diffs)} (in {ref.name} vs {other.name})", diffs
            )
        if config_fingerprint(ref.config, ignore) != config_fingerprint(other.config, ignore):
            diffs = config_differences(ref.config, other.config, ignore)
            raise IncomparableRunsError(
                f"runs are not comparable: {_format_differences(diffs)} (in {ref.name} vs {other.name})", diffs
            )
    return environment_warnings(loaded)


def environment_warnings(runs: Sequence[Run]) -> list[str]:
    """Warnings about runs that may not be comparable although their configs match.

    Args:
        runs: loaded runs.

    Returns:
        One line each: runs without a run record, differing package versions, differing git commits,
        and runs made from a working tree with uncommitted changes.
    """
    loaded = list(runs)
    out: list[str] = []
    for run in loaded:
        if not run.record:
            out.append(f"run {run.name} has no run record (run.json); versions and commit unknown")
    with_record = [r for r in loaded if r.record]
    packages: list[str] = []
    for r in with_record:
        packages.extend(k for k in (r.record.get("versions") or {}) if k not in packages)
    for pkg in packages:
        values = {r.name: (r.record.get("versions") or {}).get(pkg) for r in with_record}
        if len(set(values.values())) > 1:
            listing = ", ".join(f"{v} ({name})" for name, v in values.items())
            out.append(f"{pkg} versions differ: {listing}")
    commits = {r.name: r.record.get("git_commit") for r in with_record}
    if len(set(commits.values())) > 1:
        listing = ", ".join(f"{(c or 'unknown')[:10]} ({name})" for name, c in commits.items())
        out.append(f"runs come from different git commits: {listing}")
    for r in with_record:
        if r.record.get("git_dirty"):
            out.append(
                f"run {r.name} was made from a working tree with uncommitted changes "
                f"(commit {(r.record.get('git_commit') or 'unknown')[:10]})"
            )
    return out
