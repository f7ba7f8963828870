"""The events' indexes are the ones the queries use (migration 0012): a sync writes an index
entry only where a query reads it.

The statements are captured from the store functions that run them (SQLite's trace callback),
so a change of the query that the index no longer serves fails here, and each plan is asked of
the database itself, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cstoolkit.model import Event, EventKind, Page, Status, Ticket
from cstoolkit.store import Store, open_store
from cstoolkit.store import backtest as store_backtest
from tests.conftest import StoreFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KINDS = [
    EventKind.COMMENT,
    EventKind.PRIORITY_CHANGE,
    EventKind.TAGS_CHANGE,
    EventKind.STATUS_CHANGE,
]


def _filled(store: Store) -> Store:
    tickets = [
        Ticket(f"i:{n}", "i", str(n), f"t{n}", Status.OPEN, T0, T0 + timedelta(hours=1))
        for n in range(40)
    ]
    events = [
        Event(f"i:{n}-{k}", f"i:{n}", KINDS[k % 4], T0 + timedelta(minutes=k), old="x", new="y")
        for n in range(40)
        for k in range(8)
    ]
    store.upsert_page("i", Page(tickets=tickets, events=events))
    return store


def _captured(store: Store, run: Any) -> list[str]:
    """The SELECT statements ``run(store)`` sends (SQLite only: its trace callback)."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        run(store)
    finally:
        store.conn.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith("SELECT") and "events" in s]


STATEMENTS = {
    "events_changes_at": lambda s: store_backtest.first_changes(s, T0),
    "events_ticket_at": lambda s: s.events("i:3"),
}


@pytest.mark.parametrize("index", sorted(STATEMENTS))
def test_each_event_index_serves_its_query(
    store_factory: StoreFactory, tmp_path: Any, index: str
) -> None:
    (sql,) = _captured(_filled(open_store(tmp_path / "trace.db")), STATEMENTS[index])
    store = _filled(store_factory())
    if store.dialect == "sqlite":
        plan = " ".join(str(r[-1]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    else:  # on a table this small the planner would rather scan: ask whether it can use it
        with store.transaction() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(r[0]) for r in cur.execute(f"EXPLAIN {sql}"))
    assert index in plan, plan


def test_events_have_no_index_that_no_query_reads(store_factory: StoreFactory) -> None:
    store = store_factory()
    if store.dialect == "sqlite":
        rows = store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
            "AND name NOT LIKE 'sqlite_autoindex%'"
        )
    else:
        rows = store.conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'events' AND indexname <> 'events_pkey'"
        )
    assert {r[0] for r in rows} == set(STATEMENTS)
