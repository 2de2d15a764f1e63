"""Reforms as data: files, carry-forward, the reform principal, baseline vs reform with common random numbers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.runs import IncomparableRunsError, check_comparable
from policies import make_principal
from scenarios.green_tax import Args, episode, main
from scenarios.green_tax import reforms as R
from scenarios.green_tax.distribution import buckets, distribution_table, gini, income_deciles
from scenarios.green_tax.economy import Economy, HouseholdMix, build, draw_households

N = 1500
ECON = Economy()
MIX = HouseholdMix(n_households=N)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def resolve(doc: dict, econ: Economy = ECON, base: R.ResolvedPolicy | None = None) -> R.ResolvedPolicy:
    reform = R.parse_reform(doc, technologies=econ.technologies, horizon=econ.horizon)
    return (base or R.ResolvedPolicy.current(econ)).apply(reform)


# ------------------------------------------------------------------ the file dialect
def test_carry_forward_bare_values_lists_and_partial_maps():
    pol = resolve(
        {
            "scc": 51,  # bare scalar: from round 0 on
            "tax": {"2": {"gasoline": 100}, "5": [0, 874, 570, 399], "9": {"hybrid": 0}},
            "dividend_weights": {"1": 3, "10": 0},  # a bare decile map
            "subsidy_income_limit": {"4": 150000},
        }
    )
    assert (pol["scc"] == 51).all()
    tax = pol["tax"]
    assert (tax[:2] == 0).all()
    assert tax[2].tolist() == [0, 100, 0, 0] and tax[4].tolist() == [0, 100, 0, 0]  # carried forward
    assert tax[5].tolist() == [0, 874, 570, 399] and tax[8].tolist() == [0, 874, 570, 399]
    assert tax[9].tolist() == [0, 874, 0, 399] and tax[19].tolist() == [0, 874, 0, 399]  # only hybrid changed
    assert pol["dividend_weights"][0].tolist() == [3] + [1] * 8 + [0]
    assert np.isinf(pol["subsidy_income_limit"][:4]).all() and (pol["subsidy_income_limit"][4:] == 150000).all()
    assert (pol["prices"] == np.asarray(ECON.prices)).all()  # untouched: the baseline's


def test_reform_applies_on_top_of_the_baseline():
    base = resolve({"tax": {"0": {"gasoline": 500}}, "scc": 51})
    pol = resolve({"tax": {"3": {"electric": 10}}}, base=base)
    assert pol["tax"][0].tolist() == [0, 500, 0, 0] and pol["tax"][3].tolist() == [0, 500, 0, 10]
    assert (pol["scc"] == 51).all()
    assert pol.changes_from(base) == ["tax"]


def test_json_toml_and_yaml_say_the_same(tmp_path):
    j = write(tmp_path, "a.json", '{"tax": {"0": [0, 874, 570, 399]}, "dividend_share": {"3": 0.5}}')
    t = write(tmp_path, "b.toml", "tax = {0 = [0, 874, 570, 399]}\n[dividend_share]\n3 = 0.5\n")
    y = write(tmp_path, "c.yaml", "tax:\n  0: [0, 874, 570, 399]\ndividend_share: {3: 0.5}\n")
    pols = [R.ResolvedPolicy.current(ECON).apply(R.load_reform(str(p), ECON)) for p in (j, t, y)]
    for p in pols[1:]:
        assert p.changes_from(pols[0]) == []
    assert R.load_reform(str(j), ECON).sha256 != R.load_reform(str(t), ECON).sha256


@pytest.mark.parametrize("name", sorted(R.shipped_reforms()))
def test_shipped_reforms_validate_and_have_a_header(name):
    reform = R.load_reform(name, ECON)  # by name
    assert reform.title and reform.description and reform.changes
    pol = R.ResolvedPolicy.current(ECON).apply(reform)
    assert pol.changes_from(R.ResolvedPolicy.current(ECON))
    json.dumps(pol.record())  # the resolved values are JSON for run.json


# ------------------------------------------------------------------ common random numbers
def test_a_reform_that_changes_nothing_gives_exactly_zero_difference():
    """Same seeds: every household and every aggregate is identical (not just close)."""
    econ = ECON
    scc = R.ResolvedPolicy.current(econ)["scc"]
    null = resolve({"tax": {"0": [0, 0, 0, 0], "7": {"hybrid": 0}}, "scc": {"0": float(scc[0])}})
    null.values["scc"] = scc.copy()  # the same path, written out
    base = R.ResolvedPolicy.current(econ)
    mix = dataclasses.replace(MIX, n_households=800)
    a = R.run_policy(econ, mix, 3, base)
    b = R.run_policy(econ, mix, 3, null)
    assert np.array_equal(a.net_surplus, b.net_surplus)  # every household
    pd.testing.assert_frame_equal(a.rounds, b.rounds, check_exact=True)
    dist = distribution_table(a.income, a.net_surplus, b.net_surplus, a.income_total)
    assert (dist[dist.metric == "change"].value == 0).all()
    assert (dist[dist.metric == "share_no_change"].value == 100).all()


def test_baseline_equals_the_no_policy_episode_and_pigouvian_reform_the_pigouvian_principal():
    """One welfare computation: the reform path and the principal path agree to the last digit."""
    mix = dataclasses.replace(MIX, n_households=800)
    base = R.run_policy(ECON, mix, 5, R.ResolvedPolicy.current(ECON))
    none, _ = episode(ECON, mix, 5, make_principal("none"), n=800)
    assert base.totals["welfare"] == none["welfare"] and base.totals["emissions"] == none["emissions"]
    pig = R.run_policy(ECON, mix, 5, resolve({"carbon_tax_scc_share": 1.0}))
    ref, _ = episode(ECON, mix, 5, make_principal("pigouvian"), n=800)
    ref_nodiv, _ = episode(dataclasses.replace(ECON, dividend_default=0.0), mix, 5, make_principal("pigouvian"), n=800)
    for key in ("welfare", "emissions", "tax_revenue", "damages", "clean_share"):
        assert pig.totals[key] == pytest.approx(ref_nodiv[key], rel=1e-12), key
    assert ref["dividends"] == pytest.approx(ref["tax_revenue"])  # the comparison's principals return their revenue
    # the accounting identity: W = private value - damages + (lambda - 1) x net budget
    r = pig.rounds
    assert np.allclose(r.welfare, r.private_value - r.damages + (ECON.mcpf - 1) * r.net_budget)
    assert np.allclose(r.tax_revenue, r.damages)  # a Pigouvian carbon tax collects exactly the damages


def test_pass_through_dividends_and_income_limits_are_accounted_for():
    mix = dataclasses.replace(MIX, n_households=1000)
    doc = {
        "tax": {"0": {"gasoline": 800}},
        "pass_through": {"0": {"gasoline": 0.25}},
        "subsidy": {"0": {"electric": 1000}},
        "subsidy_income_limit": 60000,
        "dividend_share": 1.0,
        "dividend_weights": [4, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    }
    pol = resolve(doc)
    run = R.run_policy(ECON, mix, 2, pol)
    r = run.rounds
    veh = run.deciles  # per decile
    assert (r.tax_revenue > 0).all() and (r.subsidy_cost > 0).all()
    assert np.allclose(r.producer_burden, 0.75 * r.tax_revenue)  # sellers bear three quarters of the tax
    assert np.allclose(r.dividends, np.maximum(r.tax_revenue - r.subsidy_cost, 0))
    assert np.allclose(r.welfare, r.private_value - r.damages + (ECON.mcpf - 1) * r.net_budget)
    # only households up to the income limit receive the subsidy
    rich = veh.decile >= 8  # deciles above $60,000 (median $80,610)
    assert (veh[rich].subsidy_received == 0).all() and (veh[~rich].subsidy_received.sum() > 0)
    # dividends: the poorest decile's weight is 4, the richest's 0
    assert veh.dividends.iloc[0] > veh.dividends.iloc[4] > veh.dividends.iloc[9] == 0


def test_price_changes_are_posted_and_paid_to_sellers():
    """A higher vehicle price moves households like a vehicle tax, but no revenue and a real welfare loss."""
    mix = dataclasses.replace(MIX, n_households=1000)
    dearer = resolve({"prices": {"0": {"gasoline": ECON.prices[1] + 500}}})
    taxed = resolve({"tax": {"0": {"gasoline": 500}}})
    a = R.run_policy(ECON, mix, 1, dearer)
    b = R.run_policy(ECON, mix, 1, taxed)
    assert np.array_equal(a.rounds.clean_share, b.rounds.clean_share)  # the same choices
    assert (a.rounds.tax_revenue == 0).all() and (b.rounds.tax_revenue > 0).all()
    assert np.allclose(a.rounds.consumer_surplus, b.rounds.consumer_surplus)
    assert (a.rounds.welfare < b.rounds.welfare).all()  # the price change is a real cost, the tax a transfer
    cleaner = resolve({"grid_intensity": {"5": 0.1}})
    c = R.run_policy(ECON, mix, 1, cleaner)
    base = R.run_policy(ECON, mix, 1, R.ResolvedPolicy.current(ECON))
    assert np.array_equal(c.rounds.clean_share, base.rounds.clean_share)  # no carbon tax: accounting only
    assert (c.rounds.emissions[:5] == base.rounds.emissions[:5]).all()
    assert (c.rounds.emissions[5:] < base.rounds.emissions[5:]).all()


def test_an_announced_carbon_tax_moves_informed_buyers_before_it_starts():
    """Look-ahead: a carbon tax announced for year 5 changes informed households' cars from year 0; myopic ones wait."""
    mix = dataclasses.replace(MIX, n_households=3000, rational_share=1.0, learners={})
    later = resolve({"carbon_tax_scc_share": {"5": 1.0}})
    none = R.ResolvedPolicy.current(ECON)
    ahead = R.run_policy(ECON, mix, 2, later).rounds
    base = R.run_policy(ECON, mix, 2, none).rounds
    assert ahead.clean_share.iloc[4] > base.clean_share.iloc[4]
    myopic = dataclasses.replace(ECON, foresight="myopic")
    m_ahead = R.run_policy(myopic, mix, 2, later).rounds
    m_base = R.run_policy(myopic, mix, 2, none).rounds
    assert (m_ahead.clean_share.iloc[:5] == m_base.clean_share.iloc[:5]).all()


# ------------------------------------------------------------------ distribution helpers
def test_distribution_helpers():
    assert buckets([-6, -1, 0.05, -0.05, 2, 9]).tolist() == [0, 1, 2, 2, 3, 4]
    assert gini([1.0, 1.0, 1.0]) == pytest.approx(0.0)
    assert gini(np.arange(1.0, 11.0)) == pytest.approx(0.3)
    dec = income_deciles(np.arange(100.0))
    assert dec.min() == 1 and dec.max() == 10 and (np.bincount(dec)[1:] == 10).all()
    inc = np.arange(1.0, 101.0) * 1000
    base = np.full(100, 1000.0)
    reform = base.copy()
    reform[:10] -= 1000  # the poorest decile loses $1,000, nobody else changes
    table = distribution_table(inc, base, reform, inc * 10)
    wide = table.pivot(index="group", columns="metric", values="value")
    assert wide.loc["all", "change"] == pytest.approx(-100)
    assert wide.loc["1", "change_pct_income"] == pytest.approx(-100 * 1000 / (inc[:10].mean() * 10 + 1000))
    assert wide.loc["1", "worse_off"] == 10 and wide.loc["10", "unchanged"] == 10


def test_income_is_drawn_apart_and_shifts_values_only_through_its_parameters():
    rng = np.random.default_rng
    flat = dataclasses.replace(MIX, income_value_slope=[], ownership_intercepts=[0.0] * 10)  # no re-calibration
    plain = draw_households(ECON, flat, 500, rng(0), income=np.full(500, MIX.income_median))
    again = draw_households(ECON, flat, 500, rng(0), income=np.full(500, MIX.income_median))
    assert np.array_equal(plain.values, again.values)
    rich = dataclasses.replace(flat, income_value_slope=[0.0, 0.0, 0.0, 1000.0])
    shifted = draw_households(ECON, rich, 500, rng(0), income=np.full(500, MIX.income_median * np.e))
    vehicles = np.asarray(MIX.vehicles)[shifted.decile - 1]
    assert np.allclose(shifted.values[:, 3] - plain.values[:, 3], 1000.0 * vehicles)  # per vehicle
    model = build(ECON, MIX, 4, None, n=50)
    assert model.hh.income.shape == (50,) and (model.hh.income > 0).all()


# ------------------------------------------------------------------ command line
def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("name", sorted(R.shipped_reforms()))
def test_every_shipped_reform_runs_baseline_vs_reform(name, tmp_path, capsys):
    out = tmp_path / name
    argv = ["--reform", name, "--seeds", "2", "--settings", "headline", "--households.n-households", "400"]
    code = main([*argv, "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "reform - baseline" in printed
    for f in ("results.csv", "rounds.csv", "aggregate.csv", "distribution.csv", "report.html", "report.md"):
        assert (out / f).exists(), f
    agg = pd.read_csv(out / "aggregate.csv")
    assert set(agg.quantity) >= set(R.METRICS)
    assert set(agg.basis) == {"cumulative", "discounted"} and (agg.n == 2).all()
    rounds = pd.read_csv(out / "rounds.csv")
    reform = R.load_reform(name, ECON)
    ref = rounds[(rounds.principal == "reform") & (rounds.seed == 0)].set_index("round")
    base = rounds[(rounds.principal == "baseline") & (rounds.seed == 0)].set_index("round")
    if "carbon_tax_scc_share" in reform.changes:
        first = min(reform.changes["carbon_tax_scc_share"])
        assert (ref.tax_revenue.loc[: first - 1] == 0).all() and (ref.tax_revenue.loc[first:] > 0).all()
    if "subsidy" in reform.changes:
        assert ref.subsidy_cost.iloc[0] > 0
    if "dividend_share" in reform.changes:
        assert np.allclose(ref.net_budget, 0.0) and np.allclose(ref.dividends, ref.tax_revenue)
    if name == "carbon_tax_ramp":
        share = (ref.carbon_tax / ref.scc).round(6).tolist()[:8]
        assert share == [0, 0, 0, 0.2, 0.4, 0.6, 0.8, 1.0]
    if name == "subsidy_then_tax":
        assert (ref.subsidy_cost.loc[5:] == 0).all() and (ref.tax_revenue.loc[:4] == 0).all()
    if name == "cleaner_grid":
        assert (ref.emissions.loc[10:] < base.emissions.loc[10:]).all()
    html = (out / "report.html").read_text()
    order = ["Summary", "Aggregate changes", "Distributional analysis", "Against the published incidence studies"]
    order += ["The policy", "The baseline", "Assumptions"]
    pos = [html.index(f">{h}</h2>") for h in [*order, "Citations"]]
    assert pos == sorted(pos)
    assert reform.title in html
    record = json.loads((out / "run.json").read_text())
    sha = reform.sha256
    assert record["config"]["reform_sha256"] == sha
    assert sha in record["inputs"].values()
    assert record["extra"]["policies"]["reform"]["parameters"]["tax"]


def test_null_reform_through_the_cli_gives_zero_changes(tmp_path, capsys):
    null = write(tmp_path, "null.json", '{"title": "nothing", "tax": {"0": [0, 0, 0, 0]}, "mcpf": 1.2}')
    out = tmp_path / "null"
    argv = ["--reform", str(null), "--seeds", "2", "--settings", "headline", "--households.n-households", "300"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    agg = pd.read_csv(out / "aggregate.csv")
    change = agg[agg.metric == "change"]
    assert (change["mean"] == 0).all() and (change["low"] == 0).all() and (change["high"] == 0).all()
    dist = pd.read_csv(out / "distribution.csv")
    assert (dist[dist.metric == "change"]["mean"] == 0).all()


def test_the_reform_is_a_principal_beside_the_others(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["--principals", "none,pigouvian,reform", "--reform", "pigouvian", "--settings", "headline"]
    argv += ["--seeds", "1", "--households.n-households", "500", "--out", str(out), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    res = pd.read_csv(out / "results.csv").set_index("principal")
    # the reform file keeps its revenue (no dividend), the compared principals return theirs: the same households
    # and emissions, a different budget
    assert res.loc["reform", "emissions"] == pytest.approx(res.loc["pigouvian", "emissions"], rel=1e-12)
    assert res.loc["reform", "tax_revenue"] == pytest.approx(res.loc["pigouvian", "tax_revenue"], rel=1e-12)
    assert res.loc["reform", "dividends"] == 0 and res.loc["pigouvian", "dividends"] > 0


def test_runs_with_different_reforms_are_not_comparable(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    argv = ["--seeds", "1", "--settings", "headline", "--households.n-households", "200", "--no-progress"]
    assert main([*argv, "--reform", "pigouvian", "--out", str(a)]) == 0
    assert main([*argv, "--reform", "tax_and_dividend", "--out", str(b)]) == 0
    with pytest.raises(IncomparableRunsError, match="reform"):
        check_comparable([a, b])


def test_an_interrupted_reform_run_resumes_to_the_same_tables(tmp_path, capsys, monkeypatch):
    argv = ["--reform", "ev_subsidy", "--seeds", "3", "--settings", "headline", "--households.n-households", "300"]
    argv += ["--no-progress"]
    full = tmp_path / "full"
    assert main([*argv, "--out", str(full)]) == 0
    cut = tmp_path / "cut"
    real = R.evaluate_reform_task

    def crash(task):
        if task.seed == 1:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(R, "evaluate_reform_task", crash)
    with pytest.raises(KeyboardInterrupt):
        main([*argv, "--out", str(cut)])
    assert (tmp_path / "cut.partial" / "INCOMPLETE").exists()
    monkeypatch.setattr(R, "evaluate_reform_task", real)
    assert main([*argv, "--out", str(cut), "--resume"]) == 0
    assert main([*argv, "--out", str(cut), "--resume"]) == 0  # a complete folder: nothing to do
    for f in ("results.csv", "rounds.csv", "aggregate.csv", "distribution.csv"):
        assert (full / f).read_bytes() == (cut / f).read_bytes(), f


BAD = [
    ("unknown.json", '{"tx": {"0": [0, 1, 2, 3]}}', ["tx", "unknown parameter", "tax"]),
    ("config.json", '{"horizon": 30}', ["horizon", "cannot be set", "--economy.horizon"]),
    ("late.json", '{"tax": {"25": [0, 1, 2, 3]}}', ["tax", "round 25", "0 to 19"]),
    ("range.toml", "[subsidy.0]\nelectric = -5\n", ["subsidy", "electric", "[0, 100,000]", "-5"]),
    ("share.yaml", "pass_through: {0: [1, 0.5, 1.5, 1]}\n", ["pass_through", "hybrid", "[0, 1]", "1.5"]),
    ("length.json", '{"tax": {"0": [1, 2]}}', ["tax", "needs 4 values", "none, gasoline, hybrid, electric"]),
    ("tech.json", '{"subsidy": {"0": {"elektric": 5}}}', ["subsidy", "elektric", "electric"]),
    ("text.json", '{"scc": {"0": "high"}}', ["scc", "must be a number", "[0, inf)"]),
    ("broken.json", '{"tax": {"0": [0, 1, 2, 3]}', ["broken.json", "not valid JSON"]),
    ("broken.toml", "tax = [1, 2\n", ["broken.toml", "not valid TOML"]),
    ("broken.yaml", "tax: [1, 2\n", ["broken.yaml", "not valid YAML", "line"]),
    ("weights.json", '{"dividend_weights": [0,0,0,0,0,0,0,0,0,0]}', ["dividend_weights", "positive"]),
]


@pytest.mark.parametrize(("name", "text", "needles"), BAD, ids=[b[0] for b in BAD])
def test_bad_reform_files_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, name, text, needles):
    path = write(tmp_path, name, text)
    out = tmp_path / "out"
    code, err = _run(["--reform", str(path), "--out", str(out), "--no-progress"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: reform: "), err
    assert str(path) in lines[0] or name in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists() and not out.with_name("out.partial").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--principals", "none,reform"], "give --reform"),
        (["--baseline", "pigouvian"], "give --reform"),
        (["--reform", "no_such_reform"], "shipped reforms"),
        (["--reform", "pigouvian", "--baseline", "missing.toml"], "baseline: missing.toml"),
    ],
)
def test_bad_reform_options_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    out = tmp_path / "out"
    code, err = _run([*argv, "--out", str(out)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_reform_files_are_checked_against_the_config_economy(tmp_path):
    """A two-option economy (no car or a car) needs two values per vector."""
    econ = Economy(
        technologies=["none", "car"],
        clean=1,
        dirty=1,
        prices=[0.0, 5000.0],
        values=[0.0, 9000.0],
        mpg=[0.0, 30.0],
        kwh_per_mile=[0.0, 0.0],
        group_shifts=[[0.0, 0.0], [0.0, 0.0]],
        horizon=10,
    )
    with pytest.raises(R.ReformError, match="unknown technology 'electric'; valid: none, car"):
        R.load_reform("ev_subsidy", econ)
    with pytest.raises(R.ReformError, match="needs 2 values"):
        R.parse_reform({"tax": {"0": [0, 1, 2, 3]}}, technologies=econ.technologies, horizon=10)
    with pytest.raises(R.ReformError, match="round 12 is outside the horizon: rounds 0 to 9"):
        R.parse_reform({"scc": {"12": 5}}, technologies=econ.technologies, horizon=10)
    args = Args(economy=econ, reform=str(write(tmp_path, "car.json", '{"subsidy": {"car": 500}}')))
    pols = R.load_policies(args)
    assert pols.reform["subsidy"][0].tolist() == [0.0, 500.0]


def test_the_reform_cli(capsys):
    from scenarios.reform import main as reform_main

    assert reform_main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in R.shipped_reforms())
    assert reform_main(["--show", "carbon_tax_ramp"]) == 0
    shown = capsys.readouterr().out
    assert "Carbon tax ramp" in shown and "0.2" in shown
    assert reform_main(["--json-schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"tax", "subsidy", "dividend_share", "prices"} <= set(schema["properties"])
    assert reform_main(["--show", "nope"]) == 2
