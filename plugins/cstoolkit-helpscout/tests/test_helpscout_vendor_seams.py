"""Help Scout at its seams: a listing that repeats its page, malformed conversations."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from helpscout_fake import FakeHelpScout, make_backend

from cstoolkit.backends import STALL_LIMIT, NoProgressError, VendorDataError

LIST = "/v2/conversations"


@pytest.fixture
def fake() -> Iterator[FakeHelpScout]:
    hs = FakeHelpScout()
    with hs.mounted():
        yield hs


def test_a_page_number_that_repeats_the_same_page_stops(fake: FakeHelpScout) -> None:
    stamp = "2026-01-05T09:00:00Z"
    conversations = [
        {"id": n, "createdAt": stamp, "userUpdatedAt": stamp, "status": "active"} for n in (1, 2)
    ]
    body = {
        "_embedded": {"conversations": conversations},
        "_links": {"next": {"href": f"{fake.base}{LIST}?page=2"}},
        "page": {"number": 1, "totalPages": 99},
    }
    for _ in range(20):  # the server ignores ?page= and always answers the same page
        fake.script("GET", LIST, httpx.Response(200, json=body))
    with pytest.raises(NoProgressError) as err:
        list(make_backend(fake, threads="none").pull(None))
    sent = [r for r in fake.requests if r.url.path == LIST]
    assert len(sent) == 1 + STALL_LIMIT  # one page read, then three that bring nothing new
    assert str(err.value).startswith(f"helpscout instance 'hs': GET {LIST}: no progress: ")


def test_a_conversation_with_a_bad_created_at_names_the_field(fake: FakeHelpScout) -> None:
    body = {"_embedded": {"conversations": [{"id": 4, "createdAt": "then"}]}, "_links": {}}
    fake.script("GET", LIST, httpx.Response(200, json=body))
    with pytest.raises(VendorDataError) as err:
        list(make_backend(fake, threads="none").pull(None))
    assert str(err.value) == (
        f"helpscout instance 'hs': GET {LIST}: conversation 4: field 'createdAt': "
        "not a time: 'then'"
    )
