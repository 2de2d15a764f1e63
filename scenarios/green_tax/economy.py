"""The green-tax economy: households, their fleet, the driving and ownership margins, welfare and incidence.

One round is one year; money is in 2022 dollars per year (the AAA's), welfare totals are discounted sums
over the horizon. Every default and its source is in the parameter schema (:mod:`scenarios.green_tax.params`,
``docs/parameters.md``); the equations are these.

**Households.** N households, each with an income y_i (lognormal, its own random stream), its income
decile d(i), an area a(i) (urban or rural) and, if it owns cars, ``vehicles_d`` of them (2001 NHTS by
income). The options are K technologies: ``none`` (the outside option: no car), ``gasoline``,
``hybrid`` and ``electric``. The household-group index g = (area, decile) has 20 values; miles,
vehicles and household size depend on g only. A household's yearly net value of option j > 0 is

    V_ij = veh_g * (value_j + shift_{a,j} + slope_j * log(y_i / median) - price_j - c_j * m_g)
           + alpha_d + sd * z_ij,

and V_i0 = 0 for no car; ``c_j`` is the energy cost per mile (gasoline price / mpg + electricity
price x kWh/mile), ``m_g`` the miles per vehicle at today's cost (EPA's 11,500 on average, rural
vehicles 1.33 times urban ones), z standard normal, persistent. ``alpha_d`` is calibrated per decile
so that informed households without any policy leave the share ``no_car_share_d`` of the decile
without a car (:func:`calibrate_ownership`).

**Fleet.** Households start from a steady state: the economy runs ``burn_in`` years under the
baseline policy before round 0 (:class:`GreenModel`). Each year a household replaces its vehicles
with probability ``replacement_prob`` (new registrations are about 5.5% of the US fleet a year) and
then re-chooses among all K options (or none); the others keep what they have.

**Margins.** A carbon tax ``tau`` ($/t) raises the cost per mile of technology j by
``dc_j = tau * e_j(t)``, with emissions per mile on one basis: ``e_j = gasoline_co2 / mpg_j +
kwh_per_mile_j * grid(t)`` (gasoline 404 g, electric 142 g at 0.39 kg/kWh). Miles respond with a
constant elasticity (the intensive margin): ``m_gj(dc) = veh_g m_g ((c_j + dc_j)/c_j)^e``, and the
household's driving surplus changes by ``dCS_gj = -veh_g m_g c_j ((1 + dc_j/c_j)^(1+e) - 1)/(1+e)``.
A vehicle tax, a subsidy or a price change moves only the value of owning (the fleet and the outside
option), per vehicle. So a tax on fuel and a tax on owning differ, and a uniform tax on every car moves
households to no car.

**Choices and learning.** Informed (rational) households know V and choose by logit with a taste
shock of scale ``rational_temperature`` that persists while they keep the car and counts in their
utility (McFadden random utility). Learning households (epsilon-greedy, softmax, ... of
:mod:`simulator.learners`) learn V from their own yearly experience (plus noise ``reward_noise``),
from priors that are right on average for their group except for pessimists about the electric car,
and, with ``social_strength`` > 0, from the experience of others (:mod:`simulator.social`). The policy
is posted: every household adds the policy's change to its value of each option before choosing. With
``foresight = holding_period`` that change is the yearly equivalent of the announced schedule over the
expected holding period: ``(1 - q) sum_s q^s u_{t+s}`` with ``q = (1 - replacement_prob) / (1 + r)``
(a principal that announces nothing is expected to keep today's rates).

**Welfare** (per round, from the ledger's sums; the net public budget valued at the marginal cost of
public funds lambda, as in public economics):

    W_t = sum_i (v - p)_i - D_t + (lambda - 1) (R_t - S_t - Div_t) - admin_t,

with ``sum (v - p)`` the realised values at resource cost (taxes are transfers: the driving surplus
under the carbon tax plus the tax paid per mile), ``D_t = SCC(t) x emissions``, R the carbon and
vehicle taxes collected, S the subsidy outlays, Div the dividends. Totals discount at the rate of the
SCC path (EPA 2023, by emission year, at 1.5%, 2% or 2.5%). On informed households the Pigouvian
carbon tax (``carbon_tax = SCC(t)``) attains first best at lambda = 1.

**Incidence.** Per household and year: net surplus = realised value (v - p) + the posted policy's
change (driving surplus, vehicle tax borne, subsidy received) + dividend - its share of the net budget
(``subsidy_financing``: in proportion to income by default). Pass-through: a household bears
``pass_through x tax`` of a vehicle tax, sellers the rest (the producer burden).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator import IncentiveGame, IncentiveModel, Observation, Population, TypeDistribution, learner_class
from simulator.config import option
from simulator.population import Component, split_counts

from .params import DECILES, param_option

__all__ = [
    "DECILES",
    "SETTINGS",
    "Economy",
    "GreenModel",
    "HouseholdMix",
    "Households",
    "Instruments",
    "build",
    "calibrate_ownership",
    "draw_households",
    "elasticities",
    "emissions_per_mile",
    "episode_totals",
    "informed_mix",
    "pin_ownership",
    "scc_path",
    "setting_mix",
]

SCC_FILE = Path(__file__).with_name("scc_epa2023.json")
KG_PER_T = 1000.0


# ============================================================================== configuration
@dataclass
class Economy:
    """Technologies, costs, emissions, the fleet, public finance and the SCC path."""

    technologies: list[str] = option(
        default_factory=lambda: ["none", "gasoline", "hybrid", "electric"],
        help="options (K = their number); the first is the outside option (no car)",
    )
    clean: int = option(3, help="index of the clean technology (clean_share, subsidies)", low=1)
    dirty: int = option(1, help="index of the dirty technology (dirty_share)", low=1)
    prices: list[float] = param_option("prices")
    values: list[float] = param_option("values")
    mpg: list[float] = param_option("mpg")
    kwh_per_mile: list[float] = param_option("kwh_per_mile")
    gasoline_price: float = param_option("gasoline_price")
    electricity_price: float = param_option("electricity_price")
    gasoline_co2: float = param_option("gasoline_co2")
    grid_intensity: list[float] = param_option("grid_intensity", default_factory=lambda: [0.39])
    miles_per_vehicle: float = param_option("miles_per_vehicle")
    miles_elasticity: float = param_option("miles_elasticity")
    group_names: list[str] = option(default_factory=lambda: ["urban", "rural"], help="areas")
    group_shares: list[float] = option(default_factory=lambda: [0.6, 0.4], help="share of each area", low=0, high=1)
    group_shifts: list[list[float]] = option(
        default_factory=lambda: [[0.0, 0.0, 0.0, 600.0], [0.0, 0.0, 0.0, -750.0]],
        help="value shift of each technology per area, $/yr per vehicle (electric cars suit urban households)",
    )
    area_miles: list[float] = param_option("area_miles")
    replacement_prob: float = param_option("replacement_prob")
    burn_in: int = param_option("burn_in")
    horizon: int = param_option("horizon")
    start_year: int = param_option("start_year")
    discount: float = param_option("discount")
    scc: float | None = param_option("scc")
    dollar_factor: float = param_option("dollar_factor")
    mcpf: float = param_option("mcpf")
    admin_cost: float = param_option("admin_cost")
    value_sd: float = param_option("value_sd")
    reward_noise: float = param_option("reward_noise")
    foresight: str = param_option("foresight")
    carbon_tax_default: float = param_option("carbon_tax_default")
    dividend_default: float = param_option("dividend_default")
    subsidy_financing: str = param_option("subsidy_financing")
    dividend_basis: str = param_option("dividend_basis")

    def check(self) -> None:
        """Lengths agree; indices valid; shares sum to one; the SCC path exists at the discount rate."""
        k = len(self.technologies)
        if k < 2:
            raise ValueError("technologies: need the outside option and at least one technology")
        if len(set(self.technologies)) != k or len(set(self.group_names)) != len(self.group_names):
            raise ValueError("technologies, group_names: the names must be distinct")
        for name in ("prices", "values", "mpg", "kwh_per_mile"):
            if len(getattr(self, name)) != k:
                raise ValueError(f"{name}: needs {k} values (one per technology), got {len(getattr(self, name))}")
        if not (0 < self.clean < k and 0 < self.dirty < k):
            raise ValueError(f"clean/dirty: must be technology indices in [1, {k - 1}] (0 is no car)")
        cost = np.asarray(self.mpg) > 0
        elec = np.asarray(self.kwh_per_mile) > 0
        if cost[0] or elec[0] or self.prices[0] != 0 or self.values[0] != 0:
            raise ValueError("technologies: the first is the outside option: price, value, mpg and kWh/mile 0")
        if not (cost | elec)[1:].all():
            raise ValueError("mpg, kwh_per_mile: every vehicle technology needs gasoline or electricity")
        ng = len(self.group_names)
        if len(self.group_shares) != ng or len(self.group_shifts) != ng or len(self.area_miles) != ng:
            raise ValueError("group_shares, group_shifts and area_miles need one entry per area (group_names)")
        if any(len(row) != k for row in self.group_shifts):
            raise ValueError(f"group_shifts: each row needs {k} values")
        if abs(sum(self.group_shares) - 1.0) > 1e-6:
            raise ValueError(f"group_shares: must sum to 1, got {sum(self.group_shares)}")
        if not self.grid_intensity or min(self.grid_intensity) < 0:
            raise ValueError("grid_intensity: a path of one or more values >= 0, kg CO2/kWh")
        if self.replacement_prob <= 0:
            raise ValueError("replacement_prob: must be > 0")
        if self.scc is None and _rate_key(self.discount) not in _scc_table()["rates"]:
            raise ValueError(
                f"discount: the EPA (2023) SCC path exists at 0.015, 0.02 and 0.025, got {self.discount}; "
                "set scc (a constant SCC) for another rate"
            )

    @property
    def k(self) -> int:
        """Number of options K (the outside option included)."""
        return len(self.technologies)

    @property
    def n_areas(self) -> int:
        """Number of areas."""
        return len(self.group_names)


@dataclass
class HouseholdMix:
    """Who the households are: income, ownership, learner families, pessimism, social learning."""

    n_households: int = option(10_000, help="households N", low=1, high=200_000_000)
    rational_share: float = option(0.2, help="share of informed households (rational)", low=0.0, high=1.0)
    rational_temperature: float = option(
        440.0,
        help="logit taste-shock scale of informed households, $/yr per household (calibrated: long-run "
        "gasoline elasticity)",
        low=0.0,
    )
    learners: dict[str, Any] = option(
        default_factory=lambda: {
            "epsilon_greedy": {"weight": 0.5, "epsilon": 0.05},
            "softmax": {"weight": 0.5, "temperature": 250.0},
        },
        help="learning households: {family: {weight, parameters...}} (parameters may be distributions)",
    )
    pessimistic_share: float = option(
        0.5, help="share of learning households pessimistic about the clean technology", low=0.0, high=1.0
    )
    pessimism_depth: float = option(
        2500.0, help="how far below the truth pessimists' prior of the clean technology is, $/yr", low=0.0
    )
    prior_weight: float = option(3.0, help="weight of the priors in pseudo-years of experience", low=0.0)
    prior_noise: float = option(300.0, help="sd of individual prior errors, $/yr", low=0.0)
    income_median: float = param_option("income_median")
    income_sigma: float = param_option("income_sigma")
    no_car_share: list[float] = param_option("no_car_share")
    vehicles: list[float] = param_option("vehicles")
    household_size: list[float] = param_option("household_size")
    income_value_slope: list[float] = param_option("income_value_slope")
    budget_share: float = param_option("budget_share")
    car_need_sd: float = param_option("car_need_sd")
    ownership_intercepts: list[float] = param_option("ownership_intercepts")
    social_strength: float = param_option("social_strength")
    social_scope: str = param_option("social_scope")

    def check(self, k: int | None = None) -> None:
        """Vector lengths (the technologies' too when K is given)."""
        for name in ("no_car_share", "vehicles", "household_size", "ownership_intercepts"):
            optional = name in ("no_car_share", "ownership_intercepts")
            if len(getattr(self, name)) != DECILES and not (optional and not getattr(self, name)):
                raise ValueError(f"{name}: needs {DECILES} values (one per income decile)")
        if k is not None and self.income_value_slope and len(self.income_value_slope) != k:
            raise ValueError(f"income_value_slope: needs {k} values (one per technology) or none")


# ============================================================================== populations
SETTINGS = ("headline", "rational", "deep_pessimism", "unseen_family")
"""The reported evaluation populations: the headline mix, everyone informed, and two held-out mixes."""


def setting_mix(mix: HouseholdMix, setting: str, learner: str | None = None) -> HouseholdMix:
    """The household mix of an evaluation setting.

    ``rational``: everyone informed. ``deep_pessimism``: 80% of learners pessimistic by $4,000 (outside
    the training ranges). ``unseen_family``: Thompson-sampling households (a family absent from training).
    ``learner`` replaces the learning families of the setting.
    """
    if setting == "rational":
        return dataclasses.replace(mix, rational_share=1.0)
    if setting == "deep_pessimism":
        mix = dataclasses.replace(mix, pessimistic_share=0.8, pessimism_depth=4000.0)
    elif setting == "unseen_family":
        mix = dataclasses.replace(mix, learners={"thompson": {"weight": 1.0, "sigma": 800.0}})
    elif setting != "headline":
        raise ValueError(f"unknown setting {setting!r}")
    if learner:
        mix = dataclasses.replace(mix, learners={learner: {"weight": 1.0}})
    return mix


def informed_mix(mix: HouseholdMix) -> HouseholdMix:
    """The same households, informed: learners replaced by exact best responders (the first-best reference)."""
    return dataclasses.replace(mix, learners={"best_response": {"weight": 1.0, "temperature": 0.0}})


# ============================================================================== the SCC path
@functools.cache
def _scc_table() -> dict[str, Any]:
    return json.loads(SCC_FILE.read_text(encoding="utf-8"))


def _rate_key(rate: float) -> str:
    return f"{rate:g}"


def scc_path(econ: Economy, rounds: int | None = None) -> np.ndarray:
    """SCC of each round ($/tCO2, the economy's dollars): ``economy.scc`` if set, else the EPA (2023) path.

    The EPA path is taken at the discount rate; round t is the year ``start_year + t``; years after the
    table's last (2080) keep its value.
    """
    t = econ.horizon if rounds is None else rounds
    if econ.scc is not None:
        return np.full(t, float(econ.scc))
    table = _scc_table()
    values = np.asarray(table["rates"][_rate_key(econ.discount)], dtype=np.float64)
    years = np.asarray(table["years"])
    idx = np.clip(econ.start_year + np.arange(t) - years[0], 0, len(years) - 1)
    return values[idx] * econ.dollar_factor


def grid_path(econ: Economy, rounds: int) -> np.ndarray:
    """Grid intensity of each round, kg CO2/kWh (the config's path, the last value carried forward)."""
    g = np.asarray(econ.grid_intensity, dtype=np.float64)
    return g[np.minimum(np.arange(rounds), len(g) - 1)]


def emissions_per_mile(econ: Economy, grid: float) -> np.ndarray:
    """(K,) tonnes of CO2 per mile of each option at grid intensity ``grid`` (kg/kWh)."""
    mpg = np.asarray(econ.mpg, dtype=np.float64)
    gal = np.divide(1.0, mpg, out=np.zeros_like(mpg), where=mpg > 0)
    return (gal * econ.gasoline_co2 + np.asarray(econ.kwh_per_mile) * grid) / KG_PER_T


def cost_per_mile(econ: Economy) -> np.ndarray:
    """(K,) energy cost per mile of each option at today's prices ($/mile; 0 for no car)."""
    mpg = np.asarray(econ.mpg, dtype=np.float64)
    gal = np.divide(1.0, mpg, out=np.zeros_like(mpg), where=mpg > 0)
    return gal * econ.gasoline_price + np.asarray(econ.kwh_per_mile) * econ.electricity_price


def gallons_per_mile(econ: Economy) -> np.ndarray:
    """(K,) gallons of gasoline per mile."""
    mpg = np.asarray(econ.mpg, dtype=np.float64)
    return np.divide(1.0, mpg, out=np.zeros_like(mpg), where=mpg > 0)


# ============================================================================== households
@dataclass
class Households:
    """Drawn households: values, groups, learner kinds, income.

    Attributes:
        values: (n, K) net values V_ij (no policy), $/yr.
        group: (n,) group index g = area * 10 + decile - 1.
        decile: (n,) income decile 1-10.
        area: (n,) area index.
        kind: (n,) 0 informed, 1 learner.
        pessimist: (n,) bool.
        income: (n,) income, $/yr.
        population: the learners (rational households first, then each family).
        alpha: (10,) the deciles' ownership intercepts.
    """

    values: np.ndarray
    group: np.ndarray
    decile: np.ndarray
    area: np.ndarray
    kind: np.ndarray
    pessimist: np.ndarray
    income: np.ndarray
    population: Population
    alpha: np.ndarray
    labels: list[str] = field(default_factory=list)


def draw_income(mix: HouseholdMix, n: int, rng: np.random.Generator) -> np.ndarray:
    """Household incomes, lognormal: log y ~ N(log income_median, income_sigma^2)."""
    return mix.income_median * np.exp(mix.income_sigma * rng.standard_normal(n))


def income_deciles(income: np.ndarray) -> np.ndarray:
    """Decile 1-10 of each household by income rank (ties broken by order)."""
    n = len(income)
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(income, kind="stable")] = np.arange(n)
    return (ranks * DECILES // max(n, 1) + 1).astype(np.int64)


def group_tables(econ: Economy, mix: HouseholdMix) -> dict[str, np.ndarray]:
    """Per group g = area * 10 + decile - 1: vehicles, miles per vehicle, persons (arrays of G = areas x 10)."""
    na = econ.n_areas
    veh = np.tile(np.asarray(mix.vehicles, dtype=np.float64), na)
    factor = np.asarray(econ.area_miles, dtype=np.float64)
    factor = factor / float((factor * np.asarray(econ.group_shares)).sum())
    miles = np.repeat(econ.miles_per_vehicle * factor, DECILES)
    persons = np.tile(np.asarray(mix.household_size, dtype=np.float64), na)
    return {"vehicles": veh, "miles": miles, "persons": persons, "decile": np.tile(np.arange(1, 11), na)}


def _base_values(
    econ: Economy, mix: HouseholdMix, income: np.ndarray, decile: np.ndarray, area: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """V_ij without the ownership intercept (n, K)."""
    k = econ.k
    tab = group_tables(econ, mix)
    g = area * DECILES + decile - 1
    veh = tab["vehicles"][g][:, None]
    miles = tab["miles"][g][:, None]
    per_vehicle = np.asarray(econ.values)[None, :] + np.asarray(econ.group_shifts, dtype=np.float64)[area]
    if mix.income_value_slope:
        slope = np.asarray(mix.income_value_slope, dtype=np.float64)
        per_vehicle = per_vehicle + np.log(income / mix.income_median)[:, None] * slope[None, :]
    per_vehicle = per_vehicle - np.asarray(econ.prices)[None, :] - cost_per_mile(econ)[None, :] * miles
    v = veh * per_vehicle + econ.value_sd * z[:, :k]
    v[:, 1:] += mix.car_need_sd * z[:, k : k + 1]  # the household's need for a car, whatever its technology
    if mix.budget_share > 0:  # the shortfall below the car budget is paid again as the cost of credit
        v = v - np.maximum(np.asarray(econ.prices)[None, :] * veh - mix.budget_share * income[:, None], 0.0)
    v[:, 0] = 0.0
    return v.reshape(len(income), k)


def _logit_no_car(v: np.ndarray, alpha: float, temp: float) -> np.ndarray:
    """P(no car) of each household given the intercept alpha, logit of scale temp (0: argmax)."""
    u = v.copy()
    u[:, 1:] += alpha
    if temp <= 0:
        return (u.argmax(axis=1) == 0).astype(np.float64)
    u = u / temp
    u -= u.max(axis=1, keepdims=True)
    p = np.exp(u)
    return p[:, 0] / p.sum(axis=1)


_CALIBRATION_FIELDS = (
    "rational_share",
    "rational_temperature",
    "income_median",
    "income_sigma",
    "no_car_share",
    "vehicles",
    "income_value_slope",
    "budget_share",
    "car_need_sd",
)


def _calibration_key(econ: Economy, mix: HouseholdMix) -> str:
    fields = {k: getattr(mix, k) for k in _CALIBRATION_FIELDS}
    return json.dumps([dataclasses.asdict(econ), fields], sort_keys=True, default=str)


@functools.lru_cache(maxsize=64)
def _calibrate(key: str) -> np.ndarray:
    econ_d, mix_d = json.loads(key)
    econ = Economy(**econ_d)
    mix = HouseholdMix(**mix_d, learners={})
    n = 20_000
    rng = np.random.default_rng([2024, 17])  # a fixed reference sample: the same economy for every seed
    income = draw_income(mix, n, rng)
    decile = income_deciles(income)
    area = rng.choice(econ.n_areas, size=n, p=np.asarray(econ.group_shares) / sum(econ.group_shares))
    z = rng.standard_normal((n, econ.k + 1))
    v = _base_values(econ, mix, income, decile, area, z)
    temp = mix.rational_temperature
    r = mix.rational_share
    alpha = np.zeros(DECILES)
    if not mix.no_car_share:  # no calibration: intercepts 0
        return alpha
    target = np.asarray(mix.no_car_share, dtype=np.float64)
    for d in range(DECILES):
        vd = v[decile == d + 1]
        lo, hi = -200_000.0, 200_000.0
        for _ in range(60):  # P(no car) falls with alpha: bisection
            mid = 0.5 * (lo + hi)
            share = r * _logit_no_car(vd, mid, temp).mean() + (1 - r) * _logit_no_car(vd, mid, 0.0).mean()
            lo, hi = (mid, hi) if share > target[d] else (lo, mid)
        alpha[d] = 0.5 * (lo + hi)
    return alpha


def calibrate_ownership(econ: Economy, mix: HouseholdMix) -> np.ndarray:
    """(10,) ownership intercepts alpha_d: with no policy, the share ``no_car_share_d`` of decile d has no car.

    The share is that of the mix: informed households choose by logit (taste shocks), learning
    households are counted at the argmax of their true values (what they learn towards). Solved by
    bisection on a fixed reference sample of 20,000 households (the same economy for every seed and
    population size); cached per configuration. ``mix.ownership_intercepts``, when set, is returned
    instead (:func:`pin_ownership`).
    """
    if mix.ownership_intercepts:
        return np.asarray(mix.ownership_intercepts, dtype=np.float64)
    return _calibrate(_calibration_key(econ, mix)).copy()


def pin_ownership(econ: Economy, base: HouseholdMix, mix: HouseholdMix) -> HouseholdMix:
    """``mix`` with the ownership intercepts calibrated on ``base``: the same households' preferences.

    The evaluation settings (everyone informed, other learners, deeper pessimism) and the training
    populations change what households know, not what they value: their intercepts are those of the
    configured households (``base``).
    """
    return dataclasses.replace(mix, ownership_intercepts=[float(a) for a in calibrate_ownership(econ, base)])


def draw_households(
    econ: Economy, mix: HouseholdMix, n: int, rng: np.random.Generator, income: np.ndarray | None = None
) -> Households:
    """Draw incomes, areas, values and learners; informed households first, then each learner family.

    ``income`` defaults to a draw from a child stream of ``rng`` (``rng.spawn``), which leaves the
    other draws unchanged.
    """
    econ.check()
    mix.check(econ.k)
    k = econ.k
    if income is None:
        income = draw_income(mix, n, rng.spawn(1)[0])
    decile = income_deciles(income)
    area = rng.choice(econ.n_areas, size=n, p=np.asarray(econ.group_shares) / sum(econ.group_shares))
    z = rng.standard_normal((n, k + 1))
    alpha = calibrate_ownership(econ, mix)
    values = _base_values(econ, mix, income, decile, area, z)
    values[:, 1:] += alpha[decile - 1][:, None]
    group = (area * DECILES + decile - 1).astype(np.int32)
    n_rat = round(mix.rational_share * n)
    weights = {f: float(dict(p).get("weight", 1.0)) for f, p in mix.learners.items()}
    n_learn = n - n_rat
    counts = split_counts(n_learn, list(weights.values())) if weights else np.zeros(0, int)
    kind = np.zeros(n, dtype=np.int8)
    kind[n_rat:] = 1
    pessimist = np.zeros(n, dtype=bool)
    pessimist[n_rat:] = rng.random(n_learn) < mix.pessimistic_share
    # the neutral prior: what households of the same group get on average, with individual errors
    n_groups = econ.n_areas * DECILES
    sums = np.zeros((n_groups, k))
    np.add.at(sums, group, values)
    sizes = np.maximum(np.bincount(group, minlength=n_groups), 1)[:, None]
    expected = (sums / sizes)[group]
    priors = expected + mix.prior_noise * rng.standard_normal((n, k))
    priors[pessimist, econ.clean] -= mix.pessimism_depth
    groups: list[tuple[str, Any]] = []
    if n_rat > 0:
        td = TypeDistribution(
            [
                Component(
                    "best_response",
                    {
                        "temperature": mix.rational_temperature,
                        "taste_shocks": 1.0 if mix.rational_temperature > 0 else 0,
                    },
                )
            ]
        )
        pop_r = td.sample_population(n_rat, k, rng, payoff_means=values[:n_rat])
        groups.extend(zip(["rational"], pop_r.learners, strict=True))
    start = n_rat
    for (family, params), m in zip(mix.learners.items(), counts, strict=False):
        if m == 0:
            continue
        p = {key: v for key, v in dict(params).items() if key != "weight"}
        accepted = getattr(learner_class(family), "params", {})
        if "initial_values" in accepted:
            p.setdefault("prior_weight", mix.prior_weight)
            p["initial_values"] = priors[start : start + m]
        td = TypeDistribution([Component(family, p)])
        pop = td.sample_population(int(m), k, rng, payoff_means=values[start : start + m])
        groups.append((family, pop.learners[0]))
        start += m
    population = Population(groups)
    return Households(
        values=values,
        group=group,
        decile=decile,
        area=area.astype(np.int32),
        kind=kind,
        pessimist=pessimist,
        income=income,
        population=population,
        alpha=alpha,
        labels=population.labels,
    )


# ============================================================================== policy instruments
@dataclass
class Instruments:
    """One round's policy (every money amount per vehicle-year unless said otherwise).

    Attributes:
        carbon_tax: $/tCO2 on gasoline and charging electricity.
        tax: (K,) statutory vehicle tax.
        subsidy: (K,) vehicle subsidy to eligible households.
        pass_through: (K,) share of the vehicle tax households bear.
        income_limit: subsidy eligibility limit ($/yr income; inf: none).
        dividend_share: share of positive net revenue paid as dividends.
        dividend_weights: (10,) relative dividend by income decile.
        price_change: (K,) change of the fixed cost per vehicle from the config's (posted, a real cost).
        energy_change: (K,) change of the energy cost per mile (a market price, a real cost).
        grid: grid intensity (kg/kWh) or None for the config's path.
        scc: damages per tonne or None for the config's path.
        mcpf: lambda or None for the config's.
    """

    carbon_tax: float
    tax: np.ndarray
    subsidy: np.ndarray
    pass_through: np.ndarray
    income_limit: float = math.inf
    dividend_share: float = 0.0
    dividend_weights: np.ndarray = field(default_factory=lambda: np.ones(DECILES))
    price_change: np.ndarray | None = None
    energy_change: np.ndarray | None = None
    grid: float | None = None
    scc: float | None = None
    mcpf: float | None = None

    @classmethod
    def from_incentives(cls, x: np.ndarray, carbon_tax: float) -> Instruments:
        """A principal's (K,) vehicle incentives (subsidy > 0, tax < 0) with a carbon tax."""
        x = np.asarray(x, dtype=np.float64)
        return cls(
            carbon_tax=float(carbon_tax),
            tax=np.maximum(-x, 0.0),
            subsidy=np.maximum(x, 0.0),
            pass_through=np.ones_like(x),
        )

    def key(self) -> tuple:
        """A hashable key of what the round's tables depend on."""

        def b(a: np.ndarray | None) -> bytes | None:
            return None if a is None else np.asarray(a, dtype=np.float64).tobytes()

        return (
            self.carbon_tax,
            b(self.tax),
            b(self.subsidy),
            b(self.pass_through),
            b(self.price_change),
            b(self.energy_change),
            self.grid,
        )

    def rates(self) -> np.ndarray:
        """The rates whose change costs the administrative cost."""
        return np.concatenate([[self.carbon_tax], self.tax, self.subsidy, self.pass_through, [self.income_limit]])


class PolicySource:
    """Where a round's instruments come from: a principal, or a schedule (reform)."""

    def instruments(self, t: int) -> Instruments:  # pragma: no cover - interface
        """The instruments of round t."""
        raise NotImplementedError

    def announced(self, t: int, rounds: int) -> list[Instruments]:
        """The instruments of rounds t .. t + rounds - 1 as announced at t (default: today's, kept)."""
        now = self.instruments(t)
        return [now] * rounds


# ============================================================================== the model
def _annuity_weights(econ: Economy, rounds: int) -> np.ndarray:
    """Look-ahead weights (1 - q) q^s, s = 0..rounds-1, the last one absorbing the tail q^(rounds-1)."""
    q = (1.0 - econ.replacement_prob) / (1.0 + econ.discount)
    w = (1.0 - q) * q ** np.arange(rounds)
    w[-1] = q ** (rounds - 1)  # the last announced rate stays: the rest of the sum
    return w


class GreenModel:
    """The economy over its horizon: an :class:`simulator.IncentiveModel` of the households plus the accounts.

    The households' choices, rewards, learning and fleet turnover run in the simulator (one
    vectorized step per year, posted per-household offsets); this class turns each round's
    instruments into those offsets (the margins above), runs the burn-in, social learning, and keeps
    the accounts from the ledger's group x option counts (one welfare computation).

    Args:
        econ: the economy.
        mix: the households.
        seed: the one seed (households, learning, noise).
        policy: a :class:`PolicySource` (use :func:`principal_policy` for a principal).
        n: households (default ``mix.n_households``).
        baseline: the burn-in's instruments, or a function of this model returning them (default: no policy).
        track_households: keep per-household accounts (net surplus, discounted and summed).
        device: IncentiveModel's device.
    """

    def __init__(
        self,
        econ: Economy,
        mix: HouseholdMix,
        seed: int,
        policy: PolicySource,
        *,
        n: int | None = None,
        baseline: Instruments | Callable[[GreenModel], Instruments] | None = None,
        track_households: bool = False,
        device: str = "cpu",
    ) -> None:
        from simulator.social import SocialLearning

        self.econ, self.mix = econ, mix
        n = int(n or mix.n_households)
        self.n = n
        k = econ.k
        rng = np.random.default_rng([seed, 7])
        income = draw_income(mix, n, np.random.default_rng([seed, 11]))
        self.hh = hh = draw_households(econ, mix, n, rng, income=income)
        tab = group_tables(econ, mix)
        self.g_veh, self.g_miles, self.g_persons = tab["vehicles"], tab["miles"], tab["persons"]
        self.g_decile = tab["decile"]
        self.n_groups = len(self.g_veh)
        self.cost = cost_per_mile(econ)
        self.gal = gallons_per_mile(econ)
        self.drives = self.cost > 0
        horizon = econ.horizon
        self.scc = scc_path(econ, horizon)
        self.grid = grid_path(econ, horizon)
        self.disc = (1.0 + econ.discount) ** -np.arange(horizon, dtype=np.float64)
        self.policy = policy
        self._flow_cache: dict[Any, dict[str, np.ndarray]] = {}
        self._fork_cache: dict[Any, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        self._idx_all: np.ndarray | None = None
        if callable(getattr(policy, "bind", None)):
            policy.bind(self)
        if callable(baseline):
            baseline = baseline(self)
        self.baseline = baseline if baseline is not None else no_policy(k)
        self.t = -econ.burn_in  # the policy's round (negative: burn-in)
        self.track = track_households
        g_counts = np.bincount(hh.group, minlength=self.n_groups).astype(np.float64)
        self.g_count = g_counts
        self.g_income = np.bincount(hh.group, weights=hh.income, minlength=self.n_groups)
        self._gov = _Government(self)
        game = IncentiveGame(
            payoff_means=hh.values,
            noise=econ.reward_noise,
            principal_values=np.zeros(k),
            incentive_cost=1.0,
            signed=True,
            lower=[0.0] + [-np.inf] * (k - 1),  # no car: no incentive
            upper=[0.0] + [np.inf] * (k - 1),
            posted=True,
            action_names=list(econ.technologies),
            switch_prob=econ.replacement_prob,
        )
        self.model = IncentiveModel(
            n_agents=n,
            n_actions=k,
            learner=hh.population,
            principal=self._gov,
            seed=seed,
            game=game,
            observation="shares",
            groups=hh.group,
            group_names=[f"{econ.group_names[a]}-d{d}" for a in range(econ.n_areas) for d in range(1, 11)],
            horizon=None,
            collect_every=10**9,
            track_households=track_households,
            max_agent_views=500,
            device=device,
            spec_extra=self._spec_extra(),
        )
        self.social = (
            SocialLearning(
                strength=mix.social_strength,
                groups=hh.group if mix.social_scope == "neighbours" else None,
                seed=seed,
                learners=hh.kind == 1,
            )
            if mix.social_strength > 0 and (hh.kind == 1).any()
            else None
        )
        self.model.keep_learned = self.social is not None  # social learning reads what each household learned from
        self.records: list[dict[str, Any]] = []
        self.group_records: list[dict[str, np.ndarray]] = []
        self.counts_history: list[np.ndarray] = []  # (G, K) households per group and option, each round
        self.miles_history: list[np.ndarray] = []  # (G, K) miles per household of each group and option
        if track_households:
            self.net_pv = np.zeros(n)
            self.net_sum = np.zeros(n)
            self._prev_private = np.zeros(n)
        self._prev_rates: np.ndarray | None = None
        key = _snapshot_key(econ, mix, seed, n, self.baseline, device)
        snap = _SNAPSHOTS.get(key)
        if snap is not None:
            self._restore(snap)
        else:
            for _ in range(econ.burn_in):
                self.step()
            if key is not None:
                _SNAPSHOTS.put(key, self._snapshot())
        if track_households:
            self._prev_private = self.model.ledger.hh_private.copy()

    # ------------------------------------------------------------------ burn-in reuse
    def _snapshot(self) -> dict[str, Any]:
        """The state the burn-in leaves: learners, current cars, taste matches, round, social counts."""
        m = self.model
        return {
            "population": copy.deepcopy(m.population),
            "last_actions": None if m.last_actions is None else m.last_actions.copy(),
            "match": None if m._match is None else m._match.copy(),
            "round": m.round,
            "heard": None if self.social is None else self.social.heard,
            "prev_rates": None if self._prev_rates is None else self._prev_rates.copy(),
        }

    def _restore(self, snap: dict[str, Any]) -> None:
        """Continue from a snapshot of the same economy, households and seed after its burn-in.

        Everything random is keyed by (seed, round, agent) or drawn at construction, so a model restored
        from the snapshot plays exactly the rounds the burned-in model would (a test checks it).
        """
        m = self.model
        m.population = copy.deepcopy(snap["population"])
        m.last_actions = None if snap["last_actions"] is None else snap["last_actions"].copy()
        if snap["match"] is not None:
            m._match[...] = snap["match"]
        m.round = snap["round"]
        if self.social is not None:
            self.social.heard = snap["heard"]
        self._prev_rates = None if snap["prev_rates"] is None else snap["prev_rates"].copy()
        self.t = 0

    # ------------------------------------------------------------------ spec
    def _spec_extra(self) -> dict[str, Any]:
        econ = self.econ
        e_year = emissions_per_mile(econ, float(self.grid[0])) * self.g_miles.mean()  # t per vehicle-year
        return {
            "scc": float(self.scc[0]),
            "scc_path": self.scc.tolist(),
            "emissions": list(e_year),
            "mcpf": econ.mcpf,
            "clean": econ.clean,
            "technologies": list(econ.technologies),
            "n_households": self.n,
            "income": self.hh.income,  # known to the tax authority (income limits of subsidies)
            "carbon_tax_default": econ.carbon_tax_default,
            "outside": 0,
        }

    @property
    def spec(self) -> Any:
        """The principal's spec (bounds, actions, the scenario's facts)."""
        return self.model.spec

    # ------------------------------------------------------------------ round
    def round_values(self, t: int) -> tuple[float, float, float]:
        """(SCC, grid, mcpf) of policy round t (the burn-in uses round 0's)."""
        i = min(max(t, 0), self.econ.horizon - 1)
        return float(self.scc[i]), float(self.grid[i]), float(self.econ.mcpf)

    def flows(self, ins: Instruments, t: int) -> dict[str, np.ndarray]:
        """Group x option tables of one round's instruments (cached: see :meth:`_flows`)."""
        key = (min(max(t, 0), self.econ.horizon - 1), ins.key())
        hit = self._flow_cache.get(key)
        if hit is None:
            if len(self._flow_cache) > 4096:
                self._flow_cache.clear()
            hit = self._flow_cache[key] = self._flows(ins, t)
        return hit

    def _flows(self, ins: Instruments, t: int) -> dict[str, np.ndarray]:
        """Group x option tables (G, K) of one round's instruments.

        Returns ``posted`` (the household's yearly gain: driving surplus change, subsidy if eligible
        (``posted_elig``) and vehicle tax borne), ``miles`` (per household of the group), and the
        per-household ``tax_paid`` per mile, ``vehicle_tax``, ``subsidy``, ``borne``, ``price``.
        """
        econ = self.econ
        _, grid, _ = self.round_values(t)
        grid = ins.grid if ins.grid is not None else grid
        e = emissions_per_mile(econ, grid)
        tau = ins.carbon_tax * e  # $/mile, a transfer
        dc = tau + (ins.energy_change if ins.energy_change is not None else 0.0)
        veh = self.g_veh[:, None]
        base_miles = (self.g_veh * self.g_miles)[:, None] * self.drives[None, :]
        c = np.where(self.drives, self.cost, 1.0)
        ratio = 1.0 + dc / c
        eps = econ.miles_elasticity
        miles = base_miles * ratio[None, :] ** eps
        dcs = -base_miles * c[None, :] * (ratio[None, :] ** (1.0 + eps) - 1.0) / (1.0 + eps)
        borne = veh * (ins.pass_through * ins.tax)[None, :]
        sub = veh * ins.subsidy[None, :]
        price = veh * (ins.price_change if ins.price_change is not None else 0.0)
        posted = dcs - borne - price
        posted[:, 0] = 0.0
        return {
            "posted": posted,
            "posted_elig": posted + sub,
            "miles": miles,
            "tau": np.broadcast_to(tau, miles.shape),
            "dcs": dcs,
            "vehicle_tax": veh * ins.tax[None, :],
            "borne": borne,
            "subsidy": sub,
            "price": price,
            "emissions_per_mile": np.broadcast_to(e, miles.shape),
        }

    def offsets(self, t: int) -> np.ndarray:
        """(n, K) posted offsets of round t: the yearly equivalent of the policy over the holding period."""
        ins = self._instruments(t)
        path = self.policy.announced(t, self.lookahead(t)) if t >= 0 and self.looks_ahead else None
        table, now = self.posted_table(ins, t, path)
        self._now = (ins, now)
        if math.isfinite(ins.income_limit):
            idx = self.hh.group + self.n_groups * self._eligible(ins)
        else:  # everyone eligible: the rows G..2G-1
            if self._idx_all is None:
                self._idx_all = (self.hh.group + self.n_groups).astype(np.intp)
            idx = self._idx_all
        return table.take(idx, axis=0)

    @property
    def looks_ahead(self) -> bool:
        """Whether households value the policy over the holding period (``foresight``)."""
        return self.econ.foresight == "holding_period"

    def lookahead(self, t: int) -> int:
        """Announced rounds households read at round t: to the end of the horizon (the last one kept after)."""
        return min(max(self.econ.horizon - t, 1), 200)

    def posted_table(
        self, ins: Instruments, t: int, path: list[Instruments] | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(2G, K) posted gains by group (rows G..2G-1: subsidy-eligible households), and round t's flows.

        With ``path`` (the instruments announced for rounds t, t+1, ...) the gains are their yearly
        equivalent over the holding period, ``(1 - q) sum_s q^s u_{t+s}`` (the last announced round
        kept for ever), ``q = (1 - replacement_prob) / (1 + discount)``; else this round's.
        """
        now = self.flows(ins, t)
        if path is None:
            return np.concatenate([now["posted"], now["posted_elig"]], axis=0), now
        w = _annuity_weights(self.econ, len(path))
        tab = np.zeros((2 * self.n_groups, self.econ.k))
        for s, (wi, p) in enumerate(zip(w, path, strict=True)):
            f = now if p is ins else self.flows(p, t + s)
            tab[: self.n_groups] += wi * f["posted"]
            tab[self.n_groups :] += wi * f["posted_elig"]
        return tab, now

    def _eligible(self, ins: Instruments) -> np.ndarray:
        if not math.isfinite(ins.income_limit):
            return np.ones(self.n, dtype=np.int32)
        return (self.hh.income <= ins.income_limit).astype(np.int32)

    def _instruments(self, t: int) -> Instruments:
        return self.baseline if t < 0 else self.policy.instruments(t)

    def step(self) -> dict[str, Any] | None:
        """One year: the policy's offsets, the households' choices and learning, the accounts."""
        self.model.step()
        if self.social is not None:
            self.social.after_model_round(self.model)
        self.t += 1
        return self.records[-1] if self.records and self.t > 0 else None

    def run(self) -> GreenModel:
        """The whole horizon."""
        while self.t < self.econ.horizon:
            self.step()
        return self

    # ------------------------------------------------------------------ accounts
    def account(self, rec: Any) -> dict[str, Any]:
        """The round's accounts from the ledger record (called by the government after the households' step)."""
        econ = self.econ
        t = self.t
        ins, fl = self._now
        counts = rec.counts  # (G, K) households
        private = rec.private  # (G, K) realised V (+ noise, taste match)
        scc, _, mcpf = self.round_values(t)
        scc = ins.scc if ins.scc is not None else scc
        mcpf = ins.mcpf if ins.mcpf is not None else mcpf
        if math.isfinite(ins.income_limit) and ins.subsidy.any():
            elig = self._eligible(ins).astype(bool)
            actions = self.model.last_actions
            ec = np.zeros_like(counts)
            np.add.at(ec, (self.hh.group[elig], actions[elig]), 1.0)
        else:
            ec = counts
        miles = counts * fl["miles"]
        emissions_g = miles * fl["emissions_per_mile"]
        gallons = float((miles * self.gal[None, :]).sum())
        carbon_rev_g = miles * fl["tau"]
        vehicle_rev_g = counts * fl["vehicle_tax"]
        subsidy_g = ec * fl["subsidy"]
        revenue = float(carbon_rev_g.sum() + vehicle_rev_g.sum())
        outlays = float(subsidy_g.sum())
        dividends = ins.dividend_share * max(revenue - outlays, 0.0)
        vp_g = private + counts * (fl["dcs"] - fl["price"]) + carbon_rev_g  # v - p at resource cost
        producer_g = counts * (fl["vehicle_tax"] - fl["borne"])
        emissions = float(emissions_g.sum())
        damages = scc * emissions
        rates = ins.rates()
        changed = self._prev_rates is not None and not np.allclose(self._prev_rates, rates)
        self._prev_rates = rates
        admin = econ.admin_cost * self.n if changed and t >= 0 else 0.0
        net_budget = revenue - outlays - dividends
        welfare = float(vp_g.sum()) - damages + (mcpf - 1.0) * net_budget - admin
        # households: dividends and the net budget's financing by group
        div_g = self._dividends_by_group(ins, dividends)
        fin_g = self._financing_by_group(-net_budget)  # what households pay for the budget (negative: get back)
        cs_g = (vp_g - carbon_rev_g - counts * fl["borne"] + subsidy_g).sum(axis=1) + div_g
        if t < 0:
            return {}
        n = self.n
        veh_counts = counts * self.g_veh[:, None]
        cars = veh_counts[:, 1:].sum()
        row = {
            "round": t,
            "year": econ.start_year + t,
            "welfare": welfare / n,
            "private_value": float(vp_g.sum()) / n,
            "consumer_surplus": float(cs_g.sum()) / n,
            "producer_burden": float(producer_g.sum()) / n,
            "tax_revenue": revenue / n,
            "carbon_revenue": float(carbon_rev_g.sum()) / n,
            "subsidy_cost": outlays / n,
            "dividends": dividends / n,
            "net_budget": net_budget / n,
            "damages": damages / n,
            "emissions": emissions / n,
            "gasoline": gallons / n,
            "miles": float(miles.sum()) / n,
            "admin_cost": admin / n,
            "scc": scc,
            "carbon_tax": ins.carbon_tax,
            "clean_share": float(veh_counts[:, econ.clean].sum() / max(cars, 1e-12)),
            "dirty_share": float(veh_counts[:, econ.dirty].sum() / max(cars, 1e-12)),
            "no_car_share": float(counts[:, 0].sum() / n),
        }
        for j, tech in enumerate(econ.technologies):
            row[f"share_{tech}"] = float(counts[:, j].sum() / n)
        for j, tech in enumerate(econ.technologies):
            row[f"tax_{tech}"] = float(ins.tax[j])
            row[f"subsidy_{tech}"] = float(ins.subsidy[j])
        self.records.append(row)
        self.counts_history.append(np.array(counts, copy=True))
        self.miles_history.append(fl["miles"])
        energy = self.cost[None, :] + fl["tau"] + (ins.energy_change if ins.energy_change is not None else 0.0)
        self.group_records.append(
            {
                "consumer_surplus": cs_g - fin_g,
                "energy_spend": (miles * energy).sum(axis=1),
                "subsidy": subsidy_g.sum(axis=1),
                "taxes": (carbon_rev_g + counts * fl["borne"]).sum(axis=1),
                "dividends": div_g,
                "financing": fin_g,
            }
        )
        if self.track:
            self._account_households(ins, fl, div_g, fin_g)
        return row

    def _dividends_by_group(self, ins: Instruments, dividends: float) -> np.ndarray:
        if dividends <= 0:
            return np.zeros(self.n_groups)
        w = ins.dividend_weights[self.g_decile - 1] * self.g_count
        if self.econ.dividend_basis == "person":
            w = w * self.g_persons
        return dividends * w / w.sum()

    def _financing_by_group(self, amount: float) -> np.ndarray:
        rule = self.econ.subsidy_financing
        if rule == "income":
            w = self.g_income
        elif rule == "person":
            w = self.g_count * self.g_persons
        else:
            w = self.g_count
        return amount * w / w.sum()

    def _account_households(self, ins: Instruments, fl: dict, div_g: np.ndarray, fin_g: np.ndarray) -> None:
        """Each household's net surplus this round, discounted into ``net_pv`` and summed into ``net_sum``."""
        hp = self.model.ledger.hh_private
        private = hp - self._prev_private
        self._prev_private = hp.copy()
        k = self.econ.k
        elig = self._eligible(ins)
        flow = np.concatenate([fl["posted"], fl["posted_elig"]], axis=0)  # actual (not look-ahead) flows
        idx = (self.hh.group + self.n_groups * elig) * k + self.model.last_actions
        gain = flow.ravel()[idx]
        g = self.hh.group
        size = np.maximum(self.g_count[g], 1.0)
        if self.econ.subsidy_financing == "income":  # within a group, in proportion to income
            financing = fin_g[g] * self.hh.income / np.maximum(self.g_income[g], 1e-12)
        else:  # households of a group have the same size: equal within the group
            financing = fin_g[g] / size
        net = private + gain + div_g[g] / size - financing
        self.net_pv += self.disc[self.t] * net
        self.net_sum += net

    # ------------------------------------------------------------------ results
    def rounds(self) -> pd.DataFrame:
        """One row per policy round."""
        return pd.DataFrame(self.records)

    def totals(self) -> dict[str, float]:
        """Horizon totals per household: money discounted at the economy's rate, emissions summed, shares averaged."""
        return episode_totals(self.rounds(), self.econ, self.hh, self.group_totals())

    def group_totals(self) -> np.ndarray:
        """(G,) discounted consumer surplus net of financing per group, summed over its households."""
        if not self.group_records:
            return np.zeros(self.n_groups)
        cs = np.stack([r["consumer_surplus"] for r in self.group_records])
        return (cs * self.disc[: len(cs), None]).sum(axis=0)

    def decile_accounts(self) -> pd.DataFrame:
        """Per income decile and household, discounted sums over the horizon.

        Columns: taxes borne, subsidies received, dividends, its share of the net budget's financing,
        energy spending, income, net surplus (discounted like the money totals) and households.
        """
        rows = {}
        for key in ("taxes", "subsidy", "dividends", "financing", "energy_spend", "consumer_surplus"):
            g = np.stack([r[key] for r in self.group_records])
            rows[key] = (g * self.disc[: len(g), None]).sum(axis=0)
        rows["income"] = self.g_income * float(self.disc[: len(self.group_records)].sum())
        by = {k: np.bincount(self.g_decile - 1, weights=v, minlength=DECILES) for k, v in rows.items()}
        n = np.bincount(self.g_decile - 1, weights=self.g_count, minlength=DECILES)
        out = pd.DataFrame({k: v / np.maximum(n, 1.0) for k, v in by.items()})
        out = out.rename(columns={"consumer_surplus": "net_surplus", "subsidy": "subsidy_received"})
        out.insert(0, "decile", np.arange(1, DECILES + 1))
        out["households"] = n
        return out

    def fork(self) -> GreenFork:
        """A copy of the current state that can be stepped with given vehicle incentives (the oracle)."""
        return GreenFork(self)


class _SnapshotCache:
    """The last few burn-ins, by economy, households, seed, size and baseline (small populations only)."""

    def __init__(self, size: int = 4, max_households: int = 200_000) -> None:
        self.size, self.max_households = size, max_households
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, key: str | None) -> dict[str, Any] | None:
        return None if key is None else self.items.get(key)

    def put(self, key: str, snap: dict[str, Any]) -> None:
        if len(self.items) >= self.size:
            self.items.pop(next(iter(self.items)))
        self.items[key] = snap


_SNAPSHOTS = _SnapshotCache()


def _snapshot_key(
    econ: Economy, mix: HouseholdMix, seed: int, n: int, baseline: Instruments, device: str
) -> str | None:
    """The burn-in's key, or None where it is not kept (a device run, a large population, no burn-in)."""
    if device != "cpu" or n > _SNAPSHOTS.max_households or econ.burn_in == 0:
        return None
    b = baseline.key()
    parts = [dataclasses.asdict(econ), dataclasses.asdict(mix), seed, n, [str(x) for x in b]]
    return json.dumps(parts, sort_keys=True, default=str)


def no_policy(k: int) -> Instruments:
    """No carbon tax, no vehicle tax or subsidy."""
    z = np.zeros(k)
    return Instruments(carbon_tax=0.0, tax=z, subsidy=z.copy(), pass_through=np.ones(k))


MONEY = (
    "welfare",
    "private_value",
    "consumer_surplus",
    "producer_burden",
    "tax_revenue",
    "carbon_revenue",
    "subsidy_cost",
    "dividends",
    "net_budget",
    "damages",
    "admin_cost",
)


def episode_totals(df: pd.DataFrame, econ: Economy, hh: Households, group_cs: np.ndarray) -> dict[str, float]:
    """Horizon totals of a per-round table (money discounted, emissions summed, shares averaged)."""
    disc = (1.0 + econ.discount) ** -df["round"].to_numpy(dtype=np.float64)
    totals = {m: float((df[m].to_numpy() * disc).sum()) for m in MONEY}
    totals["emissions"] = float(df.emissions.sum())
    totals["gasoline"] = float(df.gasoline.sum())
    for m in ("clean_share", "dirty_share", "no_car_share"):
        totals[m] = float(df[m].mean())
    totals["final_clean_share"] = float(df.clean_share.iloc[-1])
    totals["intervention_cost"] = totals["subsidy_cost"] + totals["admin_cost"]
    totals["principal_return"] = totals["welfare"]
    totals["target_rate"] = totals["clean_share"]
    n_d = np.bincount(hh.decile, minlength=DECILES + 1)[1:]
    by_decile = np.zeros(DECILES)
    np.add.at(by_decile, np.tile(np.arange(DECILES), len(group_cs) // DECILES), group_cs)
    for d in range(DECILES):
        totals[f"net_surplus_d{d + 1}"] = float(by_decile[d] / max(n_d[d], 1))
    return totals


# ============================================================================== the government
class _Government:
    """The IncentiveModel's principal: turns the policy's instruments into posted per-household offsets."""

    def __init__(self, owner: GreenModel) -> None:
        self.owner = owner
        self.inner = getattr(owner.policy, "principal", None)
        self.needs_model_access = bool(getattr(self.inner, "needs_model_access", False))
        self.observes = True

    def reset(self, spec: Any, rng: np.random.Generator) -> None:
        """Pass the spec to the principal (its bounds: the vehicle incentives; no car fixed at 0).

        The simulator runs burn-in and horizon as one open-ended model (its spec has no horizon); the
        principal acts in the ``econ.horizon`` rounds after the burn-in, so its spec says so (a learned
        government checks it against the horizon it was trained for).
        """
        if self.inner is not None:
            self.inner.reset(dataclasses.replace(spec, horizon=self.owner.econ.horizon), rng)

    def attach(self, model: Any) -> None:
        """The oracle plans with the economy (forks of it), not with the bare simulator."""
        self.inner.attach(self.owner)

    def act(self) -> np.ndarray:
        """Per-household offsets (n, K)."""
        return self.owner.offsets(self.owner.t)

    def observe(self, obs: Observation) -> None:
        """Keep the accounts; show the principal the round (its own incentives, the shares, welfare)."""
        row = self.owner.account(self.owner.model.ledger.last)
        if self.owner.t >= 0 and self.inner is not None and getattr(self.inner, "observes", True):
            x = getattr(self.owner.policy, "last_incentives", None)
            self.inner.observe(
                Observation(
                    round=self.owner.t,
                    incentives=np.zeros(self.owner.econ.k) if x is None else np.array(x, copy=True),
                    n_agents=obs.n_agents,
                    shares=obs.shares,
                    principal_reward=float(row.get("welfare", 0.0)) * self.owner.n,
                )
            )


class PrincipalPolicy(PolicySource):
    """A principal's vehicle incentives with a carbon tax.

    The carbon tax is the principal's own (``carbon_tax_share(t)``: a share of the SCC), else 0 for no
    intervention and ``econ.carbon_tax_default`` x SCC for any other principal. A principal that
    announces its schedule (``schedule(t, rounds)``) is looked ahead by informed households.
    """

    def __init__(self, principal: Any, share: float | None = None) -> None:
        self.principal = principal
        self.share = share
        self.last_incentives: np.ndarray | None = None
        self.owner: GreenModel | None = None

    def bind(self, owner: GreenModel) -> None:
        """The model it plays in."""
        self.owner = owner

    def _share(self, t: int) -> float:
        fn = getattr(self.principal, "carbon_tax_share", None)
        if callable(fn):
            return float(fn(t))
        if self.share is not None:
            return float(self.share)
        from policies.base import NoIntervention

        return 0.0 if isinstance(self.principal, NoIntervention) else float(self.owner.econ.carbon_tax_default)

    def instruments(self, t: int) -> Instruments:
        """This round's: the principal acts once per round."""
        x = np.asarray(self.principal.act(), dtype=np.float64)
        self.last_incentives = x
        values = getattr(self.principal, "round_values", None)
        if callable(values):
            return self.from_values(values(t), t)
        scc, _, _ = self.owner.round_values(t)
        ins = Instruments.from_incentives(x, self._share(t) * scc)
        ins.dividend_share = self.owner.econ.dividend_default
        return ins

    def from_values(self, v: dict[str, Any], t: int) -> Instruments:
        """Instruments from a scheduled policy's values of round t (reform parameter names)."""
        return instruments_from_values(self.owner, v, t)

    def announced(self, t: int, rounds: int) -> list[Instruments]:
        """What households expect at round t (after the principal's act() of this round).

        A scheduled policy (``round_values``) or a principal with a ``schedule`` announces its rounds;
        any other principal's vehicle incentives are expected to stay as today's, while the carbon tax
        (a share of the SCC path, statutory) is known.
        """
        values = getattr(self.principal, "round_values", None)
        if callable(values):
            return [self.from_values(values(t + s), t + s) for s in range(rounds)]
        if callable(getattr(self.principal, "schedule", None)):
            path = np.asarray(self.principal.schedule(t, rounds), dtype=np.float64)
        else:
            path = np.asarray(self.last_incentives, dtype=np.float64)[None, :]
        out = []
        for s in range(rounds):
            scc, _, _ = self.owner.round_values(t + s)
            ins = Instruments.from_incentives(path[min(s, len(path) - 1)], self._share(t + s) * scc)
            ins.dividend_share = self.owner.econ.dividend_default
            out.append(ins)
        return out


def instruments_from_values(owner: GreenModel, v: dict[str, Any], t: int) -> Instruments:
    """Instruments of round t from a scheduled policy's values (the reform parameter names)."""
    econ = owner.econ
    k = econ.k
    zeros = np.zeros(k)
    scc = float(v["scc"]) if "scc" in v else owner.round_values(t)[0]
    carbon = float(v.get("carbon_tax", 0.0)) + float(v.get("carbon_tax_scc_share", 0.0)) * scc
    prices = v.get("prices")
    return Instruments(
        carbon_tax=carbon,
        tax=np.asarray(v.get("tax", zeros), dtype=np.float64),
        subsidy=np.asarray(v.get("subsidy", zeros), dtype=np.float64),
        pass_through=np.asarray(v.get("pass_through", np.ones(k)), dtype=np.float64),
        income_limit=float(v.get("subsidy_income_limit", math.inf)),
        dividend_share=float(v.get("dividend_share", 0.0)),
        dividend_weights=np.asarray(v.get("dividend_weights", np.ones(DECILES)), dtype=np.float64),
        price_change=None if prices is None else np.asarray(prices, dtype=np.float64) - np.asarray(econ.prices),
        grid=float(v["grid_intensity"]) if "grid_intensity" in v else None,
        scc=float(v["scc"]) if "scc" in v else None,
        mcpf=float(v["mcpf"]) if "mcpf" in v else None,
    )


def principal_policy(principal: Any, share: float | None = None) -> PrincipalPolicy:
    """A :class:`PrincipalPolicy` (bound to its model when the model is built)."""
    return PrincipalPolicy(principal, share)


def build(econ: Economy, mix: HouseholdMix, seed: int, principal: Any = None, **kw: Any) -> GreenModel:
    """A :class:`GreenModel` under a principal (None: no intervention) or a :class:`PolicySource`."""
    if isinstance(principal, PolicySource):
        policy = principal
    else:
        if principal is None:
            from policies import make_principal

            principal = make_principal("none")
        policy = principal_policy(principal)
    return GreenModel(econ, mix, seed, policy, **kw)


# ============================================================================== forks (the oracle)
class GreenFork:
    """The economy's state copied, stepped with (K,) vehicle incentives on top of a carbon-tax share."""

    def __init__(self, owner: GreenModel) -> None:
        from simulator.model import ModelFork

        self.owner = owner
        self.sim = ModelFork(owner.model.sync_to_host())
        self.social = copy.deepcopy(owner.social)
        self.t = owner.t
        self.share = owner.policy._share(owner.t) if isinstance(owner.policy, PrincipalPolicy) else 1.0

    def _ins(self, x: np.ndarray, t: int) -> Instruments:
        ins = Instruments.from_incentives(x, self.share * self.owner.round_values(t)[0])
        ins.dividend_share = self.owner.econ.dividend_default
        return ins

    def _offsets(self, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The households' offsets (n, K) and the round's flows under x.

        Cached on the owner per (x, round): an oracle tries many schedules that share most of their rows.
        """
        o = self.owner
        key = (x.tobytes(), self.t, self.share)
        hit = o._fork_cache.get(key)
        if hit is None:
            ins = self._ins(x, self.t)
            path = None
            if self.t >= 0 and o.looks_ahead:  # today's incentives expected to stay, the carbon tax path known
                path = [ins] + [self._ins(x, self.t + s) for s in range(1, o.lookahead(self.t))]
            table, fl = o.posted_table(ins, self.t, path)
            if len(o._fork_cache) > 512:
                o._fork_cache.clear()
            hit = o._fork_cache[key] = (table.take(o.hh.group + o.n_groups, axis=0), fl)
        return hit

    def step(self, x: np.ndarray) -> dict[str, float]:
        """One round under incentives x: returns ``welfare`` (per household) of the round."""
        o = self.owner
        scc, _, mcpf = o.round_values(self.t)
        off, fl = self._offsets(np.asarray(x, dtype=np.float64))
        sums = self.sim.step(off)
        if self.social is not None:
            self.social.after_round(
                self.sim.population, self.sim.last_actions, self.sim.learned_rewards, self.sim.round
            )
        counts, private = sums["counts"], sums["private"]
        miles = counts * fl["miles"]
        carbon = miles * fl["tau"]
        revenue = float(carbon.sum() + (counts * fl["vehicle_tax"]).sum())
        outlays = float((counts * fl["subsidy"]).sum())
        vp = float((private + counts * (fl["dcs"] - fl["price"]) + carbon).sum())
        damages = scc * float((miles * fl["emissions_per_mile"]).sum())
        dividends = o.econ.dividend_default * max(revenue - outlays, 0.0)
        self.t += 1
        return {"welfare": (vp - damages + (mcpf - 1.0) * (revenue - outlays - dividends)) / o.n}


# ============================================================================== analytic elasticities
def elasticities(econ: Economy, mix: HouseholdMix, n: int = 20_000, pct: float = 0.01) -> dict[str, float]:
    """Informed households' gasoline-demand elasticities to the gasoline price, analytically.

    A ``pct`` rise of the gasoline price raises the cost per mile of each option by ``pct`` times its
    gasoline cost. Miles: the elasticity of miles times the fleet's gasoline shares (exactly
    ``miles_elasticity`` for a fleet of gasoline cars). Fleet, long run: the change of the steady-state
    logit shares (every household re-chosen), valued at the new miles. Short run (one year): miles plus
    ``replacement_prob`` of the fleet's long-run part.
    """
    mix_r = dataclasses.replace(mix, rational_share=1.0, learners={}, n_households=n)
    rng = np.random.default_rng(0)
    hh = draw_households(econ, mix_r, n, rng, income=draw_income(mix_r, n, np.random.default_rng(1)))
    tab = group_tables(econ, mix_r)
    base_miles = (tab["vehicles"] * tab["miles"])[hh.group][:, None] * (cost_per_mile(econ) > 0)[None, :]
    gal = gallons_per_mile(econ)
    c = np.where(cost_per_mile(econ) > 0, cost_per_mile(econ), 1.0)
    eps = econ.miles_elasticity
    dc = pct * gal * econ.gasoline_price
    ratio = 1.0 + dc / c
    dcs = -base_miles * c * (ratio ** (1.0 + eps) - 1.0) / (1.0 + eps)

    def shares(v: np.ndarray) -> np.ndarray:
        u = v / max(mix.rational_temperature, 1e-9)
        u = u - u.max(axis=1, keepdims=True)
        p = np.exp(u)
        return p / p.sum(axis=1, keepdims=True)

    p0 = shares(hh.values)
    p1 = shares(hh.values + dcs)
    g00 = (p0 * base_miles * gal).sum()
    g01 = (p0 * base_miles * ratio**eps * gal).sum()  # new miles, old fleet
    g11 = (p1 * base_miles * ratio**eps * gal).sum()
    own = p0[:, 1:] * ((1.0 - p1[:, :1]) / np.maximum(1.0 - p0[:, :1], 1e-300))  # old mix of cars, new ownership
    g_own = (own * (base_miles * ratio**eps * gal)[:, 1:]).sum()
    lp = np.log1p(pct)
    miles_e = (np.log(g01) - np.log(g00)) / lp
    fleet_lr = (np.log(g11) - np.log(g01)) / lp
    ownership = (np.log(g_own) - np.log(g01)) / lp
    return {
        "miles": float(miles_e),
        "fleet_long_run": float(fleet_lr),
        "ownership_long_run": float(ownership),
        "technology_long_run": float(fleet_lr - ownership),
        "long_run": float(miles_e + fleet_lr),
        "short_run": float(miles_e + econ.replacement_prob * fleet_lr),
        "dirty_share": float((p0[:, econ.dirty]).mean()),
        "no_car_share": float(p0[:, 0].mean()),
    }


def pigouvian_carbon_tax(econ: Economy) -> np.ndarray:
    """The Pigouvian carbon tax of each round: SCC(t), $/tCO2."""
    return scc_path(econ)


def sequence_of(values: Sequence[float] | float, k: int) -> np.ndarray:
    """A (K,) array from a scalar or a sequence."""
    arr = np.asarray(values, dtype=np.float64)
    return np.full(k, float(arr)) if arr.ndim == 0 else arr


Reward = Callable[[dict[str, float], np.ndarray, int], float]
