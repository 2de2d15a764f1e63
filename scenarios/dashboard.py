"""dashboard: a live web dashboard of the green-tax economy (Mesa ``SolaraViz``).

The page shows one green-tax economy (:mod:`scenarios.green_tax.economy`) as it
runs, year by year after its burn-in: controls for the population (size,
rational share, pessimism, the learner mix of epsilon-greedy vs softmax
households, how strongly learning households learn from their neighbours'
experience), the government (no intervention, the Pigouvian carbon tax, a
constant EV subsidy, both, or the meta-learned government) and the seed; Mesa's
play / step / reset buttons; live charts of the households' choices (no car,
gasoline, hybrid, electric), the carbon tax and the EV subsidy, welfare per
household, the cumulative subsidy outlay, and what pessimistic learners believe
about electric cars (the social-learning panel: with neighbours' experience
their beliefs approach the truth faster); and the households' current cars, as a
grid (every household for populations of up to 500, read through the
:class:`~simulator.model.ConsumerAgent` views; an evenly spaced sample of the
arrays above that) and as shares per household type.

Run it (the ``dashboard`` extra pins a Solara that works offline):

    pip install -e ".[dashboard]"
    python -m scenarios.dashboard                # http://127.0.0.1:8765
    python -m scenarios.dashboard --port 8800 --threads 2
    solara run scenarios/dashboard_app.py --production   # or: solara run scenarios.dashboard_app

Changed sliders take effect on **Reset** (Mesa's rule: the model is rebuilt
from the parameters). This module holds the model (:class:`GreenDashboardModel`,
a thin Mesa model that builds the green-tax economy
(:class:`~scenarios.green_tax.economy.GreenModel`) from flat keyword parameters and
collects its accounts), the matplotlib figures the page shows, and the command
line, which serves the page with ``solara run`` in a process group of its own and
ends that whole group when it is stopped (Ctrl-C, SIGTERM, SIGHUP); it imports no
Solara, so it can be used and tested without the web stack. The page itself is
:mod:`scenarios.dashboard_app`. See ``docs/dashboard.md``.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import mesa
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simulator import IncentiveModel
from simulator.config import option, parse_args, run_cli

from .green_tax.economy import (
    Economy,
    GreenModel,
    HouseholdMix,
    Households,
    PolicySource,
    build,
    principal_policy,
)

__all__ = [
    "PRINCIPALS",
    "SERIES",
    "SERVER_ENV",
    "THREADS_ENV",
    "Args",
    "GreenDashboardModel",
    "GridChart",
    "SeriesChart",
    "TypesChart",
    "household_grid_figure",
    "household_types_figure",
    "main",
    "principal_spec",
    "series_figure",
    "serve",
    "solara_command",
    "summary_html",
]

PRINCIPALS = ("none", "pigouvian", "ev_subsidy", "pigouvian_ev_subsidy", "mermaide")
"""Government choices on the page: no intervention, the Pigouvian carbon tax, a constant EV subsidy (no carbon
tax), both together, and the meta-learned government (the shipped green_tax checkpoint, 0-shot, on top of the
Pigouvian carbon tax)."""

PRINCIPAL_LABELS = {
    "none": "no intervention",
    "pigouvian": "Pigouvian carbon tax (the SCC per tonne)",
    "ev_subsidy": "constant EV subsidy, no carbon tax",
    "pigouvian_ev_subsidy": "Pigouvian carbon tax + EV subsidy",
    "mermaide": "MERMAIDE (meta-learned vehicle incentives on top of the carbon tax)",
}
TYPE_LABELS = {"epsilon_greedy": "ε-greedy", "best_response": "rational"}
TECH_COLORS = {"none": "#bbbbbb", "gasoline": "#8c564b", "hybrid": "#1f77b4", "electric": "#2ca02c"}
MAX_GRID = 400
"""Households drawn in the grid when the population has no agent views (an evenly spaced sample)."""
SERVER_ENV = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
"""Environment of the Solara server: no usage telemetry (the page is local and may run offline)."""
THREADS_ENV = "LEARNING_INCENTIVES_DASHBOARD_THREADS"
"""Environment variable through which ``python -m scenarios.dashboard --threads`` reaches the page."""


# ------------------------------------------------------------------ model
@functools.cache
def _intercepts() -> list[float]:
    """The default households' ownership intercepts.

    Every population of the page keeps them, as the scenario's settings do (they differ in what
    households know, not in what they value).
    """
    from .green_tax.economy import calibrate_ownership

    return [float(a) for a in calibrate_ownership(Economy(), HouseholdMix())]


@contextmanager
def _numba_threads(threads: int | None) -> Iterator[None]:
    """Run the population kernels on ``threads`` numba threads (None: leave as is), then restore."""
    if not threads:
        yield
        return
    import numba

    prev = numba.get_num_threads()
    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(prev)


def principal_spec(name: str, econ: Economy, ev_subsidy: float) -> PolicySource:
    """The economy's policy for a dashboard choice.

    Args:
        name: one of :data:`PRINCIPALS`.
        econ: the economy (the clean technology's index, the horizon).
        ev_subsidy: subsidy on the clean technology, $/yr per vehicle (>= 0).

    Returns:
        a :class:`~scenarios.green_tax.economy.PolicySource`: a registered principal with the carbon tax
        it implies (none: no carbon tax; the EV subsidy alone: no carbon tax; the others: the Pigouvian
        carbon tax).
    """
    from policies import make_principal

    if name not in PRINCIPALS:
        raise ValueError(f"principal: unknown {name!r}; choose one of {', '.join(PRINCIPALS)}")
    if ev_subsidy < 0:
        raise ValueError(f"ev_subsidy: must be >= 0, got {ev_subsidy}")
    if name in ("none", "pigouvian"):
        return principal_policy(make_principal(name))
    if name == "mermaide":  # the shipped checkpoint; it refuses an economy it was not trained for
        from policies.checkpoints import load_checkpoint

        path = Path(__file__).parent / "checkpoints" / "green_tax" / "mermaide.pt"
        trained = load_checkpoint(path)["net_spec"]["horizon"]
        if econ.horizon != trained:
            raise ValueError(
                f"principal: the shipped MERMAIDE government was trained for {trained} years; set Years to {trained}"
            )
        return principal_policy(make_principal("mermaide", checkpoint=str(path), seed=0))
    incentives = np.zeros(econ.k)
    incentives[econ.clean] = float(ev_subsidy)
    share = 0.0 if name == "ev_subsidy" else None  # None: the economy's default, the Pigouvian carbon tax
    return principal_policy(make_principal("constant", incentives=incentives), share)


class GreenDashboardModel(mesa.Model):
    """The green-tax economy with flat keyword parameters, for Mesa's ``SolaraViz``.

    It builds the scenario's economy (:func:`scenarios.green_tax.economy.build`: the households, a
    steady-state fleet after the burn-in, the margins and the accounts) and steps it once per
    ``step()``; its own DataCollector collects what the dashboard plots, read from the economy's
    accounts (money in $ per household):

    * ``share_<tech>``: share of households owning each option this year (``none``: no car);
    * ``carbon_tax``: the carbon tax, $/tCO2; ``ev_subsidy``: the subsidy per electric vehicle, $/yr;
    * ``welfare``: welfare this year; ``discounted_welfare``: its discounted sum so far;
    * ``subsidy_cost``: subsidy outlays (+ administrative cost) this year; ``cumulative_cost``: their
      undiscounted sum so far;
    * ``tax_revenue``, ``emissions`` (tCO2), ``clean_share`` (electric share of vehicles);
    * ``belief_gap``: pessimistic learners' mean estimate of an electric car's value minus its true value
      for them, $/yr (social learning closes it faster); ``contacts_heard``: others' experiences each
      learning household has heard so far.

    Args:
        n_households: population size N.
        rational_share: share of informed households.
        pessimistic_share: share of learning households pessimistic about the clean technology.
        pessimism_depth: how far below the truth pessimists' prior of the clean technology is, $/yr.
        epsilon_share: share of the learning households that are epsilon-greedy (the rest softmax).
        social_strength: others' experiences a learning household learns from per year (neighbours of
            its area and income decile); 0: none (:mod:`simulator.social`).
        principal: the government, one of :data:`PRINCIPALS`.
        ev_subsidy: the constant subsidy per electric vehicle of ``ev_subsidy`` and
            ``pigouvian_ev_subsidy``, $/yr.
        horizon: years simulated after the burn-in (the model stops after them).
        seed: the one seed of the run.
        threads: numba threads used by a step (None: numba's default). One thread is
            the default because a parallel kernel waits for every worker and a
            dashboard shares the cores with the browser and the server.

    Attributes:
        economy: the green-tax :class:`~scenarios.green_tax.economy.GreenModel`.
        incentive_model: its :class:`~simulator.IncentiveModel` (the households).
        households: the drawn households (values, groups, types, pessimists).
        econ: the :class:`Economy`; mix: the :class:`HouseholdMix`.
        last_step_seconds: wall time of the last ``step()``, server side (not collected:
            it is not reproducible).
        lock: held by ``step()``; hold it while reading the model from another thread.
            Mesa's Play runs the steps in a worker thread while Solara redraws the page in
            another, so the page's panels read the model under this lock (which also makes
            Play wait for a redraw instead of queueing redraws behind it).
    """

    def __init__(
        self,
        n_households: int = 10_000,
        rational_share: float = 0.2,
        pessimistic_share: float = 0.5,
        pessimism_depth: float = 2500.0,
        epsilon_share: float = 0.5,
        social_strength: float = 0.25,
        principal: str = "none",
        ev_subsidy: float = 600.0,
        horizon: int = 20,
        seed: int = 0,
        threads: int | None = 1,
    ) -> None:
        super().__init__(rng=int(seed))
        self.lock = threading.RLock()
        n = int(n_households)
        if n < 1:
            raise ValueError(f"n_households: must be >= 1, got {n_households}")
        for name, value in (
            ("rational_share", rational_share),
            ("pessimistic_share", pessimistic_share),
            ("epsilon_share", epsilon_share),
        ):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {value}")
        if not 0.0 <= float(social_strength) <= 10.0:
            raise ValueError(f"social_strength: must be in [0, 10], got {social_strength}")
        self.econ = Economy(horizon=int(horizon))
        self.econ.check()
        learners: dict[str, Any] = {}
        if epsilon_share > 0:
            learners["epsilon_greedy"] = {"weight": float(epsilon_share), "epsilon": 0.05}
        if epsilon_share < 1:
            learners["softmax"] = {"weight": 1.0 - float(epsilon_share), "temperature": 250.0}
        self.mix = HouseholdMix(
            n_households=n,
            rational_share=float(rational_share),
            pessimistic_share=float(pessimistic_share),
            pessimism_depth=float(pessimism_depth),
            learners=learners,
            social_strength=float(social_strength),
            ownership_intercepts=_intercepts(),
        )
        self.seed_value = int(seed)
        self.principal_name = principal
        self.ev_subsidy = float(ev_subsidy)
        self.threads = threads
        policy = principal_spec(principal, self.econ, self.ev_subsidy)
        with _numba_threads(threads):
            self.economy: GreenModel = build(self.econ, self.mix, int(seed), policy, n=n)
        self.incentive_model: IncentiveModel = self.economy.model
        self.households: Households = self.economy.hh
        learners_mask = (self.households.kind == 1) & self.households.pessimist
        self._pessimists = np.flatnonzero(learners_mask)
        self._values: dict[str, float] = {}
        self.cumulative_cost = 0.0
        self.discounted_welfare = 0.0
        self.last_step_seconds = float("nan")
        self._types: tuple[list[str], np.ndarray] | None = None
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())
        self.running = True

    @property
    def technologies(self) -> list[str]:
        """Option names, in action order (``none``: no car)."""
        return list(self.econ.technologies)

    @property
    def n_households(self) -> int:
        """Population size N."""
        return self.incentive_model.n_agents

    @property
    def year(self) -> int:
        """Completed years after the burn-in."""
        return max(self.economy.t, 0)

    def _reporters(self) -> dict[str, Any]:
        rep: dict[str, Any] = {"year": lambda m: m.year}
        for tech in self.technologies:
            rep[f"share_{tech}"] = lambda m, key=f"share_{tech}": m._values[key]
        for key in (
            "carbon_tax",
            "ev_subsidy",
            "welfare",
            "discounted_welfare",
            "subsidy_cost",
            "cumulative_cost",
            "tax_revenue",
            "emissions",
            "clean_share",
            "belief_gap",
            "contacts_heard",
        ):
            rep[key] = lambda m, key=key: m._values[key]
        return rep

    def belief_gap(self) -> float:
        """Pessimistic learners' mean estimate of the clean technology's value minus its true value, $/yr."""
        if self._pessimists.size == 0:
            return float("nan")
        est = self.incentive_model.population.estimates()[self._pessimists, self.econ.clean]
        return float((est - self.households.values[self._pessimists, self.econ.clean]).mean())

    def step(self) -> None:
        """One year of the economy, then collect."""
        with self.lock:
            self._step()

    def _step(self) -> None:
        started = time.perf_counter()
        with _numba_threads(self.threads):
            row = self.economy.step()
        self.last_step_seconds = time.perf_counter() - started
        cost = row["subsidy_cost"] + row["admin_cost"]
        self.cumulative_cost += cost
        self.discounted_welfare += row["welfare"] * (1.0 + self.econ.discount) ** -row["round"]
        clean = self.technologies[self.econ.clean]
        values = {f"share_{t}": row[f"share_{t}"] for t in self.technologies}
        values |= {
            "carbon_tax": row["carbon_tax"],
            "ev_subsidy": row[f"subsidy_{clean}"],
            "welfare": row["welfare"],
            "discounted_welfare": self.discounted_welfare,
            "subsidy_cost": cost,
            "cumulative_cost": self.cumulative_cost,
            "tax_revenue": row["tax_revenue"],
            "emissions": row["emissions"],
            "clean_share": row["clean_share"],
            "belief_gap": self.belief_gap(),
            "contacts_heard": float(self.economy.social.heard if self.economy.social is not None else 0),
        }
        self._values = values
        self.datacollector.collect(self)
        self.running = self.year < self.econ.horizon

    # ------------------------------------------------------- households
    def current_choices(self, max_households: int = MAX_GRID) -> tuple[np.ndarray, np.ndarray]:
        """Current technology of individual households, for the grid.

        Every household when the population has :class:`~simulator.model.ConsumerAgent`
        views (small populations), read through them; otherwise an evenly spaced sample of
        at most ``max_households`` rows of the arrays.

        Returns:
            ``(index, action)``: household rows (sorted) and their current technology
            (-1 before the first year).
        """
        inner = self.incentive_model
        if len(inner.agents) > 0:
            views = sorted(inner.agents, key=lambda a: a.index)
            index = np.array([a.index for a in views], dtype=np.int64)
            action = np.array([-1 if a.action is None else a.action for a in views], dtype=np.int64)
            return index, action
        n = inner.n_agents
        index = np.unique(np.linspace(0, n - 1, min(n, max_households)).round().astype(np.int64))
        if inner.last_actions is None:
            return index, np.full(index.shape, -1, dtype=np.int64)
        return index, inner.last_actions[index].astype(np.int64)

    def _household_types(self) -> tuple[list[str], np.ndarray]:
        """Type names (learner family, split by pessimism) and each household's type code."""
        pop = self.incentive_model.population
        raw = pop.group_of.astype(np.int64) * 2 + self.households.pessimist.astype(np.int64)
        present, code = np.unique(raw, return_inverse=True)
        names = [
            TYPE_LABELS.get(pop.labels[r // 2], pop.labels[r // 2]) + (", pessimist" if r % 2 else "")
            for r in present.tolist()
        ]
        return names, code.reshape(-1)

    def choices_by_type(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Counts of the current technology per household type.

        Types are the population's groups (``rational`` and each learner family),
        learners split into pessimists about the clean technology and the rest.

        Returns:
            ``(types, sizes, counts)``: type labels, households per type (T,), and a
            (T, K) array of counts of each current technology (zeros before the first year).
        """
        if self._types is None:
            self._types = self._household_types()
        names, code = self._types
        k = self.econ.k
        sizes = np.bincount(code, minlength=len(names))
        counts = np.zeros((len(names), k))
        last = self.incentive_model.last_actions
        if last is not None:
            flat = np.bincount(code * k + last.astype(np.int64), minlength=len(names) * k)
            counts = flat.reshape(len(names), k).astype(np.float64)
        return names, sizes, counts


# ---------------------------------------------------------------- figures
def _colors(techs: Sequence[str]) -> list[str]:
    cycle = ["#8c564b", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e"]
    return [TECH_COLORS.get(t, cycle[j % len(cycle)]) for j, t in enumerate(techs)]


def _figure(left: float = 0.16, right: float = 0.97, bottom: float = 0.16, top: float = 0.9) -> tuple[Figure, Any]:
    """A small figure with fixed margins (a layout engine would double the drawing time of a step)."""
    fig = Figure(figsize=(5.0, 3.0), dpi=80)
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top)
    return fig, fig.subplots()


SERIES: dict[str, tuple[str, str]] = {
    "shares": ("Households' cars", "share of households"),
    "policy": ("Carbon tax and EV subsidy", "$ (per tCO2; per EV a year)"),
    "welfare": ("Welfare this year", "$ per household"),
    "cost": ("Cumulative subsidy outlay", "$ per household"),
    "beliefs": ("Pessimists' view of the EV (social learning)", "estimate - truth, $/yr"),
}
"""The line charts: name -> (title, y label)."""


class SeriesChart:
    """A line chart of collected series, built once and updated in place.

    Building a matplotlib figure costs about as much as drawing it, so the page
    keeps one chart per panel and session and only moves the lines each step.

    Args:
        model: the dashboard model (its technologies and horizon fix the axes).
        what: a key of :data:`SERIES`: ``shares`` (households per option), ``policy`` (carbon
            tax per tonne and EV subsidy per vehicle), ``welfare`` (per household this year),
            ``cost`` (cumulative subsidy outlay per household) or ``beliefs`` (pessimistic
            learners' EV estimate minus the truth).
    """

    def __init__(self, model: GreenDashboardModel, what: str) -> None:
        if what not in SERIES:
            raise ValueError(f"unknown series {what!r}; use {', '.join(SERIES)}")
        self.what = what
        self.fig, self.ax = _figure(right=0.74) if what in ("shares", "policy") else _figure()
        ax = self.ax
        techs = model.technologies
        if what == "shares":
            self.columns = ["share_" + t for t in techs]
            colors, labels = _colors(techs), techs
        elif what == "policy":
            self.columns = ["carbon_tax", "ev_subsidy"]
            colors, labels = ["#7f7f7f", TECH_COLORS["electric"]], ["carbon tax", "EV subsidy"]
        else:
            self.columns = [{"welfare": "welfare", "cost": "cumulative_cost", "beliefs": "belief_gap"}[what]]
            colors, labels = [{"welfare": "#9467bd", "cost": "#d62728", "beliefs": "#17becf"}[what]], [None]
        self.lines = [ax.plot([], [], color=c, label=lab, marker=".")[0] for c, lab in zip(colors, labels, strict=True)]
        title, ylabel = SERIES[what]
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if what == "shares":
            ax.set_ylim(0.0, 1.0)
        elif what in ("policy", "beliefs"):
            ax.axhline(0.0, color="black", linewidth=0.6)
        if what in ("shares", "policy"):  # beside the axes: no line can hide behind it
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
        ax.set_xlabel("year")
        ax.set_xlim(0.5, model.econ.horizon + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        self.hint = ax.text(
            0.5, 0.5, "press Step or Play", transform=ax.transAxes, ha="center", va="center", color="grey"
        )

    def update(self, model: GreenDashboardModel) -> Figure:
        """Move the lines to the model's collected series; returns the figure."""
        df = model.datacollector.get_model_vars_dataframe()
        empty = len(df) == 0
        years = np.zeros(0) if empty else df["year"].to_numpy(dtype=np.float64)
        for line, column in zip(self.lines, self.columns, strict=True):
            line.set_data(years, np.zeros(0) if empty else df[column].to_numpy(dtype=np.float64))
        self.hint.set_visible(empty)
        if self.what != "shares":
            values = np.zeros(0) if empty else df[self.columns].to_numpy(dtype=np.float64).ravel()
            self.ax.set_ylim(*_y_limits(values, self.what))
        return self.fig


def _y_limits(values: np.ndarray, what: str) -> tuple[float, float]:
    """Y range of a money chart: policy, costs and beliefs always show 0; flat series get a visible band ($)."""
    values = values[np.isfinite(values)]
    if what in ("policy", "cost", "beliefs"):
        values = np.append(values, 0.0)
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.08 * (hi - lo), 10.0)
    return (0.0 if what == "cost" else lo - pad), hi + pad


class GridChart:
    """Households coloured by their current technology (white: not chosen yet), updated in place.

    Every household of a small population (through its ConsumerAgent views), else an
    evenly spaced sample (:meth:`GreenDashboardModel.current_choices`).
    """

    def __init__(self, model: GreenDashboardModel) -> None:
        index, _ = model.current_choices()
        techs = model.technologies
        self.side = int(np.ceil(np.sqrt(len(index))))
        self.fig, self.ax = _figure(left=0.02, right=0.72, bottom=0.1, top=0.9)
        ax = self.ax
        self.image = ax.imshow(
            np.full((self.side, self.side), np.nan),
            cmap=ListedColormap(_colors(techs)),
            vmin=-0.5,
            vmax=len(techs) - 0.5,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        n = model.n_households
        shown = "all" if len(index) == n else f"{len(index)} of"
        ax.set_title(f"Households' current cars ({shown} {n:,})", fontsize="medium")
        ax.set_xlabel("row by row: rational households first, then learners", fontsize="small")
        handles = [ax.scatter([], [], marker="s", color=c, label=t) for t, c in zip(techs, _colors(techs), strict=True)]
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)

    def update(self, model: GreenDashboardModel) -> Figure:
        """Recolour the cells with the households' current technologies; returns the figure."""
        _, action = model.current_choices()
        cells = np.full(self.side * self.side, np.nan)
        cells[: len(action)] = np.where(action >= 0, action, np.nan)
        self.image.set_data(cells.reshape(self.side, self.side))
        return self.fig


class TypesChart:
    """Horizontal stacked bars: current technology shares within each household type, updated in place."""

    def __init__(self, model: GreenDashboardModel) -> None:
        names, sizes, _ = model.choices_by_type()
        techs = model.technologies
        self.fig, self.ax = _figure(left=0.42, top=0.8)
        ax = self.ax
        ypos = np.arange(len(names))
        zeros = np.zeros(len(names))
        self.bars = [
            ax.barh(ypos, zeros, left=zeros, color=c, label=t) for t, c in zip(techs, _colors(techs), strict=True)
        ]
        ax.set_yticks(ypos, [f"{nm} (n={int(s):,})" for nm, s in zip(names, sizes, strict=True)], fontsize="small")
        ax.invert_yaxis()
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("share of the type's households")
        ax.set_title("Current cars by household type")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.1), ncols=len(techs), fontsize="small", frameon=False)

    def update(self, model: GreenDashboardModel) -> Figure:
        """Resize the bars to the current shares; returns the figure."""
        _, _, counts = model.choices_by_type()
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        left = np.zeros(len(shares))
        for j, bars in enumerate(self.bars):
            for rect, x0, width in zip(bars, left, shares[:, j], strict=True):
                rect.set_x(float(x0))
                rect.set_width(float(width))
            left = left + shares[:, j]
        return self.fig


def series_figure(model: GreenDashboardModel, what: str) -> Figure:
    """A fresh line chart of the collected series (see :class:`SeriesChart`); not attached to pyplot."""
    return SeriesChart(model, what).update(model)


def household_grid_figure(model: GreenDashboardModel) -> Figure:
    """A fresh grid of households coloured by their current technology (see :class:`GridChart`)."""
    return GridChart(model).update(model)


def household_types_figure(model: GreenDashboardModel) -> Figure:
    """A fresh bar chart of current technology shares per household type (see :class:`TypesChart`)."""
    return TypesChart(model).update(model)


def summary_html(model: GreenDashboardModel) -> str:
    """A short summary of the parameters and the current year, as an HTML fragment.

    HTML rather than Markdown: Solara's Markdown component fetches KaTeX from the
    CDN, which an offline page cannot reach.
    """
    econ, mix = model.econ, model.mix
    gov = PRINCIPAL_LABELS.get(model.principal_name, model.principal_name)
    if "ev_subsidy" in model.principal_name:
        gov += f" (${model.ev_subsidy:,.0f} a year per EV)"
    eps = float(dict(mix.learners.get("epsilon_greedy", {})).get("weight", 0.0))
    parts = [
        f"<p><b>Year {model.year} of {econ.horizon}</b> · {model.n_households:,} households · "
        f"government: {escape(gov)}</p>",
        f"<p style='color:#555'>rational share {mix.rational_share:.0%}; learners: {eps:.0%} epsilon-greedy, "
        f"{1 - eps:.0%} softmax; {mix.pessimistic_share:.0%} of learners pessimistic about EVs "
        f"(prior ${mix.pessimism_depth:,.0f}/yr too low); social learning {mix.social_strength:g} neighbours' "
        f"experiences a year; {econ.replacement_prob:.0%} of households replace their cars a year; seed "
        f"{model.seed_value}</p>",
    ]
    v = model._values
    if not v:
        parts.append(
            f"<p>The fleet is in its steady state after a {econ.burn_in}-year burn-in: press <b>Step</b> or "
            "<b>Play</b>. Changed parameters apply on <b>Reset</b>.</p>"
        )
        return "\n".join(parts)
    techs = model.technologies
    head = "".join(f"<th style='text-align:right;padding:0 8px'>{escape(t)}</th>" for t in techs)
    cell = "<td style='text-align:right;padding:0 8px'>{}</td>"
    share = "".join(cell.format(f"{v[f'share_{t}']:.1%}") for t in techs)
    gap = v["belief_gap"]
    parts += [
        f"<table><tr><th></th>{head}</tr><tr><td>households</td>{share}</tr></table>",
        f"<p>Carbon tax <b>${v['carbon_tax']:,.0f}</b>/tCO2, EV subsidy <b>${v['ev_subsidy']:,.0f}</b> a year per "
        f"vehicle. Welfare this year <b>${v['welfare']:,.0f}</b> per household (discounted sum so far "
        f"${v['discounted_welfare']:,.0f}); cumulative subsidy outlay <b>${v['cumulative_cost']:,.0f}</b> "
        f"per household (${v['cumulative_cost'] * model.n_households / 1e6:,.1f} M in all); "
        f"emissions {v['emissions']:.2f} tCO2 per household.</p>",
        "<p>Pessimistic learners' estimate of the EV: "
        + ("(none in this population)" if not np.isfinite(gap) else f"<b>{gap:+,.0f}</b> $/yr from the truth")
        + f"; {v['contacts_heard']:.0f} neighbours' experiences heard per learning household so far.</p>",
        f"<p style='color:#555'>last step: {model.last_step_seconds * 1000:.1f} ms on the server</p>",
    ]
    return "\n".join(parts)


# ------------------------------------------------------------- command line
@dataclass
class Args:
    """Command-line settings of the dashboard server."""

    host: str = option("127.0.0.1", help="interface to listen on (127.0.0.1: this machine only)")
    port: int = option(8765, help="port to serve on (0: a free one)", low=0, high=65535)
    threads: int = option(1, help="numba threads per model step (1 keeps the page responsive)", low=1)
    production: bool = option(True, help="Solara production mode (no hot reload)")
    open: bool = option(False, help="open a browser tab")


def solara_command(args: Args) -> list[str]:
    """The ``solara run`` command line that serves the page."""
    cmd = [sys.executable, "-m", "solara", "run", "scenarios.dashboard_app", "--host", args.host]
    cmd += ["--port", str(args.port), "--open" if args.open else "--no-open", "--no-check-version"]
    if args.production:
        cmd.append("--production")
    return cmd


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that stop the server: the whole process group of ``solara run`` is ended on each."""


def serve(cmd: list[str], env: dict[str, str], grace: float = 10.0) -> int:
    """Run the Solara server in a process group of its own until it exits or this process is told to stop.

    On SIGINT, SIGTERM or SIGHUP the whole group (``solara run`` and any worker it started) gets
    SIGTERM, then SIGKILL if any of it is still there after ``grace`` seconds; the previous handlers
    are put back on return. The handler only sends signals: waiting stays in the main loop (a wait
    inside the handler would deadlock with the interrupted one).

    Returns:
        the server's exit code, or 0 when stopped by a signal.
    """
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    stopped: list[float] = []

    def stop(signum: int, frame: Any) -> None:
        if not stopped:
            stopped.append(time.monotonic())
            _signal_group(proc.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stopped and time.monotonic() - stopped[0] > grace:
                    _signal_group(proc.pid, signal.SIGKILL)
        # the leader is gone; so must be the rest of its group
        deadline = time.monotonic() + grace
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            _signal_group(proc.pid, signal.SIGTERM)
            time.sleep(0.1)
        if _group_alive(proc.pid):
            _signal_group(proc.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # an error in this loop: never leave the server behind
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    return 0 if stopped else code


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scenarios.dashboard``: serve the page until interrupted."""

    def go() -> int:
        args, _ = parse_args(Args, argv, prog="python -m scenarios.dashboard", description=__doc__)
        env = {**os.environ, **SERVER_ENV, THREADS_ENV: str(args.threads)}
        print(f"serving the green-tax dashboard on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
        return serve(solara_command(args), env)

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
