"""The Zendesk Support backend.

Reading uses two exports, both on Zendesk's incremental endpoints (10 requests/minute, 30 with
the High Volume add-on, paced by an endpoint budget):

1. tickets: the cursor-based export ``/api/v2/incremental/tickets/cursor.json`` with the
   ``metric_sets,users,groups,organizations`` sideloads; ``after_cursor`` resumes it exactly;
2. events: the time-based ``/api/v2/incremental/ticket_events.json?include=comment_events``;
   items repeat across page boundaries, so the ids already seen at the boundary second travel in
   the cursor and are skipped, and the next run re-reads an overlap (``events_overlap``) whose
   repeats the store upserts by event id.

The :class:`~cstoolkit.plugin.Page` cursor is an opaque JSON string holding both positions, so a
run killed anywhere resumes after its last committed page. Archived tickets (closed for ~120
days) are absent from List Tickets but present in the export; deleted tickets arrive with status
``deleted`` and are reported in ``Page.deleted``.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from cstoolkit.backends import (
    MAPPING_ERRORS,
    CursorPage,
    FieldError,
    HttpAuth,
    HttpBackend,
    cursor_walk,
    field,
    id_field,
    items_of,
    parse_time,
)
from cstoolkit.errors import BackendError, ConfigError, ConflictError
from cstoolkit.http import Budget
from cstoolkit.model import Group, Role, Ticket, bare_id, now, qualify
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    CONFLICT_CHECK,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    ApplyResult,
    Changes,
    CheckResult,
    NewTicket,
    Page,
)
from cstoolkit_zendesk.mapping import Mapper
from cstoolkit_zendesk.records import ZendeskRecords
from cstoolkit_zendesk.settings import PLAN_LIMITS, ZendeskSettings, zendesk_auth
from cstoolkit_zendesk.writes import ZendeskWrites

log = logging.getLogger("cstoolkit_zendesk")

CURSOR_PATH = "/api/v2/incremental/tickets/cursor.json"
EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
CURSOR_GET = f"GET {CURSOR_PATH}"
EVENTS_GET = f"GET {EVENTS_PATH}"
INCREMENTAL_PREFIX = "/api/v2/incremental/"
SIDELOADS = "metric_sets,users,groups,organizations"
DEFAULT_START = 946684800  # 2000-01-01T00:00:00Z: before any Zendesk account existed
CURSOR_VERSION = 1

_ROLE_CACHE_MAX = 50_000  # user roles remembered (agents always are)


class _Cursor:
    """What resumes a pull: the ticket export's position and the event export's."""

    def __init__(self, start: int, after: str | None = None, ev_start: int | None = None) -> None:
        self.after = after
        self.start = start
        self.ev_start = start if ev_start is None else ev_start
        self.ev_skip: list[str] = []

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "tickets": {"after_cursor": self.after, "start_time": self.start},
                "events": {"start_time": self.ev_start, "skip": self.ev_skip},
            },
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, text: str | None, default_start: int) -> _Cursor:
        cur = cls(default_start)
        if not text:
            return cur
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError("version")
            cur.after = data["tickets"].get("after_cursor")
            cur.start = int(data["tickets"]["start_time"])
            cur.ev_start = int(data["events"]["start_time"])
            cur.ev_skip = [str(i) for i in data["events"].get("skip") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("unreadable zendesk cursor; starting again from the beginning")
            return cls(default_start)
        return cur


class ZendeskBackend(ZendeskRecords, ZendeskWrites, HttpBackend[ZendeskSettings]):
    name: ClassVar[str] = "zendesk"
    description: ClassVar[str] = (
        "Zendesk Support: cursor-based incremental export, ticket events, safe updates."
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE, CONFLICT_CHECK}
    )
    remember_markers: ClassVar[bool] = False  # the marker travels as the ticket's external_id

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        opts = self.options
        if not self.base_url:
            raise ConfigError(f"{self.label}: set subdomain (or base_url)")
        if not (opts.oauth_token or (opts.email and opts.token)):
            raise ConfigError(f"{self.label}: set email and token, or oauth_token")
        self.page_size = opts.page_size
        self.start = DEFAULT_START
        self.mapper = Mapper(self)
        self.plan_field = self.mapper.plan_field
        self.filters = {
            field: set(values)
            for field, values in self.filter_values(
                {"brand": "brand_id", "group": "group_id"}, "Zendesk"
            ).items()
        }
        self._agents: set[str] = set()  # every agent/admin seen (few; saved in the state)
        self._requesters: dict[str, None] = {}  # end-users seen, oldest first (bounded)
        self._unresolvable: set[str] = set()
        self._scope: dict[str, bool] = {}  # ticket id -> passes the filters (this run)
        self._agents_saved: set[str] | None = None

    # -- HTTP ----------------------------------------------------------------------------------

    def api_base_url(self) -> str | None:
        opts = self.options
        if opts.base_url:
            return opts.base_url
        return f"https://{opts.subdomain}.zendesk.com" if opts.subdomain else None

    def http_auth(self) -> HttpAuth:
        return zendesk_auth(self.options.email, self.options.token, self.options.oauth_token)

    def http_extra(self) -> dict[str, Any]:
        opts = self.options
        export_rpm = opts.export_requests_per_minute or (30 if opts.high_volume else 10)
        rpm = opts.requests_per_minute or PLAN_LIMITS.get(opts.plan, 200)
        return {
            "requests_per_minute": float(rpm),
            "budgets": [Budget("incremental export", float(export_rpm), INCREMENTAL_PREFIX)],
        }

    def check(self) -> CheckResult:
        def describe(data: Mapping[str, Any]) -> str | None:
            user = data.get("user") or {}
            if not user.get("id"):
                return None
            return f"authenticated as user {user['id']} ({user.get('role')})"

        return self.live_check("/api/v2/users/me.json", describe)

    # -- pull ----------------------------------------------------------------------------------

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        start = self.start if since is None else max(0, int(since.timestamp()))
        if full or since is not None or not cursor:
            cur = _Cursor(start)
        else:
            cur = _Cursor.load(cursor, start)
        self._scope.clear()
        self._load_agents()
        yield from self._pull_tickets(cur)
        if self.options.events:
            yield from self._pull_events(cur)
        self._save_agents()

    def _pull_tickets(self, cur: _Cursor) -> Iterator[Page]:
        def fetch(after: str | None) -> CursorPage[Any, str]:
            params: dict[str, Any] = {"include": SIDELOADS, "per_page": self.page_size}
            if after:
                params["cursor"] = after
            else:
                # Zendesk answers 400 StartTimeTooRecent for the last minute.
                params["start_time"] = min(cur.start, int(now().timestamp()) - 61)
            data = self.http.get_json(CURSOR_PATH, params=params)
            tickets = items_of(data, "tickets", self.label, CURSOR_GET, required=True)
            nxt = data.get("after_cursor")
            return CursorPage(
                tickets, str(nxt) if nxt else None, data.get("end_of_stream") is True, data
            )

        guard = self.guard(CURSOR_GET, "after_cursor")
        for step in cursor_walk(fetch, guard, start=cur.after):
            page = self._ticket_page(step.data, step.items)
            if step.next:
                cur.after = step.next
            page.cursor = cur.dump()
            yield page

    def _ticket_page(self, data: Mapping[str, Any], tickets: list[Any]) -> Page:
        # The hot path of a large sync: plain dict checks (isinstance(x, Mapping) is an ABC
        # check, ten times slower) and no copies of the decoded JSON, which nobody else holds.
        page = Page()
        metrics = {
            str(m.get("ticket_id")): m
            for m in _sideload(data, "metric_sets", self.label)
            if type(m) is dict
        }
        orgs = {
            str(o.get("id")): o
            for o in _sideload(data, "organizations", self.label)
            if type(o) is dict
        }
        people = page.people
        for user in _sideload(data, "users", self.label):
            if type(user) is dict and user.get("id") is not None:
                people.append(self._person_of(user, orgs, CURSOR_GET))
        for group in _sideload(data, "groups", self.label):
            if type(group) is dict and group.get("id") is not None:
                page.groups.append(
                    Group(
                        id=qualify(self.instance, group["id"]),
                        instance=self.instance,
                        external_id=str(group["id"]),
                        name=str(group.get("name") or group["id"]),
                        raw=group,
                    )
                )
        append = page.tickets.append
        for raw in tickets:
            try:
                if type(raw) is not dict:
                    raise TypeError("not an object")
                ext = id_field(raw)
                if raw.get("status") == "deleted":
                    page.deleted.append(ext)
                    continue
                if self.filters and not self._in_scope(raw):
                    continue
                append(self._ticket(raw, metrics.get(ext)))
            except MAPPING_ERRORS as exc:
                raise self.malformed(exc, CURSOR_GET, "ticket", raw) from None
        return page

    # -- events --------------------------------------------------------------------------------

    def _pull_events(self, cur: _Cursor) -> Iterator[Page]:
        too_recent = int(now().timestamp()) - 60
        if cur.ev_start > too_recent:
            return  # Zendesk leaves the last minute out; nothing can be new yet
        guard = self.guard(EVENTS_GET, "start_time")
        while True:
            start = cur.ev_start
            guard.position((start, len(cur.ev_skip)))
            data = self.http.get_json(
                EVENTS_PATH,
                params={
                    "start_time": start,
                    "include": "comment_events",
                    "per_page": self.page_size,
                },
            )
            items = items_of(data, "ticket_events", self.label, EVENTS_GET, required=True)
            events = [e for e in items if isinstance(e, Mapping)]
            stamps = {id(e): self._event_stamp(e) for e in events}
            skip = set(cur.ev_skip)
            fresh = [e for e in events if str(e.get("id")) not in skip]
            page = Page()
            self._event_page(fresh, page)
            try:
                end_time = field(data, "end_time", (int, float), required=False)
            except FieldError as exc:
                raise self.malformed(exc, EVENTS_GET, "page", data) from None
            end = int(end_time) if end_time is not None else max(stamps.values(), default=start)
            end = max(end, start)
            done = data.get("end_of_stream") is True
            if done and self.options.events_overlap:
                # Resume a little earlier next run: events written late inside the last
                # seconds are picked up; the ones already stored are skipped by id.
                next_start = max(start, end - self.options.events_overlap)
            else:
                next_start = end
            keep = {str(i) for i in cur.ev_skip} if next_start == start else set()
            keep.update(str(e.get("id")) for e in events if stamps[id(e)] >= next_start)
            if not done and next_start == start and not fresh:
                raise BackendError(
                    f"{self.label}: {EVENTS_GET}: more than {self.page_size} events share "
                    f"the second {start}; the time-based export cannot page past it"
                )
            cur.ev_start = next_start
            cur.ev_skip = sorted(keep)
            page.cursor = cur.dump()
            yield page
            if done:
                return

    def _event_stamp(self, event: Mapping[str, Any]) -> int:
        """An event's ``timestamp`` (unix seconds; 0 when absent)."""
        value = event.get("timestamp")
        try:
            if value is None:
                return 0
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise FieldError("timestamp", f"expected unix seconds, got {value!r:.40}")
            try:
                return int(float(value))
            except (ValueError, OverflowError):
                raise FieldError("timestamp", f"expected unix seconds, got {value!r:.40}") from None
        except FieldError as exc:
            raise self.malformed(exc, EVENTS_GET, "event", event) from None

    def _event_page(self, audits: list[Mapping[str, Any]], page: Page) -> None:
        if self.filters:
            audits = self._scoped_audits(audits)
        authors = {
            str(child.get("author_id"))
            for audit in audits
            for child in _children(audit)
            if child.get("author_id") is not None
        }
        authors.update(str(a.get("updater_id")) for a in audits if a.get("updater_id") is not None)
        self._learn_roles(authors, page)
        for audit in audits:
            try:
                page.events.extend(self._events_of(audit))
            except MAPPING_ERRORS as exc:
                raise self.malformed(exc, EVENTS_GET, "event", audit) from None

    # -- filters -------------------------------------------------------------------------------

    def _in_scope(self, raw: Mapping[str, Any]) -> bool:
        keep = all(str(raw.get(field)) in wanted for field, wanted in self.filters.items())
        if len(self._scope) >= _ROLE_CACHE_MAX:
            self._scope.clear()
        self._scope[str(raw.get("id"))] = keep
        return keep

    def _scoped_audits(self, audits: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Keep events of tickets that pass the filters (unknown tickets are looked up)."""
        unknown = sorted({str(a.get("ticket_id")) for a in audits} - set(self._scope))
        for i in range(0, len(unknown), 100):
            chunk = unknown[i : i + 100]
            path = "/api/v2/tickets/show_many.json"
            data = self.http.get_json(path, params={"ids": ",".join(chunk)})
            for raw in items_of(data, "tickets", self.label, f"GET {path}"):
                if isinstance(raw, Mapping):
                    self._in_scope(raw)
            for missing in chunk:
                self._scope.setdefault(missing, False)  # deleted since: nothing to attach to
        return [a for a in audits if self._scope.get(str(a.get("ticket_id")))]

    # -- author roles --------------------------------------------------------------------------

    def _remember_role(self, user_id: str, role: Role) -> None:
        if role is Role.AGENT:
            self._agents.add(user_id)
            self._requesters.pop(user_id, None)
            return
        self._agents.discard(user_id)
        if user_id in self._requesters:
            return
        if len(self._requesters) >= _ROLE_CACHE_MAX:
            for key in list(itertools.islice(self._requesters, _ROLE_CACHE_MAX // 10)):
                del self._requesters[key]
        self._requesters[user_id] = None

    def _load_agents(self) -> None:
        saved = self.state.get("agent_ids", []) if self.state is not None else []
        self._agents_saved = {str(a) for a in saved or []}
        for agent in self._agents_saved:
            self._agents.add(agent)

    def _save_agents(self) -> None:
        if self.state is None or self._agents_saved is None:
            return
        agents = set(self._agents)
        if agents != self._agents_saved:
            self.state.set("agent_ids", sorted(agents))
            self._agents_saved = agents

    def _learn_roles(self, authors: set[str], page: Page) -> None:
        unknown = sorted(
            a
            for a in authors
            if a not in self._agents
            and a not in self._requesters
            and a != "-1"
            and a not in self._unresolvable
        )
        if not unknown or not self.options.resolve_authors:
            return
        for i in range(0, len(unknown), 100):
            chunk = unknown[i : i + 100]
            path = "/api/v2/users/show_many.json"
            data = self.http.get_json(
                path, params={"ids": ",".join(chunk), "include": "organizations"}
            )
            where = f"GET {path}"
            orgs = {
                str(o.get("id")): o
                for o in items_of(data, "organizations", self.label, where)
                if type(o) is dict
            }
            for user in items_of(data, "users", self.label, where):
                if type(user) is dict and user.get("id") is not None:
                    page.people.append(self._person_of(user, orgs, where))
            self._unresolvable.update(
                a for a in chunk if a not in self._agents and a not in self._requesters
            )

    # -- writes --------------------------------------------------------------------------------

    def _get_ticket(self, ext: str) -> dict[str, Any]:
        data = self.http.get_json(f"/api/v2/tickets/{ext}.json")
        ticket = (data or {}).get("ticket") if isinstance(data, Mapping) else None
        if not isinstance(ticket, dict):
            raise BackendError(f"{self.label}: GET /api/v2/tickets/{ext}.json: no ticket")
        return ticket

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        """Write only what differs (one GET, then PUTs); a stale plan raises ConflictError.

        With ``changes.expected_updated_at`` the PUT carries ``safe_update`` and the ticket's
        ``updated_stamp``, so Zendesk itself refuses the write if the ticket changed between our
        read and the write (a real compare-and-set). Zendesk takes one comment per update, so
        several comments become consecutive safe updates.
        """
        from cstoolkit.http import HttpError

        self.writable()
        ext = bare_id(external_id)
        current = self._get_ticket(ext)
        expected = changes.expected_updated_at
        current_updated = self.check_unchanged(ext, current.get("updated_at"), expected)
        try:
            body = self._diff(current, changes)
        except ValueError as exc:
            raise BackendError(f"{self.label}: ticket {ext}: {exc}") from None
        comments = list(changes.comments)
        if not body and not comments:
            return ApplyResult(ext, False, current_updated, "no change")
        stamp = current.get("updated_at")
        updated = current_updated
        requester = (
            self.requester_of(current, "requester_id", ext)
            if any(c.from_requester for c in comments)
            else None
        )
        rounds = max(1, len(comments))
        for n in range(rounds):
            payload: dict[str, Any] = dict(body) if n == 0 else {}
            if n < len(comments):
                payload["comment"] = self._comment(comments[n], requester)
            if expected is not None:
                payload["safe_update"] = True
                payload["updated_stamp"] = stamp
            try:
                data = self.http.json(
                    "PUT", f"/api/v2/tickets/{ext}.json", json={"ticket": payload}
                )
            except HttpError as exc:
                if exc.status in (409, 422) and "UpdateConflict" in exc.body + str(exc):
                    raise ConflictError(
                        f"{self.label}: ticket {ext} changed upstream during the update "
                        "(safe_update refused it); not overwritten"
                    ) from None
                raise
            ticket = (data or {}).get("ticket") or {}
            stamp = ticket.get("updated_at") or stamp
            updated = parse_time(stamp) or updated
        return ApplyResult(ext, True, updated)

    def fetch(self, external_id: str) -> Ticket | None:
        """Re-read one ticket (None if Zendesk no longer has it)."""
        from cstoolkit.http import HttpError

        try:
            raw = self._get_ticket(bare_id(external_id))
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise
        if raw.get("status") == "deleted":
            return None
        try:
            return self._ticket(raw, None)
        except MAPPING_ERRORS as exc:
            raise self.malformed(exc, "GET /api/v2/tickets/{id}.json", "ticket", raw) from None

    def create(self, ticket: NewTicket) -> str:
        """POST a ticket whose ``external_id`` is the marker (a crash leaves it findable)."""
        self.writable()
        payload = self._new_ticket(ticket)

        def post() -> str:
            data = self.http.json("POST", "/api/v2/tickets.json", json={"ticket": payload})
            created = (data or {}).get("ticket") or {}
            if created.get("id") is None:
                raise BackendError(
                    f"{self.label}: POST /api/v2/tickets.json: no ticket id returned"
                )
            return str(created["id"])

        return self.create_once(ticket.marker, post)

    def find_by_marker(self, marker: str) -> str | None:
        data = self.http.get_json("/api/v2/tickets.json", params={"external_id": marker})
        found = [
            t
            for t in items_of(data, "tickets", self.label, "GET /api/v2/tickets.json")
            if isinstance(t, Mapping) and t.get("external_id") == marker and t.get("id")
        ]
        if not found:
            return None
        return str(min(found, key=lambda t: int(t["id"]))["id"])


def _sideload(data: Mapping[str, Any], key: str, label: str) -> list[Any]:
    """A sideloaded list (users, groups, ...): missing is empty, another type malformed."""
    return items_of(data, key, label, CURSOR_GET)


def _children(audit: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = audit.get("child_events")
    return [c for c in value if isinstance(c, Mapping)] if isinstance(value, list) else []


__all__ = ["PLAN_LIMITS", "ZendeskBackend", "ZendeskSettings"]
