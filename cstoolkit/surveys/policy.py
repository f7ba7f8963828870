"""Who gets a survey, when, and why the others do not: the eligibility policy.

Every ``[surveys.NAME]`` table holds these settings whatever its provider (providers include
:data:`POLICY_SETTINGS` in their ``settings``). :func:`evaluate` is a pure function of the
ticket, its requester, its events, the survey's history for that person and the clock; the send
engine and ``--dry-run`` both use it, so a dry run says exactly what a real run would do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cstoolkit.errors import ConfigError
from cstoolkit.messages import SCALES
from cstoolkit.model import Event, EventKind, Person, Role, Status, Ticket
from cstoolkit.plugin import Setting

POLICY_SETTINGS: tuple[Setting, ...] = (
    Setting("kind", required=True, choices=tuple(SCALES), help="csat (1-5), nps (0-10), ces (1-7)"),
    Setting("channel", required=True, help="The [channels.NAME] instance that delivers it."),
    Setting(
        "channel_for",
        "table",
        default={},
        help='Ticket channel -> channel instance, e.g. {whatsapp = "wa"}; others use `channel`.',
    ),
    Setting("enabled", "bool", default=True, help="false: never send this survey."),
    Setting("delay", default="24h", help="Wait this long after the solve (30m, 24h, 2d)."),
    Setting("max_age", default="7d", help="Never survey a ticket solved longer ago than this."),
    Setting(
        "quiet_hours",
        default="",
        help="HH:MM-HH:MM in the requester's time zone during which nothing is sent.",
    ),
    Setting("timezone", default="UTC", help="Time zone for requesters that have none."),
    Setting(
        "per_cycle",
        "bool",
        default=False,
        help="true: a reopened and solved-again ticket is surveyed again.",
    ),
    Setting("fatigue_days", "int", default=14, help="At most one survey per person per N days."),
    Setting("exclude_tags", "list", default=[], help="Skip tickets with any of these tags."),
    Setting("exclude_groups", "list", default=[], help="Skip tickets of these groups."),
    Setting("exclude_channels", "list", default=[], help="Skip tickets from these channels."),
    Setting("exclude_plans", "list", default=[], help="Skip requesters on these plans."),
    Setting(
        "skip_agent_created",
        "bool",
        default=True,
        help="Skip tickets an agent created (and requesters who are agents).",
    ),
    Setting("internal_domains", "list", default=[], help="Requesters of these domains are staff."),
    Setting("sample_rate", "float", default=1.0, help="Share of tickets surveyed (0-1)."),
    Setting("default_language", default="en", help="Language when the requester has none."),
    Setting("max_attempts", "int", default=3, help="Give up after this many failed sends."),
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_duration(value: Any, field_name: str) -> timedelta:
    """``"24h"`` -> 24 hours; an int is seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"expected a duration such as 24h, got {value!r}", field=field_name)
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    m = _DURATION.match(str(value))
    if not m:
        raise ConfigError(
            f"expected a duration such as 30m, 24h, 7d or 2w, got {value!r}", field=field_name
        )
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def _clock(text: str, field_name: str) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise ConfigError(f"expected HH:MM, got {text!r}", field=field_name)
    hour = int(m.group(1))
    return time(0, int(m.group(2))) if hour == 24 else time(hour, int(m.group(2)))


def zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


@dataclass
class Policy:
    """A survey's policy, parsed and checked from its settings."""

    survey: str
    kind: str
    channel: str
    channel_for: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    delay: timedelta = timedelta(hours=24)
    max_age: timedelta = timedelta(days=7)
    quiet: tuple[time, time] | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    per_cycle: bool = False
    fatigue: timedelta = timedelta(days=14)
    exclude_tags: frozenset[str] = frozenset()
    exclude_groups: frozenset[str] = frozenset()
    exclude_channels: frozenset[str] = frozenset()
    exclude_plans: frozenset[str] = frozenset()
    skip_agent_created: bool = True
    internal_domains: tuple[str, ...] = ()
    sample_rate: float = 1.0
    default_language: str = "en"
    max_attempts: int = 3

    @classmethod
    def from_settings(cls, survey: str, s: dict[str, Any]) -> Policy:
        label = f"surveys.{survey}"
        if not _NAME.match(survey):
            raise ConfigError("survey names may use letters, digits, - and _ only", field=label)

        def strs(key: str) -> frozenset[str]:
            value = s.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("expected a list of strings", field=f"{label}.{key}")
            return frozenset(v.lower() if key != "exclude_groups" else v for v in value)

        quiet = None
        if s.get("quiet_hours"):
            start, sep, end = str(s["quiet_hours"]).partition("-")
            if not sep:
                raise ConfigError(
                    f"expected HH:MM-HH:MM, got {s['quiet_hours']!r}",
                    field=f"{label}.quiet_hours",
                )
            quiet = (_clock(start, f"{label}.quiet_hours"), _clock(end, f"{label}.quiet_hours"))
        try:
            tz = ZoneInfo(str(s.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {s.get('timezone')!r}", field=f"{label}.timezone"
            ) from None
        rate = float(s.get("sample_rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise ConfigError("must be between 0 and 1", field=f"{label}.sample_rate")
        channel_for = s.get("channel_for") or {}
        if not all(isinstance(v, str) for v in channel_for.values()):
            raise ConfigError("values must be channel names", field=f"{label}.channel_for")
        fatigue_days = int(s.get("fatigue_days") or 0)
        if fatigue_days < 0:
            raise ConfigError("must be 0 or more", field=f"{label}.fatigue_days")
        return cls(
            survey=survey,
            kind=str(s["kind"]),
            channel=str(s["channel"]),
            channel_for={str(k).lower(): v for k, v in channel_for.items()},
            enabled=bool(s.get("enabled", True)),
            delay=parse_duration(s.get("delay", "24h"), f"{label}.delay"),
            max_age=parse_duration(s.get("max_age", "7d"), f"{label}.max_age"),
            quiet=quiet,
            timezone=tz,
            per_cycle=bool(s.get("per_cycle", False)),
            fatigue=timedelta(days=fatigue_days),
            exclude_tags=strs("exclude_tags"),
            exclude_groups=strs("exclude_groups"),
            exclude_channels=strs("exclude_channels"),
            exclude_plans=strs("exclude_plans"),
            skip_agent_created=bool(s.get("skip_agent_created", True)),
            internal_domains=tuple(d.lower().lstrip("@") for d in strs("internal_domains")),
            sample_rate=rate,
            default_language=str(s.get("default_language") or "en"),
            max_attempts=max(1, int(s.get("max_attempts") or 3)),
        )

    def channel_for_ticket(self, ticket: Ticket) -> str:
        return self.channel_for.get(str(ticket.channel), self.channel)


# -- facts derived from a ticket's events ------------------------------------------------------


def resolution_cycle(ticket: Ticket, events: list[Event]) -> int:
    """How many times the ticket went from unresolved to solved/closed (at least 1)."""
    resolved = {Status.SOLVED.value, Status.CLOSED.value}
    count = 0
    for ev in events:
        if ev.kind == EventKind.STATUS_CHANGE and ev.new in resolved and ev.old not in resolved:
            count += 1
    return max(count, 1)


def created_by_agent(ticket: Ticket, events: list[Event]) -> bool:
    for ev in events:
        if ev.kind == EventKind.CREATED:
            if ev.author_role == Role.AGENT:
                return True
            return bool(
                ev.author_id
                and ticket.requester_id
                and ev.author_id != ticket.requester_id
                and ev.author_role not in (None, Role.REQUESTER, Role.SYSTEM)
            )
    return False


def last_inbound_at(ticket: Ticket, events: list[Event]) -> datetime | None:
    """When the requester last wrote (ticket creation or a public comment of theirs)."""
    last = None
    for ev in events:
        if ev.kind not in (EventKind.CREATED, EventKind.COMMENT) or ev.public is False:
            continue
        mine = ev.author_role == Role.REQUESTER or (
            ev.author_id is not None and ev.author_id == ticket.requester_id
        )
        if mine and (last is None or ev.at > last):
            last = ev.at
    return last


def sampled(ticket_id: str, rate: float) -> bool:
    """Deterministic sampling: the same ticket is always in or always out."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(ticket_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def normalize_language(value: str | None) -> str | None:
    if not value:
        return None
    return value.replace("_", "-").split("-")[0].strip().lower() or None


def ledger_key(policy: Policy, ticket_id: str, cycle: int) -> str:
    """What an offer is for: the survey and the ticket (and the cycle with ``per_cycle``)."""
    return (
        f"{policy.survey}/{ticket_id}/c{cycle}"
        if policy.per_cycle
        else (f"{policy.survey}/{ticket_id}")
    )


def split_key(key: str) -> tuple[str, str]:
    """``survey/ticket[/cN]`` -> (survey, ticket id)."""
    survey, _, rest = key.partition("/")
    ticket = re.sub(r"/c\d+$", "", rest)
    return survey, ticket


# -- the decision ------------------------------------------------------------------------------

SEND = "send"
SKIP = "skip"
LATER = "later"


@dataclass
class Decision:
    action: str  # send | skip | later
    reason: str = ""
    due_at: datetime | None = None


def in_quiet_hours(policy: Policy, now: datetime, tz: ZoneInfo) -> datetime | None:
    """If ``now`` falls in the quiet hours (requester's zone), when they end (UTC)."""
    if policy.quiet is None:
        return None
    start, end = policy.quiet
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start == end:
        return None
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date()
    if start > end and t >= start:
        end_day = end_day + timedelta(days=1)
    ends = datetime.combine(end_day, end, tzinfo=tz)
    return ends.astimezone(now.tzinfo)


def evaluate(
    policy: Policy,
    ticket: Ticket,
    requester: Person | None,
    events: list[Event],
    now: datetime,
    *,
    group_name: str | None = None,
) -> Decision:
    """The policy verdict that needs no store history (opt-outs, ledger and fatigue come next).

    Order matters only for the reason shown: permanent exclusions first, timing last.
    """
    if not policy.enabled:
        return Decision(SKIP, "survey disabled")
    if ticket.solved_at is None or not ticket.status.is_resolved:
        return Decision(SKIP, "not solved")
    if requester is None:
        return Decision(SKIP, "no requester")
    tags = {t.lower() for t in ticket.tags}
    hit = sorted(tags & policy.exclude_tags)
    if hit:
        return Decision(SKIP, f"excluded tag {hit[0]}")
    if ticket.group_id and policy.exclude_groups:
        names = {ticket.group_id, ticket.group_id.split(":", 1)[-1]}
        if group_name:
            names.add(group_name)
        if names & policy.exclude_groups:
            return Decision(SKIP, f"excluded group {ticket.group_id.split(':', 1)[-1]}")
    if str(ticket.channel).lower() in policy.exclude_channels:
        return Decision(SKIP, f"excluded channel {ticket.channel}")
    if requester.plan and requester.plan.lower() in policy.exclude_plans:
        return Decision(SKIP, f"excluded plan {requester.plan}")
    if policy.skip_agent_created:
        if requester.role == Role.AGENT:
            return Decision(SKIP, "requester is an agent")
        if created_by_agent(ticket, events):
            return Decision(SKIP, "created by an agent")
    domain = requester.domain
    if domain and any(domain == d or domain.endswith("." + d) for d in policy.internal_domains):
        return Decision(SKIP, f"internal requester ({domain})")
    if not sampled(ticket.id, policy.sample_rate):
        return Decision(SKIP, f"not sampled (rate {policy.sample_rate:g})")
    if ticket.solved_at < now - policy.max_age:
        days = (now - ticket.solved_at).days
        return Decision(SKIP, f"solved {days}d ago (max_age {_fmt(policy.max_age)})")
    due = ticket.solved_at + policy.delay
    if now < due:
        return Decision(LATER, f"due after the delay ({_fmt(policy.delay)})", due)
    tz = zone(requester.timezone, policy.timezone)
    quiet_until = in_quiet_hours(policy, now, tz)
    if quiet_until is not None:
        return Decision(LATER, f"quiet hours in {tz.key}", quiet_until)
    return Decision(SEND)


def _fmt(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
