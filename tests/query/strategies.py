"""Generated tickets (with their facts) and generated conditions, from the field registry.

Conditions come from the grammar of the tree: a leaf is a field drawn from the registry, an
operator its kind allows, and a value of the shape that operator takes (drawn mostly from the
words the tickets hold, so conditions select something); leaves combine with all/any/not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from cstoolkit import query as q
from cstoolkit.errors import QueryError
from cstoolkit.model import Channel, Person, Priority, Role, Status, Ticket
from cstoolkit.store.conditions import Age, Fact

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

#: Words of texts: ASCII with LIKE's special characters, and letters only Python folds (the
#: store tests those per ticket). Not the two letters whose lower case is ASCII (the Kelvin
#: sign and the dotted capital I: docs/query.md, "SQL").
WORDS = ("refund", "Refund", "LOGIN", "a_b", "50%", "x\\y", "crash", "Überweisung", "straße",
         "中文", "émile", "re: help", "")  # fmt: skip
TAGS = ("vip", "spam", "billing", "Bug", "urgent_fix")
DOMAINS = ("acme.com", "ACME.com", "example.org")
CUSTOM_KEYS = ("plan", "seats", "flag", "modules")
NUMBERS = (-2, 0, 1, 2.5, 7, 12, 40, 1000)


def instants() -> st.SearchStrategy[datetime]:
    return st.integers(-60 * 24, 24).map(lambda h: NOW + timedelta(hours=h, minutes=30 * (h % 2)))


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(WORDS), st.sampled_from(NUMBERS), st.booleans())


def custom_values() -> st.SearchStrategy[Any]:
    return st.one_of(json_scalars(), st.lists(json_scalars(), max_size=3))


@dataclass
class Generated:
    tickets: list[Ticket]
    people: dict[str, Person]
    #: per ticket: the ticket_facts row (column -> SQL value) and the facts as Subject.extras
    facts: dict[str, dict[str, object]]
    extras: dict[str, dict[str, object]]

    def subjects(self, now: datetime = NOW) -> list[q.Subject]:
        return [
            q.Subject(t, self.people.get(t.requester_id or ""), now, dict(self.extras[t.id]))
            for t in self.tickets
        ]


def _fact_value(spec: q.FieldSpec, rnd: random.Random) -> Any:
    """A value of a fact field (None a third of the time): one seed per ticket draws them all,
    so a ticket's sixty facts cost hypothesis one choice."""
    if rnd.random() < 0.33:
        return None
    if spec.kind == "number" or spec.name == "survey.score":
        return rnd.choice(NUMBERS)
    if spec.kind == "datetime":
        h = rnd.randint(-60 * 24, 24)
        return NOW + timedelta(hours=h, minutes=30 * (h % 2))
    if spec.kind == "any":
        return rnd.random() < 0.5
    return rnd.choice(WORDS)


@st.composite
def helpdesks(draw: st.DrawFn, instance: str = "g", max_tickets: int = 8) -> Generated:
    """A few tickets, their requesters, and each ticket's facts (history, surveys, SLA)."""
    people: dict[str, Person] = {}
    for i in range(draw(st.integers(1, 4))):
        email = draw(st.none() | st.sampled_from(DOMAINS).map(lambda d, i=i: f"User{i}@{d}"))
        pid = f"{instance}:p{i}"
        people[pid] = Person(
            id=pid, instance=instance, external_id=f"p{i}", role=Role.REQUESTER, email=email,
            plan=draw(st.none() | st.sampled_from(["pro", "Enterprise", ""])),
            organization=draw(st.none() | st.sampled_from(["Acme", "Initech"])),
            language=draw(st.none() | st.sampled_from(["en", "DE"])),
        )  # fmt: skip
    fact_specs = [s for s in q.FIELDS.values() if s.needs]
    tickets, facts, extras = [], {}, {}
    for i in range(draw(st.integers(1, max_tickets))):
        created = draw(instants())
        updated = created + timedelta(hours=draw(st.integers(0, 48)))
        status = draw(st.sampled_from(list(Status)))
        custom = draw(st.dictionaries(st.sampled_from(CUSTOM_KEYS), custom_values(), max_size=3))
        t = Ticket(
            id=f"{instance}:{i}", instance=instance, external_id=str(i),
            subject=draw(st.sampled_from(WORDS)), status=status, created_at=created,
            updated_at=updated, priority=draw(st.sampled_from(list(Priority))),
            channel=draw(st.sampled_from([Channel.EMAIL, Channel.CHAT, Channel.WEB])),
            description=draw(st.sampled_from(WORDS)),
            requester_id=draw(st.none() | st.sampled_from(sorted(people))),
            assignee_id=draw(st.none() | st.sampled_from([f"{instance}:a1", f"{instance}:a2"])),
            group_id=draw(st.none() | st.just(f"{instance}:g1")),
            tags=draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True)),
            solved_at=updated if status.is_resolved else None,
            language=draw(st.none() | st.sampled_from(["en", "EN", "pt-BR"])),
            custom_fields=custom,
        )  # fmt: skip
        tickets.append(t)
        row: dict[str, object] = {}
        extra: dict[str, object] = {}
        rnd = random.Random(draw(st.integers(0, 2**32)))
        for spec in fact_specs:
            if isinstance(spec.source, Fact):
                value = _fact_value(spec, rnd)
                extra[spec.name] = value
                row[spec.source.column] = _sql(value)
            elif not isinstance(spec.source, Age):  # computed per ticket only
                extra[spec.name] = _fact_value(spec, rnd)
        for spec in fact_specs:  # ages of fact instants, as the triage engine computes them
            if isinstance(spec.source, Age) and isinstance(spec.source.of, Fact):
                at = extra[spec.age_of or ""]
                extra[spec.name] = None if at is None else (NOW - at).total_seconds() / 3600  # type: ignore[operator]
        facts[t.id], extras[t.id] = row, extra
    return Generated(tickets, people, facts, extras)


def _sql(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


# -- conditions --------------------------------------------------------------------------------

REGEXES = ("^re", "fund", "\\d+", "(?-i:LOGIN)", "ü|ß", "^$")


def _scalar(spec: q.FieldSpec) -> st.SearchStrategy[Any]:
    kind = spec.kind
    if kind == "enum":
        return st.sampled_from(spec.values or ("x",))
    if kind in ("text", "string", "id"):
        words = [w for w in WORDS if w] + ["user1@acme.com", "acme.com", "g:g1", "g:a1", "g:1",
                                          "en", "pro", "Acme", "g"]  # fmt: skip
        return st.sampled_from(words)
    if kind == "tags":
        return st.sampled_from(TAGS)
    if kind == "number":
        if spec.unit == "hours":
            return st.integers(0, 24 * 60).map(lambda h: h / 2)
        return st.sampled_from(NUMBERS)
    if kind == "datetime":
        return instants()
    return json_scalars()


def _value(spec: q.FieldSpec, op: str) -> st.SearchStrategy[Any]:
    if spec.kind == "any" and op in ("gt", "lt", "ge", "le"):
        return st.one_of(st.sampled_from(NUMBERS), st.sampled_from(WORDS))
    if op == "exists":
        return st.booleans()
    if op == "matches":
        return st.sampled_from(REGEXES)
    if op in ("in", "not_in", "contains_any"):
        return st.lists(_scalar(spec), min_size=1, max_size=3)
    if op == "between":
        if spec.kind == "enum":
            values = spec.values or ("x",)
            return st.tuples(st.integers(0, len(values) - 1), st.integers(0, len(values) - 1)).map(
                lambda p: [values[min(p)], values[max(p)]]
            )
        pair = st.tuples(_scalar(spec), _scalar(spec)).filter(lambda p: _orderable(*p))
        return pair.map(lambda p: sorted(p, key=_sort_key))
    return _scalar(spec)


def _orderable(a: object, b: object) -> bool:
    nums = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    return (
        nums
        or all(isinstance(x, str) for x in (a, b))
        or all(isinstance(x, datetime) for x in (a, b))
    )


def _sort_key(x: Any) -> Any:
    return x.timestamp() if isinstance(x, datetime) else x


def leaves(fields: list[str], ops: frozenset[str]) -> st.SearchStrategy[q.Node]:
    """A validated leaf on one of ``fields`` with one of ``ops`` (as its kind allows)."""

    @st.composite
    def leaf(draw: st.DrawFn) -> q.Node:
        spec = q.field_spec(draw(st.sampled_from(fields)))
        allowed = [o for o in q.OPERATORS if o in ops and o in _ops(spec)]
        op = draw(st.sampled_from(allowed))
        value = None if op == "changed" else draw(_value(spec, op))
        try:
            return q.cond(spec.name, op, value)
        except QueryError:  # e.g. an empty text: the language refuses it, as it should
            assume(False)
            raise

    return leaf()


def _ops(spec: q.FieldSpec) -> frozenset[str]:
    from cstoolkit.query.values import ops_for

    return ops_for(spec)


def conditions(fields: list[str], ops: frozenset[str]) -> st.SearchStrategy[q.Node]:
    return st.recursive(
        leaves(fields, ops),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda c: q.All(tuple(c))),
            st.lists(inner, max_size=3).map(lambda c: q.Any(tuple(c))),
            inner.map(q.Not),
        ),
        max_leaves=5,
    )


def custom_fields() -> list[str]:
    return [f"custom.{k}" for k in CUSTOM_KEYS]
