"""Request Tracker records as the core model: a REST2 ticket as a ticket (and its requestors as
people), a transaction of its history as an event, and RT's values (statuses, numeric
priorities, times, reference objects, custom fields) read as the model's.

:class:`RequestTrackerRecords` holds the translation; :class:`~cstoolkit_request_tracker.backend.
RequestTrackerBackend` mixes it in and supplies what it reads (the instance, the status table,
the tags field, field names, user names it looks up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.backends import EPOCH_PREFIX
from cstoolkit.backends import parse_time as vendor_time
from cstoolkit.model import (
    Channel,
    Event,
    EventKind,
    Person,
    Priority,
    Role,
    Status,
    Ticket,
    qualify,
)

if TYPE_CHECKING:
    from cstoolkit.plugin import Page

SYSTEM_USERS = frozenset({"RT_System"})
NOBODY = "Nobody"
SUBJECT_MARKER = re.compile(r"\s*\[cst:([^\]]+)\]\s*$")

#: RT status -> model status (``rejected`` and ``deleted`` are reported in Page.deleted).
STATUSES: dict[str, Status] = {
    "new": Status.NEW,
    "open": Status.OPEN,
    "stalled": Status.ON_HOLD,
    "resolved": Status.SOLVED,
}
GONE_STATUSES = frozenset({"rejected", "deleted"})


def priority_of(value: Any) -> Priority:
    """RT's numeric priority -> model: <25 low, <70 normal, <90 high, else urgent."""
    try:
        number = int(str(value).strip() or 0)
    except ValueError:
        return Priority.NORMAL
    if number < 25:
        return Priority.LOW
    if number < 70:
        return Priority.NORMAL
    if number < 90:
        return Priority.HIGH
    return Priority.URGENT


def parse_time(value: Any) -> datetime | None:
    """RT's ``2026-11-22T07:37:12Z`` (UTC, whole seconds); the epoch means "not set", and
    anything else that is not a time is read as "not set" too (RT's own leniency)."""
    if not isinstance(value, str):
        return None
    try:
        return vendor_time(value, unset=EPOCH_PREFIX)
    except ValueError:
        return None


def ref_id(value: Any) -> str | None:
    """The id of a REST2 reference object ({"id": "root", "type": "user"}) or a bare value."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None or value == "":
        return None
    return str(value)


def custom_field_values(raw: Mapping[str, Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for cf in raw.get("CustomFields") or []:
        if isinstance(cf, Mapping) and cf.get("name"):
            values = cf.get("values")
            out[str(cf["name"])] = list(values) if isinstance(values, list) else []
    return out


class RequestTrackerRecords:
    """Tickets, people and events out of RT's records (mixed into the backend)."""

    instance: str
    status_map: dict[str, str]
    tags_field: str
    fields_map: dict[str, str]

    if TYPE_CHECKING:  # the backend's

        def _user_name(self, user_id: str) -> str: ...

    def _add_ticket(self, raw: dict[str, Any], page: Page) -> None:
        ext = raw["id"]
        status = str(raw.get("Status") or "new")
        if status in GONE_STATUSES and status not in self.status_map:
            page.deleted.append(ext)
            return
        page.tickets.append(self._ticket(raw))
        for requestor in raw.get("Requestor") or []:
            name = ref_id(requestor)
            if name:
                page.people.append(
                    Person(
                        id=qualify(self.instance, name),
                        instance=self.instance,
                        external_id=name,
                        role=Role.REQUESTER,
                        name=name,
                        email=name if "@" in name else None,
                        raw={"id": name},
                    )
                )

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        ext = raw["id"]
        created = parse_time(raw.get("Created"))
        updated = parse_time(raw.get("LastUpdated"))
        assert created is not None and updated is not None
        status_name = self.status_map.get(str(raw.get("Status")), "open")
        try:
            status = Status(status_name)
        except ValueError:
            status = Status.OPEN
        subject = str(raw.get("Subject") or "")
        found = SUBJECT_MARKER.search(subject)
        if found:
            subject = subject[: found.start()]
        cfs = custom_field_values(raw)
        tags = [str(t) for t in cfs.pop(self.tags_field, [])] if self.tags_field else []
        custom = {
            self.fields_map.get(name, name): (values[0] if len(values) == 1 else values or None)
            for name, values in cfs.items()
        }
        owner = ref_id(raw.get("Owner"))
        requestors = [r for r in (ref_id(x) for x in raw.get("Requestor") or []) if r]
        queue = ref_id(raw.get("Queue"))
        solved = parse_time(raw.get("Resolved")) if status.is_resolved else None
        return Ticket(
            id=qualify(self.instance, ext),
            instance=self.instance,
            external_id=ext,
            subject=subject,
            status=status,
            priority=priority_of(raw.get("Priority")),
            channel=Channel.OTHER,
            requester_id=qualify(self.instance, requestors[0]) if requestors else None,
            assignee_id=qualify(self.instance, owner) if owner and owner != NOBODY else None,
            group_id=qualify(self.instance, queue) if queue else None,
            tags=sorted(set(tags)),
            created_at=created,
            updated_at=max(updated, created),
            solved_at=solved,
            custom_fields=custom,
            raw=raw,
        )

    def _event(
        self,
        ticket: Ticket,
        txn: Mapping[str, Any],
        bodies: Mapping[str, str],
        requestors: set[str],
    ) -> Event | None:
        kind_name = str(txn.get("Type") or "")
        field = str(txn.get("Field") or "")
        at = parse_time(txn.get("Created"))
        if at is None:
            return None
        creator = ref_id(txn.get("Creator"))
        if creator in SYSTEM_USERS:
            role: Role | None = Role.SYSTEM
        elif creator in requestors:
            role = Role.REQUESTER
        elif creator:
            role = Role.AGENT
        else:
            role = None
        tid = str(txn["id"])
        base: dict[str, Any] = {
            "id": qualify(self.instance, tid),
            "ticket_id": ticket.id,
            "at": at,
            "author_id": qualify(self.instance, creator) if creator else None,
            "author_role": role,
        }
        data: dict[str, Any] = {"rt_type": kind_name}
        old, new = txn.get("OldValue"), txn.get("NewValue")
        if kind_name == "Create":
            return Event(kind=EventKind.CREATED, body=bodies.get(tid), data=data, **base)
        if kind_name in ("Correspond", "Comment"):
            public = kind_name == "Correspond"
            return Event(
                kind=EventKind.COMMENT, public=public, body=bodies.get(tid), data=data, **base
            )
        data.update({"vendor_old": old, "vendor_new": new})
        if kind_name == "Status" or (kind_name == "Set" and field == "Status"):
            return Event(
                kind=EventKind.STATUS_CHANGE,
                old=self._status_value(old),
                new=self._status_value(new),
                data=data,
                **base,
            )
        if field == "Owner" and kind_name in ("Set", "Give", "Take", "Untake", "Steal"):
            o = self._user_name(str(old)) if old else None
            n = self._user_name(str(new)) if new else None
            return Event(
                kind=EventKind.ASSIGNMENT,
                old=qualify(self.instance, o) if o and o != NOBODY else None,
                new=qualify(self.instance, n) if n and n != NOBODY else None,
                data=data,
                **base,
            )
        if kind_name == "Set" and field == "Priority":
            return Event(
                kind=EventKind.PRIORITY_CHANGE,
                old=str(priority_of(old)) if old not in (None, "") else None,
                new=str(priority_of(new)) if new not in (None, "") else None,
                data=data,
                **base,
            )
        if kind_name == "Set" and field == "Queue":
            return Event(
                kind=EventKind.GROUP_CHANGE,
                old=qualify(self.instance, old) if old else None,
                new=qualify(self.instance, new) if new else None,
                data=data,
                **base,
            )
        return None

    def _status_value(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if str(value) in GONE_STATUSES and str(value) not in self.status_map:
            return "closed"
        return self.status_map.get(str(value), "open")
