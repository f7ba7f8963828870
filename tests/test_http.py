"""The shared HTTP layer: retries, rate limits, budgets, errors, redaction (respx, no network)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
import respx

from cstoolkit.errors import EXIT_USAGE, AuthError, BackendError, ConfigError
from cstoolkit.http import (
    HTTP_SETTINGS,
    RATE_LIMIT_HEADERS,
    Budget,
    HeaderRule,
    HttpClient,
    HttpError,
    TokenBucket,
    http_settings,
    link_next,
    parse_wait,
    read_rate_limit,
    register_rate_limit_header,
)

BASE = "https://acme.example.com"
SECRET = "s3cr3t-token-value"


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_now = wall
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
            self.wall_now += seconds

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_now


def make(t: FakeTime, **kw: object) -> HttpClient:
    kw.setdefault("auth", ("agent@example.com/token", SECRET))
    kw.setdefault("secrets", [SECRET])
    return HttpClient(
        BASE,
        label="zendesk instance 'zd'",
        sleep=t.sleep,
        clock=t.clock,
        wall=t.wall,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def t() -> FakeTime:
    return FakeTime()


# -- 429 -----------------------------------------------------------------------------------------


@respx.mock(base_url=BASE)
def test_429_with_retry_after_seconds_waits_exactly_that(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/api/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"}),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    client = make(t)
    assert client.get_json("/api/x") == {"ok": True}
    assert t.sleeps == [7.0]
    s = client.stats
    assert (s.requests, s.retries, s.rate_limited) == (2, 1, 1)
    assert s.seconds_waited_rate_limit == 7.0


@respx.mock(base_url=BASE)
def test_429_with_http_date_retry_after(respx_mock: respx.Router, t: FakeTime):
    when = datetime.fromtimestamp(t.wall_now + 42, UTC)
    respx_mock.get("/api/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
            httpx.Response(200, json=[]),
        ]
    )
    client = make(t)
    assert client.get_json("/api/x") == []
    assert t.sleeps == [pytest.approx(42.0, abs=1.0)]


@respx.mock(base_url=BASE)
def test_429_without_header_and_with_html_body_uses_default_wait(
    respx_mock: respx.Router, t: FakeTime
):
    respx_mock.get("/api/x").mock(
        side_effect=[
            httpx.Response(429, text="<html><body>Rate limited by edge protection</body></html>"),
            httpx.Response(429, content=b"\x00\xff not json"),
            httpx.Response(200, json={"ok": 1}),
        ]
    )
    client = make(t, default_rate_limit_wait=60.0)
    assert client.get_json("/api/x") == {"ok": 1}
    assert t.sleeps == [60.0, 60.0]
    assert client.stats.rate_limited == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Retry-After": "12"}, 12.0),  # Help Scout
        ({"ratelimit-reset": "33"}, 33.0),  # Zendesk
        ({"X-RateLimit-Reset": "2023-11-14T22:14:00Z"}, None),  # Jira: ISO time (computed)
    ],
)
@respx.mock(base_url=BASE)
def test_429_vendor_headers(
    respx_mock: respx.Router, t: FakeTime, headers: dict[str, str], expected: float | None
):
    respx_mock.get("/api/x").mock(
        side_effect=[httpx.Response(429, headers=headers), httpx.Response(200, json={})]
    )
    client = make(t)
    client.get_json("/api/x")
    if expected is None:
        reset = datetime(2023, 11, 14, 22, 14, tzinfo=UTC).timestamp()
        expected = max(0.5, reset - 1_700_000_000.0)
    assert t.sleeps == [pytest.approx(expected)]


@respx.mock(base_url=BASE)
def test_rate_limit_storm_gives_up_at_the_wait_cap_with_the_reason(
    respx_mock: respx.Router, t: FakeTime
):
    respx_mock.get("/rest/api/3/search/jql").mock(
        return_value=httpx.Response(
            429, headers={"Retry-After": "100", "RateLimit-Reason": "jira-quota-based"}
        )
    )
    client = make(t, max_retry_wait=250.0)
    with pytest.raises(BackendError) as err:
        client.get_json("/rest/api/3/search/jql", params={"jql": "updated > -1d"})
    message = str(err.value)
    assert "jira-quota-based" in message and "max_retry_wait" in message
    assert "jql=" not in message
    assert t.sleeps == [100.0, 100.0]  # a third wait would pass 250 s


# -- 5xx, timeouts, writes -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
@respx.mock(base_url=BASE)
def test_5xx_is_retried_with_jittered_exponential_backoff(
    respx_mock: respx.Router, t: FakeTime, status: int
):
    respx_mock.get("/api/x").mock(
        side_effect=[httpx.Response(status)] * 3 + [httpx.Response(200, json={"ok": 1})]
    )
    client = make(t, backoff_base=2.0)
    assert client.get_json("/api/x") == {"ok": 1}
    assert len(t.sleeps) == 3
    for n, slept in enumerate(t.sleeps):
        full = 2.0 * 2**n
        assert full / 2 <= slept <= full  # jitter keeps it within [half, full]
    assert client.stats.seconds_waited_backoff == pytest.approx(sum(t.sleeps))
    assert client.stats.seconds_waited_rate_limit == 0


@respx.mock(base_url=BASE)
def test_503_with_retry_after_waits_at_least_that(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/api/x").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "30"}), httpx.Response(200)]
    )
    make(t).request("GET", "/api/x")
    assert t.sleeps[0] >= 30


@respx.mock(base_url=BASE)
def test_persistent_5xx_gives_up_with_backend_error(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/api/x").mock(return_value=httpx.Response(502))
    client = make(t, max_retry_wait=100.0, backoff_base=1.0, backoff_max=16.0)
    with pytest.raises(BackendError, match=r"HTTP 502.*max_retry_wait"):
        client.get_json("/api/x")
    assert sum(t.sleeps) <= 100.0


@respx.mock(base_url=BASE)
def test_timeouts_are_retried_for_reads(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/api/x").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.ConnectTimeout("x"), httpx.Response(200)]
    )
    client = make(t)
    assert client.request("GET", "/api/x").status_code == 200
    assert client.stats.retries == 2


@respx.mock(base_url=BASE)
def test_writes_are_retried_only_when_idempotent(respx_mock: respx.Router, t: FakeTime):
    post = respx_mock.post("/api/tickets").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(201, json={})]
    )
    client = make(t)
    with pytest.raises(BackendError, match="may have been applied"):
        client.request("POST", "/api/tickets", json={"a": 1})
    assert post.call_count == 1
    # The caller marks a POST carrying an idempotency key: now it is retried.
    post.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(201, json={"id": 5})]
    assert client.json("POST", "/api/tickets", json={}, idempotent=True) == {"id": 5}
    # 5xx on a POST: not retried; on a PUT: retried.
    respx_mock.post("/api/notes").mock(return_value=httpx.Response(500))
    with pytest.raises(HttpError) as err:
        client.request("POST", "/api/notes", json={})
    assert err.value.status == 500
    put = respx_mock.put("/api/tickets/1").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={})]
    )
    client.request("PUT", "/api/tickets/1", json={})
    assert put.call_count == 2


@respx.mock(base_url=BASE)
def test_429_on_a_post_is_retried(respx_mock: respx.Router, t: FakeTime):
    route = respx_mock.post("/api/tickets").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(201)]
    )
    make(t).request("POST", "/api/tickets", json={})
    assert route.call_count == 2


# -- auth, malformed bodies, redaction -----------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
@respx.mock(base_url=BASE)
def test_auth_failure_is_exit_2_and_never_shows_the_token(
    respx_mock: respx.Router, t: FakeTime, status: int
):
    respx_mock.get("/api/v2/users/me.json").mock(
        return_value=httpx.Response(status, json={"error": f"Couldn't authenticate {SECRET}"})
    )
    client = make(t, auth_hint="the email and token settings")
    with pytest.raises(AuthError) as err:
        client.get_json("/api/v2/users/me.json")
    assert err.value.exit_code == EXIT_USAGE == 2
    assert SECRET not in str(err.value)
    assert "email and token" in str(err.value)
    assert client.stats.retries == 0


@respx.mock(base_url=BASE)
def test_malformed_json_names_the_path_but_not_the_query(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/api/v2/incremental/tickets/cursor.json").mock(
        return_value=httpx.Response(200, content=b'{"tickets": [{"id": 1},')
    )
    client = make(t)
    with pytest.raises(BackendError) as err:
        client.get_json("/api/v2/incremental/tickets/cursor.json", params={"api_key": SECRET})
    message = str(err.value)
    assert "/api/v2/incremental/tickets/cursor.json" in message and "malformed JSON" in message
    assert SECRET not in message and "api_key" not in message


@respx.mock(base_url=BASE)
def test_other_4xx_is_an_http_error_with_the_vendor_message(respx_mock: respx.Router, t: FakeTime):
    respx_mock.put("/api/v2/tickets/9.json").mock(
        return_value=httpx.Response(409, json={"error": "UpdateConflict", "description": "x"})
    )
    with pytest.raises(HttpError) as err:
        make(t).request("PUT", "/api/v2/tickets/9.json", json={})
    assert err.value.status == 409 and "x" in err.value.body


@respx.mock(base_url=BASE)
def test_logs_never_hold_credentials(
    respx_mock: respx.Router,
    t: FakeTime,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    respx_mock.get("/api/x").mock(side_effect=[httpx.Response(503), httpx.Response(200, json={})])
    # the CLI's logging set-up (run by other tests in this process) stops propagation
    monkeypatch.setattr(logging.getLogger("cstoolkit"), "propagate", True)
    client = make(t, headers={"X-Api-Key": SECRET})
    with caplog.at_level(logging.DEBUG):
        client.get_json("/api/x", params={"key": SECRET})
    text = caplog.text
    assert "retry 1" in text
    assert SECRET not in text and "Authorization" not in text and "Basic " not in text
    assert SECRET not in repr(client)


# -- budgets -------------------------------------------------------------------------------------


@respx.mock(base_url=BASE)
def test_endpoint_budget_paces_requests(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get(url__regex=r".*/api/v2/incremental/.*").mock(return_value=httpx.Response(200))
    respx_mock.get("/api/v2/users/me.json").mock(return_value=httpx.Response(200))
    client = make(t, budgets=[Budget("incremental", 10, "/api/v2/incremental/")])
    start = t.now
    for _ in range(5):
        client.request("GET", "/api/v2/incremental/tickets/cursor.json")
    assert t.now - start == pytest.approx(4 * 6.0)  # 10/min: one every 6 s after the first
    before = t.now
    client.request("GET", "/api/v2/users/me.json")  # other endpoints are not held back
    assert t.now == before
    assert client.stats.seconds_waited_rate_limit == pytest.approx(24.0)


@respx.mock(base_url="http://127.0.0.1:9")
def test_account_budget_keeps_a_share_for_others(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/x").mock(return_value=httpx.Response(200))
    client = HttpClient(
        "http://127.0.0.1:9",
        label="t",
        requests_per_minute=100,
        budget_share=0.5,
        sleep=t.sleep,
        clock=t.clock,
    )
    for _ in range(11):
        client.request("GET", "/x")
    assert t.now - 1000.0 == pytest.approx(10 * 1.2)  # 50/min
    with pytest.raises(ConfigError):
        HttpClient("http://127.0.0.1:9", label="t", requests_per_minute=10, budget_share=1.5)


@respx.mock(base_url=BASE)
def test_spent_window_holds_the_next_request(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/api/x").mock(
        side_effect=[
            httpx.Response(200, headers={"X-Rate-Limit-Remaining": "0", "ratelimit-reset": "9"}),
            httpx.Response(200),
        ]
    )
    client = make(t)
    client.request("GET", "/api/x")
    assert t.sleeps == []
    client.request("GET", "/api/x")
    assert t.sleeps == [pytest.approx(9.0)]


def test_token_bucket_is_fair_across_threads() -> None:
    bucket = TokenBucket(60)  # one a second
    waits: list[float] = []
    threads = [threading.Thread(target=lambda: waits.append(bucket.reserve(0.0))) for _ in range(5)]
    for thread in threads:  # the clock is given, not read: any interleaving gives the same waits
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_bounded_concurrency_map(t: FakeTime) -> None:
    client = HttpClient("http://127.0.0.1:9", label="t")
    live, peak, lock = [0], [0], threading.Lock()
    # The first two calls wait for each other: they are in flight together however busy the
    # machine is (a serial map would break the barrier instead of passing by luck).
    together = threading.Barrier(2, timeout=60)

    def work(n: int) -> int:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        if n < 2:
            together.wait()
        time.sleep(0.01)  # more calls pile up: the bound, not the timing, keeps them at 3
        with lock:
            live[0] -= 1
        return n * 2

    assert client.map(work, range(20), max_workers=3) == [n * 2 for n in range(20)]
    assert 1 < peak[0] <= 3


# -- configuration and helpers -------------------------------------------------------------------


def test_base_url_validation_allows_local_servers() -> None:
    assert HttpClient("http://127.0.0.1:8080/", label="t").base_url == "http://127.0.0.1:8080"
    for bad in ("ftp://x", "acme.zendesk.com", "https://u:p@x.com", "https://x.com/?a=1"):
        with pytest.raises(ConfigError):
            HttpClient(bad, label="t")


@respx.mock(base_url="http://127.0.0.1:8080/prefix")
def test_links_to_another_host_are_refused(respx_mock: respx.Router, t: FakeTime):
    respx_mock.get("/api/x").mock(return_value=httpx.Response(200, json={"n": 1}))
    client = HttpClient("http://127.0.0.1:8080/prefix", label="t", sleep=t.sleep, clock=t.clock)
    assert client.get_json("http://127.0.0.1:8080/prefix/api/x") == {"n": 1}
    with pytest.raises(BackendError, match="another host"):
        client.get_json("https://evil.example.net/api/x")


def test_link_header_parsing() -> None:
    req = httpx.Request("GET", BASE)
    link = '<https://a.example/api/v2/tickets?page=2>; rel="next", <https://a/x?page=9>; rel="last"'
    assert link_next(httpx.Response(200, headers={"Link": link}, request=req)) == (
        "https://a.example/api/v2/tickets?page=2"
    )
    assert link_next(httpx.Response(200, request=req)) is None


def test_header_table_is_extensible_and_parsers_cover_formats() -> None:
    register_rate_limit_header(HeaderRule("X-Acme-Wait-Ms", "delay", "Acme"))
    register_rate_limit_header(HeaderRule("X-Acme-Wait-Ms", "delay", "Acme"))  # idempotent
    assert sum(r.header == "X-Acme-Wait-Ms" for r in RATE_LIMIT_HEADERS) == 1
    info = read_rate_limit({"x-acme-wait-ms": "3"}, wall=lambda: 0.0)
    assert info.wait == 3.0 and info.source == "X-Acme-Wait-Ms"
    assert parse_wait("1700000060", "reset", wall=lambda: 1_700_000_000.0) == 60.0
    assert parse_wait("1700000060000", "reset", wall=lambda: 1_700_000_000.0) == 60.0
    assert parse_wait("soon", "retry_after") is None
    info = read_rate_limit({"zendesk-ratelimit-tickets-index": "total=100; remaining=0; resets=41"})
    assert (info.remaining, info.wait) == (0, 41.0)


def test_common_settings() -> None:
    names = [s.name for s in HTTP_SETTINGS]
    for expected in (
        "base_url",
        "timeout",
        "proxy",
        "ca_bundle",
        "requests_per_minute",
        "budget_share",
        "max_retry_wait",
    ):
        assert expected in names
    custom = {s.name: s.default for s in http_settings(requests_per_minute=700)}
    assert custom["requests_per_minute"] == 700


def test_importing_the_module_does_not_import_httpx() -> None:
    import subprocess
    import sys

    code = "import sys, cstoolkit.http; print('httpx' in sys.modules, 'tenacity' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
