"""The simulated desk of a backtest: which agents are on shift as the replay's time advances,
their loads (:class:`~cstoolkit.triage.assign.AssignState`, the replay's) and who has room.
Who gets a ticket among them is decided by the strategies of :mod:`cstoolkit.triage.assign`
(``CHOOSERS``), the code ``triage run`` picks with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.calendars import interval_start, open_intervals
from cstoolkit.triage.assign import CHOOSERS, Request
from cstoolkit.triage.recipe import ActionCall
from cstoolkit.triage.roster import capacity_key

if TYPE_CHECKING:
    import numpy as np

    from cstoolkit.triage.backtest.load import Data
    from cstoolkit.triage.backtest.replay import Replay


class Desk:
    """Agents on shift per group, kept up to date as the replay's time advances, for
    ``assign`` with ``round_robin``/``least_loaded`` (no fixed agent, no note)."""

    def __init__(self, roster: Any, data: Data) -> None:
        self.roster = roster
        t0, t1 = float(data.at.min()), float(data.at.max())
        events: list[tuple[float, int, int]] = []  # (time, 0 end / 1 start, agent index)
        self.always: list[int] = []
        for k, agent in enumerate(roster.agents):
            if not agent.active:
                continue
            if agent.shift is None or agent.shift.is_24x7:
                self.always.append(k)
                continue
            for begin, finish in open_intervals(agent.shift, t0, t1):
                events.append((begin, 1, k))
                events.append((finish, 0, k))
        events.sort()
        self.events = events
        self.ptr = 0
        self.now = float("-inf")
        self.version = 0  # moves when a shift starts or ends or a ticket is released
        self.full: dict[tuple[Any, ...], int] = {}  # candidate keys found full, at version
        self.on: set[int] = set(self.always)
        self.members: dict[str | None, list[int]] = {}
        self.candidates: dict[tuple[Any, ...], list[tuple[Any, tuple[str, str], float]]] = {}

    def handles(self, call: ActionCall) -> bool:
        p = call.params
        return (
            call.name == "assign"
            and isinstance(p, Mapping)
            and p.get("strategy") in ("round_robin", "least_loaded")
            and "agent" not in p
            and not p.get("note")
        )

    def advance(self, t: float) -> None:
        if t < self.now:  # time went back (a second assigning rule): start over
            self.ptr, self.on = 0, set(self.always)
            self.members.clear()
            self.candidates.clear()
            self.version += 1
        self.now = t
        events, changed = self.events, False
        while self.ptr < len(events) and events[self.ptr][0] <= t:
            _, start, k = events[self.ptr]
            if start:
                self.on.add(k)
            else:
                self.on.discard(k)
            self.ptr += 1
            changed = True
        if changed:
            self.members.clear()
            self.candidates.clear()
            self.version += 1

    def candidates_for(
        self, group: str | None, tier: int | None, instance: str, channel: str
    ) -> list[tuple[Any, tuple[str, str], float]]:
        """(agent, its load key (agent id, capacity key), capacity) of the agents on shift in
        ``group`` (and ``tier``) with an id on ``instance``, in roster order."""
        key = (group, tier, instance, channel)
        found = self.candidates.get(key)
        if found is None:
            found = []
            agents = self.roster.agents
            for k in self.group_members(group, tier):
                agent = agents[k]
                if agent.person_id(instance) is None:
                    continue
                cap = agent.capacity_for(channel)
                found.append(
                    (
                        agent,
                        (agent.id, capacity_key(channel, agent.capacity)),
                        float("inf") if cap is None else float(cap),
                    )
                )
            self.candidates[key] = found
        return found

    def group_members(self, group: str | None, tier: int | None) -> list[int]:
        key = group if tier is None else f"{group}\0{tier}"
        found = self.members.get(key)
        if found is None:
            agents = self.roster.agents
            found = sorted(
                k
                for k in self.on
                if (group is None or group in agents[k].groups)
                and (tier is None or agents[k].tier == tier)
            )
            self.members[key] = found
        return found

    def assign(
        self, replay: Replay, call: ActionCall, rows: np.ndarray, changed: np.ndarray
    ) -> None:
        import numpy as np

        params = call.params
        strategy = CHOOSERS[str(params.get("strategy"))]
        tier = int(params["tier"]) if params.get("tier") is not None else None
        cols = replay.data.cols
        state = replay.state
        load = state.load
        group_param = params.get("group")
        names: dict[int, str | None] = {}
        resolved = {cols["status"].code(v) for v in ("solved", "closed")}
        # plain lists: reading numpy scalars one by one is what made this loop slow
        at_of = replay.data.at.tolist()
        inst_col, chan_col, group_col = cols["instance"], cols["channel"], cols["group"]
        inst_codes, chan_codes = inst_col.codes.tolist(), chan_col.codes.tolist()
        group_codes, status_codes = group_col.codes.tolist(), cols["status"].codes.tolist()
        assignee_col = cols["assignee"]
        assignee_codes = assignee_col.codes.tolist()
        lang_col, tag_col = cols["language"], cols["tags"]
        full, candidates_for = self.full, self.candidates_for
        rows_list = np.flatnonzero(rows).tolist()
        for i in rows_list:
            at = at_of[i]
            replay.release(at)
            self.advance(at)
            inst = inst_col.values[inst_codes[i]]
            channel = chan_col.values[chan_codes[i]]
            group: str | None
            if group_param:
                group = str(group_param)
            else:
                gcode = group_codes[i]
                if gcode not in names:
                    names[gcode] = self.roster.group_name(group_col.values[gcode])
                group = names[gcode]
            ckey = (group, tier, inst, channel)
            if full.get(ckey) == self.version:  # nobody had room and nothing changed
                replay.not_assigned += 1
                continue
            # the desk's state: who is on shift with room (assign.eligible, kept incrementally)
            room = [
                agent
                for agent, load_key, cap in candidates_for(group, tier, inst, channel)
                if cap - load.get(load_key, 0) > 0
            ]
            if not room:
                full[ckey] = self.version
                replay.not_assigned += 1
                continue
            old_pid = assignee_col.values[assignee_codes[i]]
            req = Request(
                instance=inst,
                channel=channel,
                language=lang_col.value(i),
                tags=tag_col.value(i),
                at=datetime.fromtimestamp(at, UTC),
                group=group,
                current=self.roster.by_person(old_pid),
            )
            agent = strategy(room, req, state)  # the decision: the strategy's own code
            assert agent is not None
            pid = agent.person_id(inst)
            group_changed = False
            if group_param:
                gid = self.roster.group_id(str(group_param), inst)
                new_code = group_col.code(gid)
                group_changed = group_codes[i] != new_code
                group_codes[i] = new_code
            cap_key = capacity_key(channel, agent.capacity)
            if pid == old_pid:  # as the engine: no new assignment
                replay.not_assigned += 1
                if group_changed:
                    state.record(agent, cap_key, at)
                    changed[i] = True
                continue
            state.moved(req.current, agent, channel, status_codes[i] not in resolved)
            assignee_codes[i] = assignee_col.code(pid)
            state.record(agent, cap_key, at)
            replay.assigned(i, agent, cap_key, at)
            changed[i] = True
        if rows_list:
            assignee_col.codes = np.array(assignee_codes, dtype=np.int32)
            group_col.codes = np.array(group_codes, dtype=np.int32)


def shift_start(agent: Any, at: float) -> float:
    """The start of the shift interval ``at`` falls in (the day, for agents without shifts)."""
    if agent.shift is None:
        return at - at % 86400
    return interval_start(agent.shift, at)
