"""The columnar evaluator gives, row by row, what the per-ticket evaluator gives: over
generated conditions on every registered field and generated tickets with their facts."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit import query as q
from cstoolkit.query import columnar
from tests.query.strategies import NOW, Generated, conditions, custom_fields, helpdesks

#: Every field of the registry (ticket, requester, ages, facts, SLA, business time, roster).
ALL_FIELDS = sorted(q.FIELDS) + custom_fields()
NOT_CHANGE = frozenset(q.OPERATORS) - {"changed", "changed_from", "changed_to"}


def _per_ticket(node: q.Node, subjects: list[q.Subject]) -> list[bool]:
    return [q.evaluate(node, s) for s in subjects]


@given(desk=helpdesks(), node=conditions(ALL_FIELDS, NOT_CHANGE))
def test_columnar_mask_equals_per_ticket_evaluation(desk: Generated, node: q.Node) -> None:
    subjects = desk.subjects()
    table = columnar.table_from_subjects(subjects, node)
    assert columnar.mask(node, table).tolist() == _per_ticket(node, subjects)


@given(
    desk=helpdesks(),
    node=conditions(
        ["status", "tags", "priority", "custom.plan", "reopens"], frozenset(q.OPERATORS)
    ),
    seed=st.integers(0, 3),
)
def test_change_operators_fall_back_to_rows(desk: Generated, node: q.Node, seed: int) -> None:
    """Change tests compare with the previous run's values: per row, with the same answer."""
    subjects = desk.subjects()
    for i, s in enumerate(subjects):
        if (i + seed) % 3:
            other = subjects[(i + seed) % len(subjects)]
            s.previous = q.snapshot(q.cond("status", "changed"), other) | {
                "tags": sorted(other.ticket.tags),
                "priority": other.ticket.priority.value,
                "custom.plan": other.ticket.custom_fields.get("plan"),
                "reopens": other.extras.get("reopens"),
            }
    table = columnar.table_from_subjects(subjects, node)
    assert columnar.mask(node, table).tolist() == _per_ticket(node, subjects)


def test_number_and_datetime_columns_are_arrays_and_others_coded() -> None:
    from cstoolkit.model import Status, Ticket

    tickets = [
        Ticket(id=f"x:{i}", instance="x", external_id=str(i), subject=s, status=Status.OPEN,
               created_at=NOW - timedelta(hours=i), updated_at=NOW, solved_at=None)
        for i, s in enumerate(["a", "b", "a"])
    ]  # fmt: skip
    subjects = [q.Subject(t, None, NOW, {"reopens": i or None}) for i, t in enumerate(tickets)]
    node = q.parse("subject:a hours_since_created>=1 created_at<2026-03-01T12:00:00Z reopens>0")
    table = columnar.table_from_subjects(subjects, node)
    assert isinstance(table.columns["hours_since_created"], columnar.Numbers)
    assert isinstance(table.columns["created_at"], columnar.Numbers)
    assert table.columns["created_at"].values.dtype == np.int64  # exact to the microsecond
    assert isinstance(table.columns["subject"], columnar.Coded)
    assert table.columns["subject"].values == ["a", "b"]
    assert columnar.mask(node, table).tolist() == [False, False, True]


def test_a_field_without_column_or_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="no column for status"):
        columnar.mask(q.parse("status:open"), columnar.Table(2))


_WORDS = ["refund", "Factura", "ÜBERWEISUNG", "straße", "api", "a.b", "(x)", " "]


@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.lists(st.sampled_from(_WORDS), max_size=4).map(" ".join),
            st.text(max_size=12),
        ),
        min_size=65,
        max_size=150,
    ),
    needles=st.lists(
        st.one_of(st.sampled_from(_WORDS), st.text(min_size=1, max_size=3)), min_size=1, max_size=4
    ),
    field=st.sampled_from(["subject", "requester.email", "id"]),
    op=st.sampled_from(["contains", "contains_any", "matches"]),
    pattern=st.sampled_from(
        [r"\bapi\b", "(?i)refund|factura", "^$", r"\.b", "stra(ß|ss)e", "x{2,}"]
    ),
)
def test_many_distinct_strings_contain_and_match_as_test_value_says(
    values: list[str | None], needles: list[str], field: str, op: str, pattern: str
) -> None:
    """Over more than 64 distinct values ``contains``/``contains_any`` is one search per value
    (an alternation of the needles) and ``matches`` one regex search per value: the answers are
    ``test_value``'s."""
    value: object = {"contains": needles[0], "contains_any": needles, "matches": pattern}[op]
    c = q.cond(field, op, value)
    spec = q.field_spec(field)
    column = columnar.column_of(spec, values)
    got = columnar.mask(c, columnar.Table(len(values), {field: column})).tolist()
    assert got == [q.test_value(spec, c, v) for v in values]
