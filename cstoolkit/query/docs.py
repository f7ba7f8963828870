"""The field tables of docs/query.md, made from the registry (:mod:`~cstoolkit.query.catalog`).

``python -m cstoolkit.query.docs docs/query.md`` rewrites the part of the page between the
markers; a test fails when the page and the registry differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cstoolkit.query.registry import FIELDS, NAMESPACES, NEEDS, FieldSpec
from cstoolkit.store.conditions import (
    Age,
    Column,
    Fact,
    JsonPath,
    LegacySql,
    Requester,
    Source,
    Tags,
)

BEGIN = "<!-- fields: made from cstoolkit/query/catalog.py by "
BEGIN += "`python -m cstoolkit.query.docs docs/query.md`; do not edit -->"
END = "<!-- end of fields -->"

_GROUPS = (
    ("The ticket and its requester", lambda s: not s.needs),
    ("The ticket's history", lambda s: "facts" in s.needs),
    ("SLA state ([sla.md](sla.md))", lambda s: "sla" in s.needs),
    ("Business time of a recipe's calendar", lambda s: "calendar" in s.needs),
    ("Groups and the roster ([roster.md](roster.md))",
     lambda s: bool(s.needs & {"groups", "roster"})),
    ("Predictions of the routing model ([routing.md](routing.md))", lambda s: "model" in s.needs),
)  # fmt: skip


def stored(source: Source | None) -> str:
    """Where the store keeps a value, in words."""
    if isinstance(source, Column):
        return f"ticket column `{source.name}`"
    if isinstance(source, Requester):
        return f"requester's `{source.name}`"
    if isinstance(source, Tags):
        return "the ticket's tags"
    if isinstance(source, JsonPath):
        return f"JSON `{'.'.join(source.keys)}` in `{source.column}`"
    if isinstance(source, Fact):
        return f"fact `{source.column}`"
    if isinstance(source, Age):
        return f"age of {stored(source.of)}"
    if isinstance(source, LegacySql):
        return "an SQL expression (API 1.0)"
    return "per ticket"


def _row(spec: FieldSpec) -> str:
    unit = spec.unit or "–"
    if spec.kind == "enum" and spec.values and spec.name != "priority":
        doc = f"{spec.doc}: {', '.join(spec.values)}" if spec.doc else ", ".join(spec.values)
    else:
        doc = spec.doc
    return f"| `{spec.name}` | `{spec.kind}` | {unit} | {doc} | {stored(spec.source)} |"


def render() -> str:
    """The generated part of docs/query.md: the fields, grouped by what they need."""
    out = [BEGIN, ""]
    for title, member in _GROUPS:
        specs = [s for s in FIELDS.values() if member(s)]
        if not specs:
            continue
        out.append(f"**{title}**")
        needs = sorted({n for s in specs for n in s.needs})
        if needs:
            what, works = NEEDS[needs[0]]
            out.append(f"(needs {what}: works in {works}).")
        out += ["", "| Field | Kind | Unit | Meaning | Kept in the store as |"]
        out.append("|---|---|---|---|---|")
        out += [_row(s) for s in specs]
        out.append("")
    out.append("**Families**")
    out += ["", "| Field | Kind | Meaning |", "|---|---|---|"]
    out.append("| `custom.<name>` | `any` | the ticket's custom field `<name>` (letters, digits, "
               "`_`, `-`), kept as JSON in `custom_fields` |")  # fmt: skip
    for prefix, ns in NAMESPACES.items():
        out.append(f"| `{prefix}<name>` | `{ns.kind}` | {ns.doc}: the names above |")
    out += ["", END]
    return "\n".join(out)


def rewrite(path: Path) -> bool:
    """Replace the generated part of ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + render() + text[end:]
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cstoolkit.query.docs docs/query.md", file=sys.stderr)
        return 2
    changed = rewrite(Path(argv[0]))
    print(f"{argv[0]}: {'rewritten' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
