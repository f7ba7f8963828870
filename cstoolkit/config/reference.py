"""The reference tables of docs/configuration.md, made from the schema (:mod:`~.core`).

``python -m cstoolkit.config.reference docs/configuration.md`` rewrites the part of the page
between the markers; a test fails when the page and the schema differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cstoolkit.config.core import SECTIONS
from cstoolkit.config.schema import Key, Section
from cstoolkit.config.types import format_duration

BEGIN = "<!-- reference: made from cstoolkit/config/core.py by "
BEGIN += "`python -m cstoolkit.config.reference docs/configuration.md`; do not edit -->"
END = "<!-- end of reference -->"

_TYPE_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "bool",
    "path": "path",
    "file": "file",
    "list": "list",
    "table": "table",
    "duration": "duration",
    "timezone": "time zone",
    "clock_range": "HH:MM-HH:MM",
    "date": "date",
    "when": "time (time.md)",
    "target": "PERCENT/SECONDS",
    "requirement": "requirement",
    "secret": "secret reference",
    "store_url": "postgresql:// URL",
    "name": "name",
}


def _type(key: Key) -> str:
    parts = []
    for kind in key.type.split("|"):
        name = _TYPE_NAMES[kind]
        if kind == "list" and key.items is not None:
            name = f"list of {_type(key.items)}"
        elif kind == "table" and key.values is not None:
            name = f"table of {_type(key.values)}"
        elif kind == "duration" and key.unit != "s":
            name = f"duration (bare number: {key.unit})"
        parts.append(name)
    text = " or ".join(parts)
    if key.ref:
        text += f", names [{key.ref}.NAME]"
    return text


def _default(key: Key) -> str:
    if key.required:
        return "required"
    if key.default is None or key.default in ("", [], {}):
        return ""
    value: Any = key.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{json.dumps(value)}`" if isinstance(value, str) else f"`{value}`"


def _range(key: Key) -> str:
    if key.choices:
        return "one of " + ", ".join(f"`{c}`" for c in key.choices)
    low, high = key.minimum, key.maximum
    if low is None and high is None:
        return ""

    def show(bound: float) -> str:
        if key.type.split("|")[0] == "duration":
            return format_duration(bound)
        return f"{bound:g}" + (" items" if key.type == "list" else "")

    if low is not None and high is not None:
        return f"{show(low)} to {show(high)}"
    return f">= {show(low)}" if low is not None else f"<= {show(high)}"  # type: ignore[arg-type]


def _rows(keys: tuple[Key, ...], prefix: str = "") -> list[str]:
    rows = []
    for key in keys:
        meaning = key.help.replace("|", "\\|")
        rows.append(
            f"| `{prefix}{key.name}` | {_type(key)} | {_default(key)} | {_range(key)} | {meaning} |"
        )
        if key.keys is not None:
            rows += _rows(key.keys, f"{prefix}{key.name}.")
        elif key.items is not None and key.items.keys is not None:
            rows += _rows(key.items.keys, f"{prefix}{key.name}[].")
    return rows


def _title(section: Section) -> str:
    if section.form == "tables":
        return f"[{section.name}.NAME]"
    if section.form == "value":
        return f"{section.name} (top level)"
    return f"[{section.name}]"


def render() -> str:
    """Every core section as a Markdown table: key, type, default, range, meaning."""
    out = [BEGIN, ""]
    for section in SECTIONS.values():
        out.append(f"### {_title(section)}")
        out.append("")
        line = section.help
        if section.doc:
            line += f" See [{section.doc}]({section.doc})."
        if section.plugin_kind:
            line += " Plus the settings of the instance's plugin."
        out += [line, ""]
        out.append("| key | type | default | range | meaning |")
        out.append("|---|---|---|---|---|")
        out += _rows(section.keys)
        out.append("")
    out.append(END)
    return "\n".join(out)


def rewrite(page: Path) -> bool:
    """Replace the reference part of ``page``; True when it changed."""
    text = page.read_text("utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + render() + text[end:]
    if new == text:
        return False
    page.write_text(new, "utf-8")
    return True


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    changed = rewrite(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/configuration.md"))
    print("updated" if changed else "up to date")
