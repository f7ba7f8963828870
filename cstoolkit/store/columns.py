"""The KPI report's columns: one chunk of packed arrays per UTC creation day
(:mod:`cstoolkit.store.column_chunk`), kept in ``report_columns`` and brought up to date for
exactly the tickets that changed.

Every write that changes a ticket or its facts marks the ticket's (day, id) in ``report_dirty``
through triggers (:func:`install`, migration 0011), in the same transaction as the write, so no
writer can forget it. :func:`refresh` (run by the report before it reads) takes the store's
write lock, rebuilds each dirty day (when most of it changed, or it has no chunk) or splices the
changed tickets into it, and clears the marks it handled. :func:`read` then streams the chunks a
period needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cstoolkit.store.column_chunk import (
    SOURCE_COLUMNS,
    Chunk,
    ChunkFormatError,
    build,
    decode_chunk,
    encode,
    splice,
)

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

DAY = 86400
#: A day whose changed tickets exceed this share of its chunk is rebuilt rather than spliced.
REBUILD_SHARE = 0.25
_IN = 500  # ids per IN (...) list
_PAGE = 8  # chunks read per query

_SELECT = (
    f"SELECT {', '.join(SOURCE_COLUMNS)} FROM tickets t JOIN ticket_facts f ON f.ticket_id = t.id"
)

# -- triggers (migration 0011) -------------------------------------------------------------------


def _sqlite_triggers() -> list[str]:
    """Row triggers: each write marks its ticket's (day, id) (both days when the creation
    moved)."""
    mark = "INSERT INTO report_dirty (day, ticket_id) "
    by_ticket = mark + "VALUES (CAST({r}.created_at AS INTEGER) / 86400, {r}.id) "
    by_facts = (
        mark + "SELECT CAST(created_at AS INTEGER) / 86400, id FROM tickets "
        "WHERE id = {r}.ticket_id "
    )
    bodies = {
        ("tickets", "INSERT"): [by_ticket.format(r="NEW")],
        ("tickets", "UPDATE"): [by_ticket.format(r="OLD"), by_ticket.format(r="NEW")],
        ("tickets", "DELETE"): [by_ticket.format(r="OLD")],
        ("ticket_facts", "INSERT"): [by_facts.format(r="NEW")],
        ("ticket_facts", "UPDATE"): [by_facts.format(r="NEW")],
        ("ticket_facts", "DELETE"): [by_facts.format(r="OLD")],
    }
    return [
        f"CREATE TRIGGER report_dirty_{table}_{op.lower()} AFTER {op} ON {table} BEGIN "
        + " ".join(f"{stmt}ON CONFLICT DO NOTHING;" for stmt in stmts)
        + " END"
        for (table, op), stmts in bodies.items()
    ]


def _pg_triggers() -> list[str]:
    """Statement-level triggers with transition tables: one INSERT per statement, whatever the
    number of rows it wrote."""
    out: list[str] = []
    mark = "INSERT INTO report_dirty (day, ticket_id) SELECT DISTINCT {day}, {id} FROM {src} "
    sources = {
        "tickets": ("created_at / 86400", "id", "{rows}"),
        "ticket_facts": (
            "t.created_at / 86400",
            "t.id",
            "{rows} x JOIN tickets t ON t.id = x.ticket_id",
        ),
    }
    for table, (day, ident, src) in sources.items():
        for op, tables in (
            ("INSERT", ("new_rows",)),
            ("UPDATE", ("old_rows", "new_rows")),
            ("DELETE", ("old_rows",)),
        ):
            name = f"report_dirty_{table}_{op.lower()}"
            body = " ".join(
                mark.format(day=day, id=ident, src=src.format(rows=rows))
                + "ON CONFLICT DO NOTHING;"
                for rows in tables
            )
            refs = " ".join(
                f"{'NEW' if rows == 'new_rows' else 'OLD'} TABLE AS {rows}" for rows in tables
            )
            out.append(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$body$ BEGIN {body} RETURN NULL; END $body$"
            )
            out.append(
                f"CREATE TRIGGER {name} AFTER {op} ON {table} REFERENCING {refs} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    return out


def install(
    store: Store, cur: Any, *, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Migration 0011's step: the triggers that mark changed tickets, and every stored ticket
    marked (the first report builds every chunk)."""
    statements = _pg_triggers() if store.dialect == "postgresql" else _sqlite_triggers()
    for statement in statements:
        cur.execute(statement)
    cur.execute(
        "INSERT INTO report_dirty (day, ticket_id) "
        "SELECT CAST(created_at AS INTEGER) / 86400, id FROM tickets"
    )
    return 0


# -- refresh -------------------------------------------------------------------------------------


@dataclass
class RefreshStats:
    """What one :func:`refresh` did."""

    tickets: int = 0  # changed tickets handled
    days: int = 0  # chunks rewritten (or dropped)
    rebuilt: int = 0  # of which rebuilt from all their tickets
    seconds: float = 0.0


def _day_rows(cur: Any, day: int) -> Any:
    return cur.execute(
        f"{_SELECT} WHERE t.created_at >= ? AND t.created_at < ?", (day * DAY, (day + 1) * DAY)
    )


def _id_rows(cur: Any, day: int, ids: Sequence[str]) -> list[Any]:
    rows: list[Any] = []
    for k in range(0, len(ids), _IN):
        part = list(ids[k : k + _IN])
        marks = ",".join("?" * len(part))
        rows.extend(
            cur.execute(
                f"{_SELECT} WHERE t.id IN ({marks}) AND t.created_at >= ? AND t.created_at < ?",
                [*part, day * DAY, (day + 1) * DAY],
            ).fetchall()
        )
    return rows


def _write(cur: Any, day: int, chunk: Chunk) -> None:
    cur.execute("DELETE FROM report_columns WHERE day = ?", (day,))
    if not chunk.n:
        return
    import numpy as np

    horizon = int(np.max(chunk["horizon"]))
    unresolved = int(np.count_nonzero((chunk["status"] != 4) & (chunk["status"] != 5)))
    cur.execute(
        "INSERT INTO report_columns (day, tickets, horizon, unresolved, data) "
        "VALUES (?, ?, ?, ?, ?)",
        (day, chunk.n, horizon, unresolved, encode(chunk)),
    )


def refresh(store: Store) -> RefreshStats:
    """Bring the chunks of every changed ticket up to date (one transaction under the store's
    write lock, so no write slips between reading a ticket and clearing its mark)."""
    started = time.perf_counter()
    stats = RefreshStats()
    if not store.has_table("report_dirty"):
        return stats
    # a cheap look first: most reports find nothing to do and take no lock
    if store.conn.execute("SELECT 1 FROM report_dirty LIMIT 1").fetchone() is None:
        return stats
    with store.transaction() as cur:
        dirty: dict[int, list[str]] = {}
        for day, tid in cur.execute("SELECT day, ticket_id FROM report_dirty").fetchall():
            dirty.setdefault(int(day), []).append(str(tid))
        for day, ids in sorted(dirty.items()):
            row = cur.execute("SELECT data FROM report_columns WHERE day = ?", (day,)).fetchone()
            old: Chunk | None = None
            if row is not None:
                try:
                    old = decode_chunk(row[0])
                except ChunkFormatError:
                    old = None
            if old is None or len(ids) > REBUILD_SHARE * max(old.n, 1):
                chunk = build(_day_rows(cur, day))
                stats.rebuilt += 1
            else:
                chunk = splice(old, ids, build(_id_rows(cur, day, ids)))
            _write(cur, day, chunk)
            stats.days += 1
            stats.tickets += len(ids)
        cur.execute("DELETE FROM report_dirty")
    stats.seconds = time.perf_counter() - started
    return stats


def rebuild_all(store: Store) -> RefreshStats:
    """Drop every chunk and build them again from the stored tickets and facts (a check that
    the incremental upkeep is right, and the repair if it ever was not)."""
    with store.transaction() as cur:
        cur.execute("DELETE FROM report_columns")
        cur.execute("DELETE FROM report_dirty")
        cur.execute(
            "INSERT INTO report_dirty (day, ticket_id) "
            "SELECT CAST(created_at AS INTEGER) / 86400, id FROM tickets"
        )
    return refresh(store)


# -- reads ---------------------------------------------------------------------------------------


def read(store: Store, *, since: float, until: float, with_ids: bool = False) -> Iterator[Chunk]:
    """The chunks of tickets created before ``until`` that may count from ``since`` on: a
    ticket whose facts end before ``since`` counts only while unresolved."""
    last_day = int(until) // DAY
    days = [
        int(r[0])
        for r in store.conn.execute(
            "SELECT day FROM report_columns WHERE day <= ? AND (horizon >= ? OR unresolved > 0) "
            "ORDER BY day",
            (last_day, int(since)),
        )
    ]
    for k in range(0, len(days), _PAGE):  # a few days at a time: memory stays flat
        page = days[k : k + _PAGE]
        marks = ",".join("?" * len(page))
        rows = store.conn.execute(
            f"SELECT day, data FROM report_columns WHERE day IN ({marks}) ORDER BY day", page
        ).fetchall()
        for day, data in rows:
            try:
                yield decode_chunk(data, with_ids=with_ids)
            except ChunkFormatError:  # written by another version: built again, once
                with store.transaction() as cur:
                    chunk = build(_day_rows(cur, int(day)))
                    _write(cur, int(day), chunk)
                yield chunk


def ensure_facts(store: Store) -> int:
    """Build the facts of changed tickets that have none (written without the store's write
    paths); return how many. Every ticket written since the last refresh is marked, so this
    looks at those only, not at every stored ticket."""
    from cstoolkit.store import facts as stored

    if not store.has_table("report_dirty"):
        return stored.ensure(store)
    ids = [
        str(r[0])
        for r in store.conn.execute(
            "SELECT d.ticket_id FROM report_dirty d JOIN tickets t ON t.id = d.ticket_id "
            "WHERE NOT EXISTS (SELECT 1 FROM ticket_facts f WHERE f.ticket_id = d.ticket_id)"
        )
    ]
    if not ids:
        return 0
    with store.transaction() as cur:
        return stored.refresh(cur, ids)


def span(store: Store) -> tuple[float | None, float | None]:
    """The start of the first creation day and the latest facts horizon of the stored columns
    (None when there are none): the range a report's clocks are built for."""
    row = store.conn.execute("SELECT MIN(day), MAX(horizon) FROM report_columns").fetchone()
    if not row or row[0] is None:
        return None, None
    return float(int(row[0]) * DAY), float(row[1])


def matching_ids(store: Store, where: str, params: Sequence[Any]) -> set[str]:
    """Ids of the tickets a report filter selects (``where`` over ``tickets t`` and ``people
    r``)."""
    join = " LEFT JOIN people r ON r.id = t.requester_id" if "r." in where else ""
    return {
        str(r[0])
        for r in store.conn.execute(f"SELECT t.id FROM tickets t{join} WHERE ({where})", params)
    }
