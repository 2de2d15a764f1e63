"""green_tax: the CLI, the run folder, the principals' paths, the report's sentences, the response sweep."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from scenarios.green_tax import Args, main, response_sweep
from scenarios.green_tax.economy import SETTINGS, Economy, HouseholdMix, setting_mix


def test_response_sweep_elasticities_and_their_split():
    """Informed households: the short run mostly from miles, the long run mostly from the fleet; the split adds up."""
    args = Args(
        households=dataclasses.replace(HouseholdMix(), n_households=8000),
        economy=dataclasses.replace(Economy(), horizon=12),
        response_rises=[0.2],
    )
    table, rounds = response_sweep(args, [0])
    informed = table[table.population == "informed"].iloc[0]
    for run in ("short_run", "long_run"):
        assert informed[run] == pytest.approx(informed[f"{run}_miles"] + informed[f"{run}_fleet"])
    assert -0.34 <= informed.short_run <= -0.034  # published short-run range (Brons; Hughes et al.)
    assert abs(informed.short_run_miles) > abs(informed.short_run_fleet)
    assert abs(informed.long_run_fleet) > abs(informed.short_run_fleet)  # the fleet adjusts over the years
    assert informed.long_run < informed.short_run
    assert {"population", "seed", "price_rise", "round", "gasoline"} <= set(rounds.columns)
    assert len(rounds) == 2 * 2 * 12  # populations x (untaxed + one rise) x years


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


def test_oracle_clean_sets_only_the_electric_subsidy(tmp_path):
    """oracle_clean: the planner limited to an electric-car subsidy on top of the Pigouvian carbon tax."""
    out = tmp_path / "run"
    argv = ["--quick", "--principals", "none,pigouvian,oracle_clean", "--settings", "headline", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 0
    rounds = pd.read_csv(out / "rounds.csv")
    results = pd.read_csv(out / "results.csv").set_index("principal")
    econ = Economy()
    orc = rounds[rounds.principal == "oracle_clean"]
    pig = rounds[rounds.principal == "pigouvian"]
    for j, tech in enumerate(econ.technologies):
        assert (orc[f"tax_{tech}"] == 0).all()
        if j != econ.clean:
            assert (orc[f"subsidy_{tech}"] == 0).all()
    assert (orc[f"subsidy_{econ.technologies[econ.clean]}"] >= 0).all()
    np.testing.assert_allclose(orc.carbon_tax.to_numpy(), pig.carbon_tax.to_numpy())  # the Pigouvian carbon tax
    assert (rounds[rounds.principal == "none"].carbon_tax == 0).all()
    # the Pigouvian path is one of its candidates, and it plans with the true simulator
    assert results.loc["oracle_clean", "welfare"] >= results.loc["pigouvian", "welfare"] - 1e-6


def _results(rows):
    return pd.DataFrame(
        [
            {
                "setting": "headline",
                "principal": p,
                "shots": s,
                "seed": seed,
                "welfare": w + dw,
                "subsidy_cost": 10.0,
                "first_best": 300.0 + seed,
            }
            for seed, dw in enumerate((0.0, 1.0, 3.0))
            for p, s, w in rows
        ]
    )


def test_learned_sentences_share_of_the_gap():
    from scenarios.green_tax.report import learned_sentences

    rows = [("none", 0, 100.0), ("oracle", 0, 200.0), ("best_constant", 0, 150.0), ("mermaide", 1, 190.0)]
    text = learned_sentences(_results(rows))
    assert len(text) == 1
    assert "mermaide (1-shot)" in text[0] and "90% of the way from none to the oracle" in text[0]
    assert "vs best_constant +40 [+40, +40]" in text[0] and "vs the oracle -10 [-10, -10]" in text[0]
    assert "subsidy outlay 10 (oracle 10)" in text[0] and "intervention cost" not in text[0]


def test_kshot_sentences_say_whether_the_curve_rises():
    from scenarios.green_tax.report import kshot_sentences

    res = _results([("none", 0, 100.0), ("mermaide", 0, 100.0), ("mermaide", 1, 120.0), ("wm_only", 0, 100.0)])
    res = pd.concat([res, _results([("wm_only", 1, 100.0)]).assign(welfare=lambda d: 100.0 + d.seed % 2 * 4 - 2)])
    text = kshot_sentences(res)
    assert len(text) == 2, text  # 'none' and single-K principals get no curve
    (mer,) = [t for t in text if "mermaide" in t]
    assert "K=0 101" in mer and "K=1 121 (+20 [+20, +20] vs K=0)" in mer and mer.endswith("rises beyond noise (K=1).")
    (wm,) = [t for t in text if "wm_only" in t]
    assert wm.endswith("does not rise beyond noise.")
    res = pd.concat([res, _results([("mermaide", 2, 90.0)])])  # up at K = 1, down at K = 2
    (mer,) = [t for t in kshot_sentences(res) if "mermaide" in t]
    assert mer.endswith("rises beyond noise (K=1) but falls beyond noise at K=2."), mer


def test_no_share_of_a_gap_within_noise():
    """The oracle no better than no policy beyond noise: no percentage (it once printed '-286% of the way')."""
    from scenarios.green_tax.report import learned_sentences

    res = _results([("none", 0, 100.0), ("oracle", 0, 100.0), ("mermaide", 0, 95.0)])
    res.loc[(res.principal == "oracle") & (res.seed == 1), "welfare"] += 5.0  # noise, not a gap
    res.loc[(res.principal == "oracle") & (res.seed == 2), "welfare"] -= 5.0
    text = learned_sentences(res)[0]
    assert "within noise" in text and "%" not in text.split("within noise")[0].split("$/household,")[1]


def test_exact_ties_are_named_together():
    from scenarios.green_tax.report import _sentences

    res = _results([("none", 0, 100.0), ("pigouvian", 0, 200.0), ("best_constant", 0, 200.0), ("oracle", 0, 200.0)])
    text = _sentences(res)[0]
    assert "highest welfare under best_constant, oracle, pigouvian" in text and "tied" in text
    assert "informed first best (the welfare of the same households, informed" in text  # defined where used
    assert "e+" not in text  # no scientific notation


def test_settings_share_the_households_preferences():
    """Every setting keeps the configured households' ownership intercepts: they differ in knowledge only."""
    from scenarios.green_tax.economy import calibrate_ownership, pin_ownership

    econ, base = Economy(), HouseholdMix()
    alpha = calibrate_ownership(econ, base)
    for setting in SETTINGS:
        mix = pin_ownership(econ, base, setting_mix(base, setting))
        np.testing.assert_allclose(calibrate_ownership(econ, mix), alpha)


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
        (["--economy.prices", "0,-1,8056,8448"], "economy.prices"),
        (["--economy.mcpf", "0.9"], "economy.mcpf"),
        (["--households.pessimistic-share", "1.5"], "households.pessimistic_share"),
        (["--economy.mpg", "0,22"], "mpg"),
        (["--economy.discount", "0.03"], "discount"),
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


def test_validation_populations_are_disjoint_from_the_reported_ones():
    """Tuning happens on validation populations only: none equals a reported setting or shares its seeds."""
    from scenarios._green_learning import VALIDATION_SEEDS, GreenProblem, validation_populations

    econ, base = Economy(), HouseholdMix()
    val = validation_populations(econ, base)
    assert len(val) == 8 and len({t.label for t in val}) == 8
    assert sum(t.label.startswith("validation-in") for t in val) == 4  # from the training distribution
    reported = [setting_mix(base, s) for s in SETTINGS]

    def same(a, b):  # the same population, whatever the size
        return dataclasses.replace(a, n_households=0, ownership_intercepts=[]) == dataclasses.replace(
            b, n_households=0, ownership_intercepts=[]
        )

    for task in val:
        assert not any(same(task.mix, r) for r in reported), task.label
    # drawn from their own seeded stream: the same set every time, and not the training stream's first draws
    again = validation_populations(econ, base)
    assert [t.mix for t in again] == [t.mix for t in val] and [t.value_sd for t in again] == [t.value_sd for t in val]
    train = GreenProblem(econ, base).sample_tasks(4, np.random.default_rng(0))
    assert all(not same(v.mix, t.mix) for v in val for t in train)
    # their evaluation seeds lie far above any reported run's (the CLI's seeds start at 0)
    assert min(VALIDATION_SEEDS) >= 1_000_000 and Args().seed + Args().seeds < min(VALIDATION_SEEDS)
    # the out-of-distribution ones lie outside the training ranges, and short of the held-out deep_pessimism
    deeper = next(t for t in val if t.label == "validation-deeper-pessimism").mix
    assert 3000 < deeper.pessimism_depth < setting_mix(base, "deep_pessimism").pessimism_depth
    families = {f for t in val if not t.label.startswith("validation-in") for f in t.mix.learners}
    assert {"ucb1", "ewa"} <= families and "thompson" not in families


def test_training_populations_apply_their_value_sd_and_validation_is_the_problems_pool():
    """value_sd drawn per training population reaches its economy; the core's validation pool is the validation set."""
    from scenarios._green_learning import GreenProblem, validation_populations

    econ, base = Economy(), HouseholdMix()
    problem = GreenProblem(econ, base, n_households=50)
    tasks = problem.sample_tasks(3, np.random.default_rng(1))
    sds = [t.value_sd for t in tasks]
    assert len(set(sds)) == 3 and all(0.75 * econ.value_sd <= s <= 1.25 * econ.value_sd for s in sds)
    env = problem.make_env(tasks, 1, seed=0)
    assert [m.econ.value_sd for m in env.models] == sds and [m.econ.value_sd for m in env.twins] == sds
    pool = problem.validation_tasks()
    assert [t.label for t in pool] == [t.label for t in validation_populations(econ, base)]
    assert all(t.mix.n_households == 50 for t in pool)


def test_adaptation_learns_from_the_welfare_gain_it_was_trained_on(monkeypatch):
    """An adaptation episode's reward is each year's welfare minus the Pigouvian twin's, per household (as in
    training), not the observation's total welfare."""
    from policies import make_principal
    from scenarios import _green_learning as gl
    from scenarios.green_tax.cli import episode

    econ = dataclasses.replace(Economy(), burn_in=3, horizon=20)
    mix = dataclasses.replace(HouseholdMix(), n_households=60)
    principal = make_principal(
        "model_free", checkpoint=gl.Path(gl.__file__).parent / "checkpoints/green_tax/model_free.pt"
    )
    seen = []
    monkeypatch.setattr(principal, "adapt", lambda eps: seen.append(eps[-1]))
    played = []

    def recording_episode(e, m, s, p, n=None):
        totals, df = episode(e, m, s, p, n=n)
        played.append((s, p, df))
        return totals, df

    out = gl.evaluate_learned(principal, econ, mix, 7, 60, [0, 1], recording_episode)
    assert [k for k, *_ in out] == [0, 1] and len(seen) == 1
    adapt_seed = 7 + 100_003
    (df,) = [d for s, p, d in played if s == adapt_seed and p is principal]
    (twin,) = [d for s, p, d in played if s == adapt_seed and p is not principal]
    want = df.welfare.to_numpy() - twin.welfare.to_numpy()
    np.testing.assert_allclose(seen[0].reward.numpy().ravel(), want, rtol=1e-5, atol=1e-3)
    # the twin plays no vehicle incentive on the same households: its welfare differs only by the policy
    assert np.abs(want).max() < 0.1 * np.abs(df.welfare.to_numpy()).max()
