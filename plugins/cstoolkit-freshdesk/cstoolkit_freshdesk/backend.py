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
from typing import TYPE_CHECKING, Any, ClassVar

from cstoolkit.errors import BackendError, CapabilityError, ConfigError, ConflictError, CstError
from cstoolkit.http import HttpStats, http_settings
from cstoolkit.model import Event, EventKind, Group, Person, Role, Ticket, bare_id, now, qualify
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    ApplyResult,
    Backend,
    Changes,
    CheckResult,
    NewTicket,
    Page,
    Setting,
    marker_token,
)
from cstoolkit_freshdesk.mapping import (
    CHANNEL_TO_SOURCE,
    Mapper,
    parse_time,
    vendor_int,
    z,
)

if TYPE_CHECKING:
    import httpx

    from cstoolkit.http import HttpClient

log = logging.getLogger("cstoolkit_freshdesk")

LIST_PATH = "/api/v2/tickets"
DEFAULT_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
CURSOR_VERSION = 1
RECENT_MAX = 5000  # digests kept in the cursor for the overlap window
MARKER_PREFIX = "cst-"
FILTER_FIELDS = {"group": "group_id", "brand": "product_id", "mailbox": "email_config_id"}


def digest(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def marker_tag(marker: str) -> str:
    """This backend's marker tag: 20 hex digits (what it has always written; keep it)."""
    return marker_token(marker, length=20, prefix=MARKER_PREFIX)


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


class FreshdeskBackend(Backend):
    name: ClassVar[str] = "freshdesk"
    description: ClassVar[str] = (
        "Freshdesk API v2: updated_since sync without loss past the page cap, conversations."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("domain", help="Account name: acme for https://acme.freshdesk.com."),
        Setting("api_key", secret=True, required=True, help="API key (Basic auth, key:X)."),
        Setting("page_size", "int", default=100, help="Tickets per page (1-100)."),
        Setting(
            "page_cap",
            "int",
            default=300,
            help="Pages Freshdesk serves per listing before refusing (its limit is 300).",
        ),
        Setting(
            "overlap_seconds",
            "int",
            default=300,
            help="Seconds re-read before the saved position on each run (repeats are skipped).",
        ),
        Setting(
            "concurrency",
            "int",
            default=4,
            help="Conversation requests in flight at once (the budget still paces them).",
        ),
        Setting("conversations", "bool", default=True, help="Pull conversations as events."),
        Setting(
            "include_description",
            "bool",
            default=False,
            help="Also fetch ticket descriptions in the listing (2 more API credits a page).",
        ),
        Setting(
            "directory_refresh_hours",
            "float",
            default=24.0,
            help="How often agents and groups are re-read (always on --full).",
        ),
        *http_settings(requests_per_minute=200, budget_share=0.8),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        self.label = f"freshdesk instance {instance!r}"
        cfg = self.config
        self.base_url = cfg.get("base_url") or (
            f"https://{cfg['domain']}.freshdesk.com" if cfg.get("domain") else None
        )
        if not self.base_url:
            raise ConfigError(f"{self.label}: set domain (or base_url)")
        if not cfg.get("api_key"):
            raise ConfigError(f"{self.label}: set api_key")
        self.page_size = int(cfg.get("page_size") or 100)
        if not 1 <= self.page_size <= 100:
            raise ConfigError(f"{self.label}: page_size must be 1-100")
        self.page_cap = max(1, int(cfg.get("page_cap") or 300))
        self.overlap = max(0, int(cfg.get("overlap_seconds") or 0))
        self.concurrency = max(1, int(cfg.get("concurrency") or 1))
        self.conversations = cfg.get("conversations", True) is not False
        self.include = ["requester", "stats"]
        if cfg.get("include_description"):
            self.include.append("description")
        self.mapper = Mapper(cfg, self.label)
        self.filters = self._filters(cfg.get("filters"))
        self.stats = HttpStats()
        self._http: HttpClient | None = None
        self._companies: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<FreshdeskBackend {self.instance} {self.base_url}>"

    def _filters(self, value: Any) -> dict[str, set[str]]:
        if not value:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.label}: filters must be a table")
        out: dict[str, set[str]] = {}
        for key, wanted in value.items():
            if key not in FILTER_FIELDS:
                raise ConfigError(
                    f"{self.label}: filters.{key}: Freshdesk can filter by "
                    f"{', '.join(FILTER_FIELDS)} only"
                )
            values = wanted if isinstance(wanted, list) else [wanted]
            out[FILTER_FIELDS[key]] = {bare_id(str(v)) for v in values}
        return out

    # -- HTTP ----------------------------------------------------------------------------------

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from cstoolkit.http import HttpClient

            key = str(self.config["api_key"])
            self._http = HttpClient.from_settings(
                self.config,
                label=self.label,
                default_base_url=self.base_url,
                auth=(key, "X"),
                secrets=[key],
                stats=self.stats,
                auth_hint="the api_key setting",
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def check(self) -> CheckResult:
        try:
            me = self.http.get_json("/api/v2/agents/me")
        except CstError as exc:
            return CheckResult(False, str(exc))
        contact = (me or {}).get("contact") or {}
        return CheckResult(
            True, f"{self.base_url}: authenticated as agent {me.get('id')} ({contact.get('email')})"
        )

    def _pages_of(
        self, path: str, params: Mapping[str, Any] | None, cost: float = 1.0
    ) -> Iterator[tuple[list[Any], httpx.Response]]:
        """A listing followed through its Link headers, at most ``page_cap`` pages."""
        from cstoolkit.http import link_next

        url: str | None = path
        count = 0
        while url is not None and count < self.page_cap:
            response = self.http.request("GET", url, params=params, cost=cost)
            data = self.http.decode(response)
            if not isinstance(data, list):
                raise BackendError(f"{self.label}: GET {path}: malformed page, expected a list")
            yield data, response
            count += 1
            url, params = _relative(link_next(response)), None
        if url is not None:
            log.warning("%s: GET %s: stopped at the %d-page cap", self.label, path, self.page_cap)

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
        params = self._list_params(floor)
        url: str = LIST_PATH
        chain_floor = int(floor.timestamp())
        pages_in_chain = 0
        while True:
            response = self.http.request(
                "GET", url, params=params if url == LIST_PATH else None, cost=cost
            )
            records = self.http.decode(response)
            if not isinstance(records, list):
                raise BackendError(
                    f"{self.label}: GET {LIST_PATH}: malformed page, expected a JSON list"
                )
            pages_in_chain += 1
            page = self._ticket_page(records, seen)
            stamps = [self._stamp(r) for r in records]
            if stamps:
                resume = max(resume, datetime.fromtimestamp(max(stamps), UTC))
            seen.prune(int(resume.timestamp()) - self.overlap)
            page.cursor = self._dump_cursor(resume, seen)
            yield page
            next_link = _relative(link_next(response))
            if next_link is None:
                break
            last = stamps[-1] if stamps else chain_floor
            if last > chain_floor and stamps[0] < last:
                # Keyset restart: offsets shift when tickets change mid-walk; timestamps do not.
                chain_floor, pages_in_chain = last, 0
                url, params = LIST_PATH, self._list_params(datetime.fromtimestamp(last, UTC))
            elif pages_in_chain >= self.page_cap:
                raise BackendError(
                    f"{self.label}: more than {self.page_cap * self.page_size} tickets were "
                    f"updated in the second {z(datetime.fromtimestamp(last, UTC))}; Freshdesk "
                    f"serves at most {self.page_cap} pages of one listing, so the rest cannot "
                    "be read without loss (re-run later, or raise page_size)"
                )
            else:
                url = next_link  # inside one second: follow the offsets
        if full:
            yield from self._deleted_pages(self._dump_cursor(resume, seen))

    def _list_params(self, since: datetime) -> dict[str, Any]:
        return {
            "updated_since": z(since),
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": self.page_size,
            "include": ",".join(self.include),
        }

    def _stamp(self, record: Any) -> int:
        if not isinstance(record, Mapping) or record.get("id") is None:
            raise BackendError(f"{self.label}: GET {LIST_PATH}: a ticket without an id")
        when = parse_time(record.get("updated_at")) or parse_time(record.get("created_at"))
        if when is None:
            raise BackendError(
                f"{self.label}: GET {LIST_PATH}: ticket {record.get('id')} has no updated_at"
            )
        return int(when.timestamp())

    def _load_cursor(self, text: str) -> tuple[datetime, dict[str, Any]]:
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
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
            {"v": CURSOR_VERSION, "updated_since": z(resume), "recent": window},
            separators=(",", ":"),
            sort_keys=True,
        )

    def _ticket_page(self, records: list[Any], seen: _Seen) -> Page:
        page = Page()
        fresh: list[Mapping[str, Any]] = []
        for record in records:
            stamp = self._stamp(record)
            rid = str(record["id"])
            dig = digest(record)
            if not seen.fresh(rid, stamp, dig):
                continue  # already yielded: a restart boundary or the overlap window
            seen.add(rid, stamp, dig)
            if self.filters and not all(
                str(record.get(f)) in wanted for f, wanted in self.filters.items()
            ):
                continue
            fresh.append(record)
        people: dict[str, Person] = {}
        for record in fresh:
            try:
                ticket = self._ticket(record)
            except (ValueError, TypeError, KeyError) as exc:
                raise BackendError(
                    f"{self.label}: GET {LIST_PATH}: ticket {record.get('id')}: {exc}"
                ) from None
            page.tickets.append(ticket)
            requester = record.get("requester")
            if isinstance(requester, Mapping) and requester.get("id") is not None:
                person = self._requester(requester, record.get("company_id"))
                people[person.id] = person
        page.people.extend(people.values())
        if self.conversations and fresh:
            for events in self.http.map(self._events, fresh, max_workers=self.concurrency):
                page.events.extend(events)
        elif fresh:
            for record in fresh:
                page.events.append(self._created_event(record))
        return page

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else qualify(self.instance, value)

    def _ticket(self, record: Mapping[str, Any]) -> Ticket:
        ext = str(record["id"])
        created = parse_time(record["created_at"])
        updated = parse_time(record.get("updated_at")) or created
        assert created is not None and updated is not None
        status = self.mapper.ticket_status(record.get("status"))
        raw_stats = record.get("stats")
        stats: Mapping[str, Any] = raw_stats if isinstance(raw_stats, Mapping) else {}
        solved_at = None
        if status.is_resolved:
            solved_at = parse_time(stats.get("resolved_at")) or parse_time(stats.get("closed_at"))
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
                for k, v in (record.get("custom_fields") or {}).items()
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
                data = self.http.get_json(f"/api/v2/companies/{company_id}") or {}
                value = (data.get("custom_fields") or {}).get(self.mapper.plan_field)
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
        return float(self.config.get("directory_refresh_hours") or 24.0) * 3600

    def _created_event(self, record: Mapping[str, Any]) -> Event:
        tid = str(record["id"])
        created = parse_time(record["created_at"])
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

    def _events(self, record: Mapping[str, Any]) -> list[Event]:
        """The created event and one comment event per conversation (replies and notes)."""
        tid = str(record["id"])
        events = [self._created_event(record)]
        path = f"/api/v2/tickets/{tid}/conversations"
        for items, _ in self._pages_of(path, {"per_page": 100}):
            for conv in items:
                if not isinstance(conv, Mapping) or conv.get("id") is None:
                    raise BackendError(f"{self.label}: GET {path}: a conversation without an id")
                at = parse_time(conv.get("created_at"))
                if at is None:
                    raise BackendError(f"{self.label}: GET {path}: conversation without a time")
                incoming = bool(conv.get("incoming"))
                events.append(
                    Event(
                        id=qualify(self.instance, f"c{conv['id']}"),
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
                )
        return events

    def _directory(self, full: bool) -> Page | None:
        """Agents and groups, re-read when due (a page without tickets)."""
        due_at = self.state.get("directory_at", 0) if self.state is not None else 0
        if not full and now().timestamp() - float(due_at or 0) < self._refresh_s():
            return None
        page = Page()
        members: dict[str, list[str]] = {}
        for items, _ in self._pages_of("/api/v2/groups", {"per_page": 100}):
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
        for items, _ in self._pages_of("/api/v2/agents", {"per_page": 100}):
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
            for items, _ in self._pages_of(LIST_PATH, params):
                ids = [str(r["id"]) for r in items if isinstance(r, Mapping) and "id" in r]
                yield Page(deleted=ids, cursor=cursor)

    # -- writes --------------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.config.get("read_only"):
            raise CapabilityError(f"{self.label} is read_only; nothing is written to it")

    def _get(self, ext: str) -> dict[str, Any] | None:
        from cstoolkit.http import HttpError

        try:
            data = self.http.get_json(f"/api/v2/tickets/{ext}", params={"include": "stats"})
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict):
            raise BackendError(f"{self.label}: GET /api/v2/tickets/{ext}: malformed ticket")
        return data

    def fetch(self, external_id: str) -> Ticket | None:
        record = self._get(bare_id(external_id))
        if record is None or record.get("deleted") or record.get("spam"):
            return None
        return self._ticket(record)

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        """Re-read, compare ``updated_at`` with the plan's, then write only what differs.

        Freshdesk has no compare-and-set, so this is a re-read check (the capability says so):
        a change landing between the read and the write is not detected.
        """
        self._writable()
        ext = bare_id(external_id)
        current = self._get(ext)
        if current is None:
            raise BackendError(f"{self.label}: ticket {ext} not found")
        current_updated = parse_time(current.get("updated_at"))
        expected = changes.expected_updated_at
        if expected is not None and (
            current_updated is None or int(current_updated.timestamp()) != int(expected.timestamp())
        ):
            raise ConflictError(
                f"{self.label}: ticket {ext} changed since the plan (updated "
                f"{current.get('updated_at')}, plan made against {z(expected)}); not overwritten"
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
        for comment in changes.comments:
            if comment.public:
                self.http.json("POST", f"/api/v2/tickets/{ext}/reply", json={"body": comment.body})
            else:
                self.http.json(
                    "POST",
                    f"/api/v2/tickets/{ext}/notes",
                    json={"body": comment.body, "private": True},
                )
        if changes.comments:
            updated = None  # a reply or note moves updated_at; the next pull reads it
        return ApplyResult(ext, True, updated)

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

    def create(self, ticket: NewTicket) -> str:
        """POST a ticket tagged with the marker's tag; remembered in the instance state too."""
        self._writable()
        if ticket.marker:
            found = self.find_by_marker(ticket.marker)
            if found is not None:
                return found
        if not ticket.requester_email:
            raise BackendError(f"{self.label}: Freshdesk needs a requester email to create")
        tags = list(ticket.tags)
        if ticket.marker:
            tags.append(marker_tag(ticket.marker))
        try:
            status = self.mapper.vendor_status(str(ticket.status))
            priority = self.mapper.vendor_priority(str(ticket.priority))
        except ValueError as exc:
            raise BackendError(f"{self.label}: cannot create: {exc}") from None
        payload: dict[str, Any] = {
            "subject": ticket.subject,
            "description": ticket.description or ticket.subject,
            "email": ticket.requester_email,
            "status": status,
            "priority": priority,
            "source": CHANNEL_TO_SOURCE.get(str(ticket.channel), 2),
            "tags": tags,
        }
        if ticket.requester_name:
            payload["name"] = ticket.requester_name
        if ticket.custom_fields:
            payload["custom_fields"] = {
                self.mapper.vendor_field(k): v for k, v in ticket.custom_fields.items()
            }
        try:
            data = self.http.json("POST", LIST_PATH, json=payload)
        except BackendError:
            if ticket.marker:
                found = self.find_by_marker(ticket.marker)
                if found is not None:
                    return found
            raise
        if not isinstance(data, Mapping) or data.get("id") is None:
            raise BackendError(f"{self.label}: POST {LIST_PATH}: no ticket id returned")
        ext = str(data["id"])
        if ticket.marker and self.state is not None:
            self.state.set(f"marker:{marker_tag(ticket.marker)}", ext)
        return ext

    def find_by_marker(self, marker: str) -> str | None:
        """The ticket tagged with ``marker``'s tag: the instance state, else Freshdesk search
        (which lags a few minutes behind writes)."""
        tag = marker_tag(marker)
        if self.state is not None:
            known = self.state.get(f"marker:{tag}")
            if known:
                return str(known)
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
