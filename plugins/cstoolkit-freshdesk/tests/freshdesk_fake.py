"""A small stateful Freshdesk (API v2), served through respx, shaped like the documented API.

The ticket listing honours ``updated_since`` (inclusive), ``order_by=updated_at``,
``order_type``, ``per_page`` (max 100), ``page`` (refused past ``page_cap``, like Freshdesk's
300-page limit), ``filter=deleted|spam`` and ``include=requester,stats,description``, and
pages with a ``Link: <...>; rel="next"`` header. Times have one-second precision, so several
tickets can share an ``updated_at``. ``script()`` queues canned answers in front of matching
requests; ``on_list_page`` lets a test change data between two pages of a walk.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import respx

API_KEY = "fd-api-key-ABCDEFGH12345"
T0 = 1_700_000_000
PLAN_FIELD = "plan"


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


class FakeFreshdesk:
    def __init__(
        self,
        tickets: int = 30,
        *,
        base: str = "https://acme.freshdesk.com",
        page_cap: int = 300,
        same_second: int = 1,
    ) -> None:
        self.base = base.rstrip("/")
        self.link_base = self.base  # what Link headers name (Freshdesk's own host)
        self.now = T0
        self.page_cap = page_cap
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.companies = {
            50: {"id": 50, "name": "Acme Corp", "custom_fields": {PLAN_FIELD: "gold"}},
        }
        self.groups = [
            {"id": 7, "name": "Support", "agent_ids": [901]},
            {"id": 8, "name": "Billing", "agent_ids": [901, 902]},
        ]
        self.agents = [
            {"id": 901, "contact": {"name": "Ana Agent", "email": "ana@acme.example"}},
            {"id": 902, "contact": {"name": "Ben Agent", "email": "ben@acme.example"}},
        ]
        self.requests: list[httpx.Request] = []
        self.on_list_page: Callable[[int], None] | None = None
        self._scripted: list[tuple[str, str, Any]] = []
        self._conv_id = 7000
        self._seed(tickets, same_second)

    # -- data ----------------------------------------------------------------------------------

    def tick(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now

    def _seed(self, count: int, same_second: int) -> None:
        for n in range(1, count + 1):
            if (n - 1) % same_second == 0:
                self.tick(60)
            self.contacts[500 + n] = {
                "id": 500 + n,
                "name": f"Customer {n}",
                "email": f"c{n}@example.org",
                "mobile": None,
                "phone": None,
            }
            tid = self.create(
                subject=f"Issue {n}",
                description=f"<div>Help with {n}</div>",
                requester=500 + n,
                source=[1, 2, 3, 7, 9][n % 5],
                priority=1 + n % 4,
                tags=["seed"],
                company_id=50 if n % 4 == 0 else None,
                group_id=7 if n % 2 else 8,
                tick=False,
            )
            self.conversations[tid].append(self._conv(tid, 500 + n, True, False, "More info"))
            if n % 3 == 0:
                self.conversations[tid].append(self._conv(tid, 901, False, False, "Answer"))
                self.conversations[tid].append(self._conv(tid, 901, False, True, "Note"))

    def _conv(
        self, tid: int, user: int, incoming: bool, private: bool, text: str
    ) -> dict[str, Any]:
        self._conv_id += 1
        return {
            "id": self._conv_id,
            "body": f"<div>{text}</div>",
            "body_text": text,
            "incoming": incoming,
            "private": private,
            "user_id": user,
            "support_email": None,
            "source": 2 if private else 0,
            "ticket_id": tid,
            "created_at": iso(self.now),
            "updated_at": iso(self.now),
        }

    def create(
        self,
        *,
        subject: str,
        description: str,
        requester: int,
        source: int = 2,
        priority: int = 1,
        status: int = 2,
        tags: list[str] | None = None,
        company_id: int | None = None,
        group_id: int | None = None,
        custom_fields: dict[str, Any] | None = None,
        tick: bool = True,
    ) -> int:
        ts = self.tick() if tick else self.now
        tid = max(self.tickets, default=0) + 1
        self.tickets[tid] = {
            "id": tid,
            "subject": subject,
            "description": description,
            "description_text": re.sub("<[^>]+>", "", description),
            "status": status,
            "priority": priority,
            "source": source,
            "type": "Question",
            "requester_id": requester,
            "responder_id": None,
            "group_id": group_id,
            "company_id": company_id,
            "product_id": None,
            "email_config_id": 3,
            "tags": list(tags or []),
            "custom_fields": {"cf_product": None, **(custom_fields or {})},
            "spam": False,
            "deleted": False,
            "fr_escalated": False,
            "is_escalated": False,
            "created_at": iso(ts),
            "updated_at": iso(ts),
            "due_by": iso(ts + 86400),
            "fr_due_by": iso(ts + 3600),
            "stats": {
                "agent_responded_at": None,
                "requester_responded_at": None,
                "first_responded_at": None,
                "status_updated_at": iso(ts),
                "reopened_at": None,
                "resolved_at": None,
                "closed_at": None,
                "pending_since": None,
            },
        }
        self.conversations[tid] = []
        return tid

    def update(self, tid: int, fields: Mapping[str, Any], *, tick: bool = True) -> None:
        ticket = self.tickets[tid]
        ts = self.tick() if tick else self.now
        for key, value in fields.items():
            if key == "custom_fields":
                ticket["custom_fields"].update(value)
            else:
                ticket[key] = value
        if fields.get("status") in (4, 5) and not ticket["stats"]["resolved_at"]:
            ticket["stats"]["resolved_at"] = iso(ts)
        ticket["updated_at"] = iso(ts)

    def add_conversation(self, tid: int, *, user: int, private: bool, text: str) -> dict[str, Any]:
        self.tick()
        conv = self._conv(tid, user, False, private, text)
        self.conversations[tid].append(conv)
        self.tickets[tid]["updated_at"] = iso(self.now)
        return conv

    # -- scripting -----------------------------------------------------------------------------

    def script(self, method: str, path_prefix: str, *answers: Any) -> None:
        for answer in answers:
            self._scripted.append((method.upper(), path_prefix, answer))

    @contextmanager
    def mounted(self) -> Iterator[respx.Router]:
        with respx.mock(assert_all_called=False) as router:
            router.route(url__startswith=self.base).mock(side_effect=self.handle)
            yield router

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        prefix = urlsplit(self.base).path.rstrip("/")
        path = request.url.path.removeprefix(prefix)
        for i, (method, prefix, answer) in enumerate(self._scripted):
            if method == request.method and path.startswith(prefix):
                del self._scripted[i]
                if isinstance(answer, BaseException):
                    raise answer
                if callable(answer):
                    result = answer(request)
                    if result is None:
                        break
                    return result
                return answer
        header = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
        if header != expected:
            return httpx.Response(
                401,
                json={
                    "code": "invalid_credentials",
                    "message": "You have to be logged in to perform this action.",
                },
            )
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        body = json.loads(request.content) if request.content else None
        routes: list[tuple[str, str, Callable[..., httpx.Response]]] = [
            ("GET", r"/api/v2/tickets", self._list),
            ("POST", r"/api/v2/tickets", self._create),
            ("GET", r"/api/v2/tickets/(\d+)", self._show),
            ("PUT", r"/api/v2/tickets/(\d+)", self._put),
            ("GET", r"/api/v2/tickets/(\d+)/conversations", self._conversations),
            ("POST", r"/api/v2/tickets/(\d+)/notes", self._note),
            ("POST", r"/api/v2/tickets/(\d+)/reply", self._reply),
            ("GET", r"/api/v2/search/tickets", self._search),
            ("GET", r"/api/v2/agents/me", lambda q, b: httpx.Response(200, json=self.agents[0])),
            ("GET", r"/api/v2/agents", lambda q, b: self._paged(self.agents, q, "/api/v2/agents")),
            ("GET", r"/api/v2/groups", lambda q, b: self._paged(self.groups, q, "/api/v2/groups")),
            ("GET", r"/api/v2/companies/(\d+)", self._company),
        ]
        for method, pattern, handler in routes:
            m = re.fullmatch(pattern, path)
            if m and request.method == method:
                response = handler(query, body, *m.groups())
                response.headers["X-RateLimit-Total"] = "200"
                response.headers["X-RateLimit-Remaining"] = "150"
                return response
        return httpx.Response(404, json={"code": "not_found"})

    def _paged(self, items: list[Any], q: dict[str, str], path: str) -> httpx.Response:
        per_page = int(q.get("per_page", 30))
        page = int(q.get("page", 1))
        if per_page > 100:
            return httpx.Response(400, json={"description": "Validation failed"})
        if page > self.page_cap:
            return httpx.Response(
                400,
                json={
                    "description": "Validation failed",
                    "errors": [
                        {
                            "field": "page",
                            "message": f"It should be a Positive Integer less than or equal to "
                            f"{self.page_cap}",
                            "code": "invalid_value",
                        }
                    ],
                },
            )
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = {**q, "page": page + 1}
            headers["Link"] = f'<{self.link_base}{path}?{urlencode(nxt)}>; rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)

    def _view(self, t: dict[str, Any], include: set[str]) -> dict[str, Any]:
        out = json.loads(json.dumps(t))
        if "stats" not in include:
            out.pop("stats")
        if "description" not in include:
            out.pop("description")
            out.pop("description_text")
        if "requester" in include:
            out["requester"] = self.contacts.get(t["requester_id"])
        return out

    def _list(self, q: dict[str, str], body: Any) -> httpx.Response:
        include = set(q.get("include", "").split(",")) - {""}
        view = q.get("filter")
        if view in ("deleted", "spam"):
            chosen = [t for t in self.tickets.values() if t[view]]
        else:
            chosen = [t for t in self.tickets.values() if not (t["deleted"] or t["spam"])]
            if "updated_since" in q:
                since = parse(q["updated_since"])
                chosen = [t for t in chosen if parse(t["updated_at"]) >= since]
            else:  # Freshdesk: without updated_since, only tickets created in the last 30 days
                chosen = [t for t in chosen if parse(t["created_at"]) >= self.now - 30 * 86400]
        key = q.get("order_by", "created_at")
        chosen.sort(key=lambda t: (t[key], t["id"]), reverse=q.get("order_type") != "asc")
        if self.on_list_page is not None:
            self.on_list_page(int(q.get("page", 1)))
        views = [self._view(t, include) for t in chosen]
        return self._paged(views, q, "/api/v2/tickets")

    def _show(self, q: dict[str, str], body: Any, tid: str) -> httpx.Response:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            return httpx.Response(404, json={"code": "not_found"})
        include = set(q.get("include", "").split(",")) | {"description"}
        return httpx.Response(200, json=self._view(ticket, include))

    def _put(self, q: dict[str, str], body: Any, tid: str) -> httpx.Response:
        if int(tid) not in self.tickets:
            return httpx.Response(404, json={"code": "not_found"})
        self.update(int(tid), body or {})
        return httpx.Response(200, json=self._view(self.tickets[int(tid)], {"description"}))

    def _conversations(self, q: dict[str, str], body: Any, tid: str) -> httpx.Response:
        items = self.conversations.get(int(tid))
        if items is None:
            return httpx.Response(404, json={"code": "not_found"})
        return self._paged(items, q, f"/api/v2/tickets/{tid}/conversations")

    def _note(self, q: dict[str, str], body: Any, tid: str) -> httpx.Response:
        conv = self.add_conversation(
            int(tid), user=901, private=bool(body.get("private", True)), text=body["body"]
        )
        return httpx.Response(201, json=conv)

    def _reply(self, q: dict[str, str], body: Any, tid: str) -> httpx.Response:
        conv = self.add_conversation(int(tid), user=901, private=False, text=body["body"])
        return httpx.Response(201, json=conv)

    def _create(self, q: dict[str, str], body: Any) -> httpx.Response:
        email = body.get("email")
        contact = next((c for c in self.contacts.values() if c["email"] == email), None)
        if contact is None:
            cid = max(self.contacts) + 1
            contact = {"id": cid, "name": body.get("name", ""), "email": email}
            self.contacts[cid] = contact
        tid = self.create(
            subject=body["subject"],
            description=body.get("description", ""),
            requester=contact["id"],
            source=body.get("source", 2),
            priority=body.get("priority", 1),
            status=body.get("status", 2),
            tags=body.get("tags"),
            custom_fields=body.get("custom_fields"),
        )
        return httpx.Response(201, json=self._view(self.tickets[tid], {"description"}))

    def _search(self, q: dict[str, str], body: Any) -> httpx.Response:
        m = re.fullmatch(r"\"tag:'([^']+)'\"", q.get("query", ""))
        if not m:
            return httpx.Response(400, json={"description": "Validation failed"})
        found = [t for t in self.tickets.values() if m.group(1) in t["tags"]]
        return httpx.Response(200, json={"results": found, "total": len(found)})

    def _company(self, q: dict[str, str], body: Any, cid: str) -> httpx.Response:
        company = self.companies.get(int(cid))
        if company is None:
            return httpx.Response(404, json={"code": "not_found"})
        return httpx.Response(200, json=company)


class FakeTime:
    def __init__(self) -> None:
        self.now = 10_000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make_backend(
    fake: FakeFreshdesk,
    *,
    instance: str = "fd",
    state: Any = None,
    clock: FakeTime | None = None,
    **overrides: Any,
) -> Any:
    from cstoolkit_freshdesk import FreshdeskBackend

    from cstoolkit.store.kv import MemoryKeyValue

    config: dict[str, Any] = {s.name: s.default for s in FreshdeskBackend.settings}
    config.update(
        base_url=fake.base,
        api_key=API_KEY,
        read_only=False,
        filters=None,
        mapping={"plan_field": PLAN_FIELD},
        concurrency=1,
    )
    config.update(overrides)
    backend = FreshdeskBackend(instance, config, state or MemoryKeyValue(instance))
    clock = clock or FakeTime()
    backend.http.sleep = clock.sleep
    backend.http.clock = clock.clock
    return backend
