"""The one SLA engine: due times, remaining time and breaches, computed from events.

Policies come from ``[sla.NAME]`` tables of cstoolkit.toml (documented in docs/sla.md)::

    [sla.vip]
    order = 1                                  # lower first; else the file's order
    when = "requester.plan:enterprise OR tag:vip"
    calendar = "madrid"                        # a [calendars.NAME]; default 24x7
    business_hours = true                      # every metric; or a list of metric names
    paused_in = ["pending", "on_hold"]         # or a table metric -> statuses
    first_reply = { urgent = "30m", high = "1h", normal = "2h", low = "4h" }
    next_reply = { urgent = "1h", high = "2h", normal = "4h", low = "8h" }
    periodic_update = { urgent = "2h", high = "4h" }
    resolution = { urgent = "4h", high = "8h", normal = "24h", low = "40h" }

Metrics (each one says where its clock starts and stops; see docs/sla.md):

``first_reply``
    from the requester's first public message (a ticket they created: its creation) to the first
    public agent comment after it.
``next_reply``
    after the first reply: from the oldest requester message not yet answered to the next public
    agent comment. One *instance* per unanswered message run.
``periodic_update``
    from each public agent comment to the next one, while the ticket is unresolved.
``resolution``
    from creation until the ticket is solved; the clock does not run while it is solved or closed,
    so a reopened ticket resumes where it stopped and is fulfilled again by the next solve.

Solving a ticket stops (fulfils) a running reply or update instance. A clock is paused while
the ticket is in one of the metric's ``paused_in`` statuses. Targets depend on the ticket's
*current* priority; a priority without a target has no clock for that metric.

Public API (kept small on purpose; the reports use it as well as triage):

* :func:`load_policies` -- ``[sla.*]`` tables to :class:`SlaPolicy` objects, checked;
* :func:`policy_for` -- which policy applies to a ticket (an explicit ``sla_policy`` custom field
  set by the recipe action ``apply_sla`` first, then the first policy whose ``when`` matches);
* :func:`evaluate_facts` -- the :class:`SlaMetricState` of every metric instance of one ticket,
  from its facts (:mod:`cstoolkit.timeline`; :func:`evaluate` takes events and builds them);
* :func:`current` -- the latest instance of each metric;
* :func:`condition_values` -- the ``sla.*`` values conditions test (``sla.breached``...).

Business-time arithmetic is :class:`cstoolkit.calendars.Calendar`'s (the one calendar module).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstoolkit import timespec
from cstoolkit.calendars import ALWAYS, Calendar, fast_clock
from cstoolkit.errors import ConfigError, QueryError
from cstoolkit.model import Event, Person, Priority, Status, Ticket
from cstoolkit.query.catalog import SLA_AGGREGATE_FIELDS as AGGREGATE_FIELDS
from cstoolkit.query.catalog import SLA_METRIC_FIELDS as METRIC_FIELDS
from cstoolkit.query.catalog import SLA_METRICS
from cstoolkit.timeline import Facts, facts_of, status_name

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.query import Node

__all__ = [
    "METRICS",
    "SLA_POLICY_FIELD",
    "SlaMetricState",
    "SlaPolicy",
    "condition_values",
    "current",
    "evaluate",
    "load_policies",
    "parse_duration",
    "parse_policy",
    "policy_for",
    "register_fields",
]

#: The metrics (declared with the ``sla.*`` query fields, in the condition language's registry).
METRICS: tuple[str, ...] = SLA_METRICS
#: The custom field the ``apply_sla`` recipe action sets; it wins over ``when`` conditions.
SLA_POLICY_FIELD = "sla_policy"
DEFAULT_PAUSED = ("pending", "on_hold")
_RESOLVED = frozenset({Status.SOLVED.value, Status.CLOSED.value})
_POLICY_KEYS = frozenset(
    {"order", "when", "calendar", "business_hours", "paused_in", "description", *METRICS}
)


# -- policies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaPolicy:
    """One ``[sla.NAME]`` table, checked.

    ``targets[metric][priority]`` is in seconds; ``business[metric]`` says whether that metric
    counts business time of ``calendar``; ``paused_in[metric]`` lists the statuses that pause it.
    """

    name: str
    targets: Mapping[str, Mapping[str, int]]
    calendar: str = "24x7"
    business: Mapping[str, bool] = field(default_factory=dict)
    paused_in: Mapping[str, frozenset[str]] = field(default_factory=dict)
    when: Node | None = None
    order: int = 0
    description: str = ""

    def target(self, metric: str, priority: str) -> int | None:
        return self.targets.get(metric, {}).get(priority)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "order": self.order,
            "calendar": self.calendar,
            "when": self.when.to_dict() if self.when is not None else None,
            "targets": {m: dict(t) for m, t in self.targets.items()},
            "business": dict(self.business),
            "paused_in": {m: sorted(s) for m, s in self.paused_in.items()},
        }


def parse_duration(value: object, where: str) -> int:
    """A target (docs/time.md): ``"30m"``, ``"4h"``, ``"2d"`` (48 counted hours: business hours
    when the policy counts business time), ``"90s"``, ``"1h30m"``; a bare number is minutes."""
    try:
        seconds = timespec.parse_duration(value, unit="m")
    except timespec.TimeSpecError as exc:
        raise ConfigError(str(exc), field=where) from None
    if round(seconds) <= 0:
        raise ConfigError(f"a target must be positive, got {value!r}", field=where)
    return round(seconds)


def parse_policy(
    name: str,
    table: Mapping[str, Any],
    *,
    calendars: Iterable[str] | None = None,
    where: str | None = None,
    position: int = 0,
) -> SlaPolicy:
    """Check one ``[sla.NAME]`` table (``calendars``: the calendar names that exist)."""
    import difflib

    from cstoolkit import query

    where = where or f"sla.{name}"
    for key in table:
        if key not in _POLICY_KEYS:
            close = difflib.get_close_matches(str(key), sorted(_POLICY_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown SLA setting{hint}", field=f"{where}.{key}")
    priorities = [p.value for p in Priority]
    targets: dict[str, dict[str, int]] = {}
    for metric in METRICS:
        raw = table.get(metric)
        if raw is None:
            continue
        fld = f"{where}.{metric}"
        if not isinstance(raw, Mapping):
            # one target for every priority
            seconds = parse_duration(raw, fld)
            targets[metric] = dict.fromkeys(priorities, seconds)
            continue
        per: dict[str, int] = {}
        for prio, value in raw.items():
            if prio not in priorities:
                close = difflib.get_close_matches(str(prio), priorities, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (one of {priorities})"
                raise ConfigError(f"unknown priority {prio!r}{hint}", field=f"{fld}.{prio}")
            per[str(prio)] = parse_duration(value, f"{fld}.{prio}")
        targets[metric] = per
    if not targets:
        raise ConfigError(f"no targets (set at least one of {', '.join(METRICS)})", field=where)
    calendar = str(table.get("calendar", "24x7"))
    if calendars is not None and calendar not in set(calendars) | {"24x7"}:
        known = sorted(set(calendars) | {"24x7"})
        close = difflib.get_close_matches(calendar, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; defined: {', '.join(known)}"
        raise ConfigError(f"unknown calendar {calendar!r}{hint}", field=f"{where}.calendar")
    raw_business = table.get("business_hours", calendar != "24x7")
    if isinstance(raw_business, bool):
        business = dict.fromkeys(METRICS, raw_business)
    elif isinstance(raw_business, list):
        bad = [m for m in raw_business if m not in METRICS]
        if bad:
            raise ConfigError(
                f"unknown metric {bad[0]!r} (one of {', '.join(METRICS)})",
                field=f"{where}.business_hours",
            )
        business = {m: m in raw_business for m in METRICS}
    else:
        raise ConfigError(
            "business_hours is true, false or a list of metrics", field=f"{where}.business_hours"
        )
    statuses = [s.value for s in Status]

    def status_list(value: object, fld: str) -> frozenset[str]:
        if not isinstance(value, list):
            raise ConfigError("expected a list of statuses", field=fld)
        for s in value:
            if s not in statuses:
                raise ConfigError(f"unknown status {s!r} (one of {', '.join(statuses)})", field=fld)
        return frozenset(str(s) for s in value)

    raw_paused = table.get("paused_in", list(DEFAULT_PAUSED))
    if isinstance(raw_paused, Mapping):
        default = frozenset(DEFAULT_PAUSED)
        paused = dict.fromkeys(METRICS, default)
        for metric, value in raw_paused.items():
            if metric not in METRICS:
                raise ConfigError(
                    f"unknown metric {metric!r} (one of {', '.join(METRICS)})",
                    field=f"{where}.paused_in",
                )
            paused[str(metric)] = status_list(value, f"{where}.paused_in.{metric}")
    else:
        paused = dict.fromkeys(METRICS, status_list(raw_paused, f"{where}.paused_in"))
    when = None
    if table.get("when") is not None:
        try:
            when = query.compile(table["when"], where=f"{where}.when")
            # a policy is chosen from the ticket alone: no facts, SLA state or calendar
            query.require(query.fields_used(when), (), f"{where}.when")
        except QueryError as exc:
            fld = f"{where}.when"
            raise ConfigError(exc.message.removeprefix(f"{fld}: "), field=fld) from None
    order = table.get("order", position)
    if isinstance(order, bool) or not isinstance(order, int):
        raise ConfigError("order must be an integer", field=f"{where}.order")
    return SlaPolicy(
        name=name,
        targets=targets,
        calendar=calendar,
        business=business,
        paused_in=paused,
        when=when,
        order=order,
        description=str(table.get("description", "")),
    )


def load_policies(config: Config | Mapping[str, Any]) -> list[SlaPolicy]:
    """Every ``[sla.NAME]`` policy, in the order they apply (``order``, then the file's order).

    ``config`` is a :class:`~cstoolkit.config.Config` or its data mapping. Errors name the file
    and line where they can.
    """
    data = config if isinstance(config, Mapping) else config.data
    label = None if isinstance(config, Mapping) else config.label
    tables = data.get("sla") or {}
    if not isinstance(tables, Mapping):
        raise ConfigError("[sla] must hold tables [sla.NAME]", path=label, field="sla")
    calendars = list((data.get("calendars") or {}).keys())
    out = []
    for position, (name, table) in enumerate(tables.items()):
        if not isinstance(table, Mapping):
            raise ConfigError("must be a table", path=label, field=f"sla.{name}")
        try:
            out.append(parse_policy(name, table, calendars=calendars, position=position))
        except ConfigError as exc:
            if isinstance(config, Mapping):
                raise
            key = (exc.field or "").split(".")[2:3]
            raise ConfigError(
                exc.bare_message,
                path=label,
                line=config.line("sla", name, *key),
                field=exc.field,
            ) from None
    out.sort(key=lambda p: p.order)
    return out


def policy_for(
    ticket: Ticket,
    requester: Person | None,
    policies: Sequence[SlaPolicy],
    now: datetime | None = None,
) -> SlaPolicy | None:
    """The policy that applies: the one named by the ``sla_policy`` custom field (set by the
    ``apply_sla`` action), else the first whose ``when`` matches (a policy without ``when``
    matches every ticket), else None."""
    from cstoolkit import model, query

    named = ticket.custom_fields.get(SLA_POLICY_FIELD)
    if isinstance(named, str) and named:
        for policy in policies:
            if policy.name == named:
                return policy
    subject = None
    for policy in policies:
        if policy.when is None:
            return policy
        if subject is None:
            subject = query.Subject(ticket, requester, now or model.now())
        if query.evaluate(policy.when, subject):
            return policy
    return None


# -- fast business time ------------------------------------------------------------------------


# -- evaluation --------------------------------------------------------------------------------


@dataclass
class SlaMetricState:
    """One instance of one metric on one ticket.

    Times are aware UTC. ``elapsed_seconds``/``remaining_seconds`` count business seconds when
    ``business`` is true, else calendar seconds; ``remaining_seconds`` is negative once breached.
    ``due_at`` is when the target is (or was) reached: for a running clock, projected from
    ``now``; None while paused and not yet breached. ``active``: the clock has not been
    fulfilled (it is running or paused). ``breached``: more than the target elapsed.
    """

    metric: str
    instance: int
    policy: str
    target_seconds: int
    business: bool
    calendar: str
    started_at: datetime
    due_at: datetime | None
    fulfilled_at: datetime | None
    elapsed_seconds: float
    remaining_seconds: float
    breached: bool
    breached_at: datetime | None
    paused: bool
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "instance": self.instance,
            "policy": self.policy,
            "target_seconds": self.target_seconds,
            "business": self.business,
            "calendar": self.calendar,
            "started_at": self.started_at,
            "due_at": self.due_at,
            "fulfilled_at": self.fulfilled_at,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "remaining_seconds": round(self.remaining_seconds, 3),
            "breached": self.breached,
            "breached_at": self.breached_at,
            "paused": self.paused,
            "active": self.active,
        }


@dataclass(slots=True)
class _Timeline:
    """What the clocks read from a ticket's facts, in time order."""

    statuses: list[tuple[float, str]]  # (epoch, status from then on)
    requester_msgs: list[float]
    agent_msgs: list[float]


def _timeline(facts: Facts) -> _Timeline:
    return _Timeline(
        [(float(at), status_name(code) or "") for at, code in facts.statuses],
        [float(t) for t in facts.requester_messages],
        [float(r.at) for r in facts.replies],
    )


def _stopped_intervals(
    timeline: _Timeline, stop: frozenset[str], until: float
) -> list[tuple[float, float]]:
    """The intervals (epochs) during which the status is one of ``stop``."""
    out: list[tuple[float, float]] = []
    points = timeline.statuses
    for i, (at, status) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else until
        if status in stop and end > at:
            if out and out[-1][1] >= at:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((at, end))
    return out


def _status_at(timeline: _Timeline, t: float) -> str:
    status = timeline.statuses[0][1]
    for at, s in timeline.statuses:
        if at <= t:
            status = s
        else:
            break
    return status


class ClockCounter:
    """Counts time in business seconds of a calendar or in calendar seconds (the SLA engine's
    clocks; :mod:`cstoolkit.sla_facts` reads stored outcomes with it)."""

    def __init__(self, calendar: Calendar, business: bool) -> None:
        self.business = business and not calendar.is_24x7
        self.clock = fast_clock(calendar) if self.business else None

    def seconds(self, a: float, b: float) -> float:
        if self.clock is None:
            return max(0.0, b - a)
        return self.clock.seconds(a, b)

    def add(self, a: float, s: float) -> float:
        if self.clock is None:
            return a + max(0.0, s)
        return self.clock.add(a, s)

    def next_open(self, t: float) -> float:
        """The instant after which time counts again from ``t`` (``t`` itself in calendar
        time): a clock due at ``t`` is breached at any later instant than this one."""
        if self.clock is None:
            return t
        return self.clock.next_open(t)


def _measure(
    start: float,
    end: float,
    stopped: list[tuple[float, float]],
    counter: ClockCounter,
    target: float,
) -> tuple[float, float | None, bool, float]:
    """Walk the running parts of [start, end): (elapsed, breach instant, running at end, the
    instant the target is reached counting on from the last running part)."""
    elapsed = 0.0
    breach: float | None = None
    t = start
    running_at_end = True
    for a, b in stopped:
        if b <= t:
            continue
        if a >= end:
            break
        if a > t:
            part = counter.seconds(t, a)
            if breach is None and elapsed + part > target:
                breach = counter.add(t, target - elapsed)
            elapsed += part
        t = max(t, b)
        if b >= end:  # stopped up to the end (a stop that ends right then: running again)
            running_at_end = b == end
            t = end
            break
    if not running_at_end:
        return elapsed, breach, False, end
    reach = counter.add(t, target - elapsed)  # a running clock is due then
    if t < end:
        part = counter.seconds(t, end)
        if breach is None and elapsed + part > target:
            breach = reach
        elapsed += part
    return elapsed, breach, running_at_end, reach


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def evaluate(
    ticket: Ticket,
    events: Sequence[Event],
    policy: SlaPolicy,
    calendars: Mapping[str, Calendar],
    now: datetime,
) -> list[SlaMetricState]:
    """Every metric instance of ``ticket`` under ``policy`` as of ``now``, in metric order then
    instance order (from its events: they are turned into facts first, see
    :func:`evaluate_facts`)."""
    return evaluate_facts(facts_of(ticket, events), ticket.priority.value, policy, calendars, now)


def evaluate_facts(
    facts: Facts,
    priority: str,
    policy: SlaPolicy,
    calendars: Mapping[str, Calendar],
    now: datetime,
) -> list[SlaMetricState]:
    """Every metric instance of a ticket (its :class:`~cstoolkit.timeline.Facts` and current
    ``priority``) under ``policy`` as of ``now``, in metric order then instance order. Metrics
    without a target for the priority are left out; so are clocks that never started (no
    requester message: no first reply clock)."""
    calendar = calendars.get(policy.calendar) or (ALWAYS if policy.calendar == "24x7" else None)
    if calendar is None:
        raise ConfigError(f"SLA policy {policy.name!r}: unknown calendar {policy.calendar!r}")
    timeline = _timeline(facts)
    cutoff = now.timestamp()
    solves = [float(t) for t in facts.solves]
    out: list[SlaMetricState] = []

    def clock(metric: str, n: int, start: float, stop_at: float | None) -> SlaMetricState | None:
        target = policy.target(metric, priority)
        if target is None or start > cutoff:
            return None
        business = policy.business.get(metric, False)
        counter = ClockCounter(calendar, business)
        paused_statuses = policy.paused_in.get(metric, frozenset())
        if metric == "resolution":
            paused_statuses = paused_statuses | _RESOLVED
        fulfilled = stop_at is not None and stop_at <= cutoff
        end = stop_at if fulfilled and stop_at is not None else cutoff
        stopped = _stopped_intervals(timeline, paused_statuses, end)
        elapsed, breach, running, reach = _measure(start, end, stopped, counter, target)
        if running and _status_at(timeline, end) in paused_statuses:
            running = False  # paused at this instant (its pause may start right now)
        remaining = target - elapsed
        if breach is not None:
            due: float | None = breach
        elif running:
            due = reach  # the instant the target is reached (the last open second of it)
        elif fulfilled:
            due = counter.add(end, remaining)
        else:
            due = None
        return SlaMetricState(
            metric=metric,
            instance=n,
            policy=policy.name,
            target_seconds=target,
            business=counter.business,
            calendar=calendar.name,
            started_at=_dt(start) or now,
            due_at=_dt(due),
            fulfilled_at=_dt(stop_at) if fulfilled else None,
            elapsed_seconds=elapsed,
            remaining_seconds=remaining,
            breached=elapsed > target,
            breached_at=_dt(breach),
            paused=not fulfilled and not running,
            active=not fulfilled,
        )

    def first_after(times: Sequence[float], t: float, strict: bool = False) -> float | None:
        i = bisect.bisect_right(times, t) if strict else bisect.bisect_left(times, t)
        return times[i] if i < len(times) else None

    def stop_of(start: float, agent_after: bool = True) -> float | None:
        """The first public agent comment or solve after ``start``."""
        reply = first_after(timeline.agent_msgs, start) if agent_after else None
        solve = first_after(solves, start)
        candidates = [t for t in (reply, solve) if t is not None]
        return min(candidates) if candidates else None

    # first reply
    first_reply_at: float | None = None
    if timeline.requester_msgs:
        start = timeline.requester_msgs[0]
        stop = stop_of(start)
        first_reply_at = stop
        state = clock("first_reply", 1, start, stop)
        if state is not None:
            out.append(state)
    # next reply: requester messages after the first reply, grouped until answered
    if first_reply_at is not None:
        n = 0
        t = first_reply_at
        while True:
            start_msg = first_after(timeline.requester_msgs, t, strict=True)
            if start_msg is None or start_msg > cutoff:
                break
            stop = stop_of(start_msg)
            n += 1
            state = clock("next_reply", n, start_msg, stop)
            if state is not None:
                out.append(state)
            if stop is None or stop > cutoff:
                break
            t = stop
    # periodic update: between public agent comments while unresolved
    n = 0
    for i, start in enumerate(timeline.agent_msgs):
        if start > cutoff:
            break
        if _status_at(timeline, start) in _RESOLVED:
            continue
        nxt = timeline.agent_msgs[i + 1] if i + 1 < len(timeline.agent_msgs) else None
        solve = first_after(solves, start, strict=True)
        candidates = [t for t in (nxt, solve) if t is not None]
        stop = min(candidates) if candidates else None
        n += 1
        state = clock("periodic_update", n, start, stop)
        if state is not None:
            out.append(state)
    # resolution: creation to solve; solved periods do not count; fulfilled while resolved
    created = float(facts.created)
    last_status = _status_at(timeline, cutoff)
    stop = None
    if last_status in _RESOLVED:
        done = [t for t in solves if t <= cutoff]
        stop = done[-1] if done else timeline.statuses[0][0]
    state = clock("resolution", 1, created, stop)
    if state is not None:
        out.append(state)
    return out


def current(states: Iterable[SlaMetricState]) -> dict[str, SlaMetricState]:
    """The latest instance of each metric (an active one if there is one)."""
    out: dict[str, SlaMetricState] = {}
    for s in states:
        held = out.get(s.metric)
        if held is None or s.instance > held.instance:
            out[s.metric] = s
    return out


# -- conditions --------------------------------------------------------------------------------

# The ``sla.*`` fields conditions can test are declared with every other field, once, in the
# condition language's registry (cstoolkit.query.catalog: SLA_AGGREGATE_FIELDS,
# SLA_METRIC_FIELDS); their values come from condition_values below.


def field_names() -> list[str]:
    names = [f"sla.{n}" for n, _, _ in AGGREGATE_FIELDS]
    names += [f"sla.{m}.{n}" for m in METRICS for n, _, _ in METRIC_FIELDS]
    return names


def register_fields() -> None:
    """Nothing to do: the ``sla.*`` fields are declared in the registry. Kept for callers."""


def condition_values(
    states: Sequence[SlaMetricState],
    policy: SlaPolicy | None,
    calendars: Mapping[str, Calendar],
    now: datetime,
) -> dict[str, object]:
    """The ``sla.*`` values of one ticket for ``Subject.extras``."""
    values: dict[str, object] = {"sla.policy": policy.name if policy else None}
    if policy is None:
        values["sla.breached"] = False
        values["sla.ever_breached"] = False
        return values
    calendar = calendars.get(policy.calendar) or ALWAYS
    latest = current(states)
    active = [s for s in latest.values() if s.active]

    def business_until(due: datetime) -> float:
        if due >= now:
            return calendar.business_seconds(now, due) / 3600
        return -calendar.business_seconds(due, now) / 3600

    for metric, s in latest.items():
        p = f"sla.{metric}."
        values[p + "breached"] = s.breached
        values[p + "active"] = s.active
        values[p + "paused"] = s.paused
        values[p + "remaining_hours"] = s.remaining_seconds / 3600
        values[p + "elapsed_hours"] = s.elapsed_seconds / 3600
        values[p + "due_at"] = s.due_at
        values[p + "fulfilled_at"] = s.fulfilled_at
        if s.active and s.due_at is not None:
            values[p + "remaining_calendar_hours"] = (s.due_at - now).total_seconds() / 3600
            values[p + "remaining_business_hours"] = business_until(s.due_at)
    values["sla.breached"] = any(s.breached for s in active)
    values["sla.ever_breached"] = any(s.breached for s in states)
    values["sla.paused"] = bool(active) and all(s.paused for s in active)
    if active:
        values["sla.remaining_hours"] = min(s.remaining_seconds for s in active) / 3600
    dated = [s for s in active if s.due_at is not None]
    if dated:
        first = min(dated, key=lambda s: (s.due_at, METRICS.index(s.metric)))
        assert first.due_at is not None
        values["sla.due_at"] = first.due_at
        values["sla.next_metric"] = first.metric
        values["sla.remaining_calendar_hours"] = (first.due_at - now).total_seconds() / 3600
        values["sla.remaining_business_hours"] = business_until(first.due_at)
    return values
