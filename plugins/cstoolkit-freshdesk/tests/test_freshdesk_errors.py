"""Freshdesk's validation errors reach the user: each refused field and why (issue 14, class 8)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from freshdesk_fake import API_KEY, FakeFreshdesk, make_backend

from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, NewTicket

VALIDATION = {
    "description": "Validation failed",
    "errors": [
        {
            "field": "custom_fields.cf_plan",
            "message": "It should be one of these values: 'Gold,Silver'",
            "code": "invalid_value",
        },
        {"field": "email", "message": "There is no contact matching the given email", "code":
         "invalid_value"},
    ],
}  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeFreshdesk]:
    fd = FakeFreshdesk(tickets=3)
    with fd.mounted():
        yield fd


def test_an_update_refused_by_validation_names_each_field(fake: FakeFreshdesk) -> None:
    fake.script("PUT", "/api/v2/tickets/1", httpx.Response(400, json=VALIDATION))
    with pytest.raises(BackendError) as err:
        make_backend(fake).apply("1", Changes(priority="high"))
    message = str(err.value)
    assert "Validation failed" in message
    assert "custom_fields.cf_plan: It should be one of these values: 'Gold,Silver'" in message
    assert "email: There is no contact matching the given email (invalid_value)" in message


def test_a_create_refused_by_validation_names_the_field_without_the_key(
    fake: FakeFreshdesk,
) -> None:
    echoed = {
        "description": "Validation failed",
        "errors": [{"field": "requester_id", "message": f"invalid for key {API_KEY}",
                    "code": "invalid_value"}],
    }  # fmt: skip
    fake.script("POST", "/api/v2/tickets", httpx.Response(400, json=echoed))
    new = NewTicket(subject="s", description="d", requester_email="a@b.example")
    with pytest.raises(BackendError) as err:
        make_backend(fake).create(new)
    message = str(err.value)
    assert "requester_id: invalid for key" in message and API_KEY not in message
