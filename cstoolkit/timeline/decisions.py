"""Who decided a ticket's group and priority last: the labels learned routing trains on.

A routing model learns what people finally decided, never what cst itself wrote (it would learn
its own recipes back). This module is the one place that reads that from a ticket's events:

* :func:`last_setters` finds, for the group and the priority, the latest event that set it
  (``group_change`` / ``priority_change``): when, by whom (author and role) and to what.
* :func:`decided_by_cst` says whether the ticket's current value is cst's own write: cst's
  applied pushes of that field are taken from the audit log by the caller (``(instant,
  value)``). The value is cst's when cst wrote it and no event set the field afterwards other
  than the helpdesk's echo of that very write (an event with the same value stamped within
  :data:`ECHO_WINDOW` of the push, or up to :data:`SKEW` before it for clock skew). A person
  who changed it later (to anything, after the echo window) decided it.

The initial value of a ticket without any change event was set by the helpdesk or its requester
when the ticket was created: that counts as people's decision, unless cst wrote the field
since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cstoolkit.model import EventKind
from cstoolkit.timeline.build import EventRow

_GROUP = EventKind.GROUP_CHANGE.value
_PRIORITY = EventKind.PRIORITY_CHANGE.value
#: The event kinds that set a group or a priority: a reader may fetch only these rows.
DECISION_KINDS: tuple[str, ...] = (_GROUP, _PRIORITY)
SKEW = 300  # seconds: a helpdesk's clock may stamp the echo of a push a little before it
ECHO_WINDOW = 3600  # seconds after a push in which an event with its value is its echo


@dataclass(frozen=True, slots=True)
class Setter:
    at: int
    author: str | None
    role: str | None
    value: str | None


@dataclass(frozen=True, slots=True)
class LastSetters:
    group: Setter | None
    priority: Setter | None


def last_setters(rows: Sequence[EventRow]) -> LastSetters:
    """The latest group and priority change of a ticket's events (any order)."""
    group: Setter | None = None
    priority: Setter | None = None
    for eid, _tid, kind, at, author, role, _public, _body, _old, new, _data in sorted(
        rows, key=lambda r: (r[3], r[0])
    ):
        del eid
        if kind == _GROUP:
            group = Setter(at, author, role, new)
        elif kind == _PRIORITY:
            priority = Setter(at, author, role, new)
    return LastSetters(group, priority)


def decided_by_cst(last: Setter | None, cst_writes: Sequence[tuple[int, str | None]]) -> bool:
    """Whether the field's current value is cst's own write (see the module's docstring).

    ``cst_writes``: cst's applied pushes of this field to this ticket, ``(instant, value)``;
    values compare as given (a group's external id or qualified id: the echo test compares the
    part after the instance)."""
    if not cst_writes:
        return False
    at, value = max(cst_writes, key=lambda w: w[0])
    if last is None or last.at < at - SKEW:
        return True
    return last.at <= at + ECHO_WINDOW and _same(last.value, value)


def _same(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return a.rpartition(":")[2] == b.rpartition(":")[2]
