"""A small stateful LiveAgent (API v3) served through respx.

Tickets and message groups live in dicts. The fake answers ``GET /tickets`` with ``_filters``
(``[["date_changed","D>=","..."],["departmentid","E","..."]]``), ``_sortField``, ``_sortDir``,
``_page``, ``_perPage`` (a JSON array; empty past the end), one ticket (404), messages, agents,
``/ping``, ``PUT /tickets/{id}``, ``POST /tickets/{id}/messages`` and ``POST /tickets``.
Dates are ``YYYY-MM-DD HH:MM:SS`` in the account's zone (UTC here).
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

API_KEY = "la-api-key-SECRET-5555"
BASE = "https://acme.ladesk.com"
T0 = 1_700_000_000


def ladate(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


class FakeLiveAgent:
    def __init__(self, tickets: int = 20, *, base: str = BASE) -> None:
        self.base = base
        self.now = T0
        self.tickets: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, list[dict[str, Any]]] = {}
        self.agents = [{"id": "ag001", "name": "Ada"}, {"id": "ag002", "name": "Bo"}]
        self.requests: list[httpx.Request] = []
        self._scripted: list[tuple[str, str, Any]] = []
        self._msg = 100
        for n in range(1, tickets + 1):
            self.now += 60
            tid = self._create(f"Order {n} late", f"c{n}@example.org", f"Where is order {n}?")
            if n % 2 == 0:
                self.now += 7
                self._message(tid, "ag001", "On its way", "M")
                self._message(tid, "ag002", "check courier", "I")

    def _create(self, subject: str, email: str, text: str, status: str = "N") -> str:
        tid = f"t{len(self.tickets) + 1:04d}"
        stamp = ladate(self.now)
        self.tickets[tid] = {
            "id": tid,
            "code": f"ABC-{len(self.tickets) + 1:05d}",
            "owner_contactid": f"ct{tid}",
            "owner_email": email,
            "owner_name": "Customer",
            "departmentid": "dep1",
            "agentid": None,
            "status": status,
            "tags": ["seed"],
            "channel_type": "E",
            "subject": subject,
            "date_created": stamp,
            "date_changed": stamp,
            "date_resolved": None,
        }
        self.groups[tid] = []
        self._message(tid, f"ct{tid}", text, "T", touch=False)
        return tid

    def _message(self, tid: str, user: str, text: str, kind: str, *, touch: bool = True) -> None:
        self._msg += 1
        self.groups[tid].append(
            {
                "id": f"g{self._msg}",
                "parent_id": tid,
                "userid": user,
                "type": kind,
                "status": "A",
                "datecreated": ladate(self.now),
                "messages": [
                    {
                        "id": f"m{self._msg}",
                        "userid": user,
                        "type": "M",
                        "datecreated": ladate(self.now),
                        "format": "T",
                        "message": text,
                    }
                ],
            }
        )
        if touch:
            self._touch(tid)

    def _touch(self, tid: str) -> None:
        self.now += 1
        self.tickets[tid]["date_changed"] = ladate(self.now)

    def touch(self, tid: str) -> None:
        self.tickets[tid]["subject"] += "!"
        self._touch(tid)

    def script(self, method: str, path_prefix: str, answer: Any) -> None:
        self._scripted.append((method, path_prefix, answer))

    @contextmanager
    def mounted(self) -> Iterator[respx.Router]:
        with respx.mock(assert_all_called=False) as router:
            router.route(url__startswith=self.base).mock(side_effect=self.handle)
            yield router

    def _page(self, items: list[Any], q: dict[str, str]) -> list[Any]:
        page, per = int(q.get("_page", "1")), int(q.get("_perPage", "10"))
        return items[(page - 1) * per : page * per]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = urlsplit(str(request.url)).path
        for n, (method, prefix, answer) in enumerate(self._scripted):
            if method == request.method and path.startswith(prefix):
                del self._scripted[n]
                if isinstance(answer, Exception):
                    raise answer
                return answer
        if request.headers.get("apikey") != API_KEY:
            return httpx.Response(401, json={"message": "Invalid API key"})
        if not path.startswith("/api/v3/"):
            return httpx.Response(404, json={"message": "Not found"})
        path = path[len("/api/v3") :]
        q = {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        body = json.loads(request.content) if request.content else {}
        m = request.method
        if path == "/ping":
            return httpx.Response(200, json={"status": "OK"})
        if path == "/agents":
            return httpx.Response(200, json=self._page(self.agents, q))
        if path == "/tickets" and m == "GET":
            items = list(self.tickets.values())
            for column, op, value in json.loads(q.get("_filters", "[]")):
                if op == "D>=":
                    items = [t for t in items if t[column] >= value]
                elif op == "E":
                    items = [t for t in items if str(t[column]) == value]
                else:
                    return httpx.Response(400, json={"message": f"Unknown operator {op}"})
            if q.get("_sortField"):
                items.sort(key=lambda t: (t[q["_sortField"]], t["id"]))
                if q.get("_sortDir") == "DESC":
                    items.reverse()
            return httpx.Response(200, json=self._page(items, q))
        if path == "/tickets" and m == "POST":
            self.now += 2
            tid = self._create(body["subject"], body["useridentifier"], body["message"])
            self.tickets[tid]["tags"] = list(body.get("tags") or [])
            self.tickets[tid]["departmentid"] = body.get("departmentid")
            return httpx.Response(200, json=self.tickets[tid])
        match = re.fullmatch(r"/tickets/([^/]+)(/messages)?", path)
        if match:
            tid = match.group(1)
            if tid not in self.tickets:
                return httpx.Response(404, json={"message": "Ticket not found"})
            if match.group(2):
                if m == "POST":
                    self._message(
                        tid, "ag001", body["message"], "I" if body.get("type") == "N" else "M"
                    )
                    return httpx.Response(200, json=self.groups[tid][-1])
                return httpx.Response(200, json=self._page(self.groups[tid], q))
            if m == "GET":
                return httpx.Response(200, json=self.tickets[tid])
            if m == "PUT":
                for key in ("status", "agentid", "departmentid", "tags"):
                    if key in body:
                        self.tickets[tid][key] = body[key]
                self._touch(tid)
                return httpx.Response(200, json=self.tickets[tid])
        return httpx.Response(404, json={"message": "Not found"})


def make_backend(fake: FakeLiveAgent, *, state: Any = None, **overrides: Any) -> Any:
    from cstoolkit_liveagent import LiveAgentBackend

    from cstoolkit.store.kv import MemoryKeyValue

    config: dict[str, Any] = {s.name: s.default for s in LiveAgentBackend.settings}
    config.update(
        base_url=fake.base,
        api_key=API_KEY,
        read_only=False,
        filters=None,
        mapping=None,
        per_page=6,
        default_rate_limit_wait=5.0,
    )
    config.update(overrides)
    backend = LiveAgentBackend("la", config, state if state is not None else MemoryKeyValue("la"))
    backend.http.sleep = lambda _s: None
    return backend
