"""The one write path: planned changes are stored, then pushed with conflict checks.

Whoever decides a change (a triage recipe, mirror, a command) stores it with :func:`plan`;
:func:`push` sends what is pending to each backend:

* an instance configured ``read_only`` gets nothing: the change is ``refused``;
* a ticket changed upstream since the plan is ``conflict``, never overwritten: with the
  ``conflict_check`` capability the backend's own compare-and-set decides (Zendesk
  ``safe_update``); otherwise the engine re-reads the ticket (``Backend.fetch``) and compares
  ``updated_at``;
* a failure keeps the change ``failed`` in the queue (``cst sync push --list``) for the next
  ``cst sync push``; an applied change is recorded in the audit log with the old values, so a run
  can be reverted, and reflected in the store at once so the next plan sees it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cstoolkit.errors import AuthError, ConflictError, CstError
from cstoolkit.model import Status, now, split_id
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    CONFLICT_CHECK,
    TICKETS_WRITE,
    Backend,
    Changes,
    Comment,
)
from cstoolkit.store import Store
from cstoolkit.store.codec import dumps, from_epoch, to_epoch

log = logging.getLogger(__name__)

PENDING = "pending"
APPLIED = "applied"
UNCHANGED = "unchanged"
CONFLICT = "conflict"
FAILED = "failed"
REFUSED = "refused"
#: States that ``cst sync push`` tries again.
RETRYABLE = (PENDING, FAILED)


@dataclass
class PlannedChange:
    ticket_id: str
    changes: Changes
    source: str
    old_values: dict[str, Any] = field(default_factory=dict)
    ledger_key: str | None = None


@dataclass
class QueueEntry:
    id: int
    run_id: str
    source: str
    ticket_id: str
    instance: str
    changes: Changes
    old_values: dict[str, Any]
    state: str
    attempts: int
    reason: str | None
    created_at: datetime
    updated_at: datetime
    ledger_key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "source": self.source,
            "ticket_id": self.ticket_id,
            "instance": self.instance,
            "changes": changes_to_dict(self.changes),
            "old_values": self.old_values,
            "state": self.state,
            "attempts": self.attempts,
            "reason": self.reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class PushSummary:
    run_id: str | None = None
    applied: int = 0
    unchanged: int = 0
    conflicts: int = 0
    failed: int = 0
    refused: int = 0
    results: list[QueueEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.conflicts or self.refused)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "failed": self.failed,
            "refused": self.refused,
            "results": [r.as_dict() for r in self.results],
        }


# -- (de)serialising Changes -----------------------------------------------------------------


def changes_to_dict(changes: Changes) -> dict[str, Any]:
    data = asdict(changes)
    data.pop("expected_updated_at", None)
    return {k: v for k, v in data.items() if v not in (None, [], {})}


def changes_from_dict(data: dict[str, Any], expected: datetime | None = None) -> Changes:
    return Changes(
        status=data.get("status"),
        priority=data.get("priority"),
        assignee_id=data.get("assignee_id"),
        group_id=data.get("group_id"),
        add_tags=list(data.get("add_tags", [])),
        remove_tags=list(data.get("remove_tags", [])),
        custom_fields=dict(data.get("custom_fields", {})),
        comments=[Comment(**c) for c in data.get("comments", [])],
        expected_updated_at=expected,
    )


_COLUMNS = (
    "id, run_id, source, ticket_id, instance, changes, old_values, expected_updated_at, state, "
    "attempts, reason, created_at, updated_at, ledger_key"
)


def _entry(row: Any) -> QueueEntry:
    expected = from_epoch(row[7])
    created, updated = from_epoch(row[11]), from_epoch(row[12])
    assert created is not None and updated is not None
    return QueueEntry(
        id=row[0],
        run_id=row[1],
        source=row[2],
        ticket_id=row[3],
        instance=row[4],
        changes=changes_from_dict(json.loads(row[5]), expected),
        old_values=json.loads(row[6]),
        state=row[8],
        attempts=row[9],
        reason=row[10],
        created_at=created,
        updated_at=updated,
        ledger_key=row[13],
    )


# -- planning --------------------------------------------------------------------------------


def plan(store: Store, items: Iterable[PlannedChange], run_id: str | None = None) -> str:
    """Store planned changes as ``pending``; return the run id that groups them."""
    run_id = run_id or uuid.uuid4().hex[:12]
    stamp = to_epoch(now())
    rows = []
    for item in items:
        if item.changes.is_empty():
            continue
        instance, _ = split_id(item.ticket_id)
        rows.append(
            (
                run_id,
                item.source,
                item.ticket_id,
                instance,
                dumps(changes_to_dict(item.changes)),
                dumps(item.old_values),
                to_epoch(item.changes.expected_updated_at),
                item.ledger_key,
                PENDING,
                stamp,
                stamp,
            )
        )
    with store.transaction() as cur:
        cur.executemany(
            "INSERT INTO planned_changes (run_id, source, ticket_id, instance, changes, "
            "old_values, expected_updated_at, ledger_key, state, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return run_id


def entries(
    store: Store,
    *,
    states: Iterable[str] | None = None,
    run_id: str | None = None,
    instances: Iterable[str] | None = None,
) -> Iterator[QueueEntry]:
    sql = f"SELECT {_COLUMNS} FROM planned_changes WHERE 1 = 1"
    params: list[Any] = []
    for column, wanted in (("state", states), ("instance", instances)):
        if wanted is not None:
            chosen = list(wanted)
            sql += f" AND {column} IN ({','.join('?' * len(chosen))})"
            params.extend(chosen)
    if run_id is not None:
        sql += " AND run_id = ?"
        params.append(run_id)
    for row in store.conn.execute(sql + " ORDER BY id", params).fetchall():
        yield _entry(row)


def queue(store: Store, instances: Iterable[str] | None = None) -> list[QueueEntry]:
    """What is waiting: pending, failed and conflicting changes, oldest first."""
    return list(entries(store, states=(PENDING, FAILED, CONFLICT), instances=instances))


# -- pushing ---------------------------------------------------------------------------------


def push(
    store: Store,
    backend_for: Callable[[str], Backend],
    *,
    run_id: str | None = None,
    instances: Iterable[str] | None = None,
    actor: str = "cst",
) -> PushSummary:
    """Send pending (and previously failed) changes; every outcome is recorded."""
    summary = PushSummary(run_id=run_id)
    backends: dict[str, Backend] = {}
    dead: dict[str, str] = {}  # instance -> why we stopped writing to it this run
    try:
        for entry in entries(store, states=RETRYABLE, run_id=run_id, instances=instances):
            if entry.instance in dead:
                _finish(store, entry, FAILED, dead[entry.instance], actor)
            else:
                try:
                    backend = backends.get(entry.instance)
                    if backend is None:
                        backend = backends[entry.instance] = backend_for(entry.instance)
                    state, reason = _push_one(store, backend, entry)
                except AuthError as exc:
                    dead[entry.instance] = str(exc)
                    state, reason = FAILED, str(exc)
                except CstError as exc:
                    state, reason = FAILED, str(exc)
                _finish(store, entry, state, reason, actor)
            summary.results.append(entry)
            _count(summary, entry.state)
    finally:
        for backend in backends.values():
            backend.close()
    return summary


def _count(summary: PushSummary, state: str) -> None:
    if state == APPLIED:
        summary.applied += 1
    elif state == UNCHANGED:
        summary.unchanged += 1
    elif state == CONFLICT:
        summary.conflicts += 1
    elif state == REFUSED:
        summary.refused += 1
    else:
        summary.failed += 1


def _push_one(store: Store, backend: Backend, entry: QueueEntry) -> tuple[str, str]:
    if backend.config.get("read_only"):
        return REFUSED, f"instance {entry.instance!r} is read_only"
    changes = entry.changes
    needed = {TICKETS_WRITE} if _field_changes(changes) else set()
    if changes.comments:
        needed.add(COMMENTS_WRITE)
    missing = needed - set(backend.capabilities)
    if missing:
        return REFUSED, f"backend {entry.instance!r} lacks {', '.join(sorted(missing))}"
    _, external_id = split_id(entry.ticket_id)
    expected = changes.expected_updated_at
    if expected is not None and CONFLICT_CHECK not in backend.capabilities:
        try:
            current = backend.fetch(external_id)
        except NotImplementedError:
            current = None  # no way to check: documented per backend (capability absent)
        if current is not None and int(current.updated_at.timestamp()) != int(expected.timestamp()):
            return CONFLICT, (
                f"changed upstream at {current.updated_at:%Y-%m-%d %H:%M:%S}Z, "
                f"after the plan ({expected:%Y-%m-%d %H:%M:%S}Z)"
            )
    try:
        result = backend.apply(external_id, changes)
    except ConflictError as exc:
        return CONFLICT, str(exc)
    if result.changed:
        _reflect(store, entry, result.updated_at)
        return APPLIED, result.detail
    return UNCHANGED, result.detail or "already so"


def _field_changes(c: Changes) -> bool:
    return bool(
        c.status or c.priority or c.assignee_id or c.group_id or c.add_tags or c.remove_tags
    ) or bool(c.custom_fields)


def _reflect(store: Store, entry: QueueEntry, updated_at: datetime | None) -> None:
    """Write what we changed into the stored ticket, so the next plan starts from it."""
    ticket = store.get_ticket(entry.ticket_id)
    if ticket is None:
        return
    c = entry.changes
    if c.status:
        ticket.status = Status(c.status)
        if ticket.status.is_resolved and ticket.solved_at is None:
            ticket.solved_at = updated_at or now()
    if c.priority:
        from cstoolkit.model import Priority

        ticket.priority = Priority(c.priority)
    if c.assignee_id:
        ticket.assignee_id = c.assignee_id
    if c.group_id:
        ticket.group_id = c.group_id
    tags = [t for t in ticket.tags if t not in c.remove_tags]
    ticket.tags = tags + [t for t in c.add_tags if t not in tags]
    ticket.custom_fields.update(c.custom_fields)
    if updated_at is not None:
        ticket.updated_at = updated_at
    from cstoolkit.store import codec

    with store.transaction() as cur:
        cur.execute(
            "UPDATE tickets SET status = ?, priority = ?, assignee_id = ?, group_id = ?, tags = ?, "
            "custom_fields = ?, updated_at = ?, solved_at = ?, payload_hash = '' WHERE id = ?",
            (
                str(ticket.status),
                str(ticket.priority),
                ticket.assignee_id,
                ticket.group_id,
                dumps(ticket.tags),
                dumps(ticket.custom_fields),
                codec.to_epoch(ticket.updated_at),
                codec.to_epoch(ticket.solved_at),
                ticket.id,
            ),
        )
        cur.execute("DELETE FROM ticket_tags WHERE ticket_id = ?", (ticket.id,))
        cur.executemany(
            "INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(ticket.id, t) for t in ticket.tags],
        )


def _finish(store: Store, entry: QueueEntry, state: str, reason: str, actor: str) -> None:
    entry.state = state
    entry.reason = reason or None
    entry.attempts += 1
    entry.updated_at = now()
    with store.transaction() as cur:
        cur.execute(
            "UPDATE planned_changes SET state = ?, reason = ?, attempts = ?, updated_at = ? "
            "WHERE id = ?",
            (state, entry.reason, entry.attempts, to_epoch(entry.updated_at), entry.id),
        )
        cur.execute(
            "INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
            (
                to_epoch(entry.updated_at),
                actor,
                f"push.{state}",
                entry.ticket_id,
                dumps(
                    {
                        "planned_change": entry.id,
                        "run_id": entry.run_id,
                        "source": entry.source,
                        "changes": changes_to_dict(entry.changes),
                        "old_values": entry.old_values,
                        "reason": entry.reason,
                    }
                ),
            ),
        )
    if state in (FAILED, CONFLICT, REFUSED):
        log.warning("%s %s: %s", state, entry.ticket_id, reason)
