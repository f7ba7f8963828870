"""The reference oracle of the KPI report's per-ticket values: the former row-by-row scan,
kept under tests only.

It streams one row per ticket (tickets joined with their facts,
:func:`cstoolkit.store.reports.scan_rows`), decodes each JSON list and adds every value in
CPython, one instant at a time, with the per-instant clocks (``BusinessClock`` through a minute
table, ``ZoneClock`` through a quarter table). The report computes the same values by columns
(:mod:`cstoolkit.kpi.columnar`); tests/kpi/test_columnar_differential.py checks both agree,
value for value, on generated helpdesks. It is deliberately the old code, unchanged but for the
worker processes it no longer needs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from cstoolkit.calendars import BusinessClock, ZoneClock
from cstoolkit.kpi.aggregates import (
    NONE_KEY,
    TIME_UNITS,
    Agg,
    ScanResult,
    TicketRecord,
)
from cstoolkit.kpi.columnar import ScanSpec
from cstoolkit.kpi.metrics import Dist
from cstoolkit.kpi.sla_tally import SlaTallier
from cstoolkit.store import reports
from cstoolkit.timeline.facts import (
    CLOSED,
    NEW,
    ON_HOLD,
    OPEN,
    SOLVED,
    STATUS_CODE,
    UNKNOWN,
)
from cstoolkit.timeline.row import decode as row_decode

_SURVEY_KINDS = frozenset({"csat", "nps", "ces"})


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


def scan(spec: ScanSpec, db: Any) -> ScanResult:
    """Read the facts of the spec's tickets once and aggregate their KPI values (``db``: the
    store)."""
    return _scan(spec, db)


def _scan(spec: ScanSpec, db: Any) -> ScanResult:
    since, until = spec.since, spec.until
    psince = spec.previous_since if spec.previous_since is not None else since
    lo = psince
    clock = BusinessClock(spec.calendar, spec.clock_start, spec.clock_end)
    F = _offset_fn(clock)
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
    decode = _decoder()

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
    records: dict[str, TicketRecord] | None = None
    if spec.record_tickets:
        records = result.records = {}
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
        """The aggregates a value that completed at ``t`` goes to (``--by`` a time unit)."""
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

    sla_eval = SlaTallier(spec) if spec.sla_stored else None
    if sla_eval is not None:
        result.sla = sla_eval.tallies
    rows = reports.scan_rows(
        db, spec.where, spec.params, since=lo, until=until, by=by, sla=spec.sla_stored,
    )  # fmt: skip
    n_tickets = n_events = 0

    for (
        tid, c, status_now, gcol_value, priority, channel, first_reply, last_reply,
        first_solve, last_solve, reopens, replies, solver, wait_c, work_c, horizon, events,
        status_since, status_log, wait_log, work_log, reply_log, agent_log, assignment_log,
        answer_log, sla_policy, sla_instances,
    ) in rows:  # fmt: skip
        n_tickets += 1
        n_events += events
        gkey = gcol_value
        if by == "tier":
            gkey = tiers.get(gcol_value) if gcol_value is not None else None
        if gkey is None:
            gkey = NONE_KEY
        fc = F(c)
        cur_t = (cur, group(0, gkey)) if attr_by else only_cur

        # -- replies: agents' activity and next reply times ----------------------------------
        reply_seen: float | None = None
        if replies and last_reply >= lo and first_reply < until:
            for k, (at, who, wait) in enumerate(decode(reply_log)):
                if lo <= at < until:
                    if at >= since:
                        reply_seen = at
                    if who is not None:
                        act = cur if at >= since else prev
                        if act is not None:
                            act.replies_by[who] = act.replies_by.get(who, 0) + 1
                            act.agent_days.add((who, day_of(at)))
                    if k and wait is not None:
                        tg = targets(at, gkey) if time_by else (cur_t if at >= since else prev_t)
                        if tg:
                            fb = F(at) - F(wait)
                            for a in tg:
                                a.next_reply_time_c.append(at - wait)
                                a.next_reply_time_b.append(fb)
        if agent_log != "[]" and horizon >= lo:
            for at, who in decode(agent_log):
                if lo <= at < until:
                    act = cur if at >= since else prev
                    if act is not None:
                        act.agent_days.add((who, day_of(at)))

        # -- first reply ----------------------------------------------------------------------
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

        # -- solves -----------------------------------------------------------------------------
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
        resolved = status_now in ("solved", "closed")
        wait_b = work_b = 0.0
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
                fs = F(last_solve)
                fb = fs - fc
                if wait_c is not None:
                    wait_b = _spans(decode, wait_log, c, fc, last_solve, fs, F)
                    work_b = _spans(decode, work_log, c, fc, last_solve, fs, F)
                for a in tg:
                    a.solved += 1
                    a.full_resolution_time_c.append(last_solve - c)
                    a.full_resolution_time_b.append(fb)
                    if wait_c is not None:
                        a.requester_wait_time_c.append(wait_c)
                        a.requester_wait_time_b.append(wait_b)
                        a.agent_work_time_c.append(work_c)
                        a.agent_work_time_b.append(work_b)
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

        # -- creation ---------------------------------------------------------------------------
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
            end = until if c >= since else since  # no_reply: as of the end of the period
            if whole is not None:  # the period-wide counts of creation
                whole.by_channel[channel] = whole.by_channel.get(channel, 0) + 1
                day = day_of(c)
                local = c + (zoffs[bisect_right(zstarts, c) - 1] if zlo <= c <= zhi else zslow(c))
                whole.heat[(day + 3) % 7 * 24 + int(local % 86400 // 3600)] += 1
                whole.created_by_day[day] = whole.created_by_day.get(day, 0) + 1
            tier0: int | None = None
            escalated = False
            assigned = assignment_log != "[]"
            if assigned:
                chain = decode(assignment_log)
                tier0 = tiers.get(chain[0][1]) if chain[0][1] is not None else None
                if tier0 is not None:
                    for _, who in chain[1:]:
                        tier = tiers.get(who) if who is not None else None
                        if tier is not None and tier > tier0:
                            escalated = True
                            break
            for a in tg:
                a.created += 1
                if first_reply is None or first_reply >= end:
                    a.no_reply += 1
                if tier0 is not None:
                    row = a.tiers.get(tier0)
                    if row is None:
                        row = a.tiers[tier0] = [0, 0]
                    row[0] += 1
                    if escalated:
                        row[1] += 1

        # -- survey answers -----------------------------------------------------------------------
        counted: list[tuple[float, str, int]] = []
        if answer_log != "[]" and horizon >= lo:
            for at, kind, score, _comment in decode(answer_log):
                if not lo <= at < until or kind not in _SURVEY_KINDS or score is None:
                    continue
                whole = cur if at >= since else prev
                if whole is None:
                    continue
                value = int(score)
                if records is not None and whole is cur:
                    counted.append((at, kind, value))
                day = day_of(at)
                whole.answer(kind, value, day)
                if whole is cur:
                    if attr_by:
                        group(0, gkey).answer(kind, value, None)
                    elif time_by:
                        i = day - day0
                        if 0 <= i < len(group_of):
                            group(0, group_of[i]).answer(kind, value, None)

        # -- SLA outcomes ---------------------------------------------------------------------
        if sla_eval is not None and sla_policy is not None:
            sla_eval.ticket(sla_policy, sla_instances, priority, gkey)

        if records is not None and (first_reply is not None or first_solve is not None or counted):
            latest = last_solve if resolved else None
            if latest is not None and wait_c is not None:
                wait_b = _spans(decode, wait_log, c, fc, latest, F(latest), F)
            known_wait = latest is not None and wait_c is not None
            records[tid] = TicketRecord(
                c,
                first_reply,
                F(first_reply) - fc if first_reply is not None else None,
                first_solve,
                F(first_solve) - fc if first_solve is not None else None,
                latest,
                F(latest) - fc if latest is not None else None,
                wait_c if known_wait else None,
                wait_b if known_wait else None,
                reopens,
                replies,
                tuple(counted),
                reply_seen,
            )

        # -- backlog at the end of each period ------------------------------------------------
        if c < until:
            if status_since < since:  # one status since before the periods: no replay
                st_until = st_since = STATUS_CODE.get(status_now, UNKNOWN)
            else:
                periods = decode(status_log)
                st_until = st_since = periods[1]
                for i in range(2, len(periods), 2):
                    at = periods[i]
                    if at >= until:
                        break
                    st_until = periods[i + 1]
                    if at < since:
                        st_since = st_until
            if st_until <= ON_HOLD:
                i = bisect_right(edges, until - c)
                cur.backlog[i] += 1
                cur.backlog_statuses[st_until] += 1
                if attr_by:
                    g = group(0, gkey)
                    g.backlog[i] += 1
                    g.backlog_statuses[st_until] += 1
            if prev is not None and c < since and st_since <= ON_HOLD:
                i = bisect_right(edges, since - c)
                prev.backlog[i] += 1
                prev.backlog_statuses[st_since] += 1

    result.tickets, result.events = n_tickets, n_events
    for agg in aggs.values():
        agg.seal()
    for d in result.trend_frt:
        d.seal()
    return result


def _decoder() -> Callable[[str], Any]:
    """The JSON decoder of the facts' compact arrays (the C scanner, called directly)."""
    return row_decode


def _spans(
    decode: Callable[[str], Any],
    log: str,
    c: float,
    fc: float,
    solve: float,
    fs: float,
    F: Callable[[float], float],
) -> float:
    """Business seconds of the report's calendar in a ``wait_log``/``work_log`` of spans (the
    common single span from creation to the latest solve needs no lookup)."""
    flat = decode(log)
    if len(flat) == 2 and flat[0] == c and flat[1] == solve:
        return fs - fc
    total = 0.0
    for i in range(0, len(flat), 2):
        total += F(flat[i + 1]) - F(flat[i])
    return total


assert (NEW, OPEN, ON_HOLD, SOLVED, CLOSED) == (0, 1, 3, 4, 5)  # the codes the loop relies on


# -- self_service, ticket by ticket --------------------------------------------------------------

_ATTRIBUTE_INDEX = {"agent": 4, "tier": 4, "group": 5, "channel": 6, "priority": 7, "instance": 8}


def self_service_counts(metric: Any, ctx: Any, grouping: Any = None) -> dict[Any, dict[str, int]]:
    """The oracle of ``SelfServiceMetric.counts`` (cstoolkit.knowledge.metrics): each ticket of
    the report's filter read as a row, its custom fields decoded, its group key found in Python
    (a time bucket from its local creation date by ``zoneinfo``), its facts looked up one by
    one, and the counts added up."""
    import json
    from datetime import datetime
    from zoneinfo import ZoneInfo

    store = ctx.store
    sql, params = ctx.tickets_sql("t.id")
    rows = store.conn.execute(
        "SELECT t.id, t.created_at, t.status, t.custom_fields, t.assignee_id, t.group_id, "
        f"t.channel, t.priority, t.instance FROM tickets t WHERE t.id IN ({sql})",
        tuple(params),
    ).fetchall()
    facts = {
        r[0]: r[1:]
        for r in store.conn.execute(
            "SELECT ticket_id, agent_replies, reopens, survey_csat FROM ticket_facts"
        ).fetchall()
    }
    kpi = ctx.config.get("kpi") or {}
    good_min = kpi.get("csat_good_min", 4)
    out: dict[Any, dict[str, int]] = {}
    for row in rows:
        created = float(row[1])
        if not ctx.since <= created < ctx.until:
            continue
        key: Any = None
        if grouping is not None and grouping.by == "time":
            local = datetime.fromtimestamp(created, ZoneInfo(grouping.timezone)).date()
            i = local.toordinal() - 719163 - grouping.day0
            if not 0 <= i < len(grouping.day_buckets):
                continue
            key = grouping.day_buckets[i]
        elif grouping is not None:
            key = row[_ATTRIBUTE_INDEX[grouping.by]]
            if grouping.by == "tier":
                key = grouping.tiers.get(key) if key is not None else None
        c = out.setdefault(key, dict.fromkeys(
            ("created", "answered", "deflected", "reopened", "csat_responses", "csat_good"), 0
        ))  # fmt: skip
        c["created"] += 1
        fields = json.loads(row[3]) if row[3] else {}
        if fields.get("kb_article") is None:
            continue
        replies, reopens, csat = facts.get(row[0], (None, None, None))
        c["answered"] += 1
        if row[2] in ("solved", "closed") and (replies or 0) <= 1:
            c["deflected"] += 1
        if (reopens or 0) > 0:
            c["reopened"] += 1
        if csat is not None and 1 <= csat < 6:
            c["csat_responses"] += 1
            if csat >= good_min:
                c["csat_good"] += 1
    return out
