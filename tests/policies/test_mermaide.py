"""MERMAIDE's core: MAML invariants, the planner, one decision rule in training and test, checkpoints, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from policies import make_principal
from policies.checkpoints import CheckpointError, load_checkpoint, net_from_checkpoint, save_checkpoint
from policies.mermaide import (
    MermaideConfig,
    PrincipalNet,
    Trajectories,
    adaptation_loss,
    inner_adapt,
    outer_loss,
    split_params,
    world_model_loss,
)
from policies.nets import Features
from policies.planning import choose_actions, draw_randomness, plan_actions, plan_table
from policies.training import adapt_batched, evaluate_kshot, meta_train, rollout
from scenarios._bandit_tasks import BanditProblem, BanditSetup

INNER_LR = 0.3
SEED = 3


@pytest.fixture(scope="module")
def problem() -> BanditProblem:
    return BanditProblem(BanditSetup(horizon=12), validation_rows=2)


def _net(problem: BanditProblem, variant: str = "mermaide", seed: int = SEED) -> tuple[PrincipalNet, MermaideConfig]:
    cfg = MermaideConfig(variant=variant, tasks_per_batch=3, agents_per_task=4, samples=2, lookahead=3)
    gen = torch.Generator().manual_seed(seed)
    return PrincipalNet(problem.net_spec, cfg.hidden, cfg.width, generator=gen), cfg


def _episodes(problem: BanditProblem, net: PrincipalNet, cfg: MermaideConfig) -> tuple[Trajectories, Trajectories]:
    gen = torch.Generator().manual_seed(SEED)
    tasks = problem.sample_tasks(3, np.random.default_rng(SEED))
    params = dict(net.named_parameters())
    support = rollout(net, params, cfg, problem.make_env(tasks, 4, 1), 3, 4, gen, explore=True)
    query = rollout(net, params, cfg, problem.make_env(tasks, 4, 2), 3, 4, gen, explore=True)
    return support, query


@pytest.fixture(scope="module", params=["mermaide", "meta_only"])
def batch(request, problem: BanditProblem):
    """A support and a query batch of 3 tasks x 4 agents from a fresh network of a world-model or PG variant."""
    net, cfg = _net(problem, request.param)
    support, query = _episodes(problem, net, cfg)
    return net, cfg, support, query


def _params(net: PrincipalNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters()}


# ------------------------------------------------------------------ MAML invariants
def test_inner_lr_zero_changes_nothing(batch):
    net, cfg, support, _ = batch
    params = _params(net)
    new = inner_adapt(net, params, support.select(0), cfg, lr=0.0)
    assert set(new) == set(params)
    for k in params:
        assert torch.equal(new[k], params[k]), k


def test_adaptation_changes_only_the_adapted_parameters(batch):
    net, cfg, support, _ = batch
    params = _params(net)
    new = inner_adapt(net, params, support.select(0), cfg, lr=INNER_LR)
    fast, _ = split_params(params, cfg.adapted_prefixes)
    moved = {k for k in params if not torch.equal(new[k], params[k])}
    assert moved, "the inner step moved nothing"
    assert moved <= set(fast)


def test_one_inner_step_lowers_the_inner_loss(batch):
    net, cfg, support, _ = batch
    params = _params(net)
    task = support.select(0)
    before = float(adaptation_loss(net, params, task, cfg).detach())
    new = inner_adapt(net, params, task, cfg, lr=0.01)
    assert float(adaptation_loss(net, new, task, cfg).detach()) < before


def test_meta_gradient_reaches_the_initial_parameters(batch):
    net, cfg, support, query = batch
    params = _params(net)
    from policies.mermaide import adapt_params

    adapted = adapt_params(net, params, support, cfg)
    loss, _ = outer_loss(net, params, adapted, support, query, cfg)
    grads = torch.autograd.grad(loss, [params[k] for k in params], allow_unused=True)
    fast, _ = split_params(params, cfg.adapted_prefixes)
    reached = {k for k, g in zip(params, grads, strict=True) if g is not None and float(g.norm()) > 0}
    assert set(fast) <= reached


def test_first_order_meta_gradient_matches_a_hand_written_reference(problem):
    """First-order MAML: the outer gradient of the query loss is the query loss's gradient at the adapted point."""
    net, cfg = _net(problem, "mermaide")
    cfg = dataclasses.replace(cfg, first_order=True, zero_shot_weight=0.0)
    support, query = _episodes(problem, net, cfg)
    task_s, task_q = support.select(0), query.select(0)
    params = _params(net)
    adapted = inner_adapt(net, params, task_s, cfg, lr=INNER_LR)
    loss = adaptation_loss(net, adapted, task_q, cfg)
    got = torch.autograd.grad(loss, [params[k] for k in params], allow_unused=True)
    # reference, by hand: one plain SGD step with torch.autograd, then the query gradient at that point
    fast, _ = split_params(params, cfg.adapted_prefixes)
    ref_start = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    inner = adaptation_loss(net, ref_start, task_s, cfg)
    g_inner = torch.autograd.grad(inner, [ref_start[k] for k in fast])
    ref_point = dict(ref_start)
    for k, g in zip(fast, g_inner, strict=True):
        ref_point[k] = (ref_start[k] - INNER_LR * g).detach().requires_grad_(True)
    for k in params:
        if k not in fast:
            ref_point[k] = ref_start[k].detach().requires_grad_(True)
    ref = torch.autograd.grad(
        adaptation_loss(net, ref_point, task_q, cfg), [ref_point[k] for k in params], allow_unused=True
    )
    for k, a, b in zip(params, got, ref, strict=True):
        a = torch.zeros_like(params[k]) if a is None else a
        b = torch.zeros_like(params[k]) if b is None else b
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5), k


def test_second_order_meta_gradient_differs_from_first_order(problem):
    net, cfg = _net(problem, "mermaide")
    support, query = _episodes(problem, net, cfg)
    task_s, task_q = support.select(0), query.select(0)
    out = {}
    for fo in (True, False):
        params = _params(net)
        adapted = inner_adapt(net, params, task_s, dataclasses.replace(cfg, first_order=fo), lr=INNER_LR)
        out[fo] = torch.autograd.grad(adaptation_loss(net, adapted, task_q, cfg), params["encoder.h0"])[0]
    assert not torch.allclose(out[True], out[False])


# ------------------------------------------------------------------ the world model and the planner
def test_world_model_learns_a_greedy_agent(problem):
    """A few hundred likelihood steps predict a noise-free greedy agent's next action far above chance."""
    setup = BanditSetup(horizon=12, train_mix={"epsilon_greedy": {"epsilon": 0.0, "initial_values": 0.5}})
    prob = BanditProblem(setup)
    net, cfg = _net(prob, "wm_only")
    cfg = dataclasses.replace(cfg, explore=1.0, terminal_value=False)  # uniformly random incentives: varied data
    gen = torch.Generator().manual_seed(0)
    tasks = prob.sample_tasks(6, np.random.default_rng(0))
    params = dict(net.named_parameters())
    data = rollout(net, params, cfg, prob.make_env(tasks, 8, 5), 6, 8, gen, explore=True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = world_model_loss(net, dict(net.named_parameters()), data, reward_weight=0.0)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    assert float(loss.detach()) < 0.35  # chance is ln 3 = 1.10 nats per round


def test_plan_table_shapes():
    assert plan_table(4, 0, ["constant"], 3).tolist() == [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]]
    both = plan_table(3, 0, ["constant", "null"], 2).tolist()
    assert both == [[0, 0], [1, 1], [1, 0], [2, 2], [2, 0]]
    with pytest.raises(ValueError, match="tails"):
        plan_table(3, 0, [], 2)


def test_planner_picks_the_cheapest_action_when_incentives_cannot_matter(problem):
    """With a world model whose response ignores incentives and beliefs, only costs differ: no incentive wins."""
    net, cfg = _net(problem, "wm_only")
    cfg = dataclasses.replace(cfg, terminal_value=False)
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    for k in params:
        if k.startswith(("response.", "encoder.")):
            params[k] = torch.zeros_like(params[k])
    rows = 5
    h = torch.zeros(rows, net.hidden)
    feats = Features.zeros((rows,), net.spec.n_actions)
    noise = torch.zeros(rows, cfg.samples, cfg.lookahead, net.spec.n_actions)
    idx, score = plan_actions(net, params, cfg, h, feats, 0, noise)
    assert idx.tolist() == [net.spec.null_action] * rows
    # the agent plays uniformly (zero logits, floor irrelevant): 1/3 of each round's value 1 is the target's
    assert torch.allclose(score, torch.full((rows,), cfg.lookahead / 3.0), atol=1e-5)


def test_exploring_rounds_play_a_random_action_at_the_configured_rate(problem):
    net, cfg = _net(problem, "wm_only")
    cfg = dataclasses.replace(cfg, explore=0.3, terminal_value=False)
    params = {k: v.detach() for k, v in net.named_parameters()}
    rows = 4000
    gen = torch.Generator().manual_seed(1)
    rand = draw_randomness(net, cfg, (), rows, gen)
    h = torch.zeros(rows, net.hidden)
    feats = Features.zeros((rows,), net.spec.n_actions)
    planned = choose_actions(net, params, cfg, h, feats, 0, rand, explore=False)
    explored = choose_actions(net, params, cfg, h, feats, 0, rand, explore=True)
    swapped = (rand["explore"] < 0.3).float().mean()
    assert abs(float(swapped) - 0.3) < 0.03
    keep = rand["explore"] >= 0.3
    assert torch.equal(explored[keep], planned[keep])
    assert torch.equal(explored[~keep], rand["random_action"][~keep])


# ------------------------------------------------------------------ one decision rule, two implementations
@pytest.mark.parametrize("variant", ["wm_only", "model_free"])
def test_principal_in_the_model_plays_as_the_batched_rollout(problem, variant):
    """LearnedPrincipal inside IncentiveModel and the trainer's rollout take the same actions from the same numbers."""
    from scenarios._bandit_tasks import make_model

    net, cfg = _net(problem, variant)
    task = problem.sample_tasks(1, np.random.default_rng(0))
    gen = torch.Generator().manual_seed(11)
    env = problem.make_env(task, 4, 77)
    traj = rollout(net, {k: v.detach() for k, v in net.named_parameters()}, cfg, env, 1, 4, gen, explore=False)
    principal = make_principal(variant, net=net, config=cfg, seed=11)
    model = make_model(problem.setup, task, 4, 77, principal)
    model.run(problem.setup.horizon)
    ep = principal.episode()
    assert torch.equal(ep.act, traj.act[0])
    assert torch.allclose(ep.obs, traj.obs[0])


def test_batched_adaptation_equals_the_principal_s_adaptation(problem):
    net, cfg = _net(problem, "mermaide")
    support, _ = _episodes(problem, net, cfg)
    start = {k: v.detach().expand(3, *v.shape).clone() for k, v in net.named_parameters()}
    batched = adapt_batched(net, start, [support], cfg)
    principal = make_principal("mermaide", net=net, config=cfg)
    principal.adapt([support.select(1)])
    for k, v in principal.params.items():
        assert torch.allclose(batched[k][1], v, atol=1e-6), k


def test_evaluation_changes_with_the_principal_s_seed_alone(problem):
    net, cfg = _net(problem, "model_free")
    tasks = problem.sample_tasks(2, np.random.default_rng(0))

    def returns(seed: int) -> list[float]:
        res = evaluate_kshot(
            net,
            cfg,
            lambda kind, k: problem.make_env(tasks, 3, 5 if kind == "score" else 6 + k),
            2,
            3,
            [0, 1],
            torch.Generator().manual_seed(seed),
        )
        return [float(res[k][1].reward.sum()) for k in (0, 1)] + res[0][1].act.flatten().tolist()

    assert returns(1) == returns(1)
    assert returns(1) != returns(2)


# ------------------------------------------------------------------ training, checkpoints
def test_same_seed_same_training(problem):
    cfg = MermaideConfig(
        variant="mermaide", iterations=2, tasks_per_batch=2, agents_per_task=2, eval_every=1, samples=1, lookahead=2
    )
    a, logs_a = meta_train(problem, cfg, 5)
    b, logs_b = meta_train(problem, cfg, 5)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    assert [log["val/return"] for log in logs_a if "val/return" in log] == [
        log["val/return"] for log in logs_b if "val/return" in log
    ]
    c, _ = meta_train(problem, cfg, 6)
    assert not torch.equal(a.state_dict()["encoder.h0"], c.state_dict()["encoder.h0"]) or not torch.equal(
        a.state_dict()["response.net.0.weight"], c.state_dict()["response.net.0.weight"]
    )


def test_training_keeps_the_best_point_of_the_validation_curve(problem):
    """keep="best" returns the weights whose validation return is the curve's maximum; "last" the final ones."""
    from policies.training import validation_return

    cfg = MermaideConfig(
        variant="model_free", iterations=4, tasks_per_batch=2, agents_per_task=2, eval_every=1, lr=0.2, keep="best"
    )
    best, logs = meta_train(problem, cfg, 2)  # a step size so large that this seed's curve peaks mid-way
    last, _ = meta_train(problem, dataclasses.replace(cfg, keep="last"), 2)
    curve = [log["val/return"] for log in logs if "val/return" in log] + [logs[-1]["val/return_final"]]
    kept = logs[-1]["val/kept_return"]
    assert kept == max(curve) and logs[-1]["val/kept_update"] == curve.index(max(curve))
    assert 0 < logs[-1]["val/kept_update"] < cfg.iterations  # the peak is mid-way: best and last differ
    assert validation_return(problem, best, dict(best.named_parameters()), cfg, 2) == pytest.approx(kept)
    assert validation_return(problem, last, dict(last.named_parameters()), cfg, 2) == pytest.approx(curve[-1])
    assert kept > curve[-1]


def test_checkpoint_round_trips_bit_exactly(tmp_path, problem):
    net, cfg = _net(problem)
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, cfg, problem="bandit_alignment")
    net2, cfg2 = net_from_checkpoint(load_checkpoint(path, expect_spec=problem.net_spec, expect_variant="mermaide"))
    assert cfg2 == cfg
    for (k, v), (k2, v2) in zip(net.state_dict().items(), net2.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)


def test_checkpoint_for_another_problem_is_refused(tmp_path, problem):
    net, cfg = _net(problem)
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, cfg, problem="bandit_alignment")
    other = BanditSetup(horizon=12, levels=5).net_spec()
    with pytest.raises(CheckpointError, match="actions"):
        load_checkpoint(path, expect_spec=other)
    with pytest.raises(CheckpointError, match="variant"):
        load_checkpoint(path, expect_variant="wm_only")


def test_checkpoint_of_format_version_1_is_refused(tmp_path, problem):
    from policies.checkpoints import CHECKPOINT_FORMAT, atomic_torch_save

    path = tmp_path / "old.pt"
    atomic_torch_save({"format": CHECKPOINT_FORMAT, "format_version": 1}, path)
    with pytest.raises(CheckpointError, match="format version 1"):
        load_checkpoint(path)


def test_principal_refuses_a_run_it_was_not_trained_for(tmp_path, problem):
    from scenarios._bandit_tasks import make_model

    net, cfg = _net(problem)
    principal = make_principal("mermaide", net=net, config=cfg)
    longer = dataclasses.replace(problem.setup, horizon=20)
    task = problem.sample_tasks(1, np.random.default_rng(0))
    with pytest.raises(CheckpointError, match="horizon"):
        make_model(longer, task, 2, 0, principal).run(1)


def test_unknown_principal_lists_the_available_ones():
    with pytest.raises(ValueError, match="mermaide"):
        make_principal("no_such_principal")
