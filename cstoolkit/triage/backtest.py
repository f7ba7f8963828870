"""``cst triage backtest``: replay a recipe over stored history, writing nothing.

Every ticket created in the period is taken **as it arrived** (status new, unassigned; priority,
group and tags as before their first change event; custom fields and requester as stored) and
run through the recipe at its creation time plus ``after`` (default 0: as a trigger would), in
order of arrival. Assignment strategies run against a simulated desk: the roster's shifts and
capacities at that moment, loads made of the tickets the recipe assigned earlier in the replay
(each released when the ticket was historically solved), round-robin state starting empty.

The result: matches per rule, fields changed, the distribution of the resulting assignments per
agent, group and tier, the load per agent per shift (assignments per shift worked, peak open
load), and projected SLA outcomes: the SLA clocks of a sample of the tickets, computed by the
one SLA engine from their real history, under the priority and policy they had and under the
ones the recipe would have given them.

Speed: conditions are evaluated column-wise (numpy): each field is read once, and a condition
on a field is evaluated once per *distinct value* of that field, then spread to every ticket;
numbers and ages are compared as arrays. Actions that only set fields (``set``, tags,
``apply_sla``) are applied column-wise too; notes, replies and notifications are counted (not
rendered). Assignments, escalations and plugin actions run ticket by ticket, in arrival order,
through the same code as ``triage run``. Fields that need a ticket's events (``sla.*``,
``survey.*``, last-reply ages, ``reopens``) are computed ticket by ticket as well (slower).

When two rules both pick agents, each is replayed in its own pass over time, so their picks do
not interleave exactly as a live run's would.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from cstoolkit import model, query, timespec
from cstoolkit.calendars import fast_clock
from cstoolkit.errors import UsageError
from cstoolkit.model import Channel, Person, Priority, Role, Status, Ticket
from cstoolkit.triage import fields as fields_mod
from cstoolkit.triage.assign import AssignState
from cstoolkit.triage.recipe import ActionCall, Recipe, Rule
from cstoolkit.triage.roster import capacity_key

if TYPE_CHECKING:
    import numpy as np

    from cstoolkit.triage.runner import Workspace

_MISSING = object()
#: Fields read straight from a column (factorized): field -> base column.
_BASE = {
    "status": "status",
    "priority": "priority",
    "channel": "channel",
    "subject": "subject",
    "description": "description",
    "tags": "tags",
    "language": "language",
    "group": "group",
    "assignee": "assignee",
    "instance": "instance",
    "id": "id",
}
_REQUESTER = {
    "requester": "email",
    "requester.email": "email",
    "requester.domain": "domain",
    "requester.plan": "plan",
    "requester.organization": "organization",
    "requester.language": "language",
}
_COLUMNAR_ACTIONS = {"set", "add_tags", "remove_tags", "apply_sla", "note", "reply", "notify"}
_COUNTED = {"note": "notes", "reply": "replies", "notify": "notifications"}


def parse_since(text: str, *, until: datetime | None = None) -> timedelta:
    """``--since``: how far back from ``until`` (default: now) the replay starts, given as an
    age (``30d``, ``12w``, ``48h``) or a start time (``2026-01-01``, UTC); docs/time.md."""
    end = until or model.now()
    with timespec.option("--since"):
        span = end - timespec.parse_time(text, now=end, base=end)
    if span <= timedelta(0):
        raise UsageError(f"--since: {text!r} is not before the end of the period ({end:%Y-%m-%d})")
    return span


def parse_until(text: str) -> datetime:
    """``--until``: the end of the replay, a time spec (a date is its midnight UTC)."""
    with timespec.option("--until"):
        return timespec.parse_time(text, now=model.now())


def parse_after(text: str) -> timedelta:
    """``--after``: how long after its arrival each ticket is evaluated (``4h``, ``2d``, 0)."""
    with timespec.option("--after"):
        return timespec.parse_timedelta(text)


# -- result ------------------------------------------------------------------------------------


@dataclass
class BacktestResult:
    recipe: str
    start: datetime
    end: datetime
    tickets: int = 0
    rule_matches: dict[str, int] = field(default_factory=dict)
    changed_tickets: int = 0
    field_changes: dict[str, int] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)
    by_agent: list[dict[str, Any]] = field(default_factory=list)
    by_group: dict[str, int] = field(default_factory=dict)
    by_tier: dict[str, int] = field(default_factory=dict)
    not_assigned: int = 0
    sla: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "start": self.start,
            "end": self.end,
            "tickets": self.tickets,
            "rule_matches": self.rule_matches,
            "changed_tickets": self.changed_tickets,
            "field_changes": self.field_changes,
            "counted": self.counted,
            "by_agent": self.by_agent,
            "by_group": self.by_group,
            "by_tier": self.by_tier,
            "not_assigned": self.not_assigned,
            "sla": self.sla,
            "errors": self.errors,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


# -- columns -----------------------------------------------------------------------------------


class Coded:
    """A factorized column: distinct values and, per row, the index of its value."""

    def __init__(self, values: Iterable[Any], n: int | None = None) -> None:
        import numpy as np

        seq = values if isinstance(values, list | tuple) else list(values)
        n = len(seq)
        first: dict[Any, int] = {}
        # the row where each value is first seen, computed in C (map over a bound method)
        where = np.fromiter(map(first.setdefault, seq, range(n)), dtype=np.int64, count=n)
        uniq, inverse = np.unique(where, return_inverse=True)
        self.values: list[Any] = [seq[i] for i in uniq.tolist()]
        self.index: dict[Any, int] = {v: k for k, v in enumerate(self.values)}
        self.codes = inverse.astype(np.int32).reshape(-1)

    def code(self, value: Any) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found

    def transform(self, fn: Callable[[Any], Any]) -> None:
        """Replace every value by ``fn(value)``, merging values that become equal."""
        import numpy as np

        old = self.values
        self.values, self.index = [], {}
        mapping = np.array([self.code(fn(v)) for v in old], dtype=np.int32)
        self.codes = mapping[self.codes] if len(old) else self.codes

    def value(self, row: int) -> Any:
        return self.values[int(self.codes[row])]

    def table(self, fn: Callable[[Any], Any], dtype: Any = bool) -> np.ndarray:
        import numpy as np

        return np.array([fn(v) for v in self.values], dtype=dtype)

    def remap(self, rows: np.ndarray, fn: Callable[[Any], Any]) -> None:
        """Replace the value of ``rows`` by ``fn(old value)``, computed once per distinct value
        among those rows."""
        import numpy as np

        if not rows.any():
            return
        old = self.codes[rows]
        present = np.unique(old)
        mapping = np.zeros(len(self.values), dtype=np.int32)
        for c in present.tolist():
            mapping[c] = self.code(fn(self.values[c]))
        self.codes[rows] = mapping[old]

    def present(self) -> list[int]:
        """The codes some row holds (values can be left behind by remapping)."""
        import numpy as np

        return list(np.unique(self.codes).tolist())


@dataclass
class _Data:
    n: int
    ids: list[str]
    created: np.ndarray  # epoch seconds
    solved: np.ndarray  # epoch seconds, NaN when never solved
    at: np.ndarray  # when the recipe runs for each ticket
    cols: dict[str, Coded]
    people: dict[str, tuple[Any, ...]]  # person id -> (id, email, organization, plan, ...)


def _load(ws: Workspace, recipe: Recipe, start: datetime, end: datetime, after: timedelta) -> _Data:
    import numpy as np

    store = ws._need_store()
    used = recipe.fields() | (query.fields_used(recipe.query) if recipe.query else frozenset())
    want_text = sorted(c for c in ("subject", "description") if c in used)
    extra = "".join(f", t.{c}" for c in want_text)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    # A large share of the table: scan it whole (sequential) rather than through the index
    # (one random access per row); arrival order is restored below.
    total = store.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    share = store.conn.execute(
        "SELECT COUNT(*) FROM tickets WHERE created_at >= ? AND created_at < ?", (lo, hi)
    ).fetchone()[0]
    column = "+t.created_at" if share > 0.2 * max(total, 1) else "t.created_at"
    rows = store.conn.execute(
        "SELECT t.id, t.instance, t.priority, t.channel, t.group_id, t.tags, t.created_at, "
        "COALESCE(t.solved_at, -1), t.language, t.requester_id, t.custom_fields"
        + extra
        + f" FROM tickets t WHERE t.deleted = 0 AND {column} >= ? AND {column} < ?",
        (lo, hi),
    ).fetchall()
    n = len(rows)
    if n == 0:
        empty = np.zeros(0)
        return _Data(0, [], empty, empty, empty, {}, {})

    def column_of(j: int) -> list[Any]:
        return list(map(itemgetter(j), rows))

    created = np.fromiter(map(itemgetter(6), rows), dtype=np.float64, count=n)
    solved = np.fromiter(map(itemgetter(7), rows), dtype=np.float64, count=n)
    solved[solved < 0] = np.nan
    order = np.argsort(created, kind="stable")
    raw_ids = column_of(0)
    ids = [raw_ids[i] for i in order.tolist()]
    first_old = _first_changes(store, start)
    instance = column_of(1)
    priority, group, tags_json = column_of(2), column_of(4), column_of(5)
    if first_old:
        for i, tid in enumerate(raw_ids):
            olds = first_old.get(tid)
            if not olds:
                continue
            if "priority_change" in olds:
                priority[i] = olds["priority_change"]
            if "group_change" in olds:
                g = olds["group_change"]
                group[i] = g if (g is None or ":" in g) else f"{instance[i]}:{g}"
            if "tags_change" in olds:
                tags_json[i] = json.dumps((olds["tags_change"] or "").split())

    def coded(values: list[Any]) -> Coded:
        col = Coded(values)
        col.codes = col.codes[order]
        return col

    tag_col = coded(tags_json)
    tag_col.transform(lambda v: tuple(json.loads(v)))
    custom = coded(column_of(10))
    custom.transform(lambda v: _freeze(json.loads(v)))
    constant_new, constant_none = Coded(["new"]), Coded([None])
    constant_new.codes = np.zeros(n, dtype=np.int32)
    constant_none.codes = np.zeros(n, dtype=np.int32)
    cols = {
        "instance": coded(instance),
        "status": constant_new,
        "priority": coded(priority),
        "channel": coded(column_of(3)),
        "group": coded(group),
        "assignee": constant_none,
        "tags": tag_col,
        "custom": custom,
        "language": coded(column_of(8)),
        "requester": coded(column_of(9)),
    }
    if "id" in used:
        cols["id"] = Coded(ids)
    for k, name in enumerate(want_text):
        cols[name] = coded(column_of(11 + k))
    created, solved = created[order], solved[order]
    people: dict[str, tuple[Any, ...]] = {}
    if any(f in _REQUESTER for f in used) or any(
        c.name in ("reply", "note", "notify", "escalate", "assign")
        for r in recipe.rules
        for c in r.then
    ):
        wanted = set(cols["requester"].values)
        for row in store.conn.execute(
            "SELECT id, email, organization, plan, language, name FROM people"
        ):
            if row[0] in wanted:
                people[row[0]] = row
    return _Data(
        n=n,
        ids=ids,
        created=created,
        solved=solved,
        at=created + after.total_seconds(),
        cols=cols,
        people=people,
    )


def _person(row: tuple[Any, ...] | None) -> Person | None:
    if row is None:
        return None
    pid = str(row[0])
    return Person(
        id=pid,
        instance=pid.partition(":")[0],
        external_id=pid.partition(":")[2],
        role=Role.REQUESTER,
        name=row[5] or "",
        email=row[1],
        organization=row[2],
        plan=row[3],
        language=row[4],
    )


def _freeze(d: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in d.items()))


def _thaw(items: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in items}


def _first_changes(store: Any, start: datetime) -> dict[str, dict[str, str | None]]:
    """The ``old`` value of each ticket's first priority, group and tags change: the value the
    ticket arrived with."""
    out: dict[str, dict[str, str | None]] = {}
    rows = store.conn.execute(
        "SELECT e.ticket_id, e.kind, e.old FROM events e WHERE e.kind IN "
        "('priority_change', 'group_change', 'tags_change') AND e.at >= ? ORDER BY e.at, e.id",
        (int(start.timestamp()),),
    )
    for tid, kind, old in rows:
        seen = out.setdefault(tid, {})
        if kind not in seen:
            seen[kind] = old
    return out


# -- evaluating conditions column-wise ---------------------------------------------------------


class _Probe:
    """Evaluates one condition on one value through the query module itself (so the meaning
    is exactly the language's), by placing the value where the field's getter reads it."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.ticket = Ticket(
            id="x:1",
            instance="x",
            external_id="1",
            subject="",
            status=Status.NEW,
            created_at=at,
            updated_at=at,
        )
        self.person = Person(id="x:r", instance="x", external_id="r", role=Role.REQUESTER)
        self.extras: dict[str, Any] = {}
        self.subject = query.Subject(self.ticket, self.person, at, self.extras, None)

    def __call__(self, cond: query.Cond, name: str, value: Any) -> bool:
        t, person = self.ticket, self.person
        if name in _BASE:
            attr = {"group": "group_id", "assignee": "assignee_id"}.get(name, name)
            old = getattr(t, attr)
            setattr(t, attr, list(value) if name == "tags" else value)
            try:
                return query.evaluate(cond, self.subject)
            finally:
                setattr(t, attr, old)
        if name in _REQUESTER:
            attr = _REQUESTER[name]
            if attr == "domain":
                person.email = f"x@{value}" if value else None
            else:
                setattr(person, attr, value)
            try:
                return query.evaluate(cond, self.subject)
            finally:
                person.email = person.organization = person.plan = person.language = None
        if name.startswith("custom."):
            t.custom_fields = {} if value is _MISSING else {name[7:]: value}
            try:
                return query.evaluate(cond, self.subject)
            finally:
                t.custom_fields = {}
        self.extras[name] = value
        try:
            return query.evaluate(cond, self.subject)
        finally:
            self.extras.clear()


_TEXT_OPS = frozenset(
    {"is", "is_not", "in", "not_in", "contains", "contains_any", "matches", "exists"}
)


def _fast_table(c: query.Cond, values: Sequence[Any]) -> list[bool] | None:
    """``c`` on each value of a text, string or tags column, the way query.evaluate does it,
    without a Subject per value (for columns with many distinct values); None when it does not
    apply (then each value is probed through query.evaluate). The test-suite checks both give
    the same answers."""
    spec = query.field_spec(c.field)
    if spec.kind == "tags":
        return _tags_table(c, values)
    if spec.kind not in ("text", "string") or c.op not in _TEXT_OPS:
        return None
    if not all(v is None or isinstance(v, str) for v in values):
        return None
    op, value = c.op, c.value
    if op == "exists":
        want = bool(value)
        return [(v is not None and v != "") == want for v in values]
    if op == "matches":
        from cstoolkit.query import search  # the same search, with its time limit

        pattern = str(value)
        return [search(pattern, v) for v in values]
    items = [str(x).lower() for x in (value if isinstance(value, tuple | list) else (value,))]
    lowered = [None if v is None else v.lower() for v in values]
    if op in ("contains", "contains_any"):
        # "one of these substrings is in it", as one alternation of literals (C speed)
        found = re.compile("|".join(re.escape(x) for x in items)).search
        return [v is not None and found(v) is not None for v in lowered]
    wanted = set(items)
    if op in ("is", "in"):
        return [v is not None and v in wanted for v in lowered]
    return [v is None or v not in wanted for v in lowered]  # is_not, not_in


def _tags_table(c: query.Cond, values: Sequence[Any]) -> list[bool] | None:
    op, value = c.op, c.value
    if op in ("is", "contains"):
        return [value in v for v in values]
    if op == "is_not":
        return [value not in v for v in values]
    if op in ("in", "contains_any", "not_in"):
        wanted = set(value if isinstance(value, tuple | list) else (value,))
        hit = [any(t in wanted for t in v) for v in values]
        return hit if op != "not_in" else [not h for h in hit]
    if op == "exists":
        return [bool(v) == bool(value) for v in values]
    return None


class _Evaluator:
    def __init__(self, data: _Data, ws: Workspace, recipe: Recipe, slow: Callable[[int], Any]):
        self.data = data
        self.ws = ws
        self.recipe = recipe
        self.probe = _Probe(datetime.fromtimestamp(float(data.at[0]) if data.n else 0, UTC))
        self.slow = slow
        self.numeric_cache: dict[str, np.ndarray] = {}
        self.derived_cache: dict[str, Coded] = {}
        self.calendar = ws.calendars.get(recipe.calendar) if recipe.calendar else None
        self._group_names: dict[str, str] | None = None

    def mask(self, node: query.Node | None) -> np.ndarray:
        import numpy as np

        n = self.data.n
        if node is None:
            return np.ones(n, dtype=bool)
        if isinstance(node, query.All):
            out = np.ones(n, dtype=bool)
            for child in node.children:
                out &= self.mask(child)
            return out
        if isinstance(node, query.Any):
            out = np.zeros(n, dtype=bool)
            for child in node.children:
                out |= self.mask(child)
            return out
        if isinstance(node, query.Not):
            return ~self.mask(node.child)
        return self.leaf(node)

    def _coded_leaf(self, c: query.Cond, col: Coded) -> np.ndarray:
        import numpy as np

        codes = col.present() if len(col.values) > 256 else list(range(len(col.values)))
        values = [col.values[k] for k in codes]
        table = _fast_table(c, values) if len(values) > 64 else None
        if table is None:
            table = [self.probe(c, c.field, v) for v in values]
        full = np.zeros(len(col.values), dtype=bool)
        full[codes] = table
        return full[col.codes]

    def derived(self, name: str) -> Coded | None:
        """A column computed from another one, value by distinct value."""
        import numpy as np

        cols = self.data.cols
        if name in _REQUESTER:
            found = self.derived_cache.get(name)
            if found is None:
                base = cols["requester"]
                people = self.data.people
                attr = _REQUESTER[name]
                slot = {"email": 1, "organization": 2, "plan": 3, "language": 4}

                def value(rid: Any) -> Any:
                    row = people.get(rid) if rid else None
                    if row is None:
                        return None
                    if attr == "domain":
                        email = row[1]
                        return email.rsplit("@", 1)[1].lower() if email and "@" in email else None
                    return row[slot[attr]]

                found = _derive(base, value)
                self.derived_cache[name] = found
            return found
        if name.startswith("custom."):
            key = name[7:]

            def custom_value(items: Any) -> Any:
                d = dict(items)
                return json.loads(d[key]) if key in d else _MISSING

            return _derive(cols["custom"], custom_value)
        if name == "group.name":
            if self._group_names is None:
                store = self.ws._need_store()
                self._group_names = store.group_names()
            names = self._group_names
            return _derive(
                cols["group"],
                lambda g: None if g is None else names.get(g) or g.partition(":")[2] or g,
            )
        if name == "assignee.tier" and self.ws.roster is not None:
            roster = self.ws.roster

            def tier(pid: Any) -> Any:
                agent = roster.by_person(pid)
                return agent.tier if agent else None

            return _derive(cols["assignee"], tier)
        del np
        return None

    def leaf(self, c: query.Cond) -> np.ndarray:
        import numpy as np

        name = c.field
        cols = self.data.cols
        if c.op in ("changed", "changed_from", "changed_to"):
            return np.zeros(self.data.n, dtype=bool)  # a replay has no previous run
        if name in _BASE and name in cols:
            return self._coded_leaf(c, cols[name])
        col = self.derived(name)
        if col is not None:
            return self._coded_leaf(c, col)
        values = self.numeric(name)
        if values is not None:
            return _numeric_op(c, values)
        return self.per_row(c)

    def numeric(self, name: str) -> np.ndarray | None:
        import numpy as np

        if name in self.numeric_cache:
            return self.numeric_cache[name]
        d = self.data
        nan = np.full(d.n, np.nan)
        out: np.ndarray | None = None
        if name in ("hours_since_created", "hours_since_updated", "hours_since_status_change"):
            out = (d.at - d.created) / 3600
        elif name in ("created_at", "updated_at"):
            out = d.created.copy()
        elif name in (
            "hours_since_solved",
            "solved_at",
            "business_hours_since_solved",
            "business_days_since_solved",
        ):
            out = nan  # a ticket arriving is not solved
        elif name in (
            "business_hours_since_created",
            "business_hours_since_updated",
            "business_hours_since_status_change",
        ):
            out = nan if self.calendar is None else _business_hours(self.calendar, d.created, d.at)
        elif name in (
            "business_days_since_created",
            "business_days_since_updated",
            "business_days_since_status_change",
        ):
            if self.calendar is not None:
                cache: dict[tuple[float, float], int] = {}
                vals = []
                for a, b in zip(d.created // 86400, d.at // 86400, strict=True):
                    key = (float(a), float(b))
                    if key not in cache:
                        cache[key] = fields_mod.business_days_between(
                            self.calendar,
                            datetime.fromtimestamp(float(a) * 86400 + 43200, UTC),
                            datetime.fromtimestamp(float(b) * 86400 + 43200, UTC),
                        )
                    vals.append(cache[key])
                out = np.array(vals, dtype=np.float64)
            else:
                out = nan
        if out is not None:
            self.numeric_cache[name] = out
        return out

    def per_row(self, c: query.Cond) -> np.ndarray:
        import numpy as np

        out = np.zeros(self.data.n, dtype=bool)
        for i in range(self.data.n):
            subject = self.slow(i)
            out[i] = query.evaluate(c, subject)
        return out


def _derive(base: Coded, fn: Callable[[Any], Any]) -> Coded:
    """A column whose value is ``fn(base value)``, computed once per distinct base value."""
    import numpy as np

    out = Coded([])
    mapping = np.array([out.code(fn(v)) for v in base.values], dtype=np.int32)
    out.codes = mapping[base.codes] if len(base.values) else base.codes.copy()
    return out


def _numeric_op(c: query.Cond, x: np.ndarray) -> np.ndarray:
    import numpy as np

    def num(v: Any) -> float:
        if isinstance(v, datetime):
            return v.timestamp()
        return float(v)

    present = ~np.isnan(x)
    op = c.op
    v: Any = c.value
    with np.errstate(invalid="ignore"):
        if op == "exists":
            return present if v else ~present
        if op == "is":
            return x == num(v)
        if op == "is_not":
            return ~(x == num(v))
        if op in ("in", "not_in"):
            hit = np.isin(x, [num(i) for i in v])
            return hit if op == "in" else ~hit
        if op == "gt":
            return x > num(v)
        if op == "lt":
            return x < num(v)
        if op == "ge":
            return x >= num(v)
        if op == "le":
            return x <= num(v)
        if op == "between":
            lo, hi = v
            return (x >= num(lo)) & (x <= num(hi))
    return np.zeros(len(x), dtype=bool)


def _business_hours(calendar: Any, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    import numpy as np

    if calendar.is_24x7:
        return (end - start) / 3600
    clock = fast_clock(calendar)
    lo, hi = float(np.min(start)), float(np.max(end))
    clock._ensure(lo)
    clock._ensure(hi)
    starts = np.array(clock.starts)
    ends = np.array(clock.ends)
    before = np.array(clock.before)

    def cum(t: np.ndarray) -> np.ndarray:
        i = np.searchsorted(starts, t, side="right") - 1
        ok = i >= 0
        j = np.where(ok, i, 0)
        value = before[j] + np.minimum(t, ends[j]) - starts[j]
        return np.where(ok, value, 0.0)

    return np.maximum(cum(end) - cum(start), 0.0) / 3600


# -- the replay --------------------------------------------------------------------------------


class _Replay:
    def __init__(self, ws: Workspace, recipe: Recipe, data: _Data) -> None:
        from cstoolkit.triage import engine

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
        self._events: dict[str, list[Any]] = {}
        ctx = engine.Context(
            now=datetime.fromtimestamp(float(data.at[0]), UTC) if data.n else model.now(),
            calendars=ws.calendars,
            policies=ws.policies,
            roster=ws.roster,
            state=self.state,
            events=self.events,
        )
        self.planner = engine.Planner([recipe], ctx)
        self.engine = engine
        self.fast = _FastAssign(ws.roster, data) if ws.roster is not None and data.n else None

    def events(self, ticket_id: str) -> list[Any]:
        if ticket_id not in self._events:
            store = self.ws._need_store()
            self._events[ticket_id] = list(store.events(ticket_id))
        return self._events[ticket_id]

    def ticket(self, i: int) -> tuple[Ticket, Person | None]:
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
            custom_fields=_thaw(c["custom"].value(i)),
        )
        rid = t.requester_id
        return t, (_person(d.people.get(rid)) if rid else None)

    def subject(self, i: int) -> query.Subject:
        t, r = self.ticket(i)
        at = datetime.fromtimestamp(float(self.data.at[i]), UTC)
        src = self.planner.sources_for(self.recipe)
        src = fields_mod.Sources(
            now=at,
            calendar=src.calendar,
            calendars=src.calendars,
            policies=src.policies,
            roster=src.roster,
            group_names=src.group_names,
            events=self.events,
        )
        return query.Subject(t, r, at, fields_mod.Extras(src, t, r), None)

    # -- actions --------------------------------------------------------------------------------

    def apply(self, rule: Rule, call: ActionCall, rows: np.ndarray, changed: np.ndarray) -> None:
        if call.name in _COUNTED:
            self.counted[_COUNTED[call.name]] += int(rows.sum())
            return
        if call.name in _COLUMNAR_ACTIONS and not (
            call.name == "set" and "assignee" in call.params
        ):
            self.columnar(call, rows, changed)
            return
        if self.fast is not None and self.fast.handles(call):
            self.fast.assign(self, call, rows, changed)
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
        if released and self.fast is not None:
            self.fast.version += 1  # room may have appeared: forget "full"
        return released

    def assigned(self, i: int, agent: Any, key: str, at: float) -> None:
        solved = float(self.data.solved[i])
        heapq.heappush(
            self.releases, (float("inf") if math.isnan(solved) else solved, agent.id, key)
        )
        self.picks[agent.id] += 1
        self.per_shift[(agent.id, _shift_start(agent, at))] += 1

    def columnar(self, call: ActionCall, rows: np.ndarray, changed: np.ndarray) -> None:
        import numpy as np

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
                col = cols[key]

                def const(_old: Any, v: Any = value) -> Any:
                    return v

                track(col, const)
            elif key == "group":
                col, inst = cols["group"], cols["instance"]
                roster = self.ws.roster
                for code, instance in enumerate(list(inst.values)):
                    sub = rows & (inst.codes == code)
                    if not sub.any():
                        continue
                    gid = (
                        value
                        if ":" in value
                        else (roster.group_id(value, instance) if roster else f"{instance}:{value}")
                    )
                    before = col.codes.copy()
                    col.codes[sub] = col.code(gid)
                    changed[sub] |= before[sub] != col.codes[sub]
            elif key.startswith("custom."):
                name = key[7:]
                frozen = json.dumps(value, sort_keys=True)

                def put(old: Any, k: str = name, f: str = frozen) -> Any:
                    return tuple(sorted({**dict(old), k: f}.items()))

                track(cols["custom"], put)
        del np

    def row_by_row(
        self, rule: Rule, call: ActionCall, rows: np.ndarray, changed: np.ndarray
    ) -> None:
        import numpy as np

        cols = self.data.cols
        roster = self.ws.roster
        for i in np.flatnonzero(rows).tolist():
            at = float(self.data.at[i])
            self.release(at)
            ticket, requester = self.ticket(i)
            run = self.engine._Run(self.planner, ticket, requester)
            run.now = datetime.fromtimestamp(at, UTC)
            run.recipe, run.rule = self.recipe, rule
            run.extras = fields_mod.Extras(
                self.planner.sources_for(self.recipe), run.ticket, requester
            )
            before_assignee = ticket.assignee_id
            run.run_action(self.recipe, rule, call)
            tp = run.finish()
            for err in tp.errors:
                self.errors[err.split(": ", 2)[-1][:80]] += 1
            after = run.ticket
            if call.name in ("assign", "escalate") and after.assignee_id == before_assignee:
                self.not_assigned += 1
            if after.assignee_id != before_assignee and roster is not None:
                agent = roster.by_person(after.assignee_id)
                if agent is not None:
                    self.assigned(i, agent, capacity_key(ticket.channel.value, agent.capacity), at)
            row_changed = False
            for _name, col, value in (
                ("status", cols["status"], after.status.value),
                ("priority", cols["priority"], after.priority.value),
                ("group", cols["group"], after.group_id),
                ("assignee", cols["assignee"], after.assignee_id),
                ("tags", cols["tags"], tuple(after.tags)),
                ("custom", cols["custom"], _freeze(after.custom_fields)),
            ):
                code = col.code(value)
                if int(col.codes[i]) != code:
                    col.codes[i] = code
                    row_changed = True
            if row_changed or tp.comments:
                changed[i] = True
            for comment in tp.comments:
                self.counted["replies" if comment.public else "notes"] += 1


class _FastAssign:
    """round_robin and least_loaded picks for the replay, equal to :func:`assign.pick` but
    with the on-shift agents of each group kept up to date as the replay's time advances (so
    a pick looks only at the agents on shift, not the whole roster)."""

    def __init__(self, roster: Any, data: _Data) -> None:

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
            clock = fast_clock(agent.shift)
            clock._ensure(t0)
            clock._ensure(t1)
            j = max(0, bisect.bisect_right(clock.starts, t0) - 1)
            while j < len(clock.starts) and clock.starts[j] <= t1:
                events.append((clock.starts[j], 1, k))
                events.append((clock.ends[j], 0, k))
                j += 1
        events.sort()
        self.events = events
        self.ptr = 0
        self.now = float("-inf")
        self.version = 0  # moves when a shift starts or ends or a ticket is released
        self.full: dict[tuple[Any, ...], int] = {}  # candidate keys found full, at version
        self.on: set[int] = set(self.always)
        self.members: dict[str | None, list[int]] = {}
        self.candidates: dict[tuple[Any, ...], list[tuple[str, str, float, int, str, int]]] = {}
        self._cap: dict[tuple[int, str], tuple[str, int | None]] = {}

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
    ) -> list[tuple[str, str, float, int, str, int]]:
        """(agent id, capacity key, capacity, order, person id, index) of the agents on shift."""
        key = (group, tier, instance, channel)
        found = self.candidates.get(key)
        if found is None:
            found = []
            agents = self.roster.agents
            for k in self.group_members(group, tier):
                agent = agents[k]
                pid = agent.person_id(instance)
                if pid is None:
                    continue
                cap_key, cap = self.capacity(k, channel)
                found.append(
                    (
                        agent.id,
                        cap_key,
                        float("inf") if cap is None else float(cap),
                        agent.order,
                        pid,
                        k,
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

    def capacity(self, k: int, channel: str) -> tuple[str, int | None]:
        found = self._cap.get((k, channel))
        if found is None:
            agent = self.roster.agents[k]
            found = (capacity_key(channel, agent.capacity), agent.capacity_for(channel))
            self._cap[(k, channel)] = found
        return found

    def assign(
        self, replay: _Replay, call: ActionCall, rows: np.ndarray, changed: np.ndarray
    ) -> None:
        import numpy as np

        params = call.params
        least = params.get("strategy") == "least_loaded"
        tier = int(params["tier"]) if params.get("tier") is not None else None
        cols = replay.data.cols
        agents = self.roster.agents
        state = replay.state
        last, load = state.last, state.load
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
        never = float("-inf")
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
            best, best_key = None, None
            for agent_id, cap_key, cap, order, _pid, k in candidates_for(
                group, tier, inst, channel
            ):
                spare = cap - load.get((agent_id, cap_key), 0)
                if spare <= 0:
                    continue
                t_last = last.get((agent_id, cap_key), never)
                rank = (-spare, t_last, order) if least else (0.0, t_last, order)
                if best_key is None or rank < best_key:
                    best, best_key = k, rank
            if best is None:
                full[ckey] = self.version
                replay.not_assigned += 1
                continue
            agent = agents[best]
            pid = agent.person_id(inst)
            old_pid = assignee_col.values[assignee_codes[i]]
            group_changed = False
            if group_param:
                gid = self.roster.group_id(str(group_param), inst)
                new_code = group_col.code(gid)
                group_changed = group_codes[i] != new_code
                group_codes[i] = new_code
            cap_key, _cap = self.capacity(best, channel)
            if pid == old_pid:  # as the generic path: no new assignment
                replay.not_assigned += 1
                if group_changed:
                    state.record(agent, cap_key, at)
                    changed[i] = True
                continue
            if status_codes[i] not in resolved:
                old = self.roster.by_person(old_pid)
                if old is not None:
                    ok = (old.id, capacity_key(channel, old.capacity))
                    load[ok] = max(0, load.get(ok, 0) - 1)
                load[(agent.id, cap_key)] = load.get((agent.id, cap_key), 0) + 1
            assignee_codes[i] = assignee_col.code(pid)
            state.record(agent, cap_key, at)
            replay.assigned(i, agent, cap_key, at)
            changed[i] = True
        if rows_list:
            assignee_col.codes = np.array(assignee_codes, dtype=np.int32)
            group_col.codes = np.array(group_codes, dtype=np.int32)


def _shift_start(agent: Any, at: float) -> float:
    """The start of the shift interval ``at`` falls in (the day, for agents without shifts)."""
    if agent.shift is None:
        return at - at % 86400
    clock = agent.__dict__.get("_clock")
    if clock is None:
        clock = agent.__dict__["_clock"] = fast_clock(agent.shift)
    clock._ensure(at)
    i = bisect.bisect_right(clock.starts, at) - 1
    return clock.starts[i] if i >= 0 else at


def run(
    ws: Workspace,
    recipe_path: str,
    *,
    since: str = "30d",
    query_text: str | None = None,
    after: timedelta = timedelta(0),
    sla_sample: int = 2000,
    end: datetime | None = None,
) -> BacktestResult:
    """Replay ``recipe_path`` over the tickets created in the last ``since``."""
    try:
        import numpy  # noqa: F401
    except ImportError:  # pragma: no cover - numpy is a dependency of the backtest
        raise UsageError("cst triage backtest needs numpy (pip install numpy)") from None
    import gc

    collecting = gc.isenabled()
    gc.disable()  # millions of small objects, no cycles: the collector would only slow it down
    try:
        return _run(ws, recipe_path, since, query_text, after, sla_sample, end)
    finally:
        if collecting:
            gc.enable()


def _run(
    ws: Workspace,
    recipe_path: str,
    since: str,
    query_text: str | None,
    after: timedelta,
    sla_sample: int,
    end: datetime | None,
) -> BacktestResult:
    import numpy as np

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    (recipe,) = ws.load([recipe_path])
    stop = end or model.now()
    start = stop - parse_since(since, until=stop)
    result = BacktestResult(recipe.name, start, stop)
    data = _load(ws, recipe, start, stop, after)
    timings["load"] = time.perf_counter() - t0
    result.tickets = data.n
    rule_tags = [f"{r.name}" for r in recipe.rules]
    result.rule_matches = dict.fromkeys(rule_tags, 0)
    if data.n == 0:
        result.timings = timings
        return result
    replay = _Replay(ws, recipe, data)
    ev = _Evaluator(data, ws, recipe, replay.subject)
    t1 = time.perf_counter()
    active = np.ones(data.n, dtype=bool)
    if query_text:
        active &= ev.mask(ws.check_query(query.parse(query_text), [recipe]))
    if recipe.query is not None:
        active &= ev.mask(recipe.query)
    considered = active.copy()
    changed = np.zeros(data.n, dtype=bool)
    initial = {k: c.codes.copy() for k, c in data.cols.items()}
    for rule in recipe.rules:
        m = active & ev.mask(rule.when)
        result.rule_matches[rule.name] = int(m.sum())
        for call in rule.then:
            replay.apply(rule, call, m, changed)
        if rule.stop:
            active &= ~m
    timings["rules"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    for name in ("status", "priority", "group", "assignee", "tags", "custom"):
        col = data.cols[name]
        diff = int((col.codes != initial[name]).sum())
        if diff:
            result.field_changes[name] = diff
    result.changed_tickets = int(changed.sum())
    result.counted = dict(replay.counted)
    result.errors = dict(replay.errors)
    result.not_assigned = replay.not_assigned
    _distribution(result, replay, data, initial, considered)
    timings["figures"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    result.sla = _sla_projection(ws, data, initial, sla_sample)
    timings["sla"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    result.timings = timings
    return result


def _distribution(
    result: BacktestResult,
    replay: _Replay,
    data: _Data,
    initial: dict[str, Any],
    considered: Any,
) -> None:
    roster = replay.ws.roster
    cols = data.cols
    moved = (cols["group"].codes != initial["group"]) & considered
    groups: Counter[str] = Counter()
    for code, count in Counter(cols["group"].codes[moved].tolist()).items():
        gid = cols["group"].values[code]
        groups[(gid or "-").partition(":")[2] or str(gid)] += count
    result.by_group = dict(groups.most_common())
    tiers: Counter[str] = Counter()
    shifts: dict[str, list[int]] = defaultdict(list)
    for (agent_id, _start), n in replay.per_shift.items():
        shifts[agent_id].append(n)
    rows = []
    for agent_id, n in replay.picks.most_common():
        agent = roster.agent(agent_id) if roster else None
        tier = agent.tier if agent else None
        tiers[f"tier {tier}" if tier else "?"] += n
        per = shifts.get(agent_id, [])
        rows.append(
            {
                "agent": agent_id,
                "name": agent.name if agent else "",
                "tier": tier,
                "groups": list(agent.groups) if agent else [],
                "assigned": n,
                "shifts": len(per),
                "per_shift_avg": round(sum(per) / len(per), 2) if per else 0.0,
                "per_shift_max": max(per) if per else 0,
            }
        )
    result.by_agent = rows
    result.by_tier = dict(tiers.most_common())


def _sla_projection(
    ws: Workspace, data: _Data, initial: dict[str, Any], limit: int
) -> dict[str, Any]:
    """SLA clocks of a systematic sample of the tickets, from their real history, under the
    priority and policy they had (as stored) and under the recipe's."""
    from cstoolkit import sla
    from cstoolkit.store import codec

    policies = ws.policies
    if not policies:
        return {"sample": 0, "note": "no [sla.*] policies configured"}
    n = data.n
    step = max(1, -(-n // limit)) if limit else 1
    rows = list(range(0, n, step))
    store = ws._need_store()
    ids = [data.ids[i] for i in rows]
    tickets: dict[str, Ticket] = {}
    events: dict[str, list[Any]] = defaultdict(list)
    for k in range(0, len(ids), 500):
        chunk = ids[k : k + 500]
        marks = ",".join("?" * len(chunk))
        for row in store.conn.execute(
            f"SELECT {codec.TICKET_COLUMNS} FROM tickets WHERE id IN ({marks})", chunk
        ):
            tickets[row[0]] = codec.row_ticket(row)
        for row in store.conn.execute(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE ticket_id IN ({marks}) "
            "ORDER BY at, id",
            chunk,
        ):
            events[row[1]].append(codec.row_event(row))
    at = data.at.max()
    when = datetime.fromtimestamp(float(at), UTC)
    when = max(when, max((t.updated_at for t in tickets.values()), default=when))
    calendars = ws.calendars
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    cols = data.cols
    for i in rows:
        t = tickets.get(data.ids[i])
        if t is None:
            continue
        rid = cols["requester"].value(i)
        requester = _person(data.people.get(rid)) if rid else None
        evs = events.get(t.id, [])
        for label, variant in (("as_stored", t), ("with_recipe", _with_recipe(t, cols, i))):
            policy = sla.policy_for(variant, requester, policies, when)
            if policy is None:
                stats[label]["no_policy"] += 1
                continue
            for s in sla.evaluate(variant, evs, policy, calendars, when):
                stats[label][f"{s.metric}.total"] += 1
                if s.breached:
                    stats[label][f"{s.metric}.breached"] += 1
    out: dict[str, Any] = {"sample": len(rows), "of": n, "as_of": when, "metrics": {}}
    for metric in sla.METRICS:
        entry = {}
        for label in ("as_stored", "with_recipe"):
            total = stats[label][f"{metric}.total"]
            breached = stats[label][f"{metric}.breached"]
            entry[label] = {
                "clocks": total,
                "breached": breached,
                "breach_rate": round(breached / total, 4) if total else None,
            }
        if entry["as_stored"]["clocks"] or entry["with_recipe"]["clocks"]:
            out["metrics"][metric] = entry
    del initial
    return out


def _with_recipe(t: Ticket, cols: dict[str, Coded], i: int) -> Ticket:
    """The stored ticket with the priority and SLA policy the recipe gave it."""
    from cstoolkit.sla import SLA_POLICY_FIELD

    custom = _thaw(cols["custom"].value(i))
    out = Ticket(**{f: getattr(t, f) for f in t.__dataclass_fields__})
    out.priority = Priority(cols["priority"].value(i))
    if SLA_POLICY_FIELD in custom:
        out.custom_fields = {**t.custom_fields, SLA_POLICY_FIELD: custom[SLA_POLICY_FIELD]}
    return out


# -- output ------------------------------------------------------------------------------------


def show(result: BacktestResult, fmt: str, *, say: Callable[[str], None]) -> None:
    from cstoolkit.output import render, write_json

    if fmt == "json":
        write_json(result.as_dict())
        return
    if fmt in ("ndjson", "csv"):
        render(records(result), RECORD_COLUMNS, fmt)
        return
    say(
        f"backtest of {result.recipe}: {result.tickets} tickets created "
        f"{result.start:%Y-%m-%d %H:%M} .. {result.end:%Y-%m-%d %H:%M} UTC, replayed as they "
        f"arrived; nothing written ({result.timings.get('total', 0):.1f}s)"
    )
    render(
        [
            {"rule": k, "matches": v, "share": _pct(v, result.tickets)}
            for k, v in result.rule_matches.items()
        ],
        ["rule", "matches", "share"],
        "table",
        title="Matches per rule",
    )
    changes = [{"what": k, "tickets": v} for k, v in result.field_changes.items()]
    changes += [{"what": k, "tickets": v} for k, v in result.counted.items()]
    if changes:
        render(changes, ["what", "tickets"], "table", title="Changes")
    if result.by_agent:
        render(
            result.by_agent,
            ["agent", "name", "tier", "assigned", "shifts", "per_shift_avg", "per_shift_max"],
            "table",
            title="Assignments per agent (load per shift)",
        )
        render(
            [{"tier": k, "assigned": v} for k, v in result.by_tier.items()],
            ["tier", "assigned"],
            "table",
            title="Per tier",
        )
    if result.by_group:
        render(
            [{"group": k, "tickets": v} for k, v in result.by_group.items()],
            ["group", "tickets"],
            "table",
            title="Tickets moved to each group",
        )
    if result.not_assigned:
        say(f"{result.not_assigned} assignment attempts found nobody on shift with capacity")
    metrics = result.sla.get("metrics") or {}
    if metrics:
        rows = []
        for metric, entry in metrics.items():
            a, b = entry["as_stored"], entry["with_recipe"]
            rows.append(
                {
                    "metric": metric,
                    "clocks": a["clocks"],
                    "breached as stored": _rate(a),
                    "breached with recipe": _rate(b),
                }
            )
        render(
            rows,
            ["metric", "clocks", "breached as stored", "breached with recipe"],
            "table",
            title=f"Projected SLA outcomes (sample of {result.sla['sample']} of "
            f"{result.sla['of']} tickets)",
        )
    elif result.sla.get("note"):
        say(f"SLA projection: {result.sla['note']}")
    for err, n in result.errors.items():
        say(f"error x{n}: {err}")


#: The columns of the backtest as records (``--format ndjson|csv``): one row per number.
RECORD_COLUMNS = ["section", "name", "metric", "value"]


def records(result: BacktestResult) -> list[dict[str, Any]]:
    """Every number of the backtest as one ``section, name, metric, value`` record."""
    out: list[dict[str, Any]] = [
        {"section": "rule", "name": k, "metric": "matches", "value": v}
        for k, v in result.rule_matches.items()
    ]
    for k, v in [*result.field_changes.items(), *result.counted.items()]:
        out.append({"section": "change", "name": k, "metric": "tickets", "value": v})
    for agent in result.by_agent:
        for metric, value in agent.items():
            if metric != "agent":
                out.append({"section": "agent", "name": agent.get("agent"), "metric": metric,
                            "value": value})  # fmt: skip
    for k, v in result.by_tier.items():
        out.append({"section": "tier", "name": k, "metric": "assigned", "value": v})
    for k, v in result.by_group.items():
        out.append({"section": "group", "name": k, "metric": "tickets", "value": v})
    for metric, entry in (result.sla.get("metrics") or {}).items():
        for case in ("as_stored", "with_recipe"):
            for key, value in entry[case].items():
                out.append({"section": "sla", "name": metric, "metric": f"{case}.{key}",
                            "value": value})  # fmt: skip
    return out


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _rate(entry: Mapping[str, Any]) -> str:
    rate = entry.get("breach_rate")
    return "-" if rate is None else f"{100 * rate:.1f}% ({entry['breached']})"


__all__ = ["BacktestResult", "parse_after", "parse_since", "parse_until", "run", "show"]
