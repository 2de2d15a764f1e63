"""MERMAIDE: a meta-learned, model-based principal, and its ablations.

Banerjee, Phade, Ermon & Zheng, "MERMAIDE: Learning to Align Learners using
Model-Based Meta-Learning" (arXiv 2304.04668, TMLR 2023). The paper released no
code; its abstract and introduction fix the ingredients (a principal that pays
costly incentives on a learning agent's rewards, a recurrent world model of the
agent, MAML with agents as tasks, 0-shot and K-shot adaptation). Every other
detail below is this project's choice and a field of :class:`MermaideConfig`.

Architecture (one network, :class:`PrincipalNet`, evaluated functionally):

* **Belief encoder**: a GRU over the principal's observation history
  (:func:`policies.nets.encode_observation`); its state ``h_t`` after round t is
  the principal's belief about *this* agent. ``h_{-1}`` is a learned vector.
* **World model head**: predicts the agent's next action distribution under a
  candidate incentive ``x`` as a noisy best response,
  ``p(a | h, x) = (1 - eps(h)) softmax(b(h) + s(h) * x / x_scale) + eps(h) / K``,
  with base preferences ``b``, sensitivity ``s > 0`` and an exploration floor
  ``eps`` all read from the belief. This structure matches every learner family
  in the simulator at least approximately (exactly for epsilon-greedy with
  posted incentives) and makes predicted responses monotone in the incentive.
  With observation noise ``p`` (known to the principal) the likelihood is taken
  on the observed action, ``(1 - p) p(a) + p / K``. Trained by likelihood.
* **Policy**: an MLP from ``(h, t / T)`` to incentives in the allowed box,
  ``x = low + (high - low) * sigmoid(pre)`` on the actions the principal may pay
  for (``mask``); Gaussian noise on ``pre`` explores during training.

Training the policy (``variant``):

* ``mermaide`` and ``wm_only`` are **model-based**: the policy maximises the world
  model's predicted principal reward ``sum_a p(a | h_t, x) (v_a - c x_a)`` at every
  belief state visited in real rollouts, averaged over reparameterised
  exploration noise (which smooths the steep response of near-greedy agents).
  Gradients do not flow into the world model, which learns by likelihood only,
  so the policy cannot make the model optimistic. Why model-based: the
  response to an incentive is a one-dimensional threshold the model learns from
  every round of data, while a policy gradient sees only one noisy return per
  episode; on the bandit task the model-based principal reaches its final
  quality in a few hundred updates.
* ``meta_only`` and ``model_free`` have no world model: the same recurrent
  encoder and policy trained by REINFORCE with a learned value baseline on the
  principal's per-round reward (reward-to-go), the honest model-free ablation.

Meta-learning (``meta``): MAML (Finn, Abbeel & Levine 2017) over agent types,
with ``torch.func``: the inner loop takes ``inner_steps`` gradient steps on the
K adaptation episodes with a new agent of the type (world-model likelihood
first, then the policy loss against the adapted model; PG variants: the PG
loss) on the parameters named in ``adapt`` and returns a new parameter dict;
the outer loss is the same loss on a fresh episode played with the adapted
parameters, plus ``zero_shot_weight`` times the loss of the unadapted
parameters on the adaptation episode (so the initial parameters are also a
good 0-shot principal). ``first_order`` drops second derivatives (FOMAML).
Non-meta variants (``wm_only``, ``model_free``) train on the same episodes
without the inner loop; at test time every learned principal gets the same
K-shot fine-tuning steps from its own initial parameters, so "1 shot" means
the same thing for all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from simulator.config import option

from .nets import MLP, GRUCell, obs_dim, reinit

__all__ = [
    "VARIANTS",
    "MermaideConfig",
    "NetSpec",
    "PrincipalNet",
    "Trajectories",
    "adapt_params",
    "incentives_from_pre",
    "inner_adapt",
    "outer_loss",
]

VARIANTS = ("mermaide", "wm_only", "meta_only", "model_free")
TRUST = 1.0
"""Half-width, in logits of the policy output, of the candidates scored by a learned critic."""


@dataclass
class NetSpec:
    """Facts of the principal's problem a network is built for (checked on load).

    Attributes:
        n_actions: K.
        low: lowest incentive per action (K,).
        high: highest incentive per action (K,).
        mask: which actions the principal may pay for (K,) of bools.
        values: the principal's value of each action (K,).
        cost: cost per unit of incentive paid.
        horizon: rounds per episode T.
        observation: observation setting (``full``, ``actions``, ``noisy``, ``shares``).
        obs_noise: probability an observed action is replaced by a random one.
        x_scale: incentive scale for the network inputs.
        reward_scale: reward scale for the network inputs.
        init_incentive: incentives the untrained policy plays (default: the middle of the box),
            e.g. the Pigouvian tax as an economist's starting point.
        base: the incentive of actions the principal does not set (``mask`` False); default 0.
    """

    n_actions: int
    low: list[float]
    high: list[float]
    mask: list[bool]
    values: list[float]
    cost: float
    horizon: int
    observation: str
    obs_noise: float = 0.0
    x_scale: float = 1.0
    reward_scale: float = 1.0
    init_incentive: list[float] | None = None
    base: list[float] | None = None

    def __post_init__(self) -> None:
        # plain Python numbers only: checkpoints are read with torch.load(weights_only=True)
        self.low = [float(v) for v in self.low]
        self.high = [float(v) for v in self.high]
        self.values = [float(v) for v in self.values]
        self.mask = [bool(v) for v in self.mask]
        self.cost = float(self.cost)
        self.obs_noise = float(self.obs_noise)
        self.x_scale = float(self.x_scale)
        self.reward_scale = float(self.reward_scale)
        self.n_actions = int(self.n_actions)
        self.horizon = int(self.horizon)
        if self.init_incentive is not None:
            self.init_incentive = [float(v) for v in self.init_incentive]
        if self.base is not None:
            self.base = [float(v) for v in self.base]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for checkpoints."""
        return dataclasses.asdict(self)


@dataclass
class MermaideConfig:
    """Hyperparameters of MERMAIDE and its ablations (all documented, all overridable)."""

    variant: Literal["mermaide", "wm_only", "meta_only", "model_free"] = option(
        "mermaide", help="method: mermaide (world model + MAML), wm_only, meta_only (MAML, no model), model_free"
    )
    hidden: int = option(32, help="GRU belief size", low=4, high=512)
    policy_hidden: int = option(64, help="policy / head MLP width", low=4, high=1024)
    iterations: int = option(300, help="outer (meta) updates", low=1)
    tasks_per_batch: int = option(16, help="agent types per outer update", low=1)
    agents_per_task: int = option(8, help="independent agents per type and episode", low=1)
    lr: float = option(3e-3, help="outer learning rate (Adam)", low=0.0, low_open=True)
    inner_lr: float = option(0.3, help="inner-loop (adaptation) step size", low=0.0)
    inner_steps: int = option(1, help="inner gradient steps per adaptation episode", low=1, high=20)
    # K-shot fine-tuning of the non-meta variants (wm_only, model_free). 0.03 was chosen on bandit_alignment
    # *training-distribution* validation types (2 validation seeds x 10 types, never the test types): 1-shot
    # normalized score for 0.3 / 0.1 / 0.03 / 0.01 / 0: model_free 0.08 / 0.40 / 0.77 / 0.77 / 0.73, wm_only
    # 0.75 / 0.85 / 0.88 / 0.87 / 0.86 (full observation; actions only alike). Meta variants use inner_lr.
    finetune_lr: float | None = option(
        0.03, help="step size of the K-shot fine-tuning of non-meta variants (None: inner_lr)", low=0.0
    )
    first_order: bool = option(False, help="first-order MAML (drop second derivatives)")
    adapt: list[str] = option(
        default_factory=lambda: ["encoder.h0", "head.", "policy."],
        help="parameter-name prefixes adapted in the inner loop",
    )
    zero_shot_weight: float = option(1.0, help="weight of the unadapted (0-shot) loss in the outer loss", low=0.0)
    explore_std: float = option(0.5, help="std of exploration noise on the policy's pre-sigmoid output", low=0.0)
    policy_samples: int = option(2, help="noise samples per state in the model-based policy loss", low=1, high=64)
    candidates: int = option(8, help="random candidate incentives per state in the model-based search", low=1)
    imitation_weight: float = option(1.0, help="weight of the pull towards the best candidate", low=0.0)
    explore_uniform: float = option(
        0.2, help="share of rounds with a uniformly random incentive in training rollouts (model-based)", low=0, high=1
    )
    objective: Literal["myopic", "return"] = option(
        "myopic",
        help="policy objective: the world model's one-round reward (myopic) or a learned critic of the return",
    )
    policy_loss: Literal["model", "reinforce"] = option(
        "model",
        help="how the world-model variants train their policy: 'model' (the value the world model or critic "
        "predicts for candidate incentives) or 'reinforce' (policy gradient on realised returns; the world model "
        "then shapes the belief the policy reads and is what adaptation fits)",
    )
    gamma: float = option(0.97, help="discount of returns for the critic (objective = return)", low=0.0, high=1.0)
    critic_weight: float = option(1.0, help="weight of the critic's regression loss", low=0.0)
    plan_candidates: int = option(
        64, help="decision-time search: candidates scored by the world model each round (0 = policy only)", low=0
    )
    policy_weight: float = option(1.0, help="weight of the policy loss against the world-model loss", low=0.0)
    value_weight: float = option(0.5, help="weight of the value-baseline loss (PG variants)", low=0.0)
    entropy_bonus: float = option(0.0, help="bonus on the Gaussian policy's log-std (PG variants)", low=0.0)
    grad_clip: float = option(5.0, help="global gradient-norm clip of the outer update", low=0.0, low_open=True)
    checkpoint_every: int = option(50, help="write a checkpoint every this many outer updates", low=1)

    @property
    def uses_world_model(self) -> bool:
        """Model-based variants (mermaide, wm_only)."""
        return self.variant in ("mermaide", "wm_only")

    @property
    def meta(self) -> bool:
        """Meta-learned variants (mermaide, meta_only)."""
        return self.variant in ("mermaide", "meta_only")


class PrincipalNet(nn.Module):
    """Belief encoder (GRU), world-model head, policy and value heads.

    Called through ``torch.func.functional_call(net, params, (kind, *args))`` with
    ``kind`` one of ``"encode"``, ``"head"``, ``"policy"``, ``"value"``.
    """

    def __init__(
        self, spec: NetSpec, hidden: int = 32, policy_hidden: int = 64, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        k = spec.n_actions
        self.spec = spec
        self.encoder = _Encoder(obs_dim(k), hidden)
        self.head = MLP([hidden, policy_hidden, 2 * k + 1], out_gain=0.1)
        self.policy = MLP([hidden + 1, policy_hidden, policy_hidden, k], out_gain=0.1)
        self.value = MLP([hidden + 1, policy_hidden, 1], out_gain=0.1)
        self.critic = MLP([hidden + 1 + k, policy_hidden, policy_hidden, 1], out_gain=0.1)
        self.log_std = nn.Parameter(torch.full((k,), math.log(0.5)))
        # near-greedy agents respond to incentives as a steep threshold: start the
        # head's sensitivity at 10 logits per x_scale instead of about 1
        self.register_buffer("sens_scale", torch.tensor(10.0))
        self.register_buffer("low", torch.tensor(spec.low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(spec.high, dtype=torch.float32))
        self.register_buffer("mask", torch.tensor(spec.mask, dtype=torch.float32))
        base = spec.base if spec.base is not None else [0.0] * k
        self.register_buffer("base", torch.tensor(base, dtype=torch.float32))
        self.register_buffer("values", torch.tensor(spec.values, dtype=torch.float32))
        if generator is not None:
            reinit(self, generator)
            with torch.no_grad():
                self.log_std.fill_(math.log(0.5))
        if spec.init_incentive is not None:
            span = (self.high - self.low).clamp_min(1e-9)
            u = ((torch.tensor(spec.init_incentive) - self.low) / span).clamp(1e-3, 1 - 1e-3)
            last = [m for m in self.policy.net if isinstance(m, nn.Linear)][-1]
            with torch.no_grad():
                last.bias.copy_(torch.logit(u))

    def forward(self, kind: str, *args: torch.Tensor) -> torch.Tensor:
        """Dispatch to the encoder, the world-model head, the policy or the value head."""
        if kind == "encode":
            return self.encoder(*args)
        if kind == "step":
            return self.encoder.cell(*args)
        if kind == "h0":
            return self.encoder.h0
        if kind == "head":
            return self._head(*args)
        if kind == "policy":
            return self.policy(torch.cat(args, dim=-1))
        if kind == "value":
            return self.value(torch.cat(args, dim=-1)).squeeze(-1)
        if kind == "critic":
            h, tf, x = args
            return self.critic(torch.cat([h, tf, x / self.spec.x_scale], dim=-1)).squeeze(-1)
        if kind == "log_std":
            return self.log_std
        raise ValueError(f"unknown kind {kind!r}")

    def _head(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        k = self.spec.n_actions
        out = self.head(h)
        base, sens, eps = out[..., :k], out[..., k : 2 * k], out[..., 2 * k]
        logits = base + self.sens_scale * nn.functional.softplus(sens + 1.0) * (x / self.spec.x_scale)
        floor = torch.sigmoid(eps - 2.0).unsqueeze(-1)
        return (1.0 - floor) * torch.softmax(logits, dim=-1) + floor / k


class _Encoder(nn.Module):
    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.cell = GRUCell(d_in, hidden)
        self.h0 = nn.Parameter(torch.zeros(hidden))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Beliefs before each round: obs (..., T, D) -> (..., T, H) holding h_{-1}, h_0, ..., h_{T-2}."""
        h = self.h0.expand(*obs.shape[:-2], self.h0.shape[0])
        states = [h]
        for t in range(obs.shape[-2] - 1):
            h = self.cell(obs[..., t, :], h)
            states.append(h)
        return torch.stack(states, dim=-2)


def incentives_from_pre(net: PrincipalNet, pre: torch.Tensor) -> torch.Tensor:
    """Map unconstrained policy outputs to incentives inside the box; masked actions get ``base``."""
    x = net.low + (net.high - net.low) * torch.sigmoid(pre)
    return x * net.mask + net.base * (1.0 - net.mask)


# ------------------------------------------------------------------ data
@dataclass
class Trajectories:
    """Episodes of a batch of independent principal-agent rows, as tensors.

    Shapes use leading dims ``(*batch, T)``: ``(tasks, agents)`` in training,
    ``(agents,)`` for one type.

    Attributes:
        obs: encoded observation after each round, (*, T, D).
        pre: the policy's (noisy) pre-sigmoid output that produced each round's incentives, (*, T, K).
        actions: observed action per round (-1 if not observed), (*, T) long.
        reward: the principal's true reward per round and row, (*, T).
        tfrac: t / T of each decision, (T,).
    """

    obs: torch.Tensor
    pre: torch.Tensor
    actions: torch.Tensor
    reward: torch.Tensor
    tfrac: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    def select(self, idx: Any) -> Trajectories:
        """Index the leading batch dims."""
        return Trajectories(self.obs[idx], self.pre[idx], self.actions[idx], self.reward[idx], self.tfrac)

    @staticmethod
    def cat(items: list[Trajectories], dim: int = 0) -> Trajectories:
        """Concatenate along a batch dim."""
        return Trajectories(
            torch.cat([t.obs for t in items], dim),
            torch.cat([t.pre for t in items], dim),
            torch.cat([t.actions for t in items], dim),
            torch.cat([t.reward for t in items], dim),
            items[0].tfrac,
        )


# ----------------------------------------------------------------- losses
def _call(net: PrincipalNet, params: dict[str, torch.Tensor], kind: str, *args: torch.Tensor) -> torch.Tensor:
    return functional_call(net, params, (kind, *args))


def _detach(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in params.items()}


def wm_loss(net: PrincipalNet, params: dict[str, torch.Tensor], traj: Trajectories) -> torch.Tensor:
    """Negative log-likelihood of what was observed (an action, or choice shares) under the world model.

    The target of round t is read from the observation (one-hot of the observed
    action, or the observed shares: then it is the cross-entropy per household).
    """
    spec = net.spec
    k = spec.n_actions
    beliefs = _call(net, params, "encode", traj.obs)
    x = incentives_from_pre(net, traj.pre)
    p_true = _call(net, params, "head", beliefs, x)
    p_obs = (1.0 - spec.obs_noise) * p_true + spec.obs_noise / k
    target = traj.obs[..., k : 2 * k]
    seen = target.sum(-1) > 0
    nll = -(target * torch.log(p_obs.clamp_min(1e-8))).sum(-1)
    return (nll * seen).sum() / seen.sum().clamp_min(1)


def _returns(reward: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted reward-to-go along the last dim."""
    out = torch.zeros_like(reward)
    acc = torch.zeros_like(reward[..., 0])
    for t in range(reward.shape[-1] - 1, -1, -1):
        acc = reward[..., t] + gamma * acc
        out[..., t] = acc
    return out


def critic_loss(net: PrincipalNet, params: dict[str, torch.Tensor], traj: Trajectories, gamma: float) -> torch.Tensor:
    """Value V(belief, t) on the discounted return-to-go, and the advantage critic Q(belief, t, x_t) on G - V.

    Returns are in ``reward_scale`` units. Fitting Q to the advantage (not the
    return itself) removes the large differences between populations from its
    target, so the small effect of this round's incentive is not drowned.
    """
    beliefs = _call(net, params, "encode", traj.obs)
    tf = traj.tfrac.expand(*beliefs.shape[:-1]).unsqueeze(-1)
    x = incentives_from_pre(net, traj.pre)
    target = _returns(traj.reward / net.spec.reward_scale, gamma).detach()
    v = _call(net, params, "value", beliefs, tf)
    q = _call(net, params, "critic", beliefs, tf, x)
    return ((v - target) ** 2).mean() + ((q - (target - v.detach())) ** 2).mean()


def model_based_policy_loss(
    net: PrincipalNet,
    params: dict[str, torch.Tensor],
    traj: Trajectories,
    noise: dict[str, torch.Tensor],
    imitation_weight: float = 1.0,
    objective: str = "myopic",
) -> torch.Tensor:
    """Policy loss against the world model's predicted principal reward.

    Two terms at every visited belief state (beliefs and world-model parameters
    are constants here: the policy learns from the model, the model from data):

    * minus the predicted reward of the policy's incentives, averaged over
      reparameterised exploration noise (local refinement);
    * ``imitation_weight`` x the squared distance (as a share of the allowed
      range) to the best of a set of random candidate incentives and the policy's
      own, scored by the world model (global search: a near-greedy agent's
      response is a steep threshold, and gradient ascent alone stalls below it).

    Args:
        net: the network.
        params: current parameters (only the policy's get gradients).
        traj: the episodes whose belief states are used.
        noise: ``{"smooth": N(0,1) of shape (S, *batch, T, K), "cand": U(0,1) of shape (C, *batch, T, K)}``.
        imitation_weight: weight of the search term.
        objective: ``myopic`` (the world model's one-round reward) or ``return`` (the critic).
    """
    fixed = _detach(params)
    beliefs = _call(net, fixed, "encode", traj.obs)
    tf = traj.tfrac.expand(*beliefs.shape[:-1]).unsqueeze(-1)
    pre = _call(net, params, "policy", beliefs, tf)
    std = torch.exp(_call(net, fixed, "log_std")).clamp(0.05, 2.0)
    smooth = noise["smooth"]
    x_s = incentives_from_pre(net, pre.unsqueeze(0) + smooth * std)
    local = _predicted_reward(net, fixed, beliefs, tf, x_s, objective).mean()
    x_pol = incentives_from_pre(net, pre)
    span = (net.high - net.low).clamp_min(1e-6)
    if objective == "return":
        # a learned critic is only trusted near the incentives it was fitted on: candidates lie within
        # +-TRUST logits of the policy's own output
        cand = incentives_from_pre(net, pre.detach().unsqueeze(0) + TRUST * (2.0 * noise["cand"] - 1.0))
    else:
        cand = incentives_from_pre(net, torch.logit((noise["cand"]).clamp(1e-4, 1 - 1e-4)))
    cand = torch.cat([cand, x_pol.detach().unsqueeze(0)], dim=0)
    scores = _predicted_reward(net, fixed, beliefs, tf, cand, objective)
    best = scores.argmax(0, keepdim=True).unsqueeze(-1).expand(1, *cand.shape[1:])
    target = cand.gather(0, best).squeeze(0)
    imitation = ((((x_pol - target) / span) ** 2) * net.mask).sum(-1).mean()
    return -local + imitation_weight * imitation


def _predicted_reward(
    net: PrincipalNet,
    fixed: dict[str, torch.Tensor],
    beliefs: torch.Tensor,
    tf: torch.Tensor,
    x: torch.Tensor,
    objective: str = "myopic",
) -> torch.Tensor:
    """Predicted value of incentives x (S, *batch, T, K) at beliefs (*batch, T, H).

    ``myopic``: the world model's expected reward this round, sum_a p(a) (v_a - c max(x_a, 0)).
    ``return``: the critic's estimate of the discounted return.
    """
    b = beliefs.unsqueeze(0).expand(x.shape[0], *beliefs.shape)
    if objective == "return":
        return _call(net, fixed, "critic", b, tf.unsqueeze(0).expand(x.shape[0], *tf.shape), x)
    p = _call(net, fixed, "head", b, x)
    return (p * (net.values - net.spec.cost * torch.relu(x))).sum(-1)


def pg_loss(
    net: PrincipalNet, params: dict[str, torch.Tensor], traj: Trajectories, value_weight: float, entropy_bonus: float
) -> torch.Tensor:
    """REINFORCE with reward-to-go and a learned value baseline (model-free variants)."""
    beliefs = _call(net, params, "encode", traj.obs)
    tf = traj.tfrac.expand(*beliefs.shape[:-1]).unsqueeze(-1)
    mean = _call(net, params, "policy", beliefs, tf)
    log_std = _call(net, params, "log_std").clamp(math.log(0.05), math.log(2.0))
    dist = torch.distributions.Normal(mean, torch.exp(log_std))
    logp = dist.log_prob(traj.pre).sum(-1)
    # reward-to-go in reward_scale units, like the critic's target (a value loss in raw units, e.g. dollars,
    # dominates every other gradient, and one inner step on it throws the shared encoder state far off)
    rtg = torch.flip(torch.cumsum(torch.flip(traj.reward / net.spec.reward_scale, [-1]), -1), [-1])
    value = _call(net, params, "value", beliefs, tf)
    adv = (rtg - value).detach()
    adv = adv / (adv.std() + 1e-6)
    policy = -(logp * adv).mean()
    vloss = ((value - rtg) ** 2).mean()
    return policy + value_weight * vloss - entropy_bonus * log_std.sum()


# ------------------------------------------------------------------- MAML
def _split(params: dict[str, torch.Tensor], prefixes: list[str]) -> tuple[dict, dict]:
    fast = {k: v for k, v in params.items() if any(k.startswith(p) for p in prefixes)}
    slow = {k: v for k, v in params.items() if k not in fast}
    return fast, slow


def inner_adapt(
    net: PrincipalNet,
    params: dict[str, torch.Tensor],
    traj: Trajectories,
    cfg: MermaideConfig,
    noise: dict[str, torch.Tensor],
    *,
    steps: int | None = None,
    lr: float | None = None,
) -> dict[str, torch.Tensor]:
    """MAML inner loop: new parameters after gradient steps on the adaptation episodes.

    Args:
        net: the network.
        params: initial parameters (a dict; not modified).
        traj: the K adaptation episodes of one agent type (batch dims are agents/episodes).
        cfg: method config (``adapt`` prefixes, ``first_order``, ``inner_steps``, ``inner_lr``).
        noise: the random numbers of the model-based policy loss (see :func:`model_based_policy_loss`).
        steps: override ``cfg.inner_steps``.
        lr: override ``cfg.inner_lr``.

    Returns:
        A new parameter dict; ``lr = 0`` returns values equal to ``params``.
    """
    steps = cfg.inner_steps if steps is None else steps
    lr = cfg.inner_lr if lr is None else lr
    fast, slow = _split(params, cfg.adapt)
    if not fast:
        return dict(params)

    def maybe_detach(g: torch.Tensor) -> torch.Tensor:
        return g.detach() if cfg.first_order else g

    def step(keys: list[str], loss: Callable[[dict[str, torch.Tensor]], torch.Tensor]) -> None:
        """One gradient step of ``loss`` on the fast weights named in ``keys``."""
        nonlocal fast
        rest = {**slow, **fast}
        sub = {k: fast[k] for k in keys}
        g = grad(lambda s: loss({**rest, **s}))(sub)
        fast = {**fast, **{k: sub[k] - lr * maybe_detach(g[k]) for k in keys}}

    def pol(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return policy_loss(net, p, traj, cfg, noise)

    for _ in range(steps):
        if cfg.uses_world_model:  # the world model on its likelihood first, then the policy against it
            wm_keys = [k for k in fast if not k.startswith(("policy.", "value.", "log_std", "critic."))]
            pol_keys = [k for k in fast if k not in wm_keys]
            if wm_keys:
                step(wm_keys, lambda p: wm_loss(net, p, traj))
            if pol_keys:
                step(pol_keys, pol)
        else:
            step(list(fast), pol)
    return {**slow, **fast}


def task_loss(
    net: PrincipalNet,
    params: dict[str, torch.Tensor],
    traj: Trajectories,
    cfg: MermaideConfig,
    noise: dict[str, torch.Tensor],
) -> torch.Tensor:
    """The per-task training loss of a variant on some episodes."""
    if not cfg.uses_world_model:
        return policy_loss(net, params, traj, cfg, noise)
    loss = wm_loss(net, params, traj) + cfg.policy_weight * policy_loss(net, params, traj, cfg, noise)
    if cfg.policy_loss == "model" and cfg.objective == "return":  # the critic that the model-based policy ascends
        loss = loss + cfg.critic_weight * critic_loss(net, params, traj, cfg.gamma)
    return loss


def policy_loss(
    net: PrincipalNet,
    params: dict[str, torch.Tensor],
    traj: Trajectories,
    cfg: MermaideConfig,
    noise: dict[str, torch.Tensor],
) -> torch.Tensor:
    """The policy's loss of a variant: model-based for the world-model variants, else REINFORCE.

    ``policy_loss = "reinforce"`` makes the world-model variants use REINFORCE too.
    """
    if cfg.uses_world_model and cfg.policy_loss == "model":
        return model_based_policy_loss(net, params, traj, noise, cfg.imitation_weight, cfg.objective)
    return pg_loss(net, params, traj, cfg.value_weight, cfg.entropy_bonus)


def adapt_params(
    net: PrincipalNet,
    params: dict[str, torch.Tensor],
    support: Trajectories,
    cfg: MermaideConfig,
    noise: dict[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Per-task adapted parameters for a batch of tasks (vmap over the task dim).

    ``support`` has batch dims (tasks, agents) and every ``noise`` tensor a leading
    task dim; returns parameters with a leading task dimension.
    """

    def one(s_obs, s_pre, s_act, s_rew, nz):
        t = Trajectories(s_obs, s_pre, s_act, s_rew, support.tfrac)
        return inner_adapt(net, params, t, cfg, nz)

    return vmap(one, randomness="error")(support.obs, support.pre, support.actions, support.reward, noise)


def _task_major(noise: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """(tasks, S, agents, T, K) -> (S, tasks, agents, T, K)."""
    return {k: v.transpose(0, 1) for k, v in noise.items()}


def outer_loss(
    net: PrincipalNet,
    params: dict[str, torch.Tensor],
    adapted: dict[str, torch.Tensor] | None,
    support: Trajectories,
    query: Trajectories,
    cfg: MermaideConfig,
    noise_s: dict[str, torch.Tensor],
    noise_q: dict[str, torch.Tensor],
) -> tuple[torch.Tensor, dict[str, float]]:
    """Meta-objective over a batch of tasks (batch dims (tasks, agents)).

    Meta variants: mean over tasks of the query loss under the task's adapted
    parameters plus ``zero_shot_weight`` x the support loss under the initial
    parameters. Non-meta variants: the plain loss on support and query episodes.
    Noise tensors have a leading task dim: (tasks, S, agents, T, K).
    """
    logs: dict[str, float] = {}
    if cfg.meta and adapted is not None:

        def q_loss(p, q_obs, q_pre, q_act, q_rew, nz):
            return task_loss(net, p, Trajectories(q_obs, q_pre, q_act, q_rew, query.tfrac), cfg, nz)

        post = vmap(q_loss, randomness="error")(adapted, query.obs, query.pre, query.actions, query.reward, noise_q)
        pre = task_loss(net, params, support, cfg, _task_major(noise_s))
        loss = post.mean() + cfg.zero_shot_weight * pre
        logs["loss/post"] = float(post.mean().detach())
        logs["loss/pre"] = float(pre.detach())
    else:
        both = Trajectories.cat([support, query], dim=0)
        nz = _task_major({k: torch.cat([noise_s[k], noise_q[k]], dim=0) for k in noise_s})
        loss = task_loss(net, params, both, cfg, nz)
        logs["loss/pre"] = float(loss.detach())
    if cfg.uses_world_model:
        with torch.no_grad():
            logs["loss/world_model"] = float(wm_loss(net, params, query))
    return loss, logs


def init_params(net: PrincipalNet) -> dict[str, torch.Tensor]:
    """The network's parameters as a dict (the meta-learned initialisation)."""
    return dict(net.named_parameters())


def as_numpy_incentives(net: PrincipalNet, pre: torch.Tensor) -> np.ndarray:
    """Incentives (float64 numpy) from pre-sigmoid outputs."""
    return incentives_from_pre(net, pre).detach().to(torch.float64).numpy()
