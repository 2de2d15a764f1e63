"""Tests for analysis.report: escaping, self-contained HTML, Markdown with PNG assets."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.report import Report, format_number, format_summary, terminal_table
from analysis.stats import summarize


def _fig() -> Figure:
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def _report() -> Report:
    df = pd.DataFrame({"principal": ["<b>x</b>", "a|b"], "welfare": [1.23456, np.nan]})
    rec = {"versions": {"python": "3.11.7", "numpy": "2.0"}, "git_commit": "abcdef1234567890", "git_dirty": True}
    return (
        Report("Title <script>alert(1)</script> & co", records=rec)
        .heading("Section *one*")
        .paragraph('x < y & "quoted"\n\nsecond <img src=x onerror=alert(1)> paragraph')
        .table(df, caption="cap <i>", float_format="{:.2f}")
        .figure(_fig(), "a figure <caption>")
        .code("[game]\nscc = 190 # <tag>")
        .kv({"seeds": [0, 1], "<k>": 0.5})
    )


def test_html_escapes_and_is_self_contained():
    html = _report().to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "&lt;k&gt;" in html and "&lt;tag&gt;" in html
    assert "1.23" in html and "1.2346" not in html  # float_format applied; NaN -> empty cell
    assert "data:image/png;base64," in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html)
    assert "http://" not in html and "https://" not in html
    assert "abcdef1234" in html and "uncommitted changes" in html and "numpy 2.0" in html
    assert html.count("<p>") >= 2  # blank line starts a new paragraph


def test_markdown_writes_assets_and_escapes(tmp_path):
    md = _report().to_markdown(tmp_path)
    pngs = list(tmp_path.glob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes().startswith(b"\x89PNG")
    assert f"]({pngs[0].name})" in md
    assert "\\<script\\>" in md and "<script>" not in md
    assert "a\\|b" in md  # pipes in cells cannot break the table
    assert "```\n[game]" in md
    sub = _report().to_markdown(tmp_path, subdir="figs")
    assert "](figs/" in sub and list((tmp_path / "figs").glob("*.png"))
    inline = _report().to_markdown(None)
    assert "](data:image/png;base64," in inline


def test_figure_inputs_and_save(tmp_path):
    png_path = tmp_path / "f.png"
    from analysis.plots import figure_to_png

    png_path.write_bytes(figure_to_png(_fig()))
    rep = Report("r").figure(png_path.read_bytes(), "bytes").figure(png_path, "path").figure(png_path, "path")
    names = [b.payload["name"] for b in rep.blocks]
    assert names == ["bytes", "path", "path-2"]
    with pytest.raises(ValueError, match="not a PNG"):
        Report("r").figure(b"GIF89a", "x")
    with pytest.raises(ValueError):
        Report("r").heading("x", level=7)
    html_path, md_path = rep.save(tmp_path / "out")
    assert html_path.read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "out" / "path-2.png").exists() and md_path.exists()


def test_format_summary_wide():
    df = pd.DataFrame({"principal": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2, "m": [1.0, 2.0, 3.0, 2, 2, 2]})
    wide = format_summary(summarize(df, "principal", "m"), "{:.2f}")
    assert list(wide.columns) == ["principal", "m"]
    assert wide.loc[0, "m"].startswith("2.00 [") and wide.loc[0, "m"].endswith("n=3")
    assert wide.loc[1, "m"] == "2.00 [2.00, 2.00] n=3"


# ---------------------------------------------------------------- numbers and tables
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (24813.4, "24,813"),
        (-1234567.8, "-1,234,568"),
        (5.234, "5.23"),
        (0.01234, "0.0123"),
        (0.0, "0"),
        (float("nan"), ""),
        (2.5e7, "25,000,000"),
    ],
)
def test_format_number_never_uses_scientific_notation(value, text):
    assert format_number(value) == text


def test_format_number_signed():
    assert format_number(164.0, signed=True) == "+164" and format_number(-0.5, signed=True) == "-0.500"


def test_format_summary_shows_no_interval_for_one_seed():
    df = pd.DataFrame({"principal": ["a", "b"], "seed": [0, 0], "welfare": [24813.4, 23000.0]})
    wide = format_summary(summarize(df, "principal", "welfare"))
    assert list(wide.welfare) == ["24,813 n=1", "23,000 n=1"]  # no zero-width "[24,813, 24,813]"
    two = pd.DataFrame({"principal": ["a", "a"], "seed": [0, 1], "welfare": [24000.0, 25000.0]})
    assert re.fullmatch(r"24,500 \[[-\d,]+, [\d,]+\] n=2", format_summary(summarize(two, "principal"))["welfare"][0])


def test_terminal_table_has_units_in_the_header_and_aligned_numbers():
    df = pd.DataFrame({"policy": ["none", "pigouvian"], "welfare": [23800.5, 24813.4], "diff": [0.0, 1012.9]})
    text = terminal_table(
        df, units={"welfare": "$ per household", "diff": "$"}, labels={"diff": "vs none"}, signed=["diff"]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["policy", "welfare", "($", "per", "household)", "vs", "none", "($)"]
    assert lines[2].split() == ["none", "23,800", "+0"] and lines[3].split() == ["pigouvian", "24,813", "+1,013"]
    assert len({len(line) for line in lines[1:]}) == 1  # every row as wide as the rule: right-aligned numbers
    assert "e+" not in text
