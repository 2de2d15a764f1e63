"""MERMAIDE: a meta-learned, model-based principal, and its ablations, on one core for every scenario.

Banerjee, Phade, Ermon & Zheng, "MERMAIDE: Learning to Align Learners using
Model-Based Meta-Learning" (arXiv 2304.04668, TMLR 2023). The paper released no
code; its abstract and introduction fix the ingredients: a principal that pays
costly incentives on a learning agent's rewards, a recurrent world model of the
agent, MAML with agents as tasks, 0-shot and K-shot adaptation to agents it has
never seen. Every other detail below is this project's choice and a field of
:class:`MermaideConfig`.

One network, :class:`PrincipalNet`, holds every part; its methods take the
parameters explicitly (``net.response_probs(params, h, x)``), so the MAML inner
loop can return new parameter dicts and ``vmap`` runs one set per task:

* **Belief** (:meth:`PrincipalNet.update_belief`): a GRU over the principal's
  observations (:class:`policies.nets.Features`); its state after round t is
  the principal's belief about *this* agent; the initial belief is learned.
* **World model**: from the belief, the agent's next action distribution under a
  candidate action of the principal (:meth:`~PrincipalNet.response_probs`), the
  agent's mean private reward per action (:meth:`~PrincipalNet.agent_reward_mean`,
  observed under ``full``), and, where the principal's reward cannot be computed
  from what it sees (welfare), that reward (:meth:`~PrincipalNet.principal_reward`).
  Trained by likelihood on everything observed.
* **Decisions of the world-model variants** (``mermaide``, ``wm_only``):
  model-predictive control through the world model (:mod:`policies.planning`):
  every round, imagined rollouts of candidate plans from the current belief, the
  first action of the best plan played. The same planner acts in training
  rollouts, adaptation episodes and scored episodes (exploring in the first two).
  In commitment games two options serve the search for the follower's
  boundaries: ``probe`` (exploring episodes play the commitment whose answer,
  as the world model predicts it, is expected to raise most what the leader
  has secured) and ``memory`` (the ranges of commitments under which each
  answer was observed carry over to the next episode with the same type, as
  the probing leader's answers do; the belief restarts with each episode and
  the adapted parameters carry the rest).
* **Decisions of the policy-gradient variants** (``meta_only``, ``model_free``):
  a categorical policy over the same action set, read from the same kind of
  belief, trained by advantage actor-critic (A2C with GAE, Mnih et al. 2016;
  Schulman et al. 2016) on the principal's reward; it samples its actions in
  training and test alike.

Meta-learning (``meta``): MAML (Finn, Abbeel & Levine 2017) over agent types with
``torch.func``. The inner loop takes ``inner_steps`` gradient steps of the
variant's adaptation loss (world-model variants: the world model's negative
log-likelihood of what was observed; policy-gradient variants: the A2C loss)
on the K adaptation episodes with an agent of the type, on the parameters named
in ``adapt``, and returns a new parameter dict. The outer loss is the same loss
on a fresh episode played with the adapted parameters, plus
``zero_shot_weight`` x the loss of the initial parameters on the adaptation
episode (the initialisation is also the 0-shot principal). Non-meta variants
(``wm_only``, ``model_free``) minimise the plain loss on the same episodes; at
test time every learned principal gets the same K-shot fine-tuning steps from
its own initial parameters (``finetune_lr`` for the non-meta variants).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, vmap

from simulator.config import option

from .nets import MLP, GRUCell, hull_dim, obs_dim, reinit
from .problem import NetSpec

__all__ = [
    "VARIANTS",
    "MermaideConfig",
    "PrincipalNet",
    "Trajectories",
    "adapt_params",
    "adaptation_loss",
    "hull_before",
    "inner_adapt",
    "memory_after",
    "outer_loss",
    "pg_loss",
    "training_loss",
    "value_loss",
    "world_model_loss",
]

VARIANTS = ("mermaide", "wm_only", "meta_only", "model_free")
BETA0 = 20.0
"""Initial sharpness of the bilinear (quantal) response model, per unit of the agent's payoff."""
Params = dict[str, torch.Tensor]

WORLD_MODEL_PARTS = (
    "encoder.",
    "response.",
    "response_offset",
    "hull_bonus",
    "sensitivity.",
    "agent_reward.",
    "principal_reward_head.",
    "log_sigma",
)
POLICY_PARTS = ("policy.", "value.")


@dataclass
class MermaideConfig:
    """Hyperparameters of MERMAIDE and its ablations (every one a documented field)."""

    variant: Literal["mermaide", "wm_only", "meta_only", "model_free"] = option(
        "mermaide", help="method: mermaide (world model + MAML), wm_only, meta_only (MAML, no model), model_free"
    )
    hidden: int = option(32, help="GRU belief size", low=4, high=512)
    width: int = option(64, help="width of the heads' hidden layers", low=4, high=1024)
    iterations: int = option(300, help="outer (meta) updates", low=1)
    tasks_per_batch: int = option(8, help="agent types per outer update", low=1)
    agents_per_task: int = option(4, help="independent agents per type and episode", low=1)
    lr: float = option(3e-3, help="outer learning rate (Adam)", low=0.0, low_open=True)
    inner_lr: float = option(0.1, help="inner-loop (adaptation) step size of the meta variants", low=0.0)
    inner_steps: int = option(1, help="inner gradient steps per adaptation episode", low=1, high=20)
    finetune_lr: float = option(0.03, help="K-shot fine-tuning step of the non-meta variants", low=0.0)
    first_order: bool = option(False, help="first-order MAML (drop second derivatives)")
    adapt: list[str] | None = option(
        None,
        help="parameter-name prefixes adapted in the inner loop",
        default_text="the world model and value head (world-model variants); the policy, value head and initial "
        "belief (the others)",
    )
    zero_shot_weight: float = option(1.0, help="weight of the unadapted (0-shot) loss in the meta loss", low=0.0)
    explore: float = option(
        0.15, help="world-model variants: share of rounds with a uniformly random action in exploring episodes", low=0
    )
    probe: bool = option(
        False,
        help="world-model variants, exploring episodes of two-row commitment games: play the commitment whose "
        "answer is expected, under the world model, to raise most the best value the principal can secure from "
        "what it has observed (a one-step knowledge gradient); the other problems ignore it",
    )
    probe_prior: float = option(
        0.5,
        help="probing: weight of a uniformly placed boundary in the gap between two observed answers, mixed with "
        "the world model's prediction of the answer there (0: the world model alone)",
        low=0.0,
        high=1.0,
    )
    memory: bool = option(
        False,
        help="commitment games: keep the ranges of commitments under which each of the agent's actions was "
        "observed from one episode with an agent type to the next (adaptation episodes, the scored episode; "
        "training's support and query episodes); the belief itself restarts every episode (any variant; the "
        "stackelberg world-model variants set it)",
    )
    lookahead: int = option(4, help="planner: imagined rounds per plan (capped by the rounds left)", low=1, high=1000)
    terminal_value: bool = option(
        True, help="planner: add the learned value of the belief a plan ends in (the rounds beyond the lookahead)"
    )
    samples: int = option(2, help="planner: imagined futures per plan (common random numbers across plans)", low=1)
    tails: list[str] = option(
        default_factory=lambda: ["constant"],
        help="planner: plan shapes after the first action: 'constant' (keep it), 'null' (stop intervening)",
        choices=("constant", "null"),
    )
    reward_weight: float = option(1.0, help="weight of the agent-reward likelihood in the world-model loss", low=0.0)
    entropy: float = option(0.01, help="policy-gradient variants: entropy bonus", low=0.0)
    value_weight: float = option(
        0.5,
        help="weight of the value loss (the critic of the policy-gradient variants, the planner's terminal value)",
        low=0.0,
    )
    gae_lambda: float = option(0.95, help="policy-gradient variants: GAE lambda", low=0.0, high=1.0)
    grad_clip: float = option(5.0, help="global gradient-norm clip of the outer update", low=0.0, low_open=True)
    eval_every: int = option(25, help="updates between two points of the validation learning curve", low=1)
    checkpoint_every: int = option(50, help="write a training checkpoint every this many outer updates", low=1)
    keep: str = option(
        "last",
        help="which weights training returns: 'last' = those after the final update, 'best' = those of the point "
        "of the validation learning curve with the highest return (early stopping on the validation pool; the "
        "last update when there is no validation pool)",
        choices=("best", "last"),
    )

    @property
    def uses_world_model(self) -> bool:
        """Model-based variants (mermaide, wm_only): they plan through the world model."""
        return self.variant in ("mermaide", "wm_only")

    @property
    def meta(self) -> bool:
        """Meta-learned variants (mermaide, meta_only)."""
        return self.variant in ("mermaide", "meta_only")

    @property
    def adapted_prefixes(self) -> list[str]:
        """The parameter prefixes the inner loop (and K-shot fine-tuning) moves."""
        if self.adapt is not None:
            return list(self.adapt)
        if self.uses_world_model:
            return [*WORLD_MODEL_PARTS, "value."] if self.terminal_value else list(WORLD_MODEL_PARTS)
        return [*POLICY_PARTS, "encoder.h0"]

    @property
    def adaptation_step(self) -> float:
        """Step size of the K-shot adaptation at test time."""
        return self.inner_lr if self.meta else self.finetune_lr


# ------------------------------------------------------------ functional layers
def _linear(params: Params, name: str, x: torch.Tensor) -> torch.Tensor:
    """A linear layer, also with per-task parameters.

    Per-task parameters carry a leading task dim B (weight (B, out, in)); the
    activations' leading dim is then the task: x (B, ..., in) -> (B, ..., out),
    one batched matrix product for all tasks.
    """
    w, b = params[f"{name}.weight"], params[f"{name}.bias"]
    if w.dim() == 2:
        return F.linear(x, w, b)
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    out = torch.baddbmm(b.unsqueeze(1), flat, w.transpose(1, 2))
    return out.reshape(*x.shape[:-1], w.shape[1])


def _mlp(params: Params, prefix: str, layers: int, x: torch.Tensor) -> torch.Tensor:
    """An :class:`policies.nets.MLP` of ``layers`` linear layers, evaluated from ``params``."""
    for i in range(layers):
        x = _linear(params, f"{prefix}.net.{2 * i}", x)
        if i < layers - 1:
            x = torch.tanh(x)
    return x


class PrincipalNet(nn.Module):
    """Belief encoder (GRU), world-model heads, policy and value heads.

    The module holds the parameters (initialisation, ``state_dict``); its methods
    evaluate a parameter dict passed in (``dict(net.named_parameters())`` or an
    adapted copy), with any leading batch dims.
    """

    def __init__(
        self, spec: NetSpec, hidden: int = 32, width: int = 64, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        k, d, p = spec.n_actions, spec.action_dim, spec.n_choices
        self.spec = spec
        self.hidden = hidden
        self.encoder = _Encoder(obs_dim(spec), hidden)
        if spec.context_dim:  # the belief before the first round reads the row's context (the leader's payoffs)
            self.encoder.context = MLP([spec.context_dim, hidden])
        self.bilinear = spec.reward == "bilinear"
        if self.bilinear:  # a quantal response to the agent's own payoffs x @ U, U read from the belief
            self.response = MLP([hidden, width, d * k + 2], out_gain=0.1)
            # a per-task correction of U (zero at initialisation; the inner loop can move it) and the
            # logit bonus of an action inside the range of commitments it was observed under
            self.response_offset = nn.Parameter(torch.zeros(d * k))
            self.hull_bonus = nn.Parameter(torch.zeros(()))
        else:
            self.response = MLP([hidden + d, width, k + 1], out_gain=0.1)
        # agents see the incentive before choosing: a logit shift
        self.structural = spec.posted and spec.incentive_vectors
        if self.structural:
            self.sensitivity = MLP([hidden, width, k], out_gain=0.1)
        self.agent_reward = MLP([hidden, width, k], out_gain=0.1)
        self.log_sigma = nn.Parameter(torch.zeros(()))
        if spec.reward == "learned":
            self.principal_reward_head = MLP([hidden + d + k, width, 1], out_gain=0.1)
        self.policy = MLP([hidden + 1, width, width, p], out_gain=0.1)
        self.value = MLP([hidden + 1, width, 1], out_gain=0.1)
        self.register_buffer("action_table", torch.tensor(spec.actions, dtype=torch.float32))
        self.register_buffer("values", torch.tensor(spec.values or [0.0] * k, dtype=torch.float32))
        if generator is not None:
            reinit(self, generator)

    # ----------------------------------------------------------------- belief
    def initial_belief(self, params: Params, context: torch.Tensor | None = None) -> torch.Tensor:
        """The belief before the first round: (H,), or (..., H) for per-row contexts (..., C).

        Without a context it is the learned ``h0``; with one (``context_dim`` > 0) it is
        ``tanh(h0 + W c + b)``, so the first decision can already use what the context says
        about the agent (a prior learned across tasks). With per-task parameters (a leading
        task dim B on ``h0``) the context's leading dim is the task.
        """
        h0 = params["encoder.h0"]
        if context is None or context.shape[-1] == 0 or "encoder.context.net.0.weight" not in params:
            return h0
        if h0.dim() == 2:  # per-task parameters: (B, H) against contexts (B, ..., C)
            h0 = h0.view(h0.shape[0], *([1] * (context.dim() - 2)), h0.shape[-1])
        return torch.tanh(h0 + _linear(params, "encoder.context.net.0", context))

    def update_belief(self, params: Params, obs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One GRU step: observation (..., D_obs) and belief (..., H) -> the next belief."""
        hs = self.hidden
        gx = _linear(params, "encoder.cell.w_x", obs)
        gh = _linear(params, "encoder.cell.w_h", h)
        r = torch.sigmoid(gx[..., :hs] + gh[..., :hs])
        z = torch.sigmoid(gx[..., hs : 2 * hs] + gh[..., hs : 2 * hs])
        n = torch.tanh(gx[..., 2 * hs :] + r * gh[..., 2 * hs :])
        return (1.0 - z) * n + z * h

    def beliefs(self, params: Params, obs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Beliefs before each round: obs (..., T, D_obs) -> (..., T, H) holding h_0, ..., h_{T-1}.

        ``context``: the rows' contexts (..., C) (the initial belief reads them), or None.
        """
        h0 = self.initial_belief(params, context)
        h = h0.expand(*obs.shape[:-2], h0.shape[-1])
        states = [h]
        for t in range(obs.shape[-2] - 1):
            h = self.update_belief(params, obs[..., t, :], h)
            states.append(h)
        return torch.stack(states, dim=-2)

    # ------------------------------------------------------------ world model
    def response_probs(
        self,
        params: Params,
        h: torch.Tensor,
        x: torch.Tensor,
        hull: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The agent's action distribution this round, given belief h (..., H) and the principal's action x.

        ``(1 - floor) softmax(logits) + floor / K``: a floor of uniformly random
        choices (exploration) read from the belief; where agents see incentives
        before choosing, each action's logit also rises with its incentive at a
        rate read from the belief (a noisy best response).

        ``hull``: for commitments (bilinear reward), the running ``(low, high)`` of
        :class:`policies.nets.Features` (..., K x D) before this round (see
        :meth:`_bilinear_response`); ignored otherwise.
        """
        k = self.spec.n_actions
        xs = x / self.spec.x_scale
        if self.bilinear:
            return self._bilinear_response(params, h, xs, hull)
        out = _mlp(params, "response", 2, torch.cat([h.expand(*xs.shape[:-1], h.shape[-1]), xs], dim=-1))
        logits = out[..., :k]
        if self.structural:
            sens = _mlp(params, "sensitivity", 2, h)
            logits = logits + 10.0 * F.softplus(sens + 1.0) * xs
        floor = torch.sigmoid(out[..., k] - 3.0).unsqueeze(-1)
        return (1.0 - floor) * torch.softmax(logits, dim=-1) + floor / k

    def _bilinear_response(
        self, params: Params, h: torch.Tensor, xs: torch.Tensor, hull: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Quantal response to a commitment (McKelvey & Palfrey 1995): ``softmax(beta x @ U + bonus)`` with a floor.

        The belief gives the agent's payoff matrix ``U`` (D x K, one row per
        component of the principal's mixed commitment ``x``), a sharpness ``beta``
        (``BETA0 x exp(.)``: large = a best response) and the floor of uniformly
        random choices. Best-response regions are then polytopes in ``x`` whose
        boundaries move with ``U``, so adapting the world model moves them. ``U``
        is the belief's reading plus ``response_offset / BETA0`` (D x K, zero at
        initialisation; in logit units at the initial sharpness): a per-task
        correction that the inner loop can adapt by itself.

        Consistency of a best responder (``hull`` given): its action regions are
        convex, so a commitment inside the box ``[low_j, high_j]`` of the
        commitments under which action ``j`` was observed (every component; for
        two rows, exactly the interval) is answered by ``j`` again. Each action
        whose box holds ``x`` gets the logit bonus ``10 softplus(hull_bonus)``, a
        learned parameter (about 7 at initialisation; a noisy or non-best-
        responding agent can learn it down).
        """
        d, k = self.spec.action_dim, self.spec.n_actions
        for dim in range(h.dim() - 1):  # the planner broadcasts a belief over its plans: read each belief once
            if h.stride(dim) == 0 and h.shape[dim] > 1:
                h = h.narrow(dim, 0, 1)
        out = _mlp(params, "response", 2, h)
        offset = params["response_offset"]
        if offset.dim() == 2:  # per-task parameters (B, D x K) against beliefs (B, ..., H)
            offset = offset.view(offset.shape[0], *([1] * (out.dim() - 2)), offset.shape[-1])
        utility = (out[..., : d * k] + offset / BETA0).reshape(*out.shape[:-1], d, k)
        beta = BETA0 * torch.exp(out[..., d * k].clamp(-8.0, 8.0))
        floor = torch.sigmoid(out[..., d * k + 1] - 3.0).unsqueeze(-1)
        logits = beta.unsqueeze(-1) * (xs.unsqueeze(-2) @ utility).squeeze(-2)  # (..., K); h and x broadcast
        if hull is not None:
            low, high = (v.reshape(*v.shape[:-1], k, d) for v in hull)
            inside = ((xs.unsqueeze(-2) >= low - 1e-6) & (xs.unsqueeze(-2) <= high + 1e-6)).all(-1)
            bonus = 10.0 * F.softplus(params["hull_bonus"])
            if bonus.dim() == 1:  # per-task parameters (B,)
                bonus = bonus.view(bonus.shape[0], *([1] * (inside.dim() - 1)))
            logits = logits + bonus * inside.to(logits.dtype)
        return (1.0 - floor) * torch.softmax(logits, dim=-1) + floor / k

    def agent_reward_mean(self, params: Params, h: torch.Tensor) -> torch.Tensor:
        """The agent's mean private reward of each action, in ``reward_scale`` units, (..., K)."""
        return _mlp(params, "agent_reward", 2, h)

    def principal_reward(self, params: Params, h: torch.Tensor, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """The principal's expected reward of a round (in reward units) given belief, action and choice shares."""
        spec = self.spec
        if spec.reward == "learned":
            inp = torch.cat([h.expand(*p.shape[:-1], h.shape[-1]), x / spec.x_scale, p], dim=-1)
            return _mlp(params, "principal_reward_head", 2, inp).squeeze(-1) * spec.reward_scale
        raise ValueError("principal_reward is learned only for reward='learned'")

    # --------------------------------------------------------- policy, value
    def policy_logits(self, params: Params, h: torch.Tensor, tf: torch.Tensor) -> torch.Tensor:
        """Logits over the principal's P actions from belief h (..., H) and round fraction tf (..., 1)."""
        return _mlp(params, "policy", 3, torch.cat([h, tf], dim=-1))

    def state_value(self, params: Params, h: torch.Tensor, tf: torch.Tensor) -> torch.Tensor:
        """Value of the belief: the return to go, in ``reward_scale`` x horizon units (about [-1, 1]), (...)."""
        return _mlp(params, "value", 2, torch.cat([h, tf], dim=-1)).squeeze(-1)

    @property
    def value_scale(self) -> float:
        """Reward units per unit of :meth:`state_value` (``reward_scale`` x horizon)."""
        return self.spec.reward_scale * self.spec.horizon

    def actions_of(self, idx: torch.Tensor) -> torch.Tensor:
        """Action vectors (..., D) of action indices (...)."""
        return self.action_table[idx]


class _Encoder(nn.Module):
    """The GRU cell and the learned initial belief (parameter holder)."""

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.cell = GRUCell(d_in, hidden)
        self.h0 = nn.Parameter(torch.zeros(hidden))


def expected_reward(net: PrincipalNet, params: Params, h: torch.Tensor, x: torch.Tensor, p: torch.Tensor, context):
    """The principal's expected reward of action x (..., D) when the agent chooses with probabilities p (..., K)."""
    spec = net.spec
    if spec.reward == "incentive":
        return (p * (net.values - spec.cost * torch.relu(x))).sum(-1)
    if spec.reward == "bilinear":
        pay = context.reshape(*context.shape[:-1], spec.action_dim, spec.n_actions)
        return (p * (x.unsqueeze(-2) @ pay).squeeze(-2)).sum(-1)
    return net.principal_reward(params, h, x, p)


# ------------------------------------------------------------------ data
@dataclass
class Trajectories:
    """Episodes of a batch of independent principal-agent rows, as tensors.

    Leading dims ``(*B, T)``: ``(tasks, agents)`` in training, ``(agents,)`` for one type.

    Attributes:
        obs: encoded observation after each round, (*B, T, D_obs).
        act: the principal's action index each round, (*B, T) long.
        choice: observed action one-hot or shares, (*B, T, K) (zero where nothing was seen).
        agent_reward: the agents' observed reward, (*B, T) (zero where unseen).
        reward_seen: 1 where the agent's reward was observed, (*B, T).
        reward: the principal's reward each round, (*B, T).
        context: per-row context (*B, C) (C may be 0).
        memory: the ranges of :class:`policies.nets.Features` (``low`` then ``high``, (*B, 2 x K x D))
            the episode started from, kept from earlier episodes with the same type (``memory`` of
            :class:`MermaideConfig`); +-inf for actions not yet observed (all of them when nothing is
            kept); size 0 for problems without ranges (incentive games).
    """

    obs: torch.Tensor
    act: torch.Tensor
    choice: torch.Tensor
    agent_reward: torch.Tensor
    reward_seen: torch.Tensor
    reward: torch.Tensor
    context: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    memory: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    def fields(self) -> tuple[torch.Tensor, ...]:
        """The tensors, in field order (for vmap)."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    @classmethod
    def of(cls, *tensors: torch.Tensor) -> Trajectories:
        """Rebuild from :meth:`fields`."""
        return cls(*tensors)

    def select(self, idx: Any) -> Trajectories:
        """Index the leading batch dims."""
        return Trajectories.of(*(t[idx] for t in self.fields()))

    @staticmethod
    def cat(items: list[Trajectories], dim: int = 0) -> Trajectories:
        """Concatenate along a batch dim."""
        return Trajectories.of(*(torch.cat(ts, dim) for ts in zip(*(t.fields() for t in items), strict=True)))

    @property
    def horizon(self) -> int:
        """T."""
        return self.obs.shape[-2]


# ---------------------------------------------------------------- losses
def _hull_after(
    spec: NetSpec, obs: torch.Tensor, memory: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(low, high)`` ranges of :class:`policies.nets.Features` after each round, read from ``obs``.

    ``obs`` (..., T, D_obs) holds them after each round, zero where an action was
    neither observed in the episode nor kept in ``memory``; returned as (+inf,
    -inf) there, each (..., T, K x D).
    """
    k, d = spec.n_actions, spec.action_dim
    at = d + k + 3  # x, choice, reward, mask, time; then counts, private (paid: incentive games only)
    shown = obs[..., at : at + k] > 0
    if memory is not None and memory.shape[-1]:
        shown = shown | torch.isfinite(memory[..., : k * d : d]).unsqueeze(-2)
    at += 2 * k + (k if spec.incentive_vectors else 0)
    shown = shown.repeat_interleave(d, dim=-1)
    inf = torch.full_like(obs[..., :1], math.inf)
    return (
        torch.where(shown, obs[..., at : at + k * d], inf),
        torch.where(shown, obs[..., at + k * d : at + 2 * k * d], -inf),
    )


def hull_before(
    spec: NetSpec, obs: torch.Tensor, memory: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(low, high)`` statistics of :class:`policies.nets.Features` before each round, read from ``obs``.

    ``obs`` (..., T, D_obs) holds them after each round (zero where an action was
    not yet observed); before round t they are those after round t - 1, and
    before round 0 those kept in ``memory`` ((..., 2 x K x D), see
    :class:`Trajectories`), or (+inf, -inf) for actions not yet observed (as in
    ``Features``), each (..., T, K x D).
    """
    kd = spec.n_actions * spec.action_dim
    low, high = _hull_after(spec, obs, memory)
    if memory is not None and memory.shape[-1]:
        first_low, first_high = memory[..., None, :kd], memory[..., None, kd:]
    else:
        first_low = torch.full_like(low[..., :1, :], math.inf)
        first_high = -first_low
    return torch.cat([first_low.expand_as(low[..., :1, :]), low[..., :-1, :]], -2), torch.cat(
        [first_high.expand_as(high[..., :1, :]), high[..., :-1, :]], -2
    )


def memory_after(spec: NetSpec, traj: Trajectories) -> torch.Tensor:
    """What the next episode with the same agent type starts from: the ranges after the last round.

    (*B, 2 x K x D) (``low`` then ``high``; see :class:`Trajectories`), or an empty
    tensor when the problem keeps no ranges.
    """
    if hull_dim(spec) == 0:
        return torch.zeros(*traj.obs.shape[:-2], 0)
    low, high = _hull_after(spec, traj.obs, traj.memory)
    return torch.cat([low[..., -1, :], high[..., -1, :]], -1)


def _context(traj: Trajectories) -> torch.Tensor | None:
    """The rows' contexts of a batch of episodes, or None when the problem has none."""
    return traj.context if traj.context.dim() > 0 and traj.context.shape[-1] > 0 else None


def world_model_loss(net: PrincipalNet, params: Params, traj: Trajectories, reward_weight: float = 1.0):
    """Negative log-likelihood of what was observed under the world model (per observed round).

    Terms: the observed action (or the choice shares, as cross-entropy per
    agent), corrupted by the known observation noise; under ``full``
    observation, the agent's private reward of the action it took (Gaussian
    with a learned spread), weighted by ``reward_weight``; for a learned
    principal reward, its squared error in ``reward_scale`` units.
    """
    spec = net.spec
    k = spec.n_actions
    beliefs = net.beliefs(params, traj.obs, _context(traj))
    x = net.actions_of(traj.act)
    p = net.response_probs(params, beliefs, x, hull_before(spec, traj.obs, traj.memory) if net.bilinear else None)
    p_obs = (1.0 - spec.obs_noise) * p + spec.obs_noise / k
    seen = traj.choice.sum(-1) > 0
    nll = -(traj.choice * torch.log(p_obs.clamp_min(1e-8))).sum(-1)
    loss = (nll * seen).sum() / seen.sum().clamp_min(1)
    if reward_weight > 0 and spec.observation == "full":
        incentive = (traj.choice * x).sum(-1) if spec.incentive_vectors else torch.zeros_like(traj.agent_reward)
        private = (traj.agent_reward - incentive) / spec.reward_scale
        mean = (net.agent_reward_mean(params, beliefs) * traj.choice).sum(-1)
        sigma = torch.exp(params["log_sigma"]).clamp_min(1e-3)
        r_nll = 0.5 * ((private - mean) / sigma) ** 2 + torch.log(sigma)
        loss = loss + reward_weight * (r_nll * traj.reward_seen).sum() / traj.reward_seen.sum().clamp_min(1)
    if spec.reward == "learned":
        pred = net.principal_reward(params, beliefs, x, traj.choice)
        loss = loss + (((pred - traj.reward) / spec.reward_scale) ** 2).mean()
    return loss


def value_loss(net: PrincipalNet, params: Params, traj: Trajectories) -> torch.Tensor:
    """Squared error of the value of each belief against the realised return to go (``value_scale`` units).

    The planner's terminal value: what the rounds beyond its lookahead are worth
    from the belief a plan ends in, under the planner's own play.
    """
    spec = net.spec
    beliefs = net.beliefs(params, traj.obs, _context(traj))
    tf = (torch.arange(traj.horizon, dtype=torch.float32) / spec.horizon).expand(*beliefs.shape[:-1]).unsqueeze(-1)
    value = net.state_value(params, beliefs, tf)
    rtg = torch.flip(torch.cumsum(torch.flip(traj.reward / net.value_scale, [-1]), -1), [-1])
    return ((value - rtg) ** 2).mean()


def _gae(reward: torch.Tensor, value: torch.Tensor, lam: float) -> torch.Tensor:
    """Generalised advantage estimates (undiscounted episodes, zero value after the last round)."""
    adv = torch.zeros_like(reward)
    acc = torch.zeros_like(reward[..., 0])
    horizon = reward.shape[-1]
    for t in range(horizon - 1, -1, -1):
        nxt = value[..., t + 1] if t + 1 < horizon else torch.zeros_like(acc)
        delta = reward[..., t] + nxt - value[..., t]
        acc = delta + lam * acc
        adv[..., t] = acc
    return adv


def pg_loss(net: PrincipalNet, params: Params, traj: Trajectories, cfg: MermaideConfig) -> torch.Tensor:
    """Advantage actor-critic loss with GAE, normalised advantages and an entropy bonus."""
    spec = net.spec
    beliefs = net.beliefs(params, traj.obs, _context(traj))
    horizon = traj.horizon
    tf = (torch.arange(horizon, dtype=torch.float32) / spec.horizon).expand(*beliefs.shape[:-1]).unsqueeze(-1)
    logits = net.policy_logits(params, beliefs, tf)
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, traj.act.unsqueeze(-1)).squeeze(-1)
    value = net.state_value(params, beliefs, tf)
    reward = traj.reward / net.value_scale
    adv = _gae(reward, value.detach(), cfg.gae_lambda)
    target = adv + value.detach()
    adv = (adv - adv.mean()) / (adv.std() + 1e-6)
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
    return -(logp * adv).mean() + cfg.value_weight * ((value - target) ** 2).mean() - cfg.entropy * entropy


def adaptation_loss(net: PrincipalNet, params: Params, traj: Trajectories, cfg: MermaideConfig) -> torch.Tensor:
    """The loss the inner loop and K-shot fine-tuning descend, also the per-task training loss.

    World-model variants: the world model's likelihood of what was observed,
    plus ``value_weight`` x the planner's terminal-value loss; policy-gradient
    variants: the A2C loss.
    """
    if not cfg.uses_world_model:
        return pg_loss(net, params, traj, cfg)
    loss = world_model_loss(net, params, traj, cfg.reward_weight)
    if cfg.terminal_value:
        loss = loss + cfg.value_weight * value_loss(net, params, traj)
    return loss


def training_loss(net: PrincipalNet, params: Params, traj: Trajectories, cfg: MermaideConfig) -> torch.Tensor:
    """The per-task training loss of a variant (its adaptation loss: the planner itself has no parameters)."""
    return adaptation_loss(net, params, traj, cfg)


# ------------------------------------------------------------------- MAML
def split_params(params: Params, prefixes: list[str]) -> tuple[Params, Params]:
    """(fast, slow): the parameters whose names start with one of ``prefixes``, and the rest."""
    fast = {k: v for k, v in params.items() if any(k.startswith(p) for p in prefixes)}
    slow = {k: v for k, v in params.items() if k not in fast}
    return fast, slow


def inner_adapt(
    net: PrincipalNet,
    params: Params,
    traj: Trajectories,
    cfg: MermaideConfig,
    *,
    lr: float | None = None,
    steps: int | None = None,
    first_order: bool | None = None,
) -> Params:
    """MAML inner loop: new parameters after gradient steps of the adaptation loss on ``traj``.

    Args:
        net: the network.
        params: initial parameters (a dict; not modified).
        traj: the adaptation episodes of one agent type (batch dims are agents/episodes).
        cfg: the variant (its adaptation loss, ``adapted_prefixes``, ``inner_steps``, ``inner_lr``).
        lr: step size (default ``cfg.inner_lr``).
        steps: number of steps (default ``cfg.inner_steps``).
        first_order: drop second derivatives (default ``cfg.first_order``).

    Returns:
        A new parameter dict; with ``lr = 0`` its values equal ``params``.
    """
    lr = cfg.inner_lr if lr is None else lr
    steps = cfg.inner_steps if steps is None else steps
    first_order = cfg.first_order if first_order is None else first_order
    fast, slow = split_params(params, cfg.adapted_prefixes)
    if not fast:
        return dict(params)

    def loss(f: Params) -> torch.Tensor:
        return adaptation_loss(net, {**slow, **f}, traj, cfg)

    for _ in range(steps):
        g = grad(loss)(fast)
        fast = {k: v - lr * (g[k].detach() if first_order else g[k]) for k, v in fast.items()}
    return {**slow, **fast}


def adapt_params(net: PrincipalNet, params: Params, support: Trajectories, cfg: MermaideConfig) -> Params:
    """Per-task adapted parameters for a batch of tasks (vmap over the task dim, the first of ``support``)."""

    def one(*tensors: torch.Tensor) -> Params:
        return inner_adapt(net, params, Trajectories.of(*tensors), cfg)

    return vmap(one, randomness="error")(*support.fields())


def outer_loss(
    net: PrincipalNet,
    params: Params,
    adapted: Params | None,
    support: Trajectories,
    query: Trajectories,
    cfg: MermaideConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Meta-objective over a batch of tasks (batch dims (tasks, agents)).

    Meta variants: mean over tasks of the query loss under each task's adapted
    parameters plus ``zero_shot_weight`` x the support loss under the initial
    parameters. Non-meta variants: the plain loss on support and query episodes.
    """
    logs: dict[str, float] = {}
    if cfg.meta and adapted is not None:

        def q_loss(p: Params, *tensors: torch.Tensor) -> torch.Tensor:
            return training_loss(net, p, Trajectories.of(*tensors), cfg)

        post = vmap(q_loss, randomness="error")(adapted, *query.fields())
        pre = training_loss(net, params, support, cfg)
        loss = post.mean() + cfg.zero_shot_weight * pre
        logs["loss/post"] = float(post.mean().detach())
        logs["loss/pre"] = float(pre.detach())
    else:
        loss = training_loss(net, params, Trajectories.cat([support, query], dim=0), cfg)
        logs["loss/pre"] = float(loss.detach())
    return loss, logs


def count_parameters(net: PrincipalNet) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters())
