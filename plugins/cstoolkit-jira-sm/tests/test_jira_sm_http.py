"""Jira SM specifics: JQL in the user's time zone, nextPageToken edges, 410, 429s, writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from jira_fake import API_TOKEN, FakeJira, make_backend

from cstoolkit.errors import AuthError, BackendError, ConfigError
from cstoolkit.model import EventKind, Role, Status
from cstoolkit.plugin import Changes, Comment, NewTicket


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    f = FakeJira(issues=7, user_tz="Europe/Madrid")
    with f.mounted():
        yield f


def _searches(fake: FakeJira) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/rest/api/3/search/jql"]


def test_jql_literal_is_in_the_configured_zone_with_minute_precision(fake: FakeJira) -> None:
    backend = make_backend(fake)
    since = datetime(2024, 7, 1, 22, 30, 59, tzinfo=UTC)  # 00:30 next day in Madrid (CEST)
    assert backend.jql(since) == (
        'project = SD AND updated >= "2024/07/02 00:30" ORDER BY updated ASC'
    )
    list(backend.pull(None, since=since))
    params = _searches(fake)[0].url.params
    assert params["expand"] == "changelog" and params["maxResults"] == "6"
    assert "nextPageToken" not in params


def test_a_wrong_timezone_setting_would_lose_issues() -> None:
    """Why the timezone setting exists: a UTC literal read in New York time starts 5 h late."""
    fake = FakeJira(issues=7, user_tz="America/New_York")
    with fake.mounted():
        issues = [t for p in make_backend(fake).pull(None) for t in p.tickets]
        since = sorted(t.updated_at for t in issues)[3]
        right = {t.id for p in make_backend(fake).pull(None, since=since) for t in p.tickets}
        utc = make_backend(fake, timezone="UTC")
        wrong = {t.id for p in utc.pull(None, since=since) for t in p.tickets}
    wanted = {t.id for t in issues if t.updated_at >= since}
    assert wanted <= right
    assert not wanted <= wrong


def test_walk_restarts_at_the_last_minute_then_ends_on_is_last(fake: FakeJira) -> None:
    pages = list(make_backend(fake).pull(None))
    assert sum(len(p.tickets) for p in pages) == 7
    jqls = [r.url.params["jql"] for r in _searches(fake)]
    assert len(jqls) == 2 and jqls[0] != jqls[1]  # the second walk starts later
    assert all("nextPageToken" not in r.url.params for r in _searches(fake))


def test_next_page_token_inside_one_minute(fake: FakeJira) -> None:
    for issue in fake.issues.values():
        issue["fields"]["updated"] = issue["fields"]["created"] = "2024-01-01T10:00:05.000+0000"
    pages = list(make_backend(fake).pull(None))
    assert sum(len(p.tickets) for p in pages) == 7
    tokens = [r.url.params.get("nextPageToken") for r in _searches(fake)]
    assert tokens[0] is None and tokens[1] is None and tokens[2]  # restart, then the token
    assert json.loads(pages[0].cursor or "")["token"] is None


def test_update_during_the_walk_loses_nothing(fake: FakeJira) -> None:
    pulled = make_backend(fake, page_size=3).pull(None)
    first = next(pulled)
    fake.touch(int(first.tickets[0].external_id))
    rest = list(pulled)
    got = {t.external_id for p in [first, *rest] for t in p.tickets}
    assert got == {str(i) for i in fake.issues}


def test_empty_result_yields_a_cursor(fake: FakeJira) -> None:
    fake.issues.clear()
    pages = list(make_backend(fake).pull(None))
    assert len(pages) == 1 and not pages[0].tickets and pages[0].cursor


def test_resume_overlaps_by_minutes(fake: FakeJira) -> None:
    pages = list(make_backend(fake, overlap_minutes=10).pull(None))
    cursor = json.loads(pages[-1].cursor or "")
    newest = max(t.updated_at for p in pages for t in p.tickets)
    since = datetime.fromisoformat(cursor["since"])
    assert 599 <= (newest - since).total_seconds() <= 600


def test_expired_page_token_restarts_the_walk(fake: FakeJira) -> None:
    pages = list(make_backend(fake).pull(None))
    mid = json.loads(pages[0].cursor or "")
    mid["token"] = "ZXhwaXJlZA=="  # not a token the server knows any more
    again = list(make_backend(fake).pull(json.dumps(mid)))
    later = {t.id for p in pages[1:] for t in p.tickets}
    assert later <= {t.id for p in again for t in p.tickets}  # restarted from since: no loss
    tokens = [r.url.params.get("nextPageToken") for r in _searches(fake)]
    assert "ZXhwaXJlZA==" in tokens and tokens[-1] is None


def test_410_gone_is_a_clear_error(fake: FakeJira) -> None:
    fake.script(
        "GET",
        "/rest/api/3/search/jql",
        httpx.Response(410, json={"errorMessages": ["The requested API has been removed."]}),
    )
    with pytest.raises(BackendError, match="410 Gone"):
        list(make_backend(fake).pull(None))


def test_429_with_retry_after_and_reason_then_without_headers(fake: FakeJira) -> None:
    waits: list[float] = []
    fake.script(
        "GET",
        "/rest/api/3/search/jql",
        httpx.Response(
            429,
            headers={"Retry-After": "4", "RateLimit-Reason": "jira-burst-based"},
            text="Rate limited",
        ),
    )
    fake.script("GET", "/rest/api/3/search/jql", httpx.Response(429))
    backend = make_backend(fake, default_rate_limit_wait=13.0)
    backend.http.sleep = waits.append
    pages = list(backend.pull(None))
    assert sum(len(p.tickets) for p in pages) == 7
    assert waits[:2] == [4.0, 13.0] and backend.stats.rate_limited == 2


def test_bad_token_is_auth_error_without_secret(fake: FakeJira) -> None:
    with pytest.raises(AuthError) as err:
        list(make_backend(fake, api_token="nope-SECRET-1").pull(None))
    assert err.value.exit_code == 2
    assert "nope-SECRET-1" not in str(err.value) and API_TOKEN not in str(err.value)


def test_malformed_search_page(fake: FakeJira) -> None:
    fake.script(
        "GET", "/rest/api/3/search/jql", httpx.Response(200, json={"issues": [{"id": "1"}]})
    )
    with pytest.raises(BackendError, match=r"issues\[0\]\.fields"):
        list(make_backend(fake).pull(None))


def test_comments_changelog_and_slas(fake: FakeJira) -> None:
    pages = list(make_backend(fake).pull(None))
    tickets = {t.external_id: t for p in pages for t in p.tickets}
    events = [e for p in pages for e in p.events if e.ticket_id == "jsm:10006"]
    comments = [(e.author_role, e.public) for e in events if e.kind == EventKind.COMMENT]
    assert comments == [(Role.AGENT, True), (Role.AGENT, False)]
    status = [e for e in events if e.kind == EventKind.STATUS_CHANGE]
    assert [(e.old, e.new) for e in status] == [("open", "open")]
    assert status[0].data["to"] == "In Progress"
    sla = tickets["10006"].raw["jsm_sla"]
    assert sla[0]["name"] == "Time to first response"
    assert sla[0]["ongoingCycle"]["goalDuration"]["millis"] == 14400000


def test_apply_transition_priority_labels_assignee_comment(fake: FakeJira) -> None:
    backend = make_backend(fake)
    changes = Changes(
        status="solved",
        priority="urgent",
        add_tags=["vip"],
        remove_tags=["seed"],
        assignee_id="jsm:557058:agent",
        comments=[Comment("internal", public=False), Comment("hello", public=True)],
    )
    assert backend.apply("10001", changes).changed
    f = fake.issues[10001]["fields"]
    assert f["status"]["name"] == "Resolved" and f["priority"]["name"] == "Highest"
    assert f["labels"] == ["vip"] and f["assignee"]["accountId"] == "557058:agent"
    posted = [
        json.loads(r.content)
        for r in fake.requests
        if r.method == "POST" and r.url.path.endswith("/comment")
    ]
    assert posted == [{"body": "internal", "public": False}, {"body": "hello", "public": True}]
    edit = next(r for r in fake.requests if r.method == "PUT" and r.url.path.endswith("/10001"))
    assert json.loads(edit.content) == {
        "fields": {"priority": {"name": "Highest"}},
        "update": {"labels": [{"add": "vip"}, {"remove": "seed"}]},
    }
    again = Changes(status="solved", priority="urgent", add_tags=["vip"])
    assert not backend.apply("10001", again).changed
    ticket = backend.fetch("10001")
    assert ticket is not None and ticket.status == Status.SOLVED


def test_no_transition_to_target_is_explained(fake: FakeJira) -> None:
    backend = make_backend(fake, mapping={"statuses": {"Waiting for customer": "open"}})
    with pytest.raises(BackendError, match="no transition leads to a pending"):
        backend.apply("10001", Changes(status="pending"))


def test_create_through_service_desk_request(fake: FakeJira) -> None:
    backend = make_backend(fake, servicedesk_id="1", request_type_id="25")
    ext = backend.create(
        NewTicket(subject="VPN down", description="since 9", requester_email="c@example.org")
    )
    post = next(r for r in fake.requests if r.url.path == "/rest/servicedeskapi/request")
    body = json.loads(post.content)
    assert body["serviceDeskId"] == "1" and body["requestTypeId"] == "25"
    assert body["requestFieldValues"]["summary"] == "VPN down"
    assert body["raiseOnBehalfOf"] == "c@example.org"
    assert fake.issues[int(ext)]["fields"]["summary"] == "VPN down"


def test_filters_are_refused(fake: FakeJira) -> None:
    with pytest.raises(ConfigError, match="project"):
        make_backend(fake, filters={"queue": "x"})
    with pytest.raises(ConfigError, match="timezone"):
        make_backend(fake, timezone="Mars/Olympus")
