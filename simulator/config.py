"""Typed configs: dataclasses with ranges in field metadata, TOML files and a CLI.

Every scenario and entry point describes its settings as a dataclass whose
fields are declared with :func:`option` (type, default, help text, allowed
range or choices). This module turns such a class into

* a validating loader for TOML documents (:func:`from_dict`, :func:`load_toml`):
  unknown keys are rejected with the closest valid names, wrong types and
  out-of-range values with the key path and the allowed range;
* an ``argparse`` command line (:func:`parse_args`) with one ``--flag`` per field
  (nested dataclass fields as ``--section.field``), ``--config FILE.toml`` and
  ``--help`` generated from the help texts;
* a plain dict for ``config.toml`` (:func:`to_dict`).

:class:`OutputOptions`, :class:`TaskOptions`, :class:`RunOptions` and
:class:`ScenarioOptions` declare, once, the options every run shares (output
folder, resume, backend, progress, workers, seeds, threads, device, adaptation
budgets); the scenarios', ``policies.train``'s and ``analysis.sweep``'s settings
extend them.
:func:`set_threads` and :func:`thread_limit` are the one place where numba and
torch thread counts are set.

Any parse or validation error is a :class:`ConfigError`; :func:`run_cli` prints
it as one line ``error: field: message`` and returns exit code 2, whatever went
wrong in the user's input (docs/design.md, "The scenario command line").
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import json
import math
import re
import sys
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

__all__ = [
    "BACKENDS",
    "ConfigError",
    "OutputOptions",
    "RunOptions",
    "ScenarioOptions",
    "TaskOptions",
    "from_dict",
    "load_toml",
    "option",
    "parse_args",
    "plain_text",
    "replace",
    "run_cli",
    "set_threads",
    "thread_limit",
    "to_dict",
    "validate",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A user error in a config file or on the command line (one line, exit code 2)."""


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: Sequence[Any] | None = None,
    default_factory: Callable[[], Any] | None = None,
    cli: bool = True,
    default_text: str | None = None,
    template: bool = False,
) -> Any:
    """Declare a config field with its help text and allowed range.

    Args:
        default: the default value (use ``default_factory`` for lists and dataclasses).
        help: one-line description shown by ``--help`` and in reports.
        low: smallest allowed value (numbers, or every element of a list of numbers).
        high: largest allowed value.
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
        choices: allowed values (strings, or elements of a list of strings).
        default_factory: builds the default (lists, nested configs).
        cli: whether the field gets a command-line flag (nested sections always
            stay available through ``--config``).
        default_text: how ``--help`` shows the default (e.g. a folder derived at run time).
        template: the help and default texts name class attributes as ``{NAME}``,
            filled in for each config class (e.g. the run folder of each scenario).
    """
    meta = {
        "help": help,
        "low": low,
        "high": high,
        "low_open": low_open,
        "high_open": high_open,
        "choices": tuple(choices) if choices is not None else None,
        "cli": cli,
        "default_text": default_text,
        "template": template,
    }
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# ------------------------------------------------------------------ types
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _type_name(tp: Any) -> str:
    inner, optional = _unwrap_optional(tp)
    origin = get_origin(inner)
    if origin is Literal:
        name = "one of " + ", ".join(repr(a) for a in get_args(inner))
    elif origin in (list, tuple):
        args = get_args(inner)
        elem = _type_name(args[0]) if args else "values"
        plural = {"an integer": "integers", "a number": "numbers", "a string": "strings", "true/false": "booleans"}
        name = "a list of " + plural.get(elem, elem.replace("a list of", "lists of", 1))
    elif isinstance(inner, type):
        name = {"int": "an integer", "float": "a number", "bool": "true/false", "str": "a string"}.get(
            inner.__name__, inner.__name__
        )
    else:
        name = str(inner)
    return name + (" or none" if optional else "")


def _coerce(value: Any, tp: Any, path: str, *, from_cli: bool = False) -> Any:
    """Convert ``value`` to type ``tp`` or raise ConfigError naming ``path``."""
    inner, optional = _unwrap_optional(tp)
    if value is None or (from_cli and optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional:
            return None
        raise ConfigError(f"{path}: must be {_type_name(tp)}, got nothing")
    origin = get_origin(inner)
    if origin is Literal:
        allowed = get_args(inner)
        if value not in allowed:
            close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: must be one of {', '.join(map(repr, allowed))}, got {value!r}{hint}")
        return value
    if origin in (list, tuple):
        (elem,) = get_args(inner)[:1] or (Any,)
        if from_cli and isinstance(value, str):
            if value.lstrip().startswith("["):
                value = _parse_inline(value, path, "a list")
            else:
                value = [v.strip() for v in value.split(",") if v.strip() != ""]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: must be {_type_name(tp)}, got {value!r}")
        out = [_coerce(v, elem, f"{path}[{i}]", from_cli=from_cli) for i, v in enumerate(value)]
        return out if origin is list else tuple(out)
    if dataclasses.is_dataclass(inner):
        if isinstance(value, inner):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: must be a table (section) of settings, got {value!r}")
        return from_dict(inner, value, path=path)
    if inner is Any:
        return value
    if inner is bool:
        if isinstance(value, bool):
            return value
        if from_cli and isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{path}: must be true or false, got {value!r}")
    if inner is int:
        if isinstance(value, bool):
            raise ConfigError(f"{path}: must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                f = math.nan
            if math.isfinite(f) and f.is_integer():
                return int(f)
        raise ConfigError(f"{path}: must be an integer, got {value!r}")
    if inner is float:
        if isinstance(value, bool):
            raise ConfigError(f"{path}: must be a number, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: must be a number, got {value!r}") from None
        if math.isnan(f):
            raise ConfigError(f"{path}: must be a number, got NaN")
        return f
    if inner is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: must be a string, got {value!r}")
        return value
    if inner is dict or get_origin(inner) is dict:
        if from_cli and isinstance(value, str):
            value = _parse_inline(value, path, "a table")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: must be a table, got {value!r}")
        return dict(value)
    return value


def _parse_inline(text: str, path: str, what: str) -> Any:
    """A table or list given on the command line, as JSON or as a TOML inline value.

    ``'{"ucb1": {"weight": 1, "c": 0.5}}'`` (JSON) and ``'{ucb1 = {weight = 1, c = 0.5}}'``
    (TOML) give the same table; ``'[1, 2]'`` a list.
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        example = '{"a": {"b": 1}} or {a = {b = 1}}' if what == "a table" else "[1, 2] or 1,2"
        raise ConfigError(f"{path}: must be {what} in JSON or TOML inline form, e.g. {example}; got {text!r}") from None


def _check_range(value: Any, meta: dict[str, Any], path: str) -> None:
    if value is None:
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_range(v, meta, f"{path}[{i}]")
        return
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{path}: must be one of {', '.join(map(str, choices))}, got {value!r}{hint}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    low, high = meta.get("low"), meta.get("high")
    lo_bad = low is not None and (value <= low if meta.get("low_open") else value < low)
    hi_bad = high is not None and (value >= high if meta.get("high_open") else value > high)
    if lo_bad or hi_bad or (isinstance(value, float) and math.isnan(value)):
        raise ConfigError(f"{path}: must be in {_range_text(meta)}, got {value!r}")


def _range_text(meta: dict[str, Any]) -> str:
    low, high = meta.get("low"), meta.get("high")
    lb = "(" if meta.get("low_open") or low is None else "["
    hb = ")" if meta.get("high_open") or high is None else "]"
    return f"{lb}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{hb}"


# ----------------------------------------------------------------- dicts
def from_dict(cls: type[T], data: dict[str, Any], *, path: str = "", base: T | None = None) -> T:
    """Build and validate a config from a (TOML) dict; unknown keys are errors.

    Args:
        cls: the dataclass type.
        data: the settings, possibly nested for dataclass-typed fields.
        path: key path prefix for messages.
        base: values to start from instead of the class defaults.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: must be a table of settings, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; valid keys: {', '.join(fields)}"
        raise ConfigError(f"{_join(path, str(key))}: unknown setting{hint}")
    kwargs: dict[str, Any] = {}
    for name in fields:
        p = _join(path, name)
        if name in data:
            tp = hints[name]
            inner, _ = _unwrap_optional(tp)
            if dataclasses.is_dataclass(inner) and isinstance(data[name], dict):
                start = getattr(base, name) if base is not None else None
                kwargs[name] = from_dict(inner, data[name], path=p, base=start)
            else:
                kwargs[name] = _coerce(data[name], tp, p)
        elif base is not None:
            kwargs[name] = getattr(base, name)
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path or cls.__name__}: {exc}") from None
    validate(obj, path=path)
    return obj


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate(obj: Any, *, path: str = "") -> None:
    """Check every field's range/choices (recursively), then the class's own ``check()``."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        p = _join(path, f.name)
        if dataclasses.is_dataclass(value):
            validate(value, path=p)
        else:
            _check_range(value, dict(f.metadata), p)
    check = getattr(obj, "check", None)
    if callable(check):
        try:
            check()
        except ConfigError as exc:
            raise ConfigError(f"{path + '.' if path else ''}{exc}") from None
        except ValueError as exc:  # the checks' messages start with the field they are about
            raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None


def to_dict(obj: Any) -> dict[str, Any]:
    """A plain nested dict of a config (None values left out, as TOML has no null)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` followed by validation."""
    new = dataclasses.replace(obj, **changes)
    validate(new)
    return new


def load_toml(cls: type[T], file: str | Path, *, base: T | None = None) -> T:
    """Load and validate a config from a TOML file (errors name the file)."""
    path = Path(file)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    try:
        return from_dict(cls, data, base=base)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None


# ------------------------------------------------------------------- CLI
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(message)

    def exit(self, status: int = 0, message: str | None = None) -> typing.NoReturn:
        if status and message:
            raise ConfigError(message.strip())
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def _flag_fields(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    out = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init or not f.metadata.get("cli", True):
            continue
        tp = hints[f.name]
        inner, _ = _unwrap_optional(tp)
        if dataclasses.is_dataclass(inner):
            out.extend(_flag_fields(inner, prefix=f"{prefix}{f.name}."))
        else:
            out.append((prefix + f.name, f, tp))
    return out


def _default_text(f: dataclasses.Field) -> str:
    if f.metadata.get("default_text"):
        return str(f.metadata["default_text"])
    if f.default is not dataclasses.MISSING:
        d = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        d = f.default_factory()  # type: ignore[misc]
    else:
        return "required"
    if isinstance(d, list | tuple):
        return ",".join(map(str, d)) if d else "(empty)"
    if isinstance(d, bool):
        return "yes" if d else "no"
    return "none" if d is None else str(d)


def _fill(text: str, cls: type) -> str:
    """``{NAME}`` in ``text`` replaced by the class attribute ``NAME`` of ``cls``."""
    return re.sub(r"\{([A-Z_]+)\}", lambda m: str(getattr(cls, m.group(1))), text)


_STATED_DEFAULT = re.compile(r"\s*\(default:?\s+((?:[^()]|\([^()]*\))*)\)\s*$")
_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|obj|exc):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(text: str | None) -> str | None:
    """Docstring markup (reST roles, double backquotes, ``::`` blocks) as plain text for ``--help``."""
    if not text:
        return text
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1] if "~" in m.group(0) else m.group(1), text)
    text = _LITERAL.sub(r"\1", text)
    text = re.sub(r"(\S)::$", r"\1:", text, flags=re.MULTILINE)
    return re.sub(r"^\s*::\s*$\n?", "", text, flags=re.MULTILINE)


def field_help(cls: type, f: dataclasses.Field, tp: Any) -> str:
    """The ``--help`` line of one field: its help text, then choices, range and default in parentheses."""
    meta = dict(f.metadata)
    inner, _ = _unwrap_optional(tp)
    help_text = meta.get("help", "")
    default = _default_text(f)
    stated = _STATED_DEFAULT.search(help_text)
    if stated and not meta.get("default_text"):  # "folder (default: the shipped ones)": say it once
        help_text, default = help_text[: stated.start()].rstrip(), stated.group(1).strip()
    if meta.get("template"):
        help_text, default = _fill(help_text, cls), _fill(default, cls)
    extras = []
    if meta.get("choices"):
        extras.append("choices: " + ", ".join(map(str, meta["choices"])))
    elif get_origin(inner) is Literal:
        extras.append("choices: " + ", ".join(map(str, get_args(inner))))
    if meta.get("low") is not None or meta.get("high") is not None:
        extras.append("range " + _range_text(meta))
    extras.append(f"default: {default}")
    return f"{plain_text(help_text)} ({'; '.join(extras)})"


def build_parser(
    cls: type, *, prog: str, description: str | None = None, config_file: bool = True
) -> argparse.ArgumentParser:
    """An argparse parser with one flag per config field, plus ``--config`` (unless ``config_file=False``)."""
    parser = _Parser(
        prog=prog, description=plain_text(description), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if config_file:
        parser.add_argument(
            "--config", metavar="FILE.toml", default=None, help="read settings from a TOML file (flags override it)"
        )
    for name, f, tp in _flag_fields(cls):
        inner, _ = _unwrap_optional(tp)
        owner = _owner(cls, name)
        full_help = field_help(owner, f, tp).replace("%", "%%")
        flag = "--" + name.replace("_", "-")
        dest = name.replace(".", "__")
        if inner is bool:
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=full_help)
        else:
            parser.add_argument(flag, dest=dest, default=None, metavar=_metavar(name, inner), help=full_help)
    return parser


def _owner(cls: type, dotted: str) -> type:
    """The config class that declares the (possibly nested) field ``dotted``."""
    for part in dotted.split(".")[:-1]:
        cls = _unwrap_optional(_hints(cls)[part])[0]
    return cls


def _metavar(name: str, inner: Any) -> str:
    if get_origin(inner) in (list, tuple):
        return "A,B,..."
    if inner is dict or get_origin(inner) is dict:
        return "JSON"
    return name.split(".")[-1].upper()


def parse_args(
    cls: type[T],
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str | None = None,
    extend: Callable[[argparse.ArgumentParser], None] | None = None,
    config_file: bool = True,
) -> tuple[T, argparse.Namespace]:
    """Parse a command line into a validated config.

    Order: class defaults, then ``--config FILE.toml``, then flags. ``extend`` adds
    arguments of its own (e.g. a positional file); ``config_file=False`` leaves out ``--config``.

    Returns:
        The config and the raw namespace (for flags added by ``extend``).
    """
    parser = build_parser(cls, prog=prog, description=description, config_file=config_file)
    if extend is not None:
        extend(parser)
    ns = parser.parse_args(_join_negative_values(cls, list(argv) if argv is not None else sys.argv[1:]))
    base = load_toml(cls, ns.config) if getattr(ns, "config", None) else None
    overrides: dict[str, Any] = {}
    for name, _f, tp in _flag_fields(cls):
        raw = getattr(ns, name.replace(".", "__"))
        if raw is None:
            continue
        overrides[name] = _coerce(raw, tp, name, from_cli=True)
    nested: dict[str, Any] = {}
    for name, value in overrides.items():
        node = nested
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    cfg = from_dict(cls, nested, base=base if base is not None else cls())
    return cfg, ns


_NEGATIVE = re.compile(r"^-(\d|\.\d|inf)", re.IGNORECASE)


def _join_negative_values(cls: type, argv: list[str]) -> list[str]:
    """``--flag -1,2`` as ``--flag=-1,2``: argparse takes a value like ``-1,2`` or ``-inf`` for an option."""
    takes_value = {"--config"} | {
        "--" + name.replace("_", "-") for name, _f, tp in _flag_fields(cls) if _unwrap_optional(tp)[0] is not bool
    }
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--":
            out.extend(argv[i:])
            break
        if argv[i] in takes_value and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


# ---------------------------------------------------------- run options
BACKENDS = ("local", "ray")
"""Where a run's independent tasks go: a process pool on this machine's cores, or a Ray cluster."""


@dataclasses.dataclass
class OutputOptions:
    """The options of every program that writes a run folder: where, whether to resume, where work runs, progress.

    Class attributes a subclass may set (they shape ``--help``, not the recorded config):
    ``RUN_NAME`` (the default run folder is ``runs/RUN_NAME/<time>``) and ``BACKEND_NOTE``
    (what ``--backend`` moves in this program).
    """

    RUN_NAME: ClassVar[str] = "run"
    BACKEND_NOTE: ClassVar[str] = (
        "where the evaluation tasks run: local (this machine's cores, see --workers) or ray (a local Ray, or the "
        "cluster in RAY_ADDRESS)"
    )

    out: str | None = option(
        None,
        help="run folder (created; refused if it exists, unless --resume)",
        default_text="runs/{RUN_NAME}/<time>",
        template=True,
    )
    resume: bool = option(False, help="continue the interrupted run folder <out>.partial, skipping what is finished")
    backend: str = option("local", help="{BACKEND_NOTE}", choices=BACKENDS, template=True)
    progress: bool = option(True, help="show progress bars")


@dataclasses.dataclass
class TaskOptions:
    """How many independent tasks run at once on this machine (scenarios and sweeps)."""

    workers: int | None = option(
        None,
        help="evaluation tasks run at once on this machine (--backend local), each in its own process; "
        "1 runs them one after another in this process; the results are the same",
        low=1,
        default_text="one per core; one with a GPU --device",
    )


@dataclasses.dataclass
class RunOptions(OutputOptions):
    """The options every run shares, declared once; a run's settings class extends it.

    Class attributes a subclass may set, besides those of :class:`OutputOptions` (they
    shape ``--help`` and the checks, not the recorded config):

    * ``DEVICE_NOTE``: what ``--device`` moves in this run;
    * ``THREADS_NOTE``, ``THREADS_DEFAULT``: how ``--help`` explains ``--threads`` here;
    * ``DEVICES``: the devices this run supports (``None``: every device);
    * ``DEFAULT_THREADS``: the thread count when ``--threads`` is not given
      (``None``: numba's and torch's own default, every core).
    """

    DEVICE_NOTE: ClassVar[str] = "the agents are simulated"
    THREADS_NOTE: ClassVar[str] = (
        "numba and torch threads of each evaluation task and of this process's own work, such as training"
    )
    THREADS_DEFAULT: ClassVar[str] = "1 per task, every core for this process"
    DEVICES: ClassVar[tuple[str, ...] | None] = None
    DEFAULT_THREADS: ClassVar[int | None] = None

    seed: int = option(0, help="first seed (the run uses seeds S..S+N-1)", low=0)
    threads: int | None = option(
        None,
        help="{THREADS_NOTE}",
        low=1,
        high=4096,
        default_text="{THREADS_DEFAULT}",
        template=True,
    )
    device: str = option(
        "cpu",
        help="where {DEVICE_NOTE}: cpu (numba), cuda[:N] (a GPU), torch-cpu, or auto (a GPU when there is one); "
        "the same seed gives the same choices on every device",
        template=True,
    )

    def check(self) -> None:
        """The device exists on this machine and this run supports it (errors name the field)."""
        from simulator.model import check_device_option, resolve_device

        check_device_option(self.device)
        if self.DEVICES is not None and resolve_device(self.device).split(":")[0] not in self.DEVICES:
            raise ValueError(
                f"device: in this run {self.DEVICE_NOTE} on {' or '.join(self.DEVICES)} only, got {self.device!r}"
            )

    @property
    def thread_count(self) -> int | None:
        """Threads of this process: ``--threads``, else the class default (``None``: leave them)."""
        return self.threads or self.DEFAULT_THREADS


@dataclasses.dataclass
class ScenarioOptions(TaskOptions, RunOptions):
    """The run options of a scenario: several seeds, parallel evaluation tasks, the adaptation budgets K."""

    seeds: int = option(5, help="number of seeds", low=1, high=1000)
    shots: list[int] = option(
        default_factory=lambda: [0, 1], help="adaptation episodes K evaluated (learned principals)", low=0, high=20
    )

    @property
    def seed_list(self) -> list[int]:
        """The seeds of the run: ``seed .. seed + seeds - 1``."""
        return list(range(self.seed, self.seed + self.seeds))


def set_threads(threads: int) -> tuple[int, int | None]:
    """Set numba's and torch's thread counts (numba's capped at its maximum); returns the previous ones.

    Results never depend on the thread count (the kernels reduce in a fixed
    order); only the speed does. Torch's count is returned as None (and left
    alone) where torch is not installed.
    """
    import numba

    if threads < 1:
        raise ValueError(f"threads: must be >= 1, got {threads}")
    old_numba = numba.get_num_threads()
    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    try:
        import torch
    except ImportError:
        return old_numba, None
    old_torch = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    return old_numba, old_torch


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Set numba and torch threads to ``threads`` inside the block (``None``: leave them), then restore them."""
    if not threads:
        yield
        return
    old_numba, old_torch = set_threads(threads)
    try:
        yield
    finally:
        import numba

        numba.set_num_threads(old_numba)
        if old_torch is not None:
            import torch

            torch.set_num_threads(old_torch)


def run_cli(fn: Callable[[], int | None]) -> int:
    """Run ``fn``; a ConfigError (or other user ValueError raised as ConfigError) becomes one line + exit 2."""
    try:
        code = fn()
    except ConfigError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "invalid input"
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0 if code is None else int(code)
