"""The Zammad backend (REST ``/api/v1``).

* **Auth**: ``Authorization: Token token=<access token>``.
* **Read**: ``GET /api/v1/tickets/search?query=updated_at:>=<ISO>&sort_by=updated_at&
  order_by=asc&expand=true&page=N&per_page=M`` (needs Elasticsearch on the Zammad side). The
  walk is keyset-like: after a page whose last ticket is newer than the query's lower bound the
  next request restarts at that ticket's ``updated_at`` (page 1) instead of asking for page
  N+1, so a ticket updated while the list is read cannot shift another one out of view; only
  while a whole page shares one ``updated_at`` does it page on. It stops at an empty page.
  Repeats inside one run (the inclusive restart) are dropped on (id, updated_at). The cursor
  holds the bound and the page; a finished walk moves the bound to the newest ``updated_at``
  seen minus ``overlap_seconds``.
* **Per ticket**: ``GET /api/v1/ticket_articles/by_ticket/{id}`` (articles -> comment events,
  ``internal`` -> private) and ``GET /api/v1/tags?object=Ticket&o_id={id}``.
* **Write**: ``PUT /api/v1/tickets/{id}`` (state, priority, owner_id, group_id), tags through
  ``POST /api/v1/tags/add`` and ``DELETE /api/v1/tags/remove``, comments through
  ``POST /api/v1/ticket_articles``. Zammad has no compare-and-set: no ``conflict_check``;
  :meth:`ZammadBackend.fetch` serves the engine's re-read check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from cstoolkit.errors import BackendError, ConfigError, CstError
from cstoolkit.http import HttpStats, http_settings
from cstoolkit.model import Channel, Event, EventKind, Priority, Role, Status, Ticket, bare_id, now
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

SEARCH_PATH = "/api/v1/tickets/search"
CURSOR_VERSION = 1
DEFAULT_SINCE = "2000-01-01T00:00:00.000Z"
MARKERS_KEY = "markers"

DEFAULT_STATUS_MAP: dict[str, str] = {
    "new": "new",
    "open": "open",
    "pending reminder": "pending",
    "pending close": "pending",
    "closed": "closed",
    "merged": "closed",
    "removed": "closed",
}
STATUS_TO_VENDOR: dict[str, str] = {
    "new": "new",
    "open": "open",
    "pending": "pending reminder",
    "on_hold": "pending reminder",
    "solved": "closed",
    "closed": "closed",
}
DEFAULT_PRIORITY_MAP: dict[str, str] = {"1 low": "low", "2 normal": "normal", "3 high": "high"}
#: Zammad ships three priorities; ``urgent`` is written as ``3 high`` unless mapped.
PRIORITY_FALLBACK: dict[str, str] = {"urgent": "3 high"}
DEFAULT_CHANNEL_MAP: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "web": "web",
    "chat": "chat",
    "note": "other",
    "sms": "sms",
    "twitter status": "social",
    "twitter direct-message": "social",
    "facebook feed post": "social",
    "telegram personal-message": "social",
    "whatsapp message": "whatsapp",
}
_ROLES = {"customer": Role.REQUESTER, "agent": Role.AGENT, "system": Role.SYSTEM}


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def zms(value: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z`` (Zammad's own format)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def norm(value: Any) -> str:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError("no updated_at")
    return zms(parsed)


def marker_tag(marker: str) -> str:
    """This backend's marker tag: ``cst-`` + 16 hex digits (keep it: written ones must match)."""
    return marker_token(marker, length=16)


class ZammadBackend(Backend):
    name: ClassVar[str] = "zammad"
    description: ClassVar[str] = "Zammad: token auth, updated_at search paging, articles."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("token", required=True, secret=True, help="Access token (Token token=...)."),
        Setting("per_page", "int", default=100, help="Tickets per search page (1-500)."),
        Setting(
            "overlap_seconds",
            "int",
            default=300,
            help="Seconds re-read before the newest updated_at seen, on the next run.",
        ),
        Setting("articles", "bool", default=True, help="Pull articles as events."),
        Setting("concurrency", "int", default=4, help="Per-ticket requests in flight."),
        Setting(
            "default_group",
            default="Users",
            help="Group (name) of created tickets (Zammad requires one).",
        ),
        Setting(
            "pending_hours",
            "float",
            default=24.0,
            help="pending_time set when a ticket is moved to a pending state.",
        ),
        *http_settings(budget_share=1.0),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        self.label = f"zammad instance {instance!r}"
        cfg = self.config
        if not cfg.get("base_url"):
            raise ConfigError(f"backends.{instance}: set base_url (your Zammad's address)")
        if not cfg.get("token"):
            raise ConfigError(f"backends.{instance}: set token")
        self.per_page = int(cfg.get("per_page") or 100)
        if not 1 <= self.per_page <= 500:
            raise ConfigError(f"backends.{instance}.per_page must be 1-500")
        self.overlap = max(0, int(cfg.get("overlap_seconds") or 0))
        self.articles = cfg.get("articles", True) is not False
        self.concurrency = max(1, int(cfg.get("concurrency") or 1))
        table = cfg.get("mapping") or {}
        if not isinstance(table, Mapping):
            raise ConfigError(f"backends.{instance}.mapping must be a table")
        self.status_map = merge_mapping(
            DEFAULT_STATUS_MAP, table.get("statuses"), Status, "mapping.statuses", self.label
        )
        self.priority_map = merge_mapping(
            DEFAULT_PRIORITY_MAP,
            table.get("priorities"),
            Priority,
            "mapping.priorities",
            self.label,
        )
        self.priority_write = dict(PRIORITY_FALLBACK)
        for vendor, model in DEFAULT_PRIORITY_MAP.items():
            self.priority_write[model] = vendor
        for vendor, model in (table.get("priorities") or {}).items():
            self.priority_write[str(model)] = str(vendor)
        self.channel_map = merge_mapping(
            DEFAULT_CHANNEL_MAP, table.get("channels"), Channel, "mapping.channels", self.label
        )
        self.groups = self._filters(cfg.get("filters"))
        self.stats = HttpStats()
        self._http: HttpClient | None = None

    def __repr__(self) -> str:
        return f"<ZammadBackend {self.instance} {self.config.get('base_url')}>"

    def _filters(self, value: Any) -> list[str]:
        if not value:
            return []
        if not isinstance(value, Mapping):
            raise ConfigError(f"backends.{self.instance}.filters must be a table")
        out: list[str] = []
        for key, wanted in value.items():
            if key != "group":
                raise ConfigError(
                    f"backends.{self.instance}.filters.{key}: Zammad filters by group only"
                )
            out.extend(str(v) for v in (wanted if isinstance(wanted, list) else [wanted]))
        return out

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from cstoolkit.http import HttpClient

            token = str(self.config["token"])
            self._http = HttpClient.from_settings(
                self.config,
                label=self.label,
                default_base_url=None,
                headers={"Authorization": f"Token token={token}"},
                secrets=[token],
                stats=self.stats,
                auth_hint="the token setting",
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def check(self) -> CheckResult:
        try:
            data = self.http.get_json("/api/v1/users/me")
        except CstError as exc:
            return CheckResult(False, str(exc))
        if not isinstance(data, Mapping) or data.get("id") is None:
            return CheckResult(False, "/api/v1/users/me gave no user")
        return CheckResult(True, f"authenticated as user {data['id']} ({data.get('login')})")

    # -- pull ----------------------------------------------------------------------------------

    def _load(self, cursor: str) -> tuple[str, int, str | None]:
        try:
            data = json.loads(cursor)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                raise ValueError("version")
            since = norm(data["since"])
            page = int(data.get("page") or 1)
            high = data.get("high")
            if page < 1:
                raise ValueError("page")
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(
                f"{self.label}: unreadable cursor ({type(exc).__name__}); "
                "run `cst sync pull --full`"
            ) from None
        return since, page, norm(high) if high else None

    @staticmethod
    def _dump(since: str, page: int, high: str | None) -> str:
        return json.dumps(
            {"v": CURSOR_VERSION, "since": since, "page": page, "high": high},
            separators=(",", ":"),
        )

    def _query(self, since: str) -> str:
        query = f"updated_at:>={since}"
        if self.groups:
            names = " OR ".join(f'"{g}"' for g in self.groups)
            query += f" AND group.name:({names})"
        return query

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        high: str | None
        if since is not None:
            bound, page_no, high = zms(since), 1, None
        elif full or not cursor:
            bound, page_no, high = DEFAULT_SINCE, 1, None
        else:
            bound, page_no, high = self._load(cursor)
        seen: set[tuple[str, str]] = set()
        while True:
            params = {
                "query": self._query(bound),
                "sort_by": "updated_at",
                "order_by": "asc",
                "expand": "true",
                "page": page_no,
                "per_page": self.per_page,
            }
            data = self.http.get_json(SEARCH_PATH, params=params)
            items = self._search_items(data)
            if not items:
                # Done: the next run re-reads an overlap before the newest change seen (the
                # search index is eventually consistent).
                nxt = bound
                newest = parse_time(high) if high else None
                if newest is not None:
                    nxt = zms(newest - timedelta(seconds=self.overlap))
                yield Page(cursor=self._dump(nxt, 1, None))
                return
            fresh = []
            for raw in items:
                key = (str(raw["id"]), norm(raw.get("updated_at")))
                if key not in seen:
                    seen.add(key)
                    fresh.append(raw)
                if high is None or key[1] > high:
                    high = key[1]
            page = self._page(fresh)
            last = norm(items[-1].get("updated_at"))
            if last > bound:
                bound, page_no = last, 1  # restart at the last ticket's time (inclusive)
            else:
                page_no += 1  # a whole page shares one updated_at: page on inside it
            page.cursor = self._dump(bound, page_no, high)
            yield page

    def _search_items(self, data: Any) -> list[dict[str, Any]]:
        where = f"GET {SEARCH_PATH}"
        if isinstance(data, Mapping) and "tickets" in data:
            raise BackendError(
                f"{self.label}: {where}: got ids without expand=true (a proxy dropped it?)"
            )
        if not isinstance(data, list):
            raise BackendError(f"{self.label}: {where}: malformed page, expected a JSON array")
        for n, item in enumerate(data):
            if not isinstance(item, dict) or item.get("id") is None:
                raise BackendError(f"{self.label}: {where}: [{n}] is not a ticket with an id")
            if not item.get("updated_at"):
                raise BackendError(f"{self.label}: {where}: [{n}].updated_at is missing")
        return data

    def _page(self, items: list[dict[str, Any]]) -> Page:
        page = Page()
        extras = self.http.map(self._extras, items, max_workers=self.concurrency)
        for raw, (tags, articles) in zip(items, extras, strict=True):
            try:
                ticket = self._ticket(raw, tags)
                page.events.extend(self._events(ticket, articles))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise BackendError(
                    f"{self.label}: GET {SEARCH_PATH}: ticket {raw.get('id')}: malformed ({exc})"
                ) from None
            page.tickets.append(ticket)
        return page

    def _extras(self, raw: Mapping[str, Any]) -> tuple[list[str], list[Mapping[str, Any]]]:
        tid = raw["id"]
        data = self.http.get_json("/api/v1/tags", params={"object": "Ticket", "o_id": tid})
        tags = data.get("tags") if isinstance(data, Mapping) else None
        if not isinstance(tags, list):
            raise BackendError(f"{self.label}: GET /api/v1/tags: tags is not a list (ticket {tid})")
        articles: list[Mapping[str, Any]] = []
        if self.articles:
            path = f"/api/v1/ticket_articles/by_ticket/{tid}"
            got = self.http.get_json(path, params={"expand": "true"})
            if not isinstance(got, list):
                raise BackendError(f"{self.label}: GET {path}: expected a JSON array")
            articles = [a for a in got if isinstance(a, Mapping)]
        return [str(t) for t in tags], articles

    def _q(self, value: Any) -> str | None:
        return None if value in (None, "") else f"{self.instance}:{value}"

    def _ticket(self, raw: dict[str, Any], tags: list[str]) -> Ticket:
        ext = str(raw["id"])
        created = parse_time(raw.get("created_at"))
        if created is None:
            raise ValueError("no created_at")
        updated = parse_time(raw.get("updated_at")) or created
        state = str(raw.get("state") or "")
        status = Status(self.status_map.get(state, "open"))
        priority = Priority(self.priority_map.get(str(raw.get("priority") or ""), "normal"))
        channel = Channel(self.channel_map.get(str(raw.get("create_article_type") or ""), "other"))
        owner = raw.get("owner_id")
        raw["tags"] = tags
        return Ticket(
            id=f"{self.instance}:{ext}",
            instance=self.instance,
            external_id=ext,
            subject=str(raw.get("title") or ""),
            status=status,
            priority=priority,
            channel=channel,
            requester_id=self._q(raw.get("customer_id")),
            assignee_id=self._q(owner) if owner not in (None, 1) else None,
            group_id=self._q(raw.get("group_id")),
            tags=tags,
            created_at=created,
            updated_at=max(updated, created),
            solved_at=parse_time(raw.get("close_at")) if status.is_resolved else None,
            raw=raw,
        )

    def _events(self, ticket: Ticket, articles: list[Mapping[str, Any]]) -> list[Event]:
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
        for art in sorted(articles, key=lambda a: (str(a.get("created_at")), int(a["id"]))):
            sender = str(art.get("sender") or "").lower()
            events.append(
                Event(
                    id=f"{self.instance}:a{art['id']}",
                    ticket_id=ticket.id,
                    kind=EventKind.COMMENT,
                    at=parse_time(art.get("created_at")) or ticket.created_at,
                    author_id=self._q(art.get("created_by_id")),
                    author_role=_ROLES.get(sender),
                    public=not bool(art.get("internal")),
                    body=art.get("body"),
                    data={"type": art.get("type"), "article_id": art["id"]},
                )
            )
        return events

    # -- writes --------------------------------------------------------------------------------

    def _get(self, ext: str) -> dict[str, Any] | None:
        from cstoolkit.http import HttpError

        path = f"/api/v1/tickets/{ext}"
        try:
            data = self.http.get_json(path, params={"expand": "true"})
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("id") is None:
            raise BackendError(f"{self.label}: GET {path}: malformed ticket (no id)")
        return data

    def fetch(self, external_id: str) -> Ticket | None:
        raw = self._get(bare_id(external_id))
        if raw is None:
            return None
        tags, _ = self._extras_tags_only(raw)
        try:
            return self._ticket(raw, tags)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackendError(f"{self.label}: ticket {raw.get('id')}: {exc}") from None

    def _extras_tags_only(self, raw: Mapping[str, Any]) -> tuple[list[str], None]:
        data = self.http.get_json("/api/v1/tags", params={"object": "Ticket", "o_id": raw["id"]})
        tags = data.get("tags") if isinstance(data, Mapping) else None
        if not isinstance(tags, list):
            raise BackendError(f"{self.label}: GET /api/v1/tags: tags is not a list")
        return [str(t) for t in tags], None

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
            if self.status_map.get(str(current.get("state")), "") != self.status_map.get(want):
                body["state"] = want
                if want.startswith("pending"):
                    hours = float(self.config.get("pending_hours") or 24.0)
                    body["pending_time"] = zms(now() + timedelta(hours=hours))
        if changes.priority is not None:
            want = self.priority_write.get(str(changes.priority))
            if want is None:
                raise BackendError(f"{self.label}: ticket {ext}: unknown priority")
            if current.get("priority") != want:
                body["priority"] = want
        for key, value in (("owner_id", changes.assignee_id), ("group_id", changes.group_id)):
            if value is not None and str(current.get(key)) != bare_id(value):
                body[key] = int(bare_id(value)) if bare_id(value).isdigit() else bare_id(value)
        changed = False
        if body:
            self.http.json("PUT", f"/api/v1/tickets/{ext}", json=body)
            changed = True
        tags, _ = self._extras_tags_only(current)
        for tag in dict.fromkeys(changes.add_tags):
            if tag not in tags:
                self.http.json(
                    "POST",
                    "/api/v1/tags/add",
                    json={"item": tag, "object": "Ticket", "o_id": int(ext)},
                    idempotent=True,
                )
                changed = True
        for tag in dict.fromkeys(changes.remove_tags):
            if tag in tags and tag not in changes.add_tags:
                self.http.json(
                    "DELETE",
                    "/api/v1/tags/remove",
                    json={"item": tag, "object": "Ticket", "o_id": int(ext)},
                )
                changed = True
        for comment in changes.comments:
            self.http.json(
                "POST",
                "/api/v1/ticket_articles",
                json={
                    "ticket_id": int(ext),
                    "body": comment.body,
                    "content_type": "text/plain",
                    "type": "note",
                    "internal": not comment.public,
                },
            )
            changed = True
        if not changed:
            return ApplyResult(ext, False, parse_time(current.get("updated_at")), "no change")
        after = self._get(ext)
        return ApplyResult(ext, True, parse_time((after or {}).get("updated_at")))

    def create(self, ticket: NewTicket) -> str:
        if ticket.marker:
            found = self.find_by_marker(ticket.marker)
            if found is not None:
                return found
        tags = list(ticket.tags)
        if ticket.marker:
            tags.append(marker_tag(ticket.marker))
        payload: dict[str, Any] = {
            "title": ticket.subject,
            "group": self.config.get("default_group") or "Users",
            "state": STATUS_TO_VENDOR.get(str(ticket.status), "new"),
            "priority": self.priority_write.get(str(ticket.priority), "2 normal"),
            "article": {
                "subject": ticket.subject,
                "body": ticket.description or ticket.subject,
                "type": "note",
                "internal": False,
            },
            "tags": ",".join(tags),
        }
        if ticket.requester_email:
            payload["customer_id"] = f"guess:{ticket.requester_email}"
        try:
            data = self.http.json("POST", "/api/v1/tickets", json=payload)
        except BackendError:
            if ticket.marker:
                found = self.find_by_marker(ticket.marker)
                if found is not None:
                    return found
            raise
        if not isinstance(data, Mapping) or data.get("id") is None:
            raise BackendError(f"{self.label}: POST /api/v1/tickets: no ticket id returned")
        ext = str(data["id"])
        if ticket.marker and self.state is not None:
            markers = dict(self.state.get(MARKERS_KEY, {}) or {})
            markers[ticket.marker] = ext
            self.state.set(MARKERS_KEY, markers)
        return ext

    def find_by_marker(self, marker: str) -> str | None:
        known = (self.state.get(MARKERS_KEY, {}) or {}) if self.state is not None else {}
        if marker in known and self._get(str(known[marker])) is not None:
            return str(known[marker])
        tag = marker_tag(marker)
        data = self.http.get_json(
            SEARCH_PATH, params={"query": f'tags:"{tag}"', "expand": "true", "per_page": 20}
        )
        items = self._search_items(data)
        hits = [int(t["id"]) for t in items if tag in (t.get("tags") or [tag])]
        return str(min(hits)) if hits else None


__all__ = ["ZammadBackend", "marker_tag"]
