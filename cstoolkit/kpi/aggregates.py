"""What the KPI scan accumulates: per-period (and per-group) aggregates, SLA tallies and the
merged result of a scan. Every structure merges exactly, so worker processes scanning disjoint
ticket ranges give the same report as one process.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cstoolkit.kpi.metrics import DURATION_METRICS, Dist

#: The group key of tickets without a value (no assignee, no tier...): ``None`` is "all".
NONE_KEY = "\x00none"
#: The time units of ``--by`` (and of the trend buckets).
TIME_UNITS = ("day", "week", "month")


class TicketRecord(NamedTuple):
    """One ticket's own values, as the scan counted them (instants are unix seconds; ``*_b``
    business seconds of the report's calendar). Kept only on request (the vendor check)."""

    created: float
    first_reply: float | None  # instant of the first reply (first_reply_time's anchor)
    first_reply_b: float | None
    first_solve: float | None
    first_solve_b: float | None
    last_solve: float | None  # the latest solve, only for tickets solved or closed now
    last_solve_b: float | None
    requester_wait_c: float | None  # new + open + on_hold until the latest solve
    requester_wait_b: float | None
    reopens: int
    replies: int  # public agent replies (the creating comment of an agent's ticket excepted)
    #: survey answers counted in the report's period: (instant, kind, score)
    answers: tuple[tuple[float, str, int], ...] = ()
    #: the latest public agent reply counted in the report's period
    last_reply: float | None = None


class Agg:
    """What one period (and group) accumulates. Mergeable and picklable."""

    def __init__(self, backlog_buckets: int = 0) -> None:
        # durations: calendar (_c) and business (_b) seconds, one array per metric
        self.first_reply_time_c, self.first_reply_time_b = array("d"), array("d")
        self.next_reply_time_c, self.next_reply_time_b = array("d"), array("d")
        self.first_resolution_time_c, self.first_resolution_time_b = array("d"), array("d")
        self.full_resolution_time_c, self.full_resolution_time_b = array("d"), array("d")
        self.requester_wait_time_c, self.requester_wait_time_b = array("d"), array("d")
        self.agent_work_time_c, self.agent_work_time_b = array("d"), array("d")
        self.solved = 0  # tickets solved/closed now whose latest solve is in the period
        self.first_solves = 0
        self.one_touch = 0
        self.reopened = 0
        self.reopens = 0
        self.no_reply = 0  # created in the period, no public agent reply yet
        self.backlog = [0] * (backlog_buckets + 1)
        self.backlog_statuses = [0] * 4  # new, open, pending, on_hold
        self.tiers: dict[int, list[int]] = {}  # first tier -> [tickets, escalated]
        self.solves_by: dict[str, int] = {}  # agent -> solves credited
        self.created = 0  # tickets created in the period
        # only on the period-wide aggregates:
        self.by_channel: dict[str, int] = {}
        self.heat = [0] * 168  # weekday * 24 + local hour of creation
        self.created_by_day: dict[int, int] = {}  # local day number -> tickets created
        self.replies_by: dict[str, int] = {}  # agent -> public replies in the period
        self.agent_days: set[tuple[str, int]] = set()  # (agent, local day) with activity
        self.dists: dict[str, tuple[Dist, Dist]] = {}
        # survey answers of the period: kind -> score -> answers; per local day as well
        self.surveys: dict[str, Counter[int]] = {}
        self.surveys_by_day: dict[int, dict[str, Counter[int]]] = {}

    def seal(self) -> Agg:
        """Turn the arrays into sorted distributions (done by the worker that built them)."""
        for name in DURATION_METRICS:
            cal = getattr(self, name + "_c")
            bus = getattr(self, name + "_b")
            if name in self.dists:
                self.dists[name][0].values.extend(cal)
                self.dists[name][1].values.extend(bus)
            else:
                self.dists[name] = (Dist(cal), Dist(bus))
            self.dists[name][0].seal()
            self.dists[name][1].seal()
            setattr(self, name + "_c", array("d"))
            setattr(self, name + "_b", array("d"))
        return self

    def merge(self, other: Agg) -> None:
        self.seal()
        other.seal()
        for name, (c, b) in other.dists.items():
            mine = self.dists.setdefault(name, (Dist(), Dist()))
            mine[0].merge(c)
            mine[1].merge(b)
        for key, n in other.by_channel.items():
            self.by_channel[key] = self.by_channel.get(key, 0) + n
        for day, n in other.created_by_day.items():
            self.created_by_day[day] = self.created_by_day.get(day, 0) + n
        for agent, n in other.replies_by.items():
            self.replies_by[agent] = self.replies_by.get(agent, 0) + n
        self.heat = [a + b for a, b in zip(self.heat, other.heat, strict=True)]
        self.agent_days |= other.agent_days
        for attr in (
            "solved",
            "first_solves",
            "one_touch",
            "reopened",
            "reopens",
            "no_reply",
            "created",
        ):
            setattr(self, attr, getattr(self, attr) + getattr(other, attr))
        self.backlog = [
            a + b for a, b in itertools.zip_longest(self.backlog, other.backlog, fillvalue=0)
        ]
        self.backlog_statuses = [
            a + b for a, b in zip(self.backlog_statuses, other.backlog_statuses, strict=True)
        ]
        for tier, (n, esc) in other.tiers.items():
            row = self.tiers.setdefault(tier, [0, 0])
            row[0] += n
            row[1] += esc
        for agent, n in other.solves_by.items():
            self.solves_by[agent] = self.solves_by.get(agent, 0) + n
        _merge_surveys(self.surveys, other.surveys)
        for day, kinds in other.surveys_by_day.items():
            _merge_surveys(self.surveys_by_day.setdefault(day, {}), kinds)

    def answer(self, kind: str, score: int, day: int | None) -> None:
        """Count one survey answer (``day``: its local day, for the period-wide aggregate)."""
        found = self.surveys.get(kind)
        if found is None:
            found = self.surveys[kind] = Counter()
        found[score] += 1
        if day is not None:
            by_kind = self.surveys_by_day.setdefault(day, {})
            counter = by_kind.get(kind)
            if counter is None:
                counter = by_kind[kind] = Counter()
            counter[score] += 1

    def dist(self, name: str, business: bool) -> Dist:
        self.seal()
        pair = self.dists.get(name)
        if pair is None:
            return Dist()
        return pair[1] if business else pair[0]


@dataclass
class SlaTally:
    """SLA metric instances decided in one period: (policy, metric, priority, target seconds,
    business) -> [met, decided]; also per group key and per trend bucket."""

    rows: dict[tuple[str, str, str, int, bool], list[int]] = field(default_factory=dict)
    by_group: dict[Any, list[int]] = field(default_factory=dict)
    by_bucket: dict[int, list[int]] = field(default_factory=dict)

    def add(self, key: tuple[str, str, str, int, bool], met: bool) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [0, 0]
        row[0] += met
        row[1] += 1

    def merge(self, other: SlaTally) -> None:
        for attr in ("rows", "by_group", "by_bucket"):
            mine, theirs = getattr(self, attr), getattr(other, attr)
            for k, (met, n) in theirs.items():
                row = mine.setdefault(k, [0, 0])
                row[0] += met
                row[1] += n

    def values(self) -> dict[str, float | None]:
        met = sum(r[0] for r in self.rows.values())
        done = sum(r[1] for r in self.rows.values())
        return {
            "rate": 100.0 * met / done if done else None,
            "met": met,
            "completed": done,
            "breached": done - met,
        }


@dataclass
class ScanResult:
    tickets: int = 0
    events: int = 0
    #: (period, group key) -> Agg; period 0 is the report's, 1 the previous one; key None = all
    aggs: dict[tuple[int, Any], Agg] = field(default_factory=dict)
    trend_solved: list[int] = field(default_factory=list)
    trend_frt: list[Dist] = field(default_factory=list)
    sla: list[SlaTally] | None = None  # per period, when SLA policies were evaluated
    records: dict[str, TicketRecord] | None = None  # ticket id -> record, on request

    def merge(self, other: ScanResult) -> None:
        self.tickets += other.tickets
        self.events += other.events
        if other.records is not None:  # workers scan disjoint id ranges
            if self.records is None:
                self.records = {}
            self.records.update(other.records)
        if other.sla is not None:
            if self.sla is None:
                self.sla = other.sla
            else:
                for tally, other_tally in zip(self.sla, other.sla, strict=True):
                    tally.merge(other_tally)
        for key, agg in other.aggs.items():
            if key in self.aggs:
                self.aggs[key].merge(agg)
            else:
                self.aggs[key] = agg
        if not self.trend_solved:
            self.trend_solved = list(other.trend_solved)
            self.trend_frt = list(other.trend_frt)
        else:
            self.trend_solved = [
                a + b for a, b in zip(self.trend_solved, other.trend_solved, strict=True)
            ]
            for dist, theirs in zip(self.trend_frt, other.trend_frt, strict=True):
                dist.merge(theirs)

    @property
    def facts(self) -> dict[str, TicketRecord] | None:
        """The former name of :attr:`records`."""
        return self.records

    def agg(self, period: int, key: Any = None) -> Agg:
        found = self.aggs.get((period, key))
        return found if found is not None else Agg()


def _merge_surveys(mine: dict[str, Counter[int]], theirs: dict[str, Counter[int]]) -> None:
    for kind, scores in theirs.items():
        mine.setdefault(kind, Counter()).update(scores)


#: The former name of :class:`TicketRecord`.
TicketFacts = TicketRecord
