"""A backtest's conditions, evaluated by the one evaluator in its columnar mode
(:func:`cstoolkit.query.columnar.mask`) over the replay's columns.

Each field is given the column the registry's getter would read ticket by ticket: the
ticket's own fields are the replay's columns; the requester's, custom fields, ``group.name``
and ``assignee.tier`` are the getter's answer for each distinct value of the column they come
from (a probe ticket holding that value); ages are arrays of the replay instants, business
time the calendar's array form (:func:`cstoolkit.calendars.business_hours_array`). Every
other field (facts from events, SLA state) has no column: the evaluator reads it ticket by
ticket on the replay's subject, whose events end at the replay instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstoolkit import calendars, query
from cstoolkit.model import Person, Role, Status, Ticket
from cstoolkit.query import columnar
from cstoolkit.triage import fields as fields_mod
from cstoolkit.triage.backtest.load import Coded, Data, thaw

if TYPE_CHECKING:
    import numpy as np

#: Fields that are a column of the replay as they are (field -> column).
_OWN = {
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
#: Fields computed from one column, once per distinct value: field -> that column.
_FROM = {
    "group.name": "group",
    "assignee.tier": "assignee",
}
_AGES = ("created", "updated")  # at arrival, updated_at is created_at


class Columns:
    """The columns of the replay's current state for :func:`query.columnar.mask`."""

    def __init__(
        self,
        data: Data,
        sources: fields_mod.Sources,
        row: Callable[[int], query.Subject],
    ) -> None:
        self.data = data
        self.sources = sources  # the recipe's: calendar, group names, roster
        self.row = row
        self.fixed: dict[str, columnar.Column] = {}  # columns no action changes

    def mask(self, node: query.Node | None) -> np.ndarray:
        import numpy as np

        if node is None:
            return np.ones(self.data.n, dtype=bool)
        table = columnar.Table(self.data.n, {}, self.row)
        for name in query.fields_used(node):
            col = self.column(name)
            if col is not None:
                table.columns[name] = col
        return columnar.mask(node, table)

    def column(self, name: str) -> columnar.Column | None:
        cols = self.data.cols
        if name in _OWN:
            own = cols.get(_OWN[name])
            return None if own is None else columnar.Coded(own.codes, own.values)
        if name in self.fixed:
            return self.fixed[name]
        spec = query.field_spec(name)
        if name == "requester" or name.startswith("requester."):
            people = self.data.people
            probe = self._probe()
            one = Person(id="x:r", instance="x", external_id="r", role=Role.REQUESTER)

            def of_requester(rid: Any) -> Any:
                row = people.get(rid) if rid else None
                if row is None:
                    probe.requester = None
                else:  # one person object refilled: the getters read only these attributes
                    one.id, one.name, one.email = row.id, row.name or "", row.email
                    one.organization, one.plan, one.language = (
                        row.organization,
                        row.plan,
                        row.language,
                    )
                    probe.requester = one
                return spec.getter(probe)

            col = self._derived(cols["requester"], of_requester)
            self.fixed[name] = col
            return col
        if name.startswith("custom."):
            return self._derived(
                cols["custom"], lambda items: spec.getter(self._probe(custom_fields=thaw(items)))
            )
        if name in _FROM:
            attr = {"group": "group_id", "assignee": "assignee_id"}[_FROM[name]]
            return self._derived(cols[_FROM[name]], lambda v: spec.getter(self._probe(**{attr: v})))
        numbers = self._numbers(name)
        if numbers is not None:
            self.fixed[name] = numbers
        return numbers

    def _derived(self, base: Coded, fn: Callable[[Any], Any]) -> columnar.Coded:
        out = base.derive(fn)
        return columnar.Coded(out.codes, out.values)

    def _probe(self, **attrs: Any) -> query.Subject:
        """A subject whose ticket holds ``attrs``, for reading one value with the field's
        getter."""
        at = datetime.fromtimestamp(0, UTC)
        ticket = Ticket(
            id="x:1",
            instance="x",
            external_id="1",
            subject="",
            status=Status.NEW,
            created_at=at,
            updated_at=at,
        )
        for key, value in attrs.items():
            setattr(ticket, key, value)
        return query.Subject(ticket, None, at, fields_mod.Extras(self.sources, ticket, None), None)

    def _numbers(self, name: str) -> columnar.Numbers | None:
        """Ages and times of a ticket as it arrives, as arrays (NaN-free: every row has one,
        or none has: a ticket arriving is not solved)."""
        import numpy as np

        d = self.data
        n = d.n
        everyone, nobody = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        calendar = self.sources.calendar
        if name in ("created_at", "updated_at"):
            micros = d.created.astype(np.int64) * 1_000_000
            return columnar.Numbers(micros, everyone)
        if name in ("solved_at", "hours_since_solved") or name.endswith("_since_solved"):
            return columnar.Numbers(np.zeros(n), nobody)
        for base in _AGES:
            if name == f"hours_since_{base}":
                return columnar.Numbers((d.at - d.created) / 3600, everyone)
            if calendar is not None and name == f"business_hours_since_{base}":
                return columnar.Numbers(
                    calendars.business_hours_array(calendar, d.created, d.at), everyone
                )
            if calendar is not None and name == f"business_days_since_{base}":
                return columnar.Numbers(
                    calendars.business_days_array(calendar, d.created, d.at), everyone
                )
        return None
