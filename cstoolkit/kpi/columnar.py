"""The KPI report's per-ticket values, aggregated by columns from the stored facts.

The store keeps the tickets' facts as packed arrays, one chunk per creation day
(:mod:`cstoolkit.store.columns`); this module reads the chunks a period needs and computes
every value with numpy over whole columns: calendar durations from instants, business
durations from the report's calendar (:meth:`cstoolkit.calendars.BusinessClock.offset_array`,
the same index the per-instant clock reads), local days from the zone
(:meth:`cstoolkit.calendars.ZoneClock.day_array`), periods and groups by masks, counts by
``bincount``/``unique``. Nothing loops over tickets in Python (but the ``--vendor-metrics``
check, which asks for one record per ticket). The result is the :class:`ScanResult` the report
assembles: the same aggregates, value for value, a replay of each ticket would give
(tests/kpi/test_columnar_differential.py).

The rules are documented in docs/metrics.md; keep both in step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cstoolkit.calendars import BusinessClock, ZoneClock
from cstoolkit.kpi.accumulate import Accumulator, ScanSpec, finish
from cstoolkit.kpi.aggregates import ScanResult, SlaTally
from cstoolkit.kpi.chunk_pass import ChunkPass
from cstoolkit.store import columns, reports

if TYPE_CHECKING:
    from cstoolkit.store import Store

__all__ = ["ATTRIBUTE_COLUMNS", "ScanSpec", "aggregate"]

#: Attribute dimensions of ``--by``: the tickets column their key comes from (``tier``: the
#: assignee's, mapped to their tier).
ATTRIBUTE_COLUMNS = reports.GROUP_COLUMNS


def aggregate(store: Store, spec: ScanSpec) -> ScanResult:
    """Every per-ticket value of the report's periods, from the stored columns (brought up to
    date first: :func:`cstoolkit.store.columns.refresh`)."""
    columns.refresh(store)
    lo = spec.previous_since if spec.previous_since is not None else spec.since
    ids: set[str] | None = None
    if spec.where.strip() != "t.deleted = 0" or spec.params:
        ids = columns.matching_ids(store, spec.where, spec.params)
    clock = BusinessClock(spec.calendar, spec.clock_start, spec.clock_end)
    offset: Callable[[Any], Any] = (lambda t: t) if clock.is_24x7 else clock.offset_array
    zone = ZoneClock(spec.timezone, spec.clock_start, spec.clock_end)
    acc = Accumulator(spec)
    result = ScanResult()
    result.aggs = acc.aggs
    acc.agg(0, None)
    if spec.previous_since is not None:
        acc.agg(1, None)
    if spec.record_tickets:
        result.records = {}
    if spec.sla_stored:
        result.sla = [SlaTally() for _ in range(2 if spec.previous_since is not None else 1)]
    for chunk in columns.read(
        store, since=lo, until=spec.until, with_ids=ids is not None or spec.record_tickets
    ):
        ChunkPass(spec, acc, result, chunk, ids, offset, zone).run()
    finish(spec, acc, result)
    return result
