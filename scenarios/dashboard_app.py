"""The dashboard's Solara page (Mesa ``SolaraViz``) for the green-tax economy.

Serve it with either of

    python -m scenarios.dashboard                 # wraps the next line; --help shows its options
    solara run scenarios/dashboard_app.py --production --no-check-version   # or: scenarios.dashboard_app

and open http://localhost:8765. It needs the ``dashboard`` extra (``pip install
-e ".[dashboard]"``): Mesa's Solara visualization, and ``solara-assets`` of the
same version as Solara so the page's scripts are served locally (no CDN). Use
production mode offline (Solara's development mode loads a check-in frame from
solara.dev) and set ``SOLARA_TELEMETRY_MIXPANEL_ENABLE=False`` (the wrapper does both).

Each browser session gets its own :class:`~scenarios.dashboard.GreenDashboardModel`.
The sidebar holds Mesa's controls (Reset, Play/Pause, Step, play and render
intervals) and the model parameters; changed parameters take effect on Reset.
Every slider shows its value (Mesa draws Solara sliders, whose value Solara shows
only while dragging; this page asks for it always). The browser tab is titled
"Green tax dashboard". The panels are one grid without tabs (Mesa would label a
single page "Page 0"): this page passes no components to ``SolaraViz`` and draws
its own :data:`COMPONENTS` under Mesa's controls, redrawn on Mesa's update signal
after every step (or every "render interval" steps while playing). The charts are
matplotlib figures from :mod:`scenarios.dashboard`.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any

import solara
import solara.server.settings
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from scenarios.dashboard import (
    PRINCIPALS,
    SERIES,
    THREADS_ENV,
    GreenDashboardModel,
    GridChart,
    SeriesChart,
    TypesChart,
    summary_html,
)

__all__ = ["CHARTS", "COMPONENTS", "TITLE", "Page", "model_params"]

TITLE = "Green tax dashboard"
"""The browser tab's title and the app bar's."""

# a local, possibly offline page: no usage telemetry (``python -m scenarios.dashboard`` also sets
# SOLARA_TELEMETRY_MIXPANEL_ENABLE=False, which covers the server's start-up event too)
solara.server.settings.telemetry.mixpanel_enable = False

# every slider of the page shows its value, not only while dragged (Mesa calls these two by name)
if not isinstance(solara.SliderFloat, functools.partial):
    solara.SliderFloat = functools.partial(solara.SliderFloat, thumb_label="always")
    solara.SliderInt = functools.partial(solara.SliderInt, thumb_label="always")

_DEFAULTS = {name: p.default for name, p in inspect.signature(GreenDashboardModel).parameters.items()}


def _threads() -> int | None:
    raw = os.environ.get(THREADS_ENV, "")
    return int(raw) if raw.strip() else _DEFAULTS["threads"]


def _warm_up() -> None:
    """Load the population kernels once when the server starts, not on a user's first Step (about a second)."""
    model = GreenDashboardModel(n_households=50, principal="pigouvian_ev_subsidy", threads=_threads())
    model.step()
    model.step()


_warm_up()


def model_params(threads: int | None = None) -> dict[str, Any]:
    """Mesa ``model_params``: the sidebar's inputs (defaults from the model's signature) and fixed values."""

    def slider(label: str, name: str, low: float, high: float, step: float, kind: str = "SliderFloat") -> dict:
        return {"type": kind, "label": label, "value": _DEFAULTS[name], "min": low, "max": high, "step": step}

    return {
        "n_households": slider("Households", "n_households", 100, 50_000, 100, "SliderInt"),
        "principal": {
            "type": "Select",
            "label": "Government",
            "value": _DEFAULTS["principal"],
            "values": list(PRINCIPALS),
        },
        "ev_subsidy": slider("EV subsidy, $/yr per vehicle", "ev_subsidy", 0.0, 2000.0, 50.0),
        "rational_share": slider("Rational (informed) share", "rational_share", 0.0, 1.0, 0.05),
        "pessimistic_share": slider("Pessimistic share of learners", "pessimistic_share", 0.0, 1.0, 0.05),
        "pessimism_depth": slider("Pessimism about EVs, $/yr", "pessimism_depth", 0.0, 5000.0, 250.0),
        "epsilon_share": slider("Epsilon-greedy share of learners", "epsilon_share", 0.0, 1.0, 0.05),
        "social_strength": slider("Social learning, neighbours a year", "social_strength", 0.0, 2.0, 0.05),
        "horizon": slider("Years", "horizon", 5, 100, 5, "SliderInt"),
        "seed": slider("Seed", "seed", 0, 99, 1, "SliderInt"),
        "threads": _threads() if threads is None else threads,
    }


CHARTS: dict[str, Callable[[GreenDashboardModel], Any]] = {
    "types": TypesChart,
    **{what: (lambda m, w=what: SeriesChart(m, w)) for what in SERIES},
    "grid": GridChart,
}
"""The chart panels, in page order: household types, the time series, the households' grid."""


@solara.component
def chart_panel(model: GreenDashboardModel, name: str) -> Any:
    """A panel showing a chart that is built once per model and session and updated each step."""
    update_counter.get()  # Mesa's signal after a step or a reset: draw again
    chart = solara.use_memo(lambda: CHARTS[name](model), [model, name])
    with model.lock:  # Play steps the model in another thread
        figure = chart.update(model)
        steps = model.steps
    # the figure object stays the same, so the dependencies tell Solara when to draw it again
    return solara.FigureMatplotlib(figure, dependencies=[model, steps], format="png")


@solara.component
def summary_panel(model: GreenDashboardModel) -> Any:
    """The year, the parameters and the accounts in words."""
    update_counter.get()
    with model.lock:
        html = summary_html(model)
    return solara.HTML(tag="div", unsafe_innerHTML=html)


COMPONENTS = ["summary", *CHARTS]
"""The page's panels, in order: the summary, then the charts (:data:`CHARTS`)."""


@solara.component
def panels(model: GreenDashboardModel) -> None:
    """The panels in one responsive grid (two columns on a wide screen)."""
    with solara.ColumnsResponsive(12, large=6):
        summary_panel(model)
        for name in CHARTS:
            chart_panel(model, name)


@solara.component
def Page() -> None:  # noqa: N802 (Solara looks for `Page`)
    """The dashboard: one model per browser session, Mesa's controls, the panels."""
    solara.Title(TITLE)
    first = solara.use_memo(lambda: GreenDashboardModel(threads=_threads()), [])
    model = solara.use_reactive(first)
    SolaraViz(model, components=[], model_params=model_params(), name=TITLE, play_interval=150)
    panels(model.value)
