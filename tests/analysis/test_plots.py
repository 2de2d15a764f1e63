"""Smoke tests for analysis.plots: each function returns a Figure that renders to PNG."""

from __future__ import annotations

import pytest
from analysis_testdata import synthetic_results, synthetic_rounds
from matplotlib.figure import Figure

from analysis import plots
from analysis.stats import summarize


@pytest.fixture(scope="module")
def data():
    res = synthetic_results(list(range(4)), agent_types=True)
    return res, synthetic_rounds(list(range(4))), summarize(res, ["principal", "shots"], method="t")


def _renders(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    png = plots.figure_to_png(fig, dpi=40)
    assert png.startswith(b"\x89PNG")


def test_every_plot_renders(data):
    res, rounds, summary = data
    _renders(plots.bar_ci(summary, "welfare", hue="shots", unit="$ per household-year"))
    _renders(plots.bar_ci(summary[summary["shots"] == 0], "welfare"))
    fig = plots.frontier(summary, x_unit="$", y_unit="$")
    assert "intervention_cost ($)" in fig.axes[0].get_xlabel()
    _renders(fig)
    fig = plots.curves_ci(rounds, "round", "welfare", "principal", y_unit="$ per household-year")
    assert fig.axes[0].get_ylabel() == "welfare ($ per household-year)"
    _renders(fig)
    fig = plots.incentive_paths(rounds)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # incentive_0 and tax
    _renders(fig)
    _renders(plots.by_group(res, "welfare", unit="$"))


def test_plot_errors_and_palette(data):
    _, rounds, summary = data
    with pytest.raises(ValueError, match="not in the summary"):
        plots.bar_ci(summary, "nope")
    with pytest.raises(ValueError, match="no incentive"):
        plots.incentive_paths(rounds[["principal", "seed", "round", "welfare"]])
    colors = plots.palette(["a", "b", "a", "c"])
    assert list(colors) == ["a", "b", "c"] and colors["a"] == plots.OKABE_ITO[0]
    assert plots._pareto(*map(__import__("numpy").asarray, ([0, 1, 2, 3], [1, 0.5, 3, 2]))).tolist() == [0, 2]
