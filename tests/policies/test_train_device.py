"""Meta-training rollouts on the device path (``--device``) give the same checkpoint as the numba path.

``torch-cpu`` runs the same torch code as ``cuda``; the counter-based random stream makes the agents'
actions identical, so the trained weights are equal bit for bit.
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
        assert train_cli.main([*argv, "--observations", "full", "--out", str(out), "--no-progress"]) == 0
        states.append(torch.load(out / f"{name}.pt", weights_only=True))
    a, b = (s["state_dict"] for s in states)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
