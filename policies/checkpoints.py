"""Checkpoints of the learned principals: one format for every scenario.

A checkpoint holds the network's weights, its :class:`~policies.problem.NetSpec`
(the problem it was trained for), its :class:`~policies.mermaide.MermaideConfig`
and, for an interrupted training run, the optimizer and random-generator state.
Files are written atomically (temp file in the same folder, fsync, rename: a
crash leaves the old file or the new one) and read with
``torch.load(..., weights_only=True)`` (no code runs on load). A file of another
format or version, a corrupt or truncated file, or a checkpoint made for
another problem (K, action set, observation setting, horizon) is refused with a
message naming the mismatch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .mermaide import MermaideConfig, PrincipalNet
from .problem import NetSpec

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "atomic_torch_save",
    "check_resumable",
    "describe_logs",
    "load_checkpoint",
    "net_from_checkpoint",
    "rng_state_from",
    "rng_state_to",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "learning-incentives/principal-net"
CHECKPOINT_VERSION = 2
"""Version 2: one core for every scenario (action sets, planning world models); version 1 files are refused."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here (corrupt, other format, other problem)."""


# settings that may change when a training run is resumed (the result is still that of one run)
_RESUME_FREE = ("iterations", "checkpoint_every", "eval_every")


def check_resumable(state: dict[str, Any], cfg: MermaideConfig, seed: int, path: str | Path) -> None:
    """Refuse to continue a training state made with another seed or method config (it would mix two runs)."""
    if "seed" in state and int(state["seed"]) != int(seed):
        raise CheckpointError(f"checkpoint {path} is of a run with seed={state['seed']}, but this run has seed={seed}")
    have = state.get("config", {})
    for key, value in _plain(dataclasses.asdict(cfg)).items():
        if key not in _RESUME_FREE and key in have and have[key] != value:
            raise CheckpointError(
                f"checkpoint {path} was trained with {key}={have[key]!r}, but this run has {key}={value!r}"
            )
    if int(state.get("iteration", 0)) > cfg.iterations:
        raise CheckpointError(
            f"checkpoint {path} has {state['iteration']} updates, more than this run's iterations={cfg.iterations}"
        )


def rng_state_to(state: dict[str, Any]) -> dict[str, Any]:
    """A numpy generator state as plain data (its 128-bit integers as strings) for a weights-only checkpoint."""
    # numpy's PCG64 state holds Python ints wider than 64 bits: store them as strings
    return {
        "bit_generator": state["bit_generator"],
        "state": str(state["state"]["state"]),
        "inc": str(state["state"]["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def rng_state_from(d: dict[str, Any]) -> dict[str, Any]:
    """The numpy generator state stored by :func:`rng_state_to`."""
    return {
        "bit_generator": d["bit_generator"],
        "state": {"state": int(d["state"]), "inc": int(d["inc"])},
        "has_uint32": int(d["has_uint32"]),
        "uinteger": int(d["uinteger"]),
    }


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("learning-incentives")
    except Exception:  # not installed as a distribution
        return "unknown"


def save_checkpoint(
    path: str | Path,
    net: PrincipalNet,
    cfg: MermaideConfig,
    *,
    problem: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "package_version": _package_version(),
        "problem": problem,
        "variant": cfg.variant,
        "net_spec": net.spec.to_dict(),
        "config": _plain(dataclasses.asdict(cfg)),
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        **(extra or {}),
    }
    atomic_torch_save(payload, path)


def atomic_torch_save(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temp file in ``path``'s folder, fsync, then rename: a crash leaves the old file or the new.

    The file is made world-readable (``mkstemp`` creates it owner-only; a checkpoint is shared data).
    """
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def load_checkpoint(
    path: str | Path,
    *,
    expect_spec: NetSpec | None = None,
    expect_variant: str | None = None,
    file_format: str = CHECKPOINT_FORMAT,
    file_version: int = CHECKPOINT_VERSION,
) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check it fits the problem.

    Raises:
        CheckpointError: unreadable/corrupt file, another format or version, another
            variant, or a problem that differs (the message names the field).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    damaged = _damaged_member(path)
    if damaged is not None:
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt: {damaged}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, or not written by save_checkpoint
        if "Weights only load failed" in str(exc):  # torch's advice (weights_only=False) would run its code
            raise CheckpointError(
                f"checkpoint {path} is unreadable or corrupt: it holds Python objects other than tensors and "
                "plain data (not a checkpoint of this package; not loaded, as that could run code)"
            ) from None
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt: {type(exc).__name__}: {first}") from None
    if not isinstance(state, dict) or state.get("format") != file_format:
        raise CheckpointError(f"checkpoint {path} is not a {file_format} file")
    if state.get("format_version") != file_version:
        raise CheckpointError(
            f"checkpoint {path} has format version {state.get('format_version')}, this version reads "
            f"{file_version}; retrain it"
        )
    if expect_variant is not None and state.get("variant") != expect_variant:
        raise CheckpointError(f"checkpoint {path} is for variant {state.get('variant')!r}, not {expect_variant!r}")
    if expect_spec is not None:
        have = state.get("net_spec", {})
        want = expect_spec.to_dict()
        for key, value in want.items():
            got = have.get(key)
            if not _same_value(got, value):
                raise CheckpointError(
                    f"checkpoint {path} was trained for {key}={got!r}, but this run has {key}={value!r}"
                )
    return state


def _same_value(got: Any, want: Any) -> bool:
    """Equal, numbers and lists of numbers within float tolerance (lists of another shape differ)."""
    if got is None or isinstance(want, bool | str) or not isinstance(want, list | float | int):
        return got == want
    a, b = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b))


def _damaged_member(path: Path) -> str | None:
    """What is wrong with a checkpoint file as a zip archive, or None (``torch.load`` checks no CRC-32)."""
    if not zipfile.is_zipfile(path):
        with path.open("rb") as fh:
            head = fh.read(4)
        if head == b"PK\x03\x04":  # a zip's start without its end (central directory): cut off
            return "the file is truncated (a zip archive without its end)"
        return "the file is empty" if not head else "not a checkpoint file (save_checkpoint writes zip archives)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return f"the archive is damaged ({exc})"
    return None if bad is None else f"archive member {bad.split('/', 1)[-1]} fails its CRC-32 check"


def net_from_checkpoint(state: dict[str, Any]) -> tuple[PrincipalNet, MermaideConfig]:
    """Rebuild the network and its config from a loaded checkpoint."""
    fields = {f.name for f in dataclasses.fields(MermaideConfig)}
    try:
        spec = NetSpec(**state["net_spec"])
        cfg = MermaideConfig(**{k: v for k, v in state["config"].items() if k in fields})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint net_spec or config does not fit this version: {exc}") from None
    net = PrincipalNet(spec, cfg.hidden, cfg.width)
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError:
        raise CheckpointError(
            f"checkpoint weights do not fit the network of its config (hidden={cfg.hidden}, "
            f"width={cfg.width}): {_first_mismatch(net.state_dict(), state['state_dict'])}"
        ) from None
    return net, cfg


def _first_mismatch(want: dict[str, torch.Tensor], have: dict[str, Any]) -> str:
    for key, value in want.items():
        if key not in have:
            return f"{key} is missing"
        shape = tuple(getattr(have[key], "shape", ()))
        if shape != tuple(value.shape):
            return f"{key} has shape {shape}, the network needs {tuple(value.shape)}"
    extra = [k for k in have if k not in want]
    return f"unexpected {extra[0]}" if extra else "unknown mismatch"


def describe_logs(logs: list[dict[str, float]]) -> dict[str, float]:
    """Summary of the last 10% of updates (for reports)."""
    if not logs:
        return {}
    tail = logs[-max(1, len(logs) // 10) :]
    keys = [k for k in tail[0] if isinstance(tail[0][k], int | float)]
    return {k: float(np.mean([t[k] for t in tail if k in t])) for k in keys if not math.isnan(tail[0][k])}
