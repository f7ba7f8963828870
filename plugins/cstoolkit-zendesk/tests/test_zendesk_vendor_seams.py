"""Zendesk at its seams: a cursor that does not advance, malformed events and tickets.

A server repeating ``after_cursor`` used to be asked forever (185 identical requests in 20 s);
a ticket event without ``timestamp`` ended in the bare message ``'timestamp'``. Both now end in
one line naming the instance, the endpoint and what is wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from zendesk_fake import FakeZendesk, make_backend

from cstoolkit.backends import STALL_LIMIT, NoProgressError, VendorDataError
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Page

CURSOR = "/api/v2/incremental/tickets/cursor.json"
EVENTS = "/api/v2/incremental/ticket_events.json"


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    zd = FakeZendesk(tickets=12)
    with zd.mounted():
        yield zd


def test_a_repeated_after_cursor_stops_after_a_few_requests(fake: FakeZendesk) -> None:
    def same_cursor(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"tickets": [], "after_cursor": "STUCK", "end_of_stream": False}
        )

    fake.script("GET", CURSOR, *([same_cursor] * 50))
    backend = make_backend(fake, events=False)
    with pytest.raises(NoProgressError) as err:
        list(backend.pull(None))
    sent = [r for r in fake.requests if r.url.path == CURSOR]
    assert len(sent) == 1 + STALL_LIMIT  # not 185
    message = str(err.value)
    assert message.startswith(f"zendesk instance 'zd': GET {CURSOR}: no progress: after_cursor")
    assert "'STUCK'" in message and "\n" not in message
    assert err.value.exit_code == 1


def _events_page(*events: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, json={"ticket_events": list(events), "end_time": 1, "end_of_stream": True}
    )


def test_an_event_without_timestamp_names_backend_endpoint_event_and_field(
    fake: FakeZendesk,
) -> None:
    fake.script("GET", EVENTS, _events_page({"id": 123, "ticket_id": 1, "child_events": []}))
    backend = make_backend(fake, resolve_authors=False)
    with pytest.raises(VendorDataError) as err:
        list(backend.pull(None))
    assert str(err.value) == (
        f"zendesk instance 'zd': GET {EVENTS}: event 123: field 'timestamp': missing"
    )


@pytest.mark.parametrize(
    ("event", "tail"),
    [
        ({"id": 5, "timestamp": "soon", "ticket_id": 1}, "event 5: field 'timestamp': expected"),
        ({"id": 6, "timestamp": 1, "ticket_id": {}}, "event 6: field 'ticket_id': expected an id"),
        ({"id": 7, "timestamp": 1, "ticket_id": 1, "child_events": 3}, "field 'child_events'"),
        ({"id": 8, "timestamp": 1, "ticket_id": 1, "created_at": "x"}, "field 'created_at'"),
    ],
)
def test_wrong_typed_event_fields(fake: FakeZendesk, event: dict[str, Any], tail: str) -> None:
    fake.script("GET", EVENTS, _events_page(event))
    with pytest.raises(VendorDataError, match=tail):
        list(make_backend(fake, resolve_authors=False).pull(None))


def test_a_ticket_with_a_bad_created_at_is_named(fake: FakeZendesk) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        body = {"tickets": [{"id": 77, "created_at": "yesterday"}], "end_of_stream": True}
        return httpx.Response(200, json={**body, "after_cursor": "x"})

    fake.script("GET", CURSOR, broken)
    with pytest.raises(VendorDataError) as err:
        list(make_backend(fake, events=False).pull(None))
    assert str(err.value).endswith(
        f"GET {CURSOR}: ticket 77: field 'created_at': not a time: 'yesterday'"
    )


# -- generated malformed records: every one maps or fails as one BackendError line ------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
good_time = st.sampled_from(["2026-01-05T09:00:00Z", "2026-01-05T10:00:00+01:00"])


def _maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, json_value)


ticket = st.fixed_dictionaries(
    {"id": _maybe(st.integers(1, 10**6))},
    optional={
        "created_at": _maybe(good_time),
        "updated_at": _maybe(good_time),
        "status": _maybe(st.sampled_from(["new", "open", "solved", "deleted"])),
        "priority": json_value,
        "via": _maybe(st.just({"channel": "email"})),
        "tags": _maybe(st.lists(st.text(max_size=5), max_size=3)),
        "custom_fields": _maybe(st.just([{"id": 1, "value": "x"}])),
        "requester_id": json_value,
        "group_id": json_value,
        "subject": json_value,
    },
)
child = st.fixed_dictionaries(
    {"id": _maybe(st.integers(1, 10**6))},
    optional={
        "event_type": _maybe(st.sampled_from(["Comment", "Change", "Create"])),
        "field_name": _maybe(st.sampled_from(["status", "priority", "tags", "assignee_id"])),
        "value": json_value,
        "previous_value": json_value,
        "author_id": json_value,
        "public": json_value,
        "body": json_value,
        "attachments": json_value,
        "created_at": _maybe(good_time),
    },
)
event = st.fixed_dictionaries(
    {"id": _maybe(st.integers(1, 10**6))},
    optional={
        "ticket_id": _maybe(st.integers(1, 100)),
        "timestamp": _maybe(st.integers(0, 2_000_000_000)),
        "created_at": _maybe(good_time),
        "updater_id": json_value,
        "child_events": _maybe(st.lists(_maybe(child), max_size=3)),
        "via": json_value,
    },
)


@functools.cache
def _offline_backend() -> Any:
    """One backend for every generated case (no HTTP is sent: authors are not resolved)."""
    return make_backend(FakeZendesk(tickets=0), resolve_authors=False, events=False)


@given(st.lists(_maybe(ticket), max_size=4), st.lists(json_value, max_size=2))
def test_generated_tickets_map_or_fail_in_one_line(tickets: list[Any], users: list[Any]) -> None:
    backend = _offline_backend()
    try:
        page = backend._ticket_page({"tickets": tickets, "users": users}, tickets)
    except BackendError as exc:
        assert str(exc).startswith("zendesk instance 'zd': GET ") and "\n" not in str(exc)
    else:
        assert isinstance(page, Page)


@given(st.lists(_maybe(event), max_size=4))
def test_generated_events_map_or_fail_in_one_line(events: list[Any]) -> None:
    backend = _offline_backend()
    audits = [e for e in events if isinstance(e, dict)]
    try:
        for audit in audits:
            backend._event_stamp(audit)
        backend._event_page(audits, Page())
    except BackendError as exc:
        assert str(exc).startswith(f"zendesk instance 'zd': GET {EVENTS}: event ")
        assert "\n" not in str(exc)
