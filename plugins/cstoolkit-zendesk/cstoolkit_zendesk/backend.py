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
from typing import TYPE_CHECKING, Any, ClassVar

from cstoolkit.errors import BackendError, CapabilityError, ConfigError, ConflictError, CstError
from cstoolkit.http import Budget, HttpStats, http_settings
from cstoolkit.model import (
    Channel,
    Event,
    EventKind,
    Group,
    Person,
    Priority,
    Role,
    Ticket,
    bare_id,
    now,
    qualify,
)
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    CONFLICT_CHECK,
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
)
from cstoolkit_zendesk.mapping import Mapper, fast_time, parse_time, vendor_id, z

if TYPE_CHECKING:
    from cstoolkit.http import HttpClient

log = logging.getLogger("cstoolkit_zendesk")

CURSOR_PATH = "/api/v2/incremental/tickets/cursor.json"
EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
INCREMENTAL_PREFIX = "/api/v2/incremental/"
SIDELOADS = "metric_sets,users,groups,organizations"
DEFAULT_START = 946684800  # 2000-01-01T00:00:00Z: before any Zendesk account existed
CURSOR_VERSION = 1

#: Account-wide limits per minute by plan (Zendesk's published figures).
PLAN_LIMITS: dict[str, int] = {
    "team": 200,
    "growth": 400,
    "professional": 400,
    "enterprise": 700,
    "enterprise_plus": 2500,
    "high_volume": 2500,
}

_ROLE_CACHE_MAX = 50_000  # user roles remembered (agents always are)
_CHANGE_FIELDS = {
    "status": EventKind.STATUS_CHANGE,
    "priority": EventKind.PRIORITY_CHANGE,
    "assignee_id": EventKind.ASSIGNMENT,
    "group_id": EventKind.GROUP_CHANGE,
    "tags": EventKind.TAGS_CHANGE,
}


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


class ZendeskBackend(Backend):
    name: ClassVar[str] = "zendesk"
    description: ClassVar[str] = (
        "Zendesk Support: cursor-based incremental export, ticket events, safe updates."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("subdomain", help="Account name: acme for https://acme.zendesk.com."),
        Setting("email", help="Agent email for API-token authentication."),
        Setting("token", secret=True, help="API token (with email): Basic {email}/token:{token}."),
        Setting("oauth_token", secret=True, help="OAuth access token (instead of email+token)."),
        Setting("page_size", "int", default=1000, help="Items per export page (1-1000)."),
        Setting(
            "plan",
            default="team",
            choices=tuple(PLAN_LIMITS),
            help="Zendesk plan; sets the account limit unless requests_per_minute is given.",
        ),
        Setting(
            "high_volume",
            "bool",
            default=False,
            help="The High Volume API add-on: incremental exports may use 30 requests/minute.",
        ),
        Setting(
            "export_requests_per_minute",
            "float",
            help="Budget of the incremental export endpoints (default 10, 30 with high_volume).",
        ),
        Setting("events", "bool", default=True, help="Pull ticket events (comments, changes)."),
        Setting(
            "events_overlap",
            "int",
            default=60,
            help="Seconds of the event export re-read on the next run (repeats are skipped).",
        ),
        Setting(
            "resolve_authors",
            "bool",
            default=True,
            help="Look up unknown comment authors (users/show_many) to tell agents from "
            "requesters.",
        ),
        *http_settings(budget_share=0.8),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE, CONFLICT_CHECK}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        self.label = f"zendesk instance {instance!r}"
        cfg = self.config
        self.base_url = cfg.get("base_url") or (
            f"https://{cfg['subdomain']}.zendesk.com" if cfg.get("subdomain") else None
        )
        if not self.base_url:
            raise ConfigError(f"{self.label}: set subdomain (or base_url)")
        if not (cfg.get("oauth_token") or (cfg.get("email") and cfg.get("token"))):
            raise ConfigError(f"{self.label}: set email and token, or oauth_token")
        self.page_size = int(cfg.get("page_size") or 1000)
        if not 1 <= self.page_size <= 1000:
            raise ConfigError(f"{self.label}: page_size must be 1-1000")
        self.start = DEFAULT_START
        self.mapper = Mapper(cfg, self.label)
        self.plan_field = self.mapper.plan_field
        self.filters = self._filters(cfg.get("filters"))
        self.events_enabled = cfg.get("events", True) is not False
        self.events_overlap = max(0, int(cfg.get("events_overlap") or 0))
        self.resolve_authors = cfg.get("resolve_authors", True) is not False
        self.stats = HttpStats()
        self._http: HttpClient | None = None
        self._agents: set[str] = set()  # every agent/admin seen (few; saved in the state)
        self._requesters: dict[str, None] = {}  # end-users seen, oldest first (bounded)
        self._unresolvable: set[str] = set()
        self._scope: dict[str, bool] = {}  # ticket id -> passes the filters (this run)
        self._agents_saved: set[str] | None = None

    def __repr__(self) -> str:
        return f"<ZendeskBackend {self.instance} {self.base_url}>"

    # -- HTTP ----------------------------------------------------------------------------------

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from cstoolkit.http import HttpClient

            cfg = self.config
            headers: dict[str, str] = {}
            auth: Any = None
            if cfg.get("oauth_token"):
                headers["Authorization"] = f"Bearer {cfg['oauth_token']}"
                hint = "the oauth_token setting"
            else:
                auth = (f"{cfg['email']}/token", str(cfg["token"]))
                hint = "the email and token settings"
            export_rpm = cfg.get("export_requests_per_minute") or (
                30 if cfg.get("high_volume") else 10
            )
            rpm = cfg.get("requests_per_minute") or PLAN_LIMITS.get(
                str(cfg.get("plan") or "team"), 200
            )
            self._http = HttpClient.from_settings(
                cfg,
                label=self.label,
                default_base_url=self.base_url,
                auth=auth,
                headers=headers,
                secrets=[cfg.get("token"), cfg.get("oauth_token")],
                requests_per_minute=float(rpm),
                budgets=[Budget("incremental export", float(export_rpm), INCREMENTAL_PREFIX)],
                stats=self.stats,
                auth_hint=hint,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def check(self) -> CheckResult:
        try:
            data = self.http.get_json("/api/v2/users/me.json")
        except CstError as exc:
            return CheckResult(False, str(exc))
        user = (data or {}).get("user") or {}
        if not user.get("id"):
            return CheckResult(False, f"{self.base_url}: answered, but as an anonymous user")
        return CheckResult(
            True, f"{self.base_url}: authenticated as user {user['id']} ({user.get('role')})"
        )

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
        if self.events_enabled:
            yield from self._pull_events(cur)
        self._save_agents()

    def _pull_tickets(self, cur: _Cursor) -> Iterator[Page]:
        while True:
            params: dict[str, Any] = {"include": SIDELOADS, "per_page": self.page_size}
            if cur.after:
                params["cursor"] = cur.after
            else:
                # Zendesk answers 400 StartTimeTooRecent for the last minute.
                params["start_time"] = min(cur.start, int(now().timestamp()) - 61)
            data = self.http.get_json(CURSOR_PATH, params=params)
            tickets = _list(data, "tickets", CURSOR_PATH, self.label, required=True)
            page = self._ticket_page(data, tickets)
            after = data.get("after_cursor")
            if after:
                cur.after = str(after)
            page.cursor = cur.dump()
            yield page
            if data.get("end_of_stream") is True:
                return
            if not after:
                raise BackendError(
                    f"{self.label}: GET {CURSOR_PATH}: a page without after_cursor before "
                    "end_of_stream; cannot continue without losing tickets"
                )

    def _ticket_page(self, data: Mapping[str, Any], tickets: list[Any]) -> Page:
        # The hot path of a large sync: plain dict checks (isinstance(x, Mapping) is an ABC
        # check, ten times slower) and no copies of the decoded JSON, which nobody else holds.
        page = Page()
        metrics = {
            str(m.get("ticket_id")): m for m in data.get("metric_sets") or [] if type(m) is dict
        }
        orgs = {str(o.get("id")): o for o in data.get("organizations") or [] if type(o) is dict}
        people = page.people
        for user in data.get("users") or []:
            if type(user) is dict and user.get("id") is not None:
                people.append(self._person(user, orgs))
        for group in data.get("groups") or []:
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
            if type(raw) is not dict or raw.get("id") is None:
                raise BackendError(f"{self.label}: GET {CURSOR_PATH}: a ticket without an id")
            if raw.get("status") == "deleted":
                page.deleted.append(str(raw["id"]))
                continue
            if self.filters and not self._in_scope(raw):
                continue
            try:
                append(self._ticket(raw, metrics.get(str(raw["id"]))))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise BackendError(
                    f"{self.label}: GET {CURSOR_PATH}: ticket {raw.get('id')}: {exc}"
                ) from None
        return page

    def _q(self, value: Any) -> str | None:
        return None if value is None or value == "" else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any], metric_set: dict[str, Any] | None) -> Ticket:
        get = raw.get
        ext = str(raw["id"])
        created = fast_time(raw["created_at"])
        stamp = get("updated_at")
        updated = fast_time(stamp) if stamp else created
        mapper = self.mapper
        status = mapper.ticket_status(raw)
        solved_at = None
        if metric_set is not None:
            if status.is_resolved and metric_set.get("solved_at"):
                solved_at = fast_time(metric_set["solved_at"])
            # Zendesk's own metrics, kept beside (never mixed into) cstoolkit's computation.
            raw["metric_set"] = metric_set
        via = get("via")
        channel = via.get("channel") if type(via) is dict else None
        fields = mapper.fields
        q = self._q
        return Ticket(
            id=f"{self.instance}:{ext}",
            instance=self.instance,
            external_id=ext,
            subject=str(get("subject") or get("raw_subject") or ""),
            description=str(get("description") or ""),
            status=status,
            priority=mapper.priority_enum.get(str(get("priority")), Priority.NORMAL),
            channel=mapper.channel_enum.get(str(channel), Channel.OTHER),
            requester_id=q(get("requester_id")),
            assignee_id=q(get("assignee_id")),
            group_id=q(get("group_id")),
            tags=[str(t) for t in get("tags") or ()],
            created_at=created,
            updated_at=updated if updated >= created else created,
            solved_at=solved_at,
            custom_fields={
                fields.get(str(f["id"]), str(f["id"])): f.get("value")
                for f in get("custom_fields") or ()
                if type(f) is dict and "id" in f
            },
            raw=raw,
        )

    def _person(self, user: dict[str, Any], orgs: Mapping[str, dict[str, Any]]) -> Person:
        get = user.get
        ext = str(user["id"])
        role = Role.REQUESTER if get("role") in (None, "end-user") else Role.AGENT
        self._remember_role(ext, role)
        org_id = get("organization_id")
        org = orgs.get(str(org_id)) if org_id is not None else None
        plan = organization = None
        if org is not None:
            organization = str(org.get("name") or org.get("id"))
            if self.plan_field:
                value = (org.get("organization_fields") or {}).get(self.plan_field)
                plan = None if value is None or value == "" else str(value)
        elif org_id is not None:
            organization = str(org_id)
        return Person(
            id=f"{self.instance}:{ext}",
            instance=self.instance,
            external_id=ext,
            role=role,
            name=str(get("name") or ""),
            email=get("email") or None,
            organization=organization,
            plan=plan,
            language=get("locale") or None,
            timezone=get("iana_time_zone") or get("time_zone") or None,
            groups=[],
            raw=user,
        )

    # -- events --------------------------------------------------------------------------------

    def _pull_events(self, cur: _Cursor) -> Iterator[Page]:
        too_recent = int(now().timestamp()) - 60
        if cur.ev_start > too_recent:
            return  # Zendesk leaves the last minute out; nothing can be new yet
        while True:
            start = cur.ev_start
            data = self.http.get_json(
                EVENTS_PATH,
                params={
                    "start_time": start,
                    "include": "comment_events",
                    "per_page": self.page_size,
                },
            )
            items = _list(data, "ticket_events", EVENTS_PATH, self.label, required=True)
            skip = set(cur.ev_skip)
            fresh = [e for e in items if isinstance(e, Mapping) and str(e.get("id")) not in skip]
            page = Page()
            self._event_page(fresh, page)
            end_time = data.get("end_time")
            stamps = [int(e.get("timestamp") or 0) for e in items if isinstance(e, Mapping)]
            end = int(end_time) if end_time is not None else max(stamps, default=start)
            end = max(end, start)
            done = data.get("end_of_stream") is True
            if done and self.events_overlap:
                # Resume a little earlier next run: events written late inside the last
                # seconds are picked up; the ones already stored are skipped by id.
                next_start = max(start, end - self.events_overlap)
            else:
                next_start = end
            keep = {str(i) for i in cur.ev_skip} if next_start == start else set()
            keep.update(
                str(e.get("id"))
                for e in items
                if isinstance(e, Mapping) and int(e.get("timestamp") or 0) >= next_start
            )
            if not done and next_start == start and not fresh:
                raise BackendError(
                    f"{self.label}: GET {EVENTS_PATH}: more than {self.page_size} events share "
                    f"the second {start}; the time-based export cannot page past it"
                )
            cur.ev_start = next_start
            cur.ev_skip = sorted(keep)
            page.cursor = cur.dump()
            yield page
            if done:
                return

    def _event_page(self, audits: list[Mapping[str, Any]], page: Page) -> None:
        if self.filters:
            audits = self._scoped_audits(audits)
        authors = {
            str(child.get("author_id"))
            for audit in audits
            for child in audit.get("child_events") or []
            if isinstance(child, Mapping) and child.get("author_id") is not None
        }
        authors.update(str(a.get("updater_id")) for a in audits if a.get("updater_id") is not None)
        self._learn_roles(authors, page)
        for audit in audits:
            try:
                page.events.extend(self._events_of(audit))
            except (ValueError, TypeError, KeyError) as exc:
                raise BackendError(
                    f"{self.label}: GET {EVENTS_PATH}: event {audit.get('id')}: {exc}"
                ) from None

    def _role(self, author: Any) -> Role | None:
        if author is None:
            return None
        if str(author) == "-1":
            return Role.SYSTEM
        key = str(author)
        if key in self._agents:
            return Role.AGENT
        return Role.REQUESTER if key in self._requesters else None

    def _events_of(self, audit: Mapping[str, Any]) -> list[Event]:
        ticket_id = qualify(self.instance, audit["ticket_id"])
        at = parse_time(audit.get("created_at")) or parse_time(int(audit["timestamp"]))
        assert at is not None
        updater = audit.get("updater_id")
        children = [c for c in audit.get("child_events") or [] if isinstance(c, Mapping)]
        creating = any(c.get("event_type") == "Create" for c in children)
        base = {"audit_id": audit.get("id"), "via": audit.get("via")}
        events: list[Event] = []
        created_done = False
        for child in children:
            kind = child.get("event_type")
            if kind == "Comment":
                author = child.get("author_id", updater)
                data = {**base, "comment_id": child.get("id")}
                if child.get("attachments"):
                    data["attachments"] = len(child["attachments"])
                event_kind = EventKind.COMMENT
                if creating and not created_done:
                    event_kind, created_done = EventKind.CREATED, True
                events.append(
                    Event(
                        id=qualify(self.instance, child["id"]),
                        ticket_id=ticket_id,
                        kind=event_kind,
                        at=parse_time(child.get("created_at")) or at,
                        author_id=self._q(author),
                        author_role=self._role(author),
                        public=bool(child.get("public", True)),
                        body=child.get("body") if child.get("body") is not None else None,
                        data=data,
                    )
                )
            elif kind == "Change":
                event = self._change_event(child, ticket_id, at, updater, base)
                if event is not None:
                    events.append(event)
        if creating and not created_done:
            events.append(
                Event(
                    id=qualify(self.instance, f"audit-{audit['id']}"),
                    ticket_id=ticket_id,
                    kind=EventKind.CREATED,
                    at=at,
                    author_id=self._q(updater),
                    author_role=self._role(updater),
                    data=dict(base),
                )
            )
        return events

    def _change_event(
        self,
        child: Mapping[str, Any],
        ticket_id: str,
        at: datetime,
        updater: Any,
        base: dict[str, Any],
    ) -> Event | None:
        # The export names the field either in ``field_name`` or as a key of the event itself.
        field = child.get("field_name")
        if field is None:
            field = next((f for f in _CHANGE_FIELDS if f in child), None)
        if field not in _CHANGE_FIELDS:
            return None
        value = child.get("value", child.get(str(field)))
        previous = child.get("previous_value")
        data = {**base, "vendor_old": previous, "vendor_new": value}
        old: str | None
        new: str | None
        if field == "status":
            old, new = self.mapper.status_value(previous), self.mapper.status_value(value)
        elif field == "priority":
            old, new = self.mapper.priority_value(previous), self.mapper.priority_value(value)
        elif field == "tags":
            old, new = _tags(previous), _tags(value)
        else:
            old, new = self._q(previous), self._q(value)
        return Event(
            id=qualify(self.instance, child["id"]),
            ticket_id=ticket_id,
            kind=_CHANGE_FIELDS[str(field)],
            at=at,
            author_id=self._q(updater),
            author_role=self._role(updater),
            old=old,
            new=new,
            data=data,
        )

    # -- filters -------------------------------------------------------------------------------

    def _filters(self, value: Any) -> dict[str, set[str]]:
        """``filters`` -> {"brand_id": {...}, "group_id": {...}} (Zendesk has no mailbox/queue)."""
        if not value:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.label}: filters must be a table")
        out: dict[str, set[str]] = {}
        for key, wanted in value.items():
            if key not in ("brand", "group"):
                raise ConfigError(
                    f"{self.label}: filters.{key}: Zendesk can filter by brand and group only"
                )
            values = wanted if isinstance(wanted, list) else [wanted]
            out[f"{key}_id"] = {bare_id(str(v)) for v in values}
        return out

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
            for raw in _list(data, "tickets", path, self.label):
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
        if not unknown or not self.resolve_authors:
            return
        for i in range(0, len(unknown), 100):
            chunk = unknown[i : i + 100]
            path = "/api/v2/users/show_many.json"
            data = self.http.get_json(
                path, params={"ids": ",".join(chunk), "include": "organizations"}
            )
            orgs = {
                str(o.get("id")): o
                for o in _list(data, "organizations", path, self.label)
                if type(o) is dict
            }
            for user in _list(data, "users", path, self.label):
                if type(user) is dict and user.get("id") is not None:
                    page.people.append(self._person(user, orgs))
            self._unresolvable.update(
                a for a in chunk if a not in self._agents and a not in self._requesters
            )

    # -- writes --------------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.config.get("read_only"):
            raise CapabilityError(f"{self.label} is read_only; nothing is written to it")

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

        self._writable()
        ext = bare_id(external_id)
        current = self._get_ticket(ext)
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
        comments = list(changes.comments)
        if not body and not comments:
            return ApplyResult(ext, False, current_updated, "no change")
        stamp = current.get("updated_at")
        updated = current_updated
        rounds = max(1, len(comments))
        for n in range(rounds):
            payload: dict[str, Any] = dict(body) if n == 0 else {}
            if n < len(comments):
                payload["comment"] = {"body": comments[n].body, "public": comments[n].public}
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
        return self._ticket(raw, None)

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

    def create(self, ticket: NewTicket) -> str:
        """POST a ticket whose ``external_id`` is the marker (a crash leaves it findable)."""
        self._writable()
        if ticket.marker:
            found = self.find_by_marker(ticket.marker)
            if found is not None:
                return found
        try:
            status = self.mapper.vendor_status(str(ticket.status))
            priority = self.mapper.vendor_priority(str(ticket.priority))
        except ValueError as exc:
            raise BackendError(f"{self.label}: cannot create: {exc}") from None
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
        try:
            data = self.http.json("POST", "/api/v2/tickets.json", json={"ticket": payload})
        except BackendError:
            # A timeout or 5xx leaves it unknown whether Zendesk created the ticket: look.
            if ticket.marker:
                found = self.find_by_marker(ticket.marker)
                if found is not None:
                    return found
            raise
        created = (data or {}).get("ticket") or {}
        if created.get("id") is None:
            raise BackendError(f"{self.label}: POST /api/v2/tickets.json: no ticket id returned")
        return str(created["id"])

    def find_by_marker(self, marker: str) -> str | None:
        data = self.http.get_json("/api/v2/tickets.json", params={"external_id": marker})
        found = [
            t
            for t in _list(data, "tickets", "/api/v2/tickets.json", self.label)
            if isinstance(t, Mapping) and t.get("external_id") == marker and t.get("id")
        ]
        if not found:
            return None
        return str(min(found, key=lambda t: int(t["id"]))["id"])


def _list(data: Any, key: str, path: str, label: str, *, required: bool = False) -> list[Any]:
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise BackendError(f"{label}: GET {path}: malformed page, expected a JSON object ({kind})")
    value = data.get(key)
    if value is None:
        if required:
            raise BackendError(f"{label}: GET {path}: malformed page, no {key!r} list")
        return []
    if not isinstance(value, list):
        raise BackendError(f"{label}: GET {path}: {key!r} is not a list")
    return value


def _tags(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


__all__ = ["PLAN_LIMITS", "ZendeskBackend"]
