"""A small stateful Jira Service Management Cloud served through respx, shaped as documented.

Issues live in a dict. The fake answers ``GET /rest/api/3/search/jql`` (JQL of the form
``project = X AND updated >= "yyyy/MM/dd HH:mm" [AND labels = "l"] ORDER BY updated ASC``,
the date read in the API user's time zone ``user_tz``; ``nextPageToken`` paging, ``isLast``,
the last page without a ``nextPageToken`` key as Jira Cloud does, ``expand=changelog``), the
old ``/rest/api/3/search`` with 410 Gone, one issue (404), transitions, edit, assignee, issue
create, and the service desk request comment / SLA / create endpoints. Every edit writes a
changelog history. ``script()`` queues canned answers.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import respx

EMAIL = "agent@acme.example"
API_TOKEN = "jira-api-token-SECRET-4242"
BASE = "https://acme.atlassian.net"
T0 = 1_700_000_000
STATUSES = {
    "1": ("Waiting for support", "new"),
    "2": ("Waiting for customer", "indeterminate"),
    "3": ("In Progress", "indeterminate"),
    "4": ("Resolved", "done"),
    "5": ("Closed", "done"),
}
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]


def jtime(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}+0000"


class FakeJira:
    def __init__(self, issues: int = 20, *, user_tz: str = "UTC", base: str = BASE) -> None:
        self.base = base
        self.user_tz = ZoneInfo(user_tz)
        self.now = float(T0)
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []
        self._scripted: list[tuple[str, str, Any]] = []
        self._ids = {"comment": 700, "history": 900}
        for n in range(1, issues + 1):
            self.tick(90)
            iid = self._create(f"Laptop {n} broken", labels=["seed"], priority=PRIORITIES[n % 5])
            if n % 2 == 0:
                self.tick(20)
                self._comment(iid, "557058:agent", "Looking into it", public=True)
                self._comment(iid, "557058:agent", "internal note", public=False)
            if n % 3 == 0:
                self.tick(20)
                self._set_status(iid, "3", "557058:agent")

    def tick(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _create(self, summary: str, *, labels: list[str], priority: str = "Medium") -> int:
        iid = 10000 + len(self.issues) + 1
        stamp = jtime(self.now)
        reporter = f"qm:customer-{iid}"
        self.issues[iid] = {
            "id": str(iid),
            "key": f"SD-{iid - 10000}",
            "self": f"{self.base}/rest/api/3/issue/{iid}",
            "fields": {
                "summary": summary,
                "status": self._status_obj("1"),
                "priority": {"id": str(PRIORITIES.index(priority) + 1), "name": priority},
                "assignee": None,
                "reporter": {
                    "accountId": reporter,
                    "displayName": f"Customer {iid}",
                    "emailAddress": f"c{iid}@example.org",
                    "accountType": "customer",
                },
                "labels": list(labels),
                "created": stamp,
                "updated": stamp,
                "resolutiondate": None,
                "description": {
                    "type": "doc",
                    "version": 1,
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": summary}]}
                    ],
                },
                "issuetype": {"id": "10001", "name": "Service Request"},
            },
            "_histories": [],
        }
        self.comments[iid] = []
        return iid

    @staticmethod
    def _status_obj(sid: str) -> dict[str, Any]:
        name, cat = STATUSES[sid]
        return {"id": sid, "name": name, "statusCategory": {"key": cat}}

    def _touch(self, iid: int) -> None:
        self.tick(1.5)
        self.issues[iid]["fields"]["updated"] = jtime(self.now)

    def _history(self, iid: int, author: str, items: list[dict[str, Any]]) -> None:
        self._touch(iid)
        self.issues[iid]["_histories"].append(
            {
                "id": str(self._next("history")),
                "author": {"accountId": author},
                "created": jtime(self.now),
                "items": items,
            }
        )

    def _set_status(self, iid: int, sid: str, author: str) -> None:
        fields = self.issues[iid]["fields"]
        old = fields["status"]
        fields["status"] = self._status_obj(sid)
        fields["resolutiondate"] = jtime(self.now) if STATUSES[sid][1] == "done" else None
        self._history(
            iid,
            author,
            [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "from": old["id"],
                    "fromString": old["name"],
                    "to": sid,
                    "toString": STATUSES[sid][0],
                }
            ],
        )

    def _comment(self, iid: int, author: str, body: str, *, public: bool) -> dict[str, Any]:
        self._touch(iid)
        comment = {
            "id": str(self._next("comment")),
            "body": body,
            "public": public,
            "author": {"accountId": author, "displayName": "Ada Agent"},
            "created": {
                "iso8601": jtime(self.now),
                "jira": jtime(self.now),
                "friendly": "Today",
                "epochMillis": int(self.now * 1000),
            },
        }
        self.comments[iid].append(comment)
        return comment

    def touch(self, iid: int) -> None:
        self.issues[iid]["fields"]["summary"] += "!"
        self._touch(iid)

    def script(self, method: str, path_prefix: str, answer: Any) -> None:
        self._scripted.append((method, path_prefix, answer))

    @contextmanager
    def mounted(self) -> Iterator[respx.Router]:
        with respx.mock(assert_all_called=False) as router:
            router.route(url__startswith=self.base).mock(side_effect=self.handle)
            yield router

    # -- HTTP ----------------------------------------------------------------------------------

    def _view(self, iid: int, expand: str = "") -> dict[str, Any]:
        issue = self.issues[iid]
        out = {k: v for k, v in issue.items() if not k.startswith("_")}
        out["fields"] = dict(issue["fields"])
        if "changelog" in expand:
            hs = list(reversed(issue["_histories"]))
            out["changelog"] = {
                "startAt": 0,
                "maxResults": len(hs),
                "total": len(hs),
                "histories": hs,
            }
        return out

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = urlsplit(str(request.url)).path
        for n, (method, prefix, answer) in enumerate(self._scripted):
            if method == request.method and path.startswith(prefix):
                del self._scripted[n]
                if isinstance(answer, Exception):
                    raise answer
                return answer
        expected = "Basic " + base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, text="Client must be authenticated to access this resource.")
        q = {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        body = json.loads(request.content) if request.content else {}
        m = request.method
        if path in ("/rest/api/3/search", "/rest/api/2/search"):
            return httpx.Response(
                410,
                json={
                    "errorMessages": [
                        "The requested API has been removed. "
                        "Please migrate to the /rest/api/3/search/jql API."
                    ]
                },
            )
        if path == "/rest/api/3/search/jql" and m == "GET":
            return self._search(q)
        if path == "/rest/api/3/myself":
            return httpx.Response(
                200,
                json={
                    "accountId": "557058:agent",
                    "displayName": "Ada",
                    "timeZone": str(self.user_tz),
                },
            )
        if path == "/rest/api/3/issue" and m == "POST":
            fields = body["fields"]
            self.tick(2)
            iid = self._create(
                fields["summary"],
                labels=fields.get("labels") or [],
                priority=fields.get("priority", {}).get("name", "Medium"),
            )
            return httpx.Response(
                201,
                json={
                    "id": str(iid),
                    "key": self.issues[iid]["key"],
                    "self": self.issues[iid]["self"],
                },
            )
        if path == "/rest/servicedeskapi/request" and m == "POST":
            values = body["requestFieldValues"]
            self.tick(2)
            iid = self._create(values["summary"], labels=values.get("labels") or [])
            return httpx.Response(
                201, json={"issueId": str(iid), "issueKey": self.issues[iid]["key"]}
            )
        match = re.fullmatch(r"/rest/servicedeskapi/request/(\d+)/(comment|sla)", path)
        if match:
            iid = int(match.group(1))
            if iid not in self.issues:
                return httpx.Response(404, json={"errorMessage": "Request does not exist"})
            if match.group(2) == "comment" and m == "POST":
                return httpx.Response(
                    201,
                    json=self._comment(
                        iid, "557058:agent", body["body"], public=bool(body.get("public"))
                    ),
                )
            if match.group(2) == "comment":
                values = self.comments[iid]
            else:
                values = [
                    {
                        "id": "1",
                        "name": "Time to first response",
                        "completedCycles": [],
                        "ongoingCycle": {
                            "breached": False,
                            "paused": False,
                            "withinCalendarHours": True,
                            "goalDuration": {"millis": 14400000, "friendly": "4h"},
                            "elapsedTime": {"millis": 60000, "friendly": "1m"},
                            "remainingTime": {"millis": 14340000, "friendly": "3h 59m"},
                        },
                        "_links": {"self": f"{self.base}/rest/servicedeskapi/request/{iid}/sla/1"},
                    }
                ]
            start, limit = int(q.get("start", "0")), int(q.get("limit", "50"))
            chunk = values[start : start + limit]
            return httpx.Response(
                200,
                json={
                    "size": len(chunk),
                    "start": start,
                    "limit": limit,
                    "isLastPage": start + limit >= len(values),
                    "values": chunk,
                    "_links": {},
                },
            )
        match = re.fullmatch(r"/rest/api/3/issue/(\d+)(/transitions|/assignee|/changelog)?", path)
        if match:
            iid = int(match.group(1))
            if iid not in self.issues:
                return httpx.Response(
                    404,
                    json={
                        "errorMessages": [
                            "Issue does not exist or you do not have permission to see it."
                        ],
                        "errors": {},
                    },
                )
            sub = match.group(2)
            fields = self.issues[iid]["fields"]
            if sub is None and m == "GET":
                return httpx.Response(200, json=self._view(iid, q.get("expand", "")))
            if sub is None and m == "PUT":
                return self._edit(iid, body)
            if sub == "/assignee" and m == "PUT":
                old = (fields["assignee"] or {}).get("accountId")
                fields["assignee"] = (
                    {"accountId": body["accountId"], "displayName": "Agent"}
                    if body.get("accountId")
                    else None
                )
                self._history(
                    iid,
                    "557058:agent",
                    [{"field": "assignee", "from": old, "to": body.get("accountId")}],
                )
                return httpx.Response(204)
            if sub == "/transitions" and m == "GET":
                current = fields["status"]["id"]
                return httpx.Response(
                    200,
                    json={
                        "expand": "transitions",
                        "transitions": [
                            {
                                "id": str(10 + int(sid)),
                                "name": f"To {name}",
                                "to": self._status_obj(sid),
                                "hasScreen": False,
                            }
                            for sid, (name, _cat) in STATUSES.items()
                            if sid != current
                        ],
                    },
                )
            if sub == "/transitions" and m == "POST":
                sid = str(int(body["transition"]["id"]) - 10)
                if sid not in STATUSES or sid == fields["status"]["id"]:
                    return httpx.Response(
                        400, json={"errorMessages": ["Transition id is not valid"]}
                    )
                self._set_status(iid, sid, "557058:agent")
                return httpx.Response(204)
        return httpx.Response(404, json={"errorMessages": ["not found"]})

    def _edit(self, iid: int, body: dict[str, Any]) -> httpx.Response:
        fields = self.issues[iid]["fields"]
        items = []
        for name, value in (body.get("fields") or {}).items():
            if name == "priority":
                items.append(
                    {
                        "field": "priority",
                        "fromString": fields["priority"]["name"],
                        "toString": value["name"],
                    }
                )
                fields["priority"] = {"id": "9", "name": value["name"]}
            else:
                fields[name] = value
                items.append({"field": name, "fromString": None, "toString": str(value)})
        for op in (body.get("update") or {}).get("labels", []):
            before = " ".join(fields["labels"])
            if "add" in op and op["add"] not in fields["labels"]:
                fields["labels"].append(op["add"])
            if "remove" in op and op["remove"] in fields["labels"]:
                fields["labels"].remove(op["remove"])
            items.append(
                {"field": "labels", "fromString": before, "toString": " ".join(fields["labels"])}
            )
        if items:
            self._history(iid, "557058:agent", items)
        return httpx.Response(204)

    def _search(self, q: dict[str, str]) -> httpx.Response:
        jql = q.get("jql", "")
        if not re.match(r"project = (\w+)", jql):
            return httpx.Response(
                400, json={"errorMessages": ["Unbounded JQL queries are not allowed here."]}
            )
        items = list(self.issues.values())
        since = re.search(r'updated >= "(\d{4}/\d\d/\d\d \d\d:\d\d)"', jql)
        if since:
            local = datetime.strptime(since.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=self.user_tz)
            bound = local.timestamp()
            items = [
                i
                for i in items
                if datetime.fromisoformat(i["fields"]["updated"]).timestamp() >= bound
            ]
        label = re.search(r'labels = "([^"]+)"', jql)
        if label:
            items = [i for i in items if label.group(1) in i["fields"]["labels"]]
        items.sort(key=lambda i: (i["fields"]["updated"], int(i["id"])))
        offset = 0
        if q.get("nextPageToken"):
            try:
                token_jql, offset_text = (
                    base64.b64decode(q["nextPageToken"]).decode().rsplit("|", 1)
                )
                offset = int(offset_text)
            except ValueError:
                return httpx.Response(400, json={"errorMessages": ["Invalid nextPageToken"]})
            if token_jql != jql:
                return httpx.Response(
                    400, json={"errorMessages": ["nextPageToken does not match the query"]}
                )
        size = int(q.get("maxResults", "50"))
        chunk = items[offset : offset + size]
        out: dict[str, Any] = {
            "issues": [self._view(int(i["id"]), q.get("expand", "")) for i in chunk]
        }
        if offset + size < len(items):
            out["nextPageToken"] = base64.b64encode(f"{jql}|{offset + size}".encode()).decode()
            out["isLast"] = False
        else:
            out["isLast"] = True  # and no nextPageToken key at all (JRACLOUD-92184)
        return httpx.Response(200, json=out)


def make_backend(fake: FakeJira, *, state: Any = None, **overrides: Any) -> Any:
    from cstoolkit_jira_sm import JiraSMBackend

    from cstoolkit.store.kv import MemoryKeyValue

    config: dict[str, Any] = {s.name: s.default for s in JiraSMBackend.settings}
    config.update(
        base_url=fake.base,
        email=EMAIL,
        api_token=API_TOKEN,
        project="SD",
        timezone=str(fake.user_tz),
        read_only=False,
        filters=None,
        mapping=None,
        page_size=6,
        default_rate_limit_wait=5.0,
    )
    config.update(overrides)
    backend = JiraSMBackend("jsm", config, state if state is not None else MemoryKeyValue("jsm"))
    backend.http.sleep = lambda _s: None
    return backend
