"""Tests for policies.stackelberg_principals: exact LPs, benchmark leaders, probing, the learned leaders.

Kinds (STYLE.md 12): two implementations agree (vertex-enumeration LP vs HiGHS,
replayed probing vs the direct search), known answers (the textbook game),
meta-learning invariants (inner_lr = 0 changes nothing, a step lowers the loss,
the meta-gradient reaches the initialisation), determinism, checkpoints and bad
input.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from policies.checkpoints import CheckpointError
from policies.stackelberg import follower_best_response, learn_commitment_by_queries, solve_stackelberg
from policies.stackelberg_principals import (
    LEADER_CLASSES,
    LeaderConfig,
    LeaderNet,
    LeaderObservation,
    LeaderSpec,
    LeaderStep,
    NashLeader,
    ProbingLeader,
    StackelbergLeader,
    _Data,
    _fit_loss,
    _skip_known,
    _wm_outer_loss,
    fit_members,
    init_fast,
    load_leader,
    save_leader,
    simplex_lp,
    strict_commitment,
    train_leader,
)
from simulator import PrincipalSpec

TEXTBOOK_L = np.array([[2.0, 4.0], [1.0, 3.0]])
TEXTBOOK_F = np.array([[1.0, 0.0], [0.0, 1.0]])
SPEC = LeaderSpec(3, 3, 6, 0.4)


def _spec(L: np.ndarray, F: np.ndarray | None = None, noise: float = 0.0, horizon: int = 6) -> PrincipalSpec:
    L = np.asarray(L, dtype=float)
    if L.ndim == 2:
        L = L[None]
    extra = {"leader_payoffs": L, "observation_noise": np.full(L.shape[0], noise)}
    if F is not None:
        extra["follower_payoffs"] = F if np.ndim(F) == 3 else np.asarray(F)[None]
    return PrincipalSpec(n_actions=L.shape[1], n_agents=L.shape[0], horizon=horizon, extra=extra)


def _obs(t: int, p: np.ndarray, observed: np.ndarray, leader: np.ndarray) -> LeaderObservation:
    return LeaderObservation(
        round=t, incentives=p, n_agents=p.shape[0], shares=np.zeros(3), actions=observed, leader_actions=leader
    )


# ---------------------------------------------------------------------------------------------------------------------
# LPs
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("m,k", [(2, 1), (3, 2), (4, 3)])
def test_simplex_lp_matches_highs(m, k):
    rng = np.random.default_rng(m * 10 + k)
    for _ in range(25):
        obj = rng.normal(size=m)
        A = rng.normal(size=(k, m))
        A = A - A.mean(1, keepdims=True)
        A /= np.linalg.norm(A, axis=1, keepdims=True)
        b = rng.normal(scale=0.2, size=k)
        p, ok = simplex_lp(torch.tensor(obj), torch.tensor(A), torch.tensor(b))
        res = linprog(-obj, A_ub=-A, b_ub=-b, A_eq=np.ones((1, m)), b_eq=[1.0], bounds=[(0, 1)] * m, method="highs")
        assert bool(ok) == (res.status == 0)
        if res.status == 0:
            np.testing.assert_allclose(float(torch.tensor(obj) @ p), -res.fun, atol=1e-8)
            assert np.all(A @ p.numpy() >= b - 1e-8)


def test_strict_commitment_textbook():
    p, t, v = strict_commitment(TEXTBOOK_L, TEXTBOOK_F, margin=1e-3)
    assert t == 1
    assert 3.5 - 2e-3 < v < 3.5
    f = p @ TEXTBOOK_F
    assert f[1] > f[0]  # strict, so an argmax follower plays column 1


def test_strict_commitment_random_games_are_strict_and_near_optimal():
    rng = np.random.default_rng(3)
    for _ in range(30):
        L, F = rng.random((3, 3)), rng.random((3, 3))
        sol = solve_stackelberg(L, F)
        p, t, v = strict_commitment(L, F, margin=1e-3)
        assert t == sol.follower_action
        f = p @ F
        assert np.argmax(f) == t and np.sort(f)[-1] > np.sort(f)[-2]
        assert sol.leader_value - v < 0.01 * (L.max() - L.min()) + 1e-9


# ---------------------------------------------------------------------------------------------------------------------
# Benchmark leaders and probing
# ---------------------------------------------------------------------------------------------------------------------


def test_stackelberg_leader_induces_the_se_column():
    rng = np.random.default_rng(0)
    L, F = rng.random((2, 3, 3)), rng.random((2, 3, 3))
    leader = StackelbergLeader(margin=1e-3)
    leader.reset(_spec(L, F), np.random.default_rng(0))
    p = leader.act()
    for r in range(2):
        sol = solve_stackelberg(L[r], F[r])
        assert int(np.argmax(p[r] @ F[r])) == sol.follower_action
        assert abs(p[r] @ L[r][:, sol.follower_action] - sol.leader_value) < 0.01


def test_benchmarks_need_model_access():
    with pytest.raises(ValueError, match="follower's payoffs"):
        StackelbergLeader().reset(_spec(TEXTBOOK_L), np.random.default_rng(0))
    with pytest.raises(ValueError, match="leader_payoffs"):
        NashLeader().reset(PrincipalSpec(n_actions=2, n_agents=1), np.random.default_rng(0))


def test_nash_leader_commits_to_an_equilibrium_strategy():
    leader = NashLeader()
    leader.reset(_spec(TEXTBOOK_L, TEXTBOOK_F), np.random.default_rng(0))
    np.testing.assert_allclose(leader.act()[0], [1.0, 0.0])  # the unique NE: row 0, column 0


def test_probing_replays_the_direct_search():
    """One query per round through the protocol = the direct search's query log."""
    rng = np.random.default_rng(5)
    L, F = rng.random((3, 3)), rng.random((3, 3))
    oracle = lambda p: int(np.argmax(p @ F))  # noqa: E731
    direct = learn_commitment_by_queries(
        L, oracle, n_follower_actions=3, tol=2e-3, n_explore=18, rng=np.random.default_rng([0, 0])
    )
    leader = ProbingLeader(tol=2e-3, seed=0)
    leader.reset(_spec(L, horizon=500), np.random.default_rng(0))
    played = []
    for t in range(direct.n_queries + 3):
        p = leader.act()
        played.append(p[0].copy())
        leader.observe(_obs(t, p, np.array([oracle(p[0])]), np.array([0])))
    for (q, _), p in zip(direct.queries, played, strict=False):
        np.testing.assert_allclose(p, q, atol=1e-12)
    np.testing.assert_allclose(played[-1], direct.leader_strategy, atol=1e-12)


def test_probing_adapt_restores_snapshot():
    rng = np.random.default_rng(6)
    L, F = rng.random((3, 3)), rng.random((3, 3))
    leader = ProbingLeader(seed=1)
    leader.reset(_spec(L), np.random.default_rng(0))
    for t in range(4):
        p = leader.act()
        leader.observe(_obs(t, p, np.array([int(np.argmax(p[0] @ F))]), np.array([0])))
    snap = leader.episode()
    p = leader.act()
    leader.observe(_obs(4, p, np.array([0]), np.array([0])))
    leader.adapt([snap])
    assert len(leader.episode()[0]) == 4
    leader.adapt([])
    assert leader.episode() == [[]]


# ---------------------------------------------------------------------------------------------------------------------
# World model: meta-learning invariants
# ---------------------------------------------------------------------------------------------------------------------


def _toy(rows: int = 2, members: int = 3, n_obs: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    cfg = LeaderConfig(members=members)
    net = LeaderNet(SPEC, cfg, generator=g)
    params = dict(net.named_parameters())
    L = torch.rand(rows, 3, 3, generator=g, dtype=torch.float64)
    z = torch.randn(rows, members, 3, 3, generator=g, dtype=torch.float64)
    p = torch.softmax(torch.randn(rows, n_obs, 3, generator=g, dtype=torch.float64), -1)
    data = _Data(
        p,
        torch.full_like(p, 1 / 3),
        torch.zeros(rows, n_obs, 3, dtype=torch.float64),
        torch.randint(0, 3, (rows, n_obs), generator=g),
        torch.ones(rows, n_obs, dtype=torch.float64),
    )
    noise = torch.tensor([0.0, 0.2][:rows] + [0.0] * max(rows - 2, 0), dtype=torch.float64)
    return cfg, net, params, L, z, data, noise


def test_inner_lr_zero_changes_nothing():
    cfg, net, params, L, z, data, noise = _toy()
    init = {k: v.detach() for k, v in init_fast(net, params, L, z).items()}
    out = fit_members(init, init, data, noise, dataclasses.replace(cfg, inner_lr=0.0), 5)
    for k in init:
        torch.testing.assert_close(out[k], init[k])


def test_inner_steps_lower_the_fitting_loss():
    cfg, net, params, L, z, data, noise = _toy()
    init = {k: v.detach() for k, v in init_fast(net, params, L, z).items()}
    before = float(_fit_loss(init, init, data, noise, cfg.prior_weight))
    after = float(_fit_loss(fit_members(init, init, data, noise, cfg, 20), init, data, noise, cfg.prior_weight))
    assert after < before


@pytest.mark.parametrize("first_order", [True, False])
def test_meta_gradient_reaches_the_initialisation(first_order):
    cfg, net, params, L, z, data, noise = _toy()
    cfg = dataclasses.replace(cfg, first_order=first_order, inner_steps=3)
    init = init_fast(net, params, L, z)
    adapted = fit_members(init, init, data, noise, cfg, 3, create_graph=not first_order)
    if first_order:
        adapted = {k: init[k] + (adapted[k] - init[k]).detach() for k in init}
    loss = _fit_loss(adapted, {k: v.detach() for k, v in init.items()}, data, noise, 0.0)
    loss.backward()
    assert net.prior.net[-1].weight.grad is not None
    assert float(net.prior.net[-1].weight.grad.norm()) > 0
    assert float(net.log_beta0.grad.abs()) > 0


def test_wm_outer_loss_trains_the_belief():
    """The outer loss's gradient reaches the GRU (through the logit corrections)."""
    cfg = LeaderConfig(members=2, inner_steps=2, train_online_steps=1)
    net = LeaderNet(SPEC, cfg, generator=torch.Generator().manual_seed(0))
    leader = LEADER_CLASSES["mermaide"](net=net, config=cfg, seed=0)
    env = _ToyEnv(seed=0)
    from policies.stackelberg_principals import _play

    support, _ = _play(leader, env, SPEC.horizon, np.random.default_rng(0))
    leader.adapt([support])
    query, _ = _play(leader, _ToyEnv(seed=1), SPEC.horizon, np.random.default_rng(1))
    with torch.no_grad():  # a non-zero output layer so the correction depends on the belief
        net.correction.net[-1].weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    params = dict(net.named_parameters())
    log: dict[str, float] = {}
    loss = _wm_outer_loss(net, params, leader, support, query, leader.Lt, leader.noise_t, cfg, log)
    loss.backward()
    assert float(net.cell.w_x.weight.grad.norm()) > 0
    assert np.isfinite(log["loss/post"]) and np.isfinite(log["loss/pre"])


def _known_case(n_seen: int, noise: float):
    """Two candidates per member; the first was played ``n_seen`` times (always answered with column 1)."""
    cfg, net, params, L, z, _, _ = _toy(rows=1, members=2)
    fast = {k: v.detach() for k, v in init_fast(net, params, L, z).items()}
    weights = torch.full((1, 2), 0.5, dtype=torch.float64)
    seen = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    other = torch.tensor([0.6, 0.2, 0.2], dtype=torch.float64)
    cand = torch.stack([seen, other]).expand(1, 2, 2, 3)  # rows, members, C, m
    past = _Data(
        seen.expand(1, n_seen, 3),
        torch.full((1, n_seen, 3), 1 / 3, dtype=torch.float64),
        torch.zeros(1, n_seen, 3, dtype=torch.float64),
        torch.ones(1, n_seen, dtype=torch.long),
        torch.ones(1, n_seen, dtype=torch.float64),
    )
    v = torch.tensor([[[0.9, 0.5], [0.8, 0.4]]], dtype=torch.float64)
    return cfg, fast, weights, cand, past, torch.tensor([noise], dtype=torch.float64), v


def test_exploration_skips_commitments_whose_answer_is_known():
    cfg, fast, weights, cand, past, noise, v = _known_case(1, 0.0)
    out = _skip_known(v, cand, fast, weights, past, noise, dataclasses.replace(cfg, known=0.95))
    assert torch.isinf(out[..., 0]).all() and (out[..., 1] == v[..., 1]).all()
    # known = 1 never skips; an unplayed history skips nothing
    assert torch.equal(_skip_known(v, cand, fast, weights, past, noise, dataclasses.replace(cfg, known=1.0)), v)
    empty = _Data(*(x[:, :0] for x in (past.p, past.qbar, past.corr, past.obs, past.mask)))
    assert torch.equal(_skip_known(v, cand, fast, weights, empty, noise, dataclasses.replace(cfg, known=0.95)), v)


def test_noisy_answers_need_repeats_before_they_count_as_known():
    """With 40% observation noise one answer is not enough; three agreeing answers are."""
    cfg = None
    for n_seen, expect_known in ((1, False), (3, True)):
        cfg, fast, weights, cand, past, noise, v = _known_case(n_seen, 0.4)
        out = _skip_known(v, cand, fast, weights, past, noise, dataclasses.replace(cfg, known=0.95))
        assert bool(torch.isinf(out[..., 0]).all()) is expect_known


def test_when_every_candidate_is_known_the_values_stay():
    cfg, fast, weights, cand, past, noise, v = _known_case(1, 0.0)
    cand = cand[..., :1, :].expand(1, 2, 2, 3)  # both candidates are the played commitment
    out = _skip_known(v, cand, fast, weights, past, noise, dataclasses.replace(cfg, known=0.95))
    assert torch.equal(out, v)


# ---------------------------------------------------------------------------------------------------------------------
# Learned leaders through the protocol
# ---------------------------------------------------------------------------------------------------------------------


class _ToyEnv:
    """Two 3 x 3 games with best-responding followers (the policies layer's own test environment)."""

    def __init__(self, seed: int = 0, noise: float = 0.0) -> None:
        rng = np.random.default_rng(123)
        self.leader_payoffs = rng.random((2, 3, 3))
        self.F = rng.random((2, 3, 3))
        self.noise = np.full(2, noise)
        self.rng = np.random.default_rng(seed)

    def step(self, commitments: np.ndarray) -> LeaderStep:
        j = np.array([int(np.argmax(commitments[r] @ self.F[r])) for r in range(2)])
        flip = self.rng.random(2) < self.noise
        seen = np.where(flip, self.rng.integers(0, 3, 2), j)
        pay = np.array([commitments[r] @ self.leader_payoffs[r][:, j[r]] for r in range(2)])
        return LeaderStep(observed=seen, leader_actions=np.zeros(2, dtype=int), payoff=pay)


@pytest.mark.parametrize("variant", ["mermaide", "wm_only", "meta_only", "model_free"])
def test_learned_leader_plays_valid_commitments_and_is_deterministic(variant):
    from policies.stackelberg_principals import PolicyNet, _play

    cfg = LeaderConfig(variant=variant, members=3, online_steps=2, inner_steps=3)
    g = torch.Generator().manual_seed(0)
    net = LeaderNet(SPEC, cfg, generator=g) if cfg.uses_world_model else PolicyNet(SPEC, cfg, generator=g)
    runs = []
    for _ in range(2):
        leader = LEADER_CLASSES[variant](net=net, config=cfg, seed=7)
        leader.explore = True
        ep, _ = _play(leader, _ToyEnv(seed=3, noise=0.2), SPEC.horizon, np.random.default_rng(0))
        leader.explore = False
        leader.adapt([ep])
        ep2, true = _play(leader, _ToyEnv(seed=4, noise=0.2), SPEC.horizon, np.random.default_rng(0))
        p = ep2.commitments.numpy()
        assert np.all(p >= 0) and np.allclose(p.sum(-1), 1.0)
        runs.append((ep.commitments.numpy(), p, true))
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_learned_leader_protocol_errors():
    cfg = LeaderConfig(members=2)
    net = LeaderNet(SPEC, cfg, generator=torch.Generator().manual_seed(0))
    leader = LEADER_CLASSES["mermaide"](net=net, config=cfg)
    with pytest.raises(CheckpointError, match="3 x 3"):
        leader.reset(_spec(np.random.default_rng(0).random((4, 3))), np.random.default_rng(0))
    with pytest.raises(CheckpointError, match="horizon"):
        leader.reset(_spec(np.random.default_rng(0).random((3, 3)), horizon=7), np.random.default_rng(0))
    with pytest.raises(CheckpointError, match="noise"):
        leader.reset(_spec(np.random.default_rng(0).random((3, 3)), noise=0.6), np.random.default_rng(0))
    leader.reset(_spec(np.random.default_rng(0).random((3, 3))), np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="without a preceding act"):
        leader.observe(_obs(0, np.full((1, 3), 1 / 3), np.array([0]), np.array([0])))
    with pytest.raises(ValueError, match="either a checkpoint"):
        LEADER_CLASSES["mermaide"]()


def test_checkpoint_round_trip_and_refusals(tmp_path):
    cfg = LeaderConfig(members=2)
    net = LeaderNet(SPEC, cfg, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "m.pt"
    save_leader(path, net, cfg, extra={"seed": 0})
    net2, cfg2 = load_leader(path, expect_variant="mermaide", expect_spec=SPEC)
    assert cfg2 == cfg
    for (k, a), (_, b) in zip(net.state_dict().items(), net2.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, msg=k)
    with pytest.raises(CheckpointError, match="n_leader"):
        load_leader(path, expect_spec=dataclasses.replace(SPEC, n_leader=4))
    with pytest.raises(CheckpointError, match="noise"):
        load_leader(path, expect_spec=dataclasses.replace(SPEC, max_noise=0.5))
    with pytest.raises(CheckpointError, match="variant"):
        load_leader(path, expect_variant="wm_only")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_leader(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_leader(tmp_path / "missing.pt")
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp files


class _ToyProblem:
    name = "toy"
    leader_spec = SPEC

    def sample_tasks(self, n, rng):
        return list(range(n))

    def make_env(self, tasks, seed):
        env = _ToyEnv(seed=seed)
        return env


@pytest.mark.parametrize("variant", ["mermaide", "wm_only", "meta_only", "model_free"])
def test_train_leader_tiny(variant):
    cfg = LeaderConfig(variant=variant, iterations=2, tasks_per_batch=2, members=2, inner_steps=2)
    net, logs = train_leader(_ToyProblem(), cfg, seed=0)
    assert len(logs) == 2
    assert all(np.isfinite(v) for log in logs for v in log.values())
    net2, _ = train_leader(_ToyProblem(), cfg, seed=0)
    for a, b in zip(net.state_dict().values(), net2.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_follower_best_response_agrees_with_argmax_for_strict_commitments():
    p, t, _ = strict_commitment(TEXTBOOK_L, TEXTBOOK_F)
    assert follower_best_response(TEXTBOOK_F, p) == t
