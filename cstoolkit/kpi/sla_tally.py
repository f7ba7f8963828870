"""The KPI report's SLA tallies: the metric instances decided in each period, by trend bucket
and by group, from the outcomes stored with the tickets' facts (:mod:`cstoolkit.sla_facts`, read
by the scan) or from clocks evaluated when read (policies whose outcomes cannot be stored)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cstoolkit import sla
from cstoolkit.calendars import ZoneClock
from cstoolkit.kpi.aggregates import TIME_UNITS, SlaTally

if TYPE_CHECKING:
    from cstoolkit.kpi.scan import ScanSpec


class SlaTallier:
    """Counts the SLA metric instances decided in each period, from the outcomes stored with
    each ticket's facts (:mod:`cstoolkit.sla_facts`) or evaluated by the caller.

    An instance is *decided* when it is fulfilled (met unless it breached first) or when it
    breaches, whichever comes first; it counts in the period of that instant. Instances still
    running and not breached at ``sla_now`` are not counted.
    """

    def __init__(self, spec: ScanSpec) -> None:
        self.spec = spec
        self.now = spec.sla_now
        self.periods = [(spec.since, spec.until)]
        if spec.previous_since is not None:
            self.periods.append((spec.previous_since, spec.since))
        self.tallies = [SlaTally() for _ in self.periods]
        self.zone = ZoneClock(spec.timezone, spec.clock_start, spec.clock_end)
        self.time_by = spec.by in TIME_UNITS
        self.attr_by = spec.by is not None and not self.time_by
        self._policy: dict[str, str] = {}

    def ticket(self, policy: str, instances: str, priority: str, gkey: Any) -> None:
        """Tally one ticket's stored outcome (its policy and its instances, JSON)."""
        now = self.now
        for metric, target, business, decided, met, breach_after, due in json.loads(instances):
            at, ok = decided, met
            if at is None:  # running: decided by its breach once ``now`` is past it
                if breach_after is None or not now > breach_after:
                    continue
                at, ok = due, 0
            key = (policy, sla.METRICS[metric], priority, int(target), bool(business))
            self.add(float(at), bool(ok), key, gkey)

    def states(self, states: Any, priority: str, gkey: Any) -> None:
        """Tally evaluated states (``cstoolkit.sla.SlaMetricState``) of one ticket."""
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
            self.add(decided, met, key, gkey)

    def add(
        self, decided: float, met: bool, key: tuple[str, str, str, int, bool], gkey: Any
    ) -> None:
        spec = self.spec
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
