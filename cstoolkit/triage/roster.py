"""The roster: who works here, in which groups and tier, with which skills, when, and how much.

A roster file (``roster = "roster.yaml"`` in cstoolkit.toml, documented in docs/roster.md)::

    timezone: Europe/Madrid            # default zone of the shifts
    groups:
      general: {tier: 1}
      technical: {tier: 2, ids: {zendesk_main: "360001"}}
      escalations: {tier: 3}
    tiers: {2: technical, 3: escalations}   # where "escalate" sends a ticket
    rotas:
      triage: {agents: [a1, a4], start: 2026-01-05}
    agents:
      - id: a1
        name: Diego Ramírez
        ids: {demo: a1}                 # external id per backend instance ('*': any)
        groups: [general, billing]
        tier: 1
        skills: [billing, refunds]
        languages: [es, en]
        capacity: {email: 12, chat: 3}
        timezone: Europe/Madrid
        shift: {days: [mon, tue, wed, thu, fri], start: "07:00", end: "15:00"}
        time_off: ["2026-08-03..2026-08-14"]

``roster = "store"`` builds the roster from the agents in the store instead (people with role
agent whose record carries ``tier``/``skills``/``capacity``/``shift``, as the sample helpdesk's
do).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cstoolkit import timespec
from cstoolkit.calendars import WEEKDAYS, Calendar, parse_calendar
from cstoolkit.errors import ConfigError
from cstoolkit.model import Person
from cstoolkit.textfiles import Doc, FileError, field_path, load_yaml

#: The capacity key a channel falls back to when the agent's capacity does not name it.
LIVE_CHANNELS = frozenset({"chat", "whatsapp", "phone", "sms", "social"})
_AGENT_KEYS = (
    "id",
    "name",
    "email",
    "ids",
    "groups",
    "tier",
    "skills",
    "languages",
    "capacity",
    "timezone",
    "shift",
    "shifts",
    "time_off",
    "active",
)
_TOP_KEYS = ("timezone", "groups", "tiers", "rotas", "agents")


def capacity_key(channel: str, capacity: Mapping[str, int]) -> str:
    """Which capacity entry a ticket of ``channel`` counts against."""
    if channel in capacity:
        return channel
    if "default" in capacity:
        return "default"
    return "chat" if channel in LIVE_CHANNELS else "email"


@dataclass(frozen=True)
class Agent:
    id: str
    name: str = ""
    email: str | None = None
    ids: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    tier: int = 1
    skills: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ()
    capacity: Mapping[str, int] = field(default_factory=dict)
    timezone: str = "UTC"
    shift: Calendar | None = None  # None: always on shift
    active: bool = True
    order: int = 0  # position in the roster: the tie-breaker of every strategy

    def external_id(self, instance: str) -> str | None:
        if instance in self.ids:
            return self.ids[instance]
        if "*" in self.ids:
            return self.ids["*"]
        return None if self.ids else self.id

    def person_id(self, instance: str) -> str | None:
        cache: dict[str, str | None] = self.__dict__.setdefault("_person_ids", {})
        found = cache.get(instance, "")
        if found == "":
            ext = self.external_id(instance)
            found = cache[instance] = f"{instance}:{ext}" if ext is not None else None
        return found

    def on_shift(self, at: datetime | float) -> bool:
        if not self.active:
            return False
        if self.shift is None:
            return True
        clock = self.__dict__.get("_clock")
        if clock is None:
            from cstoolkit.calendars import fast_clock

            if self.shift.is_24x7:
                return True
            clock = self.__dict__["_clock"] = fast_clock(self.shift)
        return bool(clock.is_open(at if isinstance(at, int | float) else at.timestamp()))

    def capacity_for(self, channel: str) -> int | None:
        """Concurrent open tickets allowed on ``channel`` (None: no limit)."""
        if not self.capacity:
            return None
        return self.capacity.get(capacity_key(channel, self.capacity))

    def speaks(self, language: str | None) -> bool:
        if not language:
            return True
        return language.lower() in self.languages

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "groups": list(self.groups),
            "tier": self.tier,
            "skills": sorted(self.skills),
            "languages": list(self.languages),
            "capacity": dict(self.capacity),
            "timezone": self.timezone,
        }


@dataclass(frozen=True)
class GroupInfo:
    name: str
    tier: int | None = None
    ids: Mapping[str, str] = field(default_factory=dict)

    def external_id(self, instance: str) -> str:
        return self.ids.get(instance) or self.ids.get("*") or self.name


@dataclass(frozen=True)
class Rota:
    name: str
    agents: tuple[str, ...]
    start: date
    timezone: str = "UTC"
    weeks: int = 1  # how many weeks each owner holds the rota

    def week_index(self, at: datetime) -> int:
        from zoneinfo import ZoneInfo

        local = at.astimezone(ZoneInfo(self.timezone)).date()
        monday = self.start - timedelta(days=self.start.weekday())
        return (local - monday).days // 7 // self.weeks

    def owner_order(self, at: datetime) -> list[str]:
        """The agents in the order the rota offers them this week (owner first)."""
        n = len(self.agents)
        first = self.week_index(at) % n
        return [self.agents[(first + k) % n] for k in range(n)]


@dataclass
class Roster:
    agents: list[Agent] = field(default_factory=list)
    groups: dict[str, GroupInfo] = field(default_factory=dict)
    tiers: dict[int, str] = field(default_factory=dict)
    rotas: dict[str, Rota] = field(default_factory=dict)
    source: str = "<roster>"

    def __post_init__(self) -> None:
        self._by_id = {a.id: a for a in self.agents}
        self._by_person: dict[str, Agent] = {}

    def agent(self, agent_id: str) -> Agent | None:
        return self._by_id.get(agent_id)

    def by_person(self, person_id: str | None) -> Agent | None:
        """The roster agent behind a qualified person id (``demo:a1``)."""
        if not person_id:
            return None
        found = self._by_person.get(person_id)
        if found is None and person_id not in self._by_person:
            instance, _, ext = person_id.partition(":")
            for a in self.agents:
                if a.external_id(instance) == ext:
                    found = a
                    break
            self._by_person[person_id] = found  # type: ignore[assignment]
        return found

    def group_name(self, group_id: str | None) -> str | None:
        """The roster's name for a ticket's group id (``demo:billing`` -> ``billing``)."""
        if not group_id:
            return None
        instance, _, ext = group_id.partition(":")
        for g in self.groups.values():
            if g.external_id(instance) == ext:
                return g.name
        return ext or None

    def group_id(self, name: str, instance: str) -> str:
        """A group name as the ticket's backend knows it (qualified)."""
        if ":" in name:
            return name
        info = self.groups.get(name)
        return f"{instance}:{info.external_id(instance) if info else name}"

    def group_tier(self, name: str | None) -> int | None:
        if name is None:
            return None
        info = self.groups.get(name)
        if info is not None and info.tier is not None:
            return info.tier
        tiers = [a.tier for a in self.agents if name in a.groups]
        return min(tiers) if tiers else None

    def max_tier(self) -> int:
        return max([a.tier for a in self.agents] + list(self.tiers) + [1])

    def members(self, group: str | None) -> list[Agent]:
        if group is None:
            return list(self.agents)
        return [a for a in self.agents if group in a.groups]

    def known_skills(self) -> frozenset[str]:
        return frozenset(s for a in self.agents for s in a.skills)


# -- parsing -----------------------------------------------------------------------------------


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Bounds on roster values (docs/roster.md, docs/security.md).
MAX_TIER = 99
MAX_CAPACITY = 10_000
MAX_TIME_OFF_DAYS = 3_660  # one range of time off: ten years
MAX_ROTA_WEEKS = 520
_HHMM = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")


def _clock(value: Any, where: str) -> str:
    """A shift's start or end, ``HH:MM`` (``24:00`` ends a day)."""
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if m is None or (m.group(1) == "24" and m.group(2) != "00"):
        raise ConfigError(f"expected a time of day HH:MM, got {value!r}", field=where)
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def _shift_calendar(
    name: str, raw_shift: Any, raw_shifts: Any, tz: str, time_off: Sequence[date], where: str
) -> Calendar | None:
    hours: dict[str, str] = {}
    if raw_shift is not None:
        if not isinstance(raw_shift, Mapping):
            raise ConfigError("shift is {days: [...], start: HH:MM, end: HH:MM}", field=where)
        days = raw_shift.get("days", list(WEEKDAYS[:5]))
        if not isinstance(days, list) or "start" not in raw_shift or "end" not in raw_shift:
            raise ConfigError("shift needs days, start and end", field=where)
        start = _clock(raw_shift["start"], f"{where}.start")
        end = _clock(raw_shift["end"], f"{where}.end")
        for d in days:
            if str(d).lower() not in WEEKDAYS:
                raise ConfigError(
                    f"unknown day {d!r}{_did_you_mean(str(d), WEEKDAYS)}", field=f"{where}.days"
                )
        span = f"{start}-{end}"
        for d in days:
            day = str(d).lower()
            if _minutes(end) > _minutes(start) or end == "24:00":
                hours[day] = span
            else:  # a night shift: until midnight, then on into the next day
                nxt = WEEKDAYS[(WEEKDAYS.index(day) + 1) % 7]
                hours[day] = _join(hours.get(day), f"{start}-24:00")
                hours[nxt] = _join(hours.get(nxt), f"00:00-{end}")
    if raw_shifts is not None:
        if not isinstance(raw_shifts, Mapping):
            raise ConfigError("shifts is a table day -> HH:MM-HH:MM", field=where)
        for k, v in raw_shifts.items():
            if not isinstance(v, str):
                raise ConfigError(f"expected HH:MM-HH:MM, got {v!r}", field=f"{where}.{k}")
            hours[str(k)] = v
    if not hours:
        return None
    table = {"timezone": tz, "hours": hours, "holidays": [d.isoformat() for d in time_off]}
    return parse_calendar(f"shift:{name}", table, where)


def _join(a: str | None, b: str) -> str:
    return b if not a else f"{a}, {b}"


def _date(value: Any, where: str) -> date:
    try:
        return timespec.parse_date(value)
    except timespec.TimeSpecError as exc:
        raise ConfigError(str(exc), field=where) from None


def _dates(raw: Any, where: str) -> list[date]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(
            "expected a list of dates or ranges (YYYY-MM-DD..YYYY-MM-DD)", field=where
        )
    out: list[date] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if isinstance(item, str) and ".." in item:
            try:
                lo, hi = timespec.parse_date_range(item)
            except timespec.TimeSpecError as exc:
                raise ConfigError(str(exc), field=at) from None
            if (hi - lo).days >= MAX_TIME_OFF_DAYS:
                raise ConfigError(
                    f"range {item!r} is longer than {MAX_TIME_OFF_DAYS} days", field=at
                )
            out.extend(lo + timedelta(days=n) for n in range((hi - lo).days + 1))
        else:
            out.append(_date(item, at))
    return out


def _whole(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"expected a whole number from {low} to {high}, got {value!r}", field=where
        )
    return value


def _ident(value: Any, where: str) -> str:
    """One id or name: a text or a whole number (never a list, a mapping or true/false)."""
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise ConfigError(f"expected one id (a text or a number), got {value!r}", field=where)
    return str(value)


def _idents(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"expected a list, got {value!r}", field=where)
    return [_ident(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _zone_name(value: Any, where: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        if not isinstance(value, str):
            raise ValueError
        ZoneInfo(value)
    except Exception:  # ValueError, ZoneInfoNotFoundError, OSError on odd names
        raise ConfigError(f"unknown time zone {value!r}", field=where) from None
    return value


def parse_agent(raw: Mapping[str, Any], default_tz: str, order: int, where: str) -> Agent:
    for key in raw:
        if key not in _AGENT_KEYS:
            raise ConfigError(
                f"unknown agent key{_did_you_mean(str(key), _AGENT_KEYS)}", field=f"{where}.{key}"
            )
    if raw.get("id") in (None, ""):
        raise ConfigError("an agent needs an id", field=where)
    agent_id = _ident(raw["id"], f"{where}.id")
    tz = _zone_name(raw["timezone"], f"{where}.timezone") if raw.get("timezone") else default_tz
    time_off = _dates(raw.get("time_off"), f"{where}.time_off")
    shift = _shift_calendar(
        agent_id, raw.get("shift"), raw.get("shifts"), tz, time_off, f"{where}.shift"
    )
    if shift is None and time_off:
        shift = _shift_calendar(
            agent_id, None, {"daily": "00:00-24:00"}, tz, time_off, f"{where}.time_off"
        )
    capacity = raw.get("capacity") or {}
    if not isinstance(capacity, Mapping):
        raise ConfigError("capacity is a table channel -> whole number", field=f"{where}.capacity")
    for k, v in capacity.items():
        _whole(v, f"{where}.capacity.{k}", 0, MAX_CAPACITY)
    ids = raw.get("ids") or {}
    if not isinstance(ids, Mapping):
        raise ConfigError("ids is a table instance -> external id", field=f"{where}.ids")
    tier = _whole(raw.get("tier", 1), f"{where}.tier", 1, MAX_TIER)
    name, email = raw.get("name"), raw.get("email")
    for key, value in (("name", name), ("email", email)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise ConfigError(f"expected a text, got {value!r}", field=f"{where}.{key}")
    active = raw.get("active", True)
    if not isinstance(active, bool):
        raise ConfigError(f"active is true or false, not {active!r}", field=f"{where}.active")
    return Agent(
        id=agent_id,
        name=str(name or agent_id),
        email=None if email is None else str(email),
        ids={str(k): _ident(v, f"{where}.ids.{k}") for k, v in ids.items()},
        groups=tuple(_idents(raw.get("groups"), f"{where}.groups")),
        tier=tier,
        skills=frozenset(_idents(raw.get("skills"), f"{where}.skills")),
        languages=tuple(x.lower() for x in _idents(raw.get("languages"), f"{where}.languages")),
        capacity={str(k): int(v) for k, v in capacity.items()},
        timezone=tz,
        shift=shift,
        active=active,
        order=order,
    )


def parse_roster(doc: Doc) -> Roster:
    """Build a roster from a loaded YAML document; errors carry file:line:column and field."""
    try:
        return _parse_roster(doc)
    except ConfigError as exc:
        if isinstance(exc, FileError):
            raise
        raise doc.field_error(exc.field, exc.bare_message) from None


def _mapping(doc: Doc, data: Mapping[str, Any], key: str, what: str) -> Mapping[Any, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise doc.error((key,), f"{key}: expected {what}")
    return value


def _parse_roster(doc: Doc) -> Roster:
    data = doc.data
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise doc.error((), "a roster is a mapping with agents: [...]")
    for key in data:
        if key not in _TOP_KEYS:
            raise doc.error(
                (key,), f"unknown key {key!r}{_did_you_mean(str(key), _TOP_KEYS)}", key=True
            )
    tz = _zone_name(data["timezone"], "timezone") if data.get("timezone") else "UTC"
    groups: dict[str, GroupInfo] = {}
    for name, raw_info in _mapping(doc, data, "groups", "a table name -> {tier, ids}").items():
        info = raw_info or {}
        where = f"groups.{name}"
        if not isinstance(info, Mapping):
            raise doc.error(("groups", name), "a group is {tier: N, ids: {...}}")
        tier = info.get("tier")
        ids = info.get("ids") or {}
        if not isinstance(ids, Mapping):
            raise ConfigError("ids is a table instance -> external id", field=f"{where}.ids")
        groups[str(name)] = GroupInfo(
            str(name),
            None if tier is None else _whole(tier, f"{where}.tier", 1, MAX_TIER),
            {str(k): _ident(v, f"{where}.ids.{k}") for k, v in ids.items()},
        )
    agents: list[Agent] = []
    raw_agents = data.get("agents") or []
    if not isinstance(raw_agents, list):
        raise doc.error(("agents",), "agents is a list")
    seen: set[str] = set()
    for i, raw in enumerate(raw_agents):
        if not isinstance(raw, Mapping):
            raise doc.error(("agents", i), "an agent is a mapping (id, groups, tier, ...)")
        try:
            agent = parse_agent(raw, tz, i, f"agents[{i}]")
        except ConfigError as exc:
            if exc.bare_message.startswith("unknown agent key"):
                raise doc.error(field_path(exc.field or ""), exc.bare_message, key=True) from None
            raise
        if agent.id in seen:
            raise doc.error(("agents", i, "id"), f"duplicate agent id {agent.id!r}")
        seen.add(agent.id)
        agents.append(agent)
    tiers: dict[int, str] = {}
    for k, v in _mapping(doc, data, "tiers", "a table tier number -> group").items():
        if isinstance(k, bool) or not isinstance(k, int | str) or not str(k).isdigit():
            raise doc.error(("tiers", k), f"tiers: {k!r} is not a tier number", key=True)
        tiers[_whole(int(str(k)), f"tiers.{k}", 1, MAX_TIER)] = _ident(v, f"tiers.{k}")
    rotas: dict[str, Rota] = {}
    for name, raw in _mapping(doc, data, "rotas", "a table name -> {agents, start}").items():
        where = f"rotas.{name}"
        if not isinstance(raw, Mapping) or not raw.get("agents"):
            raise doc.error(("rotas", name), "a rota needs agents: [...] and start: YYYY-MM-DD")
        members = _idents(raw["agents"], f"{where}.agents")
        for j, a in enumerate(members):
            if a not in seen:
                hint = _did_you_mean(a, seen)
                raise doc.error(("rotas", name, "agents", j), f"unknown agent {a!r}{hint}")
        start = _date(raw["start"], f"{where}.start") if "start" in raw else date(2024, 1, 1)
        zone = _zone_name(raw["timezone"], f"{where}.timezone") if raw.get("timezone") else tz
        weeks = _whole(raw.get("weeks", 1), f"{where}.weeks", 1, MAX_ROTA_WEEKS)
        rotas[str(name)] = Rota(str(name), tuple(members), start, zone, weeks)
    return Roster(agents, groups, tiers, rotas, source=doc.path)


def load_roster(path: str | Path) -> Roster:
    return parse_roster(load_yaml(path))


def roster_from_people(people: Iterable[Person]) -> Roster:
    """A roster from agent records in the store (``roster = "store"``), as the sample
    helpdesk writes them: ``tier``, ``skills``, ``capacity`` and ``shift`` in the record."""
    agents: list[Agent] = []
    for person in sorted(people, key=lambda p: _natural(p.external_id)):
        raw = person.raw
        if str(person.role) != "agent":
            continue
        skills = raw.get("skills") or []
        record = {
            "id": person.external_id,
            "name": person.name,
            "email": person.email,
            "ids": {person.instance: person.external_id},
            "groups": [g.partition(":")[2] or g for g in person.groups],
            "tier": raw.get("tier") or 1,
            "skills": skills,
            "languages": [s for s in skills if len(str(s)) == 2]
            if isinstance(skills, list) and any(len(str(s)) == 2 for s in skills)
            else ([person.language] if person.language else []),
            "capacity": raw.get("capacity") or {},
            "timezone": person.timezone or "UTC",
            "shift": raw.get("shift"),
        }
        agents.append(parse_agent(record, "UTC", len(agents), f"agent {person.id}"))
    tiers: dict[int, str] = {}
    for a in agents:
        for g in a.groups:
            tiers.setdefault(a.tier, g)
    groups = {g: GroupInfo(g) for a in agents for g in a.groups}
    return Roster(agents, groups, {}, {}, source="store")


def _natural(text: str) -> tuple[str, int, str]:
    head = text.rstrip("0123456789")
    tail = text[len(head) :]
    return (head, int(tail) if tail else -1, text)


def load_from_config(config: Any, store: Any = None) -> Roster | None:
    """The roster named by ``roster = ...`` in cstoolkit.toml (None when there is none)."""
    value = config.data.get("roster")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(
            'roster is a path to a YAML file, or "store"', path=config.label, field="roster"
        )
    if value == "store":
        if store is None:
            return Roster()
        return roster_from_people(store.agents())
    try:
        return load_roster(config.resolve_path(value))
    except FileError:
        raise
