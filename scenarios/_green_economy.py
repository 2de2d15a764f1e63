"""The green-tax economy: technologies, households, welfare accounting and calibration.

Equations (one round = one year; money in dollars per household-year; sources in
``shared/REFERENCES.md`` section 3):

* household i's private value of technology j:
  ``v_ij = base_j + shift_{g(i), j} + sd_j * z_ij`` with z standard normal and
  g(i) the household's group (urban or rural): persistent heterogeneity, so the
  socially best technology differs across households;
* its net private value (the reward it learns): ``u_ij = v_ij - p_j`` plus a yearly
  noise N(0, reward_noise^2); a tax ``tau_j`` (or subsidy, tau < 0) is posted: a
  household chooses on ``score_ij - tau_j``;
* fleet turnover: each year a household re-chooses with probability
  ``switch_prob`` (else it keeps its car), the partial-adjustment coefficient
  1 - l of Havranek & Kokes (2015);
* damages ``D = SCC * sum_i e_{j(i)}``; subsidy outlays ``S = sum_i max(-tau_{j(i)}, 0)``;
  welfare ``W = sum_i realised (v - p) - D - (lambda - 1) S - admin``: taxes are
  transfers, only subsidies cost public funds at the marginal cost lambda
  (DESIGN.md section 8, which replaces the issue's ``(lambda - 1) R`` term);
  intervention cost = S (+ an administrative cost per change of the rates);
* informed (rational) households choose by logit with a random-utility taste shock
  of scale ``rational_temperature`` that counts in their utility (their match
  value with the car they bought); learning households' choice noise is a
  decision error and does not count;
* the Pigouvian tax ``tau_j = SCC * e_j`` (about $874 on a gasoline car-year at
  $190/t) attains first best for informed households: no principal may beat it
  there.

Defaults (cited): prices are AAA (2022) total yearly costs of owning (small sedan
$8,184, hybrid $9,691, EV $9,048); emissions 4.6 t/yr for a gasoline car (EPA),
2.1 t/yr for an EV (0.365 kWh/mile x 15,000 miles x 0.39 kg/kWh, AAA and EIA),
3.0 t/yr for a hybrid (about 35% less fuel: assumption); SCC $190/t (EPA 2023);
lambda 1.2 (Norway's official value); fuel costs 18.4 c/mile gasoline (AAA) so a
1% gasoline price rise costs a gasoline car $27.6/yr and a hybrid $16.6/yr.
Private values are this project's calibration (documented in the config): EVs
suit urban households (value +$1,200/yr over a gasoline car) and not rural ones
(-$1,500, range anxiety that is real), hybrids add $700; idiosyncratic sd $400.

Income: each household has a yearly income y, lognormal with median $80,610 and
log sd 0.92 (US 2023: the Census median and a Gini of 0.485), drawn from its own
random stream ``[seed, 11]`` so that it never changes the other draws. It ranks
households into the deciles of the distributional tables and sets the income
limits of subsidies and the dividend weights of reforms (:mod:`scenarios.reform`).
Income shifts values only when asked: ``income_value_slope`` adds
``slope_j x log(y / median)`` to technology j's value, and ``budget_share`` makes a
technology whose yearly cost exceeds ``budget_share x y`` worth the shortfall less
(the cost of credit). Both are off by default, which is the calibrated economy.
Defaults, ranges and sources of these and of the economy's numbers come from the
parameter schema (:mod:`scenarios._params`, ``docs/parameters.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator import IncentiveGame, IncentiveModel, Population, TypeDistribution, learner_class
from simulator.config import option
from simulator.population import Component

from ._params import param_option

__all__ = ["Economy", "HouseholdMix", "build_model", "elasticities", "pigouvian_tax", "welfare_of"]


@dataclass
class Economy:
    """Technologies, prices, emissions and the public-finance parameters."""

    technologies: list[str] = option(
        default_factory=lambda: ["gasoline", "hybrid", "electric"], help="technology names (K = their number)"
    )
    prices: list[float] = param_option("prices")
    emissions: list[float] = param_option("emissions")
    fuel_costs: list[float] = param_option("fuel_costs")
    clean: int = option(2, help="index of the clean technology (clean_share, subsidies)", low=0)
    dirty: int = option(0, help="index of the dirty technology (elasticities)", low=0)
    scc: float = param_option("scc")
    mcpf: float = param_option("mcpf")
    admin_cost: float = param_option("admin_cost")
    base_values: list[float] = option(
        default_factory=lambda: [10000.0, 10700.0, 10000.0], help="mean private value of each technology, $/yr"
    )
    group_names: list[str] = option(default_factory=lambda: ["urban", "rural"], help="household groups")
    group_shares: list[float] = option(default_factory=lambda: [0.6, 0.4], help="share of each group", low=0, high=1)
    group_shifts: list[list[float]] = option(
        default_factory=lambda: [[0.0, 0.0, 1200.0], [0.0, 0.0, -1500.0]],
        help="value shift of each technology per group, $/yr (EVs suit urban households)",
    )
    value_sd: float = param_option("value_sd")
    reward_noise: float = param_option("reward_noise")
    switch_prob: float = param_option("switch_prob")
    horizon: int = param_option("horizon")
    discount: float = param_option("discount")

    def check(self) -> None:
        """Lengths agree; indices valid; shares sum to one."""
        k = len(self.technologies)
        if k < 2:
            raise ValueError("technologies: need at least 2")
        if len(set(self.technologies)) != k or len(set(self.group_names)) != len(self.group_names):
            raise ValueError("technologies, group_names: the names must be distinct")
        for name in ("prices", "emissions", "fuel_costs", "base_values"):
            if len(getattr(self, name)) != k:
                raise ValueError(f"{name}: needs {k} values (one per technology), got {len(getattr(self, name))}")
        if not (0 <= self.clean < k and 0 <= self.dirty < k):
            raise ValueError(f"clean/dirty: must be technology indices in [0, {k - 1}]")
        if len(self.group_shares) != len(self.group_names) or len(self.group_shifts) != len(self.group_names):
            raise ValueError("group_shares and group_shifts need one entry per group name")
        if any(len(row) != k for row in self.group_shifts):
            raise ValueError(f"group_shifts: each row needs {k} values")
        if abs(sum(self.group_shares) - 1.0) > 1e-6:
            raise ValueError(f"group_shares: must sum to 1, got {sum(self.group_shares)}")
        if self.switch_prob <= 0:
            raise ValueError("switch_prob: must be > 0")

    @property
    def k(self) -> int:
        """Number of technologies."""
        return len(self.technologies)


@dataclass
class HouseholdMix:
    """Who the households are: rational share, learner families, pessimism."""

    n_households: int = option(10_000, help="households N", low=1, high=200_000_000)
    rational_share: float = option(0.2, help="share of informed best-responders (rational)", low=0.0, high=1.0)
    rational_temperature: float = option(
        1800.0, help="logit taste-shock scale of rational households, $/yr (calibrated: LR elasticity -0.6)", low=0.0
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
    income_value_slope: list[float] = param_option("income_value_slope")
    budget_share: float = param_option("budget_share")


def pigouvian_tax(econ: Economy) -> np.ndarray:
    """tau_j = SCC * e_j ($/yr per technology)."""
    return econ.scc * np.asarray(econ.emissions, dtype=np.float64)


@dataclass
class Households:
    """Drawn household values and their learner groups."""

    values: np.ndarray  # (n, K) private values v_ij
    net: np.ndarray  # (n, K) v - p
    group: np.ndarray  # (n,) urban/rural index
    kind: np.ndarray  # (n,) 0 rational, 1 learner
    pessimist: np.ndarray  # (n,) bool
    population: Population
    labels: list[str] = field(default_factory=list)
    income: np.ndarray | None = None  # (n,) household income, $/yr


def draw_income(mix: HouseholdMix, n: int, rng: np.random.Generator) -> np.ndarray:
    """Household incomes, lognormal: log y ~ N(log income_median, income_sigma^2) (Census 2023 defaults)."""
    return mix.income_median * np.exp(mix.income_sigma * rng.standard_normal(n))


def income_effects(econ: Economy, mix: HouseholdMix, income: np.ndarray) -> np.ndarray | None:
    """Value shifts (n, K) from income (``income_value_slope``, ``budget_share``), or None when both are off."""
    k = econ.k
    slope = list(mix.income_value_slope)
    if slope and len(slope) != k:
        raise ValueError(f"income_value_slope: needs {k} values (one per technology) or none, got {len(slope)}")
    if not any(slope) and mix.budget_share <= 0:
        return None
    shift = np.zeros((len(income), k))
    if any(slope):
        shift += np.log(income / mix.income_median)[:, None] * np.asarray(slope, dtype=np.float64)[None, :]
    if mix.budget_share > 0:  # the shortfall below the car budget is paid again as the cost of credit
        shift -= np.maximum(np.asarray(econ.prices)[None, :] - mix.budget_share * income[:, None], 0.0)
    return shift


def draw_households(
    econ: Economy, mix: HouseholdMix, n: int, rng: np.random.Generator, income: np.ndarray | None = None
) -> Households:
    """Draw values, groups and learners; rational households first, then each learner family.

    ``income`` (n,) is each household's income; by default it is drawn from a child stream of ``rng``
    (``rng.spawn``), which leaves every other draw as it was. Income changes values only through
    ``income_value_slope`` and ``budget_share`` (both off by default).
    """
    k = econ.k
    if income is None:
        income = draw_income(mix, n, rng.spawn(1)[0])
    group = rng.choice(len(econ.group_names), size=n, p=np.asarray(econ.group_shares) / sum(econ.group_shares))
    shifts = np.asarray(econ.group_shifts, dtype=np.float64)
    values = np.asarray(econ.base_values)[None, :] + shifts[group] + econ.value_sd * rng.standard_normal((n, k))
    shift = income_effects(econ, mix, income)
    if shift is not None:
        values = values + shift
    net = values - np.asarray(econ.prices)[None, :]
    n_rat = round(mix.rational_share * n)
    weights = {f: float(dict(p).get("weight", 1.0)) for f, p in mix.learners.items()}
    n_learn = n - n_rat
    from simulator.population import split_counts

    counts = split_counts(n_learn, list(weights.values())) if weights else np.zeros(0, int)
    kind = np.zeros(n, dtype=np.int8)
    kind[n_rat:] = 1
    pessimist = np.zeros(n, dtype=bool)
    pessimist[n_rat:] = rng.random(n_learn) < mix.pessimistic_share
    # the neutral prior: what households expect on average, with individual errors
    expected = net.mean(axis=0)
    priors = expected[None, :] + mix.prior_noise * rng.standard_normal((n, k))
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
        pop_r = td.sample_population(n_rat, k, rng, payoff_means=net[:n_rat])
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
        pop = td.sample_population(int(m), k, rng, payoff_means=net[start : start + m])
        groups.append((family, pop.learners[0]))
        start += m
    population = Population(groups)
    return Households(values, net, group.astype(np.int32), kind, pessimist, population, population.labels, income)


def build_model(
    econ: Economy,
    mix: HouseholdMix,
    seed: int,
    principal: Any = None,
    *,
    principal_params: dict[str, Any] | None = None,
    n_households: int | None = None,
    collect_every: int = 1,
    track_households: bool = True,
    device: str = "cpu",
) -> tuple[IncentiveModel, Households]:
    """An IncentiveModel of the economy; incentives are minus the taxes (signed, posted).

    ``device`` is :class:`simulator.IncentiveModel`'s (``cpu``: numba; ``cuda``, ``torch-cpu``, ``auto``).
    """
    n = n_households or mix.n_households
    rng = np.random.default_rng([seed, 7])
    # incomes from their own stream: the same for every policy (common random numbers), and they leave
    # the calibrated economy's draws untouched
    income = draw_income(mix, n, np.random.default_rng([seed, 11]))
    hh = draw_households(econ, mix, n, rng, income=income)
    game = IncentiveGame(
        payoff_means=hh.net,
        noise=econ.reward_noise,
        principal_values=-econ.scc * np.asarray(econ.emissions),
        incentive_cost=1.0,
        signed=True,
        posted=True,
        action_names=list(econ.technologies),
        switch_prob=econ.switch_prob,
    )
    model = IncentiveModel(
        n_agents=n,
        n_actions=econ.k,
        learner=hh.population,
        principal=principal,
        principal_params=principal_params,
        seed=seed,
        game=game,
        observation="shares",
        groups=hh.group,
        group_names=list(econ.group_names),
        horizon=econ.horizon,
        collect_every=collect_every,
        track_households=track_households,
        max_agent_views=500,
        device=device,
        spec_extra={
            "scc": econ.scc,
            "emissions": list(econ.emissions),
            "mcpf": econ.mcpf,
            "clean": econ.clean,
            "technologies": list(econ.technologies),
            "n_households": n,
            "income": hh.income,  # known to the tax authority (income limits of subsidies)
        },
    )
    return model, hh


def welfare_of(econ: Economy, sums: dict[str, np.ndarray], n: int, changed: bool) -> dict[str, float]:
    """Welfare decomposition of one round from the ledger's (G, K) sums, per household."""
    counts = sums["counts"].sum(axis=0)
    private = float(sums["private"].sum())
    emissions = float((counts * np.asarray(econ.emissions)).sum())
    damages = econ.scc * emissions
    subsidy = float(sums["paid"].sum())
    revenue = float(sums["collected"].sum())
    admin = econ.admin_cost * n if changed else 0.0
    welfare = private - damages - (econ.mcpf - 1.0) * subsidy - admin
    return {
        "welfare": welfare / n,
        "private_surplus": (private - revenue + subsidy) / n,  # sum(v - p - tau): taxes paid, subsidies received
        "damages": damages / n,
        "emissions": emissions / n,
        "tax_revenue": revenue / n,
        "subsidy_cost": subsidy / n,
        "admin_cost": admin / n,
        "clean_share": float(counts[econ.clean] / max(counts.sum(), 1.0)),
        "dirty_share": float(counts[econ.dirty] / max(counts.sum(), 1.0)),
    }


def _logit_shares(net: np.ndarray, temp: float, tax: np.ndarray) -> np.ndarray:
    u = (net - tax[None, :]) / temp
    u -= u.max(axis=1, keepdims=True)
    p = np.exp(u)
    p /= p.sum(axis=1, keepdims=True)
    return p.mean(axis=0)


def elasticities(econ: Economy, mix: HouseholdMix, n: int = 20_000, seed: int = 0, pct: float = 0.01) -> dict:
    """Rational households' gasoline-demand elasticities w.r.t. the gasoline price.

    Long run: the logit share of the dirty technology at a ``pct`` higher fuel price
    (every household re-chosen), as an arc elasticity. Short run (one year): only
    ``switch_prob`` of households re-choose, so SR = switch_prob x LR exactly in
    this model.
    """
    rng = np.random.default_rng(seed)
    hh = draw_households(econ, HouseholdMix(**{**mix.__dict__, "rational_share": 1.0}), n, rng)
    base = np.zeros(econ.k)
    bump = pct * np.asarray(econ.fuel_costs)
    s0 = _logit_shares(hh.net, mix.rational_temperature, base)[econ.dirty]
    s1 = _logit_shares(hh.net, mix.rational_temperature, bump)[econ.dirty]
    lr = (np.log(s1) - np.log(s0)) / np.log1p(pct)
    return {"long_run": float(lr), "short_run": float(econ.switch_prob * lr), "dirty_share": float(s0)}
