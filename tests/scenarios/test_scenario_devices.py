"""``--device`` on the scenarios: the torch path (``torch-cpu`` here, ``cuda`` on a GPU) gives the same run.

The counter-based random stream is the same on every device, so the households'
choices are identical; money sums agree up to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from policies import make_principal
from scenarios import bandit_alignment as B
from scenarios import green_tax as G
from scenarios._bandit_tasks import BanditProblem, BanditSetup


@pytest.mark.parametrize("principal", ["none", "pigouvian"])
def test_green_episode_same_choices_on_torch(principal):
    args = G.Args()
    mix = G.setting_mix(args.households, "headline")
    cpu, df_cpu = G.episode(args.economy, mix, 3, make_principal(principal), n=600)
    dev, df_dev = G.episode(args.economy, mix, 3, make_principal(principal), n=600, device="torch-cpu")
    shares = [c for c in df_cpu.columns if c.startswith("share_")]
    np.testing.assert_array_equal(df_cpu[shares].to_numpy(), df_dev[shares].to_numpy())
    assert dev["welfare"] == pytest.approx(cpu["welfare"], rel=1e-4)
    assert dev["tax_revenue"] == pytest.approx(cpu["tax_revenue"], rel=1e-4)


def test_bandit_episode_same_actions_on_torch():
    setup = BanditSetup()
    tasks = BanditProblem(setup).sample_tasks(2, np.random.default_rng(4))
    out = {}
    for device in ("cpu", "torch-cpu"):
        principal = make_principal("constant", incentives=[0.3, 0.0, 0.0])
        rows, rounds = B._evaluate_fixed("constant", principal, setup, tasks, 100, 11, device)
        out[device] = (pd.DataFrame(rows), rounds)
    np.testing.assert_array_equal(out["cpu"][1]["target_share"], out["torch-cpu"][1]["target_share"])
    np.testing.assert_allclose(out["cpu"][0].principal_return, out["torch-cpu"][0].principal_return, rtol=1e-6)


@pytest.mark.parametrize("main", [G.main, B.main])
def test_bad_device_is_one_line(main, tmp_path, capsys):
    code = main(["--device", "tpu", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: device:"), err
    assert not (tmp_path / "run").exists()
