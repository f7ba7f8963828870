"""A small stateful Help Scout (Mailbox API v2) served through respx, shaped as documented.

Conversations live in a dict; the fake answers the OAuth2 token endpoint, the HAL listing
(``_embedded.conversations``, ``page``, ``_links``) with ``status``, ``modifiedSince``
(inclusive), ``sortField=modifiedAt``, ``sortOrder``, ``mailbox``, ``tag``, ``embed=threads``
and ``page``, one conversation (404 when missing), threads, PATCH operations, PUT tags, notes,
replies and create (201 with ``Resource-ID``). ``script()`` queues canned answers in front of
the next matching request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import respx

CLIENT_ID = "hs-app-id-123"
CLIENT_SECRET = "hs-app-secret-SUPERSECRET-987"
T0 = 1_700_000_000
BASE = "https://api.helpscout.net"


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeHelpScout:
    def __init__(self, conversations: int = 20, *, page_size: int = 7, base: str = BASE) -> None:
        self.base = base
        self.page_size = page_size
        self.now = T0
        self.conversations: dict[int, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        self.expires_in = 172800
        self._scripted: list[tuple[str, str, Any]] = []
        self.list_headers: list[dict[str, str]] = []  # headers for the next listing answers
        self._next = 5000
        self._thread = 90000
        for n in range(1, conversations + 1):
            self.tick(60)
            cid = self._new(
                subject=f"Question {n}",
                email=f"c{n}@example.org",
                text=f"Hello {n}",
                tags=["seed"] + (["priority-high"] if n % 4 == 0 else []),
                status="active" if n % 3 else "closed",
            )
            if n % 2 == 0:
                self.tick(5)
                self._add_thread(cid, "reply", "user", 7, f"Answer {n}")
                self.conversations[cid]["assignee"] = {
                    "id": 7,
                    "first": "Ada",
                    "last": "Agent",
                    "email": "ada@acme.example",
                    "type": "user",
                }

    def tick(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now

    def _new(self, *, subject: str, email: str, text: str, tags: list[str], status: str) -> int:
        self._next += 1
        cid = self._next
        stamp = iso(self.now)
        self.conversations[cid] = {
            "id": cid,
            "number": cid - 4000,
            "type": "email",
            "folderId": 1,
            "status": status,
            "state": "published",
            "subject": subject,
            "preview": text[:60],
            "mailboxId": 321,
            "createdBy": {"id": cid * 10, "type": "customer", "email": email},
            "createdAt": stamp,
            "closedAt": stamp if status == "closed" else None,
            "userUpdatedAt": stamp,
            "source": {"type": "email", "via": "customer"},
            "tags": [{"id": i + 1, "color": "#929499", "tag": t} for i, t in enumerate(tags)],
            "primaryCustomer": {"id": cid * 10, "first": "Cus", "last": "Tomer", "email": email},
            "customFields": [],
            "_embedded": {"threads": []},
        }
        self._add_thread(cid, "customer", "customer", cid * 10, text, touch=False)
        return cid

    def _add_thread(
        self, cid: int, kind: str, by: str, by_id: int, text: str, *, touch: bool = True
    ) -> None:
        self._thread += 1
        conv = self.conversations[cid]
        conv["_embedded"]["threads"].insert(
            0,
            {
                "id": self._thread,
                "type": kind,
                "status": conv["status"],
                "state": "published",
                "body": text,
                "createdBy": {"id": by_id, "type": by},
                "createdAt": iso(self.now),
            },
        )
        if touch:
            conv["userUpdatedAt"] = iso(self.now)

    def touch(self, cid: int) -> None:
        self.tick(30)
        self.conversations[cid]["subject"] += "!"
        self.conversations[cid]["userUpdatedAt"] = iso(self.now)

    # -- scripting -----------------------------------------------------------------------------

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
        if path == "/v2/oauth2/token" and request.method == "POST":
            return self._token(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
            return httpx.Response(401, json={"error": "invalid_token"})
        query = {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        parts = path.strip("/").split("/")
        if parts[:2] != ["v2", "conversations"]:
            if path == "/v2/users/me":
                return httpx.Response(200, json={"id": 7, "firstName": "Ada"})
            return httpx.Response(404, json={"message": "not found"})
        if len(parts) == 2:
            if request.method == "GET":
                return self._list(query)
            if request.method == "POST":
                return self._create(json.loads(request.content))
        cid = int(parts[2]) if parts[2].isdigit() else -1
        conv = self.conversations.get(cid)
        if conv is None:
            return httpx.Response(404, json={"message": "Conversation not found"})
        if len(parts) == 3 and request.method == "GET":
            out = dict(conv)
            if query.get("embed") != "threads":
                out.pop("_embedded", None)
            return httpx.Response(200, json=out)
        if len(parts) == 3 and request.method == "PATCH":
            op = json.loads(request.content)
            self.tick()
            if op["path"] == "/status":
                conv["status"] = op["value"]
                conv["closedAt"] = iso(self.now) if op["value"] == "closed" else None
            elif op["path"] == "/assignTo":
                conv["assignee"] = (
                    None if op["op"] == "remove" else {"id": op["value"], "type": "user"}
                )
            elif op["path"] == "/mailboxId":
                conv["mailboxId"] = op["value"]
            else:
                return httpx.Response(400, json={"message": "bad patch"})
            conv["userUpdatedAt"] = iso(self.now)
            return httpx.Response(204)
        if parts[3:] == ["tags"] and request.method == "PUT":
            tags = json.loads(request.content)["tags"]
            self.tick()
            conv["tags"] = [{"id": i, "color": "#929499", "tag": t} for i, t in enumerate(tags)]
            conv["userUpdatedAt"] = iso(self.now)
            return httpx.Response(204)
        if parts[3:] in (["notes"], ["reply"]) and request.method == "POST":
            body = json.loads(request.content)
            self.tick()
            kind = "note" if parts[3] == "notes" else "reply"
            self._add_thread(cid, kind, "user", 7, body["text"])
            return httpx.Response(201, headers={"Resource-ID": str(self._thread)})
        if parts[3:] == ["threads"] and request.method == "GET":
            threads = conv["_embedded"]["threads"]
            return httpx.Response(
                200,
                json={
                    "_embedded": {"threads": threads},
                    "_links": {},
                    "page": {
                        "size": 50,
                        "totalElements": len(threads),
                        "totalPages": 1,
                        "number": 1,
                    },
                },
            )
        return httpx.Response(405)

    def _token(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if (
            body.get("grant_type") != "client_credentials"
            or body.get("client_id") != CLIENT_ID
            or body.get("client_secret") != CLIENT_SECRET
        ):
            return httpx.Response(
                401, json={"error": "invalid_client", "error_description": "Bad credentials"}
            )
        token = f"tok{len(self.tokens_issued) + 1}-abcdef0123"
        self.tokens_issued.append(token)
        self.valid_tokens.add(token)
        return httpx.Response(
            200,
            json={"token_type": "bearer", "access_token": token, "expires_in": self.expires_in},
        )

    def _list(self, query: dict[str, str]) -> httpx.Response:
        items = list(self.conversations.values())
        status = query.get("status", "active")
        if status != "all":
            items = [c for c in items if c["status"] == status]
        if "modifiedSince" in query:
            items = [c for c in items if c["userUpdatedAt"] >= query["modifiedSince"]]
        if "mailbox" in query:
            boxes = query["mailbox"].split(",")
            items = [c for c in items if str(c["mailboxId"]) in boxes]
        if "tag" in query:
            items = [c for c in items if any(t["tag"] == query["tag"] for t in c["tags"])]
        if query.get("sortField") == "modifiedAt":
            items.sort(key=lambda c: (c["userUpdatedAt"], c["id"]))
            if query.get("sortOrder") == "desc":
                items.reverse()
        number = int(query.get("page", "1"))
        total_pages = max(1, -(-len(items) // self.page_size))
        chunk = items[(number - 1) * self.page_size : number * self.page_size]
        out = []
        for conv in chunk:
            copy = dict(conv)
            if query.get("embed") != "threads":
                copy.pop("_embedded", None)
            out.append(copy)
        url = f"{self.base}/v2/conversations"
        links: dict[str, Any] = {
            "self": {"href": f"{url}?{urlencode({**query, 'page': number})}"},
            "first": {"href": f"{url}?{urlencode({**query, 'page': 1})}"},
            "last": {"href": f"{url}?{urlencode({**query, 'page': total_pages})}"},
            "page": {"href": f"{url}?page={{page}}", "templated": True},
        }
        if number < total_pages:
            links["next"] = {"href": f"{url}?{urlencode({**query, 'page': number + 1})}"}
        headers = self.list_headers.pop(0) if self.list_headers else {}
        return httpx.Response(
            200,
            headers=headers,
            json={
                "_embedded": {"conversations": out},
                "_links": links,
                "page": {
                    "size": self.page_size,
                    "totalElements": len(items),
                    "totalPages": total_pages,
                    "number": number,
                },
            },
        )

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        if not body.get("mailboxId") or not body.get("customer") or not body.get("threads"):
            return httpx.Response(400, json={"message": "Bad request"})
        self.tick()
        cid = self._new(
            subject=body["subject"],
            email=body["customer"]["email"],
            text=body["threads"][0]["text"],
            tags=body.get("tags") or [],
            status=body.get("status", "active"),
        )
        return httpx.Response(
            201,
            headers={
                "Resource-ID": str(cid),
                "Location": f"{self.base}/v2/conversations/{cid}",
            },
        )


def make_backend(fake: FakeHelpScout, *, state: Any = None, **overrides: Any) -> Any:
    from cstoolkit_helpscout import HelpScoutBackend

    from cstoolkit.store.kv import MemoryKeyValue

    config: dict[str, Any] = {s.name: s.default for s in HelpScoutBackend.settings}
    config.update(
        base_url=fake.base,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        read_only=False,
        filters=None,
        mapping=None,
        mailbox_id=321,
        default_rate_limit_wait=5.0,
    )
    config.update(overrides)
    backend = HelpScoutBackend("hs", config, state if state is not None else MemoryKeyValue("hs"))
    backend.http.sleep = lambda _s: None
    return backend
