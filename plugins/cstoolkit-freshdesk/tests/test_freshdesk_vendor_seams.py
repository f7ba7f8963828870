"""Freshdesk at its seams: a listing stuck at one second, malformed records (generated)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from freshdesk_fake import FakeFreshdesk, iso, make_backend
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.backends import STALL_LIMIT, NoProgressError, VendorDataError
from cstoolkit.errors import BackendError

LIST = "/api/v2/tickets"
LABEL = "freshdesk instance 'fd'"


@pytest.fixture
def fake() -> Iterator[FakeFreshdesk]:
    fd = FakeFreshdesk(tickets=3)
    with fd.mounted():
        yield fd


def test_a_listing_stuck_at_one_second_with_a_full_page_stops(fake: FakeFreshdesk) -> None:
    records = [
        {"id": n, "created_at": iso(1_700_000_000), "updated_at": iso(1_700_000_000)}
        for n in range(1, 6)
    ]

    def same_page(request: httpx.Request) -> httpx.Response:  # the page parameter is ignored
        link = f'<{fake.base}{LIST}?page=2&per_page=5>; rel="next"'
        return httpx.Response(200, json=records, headers={"Link": link})

    fake.script("GET", LIST, *([same_page] * 40))
    backend = make_backend(fake, page_size=5, conversations=False, directory_refresh_hours=1e9)
    backend.state.set("directory_at", 2_000_000_000)
    with pytest.raises(NoProgressError) as err:
        list(backend.pull(None))
    sent = [r for r in fake.requests if r.url.path == LIST]
    assert len(sent) == 1 + STALL_LIMIT
    assert str(err.value).startswith(f"{LABEL}: GET {LIST}: no progress: ")
    assert "brought no new record" in str(err.value)


@pytest.mark.parametrize(
    ("record", "tail"),
    [
        ({"id": 9}, "ticket 9: field 'updated_at': missing"),
        ({"id": 9, "updated_at": "later"}, "ticket 9: field 'updated_at': not a time: 'later'"),
        ({"updated_at": iso(1_700_000_000)}, "ticket ?: field 'id': missing"),
        ("nope", "ticket ?: not an object (str)"),
    ],
)
def test_malformed_records_in_the_listing(fake: FakeFreshdesk, record: Any, tail: str) -> None:
    fake.script("GET", LIST, httpx.Response(200, json=[record]))
    with pytest.raises(VendorDataError) as err:
        list(make_backend(fake, conversations=False).pull(None))
    assert str(err.value) == f"{LABEL}: GET {LIST}: {tail}"


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
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
        "status": _maybe(st.sampled_from([2, 3, 4, 5])),
        "priority": _maybe(st.sampled_from([1, 2, 3, 4])),
        "source": json_value,
        "tags": _maybe(st.lists(st.text(max_size=5), max_size=3)),
        "custom_fields": _maybe(st.just({"cf_x": 1})),
        "stats": _maybe(st.fixed_dictionaries({"resolved_at": _maybe(good_time)})),
        "requester": _maybe(st.fixed_dictionaries({"id": _maybe(st.integers(1, 99))})),
        "subject": json_value,
        "responder_id": json_value,
    },
)
conversation = st.fixed_dictionaries(
    {"id": _maybe(st.integers(1, 10**6))},
    optional={
        "created_at": _maybe(good_time),
        "incoming": json_value,
        "private": json_value,
        "body_text": json_value,
        "user_id": json_value,
    },
)


@functools.cache
def _offline_backend() -> Any:
    return make_backend(FakeFreshdesk(tickets=0), conversations=False)


@given(st.lists(_maybe(ticket), max_size=4))
def test_generated_tickets_map_or_fail_in_one_line(records: list[Any]) -> None:
    backend = _offline_backend()
    try:
        for record in records:
            backend._stamp(record)
        backend._ticket_page(records)
    except BackendError as exc:
        assert str(exc).startswith(f"{LABEL}: GET {LIST}: ticket ") and "\n" not in str(exc)


@given(_maybe(conversation))
def test_generated_conversations_map_or_fail_in_one_line(conv: Any) -> None:
    backend = _offline_backend()
    try:
        backend._conversation("1", conv)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        err = backend.malformed(exc, f"GET {LIST}/1/conversations", "conversation", conv)
        assert str(err).startswith(f"{LABEL}: GET {LIST}/1/conversations: conversation ")
