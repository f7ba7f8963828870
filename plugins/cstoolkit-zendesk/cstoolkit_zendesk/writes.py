"""What a write sends to Zendesk: the ticket update that applies a :class:`~cstoolkit.plugin.
Changes` (only what differs from the ticket read) and the body of a new ticket.

:class:`ZendeskWrites` is mixed into :class:`~cstoolkit_zendesk.backend.ZendeskBackend`, which
sends them (safe updates, one comment per update) and reads the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from cstoolkit.plugin import Changes, NewTicket
from cstoolkit_zendesk.mapping import vendor_id

if TYPE_CHECKING:
    from cstoolkit_zendesk.mapping import Mapper

T = TypeVar("T")


class ZendeskWrites:
    """Update and create payloads (mixed into the backend)."""

    mapper: Mapper

    if TYPE_CHECKING:  # the backend's

        def converted(self, convert: Callable[[str], T], value: str, context: str) -> T: ...

    def _diff(self, current: Mapping[str, Any], changes: Changes) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if changes.status is not None:
            want = self.mapper.vendor_status(str(changes.status))
            if current.get("status") != want:
                body["status"] = want
        if changes.priority is not None:
            want = self.mapper.vendor_priority(str(changes.priority))
            if (current.get("priority") or "normal") != want:
                body["priority"] = want
        for key, value in (("assignee_id", changes.assignee_id), ("group_id", changes.group_id)):
            if value is not None:
                want_id = vendor_id(value)
                if str(current.get(key)) != str(want_id):
                    body[key] = want_id
        tags = set(current.get("tags") or [])
        add = [t for t in dict.fromkeys(changes.add_tags) if t not in tags]
        remove = [t for t in dict.fromkeys(changes.remove_tags) if t in tags and t not in add]
        if add:
            body["additional_tags"] = add
        if remove:
            body["remove_tags"] = remove
        if changes.custom_fields:
            have = {
                str(f.get("id")): f.get("value")
                for f in current.get("custom_fields") or []
                if isinstance(f, Mapping)
            }
            fields = [
                {"id": vendor_id(self.mapper.vendor_field(k)), "value": v}
                for k, v in changes.custom_fields.items()
                if have.get(self.mapper.vendor_field(k)) != v
            ]
            if fields:
                body["custom_fields"] = fields
        return body

    def _new_ticket(self, ticket: NewTicket) -> dict[str, Any]:
        """The POST body of ``ticket``; its ``external_id`` is the marker."""
        status = self.converted(self.mapper.vendor_status, str(ticket.status), "cannot create")
        priority = self.converted(
            self.mapper.vendor_priority, str(ticket.priority), "cannot create"
        )
        payload: dict[str, Any] = {
            "subject": ticket.subject,
            "comment": {"body": ticket.description or ticket.subject, "public": True},
            "status": status,
            "priority": priority,
            "tags": list(ticket.tags),
        }
        if ticket.requester_email:
            payload["requester"] = {
                "email": ticket.requester_email,
                "name": ticket.requester_name or ticket.requester_email,
            }
        if ticket.custom_fields:
            payload["custom_fields"] = [
                {"id": vendor_id(self.mapper.vendor_field(k)), "value": v}
                for k, v in ticket.custom_fields.items()
            ]
        if ticket.marker:
            payload["external_id"] = ticket.marker
        return payload
