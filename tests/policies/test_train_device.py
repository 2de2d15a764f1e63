"""Training rollouts on a device backend give the same checkpoint as on the numba path (same random streams).

``torch-cpu`` runs the same torch code as ``cuda``; the counter-based random stream makes the agents'
actions identical. bandit_alignment's rewards are then identical too, and the trained weights are equal
bit for bit. green_tax's households carry logit taste shocks, ``-log(-log(u))``, whose float32 ``log``
differs by an ulp between libm (numba) and the device path for a few arguments in 10,000 (documented in
:mod:`simulator._torch_backend`): the same choices, welfare sums that agree to float rounding, and
weights that agree to about 1e-8.
"""

from __future__ import annotations

import pytest
import torch

from policies import train as train_cli

pytest.importorskip("torch")


@pytest.mark.parametrize(("scenario", "name"), [("bandit_alignment", "mermaide-full"), ("green_tax", "wm_only")])
def test_device_rollouts_give_the_same_checkpoint(tmp_path, scenario, name):
    variant = name.split("-")[0]
    states = []
    for device in ("cpu", "torch-cpu"):
        out = tmp_path / device
        argv = ["--scenario", scenario, "--variant", variant, "--quick", "--threads", "1", "--device", device]
        obs = ["--observations", "full"] if scenario == "bandit_alignment" else []
        assert train_cli.main([*argv, *obs, "--out", str(out), "--no-progress"]) == 0
        states.append(torch.load(out / f"{name}.pt", weights_only=True))
    a, b = (s["state_dict"] for s in states)
    assert a.keys() == b.keys()
    for key in a:
        if scenario == "bandit_alignment":
            assert torch.equal(a[key], b[key]), key
        else:
            torch.testing.assert_close(a[key], b[key], rtol=1e-6, atol=1e-6, msg=key)
