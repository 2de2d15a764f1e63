"""Tests for scenarios.stackelberg: CLI smoke runs checked against independent computations, the score, the pools.

CLI runs are in-process (``main(argv)``) with ``--quick`` and ``tmp_path``; the
learned leaders load the shipped checkpoints (``scenarios/checkpoints/stackelberg``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from policies.checkpoints import load_checkpoint
from policies.stackelberg import nash_value, solve_stackelberg
from scenarios._stackelberg_games import (
    TEST_SETTINGS,
    TRAIN_CONFIGS,
    VALIDATION_SETTINGS,
    Follower,
    GameSetup,
    StackelbergEnv,
    StackelbergProblem,
    draw_game,
    evaluation_follower,
    play_episode,
    sample_games,
    train_config,
    validation_pool,
)
from scenarios.stackelberg import (
    ALL_PRINCIPALS,
    CHECKPOINT_DIR,
    acceptance,
    gap_share,
    main,
    no_gap_loss,
    noise_trend,
    rounds_to_target,
    validation_references,
)

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
    "gap",
    "gap_game",
    "normalized_score",
    "loss_vs_se",
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
    """Every row is checked against the games recomputed here, and against what a best responder allows."""
    code, out = _run(tmp_path, "run", "--principals", principal, "--noise-principals", "")
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    assert set(COMMON) <= set(df.columns)
    assert set(df.principal) == {principal}
    assert set(df.shots) == {0, 1}
    games = {g.game_id: g for g in sample_games(GameSetup(), "in_distribution", 6, 0)}
    assert set(df.game) == set(games)
    for row in df.itertuples():
        g = games[row.game]
        se = solve_stackelberg(g.L, g.F).leader_value
        ne = nash_value(g.L, g.F)
        assert row.se_value == pytest.approx(se, abs=1e-12) and row.nash_value == pytest.approx(ne, abs=1e-12)
        # against a best-responding follower no commitment beats the (strong) Stackelberg value
        assert row.principal_return <= se + 1e-9
        assert row.gap_game == (se - ne > 0.05)
        if row.gap_game:
            assert row.normalized_score == pytest.approx((row.principal_return - ne) / (se - ne), abs=1e-9)
        else:
            assert np.isnan(row.normalized_score)
        assert 0.0 <= row.target_rate <= 1.0
        assert (row.adaptation_cost == 0.0) if row.shots == 0 else (row.adaptation_cost >= -1e-9)
    for name in ("config.toml", "rounds.csv", "run.json", "report.html"):
        assert (out / name).is_file()


def test_stackelberg_leader_is_the_upper_bound_and_nash_is_below_it(tmp_path):
    code, out = _run(tmp_path, "run", "--principals", "stackelberg,nash", "--noise-principals", "", "--games", "12")
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    st = df[df.principal == "stackelberg"]
    assert (st.loss_vs_se < 0.01).all() and (st.loss_vs_se > -1e-9).all()
    assert (st.target_rate == 1.0).all()
    assert (st[st.gap_game].normalized_score > 0.95).all()


def test_same_seed_same_results(tmp_path):
    args = ["--principals", "mermaide,probing,meta_only", "--noise-principals", "mermaide"]
    _, a = _run(tmp_path, "a", *args, "--seed", "3")
    _, b = _run(tmp_path, "b", *args, "--seed", "3")
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    _, c = _run(tmp_path, "c", *args, "--seed", "4")
    assert (a / "results.csv").read_bytes() != (c / "results.csv").read_bytes()


def test_the_principal_seed_alone_changes_a_learned_leader(tmp_path):
    """Seeds vary the leader's own random numbers: same games and followers, another principal seed."""
    base = ["--principals", "meta_only", "--noise-principals", "", "--games", "6"]
    _, a = _run(tmp_path, "a", *base, "--principal-seed", "1")
    _, b = _run(tmp_path, "b", *base, "--principal-seed", "2")
    ra, rb = pd.read_csv(a / "results.csv"), pd.read_csv(b / "results.csv")
    assert list(ra.game) == list(rb.game) and list(ra.se_value) == list(rb.se_value)
    assert not np.array_equal(ra.principal_return.to_numpy(), rb.principal_return.to_numpy())


def test_bad_input_one_line_exit_2(tmp_path, capsys):
    code, _ = _run(tmp_path, "run", "--principals", "oracle_of_delphi")
    assert code == 2
    assert "unknown 'oracle_of_delphi'" in capsys.readouterr().err
    code, _ = _run(tmp_path, "run2", "--noise", "0.2,1.5")
    assert code == 2


def test_checkpoint_for_another_game_is_refused(tmp_path, capsys):
    code, _ = _run(tmp_path, "run", "--principals", "mermaide", "--setup.n-follower", "4")
    assert code == 2
    err = capsys.readouterr().err
    assert "another game" in err and "--retrain" in err and "policies.train" in err


def test_shipped_checkpoints_are_the_core_s_and_fit_the_default_game():
    spec = GameSetup().net_spec()
    total = 0
    for variant in ("mermaide", "wm_only", "meta_only", "model_free"):
        path = CHECKPOINT_DIR / f"{variant}.pt"
        state = load_checkpoint(path, expect_variant=variant, expect_spec=spec)
        assert state["config"]["variant"] == variant
        assert any("val/return" in log for log in state["logs"])  # the learning curve travels with it
        total += path.stat().st_size
    assert total < 2_000_000


def test_tuned_settings_are_the_shipped_search_s_choices():
    tuning = json.loads((CHECKPOINT_DIR / "tuning.json").read_text())
    assert tuning["scenario"] == "stackelberg"
    for variant, chosen in tuning["choices"].items():
        cfg = train_config(variant)
        for key, value in chosen.items():
            assert getattr(cfg, key) == pytest.approx(value), (variant, key)
            assert TRAIN_CONFIGS[variant][key] == pytest.approx(value)


# ------------------------------------------------------------------ the score
def _df(rows):
    return pd.DataFrame(rows).assign(
        gap_game=lambda d: d.se_value - d.nash_value > 0.05, loss_vs_se=lambda d: d.se_value - d.principal_return
    )


def test_noise_trend_says_when_the_target_is_never_reached():
    """All-censored rounds say nothing about the noise; a reached target that takes longer with noise grows."""
    rows = []
    for p_noise, rr, final in ((0.0, 40.0, 0.95), (0.2, 60.0, 0.9)):
        for seed in range(2):
            rows.append(
                {
                    "principal": "probing",
                    "noise": p_noise,
                    "seed": seed,
                    "reached": True,
                    "rounds_to_90_censored": rr,
                    "final_gap_share": final,
                }
            )
            rows.append(
                {
                    "principal": "mermaide",
                    "noise": p_noise,
                    "seed": seed,
                    "reached": False,
                    "rounds_to_90_censored": 91.0,
                    "final_gap_share": final - 0.5,
                }
            )
    trend = noise_trend(pd.DataFrame(rows))
    assert trend["mermaide"]["never"] and not trend["mermaide"]["grows"]
    assert not trend["probing"]["never"] and trend["probing"]["grows"]
    assert trend["probing"]["final"].to_dict() == pytest.approx({0.0: 0.95, 0.2: 0.9})


def test_validation_references_place_the_curves_between_nash_and_se():
    import re

    setup = GameSetup(validation_games=5)
    curves = pd.DataFrame({"principal": ["a", "a", "b"], "env_steps": [2.0, 1.0, 1.0], "val_return": [7.0, 3.0, 4.5]})
    text = validation_references(setup, curves)
    se, nash = (
        float(v) for v in re.search(r"commitment (\d+\.\d+), the leader-best Nash commitment (\d+\.\d+)", text).groups()
    )
    pool = validation_pool(setup)
    assert len(pool) == 5 * len(VALIDATION_SETTINGS) and f"({len(pool)} games" in text
    assert se == pytest.approx(np.mean([g.se_value for g in pool]) * setup.horizon, abs=0.01)
    assert se >= nash  # commitment is never worth less than the leader's best Nash equilibrium
    assert "a 3.00 at the start, 7.00 at the end; b 4.50 at the start, 4.50 at the end" in text


def test_gap_share_counts_only_gap_games():
    """A no-gap game with a large shortfall changes the loss vs SE, never the gap share."""
    rows = [
        {"principal": "a", "seed": 0, "principal_return": 0.9, "nash_value": 0.5, "se_value": 1.0},  # share 0.8
        {"principal": "a", "seed": 0, "principal_return": 0.6, "nash_value": 0.2, "se_value": 0.4},  # share 2 -> sum
        {"principal": "a", "seed": 0, "principal_return": 0.1, "nash_value": 0.7, "se_value": 0.7},  # no gap
    ]
    out = gap_share(_df(rows), ["principal"])
    assert out.gap_share.item() == pytest.approx((0.4 + 0.4) / (0.5 + 0.2))
    assert out.gap_games.item() == 2
    rows[2]["principal_return"] = -5.0
    assert gap_share(_df(rows), ["principal"]).gap_share.item() == pytest.approx((0.4 + 0.4) / (0.5 + 0.2))
    loss = no_gap_loss(_df(rows), ["principal"])
    assert loss.loss_vs_se.item() == pytest.approx(5.7) and loss.games.item() == 1


def test_acceptance_needs_both_pooled_and_per_seed_mean_and_pairs_with_wm_only():
    rows = []
    for seed, ret1 in ((0, 1.0), (1, 0.9)):  # seed 0 reaches the SE value, seed 1 half of its (smaller) gap
        for name, bonus in (("mermaide", 0.0), ("wm_only", -0.05)):
            for shots, ret in ((0, 0.0), (1, ret1 + bonus)):
                rows.append(
                    {
                        "study": "main",
                        "setting": "in_distribution",
                        "follower": "best_response",
                        "principal": name,
                        "seed": seed,
                        "shots": shots,
                        "principal_return": ret,
                        "nash_value": 0.0 if seed == 0 else 0.8,
                        "se_value": 1.0,
                        "normalized_score": np.nan,
                    }
                )
    acc = acceptance(_df(rows))
    # seed 0: gain 1 on gap 1; seed 1: gain 0.1 on gap 0.2 -> pooled 1.1 / 1.2, per seed (1 + 0.5) / 2
    assert acc["pooled"][1] == pytest.approx(1.1 / 1.2)
    assert acc["per_seed"][1].mean == pytest.approx(0.75)
    assert acc["gap_games"] == 2 and acc["met"] is False
    assert acc["vs_wm_only"].mean == pytest.approx((0.05 + 0.25) / 2)
    for r in rows:
        if r["principal"] == "mermaide" and r["shots"] == 1:
            r["principal_return"] = 1.0
    assert acceptance(_df(rows))["met"] is True


def test_rounds_to_target():
    curve = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert rounds_to_target(curve, 0.9, smooth=1) == 3.0
    assert rounds_to_target(curve, 0.9, smooth=5) == 7.0  # rounds 2..6 average 0.8, rounds 3..7 average 1
    assert rounds_to_target(np.array([1.0, 0.0, 0.0]), 0.9, smooth=5) == 1.0  # shorter window at the start
    assert np.isnan(rounds_to_target(np.zeros(5), 0.9))


# ------------------------------------------------------------------ games, pools and environment
def test_follower_payoffs_have_the_drawn_correlation():
    setup = GameSetup(n_leader=6, n_follower=8)
    rng = np.random.default_rng(0)
    for rho in (-0.5, 0.0, 0.8):
        g = [draw_game(setup, rho, rng, "x") for _ in range(200)]
        r = np.corrcoef(np.concatenate([x.L.ravel() for x in g]), np.concatenate([x.F.ravel() for x in g]))[0, 1]
        assert abs(r - rho) < 0.03


def test_validation_pool_never_overlaps_the_test_or_training_games():
    setup = GameSetup()
    val = {g.key() for g in validation_pool(setup)}
    assert len(val) == 2 * setup.validation_games
    test = {g.key() for s in TEST_SETTINGS for seed in range(10) for g in sample_games(setup, s, 60, seed)}
    test |= {g.key() for seed in range(10) for g in sample_games(setup, "in_distribution", 60, 10_000 + seed)}
    problem = StackelbergProblem(setup)
    train = {t.game.key() for t in problem.sample_tasks(2000, np.random.default_rng(0))}
    assert not val & test and not val & train and not test & train
    assert validation_pool(setup)[0].key() == validation_pool(setup)[0].key()  # a fixed pool


def test_settings_draw_the_documented_correlations():
    setup = GameSetup()
    assert all(setup.rho_low <= g.rho <= setup.rho_high for g in sample_games(setup, "in_distribution", 50, 0))
    assert all(0.3 <= g.rho <= 0.9 for g in sample_games(setup, "common_interest", 50, 0))
    problem = StackelbergProblem(setup)
    assert all(
        setup.rho_low <= t.game.rho <= setup.rho_high for t in problem.sample_tasks(50, np.random.default_rng(1))
    )


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
    p = np.array([0.3, 0.7])
    env = StackelbergEnv(games, [evaluation_follower(setup, "best_response")] * 2, 0.4, [(0, i) for i in range(2)], 400)
    rec = play_episode(_Fixed(p), env, np.random.default_rng(0))
    for r, g in enumerate(games):
        assert (rec.true_actions[r] == np.argmax(p @ g.F)).all()
        np.testing.assert_allclose(rec.payoff[r], p @ g.L[:, np.argmax(p @ g.F)])
        wrong = (rec.observed[r] != rec.true_actions[r]).mean()
        assert abs(wrong - 0.4 * 2 / 3) < 0.07  # a random replacement hits the true column 1/3 of the time


def test_rows_are_independent_of_the_batch():
    setup = GameSetup(horizon=40)
    games = sample_games(setup, "in_distribution", 3, 1)
    f = evaluation_follower(setup, "bandit")
    p = np.array([0.3, 0.7])
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
    p = np.array([0.6, 0.4])
    rec = play_episode(_Fixed(p), env, None)
    assert rec.true_actions[0, -1] == np.argmax(p @ game.F)  # the empirical mix converges to p
    assert rec.true_actions[0, 0] == np.argmax(np.full(2, 1 / 2) @ game.F)  # first round: the uniform prior


def test_policies_train_quick_on_the_stackelberg_scenario(tmp_path):
    from policies.train import main as train_main

    code = train_main(
        ["--scenario", "stackelberg", "--variant", "wm_only", "--quick", "--no-progress", "--out", str(tmp_path)]
    )
    assert code == 0
    state = load_checkpoint(tmp_path / "wm_only.pt", expect_variant="wm_only", expect_spec=GameSetup().net_spec())
    assert state["problem"] == "stackelberg"
