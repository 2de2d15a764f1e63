"""The dashboard's model, figures and command line, without a browser (scenarios/dashboard.py).

The reporters are checked against the scenario's own episode of the same households (the same
numbers), the policy against the principals' definitions, the household views against the arrays;
then determinism, the social-learning panel, the figures, the summary and the Mesa parameter
contract of the page. (The server-side step latency is measured by ``python -m
benchmarks.green_tax_scale --dashboard-step``, not asserted here.)
"""

from __future__ import annotations

import inspect
import io

import numpy as np
import pytest
from numpy.testing import assert_allclose

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
from scenarios.green_tax.economy import Economy, build, scc_path

SCC = scc_path(Economy())  # the Pigouvian carbon tax path, $/tCO2


def run(rounds: int, **params) -> GreenDashboardModel:
    model = GreenDashboardModel(**{"n_households": 300, **params})
    for _ in range(rounds):
        model.step()
    return model


@pytest.mark.parametrize(
    ("params", "carbon", "subsidy"),
    [
        ({"principal": "none"}, 0.0, 0.0),
        ({"principal": "pigouvian", "epsilon_share": 1.0}, 1.0, 0.0),
        ({"principal": "ev_subsidy", "ev_subsidy": 500.0, "epsilon_share": 0.0}, 0.0, 500.0),
        (
            {"principal": "pigouvian_ev_subsidy", "ev_subsidy": 800.0, "n_households": 2000, "rational_share": 0.0},
            1.0,
            800.0,
        ),
    ],
)
def test_reporters_match_the_economy_and_the_principal(params, carbon, subsidy):
    model = run(6, **params)
    df = model.datacollector.get_model_vars_dataframe()
    techs = model.technologies
    assert len(df) == 6 and df["year"].tolist() == [1, 2, 3, 4, 5, 6]
    assert model.steps == 6 and model.year == 6
    shares = df[[f"share_{t}" for t in techs]].to_numpy()
    assert_allclose(shares.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert_allclose(df["carbon_tax"], carbon * SCC[:6], rtol=1e-12)
    assert (df["ev_subsidy"] == subsidy).all()
    # the same households in the scenario's own economy: the same welfare and outlays, year by year
    from scenarios.dashboard import principal_spec

    econ = model.econ
    policy = principal_spec(model.principal_name, econ, model.ev_subsidy)
    twin = build(econ, model.mix, model.seed_value, policy, n=model.n_households)
    for _ in range(6):
        twin.step()
    table = twin.rounds()
    assert_allclose(df["welfare"].to_numpy(), table["welfare"].to_numpy(), rtol=1e-12)
    assert_allclose(df["subsidy_cost"].to_numpy(), table["subsidy_cost"].to_numpy(), rtol=1e-12)
    assert_allclose(df["cumulative_cost"].to_numpy(), np.cumsum(table["subsidy_cost"].to_numpy()), rtol=1e-12)
    disc = (1 + econ.discount) ** -np.arange(6)
    assert_allclose(df["discounted_welfare"].iloc[-1], (table["welfare"] * disc).sum(), rtol=1e-12)
    if subsidy > 0:  # a subsidy on EVs costs public funds, every year someone owns one
        assert (df["subsidy_cost"] > 0).all()
    else:
        assert (df["cumulative_cost"] == 0).all()
    assert ((df["tax_revenue"] > 0) == (carbon > 0)).all()


def test_social_learning_closes_the_pessimists_gap():
    """The social-learning panel: neighbours' experience moves pessimists' EV estimate toward the truth."""
    gaps = {}
    for strength in (0.0, 1.0):
        model = run(8, n_households=3000, social_strength=strength, principal="pigouvian_ev_subsidy")
        df = model.datacollector.get_model_vars_dataframe()
        gaps[strength] = df["belief_gap"].to_numpy()
        assert (df["contacts_heard"] > 0).all() == (strength > 0)
    assert (gaps[0.0] < 0).all()  # pessimists start below the truth
    assert (np.abs(gaps[1.0]) < np.abs(gaps[0.0])).all()


def test_model_stops_at_the_horizon():
    model = GreenDashboardModel(n_households=200, horizon=5)
    while model.running:
        model.step()
    assert model.year == 5 and model.steps == 5


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
    assert index.tolist() == list(range(300)) and (action >= 0).all()  # the steady-state fleet of the burn-in
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
    from policies.base import NoIntervention

    model = GreenDashboardModel(n_households=10)
    assert isinstance(principal_spec("none", model.econ, 100.0).principal, NoIntervention)
    ev = principal_spec("ev_subsidy", model.econ, 100.0)
    assert ev.share == 0.0 and ev.principal.incentives.tolist() == [0.0, 0.0, 0.0, 100.0]
    assert principal_spec("pigouvian_ev_subsidy", model.econ, 100.0).share is None  # the Pigouvian carbon tax
    for p in PRINCIPALS:
        GreenDashboardModel(n_households=20, principal=p).step()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


@pytest.mark.parametrize("n", [150, 1200])
def test_figures_and_summary_render_before_and_after_steps(n):
    model = GreenDashboardModel(n_households=n, principal="pigouvian_ev_subsidy")
    draws = [lambda m, w=w: series_figure(m, w) for w in SERIES]
    draws += [household_grid_figure, household_types_figure]
    before = [_png(draw(model)) for draw in draws]
    text = summary_html(model)
    assert "Year 0 of 20" in text and "press <b>Step</b>" in text and "burn-in" in text
    for _ in range(3):
        model.step()
    after = [_png(draw(model)) for draw in draws]
    assert all(b.startswith(b"\x89PNG") for b in before + after)
    assert all(x != y for x, y in zip(before, after, strict=True))  # every panel shows the new years
    text = summary_html(model)
    assert "Year 3 of 20" in text and f"Carbon tax <b>${SCC[2]:,.0f}</b>/tCO2" in text and "$600" in text
    assert "neighbours' experiences heard" in text
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

    from scenarios.dashboard_app import CHARTS, COMPONENTS, TITLE, model_params

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
    assert ["summary", "types", *SERIES, "grid"] == COMPONENTS and set(CHARTS) == set(COMPONENTS[1:])
    assert "social_strength" in params and TITLE == "Green tax dashboard"
    import solara

    assert solara.SliderFloat.keywords == {"thumb_label": "always"}  # every slider shows its value


def test_command_line():
    cmd = solara_command(Args(port=8800))
    assert cmd[1:5] == ["-m", "solara", "run", "scenarios.dashboard_app"]
    assert "8800" in cmd and "--no-check-version" in cmd and "--production" in cmd
    assert main(["--port", "70000"]) == 2  # a user error: one line, exit code 2, no server started


def test_mermaide_government_on_the_page():
    model = GreenDashboardModel(n_households=200, principal="mermaide")
    model.step()
    model.step()
    df = model.datacollector.get_model_vars_dataframe()
    assert_allclose(df["carbon_tax"], SCC[:2], rtol=1e-12)  # on top of the Pigouvian carbon tax
    assert ((df["ev_subsidy"] >= 0) & (df["ev_subsidy"] <= 2000.0 + 1e-6)).all()  # its trained range
    with pytest.raises(ValueError, match="trained for 20 years"):
        GreenDashboardModel(n_households=20, principal="mermaide", horizon=10)
