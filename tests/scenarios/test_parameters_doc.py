"""The parameter schema is the one source of truth: docs/parameters.md, config defaults and ranges, reforms."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from scenarios.green_tax import main
from scenarios.green_tax import params as _params
from scenarios.green_tax.economy import Economy, HouseholdMix
from scenarios.reform import main as reform_main

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "parameters.md"


def test_parameters_page_is_up_to_date():
    """Regenerate with: python -m scenarios.reform --write-docs."""
    assert PAGE.read_text(encoding="utf-8") == _params.parameters_markdown(), (
        "docs/parameters.md is out of date: run python -m scenarios.reform --write-docs"
    )
    assert reform_main(["--check-docs"]) == 0


def test_every_parameter_is_documented_with_unit_range_default_and_source():
    page = PAGE.read_text(encoding="utf-8")
    for p in _params.PARAMETERS:
        assert p.title and p.description and p.unit and p.source, p.name
        assert f"`{p.name}`" in page
        assert p.range_text() in page.replace("\\|", "|")


def _config_value(path: str):
    section, name = path.split(".")
    obj = Economy() if section == "economy" else HouseholdMix()
    return obj, name, getattr(obj, name)


def test_config_defaults_and_ranges_come_from_the_schema():
    for p in _params.PARAMETERS:
        if not p.config:
            continue
        obj, name, value = _config_value(p.config)
        default = list(p.default) if isinstance(p.default, list) else p.default
        if isinstance(value, list) and not isinstance(default, list):  # a path by year (grid_intensity)
            default = [default]
        assert value == default, p.name
        meta = next(f for f in dataclasses.fields(obj) if f.name == name).metadata
        assert meta["low"] == p.low and meta["high"] == p.high, p.name
        assert meta["help"].startswith(p.title)


def test_the_schema_validates_configs(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--economy.mcpf", "0.5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "economy.mcpf" in err and "[1, inf)" in err
    assert main(["--households.income-sigma", "7", "--out", str(out)]) == 2
    assert "households.income_sigma" in capsys.readouterr().err
    assert not out.exists()


def test_schema_entries_are_checked_when_built():
    with pytest.raises(ValidationError, match="outside"):
        _params.Parameter(
            name="x", title="x", description="x", unit="x", low=0, high=1, default=2.0, source="x", section="policy"
        )
    with pytest.raises(ValidationError, match="low"):
        _params.Parameter(
            name="x", title="x", description="x", unit="x", low=2, high=1, default=None, source="x", section="policy"
        )


def test_check_value_names_the_parameter_and_the_range():
    assert _params.check_value("scc", 51) == 51.0
    assert math.isinf(_params.check_value("subsidy_income_limit", float("inf")))
    for bad in (-1.0, float("nan"), True, "190"):
        with pytest.raises(ValueError, match=r"scc.*\[0, inf\) \$/tCO2"):
            _params.check_value("scc", bad)
    with pytest.raises(ValueError, match="inf"):
        _params.check_value("tax", float("inf"), "round 0, gasoline")
