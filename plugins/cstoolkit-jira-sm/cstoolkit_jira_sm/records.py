"""Jira Service Management records as the core model: an issue (from the search, with its
fields) as a ticket, its comments and changelog histories as events, Jira's status and priority
names and Atlassian Document Format text read as the model's.

:class:`JiraSMRecords` holds the translation; :class:`~cstoolkit_jira_sm.backend.JiraSMBackend`
mixes it in and supplies what it reads (the instance, the status and priority tables, field
names, an issue's update stamp).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.backends import time_field
from cstoolkit.model import Event, EventKind, Priority, Role, Status, Ticket, bare_id

#: Jira status name (lower case) -> model status; unknown names fall back on the category.
DEFAULT_STATUS_MAP: dict[str, str] = {
    "open": "open",
    "to do": "new",
    "waiting for support": "open",
    "in progress": "open",
    "escalated": "open",
    "waiting for customer": "pending",
    "pending": "pending",
    "waiting for approval": "on_hold",
    "on hold": "on_hold",
    "resolved": "solved",
    "done": "solved",
    "closed": "closed",
    "canceled": "closed",
    "declined": "closed",
}
CATEGORY_STATUS = {"new": Status.NEW, "indeterminate": Status.OPEN, "done": Status.SOLVED}
DEFAULT_PRIORITY_MAP: dict[str, str] = {
    "highest": "urgent",
    "high": "high",
    "medium": "normal",
    "low": "low",
    "lowest": "low",
}


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (or a string as it is)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if not isinstance(node, Mapping):
        return ""
    if node.get("type") == "text":
        return str(node.get("text") or "")
    parts = [adf_text(child) for child in node.get("content") or []]
    sep = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return sep.join(parts)


class JiraSMRecords:
    """Tickets and events out of Jira's issues (mixed into the backend)."""

    instance: str
    status_map: dict[str, str]
    priority_map: dict[str, str]
    fields: dict[str, str]

    if TYPE_CHECKING:  # the backend's

        def _updated(self, raw: Mapping[str, Any]) -> datetime: ...

        def created_event(self, ticket: Ticket, event_id: str) -> Event: ...

    def _status(self, status: Any) -> Status:
        if not isinstance(status, Mapping):
            return Status.OPEN
        mapped = self.status_map.get(str(status.get("name") or "").lower())
        if mapped:
            return Status(mapped)
        category = (status.get("statusCategory") or {}).get("key")
        return CATEGORY_STATUS.get(str(category), Status.OPEN)

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        f = raw["fields"]
        created = time_field(f, "created")
        assert created is not None
        updated = self._updated(raw)
        status = self._status(f.get("status"))
        prio = f.get("priority") if isinstance(f.get("priority"), Mapping) else {}
        priority = Priority(
            self.priority_map.get(str((prio or {}).get("name", "")).lower(), "normal")
        )
        reporter = f.get("reporter") if isinstance(f.get("reporter"), Mapping) else None
        assignee = f.get("assignee") if isinstance(f.get("assignee"), Mapping) else None
        custom = {
            self.fields.get(k, k): v
            for k, v in f.items()
            if k.startswith("customfield_") and v is not None
        }
        return Ticket(
            id=f"{self.instance}:{raw['id']}",
            instance=self.instance,
            external_id=str(raw["id"]),
            subject=str(f.get("summary") or ""),
            description=adf_text(f.get("description")),
            status=status,
            priority=priority,
            requester_id=self._q(reporter.get("accountId")) if reporter else None,
            assignee_id=self._q(assignee.get("accountId")) if assignee else None,
            tags=[str(label) for label in f.get("labels") or []],
            created_at=created,
            updated_at=max(updated, created),
            solved_at=time_field(f, "resolutiondate", required=False)
            if status.is_resolved
            else None,
            custom_fields=custom,
            raw=raw,
        )

    def _events(
        self,
        ticket: Ticket,
        raw: Mapping[str, Any],
        histories: list[Mapping[str, Any]],
        comments: list[Mapping[str, Any]],
    ) -> list[Event]:
        tid = ticket.id
        reporter = bare_id(ticket.requester_id) if ticket.requester_id else None
        events = [self.created_event(ticket, f"issue-{ticket.external_id}-created")]
        for c in comments:
            author = (c.get("author") or {}).get("accountId")
            at = time_field(c, "created", required=False) or ticket.created_at
            events.append(
                Event(
                    id=f"{self.instance}:c{c['id']}",
                    ticket_id=tid,
                    kind=EventKind.COMMENT,
                    at=at,
                    author_id=self._q(author),
                    author_role=Role.REQUESTER if author and author == reporter else Role.AGENT,
                    public=bool(c.get("public", True)),
                    body=adf_text(c.get("body")),
                    data={"comment_id": c.get("id")},
                )
            )
        for h in histories:
            at = time_field(h, "created", required=False) or ticket.created_at
            author = (h.get("author") or {}).get("accountId")
            role = Role.REQUESTER if author and author == reporter else Role.AGENT
            for n, item in enumerate(h.get("items") or []):
                field = str(item.get("field") or "").lower()
                kind: EventKind | None = None
                old = new = None
                if field == "status":
                    kind = EventKind.STATUS_CHANGE
                    old = self._status_name(item.get("fromString"))
                    new = self._status_name(item.get("toString"))
                elif field == "priority":
                    kind = EventKind.PRIORITY_CHANGE
                    old = self.priority_map.get(str(item.get("fromString") or "").lower())
                    new = self.priority_map.get(str(item.get("toString") or "").lower())
                elif field == "assignee":
                    kind = EventKind.ASSIGNMENT
                    old, new = self._q(item.get("from")), self._q(item.get("to"))
                elif field == "labels":
                    kind = EventKind.TAGS_CHANGE
                    old, new = item.get("fromString") or None, item.get("toString") or None
                if kind is None:
                    continue
                events.append(
                    Event(
                        id=f"{self.instance}:h{h['id']}-{n}",
                        ticket_id=tid,
                        kind=kind,
                        at=at,
                        author_id=self._q(author),
                        author_role=role,
                        old=old,
                        new=new,
                        data={
                            "field": field,
                            "from": item.get("fromString"),
                            "to": item.get("toString"),
                        },
                    )
                )
        return events

    def _status_name(self, name: Any) -> str | None:
        if not name:
            return None
        return self.status_map.get(str(name).lower(), str(name).lower())
