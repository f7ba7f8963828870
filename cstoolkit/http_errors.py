"""What a vendor's error body says, kept: its message, code and per-field errors.

Vendors put the useful part of an error in different places: Freshdesk lists field errors
after a generic "Validation failed", Zendesk nests them under ``details``, the Graph API under
``error.error_data``, Jira splits ``errorMessages`` from ``errors``, Help Scout embeds them. A
body cut at a fixed length loses exactly that part. :func:`parse_error_body` reads a body with
the table :data:`ERROR_SHAPES` (first matching shape wins, a generic reading last) into a
:class:`VendorError`, and :meth:`VendorError.one_line` gives the line a user sees:

    Validation failed: email: It should be a valid email address (invalid_value)

Guarantees, whatever the body (JSON of any shape, HTML, text, empty, huge, deeply nested):
parsing never raises; every text is redacted (:data:`cstoolkit.secrets.REDACTOR`) before it is
cut, so no secret survives even in part of a cut; control characters and runs of whitespace
become one space; every text and the whole line have bounded lengths (the constants below).

A plugin teaches every client its vendor's shape with :func:`register_error_shape`.

The errors the HTTP layer raises live here too (:class:`HttpError`, :class:`RequestInDoubt`,
:class:`RetriesExhausted`), with the helpers that make their text from a response.
:mod:`cstoolkit.http` re-exports everything here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import BackendError
from cstoolkit.secrets import REDACTOR

if TYPE_CHECKING:
    import httpx

#: Bytes of a body parsed as JSON; a larger body is summarised from its start as text.
MAX_PARSED_BODY = 1024 * 1024
#: Characters of the one-line summary (the vendor part of an error message).
SUMMARY_LIMIT = 500
#: Characters kept of one message, note or field message.
TEXT_LIMIT = 200
#: Characters kept of one field name or code.
NAME_LIMIT = 60
#: Field errors and notes kept (the summary says how many more there were).
MAX_FIELDS = 20
MAX_NOTES = 5
#: Characters of the body kept on an error as a raw excerpt.
EXCERPT_LIMIT = 500

_MAX_DEPTH = 8  # how deep field-error containers are walked
_WALK_LIMIT = 1000  # field errors counted at most (for "+N more")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HTML = re.compile(r"^\s*(<!doctype|<html|<\?xml|<head|<body)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>([^<]*)</title>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,1000}>")

# Keys an error item uses for its field, message and code (dotted: nested).
_ITEM_FIELD = ("field", "path", "name", "param", "parameter", "attribute", "property",
               "pointer", "source.pointer", "source.parameter", "key")  # fmt: skip
_ITEM_MESSAGE = ("message", "description", "detail", "reason", "msg", "title", "error_message",
                 "errorMessage", "error")  # fmt: skip
_ITEM_CODE = ("code", "error", "type", "error_code", "errorCode")
# Where a body of no known shape keeps its message (error_human: Zammad; error_description:
# OAuth 2.0 token endpoints, e.g. Help Scout's).
_GENERIC_MESSAGE = ("message", "description", "error_description", "detail", "error_human",
                    "error_message", "errorMessage", "error.message", "error.title", "error",
                    "msg", "title")  # fmt: skip
# Field names that mean "the record as a whole" (shown without a field name).
_RECORD_FIELDS = frozenset({"base", "__all__", "non_field_errors", "_schema"})


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field the vendor refused, and why (redacted, bounded)."""

    field: str
    message: str
    code: str = ""

    def text(self) -> str:
        head = f"{self.field}: " if self.field and self.field not in _RECORD_FIELDS else ""
        tail = f" ({self.code})" if self.code and self.code != self.message else ""
        return f"{head}{self.message or self.code}{tail if self.message else ''}"


@dataclass(frozen=True, slots=True)
class VendorError:
    """A vendor's error body, parsed: every text redacted and bounded.

    ``vendor`` names the :class:`ErrorShape` that matched ("" for text bodies); ``fields`` holds
    at most :data:`MAX_FIELDS` field errors and ``more_fields`` counts the rest.
    """

    vendor: str = ""
    message: str = ""
    code: str = ""
    notes: tuple[str, ...] = ()
    fields: tuple[FieldError, ...] = ()
    more_fields: int = 0
    code_format: str = "({code})"

    def __bool__(self) -> bool:
        return bool(self.message or self.code or self.notes or self.fields)

    def one_line(self, limit: int = SUMMARY_LIMIT) -> str:
        """``(code) message: note; field: message (code); ... (+N more)``, at most ``limit``."""
        head = self.message
        code = self.code_format.format(code=self.code) if self.code else ""
        if code and code not in head and self.code != head:  # Meta writes "(#131047) ..."
            head = f"{code} {head}" if head else code
        extras = list(self.notes) + [f.text() for f in self.fields]
        line = head
        shown = 0
        for extra in extras:
            joined = (
                f"{line}: {extra}" if shown == 0 and line else f"{line}; {extra}" if line else extra
            )
            if len(joined) > limit and shown:
                break
            line, shown = joined, shown + 1
        left = len(extras) - shown + self.more_fields
        if left:
            line += f" (+{left} more)"
        return _cut(REDACTOR.redact(line), limit)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json`` output and logs: the parsed parts, already redacted."""
        return {
            "vendor": self.vendor,
            "message": self.message,
            "code": self.code,
            "notes": list(self.notes),
            "fields": [
                {"field": f.field, "message": f.message, "code": f.code} for f in self.fields
            ],
            "more_fields": self.more_fields,
        }


@dataclass(frozen=True, slots=True)
class ErrorShape:
    """Where one vendor's JSON error body keeps its parts (dotted paths into the body).

    The shape applies to a body in which the path ``when`` holds a value. ``message`` and
    ``code`` are paths tried in order (the first text found wins); ``notes`` are paths of
    further texts (a text or a list of texts); ``fields`` are paths of field errors: a list of
    items (each with a field, a message and a code under the usual keys: ``field``/``path``/
    ``name``..., ``message``/``description``/``detail``..., ``code``/``error``...), a map of field
    name to message(s) or items, or a list of texts. ``code_format`` shows the code.
    """

    vendor: str
    when: str
    message: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    code_format: str = "({code})"


ERROR_SHAPES: list[ErrorShape] = [
    ErrorShape(
        "Graph API (WhatsApp Cloud API)",
        when="error.message",
        message=("error.message",),
        code=("error.code",),
        notes=("error.error_data.details", "error.error_data", "error.error_user_msg"),
        code_format="(#{code})",
    ),
    ErrorShape(
        "Slack Web API",
        when="ok",
        code=("error",),
        notes=("response_metadata.messages", "warning"),
        code_format="{code}",
    ),
    ErrorShape(
        "Help Scout", when="_embedded.errors", message=("message",), fields=("_embedded.errors",)
    ),
    ErrorShape("Jira", when="errorMessages", notes=("errorMessages",), fields=("errors",)),
    ErrorShape(
        "Zendesk",
        when="details",
        message=("description", "error.message", "error.title", "message"),
        code=("error",),
        fields=("details",),
    ),
    ErrorShape("Twilio", when="more_info", message=("message",), code=("code",)),
    ErrorShape(
        "Freshdesk (and other lists of field errors)",
        when="errors",
        message=("description", "message", "title", "detail"),
        code=("code",),
        fields=("errors",),
    ),
    ErrorShape(
        "RFC 9457 problem details",
        when="title",
        message=("title",),
        code=("code",),
        notes=("detail",),
        fields=("invalid-params", "invalid_params"),
    ),
    ErrorShape(
        "generic",
        when="",
        message=_GENERIC_MESSAGE,
        code=("code", "error_code", "errorCode", "error", "status_code"),
        fields=("field_errors", "validation_errors", "details", "errors"),
    ),
]
"""Shapes in priority order: the first that applies and finds something wins. Extend with
:func:`register_error_shape`."""


def register_error_shape(shape: ErrorShape, *, first: bool = True) -> None:
    """Teach every client a vendor's error body (idempotent by ``vendor`` name).

    Added before the built-in shapes by default (a vendor's own shape is more specific), but
    always before the generic reading.
    """
    if any(s.vendor == shape.vendor for s in ERROR_SHAPES):
        return
    ERROR_SHAPES.insert(0 if first else len(ERROR_SHAPES) - 1, shape)


# -- reading -----------------------------------------------------------------------------------


def parse_error_body(content: bytes | str | None) -> VendorError:
    """Parse an error response body (JSON, HTML or text) into a :class:`VendorError`.

    Never raises; every text in the result is redacted and bounded.
    """
    try:
        return _parse(content)
    except Exception:  # a summary must never be the thing that fails
        return VendorError(message="(unreadable error body)")


def parse_error_data(data: Any) -> VendorError:
    """The same for a body already decoded from JSON (Slack answers ``ok: false`` with 200)."""
    try:
        return _from_json(data)
    except Exception:
        return VendorError(message="(unreadable error body)")


def excerpt(content: bytes | str | None, limit: int = EXCERPT_LIMIT) -> str:
    """The start of a body as text: redacted as a whole first, then cut (no partial secret)."""
    text = _decode(content)
    return _cut(REDACTOR.redact(text), limit)


def _decode(content: bytes | str | None) -> str:
    if content is None:
        return ""
    if isinstance(content, bytes):
        return content.decode("utf-8", "replace")
    return str(content)


def _parse(content: bytes | str | None) -> VendorError:
    raw = _decode(content)
    if not raw.strip():
        return VendorError()
    size = len(content) if isinstance(content, bytes) else len(raw)
    if size <= MAX_PARSED_BODY and raw.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            pass
        else:
            parsed = _from_json(data)
            if parsed:
                return parsed
    return VendorError(message=_text_body(raw))


def _text_body(raw: str) -> str:
    text = REDACTOR.redact(raw)[: TEXT_LIMIT * 64]
    if _HTML.match(text):
        title = _TITLE.search(text)
        text = title.group(1) if title else _TAG.sub(" ", text)
    return _clean(text, TEXT_LIMIT)


def _from_json(data: Any) -> VendorError:
    if isinstance(data, dict):
        for shape in ERROR_SHAPES:
            if shape.when and _get(data, shape.when) is None:
                continue
            found = _apply(shape, data)
            if found:
                return found
        return VendorError()
    if isinstance(data, list):
        fields, more = _collect(data)
        return VendorError(vendor="list of errors", fields=fields, more_fields=more)
    text = _scalar(data)
    return VendorError(message=_clean(text, TEXT_LIMIT)) if text else VendorError()


def _apply(shape: ErrorShape, data: dict[str, Any]) -> VendorError:
    message = _first_text(data, shape.message, TEXT_LIMIT)
    code = _first_text(data, shape.code, NAME_LIMIT)
    notes: list[str] = []
    for path in shape.notes:
        for text in _texts(_get(data, path)):
            cleaned = _clean(text, TEXT_LIMIT)
            if cleaned and cleaned not in notes and cleaned != message:
                notes.append(cleaned)
    fields: tuple[FieldError, ...] = ()
    more = 0
    for path in shape.fields:
        node = _get(data, path)
        if node is not None and not isinstance(node, (str, int, float, bool)):
            fields, more = _collect(node)
            if fields:
                break
    if shape.fields and not fields and not message:
        # e.g. {"errors": "text"}: a text where field errors were expected is the message
        for path in shape.fields:
            message = message or _clean(_scalar(_get(data, path)), TEXT_LIMIT)
    return VendorError(
        vendor=shape.vendor,
        message=message,
        code=code,
        notes=tuple(notes[:MAX_NOTES]),
        fields=fields,
        more_fields=more,
        code_format=shape.code_format,
    )


def _collect(node: Any) -> tuple[tuple[FieldError, ...], int]:
    kept: list[FieldError] = []
    seen = 0
    for item in _walk(node, "", 0):
        seen += 1
        if len(kept) < MAX_FIELDS:
            kept.append(item)
        if seen >= _WALK_LIMIT:
            break
    return tuple(kept), seen - len(kept)


def _walk(node: Any, prefix: str, depth: int) -> Iterator[FieldError]:
    if depth > _MAX_DEPTH:
        return
    text = _scalar(node)
    if text:
        yield FieldError(_clean(prefix, NAME_LIMIT), _clean(text, TEXT_LIMIT))
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, prefix, depth + 1)
        return
    if not isinstance(node, dict):
        return
    message = _first_text(node, _ITEM_MESSAGE, TEXT_LIMIT)
    if message:  # an error item: {"field": ..., "message": ..., "code": ...}
        name = _first_text(node, _ITEM_FIELD, NAME_LIMIT)
        full = f"{prefix}.{name}" if prefix and name else (name or prefix)
        code = _first_text(node, _ITEM_CODE, NAME_LIMIT)
        yield FieldError(_clean(full, NAME_LIMIT), message, "" if code == message else code)
        return
    for key, value in node.items():  # a map: field name -> message(s) or items
        if str(key).startswith("_links"):
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        yield from _walk(value, name, depth + 1)


def _get(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return ""


def _texts(value: Any) -> Iterator[str]:
    text = _scalar(value)
    if text:
        yield text
    elif isinstance(value, list):
        for item in value[: MAX_NOTES * 4]:
            text = _scalar(item)
            if text:
                yield text


def _first_text(data: Any, paths: tuple[str, ...], limit: int) -> str:
    for path in paths:
        text = _clean(_scalar(_get(data, path)), limit)
        if text:
            return text
    return ""


def _clean(value: str, limit: int) -> str:
    """Redact, flatten to one line, redact again (secrets split by whitespace), then cut."""
    if not value:
        return ""
    text = REDACTOR.redact(value)[: limit * 8]
    text = " ".join(_CONTROLS.sub(" ", text).split())
    return _cut(REDACTOR.redact(text), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


# -- the HTTP layer's errors ----------------------------------------------------------------


class HttpError(BackendError):
    """A non-retryable HTTP answer (4xx other than 401/403/429, or 5xx on a write).

    ``vendor`` is the vendor's error body parsed (:class:`VendorError`: message, code, field
    errors; redacted and bounded); the message names its fields and messages. ``body`` is the
    start of the raw body (redacted). ``maybe_applied`` is True for a 5xx answer to a write
    that was not retried: the server may have acted on it. ``request_id`` is the vendor's id
    of the request when a header gave one (for the vendor's support).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        path: str,
        body: str = "",
        vendor: VendorError | None = None,
        maybe_applied: bool = False,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.body = body
        self.vendor = vendor if vendor is not None else VendorError()
        self.maybe_applied = maybe_applied
        self.request_id = request_id

    @property
    def detail(self) -> str:
        """``HTTP 422: <the vendor's message and field errors>`` (for delivery outcomes)."""
        summary = self.vendor.one_line()
        return f"HTTP {self.status}: {summary}" if summary else f"HTTP {self.status}"


class RequestInDoubt(BackendError):
    """A write timed out or broke after it was sent, and was not sent again.

    The server may have applied it: the caller settles it (a lookup, or ``in_doubt``).
    """

    maybe_applied = True


class RetriesExhausted(BackendError):
    """A request kept failing in a retryable way until its retries ran out.

    ``kind`` is the last failure: ``rate`` (429), ``server`` (5xx), ``timeout`` or ``network``;
    ``status`` its HTTP status, if any. ``maybe_applied`` is True when any attempt may have
    reached the server and been acted on (a 5xx or a timeout after sending); only requests
    marked idempotent are retried after such an attempt.
    """

    def __init__(
        self, message: str, *, kind: str, status: int | None = None, maybe_applied: bool = False
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.maybe_applied = maybe_applied


#: Response headers that carry the vendor's id of a request (kept on :class:`HttpError`).
REQUEST_ID_HEADERS: list[str] = [
    "X-Request-Id",
    "Request-Id",
    "Twilio-Request-Id",
    "X-Fb-Trace-Id",
    "X-Slack-Req-Id",
]


def short_body(response: httpx.Response, limit: int = 200) -> str:
    """The vendor's error in one redacted line of at most ``limit`` characters."""
    return parse_error_body(response.content).one_line(limit)


def raw_excerpt(response: httpx.Response, limit: int = 500) -> str:
    """The start of a response body as text, redacted (kept on :class:`HttpError`)."""
    return excerpt(response.content, limit)


def request_id_of(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return REDACTOR.redact(" ".join(value.split()))[:100]
    return None
