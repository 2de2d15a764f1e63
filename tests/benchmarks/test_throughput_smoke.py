"""Smoke test of the throughput benchmark: a --quick run in-process writes well-formed JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package; import it from the checkout
    sys.path.insert(0, str(ROOT))

from benchmarks import throughput  # noqa: E402
from simulator import _kernels as K  # noqa: E402

FAMILIES = ("epsilon_greedy", "ucb1", "thompson", "softmax", "ewa", "roth_erev", "best_response")


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.mark.timeout(120)
def test_quick_run_writes_expected_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    assert throughput.main(["--quick", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == data  # the same document on stdout

    for key in ("meta", "vectorized", "compile", "mesa_baseline", "families", "determinism", "memory", "profile"):
        assert key in data, key
    summary = data["summary"]
    for key in (
        "agent_steps_per_s",
        "agent_steps_per_s_collect_every_10",
        "mesa_agent_steps_per_s",
        "speedup_vs_mesa",
        "speedup_vs_mesa_same_size",
        "model_state_mb",
        "peak_rss_mb",
    ):
        assert _positive(summary[key]), (key, summary[key])

    (size,) = data["vectorized"]
    for setting in ("collect_every_1", "collect_every_10"):
        res = data["vectorized"][size][setting]
        assert _positive(res["agent_steps_per_s"]) and _positive(res["ms_per_round"])
    assert data["compile"]["compile_s"] >= 0

    mesa = data["mesa_baseline"]
    assert _positive(mesa["agent_steps_per_s"]) and _positive(mesa["vectorized_same_size"]["agent_steps_per_s"])
    assert 0 <= mesa["share_check"]["max_abs_diff"] <= 1

    for name in FAMILIES:
        fam = data["families"][name]
        assert _positive(fam["agent_steps_per_s"]), name
        assert _positive(fam["slowdown_vs_epsilon_greedy"]), name
        assert _positive(fam["speed_vs_reference"]), name
        split = fam["kernel_ms_per_round"]
        assert set(split) == {"play_kernel", "act_kernel", "realize_kernel", "update_kernel", "other"}
        if summary["agents"] >= K.FUSE_MIN_AGENTS:  # default rounds of a large population: the one-pass kernel
            assert split["play_kernel"] > 0 and split["act_kernel"] == 0
        else:  # --quick sizes are below the threshold: the separate kernels
            assert split["play_kernel"] == 0 and split["act_kernel"] > 0
    assert data["families"]["epsilon_greedy"]["slowdown_vs_epsilon_greedy"] == pytest.approx(1.0)
    assert _positive(data["families"]["reference"]["agent_steps_per_s"])
    assert set(summary["speed_vs_reference"]) == set(FAMILIES)
    assert summary["targets"] == {
        "epsilon_greedy_speed_vs_reference": 0.8,
        "family_slowdown_vs_epsilon_greedy": 2.0,
        "model_state_mb": 60.0,
        "speedup_vs_1_thread_on_2_cores": 1.7,
    }
    assert data["meta"]["machine"] and "training" not in data  # --quick skips meta-training

    det = data["determinism"]
    assert det["same_seed"]["shares_identical"] and det["same_seed"]["state_identical"]
    assert det["other_seed_differs"]
    assert det["deterministic"] is True

    mem = data["memory"]
    assert _positive(mem["model_state"]["total_bytes"])
    assert {"learner_state", "game", "ledger_households", "buffers"} <= set(mem["model_state"]["by_category_mb"])
    assert _positive(mem["peak_rss_mb"]) and mem["peak_rss_mb"] >= mem["rss_before_model_mb"] * 0.5

    prof = data["profile"]
    assert _positive(prof["total_s"]) and prof["top_by_cumtime"]
    assert {"play_kernel", "act_kernel", "realize_kernel", "update_kernel", "datacollector"} <= set(prof["phases"])
    kernel = "play_kernel" if summary["agents"] >= K.FUSE_MIN_AGENTS else "act_kernel"
    assert _positive(prof["phases"][kernel]["ms_per_round"])


@pytest.mark.parametrize(
    "argv",
    [["--agents", "abc"], ["--agents", "0"], ["--agents", "1.5"], ["--families", "nope"], ["--rounds", "-1"]],
)
def test_bad_argument_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        throughput.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_parse_sizes() -> None:
    assert throughput.parse_sizes("1e6") == [1_000_000]
    assert throughput.parse_sizes("1e5,1e6") == [100_000, 1_000_000]
    assert throughput.parse_sizes("20_000") == [20_000]
