"""Two real processes: the second `cst sync pull` on the same instance exits 4 at once."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import pytest

from tests.sync.conftest import LOCAL_PAIR


def _wait_for_lock(db: str, name: str, proc: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            conn = sqlite3.connect(db, timeout=1)
            row = conn.execute("SELECT pid FROM locks WHERE name = ?", (name,)).fetchone()
            conn.close()
        except sqlite3.OperationalError:
            row = None  # the store is still being created
        if row is not None:
            assert row[0] == proc.pid
            return
        time.sleep(0.05)
    raise AssertionError("the first run never took the lock")


def test_second_pull_on_the_same_instance_exits_4_at_once(ws: Any) -> None:
    slow = {"CSTOOLKIT_TEST_PAGE_DELAY": "3"}  # 4 pages: the first run would last 12 s
    first = ws.popen("sync", "pull", "desk", env=slow)
    try:
        _wait_for_lock(str(ws.store_path), "sync:desk", first)
        started = time.monotonic()
        second = ws.run("sync", "pull", "desk", "--json")
        elapsed = time.monotonic() - started
        other = ws.run("sync", "pull", "copy")  # another instance is not blocked
        assert first.poll() is None, "the first run should still be running"
    finally:
        first.kill()
        first.communicate(timeout=30)
    assert second.returncode == 4, second.stderr
    assert "sync:desk: another run holds the lock" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert json.loads(second.stdout)["instances"][0]["outcome"] == "busy"
    assert elapsed < 5, "the second run must not wait for the first"
    assert other.returncode == 0, other.stderr
    # The first run was killed holding the lock: its process is gone, so the next run on this
    # host takes the lock over at once and finishes the sync.
    again = ws.run("sync", "pull", "desk", "--json")
    assert again.returncode == 0, again.stderr
    store = ws.store()
    assert store.counts()["tickets"] == 120
    assert store.conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    store.close()


@pytest.mark.server
def test_two_hosts_pulling_one_instance_on_postgresql_one_waits_nothing_doubles(
    ws: Any, pg_target: Any
) -> None:
    """Two `cst sync pull desk` processes started together on one PostgreSQL store (as two cron
    hosts would): one syncs, the other exits 4 at once; a later run adds nothing."""
    ws.write_config(pg_target.config_toml() + LOCAL_PAIR)
    slow = {"CSTOOLKIT_TEST_PAGE_DELAY": "0.5"}
    procs = [ws.popen("sync", "pull", "desk", "--json", env=slow) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 4], outs
    busy = next(err for (_, err), p in zip(outs, procs, strict=True) if p.returncode == 4)
    assert "sync:desk: another run holds the lock" in busy
    again = ws.run("sync", "pull", "desk", "--json")
    assert again.returncode == 0, again.stderr
    (summary,) = json.loads(again.stdout)["instances"]
    assert (summary["inserted"], summary["updated"]) == (0, 0)
    store = pg_target.open()
    try:
        assert store.counts()["tickets"] == 120
        dupes = store.conn.execute(
            "SELECT COUNT(*) FROM (SELECT id FROM events GROUP BY id HAVING COUNT(*) > 1) d"
        ).fetchone()[0]
        assert dupes == 0
        assert store.get_cursor("desk") is not None
    finally:
        store.close()
