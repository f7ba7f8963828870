"""The one HTTP layer every HTTP plugin uses: httpx + tenacity, rate limits, budgets, redaction.

A plugin builds one :class:`HttpClient` per backend instance with :meth:`HttpClient.from_settings`
and calls :meth:`HttpClient.get_json` / :meth:`HttpClient.request`. The client:

* paces requests with token buckets: an account budget (``requests_per_minute`` x
  ``budget_share``, leaving the rest of the vendor's limit to the account's other integrations)
  and any number of endpoint budgets (e.g. Zendesk's incremental exports, 10 requests/minute);
* on HTTP 429 waits what the server says (``Retry-After`` in seconds or as an HTTP date, or a
  vendor header from :data:`RATE_LIMIT_HEADERS`), or ``default_rate_limit_wait`` when it says
  nothing, whatever the body is (JSON or not);
* retries 5xx answers, timeouts and network errors with jittered exponential backoff, only when
  the request is idempotent (GET/HEAD/OPTIONS/PUT/DELETE, or a POST/PATCH the caller marks);
* gives up with :class:`~cstoolkit.errors.BackendError` once the waits of one request would pass
  ``max_retry_wait`` seconds;
* maps 401/403 to :class:`~cstoolkit.errors.AuthError` (exit 2) whose message never holds a
  credential, and a malformed JSON body on a 2xx to ``BackendError`` naming the URL path only;
* raises :class:`HttpError` for other error answers with the vendor's error details parsed by
  the table in :mod:`cstoolkit.http_errors` (message, code, each field and its message),
  :class:`RequestInDoubt` for a write that timed out or broke after it was sent (never sent
  again) and :class:`RetriesExhausted` (what kept failing, and whether an attempt may have
  been applied) when the retries run out;
* sends JSON (``json=``), exact bytes (``content=``, e.g. a signed webhook body) or a form
  (``data=``);
* never logs headers; every logged line and error goes through
  :func:`cstoolkit.secrets.redact_text` (the client's secrets also in their JSON-escaped and
  URL-encoded forms);
* counts ``requests``, ``retries`` and ``seconds_waited_rate_limit`` in :class:`HttpStats`.

Sleeping and both clocks are injectable (``sleep``, ``clock``, ``wall``), so tests never wait.
httpx and tenacity are imported lazily: importing this module (for :data:`HTTP_SETTINGS`) is cheap.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from cstoolkit.errors import AuthError, BackendError, ConfigError
from cstoolkit.http_errors import (  # the error table; re-exported for plugins
    ERROR_SHAPES,  # noqa: F401
    ErrorShape,  # noqa: F401
    FieldError,  # noqa: F401
    VendorError,
    excerpt,
    parse_error_body,
    parse_error_data,  # noqa: F401
    register_error_shape,  # noqa: F401
)
from cstoolkit.plugin import Setting
from cstoolkit.secrets import REDACTOR, learn_url, redact_echo, redact_text, redact_url

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("cstoolkit.http")


T = TypeVar("T")
R = TypeVar("R")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})

# -- settings ----------------------------------------------------------------------------------


def http_settings(
    *,
    requests_per_minute: float | None = None,
    budget_share: float = 1.0,
    timeout: float = 30.0,
    max_retry_wait: float = 900.0,
    default_rate_limit_wait: float = 60.0,
) -> tuple[Setting, ...]:
    """The settings every HTTP backend accepts, with plugin-specific defaults."""
    return (
        Setting(
            "base_url",
            help="Overrides the vendor's address (sandbox, regional domain, proxy, local test "
            "server such as http://127.0.0.1:8080).",
        ),
        Setting("timeout", "float", default=timeout, help="Seconds before a request times out."),
        Setting("proxy", help="Proxy URL for every request (http://, https:// or socks5://)."),
        Setting("ca_bundle", "path", help="PEM file of CA certificates to trust (TLS)."),
        Setting(
            "requests_per_minute",
            "float",
            default=requests_per_minute,
            help="The account's request limit per minute (depends on the vendor plan).",
        ),
        Setting(
            "budget_share",
            "float",
            default=budget_share,
            help="Share (0-1] of requests_per_minute this instance may use; the rest is left "
            "to the account's other integrations.",
        ),
        Setting(
            "max_retry_wait",
            "float",
            default=max_retry_wait,
            help="Most seconds one request may spend waiting on retries before giving up.",
        ),
        Setting(
            "default_rate_limit_wait",
            "float",
            default=default_rate_limit_wait,
            help="Seconds to wait after a 429 that says nothing about when to retry.",
        ),
    )


#: The common HTTP settings with neutral defaults; plugins usually call :func:`http_settings`.
HTTP_SETTINGS: tuple[Setting, ...] = http_settings()


# -- rate-limit headers (table-driven) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """How to read one rate-limit response header.

    ``kind`` is one of:

    * ``retry_after``: seconds or an HTTP date (RFC 9110 ``Retry-After``);
    * ``delay``: seconds to wait;
    * ``reset``: when the window resets: seconds from now, a unix time (s or ms), an ISO 8601
      time or an HTTP date;
    * ``remaining``: requests left in the window (an integer);
    * ``reason``: a text explaining the limit (shown in messages);
    * ``structured``: ``key=value; key=value`` with ``remaining`` and ``resets`` (seconds).
    """

    header: str
    kind: str
    vendor: str = ""


RATE_LIMIT_HEADERS: list[HeaderRule] = [
    HeaderRule("Retry-After", "retry_after", "standard (RFC 9110); Zendesk, Freshdesk, Jira"),
    HeaderRule("X-RateLimit-Retry-After", "delay", "Help Scout"),
    HeaderRule("ratelimit-reset", "delay", "Zendesk (IETF RateLimit draft)"),
    HeaderRule("X-RateLimit-Reset", "reset", "Jira, GitHub"),
    HeaderRule("zendesk-ratelimit-tickets-index", "structured", "Zendesk"),
    HeaderRule("X-Rate-Limit-Remaining", "remaining", "Zendesk"),
    HeaderRule("ratelimit-remaining", "remaining", "Zendesk (IETF RateLimit draft)"),
    HeaderRule("X-RateLimit-Remaining", "remaining", "Freshdesk, Jira, GitHub"),
    HeaderRule("X-RateLimit-Remaining-Minute", "remaining", "Help Scout"),
    HeaderRule("RateLimit-Reason", "reason", "Jira"),
]
"""Rules in priority order: the first header that gives a wait wins. Extend with
:func:`register_rate_limit_header` (or pass ``header_rules=`` to one client)."""

_KINDS = frozenset({"retry_after", "delay", "reset", "remaining", "reason", "structured"})


def register_rate_limit_header(rule: HeaderRule, *, first: bool = False) -> None:
    """Teach every client a vendor's rate-limit header (idempotent)."""
    if rule.kind not in _KINDS:
        raise ValueError(f"unknown header rule kind {rule.kind!r}")
    if any(r.header.lower() == rule.header.lower() for r in RATE_LIMIT_HEADERS):
        return
    if first:
        RATE_LIMIT_HEADERS.insert(0, rule)
    else:
        RATE_LIMIT_HEADERS.append(rule)


@dataclass(slots=True)
class RateLimitInfo:
    wait: float | None = None
    remaining: int | None = None
    reason: str | None = None
    source: str | None = None  # the header the wait came from


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    import math

    return value if math.isfinite(value) else None


def _until(when: datetime, wall: Callable[[], float]) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - wall())


def parse_wait(text: str, kind: str, wall: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait according to one header value of ``kind`` (None if unreadable)."""
    text = text.strip()
    if not text:
        return None
    if kind == "delay":
        value = _number(text)
        return None if value is None else max(0.0, value)
    if kind == "retry_after":
        value = _number(text)
        if value is not None:
            return max(0.0, value)
        try:
            return _until(parsedate_to_datetime(text), wall)
        except (TypeError, ValueError, IndexError):
            return None
    if kind == "reset":
        value = _number(text)
        if value is not None:
            if value > 1e12:  # unix milliseconds
                return max(0.0, value / 1000.0 - wall())
            if value > 1e9:  # unix seconds
                return max(0.0, value - wall())
            return max(0.0, value)
        from cstoolkit.backends.vendor_time import require_time  # vendor data

        try:
            return _until(require_time(text), wall)
        except ValueError:
            pass
        try:
            return _until(parsedate_to_datetime(text), wall)
        except (TypeError, ValueError, IndexError):
            return None
    if kind == "structured":
        parts = dict(p.strip().split("=", 1) for p in text.replace(",", ";").split(";") if "=" in p)
        resets = _number(parts.get("resets", ""))
        return None if resets is None else max(0.0, resets)
    return None


def read_rate_limit(
    headers: Mapping[str, str],
    rules: Sequence[HeaderRule] | None = None,
    wall: Callable[[], float] = time.time,
) -> RateLimitInfo:
    """What a response's headers say about the rate limit (wait, remaining, reason)."""
    info = RateLimitInfo()
    lowered = {k.lower(): v for k, v in headers.items()}
    for rule in RATE_LIMIT_HEADERS if rules is None else rules:
        value = lowered.get(rule.header.lower())
        if value is None:
            continue
        if rule.kind == "remaining":
            if info.remaining is None:
                number = _number(value)
                info.remaining = None if number is None else int(number)
        elif rule.kind == "reason":
            info.reason = info.reason or value.strip()[:100]
        else:
            if rule.kind == "structured" and info.remaining is None:
                parts = dict(
                    p.strip().split("=", 1) for p in value.replace(",", ";").split(";") if "=" in p
                )
                number = _number(parts.get("remaining", ""))
                info.remaining = None if number is None else int(number)
            if info.wait is None:
                wait = parse_wait(value, rule.kind, wall)
                if wait is not None:
                    info.wait = wait
                    info.source = rule.header
    return info


# -- budgets -----------------------------------------------------------------------------------


class TokenBucket:
    """A thread-safe token bucket: ``per_minute`` tokens a minute, at most ``burst`` saved up.

    :meth:`reserve` takes tokens at once (going into debt if needed) and returns how long the
    caller must wait, so concurrent callers queue fairly without holding the lock while asleep.
    """

    def __init__(self, per_minute: float, *, burst: float = 1.0) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = float(per_minute)
        self.rate = self.per_minute / 60.0
        self.capacity = max(1.0, float(burst))
        self.tokens = self.capacity
        self.updated: float | None = None
        self._lock = threading.Lock()

    def reserve(self, now: float, cost: float = 1.0) -> float:
        with self._lock:
            if self.updated is not None:
                elapsed = max(0.0, now - self.updated)
                self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.updated = now
            self.tokens -= cost
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclass(slots=True)
class Budget:
    """An endpoint budget: requests whose path starts with ``prefix`` share ``per_minute``."""

    name: str
    per_minute: float
    prefix: str
    burst: float = 1.0


# -- stats and errors --------------------------------------------------------------------------


@dataclass
class HttpStats:
    """What one client did: the sync ``--json`` summary reports these."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds_waited_rate_limit: float = 0.0
    seconds_waited_backoff: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "seconds_waited_rate_limit": round(self.seconds_waited_rate_limit, 3),
            "seconds_waited_backoff": round(self.seconds_waited_backoff, 3),
        }


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


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(
        self,
        kind: str,
        detail: str,
        hint: float | None = None,
        *,
        status: int | None = None,
        sent: bool = False,
    ) -> None:
        super().__init__(detail)
        self.kind = kind  # "rate" | "server" | "timeout" | "network"
        self.detail = detail
        self.hint = hint  # seconds the server asked for, if it did
        self.status = status
        self.sent = sent  # the request may have reached the server and been acted on
        self.planned: float | None = None


def short_body(response: httpx.Response, limit: int = 200) -> str:
    """The vendor's error in one redacted line of at most ``limit`` characters."""
    return parse_error_body(response.content).one_line(limit)


def raw_excerpt(response: httpx.Response, limit: int = 500) -> str:
    """The start of a response body as text, redacted (kept on :class:`HttpError`)."""
    return excerpt(response.content, limit)


def _request_id(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return REDACTOR.redact(" ".join(value.split()))[:100]
    return None


# -- the client --------------------------------------------------------------------------------


class HttpClient:
    """One vendor account's HTTP client (see the module docstring for what it does)."""

    def __init__(
        self,
        base_url: str,
        *,
        label: str,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str | None] = (),
        timeout: float = 30.0,
        proxy: str | None = None,
        ca_bundle: str | None = None,
        requests_per_minute: float | None = None,
        budget_share: float = 1.0,
        budgets: Iterable[Budget] = (),
        max_retry_wait: float = 900.0,
        default_rate_limit_wait: float = 60.0,
        max_attempts: int = 20,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        header_rules: Sequence[HeaderRule] | None = None,
        stats: HttpStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        transport: Any = None,
        auth_hint: str = "",
    ) -> None:
        import httpx

        self.base_url = check_base_url(base_url, label)
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path.rstrip("/")
        self.label = label
        self.auth_hint = auth_hint
        self.max_retry_wait = float(max_retry_wait)
        self.default_rate_limit_wait = float(default_rate_limit_wait)
        self.max_attempts = int(max_attempts)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.header_rules = header_rules
        self.stats = stats if stats is not None else HttpStats()
        self.sleep = sleep
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.Random()
        for secret in secrets:
            if secret:
                REDACTOR.add(secret)  # every form: as is, JSON-escaped, URL-encoded
        learn_url(proxy)  # a proxy URL's password is masked like any other secret
        for name in ("httpx", "httpcore"):  # their INFO/DEBUG lines carry full URLs
            logging.getLogger(name).addFilter(REDACTOR)
        if isinstance(auth, tuple) and len(auth) == 2:
            import base64

            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            REDACTOR.add(token)
        if not 0 < budget_share <= 1:
            raise ConfigError(f"{label}: budget_share must be in (0, 1], got {budget_share}")
        self.account_budget: TokenBucket | None = None
        if requests_per_minute:
            self.account_budget = TokenBucket(float(requests_per_minute) * float(budget_share))
        self.budgets: list[tuple[Budget, TokenBucket]] = [
            (b, TokenBucket(b.per_minute, burst=b.burst)) for b in budgets
        ]
        self._blocked_until = 0.0
        self._block_lock = threading.Lock()
        verify: Any = default_tls_context()
        if ca_bundle:
            import ssl

            try:
                verify = ssl.create_default_context(cafile=ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"{label}: ca_bundle {ca_bundle}: {exc}") from None
        from cstoolkit.__about__ import __version__

        all_headers = {"User-Agent": f"cstoolkit/{__version__}", "Accept": "application/json"}
        all_headers.update(headers or {})
        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "auth": auth,
            "headers": all_headers,
            "timeout": httpx.Timeout(float(timeout)),
            "verify": verify,
            "follow_redirects": False,
        }
        if transport is not None:
            kwargs["transport"] = transport
        elif proxy:
            kwargs["proxy"] = proxy
        try:
            self._client = httpx.Client(**kwargs)
        except (httpx.InvalidURL, ValueError) as exc:
            if not proxy:
                raise
            why = redact_text(redact_echo(str(exc), proxy))
            raise ConfigError(
                f"{label}: proxy {redact_url(proxy)!r} is not a valid URL ({why}); "
                "percent-encode reserved characters of its password (# ? / @ : % and blanks)"
            ) from None

    @classmethod
    def from_settings(
        cls,
        config: Mapping[str, Any],
        *,
        label: str,
        default_base_url: str | None,
        **kwargs: Any,
    ) -> HttpClient:
        """Build a client from an instance's settings (the :func:`http_settings` ones)."""
        base_url = config.get("base_url") or default_base_url
        if not base_url:
            raise ConfigError(f"{label}: no address: set base_url (or the plugin's account name)")

        def num(name: str, default: float | None) -> float | None:
            value = config.get(name)
            return default if value is None else float(value)

        return cls(
            str(base_url),
            label=label,
            timeout=num("timeout", 30.0) or 30.0,
            proxy=config.get("proxy") or None,
            ca_bundle=config.get("ca_bundle") or None,
            requests_per_minute=kwargs.pop("requests_per_minute", num("requests_per_minute", None)),
            budget_share=num("budget_share", 1.0) or 1.0,
            max_retry_wait=num("max_retry_wait", 900.0) or 0.0,
            default_rate_limit_wait=num("default_rate_limit_wait", 60.0) or 60.0,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"<HttpClient {self.label} {self.base_url}>"

    def close(self) -> None:
        self._client.close()

    # -- public calls --------------------------------------------------------------------------

    def get_json(self, path: str, *, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.json("GET", path, params=params, **kw)

    def json(self, method: str, path: str, **kw: Any) -> Any:
        """Send a request and decode its JSON body (an empty body gives None)."""
        response = self.request(method, path, **kw)
        return self.decode(response)

    def decode(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            where = f"{response.request.method} {response.request.url.path}"
            reason = str(exc).split(":")[0][:80]
            raise BackendError(
                f"{self.label}: malformed JSON in the response to {where} "
                f"(HTTP {response.status_code}, {len(response.content)} bytes): {reason}"
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        cost: float = 1.0,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request with pacing and retries; return the 2xx/3xx response.

        The body is one of ``json`` (serialised by httpx), ``content`` (these exact bytes: for
        a signed body; set its ``Content-Type`` in ``headers``) or ``data`` (form-encoded).
        ``idempotent`` overrides the method's default (mark a POST carrying an idempotency key
        ``True``). 429 answers are always retried (the server did not act on the request).

        Raises :class:`HttpError` (4xx, or 5xx on a write), :class:`RequestInDoubt` (a write
        that timed out or broke after it was sent), :class:`RetriesExhausted`, or
        :class:`~cstoolkit.errors.AuthError` (401/403).
        """
        import tenacity

        bodies = {"json": json, "content": content, "data": data}
        given = [name for name, value in bodies.items() if value is not None]
        if len(given) > 1:
            raise ValueError(f"give one request body, not {' and '.join(given)}")
        body = {name: bodies[name] for name in given}
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else bool(idempotent)
        url = self._url(path)
        where = f"{method} {urlsplit(url).path or '/'}"
        waited = [0.0]
        reached = [False]  # an attempt may have reached the server and been acted on

        def attempt() -> httpx.Response:
            try:
                return self._attempt(method, url, where, params, body, headers, safe, cost)
            except _Retry as exc:
                reached[0] = reached[0] or exc.sent
                raise

        def planned(exc: _Retry, attempt_number: int) -> float:
            if exc.planned is None:
                if exc.kind == "rate":
                    base = self.default_rate_limit_wait if exc.hint is None else exc.hint
                    exc.planned = max(base, 0.5)
                else:
                    exp = min(self.backoff_max, self.backoff_base * 2 ** (attempt_number - 1))
                    jittered = exp * (0.5 + self.rng.random() * 0.5)
                    exc.planned = max(jittered, exc.hint or 0.0)
            return exc.planned

        def stop(state: tenacity.RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if not isinstance(exc, _Retry):
                return True
            wait = planned(exc, state.attempt_number)
            return state.attempt_number >= self.max_attempts or (
                waited[0] + wait > self.max_retry_wait
            )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if not isinstance(exc, _Retry):
                return 0.0
            return planned(exc, state.attempt_number)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            assert isinstance(exc, _Retry)
            seconds = planned(exc, state.attempt_number)
            waited[0] += seconds
            if exc.kind == "rate":
                self.stats.add(retries=1, seconds_waited_rate_limit=seconds)
            else:
                self.stats.add(retries=1, seconds_waited_backoff=seconds)
            log.warning(
                "%s",
                redact_text(
                    f"{self.label}: {where}: {exc.detail}; retry {state.attempt_number} "
                    f"in {seconds:.1f}s"
                ),
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            stop=stop,
            wait=wait,
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            response: httpx.Response = retrying(attempt)
        except _Retry as exc:
            seconds = planned(exc, self.max_attempts)
            if waited[0] + seconds > self.max_retry_wait:
                why = (
                    f"waiting {seconds:.0f}s more would pass max_retry_wait "
                    f"({self.max_retry_wait:.0f}s; {waited[0]:.0f}s waited already)"
                )
            else:
                why = f"gave up after {self.max_attempts} attempts"
            message = REDACTOR.redact(f"{self.label}: {where}: {exc.detail}; {why}")
            raise RetriesExhausted(
                message, kind=exc.kind, status=exc.status, maybe_applied=reached[0]
            ) from None
        return response

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, max_workers: int = 4) -> list[R]:
        """Run ``fn`` over ``items`` with at most ``max_workers`` in flight; results in order.

        For per-ticket sub-resources (conversations, comments). The budgets still pace every
        request, so more workers only help while latency, not the budget, is the bottleneck.
        The first exception is raised after the running calls finish.
        """
        items = list(items)
        if max_workers <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
            return list(pool.map(fn, items))

    # -- internals -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            if f"{parts.scheme}://{parts.netloc}" != self._origin:
                raise BackendError(
                    f"{self.label}: refusing to follow a link to another host "
                    f"({parts.scheme}://{parts.netloc}); credentials stay with {self._origin}"
                )
            return path
        return path if path.startswith("/") else "/" + path

    def _api_path(self, url: str) -> str:
        """The path budgets match on: without query, and without base_url's own path prefix."""
        if "://" not in url:
            return url.split("?", 1)[0]
        path = urlsplit(url).path
        if self._base_path and path.startswith(self._base_path + "/"):
            path = path[len(self._base_path) :]
        return path

    def _pace(self, path: str, cost: float) -> None:
        """Wait for the budgets (and a server-announced block) before sending."""
        wait = 0.0
        now = self.clock()
        with self._block_lock:
            if self._blocked_until > now:
                wait = self._blocked_until - now
        if self.account_budget is not None:
            wait = max(wait, self.account_budget.reserve(now, cost))
        for budget, bucket in self.budgets:
            if path.startswith(budget.prefix):
                wait = max(wait, bucket.reserve(now))
        if wait > 0:
            self.stats.add(seconds_waited_rate_limit=wait)
            self.sleep(wait)

    def _attempt(
        self,
        method: str,
        url: str,
        where: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        safe: bool,
        cost: float,
    ) -> httpx.Response:
        import httpx

        self._pace(self._api_path(url), cost)
        started = self.clock()
        try:
            self.stats.add(requests=1)
            response = self._client.request(method, url, params=params, headers=headers, **body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the server: safe to retry whatever the method.
            raise _Retry("network", f"cannot connect ({type(exc).__name__})") from None
        except httpx.TimeoutException as exc:
            if safe:
                raise _Retry("timeout", f"timed out ({type(exc).__name__})", sent=True) from None
            raise RequestInDoubt(
                f"{self.label}: {where}: timed out ({type(exc).__name__}); not retried because "
                "the request may have been applied"
            ) from None
        except httpx.TransportError as exc:
            if safe:
                raise _Retry(
                    "network", f"network error ({type(exc).__name__})", sent=True
                ) from None
            raise RequestInDoubt(
                f"{self.label}: {where}: network error ({type(exc).__name__}); not retried "
                "because the request may have been applied"
            ) from None
        elapsed = self.clock() - started
        status = response.status_code
        log.debug("%s", redact_text(f"{self.label}: {where} -> {status} ({elapsed:.3f}s)"))
        info = read_rate_limit(response.headers, self.header_rules, self.wall)
        if status == 429:
            self.stats.add(rate_limited=1)
            reason = f" ({info.reason})" if info.reason else ""
            said = f"{info.source} {info.wait:.0f}s" if info.wait is not None else "no wait given"
            raise _Retry("rate", f"HTTP 429 rate limited{reason}, {said}", info.wait, status=429)
        if status in (401, 403):
            what = "refused the credentials" if status == 401 else "denied access"
            hint = f"; check {self.auth_hint}" if self.auth_hint else ""
            raise AuthError(
                redact_text(
                    f"{self.label}: the server {what} (HTTP {status} on {where}): "
                    f"{short_body(response, 120)}{hint}"
                )
            )
        if status in RETRY_STATUSES and safe:
            said = short_body(response, 120)
            detail = f"HTTP {status}: {said}" if said else f"HTTP {status}"
            raise _Retry("server", detail, info.wait, status=status, sent=True)
        if status >= 400:
            vendor = parse_error_body(response.content)
            summary = vendor.one_line()
            text = f"{self.label}: {where}: HTTP {status}" + (f": {summary}" if summary else "")
            if status in RETRY_STATUSES:
                text += " (not retried: the write may have been applied)"
            raise HttpError(
                REDACTOR.redact(text),
                status=status,
                path=where,
                body=raw_excerpt(response),
                vendor=vendor,
                maybe_applied=status >= 500 and not safe,
                request_id=_request_id(response),
            )
        spent = info.remaining is not None and info.remaining <= 0
        if spent and info.wait and info.wait <= self.max_retry_wait:
            # The window is spent: hold the next request until it resets (not this one).
            with self._block_lock:
                self._blocked_until = max(self._blocked_until, self.clock() + info.wait)
        return response


@functools.cache
def default_tls_context() -> Any:
    """The TLS context every client shares (httpx's default trust store): loading the CA
    bundle takes about 90 ms, which each client, and each proxy transport, paid again."""
    import httpx

    if hasattr(httpx, "create_ssl_context"):
        return httpx.create_ssl_context()
    from httpx import _config  # httpx 0.27

    return _config.create_ssl_context()


def check_base_url(url: str, label: str) -> str:
    """Validate a base URL (http or https, a host, no query) and drop a trailing slash."""
    parts = urlsplit(str(url).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{label}: base_url {redact_url(str(url))!r} is not an http(s) URL (e.g. "
            "https://acme.example.com "
            "or http://127.0.0.1:8080)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{label}: base_url {redact_url(str(url))!r} must not have a query or fragment"
        )
    if parts.username or parts.password:
        raise ConfigError(f"{label}: base_url must not carry credentials; use the auth settings")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def link_next(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header, if any."""
    header = response.headers.get("link")
    if not header:
        return None
    for part in header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip()
        if not (url.startswith("<") and url.endswith(">")):
            continue
        for param in section[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "rel" and "next" in value.strip().strip('"').split():
                return url[1:-1]
    return None
