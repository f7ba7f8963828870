"""The audit log: one place writes its rows, one place reads them.

Every write to ``audit_log`` goes through :func:`write` (inside the caller's transaction, so the
entry commits or rolls back with the change it records) or :func:`record` (its own
transaction). Pushed changes, lock releases, privacy erasures and store pruning all arrive
here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.model import now
from cstoolkit.store.codec import dumps, from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store


def write(
    cur: Any,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    *,
    at: datetime | None = None,
) -> int:
    """Add an entry within the caller's write transaction; return its id."""
    row = cur.execute(
        "INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?) "
        "RETURNING id",
        (to_epoch(at or now()), actor, action, target, dumps(details)),
    ).fetchone()
    return int(row[0])


def record(
    store: Store, actor: str, action: str, target: str | None, details: dict[str, Any]
) -> int:
    """Add an entry in a transaction of its own; return its id."""
    with store.transaction() as cur:
        return write(cur, actor, action, target, details)


def entries(store: Store, target: str | None = None) -> list[dict[str, Any]]:
    """Entries (of one target, or all), oldest first."""
    sql = "SELECT id, at, actor, action, target, details FROM audit_log"
    params: tuple[Any, ...] = ()
    if target is not None:
        sql += " WHERE target = ?"
        params = (target,)
    return [
        {
            "id": r[0],
            "at": from_epoch(r[1]),
            "actor": r[2],
            "action": r[3],
            "target": r[4],
            "details": json.loads(r[5]),
        }
        for r in store.conn.execute(sql + " ORDER BY id", params).fetchall()
    ]
