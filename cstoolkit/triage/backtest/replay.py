"""The replay: each ticket, as it arrived, through the recipe's rules at its replay instant.

Rules are evaluated column-wise (:mod:`.conditions`); actions that only set fields (``set``,
tags, ``apply_sla``) are applied to the columns; notes, replies and notifications are counted
(not rendered); assignments with ``round_robin``/``least_loaded`` are decided by the strategies
of :mod:`cstoolkit.triage.assign` on the simulated desk (:mod:`.desk`); every other action
(other strategies, escalations, plugin actions) runs ticket by ticket through the engine's own
action code (:meth:`cstoolkit.triage.engine.Planner.run_action`).
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstoolkit import model, query
from cstoolkit.model import Channel, Event, Person, Priority, Status, Ticket
from cstoolkit.triage import engine
from cstoolkit.triage import fields as fields_mod
from cstoolkit.triage.assign import AssignState
from cstoolkit.triage.backtest.desk import Desk, shift_start
from cstoolkit.triage.backtest.kb import KbReplay
from cstoolkit.triage.backtest.load import KB_ACTIONS, Coded, Data, person, thaw
from cstoolkit.triage.recipe import ActionCall, Recipe, Rule
from cstoolkit.triage.roster import capacity_key

if TYPE_CHECKING:
    import numpy as np

    from cstoolkit.triage.runner import Workspace

_COLUMNAR_ACTIONS = {"set", "add_tags", "remove_tags", "apply_sla", "note", "reply", "notify"}
_COUNTED = {"note": "notes", "reply": "replies", "notify": "notifications"}


class Replay:
    def __init__(
        self, ws: Workspace, recipe: Recipe, data: Data, *, with_model: bool = True
    ) -> None:
        """``with_model=False``: the recipe alone, as if no model were trained (predicted.*
        missing, the ``route`` action leaves every field to the rules)."""
        self.ws = ws
        self.recipe = recipe
        self.data = data
        self.state = AssignState()
        self.releases: list[tuple[float, str, str]] = []
        self.per_shift: Counter[tuple[str, float]] = Counter()
        self.picks: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.counted: Counter[str] = Counter()
        self.not_assigned = 0
        self._events: dict[str, list[Event]] = {}
        self._instant: dict[str, float] | None = None  # ticket id -> replay instant
        #: per row the ``route`` action ran on: the fields it set from the model (above its
        #: floor) and those it left to the rules
        self.routed: dict[int, tuple[list[str], list[str]]] = {}
        self.predict = ws.predict if with_model else None
        store = ws._need_store()
        self.kb = KbReplay(store)
        self.ctx = engine.Context(
            now=datetime.fromtimestamp(float(data.at[0]), UTC) if data.n else model.now(),
            calendars=ws.calendars,
            policies=ws.policies,
            roster=ws.roster,
            state=self.state,
            events=self.events,
            group_names=store.group_names(),
            people=store.person,
            predict=self.predict,
        )
        if self.predict is not None and data.model and data.n and hasattr(self.predict, "many"):
            # one matrix for every replayed ticket: predicted.* then reads the cache
            self.predict.many([self.ticket(i) for i in range(data.n)])
        self.planner = engine.Planner([recipe], self.ctx)
        self.desk = Desk(ws.roster, data) if ws.roster is not None and data.n else None

    def events(self, ticket_id: str) -> Sequence[Event]:
        """The ticket's stored events up to its replay instant (what a run then would see)."""
        found = self._events.get(ticket_id)
        if found is None:
            store = self.ws._need_store()
            if self._instant is None:
                self._instant = dict(zip(self.data.ids, self.data.at.tolist(), strict=True))
            until = self._instant.get(ticket_id, math.inf)
            found = [e for e in store.events(ticket_id) if e.at.timestamp() <= until]
            self._events[ticket_id] = found
        return found

    def sources(self, i: int) -> fields_mod.Sources:
        """The recipe's sources as of row ``i``'s replay instant."""
        src = self.planner.sources_for(self.recipe)
        return fields_mod.Sources(
            now=datetime.fromtimestamp(float(self.data.at[i]), UTC),
            calendar=src.calendar,
            calendars=src.calendars,
            policies=src.policies,
            roster=src.roster,
            group_names=src.group_names,
            events=self.events,
            predict=src.predict,
        )

    def ticket(self, i: int) -> tuple[Ticket, Person | None]:
        """Row ``i`` as a ticket, in the replay's current state."""
        d, c = self.data, self.data.cols
        at = datetime.fromtimestamp(float(d.created[i]), UTC)
        inst = c["instance"].value(i)
        tid = d.ids[i]
        t = Ticket(
            id=tid,
            instance=inst,
            external_id=tid.partition(":")[2],
            subject=c["subject"].value(i) if "subject" in c else "",
            description=c["description"].value(i) if "description" in c else "",
            status=Status(c["status"].value(i)),
            created_at=at,
            updated_at=at,
            priority=Priority(c["priority"].value(i)),
            channel=Channel(c["channel"].value(i)),
            requester_id=c["requester"].value(i),
            assignee_id=c["assignee"].value(i),
            group_id=c["group"].value(i),
            tags=list(c["tags"].value(i)),
            language=c["language"].value(i),
            custom_fields=thaw(c["custom"].value(i)),
        )
        rid = t.requester_id
        return t, (person(d.people.get(rid)) if rid else None)

    def subject(self, i: int) -> query.Subject:
        """Row ``i`` as the per-ticket evaluator sees it at its replay instant."""
        t, r = self.ticket(i)
        src = self.sources(i)
        return query.Subject(t, r, src.now, fields_mod.Extras(src, t, r), None)

    # -- actions --------------------------------------------------------------------------------

    def apply(self, rule: Rule, call: ActionCall, rows: np.ndarray, changed: np.ndarray) -> None:
        if call.name in _COUNTED:
            self.counted[_COUNTED[call.name]] += int(rows.sum())
            return
        if call.name in KB_ACTIONS:
            self.kb.apply(self, call, rows, changed)
            return
        if call.name == "route":
            self.note_route(call, rows)
        if call.name in _COLUMNAR_ACTIONS and not (
            call.name == "set" and "assignee" in call.params
        ):
            self.columnar(call, rows, changed)
            return
        if self.desk is not None and self.desk.handles(call):
            self.desk.assign(self, call, rows, changed)
            return
        self.row_by_row(rule, call, rows, changed)

    def release(self, at: float) -> bool:
        """Tickets historically solved by ``at`` no longer count against their agent."""
        released = False
        while self.releases and self.releases[0][0] <= at:
            _, agent_id, key = heapq.heappop(self.releases)
            k = (agent_id, key)
            self.state.load[k] = max(0, self.state.load.get(k, 0) - 1)
            released = True
        if released and self.desk is not None:
            self.desk.version += 1  # room may have appeared: forget "full"
        return released

    def assigned(self, i: int, agent: Any, key: str, at: float) -> None:
        solved = float(self.data.solved[i])
        heapq.heappush(
            self.releases, (float("inf") if math.isnan(solved) else solved, agent.id, key)
        )
        self.picks[agent.id] += 1
        self.per_shift[(agent.id, shift_start(agent, at))] += 1

    def columnar(self, call: ActionCall, rows: np.ndarray, changed: np.ndarray) -> None:
        cols = self.data.cols

        def track(col: Coded, fn: Callable[[Any], Any]) -> None:
            before = col.codes.copy()
            col.remap(rows, fn)
            changed[rows] |= before[rows] != col.codes[rows]

        if call.name in ("add_tags", "remove_tags"):
            tags = list(call.params)
            if call.name == "add_tags":
                track(cols["tags"], lambda old: tuple(old) + tuple(t for t in tags if t not in old))
            else:
                track(cols["tags"], lambda old: tuple(t for t in old if t not in tags))
            return
        if call.name == "apply_sla":
            from cstoolkit.sla import SLA_POLICY_FIELD

            params = {f"custom.{SLA_POLICY_FIELD}": call.params}
        else:
            params = dict(call.params)
        for key, value in params.items():
            if key in ("priority", "status"):

                def const(_old: Any, v: Any = value) -> Any:
                    return v

                track(cols[key], const)
            elif key == "group":
                col, inst = cols["group"], cols["instance"]
                for code, instance in enumerate(list(inst.values)):
                    sub = rows & (inst.codes == code)
                    if not sub.any():
                        continue
                    gid = self.group_id(value, instance)
                    before = col.codes.copy()
                    col.codes[sub] = col.code(gid)
                    changed[sub] |= before[sub] != col.codes[sub]
            elif key.startswith("custom."):
                name = key[7:]
                frozen = json.dumps(value, sort_keys=True)

                def put(old: Any, k: str = name, f: str = frozen) -> Any:
                    return tuple(sorted({**dict(old), k: f}.items()))

                track(cols["custom"], put)

    def group_id(self, value: str, instance: str) -> str:
        """A group named in a recipe as the id it has on ``instance``."""
        if ":" in value:
            return value
        roster = self.ws.roster
        return roster.group_id(value, instance) if roster else f"{instance}:{value}"

    def prediction(self, i: int) -> dict[str, Any]:
        """The model's prediction of row ``i`` (empty without a model)."""
        last = getattr(self.predict, "last", None)
        return dict(last.get(self.data.ids[i]) or {}) if last else {}

    def note_route(self, call: ActionCall, rows: np.ndarray) -> None:
        """Which fields ``route`` takes from the model on each of ``rows`` (the confidence at
        or above its floor, as the action decides) and which it leaves to the rules."""
        import numpy as np

        floor = call.params["floor"]
        for i in np.flatnonzero(rows).tolist():
            got = self.prediction(i)
            model, rules = self.routed.setdefault(i, ([], []))
            for name in call.params["fields"]:
                conf = got.get(f"predicted.{name}.confidence")
                if got.get(f"predicted.{name}") is not None and conf is not None and conf >= floor:
                    model.append(name)
                else:
                    rules.append(name)

    def row_by_row(
        self, rule: Rule, call: ActionCall, rows: np.ndarray, changed: np.ndarray
    ) -> None:
        """``call`` on each of ``rows``, in arrival order, through the engine's action code."""
        import numpy as np

        from cstoolkit.triage.backtest.load import freeze

        cols = self.data.cols
        roster = self.ws.roster
        for i in np.flatnonzero(rows).tolist():
            at = float(self.data.at[i])
            self.release(at)
            ticket, requester = self.ticket(i)
            before_assignee = ticket.assignee_id
            tp, after = self.planner.run_action(
                ticket, requester, self.recipe, rule, call, self.sources(i)
            )
            for err in tp.errors:
                self.errors[err.split(": ", 2)[-1][:80]] += 1
            if call.name in ("assign", "escalate") and after.assignee_id == before_assignee:
                self.not_assigned += 1
            if after.assignee_id != before_assignee and roster is not None:
                agent = roster.by_person(after.assignee_id)
                if agent is not None:
                    self.assigned(i, agent, capacity_key(ticket.channel.value, agent.capacity), at)
            row_changed = False
            for col, value in (
                (cols["status"], after.status.value),
                (cols["priority"], after.priority.value),
                (cols["group"], after.group_id),
                (cols["assignee"], after.assignee_id),
                (cols["tags"], tuple(after.tags)),
                (cols["custom"], freeze(after.custom_fields)),
            ):
                code = col.code(value)
                if int(col.codes[i]) != code:
                    col.codes[i] = code
                    row_changed = True
            if row_changed or tp.comments:
                changed[i] = True
            for comment in tp.comments:
                self.counted["replies" if comment.public else "notes"] += 1
