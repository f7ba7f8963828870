"""Help Scout records as the core model: a conversation as a ticket (the priority read from its
tag), its customer and assignee as people, its threads as events (public and private comments,
status and assignment line items), and the modification stamp a conversation shows.

:class:`HelpScoutRecords` holds the translation; :class:`~cstoolkit_helpscout.backend.
HelpScoutBackend` mixes it in and supplies what it reads (the instance, the status and channel
tables, the priority tag prefix).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.backends import id_field, iso_z, parse_time, time_field
from cstoolkit.model import Channel, Event, EventKind, Person, Priority, Role, Status, Ticket

#: Help Scout status -> model status.
DEFAULT_STATUS_MAP: dict[str, str] = {
    "active": "open",
    "open": "open",
    "pending": "pending",
    "closed": "closed",
    "spam": "closed",
}
#: conversation ``type`` / ``source.type`` -> model channel.
DEFAULT_CHANNEL_MAP: dict[str, str] = {
    "email": "email",
    "chat": "chat",
    "phone": "phone",
    "web": "web",
    "beacon": "chat",
    "api": "api",
}
_PUBLIC_THREADS = {"customer", "reply", "message", "chat", "phone", "forwardparent"}


def modified_stamp(raw: Mapping[str, Any]) -> str:
    """The newest modification time a conversation shows (ISO, UTC ``Z``), for cursors."""
    stamps = []
    for key in ("userUpdatedAt", "createdAt", "closedAt", "customerWaitingSince"):
        value = raw.get(key)
        if key == "customerWaitingSince" and isinstance(value, Mapping):
            value = value.get("time")
        if isinstance(value, str) and value:
            try:
                parsed = parse_time(value)
            except ValueError:
                continue  # not a time: the mapping names the field, the cursor skips it
            if parsed is not None:
                stamps.append(iso_z(parsed))
    return max(stamps) if stamps else ""


class HelpScoutRecords:
    """Tickets, people and events out of Help Scout's conversations (mixed into the backend)."""

    instance: str
    status_map: dict[str, str]
    channel_map: dict[str, str]
    priority_prefix: str

    if TYPE_CHECKING:  # the backend's

        def created_event(self, ticket: Ticket, event_id: str) -> Event: ...

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        ext = id_field(raw)
        created = time_field(raw, "createdAt")
        assert created is not None
        stamp = modified_stamp(raw)
        updated = parse_time(stamp) or created
        status = Status(self.status_map.get(str(raw.get("status")), "open"))
        tags = [
            str(t.get("tag")) if isinstance(t, Mapping) else str(t) for t in raw.get("tags") or []
        ]
        priority = Priority.NORMAL
        for tag in tags:
            if tag.startswith(self.priority_prefix):
                value = tag[len(self.priority_prefix) :]
                if value in Priority.__members__.values() or value in {p.value for p in Priority}:
                    priority = Priority(value)
        source = raw.get("source") if isinstance(raw.get("source"), Mapping) else {}
        kind = str(raw.get("type") or (source or {}).get("type") or "")
        channel = Channel(self.channel_map.get(kind, "other"))
        assignee = raw.get("assignee") if isinstance(raw.get("assignee"), Mapping) else None
        customer = raw.get("primaryCustomer")
        customer = customer if isinstance(customer, Mapping) else None
        fields = {
            str(f.get("name") or f.get("id")): f.get("value")
            for f in raw.get("customFields") or []
            if isinstance(f, Mapping)
        }
        solved = time_field(raw, "closedAt", required=False) if status.is_resolved else None
        return Ticket(
            id=f"{self.instance}:{ext}",
            instance=self.instance,
            external_id=ext,
            subject=str(raw.get("subject") or ""),
            description=str(raw.get("preview") or ""),
            status=status,
            priority=priority,
            channel=channel,
            requester_id=self._q(customer.get("id")) if customer else None,
            assignee_id=self._q(assignee.get("id")) if assignee else None,
            group_id=self._q(raw.get("mailboxId")),
            tags=tags,
            created_at=created,
            updated_at=max(updated, created),
            solved_at=solved,
            custom_fields=fields,
            raw=raw,
        )

    def _person(self, raw: Mapping[str, Any], role: Role) -> Person:
        name = " ".join(str(raw.get(k) or "") for k in ("first", "last")).strip()
        return Person(
            id=f"{self.instance}:{raw['id']}",
            instance=self.instance,
            external_id=str(raw["id"]),
            role=role,
            name=name,
            email=raw.get("email") or None,
            raw=dict(raw),
        )

    def _events(self, ticket: Ticket, threads: list[Mapping[str, Any]]) -> list[Event]:
        tid = ticket.id
        events = [self.created_event(ticket, f"conv-{ticket.external_id}-created")]
        for thread in sorted(threads, key=lambda t: (str(t.get("createdAt")), str(t.get("id")))):
            kind = str(thread.get("type") or "")
            at = time_field(thread, "createdAt", required=False) or ticket.created_at
            by = thread.get("createdBy") if isinstance(thread.get("createdBy"), Mapping) else {}
            by_type = (by or {}).get("type")
            role = (
                Role.REQUESTER
                if by_type == "customer"
                else Role.AGENT
                if by_type == "user"
                else Role.SYSTEM
            )
            author = self._q((by or {}).get("id"))
            eid = f"{self.instance}:t{thread['id']}"
            data = {"thread_type": kind, "thread_id": thread.get("id")}
            if kind == "lineitem":
                action = thread.get("action") if isinstance(thread.get("action"), Mapping) else {}
                action_type = str((action or {}).get("type") or "")
                data["action"] = action_type
                if "status" in action_type and thread.get("status"):
                    events.append(
                        Event(
                            id=eid,
                            ticket_id=tid,
                            kind=EventKind.STATUS_CHANGE,
                            at=at,
                            author_id=author,
                            author_role=role,
                            new=self.status_map.get(str(thread["status"]), "open"),
                            data=data,
                        )
                    )
                elif "assign" in action_type or "user" in action_type:
                    to = thread.get("assignedTo")
                    to_id = to.get("id") if isinstance(to, Mapping) else None
                    events.append(
                        Event(
                            id=eid,
                            ticket_id=tid,
                            kind=EventKind.ASSIGNMENT,
                            at=at,
                            author_id=author,
                            author_role=role,
                            new=self._q(to_id),
                            data=data,
                        )
                    )
                continue
            events.append(
                Event(
                    id=eid,
                    ticket_id=tid,
                    kind=EventKind.COMMENT,
                    at=at,
                    author_id=author,
                    author_role=role,
                    public=kind in _PUBLIC_THREADS,
                    body=thread.get("body"),
                    data=data,
                )
            )
        return events
