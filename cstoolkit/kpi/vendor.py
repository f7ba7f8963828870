"""The vendor check of ``cst report kpi --vendor-metrics``: Zendesk's own ticket metrics beside
ours, ticket by ticket.

cstoolkit computes every number from the tickets' facts (:mod:`cstoolkit.timeline`, read by
:mod:`cstoolkit.kpi.scan`) and calendars; a vendor's reported values are never mixed into them.
The Zendesk backend keeps each ticket's *metric set* (the Ticket Metrics API object, sideloaded
with the incremental export) in the ticket's raw payload as ``raw["metric_set"]``. This module
reads those metric sets for the report's tickets, pairs each value with the value the scan
computed for the same ticket from its facts (:class:`~cstoolkit.kpi.aggregates.TicketRecord`)
and says how often the two agree: a check of our numbers, shown beside them.

Which ticket counts for a value: one whose value completes in the report period on either side
(ours at its anchor, as in docs/metrics.md; Zendesk's at the ticket's creation plus Zendesk's
calendar minutes). It is *paired* when both sides have a value, *ours only* or *vendor only*
otherwise. Durations agree within a tolerance (default one minute: Zendesk reports whole
minutes); counts agree when equal.

Zendesk's business minutes follow the Zendesk account's schedule, not the cstoolkit calendar of
the report: they agree only where the two schedules are the same.

The rules are documented in docs/metrics.md ("Vendor check"); keep both in step.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cstoolkit.kpi.aggregates import TicketRecord
from cstoolkit.store import reports

if TYPE_CHECKING:
    from cstoolkit.store import Store

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "NOT_COMPARED",
    "ZENDESK_FIELDS",
    "VendorField",
    "VendorTicket",
    "compare",
    "read_zendesk_metrics",
    "vendor_check",
]

#: Durations closer than this agree (Zendesk reports whole minutes).
DEFAULT_TOLERANCE_SECONDS = 60.0
#: Disagreements listed per comparison, largest first.
TOP_DISAGREEMENTS = 5
RAW_KEY = "metric_set"
_MARKER = f'"{RAW_KEY}"'


@dataclass(frozen=True)
class VendorField:
    """One vendor field and the cstoolkit value it is compared with."""

    name: str  # our per-ticket value (the metric's name for durations)
    label: str
    metric: str  # the cstoolkit metric it belongs to (docs/metrics.md)
    field: str  # the vendor's field
    kind: str  # "duration" ({calendar, business} minutes) or "count"


#: Zendesk Ticket Metrics fields compared, with their cstoolkit counterpart.
ZENDESK_FIELDS: tuple[VendorField, ...] = (
    VendorField(
        "first_reply_time",
        "First reply time",
        "first_reply_time",
        "reply_time_in_minutes",
        "duration",
    ),
    VendorField(
        "first_resolution_time",
        "First resolution time",
        "first_resolution_time",
        "first_resolution_time_in_minutes",
        "duration",
    ),
    VendorField(
        "full_resolution_time",
        "Full resolution time",
        "full_resolution_time",
        "full_resolution_time_in_minutes",
        "duration",
    ),
    VendorField(
        "requester_wait_time",
        "Requester wait time",
        "requester_wait_time",
        "requester_wait_time_in_minutes",
        "duration",
    ),
    VendorField("reopens", "Reopens", "reopen_rate", "reopens", "count"),
    VendorField("replies", "Agent replies", "one_touch_rate", "replies", "count"),
)

#: Zendesk fields with no cstoolkit counterpart, and why (also in docs/metrics.md).
NOT_COMPARED: dict[str, str] = {
    "agent_wait_time_in_minutes": "time in pending; cstoolkit has no such metric "
    "(agent_work_time is new + open, a different clock)",
    "on_hold_time_in_minutes": "time on hold; cstoolkit has no such metric",
    "assignee_stations": "number of assignees; cstoolkit's escalation rate counts tiers",
    "group_stations": "number of groups; no cstoolkit metric",
}


@dataclass(frozen=True)
class VendorTicket:
    """The values a vendor reported for one ticket: field -> (calendar, business) seconds for
    durations (either may be None), field -> count for counts."""

    created: float
    durations: Mapping[str, tuple[float | None, float | None]]
    counts: Mapping[str, int]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_metric_set(created: float, metric_set: Mapping[str, Any]) -> VendorTicket:
    """The compared fields of one Zendesk metric set (minutes become seconds)."""
    durations: dict[str, tuple[float | None, float | None]] = {}
    counts: dict[str, int] = {}
    for vf in ZENDESK_FIELDS:
        value = metric_set.get(vf.field)
        if vf.kind == "duration":
            if isinstance(value, Mapping):
                cal, bus = _number(value.get("calendar")), _number(value.get("business"))
                if cal is not None or bus is not None:
                    durations[vf.field] = (
                        cal * 60 if cal is not None else None,
                        bus * 60 if bus is not None else None,
                    )
        else:
            n = _number(value)
            if n is not None:
                counts[vf.field] = int(n)
    return VendorTicket(created, durations, counts)


def read_zendesk_metrics(
    store: Store,
    where: str,
    params: Iterable[Any],
    since: float,
    until: float,
) -> dict[str, VendorTicket]:
    """Zendesk metric sets of the report's tickets that may have a value in ``[since, until)``:
    the tickets the scan reads for that period, selected by ``where`` (over ``tickets t``,
    ``people r``). Only ``raw`` is read, as text; payloads without a metric set are skipped
    before any JSON is decoded."""
    out: dict[str, VendorTicket] = {}
    for tid, created, raw in reports.raw_payloads(store, where, params, since, until):
        if not isinstance(raw, str) or _MARKER not in raw:
            continue
        try:
            payload = json.loads(raw)
        except ValueError:
            continue
        metric_set = payload.get(RAW_KEY) if isinstance(payload, dict) else None
        if isinstance(metric_set, dict):
            out[tid] = parse_metric_set(float(created), metric_set)
    return out


# -- pairing -------------------------------------------------------------------------------------

Value = tuple[float, float]  # (value, anchor instant)


def _ours(vf: VendorField, clock: str, f: TicketRecord) -> Value | None:
    """Our value of ``vf`` for one ticket, with the instant that puts it in a period."""
    business = clock == "business"
    if vf.name == "first_reply_time":
        at, b = f.first_reply, f.first_reply_b
    elif vf.name == "first_resolution_time":
        at, b = f.first_solve, f.first_solve_b
    elif vf.name == "full_resolution_time":
        at, b = f.last_solve, f.last_solve_b
    else:
        at = f.last_solve  # requester wait, reopens and replies: tickets solved now
        if at is None:
            return None
        if vf.name == "requester_wait_time":
            wait = f.requester_wait_b if business else f.requester_wait_c
            return (wait, at) if wait is not None else None
        return (float(f.reopens if vf.name == "reopens" else f.replies), at)
    if at is None:
        return None
    if business:
        return (b, at) if b is not None else None
    return (at - f.created, at)


def _theirs(vf: VendorField, clock: str, v: VendorTicket) -> Value | None:
    """The vendor's value, anchored at creation + its calendar duration; requester wait,
    reopens and replies at the latest solve (creation + the full resolution time)."""
    if vf.kind == "count" or vf.name == "requester_wait_time":
        full = v.durations.get("full_resolution_time_in_minutes", (None, None))[0]
        if full is None:
            return None  # not solved for Zendesk
        anchor = v.created + full
        if vf.kind == "count":
            n = v.counts.get(vf.field)
            return (float(n), anchor) if n is not None else None
        cal, bus = v.durations.get(vf.field, (None, None))
    else:
        cal, bus = v.durations.get(vf.field, (None, None))
        if cal is None:
            return None  # Zendesk's value is not complete yet
        anchor = v.created + cal
    value = bus if clock == "business" else cal
    return (value, anchor) if value is not None else None


def _stat(values: list[float], fn: Any) -> float | None:
    return float(fn(values)) if values else None


def compare(
    facts: Mapping[str, TicketRecord],
    vendor: Mapping[str, VendorTicket],
    since: float,
    until: float,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    business: bool = True,
    top: int = TOP_DISAGREEMENTS,
) -> list[dict[str, Any]]:
    """One comparison per field and clock (calendar; business too when ``business``; counts).

    Each has ``paired``, ``ours_only``, ``vendor_only``, ``agreeing``, ``disagreeing``,
    ``agree_pct``, the median and mean of both sides over the paired tickets, and the ``top``
    largest disagreements (``ticket``, ``ours``, ``vendor``, ``difference`` = ours - vendor).
    """
    ids = sorted(set(facts) | set(vendor))
    out: list[dict[str, Any]] = []
    for vf in ZENDESK_FIELDS:
        clocks = (
            ("count",)
            if vf.kind == "count"
            else (("calendar", "business") if business else ("calendar",))
        )
        for clock in clocks:
            ours_v: list[float] = []
            theirs_v: list[float] = []
            ours_only = vendor_only = agreeing = 0
            worst: list[tuple[float, str, float, float]] = []
            allowed = 0.0 if vf.kind == "count" else tolerance
            for tid in ids:
                f, v = facts.get(tid), vendor.get(tid)
                o = _ours(vf, clock, f) if f is not None else None
                t = _theirs(vf, clock, v) if v is not None else None
                if not (
                    (o is not None and since <= o[1] < until)
                    or (t is not None and since <= t[1] < until)
                ):
                    continue
                if o is None:
                    vendor_only += 1
                    continue
                if t is None:
                    ours_only += 1
                    continue
                ours_v.append(o[0])
                theirs_v.append(t[0])
                diff = o[0] - t[0]
                if abs(diff) <= allowed:
                    agreeing += 1
                else:
                    worst.append((abs(diff), tid, o[0], t[0]))
            worst.sort(key=lambda w: (-w[0], w[1]))
            paired = len(ours_v)
            out.append(
                {
                    "name": vf.name,
                    "label": vf.label,
                    "metric": vf.metric,
                    "vendor_field": vf.field,
                    "clock": clock,
                    "unit": "count" if vf.kind == "count" else "seconds",
                    "paired": paired,
                    "ours_only": ours_only,
                    "vendor_only": vendor_only,
                    "agreeing": agreeing,
                    "disagreeing": paired - agreeing,
                    "agree_pct": 100.0 * agreeing / paired if paired else None,
                    "ours_median": _stat(ours_v, statistics.median),
                    "vendor_median": _stat(theirs_v, statistics.median),
                    "ours_mean": _stat(ours_v, statistics.fmean),
                    "vendor_mean": _stat(theirs_v, statistics.fmean),
                    "largest_disagreements": [
                        {"ticket": tid, "ours": o, "vendor": t, "difference": o - t}
                        for _, tid, o, t in worst[:top]
                    ],
                }
            )
    return out


def vendor_check(
    store: Store,
    facts: Mapping[str, TicketRecord],
    where: str,
    params: Iterable[Any],
    since: float,
    until: float,
    *,
    calendar: str,
    business: bool,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """The report's ``vendor`` section (docs/report-schema.md)."""
    vendor = read_zendesk_metrics(store, where, params, since, until)
    comparisons = compare(facts, vendor, since, until, tolerance=tolerance, business=business)
    return {
        "vendor": "zendesk",
        "source": "Zendesk Ticket Metrics (the metric_set kept in each ticket's raw payload)",
        "tolerance_seconds": tolerance,
        "calendar": calendar,
        "business_hours": business,
        "tickets_with_metric_set": len(vendor),
        "comparisons": comparisons,
        "not_compared": [{"field": k, "reason": r} for k, r in NOT_COMPARED.items()],
    }
