"""Reads for reports: the KPI scan's tickets with their facts, staffing plans and the vendor
metric check.

Each function takes the report's ticket filter as ``where`` and ``params``: a condition over
``tickets t`` (and ``people r``, the requester) as the report compiled it. Times are unix
seconds.

The KPI report's per-ticket values come from the stored columns (:mod:`cstoolkit.store.columns`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.store import codec
from cstoolkit.store import facts as stored
from cstoolkit.timeline.row import COLUMNS as FACT_COLUMNS

if TYPE_CHECKING:
    from cstoolkit.model import Person, Ticket
    from cstoolkit.store.base import Store
    from cstoolkit.store.conditions import Selectable
    from cstoolkit.timeline import Facts

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
        [*params, math.ceil(since), math.ceil(until)],
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
        for wd, slot, n in store.conn.execute(sql, [*params, math.ceil(since), math.ceil(until)])
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


# -- the KPI scan ------------------------------------------------------------------------------

#: ``--by`` dimensions read from a ticket column (for ``tier``, the assignee's tier).
GROUP_COLUMNS = {
    "agent": "t.assignee_id",
    "group": "t.group_id",
    "channel": "t.channel",
    "priority": "t.priority",
    "instance": "t.instance",
    "tier": "t.assignee_id",
}

#: The columns of a :func:`scan_rows` row, in order.
SCAN_COLUMNS = (
    "id", "created_at", "status", "group_key", "priority", "channel", "first_reply",
    "last_public_reply", "first_solve", "last_solve", "reopens", "agent_replies", "solver",
    "requester_wait", "agent_work", "horizon", "events", "status_since", "status_log",
    "wait_log", "work_log", "reply_log", "agent_log", "assignment_log", "answer_log",
    "sla_policy", "sla_instances",
)  # fmt: skip


def _conn(db: Any) -> Any:
    return getattr(db, "conn", db)


def scan_rows(
    db: Any,
    where: str,
    params: Sequence[Any],
    *,
    since: float,
    until: float,
    by: str | None = None,
    sla: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """One row per selected ticket that may count in ``[since, until)`` (created before
    ``until``; facts reaching ``since``, or not resolved), in id order: :data:`SCAN_COLUMNS`,
    the group key being the ``--by`` column (:data:`GROUP_COLUMNS`) and the SLA columns NULL
    unless ``sla``. The report reads the stored columns instead (:mod:`cstoolkit.store.columns`);
    this row-by-row read is what the reference oracle of the tests replays, to check them."""
    gcol = GROUP_COLUMNS.get(by or "", "NULL")
    join = " LEFT JOIN people r ON r.id = t.requester_id" if "r." in where else ""
    sla_cols = ", f.sla_policy, f.sla_instances" if sla else ", NULL, NULL"
    sql = (
        f"SELECT t.id, CAST(t.created_at AS INTEGER), t.status, {gcol}, t.priority, t.channel, "
        "f.first_reply, f.last_public_reply, f.first_solve, f.last_solve, f.reopens, "
        "f.agent_replies, f.solver, f.requester_wait, f.agent_work, f.horizon, f.events, "
        "f.status_since, f.status_log, f.wait_log, f.work_log, "
        f"f.reply_log, f.agent_log, f.assignment_log, f.answer_log{sla_cols} "
        f"FROM tickets t JOIN ticket_facts f ON f.ticket_id = t.id{join} "
        f"WHERE ({where}) AND t.created_at < ? "
        "AND (f.horizon >= ? OR t.status NOT IN ('solved', 'closed')) ORDER BY t.id"
    )
    yield from _conn(db).execute(sql, [*params, math.ceil(until), int(since)])


def tickets_with_facts(
    store: Store, where: str, params: Sequence[Any], *, since: float, until: float
) -> Iterator[tuple[Ticket, Person | None, Facts]]:
    """(ticket, requester, facts) of the selected tickets that may count in ``[since, until)``
    (as :func:`scan_rows` selects them), in id order: for SLA clocks evaluated when read."""
    tcols = ", ".join(f"t.{c}" for c in codec.TICKET_COLUMNS.split(", "))
    pcols = ", ".join(f"r.{c}" for c in codec.PERSON_COLUMNS.split(", "))
    fcols = ", ".join(f"f.{c}" for c in FACT_COLUMNS)
    rows = store.conn.execute(
        f"SELECT {tcols}, {pcols}, {fcols} FROM tickets t JOIN ticket_facts f "
        "ON f.ticket_id = t.id LEFT JOIN people r ON r.id = t.requester_id "
        f"WHERE ({where}) AND t.created_at < ? "
        "AND (f.horizon >= ? OR t.status NOT IN ('solved', 'closed')) ORDER BY t.id",
        [*params, math.ceil(until), int(since)],
    )
    for row in rows:
        yield stored.split_ticket_row(row)


def id_filter(store: Store, ids: Iterable[str]) -> tuple[str, list[Any]]:
    """A report filter selecting exactly ``ids`` (tickets a condition matched in Python): they
    go into a temporary table of this connection, which the filter reads."""
    conn = store.conn
    # one per connection; the unqualified name finds it before any table of the schema
    conn.execute(
        store.ddl_for_dialect("CREATE TEMP TABLE IF NOT EXISTS kpi_ids (id TEXT PRIMARY KEY)")
    )
    conn.execute("DELETE FROM kpi_ids")
    conn.executemany(
        "INSERT INTO kpi_ids (id) VALUES (?) ON CONFLICT DO NOTHING", [(i,) for i in ids]
    )
    return "t.deleted = 0 AND t.id IN (SELECT id FROM kpi_ids)", []
