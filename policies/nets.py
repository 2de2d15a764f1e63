"""Small networks and the observation encoding shared by the learned principals, written for torch.func.

Everything is a plain ``nn.Module`` evaluated through
``torch.func.functional_call`` with an explicit parameter dict, so MAML's inner
loop can return new parameter dicts. The GRU cell is written out in elementary
ops (not ``nn.GRU``) so that second derivatives exist for second-order MAML and
``vmap`` over tasks works.

Observation encoding (:class:`Features`): one vector per row and round, what the
principal saw after round t, computed by the same torch code for real episodes
and for the episodes the planner imagines through the world model:

========================  =====  ==============================================
part                      size   meaning
========================  =====  ==============================================
action / x_scale          D      the principal's action vector this round
choice                    K      observed agent action (one-hot) or choice shares
reward / reward_scale     1      the agent's observed reward (0 when unseen)
reward mask               1      1 when the reward was observed
(t + 1) / T               1      position in the episode
counts / T                K      how often each action was observed so far
mean private reward       K      observed reward minus incentive, per action
mean incentive paid       K      per action (incentive games, D = K, only)
lowest, highest x         2 K D  per action: the least and greatest component of
                                 the principal's actions under which it was
                                 observed (commitments, bilinear reward, only)
context                   C      a per-row context (the leader's payoffs)
========================  =====  ==============================================

The running parts are sufficient statistics of a stationary bandit; they spare
the GRU from learning to count and average. They do not reveal the agent's
latent type (its prior, prior weight, exploration or learning rate), which the
world model must infer from how the agent responds. Where the principal commits
to mixed strategies (a bilinear reward), the range of its commitments under
which each agent action was observed plays the same role: a best-responding
agent's action regions are convex, so each observed range lies inside one
region, and the region boundaries lie between the ranges.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .problem import NetSpec

__all__ = ["MLP", "Features", "GRUCell", "hull_dim", "obs_dim", "reinit"]


def hull_dim(spec: NetSpec) -> int:
    """Length of each of the lowest / highest action statistics (K x D for commitments, else 0)."""
    return spec.n_actions * spec.action_dim if spec.reward == "bilinear" else 0


def obs_dim(spec: NetSpec) -> int:
    """Length of the per-round observation vector for a problem."""
    k, d = spec.n_actions, spec.action_dim
    paid = k if spec.incentive_vectors else 0
    return d + k + 3 + 2 * k + paid + 2 * hull_dim(spec) + spec.context_dim


@dataclass
class Features:
    """Running statistics of each row's observations (torch tensors with leading batch dims ``(*B,)``).

    Attributes:
        counts: times each action was observed, (*B, K).
        private: sum of the observed private rewards per action, (*B, K).
        paid: sum of the incentives paid per action, (*B, K).
        low: per action, the least component of the principal's actions under which it was observed
            (*B, K x D), flattened action-major; +inf before the first observation (empty when unused).
        high: the same with the greatest component; -inf before the first observation.
    """

    counts: torch.Tensor
    private: torch.Tensor
    paid: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    @staticmethod
    def zeros(batch: tuple[int, ...], k: int, hull: int = 0) -> Features:
        """Empty statistics for a batch of rows (``hull``: :func:`hull_dim` of the problem)."""
        z = torch.zeros((*batch, k))
        inf = torch.full((*batch, hull), math.inf)
        return Features(z, z.clone(), z.clone(), inf, -inf)

    @staticmethod
    def empty(batch: tuple[int, ...], spec: NetSpec, memory: torch.Tensor | None = None) -> Features:
        """Empty statistics for a batch of rows of a problem.

        ``memory``: ranges kept from earlier episodes with the same types ((*B, 2 x K x D), ``low``
        then ``high``, as :meth:`ranges` gives them), which the ranges start from; None or size 0:
        none kept.
        """
        feats = Features.zeros(batch, spec.n_actions, hull_dim(spec))
        if memory is not None and memory.shape[-1]:
            kd = memory.shape[-1] // 2
            feats = Features(
                feats.counts, feats.private, feats.paid, memory[..., :kd].clone(), memory[..., kd:].clone()
            )
        return feats

    def ranges(self) -> torch.Tensor:
        """``low`` then ``high`` in one tensor, (*B, 2 x K x D): what an episode with these statistics starts from."""
        return torch.cat([self.low, self.high], -1)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The statistics, in field order (each (*B, size))."""
        return (self.counts, self.private, self.paid, self.low, self.high)

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Features:
        """The statistics with ``fn`` applied to each tensor (reshapes, broadcasts)."""
        return Features(*(fn(t) for t in self.tensors()))

    def expand(self, *lead: int) -> Features:
        """The same statistics broadcast to extra leading dims (for imagined rollouts)."""
        return self.map(lambda t: t.expand(*lead, *t.shape))

    def encode(
        self,
        spec: NetSpec,
        x: torch.Tensor,
        choice: torch.Tensor,
        reward: torch.Tensor | None,
        t: int,
        context: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, Features]:
        """One round's observation vector and the updated statistics.

        Args:
            spec: the problem.
            x: the principal's action vectors (*B, D).
            choice: observed action one-hot or shares (*B, K) (all zero: nothing observed).
            reward: the agents' observed rewards (*B,) (incentive included), or None.
            t: the round just played (0-based).
            context: per-row context (*B, C) or None.

        Returns:
            ``(obs (*B, obs_dim), new statistics)``.
        """
        incentive_game = spec.incentive_vectors
        paid_now = (choice * x).sum(-1) if incentive_game else torch.zeros(choice.shape[:-1])
        counts = self.counts + choice
        paid = self.paid + choice * paid_now.unsqueeze(-1) if incentive_game else self.paid
        if reward is not None:
            private_now = (reward - paid_now) / spec.reward_scale
            private = self.private + choice * private_now.unsqueeze(-1)
            r_in = reward / spec.reward_scale
            mask = torch.ones_like(reward)
        else:
            private = self.private
            r_in = torch.zeros(choice.shape[:-1])
            mask = r_in
        safe = counts.clamp_min(1e-6)
        parts = [
            x / spec.x_scale,
            choice,
            r_in.unsqueeze(-1),
            mask.unsqueeze(-1),
            torch.full((*choice.shape[:-1], 1), (t + 1) / spec.horizon),
            counts / spec.horizon,
            torch.where(counts > 0, private / safe, torch.zeros_like(private)),
        ]
        if incentive_game:
            parts.append(torch.where(counts > 0, paid / safe, torch.zeros_like(paid)) / spec.x_scale)
        low, high = self.low, self.high
        if low.shape[-1]:  # the range of the principal's actions under which each agent action was observed
            k, d = spec.n_actions, spec.action_dim
            lead = choice.shape[:-1]
            xs = (x / spec.x_scale).unsqueeze(-2).expand(*lead, k, d)
            seen = choice.unsqueeze(-1) > 0
            low = torch.where(seen, torch.minimum(low.reshape(*lead, k, d), xs), low.reshape(*lead, k, d))
            high = torch.where(seen, torch.maximum(high.reshape(*lead, k, d), xs), high.reshape(*lead, k, d))
            shown = (counts > 0).unsqueeze(-1) | torch.isfinite(low[..., :1])  # seen now, or kept from before
            parts.append(torch.where(shown, low, torch.zeros_like(low)).flatten(-2))
            parts.append(torch.where(shown, high, torch.zeros_like(high)).flatten(-2))
            low, high = low.flatten(-2), high.flatten(-2)
        if spec.context_dim:
            assert context is not None, "this problem needs a per-row context"
            parts.append(context.expand(*choice.shape[:-1], spec.context_dim))
        return torch.cat(parts, dim=-1), Features(counts, private, paid, low, high)


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
