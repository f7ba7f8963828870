"""The Jira Service Management (Cloud) backend.

* **Auth**: HTTP Basic with the account email and an API token.
* **Read**: ``GET /rest/api/3/search/jql`` with ``jql=project = X AND updated >= "yyyy/MM/dd
  HH:mm" ORDER BY updated ASC``, ``expand=changelog``; after each page the JQL restarts at the
  last issue's minute when that moved forward (keyset), and ``nextPageToken`` pages on inside
  one minute. JQL times
  have minute precision **in the API user's time zone** (the ``timezone`` setting), so each run
  re-reads ``overlap_minutes`` before the newest ``updated`` seen; repeats inside one run are
  dropped on (id, updated). The old ``/rest/api/{2,3}/search`` answers 410 Gone: a 410 is
  reported as a clear error.
* **Per issue**: comments through the service desk API
  (``/rest/servicedeskapi/request/{id}/comment``, which says public or internal), the
  changelog (``expand=changelog``; ``/rest/api/3/issue/{id}/changelog`` when truncated), and
  the request's SLAs (``/rest/servicedeskapi/request/{id}/sla``), kept in ``Ticket.raw
  ["jsm_sla"]``: vendor-reported values beside cstoolkit's own SLA computation, never mixed.
* **Write**: status through ``/rest/api/3/issue/{id}/transitions``; priority, labels and
  custom fields with ``PUT /rest/api/3/issue/{id}``; assignee with ``PUT .../assignee``;
  comments with ``POST /rest/servicedeskapi/request/{id}/comment`` (``public`` true/false).
  Create with ``POST /rest/servicedeskapi/request`` (when ``servicedesk_id`` and
  ``request_type_id`` are set) or ``POST /rest/api/3/issue``. Jira has no compare-and-set on
  edits: no ``conflict_check``; :meth:`JiraSMBackend.fetch` serves the engine's re-read check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from cstoolkit.errors import BackendError, ConfigError, CstError
from cstoolkit.http import HttpStats, http_settings
from cstoolkit.model import Event, EventKind, Person, Priority, Role, Status, Ticket, bare_id
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
    merge_mapping,
)

if TYPE_CHECKING:
    from cstoolkit.http import HttpClient

SEARCH_PATH = "/rest/api/3/search/jql"
CURSOR_VERSION = 1
DEFAULT_SINCE = "2000-01-01T00:00:00+00:00"
MARKERS_KEY = "markers"
FIELDS = (
    "summary,status,priority,assignee,reporter,labels,created,updated,resolutiondate,"
    "description,issuetype"
)

#: Jira status name (lower case) -> model status; unknown names fall back on the category.
DEFAULT_STATUS_MAP: dict[str, str] = {
    "open": "open",
    "to do": "new",
    "waiting for support": "open",
    "in progress": "open",
    "escalated": "open",
    "waiting for customer": "pending",
    "pending": "pending",
    "waiting for approval": "on_hold",
    "on hold": "on_hold",
    "resolved": "solved",
    "done": "solved",
    "closed": "closed",
    "canceled": "closed",
    "declined": "closed",
}
CATEGORY_STATUS = {"new": Status.NEW, "indeterminate": Status.OPEN, "done": Status.SOLVED}
DEFAULT_PRIORITY_MAP: dict[str, str] = {
    "highest": "urgent",
    "high": "high",
    "medium": "normal",
    "low": "low",
    "lowest": "low",
}
PRIORITY_TO_VENDOR = {"urgent": "Highest", "high": "High", "normal": "Medium", "low": "Low"}


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, Mapping):  # service desk dates: {"iso8601": ..., "epochMillis": ...}
        if value.get("epochMillis") is not None:
            return datetime.fromtimestamp(int(value["epochMillis"]) / 1000, UTC)
        value = value.get("iso8601")
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def marker_label(marker: str) -> str:
    """This backend's marker label: ``cst-`` + 16 hex digits (keep it: written ones must match)."""
    return marker_token(marker, length=16)


def _lowered_keys(override: Any) -> Any:
    """Jira names match case-insensitively: a mapping override's keys, lowercased."""
    if not override:
        return None
    if isinstance(override, Mapping):
        return {str(k).lower(): v for k, v in override.items()}
    return override


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (or a string as it is)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if not isinstance(node, Mapping):
        return ""
    if node.get("type") == "text":
        return str(node.get("text") or "")
    parts = [adf_text(child) for child in node.get("content") or []]
    sep = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return sep.join(parts)


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


class JiraSMBackend(Backend):
    name: ClassVar[str] = "jira_sm"
    description: ClassVar[str] = (
        "Jira Service Management Cloud: search/jql sync, comments, changelog, request SLAs."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("email", required=True, help="Atlassian account email (Basic auth user)."),
        Setting("api_token", required=True, secret=True, help="Atlassian API token."),
        Setting("project", required=True, help="Project key whose issues are synced (SD)."),
        Setting(
            "timezone",
            default="UTC",
            help="The API user's Jira time zone (IANA): JQL date literals are read in it.",
        ),
        Setting("page_size", "int", default=100, help="maxResults per search page (1-5000)."),
        Setting(
            "overlap_minutes",
            "int",
            default=5,
            help="Minutes re-read before the newest update seen (JQL has minute precision).",
        ),
        Setting("comments", "bool", default=True, help="Pull comments as events."),
        Setting("slas", "bool", default=True, help="Read request SLAs into Ticket.raw."),
        Setting("servicedesk_id", help="Service desk id: create through the request API."),
        Setting("request_type_id", help="Request type id for created requests."),
        Setting("issue_type", default="Task", help="Issue type when creating via /issue."),
        *http_settings(budget_share=0.8),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        super().__init__(instance, config, state)
        self.label = f"jira_sm instance {instance!r}"
        cfg = self.config
        for key in ("base_url", "email", "api_token", "project"):
            if not cfg.get(key):
                raise ConfigError(f"backends.{instance}: set {key}")
        self.project = str(cfg["project"])
        if not self.project.replace("_", "").isalnum():
            raise ConfigError(f"backends.{instance}.project must be a project key")
        try:
            self.tz = ZoneInfo(str(cfg.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"backends.{instance}.timezone {cfg.get('timezone')!r} is not an IANA zone"
            ) from None
        self.page_size = int(cfg.get("page_size") or 100)
        if not 1 <= self.page_size <= 5000:
            raise ConfigError(f"backends.{instance}.page_size must be 1-5000")
        self.overlap = max(0, int(cfg.get("overlap_minutes") or 0))
        self.want_comments = cfg.get("comments", True) is not False
        self.want_slas = cfg.get("slas", True) is not False
        table = cfg.get("mapping") or {}
        if not isinstance(table, Mapping):
            raise ConfigError(f"backends.{instance}.mapping must be a table")
        self.status_map = merge_mapping(
            {k.lower(): v for k, v in DEFAULT_STATUS_MAP.items()},
            _lowered_keys(table.get("statuses")),
            Status,
            "mapping.statuses",
            f"backends.{instance}",
        )
        self.priority_map = merge_mapping(
            DEFAULT_PRIORITY_MAP,
            _lowered_keys(table.get("priorities")),
            Priority,
            "mapping.priorities",
            f"backends.{instance}",
        )
        fields = table.get("fields") or {}
        self.fields = {str(k): str(v) for k, v in fields.items()}
        self.fields_back = {v: k for k, v in self.fields.items()}
        if cfg.get("filters"):
            raise ConfigError(
                f"backends.{instance}.filters: Jira instances are scoped by project; "
                "use one instance per project"
            )
        self.stats = HttpStats()
        self._http: HttpClient | None = None

    def __repr__(self) -> str:
        return f"<JiraSMBackend {self.instance} {self.config.get('base_url')} {self.project}>"

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from cstoolkit.http import HttpClient

            cfg = self.config
            self._http = HttpClient.from_settings(
                cfg,
                label=self.label,
                default_base_url=None,
                auth=(str(cfg["email"]), str(cfg["api_token"])),
                secrets=[cfg.get("api_token")],
                stats=self.stats,
                auth_hint="the email and api_token settings",
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def check(self) -> CheckResult:
        try:
            data = self.http.get_json("/rest/api/3/myself")
        except CstError as exc:
            return CheckResult(False, str(exc))
        if not isinstance(data, Mapping) or not data.get("accountId"):
            return CheckResult(False, "/rest/api/3/myself gave no account")
        zone = data.get("timeZone")
        note = ""
        if zone and str(zone) != str(self.tz):
            note = f"; WARNING: the account's time zone is {zone}, timezone setting is {self.tz}"
        return CheckResult(True, f"authenticated as {data.get('displayName')}{note}")

    # -- pull ----------------------------------------------------------------------------------

    def jql(self, since: datetime) -> str:
        local = since.astimezone(self.tz)
        literal = local.strftime("%Y/%m/%d %H:%M")  # minute precision: floors the time
        return f'project = {self.project} AND updated >= "{literal}" ORDER BY updated ASC'

    def _load(self, cursor: str) -> tuple[datetime, str | None, str | None]:
        try:
            data = json.loads(cursor)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                raise ValueError("version")
            since = parse_time(data["since"])
            if since is None:
                raise ValueError("since")
            token = data.get("token")
            high = data.get("high")
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(
                f"{self.label}: unreadable cursor ({type(exc).__name__}); "
                "run `cst sync pull --full`"
            ) from None
        return since, (str(token) if token else None), (str(high) if high else None)

    @staticmethod
    def _dump(since: datetime, token: str | None, high: str | None) -> str:
        return json.dumps(
            {"v": CURSOR_VERSION, "since": iso(since), "token": token, "high": high},
            separators=(",", ":"),
        )

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        from cstoolkit.http import HttpError

        token: str | None = None
        high: str | None = None
        if since is not None:
            start = since
        elif full or not cursor:
            start = datetime.fromisoformat(DEFAULT_SINCE)
        else:
            start, token, high = self._load(cursor)
        seen: set[tuple[str, str]] = set()
        while True:
            params: dict[str, Any] = {
                "jql": self.jql(start),
                "fields": FIELDS,
                "expand": "changelog",
                "maxResults": self.page_size,
            }
            if token:
                params["nextPageToken"] = token
            try:
                data = self.http.get_json(SEARCH_PATH, params=params)
            except HttpError as exc:
                if exc.status == 410:
                    raise BackendError(
                        f"{self.label}: GET {SEARCH_PATH}: HTTP 410 Gone: Jira removed this "
                        "search endpoint (CHANGE-2046); check base_url points at Jira Cloud"
                    ) from None
                if exc.status == 400 and token:
                    token = None  # nextPageToken expired (7 days): walk again from `start`
                    continue
                raise
            issues, token = self._search_page(data)
            page = Page()
            for raw in issues:
                key = (str(raw["id"]), str(raw["fields"].get("updated")))
                if key in seen:
                    continue
                seen.add(key)
                self._add(raw, page)
                stamp = iso(self._updated(raw))
                if high is None or stamp > high:
                    high = stamp
            if token:
                # Keyset step: restart the JQL at the last issue's minute when it moved
                # forward (an issue updated during the walk cannot shift another out of
                # view); inside one minute, follow nextPageToken.
                last = self._updated(issues[-1]).replace(second=0, microsecond=0)
                if last > start:
                    start, token = last, None
                page.cursor = self._dump(start, token, high)
                yield page
                continue
            nxt = start
            newest = parse_time(high) if high else None
            if newest is not None:
                nxt = newest - timedelta(minutes=self.overlap)
            page.cursor = self._dump(nxt, None, None)
            yield page
            return

    def _search_page(self, data: Any) -> tuple[list[dict[str, Any]], str | None]:
        where = f"GET {SEARCH_PATH}"
        if not isinstance(data, Mapping):
            raise BackendError(f"{self.label}: {where}: malformed page, expected a JSON object")
        issues = data.get("issues", [])
        if not isinstance(issues, list):
            raise BackendError(f"{self.label}: {where}: issues is not a list")
        for n, issue in enumerate(issues):
            if not isinstance(issue, dict) or issue.get("id") is None:
                raise BackendError(f"{self.label}: {where}: issues[{n}] has no id")
            if not isinstance(issue.get("fields"), dict):
                raise BackendError(f"{self.label}: {where}: issues[{n}].fields is missing")
        token = data.get("nextPageToken")
        if data.get("isLast") is True or not issues:
            token = None  # JRACLOUD-92184: the last page may omit the key entirely
        return issues, (str(token) if token else None)

    def _updated(self, raw: Mapping[str, Any]) -> datetime:
        fields = raw["fields"]
        stamp = parse_time(fields.get("updated")) or parse_time(fields.get("created"))
        if stamp is None:
            raise BackendError(f"{self.label}: issue {raw.get('id')}: no updated time")
        return stamp

    def _add(self, raw: dict[str, Any], page: Page) -> None:
        ext = str(raw["id"])
        try:
            ticket = self._ticket(raw)
            histories = self._histories(raw)
            comments = self._comments(ext) if self.want_comments else []
            if self.want_slas:
                raw["jsm_sla"] = self._slas(ext)
            page.events.extend(self._events(ticket, raw, histories, comments))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BackendError(
                f"{self.label}: GET {SEARCH_PATH}: issue {raw.get('key') or ext}: malformed ({exc})"
            ) from None
        page.tickets.append(ticket)
        for person, role in (
            (raw["fields"].get("reporter"), Role.REQUESTER),
            (raw["fields"].get("assignee"), Role.AGENT),
        ):
            if isinstance(person, Mapping) and person.get("accountId"):
                page.people.append(
                    Person(
                        id=f"{self.instance}:{person['accountId']}",
                        instance=self.instance,
                        external_id=str(person["accountId"]),
                        role=role,
                        name=str(person.get("displayName") or ""),
                        email=person.get("emailAddress") or None,
                        timezone=person.get("timeZone") or None,
                        raw=dict(person),
                    )
                )

    def _status(self, status: Any) -> Status:
        if not isinstance(status, Mapping):
            return Status.OPEN
        mapped = self.status_map.get(str(status.get("name") or "").lower())
        if mapped:
            return Status(mapped)
        category = (status.get("statusCategory") or {}).get("key")
        return CATEGORY_STATUS.get(str(category), Status.OPEN)

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        f = raw["fields"]
        created = parse_time(f.get("created"))
        if created is None:
            raise ValueError("no created")
        updated = self._updated(raw)
        status = self._status(f.get("status"))
        prio = f.get("priority") if isinstance(f.get("priority"), Mapping) else {}
        priority = Priority(
            self.priority_map.get(str((prio or {}).get("name", "")).lower(), "normal")
        )
        reporter = f.get("reporter") if isinstance(f.get("reporter"), Mapping) else None
        assignee = f.get("assignee") if isinstance(f.get("assignee"), Mapping) else None
        custom = {
            self.fields.get(k, k): v
            for k, v in f.items()
            if k.startswith("customfield_") and v is not None
        }
        return Ticket(
            id=f"{self.instance}:{raw['id']}",
            instance=self.instance,
            external_id=str(raw["id"]),
            subject=str(f.get("summary") or ""),
            description=adf_text(f.get("description")),
            status=status,
            priority=priority,
            requester_id=self._q(reporter.get("accountId")) if reporter else None,
            assignee_id=self._q(assignee.get("accountId")) if assignee else None,
            tags=[str(label) for label in f.get("labels") or []],
            created_at=created,
            updated_at=max(updated, created),
            solved_at=parse_time(f.get("resolutiondate")) if status.is_resolved else None,
            custom_fields=custom,
            raw=raw,
        )

    def _histories(self, raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        log = raw.get("changelog")
        if not isinstance(log, Mapping):
            return []
        histories = list(log.get("histories") or [])
        total = int(log.get("total") or len(histories))
        if total <= len(histories):
            return histories
        # The search expands only the most recent histories: read the whole changelog.
        path = f"/rest/api/3/issue/{raw['id']}/changelog"
        out: list[Mapping[str, Any]] = []
        start = 0
        while True:
            data = self.http.get_json(path, params={"startAt": start, "maxResults": 100})
            values = (data or {}).get("values") if isinstance(data, Mapping) else None
            if not isinstance(values, list):
                raise BackendError(f"{self.label}: GET {path}: values is not a list")
            out.extend(v for v in values if isinstance(v, Mapping))
            if data.get("isLast", True) or not values:
                return out
            start += len(values)

    def _service_desk_pages(self, path: str, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        from cstoolkit.http import HttpError

        out: list[Mapping[str, Any]] = []
        start = 0
        while True:
            try:
                data = self.http.get_json(path, params={**params, "start": start, "limit": 100})
            except HttpError as exc:
                if exc.status == 404:
                    return []  # not a service desk request (a plain Jira issue)
                raise
            values = data.get("values") if isinstance(data, Mapping) else None
            if not isinstance(values, list):
                raise BackendError(f"{self.label}: GET {path}: values is not a list")
            out.extend(v for v in values if isinstance(v, Mapping))
            if data.get("isLastPage", True) or not values:
                return out
            start += len(values)

    def _comments(self, ext: str) -> list[Mapping[str, Any]]:
        return self._service_desk_pages(
            f"/rest/servicedeskapi/request/{ext}/comment", {"public": "true", "internal": "true"}
        )

    def _slas(self, ext: str) -> list[dict[str, Any]]:
        return [
            dict(v) for v in self._service_desk_pages(f"/rest/servicedeskapi/request/{ext}/sla", {})
        ]

    def _events(
        self,
        ticket: Ticket,
        raw: Mapping[str, Any],
        histories: list[Mapping[str, Any]],
        comments: list[Mapping[str, Any]],
    ) -> list[Event]:
        tid = ticket.id
        reporter = bare_id(ticket.requester_id) if ticket.requester_id else None
        events = [
            Event(
                id=f"{self.instance}:issue-{ticket.external_id}-created",
                ticket_id=tid,
                kind=EventKind.CREATED,
                at=ticket.created_at,
                author_id=ticket.requester_id,
                author_role=Role.REQUESTER if ticket.requester_id else None,
            )
        ]
        for c in comments:
            author = (c.get("author") or {}).get("accountId")
            at = parse_time(c.get("created")) or ticket.created_at
            events.append(
                Event(
                    id=f"{self.instance}:c{c['id']}",
                    ticket_id=tid,
                    kind=EventKind.COMMENT,
                    at=at,
                    author_id=self._q(author),
                    author_role=Role.REQUESTER if author and author == reporter else Role.AGENT,
                    public=bool(c.get("public", True)),
                    body=adf_text(c.get("body")),
                    data={"comment_id": c.get("id")},
                )
            )
        for h in histories:
            at = parse_time(h.get("created")) or ticket.created_at
            author = (h.get("author") or {}).get("accountId")
            role = Role.REQUESTER if author and author == reporter else Role.AGENT
            for n, item in enumerate(h.get("items") or []):
                field = str(item.get("field") or "").lower()
                kind: EventKind | None = None
                old = new = None
                if field == "status":
                    kind = EventKind.STATUS_CHANGE
                    old = self._status_name(item.get("fromString"))
                    new = self._status_name(item.get("toString"))
                elif field == "priority":
                    kind = EventKind.PRIORITY_CHANGE
                    old = self.priority_map.get(str(item.get("fromString") or "").lower())
                    new = self.priority_map.get(str(item.get("toString") or "").lower())
                elif field == "assignee":
                    kind = EventKind.ASSIGNMENT
                    old, new = self._q(item.get("from")), self._q(item.get("to"))
                elif field == "labels":
                    kind = EventKind.TAGS_CHANGE
                    old, new = item.get("fromString") or None, item.get("toString") or None
                if kind is None:
                    continue
                events.append(
                    Event(
                        id=f"{self.instance}:h{h['id']}-{n}",
                        ticket_id=tid,
                        kind=kind,
                        at=at,
                        author_id=self._q(author),
                        author_role=role,
                        old=old,
                        new=new,
                        data={
                            "field": field,
                            "from": item.get("fromString"),
                            "to": item.get("toString"),
                        },
                    )
                )
        return events

    def _status_name(self, name: Any) -> str | None:
        if not name:
            return None
        return self.status_map.get(str(name).lower(), str(name).lower())

    # -- writes --------------------------------------------------------------------------------

    def _get(self, ext: str) -> dict[str, Any] | None:
        from cstoolkit.http import HttpError

        path = f"/rest/api/3/issue/{ext}"
        try:
            data = self.http.get_json(path, params={"fields": FIELDS + ",*navigable"})
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise
        if (
            not isinstance(data, dict)
            or data.get("id") is None
            or not isinstance(data.get("fields"), dict)
        ):
            raise BackendError(f"{self.label}: GET {path}: malformed issue")
        return data

    def fetch(self, external_id: str) -> Ticket | None:
        raw = self._get(bare_id(external_id))
        if raw is None:
            return None
        try:
            return self._ticket(raw)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackendError(f"{self.label}: issue {external_id}: {exc}") from None

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        ext = bare_id(external_id)
        current = self._get(ext)
        if current is None:
            raise BackendError(f"{self.label}: issue {ext} does not exist")
        f = current["fields"]
        changed = False
        if changes.group_id is not None:
            raise BackendError(f"{self.label}: issue {ext}: Jira issues have no group to set")
        if changes.status is not None and self._status(f.get("status")) != changes.status:
            self._transition(ext, str(changes.status))
            changed = True
        edit: dict[str, Any] = {}
        update: dict[str, Any] = {}
        if changes.priority is not None:
            want = PRIORITY_TO_VENDOR.get(str(changes.priority))
            if want is None:
                raise BackendError(f"{self.label}: issue {ext}: unknown priority")
            have = (f.get("priority") or {}).get("name")
            if self.priority_map.get(str(have or "").lower()) != changes.priority:
                edit["priority"] = {"name": want}
        labels = set(f.get("labels") or [])
        ops = [{"add": t} for t in dict.fromkeys(changes.add_tags) if t not in labels]
        ops += [
            {"remove": t}
            for t in dict.fromkeys(changes.remove_tags)
            if t in labels and t not in changes.add_tags
        ]
        if ops:
            update["labels"] = ops
        for name, value in changes.custom_fields.items():
            field = self.fields_back.get(name, name)
            if f.get(field) != value:
                edit[field] = value
        if edit or update:
            body: dict[str, Any] = {}
            if edit:
                body["fields"] = edit
            if update:
                body["update"] = update
            self.http.request("PUT", f"/rest/api/3/issue/{ext}", json=body)
            changed = True
        if changes.assignee_id is not None:
            have = (f.get("assignee") or {}).get("accountId")
            want_id = bare_id(changes.assignee_id)
            if str(have) != want_id:
                self.http.request(
                    "PUT",
                    f"/rest/api/3/issue/{ext}/assignee",
                    json={"accountId": want_id or None},
                )
                changed = True
        for comment in changes.comments:
            self.http.json(
                "POST",
                f"/rest/servicedeskapi/request/{ext}/comment",
                json={"body": comment.body, "public": bool(comment.public)},
            )
            changed = True
        if not changed:
            return ApplyResult(ext, False, self._updated(current), "no change")
        after = self._get(ext)
        return ApplyResult(ext, True, self._updated(after) if after else None)

    def _transition(self, ext: str, target: str) -> None:
        path = f"/rest/api/3/issue/{ext}/transitions"
        data = self.http.get_json(path)
        options = data.get("transitions") if isinstance(data, Mapping) else None
        if not isinstance(options, list):
            raise BackendError(f"{self.label}: GET {path}: transitions is not a list")
        for option in options:
            if isinstance(option, Mapping) and self._status(option.get("to")) == target:
                self.http.request("POST", path, json={"transition": {"id": str(option["id"])}})
                return
        names = ", ".join(
            str((o.get("to") or {}).get("name")) for o in options if isinstance(o, Mapping)
        )
        raise BackendError(
            f"{self.label}: issue {ext}: no transition leads to a {target} status "
            f"(available: {names or 'none'}); map status names with mapping.statuses"
        )

    def create(self, ticket: NewTicket) -> str:
        if ticket.marker:
            found = self.find_by_marker(ticket.marker)
            if found is not None:
                return found
        labels = list(ticket.tags)
        if ticket.marker:
            labels.append(marker_label(ticket.marker))
        cfg = self.config
        try:
            if cfg.get("servicedesk_id") and cfg.get("request_type_id"):
                body: dict[str, Any] = {
                    "serviceDeskId": str(cfg["servicedesk_id"]),
                    "requestTypeId": str(cfg["request_type_id"]),
                    "requestFieldValues": {
                        "summary": ticket.subject,
                        "description": ticket.description or ticket.subject,
                        "labels": labels,
                    },
                }
                if ticket.requester_email:
                    body["raiseOnBehalfOf"] = ticket.requester_email
                data = self.http.json("POST", "/rest/servicedeskapi/request", json=body)
                ext = (data or {}).get("issueId") if isinstance(data, Mapping) else None
            else:
                fields: dict[str, Any] = {
                    "project": {"key": self.project},
                    "summary": ticket.subject,
                    "issuetype": {"name": str(cfg.get("issue_type") or "Task")},
                    "description": adf(ticket.description or ticket.subject),
                    "labels": labels,
                    "priority": {"name": PRIORITY_TO_VENDOR.get(str(ticket.priority), "Medium")},
                }
                data = self.http.json("POST", "/rest/api/3/issue", json={"fields": fields})
                ext = (data or {}).get("id") if isinstance(data, Mapping) else None
        except BackendError:
            if ticket.marker:
                found = self.find_by_marker(ticket.marker)
                if found is not None:
                    return found
            raise
        if not ext:
            raise BackendError(f"{self.label}: create: no issue id in the answer")
        if ticket.marker and self.state is not None:
            markers = dict(self.state.get(MARKERS_KEY, {}) or {})
            markers[ticket.marker] = str(ext)
            self.state.set(MARKERS_KEY, markers)
        return str(ext)

    def find_by_marker(self, marker: str) -> str | None:
        known = (self.state.get(MARKERS_KEY, {}) or {}) if self.state is not None else {}
        if marker in known and self._get(str(known[marker])) is not None:
            return str(known[marker])
        label = marker_label(marker)
        data = self.http.get_json(
            SEARCH_PATH,
            params={
                "jql": f'project = {self.project} AND labels = "{label}"',
                "fields": "labels",
                "maxResults": 10,
            },
        )
        issues, _ = self._search_page(data)
        hits = [int(i["id"]) for i in issues if label in (i["fields"].get("labels") or [])]
        return str(min(hits)) if hits else None


__all__ = ["JiraSMBackend", "adf_text", "marker_label"]
