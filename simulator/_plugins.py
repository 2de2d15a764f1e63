"""Resolve a registered name or a ``package.module:ClassName`` import path.

Wherever a user picks a learner or a principal they may give a registered name
or an import path (docs/design.md, "Public contracts").
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["resolve"]


def resolve(spec: Any, registry: Mapping[str, Any], kind: str) -> Any:
    """Return the object named by ``spec``.

    Args:
        spec: a registered name, a ``module:attr`` path, or the object itself (a class).
        registry: the registered names of this kind.
        kind: what is being resolved ("learner", "principal"), for messages.

    Raises:
        ValueError: unknown name (the message lists the available ones and the closest),
            or an import path that does not import (the message says why).
    """
    if not isinstance(spec, str):
        if callable(spec):
            return spec
        raise ValueError(f"{kind} must be a registered name, 'module:Class' or a class, got {spec!r}")
    if spec in registry:
        return registry[spec]
    if ":" not in spec:
        close = difflib.get_close_matches(spec, list(registry), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"unknown {kind} {spec!r}{hint}; available: {', '.join(sorted(registry))}, "
            f"or an import path 'package.module:ClassName'"
        )
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{kind} import path {spec!r} must look like 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the user's plugin: say why
        raise ValueError(f"{kind} {spec!r}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{kind} {spec!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj
