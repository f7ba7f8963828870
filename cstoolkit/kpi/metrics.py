"""KPI metric definitions, settings, the plugin :class:`Metric` protocol and distributions.

Every built-in metric is listed in :data:`BUILTIN_METRICS` with its name, unit and one-line
definition; docs/metrics.md gives the exact rules (where each clock starts and stops, which
period a value belongs to, which statuses count). The numbers themselves are computed in one pass
over the store by :mod:`cstoolkit.kpi.scan` plus a few SQL aggregates in
:mod:`cstoolkit.kpi.report`; the built-in :class:`Metric` objects registered through the
``register_metrics`` hook read those results, and plugin metrics compute theirs from the
:class:`MetricContext` they are given.

Conventions shared by every metric:

* times are unix seconds (UTC); durations are seconds, in *calendar* time (wall clock) and in
  *business* time of the report's calendar (``[kpi] calendar`` or ``--calendar``);
* a duration belongs to the period in which the event that completes it happened (a first
  reply time to the period of the reply, a resolution time to the period of the solve), so a
  value is final when it is counted and periods compare fairly;
* distributions report ``count``, ``mean``, ``median`` and ``p90`` (linear interpolation between
  the closest ranks, as numpy's default and ``statistics.quantiles(method="inclusive")``).
"""

from __future__ import annotations

import itertools
import math
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cstoolkit import timespec
from cstoolkit.config import section_values
from cstoolkit.errors import ConfigError

if TYPE_CHECKING:
    from cstoolkit.calendars import BusinessClock, Calendar
    from cstoolkit.config import Config
    from cstoolkit.store import Store

__all__ = [
    "BUILTIN_METRICS",
    "DURATION_METRICS",
    "BuiltinMetric",
    "CostSettings",
    "Dist",
    "Grouping",
    "KpiSettings",
    "Metric",
    "MetricContext",
    "MetricDef",
    "parse_seconds",
]

# -- durations in config and options -------------------------------------------------------------


def parse_seconds(value: object, where: str, *, default_unit: str = "s") -> float:
    """``"30m"`` -> 1800.0; numbers are in ``default_unit``. Raises ConfigError naming ``where``."""
    try:
        return timespec.parse_duration(value, unit=default_unit)
    except timespec.TimeSpecError as exc:
        raise ConfigError(str(exc), field=where) from None


# -- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostSettings:
    """``[costs]``: what the team costs, to price a solved ticket.

    Either ``agent_hour`` (cost of one agent-hour; the hours are the agents' working days in the
    period times ``hours_per_agent_day``) or ``monthly_team`` (the whole team per month, prorated
    by days: a month is 365.25 / 12 days).
    """

    currency: str = "EUR"
    agent_hour: float | None = None
    monthly_team: float | None = None
    hours_per_agent_day: float = 8.0

    @property
    def configured(self) -> bool:
        return self.agent_hour is not None or self.monthly_team is not None


@dataclass(frozen=True)
class KpiSettings:
    """``[kpi]`` (and ``[costs]``) settings, with their defaults."""

    calendar: str | None = None
    timezone: str | None = None
    period_days: int = 30
    csat_good_min: int = 4  # 1-5 scale: 4 and 5 are good, 1-3 bad
    nps_promoter_min: int = 9  # 0-10 scale: 9-10 promoters
    nps_detractor_max: int = 6  # 0-6 detractors, 7-8 passives
    ces_agree_min: int = 5  # 1-7 scale: 5, 6, 7 agree
    ces_headline: str = "average"  # or "agree_pct"
    backlog_buckets: tuple[float, ...] = (
        86400.0,
        3 * 86400.0,
        7 * 86400.0,
        14 * 86400.0,
        30 * 86400.0,
    )
    agent_tiers: Mapping[str, int] = field(default_factory=dict)
    jobs: int = 0  # 0: automatic
    costs: CostSettings = field(default_factory=CostSettings)

    @classmethod
    def from_config(cls, data: Config | Mapping[str, Any] | None) -> KpiSettings:
        """Read ``[kpi]`` and ``[costs]`` (checked by the config schema, cstoolkit.config.core);
        a ConfigError names the field of the first problem."""
        source = data if data is not None else {}
        kpi = section_values("kpi", source)
        costs = section_values("costs", source)
        buckets = kpi.get("backlog_buckets")
        return cls(
            calendar=kpi.get("calendar"),
            timezone=kpi.get("timezone"),
            period_days=kpi["period_days"],
            csat_good_min=kpi["csat_good_min"],
            nps_promoter_min=kpi["nps_promoter_min"],
            nps_detractor_max=kpi["nps_detractor_max"],
            ces_agree_min=kpi["ces_agree_min"],
            ces_headline=kpi["ces_headline"],
            backlog_buckets=tuple(sorted(buckets)) if buckets else cls.backlog_buckets,
            agent_tiers=dict(kpi["agent_tiers"]),
            jobs=kpi["jobs"],
            costs=CostSettings(
                currency=costs["currency"],
                agent_hour=costs.get("agent_hour"),
                monthly_team=costs.get("monthly_team"),
                hours_per_agent_day=costs["hours_per_agent_day"],
            ),
        )


# -- distributions -------------------------------------------------------------------------------


Part = tuple["array[float]", "array[int]", float]  # sorted distinct values, cumulative counts, sum

#: whole-second values within this bound are counted as integers (int32: a duration of 68 years)
_WHOLE_BOUND = 2**31
#: count by ``bincount`` when the values' range is at most this many times their number, else
#: sort them (as int32): the cheaper of the two on 1,000 to 1,000,000 durations (see
#: docs/performance.md, "Exact distributions")
_BINCOUNT_SPAN = 8


def counted_part(values: Any) -> tuple[Any, Any, float]:
    """An array's sorted distinct values (float64), their cumulative counts (int64)
    and the exact sum (``math.fsum``): the same three arrays as a sort of the values, value for
    value, whatever the path.

    Durations are whole seconds, so the common case never sorts floats: the values are checked
    to be whole and within int32, then counted with ``bincount`` over their range when the
    range is small next to their number, else sorted as int32 (about twice as fast as float64)
    and cut where the value changes; their sum is the integer sum, which ``fsum`` would round
    to the same float. Anything else (fractions, NaN, infinities, ``-0.0``, huge values) goes
    through ``numpy.unique`` of the float64 values as before."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return v, np.zeros(0, dtype=np.int64), 0.0
    lo, hi = v.min(), v.max()  # NaN anywhere makes both NaN: the comparison below fails
    if lo >= -_WHOLE_BOUND and hi < _WHOLE_BOUND:
        whole = v.astype(np.int32)
        if np.array_equal(whole, v) and not (lo <= 0 and np.any(np.signbit(v) & (v == 0))):
            n = len(whole)
            first, span = int(lo), int(hi) - int(lo) + 1
            if span <= _BINCOUNT_SPAN * n and span < _WHOLE_BOUND:
                counts = np.bincount(whole - np.int32(first) if first else whole, minlength=1)
                present = np.flatnonzero(counts)
                keys = (present + first).astype(np.float64)
                cum = np.cumsum(counts[present], dtype=np.int64)
            else:
                s = np.sort(whole)
                cut = np.flatnonzero(s[1:] != s[:-1])
                keys = s[np.concatenate(([0], cut + 1))].astype(np.float64)
                cum = np.concatenate((cut + 1, [n])).astype(np.int64)
            return keys, cum, float(whole.sum(dtype=np.int64))
    keys, counts = np.unique(v, return_counts=True)
    return keys, np.cumsum(counts, dtype=np.int64), math.fsum(v.tolist())


class Dist:
    """A distribution of durations (or any numbers), kept exactly and compactly.

    Values are appended to an ``array('d')``. :meth:`seal` turns them into a *part*: the sorted
    distinct values with their cumulative counts (durations are whole seconds, so a million of
    them hold far fewer distinct values; counting runs in C, and a part costs 16 bytes per
    distinct value). Distributions from several workers merge by keeping their parts side by
    side; order statistics are found by binary search across the parts. Nothing is approximated.
    """

    __slots__ = ("parts", "values")

    def __init__(self, values: Iterable[float] = ()) -> None:
        self.values = array("d", values)
        self.parts: list[Part] = []

    def __getstate__(self) -> tuple[array[float], list[Part]]:
        return self.values, self.parts

    def __setstate__(self, state: tuple[array[float], list[Part]]) -> None:
        self.values, self.parts = state

    def add(self, value: float) -> None:
        self.values.append(value)

    def seal(self) -> Dist:
        if self.values:
            counts = Counter(self.values)  # C-speed counting
            keys = sorted(counts)
            cum = array("q", itertools.accumulate(counts[k] for k in keys))
            total = math.fsum(self.values)
            self.parts.append((array("d", keys), cum, total))
            self.values = array("d")
        return self

    def add_array(self, values: Any) -> None:
        """Add a numpy array of values as one sealed part (the columnar report's way: counted
        by numpy, the same part :meth:`seal` would make of them)."""
        if len(values) == 0:
            return
        keys, cum, total = counted_part(values)
        self.parts.append((array("d", keys.tobytes()), array("q", cum.tobytes()), total))

    def merge(self, other: Dist) -> None:
        other.seal()
        self.seal()
        self.parts.extend(other.parts)

    @property
    def count(self) -> int:
        return len(self.values) + sum(p[1][-1] for p in self.parts)

    def total(self) -> float:
        return math.fsum([math.fsum(self.values), *(p[2] for p in self.parts)])

    def mean(self) -> float | None:
        n = self.count
        return self.total() / n if n else None

    def _below(self, v: float, strict: bool) -> int:
        """How many values are < ``v`` (``strict``) or <= ``v``."""
        find = bisect_left if strict else bisect_right
        n = 0
        for keys, cum, _ in self.parts:
            i = find(keys, v)
            if i:
                n += cum[i - 1]
        return n

    def kth(self, k: int) -> float:
        """The k-th smallest value (0-based)."""
        self.seal()
        if not 0 <= k < self.count:
            raise IndexError(f"rank {k} out of range")
        if len(self.parts) == 1:
            keys, cum, _ = self.parts[0]
            return keys[bisect_right(cum, k)]
        for keys, _, _ in self.parts:
            lo, hi = 0, len(keys)
            while lo < hi:
                mid = (lo + hi) // 2
                v = keys[mid]
                if self._below(v, strict=False) <= k:
                    lo = mid + 1
                elif self._below(v, strict=True) > k:
                    hi = mid
                else:
                    return v
        raise AssertionError("kth: rank not found")  # pragma: no cover

    def quantile(self, q: float) -> float | None:
        """Linear interpolation between the closest ranks (numpy's default method)."""
        n = self.count
        if not n:
            return None
        pos = q * (n - 1)
        lo = math.floor(pos)
        frac = pos - lo
        a = self.kth(lo)
        if frac == 0 or lo + 1 >= n:
            return a
        b = self.kth(lo + 1)
        return a + (b - a) * frac

    def median(self) -> float | None:
        return self.quantile(0.5)

    def min(self) -> float | None:
        return self.kth(0) if self.count else None

    def max(self) -> float | None:
        return self.kth(self.count - 1) if self.count else None

    def histogram(self, edges: Sequence[float]) -> list[int]:
        """Counts of values in ``[-inf, e0), [e0, e1), ..., [e_last, inf)``."""
        self.seal()
        bounds = [0, *(self._below(e, strict=True) for e in edges), self.count]
        return [b - a for a, b in itertools.pairwise(bounds)]

    def summary(self) -> dict[str, float | None]:
        return {
            "count": self.count,
            "mean": self.mean(),
            "median": self.median(),
            "p90": self.quantile(0.9),
        }


# -- the metric protocol -------------------------------------------------------------------------


@dataclass
class MetricContext:
    """What a metric's ``compute`` is given: one period of one report.

    ``where`` / ``params`` are an SQL condition over ``tickets t`` (joined with the requester as
    ``people r``) that selects the report's tickets (``--query`` and deleted tickets applied);
    ``results`` holds the built-in metrics' values already computed for this period, by name,
    so a plugin can derive from them (cost per solved ticket of its own, say).
    """

    store: Store | None
    since: float
    until: float
    timezone: str
    calendar: Calendar
    clock: BusinessClock
    where: str = "t.deleted = 0"
    params: list[Any] = field(default_factory=list)
    period: str = "current"  # or "previous"
    results: dict[str, dict[str, float | None]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    def tickets_sql(self, columns: str = "t.id") -> tuple[str, list[Any]]:
        """``SELECT columns FROM tickets t LEFT JOIN people r ... WHERE <the report's filter>``."""
        sql = (
            f"SELECT {columns} FROM tickets t LEFT JOIN people r ON r.id = t.requester_id "
            f"WHERE {self.where}"
        )
        return sql, list(self.params)


@dataclass(frozen=True)
class Grouping:
    """How ``--by`` or the series' buckets split the current period, for a metric that computes
    per group: its optional ``compute_groups(ctx, grouping)`` returns a mapping of each key of
    ``keys`` to values like ``compute``'s (docs/plugins/hooks.md#register_metrics).

    ``by`` is an attribute of ``--by`` (``agent``, ``group``, ``channel``, ``priority``,
    ``instance``: the ticket's value, ``None`` for none; ``tier``: its assignee's tier by
    ``tiers``) or ``"time"``: keys are bucket indexes, a bucket holding the local days (in
    ``timezone``, numbered from ``day0``) that ``day_buckets`` maps to it, that is the instants
    ``[bounds[b], bounds[b + 1])``.

    ``created``, when the report gives it, is the number of the report's tickets created in
    each group or bucket (its ``tickets_created``), for a metric that needs it to count no
    more.
    """

    by: str
    keys: tuple[Any, ...]
    tiers: Mapping[str, int] = field(default_factory=dict)
    timezone: str = "UTC"
    day0: int = 0
    day_buckets: tuple[int, ...] = ()
    bounds: tuple[int, ...] = ()
    created: Mapping[Any, int] | None = None


@runtime_checkable
class Metric(Protocol):
    """A KPI metric, registered with the ``register_metrics`` hook.

    ``compute`` returns the metric's values for the context's period: a number, ``None`` (no
    data), or a mapping of value names to numbers (``{"value": 3.5, "count": 12}``). The first
    key (or ``headline``, if the object has that attribute) is the value tables show.
    """

    name: str
    description: str
    unit: str

    def compute(self, ctx: MetricContext) -> Mapping[str, float | None] | float | None: ...


@dataclass(frozen=True)
class MetricDef:
    """A built-in metric: what the report and docs say about it."""

    name: str
    label: str
    unit: str  # seconds | percent | count | score | per_agent_day | currency
    headline: str
    description: str
    anchor: str  # which event's time puts a value in a period
    higher_is_better: bool | None = None


@dataclass(frozen=True)
class BuiltinMetric:
    """A built-in metric as registered through the hook: reads what the scan computed."""

    definition: MetricDef

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def description(self) -> str:
        return self.definition.description

    @property
    def unit(self) -> str:
        return self.definition.unit

    @property
    def headline(self) -> str:
        return self.definition.headline

    def compute(self, ctx: MetricContext) -> Mapping[str, float | None] | float | None:
        return ctx.results.get(self.name)


_D = MetricDef
#: Every built-in metric, in report order. docs/metrics.md has one section per name.
# fmt: off
BUILTIN_METRICS: tuple[MetricDef, ...] = (
    _D("tickets_created", "Tickets created", "count", "count",
       "Tickets created in the period.",
       "created", None),
    _D("tickets_solved", "Tickets solved", "count", "count",
       "Tickets solved or closed now whose latest solve is in the period.",
       "latest solve", True),
    _D("first_reply_time", "First reply time", "seconds", "business.median",
       "Creation to the first public agent comment (Zendesk reporting definition; for a ticket "
       "an agent created with a public comment, to the agent's second public comment).",
       "first reply", False),
    _D("next_reply_time", "Next reply time", "seconds", "business.median",
       "After the first reply: oldest unanswered requester comment to the next public agent "
       "comment; one value per wait.",
       "reply", False),
    _D("reply_time", "Reply time (all replies)", "seconds", "business.mean",
       "Every wait for an agent reply (the first reply and each next reply); its mean is the "
       "average reply time.",
       "reply", False),
    _D("first_resolution_time", "First resolution time", "seconds", "business.median",
       "Creation to the first time the status was set to solved.",
       "first solve", False),
    _D("full_resolution_time", "Full resolution time", "seconds", "business.median",
       "Creation to the latest solve, for tickets solved or closed now.",
       "latest solve", False),
    _D("requester_wait_time", "Requester wait time", "seconds", "business.median",
       "Time in new, open and on-hold from creation to the latest solve.",
       "latest solve", False),
    _D("agent_work_time", "Agent work time", "seconds", "business.median",
       "Time in new and open from creation to the latest solve (paused while pending or on "
       "hold).",
       "latest solve", False),
    _D("one_touch_rate", "One-touch resolution", "percent", "rate",
       "Solved tickets with fewer than two public agent replies, over solved tickets (Zendesk's "
       "one-touch formula).",
       "latest solve", True),
    _D("reopen_rate", "Reopen rate", "percent", "rate",
       "Solved tickets that were reopened at least once (solved -> new, open, pending or on "
       "hold), over solved tickets.",
       "latest solve", False),
    _D("backlog", "Backlog", "count", "count",
       "Tickets created before the end of the period and not solved or closed at its end, by "
       "age.",
       "period end", False),
    _D("sla_compliance", "SLA compliance", "percent", "rate",
       "SLA metric instances that completed in the period within their target, over those that "
       "completed or breached in it (cstoolkit.sla).",
       "fulfilment or breach", True),
    _D("csat", "CSAT", "percent", "csat_pct",
       "Satisfaction answers scoring 4 or 5 (of 5), over all answers in the period.",
       "answer", True),
    _D("nps", "NPS", "nps", "nps",
       "% promoters (9-10) minus % detractors (0-6) of NPS answers in the period.",
       "answer", True),
    _D("ces", "CES", "score", "average",
       "Customer effort answers (1-7): the average and the % that agree (5 or more).",
       "answer", True),
    _D("volume_by_channel", "Volume by channel", "count", "count",
       "Tickets created in the period by channel; the main channel is the largest.",
       "created", None),
    _D("agent_productivity", "Agent productivity", "per_agent_day", "solved_per_agent_day",
       "Solved tickets and public replies per agent working day (a day the agent did something "
       "in a ticket).",
       "solve / reply", True),
    _D("escalation_rate", "Escalation rate", "percent", "rate",
       "Tickets whose first assignee was of tier T and that were later assigned to a higher "
       "tier, over the tickets first assigned to tier T.",
       "created", False),
    _D("cost_per_ticket", "Cost per ticket", "currency", "cost_per_ticket",
       "The team's cost in the period ([costs]) over the tickets solved in it.",
       "latest solve", False),
    _D("arrivals_heatmap", "Arrivals by hour and weekday", "count", "count",
       "Tickets created in the period by local hour and weekday in the team's time zone.",
       "created", None),
)
# fmt: on

METRIC_DEFS: dict[str, MetricDef] = {m.name: m for m in BUILTIN_METRICS}

#: The duration metrics the scan measures in calendar and business time.
DURATION_METRICS: tuple[str, ...] = (
    "first_reply_time",
    "next_reply_time",
    "first_resolution_time",
    "full_resolution_time",
    "requester_wait_time",
    "agent_work_time",
)
