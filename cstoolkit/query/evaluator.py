"""The evaluator, per ticket: whether one :class:`Subject` satisfies a condition.

A leaf reads its field with the registry's getter and tests the value with :func:`test_value`,
which is the one definition of what each operator means for each kind; the columnar evaluator
(:mod:`cstoolkit.query.columnar`) applies the same function to each distinct value of a column.
Change operators compare with the values the recipe recorded on its last run
(:func:`snapshot`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from cstoolkit.errors import QueryError
from cstoolkit.query.compare import contains, eq, items, normal, ordered, present
from cstoolkit.query.grammar import CHANGE
from cstoolkit.query.regex import search
from cstoolkit.query.registry import FieldSpec, Subject, field_spec
from cstoolkit.query.tree import All, Any, Cond, Node, Not, leaves
from cstoolkit.query.values import parse_datetime


def evaluate(node: Node, subject: Subject) -> bool:
    """Whether ``subject`` satisfies ``node``."""
    if isinstance(node, Cond):
        return eval_cond(node, subject)
    if isinstance(node, All):
        return all(evaluate(child, subject) for child in node.children)
    if isinstance(node, Any):
        return any(evaluate(child, subject) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, subject)
    raise TypeError(f"not a condition node: {node!r}")


def eval_cond(c: Cond, subject: Subject) -> bool:
    spec = field_spec(c.field)
    if c.op in CHANGE:
        return eval_change(spec, c, subject)
    return test_value(spec, c, spec.getter(subject))


def test_value(spec: FieldSpec, c: Cond, value: object) -> bool:
    """Whether the field's ``value`` (as its getter returns it) satisfies ``c`` (not a change
    operator: those compare with the previous run's value, :func:`eval_change`)."""
    actual = normal(spec, value)
    op, expected = c.op, c.value
    if op == "exists":
        return present(actual) == bool(expected)
    if spec.kind == "tags":
        tags = actual if isinstance(actual, list) else []
        if op in ("is", "contains"):
            return expected in tags
        if op == "is_not":
            return expected not in tags
        if op in ("in", "contains_any"):
            return any(v in tags for v in items(expected))
        if op == "not_in":
            return not any(v in tags for v in items(expected))
        if op == "matches":
            return any(search(str(expected), t) for t in tags)
        return False
    if actual is None:
        return op in ("is_not", "not_in")
    if isinstance(actual, list) and op in ("is", "is_not", "in", "not_in", "matches"):
        # a list-valued custom or extension field (a multi-select): test its members
        if op == "matches":
            return any(search(str(expected), item) for item in actual)
        wanted = items(expected) if op in ("in", "not_in") else (expected,)
        hit = any(eq(spec, item, v) for item in actual for v in wanted)
        return hit if op in ("is", "in") else not hit
    if op == "is":
        return eq(spec, actual, expected)
    if op == "is_not":
        return not eq(spec, actual, expected)
    if op == "in":
        return any(eq(spec, actual, v) for v in items(expected))
    if op == "not_in":
        return not any(eq(spec, actual, v) for v in items(expected))
    if op == "contains":
        return contains(actual, expected)
    if op == "contains_any":
        return any(contains(actual, v) for v in items(expected))
    if op == "matches":
        return search(str(expected), actual)
    return ordered(spec, op, actual, expected)


test_value.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest thinks

# -- change detection --------------------------------------------------------------------------


def snap(spec: FieldSpec, value: object) -> object:
    """A JSON-friendly value for ``Subject.previous`` (and for comparing with it)."""
    value = normal(spec, value)
    if value is None:
        return None
    if spec.kind == "tags":
        return sorted(set(value)) if isinstance(value, list) else []
    if spec.kind == "datetime":
        if isinstance(value, str):
            try:
                value = parse_datetime(value)
            except QueryError:
                return value
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
    return value


def _same(spec: FieldSpec, a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return eq(spec, a, b)


def eval_change(spec: FieldSpec, c: Cond, subject: Subject) -> bool:
    if subject.previous is None or spec.name not in subject.previous:
        return False
    before = snap(spec, subject.previous[spec.name])
    after = snap(spec, spec.getter(subject))
    if spec.kind == "tags":
        old = set(before) if isinstance(before, list) else set()
        new = set(after) if isinstance(after, list) else set()
        if c.op == "changed":
            return old != new
        if c.op == "changed_to":
            return c.value in new and c.value not in old
        return c.value in old and c.value not in new
    if _same(spec, before, after):
        return False
    if c.op == "changed":
        return True
    expected = snap(spec, c.value)
    side = after if c.op == "changed_to" else before
    return side is not None and eq(spec, side, expected)


def changed_fields(node: Node) -> frozenset[str]:
    """The fields ``node`` tests with changed/changed_from/changed_to."""
    return frozenset(c.field for c in leaves(node) if c.op in CHANGE)


def snapshot(node: Node, subject: Subject) -> dict[str, object]:
    """The values to keep as ``Subject.previous`` for the next run (JSON-serialisable)."""
    values: dict[str, object] = {}
    for name in sorted(changed_fields(node)):
        spec = field_spec(name)
        values[name] = snap(spec, spec.getter(subject))
    return values
