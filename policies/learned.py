"""Learned principals (MERMAIDE and its ablations) behind the Principal protocol.

``mermaide``, ``wm_only``, ``meta_only`` and ``model_free`` are the same class
loaded from checkpoints of the corresponding variant (see
:mod:`policies.mermaide`). Beyond the protocol they offer:

* ``adapt(episodes)``: K-shot adaptation. Adaptation episodes are played with
  ``explore = True`` (the same exploration as the support episodes of
  meta-training, so the inner update sees the data it was meta-trained on);
  each recorded episode with the new agent type gives ``inner_steps`` gradient steps (the MAML inner loop, also used
  as plain fine-tuning by the non-meta variants) starting from the current
  parameters; ``reset_adaptation()`` returns to the meta-learned initialisation.
* ``episode()``: the last episode, recorded by the principal from its own
  observations (what it would have in the field).
* ``save(path)`` / ``load(path)``: checkpoints with the config stored beside the
  weights, read with ``torch.load(weights_only=True)``.

The principal acts for a batch of independent agents when
``spec.extra["independent_agents"]`` is set (per-agent incentives, (n, K)),
otherwise for the population as a whole from its choice shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from simulator import Observation, PrincipalSpec

from .base import BasePrincipal, register_principal
from .mermaide import TRUST, MermaideConfig, NetSpec, PrincipalNet, Trajectories, incentives_from_pre, inner_adapt
from .nets import RunningStats, encode_observation
from .training import (
    CheckpointError,
    load_checkpoint,
    make_noise,
    net_from_checkpoint,
    perceived_reward,
    save_checkpoint,
)

__all__ = ["LearnedPrincipal", "Mermaide", "MetaOnly", "ModelFree", "WorldModelOnly", "net_spec_for"]


def net_spec_for(spec: PrincipalSpec) -> dict[str, Any]:
    """The fields of a principal spec a checkpoint must agree with."""
    return {
        "n_actions": spec.n_actions,
        "observation": spec.observation,
        "horizon": spec.horizon,
    }


class LearnedPrincipal(BasePrincipal):
    """A trained :class:`PrincipalNet` acting through the Principal protocol.

    Args:
        checkpoint: path of a checkpoint written by ``python -m policies.train``.
        net: an in-memory network (instead of a checkpoint).
        config: its method config (with ``net``).
        seed: seeds the noise of the adaptation's policy loss (deterministic adaptation).
    """

    variant = "mermaide"

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        net: PrincipalNet | None = None,
        config: MermaideConfig | None = None,
        seed: int = 0,
    ) -> None:
        if (checkpoint is None) == (net is None):
            raise ValueError(f"{self.variant}: give either a checkpoint path or a network")
        if checkpoint is not None:
            state = load_checkpoint(checkpoint, expect_variant=self.variant)
            net, config = net_from_checkpoint(state)
            self.checkpoint = str(checkpoint)
        else:
            self.checkpoint = None
        assert net is not None
        self.net = net
        self.cfg = config if config is not None else MermaideConfig(variant=self.variant)
        if self.cfg.variant != self.variant:
            raise CheckpointError(f"network is for variant {self.cfg.variant!r}, not {self.variant!r}")
        self.init_params = {k: v.detach().clone() for k, v in net.named_parameters()}
        self.params = dict(self.init_params)
        self.seed = int(seed)
        self.shots = 0
        self.explore = False
        self._cand: torch.Tensor | None = None
        self._gen = torch.Generator().manual_seed(self.seed)

    # ------------------------------------------------------------ protocol
    def reset(self, spec: PrincipalSpec, rng: np.random.Generator) -> None:
        """Start an episode; the spec must match what the network was trained for."""
        super().reset(spec, rng)
        ns: NetSpec = self.net.spec
        for key, value in net_spec_for(spec).items():
            if getattr(ns, key) != value:
                raise CheckpointError(
                    f"{self.variant}: trained for {key}={getattr(ns, key)!r}, but this run has {key}={value!r}"
                )
        if (np.asarray(ns.low) < np.asarray(spec.lower) - 1e-9).any() or (
            np.asarray(ns.high) > np.asarray(spec.upper) + 1e-9
        ).any():
            raise CheckpointError(
                f"{self.variant}: trained to pay incentives in [{ns.low}, {ns.high}], outside this game's bounds "
                f"[{list(spec.lower)}, {list(spec.upper)}]"
            )
        self.rows = spec.n_agents if spec.extra.get("independent_agents", False) else 1
        h0 = self.params["encoder.h0"].detach()
        self.h = h0.expand(self.rows, h0.shape[-1]).clone()
        self._obs: list[torch.Tensor] = []
        self._pre: list[torch.Tensor] = []
        self._act: list[torch.Tensor] = []
        self._rew: list[torch.Tensor] = []
        self._x: np.ndarray | None = None
        self._stats = RunningStats(self.rows, spec.n_actions, self.net.spec.horizon)

    @torch.no_grad()
    def act(self) -> np.ndarray:
        """Incentives from the current belief (deterministic unless exploring).

        Model-based variants score the policy's proposal together with a fixed set
        of candidate incentives under the world model and play the best
        (decision-time planning, ``plan_candidates``; not with ``policy_loss = "reinforce"``, which
        trains no model of the return to plan with). While ``explore`` is set
        (adaptation episodes) the principal explores exactly as in meta-training.
        """
        t = self.round
        horizon = self.net.spec.horizon
        tf = torch.full((self.rows, 1), t / horizon)
        pre = functional_call(self.net, self.params, ("policy", self.h, tf))
        if self.cfg.uses_world_model and self.cfg.plan_candidates > 0 and self.cfg.policy_loss == "model":
            pre = self._plan(pre)
        if self.explore:
            pre = self._explore(pre)
        self._pre.append(pre)
        x = incentives_from_pre(self.net, pre).to(torch.float64).numpy()
        self._x = x
        return x if self.spec.extra.get("independent_agents", False) else x[0]

    def _candidates(self) -> torch.Tensor:
        if self._cand is None:
            net, c = self.net, self.cfg.plan_candidates
            mask = net.mask.bool()
            if int(mask.sum()) == 1:  # one payable action: an even grid over the box (ends included)
                u = torch.zeros(c, net.spec.n_actions)
                u[:, mask] = torch.linspace(0.0, 1.0, c).unsqueeze(-1)
            else:
                gen = torch.Generator().manual_seed(12345)
                u = torch.rand((c, net.spec.n_actions), generator=gen).clamp(1e-3, 1 - 1e-3)
            self._cand = torch.logit(u.clamp(1e-4, 1 - 1e-4))
        return self._cand

    def _plan(self, pre: torch.Tensor) -> torch.Tensor:
        if self.cfg.objective == "return":  # a critic is only trusted near the policy's own output
            offsets = torch.linspace(-TRUST, TRUST, self.cfg.plan_candidates)[:, None, None] * self.net.mask
            cand = torch.cat([pre.unsqueeze(0), pre.unsqueeze(0) + offsets], dim=0)
        else:
            cand = torch.cat([pre.unsqueeze(0), self._candidates()[:, None, :].expand(-1, self.rows, -1)], dim=0)
        x = incentives_from_pre(self.net, cand)
        h = self.h.unsqueeze(0).expand(x.shape[0], -1, -1)
        if self.cfg.objective == "return":
            tf = torch.full((*h.shape[:-1], 1), self.round / self.net.spec.horizon)
            score = functional_call(self.net, self.params, ("critic", h, tf, x))
        else:
            p = functional_call(self.net, self.params, ("head", h, x))
            score = (p * (self.net.values - self.net.spec.cost * torch.relu(x))).sum(-1)
        best = score.argmax(0)
        return cand[best, torch.arange(self.rows)]

    def _explore(self, pre: torch.Tensor) -> torch.Tensor:
        gen = self._gen
        pre = pre + self.cfg.explore_std * torch.randn(pre.shape, generator=gen)
        if self.cfg.uses_world_model and self.cfg.explore_uniform > 0:
            u = torch.rand(pre.shape, generator=gen).clamp(1e-4, 1 - 1e-4)
            pick = torch.rand(pre.shape[:-1], generator=gen) < self.cfg.explore_uniform
            pre = torch.where(pick.unsqueeze(-1), torch.logit(u), pre)
        return pre

    @torch.no_grad()
    def observe(self, obs: Observation) -> None:
        """Update the belief with what was seen this round."""
        super().observe(obs)
        k = self.spec.n_actions
        x = self._x if self._x is not None else np.zeros((self.rows, k))
        ns = self.net.spec
        if self.rows == 1:
            actions, shares, rewards = None, obs.shares, None
        else:
            actions, shares, rewards = obs.actions, None, obs.rewards
        enc = encode_observation(
            x, actions, shares, rewards, self.rows, k, self.round / ns.horizon, ns.x_scale, ns.reward_scale, self._stats
        )
        self.h = functional_call(self.net, self.params, ("step", enc, self.h))
        self._obs.append(enc)
        a = actions if actions is not None else np.full(self.rows, -1)
        self._act.append(torch.as_tensor(np.asarray(a), dtype=torch.long))
        sh = shares[None, :] if shares is not None else None
        self._rew.append(torch.from_numpy(perceived_reward(ns, x, actions, sh).astype(np.float32)))

    # ---------------------------------------------------------- adaptation
    def episode(self) -> Trajectories:
        """The episode played since the last reset, as tensors with batch dim (rows,)."""
        if not self._obs:
            raise ValueError(f"{self.variant}: no episode recorded yet")
        horizon = len(self._obs)
        return Trajectories(
            obs=torch.stack(self._obs, dim=-2),
            pre=torch.stack(self._pre[:horizon], dim=-2),
            actions=torch.stack(self._act, dim=-1),
            reward=torch.stack(self._rew, dim=-1),
            tfrac=torch.arange(horizon, dtype=torch.float32) / self.net.spec.horizon,
        )

    def adapt(self, episodes: list[Trajectories]) -> None:
        """K-shot adaptation: ``inner_steps`` gradient steps per episode, in order."""
        gen = torch.Generator().manual_seed(self.seed + 7919 * (self.shots + 1))
        params = {k: v.detach().requires_grad_(True) for k, v in self.params.items()}
        for ep in episodes:
            if ep.obs.shape[-2] != self.net.spec.horizon:
                raise ValueError(f"{self.variant}: adaptation episodes must have {self.net.spec.horizon} rounds")
            noise = make_noise(self.cfg, self.net.spec, (), ep.obs.shape[0], gen)
            lr = self.cfg.finetune_lr if (not self.cfg.meta and self.cfg.finetune_lr is not None) else None
            params = inner_adapt(self.net, params, ep, self.cfg, noise, lr=lr)
            params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
            self.shots += 1
        self.params = {k: v.detach() for k, v in params.items()}

    def reset_adaptation(self) -> None:
        """Forget adaptation: back to the meta-learned initial parameters."""
        self.params = dict(self.init_params)
        self.shots = 0

    # ---------------------------------------------------------------- I/O
    def save(self, path: str | Path, *, problem: str = "unknown") -> None:
        """Write the (initial) network and its config as a checkpoint."""
        self.net.load_state_dict({**self.net.state_dict(), **self.init_params})
        save_checkpoint(path, self.net, self.cfg, problem=problem)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> LearnedPrincipal:
        """Load a checkpoint of this variant."""
        return cls(path, **kwargs)


@register_principal("mermaide")
class Mermaide(LearnedPrincipal):
    """MERMAIDE: world model + MAML (Banerjee et al. 2023)."""

    variant = "mermaide"


@register_principal("wm_only")
class WorldModelOnly(LearnedPrincipal):
    """Ablation: the same world model and policy, trained without meta-learning."""

    variant = "wm_only"


@register_principal("meta_only")
class MetaOnly(LearnedPrincipal):
    """Ablation: MAML on a recurrent policy trained by policy gradient, no world model."""

    variant = "meta_only"


@register_principal("model_free")
class ModelFree(LearnedPrincipal):
    """Ablation: a recurrent policy trained by policy gradient, no world model, no meta-learning."""

    variant = "model_free"
