"""A small stateful Zendesk, served through respx, shaped like the documented API responses.

It keeps tickets, users, organizations, groups, metric sets and audits in memory and answers:
the cursor-based ticket export (with sideloads), the time-based ticket-events export (with
``comment_events``), show/show_many, users/me, list by ``external_id``, create and update (with
``safe_update``). ``script()`` queues canned answers or exceptions (429s, 5xx, timeouts,
malformed bodies) in front of the next matching request; ``requests`` records everything sent.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import respx

EMAIL = "agent@example.com"
TOKEN = "zd-api-token-0123456789"
OAUTH = "zd-oauth-token-abcdef9876"
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
PLAN_FIELD = "support_plan"


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token(ts: int, tid: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}|{tid}".encode()).decode().rstrip("=")


def _untoken(text: str) -> tuple[int, int]:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    ts, tid = raw.split("|")
    return int(ts), int(tid)


class FakeZendesk:
    def __init__(
        self,
        tickets: int = 25,
        *,
        base: str = "https://acme.zendesk.com",
        export_delay: int = 0,
    ) -> None:
        self.base = base.rstrip("/")
        self.now = T0
        self.export_delay = export_delay  # Zendesk leaves the last minute out; 0 in tests
        self.tickets: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.orgs: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.metrics: dict[int, dict[str, Any]] = {}
        self.audits: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self._scripted: list[tuple[str, str, Any]] = []
        self._next_id = 90_000_000
        self._seed(tickets)

    # -- data ----------------------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def tick(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now

    def _seed(self, count: int) -> None:
        self.orgs[100] = {
            "id": 100,
            "name": "Groablet Enterprises",
            "organization_fields": {PLAN_FIELD: "enterprise"},
        }
        self.groups[10] = {"id": 10, "name": "Tier 1"}
        self.groups[11] = {"id": 11, "name": "Billing"}
        for uid, name in ((1, "Ada Agent"), (2, "Bo Agent")):
            self.users[uid] = {
                "id": uid,
                "name": name,
                "email": f"{name.split()[0].lower()}@acme.example",
                "role": "agent",
                "locale": "en-US",
                "iana_time_zone": "Europe/Madrid",
                "organization_id": None,
            }
        channels = ["email", "web", "native_messaging", "voice", "api"]
        statuses = ["new", "open", "pending", "hold", "solved"]
        priorities = [None, "low", "normal", "high", "urgent"]
        for n in range(1, count + 1):
            uid = 1000 + n
            self.users[uid] = {
                "id": uid,
                "name": f"Customer {n}",
                "email": f"customer{n}@example.org",
                "role": "end-user",
                "locale": "es" if n % 2 else "en-US",
                "organization_id": 100 if n % 3 == 0 else None,
            }
            self.tick(60)
            ticket = self._new_ticket(
                subject=f"Problem number {n}",
                body=f"Hello, I have problem {n}.",
                requester=uid,
                channel=channels[n % len(channels)],
                tags=["seed", f"n{n % 4}"],
                priority=priorities[n % len(priorities)],
                custom_fields=[{"id": 555, "value": f"v{n}"}, {"id": 556, "value": None}],
            )
            if n % 3 == 0:
                self.tick(30)
                self.update(
                    ticket["id"],
                    {"status": "open", "assignee_id": 1 + n % 2, "group_id": 10},
                    comment={"body": f"Agent reply to {n}", "public": True},
                    author=1 + n % 2,
                )
            target = statuses[n % len(statuses)]
            if target not in ("new", ticket["status"]):
                self.tick(5)
                self.update(ticket["id"], {"status": target}, author=1)

    def _new_ticket(
        self,
        *,
        subject: str,
        body: str,
        requester: int,
        channel: str = "api",
        tags: list[str] | None = None,
        priority: str | None = None,
        status: str = "new",
        custom_fields: list[dict[str, Any]] | None = None,
        external_id: str | None = None,
    ) -> dict[str, Any]:
        tid = max(self.tickets, default=0) + 1
        ts = self.now
        ticket: dict[str, Any] = {
            "id": tid,
            "url": f"{self.base}/api/v2/tickets/{tid}.json",
            "external_id": external_id,
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso(ts),
            "updated_at": iso(ts),
            "generated_timestamp": ts,
            "type": "question",
            "subject": subject,
            "raw_subject": subject,
            "description": body,
            "priority": priority,
            "status": status,
            "requester_id": requester,
            "submitter_id": requester,
            "assignee_id": None,
            "organization_id": self.users[requester].get("organization_id"),
            "group_id": None,
            "tags": list(tags or []),
            "custom_fields": list(custom_fields or []),
            "brand_id": 7,
        }
        self.tickets[tid] = ticket
        self.metrics[tid] = {
            "id": 5000 + tid,
            "ticket_id": tid,
            "created_at": iso(ts),
            "reopens": 0,
            "replies": 0,
            "solved_at": None,
            "reply_time_in_minutes": {"calendar": None, "business": None},
        }
        children = [
            {"id": self._id(), "event_type": "Create", "field_name": "status", "value": status},
            {
                "id": self._id(),
                "event_type": "Comment",
                "author_id": requester,
                "body": body,
                "public": True,
                "attachments": [],
                "created_at": iso(ts),
            },
            {"id": self._id(), "event_type": "Create", "field_name": "subject", "value": subject},
        ]
        self._audit(tid, requester, ts, children)
        return ticket

    def _audit(self, tid: int, author: int, ts: int, children: list[dict[str, Any]]) -> None:
        self.audits.append(
            {
                "id": self._id(),
                "ticket_id": tid,
                "timestamp": ts,
                "created_at": iso(ts),
                "updater_id": author,
                "via": "Web form",
                "event_type": "Audit",
                "child_events": children,
            }
        )

    def update(
        self,
        tid: int,
        fields: Mapping[str, Any],
        *,
        comment: Mapping[str, Any] | None = None,
        author: int = 1,
    ) -> dict[str, Any]:
        ticket = self.tickets[tid]
        ts = self.tick()
        children: list[dict[str, Any]] = []
        for key in ("status", "priority", "assignee_id", "group_id"):
            if key in fields and fields[key] != ticket.get(key):
                children.append(
                    {
                        "id": self._id(),
                        "event_type": "Change",
                        "field_name": key,
                        "value": fields[key],
                        "previous_value": ticket.get(key),
                    }
                )
                ticket[key] = fields[key]
        tags = list(ticket["tags"])
        new_tags = [t for t in tags if t not in fields.get("remove_tags", [])]
        new_tags += [t for t in fields.get("additional_tags", []) if t not in new_tags]
        if "tags" in fields:
            new_tags = list(fields["tags"])
        if new_tags != tags:
            children.append(
                {
                    "id": self._id(),
                    "event_type": "Change",
                    "field_name": "tags",
                    "value": new_tags,
                    "previous_value": tags,
                }
            )
            ticket["tags"] = new_tags
        for cf in fields.get("custom_fields", []):
            for have in ticket["custom_fields"]:
                if have["id"] == cf["id"]:
                    have["value"] = cf["value"]
                    break
            else:
                ticket["custom_fields"].append(dict(cf))
        if comment:
            children.append(
                {
                    "id": self._id(),
                    "event_type": "Comment",
                    "author_id": author,
                    "body": comment["body"],
                    "public": bool(comment.get("public", True)),
                    "attachments": [],
                    "created_at": iso(ts),
                }
            )
            self.metrics[tid]["replies"] += 1
        if ticket["status"] in ("solved", "closed") and not self.metrics[tid]["solved_at"]:
            self.metrics[tid]["solved_at"] = iso(ts)
        ticket["updated_at"] = iso(ts)
        ticket["generated_timestamp"] = ts
        if children:
            self._audit(tid, author, ts, children)
        return ticket

    def touch(self, tid: int) -> None:
        """Change a ticket behind the toolkit's back."""
        self.tick()
        self.update(tid, {"additional_tags": [f"upstream{self.now}"]}, author=2)

    def delete(self, tid: int) -> None:
        ts = self.tick()
        self.tickets[tid]["status"] = "deleted"
        self.tickets[tid]["generated_timestamp"] = ts

    # -- scripting -----------------------------------------------------------------------------

    def script(self, method: str, path_prefix: str, *answers: Any) -> None:
        """Answer the next matching requests with these (httpx.Response or an exception)."""
        for answer in answers:
            self._scripted.append((method.upper(), path_prefix, answer))

    @contextmanager
    def mounted(self) -> Iterator[respx.Router]:
        with respx.mock(assert_all_called=False) as router:
            router.route(url__startswith=self.base).mock(side_effect=self.handle)
            yield router

    # -- HTTP ----------------------------------------------------------------------------------

    def _authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            return header[7:] == OAUTH
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
            return decoded == f"{EMAIL}/token:{TOKEN}"
        return False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
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
        if not self._authorized(request):
            return httpx.Response(401, json={"error": "Couldn't authenticate you"})
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        body = json.loads(request.content) if request.content else None
        routes = [
            ("GET", r"/api/v2/incremental/tickets/cursor\.json", self._export),
            ("GET", r"/api/v2/incremental/ticket_events\.json", self._events),
            ("GET", r"/api/v2/users/me\.json", self._me),
            ("GET", r"/api/v2/users/show_many\.json", self._users_many),
            ("GET", r"/api/v2/users/(\d+)\.json", self._user),
            ("POST", r"/api/v2/users\.json", self._new_user),
            ("GET", r"/api/v2/search\.json", self._search_users),
            ("GET", r"/api/v2/tickets/show_many\.json", self._tickets_many),
            ("GET", r"/api/v2/tickets\.json", self._list),
            ("POST", r"/api/v2/tickets\.json", self._create),
            ("GET", r"/api/v2/tickets/(\d+)\.json", self._show),
            ("PUT", r"/api/v2/tickets/(\d+)\.json", self._put),
        ]
        for method, pattern, handler in routes:
            m = re.fullmatch(pattern, path)
            if m and request.method == method:
                return handler(query, body, *m.groups())  # type: ignore[operator]
        return httpx.Response(404, json={"error": "InvalidEndpoint"})

    def _sideloads(self, tickets: list[dict[str, Any]], include: str) -> dict[str, Any]:
        wanted = set(include.split(",")) if include else set()
        out: dict[str, Any] = {}
        if "users" in wanted:
            ids = sorted(
                {t[k] for t in tickets for k in ("requester_id", "assignee_id") if t.get(k)}
            )
            out["users"] = [self.users[i] for i in ids]
        if "groups" in wanted:
            groups = {t["group_id"] for t in tickets} - {None}
            out["groups"] = [self.groups[g] for g in sorted(groups)]
        if "organizations" in wanted:
            orgs = {t.get("organization_id") for t in tickets} - {None}
            out["organizations"] = [self.orgs[o] for o in sorted(orgs)]
        if "metric_sets" in wanted:
            out["metric_sets"] = [self.metrics[t["id"]] for t in tickets]
        return out

    def _export(self, q: dict[str, str], body: Any) -> httpx.Response:
        per_page = int(q.get("per_page", 1000))
        if per_page > 1000:
            return httpx.Response(422, json={"error": "per_page must be <= 1000"})
        if "cursor" in q:
            pos = _untoken(q["cursor"])
        elif "start_time" in q:
            pos = (int(q["start_time"]), -1)
        else:
            return httpx.Response(400, json={"error": "InvalidValue", "description": "start_time"})
        horizon = self.now - self.export_delay
        ordered = sorted(
            (t for t in self.tickets.values() if t["generated_timestamp"] <= horizon),
            key=lambda t: (t["generated_timestamp"], t["id"]),
        )
        rest = [t for t in ordered if (t["generated_timestamp"], t["id"]) > pos]
        page = [json.loads(json.dumps(t)) for t in rest[:per_page]]
        last = (page[-1]["generated_timestamp"], page[-1]["id"]) if page else pos
        after = _token(*last)
        data = {
            "tickets": page,
            "after_cursor": after,
            "after_url": f"{self.base}/api/v2/incremental/tickets/cursor.json?cursor={after}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": len(rest) <= per_page,
            **self._sideloads(page, q.get("include", "")),
        }
        return httpx.Response(200, json=data)

    def _events(self, q: dict[str, str], body: Any) -> httpx.Response:
        start = int(q["start_time"])
        per_page = int(q.get("per_page", 1000))
        comments = "comment_events" in q.get("include", "")
        ordered = sorted(
            (a for a in self.audits if a["timestamp"] >= start),
            key=lambda a: (a["timestamp"], a["id"]),
        )
        page = [json.loads(json.dumps(a)) for a in ordered[:per_page]]
        if not comments:
            for a in page:
                for c in a["child_events"]:
                    if c["event_type"] == "Comment":
                        c.pop("body", None)
        end = page[-1]["timestamp"] if page else start
        data = {
            "ticket_events": page,
            "count": len(page),
            "end_time": end,
            "end_of_stream": len(ordered) <= per_page,
            "next_page": f"{self.base}/api/v2/incremental/ticket_events.json?"
            + urlencode({"start_time": end}),
        }
        return httpx.Response(200, json=data)

    def _me(self, q: dict[str, str], body: Any) -> httpx.Response:
        return httpx.Response(200, json={"user": self.users[1]})

    def _users_many(self, q: dict[str, str], body: Any) -> httpx.Response:
        ids = [int(i) for i in q.get("ids", "").split(",") if i]
        users = [self.users[i] for i in ids if i in self.users]
        data: dict[str, Any] = {"users": users}
        if "organizations" in q.get("include", ""):
            orgs = {u.get("organization_id") for u in users} - {None}
            data["organizations"] = [self.orgs[o] for o in sorted(orgs)]
        return httpx.Response(200, json=data)

    def _tickets_many(self, q: dict[str, str], body: Any) -> httpx.Response:
        ids = [int(i) for i in q.get("ids", "").split(",") if i]
        return httpx.Response(
            200, json={"tickets": [self.tickets[i] for i in ids if i in self.tickets]}
        )

    def _list(self, q: dict[str, str], body: Any) -> httpx.Response:
        found = [
            t
            for t in self.tickets.values()
            if "external_id" not in q or t.get("external_id") == q["external_id"]
        ]
        return httpx.Response(200, json={"tickets": found, "count": len(found)})

    def _show(self, q: dict[str, str], body: Any, tid: str) -> httpx.Response:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            return httpx.Response(404, json={"error": "RecordNotFound"})
        return httpx.Response(200, json={"ticket": ticket})

    def _put(self, q: dict[str, str], body: Any, tid: str) -> httpx.Response:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            return httpx.Response(404, json={"error": "RecordNotFound"})
        fields = dict((body or {}).get("ticket") or {})
        if (
            fields.pop("safe_update", False)
            and fields.pop("updated_stamp", None) != ticket["updated_at"]
        ):
            return httpx.Response(
                409,
                json={
                    "error": "UpdateConflict",
                    "description": "Safe Update prevented the update due to outdated ticket "
                    "data. Please fetch the latest ticket data and try again.",
                },
            )
        comment = dict(fields.pop("comment", None) or {}) or None
        author = comment.pop("author_id", 1) if comment else 1
        self.update(int(tid), fields, comment=comment, author=author)
        return httpx.Response(200, json={"ticket": ticket, "audit": self.audits[-1]})

    def _user(self, q: dict[str, str], body: Any, uid: str) -> httpx.Response:
        user = self.users.get(int(uid))
        if user is None:
            return httpx.Response(404, json={"error": "RecordNotFound"})
        return httpx.Response(200, json={"user": {"active": True, **user}})

    def _new_user(self, q: dict[str, str], body: Any) -> httpx.Response:
        fields = (body or {}).get("user") or {}
        if not fields.get("name"):
            return httpx.Response(422, json={"error": "RecordInvalid"})
        uid = max(self.users) + 1
        self.users[uid] = {"id": uid, "role": "end-user", "organization_id": None, **fields}
        return httpx.Response(201, json={"user": {"active": True, **self.users[uid]}})

    def _search_users(self, q: dict[str, str], body: Any) -> httpx.Response:
        """``type:user role:end-user phone:<digits>`` only (what the plugin asks)."""
        m = re.fullmatch(r"type:user role:end-user phone:(\d+)", q.get("query", ""))
        if m is None:
            return httpx.Response(400, json={"error": "unsupported query in the fake"})
        found = [
            {**u, "result_type": "user"}
            for u in self.users.values()
            if u.get("role") == "end-user"
            and re.sub(r"\D", "", str(u.get("phone") or "")) == m.group(1)
        ]
        return httpx.Response(200, json={"results": found, "count": len(found)})

    def _create(self, q: dict[str, str], body: Any) -> httpx.Response:
        fields = (body or {}).get("ticket") or {}
        requester = fields.get("requester") or {}
        uid = next(
            (u["id"] for u in self.users.values() if u.get("email") == requester.get("email")),
            None,
        )
        if "requester_id" in fields:
            uid = fields["requester_id"]
            if uid not in self.users:
                return httpx.Response(422, json={"error": "RecordInvalid"})
        if uid is None:
            uid = max(self.users) + 1
            self.users[uid] = {
                "id": uid,
                "name": requester.get("name", ""),
                "email": requester.get("email"),
                "role": "end-user",
                "organization_id": None,
            }
        self.tick()
        ticket = self._new_ticket(
            subject=fields.get("subject", ""),
            body=(fields.get("comment") or {}).get("body", ""),
            requester=uid,
            tags=fields.get("tags"),
            priority=fields.get("priority"),
            status=fields.get("status") or "new",
            custom_fields=fields.get("custom_fields"),
            external_id=fields.get("external_id"),
        )
        return httpx.Response(201, json={"ticket": ticket})


class FakeTime:
    """Injected into the HTTP client: sleeping only moves this clock."""

    def __init__(self) -> None:
        self.now = 10_000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return T0 + self.now


def make_backend(
    fake: FakeZendesk,
    *,
    instance: str = "zd",
    state: Any = None,
    clock: FakeTime | None = None,
    **overrides: Any,
) -> Any:
    """A ZendeskBackend over ``fake`` with settings as the config layer would fill them."""
    from cstoolkit_zendesk import ZendeskBackend

    from cstoolkit.store.kv import MemoryKeyValue

    config: dict[str, Any] = {s.name: s.default for s in ZendeskBackend.settings}
    config.update(
        base_url=fake.base,
        email=EMAIL,
        token=TOKEN,
        read_only=False,
        filters=None,
        mapping={"plan_field": PLAN_FIELD},
    )
    config.update(overrides)
    backend = ZendeskBackend(instance, config, state or MemoryKeyValue(instance))
    clock = clock or FakeTime()
    backend.http.sleep = clock.sleep
    backend.http.clock = clock.clock
    backend.http.wall = clock.wall
    return backend
