"""Model-predictive control through the learned world model: how the world-model variants decide.

Every round, from its current belief about each row's agent, the principal
imagines what would follow each candidate *plan* (a sequence of its actions
over the next ``lookahead`` rounds, capped by the rounds left) and plays the
first action of the plan with the highest imagined return (receding horizon;
e.g. Camacho & Bordons, *Model Predictive Control*, 2007; with a learned
recurrent model as in Ha & Schmidhuber 2018 and Hafner et al. 2019).

Plans: for every action ``i`` of the action set, ``"constant"`` (play ``i``
throughout) and ``"null"`` (play ``i`` now, then no intervention); the null
action's two plans coincide and are scored once.

Imagination: starting from the belief ``h`` and the running statistics of the
observations, each imagined round

1. predicts the agent's action distribution ``p = response_probs(h, x)`` under
   the plan's action ``x``;
2. adds the principal's expected reward of the round under ``p`` (exact for
   incentive and bilinear rewards, the learned head otherwise);
3. draws the agent's action by the Gumbel-max trick from noise shared by every
   plan (common random numbers, so plans differ by their actions, not their
   luck), or, when the principal observes choice shares, feeds ``p`` itself;
   under ``full`` observation the agent's observed reward is imagined as its
   predicted mean private reward plus the incentive;
4. encodes that imagined observation exactly as a real one and updates the
   belief with the same GRU.

A plan's score is the imagined return over the lookahead plus, with
``terminal_value``, the learned value of the belief it ends in (the expected
return of the rounds beyond the lookahead, fitted to the returns of real
episodes; model-predictive control with a terminal value, as in TD-MPC,
Hansen, Wang & Su 2022), averaged over ``samples`` imagined futures. Ties go
to the earlier action of the action set (scenarios list cheaper actions first).
"""

from __future__ import annotations

import torch

from .mermaide import MermaideConfig, Params, PrincipalNet, expected_reward
from .nets import Features

__all__ = ["plan_actions", "plan_table"]


def plan_table(n_choices: int, null_action: int, tails: list[str], lookahead: int) -> torch.Tensor:
    """Candidate plans as a (Q, lookahead) table of action indices."""
    rows: list[list[int]] = []
    for i in range(n_choices):
        if "constant" in tails:
            rows.append([i] * lookahead)
        if "null" in tails and (i != null_action or "constant" not in tails):
            rows.append([i] + [null_action] * (lookahead - 1))
    if not rows:
        raise ValueError("planner: tails must name at least one plan shape")
    return torch.tensor(rows, dtype=torch.long)


def plan_actions(
    net: PrincipalNet,
    params: Params,
    cfg: MermaideConfig,
    h: torch.Tensor,
    feats: Features,
    t: int,
    noise: torch.Tensor | None,
    context: torch.Tensor | None = None,
    table: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The planner's action index for every row, and the best plan's imagined return.

    Args:
        net: the network (the world model's structure).
        params: its parameters: one set for all rows, or one per task (a leading task dim B, rows (B, m)).
        cfg: the planner's settings (``lookahead``, ``samples``, ``tails``).
        h: beliefs (R, H), or (B, m, H) with per-task parameters.
        feats: running observation statistics of the rows (R, K) or (B, m, K).
        t: the round about to be played.
        noise: standard Gumbel noise (R, samples, lookahead, K) for the imagined actions, or None
            (observation of choice shares: imagined rounds feed the predicted shares).
        context: per-row context (R, C) / (B, m, C), or None.
        table: the plan table (default :func:`plan_table` for this problem and ``cfg``).

    Returns:
        ``(actions, best score)``, one per row.
    """
    spec = net.spec
    if table is None:
        table = plan_table(spec.n_choices, spec.null_action, cfg.tails, cfg.lookahead)
    steps = max(1, min(table.shape[1], spec.horizon - t))
    q = table.shape[0]
    s = 1 if noise is None else noise.shape[-3]
    rows = h.shape[:-1]  # (R,), or (B, m) with per-task parameters: the rows' dims lead, plans and samples follow
    lead = (*rows, q, s)
    one = (1,) * len(rows)
    hh = h[..., None, None, :].expand(*lead, h.shape[-1])
    ff = feats.map(lambda v: v[..., None, None, :].expand(*lead, v.shape[-1]))
    ctx = None if context is None else context[..., None, None, :].expand(*lead, context.shape[-1])
    total = torch.zeros(lead)
    shares = spec.observation == "shares"
    for tau in range(steps):
        x = net.actions_of(table[:, tau]).view(*one, q, 1, spec.action_dim).expand(*lead, spec.action_dim)
        p = net.response_probs(params, hh, x, (ff.low, ff.high) if net.bilinear else None)
        total = total + expected_reward(net, params, hh, x, p, ctx)
        last = tau == steps - 1
        if last and not (cfg.terminal_value and t + steps < spec.horizon):
            break
        if shares:
            choice, reward = p, None
        else:
            p_obs = (1.0 - spec.obs_noise) * p + spec.obs_noise / spec.n_actions
            a = (torch.log(p_obs.clamp_min(1e-8)) + noise[..., tau, :].unsqueeze(-3)).argmax(-1)
            choice = torch.nn.functional.one_hot(a, spec.n_actions).to(p.dtype)
            reward = None
            if spec.observation == "full":
                private = (net.agent_reward_mean(params, hh) * choice).sum(-1) * spec.reward_scale
                paid = (choice * x).sum(-1) if spec.incentive_vectors else 0.0
                reward = private + paid
        obs, ff = ff.encode(spec, x, choice, reward, t + tau, ctx)
        hh = net.update_belief(params, obs, hh)
        if last:  # the learned value of the belief the plan reaches: the rounds beyond the lookahead
            tf = torch.full((*hh.shape[:-1], 1), (t + steps) / spec.horizon)
            total = total + net.state_value(params, hh, tf) * net.value_scale
    score = total.mean(-1)  # (*rows, Q)
    best = score.argmax(-1)
    return table[best, 0], score.gather(-1, best.unsqueeze(-1)).squeeze(-1)


# ------------------------------------------------------------ the decision rule
def draw_randomness(
    net: PrincipalNet, cfg: MermaideConfig, lead: tuple[int, ...], rows: int, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """Every random number one round of decisions needs, drawn up front (so ``vmap`` over tasks can use them).

    Shapes carry the leading dims ``lead`` (e.g. ``(tasks,)``) before the rows:
    ``gumbel`` (rows, samples, lookahead, K) for the planner's imagined actions,
    ``explore`` (rows,) uniform and ``random_action`` (rows,) for the exploring
    rounds, ``policy`` (rows, P) Gumbel noise for sampling a policy's action.
    """
    spec = net.spec
    out = {
        "explore": torch.rand((*lead, rows), generator=gen),
        "random_action": torch.randint(0, spec.n_choices, (*lead, rows), generator=gen),
    }
    if cfg.uses_world_model:
        if spec.observation != "shares":
            u = torch.rand((*lead, rows, cfg.samples, cfg.lookahead, spec.n_actions), generator=gen)
            out["gumbel"] = -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
    else:
        u = torch.rand((*lead, rows, spec.n_choices), generator=gen)
        out["policy"] = -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
    return out


def choose_actions(
    net: PrincipalNet,
    params: Params,
    cfg: MermaideConfig,
    h: torch.Tensor,
    feats: Features,
    t: int,
    rand: dict[str, torch.Tensor],
    explore: bool,
    context: torch.Tensor | None = None,
    table: torch.Tensor | None = None,
) -> torch.Tensor:
    """The principal's action index for every row (R,): the one decision rule of training and test.

    World-model variants plan through the world model (:func:`plan_actions`); in
    exploring episodes (training, adaptation) a share ``cfg.explore`` of the rows
    play a uniformly random action instead. Policy-gradient variants sample from
    their policy (their own exploration) in every episode.
    """
    if cfg.uses_world_model:
        idx, _ = plan_actions(net, params, cfg, h, feats, t, rand.get("gumbel"), context, table)
        if explore and cfg.explore > 0:
            idx = torch.where(rand["explore"] < cfg.explore, rand["random_action"], idx)
        return idx
    tf = torch.full((*h.shape[:-1], 1), t / net.spec.horizon)
    logits = net.policy_logits(params, h, tf)
    return (torch.log_softmax(logits, dim=-1) + rand["policy"]).argmax(-1)
