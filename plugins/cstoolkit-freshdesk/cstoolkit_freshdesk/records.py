"""Freshdesk records as the core model: a listed ticket (with its ``requester`` and ``stats``
includes) as a ticket and a person, its creation and its conversations (replies and notes) as
events.

:class:`FreshdeskRecords` holds the translation; :class:`~cstoolkit_freshdesk.backend.
FreshdeskBackend` mixes it in and supplies what it reads (the instance, the value tables in
:mod:`.mapping`, the companies it looks up for a requester's organization and plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.backends import id_field, map_field, time_field
from cstoolkit.model import Event, EventKind, Person, Role, Ticket, qualify

if TYPE_CHECKING:
    from cstoolkit_freshdesk.mapping import Mapper


class FreshdeskRecords:
    """Tickets, people and events out of Freshdesk's records (mixed into the backend)."""

    instance: str
    mapper: Mapper

    if TYPE_CHECKING:  # the backend's

        def _company(self, company_id: str) -> dict[str, Any]: ...

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else qualify(self.instance, value)

    def _ticket(self, record: Mapping[str, Any]) -> Ticket:
        ext = str(record["id"])
        created = time_field(record, "created_at")
        updated = time_field(record, "updated_at", required=False) or created
        assert created is not None and updated is not None
        status = self.mapper.ticket_status(record.get("status"))
        raw_stats = record.get("stats")
        stats: Mapping[str, Any] = raw_stats if isinstance(raw_stats, Mapping) else {}
        solved_at = None
        if status.is_resolved:
            solved_at = time_field(stats, "resolved_at", required=False) or time_field(
                stats, "closed_at", required=False
            )
        stored = {k: v for k, v in record.items() if k not in ("requester",)}
        return Ticket(
            id=qualify(self.instance, ext),
            instance=self.instance,
            external_id=ext,
            subject=str(record.get("subject") or ""),
            description=str(record.get("description_text") or ""),
            status=status,
            priority=self.mapper.ticket_priority(record.get("priority")),
            channel=self.mapper.ticket_channel(record.get("source")),
            requester_id=self._q(record.get("requester_id")),
            assignee_id=self._q(record.get("responder_id")),
            group_id=self._q(record.get("group_id")),
            tags=[str(t) for t in record.get("tags") or []],
            created_at=created,
            updated_at=max(created, updated),
            solved_at=solved_at,
            custom_fields={
                self.mapper.field_name(str(k)): v
                for k, v in map_field(record, "custom_fields").items()
            },
            raw=stored,
        )

    def _requester(self, contact: Mapping[str, Any], company_id: Any) -> Person:
        ext = str(contact["id"])
        organization = plan = None
        if company_id is not None:
            company = self._company(str(company_id))
            organization = company.get("name") or str(company_id)
            plan = company.get("plan")
        return Person(
            id=qualify(self.instance, ext),
            instance=self.instance,
            external_id=ext,
            role=Role.REQUESTER,
            name=str(contact.get("name") or ""),
            email=contact.get("email") or None,
            organization=organization,
            plan=plan,
            raw=dict(contact),
        )

    def _created_event(self, record: Mapping[str, Any]) -> Event:
        tid = str(record["id"])
        created = time_field(record, "created_at")
        assert created is not None
        return Event(
            id=qualify(self.instance, f"t{tid}-created"),
            ticket_id=qualify(self.instance, tid),
            kind=EventKind.CREATED,
            at=created,
            author_id=self._q(record.get("requester_id")),
            author_role=Role.REQUESTER,
            public=True,
            body=record.get("description_text"),
            data={"source": record.get("source")},
        )

    def _conversation(self, tid: str, conv: Any) -> Event:
        if not isinstance(conv, Mapping):
            raise TypeError("not an object")
        cid = id_field(conv)
        at = time_field(conv, "created_at")
        assert at is not None
        incoming = bool(conv.get("incoming"))
        return Event(
            id=qualify(self.instance, f"c{cid}"),
            ticket_id=qualify(self.instance, tid),
            kind=EventKind.COMMENT,
            at=at,
            author_id=self._q(conv.get("user_id")),
            author_role=Role.REQUESTER if incoming else Role.AGENT,
            public=not conv.get("private", False),
            body=conv.get("body_text"),
            data={
                k: conv.get(k)
                for k in ("source", "incoming", "support_email", "updated_at")
                if conv.get(k) is not None
            },
        )
