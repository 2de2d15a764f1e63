"""The dashboard's model, figures and command line, without a browser (scenarios/dashboard.py).

The welfare and cost reporters are checked against the scenario's own ledger
summary (two implementations agree), the taxes against the principals'
definitions, the household views against the arrays; then determinism, the
figures, the summary, the Mesa parameter contract of the page, and the
server-side step latency at 10,000 households.
"""

from __future__ import annotations

import inspect
import io
import time

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scenarios._green_economy import pigouvian_tax
from scenarios.dashboard import (
    PRINCIPALS,
    SERIES,
    Args,
    GreenDashboardModel,
    GridChart,
    SeriesChart,
    TypesChart,
    household_grid_figure,
    household_types_figure,
    main,
    principal_spec,
    series_figure,
    solara_command,
    summary_html,
)
from scenarios.green_tax import summarize_ledger

PIGOU = np.array([190.0 * 4.6, 190.0 * 3.0, 190.0 * 2.1])  # SCC x emissions, $/yr: 874, 570, 399


def run(rounds: int, **params) -> GreenDashboardModel:
    model = GreenDashboardModel(**{"n_households": 300, **params})
    for _ in range(rounds):
        model.step()
    return model


@pytest.mark.parametrize(
    ("params", "taxes"),
    [
        ({"principal": "none"}, np.zeros(3)),
        ({"principal": "pigouvian", "epsilon_share": 1.0}, PIGOU),
        ({"principal": "ev_subsidy", "ev_subsidy": 1500.0, "epsilon_share": 0.0}, np.array([0.0, 0.0, -1500.0])),
        (
            {"principal": "pigouvian_ev_subsidy", "ev_subsidy": 2000.0, "n_households": 2000, "rational_share": 0.0},
            PIGOU - np.array([0.0, 0.0, 2000.0]),
        ),
    ],
)
def test_reporters_match_the_ledger_and_the_principal(params, taxes):
    model = run(6, **params)
    df = model.datacollector.get_model_vars_dataframe()
    techs = model.technologies
    assert len(df) == 6 and df["year"].tolist() == [1, 2, 3, 4, 5, 6]
    assert model.steps == 6 and model.year == 6
    shares = df[[f"share_{t}" for t in techs]].to_numpy()
    assert_allclose(shares.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert_allclose(df[[f"tax_{t}" for t in techs]].to_numpy(), np.tile(taxes, (6, 1)), rtol=0, atol=1e-9)
    # welfare and subsidy cost per year: the same numbers as the scenario's own ledger summary
    totals, table = summarize_ledger(model.econ, model.incentive_model, model.households)
    assert_allclose(df["welfare"].to_numpy(), table["welfare"].to_numpy(), rtol=1e-12)
    assert_allclose(df["intervention_cost"].to_numpy(), table["subsidy_cost"].to_numpy(), rtol=1e-12)
    assert_allclose(df["cumulative_cost"].to_numpy(), np.cumsum(table["subsidy_cost"].to_numpy()), rtol=1e-12)
    assert_allclose(df["discounted_welfare"].iloc[-1], totals["welfare"], rtol=1e-12)
    assert_allclose(df["clean_share"].to_numpy(), df["share_electric"].to_numpy(), rtol=0, atol=1e-12)
    if taxes[2] < 0:  # a subsidy on EVs costs public funds, every year someone owns one
        assert (df["intervention_cost"] > 0).all()
        assert_allclose(df["intervention_cost"], -taxes[2] * df["share_electric"], rtol=1e-9)
    else:
        assert (df["cumulative_cost"] == 0).all()
    if taxes[0] > 0:
        assert (df["tax_revenue"] > 0).all()


def test_model_stops_at_the_horizon():
    model = GreenDashboardModel(n_households=200, horizon=5)
    while model.running:
        model.step()
    assert model.year == 5 and model.steps == 5
    assert not model.incentive_model.running


def test_same_seed_same_table_other_seed_other_table():
    a = run(5, seed=3, principal="pigouvian").datacollector.get_model_vars_dataframe()
    b = run(5, seed=3, principal="pigouvian").datacollector.get_model_vars_dataframe()
    c = run(5, seed=4, principal="pigouvian").datacollector.get_model_vars_dataframe()
    assert a.equals(b)
    assert not a.equals(c)


def test_threads_do_not_change_results():
    a = run(4, n_households=5000, threads=1).datacollector.get_model_vars_dataframe()
    b = run(4, n_households=5000, threads=None).datacollector.get_model_vars_dataframe()
    assert a.equals(b)


def test_household_views_agree_with_the_arrays():
    small = GreenDashboardModel(n_households=300)
    index, action = small.current_choices()
    assert index.tolist() == list(range(300)) and (action == -1).all()  # nothing chosen yet
    small.step()
    index, action = small.current_choices()
    assert len(small.incentive_model.agents) == 300  # ConsumerAgent views exist for small populations
    assert_allclose(action, small.incentive_model.last_actions)
    names, sizes, counts = small.choices_by_type()
    assert sizes.sum() == 300 and counts.sum() == 300
    assert names[0] == "rational" and sizes[0] == 60  # rational_share 0.2
    assert_allclose(counts.sum(axis=1), sizes)

    big = GreenDashboardModel(n_households=5000)
    big.step()
    index, action = big.current_choices()
    assert len(big.incentive_model.agents) == 0  # no views: an evenly spaced sample of the arrays
    assert len(index) == 400 and index[0] == 0 and index[-1] == 4999
    assert_allclose(action, big.incentive_model.last_actions[index])
    names, sizes, counts = big.choices_by_type()
    assert set(names) == {"rational", "ε-greedy", "ε-greedy, pessimist", "softmax", "softmax, pessimist"}
    assert counts.sum() == 5000


def test_learner_mix_and_pessimism_reach_the_population():
    model = GreenDashboardModel(n_households=1000, rational_share=0.0, epsilon_share=1.0, pessimistic_share=1.0)
    assert model.incentive_model.population.labels == ["epsilon_greedy"]
    assert model.households.pessimist.all()
    names, sizes, _ = model.choices_by_type()
    assert names == ["ε-greedy, pessimist"] and sizes.tolist() == [1000]


@pytest.mark.parametrize(
    "params",
    [
        {"principal": "tax_everything"},
        {"ev_subsidy": -5.0, "principal": "ev_subsidy"},
        {"rational_share": 1.5},
        {"n_households": 0},
    ],
)
def test_bad_parameters_raise(params):
    with pytest.raises(ValueError):
        GreenDashboardModel(**params)


def test_principal_spec():
    model = GreenDashboardModel(n_households=10)
    assert principal_spec("none", model.econ, 100.0) == ("none", None)
    name, params = principal_spec("ev_subsidy", model.econ, 100.0)
    assert name == "constant" and params["incentives"].tolist() == [0.0, 0.0, 100.0]
    for p in PRINCIPALS:
        GreenDashboardModel(n_households=20, principal=p).step()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


@pytest.mark.parametrize("n", [150, 1200])
def test_figures_and_summary_render_before_and_after_steps(n):
    model = GreenDashboardModel(n_households=n, principal="pigouvian_ev_subsidy")
    draws = [lambda m, w=w: series_figure(m, w) for w in ("shares", "taxes", "welfare", "cost")]
    draws += [household_grid_figure, household_types_figure]
    before = [_png(draw(model)) for draw in draws]
    text = summary_html(model)
    assert "Year 0 of 20" in text and "press <b>Step</b>" in text
    for _ in range(3):
        model.step()
    after = [_png(draw(model)) for draw in draws]
    assert all(b.startswith(b"\x89PNG") for b in before + after)
    assert all(x != y for x, y in zip(before, after, strict=True))  # every panel shows the new years
    text = summary_html(model)
    assert "Year 3 of 20" in text and "+874" in text and "-1,601" in text
    with pytest.raises(ValueError, match="unknown series"):
        series_figure(model, "emissions")


def test_charts_updated_in_place_draw_what_fresh_charts_draw():
    """The page keeps one chart per panel and moves its artists; a fresh chart must look the same."""
    model = GreenDashboardModel(n_households=400, principal="ev_subsidy")
    makers = [lambda m, w=w: SeriesChart(m, w) for w in SERIES] + [GridChart, TypesChart]
    kept = [make(model) for make in makers]
    for chart in kept:
        chart.update(model)
    for _ in range(4):
        model.step()
        for make, chart in zip(makers, kept, strict=True):
            assert _png(chart.update(model)) == _png(make(model).update(model))


@pytest.mark.filterwarnings("ignore:.*found despite early return:UserWarning")  # inside Mesa's SolaraViz
def test_page_parameters_fit_the_model():
    pytest.importorskip("solara", reason="the dashboard extra (solara) is not installed")
    from mesa.visualization.solara_viz import _check_model_params

    from scenarios.dashboard_app import COMPONENTS, model_params

    params = model_params(threads=1)
    _check_model_params(GreenDashboardModel.__init__, params)  # Mesa's own check, as on Reset
    defaults = {k: p.default for k, p in inspect.signature(GreenDashboardModel).parameters.items()}
    for name, spec in params.items():
        if isinstance(spec, dict):
            assert spec["value"] == defaults[name]
            if spec["type"].startswith("Slider"):
                assert spec["min"] <= spec["value"] <= spec["max"]
    assert params["principal"]["values"] == list(PRINCIPALS)
    kwargs = {k: (v["value"] if isinstance(v, dict) else v) for k, v in params.items()}
    GreenDashboardModel(**{**kwargs, "n_households": 100}).step()
    assert len(COMPONENTS) == 7


def test_command_line():
    cmd = solara_command(Args(port=8800))
    assert cmd[1:5] == ["-m", "solara", "run", "scenarios.dashboard_app"]
    assert "8800" in cmd and "--no-check-version" in cmd and "--production" in cmd
    assert main(["--port", "70000"]) == 2  # a user error: one line, exit code 2, no server started


def test_step_latency_at_10000_households():
    """Server-side time of one model step at 10,000 households: a small fraction of a second."""
    model = GreenDashboardModel(n_households=10_000, principal="pigouvian")
    model.step()  # kernels loaded
    times = []
    for _ in range(10):
        start = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    print(f"model.step() at 10,000 households: median {median * 1e3:.2f} ms, max {max(times) * 1e3:.2f} ms")
    assert median < 0.2


def test_mermaide_government_on_the_page():
    model = GreenDashboardModel(n_households=200, principal="mermaide")
    model.step()
    model.step()
    clean = model.econ.clean
    # it sets the EV's rate within its trained range: from the Pigouvian tax down to a subsidy below it
    rate = model.incentive_model.ledger.last.incentives[clean]
    pig = -float(pigouvian_tax(model.econ)[clean])
    assert pig - 1e-6 <= rate <= pig + 5000.0 + 1e-6
    with pytest.raises(ValueError, match="trained for 20 years"):
        GreenDashboardModel(n_households=20, principal="mermaide", horizon=10)
