"""What a write sends to Request Tracker: the ticket update that applies a
:class:`~cstoolkit.plugin.Changes` (only what differs from the ticket read; tags and custom
fields as custom field values) and the body of a new ticket.

A requester known only by phone (WhatsApp, SMS) is the RT user named after the E.164 number,
found with a JSON search ``POST /users`` on ``Name`` (REST2 searches users only on their public
fields: ``MobilePhone`` is not one, and such a condition is ignored) or created with
``POST /user`` (``Name`` and ``MobilePhone`` the number, ``RealName`` the sender's name; RT users
need no email); the ticket's ``Requestor`` is that user's ``Name``. A search answer is never
trusted blindly: only a user whose ``Name`` or ``MobilePhone`` is the number counts.

REST2 writes every transaction as the API user, so a customer's own message
(``Comment.from_requester``) is a private ``comment`` marked as theirs, never a ``correspond``
(which RT would mail to the requester as an agent's reply).

:class:`RequestTrackerWrites` is mixed into :class:`~cstoolkit_request_tracker.backend.
RequestTrackerBackend`, which sends them and reads the answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.backends import first_with_phone, items_of
from cstoolkit.backends.requesters import person_by_phone
from cstoolkit.errors import BackendError, CapabilityError
from cstoolkit.model import Priority, Ticket
from cstoolkit.plugin import Changes, NewTicket
from cstoolkit_request_tracker.records import custom_field_values, ref_id

#: Model status -> RT status when writing (the reverse of STATUSES plus the nearest values).
WRITE_STATUSES: dict[str, str] = {
    "new": "new",
    "open": "open",
    "pending": "stalled",
    "on_hold": "stalled",
    "solved": "resolved",
    "closed": "resolved",
}
#: Model priority -> RT numeric priority (RT 5's PriorityAsString: Low 0, Medium 50, High 100).
WRITE_PRIORITIES: dict[str, int] = {"low": 0, "normal": 50, "high": 75, "urgent": 100}


class RequestTrackerWrites:
    """Update and create bodies (mixed into the backend)."""

    instance: str
    label: str
    queue: str
    write_status: dict[str, str]
    tags_field: str
    marker_field: str
    fields_map: dict[str, str]

    if TYPE_CHECKING:  # the backend's
        from cstoolkit.http import HttpClient
        from cstoolkit.store.kv import KeyValue

        http: HttpClient
        state: KeyValue

        def _path(self, path: str) -> str: ...

        def _queue_names(self) -> dict[str, str]: ...

        def _has_marker_field(self) -> bool: ...

        def get_or_none(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def _update_body(
        self, raw: dict[str, Any], current: Ticket, changes: Changes
    ) -> dict[str, Any]:
        """The PUT body that makes ``raw`` (read as ``current``) what ``changes`` ask."""
        body: dict[str, Any] = {}
        if changes.status:
            if changes.status not in self.write_status:
                raise BackendError(f"{self.label}: cannot write status {changes.status!r}")
            rt_status = self.write_status[changes.status]
            if str(raw.get("Status")) != rt_status:
                body["Status"] = rt_status
        if changes.priority:
            if changes.priority not in WRITE_PRIORITIES:
                raise BackendError(f"{self.label}: unknown priority {changes.priority!r}")
            if current.priority != Priority(changes.priority):
                body["Priority"] = WRITE_PRIORITIES[changes.priority]
        if changes.assignee_id:
            owner = _bare(changes.assignee_id, self.instance)
            if ref_id(raw.get("Owner")) != owner:
                body["Owner"] = owner
        if changes.group_id:
            queue = _bare(changes.group_id, self.instance)
            names = self._queue_names()
            current_q = ref_id(raw.get("Queue"))
            if queue != current_q and names.get(str(current_q)) != queue:
                body["Queue"] = queue
        cfs = custom_field_values(raw)
        cf_body: dict[str, Any] = {}
        if changes.add_tags or changes.remove_tags:
            if not self.tags_field or self.tags_field not in cfs:
                raise CapabilityError(
                    f"{self.label}: RT has no tags; create a multi-value ticket custom field "
                    f"named {self.tags_field or 'cst_tags'!r} (setting tags_field) to use them"
                )
            have = [str(v) for v in cfs[self.tags_field]]
            want = [t for t in have if t not in changes.remove_tags]
            want += [t for t in changes.add_tags if t not in want]
            if sorted(want) != sorted(have):
                cf_body[self.tags_field] = want
        reverse = {v: k for k, v in self.fields_map.items()}
        for name, value in changes.custom_fields.items():
            vendor = reverse.get(name, name)
            values = value if isinstance(value, list) else ([] if value is None else [value])
            if [str(v) for v in cfs.get(vendor, [])] != [str(v) for v in values]:
                cf_body[vendor] = values if isinstance(value, list) else value
        if cf_body:
            body["CustomFields"] = cf_body
        return body

    def _create_body(self, ticket: NewTicket) -> dict[str, Any]:
        """The POST body of ``ticket``; its marker in the marker field, else the subject."""
        body: dict[str, Any] = {
            "Queue": self.queue,
            "Subject": ticket.subject,
            "Content": ticket.description or ticket.subject,
            "ContentType": "text/plain",
            "Priority": WRITE_PRIORITIES.get(ticket.priority, 50),
        }
        requestor = self._requestor(ticket)
        if requestor:
            body["Requestor"] = requestor
        cfs: dict[str, Any] = dict(ticket.custom_fields)
        if ticket.tags and self.tags_field:
            cfs[self.tags_field] = list(ticket.tags)
        if ticket.marker:
            if self._has_marker_field():
                cfs[self.marker_field] = ticket.marker
            else:
                body["Subject"] = f"{ticket.subject} [cst:{ticket.marker}]"
        if cfs:
            body["CustomFields"] = cfs
        return body

    def _requestor(self, ticket: NewTicket) -> str | None:
        """The requester's email, else the ``Name`` of the RT user of their phone (found or
        created once through ``person_by_phone``, which remembers the user's id)."""
        if ticket.requester_email or not ticket.requester_phone:
            return ticket.requester_email
        names: dict[str, str] = {}  # user id -> Name, from whichever call answered

        def search(phone: str) -> str | None:
            endpoint = "POST /REST/2.0/users"
            data = self.http.json(
                "POST",
                self._path("/users"),
                params={"fields": "Name,MobilePhone", "per_page": 20},
                json=[{"field": "Name", "value": phone}],
                idempotent=True,
            )
            users = items_of(data, "items", self.label, endpoint, required=True)
            found = first_with_phone(
                users, phone, lambda user: [user.get("Name"), user.get("MobilePhone")]
            )
            if found is None or not found.get("Name") or found.get("id") in (None, ""):
                return None
            names[str(found["id"])] = str(found["Name"])
            return str(found["id"])

        def create(phone: str) -> str:
            answer = self.http.json(
                "POST",
                self._path("/user"),
                json={
                    "Name": phone,
                    "RealName": ticket.requester_name or phone,
                    "MobilePhone": phone,
                },
            )
            if not isinstance(answer, Mapping) or answer.get("id") in (None, ""):
                raise BackendError(f"{self.label}: POST /REST/2.0/user answered without an id")
            names[str(answer["id"])] = phone
            return str(answer["id"])

        def exists(user_id: str) -> bool:
            user = self.get_or_none(self._path(f"/user/{user_id}"))
            if not isinstance(user, Mapping) or not user.get("Name"):
                return False
            if str(user.get("Disabled") or "0") != "0":
                return False
            names[user_id] = str(user["Name"])
            return True

        user_id = person_by_phone(
            self.state, ticket.requester_phone, search=search, create=create, exists=exists
        )
        return names[user_id]


def _bare(value: str, instance: str) -> str:
    prefix = instance + ":"
    return value[len(prefix) :] if value.startswith(prefix) else value
