"""Store maintenance: the rows ``cst store prune`` deletes (or counts, in a dry run).

:mod:`cstoolkit.ops.retention` says what is old enough and records the audit entry; this module
is the tables it reaches, inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


def prune(
    tx: Any, stamp: int, keep_change_states: Sequence[str], *, dry_run: bool
) -> dict[str, int]:
    """Delete (``dry_run``: count) resolved tickets last updated and solved before ``stamp``
    with their events, tags, triage snapshots and planned changes not in
    ``keep_change_states``; finished sync runs and ``cst run`` records before ``stamp`` except
    the latest of each. Return the rows per kind."""
    ids = [
        r[0]
        for r in tx.execute(
            "SELECT id FROM tickets WHERE status IN ('solved', 'closed') AND updated_at < ? "
            "AND (solved_at IS NULL OR solved_at < ?)",
            (stamp, stamp),
        )
    ]
    counts = {"tickets": len(ids), "events": 0, "tags": 0, "planned_changes": 0,
              "triage_snapshots": 0, "sync_runs": 0, "runs": 0}  # fmt: skip
    keep = ",".join("?" * len(keep_change_states))
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for key, table, extra, extra_params in (
            ("events", "events", "", ()),
            ("tags", "ticket_tags", "", ()),
            ("planned_changes", "planned_changes", f" AND state NOT IN ({keep})",
             tuple(keep_change_states)),
            ("triage_snapshots", "triage_recipe_state", "", ()),
        ):  # fmt: skip
            where = f"ticket_id IN ({marks}){extra}"
            params = [*chunk, *extra_params]
            if dry_run:
                row = tx.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params).fetchone()
                counts[key] += int(row[0])
            else:
                tx.execute(f"DELETE FROM {table} WHERE {where}", params)
                counts[key] += tx.rowcount
        if not dry_run:
            tx.execute(f"DELETE FROM tickets WHERE id IN ({marks})", chunk)
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
            counts[key] = int(tx.execute(f"SELECT COUNT(*) {sql}", (stamp,)).fetchone()[0])
        else:
            tx.execute(f"DELETE {sql}", (stamp,))
            counts[key] = tx.rowcount
    return counts
