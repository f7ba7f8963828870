"""Runs as the store keeps them: sync runs per instance (read for ``cst status``) and the
records of ``cst run`` (``ops_runs``).

Times are returned as unix seconds, as stored, for callers that compute ages from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.store.codec import dumps, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

RUNNING = "running"
KILLED = "killed"


@dataclass
class SyncState:
    """What the store knows of one instance's syncs."""

    last_success: int | None = None  # finished_at of the latest run that ended ok
    last_outcome: str | None = None
    last_started: int | None = None
    last_stats: dict[str, Any] = field(default_factory=dict)
    cursor_updated: int | None = None  # when the instance's cursor was last saved


def synced_instances(store: Store) -> set[str]:
    """Instances with a sync run or a saved cursor."""
    names = {r[0] for r in store.conn.execute("SELECT DISTINCT instance FROM sync_runs")}
    return names | {r[0] for r in store.conn.execute("SELECT instance FROM sync_cursors")}


def live_tickets_by_instance(store: Store) -> dict[str, int]:
    """Tickets not deleted, per instance."""
    rows = store.conn.execute(
        "SELECT instance, COUNT(*) FROM tickets WHERE deleted = 0 GROUP BY instance"
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def sync_state(store: Store, instance: str) -> SyncState:
    conn = store.conn
    ok = conn.execute(
        "SELECT MAX(finished_at) FROM sync_runs WHERE instance = ? AND outcome = 'ok'",
        (instance,),
    ).fetchone()[0]
    last = conn.execute(
        "SELECT outcome, started_at, finished_at, stats FROM sync_runs WHERE instance = ? "
        "ORDER BY started_at DESC, id DESC LIMIT 1",
        (instance,),
    ).fetchone()
    cursor = conn.execute(
        "SELECT updated_at FROM sync_cursors WHERE instance = ?", (instance,)
    ).fetchone()
    state = SyncState(last_success=ok, cursor_updated=cursor[0] if cursor else None)
    if last:
        state.last_outcome, state.last_started = last[0], last[1]
        state.last_stats = json.loads(last[3]) if last[3] else {}
    return state


# -- cst run ---------------------------------------------------------------------------------


def start_ops_run(store: Store, run_id: str, started_at: datetime, *, dry_run: bool) -> None:
    """Record a ``cst run`` as running; one still marked running was killed (call under the
    run lock)."""
    with store.transaction() as tx:
        tx.execute("UPDATE ops_runs SET outcome = ? WHERE outcome = ?", (KILLED, RUNNING))
        tx.execute(
            "INSERT INTO ops_runs (run_id, started_at, dry_run, outcome) VALUES (?, ?, ?, ?)",
            (run_id, to_epoch(started_at), int(dry_run), RUNNING),
        )


def finish_ops_run(
    store: Store,
    run_id: str,
    finished_at: datetime | None,
    outcome: str,
    exit_code: int | None,
    report: dict[str, Any],
) -> None:
    with store.transaction() as tx:
        tx.execute(
            "UPDATE ops_runs SET finished_at = ?, outcome = ?, exit_code = ?, report = ? "
            "WHERE run_id = ?",
            (to_epoch(finished_at), outcome, exit_code, dumps(report), run_id),
        )


def last_ops_report(store: Store, *, include_dry_runs: bool = False) -> dict[str, Any] | None:
    """The report of the latest finished ``cst run``, or None."""
    sql = "SELECT report FROM ops_runs WHERE finished_at IS NOT NULL"
    if not include_dry_runs:
        sql += " AND dry_run = 0"
    row = store.conn.execute(sql + " ORDER BY started_at DESC, finished_at DESC LIMIT 1").fetchone()
    return json.loads(row[0]) if row else None
