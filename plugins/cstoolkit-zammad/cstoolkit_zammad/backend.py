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
  ``POST /api/v1/ticket_articles`` (a customer's own message: ``sender: Customer`` and
  ``origin_by_id`` = the ticket's customer). Zammad has no compare-and-set: no
  ``conflict_check``; :meth:`ZammadBackend.fetch` serves the engine's re-read check.
* **Create**: a requester known only by phone is found by users search or created as a
  Customer with that mobile, and named by ``customer_id`` (docs/inbound.md).
"""

from __future__ import annotations

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
    id_field,
    iso_z,
    parse_time,
    requester_note,
    rewind,
    same_phone,
    setting,
    time_field,
)
from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.model import Channel, Event, EventKind, Priority, Role, Status, Ticket, bare_id, now
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

SEARCH_PATH = "/api/v1/tickets/search"
USERS_PATH = "/api/v1/users"
USERS_SEARCH = "/api/v1/users/search"
SEARCH_GET = f"GET {SEARCH_PATH}"
CURSOR_VERSION = 1
DEFAULT_SINCE = "2000-01-01T00:00:00.000Z"

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


def zms(value: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z`` (Zammad's own format)."""
    return iso_z(value, millis=True)


def norm(value: Any) -> str:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError("no updated_at")
    return zms(parsed)


def marker_tag(marker: str) -> str:
    """This backend's marker tag: ``cst-`` + 16 hex digits (keep it: written ones must match)."""
    return marker_token(marker, length=16)


class ZammadSettings(HttpBackendSettings):
    token: str = setting(secret=True, help="Access token (Token token=...).")
    per_page: int = setting(100, minimum=1, maximum=500, help="Tickets per search page (1-500).")
    overlap_seconds: int = setting(
        300, minimum=0, help="Seconds re-read before the newest updated_at seen, on the next run."
    )
    articles: bool = setting(True, help="Pull articles as events.")
    concurrency: int = setting(4, minimum=1, help="Per-ticket requests in flight.")
    default_group: str = setting(
        "Users", help="Group (name) of created tickets (Zammad requires one)."
    )
    pending_hours: float = setting(
        24.0, minimum=0, help="pending_time set when a ticket is moved to a pending state."
    )


class ZammadBackend(HttpBackend[ZammadSettings]):
    name: ClassVar[str] = "zammad"
    description: ClassVar[str] = "Zammad: token auth, updated_at search paging, articles."
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE}
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        opts = self.options
        if not opts.base_url:
            raise ConfigError("set base_url (your Zammad's address)", field=self.settings_path)
        self.per_page = opts.per_page
        self.overlap = opts.overlap_seconds
        self.articles = opts.articles
        self.concurrency = opts.concurrency
        self.status_map = self.mapping_table("statuses", DEFAULT_STATUS_MAP, Status)
        self.priority_map = self.mapping_table("priorities", DEFAULT_PRIORITY_MAP, Priority)
        self.priority_write = dict(PRIORITY_FALLBACK)
        for vendor, model in DEFAULT_PRIORITY_MAP.items():
            self.priority_write[model] = vendor
        for vendor, model in (self.mapping_value("priorities") or {}).items():
            self.priority_write[str(model)] = str(vendor)
        self.channel_map = self.mapping_table("channels", DEFAULT_CHANNEL_MAP, Channel)
        self.groups = self.filter_values({"group": "group"}, "Zammad").get("group", [])

    def http_auth(self) -> HttpAuth:
        token = self.options.token
        return HttpAuth(
            headers={"Authorization": f"Token token={token}"},
            secrets=[token],
            hint="the token setting",
        )

    def check(self) -> CheckResult:
        def describe(data: Mapping[str, Any]) -> str | None:
            if data.get("id") is None:
                return None
            return f"authenticated as user {data['id']} ({data.get('login')})"

        return self.live_check("/api/v1/users/me", describe)

    # -- pull ----------------------------------------------------------------------------------

    def _load(self, cursor: str) -> tuple[str, int, str | None]:
        data = self.load_cursor(cursor, CURSOR_VERSION)
        try:
            if data is None:
                raise ValueError("version")
            since = norm(data["since"])
            page = int(data.get("page") or 1)
            high = data.get("high")
            if page < 1:
                raise ValueError("page")
            return since, page, norm(high) if high else None
        except (ValueError, KeyError, TypeError) as exc:
            raise self.unreadable_cursor(type(exc).__name__) from None

    def _dump(self, since: str, page: int, high: str | None) -> str:
        return self.dump_cursor(CURSOR_VERSION, since=since, page=page, high=high)

    def _query(self, since: str) -> str:
        query = f"updated_at:>={since}"
        if self.groups:
            names = " OR ".join(f'"{g}"' for g in self.groups)
            query += f" AND group.name:({names})"
        return query

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        high: str | None = None
        if since is not None:
            bound, page_no = zms(since), 1
        elif full or not cursor:
            bound, page_no = DEFAULT_SINCE, 1
        else:
            bound, page_no, high = self._load(cursor)

        def fetch(bound: str, page_no: int) -> tuple[list[dict[str, Any]], bool, int]:
            params = {
                "query": self._query(bound),
                "sort_by": "updated_at",
                "order_by": "asc",
                "expand": "true",
                "page": page_no,
                "per_page": self.per_page,
            }
            items = self._search_items(self.http.get_json(SEARCH_PATH, params=params))
            return items, True, page_no + 1  # the listing ends at an empty page

        # Keyset-like: restart at the last ticket's updated_at (page 1) after a page that moved
        # past the bound; page on only while a whole page shares one updated_at.
        walk: TimeWindowWalk[dict[str, Any]] = TimeWindowWalk(
            self.guard(SEARCH_GET, "updated_at"),
            bound=bound,
            position=page_no,
            first_position=1,
            stamp=lambda raw: norm(raw.get("updated_at")),
            high=high,
        )
        for step in walk.run(fetch):
            if step.done:
                # Done: the next run re-reads an overlap before the newest change seen (the
                # search index is eventually consistent).
                overlap = timedelta(seconds=self.overlap)
                nxt = rewind(step.high, step.bound, overlap, parse=parse_time, render=zms)
                yield Page(cursor=self._dump(nxt, 1, None))
                return
            page = self._page(step.records)
            page.cursor = self._dump(step.bound, step.position, step.high)
            yield page

    def _search_items(self, data: Any) -> list[dict[str, Any]]:
        if isinstance(data, Mapping) and "tickets" in data:
            raise VendorDataError(
                self.label, SEARCH_GET, "got ids without expand=true (a proxy dropped it?)"
            )
        items = expect_list(data, self.label, SEARCH_GET)
        for n, item in enumerate(items):
            if not isinstance(item, dict) or item.get("id") is None:
                raise VendorDataError(self.label, SEARCH_GET, f"[{n}] is not a ticket with an id")
            try:
                norm(item.get("updated_at"))
            except ValueError:
                raise VendorDataError(
                    self.label,
                    SEARCH_GET,
                    f"[{n}].updated_at is missing or not a time",
                    record=f"ticket {item['id']}",
                ) from None
        return items

    def _page(self, items: list[dict[str, Any]]) -> Page:
        page = Page()
        extras = self.http.map(self._extras, items, max_workers=self.concurrency)
        for raw, (tags, articles) in zip(items, extras, strict=True):
            try:
                ticket = self._ticket(raw, tags)
                page.events.extend(self._events(ticket, articles))
            except MAPPING_ERRORS as exc:
                raise self.malformed(exc, SEARCH_GET, "ticket", raw) from None
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
        ext = id_field(raw)
        created = time_field(raw, "created_at")
        assert created is not None
        updated = time_field(raw, "updated_at", required=False) or created
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
            solved_at=time_field(raw, "close_at", required=False) if status.is_resolved else None,
            raw=raw,
        )

    def _events(self, ticket: Ticket, articles: list[Mapping[str, Any]]) -> list[Event]:
        events = [self.created_event(ticket, f"ticket-{ticket.external_id}-created")]
        for art in sorted(articles, key=lambda a: (str(a.get("created_at")), int(a["id"]))):
            sender = str(art.get("sender") or "").lower()
            events.append(
                Event(
                    id=f"{self.instance}:a{art['id']}",
                    ticket_id=ticket.id,
                    kind=EventKind.COMMENT,
                    at=time_field(art, "created_at", required=False) or ticket.created_at,
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
        path = f"/api/v1/tickets/{ext}"
        data = self.get_or_none(path, params={"expand": "true"})
        if data is not None and (not isinstance(data, dict) or data.get("id") is None):
            raise BackendError(f"{self.label}: GET {path}: malformed ticket (no id)")
        return data

    def fetch(self, external_id: str) -> Ticket | None:
        raw = self._get(bare_id(external_id))
        if raw is None:
            return None
        tags, _ = self._extras_tags_only(raw)
        return self.map_record(
            lambda r: self._ticket(r, tags), raw, "GET /api/v1/tickets/{id}", "ticket"
        )

    def _extras_tags_only(self, raw: Mapping[str, Any]) -> tuple[list[str], None]:
        data = self.http.get_json("/api/v1/tags", params={"object": "Ticket", "o_id": raw["id"]})
        tags = data.get("tags") if isinstance(data, Mapping) else None
        if not isinstance(tags, list):
            raise BackendError(f"{self.label}: GET /api/v1/tags: tags is not a list")
        return [str(t) for t in tags], None

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        ext = bare_id(external_id)
        current = self.existing(self._get(ext), ext, "ticket")
        body: dict[str, Any] = {}
        if changes.status is not None:
            want = self.converted(
                STATUS_TO_VENDOR.__getitem__, str(changes.status), f"ticket {ext}: status"
            )
            if self.status_map.get(str(current.get("state")), "") != self.status_map.get(want):
                body["state"] = want
                if want.startswith("pending"):
                    hours = self.options.pending_hours
                    body["pending_time"] = zms(now() + timedelta(hours=hours))
        if changes.priority is not None:
            prio = self.priority_write.get(str(changes.priority))
            if prio is None:
                raise BackendError(f"{self.label}: ticket {ext}: unknown priority")
            if current.get("priority") != prio:
                body["priority"] = prio
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
        customer = (
            self.requester_of(current, "customer_id", ext)
            if any(c.from_requester for c in changes.comments)
            else None
        )
        comments = changes.comments
        if customer is None:  # no customer: the customer's message is an internal note, theirs
            comments = [requester_note(c) for c in comments]
        for comment in comments:
            article: dict[str, Any] = {
                "ticket_id": int(ext),
                "body": comment.body,
                "content_type": "text/plain",
                "type": "note",
                "internal": not comment.public,
            }
            if comment.from_requester:
                # The customer's own message: a public article whose sender is Customer and
                # whose origin is the ticket's customer (an agent creating it on their behalf).
                article.update(internal=False, sender="Customer", origin_by_id=customer)
            self.http.json("POST", "/api/v1/ticket_articles", json=article)
            changed = True
        if not changed:
            return ApplyResult(ext, False, parse_time(current.get("updated_at")), "no change")
        after = self._get(ext)
        return ApplyResult(ext, True, parse_time((after or {}).get("updated_at")))

    def create(self, ticket: NewTicket) -> str:
        tags = list(ticket.tags)
        if ticket.marker:
            tags.append(marker_tag(ticket.marker))
        payload: dict[str, Any] = {
            "title": ticket.subject,
            "group": self.options.default_group or "Users",
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
        elif ticket.requester_phone:
            # ``guess:`` takes an email only: a WhatsApp or SMS customer is found (users search)
            # or created (a Customer with that mobile number) first, then named by id.
            phone = ticket.requester_phone
            found = self.person_by_phone(
                phone,
                search=self._customer_by_phone,
                create=lambda number: self._new_customer(number, ticket.requester_name),
                exists=self._active_user,
            )
            payload["customer_id"] = int(found) if found.isdigit() else found
            # The first article is the customer's message: sent by them, not by the API user.
            payload["article"].update(sender="Customer", origin_by_id=payload["customer_id"])

        def post() -> str:
            data = self.http.json("POST", "/api/v1/tickets", json=payload)
            if not isinstance(data, Mapping) or data.get("id") is None:
                raise BackendError(f"{self.label}: POST /api/v1/tickets: no ticket id returned")
            return str(data["id"])

        return self.create_once(ticket.marker, post)

    # -- customers known only by phone ----------------------------------------------------------

    def _customer_by_phone(self, phone: str) -> str | None:
        """The oldest user whose ``phone`` or ``mobile`` is ``phone`` (``same_phone``: the
        search is a full-text one and may return near matches)."""
        where = f"GET {USERS_SEARCH}"
        data = self.http.get_json(
            USERS_SEARCH,
            params={"query": f'phone:"{phone}" OR mobile:"{phone}"', "expand": "true"},
        )
        users = data.get("users") if isinstance(data, Mapping) else data
        ids = []
        for user in expect_list(users, self.label, where):
            if not isinstance(user, Mapping):
                raise VendorDataError(self.label, where, "a user is not an object")
            if any(same_phone(user.get(k), phone) for k in ("phone", "mobile")):
                try:
                    ids.append(int(id_field(user)))
                except MAPPING_ERRORS:
                    raise VendorDataError(self.label, where, "a user without an id") from None
        return str(min(ids)) if ids else None

    def _new_customer(self, phone: str, name: str) -> str:
        first, _, last = (name or phone).partition(" ")
        user = {"firstname": first, "lastname": last, "mobile": phone, "roles": ["Customer"]}
        data = self.http.json("POST", USERS_PATH, json=user)
        where = f"POST {USERS_PATH}"
        if not isinstance(data, Mapping):
            raise VendorDataError(self.label, where, "no user in the answer")
        try:
            return id_field(data)
        except MAPPING_ERRORS:
            raise VendorDataError(self.label, where, "the user has no id") from None

    def _active_user(self, user_id: str) -> bool:
        data = self.get_or_none(f"{USERS_PATH}/{user_id}")
        return isinstance(data, Mapping) and data.get("active", True) is not False

    def find_by_marker(self, marker: str) -> str | None:
        known = self.remembered_marker(marker)
        if known and self._get(known) is not None:
            return known
        tag = marker_tag(marker)
        data = self.http.get_json(
            SEARCH_PATH, params={"query": f'tags:"{tag}"', "expand": "true", "per_page": 20}
        )
        items = self._search_items(data)
        hits = [int(t["id"]) for t in items if tag in (t.get("tags") or [tag])]
        return str(min(hits)) if hits else None


__all__ = ["ZammadBackend", "ZammadSettings", "marker_tag"]
