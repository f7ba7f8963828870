"""Jira at its seams: a nextPageToken that comes back, malformed issues."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from jira_fake import FakeJira, make_backend

from cstoolkit.backends import STALL_LIMIT, NoProgressError, VendorDataError

SEARCH = "/rest/api/3/search/jql"


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    jira = FakeJira()
    with jira.mounted():
        yield jira


def _issue(n: int, updated: str) -> dict[str, object]:
    return {"id": str(n), "fields": {"created": updated, "updated": updated}}


def test_a_next_page_token_that_comes_back_stops(fake: FakeJira) -> None:
    updated = "2026-01-05T09:00:00.000+0000"
    body = {"issues": [_issue(1, updated), _issue(2, updated)], "nextPageToken": "AGAIN"}
    for _ in range(20):
        fake.script("GET", SEARCH, httpx.Response(200, json=body))
    with pytest.raises(NoProgressError) as err:
        list(make_backend(fake, comments=False, slas=False).pull(None))
    sent = [r for r in fake.requests if r.url.path == SEARCH]
    assert len(sent) <= 2 + STALL_LIMIT
    assert str(err.value).startswith(f"jira_sm instance 'jsm': GET {SEARCH}: no progress: ")


def test_an_issue_with_a_bad_created_names_the_field(fake: FakeJira) -> None:
    issue = {"id": "77", "fields": {"created": "soon", "updated": "2026-01-05T09:00:00.000+0000"}}
    fake.script("GET", SEARCH, httpx.Response(200, json={"issues": [issue], "isLast": True}))
    with pytest.raises(VendorDataError) as err:
        list(make_backend(fake, comments=False, slas=False).pull(None))
    assert str(err.value) == (
        f"jira_sm instance 'jsm': GET {SEARCH}: issue 77: field 'created': not a time: 'soon'"
    )
