"""Fixtures for the analysis tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_testdata import make_run


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a = make_run(tmp_path / "runs", "a", seeds=[0, 1, 2, 3, 4, 5])
    b = make_run(tmp_path / "runs", "b", seeds=[6, 7, 8, 9, 10, 11])
    return a, b
