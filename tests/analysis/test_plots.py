"""analysis.plots: what each figure shows (series, colours, labels, ticks, intervals), not only that it renders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_testdata import synthetic_results, synthetic_rounds
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from analysis import plots
from analysis.stats import paired_differences, summarize


@pytest.fixture(scope="module")
def data():
    res = synthetic_results(list(range(4)), agent_types=True)
    return res, synthetic_rounds(list(range(4))), summarize(res, ["principal", "shots"], method="t")


def _png(fig: Figure) -> bytes:
    png = plots.figure_to_png(fig, dpi=40)
    assert png.startswith(b"\x89PNG")
    return png


def _visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def _points(ax) -> list:
    """The plotted markers (not error-bar caps, not reference lines)."""
    return [line for line in ax.lines if line.get_marker() not in (None, "None", "", "|", "_")]


def _legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


# ------------------------------------------------------------------ styles
def test_one_colour_per_family_and_distinct_markers_within_it():
    names = ["none", "pigouvian", "best_constant", "oracle", "mermaide", "wm_only", "meta_only", "model_free", "x:Y"]
    st = plots.principal_styles(names)
    learned = [st[n] for n in ("mermaide", "wm_only", "meta_only", "model_free")]
    assert len({s.color for s in learned}) == 1 and len({s.marker for s in learned}) == 4
    assert len({(s.marker, str(s.linestyle)) for s in learned}) == 4
    assert st["pigouvian"].color == st["best_constant"].color != st["mermaide"].color != st["oracle"].color
    assert st["x:Y"].family == "other" and st["x:Y"].label == "x:Y"
    assert st["wm_only"].label == "World model only" and plots.principal_label("none") == "No policy"
    assert plots.principal_styles(["a", "b"], families={"mine": ("a", "b")})["b"].marker == "s"


def test_axis_labels_are_human_with_units():
    assert plots.axis_label("clean_share", "%") == "Clean share (%)"
    assert plots.axis_label("subsidy_cost", "$") == "Subsidy outlay ($)"
    assert plots.axis_label("miles_driven") == "Miles driven"
    assert plots.axis_label("x", labels={"x": "Gasoline price"}) == "Gasoline price"


# ------------------------------------------------------- differences, panels
def _diffs() -> pd.DataFrame:
    rows = []
    for setting, shift in (("headline", 0.0), ("rational", -300.0)):
        for seed in range(5):
            base = 23_500 + 100 * seed
            for p, gain in (("none", 0), ("pigouvian", 900), ("oracle", 1200), ("mermaide", 600), ("wm_only", 500)):
                rows.append((setting, p, seed, base + gain + shift * (p != "none") + 37 * (seed % 3) * (p != "none")))
    df = pd.DataFrame(rows, columns=["setting", "principal", "seed", "welfare"])
    return paired_differences(df, "welfare", "none", by="setting")


def test_differences_ci_draws_each_difference_with_its_interval_in_panels():
    diffs = _diffs()
    fig = plots.differences_ci(diffs, metric="welfare", unit="$ per household", panel="setting")
    axes = _visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["Setting: headline", "Setting: rational"]
    ax = axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Pigouvian tax", "Oracle", "MERMAIDE", "World model only"]  # grouped by family
    points = {round(float(line.get_xdata()[0])): to_hex(line.get_color()) for line in _points(ax)}
    head = diffs[diffs.setting == "headline"].set_index("principal")["mean"]
    assert set(points) == {round(v) for v in head}  # every difference at its mean, not a bar from 0
    low, high = ax.get_xlim()
    assert -500 < low < 0 < high < 2000  # the axis spans the differences around 0, not the levels of 23,500
    whiskers = [c for c in ax.collections if c.get_segments()]
    assert len(whiskers) == 4  # one interval per principal
    xlabel = fig.get_supxlabel()
    assert "difference from no policy" in xlabel and "$ per household" in xlabel
    assert "e+" not in "".join(t.get_text() for t in ax.get_xticklabels())
    _png(fig)


def test_a_difference_without_interval_is_hollow():
    diffs = _diffs().iloc[:1].assign(low=np.nan, high=np.nan, n=1)
    ax = _visible_axes(plots.differences_ci(diffs, metric="welfare"))[0]
    (point,) = _points(ax)
    assert point.get_markerfacecolor() == "white"
    assert not [c for c in ax.collections if c.get_segments()]


def test_curves_panels_use_integer_year_ticks_family_styles_and_an_outside_legend(data):
    _, rounds, _ = data
    rounds = pd.concat([rounds.assign(setting="headline"), rounds.assign(setting="rational")])
    fig = plots.curves_panels(rounds, "round", "welfare", panel="setting", x_unit="year", y_unit="$")
    axes = _visible_axes(fig)
    assert len(axes) == 2 and axes[1].get_title() == "Setting: rational"
    fig.canvas.draw()
    ticks = axes[0].get_xticks()
    assert np.all(ticks == np.round(ticks))  # no tick at 2.5
    assert set(_legend_texts(fig)) == {"No policy", "Pigouvian tax", "MERMAIDE"}
    legend_box = fig.legends[0].get_window_extent()
    assert all(not legend_box.overlaps(ax.get_window_extent()) for ax in axes)  # outside the data
    colours = {line.get_label(): to_hex(line.get_color()) for line in axes[0].lines}
    assert len(set(colours.values())) == 3
    _png(fig)


# --------------------------------------------------------- single panels
def test_bar_and_curves_use_human_labels_and_family_colours(data):
    _, rounds, summary = data
    fig = plots.bar_ci(summary[summary["shots"] == 0], "welfare", unit="$ per household-year")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["No policy", "Pigouvian tax", "MERMAIDE"]
    bars = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert bars == [plots.FAMILY_COLORS[f].lower() for f in ("no policy", "fixed rules", "learned")]
    assert ax.get_ylabel() == "Welfare ($ per household-year)"
    _png(fig)
    fig = plots.bar_ci(summary, "welfare", hue="shots")
    assert len(fig.axes[0].patches) == 6 and _legend_texts(fig) == ["0", "1"]
    _png(fig)

    fig = plots.curves_ci(rounds, "round", "welfare", "principal", y_unit="$ per household-year")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Welfare ($ per household-year)" and ax.get_xlabel() == "Round"
    assert _legend_texts(fig) == ["No policy", "Pigouvian tax", "MERMAIDE"]
    mermaide = next(line for line in ax.lines if line.get_label() == "MERMAIDE")
    means = rounds[rounds.principal == "mermaide"].groupby("round").welfare.mean().to_numpy()
    np.testing.assert_allclose(mermaide.get_ydata(), means)
    _png(fig)


def test_frontier_incentive_paths_and_by_group(data):
    res, rounds, summary = data
    fig = plots.frontier(summary, x_unit="$", y_unit="$")
    assert fig.axes[0].get_xlabel() == "Intervention cost ($)"
    assert "MERMAIDE, 0" in _legend_texts(fig) and not any("=" in t for t in _legend_texts(fig))
    _png(fig)
    fig = plots.incentive_paths(rounds)
    assert [ax.get_title() for ax in _visible_axes(fig)] == ["Incentive 0", "Tax"]
    _png(fig)
    fig = plots.by_group(res, "welfare", unit="$")
    assert fig.axes[0].get_xlabel() == "Agent type" and len(_legend_texts(fig)) == 3
    _png(fig)


def test_plot_errors_and_palette(data):
    _, rounds, summary = data
    with pytest.raises(ValueError, match="not in the summary"):
        plots.bar_ci(summary, "nope")
    with pytest.raises(ValueError, match="no incentive"):
        plots.incentive_paths(rounds[["principal", "seed", "round", "welfare"]])
    with pytest.raises(ValueError, match="no differences"):
        plots.differences_ci(_diffs().iloc[:0], metric="welfare")
    colors = plots.palette(["a", "b", "a", "c"])
    assert list(colors) == ["a", "b", "c"] and colors["a"] == plots.OKABE_ITO[0]
    assert plots._pareto(np.asarray([0, 1, 2, 3]), np.asarray([1, 0.5, 3, 2])).tolist() == [0, 2]
