"""Agent types, held-out test settings and the batch environment of bandit_alignment.

Kept apart from the runnable scenario so that ``policies.train`` and the tests can
build the training problem without the CLI. See ``scenarios/bandit_alignment.py``
for the economics and the defaults' rationale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policies.mermaide import NetSpec
from policies.training import StepResult
from simulator import AgentType, IncentiveGame, IncentiveModel, Population, TypeDistribution
from simulator.config import option

__all__ = [
    "TEST_SETTINGS",
    "BanditEnv",
    "BanditProblem",
    "BanditSetup",
    "BanditTask",
    "PassThrough",
    "make_model",
]


@dataclass
class BanditSetup:
    """The bandit game and its agent-type distributions (all config fields)."""

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
    posted: bool = option(True, help="agents see the incentives before choosing (announced bonuses)")
    observation: str = option("full", help="what the principal sees", choices=("full", "actions", "noisy"))
    observation_noise: float = option(0.2, help="P(observed action replaced by a random one) in 'noisy'", low=0, high=1)
    train_types: int = option(0, help="fixed pool of training types (the paper used 15); 0 = fresh draws", low=0)
    train_mix: dict[str, Any] = option(
        default_factory=lambda: {
            "epsilon_greedy": {"epsilon": [0.05, 0.2], "initial_values": [0.3, 0.7]},
            "softmax": {"temperature": [0.03, 0.1], "initial_values": [0.3, 0.7]},
        },
        help="training families: {family: {param: [low, high] uniform range or a number}}",
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
                tasks = _types_with_means(_mix_distribution({family: params}), self, 1, rng, "train")
                make_model(self, tasks, 1, 0)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"train_mix: {exc}") from None

    @property
    def obs_noise(self) -> float:
        """Observation noise actually applied."""
        return self.observation_noise if self.observation == "noisy" else 0.0

    def net_spec(self) -> NetSpec:
        """What a learned principal for this setup is built for."""
        k = self.n_actions
        values = [0.0] * k
        values[self.target] = self.value
        return NetSpec(
            n_actions=k,
            low=[0.0] * k,
            high=[self.max_incentive] * k,
            mask=[j == self.target for j in range(k)],
            values=values,
            cost=self.cost,
            horizon=self.horizon,
            observation=self.observation,
            obs_noise=self.obs_noise,
            x_scale=self.max_incentive,
            reward_scale=1.0,
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


def _draw_means(setup: BanditSetup, rng: np.random.Generator) -> np.ndarray:
    k = setup.n_actions
    means = rng.uniform(setup.other_mean_low, setup.other_mean_high, k)
    means[setup.target] = rng.uniform(setup.target_mean_low, setup.target_mean_high)
    return means


def _mix_distribution(mix: dict[str, Any]) -> TypeDistribution:
    comps = []
    for family, params in mix.items():
        spec = {}
        for name, value in dict(params).items():
            if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
                spec[name] = {"dist": "uniform", "low": float(value[0]), "high": float(value[1])}
            else:
                spec[name] = value
        comps.append((1.0, family, spec))
    return TypeDistribution(comps)


def _types_with_means(dist: TypeDistribution, setup: BanditSetup, n: int, rng, setting: str) -> list[BanditTask]:
    return [BanditTask(t, _draw_means(setup, rng), setting) for t in dist.sample_tasks(n, rng)]


TEST_SETTINGS: dict[str, dict[str, Any] | None] = {
    # None = the training distribution itself (fresh draws): in-distribution check
    "in_distribution": None,
    # exploration far outside the training range [0.05, 0.2]
    "explorative": {"epsilon_greedy": {"epsilon": 0.4, "initial_values": [0.3, 0.7]}},
    # strongly pessimistic priors, weighted as 3 observations (training: neutral 0.3-0.7, weight 1)
    "pessimistic": {"epsilon_greedy": {"epsilon": [0.05, 0.2], "initial_values": -0.5, "prior_weight": 3.0}},
    # a learner family absent from training
    "unseen_family": {"thompson": {"sigma": [0.05, 0.2], "initial_values": [0.3, 0.7]}},
}


def sample_test_tasks(setup: BanditSetup, setting: str, n: int, rng: np.random.Generator) -> list[BanditTask]:
    """``n`` held-out agent types of a named test setting."""
    if setting not in TEST_SETTINGS:
        raise ValueError(f"unknown test setting {setting!r}; available: {', '.join(TEST_SETTINGS)}")
    mix = TEST_SETTINGS[setting]
    dist = _mix_distribution(setup.train_mix if mix is None else mix)
    return _types_with_means(dist, setup, n, rng, setting)


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
        spec_extra={"independent_agents": True, "target": setup.target},
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

    def _capture(self, obs: Any) -> None:
        self._obs = obs

    def step(self, incentives: np.ndarray) -> StepResult:
        """One round with per-agent incentives (n, K)."""
        self.driver.incentives = incentives
        self.model.step()
        obs = self._obs
        a = self.model.last_actions
        values = self.model.game.principal_values
        paid = incentives[np.arange(self.n_rows), a]
        true_reward = values[a] - self.setup.cost * paid
        return StepResult(actions=obs.actions, shares=None, rewards=obs.rewards, principal_reward=true_reward)


@dataclass
class BanditProblem:
    """The training problem of bandit_alignment (policies.training.TrainingProblem)."""

    setup: BanditSetup
    name: str = "bandit_alignment"
    pool: list[BanditTask] = field(default_factory=list)
    device: str = "cpu"  # where the training agents step (IncentiveModel's device): "cuda" keeps them on a GPU

    def __post_init__(self) -> None:
        self.net_spec = self.setup.net_spec()
        self._dist = _mix_distribution(self.setup.train_mix)

    def fix_pool(self, rng: np.random.Generator) -> None:
        """Draw the fixed pool of training types when ``train_types`` > 0 (paper: 15)."""
        if self.setup.train_types > 0:
            self.pool = _types_with_means(self._dist, self.setup, self.setup.train_types, rng, "train")

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[BanditTask]:
        """Fresh training types, or draws from the fixed pool."""
        if self.pool:
            idx = rng.integers(0, len(self.pool), n)
            return [self.pool[i] for i in idx]
        return _types_with_means(self._dist, self.setup, n, rng, "train")

    def make_env(self, tasks: list[BanditTask], rows_per_task: int, seed: int) -> BanditEnv:
        """A fresh batch of agents (on ``device``)."""
        return BanditEnv(self.setup, tasks, rows_per_task, seed, self.device)
