"""Private file helpers shared by the analysis modules.

Atomic writes (temporary file in the same folder, then :func:`os.replace`), SHA-256 of files, and the
conversion of configuration values (numpy scalars and arrays, tuples, paths, dataclasses, enums) to the
plain Python types that JSON and TOML can hold.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import enum
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "sha256_bytes",
    "sha256_file",
    "to_plain",
]

_CHUNK = 1 << 20


def _default_mode() -> int:
    mask = os.umask(0)  # read the umask (there is no getter); restored on the next line
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_mode()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and :func:`os.replace`.

    A reader sees either the old file or the complete new one, never a half-written file.

    Args:
        path: destination file; its folder must exist.
        data: the bytes to write.

    Returns:
        The destination as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = _FILE_MODE
        os.chmod(tmp, mode)  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's contents, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def to_plain(value: Any, *, _where: str = "") -> Any:
    """Convert a configuration value to plain JSON-compatible Python types.

    numpy scalars become ``int``/``float``/``bool``; arrays, tuples and lists become lists; sets become
    sorted lists; mappings become ``dict`` with ``str`` keys; dataclasses become dicts of their fields;
    enums their value; paths and dates strings; classes and functions ``"module:qualname"``. ``None``
    stays ``None``.

    Args:
        value: the value to convert.

    Returns:
        The plain value.

    Raises:
        TypeError: for any other object (a configuration must be plain data so that its fingerprint is
            stable); the message names the offending key.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return to_plain(value.item(), _where=_where)
    if isinstance(value, np.ndarray):
        return [to_plain(v, _where=_where) for v in value.tolist()]
    if isinstance(value, enum.Enum):
        return to_plain(value.value, _where=_where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_plain(getattr(value, f.name), _where=f"{_where}{f.name}.") for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): to_plain(v, _where=f"{_where}{k}.") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v, _where=_where) for v in value]
    if isinstance(value, set | frozenset):
        items = [to_plain(v, _where=_where) for v in value]
        return sorted(items, key=repr)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None)
        if module and qualname:
            return f"{module}:{qualname}"
    where = _where.rstrip(".") or "<root>"
    raise TypeError(f"config value at {where!r} of type {type(value).__name__} is not plain data")
