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

Never twice: a pusher claims the changes it sends (:func:`cstoolkit.store.planned.claim`,
atomic, with a lease), so two pushers at once (``cst sync push``, ``cst triage run --apply``,
mirror, on one host or several) never send the same change; right before each backend call it
confirms it still holds the claim (the fencing check). A pusher that died mid-send leaves a
change whose outcome is unknown: field changes are pushed again, comments become ``in_doubt``
(never posted blindly twice). The queue's SQL lives in :mod:`cstoolkit.store.planned`.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cstoolkit.errors import AuthError, ConflictError, CstError
from cstoolkit.model import Priority, Status, Ticket, now, split_id
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    CONFLICT_CHECK,
    TICKETS_WRITE,
    Backend,
    Changes,
    Comment,
)
from cstoolkit.store import Store
from cstoolkit.store import planned as db
from cstoolkit.store.ledger import lease_seconds

log = logging.getLogger(__name__)

PENDING = db.PENDING
CLAIMED = db.CLAIMED
APPLIED = db.APPLIED
UNCHANGED = db.UNCHANGED
CONFLICT = db.CONFLICT
FAILED = db.FAILED
REFUSED = db.REFUSED
IN_DOUBT = db.IN_DOUBT
#: States that ``cst sync push`` tries again.
RETRYABLE = db.RETRYABLE
#: How many changes a pusher claims at a time.
CLAIM_BATCH = 20


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
    #: changes whose claim another pusher took over (this one stalled past its lease): not sent
    fenced: list[QueueEntry] = field(default_factory=list)
    #: changes of a dead pusher found mid-send: outcome unknown, never posted blindly twice
    in_doubt: list[QueueEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.conflicts or self.refused or self.fenced or self.in_doubt)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "failed": self.failed,
            "refused": self.refused,
            "fenced": [r.as_dict() for r in self.fenced],
            "in_doubt": [r.as_dict() for r in self.in_doubt],
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


def _entry(row: db.Row) -> QueueEntry:
    return QueueEntry(
        id=row.id,
        run_id=row.run_id,
        source=row.source,
        ticket_id=row.ticket_id,
        instance=row.instance,
        changes=changes_from_dict(row.changes, row.expected_updated_at),
        old_values=row.old_values,
        state=row.state,
        attempts=row.attempts,
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ledger_key=row.ledger_key,
    )


# -- planning --------------------------------------------------------------------------------


def plan_ids(store: Store, items: Iterable[PlannedChange], run_id: str) -> list[int]:
    """Store planned changes as ``pending``; return the ids of the rows written (empty changes
    are dropped, so the list may be shorter than ``items``)."""
    rows = [
        db.NewChange(
            ticket_id=item.ticket_id,
            instance=split_id(item.ticket_id)[0],
            source=item.source,
            changes=changes_to_dict(item.changes),
            old_values=item.old_values,
            expected_updated_at=item.changes.expected_updated_at,
            ledger_key=item.ledger_key,
        )
        for item in items
        if not item.changes.is_empty()
    ]
    return db.insert(store, run_id, rows)


def plan(store: Store, items: Iterable[PlannedChange], run_id: str | None = None) -> str:
    """Store planned changes as ``pending``; return the run id that groups them."""
    run_id = run_id or uuid.uuid4().hex[:12]
    plan_ids(store, items, run_id)
    return run_id


def entries(
    store: Store,
    *,
    states: Iterable[str] | None = None,
    run_id: str | None = None,
    instances: Iterable[str] | None = None,
) -> Iterator[QueueEntry]:
    for row in db.select(store, states=states, run_id=run_id, instances=instances):
        yield _entry(row)


def queue(store: Store, instances: Iterable[str] | None = None) -> list[QueueEntry]:
    """What is waiting: pending, claimed, failed, conflicting and in-doubt changes, oldest
    first."""
    shown = (PENDING, CLAIMED, FAILED, CONFLICT, IN_DOUBT)
    return list(entries(store, states=shown, instances=instances))


def resend_in_doubt(store: Store, instances: Iterable[str] | None = None) -> int:
    """Queue in-doubt changes again (the operator checked the tickets); return how many."""
    return db.resend_in_doubt(store, instances)


# -- pushing ---------------------------------------------------------------------------------


class _Claims:
    """The changes one pusher holds: claimed in batches, renewed, fenced before each send."""

    def __init__(self, store: Store, lease: int, run_id: str | None, instances: list[str] | None):
        self.store, self.lease = store, lease
        self.run_id, self.instances = run_id, instances
        self.claimer = uuid.uuid4().hex
        self.held: list[db.Row] = []
        self._last_id = 0
        self._renewed = time.monotonic()

    def __iter__(self) -> Iterator[db.Row]:
        while True:
            if not self.held:
                self.held = db.claim(
                    self.store, self.claimer, self.lease, limit=CLAIM_BATCH, run_id=self.run_id,
                    instances=self.instances, after_id=self._last_id,
                )  # fmt: skip
                if not self.held:
                    return
            row = self.held.pop(0)
            self._last_id = max(self._last_id, row.id)
            if time.monotonic() - self._renewed > self.lease / 3:
                db.renew(self.store, self.claimer, self.lease)
                self._renewed = time.monotonic()
            yield row

    def fence(self, row: db.Row) -> bool:
        return db.begin_send(self.store, row.id, self.claimer, self.lease)

    def release(self) -> None:
        """Give back what was claimed and not begun (an interrupted push)."""
        db.unclaim(self.store, self.claimer, [r.id for r in self.held])
        self.held = []


def push(
    store: Store,
    backend_for: Callable[[str], Backend],
    *,
    run_id: str | None = None,
    instances: Iterable[str] | None = None,
    actor: str = "cst",
    lease: int | None = None,
) -> PushSummary:
    """Send pending (and previously failed) changes; every outcome is recorded.

    Each change is claimed first, so a change is sent by one pusher only, whoever else pushes
    the same queue at the same time (see the module's docstring).
    """
    summary = PushSummary(run_id=run_id)
    summary.in_doubt = [_entry(r) for r in db.recover_expired(store)]
    for doubtful in summary.in_doubt:
        log.warning("in doubt %s: %s", doubtful.ticket_id, doubtful.reason)
    chosen = list(instances) if instances is not None else None
    claims = _Claims(store, lease or lease_seconds(), run_id, chosen)
    backends: dict[str, Backend] = {}
    dead: dict[str, str] = {}  # instance -> why we stopped writing to it this run
    try:
        for row in claims:
            entry = _entry(row)
            ticket = None
            if entry.instance in dead:
                state, reason = FAILED, dead[entry.instance]
            else:
                try:
                    backend = backends.get(entry.instance)
                    if backend is None:
                        backend = backends[entry.instance] = backend_for(entry.instance)
                    outcome = _push_one(store, backend, entry, functools.partial(claims.fence, row))
                    if outcome is None:  # the fencing check failed: another pusher has it
                        entry.reason = "not sent: another pusher took the claim over"
                        summary.fenced.append(entry)
                        log.warning("fenced %s: %s", entry.ticket_id, entry.reason)
                        continue
                    state, reason, ticket = outcome
                except AuthError as exc:
                    dead[entry.instance] = str(exc)
                    state, reason = FAILED, str(exc)
                except CstError as exc:
                    state, reason = FAILED, str(exc)
            _finish(store, row, entry, state, reason, actor, ticket)
            summary.results.append(entry)
            _count(summary, entry.state)
    finally:
        claims.release()
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


def _push_one(
    store: Store, backend: Backend, entry: QueueEntry, fence: Callable[[], bool]
) -> tuple[str, str, Ticket | None] | None:
    """Push one change: (state, reason, the stored ticket as the backend now has it), or None
    when ``fence`` (called right before the write) says this pusher no longer holds it."""
    if backend.config.get("read_only"):
        return REFUSED, f"instance {entry.instance!r} is read_only", None
    changes = entry.changes
    needed = {TICKETS_WRITE} if _field_changes(changes) else set()
    if changes.comments:
        needed.add(COMMENTS_WRITE)
    missing = needed - set(backend.capabilities)
    if missing:
        return REFUSED, f"backend {entry.instance!r} lacks {', '.join(sorted(missing))}", None
    _, external_id = split_id(entry.ticket_id)
    expected = changes.expected_updated_at
    if expected is not None and CONFLICT_CHECK not in backend.capabilities:
        try:
            current = backend.fetch(external_id)
        except NotImplementedError:
            current = None  # no way to check: documented per backend (capability absent)
        if current is not None and int(current.updated_at.timestamp()) != int(expected.timestamp()):
            return (
                CONFLICT,
                (
                    f"changed upstream at {current.updated_at:%Y-%m-%d %H:%M:%S}Z, "
                    f"after the plan ({expected:%Y-%m-%d %H:%M:%S}Z)"
                ),
                None,
            )
    if not fence():
        return None
    try:
        result = backend.apply(external_id, changes)
    except ConflictError as exc:
        return CONFLICT, str(exc), None
    if result.changed:
        return APPLIED, result.detail, _reflected(store, entry, result.updated_at)
    return UNCHANGED, result.detail or "already so", None


def _field_changes(c: Changes) -> bool:
    return bool(
        c.status or c.priority or c.assignee_id or c.group_id or c.add_tags or c.remove_tags
    ) or bool(c.custom_fields)


def _reflected(store: Store, entry: QueueEntry, updated_at: datetime | None) -> Ticket | None:
    """The stored ticket with what we changed, so the next plan starts from it."""
    ticket = store.get_ticket(entry.ticket_id)
    if ticket is None:
        return None
    c = entry.changes
    if c.status:
        ticket.status = Status(c.status)
        if ticket.status.is_resolved and ticket.solved_at is None:
            ticket.solved_at = updated_at or now()
    if c.priority:
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
    return ticket


def _finish(
    store: Store,
    row: db.Row,
    entry: QueueEntry,
    state: str,
    reason: str,
    actor: str,
    ticket: Ticket | None,
) -> None:
    entry.state = state
    entry.reason = reason or None
    entry.attempts += 1
    entry.updated_at = now()
    row.attempts = entry.attempts
    details = {
        "planned_change": entry.id,
        "run_id": entry.run_id,
        "source": entry.source,
        "changes": changes_to_dict(entry.changes),
        "old_values": entry.old_values,
        "reason": entry.reason,
    }
    db.finish(store, row, state, entry.reason, actor=actor, details=details, ticket=ticket)
    if state in (FAILED, CONFLICT, REFUSED):
        log.warning("%s %s: %s", state, entry.ticket_id, reason)
