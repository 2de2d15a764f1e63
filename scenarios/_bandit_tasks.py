"""Agent types, the type pools (training, validation, test) and the batch environment of bandit_alignment.

Kept apart from the runnable scenario so that ``policies.train`` and the tests
can build the training problem without the CLI. See
``scenarios/bandit_alignment.py`` for the game and the evaluation protocol.

An *agent type* is a learner family, its parameters and its private mean
rewards. Types differ in latents that the first rounds do not reveal:

* pessimism: the prior mean of every arm (``initial_values``) and its weight in
  pseudo-observations (``prior_weight``): a heavily weighted low prior makes a
  greedy agent stick to the first arm it tries;
* exploration: ``epsilon`` (epsilon-greedy), ``temperature`` (softmax),
  ``sigma`` (Thompson sampling), ``c`` (UCB1);
* learning rate: a sample average (``learning_rate = 0``), whose early
  experience weighs forever, or a constant step, which forgets (it must be paid
  again and again).

Three disjoint sets, each from its own seeded stream:

* **training pool**: ``train_types`` (default 15, as in Banerjee et al. 2023)
  types drawn once from :data:`TRAIN_MIX`; the learned principals meet only
  these;
* **validation pool**: ``validation_types`` per setting of
  :data:`VALIDATION_SETTINGS` (the training distribution, and a shifted one
  whose shifts differ from the test shifts); every tuning choice and the
  learning curves are read on it; never reported as a result;
* **test types**: ``test_types`` (default 10) per held-out setting of
  :data:`TEST_SETTINGS`, drawn afresh for each evaluation seed; the three
  held-out settings lie outside the training ranges.

Parameter grammar of a mix (``{family: {param: spec}}``): a number (fixed),
``[low, high]`` (uniform), or ``{"one_of": [spec, ...]}`` (one alternative,
each equally likely).
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policies.mermaide import MermaideConfig
from policies.problem import NetSpec, StepResult
from simulator import AgentType, IncentiveGame, IncentiveModel, Population
from simulator.config import option

__all__ = [
    "OBSERVATIONS",
    "TEST_SETTINGS",
    "TRAIN_MIX",
    "VALIDATION_SETTINGS",
    "BanditEnv",
    "BanditProblem",
    "BanditSetup",
    "BanditTask",
    "PassThrough",
    "checkpoint_name",
    "draw_types",
    "make_model",
    "sample_test_tasks",
    "train_config",
    "training_pool",
    "training_problem",
    "validation_pool",
]

_LATENTS: dict[str, Any] = {
    "initial_values": [-0.2, 0.6],
    "prior_weight": [1.0, 3.0],
    "learning_rate": {"one_of": [0.0, [0.1, 0.4]]},
}

TRAIN_MIX: dict[str, dict[str, Any]] = {
    "epsilon_greedy": {"epsilon": [0.05, 0.2], **_LATENTS},
    "softmax": {"temperature": [0.03, 0.1], **_LATENTS},
}
"""The training distribution: two families, neutral to mildly pessimistic priors of weight 1-3, both learning rules."""

TEST_SETTINGS: dict[str, dict[str, Any] | None] = {
    # None = the training distribution itself (fresh draws, not the training pool): the in-distribution check
    "in_distribution": None,
    # deeper pessimism with a heavier prior than training ([-0.2, 0.6] weighted 1-3)
    "pessimistic": {
        "epsilon_greedy": {**TRAIN_MIX["epsilon_greedy"], "initial_values": [-0.8, -0.5], "prior_weight": [4.0, 6.0]}
    },
    # exploration far outside the training range [0.05, 0.2]
    "explorative": {"epsilon_greedy": {**TRAIN_MIX["epsilon_greedy"], "epsilon": 0.4}},
    # a learner family absent from training
    "unseen_family": {"thompson": {"sigma": [0.05, 0.2], **_LATENTS}},
}
"""Test settings; the three held-out ones (all but ``in_distribution``) lie outside the training ranges."""

HELD_OUT = ("pessimistic", "explorative", "unseen_family")

VALIDATION_SETTINGS: dict[str, dict[str, Any] | None] = {
    "val_in_distribution": None,
    # shifts of another kind or size than the test shifts: moderate pessimism, epsilon 0.3, UCB1
    "val_shifted": {
        "epsilon_greedy": {
            **TRAIN_MIX["epsilon_greedy"],
            "epsilon": [0.25, 0.3],
            "initial_values": [-0.45, -0.25],
            "prior_weight": [3.0, 4.0],
        },
        "ucb1": {"c": [0.05, 0.3], **_LATENTS},
    },
}
"""Validation settings (never reported): where every hyperparameter of every principal is chosen."""

STREAM_TRAIN, STREAM_VALIDATION, STREAM_TEST = 11, 22, 33
"""Keys of the three seeded streams the pools are drawn from (disjoint by construction; tested)."""


@dataclass
class BanditSetup:
    """The bandit game and its agent-type pools (all config fields)."""

    n_actions: int = option(3, help="arms K", low=2, high=20)
    target: int = option(0, help="the arm the principal wants played", low=0)
    horizon: int = option(40, help="rounds T per episode", low=2, high=10000)
    target_mean_low: float = option(0.05, help="lowest private mean reward of the target arm")
    target_mean_high: float = option(0.35, help="highest private mean reward of the target arm")
    other_mean_low: float = option(0.45, help="lowest private mean reward of the other arms")
    other_mean_high: float = option(0.95, help="highest private mean reward of the other arms")
    reward_noise: float = option(0.1, help="std of the agent's Gaussian reward noise", low=0.0)
    value: float = option(1.0, help="the principal's value when the target arm is played", low=0.0)
    cost: float = option(1.0, help="the principal's cost per unit of incentive paid", low=0.0)
    max_incentive: float = option(1.0, help="largest incentive per round", low=0.0, low_open=True)
    levels: int = option(11, help="incentive levels on the target, evenly from 0 to max_incentive", low=2, high=101)
    posted: bool = option(
        False,
        help="agents see the incentives before choosing (announced bonuses, a second game); otherwise incentives "
        "are felt only, added to the reward the agent experiences and learns from (the paper's game)",
    )
    observation: str = option("full", help="what the principal sees", choices=("full", "actions", "noisy"))
    observation_noise: float = option(0.2, help="P(observed action replaced by a random one) in 'noisy'", low=0, high=1)
    train_types: int = option(15, help="the training pool's size (the paper used 15)", low=1)
    validation_types: int = option(10, help="validation types per validation setting", low=1)
    pool_seed: int = option(0, help="seed of the training and validation pools", low=0)
    train_mix: dict[str, Any] = option(
        default_factory=lambda: copy.deepcopy(TRAIN_MIX),
        help="training families: {family: {param: number | [low, high] | {'one_of': [...]}}}",
    )

    def check(self) -> None:
        """Cross-field checks."""
        if self.target >= self.n_actions:
            raise ValueError(f"target must be < n_actions ({self.n_actions}), got {self.target}")
        if not self.target_mean_low <= self.target_mean_high:
            raise ValueError("target_mean_low must be <= target_mean_high")
        if not self.other_mean_low <= self.other_mean_high:
            raise ValueError("other_mean_low must be <= other_mean_high")
        if not self.train_mix:
            raise ValueError("train_mix needs at least one family")
        rng = np.random.default_rng(0)
        for family, params in self.train_mix.items():  # one agent of each family, built as training builds it
            try:
                if not isinstance(params, dict):
                    raise ValueError(f"{family} needs a table of parameters, got {params!r}")
                make_model(self, draw_types({family: params}, self, 1, rng, "train"), 1, 0)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"train_mix: {exc}") from None

    @property
    def obs_noise(self) -> float:
        """Observation noise actually applied."""
        return self.observation_noise if self.observation == "noisy" else 0.0

    def incentive_levels(self) -> np.ndarray:
        """The incentive levels the principals choose from (cheapest first)."""
        return np.linspace(0.0, self.max_incentive, self.levels)

    def action_set(self) -> list[list[float]]:
        """The principal's action set: one incentive vector per level, paid on the target only."""
        out = []
        for lv in self.incentive_levels():
            vec = [0.0] * self.n_actions
            vec[self.target] = float(lv)
            out.append(vec)
        return out

    def net_spec(self) -> NetSpec:
        """What a learned principal for this setup is built for."""
        k = self.n_actions
        values = [0.0] * k
        values[self.target] = self.value
        return NetSpec(
            n_actions=k,
            actions=self.action_set(),
            null_action=0,
            values=values,
            cost=self.cost,
            horizon=self.horizon,
            observation=self.observation,  # type: ignore[arg-type]
            obs_noise=self.obs_noise,
            reward="incentive",
            x_scale=self.max_incentive,
            reward_scale=1.0,
            posted=self.posted,
        )


@dataclass
class BanditTask:
    """One agent type: a learner family with parameters and its private mean rewards."""

    agent_type: AgentType
    means: np.ndarray
    setting: str = "train"

    @property
    def label(self) -> str:
        """Readable name."""
        return f"{self.agent_type.label} mu={np.round(self.means, 2).tolist()}"

    def key(self) -> tuple:
        """A hashable identity (family, parameters, means), to check that pools do not overlap."""
        params = tuple(
            sorted((k, np.round(np.asarray(v, dtype=float), 12).tobytes()) for k, v in self.agent_type.params.items())
        )
        return (self.agent_type.family, params, np.round(self.means, 12).tobytes())


def _draw_value(spec: Any, rng: np.random.Generator) -> float:
    if isinstance(spec, dict):
        if set(spec) != {"one_of"} or not spec["one_of"]:
            raise ValueError(f"a parameter table must be {{'one_of': [...]}}, got {spec!r}")
        options = spec["one_of"]
        return _draw_value(options[int(rng.integers(len(options)))], rng)
    if isinstance(spec, list | tuple):
        if len(spec) != 2 or not all(isinstance(v, int | float) for v in spec) or spec[0] > spec[1]:
            raise ValueError(f"a parameter range must be [low, high], got {spec!r}")
        return float(rng.uniform(spec[0], spec[1]))
    if isinstance(spec, bool) or not isinstance(spec, int | float):
        raise ValueError(f"a parameter must be a number, [low, high] or {{'one_of': [...]}}, got {spec!r}")
    return float(spec)


def _draw_means(setup: BanditSetup, rng: np.random.Generator) -> np.ndarray:
    k = setup.n_actions
    means = rng.uniform(setup.other_mean_low, setup.other_mean_high, k)
    means[setup.target] = rng.uniform(setup.target_mean_low, setup.target_mean_high)
    return means


def draw_types(mix: dict[str, Any], setup: BanditSetup, n: int, rng: np.random.Generator, setting: str):
    """``n`` agent types from a mix: a family (equally likely), its parameters, and private means."""
    families = list(mix)
    out = []
    for _ in range(n):
        family = families[int(rng.integers(len(families)))]
        params = {name: _draw_value(spec, rng) for name, spec in sorted(mix[family].items())}
        label = family + " " + ", ".join(f"{k}={v:.3g}" for k, v in params.items())
        out.append(BanditTask(AgentType(family, params, label), _draw_means(setup, rng), setting))
    return out


def training_pool(setup: BanditSetup) -> list[BanditTask]:
    """The fixed training pool (``train_types`` types from the training mix, its own stream)."""
    rng = np.random.default_rng([setup.pool_seed, STREAM_TRAIN])
    return draw_types(setup.train_mix, setup, setup.train_types, rng, "train")


def validation_pool(setup: BanditSetup) -> list[BanditTask]:
    """The fixed validation pool: ``validation_types`` types of each validation setting (its own stream)."""
    out = []
    for name, mix in VALIDATION_SETTINGS.items():
        rng = np.random.default_rng([setup.pool_seed, STREAM_VALIDATION, zlib.crc32(name.encode())])
        out.extend(draw_types(setup.train_mix if mix is None else mix, setup, setup.validation_types, rng, name))
    return out


def sample_test_tasks(setup: BanditSetup, setting: str, n: int, seed: int) -> list[BanditTask]:
    """``n`` test types of a named test setting for evaluation seed ``seed`` (the test stream)."""
    if setting not in TEST_SETTINGS:
        raise ValueError(f"unknown test setting {setting!r}; available: {', '.join(TEST_SETTINGS)}")
    mix = TEST_SETTINGS[setting]
    rng = np.random.default_rng([STREAM_TEST, seed, zlib.crc32(setting.encode())])
    return draw_types(setup.train_mix if mix is None else mix, setup, n, rng, setting)


class PassThrough:
    """A principal that plays whatever incentives the caller set (for batched rollouts)."""

    observes = False

    def __init__(self) -> None:
        self.incentives: np.ndarray | None = None

    def reset(self, spec: Any, rng: np.random.Generator) -> None:
        """Remember K."""
        self.k = spec.n_actions

    def act(self) -> np.ndarray:
        """The incentives set by the caller (zero before the first)."""
        return self.incentives if self.incentives is not None else np.zeros(self.k)

    def observe(self, obs: Any) -> None:
        """Nothing to learn."""


def make_model(
    setup: BanditSetup,
    tasks: list[BanditTask],
    agents_per_task: int,
    seed: int,
    principal: Any = None,
    *,
    collect_every: int = 1,
    device: str = "cpu",
) -> IncentiveModel:
    """An IncentiveModel of independent agents, ``agents_per_task`` per task (task-major), on ``device``."""
    k = setup.n_actions
    rng = np.random.default_rng(seed)
    means = np.repeat(np.stack([t.means for t in tasks]), agents_per_task, axis=0)
    population = Population.from_types([t.agent_type for t in tasks], agents_per_task, k, rng, payoff_means=means)
    values = np.zeros(k)
    values[setup.target] = setup.value
    game = IncentiveGame(
        payoff_means=means,
        noise=setup.reward_noise,
        principal_values=values,
        incentive_cost=setup.cost,
        lower=0.0,
        upper=setup.max_incentive,
        posted=setup.posted,
        action_names=[f"arm{j}" for j in range(k)],
    )
    return IncentiveModel(
        n_agents=len(tasks) * agents_per_task,
        n_actions=k,
        learner=population,
        principal=principal if principal is not None else PassThrough(),
        seed=seed,
        game=game,
        observation=setup.observation,
        observation_noise=setup.obs_noise if setup.observation == "noisy" else None,
        horizon=setup.horizon,
        collect_every=collect_every,
        spec_extra={"independent_agents": True, "target": setup.target, "action_set": setup.action_set()},
        device=device,
    )


class BanditEnv:
    """Batch environment for training: rows are independent agents."""

    def __init__(
        self, setup: BanditSetup, tasks: list[BanditTask], rows_per_task: int, seed: int, device: str = "cpu"
    ) -> None:
        self.setup = setup
        self.driver = PassThrough()
        self.model = make_model(setup, tasks, rows_per_task, seed, self.driver, collect_every=10**9, device=device)
        self.n_rows = self.model.n_agents
        self._obs: Any = None
        self.model.principal.observes = True
        self.model.principal.observe = self._capture  # type: ignore[method-assign]

        self.actions: list[np.ndarray] = []  # the true actions, paid incentives and principal rewards of each round
        self.paid: list[np.ndarray] = []
        self.rewards: list[np.ndarray] = []

    def _capture(self, obs: Any) -> None:
        self._obs = obs

    def step(self, incentives: np.ndarray) -> StepResult:
        """One round with per-agent incentives (n, K)."""
        self.driver.incentives = incentives
        self.model.step()
        obs = self._obs
        a = np.asarray(self.model.last_actions)
        values = self.model.game.principal_values
        paid = np.maximum(incentives[np.arange(self.n_rows), a], 0.0)
        true_reward = values[a] - self.setup.cost * paid
        self.actions.append(a.copy())
        self.paid.append(paid)
        self.rewards.append(true_reward)
        return StepResult(actions=obs.actions, shares=None, rewards=obs.rewards, principal_reward=true_reward)


@dataclass
class BanditProblem:
    """The training problem of bandit_alignment (:class:`policies.problem.TrainingProblem`)."""

    setup: BanditSetup
    name: str = "bandit_alignment"
    device: str = "cpu"  # where the training agents step (IncentiveModel's device): "cuda" keeps them on a GPU
    validation_rows: int = 8
    pool: list[BanditTask] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.net_spec = self.setup.net_spec()
        if not self.pool:
            self.pool = training_pool(self.setup)
        self._validation: list[BanditTask] | None = None

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[BanditTask]:
        """``n`` draws (with replacement) from the training pool."""
        idx = rng.integers(0, len(self.pool), n)
        return [self.pool[i] for i in idx]

    def validation_tasks(self) -> list[BanditTask]:
        """The validation pool (fixed; the learning curves and every tuning choice are read on it)."""
        if self._validation is None:
            self._validation = validation_pool(self.setup)
        return self._validation

    def make_env(self, tasks: list[BanditTask], rows_per_task: int, seed: int) -> BanditEnv:
        """A fresh batch of agents (on ``device``)."""
        return BanditEnv(self.setup, tasks, rows_per_task, seed, self.device)


# ------------------------------------------------------------ training (python -m policies.train)
OBSERVATIONS = ("full", "actions", "noisy")
"""The observation settings learned principals are trained for (the default run evaluates full and actions)."""

TRAIN_CONFIGS: dict[str, dict[str, Any]] = {
    "mermaide": {"lr": 0.003, "inner_lr": 0.03, "iterations": 600, "keep": "best"},
    "wm_only": {"lr": 0.003, "finetune_lr": 0.3, "iterations": 600, "keep": "best"},
    "meta_only": {"lr": 0.003, "inner_lr": 0.03, "iterations": 300, "keep": "best"},
    "model_free": {"lr": 0.003, "finetune_lr": 0.1, "iterations": 300, "keep": "best"},
}
"""Each variant's settings beyond :class:`~policies.mermaide.MermaideConfig`'s defaults.

The learning rate and the K-shot adaptation step are the choices of the validation search
``python -m policies.tune --scenario bandit_alignment --lrs 0.003 --steps 0.03,0.1,0.3`` (three
configurations per variant, 300 updates each, the best 1-shot return on the validation pool; its table is
``checkpoints/bandit_alignment/tuning.json``). The budget follows the validation learning curves: the
policy-gradient variants were flat by 300 updates (mean of the curve's last third within 0.25 of its middle
third), the world-model variants were still rising (6.9 -> 8.2) and train for 600. Every variant keeps the
weights of its validation curve's best point (``keep="best"``: early stopping on the validation pool; the
world-model planners' curves rose and then fell again over 600 updates)."""


def training_problem(observation: str, device: str = "cpu") -> BanditProblem:
    """The training problem for one observation setting (default game)."""
    return BanditProblem(BanditSetup(observation=observation), device=device)


def train_config(variant: str, observation: str) -> MermaideConfig:
    """A variant's tuned training settings (the same for every observation setting)."""
    return MermaideConfig(variant=variant, **TRAIN_CONFIGS[variant])  # type: ignore[arg-type]


def checkpoint_name(variant: str, observation: str) -> str:
    """File stem of a shipped checkpoint."""
    return f"{variant}-{observation}"
