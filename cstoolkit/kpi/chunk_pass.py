"""One chunk's contribution to the KPI report: every per-ticket value of the tickets created
on one day, computed with numpy over the chunk's arrays (see :mod:`cstoolkit.kpi.columnar`).

The rules are documented in docs/metrics.md; keep both in step.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from cstoolkit import sla
from cstoolkit.calendars import ZoneClock
from cstoolkit.kpi.accumulate import Accumulator, ScanSpec, distinct
from cstoolkit.kpi.aggregates import NONE_KEY, TIME_UNITS, Agg, ScanResult, TicketRecord

if TYPE_CHECKING:
    from cstoolkit.store.column_chunk import Chunk

_BY_ARRAY = {
    "agent": "assignee",
    "tier": "assignee",
    "group": "group",
    "channel": "channel",
    "priority": "priority",
    "instance": "instance",
}
_SURVEY_KINDS = ("csat", "nps", "ces")
_ON_HOLD = 3


def _lists(chunk: Chunk, sel: Any, length: str) -> tuple[Any, Any, Any]:
    """For the list cut by ``length``: which elements belong to selected tickets, the owner of
    each of those (its index among the selected tickets) and its position in its list."""
    n = chunk[length]
    mask = np.repeat(sel, n)
    counts = n[sel]
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(len(owner)) - starts[owner] if len(owner) else owner
    return mask, owner, k


class ChunkPass:
    """One chunk's contribution (arrays of its selected tickets)."""

    def __init__(
        self,
        spec: ScanSpec,
        acc: Accumulator,
        result: ScanResult,
        chunk: Chunk,
        ids: set[str] | None,
        offset: Callable[[Any], Any],
        zone: ZoneClock,
    ) -> None:
        self.spec, self.acc, self.result, self.chunk = spec, acc, result, chunk
        self.F, self.zone = offset, zone
        self.since, self.until = spec.since, spec.until
        self.has_prev = spec.previous_since is not None
        self.psince: float = spec.previous_since if spec.previous_since is not None else spec.since
        self.lo = self.psince
        self.time_by = spec.by in TIME_UNITS
        self.attr_by = spec.by is not None and not self.time_by
        self.strings = chunk.string_array()
        self.global_code: Any = None
        resolved = (chunk["status"] == 4) | (chunk["status"] == 5)
        sel = (
            (chunk["deleted"] == 0)
            & (chunk["created"] < spec.until)
            & ((chunk["horizon"] >= self.lo) | ~resolved)
        )
        if ids is not None:
            sel &= np.fromiter((i in ids for i in chunk.ids), dtype=bool, count=chunk.n)
        self.sel = sel
        self.idx = np.nonzero(sel)[0]
        self.resolved = resolved[sel]

    def col(self, name: str) -> Any:
        return self.chunk[name][self.sel]

    def lst(self, length: str, *names: str) -> tuple[Any, Any, list[Any]]:
        mask, owner, k = _lists(self.chunk, self.sel, length)
        return owner, k, [self.chunk[n][mask] for n in names]

    def period(self, t: Any) -> Any:
        p = np.full(t.shape, -1, dtype=np.int8)
        p[(t >= self.since) & (t < self.until)] = 0
        if self.has_prev:
            p[(t >= self.psince) & (t < self.since)] = 1
        return p

    def groups_of(self, t: Any, owner: Any) -> Any:
        """The group id of values completed at ``t`` by tickets ``owner`` (-1: none)."""
        if self.attr_by:
            return self.tg[owner]
        if self.time_by:
            buckets = self.spec.group_buckets
            i = self.zone.day_array(t) - self.spec.day0
            ok = (i >= 0) & (i < len(buckets))
            table = np.asarray(buckets, dtype=np.int64)
            return np.where(ok, table[np.where(ok, i, 0)] if len(table) else -1, -1)
        return np.full(len(t), -1, dtype=np.int64)

    def key(self, g: int) -> Any:
        return self.acc.keys[g] if self.attr_by else g

    # -- accumulating ----------------------------------------------------------------------------

    def values(self, name: str, t: Any, owner: Any, cal: Any, bus: Any) -> None:
        p = self.period(t)
        vals = self.acc.vals
        for per in (0, 1):
            m = p == per
            if m.any():
                vals.setdefault((per, None, name), []).append((cal[m], bus[m]))
        g = self.groups_of(t, owner)
        m = (p == 0) & (g >= 0)
        if m.any():
            gm, cm, bm = g[m], cal[m], bus[m]
            for gi in np.unique(gm).tolist():
                w = gm == gi
                vals.setdefault((0, self.key(gi), name), []).append((cm[w], bm[w]))

    def count(self, name: str, t: Any, owner: Any, weights: Any = None) -> None:
        p = self.period(t)
        counts = self.acc.counts
        for per in (0, 1):
            m = p == per
            if m.any():
                n = int(m.sum()) if weights is None else int(weights[m].sum())
                counts.setdefault((per, None), Counter())[name] += n
        g = self.groups_of(t, owner)
        m = (p == 0) & (g >= 0)
        if m.any():
            w = None if weights is None else weights[m]
            sums = np.bincount(g[m], weights=w)
            for gi in np.nonzero(sums)[0].tolist():
                counts.setdefault((0, self.key(gi)), Counter())[name] += int(sums[gi])

    # -- the pass ----------------------------------------------------------------------------------

    def run(self) -> None:
        spec, acc = self.spec, self.acc
        n = len(self.idx)
        if not n:
            return
        self.result.tickets += n
        self.result.events += int(self.col("events").sum())
        strings = self.strings
        if self.attr_by:
            column = self.col(_BY_ARRAY[str(spec.by)])
            table = np.empty(len(strings), dtype=np.int64)
            for code, s in enumerate(strings.tolist()):
                key = s
                if spec.by == "tier":
                    key = spec.tiers.get(s) if s is not None else None
                table[code] = acc.gid(NONE_KEY if key is None else key)
            self.tg = table[column]
            for gi in np.unique(self.tg).tolist():
                acc.agg(0, acc.keys[gi])
        F = self.F
        c = self.col("created")
        fc = F(c)
        self.c, self.fc = c, fc
        self._replies()
        self._first_reply()
        self._solves()
        self._creation()
        self._answers()
        self._backlog()
        if self.result.sla is not None:
            self._sla()
        if self.result.records is not None:
            self._records()

    def _replies(self) -> None:
        lo, since, until = self.lo, self.since, self.until
        guard = (
            (self.col("replies") > 0)
            & (self.col("last_reply") >= lo)
            & (self.col("first_reply") < until)
        )
        owner, k, (at, who, wait) = self.lst("n_reply", "reply_at", "reply_who", "reply_wait")
        inside = guard[owner] & (at >= lo) & (at < until)
        self.reply_seen = np.full(len(self.idx), np.nan)
        seen = inside & (at >= since)
        np.fmax.at(self.reply_seen, owner[seen], at[seen])
        acts = inside & (who >= 0)
        strings = self.strings
        for per, m in ((0, acts & (at >= since)), (1, acts & (at < since))):
            if not m.any() or (per == 1 and not self.has_prev):
                continue
            agg = self.acc.agg(per, None)
            whos = who[m]
            for (code,), cnt in zip(*distinct((whos,))[:2], strict=True):
                name = strings[code]
                agg.replies_by[name] = agg.replies_by.get(name, 0) + int(cnt)
            self._agent_days(per, whos, at[m])
        m = inside & (k > 0) & ~np.isnan(wait)
        if m.any():
            a, w, o = at[m], wait[m], owner[m]
            self.values("next_reply_time", a, o, a - w, self.F(a) - self.F(w))
        # status changes agents made
        guard = (self.col("n_agent") > 0) & (self.col("horizon") >= lo)
        owner, _, (at, who) = self.lst("n_agent", "agent_at", "agent_who")
        inside = guard[owner] & (at >= lo) & (at < until)
        for per, m in ((0, inside & (at >= since)), (1, inside & (at < since))):
            if m.any() and (per == 0 or self.has_prev):
                self._agent_days(per, who[m], at[m])

    def _agent_days(self, per: int, who: Any, at: Any) -> None:
        """Collect (agent, local day) of activity, agents by their report-wide code (made
        distinct once, at the end)."""
        acc = self.acc
        if self.global_code is None:
            self.global_code = np.array(
                [acc.string(s) for s in self.strings.tolist()], dtype=np.int64
            )
        acc.agent_days[per].append((self.global_code[who], self.zone.day_array(at)))

    def _first_reply(self) -> None:
        fr = self.col("first_reply")
        m = ~np.isnan(fr)
        o = np.nonzero(m)[0]
        t = fr[m]
        fb = self.F(t) - self.fc[m]
        self.values("first_reply_time", t, o, t - self.c[m], fb)
        trend = self.spec.trend_buckets
        if trend:
            cur = (t >= self.since) & (t < self.until)
            i = self.zone.day_array(t[cur]) - self.spec.day0
            ok = (i >= 0) & (i < len(trend))
            buckets = np.asarray(trend, dtype=np.int64)[i[ok]]
            vals = fb[cur][ok]
            for b in np.unique(buckets).tolist():
                self.acc.trend_frt[b].append(vals[buckets == b])

    def _solves(self) -> None:
        F, c, fc = self.F, self.c, self.fc
        fs = self.col("first_solve")
        m = ~np.isnan(fs)
        o = np.nonzero(m)[0]
        t = fs[m]
        self.count("first_solves", t, o)
        self.values("first_resolution_time", t, o, t - c[m], F(t) - fc[m])
        ls = self.col("last_solve")
        m = self.resolved & ~np.isnan(ls)
        o = np.nonzero(m)[0]
        t = ls[m]
        self.count("solved", t, o)
        self.values("full_resolution_time", t, o, t - c[m], F(t) - fc[m])
        wait_c, work_c = self.col("wait_c")[m], self.col("work_c")[m]
        known = ~np.isnan(wait_c)
        if known.any():
            wait_b = self._spans("n_wait", "wait_span")[o]
            work_b = self._spans("n_work", "work_span")[o]
            tk, ok_ = t[known], o[known]
            self.values("requester_wait_time", tk, ok_, wait_c[known], wait_b[known])
            self.values("agent_work_time", tk, ok_, work_c[known], work_b[known])
        self.count("one_touch", t, o, (self.col("replies")[m] < 2).astype(np.int64))
        reopens = self.col("reopens")[m].astype(np.int64)
        self.count("reopened", t, o, (reopens > 0).astype(np.int64))
        self.count("reopens", t, o, reopens)
        solver = self.col("solver")[m]
        p = self.period(t)
        has = solver >= 0
        g = self.groups_of(t, o)
        strings = self.strings
        for per in (0, 1):
            for target, mm in (
                (None, (p == per) & has),
                ("groups", (p == 0) & has & (g >= 0) if per == 0 else None),
            ):
                if mm is None or not mm.any():
                    continue
                if target is None:
                    agg = self.acc.agg(per, None)
                    for (code,), cnt in zip(*distinct((solver[mm],))[:2], strict=True):
                        name = strings[code]
                        agg.solves_by[name] = agg.solves_by.get(name, 0) + int(cnt)
                else:
                    rows, cnts, _ = distinct((g[mm], solver[mm]))
                    for (gi, code), cnt in zip(rows, cnts, strict=True):
                        agg = self.acc.agg(0, self.key(gi))
                        name = strings[code]
                        agg.solves_by[name] = agg.solves_by.get(name, 0) + int(cnt)
        trend = self.spec.trend_buckets
        if trend:
            cur = (t >= self.since) & (t < self.until)
            i = self.zone.day_array(t[cur]) - self.spec.day0
            ok = (i >= 0) & (i < len(trend))
            np.add.at(self.acc.trend_solved, np.asarray(trend, dtype=np.int64)[i[ok]], 1)

    def _spans(self, length: str, name: str) -> Any:
        """Business seconds of each selected ticket's spans ``[start, end, start, end, ...]``."""
        owner, k, (flat,) = self.lst(length, name)
        fb = self.F(flat) if len(flat) else flat
        diff = np.where(k % 2 == 1, fb, -fb)
        return np.bincount(owner, weights=diff, minlength=len(self.idx))

    def _creation(self) -> None:
        spec, acc, c = self.spec, self.acc, self.c
        o = np.arange(len(c))
        self.count("created", c, o)
        fr = self.col("first_reply")
        end = np.where(c >= self.since, self.until, self.since)
        no_reply = (np.isnan(fr) | (fr >= end)).astype(np.int64)
        self.count("no_reply", c, o, no_reply)
        p = self.period(c)
        channel = self.col("channel")
        offs = self.zone.offset_array(c)
        local = c + offs
        day = np.floor_divide(local, 86400).astype(np.int64)
        slot = ((day + 3) % 7) * 24 + (np.mod(local, 86400) // 3600).astype(np.int64)
        strings = self.strings
        for per in (0, 1):
            m = p == per
            if not m.any():
                continue
            agg = acc.agg(per, None)
            for (code,), cnt in zip(*distinct((channel[m],))[:2], strict=True):
                name = strings[code]
                agg.by_channel[name] = agg.by_channel.get(name, 0) + int(cnt)
            heat = np.bincount(slot[m], minlength=168)
            agg.heat = [a + int(b) for a, b in zip(agg.heat, heat.tolist(), strict=True)]
            for (d,), cnt in zip(*distinct((day[m],))[:2], strict=True):
                agg.created_by_day[d] = agg.created_by_day.get(d, 0) + cnt
        # escalation: the first assignee's tier and any later higher one
        owner, k, (who,) = self.lst("n_assign", "assign_who")
        if not len(owner):
            return
        tier_of = np.full(len(strings), np.nan)
        for code, s in enumerate(strings.tolist()):
            if s is not None and s in spec.tiers:
                tier_of[code] = spec.tiers[s]
        tiers = tier_of[who]
        tier0 = np.full(len(c), np.nan)
        first = k == 0
        tier0[owner[first]] = tiers[first]
        esc = np.bincount(owner, weights=(k > 0) & (tiers > tier0[owner]), minlength=len(c)) > 0
        has = ~np.isnan(tier0)
        g = self.groups_of(c, o)
        for per in (0, 1):
            for grouped in (False, True):
                if grouped and per == 1:
                    continue
                m = has & (p == per) & ((g >= 0) if grouped else True)
                if not m.any():
                    continue
                gcol = g[m] if grouped else np.zeros(int(m.sum()), np.int64)
                found, found_n, _ = distinct((gcol, tier0[m].astype(np.int64), esc[m]))
                for (gi, tier, e), n in zip(found, found_n, strict=True):
                    agg = acc.agg(per, self.key(gi) if grouped else None)
                    row = agg.tiers.get(tier)
                    if row is None:
                        row = agg.tiers[tier] = [0, 0]
                    row[0] += n
                    if e:
                        row[1] += n

    def _answers(self) -> None:
        acc, lo, since, until = self.acc, self.lo, self.since, self.until
        guard = (self.col("n_answer") > 0) & (self.col("horizon") >= lo)
        owner, _, (at, kind, score) = self.lst("n_answer", "answer_at", "answer_kind",
                                               "answer_score")  # fmt: skip
        strings = self.strings
        kind_no = np.full(len(strings), -1, dtype=np.int64)
        for code, s in enumerate(strings.tolist()):
            if s in _SURVEY_KINDS:
                kind_no[code] = _SURVEY_KINDS.index(s)
        kn = kind_no[kind]
        m = guard[owner] & (at >= lo) & (at < until) & (kn >= 0) & ~np.isnan(score)
        if not self.has_prev:
            m &= at >= since
        self.answer_mask = m
        self.answer_value = np.trunc(np.where(m, score, 0)).astype(np.int64)
        self.answer_owner, self.answer_at, self.answer_kind = owner, at, kn
        if not m.any():
            return
        at, kn, owner = at[m], kn[m], owner[m]
        value = self.answer_value[m]
        day = self.zone.day_array(at)
        per = np.where(at >= since, 0, 1)
        g = self.groups_of(at, owner)
        rows, cnt, _ = distinct((per, kn, value, day, np.where(per == 0, g, -1)))
        for (p, k, v, d, gi), n in zip(rows, cnt, strict=True):
            name = _SURVEY_KINDS[k]
            whole = acc.agg(p, None)
            whole.surveys.setdefault(name, Counter())[v] += n
            whole.surveys_by_day.setdefault(d, {}).setdefault(name, Counter())[v] += n
            if gi >= 0:
                acc.agg(0, self.key(gi)).surveys.setdefault(name, Counter())[v] += n

    def _backlog(self) -> None:
        spec, acc, c = self.spec, self.acc, self.c
        since, until = self.since, self.until
        status_now = self.col("status").astype(np.int64)
        shortcut = self.col("status_since") < since
        owner, k, (at, code) = self.lst("n_status", "status_at", "status_code")
        code = code.astype(np.int64)
        n_status = self.col("n_status")
        starts = np.cumsum(n_status) - n_status
        firstbad = n_status.astype(np.int64).copy()
        bad = (k >= 1) & (at >= until)
        np.minimum.at(firstbad, owner[bad], k[bad])
        last = np.full(len(c), -1, dtype=np.int64)
        cond = (k < firstbad[owner]) & ((k == 0) | (at < since))
        np.maximum.at(last, owner[cond], k[cond])
        unknown = 6
        has = n_status > 0
        pos_until = np.where(has, starts + firstbad - 1, 0)
        pos_since = np.where(has & (last >= 0), starts + last, 0)
        st_until = np.where(has, code[pos_until] if len(code) else unknown, unknown)
        st_since = np.where(has & (last >= 0), code[pos_since] if len(code) else unknown, unknown)
        st_until = np.where(shortcut, status_now, st_until)
        st_since = np.where(shortcut, status_now, st_since)
        edges = np.asarray(spec.backlog_edges, dtype=np.float64)
        open_ = st_until <= _ON_HOLD
        bucket = np.searchsorted(edges, until - c, side="right")
        cur = acc.agg(0, None)
        self._add_backlog(cur, bucket[open_], st_until[open_])
        if self.attr_by:
            for gi in np.unique(self.tg[open_]).tolist():
                m = open_ & (self.tg == gi)
                self._add_backlog(acc.agg(0, acc.keys[gi]), bucket[m], st_until[m])
        if self.has_prev:
            m = (c < since) & (st_since <= _ON_HOLD)
            self._add_backlog(
                acc.agg(1, None),
                np.searchsorted(edges, since - c[m], side="right"),
                st_since[m],
            )

    @staticmethod
    def _add_backlog(agg: Agg, bucket: Any, status: Any) -> None:
        if not len(bucket):
            return
        b = np.bincount(bucket, minlength=len(agg.backlog))
        s = np.bincount(status, minlength=4)
        agg.backlog = [x + int(y) for x, y in zip(agg.backlog, b.tolist(), strict=True)]
        agg.backlog_statuses = [
            x + int(y) for x, y in zip(agg.backlog_statuses, s.tolist(), strict=True)
        ]

    def _sla(self) -> None:
        spec = self.spec
        tallies = self.result.sla
        assert tallies is not None
        policy = self.col("sla_policy")
        has = policy >= 0
        owner, _, (metric, target, business, decided, met, breach, due) = self.lst(
            "n_sla", "sla_metric", "sla_target", "sla_business", "sla_decided", "sla_met",
            "sla_breach", "sla_due",
        )  # fmt: skip
        running = np.isnan(decided)
        keep = has[owner] & (~running | (~np.isnan(breach) & (spec.sla_now > breach)))
        at = np.where(running, due, decided)
        ok = np.where(running, 0, met).astype(np.int64)
        priority = self.col("priority")
        strings = self.strings
        periods = [(spec.since, spec.until)]
        if self.has_prev:
            periods.append((self.psince, spec.since))
        for i, (a, b) in enumerate(periods):
            m = keep & (at >= a) & (at < b)
            if not m.any():
                continue
            tally = tallies[i]
            o = owner[m]
            cols = (policy[o], metric[m], priority[o], np.trunc(target[m]), business[m])
            rows, dones, (mets,) = distinct(cols, (ok[m],))
            for j, (pol, mt, pr, tgt, bus) in enumerate(rows):
                key = (strings[pol], sla.METRICS[mt], strings[pr], tgt, bool(bus))
                row = tally.rows.setdefault(key, [0, 0])
                row[0] += int(mets[j])
                row[1] += int(dones[j])
            if i:
                continue
            t = at[m]
            k = self.zone.day_array(t) - spec.day0
            trend = np.asarray(spec.trend_buckets, dtype=np.int64)
            inb = (k >= 0) & (k < len(trend))
            self._tally(tally.by_bucket, trend[k[inb]] if len(trend) else k[inb], ok[m][inb])
            g: Any = None
            if self.attr_by:
                g = self.tg[o]
            elif self.time_by:
                groups = np.asarray(spec.group_buckets, dtype=np.int64)
                ing = (k >= 0) & (k < len(groups))
                g = np.where(ing, groups[np.where(ing, k, 0)] if len(groups) else -1, -1)
            if g is not None:
                gm = g >= 0
                self._tally(tally.by_group, g[gm], ok[m][gm], self.key)

    @staticmethod
    def _tally(
        into: dict[Any, list[int]], keys: Any, ok: Any, name: Callable[[int], Any] = int
    ) -> None:
        if not len(keys):
            return
        rows, dones, (mets,) = distinct((keys,), (ok,))
        for j, (key,) in enumerate(rows):
            row = into.setdefault(name(key), [0, 0])
            row[0] += int(mets[j])
            row[1] += int(dones[j])

    def _records(self) -> None:
        """One record per ticket with a value (the vendor check): a loop over those tickets."""
        records = self.result.records
        assert records is not None
        F = self.F
        fr, fs, ls = self.col("first_reply"), self.col("first_solve"), self.col("last_solve")
        latest = np.where(self.resolved, ls, np.nan)
        wait_c = self.col("wait_c")
        wait_b = self._spans("n_wait", "wait_span")
        counted: dict[int, list[tuple[float, str, int]]] = {}
        m = self.answer_mask & (self.answer_at >= self.since)
        for o, a, kn, v in zip(self.answer_owner[m].tolist(), self.answer_at[m].tolist(),
                               self.answer_kind[m].tolist(), self.answer_value[m].tolist(),
                               strict=True):  # fmt: skip
            counted.setdefault(o, []).append((a, _SURVEY_KINDS[kn], v))
        ids = [self.chunk.ids[i] for i in self.idx.tolist()]
        fcs = self.fc.tolist()
        ffr, ffs, fls = F(fr).tolist(), F(fs).tolist(), F(latest).tolist()

        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        for j, tid in enumerate(ids):
            a, b, lat = num(float(fr[j])), num(float(fs[j])), num(float(latest[j]))
            answers = tuple(counted.get(j, ()))
            if a is None and b is None and not answers:
                continue
            known = lat is not None and not math.isnan(float(wait_c[j]))
            records[tid] = TicketRecord(
                float(self.c[j]),
                a,
                ffr[j] - fcs[j] if a is not None else None,
                b,
                ffs[j] - fcs[j] if b is not None else None,
                lat,
                fls[j] - fcs[j] if lat is not None else None,
                float(wait_c[j]) if known else None,
                float(wait_b[j]) if known else None,
                int(self.col("reopens")[j]),
                int(self.col("replies")[j]),
                answers,
                num(float(self.reply_seen[j])),
            )
