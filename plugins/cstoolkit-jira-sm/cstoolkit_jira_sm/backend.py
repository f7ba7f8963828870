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
* **Inbound (WhatsApp, SMS)**: a requester known only by phone is raised on behalf of a
  customer with a placeholder email (:mod:`cstoolkit_jira_sm.customers`; needs
  ``phone_customer_domain`` and the request API). The request comment API writes as the API
  user (an agent) and a public comment mails the customer: a customer's own message is an
  internal comment marked as theirs.
"""

from __future__ import annotations

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
    expect_object,
    http_setting,
    offset_walk,
    parse_time,
    requester_note,
    require_time,
    rewind,
    setting,
    time_field,
)
from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.model import Person, Priority, Role, Status, Ticket, bare_id
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
    marker_token,
)
from cstoolkit_jira_sm.customers import customer_for_phone
from cstoolkit_jira_sm.records import (
    DEFAULT_PRIORITY_MAP,
    DEFAULT_STATUS_MAP,
    JiraSMRecords,
    adf_text,
)

SEARCH_PATH = "/rest/api/3/search/jql"
SEARCH_GET = f"GET {SEARCH_PATH}"
CURSOR_VERSION = 1
DEFAULT_SINCE = "2000-01-01T00:00:00+00:00"
FIELDS = (
    "summary,status,priority,assignee,reporter,labels,created,updated,resolutiondate,"
    "description,issuetype"
)

PRIORITY_TO_VENDOR = {"urgent": "Highest", "high": "High", "normal": "Medium", "low": "Low"}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def marker_label(marker: str) -> str:
    """This backend's marker label: ``cst-`` + 16 hex digits (keep it: written ones must match)."""
    return marker_token(marker, length=16)


def _same(value: datetime) -> datetime:
    return value


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


class JiraSMSettings(HttpBackendSettings):
    email: str = setting(help="Atlassian account email (Basic auth user).")
    api_token: str = setting(secret=True, help="Atlassian API token.")
    project: str = setting(help="Project key whose issues are synced (SD).")
    timezone: str = setting(
        "UTC", help="The API user's Jira time zone (IANA): JQL date literals are read in it."
    )
    page_size: int = setting(
        100, minimum=1, maximum=5000, help="maxResults per search page (1-5000)."
    )
    overlap_minutes: int = setting(
        5,
        minimum=0,
        help="Minutes re-read before the newest update seen (JQL has minute precision).",
    )
    comments: bool = setting(True, help="Pull comments as events.")
    slas: bool = setting(True, help="Read request SLAs into Ticket.raw.")
    servicedesk_id: str | None = setting(help="Service desk id: create through the request API.")
    request_type_id: str | None = setting(help="Request type id for created requests.")
    issue_type: str = setting("Task", help="Issue type when creating via /issue.")
    phone_customer_domain: str | None = setting(
        help="A domain you own whose mail is discarded: a requester known only by phone "
        "becomes the customer phone-<digits>@<domain> (JSM customers need an email)."
    )
    budget_share: float = http_setting("budget_share", 0.8)


class JiraSMBackend(JiraSMRecords, HttpBackend[JiraSMSettings]):
    name: ClassVar[str] = "jira_sm"
    description: ClassVar[str] = (
        "Jira Service Management Cloud: search/jql sync, comments, changelog, request SLAs."
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        super().__init__(instance, config, state)
        opts = self.options
        if not opts.base_url:
            raise ConfigError("set base_url", field=self.settings_path)
        self.project = opts.project
        if not self.project.replace("_", "").isalnum():
            raise ConfigError("must be a project key", field=f"{self.settings_path}.project")
        try:
            self.tz = ZoneInfo(opts.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{opts.timezone!r} is not an IANA zone", field=f"{self.settings_path}.timezone"
            ) from None
        self.page_size = opts.page_size
        self.overlap = opts.overlap_minutes
        self.want_comments = opts.comments
        self.want_slas = opts.slas
        self.status_map = self.mapping_table(
            "statuses", {k.lower(): v for k, v in DEFAULT_STATUS_MAP.items()}, Status, lower=True
        )
        self.priority_map = self.mapping_table(
            "priorities", DEFAULT_PRIORITY_MAP, Priority, lower=True
        )
        self.fields = self.field_names()
        self.fields_back = {v: k for k, v in self.fields.items()}
        if opts.filters:
            raise ConfigError(
                "Jira instances are scoped by project; use one instance per project",
                field=f"{self.settings_path}.filters",
            )

    def __repr__(self) -> str:
        return f"<JiraSMBackend {self.instance} {self.options.base_url} {self.project}>"

    def http_auth(self) -> HttpAuth:
        opts = self.options
        return HttpAuth(
            auth=(opts.email, opts.api_token),
            secrets=[opts.api_token],
            hint="the email and api_token settings",
        )

    def check(self) -> CheckResult:
        def describe(data: Mapping[str, Any]) -> str | None:
            if not data.get("accountId"):
                return None
            zone = data.get("timeZone")
            note = ""
            if zone and str(zone) != str(self.tz):
                note = (
                    f"; WARNING: the account's time zone is {zone}, timezone setting is {self.tz}"
                )
            return f"authenticated as {data.get('displayName')}{note}"

        return self.live_check("/rest/api/3/myself", describe)

    # -- pull ----------------------------------------------------------------------------------

    def jql(self, since: datetime) -> str:
        local = since.astimezone(self.tz)
        literal = local.strftime("%Y/%m/%d %H:%M")  # minute precision: floors the time
        return f'project = {self.project} AND updated >= "{literal}" ORDER BY updated ASC'

    def _load(self, cursor: str) -> tuple[datetime, str | None, str | None]:
        data = self.load_cursor(cursor, CURSOR_VERSION)
        try:
            if data is None:
                raise ValueError("version")
            since = parse_time(data["since"])
            if since is None:
                raise ValueError("since")
            token = data.get("token")
            high = data.get("high")
        except (ValueError, KeyError, TypeError) as exc:
            raise self.unreadable_cursor(type(exc).__name__) from None
        return since, (str(token) if token else None), (str(high) if high else None)

    def _dump(self, since: datetime, token: str | None, high: str | None) -> str:
        return self.dump_cursor(CURSOR_VERSION, since=iso(since), token=token, high=high)

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        token: str | None = None
        high: str | None = None
        if since is not None:
            start = since
        elif full or not cursor:
            start = require_time(DEFAULT_SINCE)
        else:
            start, token, high = self._load(cursor)

        def fetch(bound: datetime, token: str | None) -> tuple[list[dict[str, Any]], bool, Any]:
            from cstoolkit.http import HttpError

            params: dict[str, Any] = {
                "jql": self.jql(bound),
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
                        f"{self.label}: {SEARCH_GET}: HTTP 410 Gone: Jira removed this "
                        "search endpoint (CHANGE-2046); check base_url points at Jira Cloud"
                    ) from None
                if exc.status == 400 and token:
                    # nextPageToken expired (7 days): walk again from the bound
                    return fetch(bound, None)
                raise
            issues, nxt = self._search_page(data)
            return issues, nxt is not None, nxt

        # Keyset walk: restart the JQL at the last issue's minute when it moved forward (an
        # issue updated during the walk cannot shift another out of view); inside one minute,
        # follow nextPageToken.
        walk: TimeWindowWalk[dict[str, Any]] = TimeWindowWalk(
            self.guard(SEARCH_GET, "updated"),
            bound=start,
            position=token,
            first_position=None,
            stamp=lambda raw: self._updated(raw).replace(second=0, microsecond=0),
            high=high,
            high_of=lambda raw: iso(self._updated(raw)),
            key=lambda raw: (str(raw["id"]), str(raw["fields"].get("updated"))),
        )
        for step in walk.run(fetch):
            page = Page()
            for raw in step.records:
                self._add(raw, page)
            if step.done:
                overlap = timedelta(minutes=self.overlap)
                nxt = rewind(step.high, step.bound, overlap, parse=parse_time, render=_same)
                page.cursor = self._dump(nxt, None, None)
            else:
                page.cursor = self._dump(step.bound, step.position, step.high)
            yield page

    def _search_page(self, data: Any) -> tuple[list[dict[str, Any]], str | None]:
        where = SEARCH_GET
        data = expect_object(data, self.label, where)
        issues = data.get("issues", [])
        if not isinstance(issues, list):
            raise VendorDataError(self.label, where, "issues is not a list")
        for n, issue in enumerate(issues):
            if not isinstance(issue, dict) or issue.get("id") is None:
                raise VendorDataError(self.label, where, f"issues[{n}] has no id")
            if not isinstance(issue.get("fields"), dict):
                raise VendorDataError(
                    self.label,
                    where,
                    f"issues[{n}].fields is missing",
                    record=f"issue {issue['id']}",
                )
        token = data.get("nextPageToken")
        if data.get("isLast") is True or not issues:
            token = None  # JRACLOUD-92184: the last page may omit the key entirely
        return issues, (str(token) if token else None)

    def _updated(self, raw: Mapping[str, Any]) -> datetime:
        fields = raw["fields"]
        try:
            stamp = time_field(fields, "updated", required=False) or time_field(fields, "created")
        except MAPPING_ERRORS as exc:
            raise self.malformed(exc, SEARCH_GET, "issue", raw) from None
        assert stamp is not None
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
        except MAPPING_ERRORS as exc:
            raise self.malformed(exc, SEARCH_GET, "issue", raw) from None
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

        def fetch(start: int) -> tuple[list[Mapping[str, Any]], bool]:
            data = self.http.get_json(path, params={"startAt": start, "maxResults": 100})
            values = data.get("values") if isinstance(data, Mapping) else None
            if not isinstance(values, list):
                raise VendorDataError(self.label, f"GET {path}", "values is not a list")
            return [v for v in values if isinstance(v, Mapping)], not data.get("isLast", True)

        return [
            h for page in offset_walk(fetch, self.guard(f"GET {path}", "startAt")) for h in page
        ]

    def _service_desk_pages(self, path: str, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        from cstoolkit.http import HttpError

        def fetch(start: int) -> tuple[list[Mapping[str, Any]], bool]:
            data = self.http.get_json(path, params={**params, "start": start, "limit": 100})
            values = data.get("values") if isinstance(data, Mapping) else None
            if not isinstance(values, list):
                raise VendorDataError(self.label, f"GET {path}", "values is not a list")
            return [v for v in values if isinstance(v, Mapping)], not data.get("isLastPage", True)

        try:
            return [
                v for page in offset_walk(fetch, self.guard(f"GET {path}", "start")) for v in page
            ]
        except HttpError as exc:
            if exc.status == 404:
                return []  # not a service desk request (a plain Jira issue)
            raise

    def _comments(self, ext: str) -> list[Mapping[str, Any]]:
        return self._service_desk_pages(
            f"/rest/servicedeskapi/request/{ext}/comment", {"public": "true", "internal": "true"}
        )

    def _slas(self, ext: str) -> list[dict[str, Any]]:
        return [
            dict(v) for v in self._service_desk_pages(f"/rest/servicedeskapi/request/{ext}/sla", {})
        ]

    # -- writes --------------------------------------------------------------------------------

    def _get(self, ext: str) -> dict[str, Any] | None:
        path = f"/rest/api/3/issue/{ext}"
        data = self.get_or_none(path, params={"fields": FIELDS + ",*navigable"})
        if data is not None and (
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
        return self.map_record(self._ticket, raw, "GET /rest/api/3/issue/{id}", "issue")

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        ext = bare_id(external_id)
        current = self.existing(self._get(ext), ext, "issue")
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
        for comment in map(requester_note, changes.comments):
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
        labels = list(ticket.tags)
        if ticket.marker:
            labels.append(marker_label(ticket.marker))
        opts = self.options

        def post() -> str:
            if opts.servicedesk_id and opts.request_type_id:
                body: dict[str, Any] = {
                    "serviceDeskId": str(opts.servicedesk_id),
                    "requestTypeId": str(opts.request_type_id),
                    "requestFieldValues": {
                        "summary": ticket.subject,
                        "description": ticket.description or ticket.subject,
                        "labels": labels,
                    },
                }
                if ticket.requester_email:
                    body["raiseOnBehalfOf"] = ticket.requester_email
                elif ticket.requester_phone:
                    body["raiseOnBehalfOf"] = customer_for_phone(
                        self,
                        phone=ticket.requester_phone,
                        name=ticket.requester_name,
                        domain=opts.phone_customer_domain,
                        setting=f"{self.settings_path}.phone_customer_domain",
                        servicedesk_id=str(opts.servicedesk_id),
                    )
                data = self.http.json("POST", "/rest/servicedeskapi/request", json=body)
                ext = (data or {}).get("issueId") if isinstance(data, Mapping) else None
            elif ticket.requester_phone and not ticket.requester_email:
                raise ConfigError(
                    "a requester known only by phone is raised through the request API: set "
                    "servicedesk_id and request_type_id",
                    field=self.settings_path,
                )
            else:
                fields: dict[str, Any] = {
                    "project": {"key": self.project},
                    "summary": ticket.subject,
                    "issuetype": {"name": opts.issue_type or "Task"},
                    "description": adf(ticket.description or ticket.subject),
                    "labels": labels,
                    "priority": {"name": PRIORITY_TO_VENDOR.get(str(ticket.priority), "Medium")},
                }
                data = self.http.json("POST", "/rest/api/3/issue", json={"fields": fields})
                ext = (data or {}).get("id") if isinstance(data, Mapping) else None
            if not ext:
                raise BackendError(f"{self.label}: create: no issue id in the answer")
            return str(ext)

        return self.create_once(ticket.marker, post)

    def find_by_marker(self, marker: str) -> str | None:
        known = self.remembered_marker(marker)
        if known and self._get(known) is not None:
            return known
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


__all__ = ["JiraSMBackend", "JiraSMSettings", "adf_text", "marker_label"]
