"""Tests for scenarios.stackelberg: CLI smoke runs, determinism, bad input, the environment, the metrics.

CLI runs are in-process (``main(argv)``) with ``--quick`` and ``tmp_path``; the
learned leaders load the shipped checkpoints (``scenarios/checkpoints/stackelberg``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policies.stackelberg_principals import load_leader
from scenarios._stackelberg_games import (
    Follower,
    GameSetup,
    StackelbergEnv,
    StackelbergProblem,
    draw_game,
    evaluation_follower,
    play_episode,
    sample_games,
)
from scenarios.stackelberg import ALL_PRINCIPALS, CHECKPOINT_DIR, acceptance, gap_share, main, rounds_to_target

COMMON = [
    "scenario",
    "principal",
    "seed",
    "shots",
    "principal_return",
    "intervention_cost",
    "adaptation_cost",
    "target_rate",
    "se_value",
    "nash_value",
    "gap_to_se",
    "setting",
    "noise",
    "game",
]


def _run(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(["--quick", "--no-progress", "--out", str(out), *extra])
    return code, out


# ------------------------------------------------------------------ CLI
@pytest.mark.parametrize("principal", ALL_PRINCIPALS)
def test_quick_smoke_per_principal(tmp_path, principal):
    code, out = _run(tmp_path, "run", "--principals", principal)
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    assert set(COMMON) <= set(df.columns)
    assert set(df.principal) == {principal}
    assert set(df[df.study == "main"].shots) == {0, 1}
    assert np.isfinite(df.principal_return).all()
    assert (df.gap_to_se == df.se_value - df.principal_return).all()
    for name in ("config.toml", "rounds.csv", "run.json", "report.html"):
        assert (out / name).is_file()


def test_stackelberg_leader_is_the_upper_bound(tmp_path):
    code, out = _run(tmp_path, "run", "--principals", "stackelberg,nash", "--games", "6")
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    st = df[df.principal == "stackelberg"]
    assert (st.gap_to_se < 0.01).all() and (st.gap_to_se > -1e-9).all()
    assert (st.target_rate == 1.0).all()


def test_same_seed_same_results(tmp_path):
    args = ["--principals", "mermaide,probing,meta_only", "--seed", "3"]
    _, a = _run(tmp_path, "a", *args)
    _, b = _run(tmp_path, "b", *args)
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    _, c = _run(tmp_path, "c", "--principals", "mermaide,probing,meta_only", "--seed", "4")
    assert (a / "results.csv").read_bytes() != (c / "results.csv").read_bytes()


def test_bad_input_one_line_exit_2(tmp_path, capsys):
    code, _ = _run(tmp_path, "run", "--principals", "oracle_of_delphi")
    assert code == 2
    assert "unknown 'oracle_of_delphi'" in capsys.readouterr().err
    code, _ = _run(tmp_path, "run2", "--noise", "0.2,1.5")
    assert code == 2


def test_checkpoint_for_another_game_size_is_refused(tmp_path, capsys):
    code, _ = _run(tmp_path, "run", "--principals", "mermaide", "--setup.n-leader", "4")
    assert code == 2
    err = capsys.readouterr().err
    assert "n_leader" in err and "--retrain" in err


def test_shipped_checkpoints_load_and_are_small():
    total = 0
    for variant in ("mermaide", "wm_only", "meta_only", "model_free"):
        path = CHECKPOINT_DIR / f"{variant}.pt"
        _, cfg = load_leader(path, expect_variant=variant)
        assert cfg.variant == variant
        total += path.stat().st_size
    assert total < 2_000_000


@pytest.mark.slow
def test_train_only_writes_loadable_checkpoints(tmp_path):
    code = main(
        [
            "--quick",
            "--no-progress",
            "--train-only",
            "--principals",
            "mermaide,model_free",
            "--save-checkpoints",
            str(tmp_path),
        ]
    )
    assert code == 0
    for variant in ("mermaide", "model_free"):
        load_leader(tmp_path / f"{variant}.pt", expect_variant=variant)


# ------------------------------------------------------------------ metrics
def test_rounds_to_target():
    curve = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert rounds_to_target(curve, 0.9, smooth=1) == 3.0
    assert rounds_to_target(curve, 0.9, smooth=5) == 7.0  # rounds 2..6 average 0.8, rounds 3..7 average 1
    assert rounds_to_target(np.array([1.0, 0.0, 0.0]), 0.9, smooth=5) == 1.0  # shorter window at the start
    assert np.isnan(rounds_to_target(np.zeros(5), 0.9))


def test_gap_share_is_a_ratio_of_sums():
    df = pd.DataFrame(
        {
            "principal": ["a"] * 3,
            "seed": [0, 0, 0],
            "principal_return": [1.0, 0.5, 0.7],
            "nash_value": [0.0, 0.5, 0.7],
            "se_value": [2.0, 0.5, 0.7],
        }
    )
    out = gap_share(df, ["principal"])
    assert out.gap_share.item() == pytest.approx(0.5)


# ------------------------------------------------------------------ games and environment
def test_follower_payoffs_have_the_drawn_correlation():
    setup = GameSetup(n_leader=8, n_follower=8)
    rng = np.random.default_rng(0)
    for rho in (-0.5, 0.0, 0.8):
        g = [draw_game(setup, rho, rng, "x") for _ in range(200)]
        r = np.corrcoef(np.concatenate([x.L.ravel() for x in g]), np.concatenate([x.F.ravel() for x in g]))[0, 1]
        assert abs(r - rho) < 0.03


def test_test_games_differ_from_training_games():
    setup = GameSetup()
    a = sample_games(setup, "in_distribution", 5, 0)
    b = sample_games(setup, "ood_correlation", 5, 0)
    train = StackelbergProblem(setup).sample_tasks(5, np.random.default_rng([0, 17]))
    assert not any(np.allclose(x.L, y.L) for x in a for y in b)
    assert not any(np.allclose(x.L, t.game.L) for x in a for t in train)
    assert all(0.6 <= abs(g.rho) <= 0.9 for g in b)


class _Fixed:
    """A leader that always commits to the same strategy per row."""

    def __init__(self, p):
        self.p = np.asarray(p, dtype=float)

    def reset(self, spec, rng):
        self.rows = spec.n_agents

    def act(self):
        return np.broadcast_to(self.p, (self.rows, self.p.shape[-1])).copy()

    def observe(self, obs):
        pass


def test_best_responder_plays_the_argmax_and_noise_has_its_rate():
    setup = GameSetup(horizon=400)
    games = sample_games(setup, "in_distribution", 2, 0)
    p = np.array([0.2, 0.5, 0.3])
    env = StackelbergEnv(games, [evaluation_follower(setup, "best_response")] * 2, 0.4, [(0, i) for i in range(2)], 400)
    rec = play_episode(_Fixed(p), env, np.random.default_rng(0))
    for r, g in enumerate(games):
        assert (rec.true_actions[r] == np.argmax(p @ g.F)).all()
        wrong = (rec.observed[r] != rec.true_actions[r]).mean()
        assert abs(wrong - 0.4 * 2 / 3) < 0.07  # a random replacement hits the true column 1/3 of the time


def test_rows_are_independent_of_the_batch():
    setup = GameSetup(horizon=40)
    games = sample_games(setup, "in_distribution", 3, 1)
    f = evaluation_follower(setup, "bandit")
    p = np.array([0.3, 0.3, 0.4])
    full = play_episode(_Fixed(p), StackelbergEnv(games, [f] * 3, 0.2, [(5, i) for i in range(3)], 40), None)
    one = play_episode(_Fixed(p), StackelbergEnv(games[1:2], [f], 0.2, [(5, 1)], 40), None)
    np.testing.assert_array_equal(full.true_actions[1], one.true_actions[0])
    np.testing.assert_array_equal(full.observed[1], one.observed[0])


def test_fictitious_play_responds_to_the_empirical_mix():
    setup = GameSetup(horizon=200)
    game = sample_games(setup, "in_distribution", 1, 2)[0]
    env = StackelbergEnv(
        [game], [Follower("fictitious_play", {"prior_weight": 1.0, "observes": "commitment"})], 0.0, [(0, 0)], 200
    )
    p = np.array([0.6, 0.1, 0.3])
    rec = play_episode(_Fixed(p), env, None)
    assert rec.true_actions[0, -1] == np.argmax(p @ game.F)  # the empirical mix converges to p
    assert rec.true_actions[0, 0] == np.argmax(np.full(3, 1 / 3) @ game.F)  # first round: the uniform prior


def test_acceptance_pools_over_games_and_reports_seeds():
    """The verdict uses the share over all games; the per-seed shares come with their interval."""
    rows = []
    for seed, ret1 in ((0, 1.0), (1, 0.9)):  # seed 0 reaches the SE value, seed 1 half of its (larger) gap
        for shots, ret in ((0, 0.0), (1, ret1)):
            rows.append(
                {
                    "study": "main",
                    "setting": "in_distribution",
                    "follower": "best_response",
                    "principal": "mermaide",
                    "seed": seed,
                    "shots": shots,
                    "principal_return": ret,
                    "nash_value": 0.0 if seed == 0 else 0.8,
                    "se_value": 1.0,
                }
            )
    acc = acceptance(pd.DataFrame(rows))
    # seed 0: gain 1 on gap 1; seed 1: gain 0.1 on gap 0.2 -> pooled 1.1 / 1.2, per seed (1 + 0.5) / 2
    assert acc["pooled"][1] == pytest.approx(1.1 / 1.2)
    assert acc[1].mean == pytest.approx(0.75)
    assert acc["games"] == 2 and acc["met"] is False
    rows[1]["principal_return"] = rows[3]["principal_return"] = 1.0
    assert acceptance(pd.DataFrame(rows))["met"] is True
