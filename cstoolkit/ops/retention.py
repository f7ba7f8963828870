"""Retention and store maintenance: prune old resolved tickets, back up, migrate.

What ``prune`` deletes: tickets solved or closed whose last update (and solve time) is older
than the cutoff, with their events, tags, triage snapshots and planned changes that are no
longer waiting (applied, unchanged, conflict, refused); finished sync runs and ``cst run``
records older than the cutoff except the latest of each instance.

What it keeps, on purpose: the idempotence ledger (never-twice guarantees: a ticket that comes
back on a full re-sync still never gets a second survey or note), survey offers and answers
(aggregate satisfaction), opt-outs, mirror links (a mirrored ticket is never created twice), the
audit log, people, and planned changes still pending or failed (they stay visible in
``cst sync push --list``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import StoreError, UsageError
from cstoolkit.model import now
from cstoolkit.store import audit
from cstoolkit.store.codec import to_epoch
from cstoolkit.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

_CHUNK = 500
KEEP_CHANGE_STATES = ("pending", "claimed", "failed", "in_doubt")


@dataclass
class PruneReport:
    cutoff: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat().replace("+00:00", "Z"),
            "dry_run": self.dry_run,
            **self.counts,
        }


def prune(store: Store, older_than: timedelta, *, dry_run: bool = False) -> PruneReport:
    cutoff = now() - older_than
    stamp = to_epoch(cutoff)
    report = PruneReport(cutoff, dry_run)
    with store.transaction() as cur:
        ids = [
            r[0]
            for r in cur.execute(
                "SELECT id FROM tickets WHERE status IN ('solved', 'closed') AND updated_at < ? "
                "AND (solved_at IS NULL OR solved_at < ?)",
                (stamp, stamp),
            )
        ]
        counts = {"tickets": len(ids), "events": 0, "tags": 0, "planned_changes": 0,
                  "triage_snapshots": 0, "sync_runs": 0, "runs": 0}  # fmt: skip
        keep = ",".join(f"'{s}'" for s in KEEP_CHANGE_STATES)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, table, col, extra in (
                ("events", "events", "ticket_id", ""),
                ("tags", "ticket_tags", "ticket_id", ""),
                ("planned_changes", "planned_changes", "ticket_id", f" AND state NOT IN ({keep})"),
                ("triage_snapshots", "triage_recipe_state", "ticket_id", ""),
            ):
                where = f"{col} IN ({marks}){extra}"
                if dry_run:
                    counts[key] += int(
                        cur.execute(
                            f"SELECT COUNT(*) FROM {table} WHERE {where}", chunk
                        ).fetchone()[0]
                    )
                else:
                    cur.execute(f"DELETE FROM {table} WHERE {where}", chunk)
                    counts[key] += cur.rowcount
            if not dry_run:
                cur.execute(f"DELETE FROM tickets WHERE id IN ({marks})", chunk)
        old_runs = (
            "FROM sync_runs WHERE finished_at IS NOT NULL AND finished_at < ? AND id NOT IN "
            "(SELECT MAX(id) FROM sync_runs GROUP BY instance)"
        )
        old_ops = (
            "FROM ops_runs WHERE finished_at IS NOT NULL AND finished_at < ? AND run_id NOT IN "
            "(SELECT run_id FROM ops_runs ORDER BY started_at DESC LIMIT 1)"
        )
        for key, sql in (("sync_runs", old_runs), ("runs", old_ops)):
            if dry_run:
                counts[key] = int(cur.execute(f"SELECT COUNT(*) {sql}", (stamp,)).fetchone()[0])
            else:
                cur.execute(f"DELETE {sql}", (stamp,))
                counts[key] = cur.rowcount
        report.counts = counts
        if not dry_run:
            audit.write(cur, "cst", "store.prune", None, report.as_dict())
    return report


def backup(store: Store, target: str | Path) -> dict[str, Any]:
    """Copy the live store to ``target`` with SQLite's online backup API, atomically.

    The copy goes to a temporary file beside ``target`` first and is renamed over it only when
    complete, so ``target`` is always either the old backup or a whole new one.
    """
    dest = Path(target)
    if not isinstance(store, SQLiteStore):
        raise UsageError(
            f"store backup: {store.label} is a PostgreSQL store; back it up with pg_dump "
            "(for example: pg_dump --format=custom --file=FILE DATABASE)"
        )
    if store.path == ":memory:":
        raise UsageError("store backup: the store is in memory; nothing to back up")
    if dest.exists() and dest.resolve() == Path(store.path).resolve():
        raise UsageError(f"{dest}: is the store itself; choose another file")
    if dest.is_dir():
        raise UsageError(f"{dest}: is a directory; name a file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        with _closing(sqlite3.connect(str(tmp))) as out:
            store.conn.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")
            check = out.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"{dest}: backup failed its integrity check: {check}")
        os.replace(tmp, dest)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{dest}: backup failed: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return {
        "file": str(dest),
        "bytes": dest.stat().st_size,
        "schema_version": store.schema_version,
        "tickets": store.counts()["tickets"],
    }


class _closing:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def migration_status(store: Store) -> dict[str, Any]:
    """Current and latest schema version and the pending migrations (StoreError when the
    store's schema is newer than this program)."""
    from cstoolkit.store.migrations import MIGRATIONS

    pending = store.pending_migrations()
    return {
        "store": store.label,
        "schema_version": store.schema_version,
        "latest": MIGRATIONS[-1].version,
        "pending": [{"version": m.version, "name": m.name} for m in pending],
    }
