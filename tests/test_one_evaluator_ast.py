"""Conditions are evaluated only by the one evaluator, and business time is computed only in
the calendar module (issue "one meaning per word", point 2).

An AST walk over the product code (cstoolkit/ and every first-party plugin package, tests
excluded) fails when a module other than those allowed below

* tests what a condition's operator is (``op == "gt"``, ``c.op in ("is", "in")``, or against a
  module constant holding operator names): deciding per operator is evaluating, and happens
  in :mod:`cstoolkit.query` only: its per-ticket evaluator and its columnar mode;
* computes business time itself: calls a calendar's ``day_intervals`` or an interval index's
  ``_ensure``, reads the arrays of an interval index or business clock (``starts``, ``ends``,
  ``before``, ``lengths`` of what ``fast_clock``/``BusinessClock`` returned), or defines a
  function named for business time (``business_hours``, ``business_seconds``,
  ``business_days``...). Everyone else calls :mod:`cstoolkit.calendars` (per instant, or its
  array forms ``business_hours_array``/``business_days_array``).

Each allowed module says why.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cstoolkit.query.grammar import OPERATORS

ROOT = Path(__file__).resolve().parents[1]

#: Modules that may decide by a condition's operator, and why.
OPERATORS_ALLOWED = {
    "cstoolkit/query/": "the one evaluator (per ticket and columnar), the parser and checks",
    "cstoolkit/store/condition_sql.py": "compiles conditions to SQL; the differential tests "
    "(tests/query/test_sql_differential.py) check it equal to the evaluator",
    "cstoolkit/triage/check.py": "recipe check reasons about conditions (contradictions, "
    "unreachable rules) without evaluating them on tickets",
    "cstoolkit/triage/graph.py": "recipe graph words a condition for a flowchart label",
}
#: Modules that may compute business time, and why.
BUSINESS_TIME_ALLOWED = {
    "cstoolkit/calendars.py": "the one calendar module",
}
_CLOCK_ARRAYS = {"starts", "ends", "before", "lengths"}
_CLOCK_MAKERS = {"fast_clock", "BusinessClock", "IntervalIndex"}
_BUSINESS_NAME = re.compile(r"business_(hours|seconds|days|time)", re.IGNORECASE)
_OPS = frozenset(OPERATORS)


def sources(root: Path = ROOT) -> Iterator[Path]:
    """Every product module: cstoolkit/ and plugins/*/<package>/ (their tests excluded)."""
    yield from sorted((root / "cstoolkit").rglob("*.py"))
    for package in sorted(root.glob("plugins/*/cstoolkit_*")):
        yield from sorted(p for p in package.rglob("*.py") if "tests" not in p.parts)


def _allowed(rel: str, table: dict[str, str]) -> bool:
    return any(rel == k or (k.endswith("/") and rel.startswith(k)) for k in table)


def _strings(node: ast.AST, constants: dict[str, set[str]]) -> set[str]:
    """The string constants ``node`` is or holds (a tuple, set or list of them, or a module
    constant bound to one)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        out: set[str] = set()
        for item in node.elts:
            out |= _strings(item, constants)
        return out
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.args
        and node.func.id in ("frozenset", "set", "tuple")
    ):
        return _strings(node.args[0], constants)
    if isinstance(node, ast.Name):
        return constants.get(node.id, set())
    return set()


def _constants(tree: ast.Module) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None:
            found = _strings(value, out)
            if found:
                out[target.id] = found
    return out


def _is_op(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "op") or (
        isinstance(node, ast.Attribute) and node.attr == "op"
    )


def operator_tests(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, what) for each test of a condition operator."""
    constants = _constants(tree)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if not any(_is_op(s) for s in sides):
            continue
        named = set().union(*(_strings(s, constants) for s in sides)) & _OPS
        if named:
            out.append((node.lineno, f"tests the operator against {sorted(named)}"))
    return out


def business_time(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, what) for each place that computes business time itself."""
    clocks: set[str] = set()  # names and attributes bound to an interval index or clock
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in _CLOCK_MAKERS:
                for target in node.targets:
                    for t in ast.walk(target):
                        if isinstance(t, ast.Name):
                            clocks.add(t.id)
                        elif isinstance(t, ast.Attribute):
                            clocks.add(t.attr)
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("day_intervals", "_ensure")
        ):
            out.append((node.lineno, f"calls .{node.func.attr}()"))
        if isinstance(node, ast.Attribute) and node.attr in _CLOCK_ARRAYS:
            base = node.value
            name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
            if name in clocks:
                out.append((node.lineno, f"reads {name}.{node.attr} of a business clock"))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _BUSINESS_NAME.search(
            node.name
        ):
            out.append((node.lineno, f"defines {node.name}()"))
    return out


def _findings(check, allowed: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        if _allowed(rel, allowed):
            continue
        tree = ast.parse(path.read_text("utf-8"), rel)
        found += [f"{rel}:{line}: {what}" for line, what in check(tree)]
    return found


def test_conditions_are_evaluated_only_by_the_one_evaluator() -> None:
    found = _findings(operator_tests, OPERATORS_ALLOWED)
    assert not found, (
        "decide by a condition's operator only in cstoolkit/query/ (query.evaluate per "
        "ticket, query.columnar.mask over columns):\n" + "\n".join(found)
    )


def test_business_time_only_in_the_calendar_module() -> None:
    found = _findings(business_time, BUSINESS_TIME_ALLOWED)
    assert not found, (
        "compute business time with cstoolkit.calendars (Calendar.business_seconds, "
        "business_days_between, business_hours_array, business_days_array):\n" + "\n".join(found)
    )


def test_allowed_modules_exist_and_still_need_it() -> None:
    for table, check in (
        (OPERATORS_ALLOWED, operator_tests),
        (BUSINESS_TIME_ALLOWED, business_time),
    ):
        for rel in table:
            target = ROOT / rel
            assert target.exists(), f"stale entry: {rel}"
            if target.is_file() and rel != "cstoolkit/calendars.py":
                assert check(ast.parse(target.read_text("utf-8"))), f"stale entry: {rel}"


# What the walk catches: the shapes of the backtest's former evaluator and business hours.
_OLD_EVALUATOR = """
_TEXT_OPS = frozenset({"is", "is_not", "contains"})
def table(c, values):
    if c.op not in _TEXT_OPS:
        return None
    op = c.op
    if op == "gt":
        return [v > c.value for v in values]
"""
_OLD_BUSINESS = """
def _business_hours(calendar, start, end):
    clock = fast_clock(calendar)
    clock._ensure(start)
    return clock.before[0] + clock.starts[0]
"""


@pytest.mark.parametrize(
    ("source", "check", "expected"),
    [
        (_OLD_EVALUATOR, operator_tests, 2),
        (_OLD_BUSINESS, business_time, 4),
        ("x = c.op == 'created'\ny = mode == 'gt'", operator_tests, 0),
        ("total = calendar.business_seconds(a, b)\nclock = fast_clock(c)\nclock.seconds(a, b)",
         business_time, 0),
    ],
)  # fmt: skip
def test_the_walk_catches_an_evaluator_and_business_hours(source, check, expected) -> None:  # type: ignore[no-untyped-def]
    assert len(check(ast.parse(source))) == expected
