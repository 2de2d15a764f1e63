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

import math

import torch

from .mermaide import MermaideConfig, Params, PrincipalNet, expected_reward
from .nets import Features

__all__ = ["choose_actions", "draw_randomness", "plan_actions", "plan_table", "probe_actions"]


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


def probe_actions(
    net: PrincipalNet, params: Params, h: torch.Tensor, feats: Features, context: torch.Tensor, prior: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """The most informative commitment of every row: a one-step knowledge gradient on the secured value.

    For two-row commitment games (Frazier, Powell & Dayanik 2008, with the world
    model as the belief). What the principal has *secured* is the best value it
    can get for sure from what it observed: a best responder answers ``j`` again
    anywhere inside the interval of commitments under which ``j`` was observed
    (its regions are convex), so the secured value is the larger of the maximin
    value (no answer relied on) and, over the observed actions, the leader's
    value at the ends of their intervals (its value is linear in ``q``). A
    candidate commitment's worth is the expected rise of the secured value once
    its answer is seen, the answer drawn from the world model's prediction
    ``response_probs`` under the current belief and ranges, corrected by
    convexity (:func:`_answer_probs`: known inside an observed interval, mixed
    with weight ``prior`` with a uniformly placed boundary between two).

    Args:
        net: the network (the world model).
        params: its parameters, shared or per task (as in :func:`plan_actions`).
        h: beliefs (*rows, H).
        feats: the rows' running statistics (their ranges).
        context: the leader's payoffs of each row, flattened (*rows, D x K).
        prior: weight of the uniform boundary in a gap between two observed columns (``cfg.probe_prior``).

    Returns:
        ``(action index, expected rise)`` per row (the rise is 0 where no answer could raise it).
    """
    spec = net.spec
    d, k = spec.action_dim, spec.n_actions
    table = net.action_table  # (P, 2): [q, 1 - q]
    n_p = table.shape[0]
    rows = h.shape[:-1]
    one = (1,) * len(rows)
    x = table.view(*one, n_p, d).expand(*rows, n_p, d)
    hh = h.unsqueeze(-2).expand(*rows, n_p, h.shape[-1])
    low, high = (v.unsqueeze(-2).expand(*rows, n_p, v.shape[-1]) for v in (feats.low, feats.high))
    p = net.response_probs(params, hh, x, (low, high))  # (*rows, P, K)
    pay = context.reshape(*rows, d, k)
    q = table[:, 0].view(*one, n_p, 1)
    lo, hi = feats.low[..., 0::d].unsqueeze(-2), feats.high[..., 0::d].unsqueeze(-2)  # (*rows, 1, K): intervals of q
    seen = torch.isfinite(lo)
    ends = torch.maximum(_value_at(pay, torch.where(seen, lo, 0.0)), _value_at(pay, torch.where(seen, hi, 0.0)))
    ends = torch.where(seen, ends, -math.inf)
    maximin = _value_at(pay, q).min(-1).values.max(-1).values
    secured = torch.maximum(maximin, ends.amax((-2, -1)))  # (*rows)
    p = _answer_probs(p, q, lo, hi, prior)
    # every answer j's interval once it is seen under the candidate q, and the value at its ends
    after = torch.maximum(_value_at(pay, torch.minimum(lo, q)), _value_at(pay, torch.maximum(hi, q)))
    rise = (p * (after - secured[..., None, None]).clamp_min(0.0)).sum(-1)  # (*rows, P)
    best = rise.argmax(-1)
    return best, rise.gather(-1, best.unsqueeze(-1)).squeeze(-1)


def _answer_probs(p: torch.Tensor, q: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, prior: float) -> torch.Tensor:
    """The answers the probe expects at each candidate ``q``: the world model's, corrected by convexity.

    Inside the interval of an observed column the answer is that column (a best
    responder's regions are convex intervals of ``q``). Between the intervals of
    two columns their boundary is somewhere in the gap: with weight ``prior``
    the probabilities are mixed with a boundary uniform over the gap (the left
    column with probability ``(b - q) / (b - a)``, the right one otherwise),
    under which the expected rise is largest near the middle of the gap (a
    bisection, where the world model alone may trust its guess of the boundary
    too much and creep towards it by one grid step at a time).

    Args:
        p: the world model's answer probabilities (*rows, P, K).
        q: the candidates' ``q`` (..., P, 1).
        lo: the observed intervals' lower ends (*rows, 1, K) (+inf: not observed).
        hi: their upper ends (-inf: not observed).
        prior: weight of the uniform boundary in the gaps between two observed columns.
    """
    seen = torch.isfinite(lo)
    inside = seen & (q >= lo - 1e-6) & (q <= hi + 1e-6)  # (*rows, P, K)
    known = inside.any(-1, keepdim=True)
    out = torch.where(known, inside.to(p.dtype) / inside.sum(-1, keepdim=True).clamp_min(1), p)
    if prior <= 0:
        return out
    a, left = torch.where(seen & (hi < q - 1e-6), hi, -math.inf).max(-1, keepdim=True)  # the nearest interval left
    b, right = torch.where(seen & (lo > q + 1e-6), lo, math.inf).min(-1, keepdim=True)  # and right of q
    between = torch.isfinite(a) & torch.isfinite(b) & ~known
    span = (b - a).clamp_min(1e-9)
    uniform = torch.zeros_like(p).scatter_add(-1, left, torch.where(between, (b - q) / span, 0.0))
    uniform = uniform.scatter_add(-1, right, torch.where(between, (q - a) / span, 0.0))
    return torch.where(between, (1.0 - prior) * out + prior * uniform, out)


def _value_at(pay: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The leader's value of each answer j at commitment ``q`` (two rows): pay (*rows, 2, K), q (*rows, P, K or 1)."""
    return q * pay[..., None, 0, :] + (1.0 - q) * pay[..., None, 1, :]


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
    exploring episodes (training, adaptation) of two-row commitment games with
    ``cfg.probe`` they play the most informative commitment instead
    (:func:`probe_actions`) while one could raise what they have secured, and a
    share ``cfg.explore`` of the rows play a uniformly random action. Policy-gradient variants sample from
    their policy (their own exploration) in every episode.
    """
    if cfg.uses_world_model:
        idx, _ = plan_actions(net, params, cfg, h, feats, t, rand.get("gumbel"), context, table)
        if explore and cfg.probe and net.bilinear and net.spec.action_dim == 2 and context is not None:
            probe, rise = probe_actions(net, params, h, feats, context, cfg.probe_prior)
            idx = torch.where(rise > 1e-9, probe, idx)  # nothing left to learn: play the plan
        if explore and cfg.explore > 0:
            idx = torch.where(rand["explore"] < cfg.explore, rand["random_action"], idx)
        return idx
    tf = torch.full((*h.shape[:-1], 1), t / net.spec.horizon)
    logits = net.policy_logits(params, h, tf)
    return (torch.log_softmax(logits, dim=-1) + rand["policy"]).argmax(-1)
