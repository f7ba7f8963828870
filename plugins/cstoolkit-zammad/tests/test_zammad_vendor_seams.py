"""Zammad at its seams: a search stuck at one updated_at with a full page, malformed tickets."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from zammad_fake import FakeZammad, make_backend

from cstoolkit.backends import STALL_LIMIT, NoProgressError, VendorDataError

SEARCH = "/api/v1/tickets/search"


@pytest.fixture
def fake() -> Iterator[FakeZammad]:
    zm = FakeZammad()
    with zm.mounted():
        yield zm


def test_a_window_stuck_at_one_updated_at_with_a_full_page_stops(fake: FakeZammad) -> None:
    stamp = "2026-01-05T09:00:00.000Z"
    page = [{"id": n, "created_at": stamp, "updated_at": stamp} for n in range(1, 7)]
    for _ in range(20):  # a full page at one time, whatever the page number asked
        fake.script("GET", SEARCH, httpx.Response(200, json=page))
    with pytest.raises(NoProgressError) as err:
        list(make_backend(fake, articles=False).pull(None))
    sent = [r for r in fake.requests if r.url.path == SEARCH]
    assert len(sent) == 1 + STALL_LIMIT
    assert str(err.value).startswith(f"zammad instance 'zm': GET {SEARCH}: no progress: ")
    assert f"updated_at '{stamp}'" in str(err.value)


def test_a_ticket_with_a_bad_created_at_names_the_field(fake: FakeZammad) -> None:
    stamp = "2026-01-05T09:00:00.000Z"
    fake.script("GET", SEARCH, httpx.Response(200, json=[{"id": 3, "updated_at": stamp}]))
    with pytest.raises(VendorDataError) as err:
        list(make_backend(fake, articles=False).pull(None))
    assert (
        str(err.value)
        == f"zammad instance 'zm': GET {SEARCH}: ticket 3: field 'created_at': missing"
    )
