"""Policy reforms as data for the green-tax scenario: files, the ``reform`` principal, baseline vs reform.

A *reform file* (JSON, TOML or YAML) lists only the parameters it changes, in the dialect of
Tax-Calculator and PolicyEngine users: ``{parameter: {round: value}}``. A value stays in force
until the next round listed (carry-forward); a bare value means "from round 0 on". Vector
parameters (one value per technology, or per income decile) take a list, or a
``{technology: value}`` map that changes only the elements it names. Optional header keys:
``title``, ``description``, ``reference``. The parameters, their units, ranges, defaults and
sources are the schema of :mod:`scenarios.green_tax.params` (``docs/parameters.md``)::

    {"title": "Carbon tax and dividend",
     "tax": {"0": {"gasoline": 874, "hybrid": 570, "electric": 399}},
     "dividend_share": 1.0}

The *baseline* is current policy (the config's economy, no tax, no subsidy) unless
``--baseline FILE`` gives another; a reform applies on top of the baseline.

Two ways to use a reform (``python -m scenarios.green_tax``):

* ``--reform FILE`` (``reform`` not among ``--principals``): **baseline vs reform**. Each seed's
  households live through the horizon twice, under the baseline and under the reform, with the
  same seeds (common random numbers: every household has the same values, priors, noise and
  learning draws, so every difference is the policy's; a reform that changes nothing gives exactly
  zero difference for every household and round). The run folder gets the aggregate table (per
  round and over the horizon, cumulative and discounted: emissions, clean share, revenue, subsidy
  outlays, dividends, net budget impact, consumer surplus, producer burden, damages, welfare; levels,
  ``reform - baseline`` and percent difference, 95% CIs over seeds), the distributional tables by
  income decile (:mod:`scenarios.green_tax.distribution`), plots, and ``report.html``.
* ``--principals reform,pigouvian,mermaide --reform FILE``: the reform is a **principal** like any
  other (:class:`ReformPrincipal`, registered as ``reform``), scored in the usual comparison table.
  There every principal faces the configured economy; the reform plays its instruments (taxes,
  subsidies, pass-through, income limits) and its dividends are accounted for, while scenario
  changes in the file (prices, emissions, SCC, lambda) apply in the baseline-vs-reform analysis only.

Accounting: one computation for every run, the economy's (:class:`scenarios.green_tax.economy.GreenModel`),
per round and household:

* the posted policy: a carbon tax (``carbon_tax`` + ``carbon_tax_scc_share`` x SCC, per tonne, paid per
  mile), vehicle taxes (``pass_through`` x ``tax`` borne by the household, the rest by sellers),
  subsidies (to households with income at most ``subsidy_income_limit``) and price changes from the
  config's (posted too, a real cost); informed households value them over their holding period
  under the file's schedule (it is announced);
* revenue R (carbon and vehicle taxes, statutory), subsidy outlays S, dividends Dv =
  ``dividend_share`` x max(R - S, 0) split by decile ``dividend_weights`` (per household or per person:
  ``economy.dividend_basis``), net budget R - S - Dv, raised from or returned to households in the
  distributional tables by ``economy.subsidy_financing``;
* welfare W = realised values at resource cost - SCC_t x emissions + (lambda_t - 1) x net budget -
  administrative cost; consumer surplus and the producer burden are its incidence;
* horizon totals: cumulative (undiscounted sums; shares: means over rounds) and discounted at
  ``economy.discount`` (weights (1 + r)^-t, round 0 undiscounted).

``python -m scenarios.reform`` maintains the schema's page: ``--write-docs`` regenerates
``docs/parameters.md``; ``--list`` names the shipped reforms (``scenarios/reforms/``, usable by
name: ``--reform tax_and_dividend``); ``--show REFORM`` prints a reform's resolved parameters;
``--json-schema`` prints the JSON Schema of reform files.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from policies.green import ReformPrincipal
from simulator.config import ConfigError

from . import params as _params
from .distribution import distribution_table
from .economy import (
    Economy,
    GreenModel,
    HouseholdMix,
    PrincipalPolicy,
    grid_path,
    instruments_from_values,
    pin_ownership,
    scc_path,
    setting_mix,
)

__all__ = [
    "METRICS",
    "REFORMS_DIR",
    "Policies",
    "PolicyRun",
    "Reform",
    "ReformError",
    "ReformPrincipal",
    "ReformTask",
    "ResolvedPolicy",
    "aggregate_by_round",
    "aggregate_horizon",
    "comparison_episode",
    "evaluate_reform_task",
    "find_reform",
    "load_policies",
    "load_reform",
    "run_policy",
    "shipped_reforms",
]

REFORMS_DIR = Path(__file__).parents[1] / "reforms"
FORMATS = {".json": "JSON", ".toml": "TOML", ".yaml": "YAML", ".yml": "YAML"}
HEADER = ("title", "description", "reference")
ROOT = Path(__file__).resolve().parents[2]
DOCS_PAGE = ROOT / "docs" / "parameters.md"

METRICS: dict[str, tuple[str, str, str]] = {
    # name: (label, unit, kind) ; kind "flow" sums over rounds, "share" averages
    "emissions": ("emissions", "tCO2 per household", "flow"),
    "clean_share": ("clean share", "share of households", "share"),
    "tax_revenue": ("revenue", "$ per household", "flow"),
    "subsidy_cost": ("subsidy outlays", "$ per household", "flow"),
    "dividends": ("dividends", "$ per household", "flow"),
    "net_budget": ("net budget impact", "$ per household", "flow"),
    "consumer_surplus": ("consumer surplus", "$ per household", "flow"),
    "producer_burden": ("producer burden", "$ per household", "flow"),
    "damages": ("damages", "$ per household", "flow"),
    "welfare": ("welfare", "$ per household", "flow"),
}
"""The aggregate table's metrics: label, unit and how a horizon total is formed."""


class ReformError(ValueError):
    """A bad reform or baseline file (one line: the file, the parameter, the allowed range)."""


# ============================================================================== files
def shipped_reforms() -> dict[str, Path]:
    """The example reforms shipped in ``scenarios/reforms/``, by name (file stem)."""
    return {p.stem: p for p in sorted(REFORMS_DIR.iterdir()) if p.suffix.lower() in FORMATS}


def find_reform(spec: str) -> Path:
    """The file of a reform given as a path or as a shipped reform's name."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    shipped = shipped_reforms()
    if spec in shipped:
        return shipped[spec]
    close = difflib.get_close_matches(spec, list(shipped), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; shipped reforms: {', '.join(shipped)}"
    raise ReformError(f"{spec}: no such file, and not a shipped reform{hint}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def read_document(path: Path) -> tuple[dict[str, Any], bytes]:
    """Parse a JSON, TOML or YAML file into a dict; returns it and the file's bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReformError(f"{path}: cannot read: {exc.strerror or exc}") from None
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReformError(f"{path}: unknown format {path.suffix!r}; use .json, .toml or .yaml")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReformError(f"{path}: not UTF-8 text") from None
    try:
        if fmt == "JSON":
            doc = json.loads(text)
        elif fmt == "TOML":
            doc = tomllib.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except Exception as exc:  # json, toml and yaml errors: one line with the position
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ReformError(f"{path}: not valid {fmt}: {_one_line(reason)}{where}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ReformError(f"{path}: must be a table of parameters, got {type(doc).__name__}")
    return doc, data


# ============================================================================== parsing
@dataclass
class Reform:
    """A parsed and validated reform (or baseline) file.

    Attributes:
        name: the file stem.
        path: the file (None for a reform built in code).
        title: header title (default: the name).
        description: header description.
        reference: header reference(s).
        changes: ``{parameter: {round: value}}``; a scalar parameter's value is a float, a vector
            parameter's a ``{element index: float}`` map (the elements the file sets).
        sha256: of the file's bytes.
        data: the file's bytes.
    """

    name: str
    path: Path | None
    title: str
    description: str = ""
    reference: list[str] = field(default_factory=list)
    changes: dict[str, dict[int, Any]] = field(default_factory=dict)
    sha256: str = ""
    data: bytes = b""

    def sets_scenario(self) -> list[str]:
        """The scenario parameters (prices, emissions, SCC, lambda) this file changes."""
        return [p for p in self.changes if _params.param(p).section == "scenario"]


def _labels(p: _params.Parameter, technologies: Sequence[str]) -> list[str]:
    return list(technologies) if p.dims == "technology" else [str(d) for d in range(1, _params.DECILES + 1)]


def _is_round_key(key: Any) -> bool:
    if isinstance(key, bool):
        return False
    if isinstance(key, int):
        return True
    return isinstance(key, str) and key.strip().lstrip("-").isdigit()


def _vector(p: _params.Parameter, value: Any, where: str, technologies: Sequence[str], file: str) -> dict[int, float]:
    labels = _labels(p, technologies)
    what = "technology" if p.dims == "technology" else "income decile (1-10)"
    if isinstance(value, list | tuple):
        if len(value) != len(labels):
            raise ReformError(
                f"{file}: {p.name} ({where}): needs {len(labels)} values, one per {what} "
                f"({', '.join(labels)}), got {len(value)}"
            )
        return {i: _check(p, v, f"{where}, {labels[i]}", file) for i, v in enumerate(value)}
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            name = str(key).strip()
            if name not in labels:
                close = difflib.get_close_matches(name, labels, n=2)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise ReformError(
                    f"{file}: {p.name} ({where}): unknown {what} {key!r}; {hint}valid: {', '.join(labels)}"
                )
            out[labels.index(name)] = _check(p, v, f"{where}, {name}", file)
        return out
    raise ReformError(
        f"{file}: {p.name} ({where}): needs {len(labels)} values (a list, one per {what}, or a "
        f"{{{what.split(' ')[0]}: value}} map), got {value!r}"
    )


def _check(p: _params.Parameter, value: Any, where: str, file: str) -> float:
    try:
        return _params.check_value(p.name, value, where)
    except ValueError as exc:
        raise ReformError(f"{file}: {exc}") from None


def _entry(p: _params.Parameter, value: Any, where: str, technologies: Sequence[str], file: str) -> Any:
    if p.dims == "scalar":
        return _check(p, value, where, file)
    return _vector(p, value, where, technologies, file)


def parse_reform(
    doc: dict[str, Any],
    *,
    technologies: Sequence[str],
    horizon: int,
    name: str = "reform",
    path: Path | None = None,
    data: bytes = b"",
) -> Reform:
    """Validate a reform document against the schema, the technologies and the horizon.

    Raises:
        ReformError: one line naming the file, the parameter and what is allowed.
    """
    file = str(path) if path is not None else name
    reform = Reform(name=name, path=path, title=name, data=data, sha256=hashlib.sha256(data).hexdigest())
    names = [p.name for p in _params.reformable()]
    for key, value in doc.items():
        key = str(key)
        if key in HEADER:
            if key == "reference":
                refs = value if isinstance(value, list) else [value]
                if not all(isinstance(r, str) for r in refs):
                    raise ReformError(f"{file}: reference: must be text or a list of texts, got {value!r}")
                reform.reference = list(refs)
            elif not isinstance(value, str):
                raise ReformError(f"{file}: {key}: must be text, got {value!r}")
            else:
                setattr(reform, key, value)
            continue
        if key not in names:
            try:
                known = _params.param(key)
            except KeyError:
                known = None
            if known is not None:
                where = f" (a config setting: --{known.config})" if known.config else ""
                raise ReformError(f"{file}: {key}: cannot be set in a reform or baseline file{where}")
            close = difflib.get_close_matches(key, names + list(HEADER), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(names)}"
            raise ReformError(f"{file}: {key}: unknown parameter; {hint}")
        p = _params.param(key)
        if isinstance(value, dict) and not value:
            raise ReformError(f"{file}: {key}: empty; give {{round: value}} or a value from round 0")
        by_round = isinstance(value, dict) and all(_is_round_key(k) for k in value)
        if by_round and p.dims == "decile" and not all(isinstance(v, dict | list) for v in value.values()):
            by_round = False  # {decile: weight}: a bare decile map
        if by_round:
            rounds = value
        elif isinstance(value, dict) and p.dims != "decile" and any(_is_round_key(k) for k in value):
            raise ReformError(f"{file}: {key}: mixes rounds and other keys: {list(value)}")
        else:
            rounds = {0: value}  # a bare value: from round 0 on
        parsed: dict[int, Any] = {}
        for r_key, v in rounds.items():
            r = int(str(r_key).strip())
            if r < 0 or r >= horizon:
                raise ReformError(
                    f"{file}: {key}: round {r} is outside the horizon: rounds 0 to {horizon - 1} "
                    f"(economy.horizon = {horizon})"
                )
            if r in parsed:
                raise ReformError(f"{file}: {key}: round {r} is listed twice")
            parsed[r] = _entry(p, v, f"round {r}", technologies, file)
        reform.changes[key] = dict(sorted(parsed.items()))
    return reform


def load_reform(spec: str, econ: Economy) -> Reform:
    """Find, read and validate a reform or baseline file against the config's economy."""
    path = find_reform(spec)
    doc, data = read_document(path)
    return parse_reform(doc, technologies=econ.technologies, horizon=econ.horizon, name=path.stem, path=path, data=data)


# ============================================================================== resolution
@dataclass
class ResolvedPolicy:
    """Every reformable parameter's value in every round: ``values[name]`` is (T,) or (T, m).

    Attributes:
        values: the resolved parameter paths.
        technologies: the technology names (columns of the technology vectors).
        horizon: T.
        label: what it is (``"baseline"``, ``"reform"``).
        sources: the files applied, in order.
    """

    values: dict[str, np.ndarray]
    technologies: list[str]
    horizon: int
    label: str = "policy"
    sources: list[Reform] = field(default_factory=list)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def keys(self) -> list[str]:
        """The parameter names (a mapping, as :class:`policies.green.ReformPrincipal` reads it)."""
        return list(self.values)

    def __iter__(self) -> Any:
        return iter(self.values)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    @property
    def k(self) -> int:
        """Number of technologies."""
        return len(self.technologies)

    @classmethod
    def current(cls, econ: Economy, label: str = "current policy") -> ResolvedPolicy:
        """Current policy: the config's economy (prices, emissions, SCC, lambda), no tax, no subsidy."""
        t, k = econ.horizon, econ.k
        values: dict[str, np.ndarray] = {}
        paths = {"scc": scc_path(econ, t), "grid_intensity": grid_path(econ, t)}  # config paths by year
        for p in _params.reformable():
            m = k if p.dims == "technology" else _params.DECILES if p.dims == "decile" else 1
            if p.name in paths:
                values[p.name] = paths[p.name].copy()
                continue
            if p.config:
                base = np.asarray(getattr(econ, p.config.split(".", 1)[1]), dtype=np.float64)
            else:
                base = np.full(m, float(p.default))  # policy instruments: the schema's default
            arr = np.tile(base.reshape(1, -1), (t, 1))
            values[p.name] = arr[:, 0].copy() if p.dims == "scalar" else arr
        return cls(values, list(econ.technologies), t, label)

    def apply(self, reform: Reform, label: str | None = None) -> ResolvedPolicy:
        """This policy with ``reform``'s changes from their rounds on (carry-forward, element by element)."""
        values = {k: v.copy() for k, v in self.values.items()}
        for name, rounds in reform.changes.items():
            arr = values[name]
            for r, v in rounds.items():
                if isinstance(v, dict):
                    for j, x in v.items():
                        arr[r:, j] = x
                else:
                    arr[r:] = v
        weights = values["dividend_weights"]
        bad = np.flatnonzero(weights.sum(axis=1) <= 0)
        if bad.size:
            file = reform.path or reform.name
            raise ReformError(
                f"{file}: dividend_weights (round {int(bad[0])}): at least one weight must be positive "
                f"(range {_params.param('dividend_weights').range_text()})"
            )
        return ResolvedPolicy(values, self.technologies, self.horizon, label or self.label, [*self.sources, reform])

    def instruments_only(self, econ: Economy) -> ResolvedPolicy:
        """This policy's instruments in the config's economy (scenario parameters reset to the config)."""
        cur = ResolvedPolicy.current(econ)
        values = {
            k: (cur.values[k] if _params.param(k).section == "scenario" else v.copy()) for k, v in self.values.items()
        }
        return ResolvedPolicy(values, self.technologies, self.horizon, self.label, self.sources)

    def changes_from(self, other: ResolvedPolicy) -> list[str]:
        """Names of the parameters whose paths differ from ``other``'s."""
        return [k for k in self.values if not np.array_equal(self.values[k], other.values[k])]

    def record(self) -> dict[str, dict[str, Any]]:
        """The resolved paths in carry-forward form: ``{parameter: {round: value}}`` at each change."""
        out: dict[str, dict[str, Any]] = {}
        for name, arr in self.values.items():
            entries: dict[str, Any] = {}
            prev = None
            for t in range(self.horizon):
                row = arr[t]
                if prev is None or not np.array_equal(row, prev):
                    entries[str(t)] = _plain(row)
                prev = row
            out[name] = entries
        return out

    def table(
        self, baseline: ResolvedPolicy | None = None, rounds: dict[str, Sequence[int]] | None = None
    ) -> pd.DataFrame:
        """One row per parameter and round: its value from that round on (and the baseline's, when given).

        Args:
            baseline: show the value each row replaces.
            rounds: the parameters and rounds to show (e.g. what a file sets); default every parameter
                at each round where its value changes.
        """
        rows = []
        if rounds is None:
            rounds = {}
            for name, arr in self.values.items():
                rounds[name] = [t for t in range(self.horizon) if t == 0 or not np.array_equal(arr[t], arr[t - 1])]
        for name, when in rounds.items():
            p = _params.param(name)
            arr = self.values[name]
            for t in when:
                row = arr[t]
                entry = {
                    "parameter": name,
                    "title": p.title,
                    "from round": t,
                    "value": _show(row, p, self.technologies),
                    "unit": p.unit,
                }
                if baseline is not None:
                    entry["baseline"] = _show(baseline.values[name][t], p, self.technologies)
                rows.append(entry)
        return pd.DataFrame(rows)


def _plain(row: Any) -> Any:
    arr = np.asarray(row, dtype=np.float64)
    conv = [float(x) if math.isfinite(x) else ("inf" if x > 0 else "-inf") for x in arr.ravel()]
    return conv[0] if arr.ndim == 0 else conv


def _show(row: Any, p: _params.Parameter, technologies: Sequence[str]) -> str:
    arr = np.asarray(row, dtype=np.float64)

    def num(x: float) -> str:
        return "inf (none)" if math.isinf(x) else f"{x:,.6g}"

    if arr.ndim == 0:
        return num(float(arr))
    labels = _labels(p, technologies)
    if p.dims == "decile":
        if np.all(arr == arr[0]):
            return f"{num(float(arr[0]))} each"
        return "deciles 1-10: " + ", ".join(num(float(x)) for x in arr)
    return ", ".join(f"{lab} {num(float(x))}" for lab, x in zip(labels, arr, strict=True))


@dataclass
class Policies:
    """The baseline and reform of a run, resolved against its economy, with their files."""

    baseline: ResolvedPolicy
    reform: ResolvedPolicy | None
    baseline_file: Reform | None
    reform_file: Reform | None

    def config_entries(self) -> dict[str, str]:
        """What the run's config records about the files (sha256 of each), for comparability."""
        out = {}
        if self.reform_file is not None:
            out["reform_sha256"] = self.reform_file.sha256
        if self.baseline_file is not None:
            out["baseline_sha256"] = self.baseline_file.sha256
        return out

    def inputs(self) -> dict[str, bytes]:
        """The files, for the run folder's ``inputs/`` (sha256 in ``run.json``)."""
        out = {}
        for role, f in (("reform", self.reform_file), ("baseline", self.baseline_file)):
            if f is not None and f.path is not None:
                out[f"{role}{f.path.suffix.lower()}"] = f.data
        return out

    def record(self) -> dict[str, Any]:
        """``run.json`` extra: the files' headers and hashes and the resolved parameters."""
        out: dict[str, Any] = {}
        for role, f, pol in (
            ("baseline", self.baseline_file, self.baseline),
            ("reform", self.reform_file, self.reform),
        ):
            if pol is None:
                continue
            out[role] = {
                "file": str(f.path) if f is not None and f.path is not None else None,
                "title": f.title if f is not None else "current policy",
                "sha256": f.sha256 if f is not None else None,
                "parameters": pol.record(),
            }
        return {"policies": out}


def load_policies(args: Any) -> Policies:
    """Load and resolve ``args.baseline`` and ``args.reform`` (either may be None) against ``args.economy``.

    Raises:
        ConfigError: a bad file, as one line ``reform: FILE: parameter: ...`` (or ``baseline: ...``).
    """
    econ = args.economy
    base = ResolvedPolicy.current(econ, "baseline")
    base_file = reform_file = None
    try:
        if args.baseline:
            base_file = load_reform(args.baseline, econ)
            base = base.apply(base_file, "baseline")
    except ReformError as exc:
        raise ConfigError(f"baseline: {exc}") from None
    reform = None
    try:
        if args.reform:
            reform_file = load_reform(args.reform, econ)
            reform = base.apply(reform_file, "reform")
    except ReformError as exc:
        raise ConfigError(f"reform: {exc}") from None
    return Policies(base, reform, base_file, reform_file)


def check_args(args: Any) -> None:
    """Cross-field checks of green_tax's reform options (called from ``Args.check``)."""
    if "reform" in args.principals and not args.reform:
        raise ValueError("principals: 'reform' plays a reform file: give --reform FILE (or a shipped reform's name)")
    if args.baseline and not args.reform:
        raise ValueError("baseline: compare it with a reform: give --reform FILE too")
    if args.reform or args.baseline:
        try:
            load_policies(args)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


# ============================================================================== one episode
@dataclass
class PolicyRun:
    """One episode under a policy, with the public and household accounts.

    Attributes:
        rounds: per round, per household: emissions, shares, revenue, outlays, dividends, net budget,
            consumer surplus, producer burden, damages, welfare, the rates.
        totals: horizon totals (green_tax's conventions: money discounted, emissions summed, shares
            averaged) plus the columns of green_tax's results.
        income: (n,) yearly household income.
        net_surplus: (n,) each household's discounted net surplus over the horizon.
        income_total: (n,) discounted income over the horizon.
        net_surplus_sum: (n,) undiscounted net surplus over the horizon.
        group: (n,) household group index (area x income decile).
        deciles: per income decile, per household, discounted: taxes borne, subsidies, dividends, financing,
            energy spending, income, net surplus (:meth:`GreenModel.decile_accounts`).
    """

    rounds: pd.DataFrame
    totals: dict[str, float]
    income: np.ndarray
    net_surplus: np.ndarray
    income_total: np.ndarray
    net_surplus_sum: np.ndarray
    group: np.ndarray
    deciles: pd.DataFrame


def run_policy(
    econ: Economy,
    mix: HouseholdMix,
    seed: int,
    policy: ResolvedPolicy,
    *,
    n: int | None = None,
    baseline: ResolvedPolicy | None = None,
    device: str = "cpu",
) -> PolicyRun:
    """Run the economy under ``policy`` and account for every household and round.

    The same ``(econ, mix, seed)`` gives the same households and random streams whatever the policy
    (common random numbers); the burn-in runs under ``baseline``'s round 0 (default: current policy), so
    a baseline and a reform start from the same steady state. Accounting is the economy's
    (:class:`scenarios.green_tax.economy.GreenModel`): one welfare computation, dividends, financing and
    pass-through included.

    Args:
        econ: the config's economy.
        mix: the households.
        seed: the seed.
        policy: the resolved policy (baseline or reform).
        n: households (default ``mix.n_households``).
        baseline: the policy whose round 0 holds during the burn-in (default: current policy).
        device: IncentiveModel's device.
    """
    if policy.horizon != econ.horizon or policy.k != econ.k:
        raise ValueError("the policy was resolved for another horizon or set of technologies")
    start = ReformPrincipal(baseline if baseline is not None else ResolvedPolicy.current(econ))
    model = GreenModel(
        econ,
        mix,
        seed,
        PrincipalPolicy(ReformPrincipal(policy, base_prices=econ.prices)),
        n=n,
        baseline=lambda m: instruments_from_values(m, start.round_values(0), 0),
        track_households=True,
        device=device,
    )
    model.run()
    df = model.rounds()
    disc = model.disc
    return PolicyRun(
        rounds=df,
        totals=model.totals(),
        income=model.hh.income,
        net_surplus=model.net_pv,
        income_total=model.hh.income * float(disc.sum()),
        net_surplus_sum=model.net_sum,
        group=model.hh.group,
        deciles=model.decile_accounts(),
    )


def comparison_episode(
    policy: ResolvedPolicy, econ: Economy, mix: HouseholdMix, seed: int, n: int | None = None
) -> tuple[dict[str, float], pd.DataFrame]:
    """The reform as a principal in green_tax's comparison: its instruments in the configured economy.

    Returns green_tax's ``(totals, per-year table)``; the burn-in runs under no policy, as for every
    other principal.
    """
    run = run_policy(econ, mix, seed, policy.instruments_only(econ), n=n, baseline=ResolvedPolicy.current(econ))
    return run.totals, run.rounds


# ============================================================================== baseline vs reform
@dataclass
class ReformTask:
    """One task of the baseline-vs-reform analysis: both policies on the households of one seed x setting."""

    args: Any
    seed: int
    setting: str
    baseline: ResolvedPolicy
    reform: ResolvedPolicy

    @property
    def key(self) -> tuple[int, str]:
        """(seed, setting)."""
        return (self.seed, self.setting)


def evaluate_reform_task(task: ReformTask) -> tuple[list[dict[str, Any]], pd.DataFrame, pd.DataFrame]:
    """Run the baseline and the reform on the same households; returns (rows, per-round table, deciles)."""
    args = task.args
    econ = args.economy
    n = args.households.n_households
    mix = pin_ownership(econ, args.households, setting_mix(args.households, task.setting, args.learner))
    common = {"scenario": "green_tax", "seed": task.seed, "setting": task.setting}
    runs = {}
    rows, rounds = [], []
    for label, pol in (("baseline", task.baseline), ("reform", task.reform)):
        run = run_policy(econ, mix, task.seed, pol, n=n, baseline=task.baseline)
        runs[label] = run
        rows.append({**common, "principal": label, "shots": 0, "adaptation_cost": 0.0, **run.totals})
        rounds.append(run.rounds.assign(principal=label, **common))
    b, r = runs["baseline"], runs["reform"]
    dist = pd.concat(
        [distribution_table(b.income, b.net_surplus, r.net_surplus, b.income_total), decile_accounts(b, r)]
    )
    dist = dist.assign(setting=task.setting, seed=task.seed)
    return rows, pd.concat(rounds, ignore_index=True), dist


ACCOUNTS = {
    "taxes_borne": "taxes",
    "subsidy_received": "subsidy_received",
    "dividends_received": "dividends",
    "financing_paid": "financing",
}
"""The decile accounts of the distributional table: reform - baseline, $ per household over the horizon (discounted)."""


def decile_accounts(base: PolicyRun, reform: PolicyRun) -> pd.DataFrame:
    """The decile accounts as long rows (group, metric, value).

    Per decile and for all: the reform's change of taxes borne, subsidies received, dividends and financing
    ($ per household, discounted), each decile's share of the reform's subsidy outlays
    (``subsidy_share_pct``) and the baseline's energy spending as a share of income.
    """
    db, dr = base.deciles.set_index("decile"), reform.deciles.set_index("decile")
    n = db["households"]
    rows = []
    for metric, col in ACCOUNTS.items():
        change = dr[col] - db[col]
        rows += [{"group": str(d), "metric": metric, "value": float(v)} for d, v in change.items()]
        rows.append({"group": "all", "metric": metric, "value": float((change * n).sum() / n.sum())})
    total = float((dr["subsidy_received"] * n).sum())
    share = 100.0 * dr["subsidy_received"] * n / total if total > 0 else dr["subsidy_received"] * np.nan
    rows += [{"group": str(d), "metric": "subsidy_share_pct", "value": float(v)} for d, v in share.items()]
    spend = db["energy_spend"] / db["income"] * 100.0
    rows += [{"group": str(d), "metric": "energy_spend_pct_income", "value": float(v)} for d, v in spend.items()]
    return pd.DataFrame(rows)


def _paired(rounds: pd.DataFrame, discount: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per seed: horizon totals and per-round values of baseline and reform, with changes."""
    keys = ["setting", "seed", "round"]
    metrics = [m for m in METRICS if m in rounds.columns]
    base = rounds[rounds.principal == "baseline"].set_index(keys)[metrics]
    ref = rounds[rounds.principal == "reform"].set_index(keys)[metrics]
    base, ref = base.align(ref, join="inner")
    by_round = []
    for m in metrics:
        frame = pd.DataFrame({"baseline": base[m], "reform": ref[m]}).reset_index()
        frame["quantity"] = m
        by_round.append(frame)
    per_round = pd.concat(by_round, ignore_index=True)
    per_round["weight"] = (1.0 + discount) ** -per_round["round"].astype(float)
    horizon = []
    for (setting, seed, m), g in per_round.groupby(["setting", "seed", "quantity"], sort=False):
        share = METRICS[m][2] == "share"
        w = g["weight"].to_numpy()
        for basis in ("cumulative", "discounted"):
            ww = np.ones_like(w) if basis == "cumulative" else w
            rec = {"setting": setting, "seed": seed, "quantity": m, "basis": basis}
            for col in ("baseline", "reform"):
                x = g[col].to_numpy()
                rec[col] = float((ww * x).sum() / (ww.sum() if share else 1.0))
            horizon.append(rec)
    tot = pd.DataFrame(horizon)
    for df in (per_round, tot):
        df["change"] = df["reform"] - df["baseline"]
        with np.errstate(divide="ignore", invalid="ignore"):
            df["pct_change"] = np.where(
                df["baseline"].abs() > 1e-12, 100.0 * df["change"] / df["baseline"].abs(), np.nan
            )
    return tot, per_round.drop(columns="weight")


def aggregate_horizon(rounds: pd.DataFrame, discount: float) -> pd.DataFrame:
    """Horizon totals (cumulative and discounted): baseline, reform, change and % change, mean and 95% CI over seeds."""
    from analysis.stats import summarize

    tot, _ = _paired(rounds, discount)
    return summarize(tot, by=["setting", "quantity", "basis"], metrics=["baseline", "reform", "change", "pct_change"])


def aggregate_by_round(rounds: pd.DataFrame, discount: float) -> pd.DataFrame:
    """Per round: baseline, reform, change and % change, mean and 95% t-interval over seeds."""
    from analysis.stats import summarize

    _, per = _paired(rounds, discount)
    return summarize(
        per, by=["setting", "quantity", "round"], metrics=["baseline", "reform", "change", "pct_change"], method="t"
    )


def paired_rounds(rounds: pd.DataFrame, discount: float) -> pd.DataFrame:
    """Per seed and round: baseline, reform, change and % change of every metric (long)."""
    return _paired(rounds, discount)[1]


def distribution_summary(dist: pd.DataFrame) -> pd.DataFrame:
    """The per-seed decile tables pooled: mean and 95% CI over seeds per setting, group and metric."""
    from analysis.stats import summarize

    wide = dist.pivot_table(index=["setting", "seed", "group"], columns="metric", values="value", sort=False)
    wide = wide.reset_index()
    metrics = [c for c in wide.columns if c not in ("setting", "seed", "group")]
    out = summarize(wide, by=["setting", "group"], metrics=metrics)
    order = {str(d): d for d in range(1, 11)} | {"all": 11}
    out["_o"] = out["group"].map(order)
    return out.sort_values(["setting", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)


_FIRST = ["scenario", "principal", "seed", "shots", "setting", "principal_return", "intervention_cost"]
_FIRST += ["adaptation_cost", "target_rate", "welfare", "emissions", "clean_share", "tax_revenue", "subsidy_cost"]


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {**{c: row[c] for c in _FIRST if c in row}, **{c: v for c, v in row.items() if c not in _FIRST}}
