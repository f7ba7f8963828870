"""The Freshdesk (API v2) backend.

Freshdesk offers only timestamps for incremental reads: ``GET /api/v2/tickets?updated_since=``
ordered by ``updated_at`` ascending, 100 per page, with a ``Link: rel="next"`` header and a cap
of 300 pages per listing. Following offsets through a list that changes while it is read can
skip a ticket (one updated mid-walk moves to the end, everything after it shifts one place
back), so this backend restarts the listing at the last record's ``updated_at`` after every page
(a keyset walk) and follows ``Link`` only inside a run of tickets that share one second. The
page cap is then never reached in practice, and where it would be (more than 30,000 tickets
updated in the same second) the pull stops with a clear error instead of losing tickets.

Every record is deduplicated by (id, digest of its JSON): the inclusive restarts and the
overlap window a resumed run re-reads (``overlap_seconds``) yield nothing twice, while a second
update inside the same second (same ``updated_at``, different content) is still seen. The
cursor carries the digests of the records inside the overlap window.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from cstoolkit.backends import (
    MAPPING_ERRORS,
    CursorPage,
    FieldError,
    HttpAuth,
    HttpBackend,
    HttpBackendSettings,
    TimeWindowWalk,
    cursor_walk,
    expect_list,
    http_setting,
    id_field,
    iso_z,
    map_field,
    parse_time,
    setting,
    time_field,
)
from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.model import Event, Group, Person, Role, Ticket, bare_id, now, qualify
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
from cstoolkit_freshdesk.mapping import Mapper
from cstoolkit_freshdesk.records import FreshdeskRecords
from cstoolkit_freshdesk.writes import FreshdeskWrites, marker_tag

log = logging.getLogger("cstoolkit_freshdesk")

LIST_PATH = "/api/v2/tickets"
LIST_GET = f"GET {LIST_PATH}"
DEFAULT_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
CURSOR_VERSION = 1
RECENT_MAX = 5000  # digests kept in the cursor for the overlap window
FILTER_FIELDS = {"group": "group_id", "brand": "product_id", "mailbox": "email_config_id"}


def digest(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


class _Seen:
    """(id -> updated_at, digest) of records already yielded, pruned as the floor advances."""

    def __init__(self, entries: Mapping[str, Any] | None = None) -> None:
        self.entries: dict[str, tuple[int, str]] = {}
        for key, value in (entries or {}).items():
            try:
                self.entries[str(key)] = (int(value[0]), str(value[1]))
            except (TypeError, ValueError, IndexError):
                continue

    def fresh(self, rid: str, stamp: int, dig: str) -> bool:
        return self.entries.get(rid, (None, None))[1] != dig

    def add(self, rid: str, stamp: int, dig: str) -> None:
        self.entries[rid] = (stamp, dig)

    def prune(self, floor: int) -> None:
        if any(stamp < floor for stamp, _ in self.entries.values()):
            self.entries = {k: v for k, v in self.entries.items() if v[0] >= floor}

    def window(self, floor: int) -> dict[str, list[Any]]:
        kept = {k: [v[0], v[1]] for k, v in self.entries.items() if v[0] >= floor}
        return kept if len(kept) <= RECENT_MAX else {}


class FreshdeskSettings(HttpBackendSettings):
    domain: str | None = setting(help="Account name: acme for https://acme.freshdesk.com.")
    api_key: str = setting(secret=True, help="API key (Basic auth, key:X).")
    page_size: int = setting(100, minimum=1, maximum=100, help="Tickets per page (1-100).")
    page_cap: int = setting(
        300,
        minimum=1,
        help="Pages Freshdesk serves per listing before refusing (its limit is 300).",
    )
    overlap_seconds: int = setting(
        300,
        minimum=0,
        help="Seconds re-read before the saved position on each run (repeats are skipped).",
    )
    concurrency: int = setting(
        4,
        minimum=1,
        help="Conversation requests in flight at once (the budget still paces them).",
    )
    conversations: bool = setting(True, help="Pull conversations as events.")
    include_description: bool = setting(
        False, help="Also fetch ticket descriptions in the listing (2 more API credits a page)."
    )
    directory_refresh_hours: float = setting(
        24.0, minimum=0, help="How often agents and groups are re-read (always on --full)."
    )
    requests_per_minute: float | None = http_setting("requests_per_minute", 200)
    budget_share: float = http_setting("budget_share", 0.8)


class FreshdeskBackend(FreshdeskRecords, FreshdeskWrites, HttpBackend[FreshdeskSettings]):
    name: ClassVar[str] = "freshdesk"
    description: ClassVar[str] = (
        "Freshdesk API v2: updated_since sync without loss past the page cap, conversations."
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        opts = self.options
        if not self.base_url:
            raise ConfigError(f"{self.label}: set domain (or base_url)")
        self.page_size = opts.page_size
        self.page_cap = opts.page_cap
        self.overlap = opts.overlap_seconds
        self.concurrency = opts.concurrency
        self.conversations = opts.conversations
        self.include = ["requester", "stats"]
        if opts.include_description:
            self.include.append("description")
        self.mapper = Mapper(self)
        self.filters = {
            k: set(v) for k, v in self.filter_values(FILTER_FIELDS, "Freshdesk").items()
        }
        self._companies: dict[str, dict[str, Any]] = {}

    # -- HTTP ----------------------------------------------------------------------------------

    def api_base_url(self) -> str | None:
        opts = self.options
        if opts.base_url:
            return opts.base_url
        return f"https://{opts.domain}.freshdesk.com" if opts.domain else None

    def http_auth(self) -> HttpAuth:
        key = self.options.api_key
        return HttpAuth(auth=(key, "X"), secrets=[key], hint="the api_key setting")

    def check(self) -> CheckResult:
        def describe(me: Mapping[str, Any]) -> str:
            contact = me.get("contact") or {}
            return f"authenticated as agent {me.get('id')} ({contact.get('email')})"

        return self.live_check("/api/v2/agents/me", describe)

    def _pages_of(
        self, path: str, params: Mapping[str, Any] | None, cost: float = 1.0
    ) -> Iterator[list[Any]]:
        """A listing followed through its Link headers, at most ``page_cap`` pages."""
        from cstoolkit.http import link_next

        endpoint = f"GET {path}"

        def fetch(link: str | None) -> CursorPage[Any, str]:
            response = self.http.request(
                "GET", link or path, params=None if link else params, cost=cost
            )
            data = expect_list(self.http.decode(response), self.label, endpoint)
            nxt = _relative(link_next(response))
            return CursorPage(data, nxt, nxt is None)

        for count, page in enumerate(cursor_walk(fetch, self.guard(endpoint, "link")), 1):
            yield page.items
            if count >= self.page_cap and not page.done:
                log.warning("%s: %s: stopped at the %d-page cap", self.label, endpoint, count)
                return

    # -- pull ----------------------------------------------------------------------------------

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        seen = _Seen()
        if since is not None:
            floor = resume = since
        elif full or not cursor:
            floor = resume = DEFAULT_SINCE
        else:
            resume, recent = self._load_cursor(cursor)
            seen = _Seen(recent)
            floor = resume - timedelta(seconds=self.overlap)  # re-read the overlap window
        directory = self._directory(full)
        if directory is not None:
            yield directory  # no cursor: the saved position stays as it is
        from cstoolkit.http import link_next

        cost = 1.0 + 2.0 * len(self.include)

        def fetch(bound: int, link: str | None) -> tuple[list[Any], bool, str | None]:
            if link is None:  # (re)start the listing at ``bound`` (a keyset restart)
                params = self._list_params(datetime.fromtimestamp(bound, UTC))
                response = self.http.request("GET", LIST_PATH, params=params, cost=cost)
            else:  # inside one second: follow the offsets
                response = self.http.request("GET", link, cost=cost)
            records = expect_list(self.http.decode(response), self.label, LIST_GET)
            nxt = _relative(link_next(response))
            return records, nxt is not None, nxt

        def fresh(record: Any) -> bool:
            rid, stamp, dig = self._rid(record), self._stamp(record), digest(record)
            if not seen.fresh(rid, stamp, dig):
                return False  # already yielded: a restart boundary or the overlap window
            seen.add(rid, stamp, dig)
            return True

        def too_many(stamp: int) -> None:
            raise BackendError(
                f"{self.label}: more than {self.page_cap * self.page_size} tickets were "
                f"updated in the second {iso_z(datetime.fromtimestamp(stamp, UTC))}; Freshdesk "
                f"serves at most {self.page_cap} pages of one listing, so the rest cannot "
                "be read without loss (re-run later, or raise page_size)"
            )

        walk: TimeWindowWalk[Any] = TimeWindowWalk(
            self.guard(LIST_GET, "updated_since"),
            bound=int(floor.timestamp()),
            position=None,
            first_position=None,
            stamp=self._stamp,
            high=int(resume.timestamp()),
            key=lambda r: (self._rid(r), digest(r)),
            accept=fresh,
            # Restart only when the page holds an older record than its last one: a page
            # entirely inside one second is followed through its Link instead.
            restart=lambda first, last, bound: last > bound and first < last,
            page_cap=self.page_cap,
            on_cap=too_many,
        )
        for step in walk.run(fetch):
            page = self._ticket_page(step.records)
            if step.high is not None:
                resume = max(resume, datetime.fromtimestamp(step.high, UTC))
            seen.prune(int(resume.timestamp()) - self.overlap)
            page.cursor = self._dump_cursor(resume, seen)
            yield page
        if full:
            yield from self._deleted_pages(self._dump_cursor(resume, seen))

    def _list_params(self, since: datetime) -> dict[str, Any]:
        return {
            "updated_since": iso_z(since),
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": self.page_size,
            "include": ",".join(self.include),
        }

    def _rid(self, record: Any) -> str:
        try:
            if not isinstance(record, Mapping):
                raise TypeError("not an object")
            return id_field(record)
        except MAPPING_ERRORS as exc:
            raise self.malformed(exc, LIST_GET, "ticket", record) from None

    def _stamp(self, record: Any) -> int:
        self._rid(record)
        try:
            when = time_field(record, "updated_at", required=False) or time_field(
                record, "created_at"
            )
        except FieldError as exc:
            if exc.problem == "missing":
                exc = FieldError("updated_at", "missing")
            raise self.malformed(exc, LIST_GET, "ticket", record) from None
        assert when is not None
        return int(when.timestamp())

    def _load_cursor(self, text: str) -> tuple[datetime, dict[str, Any]]:
        data = self.load_cursor(text, CURSOR_VERSION)
        try:
            if data is None:
                raise ValueError("version")
            when = parse_time(data["updated_since"])
            if when is None:
                raise ValueError("updated_since")
            recent = data.get("recent") or {}
            return when, recent if isinstance(recent, dict) else {}
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("%s: unreadable cursor; starting again from the beginning", self.label)
            return DEFAULT_SINCE, {}

    def _dump_cursor(self, resume: datetime, seen: _Seen) -> str:
        window = seen.window(int(resume.timestamp()) - self.overlap)
        return json.dumps(
            {"v": CURSOR_VERSION, "updated_since": iso_z(resume), "recent": window},
            separators=(",", ":"),
            sort_keys=True,
        )

    def _ticket_page(self, records: list[Any]) -> Page:
        page = Page()
        fresh = [
            r
            for r in records
            if not self.filters
            or all(str(r.get(f)) in wanted for f, wanted in self.filters.items())
        ]
        people: dict[str, Person] = {}
        for record in fresh:
            try:
                ticket = self._ticket(record)
                requester = record.get("requester")
                if isinstance(requester, Mapping) and requester.get("id") is not None:
                    person = self._requester(requester, record.get("company_id"))
                    people[person.id] = person
            except MAPPING_ERRORS as exc:
                raise self.malformed(exc, LIST_GET, "ticket", record) from None
            page.tickets.append(ticket)
        page.people.extend(people.values())
        if self.conversations and fresh:
            for events in self.http.map(self._events, fresh, max_workers=self.concurrency):
                page.events.extend(events)
        elif fresh:
            for record in fresh:
                page.events.append(self._created_event(record))
        return page

    def _company(self, company_id: str) -> dict[str, Any]:
        """Name and plan of a company (looked up only when mapping.plan_field is set)."""
        if not self.mapper.plan_field:
            return {}
        if company_id not in self._companies:
            cached = self.state.get(f"company:{company_id}") if self.state is not None else None
            if isinstance(cached, dict) and (
                now().timestamp() - float(cached.get("at", 0)) < self._refresh_s()
            ):
                self._companies[company_id] = cached
            else:
                path = f"/api/v2/companies/{company_id}"
                data = self.http.get_json(path) or {}
                try:
                    value = map_field(data, "custom_fields").get(self.mapper.plan_field)
                except MAPPING_ERRORS as exc:
                    raise self.malformed(exc, f"GET {path}", "company", data) from None
                entry = {
                    "name": data.get("name"),
                    "plan": None if value in (None, "") else str(value),
                    "at": int(now().timestamp()),
                }
                self._companies[company_id] = entry
                if self.state is not None:
                    self.state.set(f"company:{company_id}", entry)
        return self._companies[company_id]

    def _refresh_s(self) -> float:
        return self.options.directory_refresh_hours * 3600

    def _events(self, record: Mapping[str, Any]) -> list[Event]:
        """The created event and one comment event per conversation (replies and notes)."""
        tid = str(record["id"])
        events = [self._created_event(record)]
        path = f"/api/v2/tickets/{tid}/conversations"
        for items in self._pages_of(path, {"per_page": 100}):
            for conv in items:
                try:
                    events.append(self._conversation(tid, conv))
                except MAPPING_ERRORS as exc:
                    raise self.malformed(exc, f"GET {path}", "conversation", conv) from None
        return events

    def _directory(self, full: bool) -> Page | None:
        """Agents and groups, re-read when due (a page without tickets)."""
        due_at = self.state.get("directory_at", 0) if self.state is not None else 0
        if not full and now().timestamp() - float(due_at or 0) < self._refresh_s():
            return None
        page = Page()
        members: dict[str, list[str]] = {}
        for items in self._pages_of("/api/v2/groups", {"per_page": 100}):
            for group in items:
                if not isinstance(group, Mapping) or group.get("id") is None:
                    continue
                gid = qualify(self.instance, group["id"])
                page.groups.append(
                    Group(
                        id=gid,
                        instance=self.instance,
                        external_id=str(group["id"]),
                        name=str(group.get("name") or group["id"]),
                        raw=dict(group),
                    )
                )
                for agent in group.get("agent_ids") or []:
                    members.setdefault(str(agent), []).append(gid)
        for items in self._pages_of("/api/v2/agents", {"per_page": 100}):
            for agent in items:
                if not isinstance(agent, Mapping) or agent.get("id") is None:
                    continue
                contact = agent.get("contact") or {}
                ext = str(agent["id"])
                page.people.append(
                    Person(
                        id=qualify(self.instance, ext),
                        instance=self.instance,
                        external_id=ext,
                        role=Role.AGENT,
                        name=str(contact.get("name") or ""),
                        email=contact.get("email") or None,
                        language=contact.get("language") or None,
                        timezone=contact.get("time_zone") or None,
                        groups=members.get(ext, []),
                        raw=dict(agent),
                    )
                )
        if self.state is not None:
            self.state.set("directory_at", int(now().timestamp()))
        return page

    def _deleted_pages(self, cursor: str) -> Iterator[Page]:
        """On --full: tickets in the deleted and spam views are reported as deleted."""
        for view in ("deleted", "spam"):
            params = {"filter": view, "per_page": self.page_size}
            for items in self._pages_of(LIST_PATH, params):
                ids = [str(r["id"]) for r in items if isinstance(r, Mapping) and "id" in r]
                yield Page(deleted=ids, cursor=cursor)

    # -- writes --------------------------------------------------------------------------------

    def _get(self, ext: str) -> dict[str, Any] | None:
        data = self.get_or_none(f"/api/v2/tickets/{ext}", params={"include": "stats"})
        if data is not None and not isinstance(data, dict):
            raise BackendError(f"{self.label}: GET /api/v2/tickets/{ext}: malformed ticket")
        return data

    def fetch(self, external_id: str) -> Ticket | None:
        record = self._get(bare_id(external_id))
        if record is None or record.get("deleted") or record.get("spam"):
            return None
        try:
            return self._ticket(record)
        except MAPPING_ERRORS as exc:
            raise self.malformed(exc, "GET /api/v2/tickets/{id}", "ticket", record) from None

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        """Re-read, compare ``updated_at`` with the plan's, then write only what differs.

        Freshdesk has no compare-and-set, so this is a re-read check (the capability says so):
        a change landing between the read and the write is not detected.
        """
        self.writable()
        ext = bare_id(external_id)
        current = self._get(ext)
        if current is None:
            raise BackendError(f"{self.label}: ticket {ext} not found")
        current_updated = self.check_unchanged(
            ext, current.get("updated_at"), changes.expected_updated_at
        )
        try:
            body = self._diff(current, changes)
        except ValueError as exc:
            raise BackendError(f"{self.label}: ticket {ext}: {exc}") from None
        if not body and not changes.comments:
            return ApplyResult(ext, False, current_updated, "no change")
        updated = current_updated
        if body:
            data = self.http.json("PUT", f"/api/v2/tickets/{ext}", json=body)
            updated = parse_time((data or {}).get("updated_at")) or updated
        requester = (
            self.requester_of(current, "requester_id", ext)
            if any(c.from_requester for c in changes.comments)
            else None
        )
        for comment in changes.comments:
            kind, note = self._note(comment, requester)
            self.http.json("POST", f"/api/v2/tickets/{ext}/{kind}", json=note)
        if changes.comments:
            updated = None  # a reply or note moves updated_at; the next pull reads it
        return ApplyResult(ext, True, updated)

    def create(self, ticket: NewTicket) -> str:
        """POST a ticket tagged with the marker's tag; remembered in the instance state too."""
        self.writable()
        if not (ticket.requester_email or ticket.requester_phone):
            found = self.find_by_marker(ticket.marker) if ticket.marker else None
            if found is not None:
                return found
            raise BackendError(
                f"{self.label}: Freshdesk needs a requester email or phone to create"
            )
        payload = self._new_ticket(ticket)

        def post() -> str:
            data = self.http.json("POST", LIST_PATH, json=payload)
            if not isinstance(data, Mapping) or data.get("id") is None:
                raise BackendError(f"{self.label}: POST {LIST_PATH}: no ticket id returned")
            return str(data["id"])

        return self.create_once(ticket.marker, post)

    def remembered_marker(self, marker: str) -> str | None:
        """Freshdesk keeps ``marker:<tag>`` keys (what it has always written)."""
        known = self.state.get(f"marker:{marker_tag(marker)}") if self.state is not None else None
        return str(known) if known else None

    def remember_marker(self, marker: str | None, external_id: str) -> None:
        if marker and self.state is not None:
            self.state.set(f"marker:{marker_tag(marker)}", external_id)

    def find_by_marker(self, marker: str) -> str | None:
        """The ticket tagged with ``marker``'s tag: the instance state, else Freshdesk search
        (which lags a few minutes behind writes)."""
        known = self.remembered_marker(marker)
        if known:
            return known
        tag = marker_tag(marker)
        data = self.http.get_json("/api/v2/search/tickets", params={"query": f"\"tag:'{tag}'\""})
        results = (data or {}).get("results") if isinstance(data, Mapping) else None
        found = [
            r
            for r in results or []
            if isinstance(r, Mapping) and tag in (r.get("tags") or []) and r.get("id")
        ]
        if not found:
            return None
        return str(min(int(r["id"]) for r in found))


def _relative(link: str | None) -> str | None:
    """A ``Link`` URL as path + query, so it is sent to ``base_url`` (a proxy, a custom domain)
    rather than to whatever host Freshdesk names; credentials never leave ``base_url``."""
    if link is None:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")
