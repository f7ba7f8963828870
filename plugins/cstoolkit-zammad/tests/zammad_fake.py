"""A small stateful Zammad (REST /api/v1) served through respx, shaped as documented.

Tickets, articles and tags live in dicts. The fake answers ticket search (``query`` of the form
``updated_at:>=ISO`` optionally ``AND group.name:(...)`` or ``tags:"x"``, ``sort_by``,
``order_by``, ``expand=true`` -> a JSON array of expanded tickets, ``page``/``per_page``; an
empty array past the end), one ticket (404 when missing), articles by ticket, tags, tag
add/remove, article create, ticket update and create. ``script()`` queues canned answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import respx

TOKEN = "zm-token-SECRET-0123456789"
BASE = "http://127.0.0.1:3000"
T0 = 1_700_000_000
STATES = {1: "new", 2: "open", 3: "pending reminder", 4: "closed", 6: "pending close"}
PRIORITIES = {1: "1 low", 2: "2 normal", 3: "3 high", 4: "4 urgent"}


def iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class FakeZammad:
    def __init__(self, tickets: int = 20, *, base: str = BASE) -> None:
        self.base = base
        self.now_ms = T0 * 1000
        self.tickets: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, list[dict[str, Any]]] = {}
        self.tags: dict[int, list[str]] = {}
        self.requests: list[httpx.Request] = []
        self._scripted: list[tuple[str, str, Any]] = []
        self._article_id = 500
        for n in range(1, tickets + 1):
            self.tick(60_000)
            tid = self._create(
                title=f"Printer {n} broken",
                customer_id=100 + n,
                body=f"Help {n}",
                state=STATES[[1, 2, 3, 4][n % 4]],
                priority=PRIORITIES[[1, 2, 3][n % 3]],
                tags=["seed"],
            )
            if n % 2 == 0:
                self.tick(1234)
                self._article(tid, "Agent", 3, "We are on it", internal=False)
                self._article(tid, "Agent", 3, "internal remark", internal=True)

    def tick(self, ms: int = 1000) -> int:
        self.now_ms += ms
        return self.now_ms

    def _create(
        self, *, title: str, customer_id: int, body: str, state: str, priority: str, tags: list[str]
    ) -> int:
        tid = max(self.tickets, default=0) + 1
        stamp = iso(self.now_ms)
        group_id = 1 if tid % 2 else 2
        self.tickets[tid] = {
            "id": tid,
            "group_id": group_id,
            "priority_id": next(k for k, v in PRIORITIES.items() if v == priority),
            "state_id": next(k for k, v in STATES.items() if v == state),
            "organization_id": None,
            "number": str(31000 + tid),
            "title": title,
            "owner_id": 1,
            "customer_id": customer_id,
            "note": None,
            "first_response_at": None,
            "close_at": stamp if state == "closed" else None,
            "last_contact_at": stamp,
            "create_article_type_id": 5,
            "create_article_sender_id": 2,
            "article_count": 1,
            "pending_time": None,
            "created_at": stamp,
            "updated_at": stamp,
            "group": "Users" if group_id == 1 else "Sales",
            "state": state,
            "priority": priority,
            "owner": "-",
            "customer": f"c{customer_id}@example.org",
            "create_article_type": "email",
            "create_article_sender": "Customer",
        }
        self.articles[tid] = []
        self.tags[tid] = list(tags)
        self._article(tid, "Customer", customer_id, body, internal=False, touch=False)
        return tid

    def _article(
        self, tid: int, sender: str, by: int, body: str, *, internal: bool, touch: bool = True
    ) -> None:
        self._article_id += 1
        self.articles[tid].append(
            {
                "id": self._article_id,
                "ticket_id": tid,
                "type_id": 10 if sender == "Agent" else 1,
                "sender_id": 1 if sender == "Agent" else 2,
                "from": "someone",
                "subject": None,
                "body": body,
                "content_type": "text/plain",
                "internal": internal,
                "created_by_id": by,
                "updated_by_id": by,
                "created_at": iso(self.now_ms),
                "updated_at": iso(self.now_ms),
                "type": "note" if sender == "Agent" else "email",
                "sender": sender,
                "created_by": f"user{by}",
            }
        )
        if touch:
            self._touch(tid)

    def _touch(self, tid: int) -> None:
        self.tick(1000)
        self.tickets[tid]["updated_at"] = iso(self.now_ms)

    def touch(self, tid: int) -> None:
        self.tickets[tid]["title"] += "!"
        self._touch(tid)

    def script(self, method: str, path_prefix: str, answer: Any) -> None:
        self._scripted.append((method, path_prefix, answer))

    @contextmanager
    def mounted(self) -> Iterator[respx.Router]:
        with respx.mock(assert_all_called=False) as router:
            router.route(url__startswith=self.base).mock(side_effect=self.handle)
            yield router

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = urlsplit(str(request.url)).path
        for n, (method, prefix, answer) in enumerate(self._scripted):
            if method == request.method and path.startswith(prefix):
                del self._scripted[n]
                if isinstance(answer, Exception):
                    raise answer
                return answer
        if request.headers.get("authorization") != f"Token token={TOKEN}":
            return httpx.Response(401, json={"error": "authentication failed"})
        query = {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        body = json.loads(request.content) if request.content else {}
        m = request.method
        if path == "/api/v1/users/me":
            return httpx.Response(200, json={"id": 3, "login": "agent@example.com"})
        if path == "/api/v1/tickets/search" and m == "GET":
            return self._search(query)
        if path == "/api/v1/tags" and m == "GET":
            tid = int(query["o_id"])
            return httpx.Response(200, json={"tags": list(self.tags.get(tid, []))})
        if path in ("/api/v1/tags/add", "/api/v1/tags/remove"):
            tid = int(body["o_id"])
            if tid not in self.tickets:
                return httpx.Response(422, json={"error": "No such object"})
            tags = self.tags[tid]
            if path.endswith("add") and m == "POST" and body["item"] not in tags:
                tags.append(body["item"])
                self._touch(tid)
            elif path.endswith("remove") and m == "DELETE" and body["item"] in tags:
                tags.remove(body["item"])
                self._touch(tid)
            return httpx.Response(200, json=True)
        if path == "/api/v1/ticket_articles" and m == "POST":
            tid = int(body["ticket_id"])
            self._article(tid, "Agent", 3, body["body"], internal=bool(body.get("internal")))
            return httpx.Response(201, json=self.articles[tid][-1])
        match = re.fullmatch(r"/api/v1/ticket_articles/by_ticket/(\d+)", path)
        if match and m == "GET":
            tid = int(match.group(1))
            if tid not in self.tickets:
                return httpx.Response(404, json={"error": "Not authorized"})
            return httpx.Response(200, json=self.articles[tid])
        if path == "/api/v1/tickets" and m == "POST":
            return self._post_ticket(body)
        match = re.fullmatch(r"/api/v1/tickets/(\d+)", path)
        if match:
            tid = int(match.group(1))
            ticket = self.tickets.get(tid)
            if ticket is None:
                return httpx.Response(
                    404, json={"error": "Couldn't find Ticket with 'id'=" + str(tid)}
                )
            if m == "GET":
                return httpx.Response(200, json=ticket)
            if m == "PUT":
                return self._put(tid, body)
        return httpx.Response(404, json={"error": "No route matches"})

    def _search(self, query: dict[str, str]) -> httpx.Response:
        q = query.get("query", "")
        items = list(self.tickets.values())
        since = re.search(r"updated_at:>=(\S+)", q)
        if since:
            items = [t for t in items if t["updated_at"] >= since.group(1)]
        groups = re.search(r"group\.name:\(([^)]*)\)", q)
        if groups:
            names = re.findall(r'"([^"]+)"', groups.group(1))
            items = [t for t in items if t["group"] in names]
        tag = re.search(r'tags:"([^"]+)"', q)
        if tag:
            items = [t for t in items if tag.group(1) in self.tags[t["id"]]]
        if query.get("sort_by") == "updated_at":
            items.sort(key=lambda t: (t["updated_at"], t["id"]))
            if query.get("order_by") == "desc":
                items.reverse()
        per_page = int(query.get("per_page", "50"))
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        if query.get("expand") != "true":
            return httpx.Response(
                200, json={"tickets": [t["id"] for t in chunk], "tickets_count": len(chunk)}
            )
        return httpx.Response(200, json=chunk)

    def _put(self, tid: int, body: dict[str, Any]) -> httpx.Response:
        ticket = self.tickets[tid]
        if "state" in body:
            if body["state"] not in STATES.values():
                return httpx.Response(422, json={"error": "No lookup value found for 'state'"})
            if body["state"].startswith("pending") and not body.get("pending_time"):
                return httpx.Response(
                    422, json={"error": "Missing required value for field 'pending_time'!"}
                )
            ticket["state"] = body["state"]
            ticket["pending_time"] = body.get("pending_time")
        if "priority" in body:
            if body["priority"] not in PRIORITIES.values():
                return httpx.Response(422, json={"error": "No lookup value found for 'priority'"})
            ticket["priority"] = body["priority"]
        for key in ("owner_id", "group_id"):
            if key in body:
                ticket[key] = body[key]
        self._touch(tid)
        return httpx.Response(200, json=ticket)

    def _post_ticket(self, body: dict[str, Any]) -> httpx.Response:
        if not body.get("title") or not body.get("group") or not body.get("article"):
            return httpx.Response(422, json={"error": "Missing required value"})
        self.tick(1000)
        tags = [t for t in str(body.get("tags") or "").split(",") if t]
        tid = self._create(
            title=body["title"],
            customer_id=999,
            body=body["article"]["body"],
            state=body.get("state", "new"),
            priority=body.get("priority", "2 normal"),
            tags=tags,
        )
        return httpx.Response(201, json=self.tickets[tid])


def make_backend(fake: FakeZammad, *, state: Any = None, **overrides: Any) -> Any:
    from cstoolkit_zammad import ZammadBackend

    from cstoolkit.store.kv import MemoryKeyValue

    config: dict[str, Any] = {s.name: s.default for s in ZammadBackend.settings}
    config.update(
        base_url=fake.base,
        token=TOKEN,
        read_only=False,
        filters=None,
        mapping={"priorities": {"4 urgent": "urgent"}},
        per_page=6,
        concurrency=1,
        default_rate_limit_wait=5.0,
    )
    config.update(overrides)
    backend = ZammadBackend("zm", config, state if state is not None else MemoryKeyValue("zm"))
    backend.http.sleep = lambda _s: None
    return backend
