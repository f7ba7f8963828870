"""An in-memory ticketing backend with every capability, for tests of anything built on backends.

:class:`FakeHelpdesk` is the "vendor": tickets kept in memory, each change stamped with a
global sequence number. :class:`FakeBackend` is the plugin over it. Several backend objects
share one helpdesk (pass it as ``config["helpdesk"]``), so a write made through one is seen by
the next pull of another, as with a real vendor. The conflict check is honest: ``apply`` with an
``expected_updated_at`` older than the ticket's raises :class:`~cstoolkit.errors.ConflictError`.

Cursors are ``fake:SEQ`` (resume after change number SEQ); anything else raises
:class:`~cstoolkit.errors.BackendError`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from cstoolkit.errors import BackendError, ConflictError
from cstoolkit.model import Event, EventKind, Person, Priority, Role, Status, Ticket, qualify
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    CONFLICT_CHECK,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    ApplyResult,
    Backend,
    Changes,
    CheckResult,
    NewTicket,
    Page,
    Setting,
)

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.SOLVED)
_PRIORITIES = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


@dataclass
class FakeRecord:
    """One ticket as the fake vendor holds it."""

    id: str
    subject: str
    description: str
    status: str
    priority: str
    requester: str
    created_at: datetime
    updated_at: datetime
    seq: int
    tags: list[str] = field(default_factory=list)
    assignee: str | None = None
    group: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    comments: list[tuple[datetime, str, bool]] = field(default_factory=list)
    marker: str | None = None


class FakeHelpdesk:
    """The in-memory vendor behind :class:`FakeBackend` (thread-safe, deterministic)."""

    def __init__(self, tickets: int = 25) -> None:
        self._lock = threading.Lock()
        self.seq = 0
        self.records: dict[str, FakeRecord] = {}
        for n in range(1, tickets + 1):
            created = EPOCH + timedelta(hours=n)
            self._add(
                FakeRecord(
                    id=str(n),
                    subject=f"Fake ticket {n}",
                    description=f"Description of fake ticket {n}",
                    status=str(_STATUSES[n % len(_STATUSES)]),
                    priority=str(_PRIORITIES[n % len(_PRIORITIES)]),
                    requester=f"c{n % 7}",
                    created_at=created,
                    updated_at=created + timedelta(minutes=n % 11),
                    seq=0,
                    tags=["fake"] + (["vip"] if n % 5 == 0 else []),
                )
            )

    def _add(self, record: FakeRecord) -> None:
        self.seq += 1
        record.seq = self.seq
        self.records[record.id] = record

    def touch(self, record: FakeRecord) -> None:
        """Record a change: a new sequence number and a later ``updated_at``."""
        self.seq += 1
        record.seq = self.seq
        latest = max(r.updated_at for r in self.records.values())
        record.updated_at = max(record.updated_at, latest) + timedelta(seconds=1)

    def change_upstream(self, external_id: str) -> None:
        """Change a ticket behind the toolkit's back (for conflict tests)."""
        with self._lock:
            record = self.records[external_id]
            record.tags = [*record.tags, "changed-upstream"]
            self.touch(record)


class FakeBackend(Backend):
    """An in-memory backend with every capability (see the module docstring)."""

    name: ClassVar[str] = "fake"
    description: ClassVar[str] = "In-memory test backend (cstoolkit.testing)."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("tickets", "int", default=25, help="Tickets in a new fake helpdesk."),
        Setting("page_size", "int", default=10, help="Tickets per page."),
        Setting("token", secret=True, help="A pretend API token (never shown)."),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE, CONFLICT_CHECK}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        helpdesk = self.config.pop("helpdesk", None)
        if helpdesk is None:
            helpdesk = FakeHelpdesk(int(self.config.get("tickets") or 25))
        self.helpdesk: FakeHelpdesk = helpdesk
        self.page_size = max(1, int(self.config.get("page_size") or 10))
        self.calls: list[str] = []

    def __repr__(self) -> str:
        return f"<FakeBackend {self.instance!r}>"

    # -- read ----------------------------------------------------------------------------------

    def _ticket(self, r: FakeRecord) -> Ticket:
        q = self.instance
        return Ticket(
            id=qualify(q, r.id),
            instance=q,
            external_id=r.id,
            subject=r.subject,
            description=r.description,
            status=Status(r.status),
            priority=Priority(r.priority),
            created_at=r.created_at,
            updated_at=r.updated_at,
            requester_id=qualify(q, r.requester),
            assignee_id=qualify(q, r.assignee) if r.assignee else None,
            tags=sorted(set(r.tags)),
            solved_at=r.updated_at if r.status in ("solved", "closed") else None,
            custom_fields=dict(r.custom_fields),
            raw={"id": r.id, "seq": r.seq, "marker": r.marker},
        )

    def _events(self, r: FakeRecord) -> list[Event]:
        q = self.instance
        events = [
            Event(
                id=qualify(q, f"{r.id}-created"),
                ticket_id=qualify(q, r.id),
                kind=EventKind.CREATED,
                at=r.created_at,
                author_id=qualify(q, r.requester),
                author_role=Role.REQUESTER,
            )
        ]
        for n, (at, body, public) in enumerate(r.comments, start=1):
            events.append(
                Event(
                    id=qualify(q, f"{r.id}-c{n}"),
                    ticket_id=qualify(q, r.id),
                    kind=EventKind.COMMENT,
                    at=at,
                    author_id=None,
                    author_role=Role.AGENT,
                    public=public,
                    body=body,
                )
            )
        return events

    def _parse_cursor(self, cursor: str | None) -> int:
        if cursor is None:
            return 0
        prefix, _, seq = cursor.partition(":")
        if prefix != "fake" or not seq.isdigit():
            raise BackendError(f"{self.instance}: unreadable cursor {cursor[:40]!r}")
        return int(seq)

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        self.calls.append("pull")
        after = 0 if full or since is not None else self._parse_cursor(cursor)
        with self.helpdesk._lock:
            records = sorted(
                (r for r in self.helpdesk.records.values() if r.seq > after),
                key=lambda r: r.seq,
            )
            if since is not None:
                records = [r for r in records if r.updated_at >= since]
            snapshot = [(self._ticket(r), self._events(r), r.requester, r.seq) for r in records]
            last_seq = self.helpdesk.seq
        if not snapshot:
            yield Page(cursor=f"fake:{max(after, last_seq)}")
            return
        for start in range(0, len(snapshot), self.page_size):
            chunk = snapshot[start : start + self.page_size]
            people = {
                who: Person(
                    id=qualify(self.instance, who),
                    instance=self.instance,
                    external_id=who,
                    role=Role.REQUESTER,
                    name=f"Customer {who}",
                    email=f"{who}@example.org",
                )
                for _, _, who, _ in chunk
            }
            yield Page(
                tickets=[t for t, _, _, _ in chunk],
                events=[e for _, evs, _, _ in chunk for e in evs],
                people=list(people.values()),
                cursor=f"fake:{chunk[-1][3]}",
            )

    def fetch(self, external_id: str) -> Ticket | None:
        with self.helpdesk._lock:
            r = self.helpdesk.records.get(external_id)
            return self._ticket(r) if r is not None else None

    def find_by_marker(self, marker: str) -> str | None:
        with self.helpdesk._lock:
            for r in self.helpdesk.records.values():
                if r.marker == marker:
                    return r.id
        return None

    def check(self) -> CheckResult:
        return CheckResult(True, f"fake helpdesk with {len(self.helpdesk.records)} tickets")

    # -- write ---------------------------------------------------------------------------------

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        self.calls.append(f"apply:{external_id}")
        with self.helpdesk._lock:
            r = self.helpdesk.records.get(external_id)
            if r is None:
                raise BackendError(f"{self.instance}: ticket {external_id} not found")
            if (
                changes.expected_updated_at is not None
                and r.updated_at > changes.expected_updated_at
            ):
                raise ConflictError(
                    f"{self.instance}: ticket {external_id} changed upstream since the plan"
                )
            changed = False
            for attr, value in (
                ("status", changes.status),
                ("priority", changes.priority),
                ("assignee", changes.assignee_id),
                ("group", changes.group_id),
            ):
                if value is not None and getattr(r, attr) != str(value):
                    setattr(r, attr, str(value))
                    changed = True
            tags = [t for t in r.tags if t not in changes.remove_tags]
            tags += [t for t in changes.add_tags if t not in tags]
            if tags != r.tags:
                r.tags = tags
                changed = True
            for key, value in changes.custom_fields.items():
                if r.custom_fields.get(key) != value:
                    r.custom_fields[key] = value
                    changed = True
            if changes.comments:
                changed = True
            if changed:
                self.helpdesk.touch(r)
                for c in changes.comments:
                    r.comments.append((r.updated_at, c.body, c.public))
            return ApplyResult(external_id, changed, r.updated_at)

    def create(self, ticket: NewTicket) -> str:
        self.calls.append("create")
        with self.helpdesk._lock:
            if ticket.marker:
                for r in self.helpdesk.records.values():
                    if r.marker == ticket.marker:
                        return r.id
            new_id = str(max((int(k) for k in self.helpdesk.records if k.isdigit()), default=0) + 1)
            latest = max((r.updated_at for r in self.helpdesk.records.values()), default=EPOCH)
            at = latest + timedelta(seconds=1)
            record = FakeRecord(
                id=new_id,
                subject=ticket.subject,
                description=ticket.description,
                status=ticket.status,
                priority=ticket.priority,
                requester=(ticket.requester_email or "anonymous").split("@")[0],
                created_at=at,
                updated_at=at,
                seq=0,
                tags=list(ticket.tags),
                custom_fields=dict(ticket.custom_fields),
                marker=ticket.marker,
            )
            self.helpdesk._add(record)
            return new_id
