"""Inbound WhatsApp/SMS on Jira Service Management over recorded-shape answers: a phone-only
requester is raised on behalf of a customer with a placeholder email in the operator's domain
(or refused naming the setting), and a customer's own message is an internal comment marked as
theirs, never a public comment JSM would mail them as an agent's. Exact request bodies, 429 with
and without Retry-After, 5xx and malformed answers on the new calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jira_fake import FakeJira, make_backend

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.plugin import Changes, Comment, NewTicket

PHONE = "+34600111222"
EMAIL = "phone-34600111222@sms.acme.example"
ACCOUNT = "qm:1f2e3d4c-aaaa-bbbb-cccc-000000000001:5f000000000000000000aaaa"
CUSTOMER = {
    "accountId": ACCOUNT,
    "emailAddress": EMAIL,
    "displayName": "Ana",
    "active": True,
    "timeZone": "Europe/Madrid",
    "_links": {"self": "https://acme.atlassian.net/..."},
}
DESK = {"servicedesk_id": "1", "request_type_id": "10", "phone_customer_domain": "sms.acme.example"}


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    f = FakeJira(issues=2)
    with f.mounted():
        yield f


def phone_ticket() -> NewTicket:
    return NewTicket(
        "WhatsApp from Ana",
        "hola",
        requester_name="Ana",
        channel="whatsapp",
        requester_phone="whatsapp:" + PHONE,
    )


def sent(fake: FakeJira, method: str, path: str) -> list[httpx.Request]:
    return [r for r in fake.requests if r.method == method and r.url.path == path]


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_phone_only_requester_is_a_new_customer_the_request_is_raised_for(fake: FakeJira) -> None:
    fake.script("POST", "/rest/servicedeskapi/customer", httpx.Response(201, json=CUSTOMER))
    fake.script("POST", "/rest/servicedeskapi/servicedesk/1/customer", httpx.Response(204))
    ext = make_backend(fake, **DESK).create(phone_ticket())
    (created,) = sent(fake, "POST", "/rest/servicedeskapi/customer")
    assert created.url.params["strictConflictStatusCode"] == "true"
    assert body(created) == {"email": EMAIL, "displayName": "Ana"}
    (access,) = sent(fake, "POST", "/rest/servicedeskapi/servicedesk/1/customer")
    assert body(access) == {"accountIds": [ACCOUNT]}
    (request,) = sent(fake, "POST", "/rest/servicedeskapi/request")
    assert body(request) == {
        "serviceDeskId": "1",
        "requestTypeId": "10",
        "raiseOnBehalfOf": ACCOUNT,
        "requestFieldValues": {"summary": "WhatsApp from Ana", "description": "hola", "labels": []},
    }
    assert ext and ext.isdigit()


def test_an_existing_customer_409_is_found_by_its_email(fake: FakeJira) -> None:
    fake.script(
        "POST",
        "/rest/servicedeskapi/customer",
        httpx.Response(409, json={"errorMessage": "An account already exists for this email"}),
    )
    other = {**CUSTOMER, "accountId": "someone-else", "emailAddress": "x" + EMAIL}
    fake.script("GET", "/rest/api/3/user/search", httpx.Response(200, json=[other, CUSTOMER]))
    fake.script("POST", "/rest/servicedeskapi/servicedesk/1/customer", httpx.Response(204))
    make_backend(fake, **DESK).create(phone_ticket())
    (search,) = sent(fake, "GET", "/rest/api/3/user/search")
    assert search.url.params["query"] == EMAIL
    (request,) = sent(fake, "POST", "/rest/servicedeskapi/request")
    assert body(request)["raiseOnBehalfOf"] == ACCOUNT


def test_without_the_domain_setting_the_create_is_refused_naming_it(fake: FakeJira) -> None:
    backend = make_backend(fake, servicedesk_id="1", request_type_id="10")
    with pytest.raises(ConfigError, match=r"backends\.jsm\.phone_customer_domain") as err:
        backend.create(phone_ticket())
    assert "\n" not in str(err.value)
    assert not sent(fake, "POST", "/rest/servicedeskapi/request")
    assert not sent(fake, "POST", "/rest/servicedeskapi/customer")


def test_without_the_request_api_the_create_is_refused_naming_the_settings(
    fake: FakeJira,
) -> None:
    backend = make_backend(fake, phone_customer_domain="sms.acme.example")
    with pytest.raises(ConfigError, match="servicedesk_id and request_type_id"):
        backend.create(phone_ticket())
    assert not sent(fake, "POST", "/rest/api/3/issue")


def test_429_with_and_without_retry_after_on_the_new_calls(fake: FakeJira) -> None:
    fake.script(
        "POST", "/rest/servicedeskapi/customer", httpx.Response(429, headers={"Retry-After": "3"})
    )
    fake.script("POST", "/rest/servicedeskapi/customer", httpx.Response(429))
    fake.script("POST", "/rest/servicedeskapi/customer", httpx.Response(201, json=CUSTOMER))
    fake.script("POST", "/rest/servicedeskapi/servicedesk/1/customer", httpx.Response(429))
    fake.script("POST", "/rest/servicedeskapi/servicedesk/1/customer", httpx.Response(204))
    backend = make_backend(fake, **DESK)
    waits: list[float] = []
    backend.http.sleep = waits.append
    backend.create(phone_ticket())
    assert waits == [3.0, 5.0, 5.0]
    assert len(sent(fake, "POST", "/rest/servicedeskapi/request")) == 1


def test_5xx_on_the_customer_create_is_not_retried_and_creates_nothing(fake: FakeJira) -> None:
    fake.script("POST", "/rest/servicedeskapi/customer", httpx.Response(500))
    with pytest.raises(BackendError, match=r"servicedeskapi/customer: HTTP 500.*not retried"):
        make_backend(fake, **DESK).create(phone_ticket())
    assert len(sent(fake, "POST", "/rest/servicedeskapi/customer")) == 1
    assert not sent(fake, "POST", "/rest/servicedeskapi/request")


def test_5xx_on_the_idempotent_access_grant_is_retried(fake: FakeJira) -> None:
    fake.script("POST", "/rest/servicedeskapi/customer", httpx.Response(201, json=CUSTOMER))
    fake.script("POST", "/rest/servicedeskapi/servicedesk/1/customer", httpx.Response(503))
    fake.script("POST", "/rest/servicedeskapi/servicedesk/1/customer", httpx.Response(204))
    make_backend(fake, **DESK).create(phone_ticket())
    assert len(sent(fake, "POST", "/rest/servicedeskapi/servicedesk/1/customer")) == 2
    assert len(sent(fake, "POST", "/rest/servicedeskapi/request")) == 1


@pytest.mark.parametrize(
    ("answers", "match"),
    [
        (
            [("POST", "/rest/servicedeskapi/customer", httpx.Response(201, json=[CUSTOMER]))],
            "no accountId",
        ),
        (
            [("POST", "/rest/servicedeskapi/customer", httpx.Response(201, text="<html>"))],
            r"malformed JSON .*servicedeskapi/customer",
        ),
        (
            [
                ("POST", "/rest/servicedeskapi/customer", httpx.Response(409)),
                ("GET", "/rest/api/3/user/search", httpx.Response(200, json={"values": []})),
            ],
            r"GET /rest/api/3/user/search: .*JSON array",
        ),
        (
            [
                ("POST", "/rest/servicedeskapi/customer", httpx.Response(409)),
                ("GET", "/rest/api/3/user/search", httpx.Response(200, json=[])),
            ],
            "exists .*but no account",
        ),
    ],
)
def test_malformed_answers_on_the_new_calls_are_one_line_errors(
    fake: FakeJira, answers: list[tuple[str, str, httpx.Response]], match: str
) -> None:
    for method, path, answer in answers:
        fake.script(method, path, answer)
    with pytest.raises(BackendError, match=match) as err:
        make_backend(fake, **DESK).create(phone_ticket())
    assert "\n" not in str(err.value)
    assert not sent(fake, "POST", "/rest/servicedeskapi/request")


def test_the_customers_message_is_an_internal_comment_marked_as_theirs(fake: FakeJira) -> None:
    change = Changes(comments=[Comment("¿y mi pedido?", public=True, from_requester=True)])
    assert make_backend(fake).apply("10001", change).changed
    (posted,) = sent(fake, "POST", "/rest/servicedeskapi/request/10001/comment")
    assert body(posted) == {"body": f"{REQUESTER_NOTE_HEADER}\n\n¿y mi pedido?", "public": False}


def test_an_agents_public_comment_stays_public(fake: FakeJira) -> None:
    make_backend(fake).apply("10001", Changes(comments=[Comment("On its way", public=True)]))
    (posted,) = sent(fake, "POST", "/rest/servicedeskapi/request/10001/comment")
    assert body(posted) == {"body": "On its way", "public": True}


def test_the_customer_is_remembered_and_checked_again_for_the_next_ticket(fake: FakeJira) -> None:
    fake.script("POST", "/rest/servicedeskapi/customer", httpx.Response(201, json=CUSTOMER))
    for _ in range(2):
        fake.script("POST", "/rest/servicedeskapi/servicedesk/1/customer", httpx.Response(204))
    fake.script("GET", "/rest/api/3/user", httpx.Response(200, json=CUSTOMER))
    backend = make_backend(fake, **DESK)
    backend.create(phone_ticket())
    backend.create(phone_ticket())  # remembered by a hash of the number, checked with Get User
    assert len(sent(fake, "POST", "/rest/servicedeskapi/customer")) == 1
    (shown,) = sent(fake, "GET", "/rest/api/3/user")
    assert shown.url.params["accountId"] == ACCOUNT
    assert len(sent(fake, "POST", "/rest/servicedeskapi/servicedesk/1/customer")) == 2
    requests = sent(fake, "POST", "/rest/servicedeskapi/request")
    assert [body(r)["raiseOnBehalfOf"] for r in requests] == [ACCOUNT, ACCOUNT]
