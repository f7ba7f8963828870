"""What the columnar KPI aggregation accumulates over the chunks of a report, and how it is
turned into the report's :class:`~cstoolkit.kpi.aggregates.ScanResult` (see
:mod:`cstoolkit.kpi.columnar`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from cstoolkit.calendars import Calendar
from cstoolkit.kpi.aggregates import Agg, ScanResult
from cstoolkit.kpi.metrics import DURATION_METRICS, Dist


@dataclass
class ScanSpec:
    """What the aggregation needs to know about the report."""

    since: float
    until: float
    previous_since: float | None  # the previous period is [previous_since, since)
    calendar: Calendar
    timezone: str
    clock_start: float
    clock_end: float
    where: str = "t.deleted = 0"
    params: list[Any] = field(default_factory=list)
    by: str | None = None
    tiers: dict[str, int] = field(default_factory=dict)
    backlog_edges: tuple[float, ...] = ()
    #: local day number -> bucket index, for the trend (and time ``--by``) buckets
    day0: int = 0
    trend_buckets: list[int] = field(default_factory=list)
    group_buckets: list[int] = field(default_factory=list)
    #: tally the SLA outcomes stored with the facts (cstoolkit.sla_facts) as of ``sla_now``
    sla_stored: bool = False
    sla_now: float = 0.0
    #: keep one TicketRecord per ticket with a reply or a solve (the vendor check); off: none
    record_tickets: bool = False


#: a column of :func:`distinct` whose range is wider than this is renumbered first
_RENUMBER_SPAN = 256


def distinct(
    cols: tuple[Any, ...], weights: tuple[Any, ...] = ()
) -> tuple[list[tuple[int, ...]], list[int], list[list[float]]]:
    """The distinct rows of integer columns with how many times each occurs (and the sum of
    each of ``weights`` over them): one mixed-radix key per row, counted with ``bincount``
    when the columns' ranges are small (no sort), else with one 1-D ``unique``.

    A column whose range is wide but whose values are few (SLA targets in seconds, report-wide
    string codes) is first renumbered by its distinct values (a ``bincount`` over its range,
    or ``unique`` when the range is far wider than the column is long), so that the key's range
    is the product of the columns' numbers of distinct values rather than of their ranges; the
    renumbering keeps the values' order, so the rows come out in the same order either way."""
    n = len(cols[0])
    if not n:
        return [], [], [[] for _ in weights]
    key = np.zeros(n, dtype=np.int64)
    bases: list[tuple[int, int, Any]] = []
    size = 1
    for raw in cols:
        col = np.asarray(raw, dtype=np.int64)
        lo = int(col.min())
        span = int(col.max()) - lo + 1
        values = None
        inv = col - lo
        if span > _RENUMBER_SPAN and (span > 1 << 20 or span > 8 * n):
            values, inv = np.unique(col, return_inverse=True)  # a sort of n values
            inv = inv.reshape(-1)
            span = len(values)
        elif span > _RENUMBER_SPAN:  # few values over a wide range: renumbered without a sort
            present = np.flatnonzero(np.bincount(inv, minlength=span))
            if len(present) < span:
                number = np.zeros(span, dtype=np.int64)
                number[present] = np.arange(len(present))
                inv = number[inv]
                values = present + lo
                span = len(present)
        size *= span
        if size >= 1 << 62:
            raise OverflowError("too many distinct keys")  # not reached by report keys
        key = key * span + inv
        bases.append((lo, span, values))
    if size <= 1 << 22:
        counts = np.bincount(key, minlength=size)
        present = np.nonzero(counts)[0]
        counts = counts[present]
        sums = [np.bincount(key, weights=w, minlength=size)[present] for w in weights]
    else:
        present, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        sums = [np.bincount(inverse.reshape(-1), weights=w) for w in weights]
    decoded = []
    rest = present
    for lo, span, values in reversed(bases):
        idx = rest % span
        rest = rest // span
        decoded.append(values[idx] if values is not None else idx + lo)
    decoded.reverse()
    rows = list(zip(*(c.tolist() for c in decoded), strict=True))
    return rows, counts.tolist(), [x.tolist() for x in sums]


class Accumulator:
    """What the chunks add up to, keyed like :attr:`ScanResult.aggs`."""

    def __init__(self, spec: ScanSpec) -> None:
        self.spec = spec
        self.keys: list[Any] = []  # group id -> key (attribute ``--by``)
        self.index: dict[Any, int] = {}
        self.vals: dict[tuple[int, Any, str], list[tuple[Any, Any]]] = {}
        self.counts: dict[tuple[int, Any], Counter[str]] = {}
        self.aggs: dict[tuple[int, Any], Agg] = {}
        self.trend_solved = np.zeros(max(spec.trend_buckets, default=-1) + 1, dtype=np.int64)
        self.strings: list[str | None] = []  # report-wide codes of the chunks' strings
        self.string_index: dict[str | None, int] = {}
        self.agent_days: tuple[list[Any], list[Any]] = ([], [])
        self.trend_frt: list[list[Any]] = [[] for _ in range(len(self.trend_solved))]

    def string(self, s: str | None) -> int:
        found = self.string_index.get(s)
        if found is None:
            found = self.string_index[s] = len(self.strings)
            self.strings.append(s)
        return found

    def gid(self, key: Any) -> int:
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.keys)
            self.keys.append(key)
        return found

    def agg(self, period: int, key: Any) -> Agg:
        found = self.aggs.get((period, key))
        if found is None:
            found = self.aggs[(period, key)] = Agg(len(self.spec.backlog_edges))
        return found


def finish(spec: ScanSpec, acc: Accumulator, result: ScanResult) -> None:
    for per, key, _ in acc.vals:
        acc.agg(per, key)
    for per, key in acc.counts:
        acc.agg(per, key)
    for (per, key), counts in acc.counts.items():
        agg = acc.agg(per, key)
        for name, n in counts.items():
            setattr(agg, name, getattr(agg, name) + n)
    for agg in acc.aggs.values():
        agg.dists = {name: (Dist(), Dist()) for name in DURATION_METRICS}
    for (per, key, name), parts in acc.vals.items():
        cal, bus = acc.agg(per, key).dists[name]
        cal.add_array(np.concatenate([p[0] for p in parts]))
        bus.add_array(np.concatenate([p[1] for p in parts]))
    for per, parts in enumerate(acc.agent_days):
        if parts:
            who = np.concatenate([p[0] for p in parts])
            days = np.concatenate([p[1] for p in parts])
            rows = distinct((who, days))[0]
            names = cast(list[str], acc.strings)  # agents' codes: never None
            acc.agg(per, None).agent_days.update([(names[w], d) for w, d in rows])
    result.trend_solved = [int(x) for x in acc.trend_solved.tolist()]
    result.trend_frt = []
    for parts in acc.trend_frt:
        d = Dist()
        if parts:
            d.add_array(np.concatenate(parts))
        result.trend_frt.append(d)
