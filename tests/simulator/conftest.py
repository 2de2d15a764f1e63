"""Fixtures of the simulator tests.

Numba's parallel kernels synchronise their worker threads at the end of every
call; on a small shared machine (CI runners, 2 cores) a descheduled worker
turns a 40 microsecond call into milliseconds. Results do not depend on the
thread count (test_model_determinism.py checks 1 vs 2 threads), so every test
here runs single-threaded unless it asks for more, and the previous setting is
restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import numba
import pytest


@pytest.fixture(autouse=True)
def single_numba_thread() -> Iterator[None]:
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
