"""What a write sends to Freshdesk: the ticket update that applies a
:class:`~cstoolkit.plugin.Changes` (only what differs from the ticket read; the whole tag list,
as Freshdesk replaces it) and the body of a new ticket, tagged with the marker's tag.

:class:`FreshdeskWrites` is mixed into :class:`~cstoolkit_freshdesk.backend.FreshdeskBackend`,
which sends them (replies and notes apart) and reads the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from cstoolkit.backends import e164, requester_note
from cstoolkit.plugin import Changes, Comment, NewTicket, marker_token
from cstoolkit_freshdesk.mapping import CHANNEL_TO_SOURCE, vendor_int

if TYPE_CHECKING:
    from cstoolkit_freshdesk.mapping import Mapper

T = TypeVar("T")

MARKER_PREFIX = "cst-"


def marker_tag(marker: str) -> str:
    """This backend's marker tag: 20 hex digits (what it has always written; keep it)."""
    return marker_token(marker, length=20, prefix=MARKER_PREFIX)


class FreshdeskWrites:
    """Update and create payloads (mixed into the backend)."""

    mapper: Mapper

    if TYPE_CHECKING:  # the backend's

        def converted(self, convert: Callable[[str], T], value: str, context: str) -> T: ...

    def _diff(self, current: Mapping[str, Any], changes: Changes) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if changes.status is not None:
            code = self.mapper.vendor_status(str(changes.status))
            if current.get("status") != code:
                body["status"] = code
        if changes.priority is not None:
            code = self.mapper.vendor_priority(str(changes.priority))
            if current.get("priority") != code:
                body["priority"] = code
        for key, value in (("responder_id", changes.assignee_id), ("group_id", changes.group_id)):
            if value is not None:
                want = vendor_int(value)
                if str(current.get(key)) != str(want):
                    body[key] = want
        tags = [str(t) for t in current.get("tags") or []]
        new_tags = [t for t in tags if t not in changes.remove_tags]
        new_tags += [t for t in dict.fromkeys(changes.add_tags) if t not in new_tags]
        if new_tags != tags:
            body["tags"] = new_tags  # Freshdesk replaces the whole list
        if changes.custom_fields:
            have = current.get("custom_fields") or {}
            fields = {
                self.mapper.vendor_field(k): v
                for k, v in changes.custom_fields.items()
                if have.get(self.mapper.vendor_field(k)) != v
            }
            if fields:
                body["custom_fields"] = fields
        return body

    @staticmethod
    def _note(comment: Comment, requester_id: Any) -> tuple[str, dict[str, Any]]:
        """Where a comment goes and its body: an agent's public comment is a reply (mailed to
        the requester), a private one a private note; the customer's own message
        (``from_requester``) is a public note marked ``incoming`` (as from outside) whose
        ``user_id`` is the requester, so it is theirs and no reply is sent to them; on a ticket
        that names no requester it is a private note marked as theirs (``requester_note``)."""
        if comment.from_requester and requester_id is None:
            comment = requester_note(comment)
        if comment.from_requester:
            note = {"body": comment.body, "private": False, "incoming": True}
            return "notes", {**note, "user_id": requester_id}
        if comment.public:
            return "reply", {"body": comment.body}
        return "notes", {"body": comment.body, "private": True}

    def _new_ticket(self, ticket: NewTicket) -> dict[str, Any]:
        """The POST body of ``ticket``, tagged with its marker's tag."""
        tags = list(ticket.tags)
        if ticket.marker:
            tags.append(marker_tag(ticket.marker))
        status = self.converted(self.mapper.vendor_status, str(ticket.status), "cannot create")
        priority = self.converted(
            self.mapper.vendor_priority, str(ticket.priority), "cannot create"
        )
        payload: dict[str, Any] = {
            "subject": ticket.subject,
            "description": ticket.description or ticket.subject,
            "status": status,
            "priority": priority,
            "source": CHANNEL_TO_SOURCE.get(str(ticket.channel), 2),
            "tags": tags,
        }
        if ticket.requester_email:
            payload["email"] = ticket.requester_email
        elif ticket.requester_phone:
            # Create Ticket finds the contact with this phone, or adds one; with a phone and no
            # email, Freshdesk requires the name.
            payload["phone"] = e164(ticket.requester_phone)
            payload["name"] = ticket.requester_name or payload["phone"]
        if ticket.requester_name:
            payload["name"] = ticket.requester_name
        if ticket.custom_fields:
            payload["custom_fields"] = {
                self.mapper.vendor_field(k): v for k, v in ticket.custom_fields.items()
            }
        return payload
