"""The events' indexes are the ones the queries use (migration 0012): a sync writes an index
entry only where a query reads it. The partial index on the tickets answered from the knowledge
base (migration 0016) serves the self-service counts.

The statements are captured from the store functions that run them (SQLite's trace callback),
so a change of the query that the index no longer serves fails here, and each plan is asked of
the database itself, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cstoolkit.model import Channel, Event, EventKind, Page, Status, Ticket
from cstoolkit.store import Store, open_store
from cstoolkit.store import backtest as store_backtest
from cstoolkit.store import knowledge as store_kb
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


# -- the tickets answered from the knowledge base (migration 0016) ------------------------------


def _answered(store: Store) -> Store:
    tickets = [
        Ticket(
            f"i:{n}", "i", str(n), f"t{n}", Status.SOLVED, T0 + timedelta(hours=n),
            T0 + timedelta(hours=n + 1), channel=Channel.EMAIL if n % 2 else Channel.CHAT,
            custom_fields={"kb_article": "help:a.md"} if n % 5 == 0 else {"other": n},
        )
        for n in range(60)
    ]  # fmt: skip
    store.upsert_page("i", Page(tickets=tickets))
    return store


def _self_service(by: str | None) -> Any:
    def run(store: Store) -> None:
        store_kb.self_service_counts(
            store,
            "t.deleted = 0 AND r.id IS NULL",
            [],
            since=T0.timestamp(),
            until=(T0 + timedelta(days=2)).timestamp(),
            by=by,
        )

    return run


@pytest.mark.parametrize("by", [None, "channel"])
def test_answered_index_serves_the_self_service_counts(
    store_factory: StoreFactory, tmp_path: Any, by: str | None
) -> None:
    """Only the answered tickets are read through the partial index; no statement decodes the
    custom fields of the other tickets (every one that reads ``kb_article`` uses the index)."""
    store = _answered(open_store(tmp_path / "trace.db"))
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        _self_service(by)(store)
    finally:
        store.conn.set_trace_callback(None)
    reading = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "kb_article" in s]
    assert len(reading) == 1
    store = _answered(store_factory())
    for sql in reading:
        if store.dialect == "sqlite":
            plan = " ".join(str(r[-1]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        else:
            with store.transaction() as cur:
                cur.execute("SET LOCAL enable_seqscan = off")
                plan = " ".join(str(r[0]) for r in cur.execute(f"EXPLAIN {sql}"))
        assert store_kb.ANSWERED_INDEX in plan, plan


def test_answered_index_holds_only_the_answered_tickets(store_factory: StoreFactory) -> None:
    store = _answered(store_factory())
    if store.dialect == "sqlite":
        (sql,) = store.conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", (store_kb.ANSWERED_INDEX,)
        ).fetchone()
    else:
        defs = "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname"
        (sql,) = store.conn.execute(f"{defs} = ?", (store_kb.ANSWERED_INDEX,)).fetchone()
    assert "kb_article" in sql and "WHERE" in sql.upper()
    counts = store_kb.self_service_counts(
        store, "t.deleted = 0", [], since=T0.timestamp(), until=(T0 + timedelta(days=3)).timestamp()
    )
    assert counts[None]["created"] == 60 and counts[None]["answered"] == 12
