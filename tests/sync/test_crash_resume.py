"""kill -9 in the middle of `cst sync pull` and `cst sync mirror --apply`, then run again.

The pull test kills a 12,000-ticket sync (60 pages of 200) three times: once between pages
(with the CSTOOLKIT_TEST_PAGE_DELAY testing knob) and twice wherever it happens to be.

The store must end up identical to a clean full sync (no lost ticket, no duplicate row, no
missing event), and the mirror target must hold exactly one copy of every ticket.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import sync
from cstoolkit.builtin.local import LocalBackend
from cstoolkit.model import EventKind
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.testing.backend_suite import store_snapshot

#: 12,000 keeps the whole sync test area under a minute; CSTOOLKIT_CRASH_TICKETS=20000 (or
#: more) runs the same test on a larger helpdesk.
TICKETS = int(os.environ.get("CSTOOLKIT_CRASH_TICKETS") or 12_000)
PAGE = 200


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A large helpdesk and the snapshot of a clean, uninterrupted sync of it."""
    from datetime import datetime

    root = tmp_path_factory.mktemp("crash")
    helpdesk = root / "big.jsonl"
    end = datetime.fromisoformat("2026-03-01T00:00:00+00:00")
    stats = generate_file(SampleSpec(tickets=TICKETS, days=60, seed=23, end=end), helpdesk)
    clean = open_store(root / "clean.db")
    backend = LocalBackend("big", {"path": str(helpdesk), "page_size": PAGE}, MemoryKeyValue("b"))
    summary = sync.pull(clean, backend)
    assert summary.stats.inserted == TICKETS
    snapshot = store_snapshot(clean)
    clean.close()
    return {"root": root, "helpdesk": helpdesk, "snapshot": snapshot, "stats": stats}


def _count(db: Path, sql: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # not created or not migrated yet


def _kill_when(proc: Any, reached: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"finished before the kill point: {proc.communicate()}")
        if reached():
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
            return
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("kill point never reached")


def test_pull_killed_repeatedly_ends_identical_to_a_clean_sync(
    big: dict[str, Any], tmp_path: Path, ws: Any
) -> None:
    ws.write_config(
        f'[backends.big]\nplugin = "local"\npath = "{big["helpdesk"]}"\npage_size = {PAGE}\n'
        f'[store]\npath = "{tmp_path / "crash.db"}"\n'
    )
    db = tmp_path / "crash.db"
    tickets = "SELECT COUNT(*) FROM tickets"
    # 1: killed between pages (the testing knob makes the run sleep after each commit);
    # 2 and 3: no delay, so the kill lands wherever the run happens to be, mid-page included.
    for share, delay in ((0.08, "0.02"), (0.35, ""), (0.65, "")):
        kill_at = int(TICKETS * share)
        proc = ws.popen("sync", "pull", "big", env={"CSTOOLKIT_TEST_PAGE_DELAY": delay})
        _kill_when(proc, lambda n=kill_at: _count(db, tickets) >= n)
        assert _count(db, tickets) < TICKETS
    final = ws.run("sync", "pull", "big", "--json")
    assert final.returncode == 0, final.stderr
    (summary,) = json.loads(final.stdout)["instances"]
    assert summary["outcome"] == "ok" and _count(db, tickets) == TICKETS
    store = open_store(db)
    try:
        assert store.counts()["events"] == big["stats"].events
        assert store_snapshot(store) == big["snapshot"]
        runs = Counter(r[0] for r in store.conn.execute("SELECT outcome FROM sync_runs"))
        assert runs == Counter({"interrupted": 3, "ok": 1})
        assert store.conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    finally:
        store.close()
    again = ws.run("sync", "pull", "big", "--json")
    (second,) = json.loads(again.stdout)["instances"]
    assert (second["inserted"], second["updated"]) == (0, 0)


def test_mirror_killed_mid_apply_never_duplicates(ws: Any) -> None:
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    copy_file = ws.root / "copy.jsonl"

    def created() -> int:
        return copy_file.read_text().count('"marker"')

    slow = {"CSTOOLKIT_TEST_MIRROR_DELAY": "0.01"}
    for kill_at in (20, 60):
        proc = ws.popen("sync", "mirror", "desk", "copy", "--apply", env=slow)
        _kill_when(proc, lambda n=kill_at: created() >= n)
    final = ws.run("sync", "mirror", "desk", "copy", "--apply", "--json")
    assert final.returncode == 0, final.stderr
    assert ws.run("sync", "push").returncode == 0  # comments left pending by a killed run
    markers = Counter(
        rec.get("marker")
        for rec in map(json.loads, copy_file.read_text().splitlines())
        if rec.get("type") == "ticket"
    )
    # a ticket line is rewritten on each change: count distinct tickets per marker instead
    ids_per_marker: dict[str, set[str]] = {}
    for rec in map(json.loads, copy_file.read_text().splitlines()):
        if rec.get("type") == "ticket":
            ids_per_marker.setdefault(rec["marker"], set()).add(rec["id"])
    assert len(ids_per_marker) == 120 and all(len(v) == 1 for v in ids_per_marker.values())
    assert set(markers) == set(ids_per_marker)
    rerun = json.loads(ws.run("sync", "mirror", "desk", "copy", "--apply", "--json").stdout)
    assert (rerun["created"], rerun["linked"]) == (0, 0)
    # every public comment of every original reached its copy exactly once
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    store = ws.store()
    try:
        for marker, copies in ids_per_marker.items():
            source = marker.removeprefix("cst-mirror:")
            (copy_ext,) = copies
            public = Counter(
                e.body
                for e in store.events(source)
                if e.kind == EventKind.COMMENT and e.public and e.body
            )
            copied = Counter(
                e.body for e in store.events(f"copy:{copy_ext}") if e.kind == EventKind.COMMENT
            )
            assert copied == public, source
    finally:
        store.close()


@pytest.mark.server
@pytest.mark.slow  # the PostgreSQL crash run; test_pull_killed_repeatedly_... is the default's
def test_pull_killed_on_postgresql_ends_identical_to_a_clean_sqlite_sync(
    big: dict[str, Any], ws: Any, pg_target: Any
) -> None:
    """The same kills against the PostgreSQL store: it ends with exactly the rows a clean sync
    gives SQLite (same values, same types), and the interrupted runs are recorded."""
    import psycopg

    ws.write_config(
        f'[backends.big]\nplugin = "local"\npath = "{big["helpdesk"]}"\npage_size = {PAGE}\n'
        + pg_target.config_toml()
    )

    def count() -> int:
        with psycopg.connect(pg_target.url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{pg_target.schema}"')
            try:
                return int(conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
            except psycopg.errors.UndefinedTable:
                return 0

    for share, delay in ((0.1, "0.02"), (0.5, "")):
        kill_at = int(TICKETS * share)
        proc = ws.popen("sync", "pull", "big", env={"CSTOOLKIT_TEST_PAGE_DELAY": delay})
        _kill_when(proc, lambda n=kill_at: count() >= n)
        assert count() < TICKETS
    final = ws.run("sync", "pull", "big", "--json")
    assert final.returncode == 0, final.stderr
    store = pg_target.open()
    try:
        assert store.counts()["events"] == big["stats"].events
        assert store_snapshot(store) == big["snapshot"]
        runs = Counter(r[0] for r in store.conn.execute("SELECT outcome FROM sync_runs"))
        assert runs == Counter({"interrupted": 2, "ok": 1})
        assert store.conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    finally:
        store.close()
