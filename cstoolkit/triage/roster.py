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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cstoolkit.calendars import WEEKDAYS, Calendar, parse_calendar
from cstoolkit.errors import ConfigError
from cstoolkit.model import Person
from cstoolkit.triage.loader import Doc, RecipeError, load

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


def _shift_calendar(
    name: str, raw_shift: Any, raw_shifts: Any, tz: str, time_off: Sequence[date], where: str
) -> Calendar | None:
    hours: dict[str, str] = {}
    if raw_shift is not None:
        if not isinstance(raw_shift, Mapping):
            raise ConfigError("shift is {days: [...], start: HH:MM, end: HH:MM}", field=where)
        days = raw_shift.get("days", list(WEEKDAYS[:5]))
        start, end = raw_shift.get("start"), raw_shift.get("end")
        if not isinstance(days, list) or not start or not end:
            raise ConfigError("shift needs days, start and end", field=where)
        for d in days:
            if str(d).lower() not in WEEKDAYS:
                raise ConfigError(
                    f"unknown day {d!r}{_did_you_mean(str(d), WEEKDAYS)}", field=where
                )
        span = f"{start}-{end}"
        s_min = int(str(start)[:2]) * 60 + int(str(start)[3:5])
        e_min = int(str(end)[:2]) * 60 + int(str(end)[3:5])
        for d in days:
            day = str(d).lower()
            if e_min > s_min or str(end) in ("24:00",):
                hours[day] = span
            else:  # a night shift: until midnight, then on into the next day
                nxt = WEEKDAYS[(WEEKDAYS.index(day) + 1) % 7]
                hours[day] = _join(hours.get(day), f"{start}-24:00")
                hours[nxt] = _join(hours.get(nxt), f"00:00-{end}")
    if raw_shifts is not None:
        if not isinstance(raw_shifts, Mapping):
            raise ConfigError("shifts is a table day -> HH:MM-HH:MM", field=where)
        for k, v in raw_shifts.items():
            hours[str(k)] = str(v)
    if not hours:
        return None
    table = {"timezone": tz, "hours": hours, "holidays": [d.isoformat() for d in time_off]}
    return parse_calendar(f"shift:{name}", table, where)


def _join(a: str | None, b: str) -> str:
    return b if not a else f"{a}, {b}"


def _dates(raw: Any, where: str) -> list[date]:
    out: list[date] = []
    for item in raw or []:
        if isinstance(item, date):
            out.append(item)
            continue
        text = str(item)
        try:
            if ".." in text:
                lo, hi = (date.fromisoformat(p.strip()) for p in text.split("..", 1))
                if hi < lo:
                    raise ValueError("range is reversed")
                d = lo
                while d <= hi:
                    out.append(d)
                    d += timedelta(days=1)
            else:
                out.append(date.fromisoformat(text))
        except ValueError as exc:
            raise ConfigError(
                f"bad date {text!r} (YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD): {exc}", field=where
            ) from None
    return out


def parse_agent(raw: Mapping[str, Any], default_tz: str, order: int, where: str) -> Agent:
    for key in raw:
        if key not in _AGENT_KEYS:
            raise ConfigError(
                f"unknown agent key{_did_you_mean(str(key), _AGENT_KEYS)}", field=f"{where}.{key}"
            )
    agent_id = raw.get("id")
    if agent_id in (None, ""):
        raise ConfigError("an agent needs an id", field=where)
    tz = str(raw.get("timezone") or default_tz)
    time_off = _dates(raw.get("time_off"), f"{where}.time_off")
    shift = _shift_calendar(
        str(agent_id), raw.get("shift"), raw.get("shifts"), tz, time_off, f"{where}.shift"
    )
    if shift is None and time_off:
        shift = _shift_calendar(
            str(agent_id), None, {"daily": "00:00-24:00"}, tz, time_off, f"{where}.time_off"
        )
    capacity = raw.get("capacity") or {}
    if not isinstance(capacity, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in capacity.values()
    ):
        raise ConfigError("capacity is a table channel -> whole number", field=f"{where}.capacity")
    ids = raw.get("ids") or {}
    if not isinstance(ids, Mapping):
        raise ConfigError("ids is a table instance -> external id", field=f"{where}.ids")
    tier = raw.get("tier", 1)
    if isinstance(tier, bool) or not isinstance(tier, int) or tier < 1:
        raise ConfigError("tier is a whole number from 1", field=f"{where}.tier")
    langs = raw.get("languages") or []
    return Agent(
        id=str(agent_id),
        name=str(raw.get("name") or agent_id),
        email=raw.get("email"),
        ids={str(k): str(v) for k, v in ids.items()},
        groups=tuple(str(g) for g in raw.get("groups") or []),
        tier=tier,
        skills=frozenset(str(s) for s in raw.get("skills") or []),
        languages=tuple(str(x).lower() for x in langs),
        capacity={str(k): int(v) for k, v in capacity.items()},
        timezone=tz,
        shift=shift,
        active=bool(raw.get("active", True)),
        order=order,
    )


def parse_roster(doc: Doc) -> Roster:
    """Build a roster from a loaded YAML document; errors carry file:line:column."""
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
    tz = str(data.get("timezone") or "UTC")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception:
        raise doc.error(("timezone",), f"unknown time zone {tz!r}") from None
    groups: dict[str, GroupInfo] = {}
    for name, raw_info in (data.get("groups") or {}).items():
        info = raw_info or {}
        if not isinstance(info, Mapping):
            raise doc.error(("groups", name), "a group is {tier: N, ids: {...}}")
        groups[str(name)] = GroupInfo(
            str(name),
            info.get("tier"),
            {str(k): str(v) for k, v in (info.get("ids") or {}).items()},
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
            sub = (exc.field or "").split(".")[1:]
            at: tuple[str | int, ...] = ("agents", i, *sub[:1])
            unknown_key = exc.bare_message.startswith("unknown agent key")
            raise doc.error(at, exc.bare_message, key=unknown_key) from None
        if agent.id in seen:
            raise doc.error(("agents", i, "id"), f"duplicate agent id {agent.id!r}")
        seen.add(agent.id)
        agents.append(agent)
    tiers: dict[int, str] = {}
    for k, v in (data.get("tiers") or {}).items():
        try:
            tiers[int(k)] = str(v)
        except (TypeError, ValueError):
            raise doc.error(("tiers", k), "tiers maps a tier number to a group") from None
    rotas: dict[str, Rota] = {}
    for name, raw in (data.get("rotas") or {}).items():
        if not isinstance(raw, Mapping) or not raw.get("agents"):
            raise doc.error(("rotas", name), "a rota needs agents: [...] and start: YYYY-MM-DD")
        members = [str(a) for a in raw["agents"]]
        for j, a in enumerate(members):
            if a not in seen:
                hint = _did_you_mean(a, seen)
                raise doc.error(("rotas", name, "agents", j), f"unknown agent {a!r}{hint}")
        start = raw.get("start", date(2024, 1, 1))
        if not isinstance(start, date):
            try:
                start = date.fromisoformat(str(start))
            except ValueError:
                raise doc.error(("rotas", name, "start"), "start is a date YYYY-MM-DD") from None
        rotas[str(name)] = Rota(
            str(name),
            tuple(members),
            start,
            str(raw.get("timezone") or tz),
            int(raw.get("weeks", 1)),
        )
    return Roster(agents, groups, tiers, rotas, source=doc.path)


def load_roster(path: str | Path) -> Roster:
    return parse_roster(load(path))


def roster_from_people(people: Iterable[Person]) -> Roster:
    """A roster from agent records in the store (``roster = "store"``), as the sample
    helpdesk writes them: ``tier``, ``skills``, ``capacity`` and ``shift`` in the record."""
    agents: list[Agent] = []
    for person in sorted(people, key=lambda p: _natural(p.external_id)):
        raw = person.raw
        if str(person.role) != "agent":
            continue
        record = {
            "id": person.external_id,
            "name": person.name,
            "email": person.email,
            "ids": {person.instance: person.external_id},
            "groups": [g.partition(":")[2] or g for g in person.groups],
            "tier": int(raw.get("tier") or 1),
            "skills": raw.get("skills") or [],
            "languages": [s for s in raw.get("skills") or [] if len(str(s)) == 2]
            or ([person.language] if person.language else []),
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
    except RecipeError:
        raise
