"""Paging walks over vendor listings, each with the same no-progress guard.

Four kinds of walk cover the first-party backends:

* :func:`cursor_walk`: the server hands out the next position (Zendesk's ``after_cursor``,
  ``Link: rel="next"`` URLs, Jira's ``nextPageToken``);
* :func:`page_walk`: ``page=1, 2, 3 ...`` until a short or last page;
* :func:`offset_walk`: ``startAt=0, n, 2n ...`` (Jira's changelog, service desk lists);
* :class:`TimeWindowWalk`: a listing sorted by update time, restarted at the last record's time
  after each page (a keyset walk: a record updated during the walk moves to the end instead of
  shifting unread ones onto pages already read), paging on only while a page shares one time
  (Freshdesk, Help Scout, Zammad, Request Tracker, LiveAgent, Jira).

**The no-progress guard** (:class:`ProgressGuard`) stops a walk whose server does not advance,
instead of asking forever: a position (cursor, link, token, window) asked for more than
:data:`STALL_LIMIT` times, or :data:`STALL_LIMIT` pages in a row that bring no record new to the
walk, raise :class:`NoProgressError` naming the backend, the endpoint and the position. An
honest server never trips it: a keyset restart re-reads at most one page of records already
seen before the walk moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from cstoolkit.backends.records import VendorDataError, quote
from cstoolkit.errors import BackendError

#: Requests at one position, or pages in a row without a new record, before a walk stops.
STALL_LIMIT = 3

R = TypeVar("R")
P = TypeVar("P")


class NoProgressError(BackendError):
    """A walk whose server does not advance (the same position again, nothing new)."""

    def __init__(self, label: str, endpoint: str, detail: str) -> None:
        super().__init__(
            f"{label}: {endpoint}: no progress: {detail}; stopped instead of asking again "
            "(the server does not advance)"
        )
        self.label = label
        self.endpoint = endpoint


class ProgressGuard:
    """Counts how a walk advances; raises :class:`NoProgressError` when it does not.

    ``position(p)`` is called before each request with what the request asks for; ``page(n,
    p)`` after each page with how many records in it were new to the walk. ``what`` names the
    position in messages (``after_cursor``, ``page``, ``updated_since``).
    """

    def __init__(
        self, label: str, endpoint: str, *, what: str = "position", limit: int = STALL_LIMIT
    ) -> None:
        self.label = label
        self.endpoint = endpoint
        self.what = what
        self.limit = limit
        self.requests = 0
        self.stalls = 0
        self._asked: dict[Hashable, int] = {}

    def position(self, position: Hashable) -> None:
        self.requests += 1
        count = self._asked.get(position, 0) + 1
        self._asked[position] = count
        if count > self.limit:
            raise NoProgressError(
                self.label,
                self.endpoint,
                f"{self.what} {_show(position)} was asked for {self.limit} times already",
            )

    def page(self, new_records: int, position: Any = None) -> None:
        if new_records > 0:
            self.stalls = 0
            return
        self.stalls += 1
        if self.stalls >= self.limit:
            at = f" at {self.what} {_show(position)}" if position is not None else ""
            raise NoProgressError(
                self.label,
                self.endpoint,
                f"{self.stalls} pages in a row{at} brought no new record",
            )


def _show(position: Any) -> str:
    if isinstance(position, tuple):
        return "(" + ", ".join(quote(p, 60) for p in position) + ")"
    return quote(position, 60)


def _default_key(item: Any) -> Hashable:
    if isinstance(item, dict):
        value = item.get("id")
        return value if isinstance(value, Hashable) else repr(value)
    return repr(item)


# -- cursor, page and offset walks -------------------------------------------------------------


@dataclass(slots=True)
class CursorPage(Generic[R, P]):
    """What one request of a cursor walk returned."""

    items: list[R]
    next: P | None  # where the next request starts (None: the server gave none)
    done: bool  # the server says this is the last page
    data: Any = None  # the decoded body, for the caller


def cursor_walk(
    fetch: Callable[[P | None], CursorPage[R, P]],
    guard: ProgressGuard,
    *,
    start: P | None = None,
    needs_next: bool = True,
) -> Iterator[CursorPage[R, P]]:
    """Follow the positions the server hands out until it says ``done``.

    A page that is not ``done`` but gives no next position raises a :class:`VendorDataError`
    when ``needs_next`` (continuing would lose records), else ends the walk.
    """
    position = start
    while True:
        guard.position(position)
        page = fetch(position)
        yield page
        if page.done:
            return
        if page.next is None:
            if needs_next:
                raise VendorDataError(
                    guard.label,
                    guard.endpoint,
                    f"a page without a next {guard.what} before the end; cannot continue "
                    "without losing records",
                )
            return
        position = page.next


def page_walk(
    fetch: Callable[[int], tuple[list[R], bool]],
    guard: ProgressGuard,
    *,
    first: int = 1,
    key: Callable[[R], Hashable] = _default_key,
) -> Iterator[list[R]]:
    """Pages ``first, first + 1, ...``; ``fetch`` returns (items, more). Ends on an empty page
    or when ``more`` is false; a page repeating records already read counts as a stall."""
    return _numbered(fetch, guard, first, key, by_count=False)


def offset_walk(
    fetch: Callable[[int], tuple[list[R], bool]],
    guard: ProgressGuard,
    *,
    key: Callable[[R], Hashable] = _default_key,
) -> Iterator[list[R]]:
    """Offsets ``0, n, ...`` (advanced by the number of items read); as :func:`page_walk`."""
    return _numbered(fetch, guard, 0, key, by_count=True)


def _numbered(
    fetch: Callable[[int], tuple[list[R], bool]],
    guard: ProgressGuard,
    position: int,
    key: Callable[[R], Hashable],
    *,
    by_count: bool,
) -> Iterator[list[R]]:
    seen: set[Hashable] = set()
    while True:
        guard.position(position)
        items, more = fetch(position)
        keys = [key(i) for i in items]
        new = sum(1 for k in set(keys) if k not in seen)
        seen.update(keys)
        yield items
        if not more or not items:
            return
        guard.page(new, position)
        position += len(items) if by_count else 1


# -- the timestamp-window (keyset) walk ------------------------------------------------------


@dataclass(slots=True)
class WindowStep(Generic[R]):
    """One page of a :class:`TimeWindowWalk`, and where the walk stands after it."""

    records: list[R]  # records new to this walk (and accepted), in the page's order
    items: list[R]  # the whole page
    bound: Any  # the lower bound the next request uses
    position: Any  # the position inside the bound the next request uses
    high: Any  # the newest ``high_of`` seen in this walk (None: nothing read)
    at_bound: list[Hashable] = field(default_factory=list)  # ids read at ``bound``
    done: bool = False


def rewind(
    high: Any,
    fallback: Any,
    overlap: timedelta,
    *,
    parse: Callable[[Any], datetime | None],
    render: Callable[[datetime], Any],
) -> Any:
    """Where the next run starts after a finished window walk: ``overlap`` before the newest
    stamp read (``high``), so changes a vendor's index shows late are read again; the bound
    the walk ended at (``fallback``) when it read nothing."""
    newest = parse(high) if high else None
    return fallback if newest is None else render(newest - overlap)


def _later(first: Any, last: Any, bound: Any) -> bool:
    return bound is None or last > bound


class TimeWindowWalk(Generic[R]):
    """A listing sorted by update time, ascending, read as a keyset walk.

    Each request asks for records stamped at or after ``bound``, at ``position`` inside it
    (a page number, a link or a token). After a page, when ``restart(first, last, bound)`` (by
    default: the last record is later than the bound), the walk restarts at the last record's
    stamp at ``first_position``; otherwise it pages on to the position ``fetch`` returned
    (while a page shares one time). It ends on an empty page or when ``fetch`` says there is
    no more.

    * ``stamp(record)`` is the comparable time a bound is made of; ``high_of(record)`` what
      ``high`` (the newest seen) keeps (default: the stamp);
    * ``key(record)`` identifies a record version within the walk (default: id and stamp):
      repeats inside one walk (the inclusive restarts) are dropped, and a page with no new key
      counts as a stall for the guard;
    * ``accept(record)`` may drop more (records already delivered by an earlier run);
    * ``page_cap`` / ``on_cap(stamp)``: at most this many pages inside one bound (the vendor's
      limit); ``on_cap`` gets the last stamp read and raises the vendor's explanation.
    """

    def __init__(
        self,
        guard: ProgressGuard,
        *,
        bound: Any,
        position: Any,
        first_position: Any,
        stamp: Callable[[R], Any],
        high: Any = None,
        high_of: Callable[[R], Any] | None = None,
        key: Callable[[R], Hashable] | None = None,
        accept: Callable[[R], bool] | None = None,
        restart: Callable[[Any, Any, Any], bool] = _later,
        at_bound: Iterable[Hashable] = (),
        page_cap: int | None = None,
        on_cap: Callable[[Any], None] | None = None,
    ) -> None:
        self.guard = guard
        self.bound = bound
        self.position = position
        self.first_position = first_position
        self.stamp = stamp
        self.high = high
        self.high_of = high_of or stamp
        self.key = key or (lambda r: (_default_key(r), stamp(r)))
        self.accept = accept
        self.restart = restart
        self.at_bound: list[Hashable] = list(at_bound)
        self.page_cap = page_cap
        self.on_cap = on_cap
        self.pages_at_bound = 0
        self._seen: set[Hashable] = set()

    def run(
        self, fetch: Callable[[Any, Any], tuple[Sequence[R], bool, Any]]
    ) -> Iterator[WindowStep[R]]:
        """``fetch(bound, position)`` returns (records, more, next position inside the bound)."""
        while True:
            self.guard.position((self.bound, self.position))
            items, more, next_position = fetch(self.bound, self.position)
            items = list(items)
            records: list[R] = []
            new = 0
            for item in items:
                k = self.key(item)
                if k in self._seen:
                    continue
                self._seen.add(k)
                new += 1
                if self.accept is None or self.accept(item):
                    records.append(item)
                value = self.high_of(item)
                if self.high is None or value > self.high:
                    self.high = value
            done = not more or not items
            if items:
                self._advance(items, next_position, done=done)
            if not done:
                self.guard.page(new, self.bound)
            yield WindowStep(
                records, items, self.bound, self.position, self.high, list(self.at_bound), done
            )
            if done:
                return

    def _advance(self, items: list[R], next_position: Any, *, done: bool) -> None:
        stamps = [self.stamp(i) for i in items]
        first, last = stamps[0], stamps[-1]
        ids = [_default_key(i) for i, s in zip(items, stamps, strict=True) if s == last]
        if self.restart(first, last, self.bound):
            self.bound, self.position, self.pages_at_bound = last, self.first_position, 0
            self.at_bound = list(dict.fromkeys(ids))
            return
        if last == self.bound:
            self.at_bound = list(dict.fromkeys([*self.at_bound, *ids]))
        if done:
            return
        self.pages_at_bound += 1
        if self.page_cap is not None and self.pages_at_bound >= self.page_cap and self.on_cap:
            self.on_cap(last)
        self.position = next_position
