"""How the language compares values: a field's value as conditions see it, equality and order
by kind. The per-ticket evaluator, the columnar one, value checking and the analyses of
recipe check all compare through these."""

from __future__ import annotations

import enum
from datetime import date, datetime

from cstoolkit.query.grammar import CASE_INSENSITIVE
from cstoolkit.query.registry import FieldSpec, extra


def normal(spec: FieldSpec, value: object) -> object:
    """A value as conditions compare it: enums as their names, kind any as JSON values."""
    if value is None:
        return None
    if spec.kind == "enum":
        return str(value.value if isinstance(value, enum.Enum) else value)
    if spec.kind == "tags":
        return [str(t) for t in value] if isinstance(value, list | tuple | set) else []
    if spec.kind == "any":
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.value
    return value


def present(value: object) -> bool:
    return value is not None and not (isinstance(value, str | list | tuple | dict) and not value)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def eq(spec: FieldSpec, actual: object, expected: object) -> bool:
    if spec.kind in CASE_INSENSITIVE and isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if is_number(actual) and is_number(expected):
        return actual == expected
    return type(actual) is type(expected) and actual == expected


def compare(spec: FieldSpec, a: object, b: object) -> int | None:
    """-1/0/1, or None when the two cannot be ordered."""
    if spec.kind == "enum" and spec.ordered and spec.values:
        if a in spec.values and b in spec.values:
            ia, ib = spec.values.index(str(a)), spec.values.index(str(b))
            return (ia > ib) - (ia < ib)
        return None
    pairs = (
        (is_number(a) and is_number(b))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, datetime) and isinstance(b, datetime))
    )
    if not pairs:
        return None
    return (a > b) - (a < b)  # type: ignore[operator]


def contains(actual: object, expected: object) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.lower() in actual.lower()
    if isinstance(actual, list | tuple):
        return any(eq(ANY_SPEC, item, expected) for item in actual)
    return False


#: Seconds one regex search may run when the ``regex`` package is installed (it takes a
#: timeout; ``re`` does not): a search still running then counts as no match, so a pattern


def ordered(spec: FieldSpec, op: str, actual: object, value: object) -> bool:
    """``actual op value`` for gt/lt/ge/le/between; False when they cannot be ordered."""
    if op == "between":
        low, high = items(value)
        lo, hi = compare(spec, actual, low), compare(spec, actual, high)
        return lo is not None and hi is not None and lo >= 0 and hi <= 0
    order = compare(spec, actual, value)
    if order is None:
        return False
    return {"gt": order > 0, "lt": order < 0, "ge": order >= 0, "le": order <= 0}.get(op, False)


def items(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


ANY_SPEC = FieldSpec("value", "any", extra("value"))
