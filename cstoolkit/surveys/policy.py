"""Who gets a survey, when, and why the others do not: the eligibility policy.

Every ``[surveys.NAME]`` table holds these settings whatever its provider (providers include
:data:`POLICY_SETTINGS` in their ``settings``). :func:`evaluate` is a pure function of the
ticket, its requester, its events, the survey's history for that person and the clock; the send
engine and ``--dry-run`` both use it, so a dry run says exactly what a real run would do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cstoolkit import timespec
from cstoolkit.config import types
from cstoolkit.config.check import key_values as section_values_of
from cstoolkit.config.core import SURVEY_POLICY_KEYS
from cstoolkit.errors import ConfigError
from cstoolkit.model import Event, Person, Role, Ticket
from cstoolkit.plugin import Setting
from cstoolkit.timeline import Facts, facts_of

POLICY_KEY_NAMES = frozenset(k.name for k in SURVEY_POLICY_KEYS)

#: The policy settings as plugin ``Setting`` tuples (providers list them in their ``settings``);
#: made from the config schema, where they are declared (cstoolkit.config.core).
POLICY_SETTINGS: tuple[Setting, ...] = tuple(
    Setting(
        k.name,
        k.setting_type,
        required=k.required,
        default=k.default,
        help=k.help,
        choices=k.choices,
        minimum=k.minimum,
        maximum=k.maximum,
    )
    for k in SURVEY_POLICY_KEYS
)

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_duration(value: Any, field_name: str) -> timedelta:
    """``"24h"`` -> 24 hours; a number is seconds (docs/time.md)."""
    try:
        return timespec.parse_timedelta(value)
    except timespec.TimeSpecError as exc:
        raise ConfigError(str(exc), field=field_name) from None


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
        """The policy of ``[surveys.NAME]`` from its settings (checked by the config schema;
        a ConfigError names the field of the first problem)."""
        label = f"surveys.{survey}"
        if not _NAME.match(survey):
            raise ConfigError("survey names may use letters, digits, - and _ only", field=label)
        keys = {k: s[k] for k in POLICY_KEY_NAMES if k in s}
        v = section_values_of(SURVEY_POLICY_KEYS, keys, label)

        def lower(key: str) -> frozenset[str]:
            return frozenset(x.lower() for x in v[key])

        return cls(
            survey=survey,
            kind=v["kind"],
            channel=v["channel"],
            channel_for={str(k).lower(): c for k, c in v["channel_for"].items()},
            enabled=v["enabled"],
            delay=timedelta(seconds=v["delay"]),
            max_age=timedelta(seconds=v["max_age"]),
            quiet=v["quiet_hours"],
            timezone=types.parse_timezone(v["timezone"]),
            per_cycle=v["per_cycle"],
            fatigue=timedelta(days=v["fatigue_days"]),
            exclude_tags=lower("exclude_tags"),
            exclude_groups=frozenset(v["exclude_groups"]),
            exclude_channels=lower("exclude_channels"),
            exclude_plans=lower("exclude_plans"),
            skip_agent_created=v["skip_agent_created"],
            internal_domains=tuple(d.lower().lstrip("@") for d in v["internal_domains"]),
            sample_rate=v["sample_rate"],
            default_language=v["default_language"] or "en",
            max_attempts=v["max_attempts"],
        )

    def channel_for_ticket(self, ticket: Ticket) -> str:
        return self.channel_for.get(str(ticket.channel), self.channel)


# -- facts of a ticket (cstoolkit.timeline) ----------------------------------------------------

#: A ticket's facts, or its events (turned into facts: fixtures and older callers).
FactsOrEvents = Facts | Sequence[Event]


def ticket_facts(ticket: Ticket, given: FactsOrEvents) -> Facts:
    return given if isinstance(given, Facts) else facts_of(ticket, given)


def resolution_cycle(ticket: Ticket, facts: FactsOrEvents) -> int:
    """How many times the ticket went from unresolved to solved/closed (at least 1)."""
    return max(len(ticket_facts(ticket, facts).solves), 1)


def created_by_agent(ticket: Ticket, facts: FactsOrEvents) -> bool:
    return ticket_facts(ticket, facts).agent_created


def last_inbound_at(ticket: Ticket, facts: FactsOrEvents) -> datetime | None:
    """When the requester last wrote (ticket creation or a public comment of theirs)."""
    at = ticket_facts(ticket, facts).last_requester_reply
    return None if at is None else datetime.fromtimestamp(at, UTC)


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
    events: FactsOrEvents,
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
