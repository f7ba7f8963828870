"""Reading from Freshdesk: keyset walk, Link paging, page cap, overlap, conversations, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from freshdesk_fake import API_KEY, T0, FakeFreshdesk, FakeTime, iso, make_backend

from cstoolkit.errors import EXIT_USAGE, AuthError, BackendError, ConfigError
from cstoolkit.model import Channel, EventKind, Priority, Role, Status
from cstoolkit.plugin import Page
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.sync import pull as engine_pull

LIST = "/api/v2/tickets"


@pytest.fixture
def fake() -> Iterator[FakeFreshdesk]:
    fd = FakeFreshdesk(tickets=30)
    with fd.mounted():
        yield fd


def ids(pages: list[Page]) -> list[str]:
    return [t.external_id for p in pages for t in p.tickets]


def list_requests(fake: FakeFreshdesk) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == LIST and r.method == "GET"]


# -- listing ----------------------------------------------------------------------------------


def test_list_parameters_and_keyset_walk(fake: FakeFreshdesk) -> None:
    pages = list(make_backend(fake, page_size=10, conversations=False).pull(None))
    assert sorted(ids(pages), key=int) == [str(n) for n in range(1, 31)]
    sent = list_requests(fake)
    first = sent[0].url.params
    assert first["order_by"] == "updated_at" and first["order_type"] == "asc"
    assert first["per_page"] == "10" and first["include"] == "requester,stats"
    assert first["updated_since"] == "2000-01-01T00:00:00Z"
    # every later page restarts at the last record's updated_at instead of an offset
    assert all("page" not in r.url.params for r in sent)
    stamps = [r.url.params["updated_since"] for r in sent]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_link_is_followed_inside_one_second() -> None:
    crowd = FakeFreshdesk(tickets=25, same_second=25)  # all updated in the same second
    with crowd.mounted():
        pages = list(make_backend(crowd, page_size=10, conversations=False).pull(None))
    assert sorted(ids(pages), key=int) == [str(n) for n in range(1, 26)]
    sent = [r for r in crowd.requests if r.url.path == LIST]
    # the first page lies inside one second: restarting there would list it again
    assert [r.url.params.get("page") for r in sent] == [None, "2", "3"]


def test_links_naming_another_host_are_sent_to_base_url() -> None:
    proxied = FakeFreshdesk(tickets=25, same_second=25, base="http://127.0.0.1:8089/fd")
    proxied.link_base = "https://acme.freshdesk.com"  # Freshdesk names its own host
    with proxied.mounted():
        pages = list(make_backend(proxied, page_size=10, conversations=False).pull(None))
    assert len(ids(pages)) == 25
    assert all(str(r.url).startswith("http://127.0.0.1:8089/fd/") for r in proxied.requests)


def test_page_cap_is_never_hit_and_nothing_is_lost() -> None:
    capped = FakeFreshdesk(tickets=60, page_cap=3)  # Freshdesk refuses page 4 here
    with capped.mounted():
        pages = list(make_backend(capped, page_size=5, page_cap=3, conversations=False).pull(None))
    assert sorted(ids(pages), key=int) == [str(n) for n in range(1, 61)]
    assert all(int(r.url.params.get("page", 1)) <= 3 for r in capped.requests)


def test_more_tickets_in_one_second_than_the_cap_allows_fails_clearly() -> None:
    crowd = FakeFreshdesk(tickets=20, same_second=20, page_cap=3)
    with crowd.mounted():
        backend = make_backend(crowd, page_size=5, page_cap=3, conversations=False)
        with pytest.raises(BackendError, match="updated in the second") as err:
            list(backend.pull(None))
    assert "300" not in str(err.value) and "15 tickets" in str(err.value)


def test_a_ticket_updated_mid_walk_does_not_make_another_one_vanish(fake: FakeFreshdesk) -> None:
    calls = {"n": 0}

    def agent_edits_an_already_read_ticket(page: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            fake.update(2, {"priority": 4})  # moves ticket 2 to the end of the listing

    fake.on_list_page = agent_edits_an_already_read_ticket
    pages = list(make_backend(fake, page_size=10, conversations=False).pull(None))
    got = ids(pages)
    assert set(got) == {str(n) for n in range(1, 31)}
    assert got.count("2") == 2  # the old and the new version, nothing skipped
    last_two = [t for p in pages for t in p.tickets if t.external_id == "2"]
    assert last_two[-1].priority == Priority.URGENT


def test_overlap_on_resume_skips_what_it_has_and_sees_same_second_updates(
    fake: FakeFreshdesk, tmp_path: Path
) -> None:
    store = open_store(tmp_path / "s.db")
    engine_pull(store, make_backend(fake, page_size=10))
    cursor = json.loads(store.get_cursor("fd") or "")
    assert cursor["updated_since"] == fake.tickets[30]["updated_at"]
    fake.requests.clear()
    again = engine_pull(store, make_backend(fake, page_size=10))
    assert again.stats.inserted == again.stats.updated == 0
    assert list_requests(fake)[0].url.params["updated_since"] == iso(
        int(datetime.fromisoformat(cursor["updated_since"]).timestamp()) - 300
    )
    assert not [r for r in fake.requests if "conversations" in r.url.path]
    # A second change inside the same second as the last one: same updated_at, new content.
    fake.update(30, {"tags": ["seed", "late"]}, tick=False)
    third = engine_pull(store, make_backend(fake, page_size=10))
    assert third.stats.updated == 1
    stored = store.get_ticket("fd:30")
    assert stored is not None and "late" in stored.tags


def test_since_and_full(fake: FakeFreshdesk) -> None:
    since = datetime.fromtimestamp(T0 + 60 * 20, UTC)
    pages = list(make_backend(fake, conversations=False).pull("garbage", since=since))
    assert min(int(i) for i in ids(pages)) == 20
    fake.tickets[3]["deleted"] = True
    fake.tickets[4]["spam"] = True
    pages = list(make_backend(fake, conversations=False).pull(None, full=True))
    assert sorted(d for p in pages for d in p.deleted) == ["3", "4"]
    assert "3" not in ids(pages) and "4" not in ids(pages)


# -- mapping ----------------------------------------------------------------------------------


def test_mapping_people_groups_and_plan(fake: FakeFreshdesk) -> None:
    state = MemoryKeyValue("fd")
    pages = list(make_backend(fake, state=state).pull(None))
    tickets = {t.external_id: t for p in pages for t in p.tickets}
    t4 = tickets["4"]
    assert (t4.status, t4.priority, t4.channel) == (Status.OPEN, Priority.LOW, Channel.WEB)
    assert tickets["3"].channel == Channel.CHAT and tickets["5"].channel == Channel.EMAIL
    assert tickets["2"].channel == Channel.PHONE
    assert t4.requester_id == "fd:504" and t4.group_id == "fd:8"
    assert t4.raw["stats"]["status_updated_at"] and "requester" not in t4.raw
    people = {p.external_id: p for page in pages for p in page.people}
    assert people["504"].plan == "gold" and people["504"].organization == "Acme Corp"
    assert people["501"].plan is None and people["501"].role == Role.REQUESTER
    assert people["902"].role == Role.AGENT and people["902"].groups == ["fd:8"]
    assert {g.name for p in pages for g in p.groups} == {"Support", "Billing"}
    company_calls = [r for r in fake.requests if "/companies/" in r.url.path]
    assert len(company_calls) == 1  # cached per company
    fake.requests.clear()
    list(make_backend(fake, state=state).pull(None))
    assert not [r for r in fake.requests if r.url.path in ("/api/v2/agents", "/api/v2/groups")]


def test_mapping_overrides(fake: FakeFreshdesk) -> None:
    fake.update(6, {"status": 6, "custom_fields": {"cf_product": "gizmo"}})
    mapping = {
        "statuses": {"6": "on_hold"},
        "channels": {"7": "whatsapp"},
        "priorities": {"2": "high"},
        "fields": {"cf_product": "product"},
    }
    pages = list(make_backend(fake, mapping=mapping, conversations=False).pull(None))
    tickets = {t.external_id: t for p in pages for t in p.tickets}
    assert tickets["6"].status == Status.ON_HOLD
    assert tickets["6"].custom_fields["product"] == "gizmo"
    assert tickets["3"].channel == Channel.WHATSAPP
    assert tickets["1"].priority == Priority.HIGH  # code 2
    with pytest.raises(ConfigError):
        make_backend(fake, mapping={"priorities": {"2": "medium"}})


def test_events_from_conversations_with_bounded_concurrency(fake: FakeFreshdesk) -> None:
    serial = list(make_backend(fake, page_size=10).pull(None))
    parallel = list(make_backend(fake, page_size=10, concurrency=4).pull(None))
    events = [e for p in serial for e in p.events]
    assert [e.id for e in events] == [e.id for p in parallel for e in p.events]
    by_ticket = [e for e in events if e.ticket_id == "fd:3"]
    assert [(e.kind, e.author_role, e.public, e.body) for e in by_ticket] == [
        (EventKind.CREATED, Role.REQUESTER, True, None),
        (EventKind.COMMENT, Role.REQUESTER, True, "More info"),
        (EventKind.COMMENT, Role.AGENT, True, "Answer"),
        (EventKind.COMMENT, Role.AGENT, False, "Note"),
    ]
    assert len({e.id for e in events}) == len(events)


def test_conversation_pages_are_followed(fake: FakeFreshdesk) -> None:
    for n in range(120):
        fake.add_conversation(1, user=901, private=False, text=f"msg {n}")
    pages = list(make_backend(fake).pull(None))
    comments = [e for p in pages for e in p.events if e.ticket_id == "fd:1"]
    assert len(comments) == 1 + 1 + 120
    conv_calls = [r for r in fake.requests if r.url.path == "/api/v2/tickets/1/conversations"]
    assert len(conv_calls) == 2


def test_filters(fake: FakeFreshdesk) -> None:
    pages = list(make_backend(fake, filters={"group": 7}).pull(None))
    assert ids(pages) and all(fake.tickets[int(i)]["group_id"] == 7 for i in ids(pages))
    assert {e.ticket_id for p in pages for e in p.events} == {f"fd:{i}" for i in ids(pages)}
    with pytest.raises(ConfigError, match="queue"):
        make_backend(fake, filters={"queue": "x"})


# -- rate limits and errors -------------------------------------------------------------------


def test_include_credits_are_charged_to_the_budget(fake: FakeFreshdesk) -> None:
    clock = FakeTime()
    backend = make_backend(
        fake,
        page_size=10,
        conversations=False,
        clock=clock,
        requests_per_minute=60,
        budget_share=1.0,
        mapping={},  # no plan_field: no company lookups in this count
    )
    list(backend.pull(None))
    lists = len(list_requests(fake))
    # 60 credits/minute: groups uses the saved-up credit, agents waits 1 s, and every listing
    # waits for its 5 credits (1 + 2 per include)
    assert clock.sleeps == [1.0] + [5.0] * lists


def test_429_and_server_errors_and_timeouts_are_retried(fake: FakeFreshdesk) -> None:
    fake.script(
        "GET",
        LIST,
        httpx.Response(429, headers={"Retry-After": "11"}, json={"code": "rate_limited"}),
        httpx.Response(429, text="Too Many Requests"),
        httpx.Response(502),
        httpx.Response(503, text="<html>maintenance</html>"),
        httpx.ReadTimeout("slow"),
    )
    clock = FakeTime()
    backend = make_backend(fake, page_size=10, clock=clock)
    pages = list(backend.pull(None))
    assert sorted(ids(pages), key=int) == [str(n) for n in range(1, 31)]
    stats = backend.stats.as_dict()
    assert stats["rate_limited"] == 2 and stats["retries"] == 5
    assert 11.0 in clock.sleeps and 60.0 in clock.sleeps


@pytest.mark.parametrize("body", [b'[{"id": 1, "subject": "x"', b'{"tickets": []}'])
def test_malformed_page(fake: FakeFreshdesk, body: bytes) -> None:
    fake.script("GET", LIST, httpx.Response(200, content=body))
    with pytest.raises(BackendError, match="malformed") as err:
        list(make_backend(fake, conversations=False).pull(None))
    assert LIST in str(err.value) and "updated_since" not in str(err.value)


def test_invalid_api_key(fake: FakeFreshdesk) -> None:
    bad = "WRONG" + API_KEY
    with pytest.raises(AuthError) as err:
        list(make_backend(fake, api_key=bad).pull(None))
    assert err.value.exit_code == EXIT_USAGE
    assert bad not in str(err.value) and API_KEY not in str(err.value)
    assert "api_key" in str(err.value)
    verdict = make_backend(fake, api_key=bad).check()
    assert not verdict.ok and bad not in verdict.detail
    assert make_backend(fake).check().ok
