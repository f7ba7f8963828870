"""The shared pieces for customers known only by phone and their own messages on vendor
backends (cstoolkit/backends/requesters.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.backends import e164, first_with_phone, placeholder_email, requester_note
from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER, same_phone
from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.plugin import Comment


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("+34600111222", "+34600111222"),
        ("whatsapp:+34 600-111-222", "+34600111222"),
        ("34600111222", "+34600111222"),
    ],
)
def test_e164_spelling(raw: str, want: str) -> None:
    assert e164(raw) == want


def test_a_number_without_digits_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="not a phone number"):
        e164("whatsapp:")


@given(
    st.text(alphabet="0123456789 -+()", min_size=1).filter(lambda t: any(c.isdigit() for c in t))
)
def test_e164_is_stable_and_matches_its_source(raw: str) -> None:
    assert e164(e164(raw)) == e164(raw)
    assert same_phone(raw, e164(raw))


def test_first_with_phone_never_trusts_the_search_blindly() -> None:
    records = [{"id": 1, "phones": ["+1 555 0100"]}, "junk", {"id": 2, "phones": ["34600111222"]}]
    found = first_with_phone(records, "+34600111222", lambda r: r.get("phones") or [])
    assert found == {"id": 2, "phones": ["34600111222"]}
    assert first_with_phone(records[:1], "+34600111222", lambda r: r["phones"]) is None
    assert first_with_phone([{"phones": [None, 5]}], "+34600111222", lambda r: r["phones"]) is None


def test_placeholder_email_needs_the_operators_domain() -> None:
    assert placeholder_email("whatsapp:+34600111222", "@SMS.Example.com", "backends.x.d") == (
        "phone-34600111222@sms.example.com"
    )
    with pytest.raises(ConfigError, match=r"backends\.x\.d") as err:
        placeholder_email("+34600111222", None, "backends.x.d")
    assert "\n" not in str(err.value)
    for bad in ("localhost", "a b.com", "x@y.com", "-x.com"):
        with pytest.raises(ConfigError, match="not a domain"):
            placeholder_email("+34600111222", bad, "backends.x.d")


def test_requester_note_marks_only_the_customers_messages() -> None:
    note = requester_note(Comment("hola", public=True, from_requester=True))
    assert note == Comment(f"{REQUESTER_NOTE_HEADER}\n\nhola", public=False)
    agent = Comment("On its way", public=True)
    assert requester_note(agent) is agent
