"""The tickets of a backtest's period as columns, each ticket as it arrived: status new,
unassigned; priority, group and tags as before their first change; custom fields and requester
as stored. The rows come from the store (:mod:`cstoolkit.store.backtest`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from cstoolkit import query
from cstoolkit.model import Person, Role
from cstoolkit.store import backtest as reads
from cstoolkit.triage.recipe import Recipe

if TYPE_CHECKING:
    import numpy as np

    from cstoolkit.store.backtest import PersonRow
    from cstoolkit.triage.runner import Workspace

#: Actions whose rendering needs the requester.
_NEED_PEOPLE = ("reply", "note", "notify", "escalate", "assign")
#: actions that read the ticket's text (and its requester's language)
KB_ACTIONS = ("answer_from_kb", "kb_handoff", "suggest_articles")


class Coded:
    """A factorized column the replay changes: distinct values and, per row, the index of its
    value (values may be left behind by changes; :meth:`present` lists those in use)."""

    def __init__(self, values: Iterable[Any]) -> None:
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

    def derive(self, fn: Callable[[Any], Any]) -> Coded:
        """A column whose value is ``fn(this column's value)``, computed once per distinct
        value."""
        import numpy as np

        out = Coded([])
        mapping = np.array([out.code(fn(v)) for v in self.values], dtype=np.int32)
        out.codes = mapping[self.codes] if len(self.values) else self.codes.copy()
        return out


@dataclass
class Data:
    n: int
    ids: list[str]
    created: np.ndarray  # epoch seconds
    solved: np.ndarray  # epoch seconds, NaN when never solved
    at: np.ndarray  # when the recipe runs for each ticket
    cols: dict[str, Coded]
    people: dict[str, PersonRow]
    #: whether the routing model predicts these tickets (its text columns are loaded)
    model: bool = False


def asks_the_model(recipe: Recipe, used: Iterable[str] = ()) -> bool:
    """Whether ``recipe`` (or a ``--query``'s fields ``used``) reads ``predicted.*`` or routes
    by the model."""
    names = recipe.fields() | (query.fields_used(recipe.query) if recipe.query else frozenset())
    return any(n.startswith("predicted.") for n in (*names, *used)) or any(
        call.name == "route" for rule in recipe.rules for call in rule.then
    )


def load(
    ws: Workspace,
    recipe: Recipe,
    start: datetime,
    end: datetime,
    after: timedelta,
    also: Iterable[str] = (),
    *,
    predictions: bool = False,
) -> Data:
    """The tickets created in [start, end), in arrival order, as they arrived, with the
    columns the recipe's conditions and the fields ``also`` (a ``--query``'s) read (with
    ``predictions``, what the routing model reads even when the recipe does not ask it)."""
    import numpy as np

    store = ws._need_store()
    used = recipe.fields() | (query.fields_used(recipe.query) if recipe.query else frozenset())
    used |= frozenset(also)
    model = ws.predict is not None and (predictions or asks_the_model(recipe, used))
    kb = any(call.name in KB_ACTIONS for rule in recipe.rules for call in rule.then)
    if model or kb:  # the model and the kb read the text (and the requester's language...)
        used |= frozenset(reads.TEXT_COLUMNS)
    want_text = sorted(c for c in reads.TEXT_COLUMNS if c in used)
    rows = reads.period_rows(store, start, end, want_text)
    n = len(rows)
    if n == 0:
        empty = np.zeros(0)
        return Data(0, [], empty, empty, empty, {}, {})

    def column_of(j: int) -> list[Any]:
        return list(map(itemgetter(j), rows))

    created = np.fromiter(map(itemgetter(6), rows), dtype=np.float64, count=n)
    solved = np.fromiter(map(itemgetter(7), rows), dtype=np.float64, count=n)
    solved[solved < 0] = np.nan
    order = np.argsort(created, kind="stable")
    raw_ids = column_of(0)
    ids = [raw_ids[i] for i in order.tolist()]
    first_old = reads.first_changes(store, start)
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
    custom.transform(lambda v: freeze(json.loads(v)))
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
    people: dict[str, PersonRow] = {}
    if (
        model
        or kb
        or any(f == "requester" or f.startswith("requester.") for f in used)
        or any(c.name in _NEED_PEOPLE for r in recipe.rules for c in r.then)
    ):
        people = reads.requesters(store, cols["requester"].values)
    return Data(
        n=n,
        ids=ids,
        created=created,
        solved=solved,
        at=created + after.total_seconds(),
        cols=cols,
        people=people,
        model=model,
    )


def person(row: PersonRow | None) -> Person | None:
    if row is None:
        return None
    pid = str(row.id)
    return Person(
        id=pid,
        instance=pid.partition(":")[0],
        external_id=pid.partition(":")[2],
        role=Role.REQUESTER,
        name=row.name or "",
        email=row.email,
        organization=row.organization,
        plan=row.plan,
        language=row.language,
    )


def freeze(d: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in d.items()))


def thaw(items: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in items}
