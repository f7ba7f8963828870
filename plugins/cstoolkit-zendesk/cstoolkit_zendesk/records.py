"""Zendesk records as the core model: tickets (from the ticket export and its sideloads),
users as people, and the ticket-event export's audits as events.

:class:`ZendeskRecords` holds the translation; :class:`~cstoolkit_zendesk.backend.ZendeskBackend`
mixes it in and supplies what it reads (the instance, the value tables in :mod:`.mapping`, the
author roles it remembers). Nothing here talks to Zendesk.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.backends import MAPPING_ERRORS, id_field, list_field, map_field, time_field
from cstoolkit.model import Channel, Event, EventKind, Person, Priority, Role, Ticket, qualify

if TYPE_CHECKING:
    from cstoolkit.backends import VendorDataError
    from cstoolkit_zendesk.mapping import Mapper

_CHANGE_FIELDS = {
    "status": EventKind.STATUS_CHANGE,
    "priority": EventKind.PRIORITY_CHANGE,
    "assignee_id": EventKind.ASSIGNMENT,
    "group_id": EventKind.GROUP_CHANGE,
    "tags": EventKind.TAGS_CHANGE,
}


class ZendeskRecords:
    """Tickets, people and events out of Zendesk's records (mixed into the backend)."""

    instance: str
    mapper: Mapper
    plan_field: str | None
    _agents: set[str]
    _requesters: dict[str, None]

    if TYPE_CHECKING:  # the backend's

        def malformed(
            self, exc: BaseException, endpoint: str, kind: str, record: Any
        ) -> VendorDataError: ...

        def _remember_role(self, user_id: str, role: Role) -> None: ...

    def _q(self, value: Any) -> str | None:
        return None if value is None or value == "" else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any], metric_set: dict[str, Any] | None) -> Ticket:
        get = raw.get
        ext = str(raw["id"])
        created = time_field(raw, "created_at")
        assert created is not None
        updated = time_field(raw, "updated_at", required=False) or created
        mapper = self.mapper
        status = mapper.ticket_status(raw)
        solved_at = None
        if metric_set is not None:
            if status.is_resolved:
                solved_at = time_field(metric_set, "solved_at", required=False)
            # Zendesk's own metrics, kept beside (never mixed into) cstoolkit's computation.
            raw["metric_set"] = metric_set
        via = get("via")
        channel = via.get("channel") if type(via) is dict else None
        fields = mapper.fields
        q = self._q
        return Ticket(
            id=f"{self.instance}:{ext}",
            instance=self.instance,
            external_id=ext,
            subject=str(get("subject") or get("raw_subject") or ""),
            description=str(get("description") or ""),
            status=status,
            priority=mapper.priority_enum.get(str(get("priority")), Priority.NORMAL),
            channel=mapper.channel_enum.get(str(channel), Channel.OTHER),
            requester_id=q(get("requester_id")),
            assignee_id=q(get("assignee_id")),
            group_id=q(get("group_id")),
            tags=[str(t) for t in list_field(raw, "tags")],
            created_at=created,
            updated_at=updated if updated >= created else created,
            solved_at=solved_at,
            custom_fields={
                fields.get(str(f["id"]), str(f["id"])): f.get("value")
                for f in list_field(raw, "custom_fields")
                if type(f) is dict and "id" in f
            },
            raw=raw,
        )

    def _person_of(
        self, user: dict[str, Any], orgs: Mapping[str, dict[str, Any]], endpoint: str
    ) -> Person:
        try:
            return self._person(user, orgs)
        except MAPPING_ERRORS as exc:
            raise self.malformed(exc, endpoint, "user", user) from None

    def _person(self, user: dict[str, Any], orgs: Mapping[str, dict[str, Any]]) -> Person:
        get = user.get
        ext = str(user["id"])
        role = Role.REQUESTER if get("role") in (None, "end-user") else Role.AGENT
        self._remember_role(ext, role)
        org_id = get("organization_id")
        org = orgs.get(str(org_id)) if org_id is not None else None
        plan = organization = None
        if org is not None:
            organization = str(org.get("name") or org.get("id"))
            if self.plan_field:
                value = map_field(org, "organization_fields").get(self.plan_field)
                plan = None if value is None or value == "" else str(value)
        elif org_id is not None:
            organization = str(org_id)
        return Person(
            id=f"{self.instance}:{ext}",
            instance=self.instance,
            external_id=ext,
            role=role,
            name=str(get("name") or ""),
            email=get("email") or None,
            organization=organization,
            plan=plan,
            language=get("locale") or None,
            timezone=get("iana_time_zone") or get("time_zone") or None,
            groups=[],
            raw=user,
        )

    def _role(self, author: Any) -> Role | None:
        if author is None:
            return None
        if str(author) == "-1":
            return Role.SYSTEM
        key = str(author)
        if key in self._agents:
            return Role.AGENT
        return Role.REQUESTER if key in self._requesters else None

    def _events_of(self, audit: Mapping[str, Any]) -> list[Event]:
        ticket_id = qualify(self.instance, id_field(audit, "ticket_id"))
        at = time_field(audit, "created_at", required=False) or time_field(audit, "timestamp")
        assert at is not None
        updater = audit.get("updater_id")
        children = [c for c in list_field(audit, "child_events") if isinstance(c, Mapping)]
        creating = any(c.get("event_type") == "Create" for c in children)
        base = {"audit_id": audit.get("id"), "via": audit.get("via")}
        events: list[Event] = []
        created_done = False
        for child in children:
            kind = child.get("event_type")
            if kind == "Comment":
                author = child.get("author_id", updater)
                data = {**base, "comment_id": child.get("id")}
                if child.get("attachments"):
                    data["attachments"] = len(list_field(child, "attachments"))
                event_kind = EventKind.COMMENT
                if creating and not created_done:
                    event_kind, created_done = EventKind.CREATED, True
                events.append(
                    Event(
                        id=qualify(self.instance, child["id"]),
                        ticket_id=ticket_id,
                        kind=event_kind,
                        at=time_field(child, "created_at", required=False) or at,
                        author_id=self._q(author),
                        author_role=self._role(author),
                        public=bool(child.get("public", True)),
                        body=child.get("body") if child.get("body") is not None else None,
                        data=data,
                    )
                )
            elif kind == "Change":
                event = self._change_event(child, ticket_id, at, updater, base)
                if event is not None:
                    events.append(event)
        if creating and not created_done:
            events.append(
                Event(
                    id=qualify(self.instance, f"audit-{audit['id']}"),
                    ticket_id=ticket_id,
                    kind=EventKind.CREATED,
                    at=at,
                    author_id=self._q(updater),
                    author_role=self._role(updater),
                    data=dict(base),
                )
            )
        return events

    def _change_event(
        self,
        child: Mapping[str, Any],
        ticket_id: str,
        at: datetime,
        updater: Any,
        base: dict[str, Any],
    ) -> Event | None:
        # The export names the field either in ``field_name`` or as a key of the event itself.
        field = child.get("field_name")
        if field is None:
            field = next((f for f in _CHANGE_FIELDS if f in child), None)
        if field not in _CHANGE_FIELDS:
            return None
        value = child.get("value", child.get(str(field)))
        previous = child.get("previous_value")
        data = {**base, "vendor_old": previous, "vendor_new": value}
        old: str | None
        new: str | None
        if field == "status":
            old, new = self.mapper.status_value(previous), self.mapper.status_value(value)
        elif field == "priority":
            old, new = self.mapper.priority_value(previous), self.mapper.priority_value(value)
        elif field == "tags":
            old, new = _tags(previous), _tags(value)
        else:
            old, new = self._q(previous), self._q(value)
        return Event(
            id=qualify(self.instance, child["id"]),
            ticket_id=ticket_id,
            kind=_CHANGE_FIELDS[str(field)],
            at=at,
            author_id=self._q(updater),
            author_role=self._role(updater),
            old=old,
            new=new,
            data=data,
        )


def _tags(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)
