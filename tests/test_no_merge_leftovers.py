"""No file of the project holds a merge's conflict markers (a half-resolved merge once left them
in a page of the docs, which still built)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".sql", ".txt", ".cfg", ".html", ".j2"}
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def _files() -> list[Path]:
    out = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml", ROOT / "mkdocs.yml"]
    for top in ("cstoolkit", "docs", "tests", "plugins", "recipes", "benchmarks", ".ci"):
        out += [p for p in (ROOT / top).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return [p for p in out if p.exists() and ".venv" not in p.parts]


def test_no_conflict_markers() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{p.read_text(errors='replace')[: m.start()].count(chr(10)) + 1}"
        for p in _files()
        for m in MARKER.finditer(p.read_text(errors="replace"))
    ]
    assert found == []


def test_the_check_sees_a_marker() -> None:
    assert MARKER.search("a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> other\n")
    assert not MARKER.search("a heading\n=======  \n")  # Setext underline with spaces: prose
