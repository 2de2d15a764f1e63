"""Small networks shared by the learned principals, written for torch.func.

Everything is a plain ``nn.Module`` evaluated through
``torch.func.functional_call`` with an explicit parameter dict, so MAML's inner
loop can return new parameter dicts (STYLE.md, "Functional meta-learning").
The GRU cell is written out in elementary ops (not ``nn.GRU``) so that second
derivatives exist for second-order MAML and ``vmap`` over tasks works.

Observation encoding (one vector per agent and round, what the principal saw
after round t): incentives offered (K, scaled by ``x_scale``), the observed
action one-hot or the observed choice shares (K), the observed reward (1, zero
when not observed), a reward mask (1) and the round's position t / T (1).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

__all__ = ["MLP", "GRUCell", "RunningStats", "encode_observation", "obs_dim", "reinit"]


def obs_dim(n_actions: int) -> int:
    """Length of the per-round observation vector."""
    return 5 * n_actions + 3


class RunningStats:
    """Per-row running statistics of the observations, part of the encoder's input.

    For each action: how often the row was seen choosing it (share of the horizon)
    and the mean private reward observed for it (observed reward minus the
    incentive paid on the chosen action). Sufficient statistics of a stationary
    bandit; they spare the GRU from learning to count and average.
    """

    def __init__(self, n: int, k: int, horizon: int) -> None:
        self.counts = np.zeros((n, k))
        self.sums = np.zeros((n, k))
        self.horizon = max(horizon, 1)

    def update(self, actions: np.ndarray | None, private: np.ndarray | None) -> np.ndarray:
        """Add one round; return (n, 3K) features: reward slot, count share, mean reward."""
        n, k = self.counts.shape
        slot = np.zeros((n, k))
        if actions is not None:
            rows = np.arange(n)
            self.counts[rows, actions] += 1.0
            if private is not None:
                slot[rows, actions] = private
                self.sums[rows, actions] += private
        means = np.divide(self.sums, self.counts, out=np.zeros_like(self.sums), where=self.counts > 0)
        return np.concatenate([slot, self.counts / self.horizon, means], axis=1)


def encode_observation(
    incentives: np.ndarray,
    actions: np.ndarray | None,
    shares: np.ndarray | None,
    rewards: np.ndarray | None,
    n_agents: int,
    n_actions: int,
    round_frac: float,
    x_scale: float,
    reward_scale: float = 1.0,
    stats: RunningStats | None = None,
) -> torch.Tensor:
    """(n_agents, obs_dim) float32 tensor of one round's observation.

    Layout: incentives / x_scale (K), observed action one-hot or shares (K),
    observed reward / reward_scale (1), reward mask (1), t / T (1), then the
    :class:`RunningStats` features (3K, rewards scaled), zero without ``stats``.

    Args:
        incentives: (K,) or (n, K) incentives offered this round.
        actions: observed action per agent (n,) or None.
        shares: observed choice shares (K,), used when actions are not observed.
        rewards: observed reward per agent (n,) or None.
        n_agents: number of independent agents (rows).
        n_actions: K.
        round_frac: t / T of the round just observed.
        x_scale: incentives are divided by this.
        reward_scale: rewards are divided by this.
        stats: the rows' running statistics, updated with this round.
    """
    k = n_actions
    out = np.zeros((n_agents, 5 * k + 3), dtype=np.float32)
    inc = np.broadcast_to(np.asarray(incentives, dtype=np.float64).reshape(-1, k), (n_agents, k))
    out[:, :k] = inc / x_scale
    acts = None if actions is None else np.asarray(actions, dtype=np.int64)
    if acts is not None:
        out[np.arange(n_agents), k + acts] = 1.0
    elif shares is not None:
        out[:, k : 2 * k] = np.asarray(shares, dtype=np.float64)
    private = None
    if rewards is not None:
        r = np.asarray(rewards, dtype=np.float64)
        out[:, 2 * k] = r / reward_scale
        out[:, 2 * k + 1] = 1.0
        if acts is not None:
            private = (r - inc[np.arange(n_agents), acts]) / reward_scale
    out[:, 2 * k + 2] = round_frac
    if stats is not None:
        out[:, 2 * k + 3 :] = stats.update(acts, private)
    return torch.from_numpy(out)


class GRUCell(nn.Module):
    """A GRU cell (Cho et al. 2014) in elementary ops: h' = (1 - z) * n + z * h."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.w_x = nn.Linear(input_size, 3 * hidden_size)
        self.w_h = nn.Linear(hidden_size, 3 * hidden_size)
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step: x (..., input), h (..., hidden) -> h' (..., hidden)."""
        gx = self.w_x(x)
        gh = self.w_h(h)
        hs = self.hidden_size
        r = torch.sigmoid(gx[..., :hs] + gh[..., :hs])
        z = torch.sigmoid(gx[..., hs : 2 * hs] + gh[..., hs : 2 * hs])
        n = torch.tanh(gx[..., 2 * hs :] + r * gh[..., 2 * hs :])
        return (1.0 - z) * n + z * h


class MLP(nn.Module):
    """Linear -> tanh -> ... -> Linear."""

    def __init__(self, sizes: list[int], out_gain: float = 1.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers.append(nn.Linear(a, b))
            layers.append(nn.Tanh())
        layers.pop()
        self.net = nn.Sequential(*layers)
        self.out_gain = out_gain
        last = layers[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.weight.mul_(out_gain)
            last.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the network."""
        return self.net(x)


def reinit(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw every parameter from a passed-down ``torch.Generator`` (no global RNG).

    Linear and GRU weights and biases: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the
    PyTorch defaults); the last layer of an :class:`MLP` keeps its small output gain
    and zero bias; other parameters (learned initial states, log-stds) are zeroed.
    """
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, GRUCell):
                bound = 1.0 / math.sqrt(sub.hidden_size)
                for p in sub.parameters():
                    p.uniform_(-bound, bound, generator=generator)
            elif isinstance(sub, MLP):
                linears = [m for m in sub.net if isinstance(m, nn.Linear)]
                for lin in linears:
                    bound = 1.0 / math.sqrt(lin.in_features)
                    lin.weight.uniform_(-bound, bound, generator=generator)
                    lin.bias.uniform_(-bound, bound, generator=generator)
                linears[-1].weight.mul_(sub.out_gain)
                linears[-1].bias.zero_()
        for _name, p in module.named_parameters(recurse=False):
            p.zero_()
        for sub in module.modules():
            if not isinstance(sub, GRUCell | MLP | nn.Linear):
                for _name, p in sub.named_parameters(recurse=False):
                    p.zero_()
