"""The parameter schema of the green-tax scenario: one source of truth for configs, reforms and the docs.

Every parameter a user can set, in a config file (``--config``, ``--economy.scc``) or in a reform
or baseline file (``--reform``, ``--baseline``), is one :class:`Parameter` entry here: name, title,
description, unit, type, dimension (a scalar, one value per technology, or one per income decile),
allowed range, default and source. From this table

* :class:`scenarios._green_economy.Economy` and ``HouseholdMix`` take their defaults, ranges and
  help texts (:func:`param_option`), so ``simulator.config`` validates configs with the schema's
  ranges;
* :mod:`scenarios.reform` validates reform and baseline files (:func:`check_value`, names,
  dimensions and the rounds of the horizon);
* ``docs/parameters.md`` is generated (:func:`parameters_markdown`; regenerate it with
  ``python -m scenarios.reform --write-docs``; a test fails when the page is out of date).

**Why pydantic (v2).** The schema entries are pydantic models (validated when this module is
imported: a range whose low is above its high, a default outside its range or of the wrong length
is an error at import), and every value in a reform file is validated by a pydantic
``TypeAdapter`` built from the entry (strict numbers: ``true`` or ``"874"`` are not numbers; NaN
refused; ranges as ``ge``/``le`` constraints), whose errors are turned into one line naming the
file, the parameter and the allowed range. We chose pydantic over paramtools, which speaks the
Tax-Calculator dialect natively, because pydantic is small, maintained at a fast pace with a
compiled core, and is what most Python users already have; paramtools brings marshmallow and its
own value/label list format, which we would still have to translate from the
``{parameter: {round: value}}`` files users write, and its release cadence is slower. The
time-varying part (rounds, carry-forward, technology maps) is a few lines in
:mod:`scenarios.reform` either way. The JSON Schema of reform files (for editors) comes from
pydantic as well (:func:`reform_json_schema`).

Sources are those of ``shared/REFERENCES.md`` section 3; "(memory)" marks a value no stored source
confirmed (treat it as a sensitivity range), as there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model, model_validator

from simulator.config import option

__all__ = [
    "PARAMETERS",
    "SECTIONS",
    "Parameter",
    "check_value",
    "param",
    "param_option",
    "parameters_markdown",
    "reform_json_schema",
    "reformable",
]

Dim = Literal["scalar", "technology", "decile"]
DECILES = 10

SECTIONS = {
    "policy": "Policy instruments (reform and baseline files only)",
    "scenario": "Scenario parameters (config, and reform or baseline files)",
    "economy": "Economy (config only)",
    "households": "Households and income (config only)",
}
"""Sections of the parameter reference, in order."""


class Parameter(BaseModel):
    """One parameter of the schema.

    Attributes:
        name: the name in reform files (and, for config parameters, the config field name).
        title: a short title.
        description: what it means and how the model uses it.
        unit: e.g. ``"$/yr per car"``, ``"share"``.
        type: ``"float"`` or ``"int"``.
        dims: ``"scalar"``, ``"technology"`` (one value per technology) or ``"decile"`` (one per
            income decile).
        low: smallest allowed value (None: unbounded).
        high: largest allowed value (None: unbounded).
        default: the default (a vector parameter's scalar default applies to every element).
        source: where the default comes from.
        section: a key of :data:`SECTIONS`.
        config: the config field it sets (``"economy.scc"``), or None for policy instruments.
        reform: whether reform and baseline files may set it (round by round).
        allow_inf: whether +inf is a valid value (a limit that is "none").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    description: str
    unit: str
    type: Literal["float", "int"] = "float"
    dims: Dim = "scalar"
    low: float | None = None
    high: float | None = None
    default: float | list[float] | list[list[float]] | list[str] | None
    source: str
    section: Literal["policy", "scenario", "economy", "households"]
    config: str | None = None
    reform: bool = False
    allow_inf: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"{self.name}: low {self.low} > high {self.high}")
        if self.reform and self.type != "float":
            raise ValueError(f"{self.name}: reform parameters are numbers")
        vals = self.default if isinstance(self.default, list) else [self.default]
        for v in vals:
            if isinstance(v, int | float) and not self.in_range(float(v)):
                raise ValueError(f"{self.name}: default {v} outside {self.range_text()}")
        if self.dims == "decile" and isinstance(self.default, list) and len(self.default) != DECILES:
            raise ValueError(f"{self.name}: needs {DECILES} default values")
        return self

    def in_range(self, v: float) -> bool:
        """Whether ``v`` lies in the allowed range."""
        if math.isnan(v) or (math.isinf(v) and not (self.allow_inf and v > 0)):
            return False
        return (self.low is None or v >= self.low) and (self.high is None or v <= self.high)

    def range_text(self) -> str:
        """The allowed range as ``[low, high]``."""
        lo = "-inf" if self.low is None else f"{self.low:,.10g}"
        hi = "inf" if self.high is None or self.allow_inf else f"{self.high:,.10g}"
        return f"[{lo}, {hi}{')' if hi == 'inf' and not self.allow_inf else ']'}"

    def help(self) -> str:
        """One line for ``--help``: title, unit, short source."""
        unit = f", {self.unit}" if self.unit and self.unit != "-" else ""
        return f"{self.title}{unit}"


def _p(**kw: Any) -> Parameter:
    return Parameter(**kw)


_TECH_NOTE = "One value per technology (a list in technology order, or a {technology: value} map)."

PARAMETERS: tuple[Parameter, ...] = (
    # ------------------------------------------------------------ policy instruments
    _p(
        name="tax",
        title="Tax per technology",
        description="Yearly excise tax on owning a car of each technology (the statutory rate; the "
        "household pays pass_through x tax, the seller the rest). The Pigouvian rate is SCC x emissions: "
        "$874, $570 and $399 a year at $190/t. " + _TECH_NOTE,
        unit="$/yr per car",
        dims="technology",
        low=0.0,
        high=100_000.0,
        default=0.0,
        source="current policy: no tax; Pigouvian rate derived from US EPA (2023) SCC and EPA emissions",
        section="policy",
        reform=True,
    ),
    _p(
        name="subsidy",
        title="Subsidy per technology",
        description="Yearly subsidy paid to a household that owns a car of each technology (a purchase "
        "subsidy spread over the car's years), if its income is at most subsidy_income_limit. Outlays cost "
        "public funds at the marginal cost lambda (mcpf). " + _TECH_NOTE,
        unit="$/yr per car",
        dims="technology",
        low=0.0,
        high=100_000.0,
        default=0.0,
        source="current policy: no subsidy; the US clean-vehicle credit was $7,500 per car (REFERENCES.md 3)",
        section="policy",
        reform=True,
    ),
    _p(
        name="pass_through",
        title="Tax pass-through to household prices",
        description="Share of the tax on each technology passed to the price households pay (their posted "
        "price rises by pass_through x tax); sellers bear the rest (producer burden). The government "
        "collects the whole tax either way. " + _TECH_NOTE,
        unit="share",
        dims="technology",
        low=0.0,
        high=1.0,
        default=1.0,
        source="full pass-through, as found for US state fuel taxes (Marion & Muehlegger 2011, JPubE 95; memory)",
        section="policy",
        reform=True,
    ),
    _p(
        name="subsidy_income_limit",
        title="Income limit of subsidy eligibility",
        description="Households with an income above this limit receive no subsidy (a purchase-subsidy cap "
        "by income). inf: no limit.",
        unit="$/yr household income",
        low=0.0,
        high=None,
        default=math.inf,
        allow_inf=True,
        source="no limit; the US clean-vehicle credit (IRC 30D, 2023) excludes incomes above $150,000 "
        "(single) / $300,000 (joint) (memory)",
        section="policy",
        reform=True,
    ),
    _p(
        name="dividend_share",
        title="Revenue recycling: dividend share",
        description="Share of the round's net revenue (taxes collected minus subsidy outlays, when positive) "
        "returned lump-sum to households as a dividend, split by dividend_weights. A lump-sum transfer: it "
        "changes incomes, not choices or welfare.",
        unit="share",
        low=0.0,
        high=1.0,
        default=0.0,
        source="current policy: no dividend; carbon fee-and-dividend proposals return 100%",
        section="policy",
        reform=True,
    ),
    _p(
        name="dividend_weights",
        title="Dividend weight per income decile",
        description="Relative dividend of a household in each income decile (decile 1 = poorest); all equal "
        "= the same dividend per household. Ten values (a list, or a {decile: value} map with keys 1-10); "
        "at least one must be positive.",
        unit="relative weight",
        dims="decile",
        low=0.0,
        high=1000.0,
        default=1.0,
        source="equal per household (a per-capita carbon dividend)",
        section="policy",
        reform=True,
    ),
    # ------------------------------------------------------------ scenario (config + reforms)
    _p(
        name="prices",
        title="Yearly cost of owning",
        description="Yearly cost of owning each technology (purchase annualised, fuel, maintenance). A change "
        "in a reform or baseline is posted: households know prices, as they know taxes, so it shifts every "
        "household's net value v - p from the round it takes effect; it is paid to sellers, so it changes "
        "private surplus and welfare, not public revenue. " + _TECH_NOTE,
        unit="$/yr",
        dims="technology",
        low=0.0,
        default=[8184.0, 9691.0, 9048.0],
        source="AAA (2022) Your Driving Costs: small sedan $8,184, hybrid $9,691, EV $9,048",
        section="scenario",
        config="economy.prices",
        reform=True,
    ),
    _p(
        name="emissions",
        title="Emissions per car-year",
        description="Emissions of a car of each technology per year of use; they set damages (SCC x "
        "emissions). A cleaner grid in a reform lowers the electric car's value. " + _TECH_NOTE,
        unit="tCO2/yr",
        dims="technology",
        low=0.0,
        default=[4.6, 3.0, 2.1],
        source="EPA-420-F-23-014 (gasoline, 4.6 t); 0.365 kWh/mile (AAA) x 0.39 kg/kWh (EIA 2022) x 15,000 "
        "miles (EV, 2.1 t); hybrid 35% less fuel (assumption)",
        section="scenario",
        config="economy.emissions",
        reform=True,
    ),
    _p(
        name="scc",
        title="Social cost of carbon",
        description="Damage of one tonne of CO2, in the welfare accounting (damages = SCC x emissions) and "
        "the Pigouvian principal's rate.",
        unit="$/tCO2",
        low=0.0,
        default=190.0,
        source="US EPA (2023) SC-GHG report, 2020 emissions at a 2% discount rate; $51 interim value for sensitivity",
        section="scenario",
        config="economy.scc",
        reform=True,
    ),
    _p(
        name="mcpf",
        title="Marginal cost of public funds",
        description="lambda: each dollar of subsidy outlays costs lambda dollars of welfare (taxes and "
        "dividends are transfers, DESIGN.md section 8).",
        unit="-",
        low=1.0,
        default=1.2,
        source="Norway's official value since 1997; 1.1-1.5 typical; 1.34-1.48 Ballard, Shoven & Whalley "
        "(1985); about 2 Kleven & Kreiner (2006)",
        section="scenario",
        config="economy.mcpf",
        reform=True,
    ),
    # ------------------------------------------------------------ economy (config only)
    _p(
        name="fuel_costs",
        title="Yearly gasoline cost in each price",
        description="Gasoline cost in each technology's yearly cost; used by the --response elasticity "
        "sweep (a gasoline price rise of r is a tax r x fuel cost). " + _TECH_NOTE,
        unit="$/yr",
        dims="technology",
        low=0.0,
        default=[2760.0, 1656.0, 0.0],
        source="AAA (2022): 18.4 cents/mile x 15,000 miles/yr; hybrid 40% less (assumption)",
        section="economy",
        config="economy.fuel_costs",
    ),
    _p(
        name="admin_cost",
        title="Administrative cost per change of the rates",
        description="Cost of changing the tax and subsidy rates, per household, in the round of the change.",
        unit="$ per household",
        low=0.0,
        default=0.0,
        source="none (assumption)",
        section="economy",
        config="economy.admin_cost",
    ),
    _p(
        name="switch_prob",
        title="Fleet turnover",
        description="Share of households re-choosing each year (1 - l, the partial-adjustment coefficient); "
        "the others keep their car.",
        unit="share per year",
        low=0.0,
        high=1.0,
        default=0.42,
        source="calibrated to short-run -0.25 / long-run -0.6 gasoline demand elasticities (Goodwin, Dargay & "
        "Hanly 2004; Brons et al. 2008; Havranek & Kokes 2015)",
        section="economy",
        config="economy.switch_prob",
    ),
    _p(
        name="horizon",
        title="Horizon",
        description="Years simulated; reform rounds run 0 to horizon - 1.",
        unit="years",
        type="int",
        low=1,
        high=1000,
        default=20,
        source="this project's default",
        section="economy",
        config="economy.horizon",
    ),
    _p(
        name="discount",
        title="Discount rate",
        description="Yearly discount rate of welfare and of the discounted totals of the baseline-vs-reform "
        "tables (weights (1 + r)^-t, round 0 undiscounted).",
        unit="per year",
        low=0.0,
        high=1.0,
        default=0.03,
        source="this project's default; the EPA (2023) SCC uses 1.5-2.5% near-term rates",
        section="economy",
        config="economy.discount",
    ),
    _p(
        name="value_sd",
        title="Idiosyncratic value dispersion",
        description="Standard deviation of households' persistent idiosyncratic values of each technology.",
        unit="$/yr",
        low=0.0,
        default=400.0,
        source="this project's calibration",
        section="economy",
        config="economy.value_sd",
    ),
    _p(
        name="reward_noise",
        title="Yearly noise in experienced value",
        description="Standard deviation of the yearly noise in the value a household experiences.",
        unit="$/yr",
        low=0.0,
        default=600.0,
        source="this project's calibration",
        section="economy",
        config="economy.reward_noise",
    ),
    # ------------------------------------------------------------ households: income
    _p(
        name="income_median",
        title="Median household income",
        description="Household income is lognormal: log y ~ N(log income_median, income_sigma^2), drawn from "
        "its own random stream (so it never changes the other draws). It defines the income deciles of the "
        "distributional tables and the dividend weights, the subsidy income limit, the percent-of-income "
        "changes, and, when income_value_slope or budget_share are set, values.",
        unit="$/yr",
        low=1.0,
        default=80_610.0,
        source="US Census Bureau, Income in the United States: 2023 (P60-282): median household income "
        "$80,610 (memory)",
        section="households",
        config="households.income_median",
    ),
    _p(
        name="income_sigma",
        title="Income dispersion (log sd)",
        description="Standard deviation of log income. 0.92 gives a lognormal Gini of 2 Phi(sigma / sqrt 2) - "
        "1 = 0.485.",
        unit="log points",
        low=0.0,
        high=5.0,
        default=0.92,
        source="matches the US household income Gini of 0.485 in 2023 (Census P60-282; memory)",
        section="households",
        config="households.income_sigma",
    ),
    _p(
        name="income_value_slope",
        title="Income effect on values",
        description="Shift of each technology's value per log point of income above the median: v_ij += "
        "slope_j x log(y_i / median). Empty (the default): no income effect, the economy of the calibration. "
        + _TECH_NOTE,
        unit="$/yr per log point",
        dims="technology",
        low=-100_000.0,
        high=100_000.0,
        default=[],
        source="none by default (assumption); richer households value EVs more in registration data "
        "(e.g. Muehlegger & Rapson; memory)",
        section="households",
        config="households.income_value_slope",
    ),
    _p(
        name="budget_share",
        title="Car budget as a share of income",
        description="A household's yearly car budget is budget_share x income; a technology whose yearly "
        "cost exceeds it is worth the shortfall less (the cost of credit, dollar for dollar). 0: no budget "
        "limit (the default).",
        unit="share of income",
        low=0.0,
        high=1.0,
        default=0.0,
        source="none by default (assumption)",
        section="households",
        config="households.budget_share",
    ),
)
"""Every parameter, in the order of the reference page."""

_BY_NAME = {p.name: p for p in PARAMETERS}
if len(_BY_NAME) != len(PARAMETERS):  # pragma: no cover - a programming error
    raise RuntimeError("duplicate parameter names in the schema")


def param(name: str) -> Parameter:
    """The schema entry called ``name`` (KeyError if there is none)."""
    return _BY_NAME[name]


def reformable() -> list[Parameter]:
    """The parameters reform and baseline files may set, in schema order."""
    return [p for p in PARAMETERS if p.reform]


def param_option(name: str, **overrides: Any) -> Any:
    """``simulator.config.option`` for a config field, with default, range and help from the schema.

    Args:
        name: the schema entry.
        overrides: option() arguments to change (e.g. ``high``).
    """
    p = param(name)
    kw: dict[str, Any] = {"help": p.help(), "low": p.low, "high": None if p.allow_inf else p.high}
    if isinstance(p.default, list):
        default = list(p.default)
        kw["default_factory"] = lambda: list(default)
    else:
        kw["default"] = int(p.default) if p.type == "int" and p.default is not None else p.default
    kw.update(overrides)
    return option(**kw)


def _adapter(p: Parameter) -> TypeAdapter:
    constraints: dict[str, Any] = {"strict": True, "allow_inf_nan": p.allow_inf}
    if p.low is not None:
        constraints["ge"] = p.low
    if p.high is not None and not p.allow_inf:
        constraints["le"] = p.high
    return TypeAdapter(Annotated[float, Field(**constraints)])


_ADAPTERS = {p.name: _adapter(p) for p in PARAMETERS if p.reform}


def check_value(name: str, value: Any, where: str = "") -> float:
    """Validate one element of a reform parameter; returns it as a float.

    Raises:
        ValueError: one line naming the parameter (and ``where``, e.g. ``round 3, electric``), the
            allowed range and unit, and the value.
    """
    p = param(name)
    try:
        v = _ADAPTERS[name].validate_python(value)
    except ValidationError:
        at = f" ({where})" if where else ""
        number = isinstance(value, int | float) and not isinstance(value, bool)
        need = "must be in" if number else "must be a number in"
        raise ValueError(f"{name}{at}: {need} {p.range_text()} {p.unit}, got {value!r}") from None
    if math.isinf(v) and v < 0:  # allow_inf admits +inf only
        raise ValueError(f"{name}: must be in {p.range_text()} {p.unit}, got {value!r}")
    return float(v)


# ---------------------------------------------------------------------------- JSON schema
def reform_json_schema() -> dict[str, Any]:
    """The JSON Schema of a reform file (header fields plus the reform parameters), from pydantic."""
    rounds_key = Annotated[str, Field(pattern=r"^[0-9]+$")]
    fields: dict[str, Any] = {
        "title": (str | None, None),
        "description": (str | None, None),
        "reference": (str | list[str] | None, None),
    }
    for p in reformable():
        elem = Annotated[
            float,
            Field(ge=p.low, le=None if p.allow_inf else p.high, allow_inf_nan=p.allow_inf),
        ]
        value = elem if p.dims == "scalar" else list[elem] | dict[str, elem]
        fields[p.name] = (
            value | dict[rounds_key, value] | None,
            Field(None, title=p.title, description=f"{p.description} Unit: {p.unit}. Source: {p.source}."),
        )
    model = create_model("Reform", __config__=ConfigDict(extra="forbid"), **fields)
    return model.model_json_schema()


# ---------------------------------------------------------------------------- docs
def _fmt_default(p: Parameter) -> str:
    d = p.default
    if isinstance(d, list):
        if not d:
            return "(none)"
        return ", ".join(f"{v:,.10g}" if isinstance(v, int | float) else str(v) for v in d)
    if isinstance(d, float) and math.isinf(d):
        return "inf (none)"
    if p.dims != "scalar" and isinstance(d, int | float):
        return f"{d:,.10g} each"
    return f"{d:,.10g}" if isinstance(d, int | float) else str(d)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parameters_markdown(technologies: Sequence[str] = ("gasoline", "hybrid", "electric")) -> str:
    """The parameter reference page (``docs/parameters.md``), generated from :data:`PARAMETERS`."""
    lines = [
        "# Parameters of the green-tax scenario",
        "",
        "<!-- generated by `python -m scenarios.reform --write-docs` from scenarios/_params.py; do not edit -->",
        "",
        "Every parameter a config file, a reform file or a baseline file can set, with its unit, allowed",
        "range, default and source. Money is in dollars per household and year; emissions in tonnes of CO2.",
        f"Vector parameters take one value per technology (default technologies: {', '.join(technologies)})",
        "or per income decile.",
        "",
        "**Reform files** (`python -m scenarios.green_tax --reform FILE [--baseline FILE]`, JSON, TOML or",
        "YAML) list only the parameters they change, each as `{parameter: {round: value}}`. A value stays in",
        'force until the next round listed (carry-forward); a bare value means "from round 0 on". A vector',
        "parameter takes a list (every element) or a `{technology: value}` map (the elements named; the others",
        "keep their values). Optional header keys: `title`, `description`, `reference`. The reform applies on",
        "top of the baseline (default: current policy, the config's economy with no tax and no subsidy).",
        "Shipped examples are in `scenarios/reforms/`; `python -m scenarios.reform --list` lists them.",
        "",
        "```text",
        '{"title": "Carbon tax ramp", "tax": {"2": {"gasoline": 175}, "6": [874, 570, 399]}, "scc": 190}',
        "```",
        "",
        "**Config files** (`--config FILE.toml`) set the scenario, economy and household parameters by their",
        "config field (`[economy]` `scc = 51.0`, or `--economy.scc 51` on the command line).",
        "",
    ]
    for section, heading in SECTIONS.items():
        rows = [p for p in PARAMETERS if p.section == section]
        lines += [f"## {heading}", ""]
        lines += [
            "| name | title | unit | type | range | default | reform | config field |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in rows:
            typ = p.type + ("" if p.dims == "scalar" else f" per {p.dims}")
            lines.append(
                f"| `{p.name}` | {_cell(p.title)} | {_cell(p.unit)} | {typ} | {_cell(p.range_text())} | "
                f"{_cell(_fmt_default(p))} | {'yes, by round' if p.reform else 'no'} | "
                f"{'`' + p.config + '`' if p.config else '-'} |"
            )
        lines.append("")
        for p in rows:
            lines += [f"**`{p.name}`**: {p.description}", "", f"*Source:* {p.source}.", ""]
    return "\n".join(lines).rstrip() + "\n"
