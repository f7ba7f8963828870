"""What a write sends to Zendesk: the ticket update that applies a :class:`~cstoolkit.plugin.
Changes` (only what differs from the ticket read), the body of a new ticket, and the end user a
requester known only by phone is (found by Zendesk's search, else created).

:class:`ZendeskWrites` is mixed into :class:`~cstoolkit_zendesk.backend.ZendeskBackend`, which
sends them (safe updates, one comment per update) and reads the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from cstoolkit.backends import (
    MAPPING_ERRORS,
    VendorDataError,
    id_field,
    items_of,
    requester_note,
    same_phone,
)
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit_zendesk.mapping import vendor_id

if TYPE_CHECKING:
    from cstoolkit.http import HttpClient
    from cstoolkit_zendesk.mapping import Mapper

SEARCH_PATH = "/api/v2/search.json"
USERS_PATH = "/api/v2/users.json"

T = TypeVar("T")


class ZendeskWrites:
    """Update and create payloads (mixed into the backend)."""

    mapper: Mapper
    label: str

    if TYPE_CHECKING:  # the backend's

        @property
        def http(self) -> HttpClient: ...

        def converted(self, convert: Callable[[str], T], value: str, context: str) -> T: ...

        def get_or_none(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

        def person_by_phone(
            self,
            phone: str,
            *,
            search: Callable[[str], str | None] | None,
            create: Callable[[str], str],
            exists: Callable[[str], bool] | None = None,
        ) -> str: ...

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

    @staticmethod
    def _comment(comment: Comment, requester_id: Any) -> dict[str, Any]:
        """A comment of an update: a customer's own message (``from_requester``) is a public
        comment whose ``author_id`` is the ticket's requester, so it shows as theirs, not as an
        agent's reply (Ticket Comments: "Author id"); on a ticket that names no requester it is
        an internal note marked as theirs (``requester_note``)."""
        if comment.from_requester and requester_id is None:
            comment = requester_note(comment)
        if comment.from_requester:
            return {"body": comment.body, "public": True, "author_id": requester_id}
        return {"body": comment.body, "public": comment.public}

    def _end_user_by_phone(self, ticket: NewTicket, phone: str) -> int | str:
        """The end user with ``phone``: Zendesk's search (``role:end-user phone:<digits>``, as
        its guide to finding a caller says; only a user whose ``phone`` is the number counts),
        else a new user with that phone (Create User). ``person_by_phone`` hands these calls
        the number spelled by ``e164``."""

        def search(number: str) -> str | None:
            data = self.http.get_json(
                SEARCH_PATH, params={"query": f"type:user role:end-user phone:{number[1:]}"}
            )
            where = f"GET {SEARCH_PATH}"
            ids = []
            for raw in items_of(data, "results", self.label, where):
                if not isinstance(raw, Mapping) or raw.get("result_type", "user") != "user":
                    continue
                try:
                    user_id = int(id_field(raw))
                except MAPPING_ERRORS:
                    raise VendorDataError(self.label, where, "a user without an id") from None
                if same_phone(raw.get("phone"), number):  # a search answer is not trusted
                    ids.append(user_id)
            return str(min(ids)) if ids else None

        def create(number: str) -> str:
            user = {"name": ticket.requester_name or number, "phone": number}
            data = self.http.json("POST", USERS_PATH, json={"user": user})
            return _user_id(data, self.label, f"POST {USERS_PATH}")

        def exists(user_id: str) -> bool:
            data = self.get_or_none(f"/api/v2/users/{user_id}.json")
            user = data.get("user") if isinstance(data, Mapping) else None
            return isinstance(user, Mapping) and user.get("active", True) is not False

        found = self.person_by_phone(phone, search=search, create=create, exists=exists)
        return vendor_id(found)

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
        elif ticket.requester_phone:
            # The requester object takes an email only: a WhatsApp or SMS customer is found or
            # created as an end user by phone first, then named by id.
            # The first comment is the customer's message: theirs too, not the API user's.
            requester = self._end_user_by_phone(ticket, ticket.requester_phone)
            payload["requester_id"] = requester
            payload["comment"]["author_id"] = requester
        if ticket.custom_fields:
            payload["custom_fields"] = [
                {"id": vendor_id(self.mapper.vendor_field(k)), "value": v}
                for k, v in ticket.custom_fields.items()
            ]
        if ticket.marker:
            payload["external_id"] = ticket.marker
        return payload


def _user_id(data: Any, label: str, where: str) -> str:
    """``data["user"]["id"]`` of a user answer, or a one-line error naming the call."""
    user = data.get("user") if isinstance(data, Mapping) else None
    if not isinstance(user, Mapping):
        raise VendorDataError(label, where, "no user in the answer")
    try:
        return id_field(user)
    except MAPPING_ERRORS:
        raise VendorDataError(label, where, "the user has no id", record="user ?") from None
