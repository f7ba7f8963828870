"""Reading from Zendesk: cursor chains, events, resume, rate limits, errors (respx, no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from zendesk_fake import OAUTH, PLAN_FIELD, T0, TOKEN, FakeTime, FakeZendesk, make_backend

from cstoolkit.errors import EXIT_USAGE, AuthError, BackendError, ConfigError
from cstoolkit.model import Channel, EventKind, Priority, Role, Status
from cstoolkit.plugin import Page
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.sync import pull as engine_pull


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    zd = FakeZendesk(tickets=25)
    with zd.mounted():
        yield zd


def tickets_of(pages: list[Page]) -> list[str]:
    return [t.external_id for p in pages for t in p.tickets]


def export_requests(fake: FakeZendesk) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path.endswith("/tickets/cursor.json")]


# -- cursor chains ----------------------------------------------------------------------------


def test_multi_page_cursor_chain_until_end_of_stream(fake: FakeZendesk) -> None:
    backend = make_backend(fake, page_size=10, events=False)
    pages = list(backend.pull(None))
    assert [len(p.tickets) for p in pages] == [10, 10, 5]
    assert sorted(tickets_of(pages), key=int) == [str(n) for n in range(1, 26)]
    sent = export_requests(fake)
    assert "start_time" in sent[0].url.params and "cursor" not in sent[0].url.params
    assert sent[0].url.params["include"] == "metric_sets,users,groups,organizations"
    # every later page follows the previous page's after_cursor, never a timestamp
    for prev_page, request in zip(pages, sent[1:], strict=False):
        state = json.loads(prev_page.cursor or "")
        assert request.url.params["cursor"] == state["tickets"]["after_cursor"]
        assert "start_time" not in request.url.params
    assert len(sent) == 3  # stops at end_of_stream


def test_resume_from_a_page_cursor_and_second_run_reads_only_changes(fake: FakeZendesk) -> None:
    first = make_backend(fake, page_size=10)
    it = first.pull(None)
    page1 = next(it)
    it.close()
    rest = list(make_backend(fake, page_size=10).pull(page1.cursor))
    seen = tickets_of([page1]) + tickets_of(rest)
    assert sorted(seen, key=int) == [str(n) for n in range(1, 26)]
    assert len(seen) == len(set(seen))
    # an upstream change shows up (and only it) in the next incremental run
    fake.touch(4)
    again = list(make_backend(fake, page_size=10).pull(rest[-1].cursor))
    assert tickets_of(again) == ["4"]
    tag_events = [e for p in again for e in p.events if e.kind == EventKind.TAGS_CHANGE]
    assert [e.ticket_id for e in tag_events] == ["zd:4"]


def test_since_replaces_the_cursor(fake: FakeZendesk) -> None:
    backend = make_backend(fake, events=False)
    cursor = list(backend.pull(None))[-1].cursor
    since = datetime.fromtimestamp(T0, UTC)
    pages = list(make_backend(fake, events=False).pull(cursor, since=since))
    assert len(tickets_of(pages)) == 25
    assert export_requests(fake)[-1].url.params["start_time"] == str(T0)


def test_unreadable_cursor_restarts_from_the_beginning(fake: FakeZendesk) -> None:
    pages = list(make_backend(fake, events=False).pull("{not json"))
    assert len(tickets_of(pages)) == 25


def test_full_pull_ignores_the_cursor_and_reports_deleted(fake: FakeZendesk) -> None:
    cursor = list(make_backend(fake).pull(None))[-1].cursor
    fake.delete(5)
    pages = list(make_backend(fake).pull(cursor, full=True))
    assert "5" not in tickets_of(pages)
    assert [d for p in pages for d in p.deleted] == ["5"]
    assert len(tickets_of(pages)) == 24


# -- mapping ----------------------------------------------------------------------------------


def test_mapping_people_groups_metrics_and_plan(fake: FakeZendesk) -> None:
    pages = list(make_backend(fake, page_size=100).pull(None))
    tickets = {t.external_id: t for p in pages for t in p.tickets}
    t3 = tickets["3"]
    assert (t3.status, t3.priority, t3.channel) == (Status.ON_HOLD, Priority.HIGH, Channel.PHONE)
    assert t3.requester_id == "zd:1003" and t3.assignee_id == "zd:2" and t3.group_id == "zd:10"
    assert t3.custom_fields == {"555": "v3", "556": None}
    # Zendesk's metrics are kept beside ours, under raw["metric_set"], never in our fields
    assert t3.raw["metric_set"]["ticket_id"] == 3 and t3.raw["metric_set"]["replies"] == 1
    assert tickets["1"].channel == Channel.WEB and tickets["2"].channel == Channel.CHAT
    assert tickets["5"].priority == Priority.NORMAL  # null priority
    people = {p.external_id: p for page in pages for p in page.people}
    assert people["1003"].plan == "enterprise" and people["1003"].organization == (
        "Groablet Enterprises"
    )
    assert people["1001"].plan is None and people["1001"].role == Role.REQUESTER
    assert people["2"].role == Role.AGENT and people["2"].timezone == "Europe/Madrid"
    assert {g.name for p in pages for g in p.groups} == {"Tier 1"}


def test_mapping_overrides_statuses_channels_and_fields(fake: FakeZendesk) -> None:
    fake.tickets[3]["custom_status_id"] = 777
    mapping = {
        "statuses": {"custom:777": "pending", "new": "open"},
        "channels": {"voice": "other", "native_messaging": "whatsapp"},
        "fields": {"555": "product"},
        "plan_field": PLAN_FIELD,
    }
    pages = list(make_backend(fake, events=False, mapping=mapping).pull(None))
    tickets = {t.external_id: t for p in pages for t in p.tickets}
    assert tickets["3"].status == Status.PENDING and tickets["3"].channel == Channel.OTHER
    assert tickets["2"].channel == Channel.WHATSAPP
    assert tickets["3"].custom_fields["product"] == "v3"
    with pytest.raises(ConfigError, match=r"mapping\.statuses"):
        make_backend(fake, mapping={"statuses": {"hold": "frozen"}})


def test_events_from_the_ticket_events_export(fake: FakeZendesk) -> None:
    pages = list(make_backend(fake, page_size=100).pull(None))
    events = [e for p in pages for e in p.events]
    created = [e for e in events if e.kind == EventKind.CREATED]
    assert len(created) == 25
    first = next(e for e in created if e.ticket_id == "zd:3")
    assert first.body == "Hello, I have problem 3." and first.author_role == Role.REQUESTER
    replies = [e for e in events if e.kind == EventKind.COMMENT and e.ticket_id == "zd:3"]
    assert [(r.body, r.public, r.author_role) for r in replies] == [
        ("Agent reply to 3", True, Role.AGENT)
    ]
    changes = [e for e in events if e.ticket_id == "zd:3" and e.kind == EventKind.STATUS_CHANGE]
    assert [(c.old, c.new) for c in changes] == [("new", "open"), ("open", "on_hold")]
    assignment = next(e for e in events if e.kind == EventKind.ASSIGNMENT and e.ticket_id == "zd:3")
    assert assignment.new == "zd:2"
    sent = [r for r in fake.requests if "ticket_events" in r.url.path]
    assert all(r.url.params["include"] == "comment_events" for r in sent)


def test_event_duplicates_across_page_boundaries_are_skipped(fake: FakeZendesk) -> None:
    # Put several audits on one second so that the time-based export repeats them.
    stamp = fake.audits[10]["timestamp"]
    for audit in fake.audits[10:13]:
        audit["timestamp"] = stamp
    pages = list(make_backend(fake, page_size=4).pull(None))
    ids = [e.id for p in pages for e in p.events]
    assert len(ids) == len(set(ids))
    expected = {
        c["id"]
        for a in fake.audits
        for c in a["child_events"]
        if c["event_type"] in ("Comment", "Change")
    }
    assert {int(i.split(":")[1]) for i in ids if "audit" not in i} == expected


def test_more_events_in_one_second_than_a_page_fails_clearly(fake: FakeZendesk) -> None:
    stamp = fake.audits[10]["timestamp"]
    for audit in fake.audits[10:16]:
        audit["timestamp"] = stamp
    with pytest.raises(BackendError, match="share the second"):
        list(make_backend(fake, page_size=4).pull(None))


def test_unknown_comment_authors_are_resolved_once(fake: FakeZendesk) -> None:
    # An agent who never appears in a ticket's sideloads (not a requester, not an assignee).
    fake.users[3] = {"id": 3, "name": "Cy Lead", "role": "admin", "organization_id": None}
    fake.update(1, {}, comment={"body": "internal note", "public": False}, author=3)
    state = MemoryKeyValue("zd")
    pages = list(make_backend(fake, state=state).pull(None))
    lookups = [r for r in fake.requests if "users/show_many" in r.url.path]
    assert [r.url.params["ids"] for r in lookups] == ["3"]
    note = next(e for p in pages for e in p.events if e.body == "internal note")
    assert note.author_role == Role.AGENT and note.public is False
    assert all(e.author_role is not None for p in pages for e in p.events)
    assert sorted(state.get("agent_ids")) == ["1", "2", "3"]
    fake.requests.clear()
    list(make_backend(fake, state=state).pull(None))  # the next run knows the agent already
    assert not [r for r in fake.requests if "users/show_many" in r.url.path]


def test_filters_by_group(fake: FakeZendesk) -> None:
    pages = list(make_backend(fake, filters={"group": "10"}).pull(None))
    kept = set(tickets_of(pages))
    assert kept == {str(t) for t, v in fake.tickets.items() if v["group_id"] == 10}
    assert {e.ticket_id.split(":")[1] for p in pages for e in p.events} <= kept
    with pytest.raises(ConfigError, match="brand and group"):
        make_backend(fake, filters={"mailbox": "support@acme.example"})


# -- rate limits, errors ----------------------------------------------------------------------


def test_export_is_paced_by_the_incremental_budget(fake: FakeZendesk) -> None:
    clock = FakeTime()
    backend = make_backend(fake, page_size=5, events=False, clock=clock)
    pages = list(backend.pull(None))
    assert len(pages) == 5
    assert clock.sleeps == [pytest.approx(6.0)] * 4  # 10 requests/minute
    clock2 = FakeTime()
    fast = make_backend(fake, page_size=5, events=False, clock=clock2, high_volume=True)
    list(fast.pull(None))
    assert clock2.sleeps == [pytest.approx(2.0)] * 4  # 30/minute with the add-on


def test_429_with_and_without_retry_after_and_non_json_bodies(fake: FakeZendesk) -> None:
    path = "/api/v2/incremental/tickets/cursor.json"
    fake.script(
        "GET",
        path,
        httpx.Response(429, headers={"Retry-After": "17"}, json={"error": "TooManyRequests"}),
    )
    clock = FakeTime()
    backend = make_backend(fake, page_size=10, events=False, clock=clock, budget_share=1.0)
    it = backend.pull(None)
    assert len(next(it).tickets) == 10
    fake.script(
        "GET",
        path,
        httpx.Response(429, text='{"detail":"Rate limited by Zendesk edge protection"'),
        httpx.Response(429, text="<html>Too Many Requests</html>"),
    )
    rest = list(it)
    assert len(tickets_of(rest)) == 15
    rate_waits = [s for s in clock.sleeps if s not in (pytest.approx(6.0),)]
    assert 17.0 in rate_waits and rate_waits.count(60.0) == 2
    stats = backend.stats.as_dict()
    assert stats["rate_limited"] == 3 and stats["retries"] == 3
    assert stats["seconds_waited_rate_limit"] >= 17 + 120


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_mid_chain_are_retried(fake: FakeZendesk, status: int) -> None:
    fake.script("GET", "/api/v2/incremental/", httpx.Response(status), httpx.Response(status))
    backend = make_backend(fake, page_size=10)
    pages = list(backend.pull(None))
    assert len(tickets_of(pages)) == 25
    assert backend.stats.retries == 2 and backend.stats.seconds_waited_backoff > 0


def test_timeouts_are_retried(fake: FakeZendesk) -> None:
    fake.script(
        "GET",
        "/api/v2/incremental/tickets",
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
    )
    pages = list(make_backend(fake, events=False).pull(None))
    assert len(tickets_of(pages)) == 25


@pytest.mark.parametrize(
    "body",
    [b'{"tickets": [{"id": 1, "created_at"', b"[1, 2, 3]", b'{"after_cursor": "x"}'],
)
def test_a_malformed_page_fails_clearly_after_committing_earlier_pages(
    fake: FakeZendesk, body: bytes, tmp_path: object
) -> None:
    path = "/api/v2/incremental/tickets/cursor.json"
    store = open_store(f"{tmp_path}/store.db")
    backend = make_backend(fake, page_size=10, events=False)
    state: dict[str, int] = {"n": 0}

    def second_page_is_broken(request: httpx.Request) -> httpx.Response | None:
        state["n"] += 1
        return httpx.Response(200, content=body) if "cursor=" in str(request.url) else None

    fake.script("GET", path, second_page_is_broken, second_page_is_broken)
    with pytest.raises(BackendError) as err:
        engine_pull(store, backend)
    assert path in str(err.value) and "malformed" in str(err.value)
    assert store.counts()["tickets"] == 10  # the first page was committed with its cursor
    resumed = engine_pull(store, make_backend(fake, page_size=10, events=False))
    assert resumed.stats.inserted == 15 and store.counts()["tickets"] == 25


def test_invalid_token_is_a_clear_auth_error_without_the_token(fake: FakeZendesk) -> None:
    backend = make_backend(fake, token="wrong-" + TOKEN)
    with pytest.raises(AuthError) as err:
        list(backend.pull(None))
    message = str(err.value)
    assert err.value.exit_code == EXIT_USAGE
    assert TOKEN not in message and "wrong-" not in message
    assert "401" in message and "email and token" in message
    verdict = make_backend(fake, token="nope-nope").check()
    assert not verdict.ok and "nope-nope" not in verdict.detail


def test_oauth_bearer_and_check(fake: FakeZendesk) -> None:
    backend = make_backend(fake, email=None, token=None, oauth_token=OAUTH)
    verdict = backend.check()
    assert verdict.ok and "user 1" in verdict.detail
    header = fake.requests[-1].headers["authorization"]
    assert header == f"Bearer {OAUTH}"
    expired = make_backend(fake, email=None, token=None, oauth_token="expired-oauth-token")
    with pytest.raises(AuthError) as err:
        list(expired.pull(None))
    assert "expired-oauth-token" not in str(err.value) and "oauth_token" in str(err.value)


def test_configuration_errors() -> None:
    from cstoolkit_zendesk import ZendeskBackend

    kv = MemoryKeyValue("zd")
    with pytest.raises(ConfigError, match="subdomain"):
        ZendeskBackend("zd", {"email": "a@b", "token": "t"}, kv)
    with pytest.raises(ConfigError, match="oauth_token"):
        ZendeskBackend("zd", {"subdomain": "acme"}, kv)
    backend = ZendeskBackend("zd", {"subdomain": "acme", "oauth_token": "x" * 10}, kv)
    assert backend.base_url == "https://acme.zendesk.com"
    local = ZendeskBackend("zd", {"base_url": "http://127.0.0.1:8081", "oauth_token": "y"}, kv)
    assert local.http.base_url == "http://127.0.0.1:8081"


def test_the_role_cache_is_bounded_and_keeps_agents(
    fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cstoolkit_zendesk.backend as zb

    monkeypatch.setattr(zb, "_ROLE_CACHE_MAX", 10)
    backend = make_backend(fake)
    backend._remember_role("1", Role.AGENT)
    for n in range(100):
        backend._remember_role(str(1000 + n), Role.REQUESTER)
    assert len(backend._requesters) <= 10
    assert backend._role("1") == Role.AGENT and backend._role("1099") == Role.REQUESTER
    assert backend._role("1000") is None  # forgotten: looked up again if it ever comments
