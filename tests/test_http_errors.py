"""Vendor error bodies kept: message, code and per-field errors, redacted and bounded.

Each vendor's documented error shape goes through the HTTP layer (respx) and the error a user
sees names the fields and messages; generated bodies (any JSON, text, bytes, huge, deep) never
make the parser raise and never let a planted secret through, not even part of it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.errors import AuthError
from cstoolkit.http import (
    ERROR_SHAPES,
    ErrorShape,
    HttpClient,
    HttpError,
    RequestInDoubt,
    RetriesExhausted,
    parse_error_body,
    parse_error_data,
    register_error_shape,
)
from cstoolkit.http_errors import SUMMARY_LIMIT, excerpt
from cstoolkit.secrets import REDACTOR, secret_forms

BASE = "https://vendor.example"
SECRET = 'sk-planted-Zq8\u00e9/x"9'  # a quote, a slash and non-ASCII: escaped in JSON bodies


def client(**kw: Any) -> HttpClient:
    kw.setdefault("secrets", [SECRET])
    return HttpClient(BASE, label="acme", sleep=lambda s: None, **kw)


def error_of(status: int, body: Any, method: str = "POST") -> HttpError:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with respx.mock(base_url=BASE) as mock:
        mock.route(method=method, path="/x").mock(
            return_value=httpx.Response(status, content=content)
        )
        with pytest.raises(HttpError) as err:
            client().request(method, "/x", json={})
    return err.value


# -- each vendor's documented shape --------------------------------------------------------------

FRESHDESK = {
    "description": "Validation failed",
    "errors": [
        {"field": "email", "message": "It should be a valid email address",
         "code": "invalid_value"},
        {"field": "priority", "message": "It should be one of these values: '1,2,3,4'",
         "code": "invalid_value"},
    ],
}  # fmt: skip


def test_freshdesk_field_errors_are_named_in_the_message() -> None:
    err = error_of(400, FRESHDESK)
    message = str(err)
    assert "Validation failed" in message
    assert "email: It should be a valid email address (invalid_value)" in message
    assert "priority: It should be one of these values" in message
    assert [(f.field, f.code) for f in err.vendor.fields] == [
        ("email", "invalid_value"),
        ("priority", "invalid_value"),
    ]
    assert err.detail.startswith("HTTP 400: Validation failed: email:")


def test_field_errors_survive_a_long_vendor_preamble() -> None:
    """The old excerpt cut every body at 200 characters, before the field errors."""
    body = {"description": "Validation failed " + "x" * 300, "errors": FRESHDESK["errors"]}
    err = error_of(400, body)
    assert "email: It should be a valid email address" in str(err)
    assert len(err.vendor.one_line()) <= SUMMARY_LIMIT


def test_zendesk_record_invalid_details() -> None:
    body = {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {
            "base": [{"description": "Requester: Email is invalid", "error": "InvalidValue"}],
            "tags": [{"description": "Tags: is too long", "error": "TooLong"}],
        },
    }
    message = str(error_of(422, body))
    assert "(RecordInvalid) Record validation errors" in message
    assert "Requester: Email is invalid (InvalidValue)" in message  # "base": the whole record
    assert "base:" not in message
    assert "tags: Tags: is too long (TooLong)" in message


def test_slack_ok_false_bodies() -> None:
    body = {
        "ok": False,
        "error": "invalid_blocks",
        "response_metadata": {
            "messages": ["[ERROR] must provide a string [json-pointer:/blocks/0]"]
        },
    }
    vendor = parse_error_data(body)
    assert vendor.code == "invalid_blocks"
    assert (
        vendor.one_line()
        == "invalid_blocks: [ERROR] must provide a string [json-pointer:/blocks/0]"
    )
    assert str(error_of(400, {"ok": False, "error": "channel_not_found"})).endswith(
        "HTTP 400: channel_not_found"
    )


def test_twilio_code_and_message() -> None:
    body = {
        "code": 21211,
        "message": "The 'To' number +1555 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    err = error_of(400, body)
    assert err.vendor.code == "21211"
    assert "(21211) The 'To' number +1555 is not a valid phone number." in str(err)


def test_graph_api_whatsapp_error_with_details() -> None:
    body = {
        "error": {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131047,
            "error_data": {"messaging_product": "whatsapp", "details": "More than 24 hours"},
            "fbtrace_id": "AbCd",
        }
    }
    err = error_of(400, body)
    assert err.vendor.code == "131047"
    assert "(#131047) Re-engagement message: More than 24 hours" in str(err)
    assert "(#131047) (#131047)" not in str(err)
    body["error"]["message"] = "Invalid parameter"
    body["error"]["code"] = 100
    assert "(#100) Invalid parameter: More than 24 hours" in str(error_of(400, body))


def test_jira_error_collection() -> None:
    body = {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {"summary": "You must specify a summary of the issue."},
    }
    message = str(error_of(400, body))
    assert "Issue does not exist or you do not have permission to see it." in message
    assert "summary: You must specify a summary of the issue." in message


def test_help_scout_embedded_errors() -> None:
    body = {
        "logRef": "64bb72b4",
        "message": "Bad request",
        "_embedded": {
            "errors": [
                {"path": "subject", "message": "may not be empty", "source": "JSON",
                 "_links": {"about": {"href": "https://developer.helpscout.com/#NotEmpty"}}},
                {"path": "status", "message": "Expected one of these: 'active', 'closed'",
                 "rejectedValue": "Wrong", "source": "JSON"},
            ]
        },
    }  # fmt: skip
    message = str(error_of(400, body))
    assert "Bad request: subject: may not be empty; status: Expected one of these" in message
    assert "developer.helpscout.com" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "RecordNotFound", "description": "Not found"}, "(RecordNotFound) Not found"),
        ({"error": "invalid_grant", "error_description": "Bad token"}, "(invalid_grant) Bad token"),
        ({"errors": [{"code": 20404, "message": "Not Found"}]}, "Not Found (20404)"),
        ({"title": "Invalid", "detail": "x is wrong", "status": 422}, "Invalid: x is wrong"),
        ({"error": "Ticket not found", "error_human": "Ticket was not found"}, "Ticket was not"),
        ([{"field": "a", "message": "b"}], "a: b"),
        (b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
         "502 Bad Gateway"),
        (b"invalid_payload", "invalid_payload"),
    ],
)  # fmt: skip
def test_other_shapes_and_text_bodies(body: Any, expected: str) -> None:
    assert expected in str(error_of(404, body))


def test_many_field_errors_are_bounded_and_counted() -> None:
    errors = [{"field": f"f{i}", "message": "is wrong " * 10, "code": "bad"} for i in range(500)]
    err = error_of(400, {"description": "Validation failed", "errors": errors})
    line = err.vendor.one_line()
    assert len(line) <= SUMMARY_LIMIT and line.endswith("more)")
    assert len(err.vendor.fields) == 20 and err.vendor.more_fields == 480


def test_the_table_is_extensible() -> None:
    shape = ErrorShape("Acme", when="fault", message=("fault.text",), fields=("fault.bad",))
    register_error_shape(shape)
    try:
        vendor = parse_error_body(b'{"fault": {"text": "Nope", "bad": {"zip": "too short"}}}')
        assert (vendor.vendor, vendor.one_line()) == ("Acme", "Nope: zip: too short")
        register_error_shape(shape)  # idempotent
        assert sum(s.vendor == "Acme" for s in ERROR_SHAPES) == 1
    finally:
        ERROR_SHAPES.remove(shape)


def test_auth_errors_carry_the_vendor_message_without_the_secret() -> None:
    body = {"errors": [{"code": "invalid_credentials", "message": f"bad key {SECRET}"}]}
    with respx.mock(base_url=BASE) as mock:
        mock.get("/me").mock(return_value=httpx.Response(401, json=body))
        with pytest.raises(AuthError) as err:
            client().get_json("/me")
    assert "bad key ***" in str(err.value) and SECRET not in str(err.value)


# -- redaction ----------------------------------------------------------------------------------


def test_a_secret_echoed_in_any_encoding_is_redacted() -> None:
    raw = json.dumps({"message": f"token {SECRET} refused"})  # JSON-escaped: \u00e9, \"
    assert SECRET not in raw  # the body carries only the escaped form
    err = error_of(400, raw.encode())
    for text in (str(err), err.body, err.vendor.one_line()):
        for form in secret_forms(SECRET):
            assert form not in text
    # a body that is not valid JSON is shown as text: the escaped form is redacted too
    err = error_of(400, raw[:-3].encode())
    assert all(form not in str(err) and form not in err.body for form in secret_forms(SECRET))


def test_a_cut_never_leaves_part_of_a_secret() -> None:
    """The old excerpt cut at 200 (or 500) characters, then redacted: half a secret leaked."""
    for prefix in (190, 195, 480, 495):
        body = ("x" * prefix + SECRET + " tail").encode()
        err = error_of(400, body)
        for text in (str(err), err.body):
            assert SECRET[:5] not in text


# -- generated bodies: never raise, never leak, always bounded ----------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(
        st.sampled_from(["message", "description", "errors", "error", "details", "code", "field",
                         "path", "ok", "_embedded", "errorMessages", "title", "detail", "x"])
        | st.text(max_size=10),
        children,
        max_size=6,
    ),
    max_leaves=30,
)  # fmt: skip


def _plant(data: Any, secret: str, where: int) -> Any:
    """Put ``secret`` into a value or key of ``data`` (the ``where``-th place found)."""
    places: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                places.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for i in range(len(node)):
                places.append((node, i))
                walk(node[i])

    walk(data)
    if not places:
        return {"message": f"x {secret} y", "value": data}
    node, key = places[where % len(places)]
    node[key] = f"{secret}" if where % 2 else f"refused {secret}: {node[key]}"
    if isinstance(node, dict) and where % 3 == 0:
        node[f"{secret}!"] = "a key holding the secret"
    return data


@given(data=_json, where=st.integers(0, 1000), status=st.sampled_from([400, 404, 409, 422, 500]))
def test_generated_json_bodies_never_raise_or_leak(data: Any, where: int, status: int) -> None:
    planted = _plant({"wrapper": data} if not isinstance(data, dict) else data, SECRET, where)
    for form in secret_forms(SECRET):  # as a client given SECRET does
        REDACTOR.add(form)
    for content in (json.dumps(planted).encode(), json.dumps(planted, ensure_ascii=False).encode()):
        vendor = parse_error_body(content)
        line = vendor.one_line()
        texts = [line, excerpt(content), json.dumps(vendor.as_dict())]
        for text in texts:
            assert all(form not in text for form in secret_forms(SECRET))
        assert len(line) <= SUMMARY_LIMIT and "\n" not in line


@given(
    content=st.binary(max_size=2000)
    | st.text(max_size=2000).map(str.encode)
    | st.builds(
        lambda n, s: (s * n).encode(),
        st.integers(1, 300_000),
        st.sampled_from(["[", '{"a":', " ", "\x1b[31m", "é"]),
    ),
    cut=st.integers(0, 4000),
)
def test_generated_raw_bodies_never_raise_or_leak(content: bytes, cut: int) -> None:
    REDACTOR.add(SECRET)
    body = content[:cut] + SECRET.encode() + content[cut:]
    vendor = parse_error_body(body)
    line = vendor.one_line()
    assert SECRET not in line and SECRET not in excerpt(body)
    assert len(line) <= SUMMARY_LIMIT and "\x1b" not in line


_secret_text = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Cc", "Zl", "Zp", "Cs")),
    min_size=8,
    max_size=24,
)


@given(secret=_secret_text, data=_json, where=st.integers(0, 1000), ascii_only=st.booleans())
def test_generated_secrets_in_generated_bodies_never_leak(
    monkeypatch: pytest.MonkeyPatch, secret: str, data: Any, where: int, ascii_only: bool
) -> None:
    """Any token-like secret (quotes, backslashes, slashes, any script) in any JSON body."""
    from cstoolkit import http_errors
    from cstoolkit.secrets import Redactor

    redactor = Redactor()  # not the process-wide one: generated secrets would mask other text
    for form in secret_forms(secret):
        redactor.add(form)
    monkeypatch.setattr(http_errors, "REDACTOR", redactor)
    planted = _plant({"wrapper": data} if not isinstance(data, dict) else data, secret, where)
    content = json.dumps(planted, ensure_ascii=ascii_only).encode()
    vendor = parse_error_body(content)
    for text in (vendor.one_line(), excerpt(content), excerpt(content, 50)):
        assert secret not in text
        assert all(form not in text for form in secret_forms(secret))


def test_huge_and_deep_bodies_are_summarised_quickly() -> None:
    for body in (b"[" * 200_000, b'{"message": "' + b"a" * 5_000_000 + b'"}', b"x" * 5_000_000):
        line = parse_error_body(body).one_line()
        assert 0 < len(line) <= SUMMARY_LIMIT


# -- what the client raises: outcomes callers can act on ----------------------------------------


def test_timeouts_before_and_after_sending() -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/x").mock(
            side_effect=[httpx.ConnectTimeout("no route"), httpx.PoolTimeout("busy"),
                         httpx.Response(201, json={"id": 1})]
        )  # fmt: skip
        assert client().json("POST", "/x", json={}) == {"id": 1}  # nothing was sent: retried
        assert route.call_count == 3
        route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(201)]
        with pytest.raises(RequestInDoubt) as doubt:
            client().request("POST", "/x", json={})
        assert doubt.value.maybe_applied and route.call_count == 4  # after sending: not again
        route.side_effect = [httpx.Response(503, json={"message": "down"})] * 3
        with pytest.raises(HttpError) as err:
            client().request("POST", "/x", json={})
        assert err.value.maybe_applied and "down" in str(err.value)


def test_exhausted_retries_say_what_failed_and_whether_it_may_have_applied() -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/x").mock(return_value=httpx.Response(429))
        with pytest.raises(RetriesExhausted) as err:
            client(max_attempts=2, default_rate_limit_wait=1.0).request("POST", "/x", json={})
        assert (err.value.kind, err.value.status, err.value.maybe_applied) == ("rate", 429, False)
        route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(502, json={"msg": "gw"})]
        with pytest.raises(RetriesExhausted) as err:
            client(max_attempts=2).request("POST", "/x", json={}, idempotent=True)
        assert (err.value.kind, err.value.maybe_applied) == ("server", True)
        assert "HTTP 502: gw" in str(err.value)
        route.side_effect = [httpx.ConnectError("refused")] * 2
        with pytest.raises(RetriesExhausted) as err:
            client(max_attempts=2).request("POST", "/x", json={})
        assert (err.value.kind, err.value.maybe_applied) == ("network", False)


def test_exact_bytes_and_form_bodies() -> None:
    body = b'{"b":1,  "a":"\xc3\xa9"}'  # not what json= would produce
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/x").mock(return_value=httpx.Response(200))
        client().request("POST", "/x", content=body, headers={"Content-Type": "application/json"})
        assert route.calls.last.request.content == body
        client().request("POST", "/x", data={"To": "+1 555", "Body": "a&b"})
        assert route.calls.last.request.content == b"To=%2B1+555&Body=a%26b"
    with pytest.raises(ValueError, match="one request body"):
        client().request("POST", "/x", json={}, content=b"{}")
