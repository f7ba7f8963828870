"""The LiveAgent backend (API v3, ``https://<account>.ladesk.com/api/v3``).

* **Auth**: the ``apikey`` header.
* **Read**: ``GET /tickets?_filters=[["date_changed","D>=","YYYY-MM-DD HH:MM:SS"]]&
  _sortField=date_changed&_sortDir=ASC&_page=N&_perPage=M`` (a JSON array; an empty array
  past the end). Keyset walk as in the Zammad plugin: after a page whose last ticket is newer
  than the lower bound, the next request restarts at that ``date_changed`` (page 1); only a
  page that shares one second pages on. Dates have one-second precision in the account's
  time zone (``timezone`` setting). Repeats inside a run are dropped on (id, date_changed);
  each run re-reads ``overlap_seconds``.
* **Messages**: ``GET /tickets/{id}/messages`` (message groups holding messages) -> comment
  events; a group of type ``I`` (internal) is private. Authors that are agents (``GET /agents``)
  are agents, ``system00`` is the system, anyone else the requester.
* **Write**: ``PUT /tickets/{id}`` (status, agentid, departmentid, tags) and
  ``POST /tickets/{id}/messages`` (notes and replies); create with ``POST /tickets``. LiveAgent
  has no ticket priority: a tag ``priority_tag_prefix``+value carries it. No compare-and-set:
  no ``conflict_check``; :meth:`LiveAgentBackend.fetch` serves the engine's re-read check.
* **Inbound (WhatsApp, SMS)**: a requester known only by phone is the contact that has the
  number (``GET /contacts`` filtered on ``phone``; only a contact whose ``phones`` hold the
  number counts, whatever the filter returned), else one created with ``POST /contacts``
  (``firstname``, ``phones``); the ticket's ``useridentifier`` is that contact's id. A
  customer's own message is posted with ``useridentifier`` = the ticket's
  ``owner_contactid``: written by the contact, not as an agent's reply mailed to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from cstoolkit.backends import (
    MAPPING_ERRORS,
    HttpAuth,
    HttpBackend,
    HttpBackendSettings,
    TimeWindowWalk,
    VendorDataError,
    expect_list,
    first_with_phone,
    id_field,
    local_text,
    page_walk,
    parse_text,
    parse_time,
    requester_note,
    rewind,
    setting,
    time_field,
)
from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.http import check_base_url
from cstoolkit.model import (
    Channel,
    Event,
    EventKind,
    Person,
    Priority,
    Role,
    Status,
    Ticket,
    bare_id,
)
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    ApplyResult,
    Changes,
    CheckResult,
    Comment,
    NewTicket,
    Page,
)

TICKETS_PATH = "/tickets"
TICKETS_GET = f"GET {TICKETS_PATH}"
CURSOR_VERSION = 1
DEFAULT_SINCE = "2000-01-01 00:00:00"
FMT = "%Y-%m-%d %H:%M:%S"

#: LiveAgent status codes -> model status (X deleted and B spam are reported as deleted).
DEFAULT_STATUS_MAP: dict[str, str] = {
    "I": "new",
    "N": "new",
    "C": "open",
    "T": "open",
    "P": "open",
    "A": "pending",
    "W": "on_hold",
    "R": "solved",
}
STATUS_TO_VENDOR = {
    "new": "N",
    "open": "C",
    "pending": "A",
    "on_hold": "W",
    "solved": "R",
    "closed": "R",
}
DEFAULT_CHANNEL_MAP: dict[str, str] = {
    "E": "email",
    "B": "chat",
    "C": "chat",
    "M": "web",
    "I": "other",
    "F": "social",
    "W": "web",
    "T": "social",
    "P": "phone",
    "S": "sms",
    "A": "api",
}
GONE = {"X", "B"}


class LiveAgentSettings(HttpBackendSettings):
    api_key: str = setting(secret=True, help="API v3 key (sent as apikey).")
    per_page: int = setting(100, minimum=1, help="Tickets per page (_perPage).")
    overlap_seconds: int = setting(300, minimum=0, help="Seconds re-read on the next run.")
    timezone: str = setting("UTC", help="Time zone of the account's API dates (IANA).")
    messages: bool = setting(True, help="Pull messages as events.")
    priority_tag_prefix: str = setting(
        "priority-",
        help="LiveAgent has no priority: a tag PREFIX+low|normal|high|urgent carries it.",
    )
    department_id: str | None = setting(help="Department of created tickets.")
    recipient: str | None = setting(help="Mailbox address created tickets are sent to.")


class LiveAgentBackend(HttpBackend[LiveAgentSettings]):
    name: ClassVar[str] = "liveagent"
    description: ClassVar[str] = "LiveAgent API v3: date_changed sync, messages as events."
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        super().__init__(instance, config, state)
        opts = self.options
        if not opts.base_url:
            raise ConfigError("set base_url (https://ACCOUNT.ladesk.com)", field=self.settings_path)
        try:
            self.tz = ZoneInfo(opts.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                "is not an IANA zone", field=f"{self.settings_path}.timezone"
            ) from None
        self.per_page = opts.per_page
        self.overlap = opts.overlap_seconds
        self.want_messages = opts.messages
        self.prefix = opts.priority_tag_prefix or "priority-"
        self.status_map = self.mapping_table("statuses", DEFAULT_STATUS_MAP, Status)
        self.channel_map = self.mapping_table("channels", DEFAULT_CHANNEL_MAP, Channel)
        self.departments = self.filter_values(
            {"group": "department"}, "LiveAgent (department id)", single=True
        ).get("department", [])
        self._agents: set[str] | None = None

    def api_base_url(self) -> str | None:
        base = check_base_url(str(self.options.base_url), self.label)
        return base if base.endswith("/api/v3") else base + "/api/v3"

    def http_auth(self) -> HttpAuth:
        key = self.options.api_key
        return HttpAuth(headers={"apikey": key}, secrets=[key], hint="the api_key setting")

    def check(self) -> CheckResult:
        return self.live_check("/ping", lambda _data: "the API key is accepted (/ping)")

    # -- time ----------------------------------------------------------------------------------

    def _utc(self, text: Any) -> datetime | None:
        return parse_time(text, tz=self.tz)

    def _local(self, value: datetime) -> str:
        return local_text(value, self.tz, FMT)

    # -- pull ----------------------------------------------------------------------------------

    def _load(self, cursor: str) -> tuple[str, int, str | None]:
        data = self.load_cursor(cursor, CURSOR_VERSION)
        try:
            if data is None:
                raise ValueError("version")
            since = str(data["since"])
            parse_text(since, FMT, self.tz)
            page = int(data.get("page") or 1)
            high = data.get("high")
        except (ValueError, KeyError, TypeError) as exc:
            raise self.unreadable_cursor(type(exc).__name__) from None
        return since, page, (str(high) if high else None)

    def _dump(self, since: str, page: int, high: str | None) -> str:
        return self.dump_cursor(CURSOR_VERSION, since=since, page=page, high=high)

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        high: str | None = None
        if since is not None:
            bound, page_no = self._local(since), 1
        elif full or not cursor:
            bound, page_no = DEFAULT_SINCE, 1
        else:
            bound, page_no, high = self._load(cursor)

        def fetch(bound: str, page_no: int) -> tuple[list[dict[str, Any]], bool, int]:
            filters: list[list[str]] = [["date_changed", "D>=", bound]]
            if self.departments:
                filters.append(["departmentid", "E", self.departments[0]])
            params = {
                "_filters": json.dumps(filters, separators=(",", ":")),
                "_sortField": "date_changed",
                "_sortDir": "ASC",
                "_page": page_no,
                "_perPage": self.per_page,
            }
            items = self._list(self.http.get_json(TICKETS_PATH, params=params), TICKETS_PATH)
            return items, True, page_no + 1  # the listing ends at an empty page

        walk: TimeWindowWalk[dict[str, Any]] = TimeWindowWalk(
            self.guard(TICKETS_GET, "date_changed"),
            bound=bound,
            position=page_no,
            first_position=1,
            stamp=lambda raw: str(raw["date_changed"]),
            high=high,
        )
        for step in walk.run(fetch):
            if step.done:
                overlap = timedelta(seconds=self.overlap)
                nxt = rewind(step.high, step.bound, overlap, parse=self._utc, render=self._local)
                yield Page(cursor=self._dump(nxt, 1, None))
                return
            page = Page()
            self._fill(step.records, page)
            page.cursor = self._dump(step.bound, step.position, step.high)
            yield page

    def _list(self, data: Any, path: str) -> list[dict[str, Any]]:
        where = f"GET {path}"
        items = expect_list(data, self.label, where)
        for n, item in enumerate(items):
            if not isinstance(item, dict) or item.get("id") is None:
                raise VendorDataError(self.label, where, f"[{n}] has no id")
            if path == TICKETS_PATH:
                try:
                    parse_text(str(item.get("date_changed")), FMT, self.tz)
                except ValueError:
                    raise VendorDataError(
                        self.label,
                        where,
                        f"[{n}].date_changed is not YYYY-MM-DD HH:MM:SS",
                        record=f"ticket {item['id']}",
                    ) from None
        return items

    def _pages(self, path: str) -> Iterator[list[dict[str, Any]]]:
        """``_page=1, 2, ...`` of 100 until a short page."""

        def fetch(page_no: int) -> tuple[list[dict[str, Any]], bool]:
            data = self.http.get_json(path, params={"_page": page_no, "_perPage": 100})
            items = self._list(data, path)
            return items, len(items) >= 100

        return page_walk(fetch, self.guard(f"GET {path}", "_page"))

    def _agent_ids(self) -> set[str]:
        if self._agents is None:
            self._agents = {str(a["id"]) for items in self._pages("/agents") for a in items}
        return self._agents

    def _fill(self, items: list[dict[str, Any]], page: Page) -> None:
        for raw in items:
            ext = str(raw["id"])
            if str(raw.get("status")) in GONE:
                page.deleted.append(ext)
                continue
            try:
                ticket = self._ticket(raw)
                page.tickets.append(ticket)
                if self.want_messages:
                    page.events.extend(self._events(ticket, self._messages(ext)))
            except MAPPING_ERRORS as exc:
                raise self.malformed(exc, TICKETS_GET, "ticket", raw) from None
            owner = raw.get("owner_contactid")
            if owner:
                page.people.append(
                    Person(
                        id=f"{self.instance}:{owner}",
                        instance=self.instance,
                        external_id=str(owner),
                        role=Role.REQUESTER,
                        name=str(raw.get("owner_name") or ""),
                        email=raw.get("owner_email") or None,
                    )
                )

    def _messages(self, ext: str) -> list[Mapping[str, Any]]:
        return [m for items in self._pages(f"/tickets/{ext}/messages") for m in items]

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        ext = id_field(raw)
        created = time_field(raw, "date_created", tz=self.tz)
        assert created is not None
        updated = time_field(raw, "date_changed", required=False, tz=self.tz) or created
        status = Status(self.status_map.get(str(raw.get("status")), "open"))
        tags = [str(t) for t in raw.get("tags") or []]
        priority = Priority.NORMAL
        for tag in tags:
            value = tag[len(self.prefix) :] if tag.startswith(self.prefix) else None
            if value in {p.value for p in Priority}:
                priority = Priority(value)
        return Ticket(
            id=f"{self.instance}:{ext}",
            instance=self.instance,
            external_id=ext,
            subject=str(raw.get("subject") or ""),
            status=status,
            priority=priority,
            channel=Channel(self.channel_map.get(str(raw.get("channel_type")), "other")),
            requester_id=self._q(raw.get("owner_contactid")),
            assignee_id=self._q(raw.get("agentid")),
            group_id=self._q(raw.get("departmentid")),
            tags=tags,
            created_at=created,
            updated_at=max(updated, created),
            solved_at=time_field(raw, "date_resolved", required=False, tz=self.tz)
            if status.is_resolved
            else None,
            raw=raw,
        )

    def _events(self, ticket: Ticket, groups: list[Mapping[str, Any]]) -> list[Event]:
        events = [self.created_event(ticket, f"ticket-{ticket.external_id}-created")]
        agents = self._agent_ids()
        for group in groups:
            private = str(group.get("type")) == "I"
            for msg in group.get("messages") or []:
                if not isinstance(msg, Mapping) or msg.get("id") is None:
                    continue
                user = str(msg.get("userid") or group.get("userid") or "")
                role = (
                    Role.SYSTEM
                    if user == "system00"
                    else Role.AGENT
                    if user in agents
                    else Role.REQUESTER
                )
                at = self._utc(msg.get("datecreated") or group.get("datecreated"))
                events.append(
                    Event(
                        id=f"{self.instance}:m{msg['id']}",
                        ticket_id=ticket.id,
                        kind=EventKind.COMMENT,
                        at=at or ticket.created_at,
                        author_id=self._q(user),
                        author_role=role,
                        public=not private,
                        body=msg.get("message"),
                        data={"group_id": group.get("id"), "group_type": group.get("type")},
                    )
                )
        return events

    # -- writes --------------------------------------------------------------------------------

    def _get(self, ext: str) -> dict[str, Any] | None:
        path = f"/tickets/{ext}"
        data = self.get_or_none(path)
        if data is not None and (not isinstance(data, dict) or data.get("id") is None):
            raise BackendError(f"{self.label}: GET {path}: malformed ticket (no id)")
        return data

    def fetch(self, external_id: str) -> Ticket | None:
        raw = self._get(bare_id(external_id))
        if raw is None or str(raw.get("status")) in GONE:
            return None
        return self.map_record(self._ticket, raw, "GET /tickets/{id}", "ticket")

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        ext = bare_id(external_id)
        current = self.existing(self._get(ext), ext, "ticket")
        body: dict[str, Any] = {}
        if changes.status is not None:
            want = self.converted(
                STATUS_TO_VENDOR.__getitem__, str(changes.status), f"ticket {ext}: status"
            )
            have = self.status_map.get(str(current.get("status")))
            if have != self.status_map.get(want):
                body["status"] = want
        for key, value in (("agentid", changes.assignee_id), ("departmentid", changes.group_id)):
            if value is not None and str(current.get(key)) != bare_id(value):
                body[key] = bare_id(value)
        tags = [str(t) for t in current.get("tags") or []]
        new_tags = list(tags)
        if changes.priority is not None:
            if changes.priority not in {p.value for p in Priority}:
                raise BackendError(f"{self.label}: ticket {ext}: unknown priority")
            new_tags = [t for t in new_tags if not t.startswith(self.prefix)]
            new_tags.append(self.prefix + str(changes.priority))
        new_tags += [t for t in dict.fromkeys(changes.add_tags) if t not in new_tags]
        dropped = set(changes.remove_tags) - set(changes.add_tags)
        new_tags = [t for t in new_tags if t not in dropped]
        if sorted(new_tags) != sorted(tags):
            body["tags"] = new_tags
        changed = False
        if body:
            self.http.request("PUT", f"/tickets/{ext}", json=body)
            changed = True
        contact = (
            self.requester_of(current, "owner_contactid", ext)
            if any(c.from_requester for c in changes.comments)
            else None
        )
        for comment in changes.comments:
            self.http.json("POST", f"/tickets/{ext}/messages", json=self._message(contact, comment))
            changed = True
        if not changed:
            return ApplyResult(ext, False, self._utc(current.get("date_changed")), "no change")
        after = self._get(ext) or {}
        return ApplyResult(ext, True, self._utc(after.get("date_changed")))

    def create(self, ticket: NewTicket) -> str:
        if ticket.marker:
            found = self.find_by_marker(ticket.marker)
            if found is not None:
                return found
        requester = ticket.requester_email
        if not requester and ticket.requester_phone:
            requester = self._contact_with_phone(ticket.requester_phone, ticket.requester_name)
        if not requester:
            raise BackendError(
                f"{self.label}: cannot create: LiveAgent needs a requester email or phone"
            )
        tags = list(ticket.tags)
        if ticket.priority and ticket.priority != "normal":
            tags.append(self.prefix + str(ticket.priority))
        body: dict[str, Any] = {
            "useridentifier": requester,
            "subject": ticket.subject,
            "message": ticket.description or ticket.subject,
            "departmentid": self.options.department_id
            or (self.departments[0] if self.departments else "default"),
            "status": STATUS_TO_VENDOR.get(str(ticket.status), "N"),
            "tags": tags,
        }
        if self.options.recipient:
            body["recipient"] = self.options.recipient
        data = self.http.json("POST", TICKETS_PATH, json=body)
        if not isinstance(data, Mapping) or data.get("id") is None:
            raise BackendError(f"{self.label}: POST {TICKETS_PATH}: no ticket id returned")
        ext = str(data["id"])
        self.remember_marker(ticket.marker, ext)
        return ext

    @staticmethod
    def _message(contact: Any, comment: Comment) -> dict[str, Any]:
        """The ``POST /tickets/{id}/messages`` body: a customer's own message is written by the
        ticket's contact (``useridentifier``); without one it is an internal note marked as
        theirs."""
        if comment.from_requester and contact is not None:
            return {"message": comment.body, "useridentifier": str(contact), "type": "M"}
        comment = requester_note(comment)
        return {"message": comment.body, "type": "M" if comment.public else "N"}

    def _contact_with_phone(self, phone: str, name: str) -> str:
        """The id of the contact with ``phone``: remembered, found, else created
        (``person_by_phone``; a search answer counts only for a contact with the number)."""

        def search(number: str) -> str | None:
            data = self.http.get_json(
                "/contacts",
                params={"_filters": json.dumps([["phone", "E", number]]), "_perPage": 20},
            )
            contacts = expect_list(data, self.label, "GET /contacts")
            found = first_with_phone(contacts, number, lambda c: list(c.get("phones") or []))
            if found is not None and found.get("id") not in (None, ""):
                return str(found["id"])
            return None

        def create(number: str) -> str:
            created = self.http.json(
                "POST", "/contacts", json={"firstname": name or number, "phones": [number]}
            )
            if not isinstance(created, Mapping) or created.get("id") in (None, ""):
                raise BackendError(f"{self.label}: POST /contacts: no contact id returned")
            return str(created["id"])

        def exists(contact_id: str) -> bool:
            return self.get_or_none(f"/contacts/{contact_id}") is not None

        return self.person_by_phone(phone, search=search, create=create, exists=exists)

    def find_by_marker(self, marker: str) -> str | None:
        """Markers are remembered in the instance state only (see docs: a crash between the
        create and saving the marker can leave a duplicate)."""
        known = self.remembered_marker(marker)
        if known and self._get(known) is not None:
            return known
        return None


__all__ = ["LiveAgentBackend", "LiveAgentSettings"]
