"""IncentiveModel: a principal and a population of learning consumers, as a Mesa model.

One ``step()`` is one round (docs/design.md):

1. the principal sets this round's incentives (``principal.act()``);
2. every agent chooses (one vectorized call over the population);
3. payoffs are drawn and the ledger records who chose what and who paid what;
4. the learners update from what they experienced;
5. the principal observes the round through the observation model;
6. the DataCollector collects.

The population is a struct of arrays stepped by numba kernels; Mesa owns the
seed (``model.rng``), the step counter, the DataCollector and the UI. With
``device="cuda"`` (or ``"torch-cpu"``) the same rules run as torch tensor ops on
that device (:mod:`simulator._torch_backend`, imported only then): the same actions
for a seed, only per-round aggregates crossing to the host. Thin
:class:`ConsumerAgent` views of individual consumers exist for small
populations (inspection, dashboards); they are never used in the hot path,
in the spirit of Mesa's ``conways_game_of_life_fast`` example.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any

import mesa
import numpy as np

from ._device_memory import check_model_fits
from ._rng import seed_key_from
from ._validate import check_int
from .game import IncentiveGame, play_round
from .ledger import Ledger
from .observation import Observation, ObservationModel, PrincipalSpec
from .population import Population, TypeDistribution

__all__ = [
    "DEVICES",
    "ConsumerAgent",
    "IncentiveModel",
    "ModelFork",
    "check_device_option",
    "default_game",
    "resolve_device",
]

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda", "auto", "torch-cpu")
"""Accepted ``device`` values (``"cuda:N"`` picks a GPU): ``cpu`` is the numba path."""


def _import_torch(device: str) -> Any:
    try:
        import torch
    except ImportError:
        raise ValueError(f"device={device!r} needs PyTorch, which is not installed; use device='cpu'") from None
    return torch


def resolve_device(device: str | None) -> str:
    """Resolve a ``device`` argument to ``"cpu"`` (numba; also None), ``"torch-cpu"`` or ``"cuda[:N]"``.

    ``"auto"`` is ``"cuda"`` when torch sees a usable GPU and ``"cpu"`` otherwise (with a log
    line). ``"cuda"`` without a usable GPU raises a one-line ValueError. Torch is imported
    only for a device other than ``"cpu"``.
    """
    name = device.strip().lower() if isinstance(device, str) else None
    if device is None or name == "cpu":
        return "cpu"
    if name == "torch-cpu":
        _import_torch(device)
        return name
    if name == "auto":
        try:
            import torch
        except ImportError:
            log.info("device='auto': PyTorch is not installed; running on the CPU (numba)")
            return "cpu"
        if torch.cuda.is_available():
            return "cuda"
        log.info("device='auto': no usable CUDA GPU (torch %s); running on the CPU (numba)", torch.__version__)
        return "cpu"
    if name is not None and re.fullmatch(r"cuda(:\d+)?", name):
        torch = _import_torch(device)
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} needs a usable CUDA GPU, but torch {torch.__version__} finds none "
                "(torch.cuda.is_available() is False); use device='cpu' or device='auto'"
            )
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: there are only {torch.cuda.device_count()} CUDA device(s)")
        return name
    raise ValueError(f"device must be one of {', '.join(DEVICES)} or 'cuda:N', got {device!r}")


def check_device_option(device: str) -> None:
    """Validate a config's ``device`` field: :func:`resolve_device`'s error, as ``device: ...``.

    Raises:
        ValueError: an unknown device, or one this machine does not have.
    """
    try:
        resolve_device(device)
    except ValueError as exc:
        raise ValueError(f"device: {exc}") from None


class ConsumerAgent(mesa.Agent):
    """A read-only view of one consumer in the model's arrays.

    Attributes:
        index: the consumer's row in the population arrays.
    """

    def __init__(self, model: IncentiveModel, index: int) -> None:
        super().__init__(model)
        self.index = int(index)

    @property
    def action(self) -> int | None:
        """The action chosen in the last round (None before the first)."""
        last = self.model.last_actions
        return None if last is None else int(last[self.index])

    @property
    def group(self) -> str:
        """The learner group (type) label."""
        return self.model.population.labels[self.model.population.locate(self.index)[0]]

    @property
    def state(self) -> dict[str, Any]:
        """Learner parameters and state of this consumer."""
        return self.model.population.agent_state(self.index)

    def step(self) -> None:
        """Views do nothing on their own; the population steps in arrays."""


def default_game(n_agents: int, n_actions: int, rng: np.random.Generator) -> IncentiveGame:
    """A small demonstration game: agents prefer high-index actions, the principal wants action 0.

    Mean rewards rise linearly from 0.2 to 0.8 across actions, with per-agent
    heterogeneity N(0, 0.1); reward noise 0.1; the principal values action 0 at 1.
    """
    base = np.linspace(0.2, 0.8, n_actions)
    means = base + rng.normal(0.0, 0.1, (n_agents, n_actions))
    pv = np.zeros(n_actions)
    pv[0] = 1.0
    return IncentiveGame(payoff_means=means, noise=0.1, principal_values=pv, incentive_cost=1.0)


class _NoPrincipal:
    """No intervention, without importing the policies package (and torch) for it."""

    observes = False
    needs_model_access = False

    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        self._zero = np.zeros(spec.n_actions)

    def act(self) -> np.ndarray:
        return self._zero

    def observe(self, obs: Any) -> None:
        """Nothing to learn."""


def _resolve_principal(principal: Any, params: dict[str, Any] | None) -> Any:
    if principal is None:
        if params:
            raise ValueError("principal_params given without a principal")
        return _NoPrincipal()
    if isinstance(principal, str | type):
        # Principals live in the policies package, which registers them by name; it is
        # discovered at run time like a plugin, so the simulator does not import it statically.
        policies = importlib.import_module("policies")
        return policies.make_principal(principal, **(params or {}))
    if params:
        raise ValueError("principal_params applies when the principal is given by name or class")
    for method in ("reset", "act", "observe"):
        if not callable(getattr(principal, method, None)):
            raise ValueError(f"principal {principal!r} lacks the method {method}() of the Principal protocol")
    return principal


class IncentiveModel(mesa.Model):
    """A principal setting per-round incentives for a population of learning consumers.

    Args:
        n_agents: population size N (>= 1).
        n_actions: number of actions K (>= 2).
        learner: a registered learner name, a ``module:Class`` path, a class, a mixture
            ``[(share, spec, params), ...]``, a :class:`TypeDistribution`, or a ready
            :class:`Population` (e.g. from :meth:`Population.from_types`).
        learner_params: parameters of a single learner; values may be scalars, arrays
            or distributions (drawn per agent from ``model.rng``).
        principal: a registered principal name, a class, an instance, or None (no intervention).
        seed: the one seed of the run (passed to ``mesa.Model``).
        game: an :class:`IncentiveGame` (default: :func:`default_game`).
        observation: observation setting (``full``, ``actions``, ``shares``, ``noisy``)
            or an :class:`ObservationModel`.
        observation_noise: probability an observed action is replaced by a random one.
        principal_params: keyword arguments for a principal given by name or class.
        groups: optional (n,) household group index per agent (default: learner group).
        group_names: names of the household groups.
        horizon: rounds per episode, told to the principal.
        max_agent_views: build :class:`ConsumerAgent` views only up to this many agents.
        collect_every: run the DataCollector every this many rounds (1 = every round).
        track_households: keep per-household running totals in the ledger.
        spec_extra: scenario facts passed to the principal in ``PrincipalSpec.extra``.
        device: where the population steps: ``"cpu"`` (numba, the default), ``"cuda"``
            (or ``"cuda:N"``) on a GPU, ``"auto"`` (cuda if usable, else cpu), or
            ``"torch-cpu"`` (the device code on the CPU, for tests). Off the numba path the
            state lives on the device; :attr:`population` (the host learners),
            ``last_actions`` and the ledger's household totals are copied from the device
            when read after a round (:meth:`sync_to_host`).

    Attributes:
        population: the :class:`Population` of learners.
        game: the bound game (validated arrays).
        ledger: the :class:`Ledger`.
        principal: the principal object.
        round: number of completed rounds.
        last_actions: actions of the last round (n,) or None.
        device: the resolved device (``"cpu"``, ``"torch-cpu"`` or ``"cuda[:N]"``).
    """

    def __init__(
        self,
        n_agents: int = 1000,
        n_actions: int = 3,
        learner: Any = "epsilon_greedy",
        learner_params: dict[str, Any] | None = None,
        principal: Any = None,
        seed: int | None = None,
        *,
        game: IncentiveGame | None = None,
        observation: str | ObservationModel = "full",
        observation_noise: float | None = None,
        principal_params: dict[str, Any] | None = None,
        groups: np.ndarray | None = None,
        group_names: list[str] | None = None,
        horizon: int | None = None,
        max_agent_views: int = 1000,
        collect_every: int = 1,
        track_households: bool = True,
        spec_extra: dict[str, Any] | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__(rng=seed)
        n = check_int("n_agents", n_agents, low=1)
        k = check_int("n_actions", n_actions, low=2)
        self.collect_every = check_int("collect_every", collect_every, low=1)
        self.device = resolve_device(device)
        self._device_sim: Any = None
        if self.device != "cpu":
            from . import _torch_backend as TB  # torch only off the numba path (docs/design.md)

            check_model_fits(n, k, learner, learner_params, game, groups, track_households, self.device)
        game = game if game is not None else default_game(n, k, self.rng)
        if not isinstance(game, IncentiveGame):
            raise ValueError(f"game must be an IncentiveGame, got {type(game).__name__}")
        self.game = game.bind(n, k)
        if isinstance(learner, Population):
            if learner_params:
                raise ValueError("learner_params applies when the learner is given by name")
            if learner.n_agents != n or learner.n_actions != k:
                raise ValueError(
                    f"the population has {learner.n_agents} agents and {learner.n_actions} actions; "
                    f"the model was asked for n_agents={n}, n_actions={k}"
                )
            self.population = learner
            self.types = None
        else:
            self.types = TypeDistribution.from_spec(learner, learner_params)
            self.population = self.types.sample_population(n, k, self.rng, payoff_means=self.game.agent_means(n))
        self.n_agents, self.n_actions = n, k
        self._reward_key = seed_key_from(self.rng)
        if isinstance(observation, ObservationModel):
            if observation_noise is not None:
                raise ValueError("observation_noise applies when observation is given by name")
            self.observation = observation
        else:
            self.observation = ObservationModel(observation, observation_noise, seed_key=seed_key_from(self.rng))

        if groups is None:
            names = list(self.population.labels)
            self.groups = self.population.group_of.astype(np.int32) if len(names) > 1 else np.zeros(1, np.int32)
        else:
            g = np.asarray(groups)
            if g.shape != (n,) or not np.issubdtype(g.dtype, np.integer) or (g.min() < 0):
                raise ValueError(f"groups must be non-negative integers of shape ({n},)")
            self.groups = g.astype(np.int32)
            n_groups = int(self.groups.max()) + 1
            names = group_names or [f"g{i}" for i in range(n_groups)]
            if len(names) < n_groups:
                raise ValueError(f"group_names needs {n_groups} names, got {len(names)}")
        if len(names) == 1:  # one group: a single entry read for everyone (no per-agent traffic)
            self.groups = np.zeros(1, dtype=np.int32)
        ledger_cls = Ledger if self.device == "cpu" else TB.DeviceLedger
        self.ledger = ledger_cls(n, self.game.action_names, list(names), track_households=track_households)
        self._n_groups = len(names)
        self._learn: np.ndarray | None = None  # what each agent learned from, kept only when needed
        self.keep_learned = False
        """Keep what each agent learned from every round (:attr:`learned_rewards`), e.g. for social learning.

        The ``full`` observation keeps it anyway; otherwise a round does not write it (4 bytes per agent
        and a store per agent saved)."""
        # persistent match values of logit choosers with taste shocks (see BestResponse)
        has_shocks = any(getattr(lr, "shocks", False) for lr in self.population.learners)
        self._match = np.zeros(n, dtype=np.float32) if has_shocks else None
        self.round = 0
        self.last_actions: np.ndarray | None = None
        self.last_incentives: np.ndarray | None = None
        self.horizon = horizon
        if self.device != "cpu":
            self._device_sim = TB.DeviceSimulation(self, TB.torch_device(self.device))
            self.ledger._sim = self._device_sim

        self.spec = PrincipalSpec(
            n_actions=k,
            n_agents=n,
            observation=self.observation.setting,
            signed=self.game.signed,
            lower=self.game.lower.copy(),
            upper=self.game.upper.copy(),
            horizon=horizon,
            principal_values=self.game.principal_values.copy(),
            incentive_cost=self.game.incentive_cost,
            posted=self.game.posted,
            action_names=list(self.game.action_names),
            extra=dict(spec_extra or {}),
        )
        self.principal = _resolve_principal(principal, principal_params)
        self.principal.reset(self.spec, self.rng)
        if getattr(self.principal, "needs_model_access", False):
            # the oracle, and only it, is built with explicit access to the simulator
            self.principal.attach(self)

        if n <= max_agent_views:
            ConsumerAgent.create_agents(self, n, index=np.arange(n))
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())
        self.running = True

    # ------------------------------------------------------------ reporting
    def _reporters(self) -> dict[str, Any]:
        rep: dict[str, Any] = {"round": lambda m: m.round}
        for j, name in enumerate(self.game.action_names):
            rep[f"share_{name}"] = lambda m, j=j: m._last_value("share", j)
        for j, name in enumerate(self.game.action_names):
            rep[f"incentive_{name}"] = lambda m, j=j: m._last_value("incentive", j)
        rep["mean_reward"] = lambda m: m._last_value("mean_reward")
        rep["incentive_paid"] = lambda m: m._last_value("paid")
        rep["tax_collected"] = lambda m: m._last_value("collected")
        rep["principal_return"] = lambda m: m._last_value("principal_return")
        return rep

    def _last_value(self, what: str, j: int = 0) -> float:
        rec = self.ledger.last
        if rec is None:
            return float("nan")
        counts = rec.counts.sum(axis=0)
        if what == "share":
            return float(counts[j] / max(counts.sum(), 1.0))
        if what == "incentive":
            return float(rec.incentives[j])
        if what == "mean_reward":
            return float(rec.private.sum() / self.n_agents)
        if what == "paid":
            return float(rec.paid.sum())
        if what == "collected":
            return float(rec.collected.sum())
        return float(rec.principal_return)

    # ----------------------------------------------------------------- device
    @property
    def population(self) -> Population:
        """The learners; on a device, the host copy, refreshed from the device when read after a round."""
        if self._device_sim is not None:
            self._device_sim.sync_to_host(self)
        return self._population

    @population.setter
    def population(self, value: Population) -> None:
        self._population = value

    @property
    def last_actions(self) -> np.ndarray | None:
        """Actions of the last round, int32 (n,), or None before the first (copied from a device when read)."""
        if self._last_actions is None and self._device_sim is not None:
            self._last_actions = self._device_sim.actions_host()
        return self._last_actions

    @last_actions.setter
    def last_actions(self, value: np.ndarray | None) -> None:
        self._last_actions = value

    def sync_to_host(self) -> IncentiveModel:
        """Copy the device state (learners, match values, household totals) into the host objects.

        A no-op on the numba path and when nothing changed since the last sync; returns the model.
        """
        if self._device_sim is not None:
            self._device_sim.sync_to_host(self)
        return self

    # ----------------------------------------------------------------- step
    def step(self) -> None:
        """One round: incentives -> choices -> payoffs and ledger -> learning -> observation -> collect."""
        incentives, per_agent = self.game.check_incentives(self.principal.act(), self.n_agents)
        if self._device_sim is not None:
            actions, sums = self._step_device(incentives, per_agent)
        else:
            actions, sums = self._step_cpu(incentives, per_agent)
        rec = self.ledger.record(self.round, incentives, sums, self.game.principal_values, self.game.incentive_cost)
        self.last_actions, self.last_incentives = actions, incentives
        if getattr(self.principal, "observes", True):
            self.principal.observe(self._observation(incentives, per_agent, actions, rec.principal_return))
        self.round += 1
        if self.round % self.collect_every == 0 or (self.horizon is not None and self.round == self.horizon):
            self.datacollector.collect(self)
        if self.horizon is not None and self.round >= self.horizon:
            self.running = False

    def _step_device(self, incentives: np.ndarray, per_agent: bool) -> tuple[None, dict[str, np.ndarray]]:
        """Play the round on the device; actions stay there until read (``last_actions``)."""
        _, sums = self._device_sim.play(incentives, per_agent, self.round)
        self.ledger._fresh = False
        return None, sums

    def _step_cpu(self, incentives: np.ndarray, per_agent: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return play_round(
            self.game,
            self.population,
            incentives,
            per_agent,
            round_=self.round,
            seed_key=self._reward_key,
            groups=self.groups,
            n_groups=self._n_groups,
            ledger=self.ledger,
            learn_out=self._learn_buffer() if self.keep_learned or self._rewards_observed() else None,
            prev_actions=self.last_actions,
            match=self._match,
        )

    @property
    def learned_rewards(self) -> np.ndarray:
        """(n,) float32: the reward each agent learned from in the last round (kept with :attr:`keep_learned`)."""
        return _kept_learned(self._learn, self.round, "model")

    def _rewards_observed(self) -> bool:
        """Whether the principal sees the rewards each agent learned from (the ``full`` observation)."""
        return getattr(self.principal, "observes", True) and self.observation.setting == "full"

    def _learn_buffer(self) -> np.ndarray:
        if self._learn is None:
            self._learn = np.empty(self.n_agents, dtype=np.float32)
        return self._learn

    def _observation(self, incentives: np.ndarray, per_agent: bool, actions: np.ndarray | None, reward: float) -> Any:
        if actions is None:  # device path: copy to the host only what the observation reveals
            if self.observation.setting == "shares":
                counts = self.ledger.last.counts.sum(axis=0)
                return Observation(
                    round=self.round,
                    incentives=np.array(incentives, copy=True),
                    n_agents=self.n_agents,
                    shares=counts / max(self.n_agents, 1),
                    principal_reward=float(reward),
                )
            actions = self.last_actions
            if self.observation.setting == "full":
                self._learn_buffer()[:] = self._device_sim.learn_host()
        felt = None
        if self.observation.setting == "full":
            felt = self._learn
            if self.game.posted:  # the learner got the private part; the household felt both
                paid = incentives[np.arange(self.n_agents), actions] if per_agent else incentives[actions]
                felt = felt + paid.astype(np.float32)
        return self.observation.observe(self.round, incentives, actions, felt, self.n_actions, reward)

    def fork(self) -> ModelFork:
        """A light copy of the current state that can be stepped without touching this model.

        It shares the game and the random streams (so a fork replays exactly what the
        model would see) and copies the learners' state; no ledger, no Mesa. For
        principals that plan with the true simulator (the oracle). A fork of a device
        model steps on the CPU (numba) from the synced host state.
        """
        return ModelFork(self.sync_to_host())

    def run(self, rounds: int) -> IncentiveModel:
        """Run ``rounds`` more rounds; returns the model for chaining."""
        rounds = check_int("rounds", rounds, low=0)
        for _ in range(rounds):
            self.step()
        return self


class ModelFork:
    """A copy of an :class:`IncentiveModel`'s dynamic state, stepped with given incentives.

    Attributes:
        round: the next round to play.
    """

    def __init__(self, model: IncentiveModel) -> None:
        import copy

        self.game = model.game
        self.population = copy.deepcopy(model.population)
        self.groups = model.groups
        self.n_groups = model._n_groups
        self.reward_key = model._reward_key
        self.round = model.round
        self.last_actions = None if model.last_actions is None else model.last_actions.copy()
        self.match = None if model._match is None else model._match.copy()
        self.keep_learned = model.keep_learned
        self._learn = np.empty(model.n_agents, dtype=np.float32) if model.keep_learned else None

    @property
    def learned_rewards(self) -> np.ndarray:
        """(n,) float32: the reward each agent learned from in the fork's last round (as the model's)."""
        return _kept_learned(self._learn, self.round, "fork")

    def step(self, incentives: np.ndarray) -> dict[str, np.ndarray]:
        """Play one round with (K,) or (n, K) incentives; returns the (G, K) sums of ``play_round``."""
        inc, per = self.game.check_incentives(incentives, self.population.n_agents, who="fork")
        actions, sums = play_round(
            self.game,
            self.population,
            inc,
            per,
            round_=self.round,
            seed_key=self.reward_key,
            groups=self.groups,
            n_groups=self.n_groups,
            learn_out=self._learn,
            prev_actions=self.last_actions,
            match=self.match,
        )
        self.last_actions = actions
        self.round += 1
        return sums


def _kept_learned(buffer: np.ndarray | None, round_: int, who: str) -> np.ndarray:
    if round_ == 0:
        raise ValueError(f"the {who} has not played a round yet")
    if buffer is None:
        raise ValueError(
            f"the {who} does not keep what its agents learned from: set keep_learned = True on the model "
            "before its first round (or observe it with observation='full')"
        )
    return buffer
