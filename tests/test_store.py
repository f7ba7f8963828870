"""The store suite: migrations, upserts, cursors, audit log, plugin state, ledger, locks.

Every test takes ``store_factory`` and so runs twice: on SQLite and on a real PostgreSQL server
(tests/conftest.py starts it on 127.0.0.1; under CSTOOLKIT_REQUIRE_SERVERS=1 a missing server
fails instead of skipping).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cstoolkit.errors import BusyError, StoreError
from cstoolkit.model import Event, EventKind, Person, Role, Status, Ticket
from cstoolkit.plugin import Page
from cstoolkit.store.ledger import DONE, FAILED, IN_DOUBT, Ledger
from cstoolkit.store.locks import Lock, force_release, hold, list_locks
from cstoolkit.store.migrations import MIGRATIONS
from tests.conftest import PgTarget, StoreFactory

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ticket(n: int, **kw: object) -> Ticket:
    base: dict[str, object] = {
        "id": f"d:{n}",
        "instance": "d",
        "external_id": str(n),
        "subject": f"Ticket {n}",
        "status": Status.OPEN,
        "created_at": T0,
        "updated_at": T0,
        "requester_id": "d:c1",
        "tags": ["a", "b"],
    }
    base.update(kw)
    return Ticket(**base)  # type: ignore[arg-type]


def event(n: int, k: int, **kw: object) -> Event:
    base: dict[str, object] = {
        "id": f"d:{n}-{k}",
        "ticket_id": f"d:{n}",
        "kind": EventKind.COMMENT,
        "at": T0,
        "public": True,
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_migrates_from_empty(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.schema_version == MIGRATIONS[-1].version
    tables = store._table_names()
    assert {"tickets", "events", "people", "sync_cursors", "audit_log", "plugin_state",
            "ledger", "locks", "planned_changes"} <= tables  # fmt: skip
    assert store.pending_migrations() == []


def test_migrates_from_the_previous_version_keeping_data(store_factory: StoreFactory) -> None:
    old = store_factory(migrate=False)
    old.migrate(target=MIGRATIONS[-2].version)
    assert old.schema_version == MIGRATIONS[-2].version
    old.upsert_page("d", Page(tickets=[ticket(1)], cursor="c1"))
    old.close()
    store = store_factory()
    assert store.schema_version == MIGRATIONS[-1].version
    assert store.get_ticket("d:1") is not None and store.get_cursor("d") == "c1"


def test_a_lower_numbered_migration_merged_later_still_runs(store_factory: StoreFactory) -> None:
    store = store_factory(migrate=False)
    store.migrate(target=1)
    store.conn.execute("INSERT INTO schema_migrations VALUES (3, 'ledger_locks', 0)")
    store.conn.execute(
        "CREATE TABLE ledger (scope TEXT, key TEXT, state TEXT, reserved_at INTEGER, "
        "updated_at INTEGER, run_id TEXT, provider_ref TEXT, detail TEXT, PRIMARY KEY (scope, key))"
    )
    store.conn.execute("CREATE TABLE locks (name TEXT PRIMARY KEY, holder TEXT, host TEXT, "
                       "pid INTEGER, acquired_at INTEGER, expires_at INTEGER)")  # fmt: skip
    assert 2 in [m.version for m in store.pending_migrations()]
    store.migrate()
    assert store.applied_versions() == {m.version for m in MIGRATIONS}
    assert store.kv("x").keys() == []  # plugin_state (migration 2) now exists


def test_refuses_a_newer_schema(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    store.close()
    with pytest.raises(StoreError, match="schema version 999 is newer than this program"):
        store_factory()


def test_upsert_counts_and_hash_sees_same_second_changes(store_factory: StoreFactory) -> None:
    store = store_factory()
    person = Person(id="d:c1", instance="d", external_id="c1", role=Role.REQUESTER,
                    email="Ana@Example.ORG")  # fmt: skip
    page = Page(tickets=[ticket(1), ticket(2)], events=[event(1, 1)], people=[person], cursor="x")
    assert store.upsert_page("d", page).as_dict() == {
        "inserted": 2, "updated": 0, "unchanged": 0, "deleted": 0}  # fmt: skip
    assert store.upsert_page("d", page).unchanged == 2
    # Same updated_at (inside the vendor's timestamp precision), different content: an update.
    changed = Page(tickets=[ticket(1, subject="Edited")], events=[event(1, 1)], cursor="y")
    assert store.upsert_page("d", changed).updated == 1
    assert store.get_ticket("d:1").subject == "Edited"
    assert store.get_cursor("d") == "y"
    assert store.person("d:c1").domain == "example.org"
    stored = store.conn.execute("SELECT domain FROM people").fetchone()[0]
    assert stored == "example.org"


def test_a_ticket_twice_in_one_page_keeps_the_last(store_factory: StoreFactory) -> None:
    store = store_factory()
    page = Page(tickets=[ticket(1), ticket(1, status=Status.SOLVED)], cursor="c")
    stats = store.upsert_page("d", page)
    assert (stats.inserted, stats.updated) == (1, 1)
    assert store.get_ticket("d:1").status == Status.SOLVED
    assert store.counts()["tickets"] == 1


def test_cursor_and_rows_commit_together(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.upsert_page("d", Page(tickets=[ticket(1)], cursor="c1"))
    bad = Page(tickets=[ticket(2), ticket(3, created_at=datetime(2026, 1, 1))], cursor="c2")
    with pytest.raises(ValueError, match="naive datetime"):
        store.upsert_page("d", bad)
    assert store.get_cursor("d") == "c1"
    assert store.get_ticket("d:2") is None, "no half page is left behind"


def test_select_with_query_and_tags(store_factory: StoreFactory) -> None:
    from cstoolkit.query import parse

    store = store_factory()
    store.upsert_page(
        "d",
        Page(tickets=[ticket(1, tags=["vip"]), ticket(2, status=Status.SOLVED), ticket(3)]),
    )
    ids = [t.id for t, _ in store.select(parse("status:open tag:vip"))]
    assert ids == ["d:1"]
    assert [t.id for t, _ in store.select(limit=2)] == ["d:1", "d:2"]
    assert [t.id for t, _ in store.select(parse("-status:solved"))] == ["d:1", "d:3"]


def test_kv_audit(store_factory: StoreFactory) -> None:
    store = store_factory()
    kv = store.kv("zd")
    kv.set("token", {"access": "short-lived", "expires": 5})
    assert kv.get("token") == {"access": "short-lived", "expires": 5}
    assert store.kv("other").get("token") is None
    kv.delete("token")
    assert kv.keys() == []
    store.audit("cst", "triage.apply", "d:1", {"priority": ["normal", "high"]})
    (entry,) = store.audit_entries("d:1")
    assert entry["action"] == "triage.apply" and entry["details"]["priority"] == ["normal", "high"]


def test_ledger_never_twice_and_in_doubt(store_factory: StoreFactory) -> None:
    store = store_factory()
    a, b = Ledger(store, "survey"), Ledger(store, "survey")
    assert a.reserve("t1:cycle1")
    assert not b.reserve("t1:cycle1"), "a second reservation of the same cause is refused"
    a.commit("t1:cycle1", provider_ref="msg-1")
    assert a.get("t1:cycle1").state == DONE
    assert a.reserve("t2:cycle1")
    a.fail("t2:cycle1", "smtp 550")
    assert a.get("t2:cycle1").state == FAILED
    assert b.reserve("t2:cycle1"), "a known failure may be retried"
    assert b.reserve("t3:cycle1")
    # while run b lives (its lease runs), its reservations are nobody's orphans
    c = Ledger(store, "survey")
    assert c.orphans() == []
    # a crash leaves t2/t3 reserved by run b; once its lease ran out, they are orphans
    with store.transaction() as cur:
        cur.execute("UPDATE ledger SET lease_expires = 0 WHERE run_id = ?", (b.run_id,))
    assert {e.key for e in c.orphans()} == {"t2:cycle1", "t3:cycle1"}
    assert not c.mark_in_doubt("t3:cycle1", "not taken over yet: not c's to settle")
    t3 = c.get("t3:cycle1")
    assert t3 is not None and c.take_over(t3) and not c.take_over(t3)
    assert c.mark_in_doubt("t3:cycle1", "sent? no provider lookup")
    assert not c.reserve("t3:cycle1"), "in doubt: never resent blindly"
    assert c.release("t3:cycle1")
    assert c.reserve("t3:cycle1"), "released on purpose: may be sent again"
    assert c.get("t3:cycle1").state == "reserved" and c.get("t3:cycle1").run_id == c.run_id
    assert [e.key for e in c.entries(IN_DOUBT)] == []


def test_ledger_concurrent_reservations_have_one_winner(store_factory: StoreFactory) -> None:
    store_factory().close()
    wins: list[bool] = []

    def worker() -> None:
        store = store_factory()
        wins.append(Ledger(store, "survey").reserve("same-key"))
        store.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_locks(store_factory: StoreFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_factory()
    with hold(store, "sync:zd") as lock:
        with pytest.raises(BusyError, match="sync:zd: another run holds the lock") as err:
            Lock(store, "sync:zd").acquire()
        assert err.value.exit_code == 4
        assert [info.name for info in list_locks(store)] == ["sync:zd"]
        lock.renew()
    assert list_locks(store) == []
    # a holder whose process is gone (same host) is taken over at once
    dead = Lock(store, "sync:zd")
    dead.pid = 2**22 + 12345
    dead.acquire()
    Lock(store, "sync:zd").acquire()
    # an expired lease from another host is taken over
    assert force_release(store, "sync:zd")
    other = Lock(store, "job", ttl=60)
    other.host = "elsewhere"
    other.acquire()
    import cstoolkit.store.locks as locks_mod

    later = datetime.now(UTC) + timedelta(seconds=120)
    monkeypatch.setattr(locks_mod, "now", lambda: later)
    Lock(store, "job").acquire()


@pytest.mark.server
def test_postgresql_connection_lost_is_a_one_line_store_error(pg_target: PgTarget) -> None:
    import psycopg

    store = pg_target.open()
    store.upsert_page("d", Page(tickets=[ticket(1)], cursor="c1"))
    pid = store.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreError, match=r"^PostgreSQL store: ") as err:
        store.upsert_page("d", Page(tickets=[ticket(2)], cursor="c2"))
    assert "\n" not in str(err.value)
    again = pg_target.open()
    assert again.get_cursor("d") == "c1" and again.get_ticket("d:2") is None


@pytest.mark.server
def test_postgresql_password_never_shows(pg_target: PgTarget, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cstoolkit.cli import cli
    from cstoolkit.store import open_store

    url = pg_target.url.replace("postgres@", "postgres:s3cr3t-pw@")
    with pytest.raises(StoreError) as err:  # nothing listens on port 1
        open_store("postgresql://postgres:s3cr3t-pw@127.0.0.1:1/cst_test")
    assert "s3cr3t-pw" not in str(err.value) and "***" in str(err.value)
    config = tmp_path / "cstoolkit.toml"
    config.write_text(f'[store]\nurl = "{url}"\nschema = "{pg_target.schema}"\n')
    for args in (["config", "show"], ["config", "show", "--json"], ["config", "path"],
                 ["config", "check"], ["doctor"]):  # fmt: skip
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        assert "s3cr3t-pw" not in result.output, args
    check = CliRunner().invoke(cli, ["--config", str(config), "config", "check"])
    assert "store.url" in check.output and "holds a password" in check.output
