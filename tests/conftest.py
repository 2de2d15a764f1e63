"""Shared pytest setup.

The repository root goes on ``sys.path`` so that test helper modules import as
``tests.simulator.helpers`` (a namespace package: ``tests/`` has no
``__init__.py``, which keeps ``tests/simulator`` from shadowing the real
``simulator`` package). Plugins written for the tests are then reachable by
import path, e.g. ``learner="tests.simulator.helpers:MyLearner"``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _tasks_in_this_process():
    """Scenario runs in the tests evaluate their tasks in this process (``--workers 1``), unless a test asks.

    A pool's worker processes cost seconds to start, more than the tiny ``--quick``
    runs take; tests/scenarios/test_backends.py checks that a pool gives the same
    files as this process, and passes ``--workers`` to get one.
    """
    backend = sys.modules.get("scenarios._backend")  # imported by the test modules that run scenarios
    if backend is None:
        yield
        return
    with backend.local_pool(workers=1):
        yield
