"""The single pass over tickets and their events that computes every per-ticket KPI fact.

One SQL query streams the events that matter (public comments, status changes, assignments,
agent-created tickets) ordered by ``(ticket_id, at)``; a second streams the selected tickets in
id order, and the two are merged. Each ticket's events are replayed once, in a single loop, to
get its first reply, next replies, first and latest solve, time per status, reopens, replies and
tiers; the results go into bounded aggregates (:class:`Agg`: durations in ``array('d')``,
counters) for the period and group they belong to. Nothing per ticket is kept beyond one float
per duration.

Business time comes from a :class:`cstoolkit.calendars.BusinessClock` (one binary search per
instant), local days from a :class:`cstoolkit.calendars.ZoneClock`.

Large stores are split into ticket-id ranges scanned by worker processes (``jobs``); their
aggregates merge exactly (distributions are value counters, see
:class:`~cstoolkit.kpi.metrics.Dist`).

On request (``ScanSpec.record_tickets``, the ``--vendor-metrics`` check) the scan also keeps one
:class:`TicketFacts` per ticket, so :mod:`cstoolkit.kpi.vendor` can pair our values with a
vendor's ticket by ticket. Off by default: then nothing per ticket is kept.

The rules implemented here are documented in docs/metrics.md; keep both in step.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, NamedTuple

from cstoolkit.calendars import BusinessClock, Calendar, ZoneClock
from cstoolkit.kpi.metrics import DURATION_METRICS, Dist

STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
_UNKNOWN = 6
_NEW, _OPEN, _PENDING, _ON_HOLD, _SOLVED, _CLOSED = range(6)

# Event codes produced by the events query.
C_AGENT_REPLY = 1  # public comment by an agent
C_REQUESTER = 2  # public comment by the requester
C_ASSIGN = 4  # assignment (``who`` = the new assignee)
C_AGENT_CREATED = 5  # the ticket was created by an agent with a public comment
C_CREATED = 6  # created by the requester (or unknown); only streamed when SLAs are evaluated
# Status changes: 100 + 10 * old + new (+100 when an agent made the change; ``who`` = that agent)


def _status_case(col: str) -> str:
    whens = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STATUSES))
    return f"(CASE {col} {whens} ELSE {_UNKNOWN} END)"


EVENTS_SQL = f"""
SELECT e.ticket_id, CAST(e.at AS INTEGER),
  CASE e.kind
    WHEN 'comment' THEN CASE e.author_role WHEN 'agent' THEN {C_AGENT_REPLY} ELSE {C_REQUESTER} END
    WHEN 'status_change' THEN (CASE WHEN e.author_role = 'agent' THEN 200 ELSE 100 END)
      + 10 * {_status_case("e.old")} + {_status_case("e.new")}
    WHEN 'assignment' THEN {C_ASSIGN}
    ELSE CASE e.author_role WHEN 'agent' THEN {C_AGENT_CREATED} ELSE {C_CREATED} END END,
  CASE WHEN e.kind = 'assignment' THEN e.new WHEN e.author_role = 'agent' THEN e.author_id END
FROM events e INDEXED BY events_ticket_at
WHERE ((e.kind = 'comment' AND e.public = 1
        AND (e.author_role IS NULL OR e.author_role IN ('agent', 'requester')))
   OR (e.kind = 'status_change' {{closing}})
   OR e.kind = 'assignment'
   OR (e.kind = 'created' AND COALESCE(e.public, 1) = 1 {{created}}))
   {{range}}
ORDER BY e.ticket_id, e.at
"""

_OLD = [_UNKNOWN] * 300
_NEWS = [_UNKNOWN] * 300
for _code in range(100, 300):
    _OLD[_code], _NEWS[_code] = divmod(_code % 100, 10)
del _code

#: Attribute dimensions of ``--by``: the tickets column their key comes from.
ATTRIBUTE_COLUMNS = {
    "agent": "t.assignee_id",
    "group": "t.group_id",
    "channel": "t.channel",
    "priority": "t.priority",
    "instance": "t.instance",
    "tier": "t.assignee_id",  # mapped to the assignee's tier
}
TIME_UNITS = ("day", "week", "month")
#: The group key of tickets without a value (no assignee, no tier...): ``None`` is "all".
NONE_KEY = "\x00none"


@dataclass
class ScanSpec:
    """Everything a scan (or one worker's share of it) needs; picklable."""

    db_path: str
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
    id_from: str | None = None
    id_to: str | None = None
    #: SLA evaluation (cstoolkit.sla): the policies, an SQL CASE giving each ticket's policy
    #: index (with its parameters), the calendars and the evaluation time
    sla_policies: list[Any] | None = None
    sla_case: str = "NULL"
    sla_params: list[Any] = field(default_factory=list)
    sla_calendars: dict[str, Calendar] = field(default_factory=dict)
    sla_now: float = 0.0
    #: keep one TicketFacts per ticket with a reply or a solve (the vendor check); off: none
    record_tickets: bool = False


class TicketFacts(NamedTuple):
    """One ticket's own values, as the scan computed them for the aggregates (instants are unix
    seconds; ``*_b`` business seconds of the report's calendar). Kept only on request."""

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
    facts: dict[str, TicketFacts] | None = None  # ticket id -> facts, with record_tickets

    def merge(self, other: ScanResult) -> None:
        self.tickets += other.tickets
        self.events += other.events
        if other.facts is not None:  # workers scan disjoint id ranges
            if self.facts is None:
                self.facts = {}
            self.facts.update(other.facts)
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

    def agg(self, period: int, key: Any = None) -> Agg:
        found = self.aggs.get((period, key))
        return found if found is not None else Agg()


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = 1")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def _offset_fn(clock: BusinessClock) -> Callable[[float], float]:
    """The clock's offset as a closure (the hot loop's business-time lookup): a per-minute table
    when the calendar allows one, else a binary search over the intervals."""
    if clock.is_24x7:
        return float
    slow = clock.offset
    table = clock.minute_table()
    if table is not None:
        t0, before_m, opened = table
        n = len(opened)

        def by_minute(t: float) -> float:
            m = int((t - t0) // 60)
            if 0 <= m < n:
                return before_m[m] + (t - t0 - 60 * m) * opened[m]
            return slow(t)

        return by_minute
    starts, lengths, before = clock.starts, clock.lengths, clock.before
    lo = starts[0] if starts else 0.0
    hi = (starts[-1] + lengths[-1]) if starts else 0.0

    def by_interval(t: float) -> float:
        if lo <= t <= hi:
            i = bisect_right(starts, t) - 1
            d = t - starts[i]
            n = lengths[i]
            return before[i] + (d if d < n else n)
        return slow(t)

    return by_interval


def scan(spec: ScanSpec, conn: sqlite3.Connection | None = None) -> ScanResult:
    """Replay the events of the spec's tickets once and aggregate their KPI facts."""
    own = conn is None
    if conn is None:
        conn = _connect(spec.db_path)
    try:
        return _scan(spec, conn)
    finally:
        if own:
            conn.close()


def _scan(spec: ScanSpec, conn: sqlite3.Connection) -> ScanResult:
    since, until = spec.since, spec.until
    psince = spec.previous_since if spec.previous_since is not None else since
    lo = psince
    clock = BusinessClock(spec.calendar, spec.clock_start, spec.clock_end)
    F = _offset_fn(clock)
    table = clock.minute_table()
    minute_table = table is not None
    bt0, bbefore, bopen = table if table is not None else (0, array("q"), b"")
    bn = len(bopen)
    zone = ZoneClock(spec.timezone, spec.clock_start, spec.clock_end)
    zstarts, zoffs = zone.starts, zone.offsets
    zlo, zhi = zstarts[0], spec.clock_end + 86400
    zslow = zone.offset
    day0 = spec.day0
    trend_of = spec.trend_buckets
    ntrend = (max(trend_of) + 1) if trend_of else 0
    group_of = spec.group_buckets
    by = spec.by
    time_by = by in TIME_UNITS
    attr_by = by is not None and not time_by
    tiers = spec.tiers
    edges = spec.backlog_edges
    nb = len(edges)

    quarters = zone.quarter_table()
    if quarters is not None:
        q0, qoffs = quarters
        nq = len(qoffs)

        def day_of(t: float) -> int:
            i = int(t - q0) // 900
            return int((t + (qoffs[i] if 0 <= i < nq else zslow(t))) // 86400)

    else:

        def day_of(t: float) -> int:
            off = zoffs[bisect_right(zstarts, t) - 1] if zlo <= t <= zhi else zslow(t)
            return int((t + off) // 86400)

    result = ScanResult()
    facts: dict[str, TicketFacts] | None = None
    if spec.record_tickets:
        facts = result.facts = {}
    result.trend_solved = [0] * ntrend
    result.trend_frt = [Dist() for _ in range(ntrend)]
    trend_solved, trend_frt = result.trend_solved, [d.values for d in result.trend_frt]
    aggs = result.aggs
    cur = aggs[(0, None)] = Agg(nb)
    prev: Agg | None = None
    if spec.previous_since is not None:
        prev = aggs[(1, None)] = Agg(nb)

    def group(period: int, key: Any) -> Agg:
        a = aggs.get((period, key))
        if a is None:
            a = aggs[(period, key)] = Agg(nb)
        return a

    only_cur: tuple[Agg, ...] = (cur,)
    prev_t: tuple[Agg, ...] = (prev,) if prev is not None else ()
    n_trend_days = len(trend_of)

    def targets(t: float, gkey: Any) -> tuple[Agg, ...]:
        """The aggregates a fact that happened at ``t`` goes to (``--by`` a time unit)."""
        if since <= t < until:
            if time_by:
                i = day_of(t) - day0
                if 0 <= i < len(group_of):
                    return (cur, group(0, group_of[i]))
                return (cur,)
            if attr_by:
                return (cur, group(0, gkey))
            return (cur,)
        if prev is not None and psince <= t < since:
            return (prev,)
        return ()

    # -- the queries ---------------------------------------------------------------------------
    rng, rparams = "", []
    if spec.id_from is not None:
        rng += " AND {col} >= ?"
        rparams.append(spec.id_from)
    if spec.id_to is not None:
        rng += " AND {col} < ?"
        rparams.append(spec.id_to)
    gcol = ATTRIBUTE_COLUMNS.get(by or "", "NULL")
    sla_on = bool(spec.sla_policies)
    need_r = "r." in spec.where or (sla_on and "r." in spec.sla_case)
    join = " LEFT JOIN people r ON r.id = t.requester_id" if need_r else ""
    sla_case = spec.sla_case if sla_on else "NULL"
    tickets_sql = (
        f"SELECT t.id, CAST(t.created_at AS INTEGER), t.status, CAST(t.solved_at AS INTEGER), "
        f"{gcol}, t.priority, {sla_case}, "
        "t.channel "
        f"FROM tickets t{join} WHERE ({spec.where}) AND t.created_at < ? "
        f"AND (t.updated_at >= ? OR t.status NOT IN ('solved', 'closed'))"
        + rng.format(col="t.id")
        + " ORDER BY t.id"
    )
    sla_params = spec.sla_params if sla_on else []
    tcur = conn.execute(tickets_sql, [*sla_params, *spec.params, until, lo, *rparams])
    ecur = conn.cursor()
    # Without SLAs, only agent-created tickets need their ``created`` event, and the routine
    # solved -> closed change (a million of them in a million tickets) changes no metric: both
    # statuses are resolved, neither a solve nor a reopen.
    created_filter = "" if sla_on else "AND e.author_role = 'agent'"
    closing = (
        ""
        if sla_on
        else "AND NOT (COALESCE(e.old, '') = 'solved' AND COALESCE(e.new, '') = 'closed')"
    )
    ecur.execute(
        EVENTS_SQL.format(
            range=rng.format(col="e.ticket_id"), created=created_filter, closing=closing
        ),
        rparams,
    )
    sla_eval = _SlaEvaluator(spec) if sla_on else None
    if sla_eval is not None:
        result.sla = sla_eval.tallies
    groups = itertools.groupby(ecur, key=itemgetter(0))
    OLD, NEWS = _OLD, _NEWS
    egroup: Any = None
    ekey: str | None = None
    nxt = next(groups, None)
    if nxt is not None:
        ekey, egroup = nxt
    n_tickets = n_events = 0

    for tid, created, status_now, solved_at, gcol_value, priority, policy_index, channel in tcur:
        # -- this ticket's events (the event stream is in the same id order) ------------------
        while ekey is not None and ekey < tid:
            nxt = next(groups, None)
            ekey, egroup = nxt if nxt is not None else (None, None)
        evs: Sequence[Any] = ()
        if ekey == tid:
            evs = list(egroup)
            nxt = next(groups, None)
            ekey, egroup = nxt if nxt is not None else (None, None)
        n_tickets += 1
        n_events += len(evs)
        gkey = gcol_value
        if by == "tier":
            gkey = tiers.get(gcol_value) if gcol_value is not None else None
        if gkey is None:
            gkey = NONE_KEY

        c = created
        fc = F(c)
        cur_t = (cur, group(0, gkey)) if attr_by else only_cur
        st = init = -1  # status before the first change: from that change's ``old``, else new
        st_until = st_since = -1
        t0, f0 = c, fc
        rw_c = rw_b = aw_c = aw_b = 0.0
        snap: tuple[float, float, float, float] | None = None
        first_solve = last_solve = None
        reopens = replies = 0
        agent_created = False
        first_reply = None
        wait = c  # the oldest requester message not answered yet (None: nobody waits)
        tier0: int | None = None
        assigned = False
        escalated = False
        assignee = None
        solver = None
        for _, when, code, who in evs:
            at = when if when > c else c  # an event stamped before creation counts at creation
            if code >= 100:
                if who is not None and code >= 200 and psince <= at < until:
                    act = cur if at >= since else prev
                    if act is not None:
                        act.agent_days.add((who, day_of(at)))
                new = NEWS[code]
                if st < 0:
                    old = OLD[code]
                    st = init = old if old != _UNKNOWN else _NEW
                # business time is only needed where a new/open/on-hold interval ends or starts
                if st <= _OPEN or st == _ON_HOLD:
                    if minute_table:  # F(at), inlined: this is the hottest line of the report
                        m = (at - bt0) // 60
                        fa = bbefore[m] + (at - bt0 - 60 * m) * bopen[m] if 0 <= m < bn else F(at)
                    else:
                        fa = F(at)
                    rw_c += at - t0
                    rw_b += fa - f0
                    if st <= _OPEN:
                        aw_c += at - t0
                        aw_b += fa - f0
                    f0 = fa
                elif new <= _OPEN or new == _ON_HOLD:
                    f0 = F(at)
                t0 = at
                if _SOLVED <= new <= _CLOSED and not _SOLVED <= st <= _CLOSED:
                    if first_solve is None:
                        first_solve = at
                    last_solve = at
                    snap = (rw_c, rw_b, aw_c, aw_b)
                    solver = who if code >= 200 else assignee
                elif _SOLVED <= st <= _CLOSED and new <= _ON_HOLD:
                    reopens += 1
                st = new
                if at < until:
                    st_until = new
                    if at < since:
                        st_since = new
            elif code == C_AGENT_REPLY:
                if agent_created and at == c and replies == 0 and first_reply is None:
                    agent_created = False  # the creating comment itself, not a reply
                    continue
                replies += 1
                if who is not None and psince <= at < until:
                    act = cur if at >= since else prev
                    if act is not None:
                        act.replies_by[who] = act.replies_by.get(who, 0) + 1
                        act.agent_days.add((who, day_of(at)))
                if first_reply is None:
                    first_reply = at
                    wait = None
                elif wait is not None:
                    if time_by:
                        tg = targets(at, gkey)
                    elif since <= at < until:
                        tg = cur_t
                    elif psince <= at < since:
                        tg = prev_t
                    else:
                        tg = ()
                    if tg:
                        fb = F(at) - F(wait)
                        for a in tg:
                            a.next_reply_time_c.append(at - wait)
                            a.next_reply_time_b.append(fb)
                    wait = None
            elif code == C_REQUESTER:
                if wait is None:
                    wait = at
            elif code == C_ASSIGN:
                assignee = who
                tier = None
                if who is not None:
                    tier = tiers.get(who)
                    if tier is None and ":" not in who:  # an external id: qualify it
                        assignee = f"{tid.partition(':')[0]}:{who}"
                        tier = tiers.get(assignee)
                if not assigned:
                    assigned = True
                    tier0 = tier
                elif tier is not None and tier0 is not None and tier > tier0:
                    escalated = True
            elif code == C_AGENT_CREATED:
                agent_created = True
                wait = None

        # -- the ticket's facts, each to the period of the event that completes it ------------
        if first_reply is not None:
            if time_by:
                tg = targets(first_reply, gkey)
            elif since <= first_reply < until:
                tg = cur_t
            elif psince <= first_reply < since:
                tg = prev_t
            else:
                tg = ()
            if tg:
                fb = F(first_reply) - fc
                for a in tg:
                    a.first_reply_time_c.append(first_reply - c)
                    a.first_reply_time_b.append(fb)
                if trend_of and since <= first_reply < until:
                    i = day_of(first_reply) - day0
                    if 0 <= i < n_trend_days:
                        trend_frt[trend_of[i]].append(fb)
        resolved = status_now in ("solved", "closed")
        if resolved and last_solve is None and solved_at is not None:
            first_solve = last_solve = solved_at  # no status history: the stored solve
        if first_solve is not None:
            if time_by:
                tg = targets(first_solve, gkey)
            elif since <= first_solve < until:
                tg = cur_t
            elif psince <= first_solve < since:
                tg = prev_t
            else:
                tg = ()
            if tg:
                fb = F(first_solve) - fc
                for a in tg:
                    a.first_solves += 1
                    a.first_resolution_time_c.append(first_solve - c)
                    a.first_resolution_time_b.append(fb)
        if resolved and last_solve is not None:
            if time_by:
                tg = targets(last_solve, gkey)
            elif since <= last_solve < until:
                tg = cur_t
            elif psince <= last_solve < since:
                tg = prev_t
            else:
                tg = ()
            if tg:
                fb = F(last_solve) - fc
                for a in tg:
                    a.solved += 1
                    a.full_resolution_time_c.append(last_solve - c)
                    a.full_resolution_time_b.append(fb)
                    if snap is not None:
                        a.requester_wait_time_c.append(snap[0])
                        a.requester_wait_time_b.append(snap[1])
                        a.agent_work_time_c.append(snap[2])
                        a.agent_work_time_b.append(snap[3])
                    if replies < 2:
                        a.one_touch += 1
                    if reopens:
                        a.reopened += 1
                        a.reopens += reopens
                    if solver is not None:
                        a.solves_by[solver] = a.solves_by.get(solver, 0) + 1
                if trend_of and since <= last_solve < until:
                    i = day_of(last_solve) - day0
                    if 0 <= i < n_trend_days:
                        trend_solved[trend_of[i]] += 1
        if time_by:
            tg = targets(c, gkey)
        elif since <= c < until:
            tg = cur_t
        elif psince <= c < since:
            tg = prev_t
        else:
            tg = ()
        if tg:
            whole = cur if c >= since else prev
            if whole is not None:  # the period-wide counts of creation
                whole.by_channel[channel] = whole.by_channel.get(channel, 0) + 1
                day = day_of(c)
                local = c + (zoffs[bisect_right(zstarts, c) - 1] if zlo <= c <= zhi else zslow(c))
                whole.heat[(day + 3) % 7 * 24 + int(local % 86400 // 3600)] += 1
                whole.created_by_day[day] = whole.created_by_day.get(day, 0) + 1
        for a in tg:
            a.created += 1
            if first_reply is None:
                a.no_reply += 1
            if assigned and tier0 is not None:
                row = a.tiers.get(tier0)
                if row is None:
                    row = a.tiers[tier0] = [0, 0]
                row[0] += 1
                if escalated:
                    row[1] += 1
        if sla_eval is not None and policy_index is not None:
            sla_eval.ticket(tid, c, status_now, solved_at, priority, policy_index, evs, gkey)
        if facts is not None and (first_reply is not None or first_solve is not None):
            latest = last_solve if resolved else None
            wait_snap = snap if latest is not None else None
            facts[tid] = TicketFacts(
                c,
                first_reply,
                F(first_reply) - fc if first_reply is not None else None,
                first_solve,
                F(first_solve) - fc if first_solve is not None else None,
                latest,
                F(latest) - fc if latest is not None else None,
                wait_snap[0] if wait_snap is not None else None,
                wait_snap[1] if wait_snap is not None else None,
                reopens,
                replies,
            )
        # -- backlog at the end of each period ------------------------------------------------
        if st < 0:  # no status history at all: the current status is all we know
            st_until = st_since = _status_index(status_now)
        else:
            if st_until < 0 and c < until:
                st_until = init
            if st_since < 0 and c < since:
                st_since = init
        if c < until and 0 <= st_until <= _ON_HOLD:
            a = cur
            i = bisect_right(edges, until - c)
            a.backlog[i] += 1
            a.backlog_statuses[st_until] += 1
            if attr_by:
                g = group(0, gkey)
                g.backlog[i] += 1
                g.backlog_statuses[st_until] += 1
        if prev is not None and c < since and 0 <= st_since <= _ON_HOLD:
            i = bisect_right(edges, since - c)
            prev.backlog[i] += 1
            prev.backlog_statuses[st_since] += 1

    result.tickets, result.events = n_tickets, n_events
    for agg in aggs.values():
        agg.seal()
    for d in result.trend_frt:
        d.seal()
    return result


def _status_index(status: str) -> int:
    try:
        return STATUSES.index(status)
    except ValueError:
        return _UNKNOWN


# -- SLA ---------------------------------------------------------------------------------------

_STATUS_NAMES = (*STATUSES, None)


class _SlaEvaluator:
    """Feeds each ticket's streamed events to :func:`cstoolkit.sla.evaluate` and tallies the
    metric instances decided in each period.

    An instance is *decided* when it is fulfilled (met unless it breached first) or when it
    breaches, whichever comes first; it counts in the period of that instant. Instances still
    running and not breached are not counted.
    """

    def __init__(self, spec: ScanSpec) -> None:
        from cstoolkit import model, sla

        self.sla = sla
        self.model = model
        self.spec = spec
        self.policies = spec.sla_policies or []
        self.calendars = spec.sla_calendars
        self.now = datetime.fromtimestamp(spec.sla_now, UTC)
        self.periods = [(spec.since, spec.until)]
        if spec.previous_since is not None:
            self.periods.append((spec.previous_since, spec.since))
        self.tallies = [SlaTally() for _ in self.periods]
        self.zone = ZoneClock(spec.timezone, spec.clock_start, spec.clock_end)
        self.time_by = spec.by in TIME_UNITS
        self.attr_by = spec.by is not None and not self.time_by

    def _events(self, tid: str, evs: Sequence[Any]) -> list[Any]:
        m = self.model
        out = []
        for n, (_, at, code, _who) in enumerate(evs):
            when = datetime.fromtimestamp(at, UTC)
            eid = f"{n:06d}"
            if code >= 100:
                old, new = _STATUS_NAMES[_OLD[code]], _STATUS_NAMES[_NEWS[code]]
                out.append(m.Event(eid, tid, m.EventKind.STATUS_CHANGE, when, old=old, new=new))
            elif code == C_AGENT_REPLY:
                out.append(
                    m.Event(
                        eid, tid, m.EventKind.COMMENT, when, author_role=m.Role.AGENT, public=True
                    )
                )
            elif code == C_REQUESTER:
                out.append(
                    m.Event(
                        eid,
                        tid,
                        m.EventKind.COMMENT,
                        when,
                        author_role=m.Role.REQUESTER,
                        public=True,
                    )
                )
            elif code == C_AGENT_CREATED:
                out.append(
                    m.Event(
                        eid, tid, m.EventKind.CREATED, when, author_role=m.Role.AGENT, public=True
                    )
                )
            elif code == C_CREATED:
                out.append(
                    m.Event(
                        eid,
                        tid,
                        m.EventKind.CREATED,
                        when,
                        author_role=m.Role.REQUESTER,
                        public=True,
                    )
                )
        return out

    def ticket(
        self,
        tid: str,
        created: float,
        status: str,
        solved_at: int | None,
        priority: str,
        policy_index: int,
        evs: Sequence[Any],
        gkey: Any,
    ) -> None:
        m = self.model
        try:
            st, pr = m.Status(status), m.Priority(priority)
        except ValueError:
            return
        when = datetime.fromtimestamp(created, UTC)
        ticket = m.Ticket(
            id=tid,
            instance="",
            external_id="",
            subject="",
            status=st,
            created_at=when,
            updated_at=when,
            priority=pr,
            solved_at=datetime.fromtimestamp(solved_at, UTC) if solved_at is not None else None,
        )
        policy = self.policies[int(policy_index)]
        states = self.sla.evaluate(ticket, self._events(tid, evs), policy, self.calendars, self.now)
        self.tally(states, priority, gkey)

    def tally(self, states: Sequence[Any], priority: str, gkey: Any) -> None:
        """Count the decided instances among ``states`` (of one ticket of ``priority``)."""
        spec = self.spec
        for state in states:
            if state.breached_at is not None and (
                state.fulfilled_at is None or state.breached_at <= state.fulfilled_at
            ):
                decided, met = state.breached_at.timestamp(), False
            elif state.fulfilled_at is not None:
                decided, met = state.fulfilled_at.timestamp(), not state.breached
            else:
                continue
            key = (state.policy, state.metric, priority, int(state.target_seconds), state.business)
            for i, (a, b) in enumerate(self.periods):
                if not a <= decided < b:
                    continue
                tally = self.tallies[i]
                tally.add(key, met)
                if i:
                    continue
                k = self.zone.day(decided) - spec.day0
                if 0 <= k < len(spec.trend_buckets):
                    row = tally.by_bucket.setdefault(spec.trend_buckets[k], [0, 0])
                    row[0] += met
                    row[1] += 1
                g: Any = None
                if self.attr_by:
                    g = gkey
                elif self.time_by and 0 <= k < len(spec.group_buckets):
                    g = spec.group_buckets[k]
                if g is not None:
                    row = tally.by_group.setdefault(g, [0, 0])
                    row[0] += met
                    row[1] += 1


# -- parallel scans ------------------------------------------------------------------------------


def split_points(conn: sqlite3.Connection, spec: ScanSpec, parts: int) -> list[str]:
    """Ticket ids that cut the selected tickets into ``parts`` ranges of similar size."""
    total = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    points: list[str] = []
    for k in range(1, parts):
        row = conn.execute(
            "SELECT id FROM tickets ORDER BY id LIMIT 1 OFFSET ?", (total * k // parts,)
        ).fetchone()
        if row is not None and (not points or row[0] > points[-1]):
            points.append(row[0])
    return points


def _worker(spec: ScanSpec) -> ScanResult:
    return scan(spec)


def default_jobs(tickets: int) -> int:
    """Worker processes for a store of ``tickets``: one below 50,000 tickets, else one per CPU
    (at most 8)."""
    if tickets < 50_000:
        return 1
    return max(1, min(8, os.cpu_count() or 1))


def run_scan(spec: ScanSpec, jobs: int = 1, conn: sqlite3.Connection | None = None) -> ScanResult:
    """Scan in ``jobs`` worker processes (1: in this process) and merge their results."""
    if jobs <= 1 or spec.db_path in ("", ":memory:"):
        return scan(spec, conn)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace

    own = conn is None
    conn = conn or _connect(spec.db_path)
    try:
        points = split_points(conn, spec, jobs)
    finally:
        if own:
            conn.close()
    bounds = [None, *points, None]
    specs = [replace(spec, id_from=a, id_to=b) for a, b in itertools.pairwise(bounds)]
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=len(specs), mp_context=ctx) as pool:
        results = list(pool.map(_worker, specs))
    merged = results[0]
    for other in results[1:]:
        merged.merge(other)
    return merged
