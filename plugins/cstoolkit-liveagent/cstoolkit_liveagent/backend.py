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
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from cstoolkit.errors import BackendError, ConfigError, CstError
from cstoolkit.http import HttpStats, http_settings
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
    Backend,
    Changes,
    CheckResult,
    NewTicket,
    Page,
    Setting,
    merge_mapping,
)

if TYPE_CHECKING:
    from cstoolkit.http import HttpClient

TICKETS_PATH = "/tickets"
CURSOR_VERSION = 1
DEFAULT_SINCE = "2000-01-01 00:00:00"
MARKERS_KEY = "markers"
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


class LiveAgentBackend(Backend):
    name: ClassVar[str] = "liveagent"
    description: ClassVar[str] = "LiveAgent API v3: date_changed sync, messages as events."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("api_key", required=True, secret=True, help="API v3 key (sent as apikey)."),
        Setting("per_page", "int", default=100, help="Tickets per page (_perPage)."),
        Setting("overlap_seconds", "int", default=300, help="Seconds re-read on the next run."),
        Setting("timezone", default="UTC", help="Time zone of the account's API dates (IANA)."),
        Setting("messages", "bool", default=True, help="Pull messages as events."),
        Setting(
            "priority_tag_prefix",
            default="priority-",
            help="LiveAgent has no priority: a tag PREFIX+low|normal|high|urgent carries it.",
        ),
        Setting("department_id", help="Department of created tickets."),
        Setting("recipient", help="Mailbox address created tickets are sent to."),
        *http_settings(),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        super().__init__(instance, config, state)
        self.label = f"liveagent instance {instance!r}"
        cfg = self.config
        if not cfg.get("base_url"):
            raise ConfigError(f"backends.{instance}: set base_url (https://ACCOUNT.ladesk.com)")
        if not cfg.get("api_key"):
            raise ConfigError(f"backends.{instance}: set api_key")
        try:
            self.tz = ZoneInfo(str(cfg.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"backends.{instance}.timezone is not an IANA zone") from None
        self.per_page = int(cfg.get("per_page") or 100)
        self.overlap = max(0, int(cfg.get("overlap_seconds") or 0))
        self.want_messages = cfg.get("messages", True) is not False
        self.prefix = str(cfg.get("priority_tag_prefix") or "priority-")
        table = cfg.get("mapping") or {}
        if not isinstance(table, Mapping):
            raise ConfigError(f"backends.{instance}.mapping must be a table")
        self.status_map = merge_mapping(
            DEFAULT_STATUS_MAP,
            table.get("statuses"),
            Status,
            "mapping.statuses",
            f"backends.{instance}",
        )
        self.channel_map = merge_mapping(
            DEFAULT_CHANNEL_MAP,
            table.get("channels"),
            Channel,
            "mapping.channels",
            f"backends.{instance}",
        )
        self.departments = self._filters(cfg.get("filters"))
        self.stats = HttpStats()
        self._http: HttpClient | None = None
        self._agents: set[str] | None = None

    def __repr__(self) -> str:
        return f"<LiveAgentBackend {self.instance} {self.config.get('base_url')}>"

    def _filters(self, value: Any) -> list[str]:
        if not value:
            return []
        if not isinstance(value, Mapping):
            raise ConfigError(f"backends.{self.instance}.filters must be a table")
        out: list[str] = []
        for key, wanted in value.items():
            if key != "group":
                raise ConfigError(
                    f"backends.{self.instance}.filters.{key}: LiveAgent filters by group "
                    "(department id) only"
                )
            out.extend(str(v) for v in (wanted if isinstance(wanted, list) else [wanted]))
        if len(out) > 1:
            raise ConfigError(
                f"backends.{self.instance}.filters.group: one department per instance"
            )
        return out

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from cstoolkit.http import HttpClient, check_base_url

            base = check_base_url(str(self.config["base_url"]), self.label)
            if not base.endswith("/api/v3"):
                base += "/api/v3"
            key = str(self.config["api_key"])
            self._http = HttpClient.from_settings(
                {**self.config, "base_url": base},
                label=self.label,
                default_base_url=None,
                headers={"apikey": key},
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
            self.http.get_json("/ping")
        except CstError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, "the API key is accepted (/ping)")

    # -- time ----------------------------------------------------------------------------------

    def _utc(self, text: Any) -> datetime | None:
        if text in (None, ""):
            return None
        local = datetime.strptime(str(text), FMT).replace(tzinfo=self.tz)
        return local.astimezone(UTC)

    def _local(self, value: datetime) -> str:
        return value.astimezone(self.tz).strftime(FMT)

    # -- pull ----------------------------------------------------------------------------------

    def _load(self, cursor: str) -> tuple[str, int, str | None]:
        try:
            data = json.loads(cursor)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                raise ValueError("version")
            since = str(data["since"])
            datetime.strptime(since, FMT)
            page = int(data.get("page") or 1)
            high = data.get("high")
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(
                f"{self.label}: unreadable cursor ({type(exc).__name__}); "
                "run `cst sync pull --full`"
            ) from None
        return since, page, (str(high) if high else None)

    @staticmethod
    def _dump(since: str, page: int, high: str | None) -> str:
        return json.dumps(
            {"v": CURSOR_VERSION, "since": since, "page": page, "high": high},
            separators=(",", ":"),
        )

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        high: str | None
        if since is not None:
            bound, page_no, high = self._local(since), 1, None
        elif full or not cursor:
            bound, page_no, high = DEFAULT_SINCE, 1, None
        else:
            bound, page_no, high = self._load(cursor)
        seen: set[tuple[str, str]] = set()
        while True:
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
            if not items:
                nxt = bound
                newest = self._utc(high) if high else None
                if newest is not None:
                    nxt = self._local(newest - timedelta(seconds=self.overlap))
                yield Page(cursor=self._dump(nxt, 1, None))
                return
            page = Page()
            fresh = []
            for raw in items:
                key = (str(raw["id"]), str(raw["date_changed"]))
                if key not in seen:
                    seen.add(key)
                    fresh.append(raw)
                if high is None or key[1] > high:
                    high = key[1]
            self._fill(fresh, page)
            last = str(items[-1]["date_changed"])
            if last > bound:
                bound, page_no = last, 1
            else:
                page_no += 1
            page.cursor = self._dump(bound, page_no, high)
            yield page

    def _list(self, data: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(data, list):
            raise BackendError(f"{self.label}: GET {path}: malformed page, expected a JSON array")
        for n, item in enumerate(data):
            if not isinstance(item, dict) or item.get("id") is None:
                raise BackendError(f"{self.label}: GET {path}: [{n}] has no id")
            if path == TICKETS_PATH:
                try:
                    datetime.strptime(str(item.get("date_changed")), FMT)
                except ValueError:
                    raise BackendError(
                        f"{self.label}: GET {path}: [{n}].date_changed is not YYYY-MM-DD HH:MM:SS"
                    ) from None
        return data

    def _agent_ids(self) -> set[str]:
        if self._agents is None:
            agents: set[str] = set()
            page = 1
            while True:
                data = self.http.get_json("/agents", params={"_page": page, "_perPage": 100})
                items = self._list(data, "/agents")
                agents.update(str(a["id"]) for a in items)
                if len(items) < 100:
                    break
                page += 1
            self._agents = agents
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
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise BackendError(
                    f"{self.label}: GET {TICKETS_PATH}: ticket {ext}: malformed ({exc})"
                ) from None
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
        path = f"/tickets/{ext}/messages"
        out: list[Mapping[str, Any]] = []
        page = 1
        while True:
            data = self.http.get_json(path, params={"_page": page, "_perPage": 100})
            items = self._list(data, path)
            out.extend(items)
            if len(items) < 100:
                return out
            page += 1

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        ext = str(raw["id"])
        created = self._utc(raw.get("date_created"))
        if created is None:
            raise ValueError("no date_created")
        updated = self._utc(raw.get("date_changed")) or created
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
            solved_at=self._utc(raw.get("date_resolved")) if status.is_resolved else None,
            raw=raw,
        )

    def _events(self, ticket: Ticket, groups: list[Mapping[str, Any]]) -> list[Event]:
        events = [
            Event(
                id=f"{self.instance}:ticket-{ticket.external_id}-created",
                ticket_id=ticket.id,
                kind=EventKind.CREATED,
                at=ticket.created_at,
                author_id=ticket.requester_id,
                author_role=Role.REQUESTER if ticket.requester_id else None,
            )
        ]
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
        from cstoolkit.http import HttpError

        path = f"/tickets/{ext}"
        try:
            data = self.http.get_json(path)
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("id") is None:
            raise BackendError(f"{self.label}: GET {path}: malformed ticket (no id)")
        return data

    def fetch(self, external_id: str) -> Ticket | None:
        raw = self._get(bare_id(external_id))
        if raw is None or str(raw.get("status")) in GONE:
            return None
        try:
            return self._ticket(raw)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackendError(f"{self.label}: ticket {external_id}: {exc}") from None

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        ext = bare_id(external_id)
        current = self._get(ext)
        if current is None:
            raise BackendError(f"{self.label}: ticket {ext} does not exist")
        body: dict[str, Any] = {}
        if changes.status is not None:
            want = STATUS_TO_VENDOR.get(str(changes.status))
            if want is None:
                raise BackendError(f"{self.label}: ticket {ext}: unknown status")
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
        for comment in changes.comments:
            self.http.json(
                "POST",
                f"/tickets/{ext}/messages",
                json={"message": comment.body, "type": "M" if comment.public else "N"},
            )
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
        if not ticket.requester_email:
            raise BackendError(f"{self.label}: cannot create: LiveAgent needs a requester email")
        tags = list(ticket.tags)
        if ticket.priority and ticket.priority != "normal":
            tags.append(self.prefix + str(ticket.priority))
        body: dict[str, Any] = {
            "useridentifier": ticket.requester_email,
            "subject": ticket.subject,
            "message": ticket.description or ticket.subject,
            "departmentid": self.config.get("department_id")
            or (self.departments[0] if self.departments else "default"),
            "status": STATUS_TO_VENDOR.get(str(ticket.status), "N"),
            "tags": tags,
        }
        if self.config.get("recipient"):
            body["recipient"] = self.config["recipient"]
        data = self.http.json("POST", TICKETS_PATH, json=body)
        if not isinstance(data, Mapping) or data.get("id") is None:
            raise BackendError(f"{self.label}: POST {TICKETS_PATH}: no ticket id returned")
        ext = str(data["id"])
        if ticket.marker and self.state is not None:
            markers = dict(self.state.get(MARKERS_KEY, {}) or {})
            markers[ticket.marker] = ext
            self.state.set(MARKERS_KEY, markers)
        return ext

    def find_by_marker(self, marker: str) -> str | None:
        """Markers are remembered in the instance state only (see docs: a crash between the
        create and saving the marker can leave a duplicate)."""
        known = (self.state.get(MARKERS_KEY, {}) or {}) if self.state is not None else {}
        if marker in known and self._get(str(known[marker])) is not None:
            return str(known[marker])
        return None


__all__ = ["LiveAgentBackend"]
