"""`cst store prune|backup|migrate` and `cst privacy forget` (with suppression at ingest)."""

from __future__ import annotations

import pytest

from cstoolkit.store import Store, open_store
from cstoolkit.store.ledger import Ledger
from cstoolkit.store.migrations import MIGRATIONS

from .conftest import Workspace


def _dump(store: Store) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every row of every table (the privacy checks grep it for a forgotten person)."""
    tables = sorted(store._table_names())
    return [(t, sorted(store.conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr))
            for t in tables]  # fmt: skip


def test_prune_dry_run_then_prune(synced: Workspace) -> None:
    store = synced.store()
    resolved = store.conn.execute(
        "SELECT COUNT(*) FROM tickets WHERE status IN ('solved', 'closed')"
    ).fetchone()[0]
    victim = store.conn.execute(
        "SELECT id FROM tickets WHERE status = 'closed' LIMIT 1"
    ).fetchone()[0]
    Ledger(store, "survey").reserve(f"csat:{victim}:1")
    open_ids = {r[0] for r in store.conn.execute(
        "SELECT id FROM tickets WHERE status NOT IN ('solved', 'closed')")}  # fmt: skip
    store.close()
    assert 0 < resolved < 80
    code, dry = synced.run_json("store", "prune", "--older-than", "30d", "--dry-run", "--json")
    assert code == 0 and dry["dry_run"] and dry["tickets"] == resolved and dry["events"] > 0
    store = synced.store()
    assert store.counts()["tickets"] == 80
    store.close()
    code, done = synced.run_json("store", "prune", "--older-than", "30d", "--json")
    assert code == 0
    assert {k: v for k, v in done.items() if k not in ("dry_run", "cutoff")} == {
        k: v for k, v in dry.items() if k not in ("dry_run", "cutoff")
    }
    store = synced.store()
    left = {r[0] for r in store.conn.execute("SELECT id FROM tickets")}
    assert left == open_ids
    orphans = store.conn.execute(
        "SELECT COUNT(*) FROM events WHERE ticket_id NOT IN (SELECT id FROM tickets)"
    ).fetchone()[0]
    assert orphans == 0
    assert Ledger(store, "survey").get(f"csat:{victim}:1") is not None  # never-twice kept
    assert any(e["action"] == "store.prune" for e in store.audit_entries())
    store.close()
    # nothing is older than 10 years
    code, again = synced.run_json("store", "prune", "--older-than", "10y", "--json")
    assert code == 0 and again["tickets"] == 0
    assert synced.run("store", "prune", "--older-than", "soon").returncode == 2


def test_backup_restores_to_an_equal_store(synced: Workspace) -> None:
    target = synced.root / "backups" / "nightly.db"
    if synced.kind == "postgresql":
        proc = synced.run("store", "backup", str(target))
        assert proc.returncode == 2 and "back it up with pg_dump" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not target.exists()
        return  # SQLite's online backup; a PostgreSQL store is backed up with pg_dump
    code, result = synced.run_json("store", "backup", str(target), "--json")
    assert (
        code == 0 and result["tickets"] == 80 and result["schema_version"] == MIGRATIONS[-1].version
    )
    restored = open_store(target, migrate=False)
    assert _dump(restored) == _dump(synced.store())
    assert restored.counts() == synced.store().counts()
    assert restored.get_cursor("desk") is not None
    restored.close()
    assert not list(target.parent.glob(".*tmp*"))
    # refuses to overwrite the store itself
    assert synced.run("store", "backup", str(synced.store_path)).returncode == 2


@pytest.mark.slow_on_postgresql
def test_migrate_dry_run_apply_and_refuse_newer(ws: Workspace) -> None:
    old = ws.store(migrate=False)
    old.migrate(target=7)
    old.close()
    code, plan = ws.run_json("store", "migrate", "--dry-run", "--json")
    assert code == 0
    assert [m["version"] for m in plan["pending"]] == [
        m.version for m in MIGRATIONS if m.version > 7
    ]
    assert plan["applied"] == [] and plan["schema_version"] == 7
    code, done = ws.run_json("store", "migrate", "--json")
    assert code == 0 and done["schema_version"] == MIGRATIONS[-1].version and done["applied"]
    code, again = ws.run_json("store", "migrate", "--json")
    assert again["pending"] == [] and again["applied"] == []
    store = ws.store(migrate=False)
    store.conn.execute("INSERT INTO schema_migrations VALUES (9999, 'future', 0)")
    store.close()
    proc = ws.run("store", "migrate", "--dry-run")
    assert proc.returncode == 1
    assert "newer than this program" in proc.stderr


def _requester(store: Store) -> tuple[str, str, int]:
    pid, email = store.conn.execute(
        "SELECT p.id, p.email FROM people p JOIN tickets t ON t.requester_id = p.id "
        "WHERE p.role = 'requester' GROUP BY p.id ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()
    n = store.conn.execute("SELECT COUNT(*) FROM tickets WHERE requester_id = ?", (pid,)).fetchone()
    return pid, email, int(n[0])


def test_forget_then_resync_stays_forgotten(synced: Workspace) -> None:
    store = synced.store()
    pid, email, n = _requester(store)
    before = store.counts()
    theirs = [r[0] for r in store.conn.execute(
        "SELECT id FROM tickets WHERE requester_id = ?", (pid,))]  # fmt: skip
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO survey_offers (key, survey, kind, ticket_id, cycle, requester_id, "
            "address, channel, language, offered_at, expires_at) VALUES "
            "('k', 'csat', 'csat', 'desk:1', 1, ?, ?, 'email', 'en', 0, 0)",
            (pid, email),
        )
    Ledger(store, "survey").reserve("k", {"address": email})
    store.close()
    code, report = synced.run_json("privacy", "forget", email.upper(), "--json")
    assert code == 0
    assert report["people"] == 1 and report["tickets"] == n and report["ledger"] == 1

    def check() -> None:
        store = synced.store()
        text = "\n".join(repr(rows) for _, rows in _dump(store))
        assert email not in text and email.lower() not in text.lower()
        for tid in theirs:
            ticket = store.get_ticket(tid)
            assert ticket is not None and ticket.subject == "" and ticket.description == ""
            assert ticket.raw == {} and "forgotten-" in str(ticket.requester_id)
            assert all(e.body is None for e in store.events(tid))
        assert store.person(pid) is None
        assert store.counts()["tickets"] == before["tickets"]
        assert store.counts()["events"] == before["events"]
        pseudo = store.conn.execute(
            "SELECT requester_id FROM tickets WHERE requester_id LIKE 'desk:forgotten-%' "
            "GROUP BY requester_id"
        ).fetchall()
        assert len(pseudo) == 1
        assert (
            store.conn.execute(
                "SELECT COUNT(*) FROM tickets WHERE requester_id = ?", pseudo[0]
            ).fetchone()[0]
            >= n
        )
        assert Ledger(store, "survey").get("k") is not None
        entry = [e for e in store.audit_entries() if e["action"] == "privacy.forget"][-1]
        assert email not in repr(entry) and pid not in repr(entry)
        store.close()

    check()
    # a full re-sync brings the same records again: they arrive pseudonymised
    assert synced.invoke("sync", "pull", "--full").exit_code == 0
    check()
    # a new ticket of the same person arrives pseudonymised too
    ext = pid.split(":", 1)[1]
    synced.append(
        {"type": "person", "id": ext, "role": "requester", "name": "Back Again", "email": email},
        {"type": "ticket", "id": "new-1", "subject": "please call me at home", "status": "open",
         "requester": ext, "created_at": "2026-11-01T10:00:00Z",
         "updated_at": "2026-11-01T10:00:00Z",
         "events": [{"id": "new-1-1", "kind": "comment", "at": "2026-11-01T10:00:00Z",
                     "author": ext, "role": "requester", "public": True,
                     "body": "my secret address"}]},
    )  # fmt: skip
    assert synced.invoke("sync", "pull").exit_code == 0
    store = synced.store()
    ticket = store.get_ticket("desk:new-1")
    assert ticket is not None and ticket.subject == "" and "forgotten-" in str(ticket.requester_id)
    assert [e.body for e in store.events("desk:new-1")] == [None]
    assert (
        store.conn.execute("SELECT COUNT(*) FROM people WHERE name = 'Back Again'").fetchone()[0]
        == 0
    )
    store.close()


def test_forget_by_id_and_unknown(synced: Workspace) -> None:
    store = synced.store()
    pid, email, n = _requester(store)
    store.close()
    code, report = synced.run_json("privacy", "forget", pid, "--json")
    assert code == 0 and report["tickets"] == n
    store = synced.store()
    assert (
        store.conn.execute("SELECT COUNT(*) FROM people WHERE email = ?", (email,)).fetchone()[0]
        == 0
    )
    store.close()
    proc = synced.run("privacy", "forget", "nobody@example.invalid")
    assert proc.returncode == 3
    assert "nobody@example.invalid" not in proc.stderr


def test_events_only_page_of_a_forgotten_ticket_is_blanked(synced: Workspace) -> None:
    from datetime import UTC, datetime

    from cstoolkit.model import Event, EventKind, Role
    from cstoolkit.plugin import Page

    store = synced.store()
    pid, _email, _n = _requester(store)
    tid = store.conn.execute(
        "SELECT id FROM tickets WHERE requester_id = ? LIMIT 1", (pid,)
    ).fetchone()[0]
    store.close()
    assert synced.run("privacy", "forget", pid).returncode == 0
    store = synced.store()
    when = datetime(2026, 11, 1, 10, tzinfo=UTC)
    page = Page(
        events=[
            Event("desk:late-1", tid, EventKind.COMMENT, when, "desk:a1", Role.AGENT, True,
                  "Dear customer, your address is 1 Main St"),
            Event("desk:late-2", "desk:other", EventKind.COMMENT, when, pid, Role.REQUESTER,
                  True, "written by them elsewhere"),
        ]
    )  # fmt: skip
    store.upsert_page("desk", page)
    bodies = dict(
        store.conn.execute("SELECT id, body FROM events WHERE id LIKE 'desk:late-%'").fetchall()
    )
    assert bodies == {"desk:late-1": None, "desk:late-2": None}
    author = store.conn.execute("SELECT author_id FROM events WHERE id = 'desk:late-2'").fetchone()
    assert "forgotten-" in author[0]
    store.close()


def test_config_check_reports_bad_run_steps(ws: Workspace) -> None:
    ws.write_config('[run]\nsteps = ["sync pull", "privacy forget someone"]\n')
    proc = ws.run("config", "check")
    assert proc.returncode == 2
    assert "run.steps[1]" in proc.stderr + proc.stdout
