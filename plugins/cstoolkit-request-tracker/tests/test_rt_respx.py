"""The request_tracker backend over stubbed REST2 answers (respx): auth, malformed payloads,
pagination edges, cursors and settings. No server needed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from cstoolkit_request_tracker import RequestTrackerBackend

from cstoolkit.errors import AuthError, BackendError, ConfigError
from cstoolkit.model import Status
from cstoolkit.store.kv import MemoryKeyValue

BASE = "http://rt.test"
API = BASE + "/REST/2.0"
TOKEN = "1-14-secretsecretsecret0123456789"


def make(**settings: Any) -> RequestTrackerBackend:
    cfg: dict[str, Any] = {"base_url": BASE, "token": TOKEN, "events": False, **settings}
    return RequestTrackerBackend("rt", cfg, MemoryKeyValue("rt"))


def ticket(n: int, stamp: str, status: str = "open") -> dict[str, Any]:
    return {
        "type": "ticket",
        "id": str(n),
        "_url": f"{API}/ticket/{n}",
        "Subject": f"T{n} [cst:m{n}]",
        "Status": status,
        "Priority": "50",
        "Queue": {"id": "1", "type": "queue", "_url": f"{API}/queue/1"},
        "Owner": {"id": "Nobody", "type": "user"},
        "Requestor": [{"id": f"c{n}@example.org", "type": "user"}],
        "Created": "2026-01-01T00:00:00Z",
        "LastUpdated": stamp,
        "Resolved": "1970-01-01T00:00:00Z",
        "CustomFields": [],
    }


def page(items: list[Any], *, next_page: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"items": items, "count": len(items), "page": 1, "per_page": 2}
    if next_page:
        body["next_page"] = next_page
    return body


QUEUES = {"items": [{"id": "1", "Name": "General"}], "count": 1, "page": 1}


@respx.mock
def test_401_is_an_auth_error_without_the_secret() -> None:
    for path in ("/queues/all", "/rt"):
        respx.get(f"{API}{path}").mock(
            return_value=httpx.Response(401, json={"message": "Unauthorized"})
        )
    backend = make()
    with pytest.raises(AuthError) as err:
        list(backend.pull(None))
    assert err.value.exit_code == 2
    assert "401" in str(err.value) and "token" in str(err.value)
    assert TOKEN not in str(err.value)
    assert TOKEN not in repr(backend)
    verdict = backend.check()
    assert not verdict.ok and TOKEN not in verdict.detail


@respx.mock
def test_basic_auth_failure_never_shows_the_password() -> None:
    respx.get(f"{API}/rt").mock(return_value=httpx.Response(401, json={"message": "Unauthorized"}))
    backend = RequestTrackerBackend(
        "rt", {"base_url": BASE, "user": "root", "password": "hunter2-pw"}, MemoryKeyValue("rt")
    )
    verdict = backend.check()
    assert not verdict.ok and "user and password" in verdict.detail
    assert "hunter2-pw" not in verdict.detail


@respx.mock
def test_token_header_and_rebuilt_next_page() -> None:
    respx.get(f"{API}/queues/all").mock(return_value=httpx.Response(200, json=QUEUES))
    seen: list[httpx.Request] = []
    answers = [
        page(
            [ticket(1, "2026-01-02T00:00:00Z"), ticket(2, "2026-01-03T00:00:00Z")],
            # RT's own link carries a stray "&=&": it must not be followed as is
            next_page=f"{API}/tickets?query=x&=&page=2",
        ),
        page([ticket(2, "2026-01-03T00:00:00Z"), ticket(3, "2026-01-04T00:00:00Z")]),
        page([ticket(3, "2026-01-04T00:00:00Z")]),  # only what was read already: the end
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answers[len(seen) - 1])

    respx.get(f"{API}/tickets").mock(side_effect=answer)
    pages = list(make(per_page=2).pull(None))
    assert [[t.external_id for t in p.tickets] for p in pages] == [["1", "2"], ["3"], []]
    assert all(r.headers["Authorization"] == f"token {TOKEN}" for r in seen)
    assert all("&=&" not in str(r.url) for r in seen)
    second = dict(seen[1].url.params.multi_items())
    assert "LastUpdated >= '2026-01-03 00:00:00'" in second["query"]
    assert pages[0].tickets[0].subject == "T1"  # the [cst:...] marker suffix is stripped
    cursor = json.loads(pages[-1].cursor or "")
    assert cursor == {"v": 1, "last": "2026-01-04T00:00:00Z", "ids": ["3"]}


@respx.mock
def test_resume_rereads_the_overlap_window_and_since_is_inclusive() -> None:
    respx.get(f"{API}/queues/all").mock(return_value=httpx.Response(200, json=QUEUES))
    route = respx.get(f"{API}/tickets").mock(return_value=httpx.Response(200, json=page([])))
    cursor = json.dumps({"v": 1, "last": "2026-01-04T00:02:00Z", "ids": ["3"]})
    list(make(overlap=120).pull(cursor))
    assert "LastUpdated >= '2026-01-04 00:00:00'" in route.calls[-1].request.url.params["query"]
    from datetime import UTC, datetime

    list(make().pull(None, since=datetime(2026, 2, 1, 12, 30, 5, tzinfo=UTC)))
    assert "LastUpdated >= '2026-02-01 12:30:05'" in route.calls[-1].request.url.params["query"]
    list(make(filters={"queue": ["Support", "Sales"]}).pull("\x00garbage"))
    query = route.calls[-1].request.url.params["query"]
    assert query == "(Queue = 'Support' OR Queue = 'Sales')"  # garbage cursor: from the start


@respx.mock
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"total": 1}, "no items list"),
        ({"items": [{"Subject": "no id"}]}, "without an id"),
        ({"items": [{"id": "4", "Created": "never", "LastUpdated": "x"}]}, "Created/LastUpdated"),
        ("not json at all", "malformed JSON"),
    ],
)
def test_malformed_payloads_raise_backend_errors(body: Any, message: str) -> None:
    respx.get(f"{API}/queues/all").mock(return_value=httpx.Response(200, json=QUEUES))
    answer = (
        httpx.Response(200, text=body) if isinstance(body, str) else httpx.Response(200, json=body)
    )
    respx.get(f"{API}/tickets").mock(return_value=answer)
    with pytest.raises(BackendError) as err:
        list(make().pull(None))
    assert message in str(err.value)


@respx.mock
def test_rejected_and_deleted_tickets_are_reported_deleted() -> None:
    respx.get(f"{API}/queues/all").mock(return_value=httpx.Response(200, json=QUEUES))
    items = [
        ticket(1, "2026-01-02T00:00:00Z", "rejected"),
        ticket(2, "2026-01-02T00:00:01Z", "deleted"),
        ticket(3, "2026-01-02T00:00:02Z", "stalled"),
        ticket(4, "2026-01-02T00:00:03Z", "resolved"),
    ]
    respx.get(f"{API}/tickets").mock(return_value=httpx.Response(200, json=page(items)))
    (only,) = list(make().pull(None))
    assert only.deleted == ["1", "2"]
    assert [t.status for t in only.tickets] == [Status.ON_HOLD, Status.SOLVED]


@respx.mock
def test_fetch_of_a_missing_ticket_is_none_and_apply_names_it() -> None:
    respx.get(f"{API}/ticket/55").mock(
        return_value=httpx.Response(404, json={"message": "Not Found"})
    )
    backend = make()
    assert backend.fetch("55") is None
    from cstoolkit.plugin import Changes

    with pytest.raises(BackendError, match="ticket 55 not found"):
        backend.apply("55", Changes(priority="low"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"token": None}, "set token, or user and password"),
        ({"per_page": 500}, "per_page"),
        ({"filters": {"brand": "x"}}, "filters.brand"),
        ({"base_url": "ftp://rt.test"}, "not an http(s) URL"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(**settings)
