"""Same seed, same results as before the fused kernels: whole trajectories against recorded digests.

``golden_trajectories.json`` holds digests of every case in ``trajectories.py`` recorded at
commit 6ee68fd (the separate act / realize / update kernels, float32 counts). Every later
kernel must reproduce them bit for bit, on one thread and on two. If a change is *meant* to
alter results, regenerate the file (``python -m tests.simulator.trajectories``) and say so in
the CHANGELOG.
"""

from __future__ import annotations

import json
from pathlib import Path

import numba
import pytest

from tests.simulator.trajectories import digests

GOLDEN = json.loads((Path(__file__).with_name("golden_trajectories.json")).read_text(encoding="utf-8"))


@pytest.mark.parametrize("threads", [1, 2])
def test_trajectories_match_the_recorded_digests(threads: int) -> None:
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"numba may use only {numba.config.NUMBA_NUM_THREADS} thread(s) here")
    got = digests(threads)
    expected = GOLDEN["digests"]
    assert sorted(got) == sorted(expected)
    differ = sorted(name for name in expected if got[name] != expected[name])
    assert not differ, f"{len(differ)} trajectories changed: {', '.join(differ)}"
