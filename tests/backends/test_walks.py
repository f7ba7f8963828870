"""Paging walks and their no-progress guard: honest servers walk to the end, stuck ones stop
after a few requests with an error naming backend, endpoint and position."""

from __future__ import annotations

from typing import Any

import pytest

from cstoolkit.backends import (
    STALL_LIMIT,
    CursorPage,
    NoProgressError,
    ProgressGuard,
    TimeWindowWalk,
    VendorDataError,
    cursor_walk,
    offset_walk,
    page_walk,
)

LABEL = "acme instance 'main'"


def guard(what: str = "position") -> ProgressGuard:
    return ProgressGuard(LABEL, "GET /items", what=what)


def test_cursor_walk_follows_until_done() -> None:
    pages = {None: ("a", False), "a": ("b", False), "b": ("c", True)}
    walked = list(cursor_walk(lambda c: CursorPage([c], pages[c][0], pages[c][1]), guard("cursor")))
    assert [p.items for p in walked] == [[None], ["a"], ["b"]]


def test_a_cursor_that_comes_back_stops_after_a_few_requests() -> None:
    asked: list[Any] = []

    def fetch(cursor: Any) -> CursorPage[Any, str]:
        asked.append(cursor)
        return CursorPage([1], "SAME", False)

    with pytest.raises(NoProgressError) as err:
        list(cursor_walk(fetch, guard("after_cursor")))
    assert asked == [None] + ["SAME"] * STALL_LIMIT
    assert str(err.value).startswith(
        f"{LABEL}: GET /items: no progress: after_cursor 'SAME' was asked for 3 times"
    )


def test_a_cursor_cycle_is_caught_too() -> None:
    nxt = {None: "a", "a": "b", "b": "a"}
    with pytest.raises(NoProgressError):
        list(cursor_walk(lambda c: CursorPage([], nxt[c], False), guard()))


def test_a_page_without_a_next_cursor_before_the_end_is_malformed() -> None:
    with pytest.raises(VendorDataError, match="without a next cursor before the end"):
        list(cursor_walk(lambda c: CursorPage([], None, False), guard("cursor")))


def test_page_walk_ends_on_a_short_page_and_stops_on_a_repeated_one() -> None:
    data = [[{"id": 1}, {"id": 2}], [{"id": 3}]]
    walked = list(page_walk(lambda n: (data[n - 1], n < len(data)), guard("page")))
    assert walked == data
    asked: list[int] = []

    def stuck(n: int) -> tuple[list[dict[str, int]], bool]:
        asked.append(n)
        return [{"id": 1}, {"id": 2}], True  # the server ignores the page parameter

    with pytest.raises(NoProgressError, match=r"3 pages in a row at page 4 brought no new"):
        list(page_walk(stuck, guard("page")))
    assert asked == [1, 2, 3, 4]


def test_offset_walk_advances_by_what_it_read() -> None:
    asked: list[int] = []

    def fetch(offset: int) -> tuple[list[dict[str, int]], bool]:
        asked.append(offset)
        items = [{"id": i} for i in range(offset, min(offset + 2, 5))]
        return items, offset + 2 < 5

    assert [i["id"] for page in offset_walk(fetch, guard("startAt")) for i in page] == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert asked == [0, 2, 4]


def _window(records: list[tuple[int, int]], per_page: int) -> Any:
    """A listing of (id, stamp) sorted by stamp, id; ``updated >= bound`` paged by number."""

    def fetch(bound: Any, page: int) -> tuple[list[dict[str, int]], bool, int]:
        rows = sorted((r for r in records if bound is None or r[1] >= bound), key=lambda r: r[::-1])
        chunk = rows[(page - 1) * per_page : page * per_page]
        return [{"id": i, "at": at} for i, at in chunk], bool(chunk), page + 1

    return fetch


def test_window_walk_reads_everything_once_with_keyset_restarts() -> None:
    records = [(n, 100 + n // 3) for n in range(1, 20)]  # three records share each stamp
    walk: TimeWindowWalk[dict[str, int]] = TimeWindowWalk(
        guard("updated_since"), bound=None, position=1, first_position=1, stamp=lambda r: r["at"]
    )
    steps = list(walk.run(_window(records, per_page=4)))
    got = [r["id"] for s in steps for r in s.records]
    assert sorted(got) == list(range(1, 20)) and len(got) == len(set(got))
    assert steps[-1].done and steps[-1].high == max(at for _, at in records)


def test_window_walk_pages_on_inside_one_stamp() -> None:
    records = [(n, 100) for n in range(1, 11)]  # ten records in one second, four per page
    walk: TimeWindowWalk[dict[str, int]] = TimeWindowWalk(
        guard(), bound=50, position=1, first_position=1, stamp=lambda r: r["at"]
    )
    steps = list(walk.run(_window(records, per_page=4)))
    assert sorted(r["id"] for s in steps for r in s.records) == list(range(1, 11))
    assert steps[-2].at_bound == list(range(1, 11))  # ids read at the bound second


def test_window_stuck_at_one_stamp_with_a_full_page_stops() -> None:
    asked: list[Any] = []

    def stuck(bound: Any, page: int) -> tuple[list[dict[str, int]], bool, int]:
        asked.append((bound, page))
        return [{"id": n, "at": 100} for n in range(4)], True, page + 1  # page ignored

    walk: TimeWindowWalk[dict[str, int]] = TimeWindowWalk(
        guard("updated_since"), bound=50, position=1, first_position=1, stamp=lambda r: r["at"]
    )
    with pytest.raises(NoProgressError, match=r"updated_since 100 brought no new record"):
        list(walk.run(stuck))
    assert asked == [(50, 1), (100, 1), (100, 2), (100, 3)]


def test_window_page_cap_calls_the_vendor_explanation() -> None:
    records = [(n, 100) for n in range(1, 30)]

    def cap(bound: Any) -> None:
        raise VendorDataError(LABEL, "GET /items", f"too many at {bound}")

    walk: TimeWindowWalk[dict[str, int]] = TimeWindowWalk(
        guard(),
        bound=50,
        position=1,
        first_position=1,
        stamp=lambda r: r["at"],
        restart=lambda first, last, bound: last > bound and first < last,
        page_cap=3,
        on_cap=cap,
    )
    with pytest.raises(VendorDataError, match="too many at 100"):  # the last stamp read
        list(walk.run(_window(records, per_page=4)))
