"""What a scenario gives the learned principals: the problem's facts, its tasks and its batch environment.

The learned principals (:mod:`policies.mermaide`, :mod:`policies.learned`) and
their trainer (:mod:`policies.training`) are one core shared by every scenario.
A scenario supplies only:

* a :class:`NetSpec`: the principal's action set (a finite list of incentive
  vectors, or of commitments in the Stackelberg game), what it observes, how its
  reward is computed, the horizon and the scales of the network inputs;
* a :class:`TrainingProblem`: ``sample_tasks(n, rng)`` (agent types or
  populations, drawn from its training pool), ``make_env(tasks, rows_per_task,
  seed)`` (a fresh batch of agents), and optionally ``validation_tasks()`` (the
  fixed validation pool the learning curves and every tuning choice are read on);
* a :class:`BatchEnv`: independent principal-agent *rows* stepped together, one
  row's action vector in, what the principal observes out (:class:`StepResult`).

The trainer never looks inside the simulator. These types live in their own
module so that the trainer, the Ray rollouts and the scenarios can all import
them without importing one another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

__all__ = ["REWARD_KINDS", "BatchEnv", "NetSpec", "StepResult", "TrainingProblem"]

REWARD_KINDS = ("incentive", "bilinear", "learned")
"""How the principal's per-round reward follows from its action ``x`` and the agent's action ``a``:

* ``incentive``: ``values[a] - cost * max(x[a], 0)`` (it pays the incentive of the action played;
  a negative incentive is a tax, which costs nothing);
* ``bilinear``: ``x @ L[:, a]`` with the row's context ``L`` (a leader's payoff matrix, (len(x), K));
* ``learned``: not computable from (x, a) (e.g. welfare); the world model learns it from the
  rewards the environment reports in training (``StepResult.principal_reward``).
"""


@dataclass
class NetSpec:
    """Facts of the principal's problem a network is built for (stored in, and checked against, checkpoints).

    Attributes:
        n_actions: K, the agent's actions (the follower's columns in the Stackelberg game).
        actions: the principal's action set, P vectors of length ``action_dim``: incentives per
            agent action (bandit, green_tax), or mixed commitments over the leader's rows.
        null_action: index in ``actions`` of "no intervention" (the planner's default tail).
        values: the principal's value of each agent action (K,), for ``reward = "incentive"``.
        cost: cost per unit of incentive paid, for ``reward = "incentive"``.
        horizon: rounds per episode T.
        observation: ``full`` (actions and the agents' rewards), ``actions``, ``noisy`` (actions,
            each replaced by a uniformly random one with probability ``obs_noise``) or ``shares``
            (aggregate choice shares of a population).
        obs_noise: the observation noise the principal knows of.
        reward: how the principal's reward is computed (:data:`REWARD_KINDS`).
        context_dim: length of a per-row context vector the environment reveals at the start
            (the leader's payoff matrix, flattened); 0 = none.
        x_scale: action vectors are divided by this in the network inputs.
        reward_scale: rewards are divided by this in the network inputs and losses.
        posted: whether agents see the principal's action before choosing (recorded, not used).
    """

    n_actions: int
    actions: list[list[float]]
    null_action: int
    values: list[float]
    cost: float
    horizon: int
    observation: Literal["full", "actions", "noisy", "shares"]
    obs_noise: float = 0.0
    reward: Literal["incentive", "bilinear", "learned"] = "incentive"
    context_dim: int = 0
    x_scale: float = 1.0
    reward_scale: float = 1.0
    posted: bool = False

    def __post_init__(self) -> None:
        # plain Python numbers only: checkpoints are read with torch.load(weights_only=True)
        self.n_actions = int(self.n_actions)
        self.actions = [[float(v) for v in row] for row in self.actions]
        self.null_action = int(self.null_action)
        self.values = [float(v) for v in self.values]
        self.cost = float(self.cost)
        self.horizon = int(self.horizon)
        self.obs_noise = float(self.obs_noise)
        self.context_dim = int(self.context_dim)
        self.x_scale = float(self.x_scale)
        self.reward_scale = float(self.reward_scale)
        self.posted = bool(self.posted)
        if not self.actions or len({len(r) for r in self.actions}) != 1:
            raise ValueError("net spec: actions must be a non-empty list of equally long vectors")
        if not 0 <= self.null_action < len(self.actions):
            raise ValueError(
                f"net spec: null_action {self.null_action} is not an index of the {len(self.actions)} actions"
            )
        if self.reward not in REWARD_KINDS:
            raise ValueError(f"net spec: reward must be one of {REWARD_KINDS}, got {self.reward!r}")
        if self.observation not in ("full", "actions", "noisy", "shares"):
            raise ValueError(f"net spec: unknown observation {self.observation!r}")
        if self.reward == "incentive" and len(self.values) != self.n_actions:
            raise ValueError(f"net spec: values need {self.n_actions} entries, got {len(self.values)}")
        if self.reward == "bilinear" and self.context_dim != self.action_dim * self.n_actions:
            raise ValueError("net spec: a bilinear reward needs a context of action_dim x n_actions payoffs")

    @property
    def n_choices(self) -> int:
        """P, the size of the principal's action set."""
        return len(self.actions)

    @property
    def incentive_vectors(self) -> bool:
        """Whether actions are incentives per agent action (length K), paid on the action played.

        False for a bilinear reward (mixed commitments over the principal's own rows), even when
        it has as many rows as the agent has actions.
        """
        return self.action_dim == self.n_actions and self.reward != "bilinear"

    @property
    def action_dim(self) -> int:
        """Length of one action vector."""
        return len(self.actions[0])

    def action_array(self) -> np.ndarray:
        """The action set as a (P, action_dim) float64 array."""
        return np.asarray(self.actions, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for checkpoints."""
        return dataclasses.asdict(self)


@dataclass
class StepResult:
    """What one round returns for every row.

    Attributes:
        actions: observed action per row (n,) or None.
        shares: observed choice shares per row (n, K) or None.
        rewards: observed agent reward per row (n,) or None (the reward the agent experienced,
            incentive included).
        principal_reward: the principal's true reward per row (n,).
    """

    actions: np.ndarray | None
    shares: np.ndarray | None
    rewards: np.ndarray | None
    principal_reward: np.ndarray


class BatchEnv(Protocol):
    """Independent principal-agent rows stepped together.

    Optional attribute ``context``: (n_rows, context_dim) per-row context (NetSpec.context_dim > 0).
    """

    n_rows: int

    def step(self, incentives: np.ndarray) -> StepResult:
        """Play one round with per-row action vectors (n, action_dim)."""


class TrainingProblem(Protocol):
    """A task distribution and an environment factory (provided by a scenario).

    Optional: ``validation_tasks() -> list`` (the fixed validation pool; used for the
    learning curves) and ``validation_rows`` (rows per validation task).
    """

    name: str
    net_spec: NetSpec

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        """Draw ``n`` training tasks (agent types)."""

    def make_env(self, tasks: list[Any], rows_per_task: int, seed: int) -> BatchEnv:
        """A fresh batch of agents, ``rows_per_task`` per task, task-major order."""
