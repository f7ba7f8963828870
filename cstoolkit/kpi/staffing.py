"""Staffing with Erlang C: how many agents each interval needs to meet a service level.

The model is the M/M/N queue (docs/staffing.md). With ``A`` erlangs of traffic (arrivals per
hour x handle time in hours) and ``N`` agents:

* ``P_wait`` (Erlang C) -- the chance a contact waits. Computed from the Erlang B recursion
  ``B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1))`` and ``C = N B / (N - A (1 - B))``, which never
  forms ``A^N`` or ``N!`` and so stays exact for thousands of agents;
* service level ``SL = 1 - P_wait exp(-(N - A) T / AHT)`` for an answer target ``T``;
* average speed of answer ``ASA = P_wait AHT / (N - A)``; occupancy ``A / N``;
* scheduled headcount ``ceil(N / (1 - shrinkage))``.

:func:`required_agents` finds the smallest ``N > A`` that meets the target, then raises it to
``ceil(A / max_occupancy)`` when occupancy would exceed the cap (pyworkforce's rule).
:func:`staffing_plan` applies it per weekday and interval to the arrivals of a store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.config import section_values
from cstoolkit.config import types as config_types
from cstoolkit.errors import UsageError
from cstoolkit.store import reports

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.store import Store

__all__ = [
    "StaffingResult",
    "StaffingSettings",
    "erlang_c",
    "evaluate_agents",
    "parse_target",
    "required_agents",
    "staffing_plan",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_AGENTS = 1_000_000


def parse_target(text: str) -> tuple[float, float]:
    """``"80/20"`` -> (0.8, 20.0): 80% of contacts answered within 20 seconds."""
    try:
        return config_types.parse_target(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _ceil(x: float) -> int:
    """``ceil`` that ignores floating-point dust (14 / 0.7 is 20.000000000000004)."""
    return math.ceil(round(x, 9))


def erlang_b(agents: int, traffic: float) -> float:
    """Erlang B blocking probability by the stable recursion."""
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a contact has to wait (1.0 when ``agents <= traffic``)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


@dataclass(frozen=True)
class StaffingResult:
    """What ``agents`` agents give for ``traffic`` erlangs."""

    agents: int
    scheduled: int
    traffic: float
    waiting_probability: float
    service_level: float
    asa_seconds: float | None  # None when the queue is unstable (agents <= traffic)
    occupancy: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _result(
    n: int, traffic: float, aht: float, answer_seconds: float, shrinkage: float, pw: float
) -> StaffingResult:
    if traffic <= 0:
        return StaffingResult(n, _ceil(n / (1 - shrinkage)), 0.0, 0.0, 1.0, 0.0, 0.0 if n else None)
    if n <= traffic:
        return StaffingResult(
            n, _ceil(n / (1 - shrinkage)), traffic, 1.0, 0.0, None, 1.0 if n else None
        )
    sl = 1.0 - pw * math.exp(-(n - traffic) * answer_seconds / aht)
    return StaffingResult(
        agents=n,
        scheduled=_ceil(n / (1 - shrinkage)),
        traffic=traffic,
        waiting_probability=pw,
        service_level=sl,
        asa_seconds=pw * aht / (n - traffic),
        occupancy=traffic / n,
    )


def traffic_of(arrivals: float, interval_seconds: float, aht_seconds: float) -> float:
    """Erlangs: arrivals per second x handle time in seconds."""
    if interval_seconds <= 0 or aht_seconds <= 0:
        raise UsageError("the interval and the handle time must be positive")
    return arrivals / interval_seconds * aht_seconds


def evaluate_agents(
    agents: int,
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    answer_seconds: float,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """Service level, ASA and occupancy that ``agents`` agents give."""
    _check(shrinkage=shrinkage)
    a = traffic_of(arrivals, interval_seconds, aht_seconds)
    return _result(agents, a, aht_seconds, answer_seconds, shrinkage, erlang_c(agents, a))


def _check(shrinkage: float = 0.0, max_occupancy: float = 1.0, service_level: float = 0.5) -> None:
    if not 0 <= shrinkage < 1:
        raise UsageError(f"shrinkage must be in [0, 1), got {shrinkage}")
    if not 0 < max_occupancy <= 1:
        raise UsageError(f"max occupancy must be in (0, 1], got {max_occupancy}")
    if not 0 < service_level <= 1:
        raise UsageError(f"service level must be in (0, 1], got {service_level}")


def required_agents(
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    service_level: float,
    answer_seconds: float,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """The fewest agents that answer ``service_level`` of contacts within ``answer_seconds``
    with occupancy at most ``max_occupancy``; ``scheduled`` adds shrinkage."""
    _check(shrinkage, max_occupancy, service_level)
    a = traffic_of(arrivals, interval_seconds, aht_seconds)
    if a <= 0:
        return _result(0, 0.0, aht_seconds, answer_seconds, shrinkage, 0.0)
    n = math.floor(a) + 1
    b = erlang_b(n, a)  # carried forward: B(n + 1) from B(n), O(1) per step
    while True:
        pw = n * b / (n - a * (1 - b))
        sl = 1.0 - pw * math.exp(-(n - a) * answer_seconds / aht_seconds)
        if sl >= service_level or n >= _MAX_AGENTS:
            break
        n += 1
        b = a * b / (n + a * b)
    if a / n > max_occupancy:
        n = max(n, _ceil(a / max_occupancy))
    return _result(n, a, aht_seconds, answer_seconds, shrinkage, erlang_c(n, a))


# -- settings and the plan from a store ----------------------------------------------------------


@dataclass(frozen=True)
class StaffingSettings:
    """``[staffing]``; command-line options override each field."""

    service_level: float = 0.8
    answer_seconds: float = 20.0
    max_occupancy: float = 0.85
    shrinkage: float = 0.30
    interval_seconds: float = 1800.0
    aht_seconds: float | None = None  # configured handle time
    handle_time_field: str | None = None  # custom field holding measured handle seconds

    @classmethod
    def from_config(cls, data: Config | Mapping[str, Any] | None) -> StaffingSettings:
        """Read ``[staffing]`` (checked by the config schema, cstoolkit.config.core); a
        ConfigError names the field of the first problem."""
        table = section_values("staffing", data if data is not None else {})
        service_level, answer_seconds = table["target"]
        return cls(
            service_level=service_level,
            answer_seconds=answer_seconds,
            max_occupancy=table["max_occupancy"],
            shrinkage=table["shrinkage"],
            interval_seconds=table["interval"],
            aht_seconds=table.get("aht"),
            handle_time_field=table.get("handle_time_field") or None,
        )


DEFAULT_AHT = 300.0


def measured_aht(
    store: Store,
    settings: StaffingSettings,
    since: float,
    until: float,
    where: str,
    params: Sequence[Any],
) -> tuple[float, str]:
    """The handle time to plan with and where it came from (configured, measured, default)."""
    if settings.aht_seconds is not None:
        return settings.aht_seconds, "configured"
    if settings.handle_time_field:
        key = settings.handle_time_field.replace('"', "")
        mean, n = reports.solved_custom_mean(store, key, where, params, since, until)
        if mean is not None:
            return mean, f"measured (mean of custom.{key} over {n} solved tickets)"
    return DEFAULT_AHT, "default (no [staffing] aht or handle_time_field configured)"


def staffing_plan(
    counts: Mapping[tuple[int, int], int],
    weekday_days: Sequence[int],
    settings: StaffingSettings,
    aht_seconds: float,
) -> list[dict[str, Any]]:
    """One row per weekday and interval: average arrivals and the agents they need.

    ``counts`` maps (weekday 0=Monday, interval index) to tickets created in the period;
    ``weekday_days[w]`` is how many days of weekday ``w`` the period holds.
    """
    slots = int(86400 // settings.interval_seconds)
    rows = []
    for wd in range(7):
        days = weekday_days[wd]
        for slot in range(slots):
            arrivals = counts.get((wd, slot), 0) / days if days else 0.0
            res = required_agents(
                arrivals,
                settings.interval_seconds,
                aht_seconds,
                settings.service_level,
                settings.answer_seconds,
                settings.max_occupancy,
                settings.shrinkage,
            )
            minutes = int(slot * settings.interval_seconds // 60)
            rows.append(
                {
                    "weekday": WEEKDAYS[wd],
                    "start": f"{minutes // 60:02d}:{minutes % 60:02d}",
                    "arrivals": arrivals,
                    **res.as_dict(),
                }
            )
    return rows


def plan_from_store(
    store: Store,
    settings: StaffingSettings,
    since: datetime,
    until: datetime,
    timezone: str,
    where: str = "t.deleted = 0",
    params: Sequence[Any] = (),
    aht_seconds: float | None = None,
) -> dict[str, Any]:
    """The staffing plan from the store's arrivals in ``[since, until)`` (local ``timezone``)."""
    from cstoolkit.calendars import ZoneClock

    lo, hi = since.timestamp(), until.timestamp()
    if hi <= lo:
        raise UsageError("the period is empty (--until must be after --since)")
    zone = ZoneClock(timezone, lo, hi)
    counts = reports.arrivals_by_slot(
        store,
        where,
        params,
        lo,
        hi,
        slot_seconds=int(settings.interval_seconds),
        starts=zone.starts,
        offsets=zone.offsets,
    )
    first, last = zone.day(lo), zone.day(hi - 1)
    weekday_days = [0] * 7
    for d in range(first, last + 1):
        weekday_days[(d + 3) % 7] += 1
    if aht_seconds is not None:
        aht, source = aht_seconds, "option --aht"
    else:
        aht, source = measured_aht(store, settings, lo, hi, where, params)
    rows = staffing_plan(counts, weekday_days, settings, aht)
    peak = max(rows, key=lambda r: r["scheduled"]) if rows else None
    return {
        "schema_version": 1,
        "report": "staffing",
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "timezone": timezone,
        "inputs": {
            "service_level": settings.service_level,
            "answer_seconds": settings.answer_seconds,
            "max_occupancy": settings.max_occupancy,
            "shrinkage": settings.shrinkage,
            "interval_seconds": settings.interval_seconds,
            "aht_seconds": aht,
            "aht_source": source,
            "tickets": sum(counts.values()),
            "weekday_days": dict(zip(WEEKDAYS, weekday_days, strict=True)),
        },
        "peak": peak,
        "intervals": rows,
    }


def what_if(
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    service_level: float,
    answer_seconds: float,
    max_occupancy: float,
    shrinkage: float,
    agents: int | None = None,
) -> dict[str, Any]:
    """``cst report staffing --arrivals ...``: the answer for explicit inputs, no store."""
    required = required_agents(
        arrivals,
        interval_seconds,
        aht_seconds,
        service_level,
        answer_seconds,
        max_occupancy,
        shrinkage,
    )
    out: dict[str, Any] = {
        "schema_version": 1,
        "report": "staffing_what_if",
        "inputs": {
            "arrivals": arrivals,
            "interval_seconds": interval_seconds,
            "aht_seconds": aht_seconds,
            "service_level": service_level,
            "answer_seconds": answer_seconds,
            "max_occupancy": max_occupancy,
            "shrinkage": shrinkage,
            "agents": agents,
        },
        "traffic_erlangs": required.traffic,
        "required": required.as_dict(),
        "with_agents": None,
    }
    if agents is not None:
        out["with_agents"] = evaluate_agents(
            agents, arrivals, interval_seconds, aht_seconds, answer_seconds, shrinkage
        ).as_dict()
    return out
