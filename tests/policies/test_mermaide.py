"""MERMAIDE: MAML invariants, the world model on a greedy agent, checkpoints, determinism, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from policies import make_principal
from policies.mermaide import (
    MermaideConfig,
    PrincipalNet,
    inner_adapt,
    outer_loss,
    wm_loss,
)
from policies.training import (
    CheckpointError,
    load_checkpoint,
    make_noise,
    meta_train,
    net_from_checkpoint,
    rollout,
    save_checkpoint,
)
from scenarios._bandit_tasks import BanditProblem, BanditSetup

INNER_LR = 0.3
SEED = 3


@pytest.fixture(scope="module")
def problem() -> BanditProblem:
    return BanditProblem(BanditSetup(horizon=12))


@pytest.fixture(scope="module")
def batch(problem: BanditProblem):
    """A support and a query batch of 3 tasks x 4 agents from a fresh network."""
    cfg = MermaideConfig(tasks_per_batch=3, agents_per_task=4)
    gen = torch.Generator().manual_seed(SEED)
    net = PrincipalNet(problem.net_spec, cfg.hidden, cfg.policy_hidden, generator=gen)
    rng = np.random.default_rng(SEED)
    tasks = problem.sample_tasks(3, rng)
    params = dict(net.named_parameters())
    support, _ = rollout(net, params, problem.make_env(tasks, 4, 1), 3, 4, 0.5, gen, explore_uniform=0.2)
    query, _ = rollout(net, params, problem.make_env(tasks, 4, 2), 3, 4, 0.5, gen, explore_uniform=0.2)
    return net, cfg, support, query, gen


def _params(net: PrincipalNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters()}


def test_inner_lr_zero_changes_nothing(batch):
    net, cfg, support, _, gen = batch
    params = _params(net)
    noise = make_noise(cfg, net.spec, (), 4, gen)
    new = inner_adapt(net, params, support.select(0), cfg, noise, lr=0.0)
    assert set(new) == set(params)
    for k in params:
        assert torch.equal(new[k], params[k]), k


def test_adaptation_changes_only_the_adapted_parameters(batch):
    net, cfg, support, _, gen = batch
    params = _params(net)
    noise = make_noise(cfg, net.spec, (), 4, gen)
    new = inner_adapt(net, params, support.select(0), cfg, noise, lr=INNER_LR)
    for k in params:
        adapted = any(k.startswith(p) for p in cfg.adapt)
        assert (not torch.equal(new[k], params[k])) == adapted, k


def test_one_inner_step_lowers_the_inner_loss(batch):
    net, cfg, support, _, gen = batch
    cfg = dataclasses.replace(cfg, adapt=["encoder.h0", "head."])  # the world model's likelihood alone
    params = _params(net)
    noise = make_noise(cfg, net.spec, (), 4, gen)
    traj = support.select(0)
    before = float(wm_loss(net, params, traj).detach())
    new = inner_adapt(net, params, traj, cfg, noise, lr=0.05)
    after = float(wm_loss(net, new, traj).detach())
    assert after < before - 1e-4


def _meta_grads(batch, first_order: bool) -> dict[str, torch.Tensor]:
    from policies.mermaide import adapt_params

    net, cfg, support, query, _ = batch
    cfg = dataclasses.replace(cfg, first_order=first_order, zero_shot_weight=0.0)
    gen = torch.Generator().manual_seed(11)
    noise_s = make_noise(cfg, net.spec, (3,), 4, gen)
    noise_q = make_noise(cfg, net.spec, (3,), 4, gen)
    params = _params(net)
    adapted = adapt_params(net, params, support, cfg, noise_s)
    loss, _ = outer_loss(net, params, adapted, support, query, cfg, noise_s, noise_q)
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return {k: (g if g is not None else torch.zeros_like(p)) for (k, p), g in zip(params.items(), grads, strict=True)}


def test_meta_gradient_reaches_the_initial_parameters(batch):
    grads = _meta_grads(batch, first_order=False)
    # only the post-adaptation loss is in the objective (zero_shot_weight = 0): gradients on the
    # initial parameters exist only through the inner update
    for prefix in ("encoder.h0", "head.", "policy."):
        norm = sum(float(g.norm()) for k, g in grads.items() if k.startswith(prefix))
        assert norm > 1e-8, prefix


def test_first_and_second_order_meta_gradients_differ(batch):
    second = _meta_grads(batch, first_order=False)
    first = _meta_grads(batch, first_order=True)
    diff = sum(float((second[k] - first[k]).norm()) for k in second)
    assert diff > 1e-6
    # and they agree on parameters the inner loop does not touch only up to the adapted path
    assert any(not torch.allclose(second[k], first[k]) for k in second if k.startswith("encoder.cell"))


def test_world_model_predicts_a_greedy_agent(problem):
    """Deterministic greedy agents (epsilon 0, noise-free rewards): > 95% next-action accuracy."""
    setup = BanditSetup(
        horizon=12,
        reward_noise=0.0,
        # distinct priors per arm: no ties for the agent to break at random (a deterministic agent)
        train_mix={"epsilon_greedy": {"epsilon": 0.0, "initial_values": [0.5, 0.6, 0.4]}},
    )
    prob = BanditProblem(setup)
    gen = torch.Generator().manual_seed(0)
    net = PrincipalNet(prob.net_spec, 32, 64, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(120):
        params = dict(net.named_parameters())
        tasks = prob.sample_tasks(8, rng)
        traj, _ = rollout(
            net, params, prob.make_env(tasks, 4, int(rng.integers(1e9))), 8, 4, 0.0, gen, explore_uniform=1.0
        )
        loss = wm_loss(net, params, traj)
        opt.zero_grad()
        loss.backward()
        opt.step()
    params = dict(net.named_parameters())
    tasks = prob.sample_tasks(16, np.random.default_rng(99))
    with torch.no_grad():
        traj, _ = rollout(net, params, prob.make_env(tasks, 4, 12345), 16, 4, 0.0, gen, explore_uniform=1.0)
        from policies.mermaide import incentives_from_pre

        beliefs = net("encode", traj.obs)
        p = net("head", beliefs, incentives_from_pre(net, traj.pre))
    acc = float((p.argmax(-1) == traj.actions).float().mean())
    assert acc > 0.95, acc


def test_checkpoint_round_trips_bit_exactly(tmp_path, problem):
    cfg = MermaideConfig(hidden=8, policy_hidden=8)
    net = PrincipalNet(problem.net_spec, 8, 8, generator=torch.Generator().manual_seed(5))
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, cfg, problem="bandit_alignment")
    state = load_checkpoint(path, expect_spec=problem.net_spec, expect_variant="mermaide")
    net2, cfg2 = net_from_checkpoint(state)
    assert cfg2 == cfg
    for (k, a), (k2, b) in zip(net.state_dict().items(), net2.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)


def test_checkpoint_for_another_problem_is_refused(tmp_path, problem):
    net = PrincipalNet(problem.net_spec, 8, 8, generator=torch.Generator().manual_seed(5))
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, MermaideConfig(hidden=8, policy_hidden=8), problem="bandit_alignment")
    other_k = BanditSetup(n_actions=4, horizon=12).net_spec()
    with pytest.raises(CheckpointError, match="n_actions"):
        load_checkpoint(path, expect_spec=other_k)
    other_obs = BanditSetup(observation="actions", horizon=12).net_spec()
    with pytest.raises(CheckpointError, match="observation"):
        load_checkpoint(path, expect_spec=other_obs)
    with pytest.raises(CheckpointError, match="variant"):
        load_checkpoint(path, expect_variant="wm_only")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_principal_refuses_a_run_it_was_not_trained_for(tmp_path, problem):
    net = PrincipalNet(problem.net_spec, 8, 8, generator=torch.Generator().manual_seed(5))
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, MermaideConfig(hidden=8, policy_hidden=8), problem="bandit_alignment")
    principal = make_principal("mermaide", checkpoint=path)
    from scenarios._bandit_tasks import make_model, sample_test_tasks

    tasks = sample_test_tasks(
        BanditSetup(observation="actions", horizon=12), "in_distribution", 1, np.random.default_rng(0)
    )
    with pytest.raises(CheckpointError, match="observation"):
        make_model(BanditSetup(observation="actions", horizon=12), tasks, 2, 0, principal)


def test_same_seed_same_training(problem):
    cfg = MermaideConfig(iterations=2, tasks_per_batch=2, agents_per_task=2)
    a, _ = meta_train(problem, cfg, seed=4)
    b, _ = meta_train(problem, cfg, seed=4)
    c, _ = meta_train(problem, cfg, seed=5)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), k
    assert any(not torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values(), strict=True))


def test_unknown_principal_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"available: .*mermaide"):
        make_principal("mermade")


# ------------------------------------------------- policy_loss = "reinforce" (the green_tax government)
def test_reinforce_world_model_adaptation_leaves_the_policy_alone(batch):
    net, cfg, support, _, gen = batch
    cfg = dataclasses.replace(cfg, policy_loss="reinforce", adapt=["encoder.h0", "head."])
    params = _params(net)
    noise = make_noise(cfg, net.spec, (), 4, gen)
    traj = support.select(0)
    new = inner_adapt(net, params, traj, cfg, noise, lr=0.05)
    for k in params:
        changed = not torch.equal(new[k], params[k])
        assert changed == k.startswith(("encoder.h0", "head.")), k
    assert float(wm_loss(net, new, traj).detach()) < float(wm_loss(net, params, traj).detach()) - 1e-4


def test_reinforce_meta_gradient_reaches_the_policy_through_the_belief(batch):
    from policies.mermaide import adapt_params

    net, cfg, support, query, _ = batch
    cfg = dataclasses.replace(cfg, policy_loss="reinforce", adapt=["encoder.h0", "head."], zero_shot_weight=0.0)
    gen = torch.Generator().manual_seed(5)
    noise_s = make_noise(cfg, net.spec, (3,), 4, gen)
    noise_q = make_noise(cfg, net.spec, (3,), 4, gen)
    params = _params(net)
    adapted = adapt_params(net, params, support, cfg, noise_s)
    loss, _ = outer_loss(net, params, adapted, support, query, cfg, noise_s, noise_q)
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()), allow_unused=True), strict=True))
    # the query's policy-gradient loss reads the belief that starts at the adapted h0
    assert grads["encoder.h0"] is not None and float(grads["encoder.h0"].norm()) > 1e-8
    assert sum(float(g.norm()) for k, g in grads.items() if k.startswith("policy.") and g is not None) > 1e-8


def test_reinforce_variant_does_not_plan_with_an_untrained_critic(problem):
    from scenarios._bandit_tasks import make_model

    cfg = MermaideConfig(variant="wm_only", policy_loss="reinforce", plan_candidates=16, iterations=1)
    net = PrincipalNet(problem.net_spec, cfg.hidden, cfg.policy_hidden, generator=torch.Generator().manual_seed(0))
    principal = make_principal("wm_only", net=net, config=cfg, seed=0)

    def no_planning(pre):
        raise AssertionError("planned with a critic that policy_loss='reinforce' never trains")

    principal._plan = no_planning
    tasks = problem.sample_tasks(1, np.random.default_rng(0))
    model = make_model(problem.setup, tasks, 3, 0, principal)
    model.run(4)
    assert model.round == 4
