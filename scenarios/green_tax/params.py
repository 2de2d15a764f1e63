"""The parameter schema of the green-tax scenario: one source of truth for configs, reforms and the docs.

Every parameter a user can set, in a config file (``--config``, ``--economy.scc``) or in a reform
or baseline file (``--reform``, ``--baseline``), is one :class:`Parameter` entry here: name, title,
description, unit, type, dimension (a scalar, one value per technology, or one per income decile),
allowed range, default and source. From this table

* :class:`scenarios.green_tax.economy.Economy` and ``HouseholdMix`` take their defaults, ranges and
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

Every entry names its source; "not verified here" marks a value no source we could consult
confirmed (treat it as a sensitivity range), "assumption" and "this project's calibration" mark
modelling choices.
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
        type: ``"float"``, ``"int"`` or ``"str"`` (a choice among ``choices``; config only).
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
        choices: the allowed values of a ``"str"`` parameter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    description: str
    unit: str
    type: Literal["float", "int", "str"] = "float"
    dims: Dim = "scalar"
    low: float | None = None
    high: float | None = None
    default: float | str | list[float] | list[list[float]] | list[str] | None
    source: str
    section: Literal["policy", "scenario", "economy", "households"]
    config: str | None = None
    reform: bool = False
    allow_inf: bool = False
    choices: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"{self.name}: low {self.low} > high {self.high}")
        if self.reform and self.type != "float":
            raise ValueError(f"{self.name}: reform parameters are numbers")
        is_str = self.type == "str"
        if is_str != (self.choices is not None) or (is_str and self.default not in self.choices):
            raise ValueError(f"{self.name}: a str parameter needs choices that include its default")
        vals = self.default if isinstance(self.default, list) else [self.default]
        for v in vals:
            if isinstance(v, int | float) and not self.in_range(float(v)):
                raise ValueError(f"{self.name}: default {v} outside {self.range_text()}")
        if self.dims == "decile" and isinstance(self.default, list) and len(self.default) not in (0, DECILES):
            raise ValueError(f"{self.name}: needs {DECILES} default values (or none)")
        return self

    def in_range(self, v: float) -> bool:
        """Whether ``v`` lies in the allowed range."""
        if math.isnan(v) or (math.isinf(v) and not (self.allow_inf and v > 0)):
            return False
        return (self.low is None or v >= self.low) and (self.high is None or v <= self.high)

    def range_text(self) -> str:
        """The allowed range as ``[low, high]`` (the choices of a ``"str"`` parameter)."""
        if self.choices is not None:
            return " or ".join(self.choices)
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
_DECILE_NOTE = "One value per income decile (decile 1 = poorest)."
_NHTS = (
    "2001 NHTS, households by number of vehicles for each income class (BTS Special Report, October 2007, "
    "Table 1: no vehicle 19.5% below $25,000, 3.3% at $25,000-49,999, 1.4% at $50,000-74,999, 0.8% at "
    "$75,000-99,999, 1.3% at $100,000 or more; 7.2% overall), mapped to deciles 1-3, 4-5, 6-7, 8 and 9-10 "
    "by the 2001 income distribution (this project's mapping); NHTS 2022 tables by income were not available "
    "to us: treat as a sensitivity range"
)

PARAMETERS: tuple[Parameter, ...] = (
    # ------------------------------------------------------------ policy instruments
    _p(
        name="carbon_tax",
        title="Carbon tax",
        description="Tax per tonne of CO2 on gasoline and on the electricity used for charging, paid per mile "
        "driven: carbon_tax x emissions per mile (full pass-through to fuel prices). It raises the cost per mile, "
        "so households drive less (the intensive margin) and, when they replace a car, buy cleaner ones or none "
        "(the fleet and the outside option). Added to carbon_tax_scc_share x SCC.",
        unit="$/tCO2",
        low=0.0,
        high=10_000.0,
        default=0.0,
        source="current policy: no carbon tax",
        section="policy",
        reform=True,
    ),
    _p(
        name="carbon_tax_scc_share",
        title="Carbon tax as a share of the SCC",
        description="A carbon tax equal to this share of the social cost of carbon of the year (the SCC path "
        "of the config): 1 is the Pigouvian tax, which attains first best for informed households.",
        unit="share",
        low=0.0,
        high=10.0,
        default=0.0,
        source="current policy: none; Pigou (1920) for the share 1",
        section="policy",
        reform=True,
    ),
    _p(
        name="tax",
        title="Vehicle tax per technology",
        description="Yearly tax on owning a vehicle of each technology, per vehicle (a registration fee or the "
        "annual equivalent of a purchase tax; the statutory rate: the household pays pass_through x tax, the "
        "seller the rest). It does not depend on miles, so unlike the carbon tax it moves only the fleet and "
        "the outside option. " + _TECH_NOTE,
        unit="$/yr per vehicle",
        dims="technology",
        low=0.0,
        high=100_000.0,
        default=0.0,
        source="current policy: no tax",
        section="policy",
        reform=True,
    ),
    _p(
        name="subsidy",
        title="Vehicle subsidy per technology",
        description="Yearly subsidy per vehicle of each technology owned by an eligible household (income at "
        "most subsidy_income_limit): the annual equivalent of a purchase subsidy over the expected holding "
        "period (with the default replacement probability 0.06 and discount rate 2%, $7,500 once is about $590 "
        "a year). Outlays cost public funds at the marginal cost lambda (mcpf) and are financed by the rule "
        "subsidy_financing. " + _TECH_NOTE,
        unit="$/yr per vehicle",
        dims="technology",
        low=0.0,
        high=100_000.0,
        default=0.0,
        source="current policy: no subsidy; the US clean-vehicle credit is $7,500 per new car (IRC 30D)",
        section="policy",
        reform=True,
    ),
    _p(
        name="pass_through",
        title="Vehicle-tax pass-through to household prices",
        description="Share of the vehicle tax on each technology passed to the price households pay; sellers "
        "bear the rest (producer burden). The government collects the whole tax either way. " + _TECH_NOTE,
        unit="share",
        dims="technology",
        low=0.0,
        high=1.0,
        default=1.0,
        source="full pass-through (assumption; full pass-through was found for US state fuel taxes by Marion & "
        "Muehlegger 2011, JPubE 95, a source not verified here)",
        section="policy",
        reform=True,
    ),
    _p(
        name="subsidy_income_limit",
        title="Income limit of subsidy eligibility",
        description="Households with an income above this limit receive no subsidy (a purchase-subsidy cap "
        "by income). inf: no limit. Households judge future eligibility by today's limit.",
        unit="$/yr household income",
        low=0.0,
        high=None,
        default=math.inf,
        allow_inf=True,
        source="no limit; the US clean-vehicle credit (IRC 30D, 2023) excludes incomes above $150,000 "
        "(single) / $300,000 (joint) (not verified here)",
        section="policy",
        reform=True,
    ),
    _p(
        name="dividend_share",
        title="Revenue recycling: dividend share",
        description="Share of the round's net revenue (taxes collected minus subsidy outlays, when positive) "
        "returned lump-sum as a dividend, per household or per person (dividend_basis) and weighted by "
        "dividend_weights. A transfer: it changes incomes, not choices; welfare values the public funds it uses "
        "at lambda - 1.",
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
        description="Relative dividend per household (or per person, with dividend_basis = person) in each "
        "income decile; all equal = an equal dividend. Ten values (a list, or a {decile: value} map with keys "
        "1-10); at least one must be positive.",
        unit="relative weight",
        dims="decile",
        low=0.0,
        high=1000.0,
        default=1.0,
        source="equal (a per-capita carbon dividend, as in Fremstad & Paul 2019)",
        section="policy",
        reform=True,
    ),
    # ------------------------------------------------------------ scenario (config + reforms)
    _p(
        name="prices",
        title="Yearly fixed cost of a vehicle",
        description="Yearly cost of owning a vehicle of each technology, excluding energy (depreciation, "
        "finance, insurance, maintenance, fees): AAA's total cost at 15,000 miles minus the energy cost at this "
        "economy's cost per mile. A change in a reform or baseline is posted (households know prices) and is a "
        "real cost, not public revenue. The first technology is the outside option (no car). " + _TECH_NOTE,
        unit="$/yr per vehicle",
        dims="technology",
        low=0.0,
        default=[0.0, 5457.0, 8056.0, 8448.0],
        source="AAA (2022) Your Driving Costs: small sedan $8,184, hybrid $9,691 (not verified here), electric "
        "$9,048 a year at 15,000 miles, less 15,000 x the cost per mile (18.2, 10.9 and 4.0 cents)",
        section="scenario",
        config="economy.prices",
        reform=True,
    ),
    _p(
        name="grid_intensity",
        title="Grid emissions intensity",
        description="CO2 per kWh of electricity used for charging; with kwh_per_mile it sets the electric "
        "car's emissions per mile. In a config: a path by year (a list; the last value stays), in a reform: "
        "{round: value}.",
        unit="kg CO2/kWh",
        low=0.0,
        high=2.0,
        default=0.39,
        source="EIA: US utility-scale generation emitted 0.86 lb CO2/kWh in 2022 (0.81 lb in 2023)",
        section="scenario",
        config="economy.grid_intensity",
        reform=True,
    ),
    _p(
        name="scc",
        title="Social cost of carbon",
        description="Damage of one tonne of CO2 in the year of emission. None (the default): the US EPA (2023) "
        "SC-CO2 of each year (from start_year on; the 2080 value after 2080) at the economy's discount rate, "
        "which must then be 0.015, 0.02 or 0.025 (the EPA's near-term rates), converted to 2022 dollars "
        "(dollar_factor); a number: that SCC every year, in 2022 dollars. A reform may replace it from a "
        "round on.",
        unit="$/tCO2",
        low=0.0,
        default=None,
        source="US EPA (2023) SC-GHG report: $212 for 2025 emissions at a 2% near-term rate (2020 dollars); "
        "$120/$190/$340 for 2020 at 2.5%/2%/1.5%",
        section="scenario",
        config="economy.scc",
        reform=True,
    ),
    _p(
        name="mcpf",
        title="Marginal cost of public funds",
        description="lambda: welfare values the net public budget (revenue - subsidy outlays - dividends) at "
        "lambda - 1 per dollar, W = sum(v - p) - damages + (lambda - 1)(R - S - dividends).",
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
        name="values",
        title="Gross value of a vehicle",
        description="Mean yearly value of owning a vehicle of each technology, per vehicle, before its fixed "
        "cost and energy (the outside option's is 0). A household's net value of technology j is vehicles x "
        "(value_j + area shift + income slope x log(income / median) - price_j - cost per mile_j x miles) + "
        "the decile's ownership intercept + an idiosyncratic term. " + _TECH_NOTE,
        unit="$/yr per vehicle",
        dims="technology",
        default=[0.0, 9000.0, 9725.0, 8755.0],
        source="this project's calibration: informed households with no policy own 80% gasoline, 8% hybrid and "
        "11% electric vehicles (with rational_temperature, car_need_sd and the income slope: a long-run gasoline "
        "elasticity of -0.68 and 73% of electric vehicles in the top income quintile)",
        section="economy",
        config="economy.values",
    ),
    _p(
        name="mpg",
        title="Fuel economy",
        description="Miles per gallon of gasoline of each technology (0: uses no gasoline). " + _TECH_NOTE,
        unit="miles/gallon",
        dims="technology",
        low=0.0,
        default=[0.0, 22.0, 36.7, 0.0],
        source="EPA-420-F-23-014: the average gasoline vehicle on the road, about 22 mpg at 11,500 miles a "
        "year (4.6 t CO2); hybrid 40% less fuel per mile (assumption, sensitivity range)",
        section="economy",
        config="economy.mpg",
    ),
    _p(
        name="kwh_per_mile",
        title="Electricity per mile",
        description="Electricity of each technology per mile, charging losses included. " + _TECH_NOTE,
        unit="kWh/mile",
        dims="technology",
        low=0.0,
        default=[0.0, 0.0, 0.0, 0.365],
        source="0.365 kWh/mile (AAA; not verified here, sensitivity range 0.30-0.45)",
        section="economy",
        config="economy.kwh_per_mile",
    ),
    _p(
        name="gasoline_price",
        title="Gasoline price",
        description="Retail price of gasoline before any carbon tax.",
        unit="$/gallon",
        low=0.0,
        default=3.999,
        source="AAA (2022) Your Driving Costs: $3.999 a gallon (weighted average, first five months of 2022)",
        section="economy",
        config="economy.gasoline_price",
    ),
    _p(
        name="electricity_price",
        title="Electricity price for charging",
        description="Price of electricity for charging before any carbon tax.",
        unit="$/kWh",
        low=0.0,
        default=0.1096,
        source="AAA (2022): 4.0 cents a mile charging at home, divided by 0.365 kWh/mile",
        section="economy",
        config="economy.electricity_price",
    ),
    _p(
        name="gasoline_co2",
        title="CO2 per gallon of gasoline",
        description="Tailpipe CO2 of one gallon of gasoline.",
        unit="kg CO2/gallon",
        low=0.0,
        default=8.887,
        source="EPA-420-F-23-014: 8,887 grams of CO2 per gallon",
        section="economy",
        config="economy.gasoline_co2",
    ),
    _p(
        name="miles_per_vehicle",
        title="Miles per vehicle",
        description="Average yearly miles of a vehicle at today's cost per mile (rural vehicles drive "
        "area_miles times more than urban ones, with this average).",
        unit="miles/yr",
        low=0.0,
        default=11_500.0,
        source="EPA-420-F-23-014: about 11,500 miles a year",
        section="economy",
        config="economy.miles_per_vehicle",
    ),
    _p(
        name="area_miles",
        title="Miles by area",
        description="Relative miles per vehicle in each area (group_names), normalised to miles_per_vehicle "
        "on average.",
        unit="relative",
        low=0.0,
        default=[1.0, 1.33],
        source="suburban households drive 31-35% more than urban ones (Kahn 2000, cited by Hughes, Knittel & "
        "Sperling 2008)",
        section="economy",
        config="economy.area_miles",
    ),
    _p(
        name="miles_elasticity",
        title="Elasticity of miles to the cost per mile",
        description="Miles driven respond to the cost per mile c: m = m0 (c / c0)^e (the intensive margin); "
        "the consumer surplus change is -m0 c0 ((c/c0)^(1+e) - 1) / (1 + e).",
        unit="-",
        low=-0.99,
        high=0.0,
        default=-0.15,
        source="Small & Van Dender (2007): long-run rebound 10.7% (1997-2001) to 22.2% (1966-2001 average), short "
        "run 2.2-4.5%; Gillingham (2014): medium-run -0.22 in California",
        section="economy",
        config="economy.miles_elasticity",
    ),
    _p(
        name="replacement_prob",
        title="Vehicle replacement probability",
        description="Share of households that replace their vehicles (re-choose their technology, or none) each "
        "year; the others keep them. It sets how fast the fleet's technology mix can change.",
        unit="share per year",
        low=0.0,
        high=1.0,
        default=0.06,
        source="S&P Global Mobility (2025): 16 million new registrations a year over 289 million vehicles in "
        "operation (5.5%), scrappage 4.5%, average age 12.8 years",
        section="economy",
        config="economy.replacement_prob",
    ),
    _p(
        name="burn_in",
        title="Burn-in years",
        description="Years simulated under the baseline policy before round 0, so that the fleet and the "
        "households' experience start from a steady state (not all bought under the round-0 policy).",
        unit="years",
        type="int",
        low=0,
        high=1000,
        default=30,
        source="this project's default (about two expected holding periods at replacement_prob 0.06)",
        section="economy",
        config="economy.burn_in",
    ),
    _p(
        name="horizon",
        title="Horizon",
        description="Years simulated after the burn-in; reform rounds run 0 to horizon - 1.",
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
        name="start_year",
        title="Calendar year of round 0",
        description="The year of round 0: it picks the SCC of each round from the EPA path.",
        unit="year",
        type="int",
        low=2020,
        high=2080,
        default=2025,
        source="this project's default",
        section="economy",
        config="economy.start_year",
    ),
    _p(
        name="discount",
        title="Discount rate",
        description="Yearly discount rate of welfare (weights (1 + r)^-t, round 0 undiscounted), of informed "
        "households' look-ahead, and the rate whose EPA SCC path is used (0.015, 0.02 or 0.025, the EPA's "
        "near-term Ramsey rates) unless scc is set.",
        unit="per year",
        low=0.0,
        high=1.0,
        default=0.02,
        source="US EPA (2023): SCC paths at near-term rates of 1.5%, 2% and 2.5% (2% central)",
        section="economy",
        config="economy.discount",
    ),
    _p(
        name="dollar_factor",
        title="Price level of the SCC",
        description="Converts the EPA's 2020 dollars to this economy's 2022 dollars (the AAA's).",
        unit="2022 $ per 2020 $",
        low=0.0,
        default=1.1308,
        source="BLS CPI-U annual averages: 292.655 (2022) / 258.811 (2020)",
        section="economy",
        config="economy.dollar_factor",
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
        name="value_sd",
        title="Idiosyncratic value dispersion",
        description="Standard deviation of a household's persistent idiosyncratic value of each technology.",
        unit="$/yr",
        low=0.0,
        default=1000.0,
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
    _p(
        name="foresight",
        title="Foresight of households",
        description="holding_period: a household choosing a vehicle values the posted policy (taxes, subsidies, "
        "the carbon tax's effect on its driving costs) over its expected holding period under the announced "
        "schedule, discounted at the discount rate and the replacement probability, as a yearly equivalent; a "
        "principal that announces nothing is expected to keep today's rates. myopic: this year's rates only.",
        unit="-",
        type="str",
        choices=["holding_period", "myopic"],
        default="holding_period",
        source="this project's modelling choice",
        section="economy",
        config="economy.foresight",
    ),
    _p(
        name="carbon_tax_default",
        title="Carbon tax under vehicle-incentive principals",
        description="The carbon tax, as a share of the SCC, in force under the principals that set only vehicle "
        "incentives (constant, best_constant, the oracles, the learned governments): 1 = they act on top of "
        "the Pigouvian carbon tax. none pays no carbon tax; pigouvian sets the share 1 and no vehicle incentive.",
        unit="share of SCC",
        low=0.0,
        high=10.0,
        default=1.0,
        source="this project's design",
        section="economy",
        config="economy.carbon_tax_default",
    ),
    _p(
        name="dividend_default",
        title="Dividend share under the compared principals",
        description="Share of the positive net revenue (taxes - subsidy outlays) returned to households as a "
        "dividend under the principals of the comparison (all but reform files, which set dividend_share): with 1 "
        "a government cannot gain welfare by raising revenue, and only a deficit (subsidies beyond revenue) costs "
        "lambda - 1 per dollar; so on informed households the Pigouvian carbon tax is first best at any lambda.",
        unit="share",
        low=0.0,
        high=1.0,
        default=1.0,
        source="this project's design (a carbon fee and dividend)",
        section="economy",
        config="economy.dividend_default",
    ),
    _p(
        name="subsidy_financing",
        title="Who pays for the net budget",
        description="How the net public budget (subsidy outlays + dividends - revenue) is raised from (or, when "
        "negative, returned to) households in the distributional tables: income (in proportion to income, a "
        "flat income tax), household (equal per household) or person (equal per person).",
        unit="-",
        type="str",
        choices=["income", "household", "person"],
        default="income",
        source="this project's default (a proportional income tax)",
        section="economy",
        config="economy.subsidy_financing",
    ),
    _p(
        name="dividend_basis",
        title="Dividend basis",
        description="Whether dividends are equal per household or per person (household_size), times dividend_weights.",
        unit="-",
        type="str",
        choices=["household", "person"],
        default="household",
        source="per-person dividends as in Fremstad & Paul (2019)",
        section="economy",
        config="economy.dividend_basis",
    ),
    # ------------------------------------------------------------ households: income and ownership
    _p(
        name="income_median",
        title="Median household income",
        description="Household income is lognormal: log y ~ N(log income_median, income_sigma^2), drawn from "
        "its own random stream (so it never changes the other draws). It sets the income deciles (ownership, "
        "vehicles, household size, EV propensity, the distributional tables), the subsidy income limit and "
        "the financing of the net budget.",
        unit="$/yr",
        low=1.0,
        default=80_610.0,
        source="US Census Bureau, Income in the United States: 2023 (P60-282, September 2024): real median "
        "household income $80,610 in 2023 (2023 dollars; used as 2022 dollars, a 4% difference)",
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
        source="matches the US household income Gini of 0.485 in 2023 (Census P60-282; not verified here)",
        section="households",
        config="households.income_sigma",
    ),
    _p(
        name="no_car_share",
        title="Households without a vehicle",
        description="Share of households of each income decile without a vehicle under no policy; the "
        "decile's ownership intercept is calibrated to it (calibrate_ownership). Empty: no calibration (intercepts "
        "0). " + _DECILE_NOTE,
        unit="share",
        dims="decile",
        low=0.0,
        high=0.99,
        default=[0.195, 0.195, 0.195, 0.033, 0.033, 0.014, 0.014, 0.008, 0.013, 0.013],
        source=_NHTS,
        section="households",
        config="households.no_car_share",
    ),
    _p(
        name="vehicles",
        title="Vehicles per car-owning household",
        description="Vehicles of a household that owns any, by income decile: they scale its fixed costs, "
        "vehicle taxes and subsidies, miles and values. " + _DECILE_NOTE,
        unit="vehicles",
        dims="decile",
        low=1.0,
        high=10.0,
        default=[1.57, 1.57, 1.57, 1.96, 1.96, 2.22, 2.22, 2.40, 2.44, 2.44],
        source=_NHTS + " (means over 1, 2 and 3+ vehicles, 3+ counted as 3.3, among owners)",
        section="households",
        config="households.vehicles",
    ),
    _p(
        name="household_size",
        title="Persons per household",
        description="Persons per household by income decile (per-person dividends and financing). " + _DECILE_NOTE,
        unit="persons",
        dims="decile",
        low=1.0,
        high=20.0,
        default=[1.6, 1.9, 2.2, 2.4, 2.5, 2.6, 2.8, 2.9, 3.0, 3.2],
        source="assumption rising with income, mean 2.51 (the US average household in 2023, Census via "
        "Statista); the gradient is not from a verified source: treat as a sensitivity range",
        section="households",
        config="households.household_size",
    ),
    _p(
        name="income_value_slope",
        title="Income effect on values",
        description="Shift of each technology's value per vehicle per log point of income above the median: "
        "value_j += slope_j x log(y / median): richer households value electric cars more (home charging, a "
        "second car for long trips). " + _TECH_NOTE,
        unit="$/yr per vehicle per log point",
        dims="technology",
        low=-100_000.0,
        high=100_000.0,
        default=[0.0, 0.0, 0.0, 930.0],
        source="this project's calibration to the concentration of EV subsidies at the top of the income "
        "distribution (Borenstein & Davis 2016: the top quintile received about 90% of US EV credits "
        "2006-2012; NBER w32688, 2024: more than 80%)",
        section="households",
        config="households.income_value_slope",
    ),
    _p(
        name="budget_share",
        title="Car budget as a share of income",
        description="A household's yearly car budget is budget_share x income; a technology whose yearly "
        "fixed cost exceeds it is worth the shortfall less (the cost of credit, dollar for dollar). 0: no budget "
        "limit (the default).",
        unit="share of income",
        low=0.0,
        high=1.0,
        default=0.0,
        source="none by default (assumption)",
        section="households",
        config="households.budget_share",
    ),
    _p(
        name="car_need_sd",
        title="Dispersion of the need for a car",
        description="Standard deviation of a household's persistent value of having a car at all, whatever its "
        "technology: few households are near the margin of owning one, so ownership responds little to costs.",
        unit="$/yr",
        low=0.0,
        default=4000.0,
        source="this project's calibration: car ownership a smaller part of the long-run gasoline response than "
        "fuel economy and miles, as in Brons et al. (2008)",
        section="households",
        config="households.car_need_sd",
    ),
    _p(
        name="ownership_intercepts",
        title="Ownership intercepts",
        description="The value of owning a car (any technology) per income decile, $/yr per household, added "
        "to every car option. Empty (the default): calibrated to no_car_share on the configured households, "
        "and kept for every evaluation setting and training population (they differ in what households know, "
        "not in what they value). " + _DECILE_NOTE,
        unit="$/yr",
        dims="decile",
        default=[],
        source="calibrated (scenarios.green_tax.economy.calibrate_ownership)",
        section="households",
        config="households.ownership_intercepts",
    ),
    _p(
        name="social_strength",
        title="Social learning strength",
        description="Experiences of other households a learning household learns from per year, each "
        "counted as one observation of the technology that household owns (a fraction: a probability per "
        "year); 0 turns social learning off (simulator.social).",
        unit="contacts/yr",
        low=0.0,
        high=10.0,
        default=0.25,
        source="assumption (sensitivity range 0-1); peers matter for clean-technology adoption: Bollinger & "
        "Gillingham (2012), Heutel & Muehlegger (2015)",
        section="households",
        config="households.social_strength",
    ),
    _p(
        name="social_scope",
        title="Whom households learn from",
        description="neighbours: households of the same area and income decile; random: anyone.",
        unit="-",
        type="str",
        choices=["neighbours", "random"],
        default="neighbours",
        source="this project's modelling choice",
        section="households",
        config="households.social_scope",
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
    if p.choices is not None:
        kw = {"help": p.help(), "choices": list(p.choices)}
    if "default_factory" in overrides:
        pass
    elif isinstance(p.default, list):
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
    if d is None:
        return "none"
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
        "<!-- generated by `python -m scenarios.reform --write-docs` from scenarios/green_tax/params.py; "
        "do not edit -->",
        "",
        "Every parameter a config file, a reform file or a baseline file can set, with its unit, allowed",
        "range, default and source. Money is in 2022 dollars a year, per vehicle or per household as each unit "
        "says; welfare and the other totals of a run are sums over its years, discounted; emissions in tonnes of "
        "CO2.",
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
        '{"title": "Ramp and rebate", "carbon_tax_scc_share": {"3": 0.2, "7": 1}, "subsidy": {"0": {"electric": 590}}}',
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
