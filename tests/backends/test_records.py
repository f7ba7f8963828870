"""Malformed vendor data: one line naming backend, endpoint, record and field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.backends import (
    MAPPING_ERRORS,
    FieldError,
    VendorDataError,
    expect_list,
    expect_object,
    field,
    id_field,
    items_of,
    list_field,
    malformed,
    map_field,
    time_field,
)
from cstoolkit.errors import BackendError

LABEL, WHERE = "zendesk_main", "GET /api/v2/incremental/ticket_events.json"


def _mapper(record: Any) -> tuple[Any, ...]:
    return (
        id_field(record),
        time_field(record, "timestamp"),
        field(record, "subject", str, required=False),
        list_field(record, "tags"),
        map_field(record, "via"),
        record["ticket_id"],
    )


def _error(record: Any) -> VendorDataError:
    try:
        _mapper(record)
    except MAPPING_ERRORS as exc:
        return malformed(exc, LABEL, WHERE, "event", record)
    raise AssertionError("the mapper accepted it")


def test_missing_field_names_backend_endpoint_record_and_field() -> None:
    err = _error({"id": 123, "ticket_id": 5})
    assert str(err) == (
        "zendesk_main: GET /api/v2/incremental/ticket_events.json: event 123: "
        "field 'timestamp': missing"
    )
    assert isinstance(err, BackendError) and err.field == "timestamp" and err.exit_code == 1


@pytest.mark.parametrize(
    ("record", "fld", "problem"),
    [
        ({"id": 1, "timestamp": "soon"}, "timestamp", "not a time: 'soon'"),
        ({"id": 1, "timestamp": 5, "subject": 7}, "subject", "expected text, got 7"),
        ({"id": 1, "timestamp": 5, "tags": "a,b"}, "tags", "expected a list, got 'a,b'"),
        ({"id": 1, "timestamp": 5, "via": []}, "via", "expected an object, got []"),
        ({"id": 1, "timestamp": 5}, "ticket_id", "missing"),  # a KeyError in the mapper
        ({"id": [1], "timestamp": 5}, "id", "expected an id, got [1]"),
    ],
)
def test_wrong_fields(record: dict[str, Any], fld: str, problem: str) -> None:
    err = _error(record)
    assert err.field == fld and err.problem == problem
    assert str(err).endswith(f"field {fld!r}: {problem}")


def test_a_record_that_is_not_an_object() -> None:
    err = _error(["x"])
    assert str(err) == f"{LABEL}: {WHERE}: event ?: not an object (list)"


def test_page_shapes() -> None:
    with pytest.raises(VendorDataError, match=r"expected a JSON object \(got an array\)"):
        expect_object([], LABEL, WHERE)
    with pytest.raises(VendorDataError, match=r"expected a JSON array \(got an empty body\)"):
        expect_list(None, LABEL, WHERE)
    with pytest.raises(VendorDataError, match="no 'tickets' list"):
        items_of({}, "tickets", LABEL, WHERE, required=True)
    with pytest.raises(VendorDataError, match="'tickets' is not a list"):
        items_of({"tickets": {}}, "tickets", LABEL, WHERE)
    assert items_of({}, "users", LABEL, WHERE) == []


def test_long_values_are_cut() -> None:
    with pytest.raises(FieldError) as err:
        time_field({"at": "x" * 500}, "at")
    assert len(str(err.value)) < 80


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "id": json_values,
                "timestamp": json_values,
                "subject": json_values,
                "tags": json_values,
                "via": json_values,
                "ticket_id": json_values,
            },
        ),
    )
)
def test_generated_records_map_or_fail_in_one_line(record: Any) -> None:
    try:
        _mapper(record)
    except MAPPING_ERRORS as exc:
        err = malformed(exc, LABEL, WHERE, "event", record)
        text = str(err)
        assert text.startswith(f"{LABEL}: {WHERE}: event ") and "\n" not in text
