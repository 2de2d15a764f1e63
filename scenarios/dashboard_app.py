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
The charts are matplotlib figures from :mod:`scenarios.dashboard`, redrawn
after every step (or every "render interval" steps while playing).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

import solara
import solara.server.settings
from mesa.visualization import SolaraViz

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

__all__ = ["COMPONENTS", "Page", "model_params"]

# a local, possibly offline page: no usage telemetry (``python -m scenarios.dashboard`` also sets
# SOLARA_TELEMETRY_MIXPANEL_ENABLE=False, which covers the server's start-up event too)
solara.server.settings.telemetry.mixpanel_enable = False

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
        "ev_subsidy": slider("EV subsidy, $/yr", "ev_subsidy", 0.0, 5000.0, 250.0),
        "rational_share": slider("Rational (informed) share", "rational_share", 0.0, 1.0, 0.05),
        "pessimistic_share": slider("Pessimistic share of learners", "pessimistic_share", 0.0, 1.0, 0.05),
        "pessimism_depth": slider("Pessimism about EVs, $/yr", "pessimism_depth", 0.0, 5000.0, 250.0),
        "epsilon_share": slider("Epsilon-greedy share of learners", "epsilon_share", 0.0, 1.0, 0.05),
        "horizon": slider("Years", "horizon", 5, 100, 5, "SliderInt"),
        "seed": slider("Seed", "seed", 0, 99, 1, "SliderInt"),
        "threads": _threads() if threads is None else threads,
    }


def _panel(make: Callable[[GreenDashboardModel], Any], name: str) -> Callable[[GreenDashboardModel], Any]:
    """A Mesa panel showing a chart that is built once per model and session and updated each step."""

    def panel(model: GreenDashboardModel) -> Any:
        # runs inside Mesa's wrapper component, so the hook belongs to it: one chart per panel and model
        chart = solara.use_memo(lambda: make(model), [model])
        with model.lock:  # Play steps the model in another thread
            figure = chart.update(model)
            steps = model.steps
        # the figure object stays the same, so the dependencies tell Solara when to draw it again
        return solara.FigureMatplotlib(figure, dependencies=[model, steps], format="png")

    panel.__name__ = name
    return panel


def _summary(model: GreenDashboardModel) -> Any:
    with model.lock:
        html = summary_html(model)
    return solara.HTML(tag="div", unsafe_innerHTML=html)


COMPONENTS: list[tuple[Callable[[GreenDashboardModel], Any], int]] = [
    (_summary, 0),
    (_panel(TypesChart, "TypesPanel"), 0),
    *((_panel(lambda m, w=what: SeriesChart(m, w), f"{what.title()}Panel"), 0) for what in SERIES),
    (_panel(GridChart, "GridPanel"), 0),
]
"""The page's panels (Mesa's ``(component, page)`` pairs), all on the first tab."""


@solara.component
def Page() -> None:  # noqa: N802 (Solara looks for `Page`)
    """The dashboard: one model per browser session, shown with Mesa's SolaraViz."""
    model = solara.use_memo(lambda: GreenDashboardModel(threads=_threads()), [])
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=model_params(),
        name="Green tax: learning households",
        play_interval=150,
    )
