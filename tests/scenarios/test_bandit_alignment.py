"""bandit_alignment: the oracle against brute force, baselines, CLI smoke runs per principal, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policies import make_principal
from policies.baselines import oracle_incentives
from scenarios._bandit_tasks import BanditSetup, make_model, sample_test_tasks
from scenarios.bandit_alignment import ALL_PRINCIPALS, CHECKPOINT_DIR, main
from simulator import PrincipalSpec, make_learner


def test_oracle_matches_brute_force_on_a_tiny_game():
    """Epsilon-greedy agents with known estimates: the oracle's incentive equals a fine grid search."""
    rng = np.random.default_rng(0)
    n, k = 6, 3
    learner = make_learner("epsilon_greedy", n, k, rng=rng, epsilon=0.1, initial_values=rng.uniform(0, 1, (n, k)))
    spec = PrincipalSpec(
        n_actions=k,
        n_agents=n,
        lower=np.zeros(k),
        upper=np.ones(k),
        principal_values=np.array([1.0, 0.0, 0.0]),
        incentive_cost=1.0,
    )
    x = oracle_incentives(learner.action_probs, spec, n, grid=101)
    grid = np.linspace(0.0, 1.0, 20001)
    for i in range(n):
        best_r = -np.inf
        for g in grid[::10]:
            off = np.zeros((n, k))
            off[i, 0] = g
            p = learner.action_probs(off)[i]
            r = p[0] * (1.0 - g)
            if r > best_r + 1e-12:
                best_r = r
        off = np.zeros((n, k))
        off[i, 0] = x[i, 0]
        p = learner.action_probs(off)[i]
        assert p[0] * (1.0 - x[i, 0]) >= best_r - 0.011  # within the oracle's grid step
        assert x[i, 1:].sum() == 0.0


def test_oracle_beats_no_intervention():
    setup = BanditSetup(horizon=20)
    tasks = sample_test_tasks(setup, "in_distribution", 3, np.random.default_rng(1))
    none = make_model(setup, tasks, 8, 0, make_principal("none")).run(20)
    oracle = make_model(setup, tasks, 8, 0, make_principal("oracle")).run(20)
    assert oracle.ledger.to_frame().principal_return.sum() > none.ledger.to_frame().principal_return.sum()


def test_ipa_finds_the_threshold_of_a_best_responder():
    """Against agents playing argmax(theta + incentive) the binary search brackets the gap."""
    setup = BanditSetup(horizon=64, train_mix={"best_response": {}})
    from scenarios._bandit_tasks import BanditTask
    from simulator import AgentType

    means = np.array([0.2, 0.7, 0.5])
    task = BanditTask(AgentType("best_response", {}), means)
    model = make_model(setup, [task], 4, 0, make_principal("ipa"))
    model.run(64)
    x_final = model.principal.act()[:, 0]
    assert np.all(x_final >= 0.5 - 1e-9) and np.all(x_final <= 0.5 + 0.05)
    assert model.ledger.to_frame()["share_arm0"].iloc[-10:].min() == 1.0


@pytest.mark.parametrize("principal", ALL_PRINCIPALS)
def test_quick_cli_smoke_per_principal(tmp_path, principal):
    out = tmp_path / "run"
    argv = ["--quick", "--principals", principal, "--out", str(out), "--no-progress", "--retrain"]
    assert main(argv) == 0
    results = pd.read_csv(out / "results.csv")
    for col in [
        "scenario",
        "principal",
        "seed",
        "shots",
        "principal_return",
        "intervention_cost",
        "adaptation_cost",
        "target_rate",
        "setting",
        "agent_type",
        "observation",
        "normalized_score",
    ]:
        assert col in results.columns, col
    assert set(results.principal) == {principal}
    assert set(results.shots) == {0, 1}
    assert (out / "report.html").exists()


def test_same_seed_same_results(tmp_path):
    # evaluation with the shipped checkpoint (training's determinism: tests/policies/test_mermaide.py)
    argv = ["--quick", "--principals", "none,oracle,mermaide", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    a = pd.read_csv(tmp_path / "a" / "results.csv")
    b = pd.read_csv(tmp_path / "b" / "results.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--principals", "mermade"], "principals"),
        (["--shots", "-1"], "shots"),
        (["--setup.n-actions", "1"], "n_actions"),
        (["--settings", "nowhere"], "settings"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, needle):
    code = main([*argv, "--quick", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not (tmp_path / "run").exists()


def test_checkpoint_for_another_game_is_refused(tmp_path, capsys):
    """A checkpoint trained for K = 3 cannot drive a 4-armed game."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    src = CHECKPOINT_DIR / "mermaide-full.pt"  # the shipped one, trained for K = 3
    (folder / src.name).write_bytes(src.read_bytes())
    code = main(
        [
            "--quick",
            "--principals",
            "mermaide",
            "--checkpoints",
            str(folder),
            "--setup.n-actions",
            "4",
            "--out",
            str(tmp_path / "r2"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "n_actions" in err[0], err
