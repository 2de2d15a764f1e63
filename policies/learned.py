"""Learned principals (MERMAIDE and its ablations) behind the Principal protocol, for every scenario.

``mermaide``, ``wm_only``, ``meta_only`` and ``model_free`` are one class loaded
from checkpoints of the corresponding variant (see :mod:`policies.mermaide`);
the checkpoint's :class:`~policies.problem.NetSpec` says which problem it was
trained for (an incentive game, a Stackelberg game, a green-tax economy).
Beyond the protocol they offer:

* ``adapt(episodes)``: K-shot adaptation: ``inner_steps`` gradient steps of the
  variant's adaptation loss per recorded episode with the new agent type, from
  the current parameters (the MAML inner loop; plain fine-tuning with
  ``finetune_lr`` for the non-meta variants); with ``memory`` (commitment games)
  the next episodes also start from the ranges of commitments under which each
  answer was observed in the last adaptation episode; ``reset_adaptation()``
  returns to the initialisation and forgets them. Adaptation episodes are played with ``explore = True``,
  the exploration of meta-training's episodes.
* ``episode()``: the last episode, recorded from the principal's own
  observations (what it would have in the field).
* ``save(path)`` / ``load(path)``: checkpoints with the config stored beside the
  weights, read with ``torch.load(weights_only=True)``.

Decisions come from :func:`policies.planning.choose_actions`, the same function
the trainer's rollouts call: the world-model variants plan through their world
model, the policy-gradient variants sample from their policy. The principal's
random numbers come from a ``torch.Generator`` seeded by ``seed`` (and
``reseed(seed)``), so each evaluation seed varies them.

Rows: one per agent when ``spec.extra["independent_agents"]`` is set (per-agent
actions, (n, D)), otherwise one for the population as a whole (it then sees
choice shares). For the Stackelberg game the rows' context (the leader's
payoffs) is read from ``spec.extra["leader_payoffs"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator import Observation, PrincipalSpec

from .base import BasePrincipal, register_principal
from .checkpoints import CheckpointError, load_checkpoint, net_from_checkpoint, save_checkpoint
from .mermaide import MermaideConfig, PrincipalNet, Trajectories, inner_adapt, memory_after
from .nets import Features
from .planning import choose_actions, draw_randomness, plan_table

__all__ = ["LearnedPrincipal", "Mermaide", "MetaOnly", "ModelFree", "WorldModelOnly", "row_context"]


def row_context(spec: PrincipalSpec, rows: int, context_dim: int) -> torch.Tensor | None:
    """The per-row context a network needs (the leader's payoffs, flattened), or None."""
    if context_dim == 0:
        return None
    pay = spec.extra.get("leader_payoffs")
    if pay is None:
        raise CheckpointError("this principal needs the leader's payoffs (spec.extra['leader_payoffs'])")
    arr = np.asarray(pay, dtype=np.float32).reshape(-1, context_dim) if np.ndim(pay) == 3 else None
    if arr is None:
        arr = np.broadcast_to(np.asarray(pay, dtype=np.float32).reshape(1, context_dim), (rows, context_dim))
    if arr.shape[0] != rows:
        raise CheckpointError(f"leader_payoffs has {arr.shape[0]} rows, the principal acts for {rows}")
    return torch.from_numpy(np.ascontiguousarray(arr))


class LearnedPrincipal(BasePrincipal):
    """A trained :class:`PrincipalNet` acting through the Principal protocol.

    Args:
        checkpoint: path of a checkpoint written by ``python -m policies.train``.
        net: an in-memory network (instead of a checkpoint).
        config: its method config (with ``net``).
        seed: seeds the principal's own random numbers (planning samples, exploration, policy draws).
        training_logs: the training run's log dicts (the checkpoint's, by default), for learning curves.
    """

    variant = "mermaide"

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        net: PrincipalNet | None = None,
        config: MermaideConfig | None = None,
        seed: int = 0,
        training_logs: list[dict[str, float]] | None = None,
    ) -> None:
        if (checkpoint is None) == (net is None):
            raise ValueError(f"{self.variant}: give either a checkpoint path or a network")
        if checkpoint is not None:
            state = load_checkpoint(checkpoint, expect_variant=self.variant)
            net, config = net_from_checkpoint(state)
            self.checkpoint = str(checkpoint)
            training_logs = training_logs or state.get("logs")
        else:
            self.checkpoint = None
        assert net is not None
        self.net = net
        self.cfg = config if config is not None else MermaideConfig(variant=self.variant)
        if self.cfg.variant != self.variant:
            raise CheckpointError(f"network is for variant {self.cfg.variant!r}, not {self.variant!r}")
        self.training_logs = training_logs
        self.init_params = {k: v.detach().clone() for k, v in net.named_parameters()}
        self.params = dict(self.init_params)
        self.shots = 0
        self.explore = False
        self._memory: torch.Tensor | None = None  # ranges kept across episodes with one type (cfg.memory)
        self._table = (
            plan_table(net.spec.n_choices, net.spec.null_action, self.cfg.tails, self.cfg.lookahead)
            if self.cfg.uses_world_model
            else None
        )
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the principal's own random numbers from ``seed`` (an evaluation seed varies them)."""
        self.seed = int(seed)
        self._gen = torch.Generator().manual_seed(self.seed)

    # ------------------------------------------------------------ protocol
    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Start an episode; the spec must match what the network was trained for.

        With ``memory`` the episode starts from the ranges kept by the last ``adapt`` (dropped when the
        number of rows changed: another batch of agent types).
        """
        super().reset(spec, rng)
        ns = self.net.spec
        checks = {"n_actions": spec.n_actions, "horizon": spec.horizon}
        if spec.observation != ns.observation and not (ns.observation == "noisy" and spec.observation == "actions"):
            checks["observation"] = spec.observation
        for key, value in checks.items():
            if getattr(ns, key) != value:
                raise CheckpointError(
                    f"{self.variant}: trained for {key}={getattr(ns, key)!r}, but this run has {key}={value!r}"
                )
        if ns.incentive_vectors:  # an incentive game: the action set must respect the game's bounds
            table = ns.action_array()
            if (table < np.asarray(spec.lower) - 1e-9).any() or (table > np.asarray(spec.upper) + 1e-9).any():
                raise CheckpointError(
                    f"{self.variant}: trained to pay incentives in [{table.min(0).tolist()}, {table.max(0).tolist()}]"
                    f", outside this game's bounds [{list(spec.lower)}, {list(spec.upper)}]"
                )
        self.rows = spec.n_agents if spec.extra.get("independent_agents", False) else 1
        self.context = row_context(spec, self.rows, ns.context_dim)
        with torch.no_grad():
            h0 = self.net.initial_belief(self.params, self.context).detach()
        self.h = h0.expand(self.rows, h0.shape[-1]).clone()
        kept = self._memory if self._memory is not None and self._memory.shape[0] == self.rows else None
        self.feats = Features.empty((self.rows,), ns, kept)
        self._start = self.feats.ranges()  # the ranges the episode starts from
        self._rec: dict[str, list[torch.Tensor]] = {k: [] for k in ("obs", "act", "choice", "agent", "seen", "rew")}
        self._idx: torch.Tensor | None = None

    @torch.no_grad()
    def act(self) -> np.ndarray:
        """This round's action: planned through the world model, or sampled from the policy."""
        rand = draw_randomness(self.net, self.cfg, (), self.rows, self._gen)
        idx = choose_actions(
            self.net,
            self.params,
            self.cfg,
            self.h,
            self.feats,
            self.round,
            rand,
            self.explore,
            self.context,
            self._table,
        )
        self._idx = idx
        x = self.net.actions_of(idx).to(torch.float64).numpy()
        return x if self.spec.extra.get("independent_agents", False) else x[0]

    @torch.no_grad()
    def observe(self, obs: Observation) -> None:
        """Update the belief with what was seen this round."""
        super().observe(obs)
        ns = self.net.spec
        k = ns.n_actions
        idx = self._idx if self._idx is not None else torch.full((self.rows,), ns.null_action)
        x = self.net.actions_of(idx)
        if self.rows == 1 and ns.observation == "shares":
            choice = torch.as_tensor(np.asarray(obs.shares, dtype=np.float32)).reshape(1, k)
            actions = None
        else:
            actions = np.asarray(obs.actions).reshape(-1)[: self.rows]
            choice = torch.nn.functional.one_hot(torch.as_tensor(actions, dtype=torch.long), k).float()
        seen = ns.observation == "full" and obs.rewards is not None
        agent_r = torch.as_tensor(np.asarray(obs.rewards, dtype=np.float32)[: self.rows]) if seen else None
        enc, self.feats = self.feats.encode(ns, x, choice, agent_r, self.round - 1, self.context)
        self.h = self.net.update_belief(self.params, enc, self.h)
        rec = self._rec
        rec["obs"].append(enc)
        rec["act"].append(idx)
        rec["choice"].append(choice)
        rec["agent"].append(agent_r if agent_r is not None else torch.zeros(self.rows))
        rec["seen"].append(torch.full((self.rows,), 1.0 if seen else 0.0))
        rec["rew"].append(self._perceived_reward(x, choice, obs))
        self._idx = None

    def _perceived_reward(self, x: torch.Tensor, choice: torch.Tensor, obs: Observation) -> torch.Tensor:
        """The principal's reward per row as it knows it: from the observed action, or its own payoff."""
        ns = self.net.spec
        if ns.reward == "incentive" and ns.observation != "shares":
            values = self.net.values
            return ((values - ns.cost * torch.relu(x)) * choice).sum(-1)
        if ns.reward == "bilinear" and self.context is not None:
            pay = self.context.reshape(self.rows, ns.action_dim, ns.n_actions)
            return ((x.unsqueeze(-2) @ pay).squeeze(-2) * choice).sum(-1)
        return torch.full((self.rows,), float(obs.principal_reward) / max(self.rows, 1))

    # ---------------------------------------------------------- adaptation
    def episode(self) -> Trajectories:
        """The episode played since the last reset, as tensors with batch dim (rows,)."""
        rec = self._rec
        if not rec["obs"]:
            raise ValueError(f"{self.variant}: no episode recorded yet")
        ctx = self.context if self.context is not None else torch.zeros(self.rows, 0)
        return Trajectories(
            obs=torch.stack(rec["obs"], dim=-2),
            act=torch.stack(rec["act"], dim=-1),
            choice=torch.stack(rec["choice"], dim=-2),
            agent_reward=torch.stack(rec["agent"], dim=-1),
            reward_seen=torch.stack(rec["seen"], dim=-1),
            reward=torch.stack(rec["rew"], dim=-1),
            context=ctx,
            memory=self._start,
        )

    def adapt(self, episodes: list[Trajectories]) -> None:
        """K-shot adaptation: ``inner_steps`` gradient steps per episode, in order, from the current parameters."""
        params = {k: v.detach().requires_grad_(True) for k, v in self.params.items()}
        for ep in episodes:
            if ep.horizon != self.net.spec.horizon:
                raise ValueError(f"{self.variant}: adaptation episodes must have {self.net.spec.horizon} rounds")
            params = inner_adapt(self.net, params, ep, self.cfg, lr=self.cfg.adaptation_step, first_order=True)
            params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
            self.shots += 1
        self.params = {k: v.detach() for k, v in params.items()}
        if self.cfg.memory and episodes:  # the next episode with this type starts from what was observed
            self._memory = memory_after(self.net.spec, episodes[-1])

    def reset_adaptation(self) -> None:
        """Forget adaptation (back to the meta-learned initial parameters) and the kept ranges."""
        self.params = dict(self.init_params)
        self.shots = 0
        self._memory = None

    # ---------------------------------------------------------------- I/O
    def save(self, path: str | Path, *, problem: str = "unknown") -> None:
        """Write the (initial) network and its config as a checkpoint."""
        self.net.load_state_dict({**self.net.state_dict(), **self.init_params})
        save_checkpoint(path, self.net, self.cfg, problem=problem)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> LearnedPrincipal:
        """Load a checkpoint of this variant."""
        return cls(path, **kwargs)

    def fresh(self, seed: int | None = None) -> LearnedPrincipal:
        """A new principal with the same network and config (no adaptation), seeded by ``seed``."""
        return type(self)(net=self.net, config=self.cfg, seed=self.seed if seed is None else seed)


@register_principal("mermaide")
class Mermaide(LearnedPrincipal):
    """MERMAIDE: a world model meta-learned with MAML, planned through (Banerjee et al. 2023)."""

    variant = "mermaide"


@register_principal("wm_only")
class WorldModelOnly(LearnedPrincipal):
    """Ablation: the same world model and planner, trained without meta-learning."""

    variant = "wm_only"


@register_principal("meta_only")
class MetaOnly(LearnedPrincipal):
    """Ablation: MAML on a recurrent policy trained by actor-critic, no world model."""

    variant = "meta_only"


@register_principal("model_free")
class ModelFree(LearnedPrincipal):
    """Ablation: a recurrent policy trained by actor-critic, no world model, no meta-learning."""

    variant = "model_free"
