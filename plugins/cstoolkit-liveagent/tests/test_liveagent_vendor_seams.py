"""LiveAgent at its seams: a message list that repeats its page, malformed tickets."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from liveagent_fake import FakeLiveAgent, make_backend

from cstoolkit.backends import STALL_LIMIT, NoProgressError, VendorDataError


@pytest.fixture
def fake() -> Iterator[FakeLiveAgent]:
    la = FakeLiveAgent()
    with la.mounted():
        yield la


def test_a_page_number_that_repeats_the_same_page_stops(fake: FakeLiveAgent) -> None:
    tid = sorted(fake.tickets)[0]
    path = f"/api/v3/tickets/{tid}/messages"
    group = [{"id": f"g{n}", "type": "M", "messages": []} for n in range(100)]
    for _ in range(20):  # 100 message groups, whatever _page is asked
        fake.script("GET", path, httpx.Response(200, json=group))
    with pytest.raises(NoProgressError) as err:
        list(make_backend(fake).pull(None))
    sent = [r for r in fake.requests if r.url.path == path]
    assert len(sent) == 1 + STALL_LIMIT
    assert str(err.value).startswith(
        f"liveagent instance 'la': GET /tickets/{tid}/messages: no progress: "
    )


def test_a_ticket_without_date_created_names_the_field(fake: FakeLiveAgent) -> None:
    body = [{"id": "t9", "date_changed": "2026-01-05 09:00:00"}]
    fake.script("GET", "/api/v3/tickets", httpx.Response(200, json=body))
    with pytest.raises(VendorDataError) as err:
        list(make_backend(fake, messages=False).pull(None))
    assert str(err.value) == (
        "liveagent instance 'la': GET /tickets: ticket t9: field 'date_created': missing"
    )
