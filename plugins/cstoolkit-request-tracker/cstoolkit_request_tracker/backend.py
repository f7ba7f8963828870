"""The Request Tracker 5 backend (REST2 at ``{base_url}/REST/2.0/``).

Reading: TicketSQL ``LastUpdated`` search (``orderby=LastUpdated,id``, ``per_page`` up to 100),
paged by *key* rather than by page number: every request asks for ``LastUpdated >= T`` where T
is the last stamp read, skipping the ids already read at T (while a whole page shares one second
the page number advances instead). A ticket updated during the run therefore moves to the end of
the result instead of shifting unread tickets onto pages already read. RT's ``next_page`` link
only says whether there is more: the URL is rebuilt from our own parameters (RT's link carries a
stray ``&=&``).

RT stamps have 1-second precision, so a resumed pull re-reads an overlap window (``overlap``
seconds, default 120) before the saved stamp; the store's payload hash makes the repeats free.
With ``overlap = 0`` the cursor's ids read at the boundary second are skipped instead.

Events come from each ticket's transaction history (one request per ticket) and the bodies of
Create / Correspond / Comment transactions from the ticket's attachments (one more request per
ticket that has such transactions; ``bodies = false`` leaves them out).

RT has no tags: when a ticket custom field named ``tags_field`` (default ``cst_tags``, a
multi-value freeform field) exists, it stands in for them. The mirror marker lives in a custom
field named ``marker_field`` (default ``cst_marker``) when that exists, else in a subject suffix
``[cst:<marker>]`` that is stripped again on reading.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from cstoolkit.backends import (
    MAPPING_ERRORS,
    HttpAuth,
    HttpBackend,
    HttpBackendSettings,
    TimeWindowWalk,
    VendorDataError,
    page_walk,
    requester_note,
    setting,
)
from cstoolkit.errors import BackendError, ConfigError, CstError
from cstoolkit.http import check_base_url
from cstoolkit.model import EventKind, Group, Ticket, qualify
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    ApplyResult,
    Changes,
    CheckResult,
    NewTicket,
    Page,
)
from cstoolkit_request_tracker.records import (
    GONE_STATUSES,
    STATUSES,
    RequestTrackerRecords,
    parse_time,
    ref_id,
)
from cstoolkit_request_tracker.writes import WRITE_STATUSES, RequestTrackerWrites

log = logging.getLogger("cstoolkit_request_tracker")

API = "/REST/2.0"
CURSOR_VERSION = 1
TICKET_FIELDS = (
    "Subject,Status,Priority,Queue,Owner,Requestor,Created,LastUpdated,Resolved,CustomFields"
)
HISTORY_FIELDS = "Type,Created,Creator,Field,OldValue,NewValue"
BODY_TYPES = frozenset({"Create", "Correspond", "Comment"})
EPOCH = "1970-01-01T00:00:00Z"


def sql_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def sql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _strip_urls(value: Any) -> Any:
    """Drop the ``_url`` hyperlinks (they name the server's address, not the ticket)."""
    if isinstance(value, dict):
        return {k: _strip_urls(v) for k, v in value.items() if k != "_url"}
    if isinstance(value, list):
        return [_strip_urls(v) for v in value]
    return value


class _Cursor:
    """The last ``LastUpdated`` read and the ids read at that second."""

    def __init__(self, last: str | None = None, ids: list[str] | None = None) -> None:
        self.last = last
        self.ids = ids or []

    def dump(self) -> str:
        return json.dumps({"v": CURSOR_VERSION, "last": self.last, "ids": self.ids})

    @classmethod
    def load(cls, text: str) -> _Cursor | None:
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                return None
            last = data.get("last")
            if last is not None and parse_time(last) is None:
                return None
            return cls(last, [str(i) for i in data.get("ids") or []])
        except (ValueError, TypeError):
            return None


class RequestTrackerSettings(HttpBackendSettings):
    token: str | None = setting(secret=True, help="RT auth token: Authorization: token <token>.")
    user: str | None = setting(help="User name for basic auth (with password) instead of a token.")
    password: str | None = setting(secret=True, help="Password for basic auth (with user).")
    queue: str = setting("General", help="Queue new tickets are created in.")
    per_page: int = setting(
        100, minimum=1, maximum=100, help="Tickets per search page (1-100; RT caps it at 100)."
    )
    overlap: int = setting(
        120,
        minimum=0,
        help="Seconds re-read before the saved LastUpdated on the next run (RT stamps have "
        "1-second precision; repeats are deduplicated by the store).",
    )
    events: bool = setting(True, help="Read each ticket's transaction history.")
    keep_alive: bool = setting(
        False,
        help="Reuse connections (HTTP keep-alive). Off by default: RT's standalone "
        "rt-server (Starlet) can leave a reused connection unanswered.",
    )
    bodies: bool = setting(
        True, help="Read comment and reply bodies (one attachments request per ticket)."
    )
    marker_field: str = setting(
        "cst_marker",
        help="Ticket custom field holding the mirror marker (else a [cst:...] subject suffix).",
    )
    tags_field: str = setting(
        "cst_tags", help="Multi-value ticket custom field standing in for tags (RT has no tags)."
    )


class RequestTrackerBackend(
    RequestTrackerRecords, RequestTrackerWrites, HttpBackend[RequestTrackerSettings]
):
    name: ClassVar[str] = "request_tracker"
    description: ClassVar[str] = (
        "Request Tracker 5 (REST2): TicketSQL LastUpdated incremental sync, transaction "
        "history, apply and create."
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        opts = self.options
        if not opts.base_url:
            raise ConfigError(
                "required (e.g. https://rt.example)", field=f"{self.settings_path}.base_url"
            )
        self.site_url = check_base_url(opts.base_url, self.label)
        if not (opts.token or (opts.user and opts.password)):
            raise ConfigError("set token, or user and password", field=self.settings_path)
        self.per_page = opts.per_page
        self.overlap = opts.overlap
        self.events_enabled = opts.events
        self.bodies = opts.bodies
        self.queue = opts.queue or "General"
        self.marker_field = opts.marker_field
        self.tags_field = opts.tags_field
        self.queues_filter = self.filter_values({"queue": "Queue"}, "Request Tracker").get(
            "Queue", []
        )
        mapping = self.options.mapping or {}
        self.status_map: dict[str, str] = {k: str(v) for k, v in STATUSES.items()}
        self.status_map.update({str(k): str(v) for k, v in (mapping.get("statuses") or {}).items()})
        self.write_status = dict(WRITE_STATUSES)
        for vendor, model in (mapping.get("statuses") or {}).items():
            self.write_status[str(model)] = str(vendor)
        self.fields_map = self.field_names()
        self._users: dict[str, str] = {}  # numeric user id -> name
        self._queues: dict[str, str] | None = None  # queue id -> name
        self._marker_cf: bool | None = None

    def __repr__(self) -> str:
        return f"<RequestTrackerBackend {self.instance} {self.site_url}>"

    # -- HTTP ----------------------------------------------------------------------------------

    def api_base_url(self) -> str | None:
        return self.site_url + API

    def http_auth(self) -> HttpAuth:
        opts = self.options
        headers: dict[str, str] = {}
        if not opts.keep_alive:
            headers["Connection"] = "close"
        secrets = [opts.token, opts.password]
        if opts.token:
            headers["Authorization"] = f"token {opts.token}"
            return HttpAuth(headers=headers, secrets=secrets, hint="the token setting")
        return HttpAuth(
            auth=(str(opts.user), str(opts.password)),
            headers=headers,
            secrets=secrets,
            hint="the user and password settings",
        )

    def _path(self, path: str) -> str:
        """A path under the client's base URL ({base_url}/REST/2.0)."""
        return path

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.get_json(self._path(path), params=params)

    def check(self) -> CheckResult:
        try:
            data = self._get("/rt")
        except CstError as exc:
            return CheckResult(False, str(exc))
        if not isinstance(data, Mapping) or "Version" not in data:
            return CheckResult(False, f"{self.site_url}: answered, but not like RT REST2 /rt")
        return CheckResult(True, f"{self.site_url}: Request Tracker {data.get('Version')}")

    def _base_query(self) -> str:
        if not self.queues_filter:
            return ""
        return "(" + " OR ".join(f"Queue = {sql_quote(q)}" for q in self.queues_filter) + ")"

    # -- pull ----------------------------------------------------------------------------------

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        skip: set[str] = set()
        start: datetime | None = None
        if since is not None:
            start = since
        elif cursor and not full:
            cur = _Cursor.load(cursor)
            if cur is None:
                log.warning("%s: unreadable cursor; reading everything again", self.label)
            elif cur.last:
                last = parse_time(cur.last)
                assert last is not None
                if self.overlap:
                    start = last - timedelta(seconds=self.overlap)
                else:
                    start, skip = last, set(cur.ids)
        groups = self._groups()
        initial = _Cursor(cursor_last(start), sorted(skip))

        def fetch(bound: str | None, page_no: int) -> tuple[list[dict[str, Any]], bool, int]:
            boundary = sql_time(parse_time(bound) or datetime(1970, 1, 1, tzinfo=UTC))
            query = " AND ".join(
                q
                for q in (
                    self._base_query(),
                    f"LastUpdated >= {sql_quote(boundary)}" if bound else "",
                )
                if q
            )
            params = {
                "query": query or "id > 0",
                "orderby": ["LastUpdated", "id"],
                "order": ["ASC", "ASC"],
                "per_page": self.per_page,
                "page": page_no,
                "fields": TICKET_FIELDS,
            }
            data = self._get("/tickets", params)
            items = _items(data, "/tickets", self.label)
            more = bool(data.get("next_page")) or len(items) >= self.per_page
            return [self._check_item(i) for i in items], more, page_no + 1

        # Keyset walk on LastUpdated: restart at the last stamp read (skipping the ids read at
        # it), page on while a whole page shares one second.
        walk: TimeWindowWalk[dict[str, Any]] = TimeWindowWalk(
            self.guard(f"GET {API}/tickets", "LastUpdated"),
            bound=initial.last,
            position=1,
            first_position=1,
            stamp=lambda raw: raw["LastUpdated"],
            accept=lambda raw: not (raw["LastUpdated"] == initial.last and raw["id"] in skip),
            at_bound=initial.ids,
        )
        for n, step in enumerate(walk.run(fetch)):
            page = Page()
            if n == 0:
                page.groups.extend(groups)
            for raw in step.records:
                try:
                    self._add_ticket(raw, page)
                except MAPPING_ERRORS as exc:
                    raise self.malformed(exc, f"GET {API}/tickets", "ticket", raw) from None
            if self.events_enabled and page.tickets:
                self._add_events(page)
            ids = sorted({str(i) for i in step.at_bound}, key=_num)
            page.cursor = _Cursor(step.bound, ids).dump()
            yield page

    def _check_item(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise VendorDataError(self.label, f"GET {API}/tickets", "an item without an id")
        keep = set(TICKET_FIELDS.split(",")) | {"id", "type"}
        item = {k: _strip_urls(v) for k, v in item.items() if k in keep}
        item["id"] = str(item["id"])
        # RT lists custom fields and watchers in no fixed order: sort them so the payload hash
        # of an unchanged ticket stays the same.
        if isinstance(item.get("CustomFields"), list):
            item["CustomFields"] = sorted(
                item["CustomFields"], key=lambda cf: _num(str(ref_id(cf) or ""))
            )
        if isinstance(item.get("Requestor"), list):
            item["Requestor"] = sorted(item["Requestor"], key=lambda r: str(ref_id(r) or ""))
        for name in ("Created", "LastUpdated"):
            if parse_time(item.get(name)) is None:
                raise VendorDataError(
                    self.label,
                    f"GET {API}/tickets",
                    "missing or not a time (a ticket needs a valid Created/LastUpdated)",
                    record=f"ticket {item['id']}",
                    field=name,
                )
        return item

    def _groups(self) -> list[Group]:
        queues = self._queue_names()
        return [
            Group(
                id=qualify(self.instance, qid),
                instance=self.instance,
                external_id=qid,
                name=name,
                raw={"id": qid, "Name": name},
            )
            for qid, name in sorted(queues.items(), key=lambda kv: _num(kv[0]))
        ]

    def _queue_names(self) -> dict[str, str]:
        if self._queues is None:
            data = self._get("/queues/all", {"fields": "Name", "per_page": 100})
            self._queues = {
                str(q["id"]): str(q.get("Name") or q["id"])
                for q in _items(data, "/queues/all", self.label)
                if isinstance(q, Mapping) and q.get("id") is not None
            }
        return self._queues

    # -- events --------------------------------------------------------------------------------

    def _add_events(self, page: Page) -> None:
        tickets = page.tickets
        # One ticket at a time: RT on SQLite (the packaged test setup) stalls on parallel reads.
        results = [self._history(t.external_id) for t in tickets]
        for ticket, (history, bodies) in zip(tickets, results, strict=True):
            requestors = {r for r in (ref_id(x) for x in ticket.raw.get("Requestor") or []) if r}
            for txn in history:
                event = self._event(ticket, txn, bodies, requestors)
                if event is not None:
                    page.events.append(event)
                    if event.kind is EventKind.CREATED and event.body and not ticket.description:
                        ticket.description = event.body

    def _history(self, ext: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
        path = f"/ticket/{ext}/history"

        def fetch(page_no: int) -> tuple[list[Any], bool]:
            data = self._get(path, {"fields": HISTORY_FIELDS, "per_page": 100, "page": page_no})
            items = _items(data, path, self.label)
            return items, bool(data.get("next_page"))

        history: list[dict[str, Any]] = [
            _strip_urls(i)
            for items in page_walk(fetch, self.guard(f"GET {API}{path}", "page"))
            for i in items
            if isinstance(i, dict) and i.get("id")
        ]
        bodies: dict[str, str] = {}
        if self.bodies and any(t.get("Type") in BODY_TYPES for t in history):
            apath = f"/ticket/{ext}/attachments"
            data = self._get(
                apath, {"fields": "TransactionId,ContentType,Content", "per_page": 100}
            )
            wanted = {str(t["id"]) for t in history if t.get("Type") in BODY_TYPES}
            for att in _items(data, apath, self.label):
                if not isinstance(att, Mapping):
                    continue
                txn = ref_id(att.get("TransactionId"))
                content = att.get("Content")
                if (
                    txn in wanted
                    and txn not in bodies
                    and str(att.get("ContentType") or "").startswith("text/plain")
                    and isinstance(content, str)
                ):
                    bodies[str(txn)] = content
        return history, bodies

    def _user_name(self, user_id: str) -> str:
        """A numeric user id (Owner transactions store those) -> the user's name."""
        if not user_id.isdigit():
            return user_id
        if user_id not in self._users:
            try:
                data = self._get(f"/user/{user_id}")
                name = data.get("Name") if isinstance(data, Mapping) else None
            except CstError:
                name = None
            self._users[user_id] = str(name or user_id)
        return self._users[user_id]

    # -- reads of one ticket -------------------------------------------------------------------

    def _raw_ticket(self, ext: str) -> dict[str, Any] | None:
        from cstoolkit.http import HttpError

        if not str(ext).isdigit():
            return None
        try:
            data = self._get(f"/ticket/{ext}")
        except HttpError as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise BackendError(f"{self.label}: GET {API}/ticket/{ext}: not a ticket")
        return self._check_item(data)

    def fetch(self, external_id: str) -> Ticket | None:
        raw = self._raw_ticket(external_id)
        if raw is None or str(raw.get("Status")) in GONE_STATUSES:
            return None
        return self._ticket(raw)

    # -- writes --------------------------------------------------------------------------------

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        """Write only what differs (one GET, one PUT, one POST per comment)."""
        self.writable()
        raw = self._raw_ticket(external_id)
        if raw is None:
            raise BackendError(f"{self.label}: ticket {external_id} not found")
        current = self._ticket(raw)
        body = self._update_body(raw, current, changes)
        done: list[str] = []
        if body:
            answer = self.http.json("PUT", self._path(f"/ticket/{external_id}"), json=body)
            messages = [str(m) for m in answer] if isinstance(answer, list) else []
            failed = [m for m in messages if _is_failure(m)]
            if failed:
                raise BackendError(f"{self.label}: ticket {external_id}: {'; '.join(failed)}")
            done.append(", ".join(sorted(body)))
        for comment in map(requester_note, changes.comments):
            kind = "correspond" if comment.public else "comment"
            self.http.json(
                "POST",
                self._path(f"/ticket/{external_id}/{kind}"),
                json={"Content": comment.body, "ContentType": "text/plain"},
            )
            done.append(kind)
        if not done:
            return ApplyResult(external_id, False, current.updated_at, "already so")
        after = self._raw_ticket(external_id)
        updated = parse_time(after.get("LastUpdated")) if after else None
        return ApplyResult(external_id, True, updated, "; ".join(done))

    def create(self, ticket: NewTicket) -> str:
        self.writable()
        if ticket.marker:
            existing = self.find_by_marker(ticket.marker)
            if existing is not None:
                return existing
        body = self._create_body(ticket)
        data = self.http.json("POST", self._path("/ticket"), json=body)
        ext = ref_id(data.get("id")) if isinstance(data, Mapping) else None
        if not ext:
            raise BackendError(f"{self.label}: POST {API}/ticket answered without an id")
        status = self.write_status.get(ticket.status, "new")
        if status != "new":
            self.apply(ext, Changes(status=ticket.status))
        return ext

    def _has_marker_field(self) -> bool:
        if self._marker_cf is None:
            if not self.marker_field:
                self._marker_cf = False
            else:
                data = self.http.json(
                    "POST",
                    self._path("/customfields"),
                    json=[
                        {"field": "Name", "value": self.marker_field},
                        {"field": "LookupType", "value": "RT::Queue-RT::Ticket"},
                    ],
                    idempotent=True,
                )
                self._marker_cf = bool(_items(data, "/customfields", self.label))
        return self._marker_cf

    def find_by_marker(self, marker: str) -> str | None:
        if self._has_marker_field():
            query = f"CF.{{{self.marker_field}}} = {sql_quote(marker)}"
        else:
            query = f"Subject LIKE {sql_quote(f'[cst:{marker}]')}"
        data = self._get(
            "/tickets", {"query": query, "orderby": "id", "order": "ASC", "per_page": 10}
        )
        for item in _items(data, "/tickets", self.label):
            if isinstance(item, Mapping) and item.get("id") not in (None, ""):
                return str(item["id"])
        return None


def cursor_last(start: datetime | None) -> str | None:
    return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if start else None


def _num(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def _is_failure(message: str) -> bool:
    lowered = message.lower()
    return any(
        word in lowered
        for word in (
            "permission denied",
            "could not",
            "couldn't",
            "illegal",
            "invalid",
            "isn't",
            "failed",
        )
    )


def _items(data: Any, path: str, label: str) -> list[Any]:
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise VendorDataError(label, f"GET {API}{path}", "the answer has no items list")
    return list(data["items"])
