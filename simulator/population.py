"""Populations of heterogeneous learners, built from a type distribution.

An *agent type* is a learner family with concrete parameters. A *type
distribution* is a mixture of families, each with a distribution over its
parameters. It is what meta-learning trains on and what out-of-distribution
tests hold out, so it offers two ways to sample (pytorch-maml-rl's
``sample_tasks`` convention):

* :meth:`TypeDistribution.sample_tasks` draws ``n`` agent *types* (one family
  and one parameter value each): tasks for meta-learning;
* :meth:`TypeDistribution.sample_population` draws a *population*: agents
  split across the families by weight, each agent with its own parameter draw.

Parameter specs are numbers, :class:`Dist` objects, TOML-friendly dicts such as
``{dist = "uniform", low = 0.05, high = 0.2}``, or per-action lists of those
(``initial_values = [0.0, 0.0, {dist = "uniform", low = -3, high = -1}]``).
All draws use the passed-down ``numpy.random.Generator``.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validate import check_actions, check_int, check_offsets
from .learners import Learner, learner_class

__all__ = [
    "AgentType",
    "Choice",
    "Component",
    "Const",
    "Dist",
    "LogUniform",
    "Normal",
    "Population",
    "TypeDistribution",
    "Uniform",
    "as_dist",
    "split_counts",
]


# ------------------------------------------------------------ distributions
class Dist(abc.ABC):
    """A distribution over one scalar parameter."""

    @abc.abstractmethod
    def sample(self, size: int | None, rng: np.random.Generator) -> Any:
        """Draw ``size`` values (or one scalar when ``size`` is None)."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """TOML-friendly description (inverse of :func:`as_dist`)."""

    def support(self) -> tuple[float, float]:
        """Smallest and largest value the distribution can produce."""
        return (-np.inf, np.inf)


@dataclass(frozen=True)
class Const(Dist):
    """A fixed value."""

    value: float

    def sample(self, size: int | None, rng: np.random.Generator) -> Any:
        return self.value if size is None else np.full(size, self.value, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "const", "value": self.value}

    def support(self) -> tuple[float, float]:
        return (self.value, self.value)


@dataclass(frozen=True)
class Uniform(Dist):
    """Uniform on [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low <= self.high):
            raise ValueError(f"uniform distribution needs finite low <= high, got [{self.low}, {self.high}]")

    def sample(self, size: int | None, rng: np.random.Generator) -> Any:
        v = rng.uniform(self.low, self.high, size)
        return float(v) if size is None else v

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "uniform", "low": self.low, "high": self.high}

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True)
class LogUniform(Dist):
    """Log-uniform on [low, high] (low > 0)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (0 < self.low <= self.high < np.inf):
            raise ValueError(f"loguniform distribution needs 0 < low <= high < inf, got [{self.low}, {self.high}]")

    def sample(self, size: int | None, rng: np.random.Generator) -> Any:
        v = np.exp(rng.uniform(np.log(self.low), np.log(self.high), size))
        return float(v) if size is None else v

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "loguniform", "low": self.low, "high": self.high}

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True)
class Normal(Dist):
    """Normal(mean, sd), clipped to [low, high]."""

    mean: float
    sd: float
    low: float = -np.inf
    high: float = np.inf

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mean) and self.sd >= 0 and self.low <= self.high):
            raise ValueError(f"normal distribution needs finite mean, sd >= 0, low <= high, got {self}")

    def sample(self, size: int | None, rng: np.random.Generator) -> Any:
        v = np.clip(rng.normal(self.mean, self.sd, size), self.low, self.high)
        return float(v) if size is None else v

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dist": "normal", "mean": self.mean, "sd": self.sd}
        if np.isfinite(self.low):
            d["low"] = self.low
        if np.isfinite(self.high):
            d["high"] = self.high
        return d

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True)
class Choice(Dist):
    """One of ``values`` with probabilities ``p`` (uniform by default)."""

    values: tuple[float, ...]
    p: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.values) == 0:
            raise ValueError("choice distribution needs at least one value")
        if self.p is not None and (
            len(self.p) != len(self.values) or min(self.p) < 0 or not np.isclose(sum(self.p), 1.0)
        ):
            raise ValueError("choice distribution: p must be non-negative, sum to 1 and match values")

    def sample(self, size: int | None, rng: np.random.Generator) -> Any:
        v = rng.choice(np.asarray(self.values, dtype=np.float64), size=size, p=self.p)
        return float(v) if size is None else v

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dist": "choice", "values": list(self.values)}
        if self.p is not None:
            d["p"] = list(self.p)
        return d

    def support(self) -> tuple[float, float]:
        return (min(self.values), max(self.values))


_DISTS = {"const": Const, "uniform": Uniform, "loguniform": LogUniform, "normal": Normal, "choice": Choice}


def as_dist(spec: Any, name: str = "parameter") -> Any:
    """Parse a parameter spec: number -> Const, dict -> Dist, list -> list of specs, array -> array."""
    if isinstance(spec, Dist):
        return spec
    if isinstance(spec, bool):
        raise ValueError(f"{name}: expected a number or a distribution, got {spec!r}")
    if isinstance(spec, int | float | np.floating | np.integer):
        return Const(float(spec))
    if spec is None:
        return None
    if isinstance(spec, np.ndarray):
        return spec
    if isinstance(spec, dict):
        d = dict(spec)
        kind = d.pop("dist", None)
        if kind is None and len(d) == 1:  # shorthand {"uniform": [lo, hi]}
            ((kind, args),) = d.items()
            d = {"value": args} if kind == "const" else _positional(kind, args, name)
        if kind not in _DISTS:
            raise ValueError(f"{name}: unknown distribution {kind!r}; available: {', '.join(_DISTS)}")
        try:
            if kind == "choice":
                return Choice(tuple(d["values"]), tuple(d["p"]) if d.get("p") is not None else None)
            return _DISTS[kind](**d)
        except TypeError as exc:
            raise ValueError(f"{name}: bad arguments for {kind} distribution: {exc}") from None
    if isinstance(spec, list | tuple):
        return [as_dist(s, f"{name}[{j}]") for j, s in enumerate(spec)]
    raise ValueError(f"{name}: expected a number, a distribution or a list, got {type(spec).__name__}")


def _positional(kind: str, args: Any, name: str) -> dict[str, Any]:
    keys = {"uniform": ("low", "high"), "loguniform": ("low", "high"), "normal": ("mean", "sd", "low", "high")}
    if kind == "choice":
        return {"values": args}
    if kind not in keys or not isinstance(args, list | tuple):
        raise ValueError(f"{name}: cannot read distribution {{{kind}: {args!r}}}")
    return dict(zip(keys[kind], args, strict=False))


def _spec_to_plain(spec: Any) -> Any:
    if isinstance(spec, Dist):
        return spec.to_dict()
    if isinstance(spec, list):
        return [_spec_to_plain(s) for s in spec]
    if isinstance(spec, np.ndarray):
        return spec.tolist()
    return spec


def _draw(spec: Any, size: int | None, rng: np.random.Generator) -> Any:
    if isinstance(spec, Dist):
        return spec.sample(size, rng)
    if isinstance(spec, list):
        cols = [_draw(s, size, rng) for s in spec]
        return cols if size is None else np.stack([np.broadcast_to(c, (size,)) for c in cols], axis=1)
    return spec


def split_counts(n: int, weights: Sequence[float]) -> np.ndarray:
    """Split ``n`` into integer counts proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"mixture weights must be non-negative and not all zero, got {list(weights)}")
    exact = n * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


# ------------------------------------------------------------------- types
@dataclass(frozen=True)
class AgentType:
    """A learner family with concrete parameters: one task for meta-learning.

    Attributes:
        family: registered learner name or ``module:Class`` path.
        params: concrete parameter values (scalars or per-action lists).
        label: a short human-readable name (e.g. ``"eps=0.40"``).
    """

    family: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def make(self, n_agents: int, n_actions: int, *, rng: np.random.Generator, **overrides: Any) -> Learner:
        """Build a batch of ``n_agents`` identical agents of this type."""
        cls = learner_class(self.family)
        return cls(n_agents, n_actions, rng=rng, **{**self.params, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """Plain description for configs and reports."""
        return {"family": self.family, "label": self.label, "params": _spec_to_plain(dict(self.params))}


@dataclass
class Component:
    """One family of a mixture with its parameter distributions and weight."""

    family: str
    params: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    label: str = ""

    def __post_init__(self) -> None:
        cls = learner_class(self.family)
        self.params = {k: as_dist(v, f"{self.family}.{k}") for k, v in dict(self.params).items()}
        accepted = getattr(cls, "params", None)
        if isinstance(accepted, dict):
            unknown = sorted(set(self.params) - set(accepted))
            if unknown:
                raise ValueError(
                    f"{self.family}: unknown parameter(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}"
                )
        if not self.label:
            self.label = self.family if isinstance(self.family, str) else getattr(self.family, "__name__", "custom")


class TypeDistribution:
    """A mixture of learner families with parameter distributions.

    Args:
        components: :class:`Component` objects or ``(weight, family, params)`` tuples.

    Example:
        >>> import numpy as np
        >>> td = TypeDistribution([(0.5, "epsilon_greedy", {"epsilon": {"dist": "uniform", "low": 0.05, "high": 0.2}}),
        ...                        (0.5, "softmax", {"temperature": 0.1})])
        >>> [t.family for t in td.sample_tasks(3, np.random.default_rng(0))]
        ['epsilon_greedy', 'softmax', 'softmax']
    """

    def __init__(self, components: Sequence[Component | tuple]) -> None:
        comps: list[Component] = []
        for c in components:
            if isinstance(c, Component):
                comps.append(c)
            elif isinstance(c, tuple | list) and len(c) in (2, 3):
                weight, family = c[0], c[1]
                params = c[2] if len(c) == 3 and c[2] is not None else {}
                comps.append(Component(family=family, params=params, weight=float(weight)))
            else:
                raise ValueError(f"a mixture component must be (share, learner, params), got {c!r}")
        if not comps:
            raise ValueError("a type distribution needs at least one component")
        split_counts(1, [c.weight for c in comps])  # validates the weights
        self.components = comps

    @classmethod
    def from_spec(cls, learner: Any, learner_params: dict[str, Any] | None = None) -> TypeDistribution:
        """Build from the model's ``learner=`` argument: one spec, or a mixture list."""
        if isinstance(learner, TypeDistribution):
            return learner
        if isinstance(learner, list | tuple) and learner and isinstance(learner[0], tuple | list | Component):
            if learner_params:
                raise ValueError("learner_params applies to a single learner; give params inside each mixture entry")
            return cls(learner)
        return cls([Component(family=learner, params=dict(learner_params or {}))])

    @property
    def weights(self) -> np.ndarray:
        """Normalised mixture weights."""
        w = np.array([c.weight for c in self.components], dtype=np.float64)
        return w / w.sum()

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[AgentType]:
        """Draw ``n`` agent types: a family by weight, then one value of each parameter."""
        n = check_int("n", n, low=0)
        picks = rng.choice(len(self.components), size=n, p=self.weights)
        tasks = []
        for c in picks:
            comp = self.components[int(c)]
            params = {k: _draw(v, None, rng) for k, v in comp.params.items()}
            label = comp.label + "".join(
                f" {k}={v:.3g}" for k, v in params.items() if isinstance(v, float) and isinstance(comp.params[k], Dist)
            )
            tasks.append(AgentType(family=comp.family, params=params, label=label))
        return tasks

    def sample_population(
        self,
        n_agents: int,
        n_actions: int,
        rng: np.random.Generator,
        *,
        payoff_means: np.ndarray | None = None,
    ) -> Population:
        """Draw a population: agents split by weight, each agent with its own parameter draw.

        Args:
            n_agents: population size.
            n_actions: K.
            rng: the passed-down generator.
            payoff_means: (n, K) true means, given to families that know their payoffs
                (``best_response``) unless their params set ``means``.
        """
        n_agents = check_int("n_agents", n_agents, low=1)
        counts = split_counts(n_agents, [c.weight for c in self.components])
        groups = []
        sizes = []
        start = 0
        for comp, m in zip(self.components, counts, strict=True):
            if m == 0:
                continue
            cls = learner_class(comp.family)
            params = {k: _draw(v, int(m), rng) for k, v in comp.params.items()}
            if getattr(cls, "needs_payoff_means", False) and "means" not in params:
                if payoff_means is None:
                    raise ValueError(f"{comp.label}: this learner needs payoff means (pass means= or a game)")
                params["means"] = payoff_means[start : start + m]
            groups.append((comp.label, cls(int(m), n_actions, rng=rng, **params)))
            sizes.append(int(m))
            start += m
        return Population(groups, sizes=sizes, n_actions=n_actions)

    def to_list(self) -> list[dict[str, Any]]:
        """Plain description for configs and reports."""
        return [
            {"weight": c.weight, "family": c.family, "label": c.label, "params": _spec_to_plain(c.params)}
            for c in self.components
        ]


# -------------------------------------------------------------- population
def _learner_attr(label: str, learner: Any, name: str) -> int:
    value = getattr(learner, name, None)
    if value is None:
        raise ValueError(
            f"learner group {label!r}: its learner has no {name} attribute; pass sizes= and n_actions= to Population"
        )
    return int(value)


def _plugin_actions(label: str, actions: Any, m: int, k: int) -> np.ndarray:
    """A user learner's actions, checked: shape (m,), integers in [0, K)."""
    try:
        return check_actions(actions, m, k)
    except ValueError as exc:
        raise ValueError(f"learner group {label!r}: act(): {exc}") from None


class Population:
    """Learner groups stacked into one population over contiguous agent ranges.

    A learner only needs the contract's shape (``__init__``, ``act``, ``update``): the
    sizes of groups built by :class:`TypeDistribution` and :meth:`from_types` are passed
    in; for learners built by hand, ``sizes`` and ``n_actions`` may be given, or else are
    read from each learner's ``n_agents`` and ``n_actions`` attributes.

    Args:
        groups: ``(label, learner)`` pairs; agents are numbered group after group.
        sizes: agents in each group (default: each learner's ``n_agents``).
        n_actions: K (default: the learners' common ``n_actions``).

    Attributes:
        labels: the group labels.
        sizes: agents per group.
        slices: each group's range of agents.
    """

    def __init__(
        self,
        groups: Sequence[tuple[str, Any]],
        *,
        sizes: Sequence[int] | None = None,
        n_actions: int | None = None,
    ) -> None:
        if not groups:
            raise ValueError("a population needs at least one learner group")
        self.labels = [label for label, _ in groups]
        self.learners = [lr for _, lr in groups]
        if sizes is None:
            sizes = [_learner_attr(label, lr, "n_agents") for label, lr in groups]
        elif len(sizes) != len(groups):
            raise ValueError(f"sizes: expected one size per learner group ({len(groups)}), got {len(sizes)}")
        sizes = [check_int(f"group {label!r} size", m, low=1) for label, m in zip(self.labels, sizes, strict=True)]
        if n_actions is None:
            ks = {_learner_attr(label, lr, "n_actions") for label, lr in groups}
            if len(ks) != 1:
                raise ValueError(f"all learner groups must have the same number of actions, got {sorted(ks)}")
            n_actions = ks.pop()
        self.n_actions = check_int("n_actions", n_actions, low=2)
        self.sizes = sizes
        self.n_agents = int(sum(sizes))
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    @property
    def group_of(self) -> np.ndarray:
        """int16 (n,): the learner group index of each agent (built when read; the model keeps none)."""
        return np.repeat(np.arange(len(self.sizes), dtype=np.int16), self.sizes)

    @classmethod
    def from_types(
        cls,
        types: Sequence[AgentType],
        agents_per_type: int,
        n_actions: int,
        rng: np.random.Generator,
        *,
        payoff_means: np.ndarray | None = None,
    ) -> Population:
        """``agents_per_type`` identical agents of each type, in type-major order.

        Consecutive types of the same family share one vectorized learner with
        per-agent parameter arrays, so a batch of tasks steps in a few kernel calls.

        Args:
            types: the agent types (tasks).
            agents_per_type: agents per type m; agent ``i`` has type ``i // m``.
            n_actions: K.
            rng: the passed-down generator.
            payoff_means: (len(types) * m, K) true means for families that know them.
        """
        m = check_int("agents_per_type", agents_per_type, low=1)
        if not types:
            raise ValueError("from_types needs at least one agent type")
        groups = []
        sizes: list[int] = []
        start = 0
        run: list[AgentType] = []

        def flush() -> None:
            nonlocal start
            if not run:
                return
            cls_ = learner_class(run[0].family)
            names = sorted({k for t in run for k in t.params})
            params: dict[str, Any] = {}
            specs = getattr(cls_, "params", {})
            for name in names:
                per_action = getattr(specs.get(name), "kind", "") == "action"
                rows = []
                for t in run:
                    if name not in t.params:
                        raise ValueError(f"{t.label or t.family}: all types of a family must set the same parameters")
                    v = np.asarray(t.params[name], dtype=np.float64)
                    if per_action and v.ndim == 0:  # one prior for every action
                        v = np.full(n_actions, float(v))
                    rows.append(np.broadcast_to(v, (m, *v.shape)))
                stacked = np.concatenate(rows, axis=0)
                params[name] = stacked
            n_run = m * len(run)
            if getattr(cls_, "needs_payoff_means", False) and "means" not in params:
                if payoff_means is None:
                    raise ValueError(f"{run[0].family}: this learner needs payoff means")
                params["means"] = payoff_means[start : start + n_run]
            label = run[0].family if len(run) > 1 else (run[0].label or run[0].family)
            groups.append((label, cls_(n_run, n_actions, rng=rng, **params)))
            sizes.append(n_run)
            start += n_run
            run.clear()

        for t in types:
            if run and t.family != run[0].family:
                flush()
            run.append(t)
        flush()
        return cls(groups, sizes=sizes, n_actions=n_actions)

    def __len__(self) -> int:
        return self.n_agents

    def to_torch(self, device: str = "cpu") -> Any:
        """A :class:`simulator._torch_backend.TorchPopulation` with this population's state on a torch device.

        It steps the same rules as torch tensor ops (same actions for a seed) and writes its
        state back into these learners with ``sync_to_host()``. Imports torch.
        """
        from ._torch_backend import TorchPopulation

        return TorchPopulation(self, device)

    def act(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """Actions of every agent, (n,) int32."""
        off, per = check_offsets(offsets, self.n_agents, self.n_actions)
        return self._act(off, per)

    def _act(self, off: np.ndarray, per: bool) -> np.ndarray:
        out = np.empty(self.n_agents, dtype=np.int32)
        for s, lr, label in zip(self.slices, self.learners, self.labels, strict=True):
            o = off[s] if per else off
            if isinstance(lr, Learner):
                lr._act_unchecked(o, per, out[s])
            else:
                out[s] = _plugin_actions(label, lr.act(o if per else o[0]), s.stop - s.start, self.n_actions)
        return out

    @property
    def fusable(self) -> bool:
        """Whether a model round can run in one kernel per group: every group a family with a play kernel.

        A softmax or EWA group, or a user's learner, makes the whole round run the separate kernels.
        """
        return all(isinstance(lr, Learner) and lr.fuses for lr in self.learners)

    def _play(self, kernels: Any, off: np.ndarray, per: bool, game: Any, rules: Any, sinks: Any) -> None:
        """A whole model round, group after group, in each family's play kernel (see ``Learner._play_unchecked``)."""
        for s, lr in zip(self.slices, self.learners, strict=True):
            lr._play_unchecked(kernels, s.start, off, per, game, rules, sinks)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Pass each group its slice of actions and rewards."""
        for s, lr in zip(self.slices, self.learners, strict=True):
            if isinstance(lr, Learner):
                lr._update_unchecked(actions[s], rewards[s])
            else:
                lr.update(actions[s], rewards[s])

    def taste_shocks(self) -> np.ndarray | None:
        """Realised taste shocks of the last ``act`` (n,), or None if no group draws them."""
        if not any(getattr(lr, "shocks", False) for lr in self.learners):
            return None
        out = np.zeros(self.n_agents, dtype=np.float32)
        for s, lr in zip(self.slices, self.learners, strict=True):
            if getattr(lr, "shocks", False):
                out[s] = lr.last_shock
        return out

    def action_probs(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """(n, K) choice probabilities; groups whose learner has no ``action_probs`` raise."""
        off, per = check_offsets(offsets, self.n_agents, self.n_actions)
        out = np.empty((self.n_agents, self.n_actions), dtype=np.float64)
        for s, lr, label in zip(self.slices, self.learners, self.labels, strict=True):
            if not hasattr(lr, "action_probs"):
                raise ValueError(f"learner group {label!r} does not provide action_probs")
            o = off[s] if per else off[0]
            out[s] = lr.action_probs(o)
        return out

    def estimates(self) -> np.ndarray:
        """(n, K) current scores of every agent (a copy); groups whose learner has no ``estimates`` raise."""
        for lr, label in zip(self.learners, self.labels, strict=True):
            if not hasattr(lr, "estimates"):
                raise ValueError(f"learner group {label!r} does not provide estimates")
        return np.concatenate([np.asarray(lr.estimates) for lr in self.learners], axis=0)

    def locate(self, i: int) -> tuple[int, int]:
        """(group index, index within the group) of agent ``i``."""
        i = check_int("agent index", i, low=0, high=self.n_agents - 1)
        g = int(np.searchsorted([s.stop for s in self.slices], i, side="right"))
        return g, i - self.slices[g].start

    def agent_state(self, i: int) -> dict[str, Any]:
        """Parameters and state of agent ``i``."""
        g, j = self.locate(i)
        lr = self.learners[g]
        state = lr.agent_state(j) if hasattr(lr, "agent_state") else {}
        return {"group": self.labels[g], **state}
