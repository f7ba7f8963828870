"""Time specs are parsed only by the one parser (issue 15, point 4).

An AST walk over the product code (cstoolkit/ and every first-party plugin package, tests
excluded) fails when a module other than those allowed below

* calls ``fromisoformat`` or ``strptime`` (of datetime, date or time),
* builds a ``timedelta(**units)`` from parsed text, or
* defines a duration regex (a pattern that reads ``7d`` or ``12h`` or ``90m`` but not ``abc``).

Each allowed module says why; anything else calls :mod:`cstoolkit.timespec` (options, config
keys, queries, files people write, our own serialised times) or
:mod:`cstoolkit.vendor_time` (times that vendors send).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Modules that may parse times themselves, and why.
ALLOWED = {
    "cstoolkit/timespec.py": "the one time-spec parser",
    "cstoolkit/vendor_time.py": "the one parser of the times vendor APIs send",
}

_REGEX_CALLS = {"compile", "match", "fullmatch", "search", "findall", "finditer", "split", "sub"}
_DURATIONS = ("7d", "12h", "2w", "90m", "30s")
_NOT_DURATIONS = ("abc", "d7")


def sources(root: Path = ROOT) -> Iterator[Path]:
    """Every product module: cstoolkit/ and plugins/*/<package>/ (their tests excluded)."""
    yield from sorted((root / "cstoolkit").rglob("*.py"))
    for package in sorted(root.glob("plugins/*/cstoolkit_*")):
        yield from sorted(p for p in package.rglob("*.py") if "tests" not in p.parts)


def is_duration_regex(pattern: str) -> bool:
    """Whether ``pattern`` reads durations: two or more of ``7d``, ``12h``, ``2w``, ``90m``,
    ``30s``, but no word (``abc``, ``d7``)."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error:
        return False
    hits = sum(1 for t in _DURATIONS if compiled.fullmatch(t))
    return hits >= 2 and not any(compiled.fullmatch(t) for t in _NOT_DURATIONS)


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to a string constant (patterns are often named first)."""
    out: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


def _pattern(node: ast.expr, names: dict[str, str]) -> str | None:
    """The text of a regex argument, when it can be known without running the module."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.JoinedStr):  # f-string: known parts, named constants
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                inner = _pattern(value.value, names)
                if inner is None:
                    return None
                parts.append(inner)
            elif isinstance(value, ast.Constant):
                parts.append(str(value.value))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pattern(node.left, names), _pattern(node.right, names)
        return None if left is None or right is None else left + right
    return None


_SUSPECT = re.compile(r"fromisoformat|strptime|timedelta|\bre\.\w+\(")


def violations(source: str, label: str = "<source>") -> list[str]:
    """``label:line: what`` for each place ``source`` parses a time itself."""
    if not _SUSPECT.search(source):
        return []  # nothing to look at: skip the parse
    tree = ast.parse(source)
    names = _constants(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("fromisoformat", "strptime"):
            found.append(f"{label}:{node.lineno}: calls {name}")
        elif name == "timedelta" and any(kw.arg is None for kw in node.keywords):
            found.append(f"{label}:{node.lineno}: builds timedelta(**...) from parsed units")
        elif (
            name in _REGEX_CALLS
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "re"
            and node.args
        ):
            pattern = _pattern(node.args[0], names)
            if pattern is not None and is_duration_regex(pattern):
                found.append(f"{label}:{node.lineno}: defines a duration regex {pattern!r}")
    return found


def tree_violations(root: Path = ROOT) -> list[str]:
    out = []
    for path in sources(root):
        label = path.relative_to(root).as_posix()
        if label not in ALLOWED:
            out.extend(violations(path.read_text("utf-8"), label))
    return out


def test_time_specs_are_parsed_only_by_the_one_parser() -> None:
    found = tree_violations()
    assert found == [], (
        "parse times with cstoolkit.timespec (options, config, queries, files people write) "
        "or cstoolkit.vendor_time (vendor data):\n" + "\n".join(found)
    )


def test_the_allowed_modules_exist_and_do_parse() -> None:
    """The allow-list names real files that still need it (a stale entry is an open door)."""
    for label in ALLOWED:
        path = ROOT / label
        assert path.is_file(), label
        assert violations(path.read_text("utf-8"), label), f"{label} no longer needs its entry"


@pytest.mark.parametrize(
    "snippet",
    [
        # the parsers this test replaced, as they were written on main before it
        '_AGO = re.compile(r"^\\s*(\\d+)\\s*([mhdw])\\s*$")',
        '_DURATION = re.compile(r"(\\d+(?:\\.\\d+)?)([mhdw])")',
        '_DURATION = re.compile(r"^(\\d+)\\s*([hdw])$")',
        '_D = re.compile(r"^\\s*(\\d+(?:\\.\\d+)?)\\s*([a-z]*)\\s*$", re.I)',
        'P = r"(\\d+)([hdw])"\nX = re.compile(P)',
        'U = "hdw"\nX = re.compile(f"(\\\\d+)[{U}]")',
        "span = timedelta(**{_AGO_UNITS[m.group(2)]: int(m.group(1))})",
        'value = datetime.fromisoformat(text.replace("Z", "+00:00"))',
        "day = date.fromisoformat(str(raw))",
        "datetime.strptime(since, FMT)",
    ],
)
def test_the_check_sees_each_kind_of_private_parser(snippet: str) -> None:
    assert violations(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        'NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")',  # names, not durations
        'NUMBER = re.compile(r"[+-]?\\d+(?:\\.\\d+)?")',
        'CLOCK = re.compile(r"(\\d{1,2}):(\\d{2})")',
        "gap = timedelta(hours=n)",
        "when = timespec.parse_time(text, now=now)",
    ],
)
def test_the_check_leaves_other_code_alone(snippet: str) -> None:
    assert violations(snippet) == []
