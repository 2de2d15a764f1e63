"""Writing run folders: :class:`RunFolder`, the default output folder and the output-path check.

Public names are re-exported by :mod:`analysis.runs`, which describes the folder layout.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import types
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from ._io import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file, to_plain
from ._runs_record import (
    CONFIG_FILE,
    FORMAT_VERSION,
    INCOMPLETE_FILE,
    INPUTS_DIR,
    PARTIAL_SUFFIX,
    RECORD_FILE,
    RESULT_COLUMNS,
    RESULTS_FILE,
    ROUNDS_FILE,
    RunFolderError,
    _format_differences,
    config_differences,
    config_fingerprint,
    environment_info,
    git_info,
    toml_config,
)

_issued_names: set[str] = set()
_issued_lock = threading.Lock()


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
        results_columns: the columns ``results.csv`` must have (default :data:`RESULT_COLUMNS`, the
            scenarios' contract); a results table without one of them is refused. Tables of other
            shapes go through :meth:`write_table`.

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
        results_columns: Sequence[str] = RESULT_COLUMNS,
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
        self.results_columns = tuple(results_columns)
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

    def _check_results_columns(self, columns: Iterable[Any]) -> None:
        have = {str(c) for c in columns}
        missing = [c for c in self.results_columns if c not in have]
        if missing:
            raise RunFolderError(
                f"results.csv needs the columns {', '.join(self.results_columns)}; missing: {', '.join(missing)} "
                "(write other tables with write_table)"
            )

    def write_results(self, df: pd.DataFrame) -> Path:
        """Write the whole results table to ``results.csv`` (no index).

        Raises:
            RunFolderError: a column of ``results_columns`` is missing (an empty table is written as is).
        """
        self._require_active()
        if len(df.columns) or len(df):
            self._check_results_columns(df.columns)
        self._results_header = list(map(str, df.columns))
        return self.write_text(RESULTS_FILE, df.to_csv(index=False))

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        """Write another table (``response.csv``, ``noise.csv``...) as CSV, atomically, hashed in ``run.json``.

        Args:
            name: file name inside the run folder, ending in ``.csv`` (not ``results.csv`` or ``rounds.csv``).
            df: the table (no index is written).

        Returns:
            The path written.
        """
        if not name.endswith(".csv"):
            raise ValueError(f"write_table writes CSV files; name {name!r} does not end in .csv")
        if name in (RESULTS_FILE, ROUNDS_FILE):
            raise ValueError(f"{name} has its own method: write_results or write_rounds")
        return self.write_text(name, df.to_csv(index=False))

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
            RunFolderError: the first rows lack a column of ``results_columns``.
        """
        self._require_active()
        records = _rows_to_records(rows)
        target = self.path(RESULTS_FILE)
        if self._results_header is None and target.exists() and target.stat().st_size > 0:
            self._results_header = self._repair_and_read_header(target)
        if self._results_header is None and records:
            self._check_results_columns({str(k) for rec in records for k in rec})
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
