"""Run folders: the on-disk contract every scenario writes and every analysis reads.

A run folder holds one execution of a scenario (DESIGN.md sections 3 and 8)::

    runs/green_tax/20261127-103400/
        run.json        the run record (scenario, resolved config, fingerprint, seeds, versions,
                        git commit, host, times, sha256 of inputs and of every file written)
        config.toml     the resolved config, everything needed to rerun
        results.csv     one row per principal x seed x evaluation setting
        rounds.csv      per-round series (optional)
        inputs/         copies of the input files (e.g. the user's --config file)
        *.png, report.html, report.md

While a run is in progress it lives in ``<out_dir>.partial/``; a clean exit from :class:`RunFolder`
writes the final ``run.json`` and renames the folder to ``out_dir`` (one :func:`os.rename`, atomic on one
file system). An exception, ``KeyboardInterrupt`` included, leaves the ``.partial`` folder with an
``INCOMPLETE`` marker, so an interrupted run never looks complete. Every file is written through a
temporary file and :func:`os.replace`; :meth:`RunFolder.append_results` is the one exception (it
appends whole rows, each append flushed and fsync'ed, and repairs a torn last line on resume).

``config.toml`` cannot hold ``None``: keys whose value is ``None`` are left out (a config loader then
falls back to the field default, which for an optional ``float | None`` field is ``None``); ``None``
inside a list is an error. ``run.json`` keeps the exact config, nulls included, and is what
:func:`load_run` and :func:`check_comparable` read.
"""

from __future__ import annotations

import csv
import datetime as _dt
import importlib.metadata
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import tomllib
import types
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from ._io import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file, to_plain

__all__ = [
    "FORMAT_VERSION",
    "NON_RESULT_KEYS",
    "IncomparableRunsError",
    "IncompleteRunError",
    "Run",
    "RunFolder",
    "RunFolderError",
    "check_comparable",
    "check_out_dir",
    "config_differences",
    "config_fingerprint",
    "default_out_dir",
    "environment_info",
    "environment_warnings",
    "find_runs",
    "git_info",
    "is_complete",
    "load_run",
    "load_runs",
    "load_runs_list",
    "toml_config",
]

FORMAT_VERSION = 2
"""Version of the ``run.json`` layout."""

NON_RESULT_KEYS: frozenset[str] = frozenset(
    {"seed", "seeds", "out", "out_dir", "resume", "overwrite", "backend", "threads", "progress"}
)
"""Top-level config keys that do not change results; left out of the config fingerprint."""

RECORD_FILE = "run.json"
INCOMPLETE_FILE = "INCOMPLETE"
RESULTS_FILE = "results.csv"
ROUNDS_FILE = "rounds.csv"
CONFIG_FILE = "config.toml"
INPUTS_DIR = "inputs"
PARTIAL_SUFFIX = ".partial"

_VERSION_PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "torch", "mesa", "numba")
_PROJECT_DIST = "learning-incentives"

_issued_names: set[str] = set()
_issued_lock = threading.Lock()


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


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _iso(t: _dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def default_out_dir(scenario: str, root: str | os.PathLike[str] = "runs") -> Path:
    """A fresh run folder path ``<root>/<scenario>/<YYYYmmdd-HHMMSS>`` (local time).

    The name is unique within this process even when called twice in one second, and does not clash
    with an existing folder or ``.partial`` folder: a suffix ``-2``, ``-3``, ... is added. Separate
    processes started in the same second should pass distinct ``--out`` folders.

    Args:
        scenario: scenario name.
        root: parent of all run folders.

    Returns:
        The path (not created).
    """
    base = Path(root) / scenario / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    with _issued_lock:
        candidate, k = base, 1
        while (
            str(candidate.resolve()) in _issued_names
            or candidate.exists()
            or candidate.with_name(candidate.name + PARTIAL_SUFFIX).exists()
        ):
            k += 1
            candidate = base.with_name(f"{base.name}-{k}")
        _issued_names.add(str(candidate.resolve()))
    return candidate


def check_out_dir(path: str | os.PathLike[str], *, what: str = "out") -> Path:
    """Check, before any work, that a folder can be written at ``path`` (created with its parents).

    A path through a file (``results.csv/run``), or below a folder that cannot be
    written (``/proc/x/run``), is refused with one line naming ``what``; the check
    writes and removes one empty temporary folder in the nearest existing folder,
    and creates nothing else.

    Args:
        path: the output folder (it may exist).
        what: the option the message names (``out``).

    Returns:
        ``path`` as a Path.

    Raises:
        RunFolderError: ``path`` is a file, a parent is a file, or the nearest existing folder cannot be written.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise RunFolderError(f"{what}: {target} exists and is not a folder")
    existing = target
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise RunFolderError(f"{what}: cannot create {target}: {existing} is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".write-check-", dir=existing)
        os.rmdir(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise RunFolderError(f"{what}: cannot create {target}: {existing} is not writable ({reason})") from None
    return target


# ---------------------------------------------------------------------------------------------------
# RunFolder
# ---------------------------------------------------------------------------------------------------


def _is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return ""
    return value


def _rows_to_records(rows: Any) -> list[dict[str, Any]]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict(orient="records")
    if isinstance(rows, Mapping):
        return [dict(rows)]
    records = [dict(r) for r in rows]
    return records


def _input_bytes(data: bytes | str | os.PathLike[str]) -> bytes:
    if isinstance(data, os.PathLike):
        return Path(data).read_bytes()
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


class RunFolder:
    """Context manager that writes one run folder and publishes it only when the run completes.

    Example::

        with RunFolder(out_dir, scenario="green_tax", config=cfg, seeds=[0, 1, 2],
                       inputs={"config.toml": Path("my.toml")}) as run:
            run.write_results(df)
            run.save_figure("welfare", fig)
        # out_dir/ now exists with run.json; on an exception out_dir.partial/INCOMPLETE says why

    Args:
        out_dir: final folder. Its parents are created. Refused (``ValueError``) when it exists and is
            not empty, unless ``resume`` or ``overwrite``.
        scenario: scenario name, recorded in ``run.json``.
        config: the resolved config (mapping or dataclass); written to ``config.toml`` on entry.
        seeds: the seeds the run evaluates.
        inputs: input files to record: name -> bytes, text or path. Each is copied to ``inputs/<name>``
            and its sha256 recorded under ``inputs`` in ``run.json``.
        resume: continue an interrupted run: reuse ``<out_dir>.partial`` (or a copy of a complete
            ``out_dir``), keeping its ``results.csv`` so that finished tasks can be skipped. The config
            fingerprint must match the stored one.
        overwrite: discard any existing ``out_dir`` (replaced on clean exit) and ``.partial`` folder.
        extra: more JSON-able entries for ``run.json`` under ``extra``.

    Attributes:
        final_dir: the folder published on success.
        partial_dir: ``<out_dir>.partial``, where files go while the run is active.
        record: the run record (filled on exit).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        scenario: str,
        config: Mapping[str, Any] | Any | None = None,
        seeds: Sequence[int] | None = None,
        inputs: Mapping[str, bytes | str | os.PathLike[str]] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        extra: Mapping[str, Any] | None = None,
    ):
        if resume and overwrite:
            raise ValueError("resume and overwrite are mutually exclusive")
        self.final_dir = Path(out_dir)
        self.partial_dir = self.final_dir.with_name(self.final_dir.name + PARTIAL_SUFFIX)
        self.scenario = scenario
        self.config: dict[str, Any] = to_plain(config) if config is not None else {}
        self.seeds = [int(s) for s in seeds] if seeds is not None else []
        self._inputs = {name: _input_bytes(data) for name, data in (inputs or {}).items()}
        self.resume = resume
        self.overwrite = overwrite
        self.extra = to_plain(dict(extra or {}))
        toml_config(self.config)  # fail before anything is written if config.toml cannot hold it
        self.record: dict[str, Any] = {}
        self._active = False
        self._done = False
        self._results_header: list[str] | None = None
        self._input_hashes: dict[str, str] = {}
        self._started = _now()
        self._resumed: list[str] = []

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def dir(self) -> Path:
        """Where the files are now: ``partial_dir`` while running, ``final_dir`` after a clean exit."""
        return self.final_dir if self._done else self.partial_dir

    def __enter__(self) -> RunFolder:
        if self._active or self._done:
            raise RuntimeError("a RunFolder can be entered only once")
        final, partial = self.final_dir, self.partial_dir
        if final.exists() and not final.is_dir():
            raise RunFolderError(f"{final} exists and is not a folder")
        stored: dict[str, Any] = {}
        self._started = _now()
        if self.resume:
            if partial.is_dir():
                stored = self._read_record(partial)
                self._check_resume_config(stored)
            elif _is_nonempty_dir(final):
                stored = self._read_record(final)
                self._check_resume_config(stored)
                shutil.copytree(final, partial)
            (partial / INCOMPLETE_FILE).unlink(missing_ok=True)
            if stored.get("started"):
                self._started = _dt.datetime.fromisoformat(stored["started"])
            self._resumed = [*stored.get("resumed", []), _iso(_now())] if stored else []
        elif self.overwrite:
            if partial.exists():
                shutil.rmtree(partial)
        else:
            if _is_nonempty_dir(final):
                raise ValueError(
                    f"{final} already exists and is not empty; pass resume=True (--resume) to continue it "
                    "or overwrite=True (--overwrite) to replace it"
                )
            if partial.exists():
                raise ValueError(
                    f"an interrupted run is at {partial}; pass resume=True (--resume) to continue it "
                    "or overwrite=True (--overwrite) to discard it"
                )
        try:
            partial.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # a parent is a file, or a folder that cannot be written
            raise RunFolderError(f"cannot create {partial}: {err.strerror or err}") from None
        self._active = True
        try:
            self._git = git_info()
            self._env = environment_info()
            for name, blob in self._inputs.items():
                self.write_bytes(f"{INPUTS_DIR}/{Path(name).name}", blob)
                self._input_hashes[name] = sha256_bytes(blob)
            if self.config:
                self.write_config(self.config)
            self._write_record(status="running")
        except BaseException as err:
            self.__exit__(type(err), err, err.__traceback__)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> bool:
        self._active = False
        if exc_type is not None:
            try:
                marker = {
                    "error_type": exc_type.__name__,
                    "message": str(exc),
                    "time": _iso(_now()),
                }
                atomic_write_text(self.partial_dir / INCOMPLETE_FILE, json.dumps(marker, indent=2) + "\n")
            except Exception:  # never mask the run's own exception
                pass
            return False
        self._write_record(status="complete", finished=_now())
        self._publish()
        self._done = True
        return False

    def _publish(self) -> None:
        final, partial = self.final_dir, self.partial_dir
        old: Path | None = None
        if final.is_dir():
            if any(final.iterdir()):
                if not (self.overwrite or self.resume):
                    raise RunFolderError(f"{final} appeared while the run was in progress; results left in {partial}")
                old = final.with_name(f"{final.name}.old-{uuid.uuid4().hex[:8]}")
                os.replace(final, old)
            else:
                final.rmdir()
        os.replace(partial, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def _read_record(folder: Path) -> dict[str, Any]:
        try:
            return json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _check_resume_config(self, stored: Mapping[str, Any]) -> None:
        if not stored or not self.config or "config" not in stored:
            return
        if stored.get("scenario") not in (None, self.scenario):
            raise ValueError(f"cannot resume: the folder holds scenario {stored['scenario']!r}, not {self.scenario!r}")
        diffs = config_differences(stored["config"], self.config)
        if diffs:
            raise ValueError("cannot resume with a different config: " + _format_differences(diffs))

    def _require_active(self) -> None:
        if not self._active:
            raise RuntimeError("the RunFolder is not active (use it inside a `with` block)")

    def _hash_files(self) -> dict[str, str]:
        hashes = {}
        root = self.partial_dir
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.name.startswith("."):
                continue
            rel = p.relative_to(root).as_posix()
            if rel in (RECORD_FILE, INCOMPLETE_FILE):
                continue
            hashes[rel] = sha256_file(p)
        return hashes

    def _write_record(self, status: str, finished: _dt.datetime | None = None) -> None:
        record: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "status": status,
            "scenario": self.scenario,
            "config": self.config,
            "config_fingerprint": config_fingerprint(self.config),
            "seeds": self.seeds,
            "command": list(sys.argv),
            "versions": self._env["versions"],
            "git_commit": self._git["commit"],
            "git_dirty": self._git["dirty"],
            "hostname": self._env["hostname"],
            "platform": self._env["platform"],
            "started": _iso(self._started),
            "finished": _iso(finished) if finished else None,
            "duration_s": round((finished - self._started).total_seconds(), 3) if finished else None,
            "resumed": self._resumed,
            "inputs": self._input_hashes,
            "files": self._hash_files() if status == "complete" else {},
            "extra": self.extra,
        }
        self.record = record
        atomic_write_text(self.partial_dir / RECORD_FILE, json.dumps(record, indent=2, allow_nan=True) + "\n")

    # ----------------------------------------------------------------------------- writing

    def path(self, name: str) -> Path:
        """Path of a file inside the run folder (its current location).

        While the run is active the file's parent folders are created, so the path can be handed to
        writers such as ``torch.save`` (which should write atomically themselves, or accept that an
        interrupted run is marked INCOMPLETE anyway).

        Args:
            name: a relative path such as ``"results.csv"`` or ``"checkpoints/model.pt"``.

        Raises:
            ValueError: an absolute path or one that leaves the folder.
        """
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"not a relative file name inside the run folder: {name!r}")
        target = self.dir / rel
        if self._active:
            target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write a file atomically inside the run folder (parents created)."""
        self._require_active()
        return atomic_write_bytes(self.path(name), data)

    def write_text(self, name: str, text: str) -> Path:
        """Write a UTF-8 text file atomically inside the run folder."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_config(self, config: Mapping[str, Any] | Any) -> Path:
        """Write ``config.toml`` (see the module docstring for how ``None`` is handled).

        The config also becomes the one recorded in ``run.json`` and fingerprinted.

        Args:
            config: the resolved config, a mapping or dataclass instance.

        Returns:
            The path written.
        """
        self._require_active()
        self.config = to_plain(config)
        text = tomli_w.dumps(toml_config(self.config))
        return self.write_text(CONFIG_FILE, text)

    def write_results(self, df: pd.DataFrame) -> Path:
        """Write the whole results table to ``results.csv`` (no index)."""
        self._require_active()
        self._results_header = list(map(str, df.columns))
        return self.write_text(RESULTS_FILE, df.to_csv(index=False))

    def append_results(self, rows: pd.DataFrame | Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> Path:
        """Append rows to ``results.csv`` as tasks finish (resumable sweeps).

        The header is written once, from the first rows' keys (or read back from an existing file when
        resuming). Later rows may omit columns (written empty) but not add new ones. Each call writes
        whole lines, then flushes and fsyncs; a torn last line left by a crash is removed before the
        first append of a session.

        Args:
            rows: a DataFrame, one mapping, or an iterable of mappings.

        Returns:
            The path of ``results.csv``.

        Raises:
            ValueError: a row has a column that the header lacks.
        """
        self._require_active()
        records = _rows_to_records(rows)
        target = self.path(RESULTS_FILE)
        if self._results_header is None and target.exists() and target.stat().st_size > 0:
            self._results_header = self._repair_and_read_header(target)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if self._results_header is None:
            header: list[str] = []
            for rec in records:
                header.extend(str(k) for k in rec if str(k) not in header)
            if not header:
                return target
            writer.writerow(header)
            self._results_header = header
        header = self._results_header
        for rec in records:
            unknown = [str(k) for k in rec if str(k) not in header]
            if unknown:
                raise ValueError(f"results row has columns not in the results.csv header: {unknown}")
            plain = {str(k): v for k, v in rec.items()}
            writer.writerow([_cell(plain.get(c)) for c in header])
        with open(target, "a", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        return target

    @staticmethod
    def _repair_and_read_header(target: Path) -> list[str]:
        data = target.read_bytes()
        if not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(target, "r+b") as fh:
                fh.truncate(cut)
            data = data[:cut]
        first = data.split(b"\n", 1)[0].decode("utf-8")
        return next(csv.reader([first])) if first else []

    def read_results(self) -> pd.DataFrame | None:
        """The rows already in ``results.csv`` (for skipping finished tasks on resume), or ``None``."""
        target = self.path(RESULTS_FILE)
        if not target.exists() or target.stat().st_size == 0:
            return None
        return pd.read_csv(target)

    def write_rounds(self, df: pd.DataFrame) -> Path:
        """Write the per-round series to ``rounds.csv`` (no index)."""
        self._require_active()
        return self.write_text(ROUNDS_FILE, df.to_csv(index=False))

    def save_figure(self, name: str, fig: Any, *, dpi: int = 120) -> Path:
        """Save a matplotlib figure as PNG (Agg renderer) and close it.

        Args:
            name: file name; ``.png`` is added when missing.
            fig: a :class:`matplotlib.figure.Figure`.
            dpi: resolution.

        Returns:
            The path written.
        """
        from .plots import figure_to_png

        if not name.endswith(".png"):
            name += ".png"
        return self.write_bytes(name, figure_to_png(fig, dpi=dpi, close=True))

    def write_report(self, html: Any, md: str | None = None) -> tuple[Path, Path | None]:
        """Write ``report.html`` and ``report.md``.

        Args:
            html: the HTML page, or a :class:`analysis.report.Report` (then both files are rendered from
                it, with the Markdown's PNGs written into the run folder).
            md: the Markdown text (ignored when ``html`` is a Report).

        Returns:
            Paths of the HTML and Markdown files (the latter ``None`` if no Markdown was given).
        """
        self._require_active()
        if hasattr(html, "to_html") and hasattr(html, "to_markdown"):
            report = html
            md = report.to_markdown(self.dir)
            html = report.to_html()
        html_path = self.write_text("report.html", str(html))
        md_path = self.write_text("report.md", md) if md is not None else None
        return html_path, md_path


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
