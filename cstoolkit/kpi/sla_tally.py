"""The KPI report's SLA tallies: the metric instances decided in each period, by trend bucket
and by group, from the outcomes stored with the tickets' facts (:mod:`cstoolkit.sla_facts`, read
by the scan) or from clocks evaluated when read (policies whose outcomes cannot be stored), and
the report's choice between the two (:func:`sla_setup`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit import sla
from cstoolkit.calendars import ZoneClock
from cstoolkit.kpi.aggregates import NONE_KEY, TIME_UNITS, SlaTally
from cstoolkit.store import reports

if TYPE_CHECKING:
    from cstoolkit.calendars import Calendar
    from cstoolkit.kpi.columnar import ScanSpec
    from cstoolkit.store import Store


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


def sla_setup(
    data: Mapping[str, Any], store: Store, calendars: Mapping[str, Calendar]
) -> tuple[list[Any], bool] | None:
    """The SLA policies and whether their outcomes are stored with the facts (then they are
    brought up to date here: :func:`cstoolkit.sla_facts.ensure`), or None without policies."""
    from cstoolkit import sla_facts

    policies = sla.load_policies(data)
    if not policies:
        return None
    if sla_facts.fingerprint(policies, calendars) is None:
        return policies, False
    sla_facts.ensure(store, policies, calendars)
    return policies, True


def slow_sla(
    store: Store,
    spec: ScanSpec,
    policies: list[Any],
    calendars: Mapping[str, Calendar],
    now: datetime,
) -> list[SlaTally]:
    """SLA tallies when the outcomes cannot be stored (a policy's ``when`` depends on the time
    or cannot be tested in SQL): each ticket's policy is chosen with
    :func:`cstoolkit.sla.policy_for` as of ``now`` and its clocks evaluated from its facts."""
    tallier = SlaTallier(spec)
    lo = spec.previous_since if spec.previous_since is not None else spec.since
    column = {
        "agent": "assignee_id",
        "tier": "assignee_id",
        "group": "group_id",
        "channel": "channel",
        "priority": "priority",
        "instance": "instance",
    }
    for ticket, requester, facts in reports.tickets_with_facts(
        store, spec.where, spec.params, since=lo, until=spec.until
    ):
        policy = sla.policy_for(ticket, requester, policies, now)
        if policy is None:
            continue
        gkey: Any = None
        if spec.by in column:
            value = getattr(ticket, column[spec.by])
            gkey = str(value) if value is not None else None
            if spec.by == "tier":
                gkey = spec.tiers.get(gkey) if gkey is not None else None
            gkey = NONE_KEY if gkey is None else gkey
        states = sla.evaluate_facts(facts, ticket.priority.value, policy, calendars, now)
        tallier.states(states, ticket.priority.value, gkey)
    return tallier.tallies
