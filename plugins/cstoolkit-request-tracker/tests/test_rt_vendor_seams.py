"""Request Tracker at its seams (respx): a search stuck at one second with a full page."""

from __future__ import annotations

import httpx
import pytest
import respx
from test_rt_respx import API, QUEUES, make, page, ticket

from cstoolkit.backends import STALL_LIMIT, NoProgressError


@respx.mock
def test_a_search_stuck_at_one_second_with_a_full_page_stops() -> None:
    respx.get(f"{API}/queues/all").mock(return_value=httpx.Response(200, json=QUEUES))
    stamp = "2026-01-05T09:00:00Z"
    same = page([ticket(1, stamp), ticket(2, stamp)], next_page=f"{API}/tickets?page=2")
    search = respx.get(f"{API}/tickets").mock(return_value=httpx.Response(200, json=same))
    with pytest.raises(NoProgressError) as err:
        list(make(per_page=2).pull(None))
    assert search.call_count == 1 + STALL_LIMIT
    assert str(err.value).startswith(
        "request_tracker instance 'rt': GET /REST/2.0/tickets: no progress: "
    )
    assert f"LastUpdated '{stamp}'" in str(err.value)
