"""The green-tax economy against hand-solved cases: steady state, first best, the margins, welfare, the SCC path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from policies import make_principal
from policies.base import BasePrincipal
from scenarios.green_tax.economy import (
    Economy,
    HouseholdMix,
    build,
    cost_per_mile,
    elasticities,
    emissions_per_mile,
    group_tables,
    scc_path,
)

# published ranges the calibration must stay in (sources in docs/parameters.md and the module docstring)
SHORT_RUN = (-0.34, -0.034)  # Brons et al. 2008 mean -0.34; Hughes, Knittel & Sperling 2008: -0.034 to -0.077
LONG_RUN = (-0.84, -0.55)  # Brons et al. 2008 mean -0.84; Dahl 2012 median -0.55
MILES = (-0.222, -0.107)  # Small & Van Dender 2007 long-run rebound 10.7-22.2%; Gillingham 2014 -0.22


class CarbonShare(BasePrincipal):
    """Vehicle incentives x on top of a carbon tax of ``share`` x SCC (announced)."""

    observes = False

    def __init__(self, share: float, x: list[float] | None = None) -> None:
        self.share, self.x = share, x

    def reset(self, spec, rng):
        super().reset(spec, rng)
        self.k = spec.n_actions

    def act(self) -> np.ndarray:
        return np.zeros(self.k) if self.x is None else np.asarray(self.x, dtype=np.float64)

    def carbon_tax_share(self, t: int) -> float:
        return self.share

    def schedule(self, t: int, rounds: int) -> np.ndarray:
        return np.tile(self.act(), (rounds, 1))


def one_car_economy(**kw) -> tuple[Economy, HouseholdMix]:
    """One technology and no car; identical households; informed exact best response."""
    econ = Economy(
        technologies=["none", "car"],
        clean=1,
        dirty=1,
        prices=[0.0, 1000.0],
        values=[0.0, 5000.0],
        mpg=[0.0, 25.0],
        kwh_per_mile=[0.0, 0.0],
        gasoline_price=2.5,  # 10 cents a mile
        gasoline_co2=10.0,  # 0.4 kg a mile
        miles_per_vehicle=10_000.0,
        miles_elasticity=-0.5,
        group_names=["all"],
        group_shares=[1.0],
        group_shifts=[[0.0, 0.0]],
        area_miles=[1.0],
        replacement_prob=1.0,
        burn_in=0,
        horizon=2,
        scc=100.0,
        discount=0.0,
        mcpf=1.5,
        value_sd=0.0,
        reward_noise=0.0,
        dividend_default=0.0,
        **kw,
    )
    mix = HouseholdMix(
        n_households=50,
        rational_share=1.0,
        rational_temperature=0.0,
        learners={},
        no_car_share=[],
        vehicles=[1.0] * 10,
        household_size=[1.0] * 10,
        income_value_slope=[],
        car_need_sd=0.0,
        social_strength=0.0,
    )
    return econ, mix


def test_welfare_hand_solved():
    """One car, 10,000 miles at 10 c, 0.4 kg/mile, SCC $100/t, elasticity -0.5, lambda 1.5, no dividend.

    Net value of the car 5,000 - 1,000 - 1,000 = 3,000, so everyone drives. The Pigouvian carbon tax adds
    100 x 0.0004 = 4 c a mile: miles 10,000 x 1.4^-0.5 = 8,451.5; driving surplus -2,000 (1.4^0.5 - 1) =
    -366.4; revenue = damages = 0.04 x 8,451.5 = 338.06; welfare 3,000 - 366.4 + 338.06 - 338.06 + 0.5 x
    338.06 = 2,802.6 a year. No policy: 3,000 - 100 x 0.0004 x 10,000 = 2,600.
    """
    econ, mix = one_car_economy()
    pig = build(econ, mix, 0, make_principal("pigouvian")).run().rounds().iloc[0]
    miles = 10_000 * 1.4**-0.5
    dcs = -10_000 * 0.1 * (1.4**0.5 - 1) / 0.5
    assert pig.miles == pytest.approx(miles)
    assert pig.tax_revenue == pytest.approx(0.04 * miles)
    assert pig.damages == pytest.approx(0.04 * miles)
    assert pig.private_value == pytest.approx(3000 + dcs + 0.04 * miles)
    assert pig.welfare == pytest.approx(3000 + dcs + 0.5 * 0.04 * miles)
    assert pig.consumer_surplus == pytest.approx(3000 + dcs)  # the tax paid is a transfer
    none = build(econ, mix, 0, make_principal("none")).run().rounds().iloc[0]
    assert none.welfare == pytest.approx(2600.0) and none.miles == pytest.approx(10_000.0)
    # with the revenue returned as a dividend the net budget is 0 and lambda no longer matters
    econ_d = dataclasses.replace(econ, dividend_default=1.0)
    pig_d = build(econ_d, mix, 0, make_principal("pigouvian")).run().rounds().iloc[0]
    assert pig_d.net_budget == pytest.approx(0.0)
    assert pig_d.welfare == pytest.approx(3000 + dcs)


def test_outside_option_hand_solved():
    """A vehicle tax of 3,500 exceeds the car's net value of 3,000 (informed, exact): everyone gives up the car."""
    econ, mix = one_car_economy()
    taxed = build(econ, mix, 0, CarbonShare(0.0, [0.0, -3500.0])).run().rounds().iloc[0]
    assert taxed.no_car_share == 1.0 and taxed.miles == 0.0 and taxed.emissions == 0.0
    kept = build(econ, mix, 0, CarbonShare(0.0, [0.0, -2500.0])).run().rounds().iloc[0]
    assert kept.no_car_share == 0.0
    assert kept.tax_revenue == pytest.approx(2500.0) and kept.miles == pytest.approx(10_000.0)  # no effect on miles


def test_intensive_margin_follows_its_equation():
    """Miles per household of each group and technology: veh x m x ((c + t e) / c)^e, under the carbon tax."""
    econ, mix = Economy(), HouseholdMix(n_households=2000)
    model = build(econ, mix, 1, make_principal("pigouvian")).run()
    tab = group_tables(econ, mix)
    c = cost_per_mile(econ)
    for t in (0, econ.horizon - 1):
        dc = scc_path(econ)[t] * emissions_per_mile(econ, econ.grid_intensity[0])
        ratio = np.where(c > 0, (c + dc) / np.where(c > 0, c, 1), 1.0)
        base_miles = (tab["vehicles"] * tab["miles"])[:, None] * (c > 0)[None, :]
        expected = base_miles * ratio[None, :] ** econ.miles_elasticity
        np.testing.assert_allclose(model.miles_history[t], expected)
    # the consumer-surplus change is minus the integral of miles over the cost per mile
    f = model.flows(model.policy.instruments(0), 0)
    g, j = 3, econ.dirty
    base = tab["vehicles"][g] * tab["miles"][g]
    grid = np.linspace(c[j], c[j] + scc_path(econ)[0] * emissions_per_mile(econ, 0.39)[j], 20_001)
    integral = np.trapezoid(base * (grid / c[j]) ** econ.miles_elasticity, grid)
    assert f["dcs"][g, j] == pytest.approx(-integral, rel=1e-6)


def test_outside_option_follows_the_logit():
    """Informed households with taste shocks, all re-choosing: the no-car share is the logit's, taxed or not."""
    econ = dataclasses.replace(Economy(), replacement_prob=1.0, burn_in=0, horizon=1)
    mix = HouseholdMix(n_households=40_000, rational_share=1.0, learners={})
    for tax in (0.0, 1500.0):
        model = build(econ, mix, 2, CarbonShare(0.0, [0.0, -tax, -tax, -tax])).run()
        veh = group_tables(econ, mix)["vehicles"][model.hh.group]
        u = model.hh.values.copy()
        u[:, 1:] -= tax * veh[:, None]
        u = u / mix.rational_temperature
        u -= u.max(axis=1, keepdims=True)
        p = np.exp(u)
        p /= p.sum(axis=1, keepdims=True)
        expected = p[:, 0].mean()
        se = np.sqrt(expected * (1 - expected) / mix.n_households)
        assert abs(model.rounds().no_car_share.iloc[0] - expected) < 4 * se
    assert expected > 0.1  # the uniform tax moved households to no car


def test_steady_state_without_policy():
    """No policy: informed households' shares stay at the logit's in expectation; learners' move little."""
    econ = Economy()
    informed = build(econ, HouseholdMix(n_households=20_000, rational_share=1.0, learners={}), 3, None).run()
    df = informed.rounds()
    for col in ("share_none", "share_gasoline", "share_hybrid", "share_electric"):
        slope = np.polyfit(df["round"], df[col], 1)[0]
        assert abs(slope * econ.horizon) < 0.01, (col, slope)
    learning = build(econ, HouseholdMix(n_households=20_000), 3, None).run().rounds()
    for col in ("share_none", "share_gasoline", "share_hybrid", "share_electric"):
        assert abs(learning[col].iloc[-1] - learning[col].iloc[0]) < 0.03, col


@pytest.mark.parametrize("foresight", ["holding_period", "myopic"])
@pytest.mark.parametrize("mcpf", [1.0, 1.2])
def test_pigouvian_carbon_tax_is_first_best_for_informed_households(foresight, mcpf):
    """No policy beats the Pigouvian carbon tax on informed households (common random numbers)."""
    econ = dataclasses.replace(Economy(), foresight=foresight, mcpf=mcpf, horizon=10)
    mix = HouseholdMix(n_households=4000, rational_share=1.0, learners={})
    pig = build(econ, mix, 0, make_principal("pigouvian")).run().totals()["welfare"]
    others = [CarbonShare(s) for s in (0.0, 0.8, 1.25)]
    others += [CarbonShare(1.0, x) for x in ([0, 0, 0, 300], [0, 0, 0, -300], [0, -300, 0, 0], [0, 300, 300, 300])]
    for p in others:
        w = build(econ, mix, 0, p).run().totals()["welfare"]
        assert w <= pig + 1e-6 * abs(pig), (p.share, p.x, w, pig)


def test_analytic_elasticities_within_published_ranges():
    e = elasticities(Economy(), HouseholdMix())
    assert MILES[0] <= e["miles"] <= MILES[1]
    assert SHORT_RUN[0] <= e["short_run"] <= SHORT_RUN[1]
    assert LONG_RUN[0] <= e["long_run"] <= LONG_RUN[1]
    assert abs(e["miles"]) > abs(e["short_run"] - e["miles"])  # the short run mostly from miles
    assert abs(e["fleet_long_run"]) > abs(e["miles"])  # the long run mostly from the fleet
    # Brons et al. (2008): ownership moves gasoline demand less than fuel economy and miles do
    assert abs(e["ownership_long_run"]) < min(abs(e["technology_long_run"]), abs(e["miles"]))


def test_scc_path_is_the_epa_table():
    econ = Economy()
    path = scc_path(econ)
    assert path[0] == pytest.approx(212 * econ.dollar_factor)  # 2025 at 2%
    assert path[5] == pytest.approx(230 * econ.dollar_factor)  # 2030
    assert scc_path(dataclasses.replace(econ, discount=0.015))[0] == pytest.approx(360 * econ.dollar_factor)
    assert scc_path(dataclasses.replace(econ, discount=0.025))[0] == pytest.approx(130 * econ.dollar_factor)
    assert scc_path(dataclasses.replace(econ, start_year=2020, discount=0.02))[0] == pytest.approx(193 * 1.1308)
    with pytest.raises(ValueError, match="discount"):
        dataclasses.replace(econ, discount=0.03).check()
    np.testing.assert_allclose(scc_path(dataclasses.replace(econ, scc=51.0)), 51.0)
    dataclasses.replace(econ, discount=0.03, scc=51.0).check()  # a constant SCC: any rate


def test_emissions_on_one_mileage_basis():
    e = emissions_per_mile(Economy(), 0.39)
    assert e[1] * 11_500 == pytest.approx(4.65, abs=0.01)  # EPA's typical car: about 4.6 t a year
    assert 0.33 < e[3] / e[1] < 0.37  # the electric car at 0.39 kg/kWh: about 35% of a gasoline car
    assert e[0] == 0.0


def test_same_seed_same_economy():
    econ, mix = Economy(horizon=5), HouseholdMix(n_households=1500)
    a = build(econ, mix, 4, make_principal("pigouvian")).run().rounds()
    b = build(econ, mix, 4, make_principal("pigouvian")).run().rounds()
    c = build(econ, mix, 5, make_principal("pigouvian")).run().rounds()
    assert a.equals(b) and not a.equals(c)


def test_ownership_calibration_matches_the_deciles():
    """Informed households with no policy leave the target share of each decile without a car."""
    econ = dataclasses.replace(Economy(), replacement_prob=1.0, burn_in=0, horizon=1)
    mix = HouseholdMix(n_households=60_000, rational_share=1.0, learners={})
    model = build(econ, mix, 6, None).run()
    counts = model.counts_history[0].reshape(econ.n_areas, 10, econ.k).sum(axis=0)
    share = counts[:, 0] / counts.sum(axis=1)
    np.testing.assert_allclose(share, mix.no_car_share, atol=0.02)


@pytest.mark.parametrize(
    ("name", "rate", "scc_2025"), [("1.5pct", 0.015, 360), ("2pct", 0.02, 212), ("2.5pct", 0.025, 130)]
)
def test_shipped_scc_configs(name, rate, scc_2025):
    """The three EPA rates ship as configs: the SCC path and the discounting at the same rate."""
    from pathlib import Path

    from scenarios.green_tax import Args
    from simulator.config import load_toml

    path = Path(__file__).resolve().parents[2] / "scenarios" / "configs" / f"green_tax_scc_{name}.toml"
    args = load_toml(Args, str(path))
    assert args.economy.discount == rate and args.economy.scc is None
    assert scc_path(args.economy)[0] == pytest.approx(scc_2025 * args.economy.dollar_factor)


def test_a_reused_burn_in_plays_the_same_rounds():
    """The burn-in is kept per economy, households and seed: a model restored from it is the burned-in one."""
    from scenarios.green_tax.economy import _SNAPSHOTS

    econ, mix = Economy(horizon=6), HouseholdMix(n_households=1200)
    _SNAPSHOTS.items.clear()
    fresh = build(econ, mix, 9, make_principal("pigouvian")).run()
    assert len(_SNAPSHOTS.items) == 1
    again = build(econ, mix, 9, make_principal("pigouvian")).run()
    pd_a, pd_b = fresh.rounds(), again.rounds()
    assert pd_a.equals(pd_b)
    np.testing.assert_array_equal(fresh.model.last_actions, again.model.last_actions)
    other = build(econ, mix, 10, make_principal("pigouvian"))  # another seed: its own burn-in
    assert len(_SNAPSHOTS.items) == 2 and other.t == 0
