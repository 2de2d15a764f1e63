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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
