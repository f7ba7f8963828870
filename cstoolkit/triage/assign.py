"""Assignment strategies: who gets a ticket.

Every strategy picks only agents who are active, on shift at the time of the pick, have an id on
the ticket's backend instance and have spare capacity for the ticket's channel (open tickets
assigned to them on that capacity key < capacity). Ties are broken by the roster order, so the
same state always gives the same pick.

``round_robin``
    the eligible agent whose last assignment (on that capacity key) is the oldest; one never
    assigned comes first. Last-assignment times persist between runs (store table).
``least_loaded``
    the highest spare capacity (capacity minus open tickets); ties: round robin order.
``skills``
    agents holding every required skill (the rule's ``skills:``, else the ticket's tags that are
    skills someone in the roster has) and speaking the ticket's language; when nobody qualifies
    the requirement is relaxed (language first, then skills) unless ``fallback: false``; among
    those, ``then:`` (least_loaded by default).
``first_responder``
    the agent who first replied publicly on the ticket, when eligible; else ``fallback``
    (default round_robin; ``none`` leaves the ticket as it is).
``rota``
    the owner of the week of a roster rota; when unavailable, the next agent of the rota.
Tier escalation (the ``escalate`` action) picks in the next tier with ``least_loaded``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cstoolkit.triage.roster import Agent, Roster, capacity_key

STRATEGIES = ("round_robin", "least_loaded", "skills", "first_responder", "rota")
_UNRESOLVED = ("new", "open", "pending", "on_hold")


@dataclass
class AssignState:
    """What strategies read and update: last assignment times and open-ticket loads.

    ``last`` maps (agent id, capacity key) to epoch seconds; ``load`` maps (agent id, capacity
    key) to open tickets; ``rota`` maps (rota, week) to the agent that held it. ``dirty`` keeps
    what changed so a store-backed state can save just that.
    """

    last: dict[tuple[str, str], float] = field(default_factory=dict)
    load: dict[tuple[str, str], int] = field(default_factory=dict)
    rota: dict[tuple[str, int], str] = field(default_factory=dict)
    dirty_last: set[tuple[str, str]] = field(default_factory=set)
    dirty_rota: set[tuple[str, int]] = field(default_factory=set)

    def copy(self) -> AssignState:
        return AssignState(dict(self.last), dict(self.load), dict(self.rota))

    def record(self, agent: Agent, key: str, at: float) -> None:
        self.last[(agent.id, key)] = at
        self.dirty_last.add((agent.id, key))

    def moved(self, old: Agent | None, new: Agent | None, channel: str, unresolved: bool) -> None:
        """A ticket of ``channel`` moves from ``old`` to ``new``: update both loads."""
        if not unresolved:
            return
        if old is not None:
            k = (old.id, capacity_key(channel, old.capacity))
            self.load[k] = max(0, self.load.get(k, 0) - 1)
        if new is not None:
            k = (new.id, capacity_key(channel, new.capacity))
            self.load[k] = self.load.get(k, 0) + 1


@dataclass
class Pick:
    agent: Agent | None
    reason: str


@dataclass
class Request:
    """What a pick is for."""

    instance: str
    channel: str
    language: str | None
    tags: Sequence[str]
    at: datetime
    group: str | None  # roster group name; None: the whole roster
    current: Agent | None = None
    first_responder: str | None = None  # person id
    exclude_current: bool = False


def spare(agent: Agent, channel: str, state: AssignState) -> float:
    cap = agent.capacity_for(channel)
    if cap is None:
        return float("inf")
    key = capacity_key(channel, agent.capacity)
    return cap - state.load.get((agent.id, key), 0)


def eligible(
    agents: Iterable[Agent], req: Request, state: AssignState, *, ignore_shift: bool = False
) -> list[Agent]:
    t = req.at.timestamp()
    out = []
    for a in agents:
        if not a.active or a.person_id(req.instance) is None:
            continue
        if req.exclude_current and req.current is not None and a.id == req.current.id:
            continue
        if not ignore_shift and not a.on_shift(t):
            continue
        if spare(a, req.channel, state) <= 0:
            continue
        out.append(a)
    return out


def _rr_key(agent: Agent, req: Request, state: AssignState) -> tuple[float, int]:
    last = state.last.get((agent.id, capacity_key(req.channel, agent.capacity)))
    return (last if last is not None else float("-inf"), agent.order)


def by_round_robin(candidates: Sequence[Agent], req: Request, state: AssignState) -> Agent | None:
    return min(candidates, key=lambda a: _rr_key(a, req, state)) if candidates else None


def by_least_loaded(candidates: Sequence[Agent], req: Request, state: AssignState) -> Agent | None:
    if not candidates:
        return None
    return min(candidates, key=lambda a: (-spare(a, req.channel, state), *_rr_key(a, req, state)))


CHOOSERS: dict[str, Callable[[Sequence[Agent], Request, AssignState], Agent | None]] = {
    "round_robin": by_round_robin,
    "least_loaded": by_least_loaded,
}


def pick(
    strategy: str,
    params: Mapping[str, Any],
    req: Request,
    roster: Roster,
    state: AssignState,
) -> Pick:
    """Choose an agent (or None, with the reason) for ``req`` with ``strategy``."""
    pool = roster.members(req.group)
    if params.get("tier") is not None:
        pool = [a for a in pool if a.tier == int(params["tier"])]
    if not pool:
        return Pick(None, f"no agent in group {req.group!r}" if req.group else "empty roster")
    if strategy in CHOOSERS:
        agent = CHOOSERS[strategy](eligible(pool, req, state), req, state)
        return Pick(agent, strategy if agent else "no agent on shift with spare capacity")
    if strategy == "skills":
        return _skills(params, req, roster, pool, state)
    if strategy == "first_responder":
        first = roster.by_person(req.first_responder)
        if first is not None and first in eligible([first], req, state):
            return Pick(first, "first responder")
        fallback = str(params.get("fallback", "round_robin"))
        if fallback in ("none", "false"):
            return Pick(None, "first responder unavailable")
        agent = CHOOSERS[fallback](eligible(pool, req, state), req, state)
        why = "first responder unavailable" if first is not None else "no public reply yet"
        return Pick(agent, f"{why}; {fallback}")
    if strategy == "rota":
        rota = roster.rotas.get(str(params.get("rota", "")))
        if rota is None:
            return Pick(None, f"unknown rota {params.get('rota')!r}")
        week = rota.week_index(req.at)
        held = state.rota.get((rota.name, week))
        order = rota.owner_order(req.at)
        if held in order:  # keep this week's owner while available
            order.remove(held)
            order.insert(0, held)
        for agent_id in order:
            agent = roster.agent(agent_id)
            if agent is not None and eligible([agent], req, state):
                if held != agent.id:
                    state.rota[(rota.name, week)] = agent.id
                    state.dirty_rota.add((rota.name, week))
                return Pick(agent, f"rota {rota.name} week {week}")
        return Pick(None, f"nobody of rota {rota.name} on shift with spare capacity")
    return Pick(None, f"unknown strategy {strategy!r}")


def _skills(
    params: Mapping[str, Any], req: Request, roster: Roster, pool: list[Agent], state: AssignState
) -> Pick:
    explicit = params.get("skills")
    if explicit:
        needed = frozenset(str(s) for s in explicit)
    else:
        needed = frozenset(req.tags) & roster.known_skills()
    language = req.language if params.get("language", True) else None
    then = CHOOSERS[str(params.get("then", "least_loaded"))]
    steps: list[tuple[frozenset[str], str | None, str]] = [(needed, language, "skills")]
    if params.get("fallback", True):
        steps += [
            (needed, None, "skills without language"),
            (frozenset(), language, "language"),
            (frozenset(), None, "any agent of the group"),
        ]
    candidates = eligible(pool, req, state)
    for skills, lang, label in steps:
        matching = [a for a in candidates if skills <= a.skills and a.speaks(lang)]
        agent = then(matching, req, state)
        if agent is not None:
            return Pick(agent, label)
    return Pick(None, "no agent with the skills on shift with spare capacity")


def escalate_target(
    roster: Roster, current_tier: int | None, params: Mapping[str, Any]
) -> tuple[int | None, str | None]:
    """The tier and group an escalation goes to (None when already at the top)."""
    tier = int(params["tier"]) if params.get("tier") is not None else (current_tier or 1) + 1
    if tier > roster.max_tier():
        return None, None
    group = params.get("group") or roster.tiers.get(tier)
    if group is None:
        tiered = [a for a in roster.agents if a.tier == tier]
        group = tiered[0].groups[0] if tiered and tiered[0].groups else None
    return tier, group


def load_counts(rows: Iterable[tuple[str | None, str, int]], roster: Roster) -> AssignState:
    """An AssignState from (assignee person id, channel, open tickets) rows."""
    state = AssignState()
    for person_id, channel, count in rows:
        agent = roster.by_person(person_id)
        if agent is None:
            continue
        k = (agent.id, capacity_key(channel, agent.capacity))
        state.load[k] = state.load.get(k, 0) + int(count)
    return state
