"""What vendors say about their rate limits, and what a client allows itself.

:func:`read_rate_limit` reads a 429's wait (``Retry-After`` in seconds or as an HTTP date, or a
vendor header from the table :data:`RATE_LIMIT_HEADERS`, which plugins extend with
:func:`register_rate_limit_header`); :class:`TokenBucket` and :class:`Budget` pace requests.
:mod:`cstoolkit.http` uses both and re-exports them for plugins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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
        from cstoolkit.vendor_time import require_time  # vendor data

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
