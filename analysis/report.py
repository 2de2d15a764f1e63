"""Reports: one builder, two renderings (a self-contained HTML page and Markdown with PNG files).

``Report(title)`` collects blocks (headings, paragraphs, tables, figures, code, key-value lists);
:meth:`Report.to_html` returns one HTML page with inline CSS and figures embedded as base64 PNG data URIs,
so it opens offline and makes no external requests; :meth:`Report.to_markdown` writes the PNGs into a
folder and returns Markdown that links them by relative path. All text is escaped (HTML entities, or
backslash escapes for Markdown), so names such as ``<script>`` or ``a|b`` in data are shown literally.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._io import atomic_write_bytes, atomic_write_text

__all__ = ["Report", "format_number", "format_summary", "format_value", "terminal_table"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

FloatFormat = str | Callable[[float], str]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.5}
h1{border-bottom:2px solid #0072B2;padding-bottom:.3rem}
h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9rem;color:#444}
pre{background:#f6f8fa;padding:.7rem;overflow-x:auto;font-size:.85rem}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem}dl.kv dt{font-weight:600}
dl.kv dd{margin:0}footer{margin-top:3rem;border-top:1px solid #ddd;font-size:.8rem;color:#555}
""".strip()


def format_number(value: Any, digits: int = 3, *, signed: bool = False) -> str:
    """A number as people read it: thousands separators, never scientific notation.

    About ``digits`` significant digits, but never fewer than the integer part:
    ``24813.4`` -> ``"24,813"``, ``5.234`` -> ``"5.23"``, ``0.01234`` -> ``"0.0123"``.
    Below 1e-9 in magnitude a number shows as 0.

    Args:
        value: the number (NaN and None give ``""``).
        digits: significant digits of numbers below 10**digits.
        signed: always show the sign (``"+1,200"``), e.g. for differences.

    Returns:
        The text.
    """
    if value is None:
        return ""
    x = float(value)
    if not math.isfinite(x):
        return "" if math.isnan(x) else ("+inf" if x > 0 else "-inf")
    sign = "+" if signed else ""
    if abs(x) < 1e-9:
        return f"{sign}0" if signed else "0"
    decimals = min(9, max(0, digits - 1 - math.floor(math.log10(abs(x)))))
    return f"{x:{sign},.{decimals}f}"


def terminal_table(
    df: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    digits: int = 3,
    signed: Sequence[str] = (),
) -> str:
    """A table for the terminal: a header with each column's label and unit, numbers right-aligned.

    Args:
        df: the table (its index is not shown).
        units: column -> unit, shown in the header as ``label (unit)``.
        labels: column -> header text (default: the column name).
        digits: significant digits (see :func:`format_number`).
        signed: columns shown with an explicit sign (differences).

    Returns:
        The text, one line per row plus the header and a rule.
    """
    units, labels = dict(units or {}), dict(labels or {})
    heads = []
    for c in df.columns:
        head = labels.get(str(c), str(c))
        heads.append(f"{head} ({units[str(c)]})" if units.get(str(c)) else head)
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    cells = [
        [
            format_number(v, digits, signed=str(c) in signed) if num and v is not None else format_value(v)
            for c, v, num in zip(df.columns, row, numeric, strict=True)
        ]
        for row in df.itertuples(index=False, name=None)
    ]
    widths = [max([len(h), *(len(r[j]) for r in cells)]) for j, h in enumerate(heads)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(heads), "  ".join("-" * w for w in widths), *(line(r) for r in cells)]) + "\n"


def format_value(value: Any, float_format: FloatFormat = "{:.4g}") -> str:
    """Format one table cell: floats with ``float_format``, NaN/None as empty, the rest with ``str``.

    Args:
        value: the cell.
        float_format: a ``str.format`` pattern (``"{:.3f}"``), a format spec (``".3f"``) or a callable.

    Returns:
        The text.
    """
    if value is None:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if callable(float_format):
            return float_format(value)
        return float_format.format(value) if "{" in float_format else format(value, float_format)
    return str(value)


def format_summary(
    summary: pd.DataFrame, float_format: FloatFormat = format_number, *, show_n: bool = True
) -> pd.DataFrame:
    """Wide display table of a :func:`analysis.stats.summarize` result.

    One row per group, one column per metric, cells ``"mean [low, high]"`` (plus ``" n=10"``);
    a mean without an interval (one seed) is shown alone, never with a zero-width interval.

    Args:
        summary: the long summary.
        float_format: number format (default :func:`format_number`: no scientific notation).
        show_n: append the number of seeds to each cell.

    Returns:
        A DataFrame of strings.
    """
    stat_cols = {"metric", "mean", "low", "high", "n", "std", "method", "level"}
    group_cols = [c for c in summary.columns if c not in stat_cols]

    def cell(r: pd.Series) -> str:
        mean, low, high = (format_value(float(r[k]), float_format) for k in ("mean", "low", "high"))
        text = f"{mean} [{low}, {high}]" if low and high else mean
        return f"{text} n={int(r['n'])}" if show_n else text

    if summary.empty:
        return pd.DataFrame(columns=group_cols)
    tmp = summary.assign(_cell=summary.apply(cell, axis=1))
    metrics = list(dict.fromkeys(summary["metric"]))
    if group_cols:
        wide = tmp.pivot_table(index=group_cols, columns="metric", values="_cell", aggfunc="first", sort=False)
        wide = wide.reindex(columns=metrics).reset_index()
    else:
        wide = pd.DataFrame([dict(zip(tmp["metric"], tmp["_cell"], strict=True))])
    wide.columns.name = None
    return wide.fillna("")


@dataclass
class _Block:
    kind: str
    payload: dict[str, Any]


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s[:60] or "figure"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|{}])")


def _md(text: Any, *, line_start: bool = True) -> str:
    """Escape text for Markdown: backslash-escape markup characters and entities.

    With ``line_start``, also escape what would start a heading or list at the beginning of a line.
    """
    s = _MD_SPECIAL.sub(r"\\\1", str(text).replace("&", "&amp;"))
    if line_start:
        s = re.sub(r"^([#+\-=])", r"\\\1", s, flags=re.MULTILINE)
        s = re.sub(r"^(\d+)([.)])", r"\1\\\2", s, flags=re.MULTILINE)
    return s


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


class Report:
    """Builder for a report rendered to HTML and Markdown.

    Methods return the report, so calls chain: ``Report("x").heading("Results").table(df)``.

    Args:
        title: page title (the first heading).
        records: run record(s) (``run.json`` contents) whose versions and git commit go in the footer.
    """

    def __init__(self, title: str, records: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None):
        self.title = title
        self.blocks: list[_Block] = []
        self.records: list[Mapping[str, Any]] = []
        self._names: set[str] = set()
        if records is not None:
            self.footer(records)

    # ------------------------------------------------------------------ building

    def footer(self, records: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Report:
        """Set the run record(s) summarised in the footer (versions, git commit, host)."""
        self.records = [records] if isinstance(records, Mapping) else list(records)
        return self

    def heading(self, text: str, level: int = 2) -> Report:
        """Add a heading (level 1-6; the title is level 1)."""
        if not 1 <= level <= 6:
            raise ValueError(f"heading level must be 1-6, got {level}")
        self.blocks.append(_Block("heading", {"text": text, "level": level}))
        return self

    def paragraph(self, text: str) -> Report:
        """Add a paragraph of plain text (blank lines start new paragraphs)."""
        self.blocks.append(_Block("paragraph", {"text": text}))
        return self

    def table(
        self,
        df: pd.DataFrame,
        caption: str | None = None,
        float_format: FloatFormat = format_number,
        *,
        index: bool = False,
    ) -> Report:
        """Add a table.

        Args:
            df: the data.
            caption: shown above the table.
            float_format: number format (see :func:`format_value`).
            index: include the DataFrame index as first column(s).
        """
        data = df.reset_index() if index else df
        self.blocks.append(_Block("table", {"df": data.copy(), "caption": caption, "float_format": float_format}))
        return self

    def figure(self, fig: Any, caption: str | None = None, *, name: str | None = None, dpi: int = 120) -> Report:
        """Add a figure.

        Args:
            fig: a matplotlib Figure (rendered to PNG and closed), PNG bytes, or a path to a PNG file.
            caption: shown below the figure and used as alt text.
            name: file stem for the Markdown asset (default from the caption).
            dpi: resolution when rendering a Figure.

        Raises:
            ValueError: the bytes or file are not a PNG.
        """
        if isinstance(fig, bytes | bytearray):
            png = bytes(fig)
        elif isinstance(fig, str | os.PathLike):
            png = Path(fig).read_bytes()
        else:
            from .plots import figure_to_png

            png = figure_to_png(fig, dpi=dpi, close=True)
        if not png.startswith(_PNG_MAGIC):
            raise ValueError("figure data is not a PNG image")
        stem = _slug(name or caption or f"figure-{len(self.blocks) + 1}")
        candidate, k = stem, 1
        while candidate in self._names:
            k += 1
            candidate = f"{stem}-{k}"
        self._names.add(candidate)
        self.blocks.append(_Block("figure", {"png": png, "caption": caption, "name": candidate}))
        return self

    def code(self, text: str, language: str | None = None) -> Report:
        """Add preformatted text (a config file, a command line)."""
        self.blocks.append(_Block("code", {"text": text, "language": language}))
        return self

    def kv(self, mapping: Mapping[str, Any], caption: str | None = None) -> Report:
        """Add a key-value list (values shown with ``str``; floats with 4 significant digits)."""
        self.blocks.append(_Block("kv", {"items": list(mapping.items()), "caption": caption}))
        return self

    # ------------------------------------------------------------------ rendering

    def _footer_lines(self) -> list[str]:
        lines = []
        seen = set()
        for rec in self.records:
            versions = rec.get("versions") or {}
            vtext = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
            commit = rec.get("git_commit")
            ctext = (
                f"git {commit[:10]}{' (uncommitted changes)' if rec.get('git_dirty') else ''}"
                if commit
                else "git unknown"
            )
            host = rec.get("hostname")
            line = "; ".join(p for p in (ctext, vtext, f"host {host}" if host else "") if p)
            if line not in seen:
                seen.add(line)
                lines.append(line)
        now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        lines.append(f"generated {now} by learning-incentives analysis")
        return lines

    def to_html(self) -> str:
        """Render one self-contained HTML page (inline CSS, embedded PNGs, no external resources)."""
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_h(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{_h(self.title)}</h1>",
        ]
        for b in self.blocks:
            p = b.payload
            if b.kind == "heading":
                out.append(f"<h{p['level']}>{_h(p['text'])}</h{p['level']}>")
            elif b.kind == "paragraph":
                for para in re.split(r"\n\s*\n", p["text"].strip()):
                    out.append(f"<p>{_h(para).replace(chr(10), '<br>')}</p>")
            elif b.kind == "table":
                out.append(self._html_table(p["df"], p["caption"], p["float_format"]))
            elif b.kind == "figure":
                data = base64.b64encode(p["png"]).decode("ascii")
                cap = p["caption"] or ""
                out.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{_h(cap or p["name"])}">'
                    + (f"<figcaption>{_h(cap)}</figcaption>" if cap else "")
                    + "</figure>"
                )
            elif b.kind == "code":
                out.append(f"<pre><code>{_h(p['text'])}</code></pre>")
            elif b.kind == "kv":
                if p["caption"]:
                    out.append(f"<p><strong>{_h(p['caption'])}</strong></p>")
                items = "".join(f"<dt>{_h(k)}</dt><dd>{_h(format_value(v))}</dd>" for k, v in p["items"])
                out.append(f'<dl class="kv">{items}</dl>')
        out.append("<footer>" + "<br>".join(_h(line) for line in self._footer_lines()) + "</footer>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    @staticmethod
    def _numeric_columns(df: pd.DataFrame) -> set[Any]:
        return {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])}

    def _html_table(self, df: pd.DataFrame, caption: str | None, float_format: FloatFormat) -> str:
        num = self._numeric_columns(df)
        head = "".join(f"<th>{_h(c)}</th>" for c in df.columns)
        body = []
        for row in df.itertuples(index=False, name=None):
            cells = "".join(
                f'<td class="num">{_h(format_value(v, float_format))}</td>'
                if c in num
                else f"<td>{_h(format_value(v, float_format))}</td>"
                for c, v in zip(df.columns, row, strict=True)
            )
            body.append(f"<tr>{cells}</tr>")
        cap = f"<caption>{_h(caption)}</caption>" if caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    def to_markdown(self, assets_dir: str | os.PathLike[str] | None = None, *, subdir: str = "") -> str:
        """Render Markdown; figures are written as PNG files.

        Args:
            assets_dir: the folder the Markdown file will be saved in; PNGs are written there (or in
                ``assets_dir/subdir``) atomically and linked by relative path. ``None``: figures are
                embedded as data URIs instead.
            subdir: optional subfolder for the PNGs.

        Returns:
            The Markdown text.
        """
        out = [f"# {_md(self.title)}", ""]
        folder = Path(assets_dir) / subdir if assets_dir is not None else None
        for b in self.blocks:
            p = b.payload
            if b.kind == "heading":
                out += [f"{'#' * p['level']} {_md(p['text'])}", ""]
            elif b.kind == "paragraph":
                for para in re.split(r"\n\s*\n", p["text"].strip()):
                    out += [" ".join(_md(line) for line in para.splitlines()), ""]
            elif b.kind == "table":
                out += [*self._md_table(p["df"], p["caption"], p["float_format"]), ""]
            elif b.kind == "figure":
                alt = _md(p["caption"] or p["name"]).replace("\n", " ")
                if folder is None:
                    src = "data:image/png;base64," + base64.b64encode(p["png"]).decode("ascii")
                else:
                    folder.mkdir(parents=True, exist_ok=True)
                    target = folder / f"{p['name']}.png"
                    if not (target.exists() and target.read_bytes() == p["png"]):
                        atomic_write_bytes(target, p["png"])
                    src = f"{subdir.strip('/')}/{target.name}" if subdir else target.name
                out += [f"![{alt}]({src})", ""]
                if p["caption"]:
                    out += [f"*{_md(p['caption'])}*", ""]
            elif b.kind == "code":
                fence = "````" if "```" in p["text"] else "```"
                out += [f"{fence}{p['language'] or ''}", p["text"].rstrip("\n"), fence, ""]
            elif b.kind == "kv":
                if p["caption"]:
                    out += [f"**{_md(p['caption'])}**", ""]
                out += [
                    f"- **{_md(k, line_start=False)}**: {_md(format_value(v), line_start=False)}" for k, v in p["items"]
                ]
                out.append("")
        out += ["---", ""]
        out += [f"<sub>{_md(line)}</sub>  " for line in self._footer_lines()]
        return "\n".join(out).rstrip() + "\n"

    def _md_table(self, df: pd.DataFrame, caption: str | None, float_format: FloatFormat) -> list[str]:
        num = self._numeric_columns(df)
        lines = [f"**{_md(caption)}**", ""] if caption else []
        lines.append("| " + " | ".join(_md(c, line_start=False) for c in df.columns) + " |")
        lines.append("|" + "|".join("---:" if c in num else "---" for c in df.columns) + "|")
        for row in df.itertuples(index=False, name=None):
            cells = (_md(format_value(v, float_format), line_start=False).replace("\n", " ") for v in row)
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def save(self, directory: str | os.PathLike[str], stem: str = "report") -> tuple[Path, Path]:
        """Write ``<stem>.html`` and ``<stem>.md`` (PNGs beside the Markdown) atomically.

        Args:
            directory: output folder (created).
            stem: file name without extension.

        Returns:
            Paths of the HTML and Markdown files.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        md = self.to_markdown(folder)
        html_path = atomic_write_text(folder / f"{stem}.html", self.to_html())
        md_path = atomic_write_text(folder / f"{stem}.md", md)
        return html_path, md_path
