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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import UsageError
from cstoolkit.model import now
from cstoolkit.store import audit, maintenance
from cstoolkit.store.codec import to_epoch
from cstoolkit.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

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
    stamp = to_epoch(cutoff) or 0
    report = PruneReport(cutoff, dry_run)
    with store.transaction() as tx:
        counts = maintenance.prune(tx, stamp, KEEP_CHANGE_STATES, dry_run=dry_run)
        report.counts = counts
        if not dry_run:
            audit.write(tx, "cst", "store.prune", None, report.as_dict())
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
        store.backup_to(tmp, label=str(dest))
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {
        "file": str(dest),
        "bytes": dest.stat().st_size,
        "schema_version": store.schema_version,
        "tickets": store.counts()["tickets"],
    }


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
