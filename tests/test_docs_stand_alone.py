"""The project's files stand alone: none cites the team's internal notes (DESIGN.md, STYLE.md, REFERENCES.md).

The project's own design document is docs/design.md; sources are cited in full
where they are used. Files that still cite the notes are listed below by owner;
whoever fixes a file deletes its entry (the test fails while a listed file no
longer cites them, so the list stays true), and a file not listed fails the test.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = re.compile(r"\b(?:DESIGN|STYLE|REFERENCES)\.md\b|\.\./shared\b|\bshared/(?:DESIGN|STYLE|REFERENCES)")

STILL_CITING: frozenset[str] = frozenset()
"""Files allowed to cite the internal notes while their owners rewrite them (none left)."""


def _tracked_text_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    suffixes = (".py", ".md", ".toml", ".cff", ".txt", ".yaml", ".json", ".sh", "")
    return [f for f in out.splitlines() if Path(f).suffix in suffixes and f != "tests/test_docs_stand_alone.py"]


def _citing() -> set[str]:
    found = set()
    for rel in _tracked_text_files():
        path = ROOT / rel
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if INTERNAL.search(text):
            found.add(rel)
    return found


def test_no_new_file_cites_the_internal_notes():
    new = sorted(_citing() - STILL_CITING)
    assert not new, f"cite docs/design.md or the source itself instead: {new}"


def test_the_list_of_files_still_citing_is_current():
    gone = sorted(STILL_CITING - _citing())
    assert not gone, f"these files no longer cite the notes: delete them from STILL_CITING: {gone}"


def test_the_design_document_exists_and_the_readme_points_to_it():
    assert (ROOT / "docs/design.md").is_file()
    assert "docs/design.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_pattern_finds_what_it_should():
    assert INTERNAL.search("see DESIGN.md section 8") and INTERNAL.search("../shared/notes")
    assert not INTERNAL.search("--out /shared/runs/sweep") and not INTERNAL.search("docs/design.md")
