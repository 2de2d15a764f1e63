"""bandit_alignment: the planning oracle against brute force, felt and posted incentives, disjoint type pools,
the principal's own seed, CLI smoke runs per principal, bad input."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from policies import make_principal
from policies.baselines import oracle_plans
from policies.mermaide import MermaideConfig, PrincipalNet
from scenarios._bandit_tasks import (
    TEST_SETTINGS,
    BanditSetup,
    BanditTask,
    make_model,
    sample_test_tasks,
    training_pool,
    validation_pool,
)
from scenarios.bandit_alignment import ALL_PRINCIPALS, Args, EvalTask, evaluate_task, main
from simulator import AgentType

MEANS = np.array([0.2, 0.7, 0.6])


def _greedy_task(priors: list[float], weight: float = 1.0) -> BanditTask:
    params = {"epsilon": 0.0, "initial_values": priors, "prior_weight": weight}
    return BanditTask(AgentType("epsilon_greedy", params, "greedy"), MEANS.copy())


def _reference_return(setup: BanditSetup, priors: list[float], weight: float, levels: tuple[float, ...]) -> float:
    """A noise-free greedy sample-average agent, simulated by hand for one sequence of target incentives."""
    q = np.array(priors, dtype=float)
    n = np.zeros(3)
    total = 0.0
    for b in levels:
        scores = q + (np.array([b, 0.0, 0.0]) if setup.posted else 0.0)
        a = int(np.argmax(scores))
        paid = b if a == 0 else 0.0
        total += (1.0 if a == 0 else 0.0) - paid
        learned = MEANS[a] + (0.0 if setup.posted else paid)  # felt incentives are learned from
        n[a] += 1
        q[a] += (learned - q[a]) / (weight + n[a])
    return total


@pytest.mark.parametrize("posted", [False, True])
@pytest.mark.parametrize("priors", [[0.6, 0.5, 0.4], [0.3, 0.5, 0.4], [0.55, 0.52, 0.1]])
def test_planning_oracle_matches_brute_force_on_a_tiny_horizon(posted, priors):
    """Every plan's simulated value equals the hand-simulated return, and the oracle's episode is the optimum."""
    setup = BanditSetup(horizon=3, levels=3, reward_noise=0.0, posted=posted)
    levels = setup.incentive_levels()
    task = _greedy_task(priors)
    oracle = make_principal("oracle", levels=setup.action_set(), samples=1)
    make_model(setup, [task], 1, 0, oracle)  # attaches and resets the oracle at round 0
    plans = oracle_plans(3, 3, 0, oracle.exhaustive)
    assert len(plans) == 27  # every sequence
    values = oracle.plan_values(plans)[0]
    brute = np.array([_reference_return(setup, priors, 1.0, tuple(levels[list(p)])) for p in plans])
    np.testing.assert_allclose(values, brute, atol=1e-6)
    played = make_model(setup, [task], 1, 0, make_principal("oracle", levels=setup.action_set(), samples=1)).run(3)
    assert played.ledger.to_frame().principal_return.sum() == pytest.approx(brute.max(), abs=1e-6)


def test_felt_and_posted_incentives_change_the_agent_as_documented():
    """Posted: the choice shifts with this round's incentive, and the agent learns its private reward only.
    Felt: this round's choice ignores the incentive, and the reward learned from includes it."""
    priors = [0.45, 0.5, 0.4]
    for posted, first_action, learned in [(True, 0, MEANS[0]), (False, 1, MEANS[1])]:
        setup = BanditSetup(horizon=3, reward_noise=0.0, posted=posted)
        model = make_model(setup, [_greedy_task(priors)], 1, 0, make_principal("constant", incentives=[0.3, 0, 0]))
        model.step()
        assert int(model.last_actions[0]) == first_action
        q = model.population.estimates()[0]
        assert q[first_action] == pytest.approx((priors[first_action] + learned) / 2, abs=1e-6)
    # felt: a target the agent already plays is learned with the incentive on top
    setup = BanditSetup(horizon=3, reward_noise=0.0, posted=False)
    model = make_model(setup, [_greedy_task([0.6, 0.5, 0.4])], 1, 0, make_principal("constant", incentives=[0.3, 0, 0]))
    model.step()
    assert int(model.last_actions[0]) == 0
    assert model.population.estimates()[0][0] == pytest.approx((0.6 + 0.2 + 0.3) / 2, abs=1e-6)


def test_the_three_pools_never_overlap():
    setup = BanditSetup()
    train = {t.key() for t in training_pool(setup)}
    val = {t.key() for t in validation_pool(setup)}
    test = {t.key() for s in range(50) for name in TEST_SETTINGS for t in sample_test_tasks(setup, name, 10, s)}
    assert len(train) == setup.train_types and len(val) == 2 * setup.validation_types
    assert not (train & val) and not (train & test) and not (val & test)
    # the pools are fixed by their streams: drawing again gives the same types
    assert {t.key() for t in validation_pool(setup)} == val


def test_held_out_settings_lie_outside_the_training_ranges():
    setup = BanditSetup()
    for t in sample_test_tasks(setup, "pessimistic", 20, 0):
        assert t.agent_type.params["initial_values"] <= -0.5 and t.agent_type.params["prior_weight"] >= 4
    assert {t.agent_type.params["epsilon"] for t in sample_test_tasks(setup, "explorative", 10, 0)} == {0.4}
    train_families = {t.agent_type.family for t in training_pool(setup)}
    assert {t.agent_type.family for t in sample_test_tasks(setup, "unseen_family", 10, 0)}.isdisjoint(train_families)


def test_planning_oracle_beats_every_other_principal_on_average():
    setup = BanditSetup(horizon=20)
    tasks = sample_test_tasks(setup, "in_distribution", 4, 1)
    returns = {}
    for name, kw in [
        ("none", {}),
        ("constant", {"incentives": [0.5, 0, 0]}),
        ("oracle", {"levels": setup.action_set()}),
    ]:
        model = make_model(setup, tasks, 8, 0, make_principal(name, **kw)).run(20)
        returns[name] = model.ledger.to_frame().principal_return.sum()
    assert returns["oracle"] > max(returns["none"], returns["constant"])


def test_ipa_finds_the_threshold_of_a_best_responder():
    """Against agents playing argmax(theta + incentive) the binary search brackets the gap (posted game)."""
    setup = BanditSetup(horizon=64, posted=True, train_mix={"best_response": {}})
    task = BanditTask(AgentType("best_response", {}), np.array([0.2, 0.7, 0.5]))
    model = make_model(setup, [task], 4, 0, make_principal("ipa"))
    model.run(64)
    x_final = model.principal.act()[:, 0]
    assert np.all(x_final >= 0.5 - 1e-9) and np.all(x_final <= 0.5 + 0.05)
    assert model.ledger.to_frame()["share_arm0"].iloc[-10:].min() == 1.0


def _tiny_learned(setup: BanditSetup, variant: str):
    cfg = MermaideConfig(variant=variant, hidden=8, width=8, samples=1, lookahead=2)
    net = PrincipalNet(setup.net_spec(), cfg.hidden, cfg.width, generator=torch.Generator().manual_seed(0))
    return make_principal(variant, net=net, config=cfg)


@pytest.mark.parametrize("variant", ["mermaide", "model_free"])
def test_an_evaluation_changes_when_only_the_principal_s_seed_changes(variant):
    setup = BanditSetup(horizon=10)
    args = Args(principals=["none", variant], shots=[0, 1], test_types=2, agents_per_type=3, setup=setup)
    learned = {"full": {variant: _tiny_learned(setup, variant)}}

    def rows(principal_seed):
        task = EvalTask(
            dataclasses.replace(args, principal_seed=principal_seed, observations=["full"]), 0, "explorative", learned
        )
        return pd.DataFrame(evaluate_task(task)[0]).set_index(["principal", "shots", "type_index"])

    a, b, c = rows(1), rows(1), rows(2)
    pd.testing.assert_frame_equal(a, b)
    assert a.loc["none"].equals(c.loc["none"])  # the agents are the same
    # its exploring adaptation episodes (and, for a policy, its draws in scored episodes) follow its own seed
    cols = ["principal_return", "adaptation_cost", "intervention_cost"]
    assert not a.loc[variant][cols].equals(c.loc[variant][cols])


@pytest.mark.parametrize("principal", [p for p in ALL_PRINCIPALS if p != "oracle_myopic"])
def test_quick_cli_smoke_per_principal(tmp_path, principal):
    out = tmp_path / "run"
    argv = ["--quick", "--principals", f"none,oracle,{principal}", "--out", str(out), "--no-progress", "--retrain"]
    assert main(argv) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results.principal) == {"none", "oracle", principal}
    mine = results[results.principal == principal]
    learned = principal in ("mermaide", "wm_only", "meta_only", "model_free")
    assert set(mine.shots) == ({0, 1} if learned else {0})
    assert (mine[mine.shots == 0].adaptation_cost == 0).all() and (mine.adaptation_cost >= 0).all()
    horizon = Args().setup.horizon
    assert mine.principal_return.between(-horizon, horizon).all()
    assert mine.target_rate.between(0, 1).all()
    scored = results[results.gap >= 1.0]
    assert (scored[scored.principal == "oracle"].normalized_score == 1.0).all()
    assert (scored[scored.principal == "none"].normalized_score == 0.0).all()
    assert (results[results.principal == "none"].intervention_cost == 0).all()
    report = (out / "report.html").read_text()
    assert "Returns and costs" in report
    if learned:
        assert (out / "learning-curves.png").exists()


def test_oracle_myopic_needs_posted_incentives(tmp_path, capsys):
    code = main(["--quick", "--principals", "none,oracle_myopic", "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "posted" in err[0]
    out = tmp_path / "posted"
    argv = ["--quick", "--principals", "none,oracle_myopic", "--setup.posted", "--out", str(out), "--no-progress"]
    assert main(argv) == 0


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """A folder of small trained checkpoints (two updates each) for the full observation setting."""
    folder = tmp_path_factory.mktemp("ckpt")
    from policies import train as train_cli

    argv = ["--scenario", "bandit_alignment", "--variant", "all", "--observations", "full", "--quick"]
    assert train_cli.main([*argv, "--threads", "1", "--no-progress", "--out", str(folder)]) == 0
    return folder


def test_same_seed_same_results(tmp_path, tiny_checkpoints):
    # evaluation from checkpoints (training's determinism: tests/policies/test_mermaide.py)
    argv = ["--quick", "--principals", "none,oracle,mermaide,model_free", "--no-progress"]
    argv += ["--checkpoints", str(tiny_checkpoints)]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    a = pd.read_csv(tmp_path / "a" / "results.csv")
    b = pd.read_csv(tmp_path / "b" / "results.csv")
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "a" / "learning-curves.png").exists()  # the checkpoints keep their validation curves


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--principals", "mermade"], "principals"),
        (["--shots", "-1"], "shots"),
        (["--setup.n-actions", "1"], "n_actions"),
        (["--settings", "nowhere"], "settings"),
        (["--setup.train-mix", '{"epsilon_greedy": {"epsilon": [0.3, 0.1]}}'], "train_mix"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, needle):
    code = main([*argv, "--quick", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not (tmp_path / "run").exists()


def test_checkpoint_for_another_game_is_refused(tmp_path, capsys, tiny_checkpoints):
    """A checkpoint trained for 11 incentive levels cannot drive a game with 5."""
    argv = ["--quick", "--principals", "mermaide", "--checkpoints", str(tiny_checkpoints), "--setup.levels", "5"]
    code = main([*argv, "--out", str(tmp_path / "r2"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "actions" in err[0], err


def test_missing_checkpoints_say_how_to_train_them(tmp_path, capsys):
    argv = ["--quick", "--principals", "mermaide", "--checkpoints", str(tmp_path / "empty")]
    code = main([*argv, "--out", str(tmp_path / "r3"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not exist" in err[0] and "python -m policies.train" in err[0], err


def test_brute_force_reference_is_not_trivial():
    """The tiny game's plans differ in value (the oracle test is not comparing constants)."""
    setup = BanditSetup(horizon=3, levels=3, reward_noise=0.0, posted=False)
    values = {_reference_return(setup, [0.6, 0.5, 0.4], 1.0, s) for s in itertools.product((0.0, 0.5, 1.0), repeat=3)}
    assert len(values) > 3


def test_principals_that_do_not_observe_play_once_for_every_observation_setting():
    setup = BanditSetup(horizon=8)
    args = Args(principals=["none", "oracle", "ipa"], test_types=2, agents_per_type=3, setup=setup, oracle_samples=2)
    args = dataclasses.replace(args, observations=["full", "noisy"])
    rows = pd.DataFrame(evaluate_task(EvalTask(args, 0, "in_distribution"))[0])
    by = rows.set_index(["principal", "observation", "type_index"]).principal_return.sort_index()
    for p in ("none", "oracle"):
        assert by.loc[p, "full"].equals(by.loc[p, "noisy"])
    assert set(rows.observation) == {"full", "noisy"} and len(rows) == 3 * 2 * 2


def test_training_settings_are_the_validation_search_s_choices():
    """The shipped training settings are the ones the shipped validation search chose (tuning.json)."""
    import json
    from pathlib import Path

    from scenarios import _bandit_tasks

    tuning = json.loads(
        (Path(_bandit_tasks.__file__).parent / "checkpoints" / "bandit_alignment" / "tuning.json").read_text()
    )
    assert tuning["scenario"] == "bandit_alignment"
    assert set(tuning["choices"]) == set(_bandit_tasks.TRAIN_CONFIGS)
    for variant, chosen in tuning["choices"].items():
        cfg = _bandit_tasks.train_config(variant, "full")
        for key, value in chosen.items():
            assert getattr(cfg, key) == pytest.approx(value), (variant, key)
