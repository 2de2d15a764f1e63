"""The core's generic pieces the Stackelberg game uses, and the learned leaders on the core.

Kinds: known answers (a world model that knows the follower's payoffs plans the
best commitment of the grid, found by brute force; a quantal response with a
sharp beta is the best response), invariants (the range statistics are the
running min / max; contexts reach the initial belief; commitments never count
as incentives), one decision rule (the principal in the protocol plays as the
batched rollout), determinism of training.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from policies import make_principal
from policies.mermaide import MermaideConfig, PrincipalNet, hull_before, inner_adapt
from policies.nets import Features, hull_dim, obs_dim
from policies.planning import choose_actions, draw_randomness
from policies.problem import NetSpec
from policies.training import meta_train, rollout
from scenarios._stackelberg_games import GameSetup, StackelbergProblem, play_episode, sample_games

SETUP = GameSetup(horizon=6, levels=21, validation_games=3)


@pytest.fixture(scope="module")
def problem() -> StackelbergProblem:
    return StackelbergProblem(SETUP)


def _net(spec: NetSpec, seed: int = 0) -> PrincipalNet:
    return PrincipalNet(spec, 16, 32, generator=torch.Generator().manual_seed(seed))


def _knows(net: PrincipalNet, F: np.ndarray, beta_log: float = 4.0) -> dict[str, torch.Tensor]:
    """Parameters whose response head says the follower's payoffs are F, sharply, with no random choices."""
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    d, k = net.spec.action_dim, net.spec.n_actions
    last = "response.net.2"
    params[f"{last}.weight"] = torch.zeros_like(params[f"{last}.weight"])
    bias = torch.zeros(d * k + 2)
    bias[: d * k] = torch.as_tensor(F, dtype=torch.float32).reshape(-1)
    bias[d * k] = beta_log  # beta = BETA0 * e^4, about 1100 per unit of payoff
    bias[d * k + 1] = -30.0  # floor ~ 0
    params[f"{last}.bias"] = bias
    return params


def test_quantal_response_with_the_true_payoffs_is_the_best_response(problem):
    net = _net(problem.net_spec)
    games = sample_games(SETUP, "in_distribution", 5, 0)
    x = torch.as_tensor(problem.net_spec.actions, dtype=torch.float32)
    for g in games:
        params = _knows(net, g.F)
        h = net.initial_belief(params)
        p = net.response_probs(params, h.expand(len(x), -1), x)
        best = np.argmax(x.numpy().astype(float) @ g.F, axis=1)
        margin = np.sort(x.numpy().astype(float) @ g.F, axis=1)
        clear = margin[:, -1] - margin[:, -2] > 0.02  # away from the indifference boundaries
        np.testing.assert_array_equal(p.argmax(-1).numpy()[clear], best[clear])
        assert (p.max(-1).values.numpy()[clear] > 0.99).all()


def test_planner_that_knows_the_follower_commits_to_the_grid_optimum(problem):
    """With the true payoffs in its world model the planner picks the best grid commitment (brute force)."""
    spec = problem.net_spec
    net = _net(spec)
    cfg = MermaideConfig(variant="wm_only", lookahead=1, terminal_value=False, samples=1, tails=["constant"])
    games = [g for g in sample_games(SETUP, "in_distribution", 40, 1) if g.gap > 0.05][:6]
    assert games
    grid = np.asarray(spec.actions)
    for g in games:
        params = _knows(net, g.F)
        ctx = torch.as_tensor(g.L.reshape(1, -1), dtype=torch.float32)
        h = net.initial_belief(params, ctx)
        rand = draw_randomness(net, cfg, (), 1, torch.Generator().manual_seed(0))
        idx = choose_actions(net, params, cfg, h, Features.empty((1,), spec), 0, rand, False, ctx)
        u = grid @ g.F
        top = np.sort(u, axis=1)
        strict = top[:, -1] - top[:, -2] > 1e-3  # commitments a best responder answers without a near-tie
        value = np.where(strict, (grid * g.L[:, np.argmax(u, axis=1)].T).sum(1), -np.inf)
        chosen = int(idx[0])
        assert value[chosen] >= value.max() - 1e-6, (g.game_id, chosen, int(np.argmax(value)))
        assert value.max() <= g.se_value + 1e-9


def test_range_statistics_are_the_running_min_and_max_per_action():
    spec = StackelbergProblem(SETUP).net_spec
    k, d = spec.n_actions, spec.action_dim
    rng = np.random.default_rng(0)
    feats = Features.empty((2,), spec)
    assert feats.low.shape == (2, hull_dim(spec)) == (2, k * d)
    xs, cols = [], []
    for t in range(8):
        x = torch.as_tensor(rng.dirichlet(np.ones(d), 2), dtype=torch.float32)
        col = rng.integers(0, k, 2)
        choice = torch.nn.functional.one_hot(torch.as_tensor(col), k).float()
        if t == 3:
            choice[0] = 0.0  # nothing observed in row 0 this round: the statistics stay
        obs, feats = feats.encode(spec, x, choice, None, t, torch.zeros(2, spec.context_dim))
        assert obs.shape == (2, obs_dim(spec))
        xs.append(x.numpy())
        cols.append(np.where(choice.sum(-1).numpy() > 0, col, -1))
    xs, cols = np.stack(xs, 1), np.stack(cols, 1)
    low = feats.low.reshape(2, k, d).numpy()
    high = feats.high.reshape(2, k, d).numpy()
    for r in range(2):
        for j in range(k):
            seen = xs[r][cols[r] == j]
            if len(seen):
                np.testing.assert_allclose(low[r, j], seen.min(0), rtol=0, atol=0)
                np.testing.assert_allclose(high[r, j], seen.max(0), rtol=0, atol=0)
            else:
                assert np.isinf(low[r, j]).all() and np.isinf(high[r, j]).all()
    # what the network sees: the ranges, zero for actions never observed
    shown = obs[..., -spec.context_dim - 2 * k * d : -spec.context_dim].reshape(2, 2, k, d).numpy()
    np.testing.assert_allclose(shown[:, 0], np.where(np.isinf(low), 0.0, low))


def test_commitments_never_count_as_incentives_even_with_as_many_rows_as_columns():
    spec = GameSetup(n_leader=2, n_follower=2, levels=5).net_spec()
    assert spec.action_dim == spec.n_actions and not spec.incentive_vectors
    k, d = 2, 2
    assert obs_dim(spec) == d + k + 3 + 2 * k + 2 * k * d + spec.context_dim  # no "incentive paid" part
    net = _net(spec)
    assert net.bilinear and not net.structural


def test_the_context_reaches_the_initial_belief_and_an_incentive_game_keeps_h0(problem):
    net = _net(problem.net_spec)
    params = dict(net.named_parameters())
    ctx = torch.rand(3, problem.net_spec.context_dim, generator=torch.Generator().manual_seed(1))
    h = net.initial_belief(params, ctx)
    assert h.shape == (3, 16) and not torch.allclose(h[0], h[1])
    batched = {k: v.expand(2, *v.shape) for k, v in params.items()}  # per-task parameters
    hb = net.initial_belief(batched, ctx[:2].reshape(2, 1, -1))
    torch.testing.assert_close(hb[:, 0], h[:2])
    from scenarios._bandit_tasks import BanditSetup

    bandit = PrincipalNet(BanditSetup().net_spec(), 16, 32, generator=torch.Generator().manual_seed(0))
    bp = dict(bandit.named_parameters())
    assert not any(k.startswith("encoder.context") for k in bp)
    assert bandit.initial_belief(bp, None) is bp["encoder.h0"]


@pytest.mark.parametrize("variant", ["mermaide", "meta_only"])
def test_principal_in_the_protocol_plays_as_the_batched_rollout(problem, variant, tmp_path):
    """The registered learned leader (loaded from a Stackelberg checkpoint) decides as the trainer's rollout."""
    from policies.checkpoints import save_checkpoint

    cfg = MermaideConfig(variant=variant, hidden=16, width=32, lookahead=1, terminal_value=False, samples=1)
    net = _net(problem.net_spec, seed=3)
    path = tmp_path / f"{variant}.pt"
    save_checkpoint(path, net, cfg, problem="stackelberg")
    tasks = problem.validation_tasks()
    env = problem.make_env(tasks, 1, 11)
    traj = rollout(
        net, dict(net.named_parameters()), cfg, env, len(tasks), 1, torch.Generator().manual_seed(5), explore=False
    )
    leader = make_principal(variant, checkpoint=path, seed=0)
    leader._gen = torch.Generator().manual_seed(5)
    rec = play_episode(leader, problem.make_env(tasks, 1, 11), np.random.default_rng(0))
    grid = np.asarray(problem.net_spec.actions)
    np.testing.assert_allclose(rec.commitments, grid[traj.act.reshape(len(tasks), -1).numpy()])


@pytest.mark.parametrize("variant", ["mermaide", "wm_only", "meta_only", "model_free"])
def test_tiny_training_on_the_stackelberg_problem_is_deterministic(problem, variant):
    cfg = dataclasses.replace(
        MermaideConfig(variant=variant, hidden=8, width=16, lookahead=1, terminal_value=False, samples=1),
        iterations=2,
        tasks_per_batch=2,
        agents_per_task=1,
        eval_every=1,
    )
    net_a, logs = meta_train(problem, cfg, 0)
    net_b, _ = meta_train(problem, cfg, 0)
    assert "val/return" in logs[0] and all(np.isfinite(v) for log in logs for v in log.values())
    for (k, a), b in zip(net_a.state_dict().items(), net_b.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_hull_statistics_before_each_round_are_read_back_from_the_observations(problem):
    """The loss's hull (read from the encoded observations) is the planner's (the running Features)."""
    spec = problem.net_spec
    k = spec.n_actions
    rng = np.random.default_rng(3)
    grid = torch.as_tensor(spec.actions, dtype=torch.float32)
    feats = Features.empty((2,), spec)
    obs_l, before = [], []
    for t in range(7):
        before.append((feats.low.clone(), feats.high.clone()))
        x = grid[torch.as_tensor(rng.integers(0, len(grid), 2))]
        choice = torch.nn.functional.one_hot(torch.as_tensor(rng.integers(0, k, 2)), k).float()
        if t == 2:
            choice[1] = 0.0  # nothing observed
        obs, feats = feats.encode(spec, x, choice, None, t, torch.zeros(2, spec.context_dim))
        obs_l.append(obs)
    low, high = hull_before(spec, torch.stack(obs_l, 1))
    for t, (lo, hi) in enumerate(before):
        torch.testing.assert_close(low[:, t], lo, rtol=0, atol=0)
        torch.testing.assert_close(high[:, t], hi, rtol=0, atol=0)


def test_a_commitment_inside_an_observed_range_is_answered_as_observed_unless_the_bonus_is_off(problem):
    """Best-response consistency: inside column j's observed range the model predicts j; hull_bonus can turn it off."""
    spec = problem.net_spec
    k, d = spec.n_actions, spec.action_dim
    net = _net(spec)
    g = sample_games(SETUP, "in_distribution", 1, 0)[0]
    params = _knows(net, g.F)
    x = torch.as_tensor(spec.actions, dtype=torch.float32)
    h = net.initial_belief(params).expand(len(x), -1)
    best = torch.as_tensor(np.argmax(x.numpy().astype(float) @ g.F, axis=1))
    other = (best + 1) % k  # pretend every commitment in [0.2, 0.4] was answered by another column
    j = int(other[len(x) // 4])
    low = torch.full((k, d), float("inf"))
    high = -low
    low[j] = torch.tensor([0.2, 0.6])
    high[j] = torch.tensor([0.4, 0.8])
    hull = (low.reshape(1, -1).expand(len(x), -1), high.reshape(1, -1).expand(len(x), -1))
    inside = (x[:, 0] >= 0.2 - 1e-6) & (x[:, 0] <= 0.4 + 1e-6)
    params["response.net.2.bias"][d * k] = 0.0  # beta = BETA0: the bonus (about 7 logits) dominates
    p = net.response_probs(params, h, x, hull)
    assert (p[inside].argmax(-1) == j).all()
    np.testing.assert_allclose(p[~inside].numpy(), net.response_probs(params, h, x)[~inside].numpy(), atol=1e-6)
    params["hull_bonus"] = torch.tensor(-40.0)  # turned off: the payoffs alone decide
    np.testing.assert_allclose(net.response_probs(params, h, x, hull).numpy(), net.response_probs(params, h, x).numpy())


def test_the_inner_loop_moves_only_the_adapted_parts_and_the_offset_moves_the_boundaries(problem):
    """With adapt = [encoder.h0, response_offset] the inner loop changes those and nothing else."""
    spec = problem.net_spec
    net = _net(spec)
    cfg = MermaideConfig(
        variant="mermaide", adapt=["encoder.h0", "response_offset"], inner_steps=3, inner_lr=1.0, lookahead=1
    )
    cfg = dataclasses.replace(cfg, terminal_value=False, samples=1, tails=["constant"])
    env = problem.make_env(problem.validation_tasks()[:2], 1, 5)
    params = {k: v.detach() for k, v in net.named_parameters()}
    traj = rollout(net, params, cfg, env, 2, 1, torch.Generator().manual_seed(0), explore=True)
    new = inner_adapt(net, params, traj.select(0), cfg)
    moved = {k for k in params if not torch.equal(params[k], new[k])}
    assert moved == {"encoder.h0", "response_offset"}
    x = torch.as_tensor(spec.actions, dtype=torch.float32)
    h = net.initial_belief(params).expand(len(x), -1)
    assert not torch.allclose(net.response_probs(params, h, x), net.response_probs(new, h, x))


def test_only_commitment_problems_get_the_offset_and_the_hull_bonus():
    """Incentive problems (bandit, green tax) keep their parameter set, so their checkpoints load as before."""
    bandit = NetSpec(3, [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], 0, [1.0, 0.0, 0.0], 0.1, 6, "full")
    names = {k for k, _ in _net(bandit).named_parameters()}
    assert not names & {"response_offset", "hull_bonus"}
    commit = {k for k, _ in _net(StackelbergProblem(SETUP).net_spec).named_parameters()}
    assert {"response_offset", "hull_bonus"} <= commit


# ------------------------------------------------------------ probing and the kept ranges
def _random_ranges(spec: NetSpec, rows: int, rng: np.random.Generator) -> Features:
    """Ranges of q observed per column (grid points; some columns not yet observed), as Features."""
    k, d = spec.n_actions, spec.action_dim
    grid = np.asarray(spec.actions)[:, 0]
    low = np.full((rows, k, d), np.inf)
    high = np.full((rows, k, d), -np.inf)
    for r in range(rows):
        for j in range(k):
            if rng.uniform() < 0.6:
                a, b = np.sort(rng.choice(grid, 2))
                low[r, j], high[r, j] = [a, 1 - b], [b, 1 - a]
    feats = Features.empty((rows,), spec)
    as_t = lambda v: torch.as_tensor(v.reshape(rows, -1), dtype=torch.float32)  # noqa: E731
    return dataclasses.replace(feats, low=as_t(low), high=as_t(high))


def _expected_answers(p: np.ndarray, q: float, lo: np.ndarray, hi: np.ndarray, prior: float) -> np.ndarray:
    """The probe's answer probabilities at q, written out per case (known inside; uniform boundary in a gap)."""
    inside = [j for j in range(len(lo)) if lo[j] - 1e-6 <= q <= hi[j] + 1e-6]
    if inside:
        out = np.zeros(len(lo))
        out[inside] = 1.0 / len(inside)
        return out
    left = [(hi[j], j) for j in range(len(lo)) if np.isfinite(hi[j]) and hi[j] < q]
    right = [(lo[j], j) for j in range(len(lo)) if np.isfinite(lo[j]) and lo[j] > q]
    if not left or not right or prior == 0:
        return p
    (a, ja), (b, jb) = max(left, key=lambda e: (e[0], -e[1])), min(right)  # ties: the first column, as torch
    uniform = np.zeros(len(lo))
    uniform[ja] += (b - q) / (b - a)
    uniform[jb] += (q - a) / (b - a)
    return (1 - prior) * p + prior * uniform


@pytest.mark.parametrize("prior", [0.0, 0.5, 1.0])
def test_probe_rise_matches_a_brute_force_over_the_grid(problem, prior):
    """The knowledge gradient's expected rise, by interval ends, equals a brute force over every grid point."""
    from policies.planning import probe_actions

    spec = problem.net_spec
    k, d = spec.n_actions, spec.action_dim
    rows = 6
    rng = np.random.default_rng(4)
    net = _net(spec, seed=2)
    params = dict(net.named_parameters())
    feats = _random_ranges(spec, rows, rng)
    games = sample_games(SETUP, "in_distribution", rows, 1)
    context = torch.as_tensor(np.stack([g.L.ravel() for g in games]), dtype=torch.float32)
    h = net.initial_belief(params, context).detach()
    with torch.no_grad():
        best, rise = probe_actions(net, params, h, feats, context, prior)
        x = torch.as_tensor(spec.actions, dtype=torch.float32)
        p = net.response_probs(
            params,
            h[:, None].expand(rows, len(x), -1),
            x.expand(rows, -1, -1),
            (feats.low[:, None].expand(rows, len(x), -1), feats.high[:, None].expand(rows, len(x), -1)),
        ).numpy()
    grid = np.asarray(spec.actions)[:, 0]
    lo, hi = feats.low.numpy()[:, 0::d], feats.high.numpy()[:, 0::d]
    for r, g in enumerate(games):
        v = np.asarray(spec.actions) @ g.L  # (P, K): the leader's value of each answer at each commitment
        inside = (grid[:, None] >= lo[r] - 1e-6) & (grid[:, None] <= hi[r] + 1e-6)
        secured = max(v.min(1).max(), v[inside].max(initial=-np.inf))
        ref = np.zeros(len(grid))
        for i, q in enumerate(grid):
            answers = _expected_answers(p[r, i], q, lo[r], hi[r], prior)
            for j in range(k):
                a, b = min(lo[r, j], q), max(hi[r, j], q)
                after = v[(grid >= a - 1e-6) & (grid <= b + 1e-6), j].max()
                ref[i] += answers[j] * max(after - secured, 0.0)
        np.testing.assert_allclose(ref.max(), float(rise[r]), rtol=1e-4, atol=1e-6)
        assert ref[int(best[r])] == pytest.approx(ref.max(), rel=1e-4, abs=1e-6)


def test_probing_between_two_observed_answers_bisects_the_gap(problem):
    """A closed form: v_A(q) = q, A seen on [0, 0.2], B (worth 0) on [0.6, 1]: the expected rise
    (0.6 - q) / 0.4 x (q - 0.2) under a uniformly placed boundary is largest at the middle, q = 0.4."""
    from policies.planning import probe_actions

    spec = problem.net_spec  # 21 levels: q in steps of 0.05
    net = _net(spec)
    params = dict(net.named_parameters())
    inf = float("inf")
    low = torch.tensor([[0.0, 0.8, 0.6, 0.0, inf, inf]])  # (K x D) action-major: [q, 1 - q] per column
    high = torch.tensor([[0.2, 1.0, 1.0, 0.4, -inf, -inf]])
    feats = dataclasses.replace(Features.empty((1,), spec), low=low, high=high)
    context = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]])  # L = [[1, 0, 0], [0, 0, 0]]: v_A = q
    h = net.initial_belief(params, context).detach()
    with torch.no_grad():
        best, rise = probe_actions(net, params, h, feats, context, prior=1.0)
    assert float(spec.actions[int(best[0])][0]) == pytest.approx(0.4)
    assert float(rise[0]) == pytest.approx(0.5 * 0.2, abs=1e-6)


def _secured(spec: NetSpec, memory: torch.Tensor, L: np.ndarray) -> float:
    """What kept ranges guarantee against a best responder: the maximin value, or a column's value at a range end."""
    grid = np.asarray(spec.actions)
    k, d = spec.n_actions, spec.action_dim
    m = memory.numpy().reshape(2, k, d)
    best = float((grid @ L).min(1).max())
    for j in range(k):
        if np.isfinite(m[0, j, 0]):
            best = max(best, *(q * L[0, j] + (1 - q) * L[1, j] for q in (m[0, j, 0], m[1, j, 0])))
    return best


def test_probing_with_an_uninformed_model_secures_the_optimum():
    """A world model that predicts every answer as equally likely: one exploring episode of probes secures the
    grid's optimal commitment (the kept ranges guarantee it) in nearly every game, the planner alone in half."""
    from policies.mermaide import memory_after

    problem = StackelbergProblem(GameSetup(horizon=30, levels=41, validation_games=20))
    spec = problem.net_spec
    grid = np.asarray(spec.actions)
    tasks = [t for t in problem.validation_tasks() if t.game.gap > 0.02]
    net = _net(spec)
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    params["response.net.2.weight"] = torch.zeros_like(params["response.net.2.weight"])  # U = 0: uniform answers
    params["response.net.2.bias"] = torch.cat(
        [torch.zeros(spec.action_dim * spec.n_actions + 1), torch.tensor([-30.0])]
    )
    optimum = [max(float(x @ t.game.L[:, int(np.argmax(x @ t.game.F))]) for x in grid) for t in tasks]
    reached = {}
    for probe in (True, False):
        cfg = MermaideConfig(variant="wm_only", hidden=16, width=32, lookahead=1, terminal_value=False, samples=1)
        cfg = dataclasses.replace(cfg, probe=probe, memory=True, explore=0.0)
        env = problem.make_env(tasks, 1, 3)
        first = rollout(net, params, cfg, env, len(tasks), 1, torch.Generator().manual_seed(0), explore=True)
        kept = memory_after(spec, first)
        secured = np.array([_secured(spec, kept[i, 0], t.game.L) for i, t in enumerate(tasks)])
        assert (secured <= np.array(optimum) + 1e-6).all()
        reached[probe] = np.isclose(secured, optimum, atol=1e-6)
    assert len(tasks) >= 10 and reached[True].mean() >= 0.9 and reached[True].sum() > reached[False].sum()


def test_the_loss_reads_back_the_ranges_an_episode_started_from(problem):
    """With kept ranges the loss's hull before each round is still the planner's (the first round: the memory)."""
    spec = problem.net_spec
    k = spec.n_actions
    rng = np.random.default_rng(5)
    grid = torch.as_tensor(spec.actions, dtype=torch.float32)
    feats = _random_ranges(spec, 3, rng)
    memory = torch.cat([feats.low, feats.high], -1)
    obs_l, before = [], []
    for t in range(5):
        before.append((feats.low.clone(), feats.high.clone()))
        x = grid[torch.as_tensor(rng.integers(0, len(grid), 3))]
        choice = torch.nn.functional.one_hot(torch.as_tensor(rng.integers(0, k, 3)), k).float()
        obs, feats = feats.encode(spec, x, choice, None, t, torch.zeros(3, spec.context_dim))
        obs_l.append(obs)
    low, high = hull_before(spec, torch.stack(obs_l, 1), memory)
    for t, (lo, hi) in enumerate(before):
        torch.testing.assert_close(low[:, t], lo, rtol=0, atol=0)
        torch.testing.assert_close(high[:, t], hi, rtol=0, atol=0)


class _Recording:
    """A batch environment that records the commitments it receives (rounds x (rows, D))."""

    def __init__(self, env):
        self.env, self.commitments = env, []

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, x):
        self.commitments.append(np.asarray(x).copy())
        return self.env.step(x)


@pytest.mark.parametrize("memory", [True, False])
def test_kshot_scored_episodes_start_from_the_adaptation_ranges_only_with_memory(problem, memory):
    """With memory, the K-shot scored episode starts from the ranges of every answer seen in its K adaptation
    episodes (noise-free followers: the ranges of the true answers); without, from nothing."""
    from policies.training import evaluate_kshot

    spec = problem.net_spec
    k, d = spec.n_actions, spec.action_dim
    tasks = problem.validation_tasks()[:3]
    net = _net(spec)
    cfg = MermaideConfig(variant="mermaide", hidden=16, width=32, lookahead=1, terminal_value=False, samples=1)
    cfg = dataclasses.replace(cfg, probe=True, memory=memory, adapt=["encoder.h0"], inner_lr=0.1)
    envs: dict[tuple[str, int], _Recording] = {}

    def make_env(kind: str, shot: int) -> _Recording:
        envs[kind, shot] = _Recording(problem.make_env(tasks, 1, 7 + shot))
        return envs[kind, shot]

    out = evaluate_kshot(net, cfg, make_env, len(tasks), 1, [0, 1, 2], torch.Generator())
    assert not torch.isfinite(out[0][1].memory).any()
    for shot in (1, 2):
        want_low = np.full((len(tasks), k, d), np.inf)
        want_high = -want_low
        for e in range(1, shot + 1):
            env = envs["adapt", e]
            for x, j in zip(env.commitments, env.true_actions, strict=True):
                for r in range(len(tasks)):
                    want_low[r, j[r]] = np.minimum(want_low[r, j[r]], x[r])
                    want_high[r, j[r]] = np.maximum(want_high[r, j[r]], x[r])
        got = out[shot][1].memory.reshape(len(tasks), 2, k, d).numpy()
        if memory:
            np.testing.assert_allclose(got[:, 0], want_low, atol=1e-6)
            np.testing.assert_allclose(got[:, 1], want_high, atol=1e-6)
        else:
            assert not np.isfinite(got).any()


def test_the_principal_in_the_protocol_keeps_the_ranges_as_the_rollout_does(problem, tmp_path):
    """LearnedPrincipal.adapt keeps the last adaptation episode's ranges; its next episode plays as the rollout."""
    from policies.checkpoints import save_checkpoint
    from policies.mermaide import memory_after

    cfg = MermaideConfig(variant="wm_only", hidden=16, width=32, lookahead=1, terminal_value=False, samples=1)
    cfg = dataclasses.replace(cfg, probe=True, memory=True, finetune_lr=0.0)
    net = _net(problem.net_spec, seed=3)
    path = tmp_path / "wm_only.pt"
    save_checkpoint(path, net, cfg, problem="stackelberg")
    tasks = problem.validation_tasks()
    params = dict(net.named_parameters())
    first = rollout(
        net, params, cfg, problem.make_env(tasks, 1, 11), len(tasks), 1, torch.Generator().manual_seed(5), explore=True
    )
    second = rollout(
        net, params, cfg, problem.make_env(tasks, 1, 12), len(tasks), 1, torch.Generator().manual_seed(6),
        explore=False, memory=memory_after(problem.net_spec, first),
    )  # fmt: skip
    leader = make_principal("wm_only", checkpoint=path, seed=0)
    leader._gen = torch.Generator().manual_seed(5)
    leader.explore = True
    play_episode(leader, problem.make_env(tasks, 1, 11), np.random.default_rng(0))
    leader.explore = False
    leader.adapt([leader.episode()])
    leader._gen = torch.Generator().manual_seed(6)
    rec = play_episode(leader, problem.make_env(tasks, 1, 12), np.random.default_rng(0))
    grid = np.asarray(problem.net_spec.actions)
    np.testing.assert_allclose(rec.commitments, grid[second.act.reshape(len(tasks), -1).numpy()])
    leader.reset_adaptation()
    assert leader._memory is None
