"""green_tax: calibration, welfare accounting, Pigouvian optimality for rational households, CLI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from policies import make_principal
from scenarios._green_economy import Economy, HouseholdMix, build_model, elasticities, pigouvian_tax, welfare_of
from scenarios.green_tax import Args, best_constant_vector, episode, main, response_sweep

SMALL = 3000


def test_elasticity_calibration_analytic():
    """Rational households: long run about -0.6, short run about -0.25 (REFERENCES.md section 3)."""
    e = elasticities(Economy(), HouseholdMix())
    assert -0.65 <= e["long_run"] <= -0.55, e
    assert -0.30 <= e["short_run"] <= -0.20, e


def test_elasticity_calibration_simulated():
    """The simulated response of a rational population matches the calibration."""
    args = Args(
        households=dataclasses.replace(HouseholdMix(), n_households=20_000),
        economy=dataclasses.replace(Economy(), horizon=12),
        response_rises=[0.1],
    )
    table = response_sweep(args, [0])
    rat = table[table.population == "rational"].iloc[0]
    assert -0.75 <= rat.long_run <= -0.45, rat.to_dict()
    assert -0.40 <= rat.short_run <= -0.12, rat.to_dict()
    assert rat.short_run > rat.long_run  # the short run responds less


def test_welfare_accounting_hand_solved():
    """Two technologies, no noise, informed households with exact best response.

    Every household has values (10, 8) and prices (6, 5): net (4, 3); emissions
    (2, 1) at SCC 1 and lambda 1.5. A subsidy of 1.5 on technology 1 moves everyone
    there: W = 3 - 1 - 0.5 * 1.5 = 1.25 per household; with no policy W = 4 - 2 = 2.
    """
    econ = Economy(
        technologies=["dirty", "clean"],
        prices=[6.0, 5.0],
        emissions=[2.0, 1.0],
        fuel_costs=[1.0, 0.0],
        clean=1,
        scc=1.0,
        mcpf=1.5,
        base_values=[10.0, 8.0],
        group_names=["all"],
        group_shares=[1.0],
        group_shifts=[[0.0, 0.0]],
        value_sd=0.0,
        reward_noise=0.0,
        switch_prob=1.0,
        horizon=2,
    )
    mix = HouseholdMix(n_households=100, rational_share=1.0, rational_temperature=0.0, learners={})
    model, _ = build_model(econ, mix, 0, make_principal("constant", incentives=[0.0, 1.5]))
    model.run(1)
    rec = model.ledger.last
    w = welfare_of(
        econ,
        {"counts": rec.counts, "private": rec.private, "paid": rec.paid, "collected": rec.collected},
        100,
        changed=False,
    )
    assert w["clean_share"] == 1.0
    assert w["welfare"] == pytest.approx(1.25)
    assert w["subsidy_cost"] == pytest.approx(1.5)
    model2, _ = build_model(econ, mix, 0, None)
    model2.run(1)
    rec = model2.ledger.last
    w2 = welfare_of(
        econ,
        {"counts": rec.counts, "private": rec.private, "paid": rec.paid, "collected": rec.collected},
        100,
        changed=False,
    )
    assert w2["welfare"] == pytest.approx(2.0)


def test_pigouvian_is_optimal_for_rational_households():
    """No free lunch: with informed households the best constant tax vector is the Pigouvian one."""
    econ = dataclasses.replace(Economy(), horizon=8)
    mix = dataclasses.replace(HouseholdMix(), rational_share=1.0, n_households=SMALL)
    best = best_constant_vector(econ, mix, 0, [-1000.0, -300.0, 0.0, 300.0, 1000.0], SMALL)
    np.testing.assert_allclose(best, -pigouvian_tax(econ))
    pig, _ = episode(econ, mix, 0, make_principal("pigouvian"), n=SMALL)
    none, _ = episode(econ, mix, 0, make_principal("none"), n=SMALL)
    assert pig["welfare"] > none["welfare"]


def test_learning_households_are_locked_in_under_pigouvian():
    """Pessimistic learners adopt the clean technology less than the same households informed."""
    econ = dataclasses.replace(Economy(), horizon=10)
    mix = dataclasses.replace(HouseholdMix(), n_households=SMALL)
    learn, _ = episode(econ, mix, 0, make_principal("pigouvian"), n=SMALL)
    from scenarios.green_tax import informed_mix

    informed, _ = episode(econ, informed_mix(mix), 0, make_principal("pigouvian"), n=SMALL)
    assert learn["clean_share"] < informed["clean_share"] - 0.05
    assert learn["welfare"] < informed["welfare"]


def test_quick_cli_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "run"
    code = main(["--quick", "--principals", "none,pigouvian,best_constant,oracle", "--out", str(out), "--no-progress"])
    assert code == 0
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
        "welfare",
        "emissions",
        "clean_share",
        "tax_revenue",
        "subsidy_cost",
        "first_best",
    ]:
        assert col in results.columns, col
    assert set(results.principal) == {"none", "pigouvian", "best_constant", "oracle"}
    assert (out / "report.html").exists() and (out / "run.json").exists() and (out / "rounds.csv").exists()
    assert not (tmp_path / "run.partial").exists()
    # the oracle plans with the true simulator over schedules that include best_constant's vector
    head = results[results.setting == "headline"].set_index("principal")
    assert head.loc["oracle", "welfare"] >= head.loc["best_constant", "welfare"] - 1e-6


def test_oracle_clean_sets_only_the_clean_rate(tmp_path):
    """oracle_clean: the planner limited to the learned governments' lever (the other rates stay Pigouvian)."""
    out = tmp_path / "run"
    argv = ["--quick", "--principals", "none,pigouvian,oracle_clean", "--settings", "headline", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 0
    rounds = pd.read_csv(out / "rounds.csv")
    results = pd.read_csv(out / "results.csv").set_index("principal")
    econ = Economy()
    pig = pigouvian_tax(econ)
    orc = rounds[rounds.principal == "oracle_clean"]
    cols = [f"tax_{name}" for name in econ.technologies]
    assert len(cols) == econ.k
    for j, col in enumerate(cols):
        if j == econ.clean:
            assert (orc[col] <= pig[j] + 1e-6).all()  # a subsidy or the Pigouvian rate, never above it
        else:
            np.testing.assert_allclose(orc[col], pig[j])
    # the Pigouvian path is one of its candidates, and it plans with the true simulator
    assert results.loc["oracle_clean", "welfare"] >= results.loc["pigouvian", "welfare"] - 1e-6


def test_learned_sentences_share_of_the_gap():
    from scenarios._green_report import learned_sentences

    rows = []
    for seed in range(3):
        for name, w in (("none", 100.0), ("oracle", 200.0), ("best_constant", 150.0), ("mermaide", 190.0)):
            rows.append(
                {
                    "setting": "headline",
                    "principal": name,
                    "shots": 1 if name == "mermaide" else 0,
                    "seed": seed,
                    "welfare": w + seed,
                    "intervention_cost": 10.0,
                }
            )
    text = learned_sentences(pd.DataFrame(rows))
    assert len(text) == 1
    assert "mermaide (1-shot)" in text[0] and "90% of the way" in text[0] and "+40 [+40, +40]" in text[0]
    assert "-5.0% vs the oracle's welfare" in text[0]


def test_same_seed_same_results(tmp_path):
    argv = ["--quick", "--principals", "none,pigouvian", "--settings", "headline", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    a = pd.read_csv(tmp_path / "a" / "results.csv")
    b = pd.read_csv(tmp_path / "b" / "results.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--economy.prices", "-1,9691,9048"], "economy.prices"),
        (["--economy.mcpf", "0.9"], "economy.mcpf"),
        (["--households.pessimistic-share", "1.5"], "households.pessimistic_share"),
        (["--economy.emissions", "4.6,3.0"], "emissions"),
        (["--principals", "pigouvain"], "principals"),
        (["--seeds", "0"], "seeds"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, field):
    out = tmp_path / "run"
    code = main([*argv, "--quick", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and field in err[0], err
    assert not out.exists() and not (tmp_path / "run.partial").exists()
