"""Aggregate reads for reports: the SQL of staffing plans and of the vendor metric check.

Each function takes the report's ticket filter as ``where`` and ``params``: a condition over
``tickets t`` (and ``people r``, the requester) as the report compiled it. Times are unix
seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cstoolkit.store.base import Store
    from cstoolkit.store.conditions import Selectable

_FROM = "FROM tickets t LEFT JOIN people r ON r.id = t.requester_id"


def ticket_filter(
    store: Store, node: Selectable | None, at: datetime
) -> tuple[str, list[Any]] | None:
    """The report filter of live tickets matching ``node`` (evaluated at ``at``), or None when
    part of the condition cannot be compiled to SQL."""
    if node is None:
        return "t.deleted = 0", []
    from cstoolkit.store import condition_sql

    facts = condition_sql.fact_columns(store)
    fragments: list[str] = ["t.deleted = 0"]
    params: list[Any] = []
    for part in node.store_parts(at):
        try:
            sql, values = condition_sql.compile_where(
                part.where, now=at, dialect=store.dialect, facts=facts
            )
        except condition_sql.NotCompilable:
            return None
        fragments.append(f"({sql})")
        params.extend(values)
    return " AND ".join(fragments), params


def local_time_sql(col: str, starts: Sequence[float], offsets: Sequence[float]) -> str:
    """An SQL expression for ``col`` (unix seconds) as local wall-clock seconds, given a zone's
    UTC offsets and the instants (``starts``) from which each one holds."""
    offs = [int(o) for o in offsets]
    begins = [int(s) for s in starts]
    if len(set(offs)) == 1:
        return f"({col} + {offs[0]})"
    whens = " ".join(
        f"WHEN {col} < {begins[i + 1]} THEN {col} + {offs[i]}" for i in range(len(offs) - 1)
    )
    return f"(CASE {whens} ELSE {col} + {offs[-1]} END)"


def solved_custom_mean(
    store: Store,
    field_key: str,
    where: str,
    params: Sequence[Any],
    since: float,
    until: float,
) -> tuple[float | None, int]:
    """Mean and count of the positive numbers in custom field ``field_key`` of the tickets
    solved in ``[since, until)``."""
    key = field_key.replace('"', "")
    expr = f"CAST(json_extract(t.custom_fields, '$.\"{key}\"') AS REAL)"
    row = store.conn.execute(
        f"SELECT AVG({expr}), COUNT({expr}) {_FROM} WHERE ({where}) "
        f"AND t.solved_at >= ? AND t.solved_at < ? AND {expr} > 0",
        [*params, int(since), int(until)],
    ).fetchone()
    if not row or not row[1]:
        return None, 0
    return float(row[0]), int(row[1])


def arrivals_by_slot(
    store: Store,
    where: str,
    params: Sequence[Any],
    since: float,
    until: float,
    *,
    slot_seconds: int,
    starts: Sequence[float],
    offsets: Sequence[float],
) -> dict[tuple[int, int], int]:
    """Tickets created in ``[since, until)`` per (local weekday, 0 = Monday; slot of
    ``slot_seconds`` in the local day)."""
    local = local_time_sql("t.created_at", starts, offsets)
    sql = (
        f"SELECT ({local} / 86400 + 3) % 7, ({local} % 86400) / {int(slot_seconds)}, COUNT(*) "
        f"{_FROM} WHERE ({where}) AND t.created_at >= ? AND t.created_at < ? GROUP BY 1, 2"
    )
    return {
        (int(wd), int(slot)): int(n)
        for wd, slot, n in store.conn.execute(sql, [*params, int(since), int(until)])
    }


def raw_payloads(
    store: Store, where: str, params: Iterable[Any], since: float, until: float
) -> Iterator[tuple[str, Any, Any]]:
    """(id, created_at, raw payload as stored text) of the tickets that may have a value in
    ``[since, until)``: created before ``until`` and updated since ``since`` or not resolved."""
    join = " LEFT JOIN people r ON r.id = t.requester_id" if "r." in where else ""
    cur = store.conn.execute(
        f"SELECT t.id, t.created_at, t.raw FROM tickets t{join} WHERE ({where}) "
        "AND t.created_at < ? AND (t.updated_at >= ? OR t.status NOT IN ('solved', 'closed'))",
        [*params, until, since],
    )
    for tid, created, raw in cur:
        yield str(tid), created, raw
