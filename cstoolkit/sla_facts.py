"""SLA outcomes kept with the ticket facts, so the database can answer ``sla.*`` questions and a
report never evaluates clocks again.

An outcome depends on the ticket's facts, its priority and requester (which policy applies) and
on the configuration (the ``[sla.*]`` policies and the calendars they use). The store keeps, in
``ticket_facts``, each ticket's outcome together with the **fingerprint** of the configuration it
was computed under (``sla_fingerprint``). The rule, never silently stale:

* a refresh of a ticket's facts (any change to the ticket or its events), or a change of its
  requester's row, clears its fingerprint;
* before outcomes are read, :func:`ensure` recomputes every row whose fingerprint is not the
  current configuration's (all of them after a policy or calendar changed; only the changed
  tickets after a sync);
* a configuration whose policies' ``when`` depends on the time (``created<7d``) or cannot be
  tested in SQL has no fingerprint: its outcomes are not stored and are computed when read.

The outcome is evaluated at the facts' *horizon* (the latest instant they know) and stored as
instants, so it holds for any later ``now`` without a new evaluation: a running clock's due time
does not move until an event comes, and it is breached at any instant after ``breach_after``
(its due time, or the next business instant when the due time falls at a closing time). In SQL:
``sla.breached`` is ``sla_breach_after IS NOT NULL AND sla_breach_after < :now``; the same for
``sla.ever_breached`` (``sla_ever_breach_after``) and each metric
(``sla_<metric>_breach_after``). Values that count business time up to ``now``
(``remaining_*_hours``, ``elapsed_hours`` of a running clock) need the calendar and are computed
from the stored instants by :func:`values_at`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstoolkit import sla
from cstoolkit.calendars import ALWAYS, Calendar
from cstoolkit.store import facts as stored
from cstoolkit.timeline import FACTS_VERSION, Facts

if TYPE_CHECKING:
    from cstoolkit.model import Person, Ticket
    from cstoolkit.store import Store

#: Bump when the SLA engine's rules change: every stored outcome is then recomputed.
ENGINE_VERSION = 1
_BATCH = 2000
_METRIC_INDEX = {m: i for i, m in enumerate(sla.METRICS)}


# -- the configuration's fingerprint -----------------------------------------------------------


def _time_independent(policy: sla.SlaPolicy) -> bool:
    """Whether the policy's ``when`` gives the same answer at every instant (then outcomes can
    be stored): it compiles to the same SQL for two reference times."""
    if policy.when is None:
        return True
    from cstoolkit import query

    a = query.to_sql(policy.when, now=datetime(2001, 1, 1, tzinfo=UTC))
    b = query.to_sql(policy.when, now=datetime(2031, 1, 1, tzinfo=UTC))
    return a is not None and a == b


def _calendar_spec(cal: Calendar) -> list[Any]:
    return [
        cal.name,
        cal.timezone,
        [list(map(list, day)) for day in cal.week],
        sorted(d.isoformat() for d in cal.holiday_dates),
        cal.holidays_country,
        cal.holidays_subdivision,
    ]


def fingerprint(policies: Sequence[sla.SlaPolicy], calendars: Mapping[str, Calendar]) -> str | None:
    """The fingerprint of an SLA configuration, or None when its outcomes cannot be stored."""
    if not all(_time_independent(p) for p in policies):
        return None
    used = sorted({p.calendar for p in policies})
    cals = [_calendar_spec(calendars.get(n) or ALWAYS) for n in used]
    versions: dict[str, str] = {}
    if any(c[4] for c in cals):
        import holidays

        versions["holidays"] = str(getattr(holidays, "__version__", ""))
    doc = [ENGINE_VERSION, FACTS_VERSION, [p.as_dict() for p in policies], cals, versions]
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# -- one ticket's outcome ----------------------------------------------------------------------


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _int(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp())


def outcome(
    ticket: Ticket,
    requester: Person | None,
    facts: Facts,
    policies: Sequence[sla.SlaPolicy],
    calendars: Mapping[str, Calendar],
) -> tuple[Any, ...]:
    """The SLA outcome columns of one ticket (:data:`cstoolkit.store.facts.SLA_COLUMNS`)."""
    horizon = _dt(facts.horizon)
    policy = sla.policy_for(ticket, requester, policies, horizon)
    n_metric = len(stored.SLA_METRIC_COLUMNS)
    if policy is None:
        return (None, None, None, 0, None, None, "[]", *([None] * n_metric * len(sla.METRICS)))
    states = sla.evaluate_facts(facts, ticket.priority.value, policy, calendars, horizon)
    calendar = calendars.get(policy.calendar) or ALWAYS
    instances: list[list[Any]] = []
    breach_after: dict[int, int | None] = {}
    for k, s in enumerate(states):
        after: int | None = None
        decided: int | None = None
        met = 0
        due: int | None = None
        if s.breached_at is not None:
            after = _int(s.breached_at)
        if s.breached_at is not None and (
            s.fulfilled_at is None or s.breached_at <= s.fulfilled_at
        ):
            decided = _int(s.breached_at)
        elif s.fulfilled_at is not None:
            decided, met = _int(s.fulfilled_at), int(not s.breached)
        elif not s.paused and s.due_at is not None:  # running: breaches at its due time
            counter = sla.ClockCounter(calendar, s.business)
            after = round(counter.next_open(s.due_at.timestamp()))
            due = _int(s.due_at)
        breach_after[k] = after
        instances.append(
            [
                _METRIC_INDEX[s.metric], s.target_seconds, int(s.business), decided, met,
                None if decided is not None else after, due,
            ]
        )  # fmt: skip
    latest = sla.current(states)
    index = {id(s): k for k, s in enumerate(states)}
    active = [s for s in latest.values() if s.active]
    afters = [a for s in active if (a := breach_after[index[id(s)]]) is not None]
    ever = [a for a in breach_after.values() if a is not None]
    dated = [s for s in active if s.due_at is not None]
    first = min(dated, key=lambda s: (s.due_at, _METRIC_INDEX[s.metric])) if dated else None
    per_metric: list[Any] = []
    for metric in sla.METRICS:
        last = latest.get(metric)
        if last is None:
            per_metric.extend([None] * n_metric)
            continue
        per_metric.extend(
            [
                int(last.active), int(last.paused), _int(last.started_at), _int(last.due_at),
                _int(last.fulfilled_at), _int(last.breached_at), breach_after[index[id(last)]],
                last.elapsed_seconds, last.target_seconds, int(last.business),
            ]
        )  # fmt: skip
    return (
        policy.name,
        min(afters) if afters else None,
        min(ever) if ever else None,
        int(bool(active) and all(s.paused for s in active)),
        _int(first.due_at) if first is not None else None,
        first.metric if first is not None else None,
        json.dumps(instances, separators=(",", ":")),
        *per_metric,
    )


# -- keeping them current ----------------------------------------------------------------------


def ensure(
    store: Store,
    policies: Sequence[sla.SlaPolicy],
    calendars: Mapping[str, Calendar],
) -> int:
    """Recompute the stored outcomes whose fingerprint is not this configuration's; return how
    many. Nothing is stored without policies or for a configuration that has no fingerprint."""
    fp = fingerprint(policies, calendars) if policies else None
    if fp is None:
        return 0
    stored.ensure(store)
    total = stored.count_sla_stale(store, fp)
    done = 0
    while done < total:
        # read and write under the write lock: a refresh in between cannot be overwritten
        with store.transaction() as cur:
            rows = stored.sla_stale(cur, fp, _BATCH)
            if not rows:
                break
            updates = []
            for row in rows:
                ticket, requester, facts = stored.split_ticket_row(row)
                updates.append((ticket.id, outcome(ticket, requester, facts, policies, calendars)))
            stored.write_sla(cur, fp, updates)
        done += len(rows)
    return done


# -- reading them back -------------------------------------------------------------------------


def states_at(
    row: Mapping[str, Any], policy: sla.SlaPolicy, calendars: Mapping[str, Calendar], now: datetime
) -> list[sla.SlaMetricState]:
    """The latest instance of each metric as of ``now`` (not before the facts' ``horizon``),
    from the stored outcome columns of one ticket (``row``: column name -> value)."""
    calendar = calendars.get(policy.calendar) or ALWAYS
    t_now = now.timestamp()
    out: list[sla.SlaMetricState] = []
    for metric in sla.METRICS:
        p = f"sla_{metric}_"
        if row.get(p + "active") is None:
            continue
        active, paused = bool(row[p + "active"]), bool(row[p + "paused"])
        target = int(row[p + "target"])
        business = bool(row[p + "business"])
        elapsed = float(row[p + "elapsed"])
        due = row[p + "due_at"]
        breached_at = row[p + "breached_at"]
        if active and not paused and due is not None:
            counter = sla.ClockCounter(calendar, business)
            elapsed += counter.seconds(float(row["horizon"]), t_now)
            if elapsed > target:
                breached_at = due
        fulfilled = row[p + "fulfilled_at"]
        out.append(
            sla.SlaMetricState(
                metric=metric, instance=0, policy=policy.name, target_seconds=target,
                business=business, calendar=calendar.name, started_at=_dt(row[p + "started_at"]),
                due_at=None if due is None else _dt(due),
                fulfilled_at=None if fulfilled is None else _dt(fulfilled),
                elapsed_seconds=elapsed, remaining_seconds=target - elapsed,
                breached=elapsed > target,
                breached_at=None if breached_at is None else _dt(breached_at),
                paused=paused, active=active,
            )
        )  # fmt: skip
    return out


def values_at(
    row: Mapping[str, Any],
    policies: Sequence[sla.SlaPolicy],
    calendars: Mapping[str, Calendar],
    now: datetime,
) -> dict[str, object]:
    """The ``sla.*`` condition values of one ticket as of ``now``, from its stored outcome
    columns (the same values :func:`cstoolkit.sla.condition_values` gives from an evaluation)."""
    name = row.get("sla_policy")
    policy = next((p for p in policies if p.name == name), None)
    if policy is None:
        return sla.condition_values([], None, calendars, now)
    values = sla.condition_values(states_at(row, policy, calendars, now), policy, calendars, now)
    ever = row.get("sla_ever_breach_after")
    values["sla.ever_breached"] = ever is not None and now.timestamp() > ever
    return values
