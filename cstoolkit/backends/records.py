"""Malformed vendor data, reported in one line: backend, endpoint, record and field.

A vendor answer can be wrong at two levels, and both end in a :class:`VendorDataError` (a
:class:`~cstoolkit.errors.BackendError`, exit 1) instead of a ``KeyError`` or ``TypeError``:

* the **page** (the body as a whole): :func:`expect_object`, :func:`expect_list`,
  :func:`items_of` check its shape;
* a **record** in it: a mapper reads fields with :func:`field`, :func:`time_field`,
  :func:`list_field`, :func:`map_field` (which raise :class:`FieldError` naming the field), and
  its caller converts whatever escapes it with :func:`malformed`::

      try:
          ticket = self._ticket(raw)
      except MAPPING_ERRORS as exc:
          raise malformed(exc, self.label, "GET /api/v2/tickets", "ticket", raw) from None

  which reads ``zendesk instance 'zd': GET /api/v2/tickets: ticket 42: field 'created_at':
  not a time: 'yesterday'``. A ``KeyError`` names its key as the field (``missing``).

Values are quoted short (40 characters) and never a whole record: vendor text may be long,
and the message is shown to people.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cstoolkit.errors import BackendError
from cstoolkit.vendor_time import TimeFormatError, parse_time

#: What a mapper can raise on data it did not expect (catch these around a mapper call).
MAPPING_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


class VendorDataError(BackendError):
    """A malformed answer: the message names backend, endpoint, record and field."""

    def __init__(
        self,
        label: str,
        endpoint: str,
        problem: str,
        *,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        where = f"{label}: {endpoint}: "
        if record:
            where += f"{record}: "
        if field:
            where += f"field {field!r}: "
        super().__init__(where + problem)
        self.label = label
        self.endpoint = endpoint
        self.record = record
        self.field = field
        self.problem = problem


class FieldError(ValueError):
    """Raised by the field readers: which field of the record is wrong, and how."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r}: {problem}")
        self.field = field
        self.problem = problem


def quote(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def record_name(kind: str, record: Any, id_key: str = "id") -> str:
    """``ticket 42`` (``ticket ?`` when the record has no usable id)."""
    rid = record.get(id_key) if isinstance(record, Mapping) else None
    if rid is None or isinstance(rid, dict | list):
        return f"{kind} ?"
    text = str(rid)
    if not text.isprintable():
        text = repr(text)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def malformed(
    exc: BaseException,
    label: str,
    endpoint: str,
    kind: str,
    record: Any,
    *,
    id_key: str = "id",
) -> VendorDataError:
    """The one-line error for an exception a mapper raised on ``record``."""
    if isinstance(exc, VendorDataError):
        return exc
    name = record_name(kind, record, id_key)
    if isinstance(exc, FieldError):
        return VendorDataError(label, endpoint, exc.problem, record=name, field=exc.field)
    if isinstance(exc, KeyError) and exc.args:
        return VendorDataError(label, endpoint, "missing", record=name, field=str(exc.args[0]))
    if not isinstance(record, Mapping):
        return VendorDataError(
            label, endpoint, f"not an object ({type(record).__name__})", record=name
        )
    detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    return VendorDataError(label, endpoint, f"malformed ({detail})", record=name)


# -- field readers ---------------------------------------------------------------------------


def field(
    record: Mapping[str, Any],
    name: str,
    kind: type | tuple[type, ...] | None = None,
    *,
    required: bool = True,
) -> Any:
    """``record[name]``, checked: missing (or None) when required, of ``kind`` when given."""
    value = record.get(name)
    if value is None:
        if required:
            raise FieldError(name, "missing")
        return None
    if kind is not None and (
        not isinstance(value, kind) or (isinstance(value, bool) and kind is int)
    ):
        raise FieldError(name, f"expected {_kind_name(kind)}, got {quote(value)}")
    return value


def id_field(record: Mapping[str, Any], name: str = "id") -> str:
    """An id (a string or an integer) as text."""
    value = field(record, name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError(name, f"expected an id, got {quote(value)}")
    return str(value)


def time_field(
    record: Mapping[str, Any], name: str, *, required: bool = True, **parse: Any
) -> datetime | None:
    """A time field through :func:`~cstoolkit.vendor_time.parse_time`."""
    try:
        value = parse_time(record.get(name), **parse)
    except TimeFormatError as exc:
        raise FieldError(name, str(exc)) from None
    if value is None and required:
        raise FieldError(name, "missing")
    return value


def list_field(record: Mapping[str, Any], name: str) -> list[Any]:
    """A list field (missing or None: empty)."""
    value = record.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FieldError(name, f"expected a list, got {quote(value)}")
    return value


def map_field(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """An object field (missing or None: empty)."""
    value = record.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FieldError(name, f"expected an object, got {quote(value)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "text", int: "a number", float: "a number", dict: "an object", list: "a list"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


# -- page shapes -----------------------------------------------------------------------------


def expect_object(data: Any, label: str, endpoint: str) -> Mapping[str, Any]:
    """The body must be a JSON object."""
    if not isinstance(data, Mapping):
        raise VendorDataError(
            label, endpoint, f"malformed page, expected a JSON object (got {_json_kind(data)})"
        )
    return data


def expect_list(data: Any, label: str, endpoint: str) -> list[Any]:
    """The body must be a JSON array."""
    if not isinstance(data, list):
        raise VendorDataError(
            label, endpoint, f"malformed page, expected a JSON array (got {_json_kind(data)})"
        )
    return data


def items_of(
    data: Any, key: str, label: str, endpoint: str, *, required: bool = False
) -> list[Any]:
    """``data[key]`` of an object body, which must be a list (missing: empty unless required)."""
    body = expect_object(data, label, endpoint)
    value = body.get(key)
    if value is None:
        if required:
            raise VendorDataError(label, endpoint, f"malformed page, no {key!r} list")
        return []
    if not isinstance(value, list):
        raise VendorDataError(label, endpoint, f"{key!r} is not a list")
    return value


def _json_kind(data: Any) -> str:
    if data is None:
        return "an empty body"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(data), "a number" if isinstance(data, int | float) else type(data).__name__
    )
