"""What learned routing reads and keeps: training rows, cst's own writes, trained models.

* :func:`examples`: the tickets a model learns from (text, channel, language, requester's
  organisation and plan, custom fields, the current group, priority and tags), oldest first;
* :func:`decision_rows`: the events that set a group or a priority (the kinds the timeline names,
  :data:`cstoolkit.timeline.decisions.DECISION_KINDS`; the timeline interprets them);
* :func:`cst_writes`: cst's applied pushes of group and priority, from the audit log;
* ``routing_models`` / ``routing_model_tickets``: each trained model, its data hash and its
  tickets, so that :func:`mark_stale_for_tickets` (``cst privacy forget``) flags every model
  trained on a forgotten customer's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.store.codec import EVENT_COLUMNS, from_epoch, to_epoch
from cstoolkit.timeline.build import EventRow

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

_CHUNK = 500


@dataclass(slots=True)
class Example:
    """One ticket as routing sees it."""

    id: str
    instance: str
    created: int
    subject: str
    description: str
    channel: str
    language: str | None
    group: str | None
    priority: str
    tags: list[str]
    custom_fields: dict[str, Any]
    organization: str | None
    plan: str | None
    requester_id: str | None


_EXAMPLES = (
    "SELECT t.id, t.instance, t.created_at, t.subject, t.description, t.channel, t.language, "
    "t.group_id, t.priority, t.tags, t.custom_fields, p.organization, p.plan, t.requester_id "
    "FROM tickets t LEFT JOIN people p ON p.id = t.requester_id WHERE t.deleted = 0 "
    "AND (t.subject <> '' OR t.description <> '')"  # a forgotten customer's text is gone
)


def _example(r: Sequence[Any]) -> Example:
    return Example(
        id=r[0],
        instance=r[1],
        created=int(r[2]),
        subject=r[3] or "",
        description=r[4] or "",
        channel=r[5],
        language=r[6],
        group=r[7],
        priority=r[8],
        tags=list(json.loads(r[9] or "[]")),
        custom_fields=dict(json.loads(r[10] or "{}")),
        organization=r[11],
        plan=r[12],
        requester_id=r[13],
    )


def examples(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> list[Example]:
    """Live tickets created in ``[since, until)``, oldest first (ties by id)."""
    sql, params = _EXAMPLES, []
    if since is not None:
        sql += " AND t.created_at >= ?"
        params.append(to_epoch(since))
    if until is not None:
        sql += " AND t.created_at < ?"
        params.append(to_epoch(until))
    rows = store.conn.execute(sql + " ORDER BY t.created_at, t.id", params).fetchall()
    return [_example(r) for r in rows]


def examples_by_id(store: Store, ids: Sequence[str]) -> list[Example]:
    out: list[Example] = []
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i : i + _CHUNK])
        marks = ",".join("?" * len(chunk))
        out += [
            _example(r)
            for r in store.conn.execute(f"{_EXAMPLES} AND t.id IN ({marks})", chunk).fetchall()
        ]
    return out


def decision_rows(store: Store, kinds: Sequence[str]) -> dict[str, list[EventRow]]:
    """Every stored event of these kinds, by ticket."""
    marks = ",".join("?" * len(kinds))
    out: dict[str, list[EventRow]] = {}
    for r in store.conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE kind IN ({marks})", list(kinds)
    ).fetchall():
        out.setdefault(r[1], []).append(tuple(r))
    return out


def cst_writes(store: Store) -> dict[str, dict[str, list[tuple[int, str | None]]]]:
    """cst's applied pushes of ``group_id`` and ``priority``: ticket -> field -> (at, value)."""
    out: dict[str, dict[str, list[tuple[int, str | None]]]] = {}
    for target, at, details in store.conn.execute(
        "SELECT target, at, details FROM audit_log WHERE action = ? AND target IS NOT NULL",
        ("push.applied",),
    ).fetchall():
        changes = json.loads(details or "{}").get("changes") or {}
        for name in ("group_id", "priority"):
            if changes.get(name) is not None:
                out.setdefault(target, {}).setdefault(name, []).append((int(at), changes[name]))
    return out


# -- trained models ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelRecord:
    name: str
    path: str
    data_hash: str
    trained_at: datetime
    tickets: int
    stale_reason: str | None
    stale_at: datetime | None


def record_model(
    store: Store,
    name: str,
    path: str,
    data_hash: str,
    trained_at: datetime,
    ticket_ids: Iterable[str],
) -> None:
    """Remember a freshly trained model and its tickets (replacing an older one of that name)."""
    ids = sorted(set(ticket_ids))
    with store.transaction() as cur:
        cur.execute("DELETE FROM routing_model_tickets WHERE name = ?", (name,))
        cur.execute("DELETE FROM routing_models WHERE name = ?", (name,))
        cur.execute(
            "INSERT INTO routing_models (name, path, data_hash, trained_at, tickets) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, path, data_hash, to_epoch(trained_at), len(ids)),
        )
        cur.executemany(
            "INSERT INTO routing_model_tickets (name, ticket_id) VALUES (?, ?)",
            [(name, t) for t in ids],
        )


def model_record(store: Store, name: str) -> ModelRecord | None:
    row = store.conn.execute(
        "SELECT name, path, data_hash, trained_at, tickets, stale_reason, stale_at "
        "FROM routing_models WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None
    return ModelRecord(
        row[0],
        row[1],
        row[2],
        from_epoch(row[3]) or datetime.min,
        int(row[4]),
        row[5],
        from_epoch(row[6]) if row[6] is not None else None,
    )


def mark_stale_for_tickets(cur: Any, ticket_ids: Sequence[str], reason: str, at: datetime) -> int:
    """Within the caller's transaction: flag every model trained on one of these tickets for
    retraining, and forget that it holds them; return how many models were flagged."""
    names: set[str] = set()
    for i in range(0, len(ticket_ids), _CHUNK):
        chunk = list(ticket_ids[i : i + _CHUNK])
        marks = ",".join("?" * len(chunk))
        names |= {
            r[0]
            for r in cur.execute(
                f"SELECT DISTINCT name FROM routing_model_tickets WHERE ticket_id IN ({marks})",
                chunk,
            ).fetchall()
        }
        cur.execute(f"DELETE FROM routing_model_tickets WHERE ticket_id IN ({marks})", chunk)
    for name in sorted(names):
        cur.execute(
            "UPDATE routing_models SET stale_reason = ?, stale_at = ? WHERE name = ?",
            (reason, to_epoch(at), name),
        )
    return len(names)
