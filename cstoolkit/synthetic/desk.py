"""The sample desk's people and clock: deterministic hashing and draws, Madrid's daylight saving
rule, business time, agents and their shifts, the customer pool, and arrivals hour by hour.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cstoolkit.synthetic.vocabulary import (
    AGENT_LANGS,
    AGENT_SLOTS,
    CAPACITY,
    DAY,
    GROUP_SKILLS,
    GROUPS,
    HOUR,
    HOUR_WEIGHTS,
    LANGUAGES,
    NAMES,
    ORG_SHARE,
    ORGS,
    PLANS,
    SHIFTS,
    STAFFING,
    TIMEZONES,
    TZ_OFFSETS,
    WEEKDAY_WEIGHTS,
    WEEKDAYS,
    T,
)

if TYPE_CHECKING:
    from cstoolkit.sample import SampleSpec


# -- small helpers -----------------------------------------------------------------------------

MASK64 = (1 << 64) - 1


def mix64(x: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def unit(h: int, shift: int) -> float:
    """A uniform [0, 1) float from 16 bits of a hash."""
    return ((h >> shift) & 0xFFFF) / 65536.0


def pick(table: Sequence[tuple[T, float]], u: float) -> T:
    """Pick from ``(value, weight)`` pairs with a uniform ``u`` in [0, 1); weights sum to 1."""
    for value, weight in table:
        u -= weight
        if u < 0:
            return value
    return table[-1][0]


def ascii(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: ``Álvarez`` -> ``alvarez``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


@lru_cache(maxsize=64)
def dst_bounds(year: int) -> tuple[int, int]:
    """EU summer time for ``year``: last Sunday of March to last Sunday of October, 01:00 UTC."""

    def last_sunday(month: int) -> int:
        day = datetime(year, month, 31, 1, tzinfo=UTC)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        return int(day.timestamp())

    return last_sunday(3), last_sunday(10)


def madrid_offset(t: int) -> int:
    """Europe/Madrid's UTC offset in seconds at epoch second ``t`` (CET/CEST)."""
    # The average-year estimate can be off by a day around New Year, where it does not matter:
    # both candidate years are on winter time then.
    start, end = dst_bounds(1970 + t // 31_556_952)
    return 2 * HOUR if start <= t < end else HOUR


def week_hour_of(local: int) -> int:
    """Hour of the week (Monday 00:00 = 0) of a local epoch second; 1970-01-01 was a Thursday."""
    hours = local // HOUR
    return (hours // 24 + 3) % 7 * 24 + hours % 24


WEEK = 7 * DAY
FIRST_MONDAY = 4 * DAY  # 1970-01-05
# Business seconds from Monday 00:00 to the start of each hour of the week (169 entries).
BUSINESS_AT = tuple(itertools.accumulate((s * HOUR for s in STAFFING), initial=0.0))


def advance_business(t: int, seconds: float) -> int:
    """Return ``t`` plus ``seconds`` of desk time: time passes slower when the desk is thin.

    A business second takes one wall second on a weekday daytime and several at night or on a
    weekend (see :func:`staffing`), so a delay drawn in business time stretches realistically.
    Works on the cumulative staffing curve of a Madrid week, so any delay costs O(log 168).
    """
    local = t + madrid_offset(t)
    week_start = local - (local - FIRST_MONDAY) % WEEK
    into = local - week_start
    hour = into // HOUR
    done = BUSINESS_AT[hour] + (into - hour * HOUR) * STAFFING[hour] + seconds
    weeks, rest = divmod(done, BUSINESS_AT[-1])
    hour = min(bisect.bisect_right(BUSINESS_AT, rest) - 1, 167)
    target = (
        week_start + int(weeks) * WEEK + hour * HOUR + (rest - BUSINESS_AT[hour]) / STAFFING[hour]
    )
    return t + max(0, math.ceil(target - local))


def binomial(rng: random.Random, n: int, p: float) -> int:
    """A Binomial(n, p) draw (``random.binomialvariate`` needs Python 3.12)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    q = 1.0 - p if flip else p
    if n * q < 30:
        # Inversion: walk the CDF from 0; exact and cheap while the mean is small.
        ratio = q / (1.0 - q)
        prob = (1.0 - q) ** n
        u = rng.random()
        k = 0
        while u > prob and k < n:
            u -= prob
            k += 1
            prob *= ratio * (n - k + 1) / k
    else:
        k = round(rng.gauss(n * q, math.sqrt(n * q * (1.0 - q))))
        k = min(max(k, 0), n)
    return n - k if flip else k


class Cutoff(Exception):
    """Raised when a ticket's next event would fall after the end of the period."""


# -- people ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    languages: tuple[str, ...]
    groups: tuple[str, ...]
    tier: int
    record: dict[str, Any]


def agent_count(spec: SampleSpec) -> int:
    if spec.agents is not None:
        return spec.agents
    return min(200, max(8, spec.tickets // spec.days // 12))


def make_agents(spec: SampleSpec) -> list[Agent]:
    rng = random.Random(f"cst-sample/{spec.seed}/agents")
    agents = []
    for i in range(agent_count(spec)):
        tier, groups, lang = AGENT_SLOTS[i % len(AGENT_SLOTS)]
        if i >= len(AGENT_SLOTS):
            lang = AGENT_LANGS[i % len(AGENT_LANGS)]
        languages = (lang, "en") if lang != "en" and rng.random() < 0.4 else (lang,)
        firsts, lasts = NAMES[lang]
        first, last = firsts[int(rng.random() * len(firsts))], lasts[int(rng.random() * len(lasts))]
        zone = pick(TIMEZONES[lang], rng.random())
        start, end = SHIFTS[(i + i // len(SHIFTS)) % len(SHIFTS)]
        days = WEEKDAYS[2:] if i % 5 == 4 else WEEKDAYS[:5]  # every fifth agent covers weekends
        skills = [s for g in groups for s in GROUP_SKILLS[g]] + list(languages)
        aid = f"a{i + 1}"
        record = {
            "type": "person",
            "id": aid,
            "role": "agent",
            "name": f"{first} {last}",
            "email": f"{ascii(first)}.{ascii(last)}.{aid}@support.example",
            "language": lang,
            "timezone": zone,
            "groups": list(groups),
            "tier": tier,
            "skills": skills,
            "capacity": dict(CAPACITY[tier]),
            "shift": {"days": list(days), "start": start, "end": end},
        }
        agents.append(Agent(aid, languages, groups, tier, record))
    return agents


def on_shift(agent: Agent, utc_week_hour: int) -> bool:
    """Whether ``agent`` works at a UTC hour of the week (standard time; DST is ignored)."""
    shift = agent.record["shift"]
    local = (utc_week_hour + TZ_OFFSETS[agent.record["timezone"]]) % 168
    day, hour = WEEKDAYS[local // 24], local % 24
    start, end = int(shift["start"][:2]), int(shift["end"][:2])
    return day in shift["days"] and start <= hour < end


class Roster:
    """Who can take a ticket: for each group, language and UTC hour of the week, the agents to
    choose from, best first: on shift and speaking the language, then speaking the language,
    then on shift, then anyone in the group (or anyone at all, for a team too small to cover
    the group)."""

    def __init__(self, agents: list[Agent]) -> None:
        self.agents = agents
        self._table: dict[tuple[str, str, int], tuple[Agent, ...]] = {}
        for group, _ in GROUPS:
            members = [a for a in agents if group in a.groups] or agents
            for lang, _ in LANGUAGES:
                for hour in range(168):
                    on = [a for a in members if on_shift(a, hour)]
                    options = (
                        [a for a in on if lang in a.languages],
                        [a for a in members if lang in a.languages],
                        on,
                        members,
                    )
                    self._table[group, lang, hour] = tuple(next(o for o in options if o))

    def pick(self, rng: random.Random, group: str, lang: str, t: int) -> Agent:
        choices = self._table[group, lang, week_hour_of(t)]
        return choices[int(rng.random() * len(choices))]


@dataclass(frozen=True, slots=True)
class Requester:
    number: int
    id: str
    language: str
    plan: str
    first_name: str
    hash: int


class Customers:
    """The customer pool. Attributes derive from a hash of the customer number, so nothing but
    one "already written" byte per customer is stored."""

    def __init__(self, seed: int, size: int) -> None:
        self.size = size
        self._key = mix64(seed & MASK64) ^ 0x5DEECE66D
        self._written = bytearray(size + 1)

    def draw(self, rng: random.Random) -> Requester:
        # u ** 1.6 skews towards low numbers: customer 1 writes about (pool size) ** 0.375 times
        # as often as the average customer (16x for a pool of 1,700); the median writes ~3 times.
        number = 1 + int(self.size * rng.random() ** 1.6)
        h = mix64(self._key ^ number)
        lang = pick(LANGUAGES, unit(h, 0))
        plan = pick(PLANS, unit(h, 16))
        first = NAMES[lang][0][(h >> 32) & 15]
        return Requester(number, f"c{number}", lang, plan, first, h)

    def first_use(self, req: Requester) -> dict[str, Any] | None:
        """The requester's ``person`` record the first time it is used, else None."""
        if self._written[req.number]:
            return None
        self._written[req.number] = 1
        h2 = mix64(req.hash)
        last = NAMES[req.language][1][(req.hash >> 36) & 15]
        org = None
        if unit(h2, 0) < ORG_SHARE[req.plan]:
            kinds, places, forms = ORGS[req.language]
            org = f"{kinds[(h2 >> 16) & 3]} {places[(h2 >> 18) & 7]} {forms[(h2 >> 21) & 1]}"
        domain = f"{ascii(org)}.example" if org else ("example.com", "example.net")[h2 >> 63]
        return {
            "type": "person",
            "id": req.id,
            "role": "requester",
            "name": f"{req.first_name} {last}",
            "email": f"{ascii(req.first_name)}.{ascii(last)}.{req.number}@{domain}",
            "organization": org,
            "plan": req.plan,
            "language": req.language,
            "timezone": pick(TIMEZONES[req.language], unit(h2, 24)),
        }


# -- time --------------------------------------------------------------------------------------

HH_MM = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
SS_Z = tuple(f"{s:02d}Z" for s in range(60))


class Timestamps:
    """ISO 8601 ``...Z`` strings from epoch seconds (hot: ~10 per ticket), caching per day.

    Consecutive events often share a second (a reply and the status change it makes), so the
    last result is kept too.
    """

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._last = (-1, "")

    def __call__(self, t: int) -> str:
        if t == self._last[0]:
            return self._last[1]
        day, sec = divmod(t, DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * DAY))
            if len(self._days) > 4096:
                self._days.clear()
            self._days[day] = prefix
        text = prefix + HH_MM[sec // 60] + SS_Z[sec % 60]
        self._last = (t, text)
        return text


def arrival_weight(t: int) -> float:
    local = t + madrid_offset(t)
    week_hour = week_hour_of(local)
    return WEEKDAY_WEIGHTS[week_hour // 24] * HOUR_WEIGHTS[week_hour % 24]


def arrivals(rng: random.Random, tickets: int, start: int, end: int) -> Iterator[int]:
    """Exactly ``tickets`` arrival times in ``[start, end)``, in order.

    The count per hour is a multinomial draw (a chain of binomials) over the hourly weights,
    i.e. a Poisson process conditioned on the total; within an hour, times are uniform. Only one
    hour's arrivals are held at a time.
    """
    hours = (end - start + HOUR - 1) // HOUR
    total = math.fsum(arrival_weight(start + h * HOUR) for h in range(hours))
    remaining = tickets
    for h in range(hours):
        lo = start + h * HOUR
        weight = arrival_weight(lo)
        p = weight / total if total > 0 else 1.0
        count = remaining if h == hours - 1 else binomial(rng, remaining, p)
        total -= weight
        remaining -= count
        width = min(lo + HOUR, end) - lo
        yield from sorted(lo + int(rng.random() * width) for _ in range(count))
        if remaining == 0:
            return
