"""Store access for triage: recipe state, assignment state, runs (tables of migration 0006)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cstoolkit import model
from cstoolkit.store.codec import dumps, from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

_CHUNK = 500


def previous_snapshots(
    store: Store, recipe: str, ticket_ids: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """What ``recipe`` saw of each ticket on its last applied run."""
    sql = "SELECT ticket_id, snapshot FROM triage_recipe_state WHERE recipe = ?"
    if ticket_ids is None:
        rows = store.conn.execute(sql, (recipe,)).fetchall()
    else:
        ids = list(ticket_ids)
        rows = []
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            rows += store.conn.execute(
                f"{sql} AND ticket_id IN ({','.join('?' * len(chunk))})", (recipe, *chunk)
            ).fetchall()
    return {r[0]: json.loads(r[1]) for r in rows}


def save_snapshots(store: Store, items: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
    stamp = to_epoch(model.now())
    rows = [(recipe, tid, dumps(snap), stamp) for recipe, tid, snap in items]
    with store.transaction() as cur:
        cur.executemany(
            "INSERT INTO triage_recipe_state (recipe, ticket_id, snapshot, seen_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (recipe, ticket_id) DO UPDATE SET "
            "snapshot = excluded.snapshot, seen_at = excluded.seen_at",
            rows,
        )
    return len(rows)


def last_assignments(store: Store) -> dict[tuple[str, str], float]:
    rows = store.conn.execute(
        "SELECT agent_id, capacity_key, assigned_at FROM triage_last_assignment"
    )
    return {(r[0], r[1]): float(r[2]) for r in rows}


def save_last_assignments(store: Store, items: Mapping[tuple[str, str], float]) -> None:
    with store.transaction() as cur:
        cur.executemany(
            "INSERT INTO triage_last_assignment (agent_id, capacity_key, assigned_at) "
            "VALUES (?, ?, ?) ON CONFLICT (agent_id, capacity_key) DO UPDATE SET "
            "assigned_at = CASE WHEN excluded.assigned_at > triage_last_assignment.assigned_at "
            "THEN excluded.assigned_at ELSE triage_last_assignment.assigned_at END",
            [(a, k, int(t)) for (a, k), t in items.items()],
        )


def rota_owners(store: Store) -> dict[tuple[str, int], str]:
    rows = store.conn.execute("SELECT rota, week, agent_id FROM triage_rota")
    return {(r[0], int(r[1])): r[2] for r in rows}


def save_rota_owners(store: Store, items: Mapping[tuple[str, int], str]) -> None:
    stamp = to_epoch(model.now())
    with store.transaction() as cur:
        cur.executemany(
            "INSERT INTO triage_rota (rota, week, agent_id, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (rota, week) DO UPDATE SET agent_id = excluded.agent_id, "
            "updated_at = excluded.updated_at",
            [(r, w, a, stamp) for (r, w), a in items.items()],
        )


def open_loads(store: Store) -> list[tuple[str | None, str, int]]:
    """(assignee person id, channel, unresolved tickets) for every assignee."""
    return [
        (r[0], r[1], int(r[2]))
        for r in store.conn.execute(
            "SELECT assignee_id, channel, COUNT(*) FROM tickets WHERE deleted = 0 AND "
            "assignee_id IS NOT NULL AND status NOT IN ('solved', 'closed') GROUP BY 1, 2"
        )
    ]


def assignment_events(
    store: Store, since: datetime, until: datetime | None = None
) -> list[tuple[str, str, float]]:
    """(assignee person id, ticket channel, last assignment epoch) from the helpdesk's own
    assignments since ``since`` (manual assignments count for round robin too), as the
    tickets' facts record them (``assignment_log``)."""
    lo = to_epoch(since) or 0
    hi = to_epoch(until) if until is not None else None
    last: dict[tuple[str, str], float] = {}
    rows = store.conn.execute(
        "SELECT t.channel, f.assignment_log FROM ticket_facts f "
        "JOIN tickets t ON t.id = f.ticket_id WHERE f.assignments > 0 AND f.horizon >= ?",
        (lo,),
    )
    for channel, log in rows:
        for at, person in json.loads(log):
            if person is None or at < lo or (hi is not None and at > hi):
                continue
            key = (person, channel)
            if at > last.get(key, float("-inf")):
                last[key] = float(at)
    return [(person, channel, at) for (person, channel), at in last.items()]


def start_run(store: Store, run_id: str, kind: str, recipes: list[dict[str, Any]]) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO triage_runs (run_id, kind, recipes, started_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET kind = excluded.kind, recipes = excluded.recipes, "
            "started_at = excluded.started_at, finished_at = NULL, summary = '{}'",
            (run_id, kind, dumps(recipes), to_epoch(model.now())),
        )


def finish_run(store: Store, run_id: str, summary: dict[str, Any]) -> None:
    with store.transaction() as cur:
        cur.execute(
            "UPDATE triage_runs SET finished_at = ?, summary = ? WHERE run_id = ?",
            (to_epoch(model.now()), dumps(summary), run_id),
        )


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    row = store.conn.execute(
        "SELECT run_id, kind, recipes, started_at, finished_at, summary FROM triage_runs "
        "WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    if row is None:
        return None
    return {
        "run_id": row[0],
        "kind": row[1],
        "recipes": json.loads(row[2]),
        "started_at": from_epoch(row[3]),
        "finished_at": from_epoch(row[4]),
        "summary": json.loads(row[5]),
    }


def recent_window(days: int = 30) -> datetime:
    return model.now() - timedelta(days=days)
