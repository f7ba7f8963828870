"""Hypothesis strategies for files and text people write: careless, or built to hurt.

They mix what is plausible (the real keys, fields, operators and actions) with what breaks
naive code: wrong types where one value is expected, numbers past every bound, impossible
dates, deep nesting, huge repetitions, control and non-UTF-8 bytes, YAML aliases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

HOSTILE_STRINGS = (
    "", " ", "none", "null", "~", "-1", "nan", "inf", "-inf", "1e309", "9" * 40, "9" * 400,
    "2026-02-30", "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01", "2026-13-01",
    "2026-01-01T25:61:00Z", "2026-03-01T10:00:00", "2026-03-01T10:00:00+25:00",
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1900-01-01", "24:00", "25:00",
    "ab:cd", "9:0", "09:00-08:00", "mon-sun", "Mars/Olympus", "Europe/Madrid", "UTC",
    "{{ ticket.id }}", "{{", "{% for %}", "{{ 'x' * 99999999 }}", "{{ 9**9**9 }}",
    "*alias", "&anchor", "!!python/object/apply:os.system ['true']", "<<", "\x00", "\ufeff",
    "é", "(((((", "status:open", "status:", "a" * 3000, "(a+)+$", "$(reboot)", "../../etc/passwd",
    "demo:1", "a1", "a9", "general", "technical", "madrid", "standard", "out",
)  # fmt: skip

BIG_NUMBERS = (10**400, -(10**400), 2**63, 2**64, -(2**63) - 1, 10**15 + 1, 10**30, -1, 0)


def impossible_dates() -> st.SearchStrategy[str]:
    """Date and time texts, often impossible (year 0, month 13, February 30, no zone)."""
    return st.builds(
        lambda y, m, d, t: f"{y:04d}-{m:02d}-{d:02d}{t}",
        st.sampled_from([0, 1, 1899, 1900, 1970, 2026, 9998, 9999, 10000, 99999]),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["", "T00:00:00Z", "T23:59:59-05:00", "T10:00:00+14:00", "T10:00:00"]),
    )


def scalars() -> st.SearchStrategy[Any]:
    """One hostile scalar as YAML or JSON can carry it."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.sampled_from(BIG_NUMBERS),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from(HOSTILE_STRINGS),
        impossible_dates(),
        st.dates(min_value=date(1, 1, 2), max_value=date(9999, 12, 30)),
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(9999, 12, 30),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=14))]),
        ),
    )


def values() -> st.SearchStrategy[Any]:
    """A scalar, or a list or mapping where one value is expected."""
    return st.one_of(
        scalars(),
        st.lists(scalars(), max_size=3),
        st.dictionaries(st.sampled_from(["id", "a", "tier", "x"]), scalars(), max_size=2),
    )


def nested(depth: int) -> Any:
    """A list nested ``depth`` levels deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# -- the query language --------------------------------------------------------------------------

QUERY_FIELDS = (
    "status", "priority", "channel", "subject", "description", "tags", "tag", "language",
    "group", "assignee", "requester", "requester.plan", "requester.domain", "id", "created",
    "updated", "solved", "created_at", "solved_at", "hours_since_created", "custom.plan",
    "custom.seats", "sla.breached", "survey.csat", "reopens", "agent_replies", "group.name",
    "business_hours_since_created", "staus", "CUSTOM.x", "custom.", "sla.", "x" * 300,
)  # fmt: skip
QUERY_WORDS = (
    "open", "new", "pending", "solved", "closed", "high", "urgent", "low", "email", "chat",
    "vip", "billing", "none", "true", "false", "demo:1", "acme.com", "enterprise", "OPEN",
)  # fmt: skip


def query_values() -> st.SearchStrategy[str]:
    number = st.one_of(
        st.integers(-(10**6), 10**6).map(str),
        st.integers(1, 450).map(lambda n: "9" * n),
        st.sampled_from(["0.5", "-0", "1.5e3", "00", "1.", ".5", "+3"]),
    )
    age = st.builds(lambda n, u: f"{n}{u}", number, st.sampled_from("mhdwy"))
    word = st.sampled_from(QUERY_WORDS)
    quoted = st.text(max_size=12).map(lambda t: '"' + t.replace('"', '\\"') + '"')
    regex = st.sampled_from(["^re", "(a+)+", "(a|a)*", "[", "(?i)x", "a{1,99999}", "\\"])
    single = st.one_of(number, age, word, quoted, regex, impossible_dates())
    listed = st.lists(single, min_size=2, max_size=4).map(",".join)
    ranged = st.builds(lambda a, b: f"{a}..{b}", single, single)
    return st.one_of(single, listed, ranged)


def query_terms() -> st.SearchStrategy[str]:
    return st.builds(
        lambda f, s, v: f"{f}{s}{v}",
        st.sampled_from(QUERY_FIELDS),
        st.sampled_from([":", "~", ">", "<", ">=", "<=", "", "=", " : "]),
        query_values(),
    )


def queries() -> st.SearchStrategy[str]:
    """Query strings from the grammar, with hostile values and nesting."""
    return st.recursive(
        query_terms(),
        lambda inner: st.one_of(
            inner.map(lambda q: f"({q})"),
            inner.map(lambda q: f"NOT {q}"),
            inner.map(lambda q: f"-{q}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} OR {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} AND {p[1]}"),
            st.tuples(st.integers(1, 80), inner).map(lambda p: "(" * p[0] + p[1] + ")" * p[0]),
            st.tuples(st.integers(1, 80), inner).map(lambda p: "NOT " * p[0] + p[1]),
        ),
        max_leaves=6,
    )


def query_texts() -> st.SearchStrategy[str]:
    """Queries from the grammar, and random text over the language's own characters."""
    alphabet = st.sampled_from([*"()-:~<>=\"', .\\abcdefghst0129ORNOTAND", "é", "\x00"])
    return st.one_of(queries(), st.text(alphabet, max_size=60), st.text(max_size=30))


# -- recipes -------------------------------------------------------------------------------------

ACTIONS = ("set", "add_tags", "remove_tags", "assign", "escalate", "note", "reply", "notify",
           "apply_sla", "sett", "run")  # fmt: skip
TEMPLATE_TEXTS = (
    "Hello {{ requester.first_name }}", "{{ ticket.subject|upper }}", "{{ tiket.id }}",
    "{{ 'x' * 10**9 }}", "{{ 9**9**9 }}", "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'x'|center(999999999) }}", "{{ '%0999999999d' % 1 }}", "{{ 1/0 }}", "{{",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ ticket.__class__ }}",
)  # fmt: skip


def templates() -> st.SearchStrategy[Any]:
    text = st.one_of(st.sampled_from(TEMPLATE_TEXTS), st.text(max_size=20))
    return st.one_of(text, st.dictionaries(st.sampled_from(["en", "es", "x"]), text, max_size=2))


#: Conditions that broke naive code before: absolute dates in recipe check, numbers past
#: what SQLite binds, nesting past the recursion limit.
TRICKY_CONDITIONS = (
    {"created": date(2026, 2, 14)},
    "created>2026-01-01 created<2026-02-01",
    {"created_at": {"between": [date(2026, 1, 1), date(2026, 2, 1)]}},
    {"custom.seats": 10**30},
    {"custom.seats": {"gt": 2**63}},
    {"hours_since_created": {"gt": 10**400}},
    "created:9999-12-31",
    "(" * 200 + "status:open" + ")" * 200,
    "- " * 300 + "status:open",
)


def conditions() -> st.SearchStrategy[Any]:
    leaf = st.one_of(
        st.sampled_from(TRICKY_CONDITIONS),
        queries(),
        st.dictionaries(st.sampled_from(QUERY_FIELDS), values(), min_size=1, max_size=2),
        st.fixed_dictionaries(
            {
                "field": st.sampled_from(QUERY_FIELDS),
                "op": st.text(max_size=8)
                | st.sampled_from(
                    ["is", "in", "gt", "lt", "between", "matches", "exists", "changed", "contains"]
                ),
            },
            optional={"value": values()},
        ),
        scalars(),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.dictionaries(st.sampled_from(["all", "any", "not"]), inner | st.lists(inner)),
            st.lists(inner, max_size=3),
        ),
        max_leaves=6,
    )


def action_args(name: str) -> st.SearchStrategy[Any]:
    if name in ("note", "reply"):
        return templates()
    if name == "notify":
        return st.fixed_dictionaries(
            {}, optional={"channel": values(), "to": values(), "text": templates()}
        )
    if name == "set":
        return st.dictionaries(
            st.sampled_from(["priority", "status", "group", "assignee", "custom.x", "bogus"]),
            values(),
            max_size=2,
        )
    if name in ("assign", "escalate"):
        return st.one_of(
            values(),
            st.dictionaries(
                st.sampled_from(["strategy", "group", "tier", "agent", "rota", "note", "skills"]),
                values(),
                max_size=3,
            ),
        )
    return values()


def actions() -> st.SearchStrategy[Any]:
    one = st.sampled_from(ACTIONS).flatmap(lambda n: action_args(n).map(lambda a: {n: a}))
    return st.one_of(one, scalars())


def plausible_recipes() -> st.SearchStrategy[Any]:
    """A recipe that is right in every part but one condition, so the hostile part reaches
    the deeper code (analysis in recipe check, SQL and evaluation in triage run)."""
    when = st.one_of(
        st.sampled_from(TRICKY_CONDITIONS),
        queries(),
        st.dictionaries(st.sampled_from(QUERY_FIELDS[:20]), scalars(), min_size=1, max_size=2),
    )
    rule = st.fixed_dictionaries(
        {
            "name": st.sampled_from(["one", "two"]),
            "when": when,
            "then": st.sampled_from([[{"add_tags": ["gen"]}], [{"set": {"priority": "high"}}]]),
        },
        optional={"stop": st.booleans()},
    )
    return st.fixed_dictionaries(
        {
            "name": st.just("gen"),
            "rules": st.lists(rule, min_size=1, max_size=2, unique_by=lambda r: r["name"]),
        },
        optional={"query": st.one_of(st.sampled_from(TRICKY_CONDITIONS), queries())},
    )


def recipes() -> st.SearchStrategy[Any]:
    """A recipe document: plausible structure, hostile values."""
    rule = st.fixed_dictionaries(
        {},
        optional={
            "name": scalars(),
            "when": conditions(),
            "then": st.one_of(st.lists(actions(), max_size=3), scalars()),
            "stop": scalars(),
            "whne": scalars(),
        },
    )
    recipe = st.fixed_dictionaries(
        {"rules": st.one_of(st.lists(rule, min_size=1, max_size=3), values())},
        optional={
            "name": scalars(),
            "calendar": scalars(),
            "query": st.one_of(queries(), scalars()),
            "description": scalars(),
        },
    )
    # mostly plausible recipes with one hostile condition, then hostile structure, then junk
    return st.sampled_from([0, 0, 0, 1, 1, 2]).flatmap(
        lambda pick: (plausible_recipes(), recipe, values())[pick]
    )


# -- roster and recipe test files -------------------------------------------------------------


def rosters() -> st.SearchStrategy[Any]:
    shift = st.one_of(
        values(),
        st.fixed_dictionaries(
            {},
            optional={
                "days": st.one_of(
                    st.lists(st.sampled_from(["mon", "fri", "sun", "xyz"])), values()
                ),
                "start": scalars(),
                "end": scalars(),
            },
        ),
    )
    agent = st.fixed_dictionaries(
        {"id": values()},
        optional={
            "name": scalars(),
            "ids": values(),
            "groups": values(),
            "tier": scalars(),
            "skills": values(),
            "languages": values(),
            "capacity": st.one_of(values(), st.dictionaries(st.text(max_size=5), scalars())),
            "timezone": scalars(),
            "shift": shift,
            "shifts": st.one_of(
                values(), st.dictionaries(st.sampled_from(["mon", "x"]), scalars())
            ),
            "time_off": st.one_of(
                values(),
                st.lists(
                    st.builds(lambda a, b: f"{a}..{b}", impossible_dates(), impossible_dates())
                ),
            ),
            "active": scalars(),
        },
    )
    roster = st.fixed_dictionaries(
        {},
        optional={
            "timezone": scalars(),
            "groups": st.one_of(values(), st.dictionaries(st.text(max_size=5), values())),
            "tiers": st.one_of(values(), st.dictionaries(scalars().filter(_hashable), values())),
            "rotas": st.one_of(
                values(),
                st.dictionaries(
                    st.text(max_size=5),
                    st.fixed_dictionaries(
                        {"agents": values()},
                        optional={"start": scalars(), "weeks": scalars(), "timezone": scalars()},
                    ),
                ),
            ),
            "agents": st.one_of(st.lists(agent, max_size=3), values()),
        },
    )
    return st.one_of(roster, values())


def calendars() -> st.SearchStrategy[Any]:
    table = st.fixed_dictionaries(
        {},
        optional={
            "timezone": scalars(),
            "hours": st.one_of(
                values(),
                st.dictionaries(
                    st.sampled_from(["mon-fri", "sat", "daily", "xyz", "mon,wed"]),
                    st.one_of(scalars(), st.sampled_from(["09:00-18:00", "closed", "9-5"])),
                ),
            ),
            "holidays": st.one_of(values(), st.lists(impossible_dates())),
            "holidays_country": scalars(),
            "holidays_subdivision": scalars(),
        },
    )
    return st.one_of(st.dictionaries(st.sampled_from(["madrid", "x"]), table), values())


def recipe_tests() -> st.SearchStrategy[Any]:
    ticket = st.fixed_dictionaries(
        {},
        optional={
            "id": values(),
            "subject": scalars(),
            "status": scalars(),
            "priority": scalars(),
            "channel": scalars(),
            "tags": values(),
            "group": values(),
            "assignee": values(),
            "created_at": scalars(),
            "updated_at": scalars(),
            "solved_at": scalars(),
            "custom_fields": values(),
            "requester": st.one_of(
                values(), st.dictionaries(st.sampled_from(["id", "plan"]), scalars())
            ),
            "events": st.one_of(
                values(),
                st.lists(
                    st.dictionaries(
                        st.sampled_from(["kind", "at", "role", "author", "public", "old", "data"]),
                        values(),
                    ),
                    max_size=3,
                ),
            ),
        },
    )
    case = st.fixed_dictionaries(
        {},
        optional={
            "name": scalars(),
            "now": scalars(),
            "ticket": st.one_of(ticket, values()),
            "previous": values(),
            "ledger": values(),
            "state": st.one_of(
                values(),
                st.dictionaries(
                    st.sampled_from(["loads", "last"]),
                    st.one_of(values(), st.dictionaries(st.sampled_from(["a1"]), values())),
                ),
            ),
            "expect": st.one_of(
                values(),
                st.dictionaries(
                    st.sampled_from(["matched", "changes", "notes", "errors", "unchanged", "x"]),
                    values(),
                ),
            ),
        },
    )
    return st.fixed_dictionaries(
        {"recipe": st.just("r.yaml"), "cases": st.one_of(st.lists(case, max_size=3), values())},
        optional={
            "now": scalars(),
            "calendars": calendars(),
            "sla": values(),
            "instance": scalars(),
            "roster": st.one_of(st.just("roster.yaml"), scalars()),
        },
    )


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


# -- local helpdesk lines ----------------------------------------------------------------------


def helpdesk_records() -> st.SearchStrategy[Any]:
    event = st.dictionaries(
        st.sampled_from(["id", "kind", "at", "author", "role", "public", "body", "old", "new"]),
        st.one_of(values(), st.sampled_from(["comment", "created", "agent", "requester"])),
        max_size=5,
    )
    ticket = st.fixed_dictionaries(
        {
            "type": st.just("ticket"),
            "id": st.one_of(st.sampled_from(["7", "8"]), values()),
            "created_at": st.one_of(st.just("2026-02-01T10:00:00Z"), impossible_dates(), values()),
        },
        optional={
            "subject": values(),
            "status": st.one_of(st.sampled_from(["open", "OPEN", "opne"]), values()),
            "priority": values(),
            "channel": values(),
            "requester": values(),
            "assignee": values(),
            "group": values(),
            "tags": values(),
            "updated_at": st.one_of(impossible_dates(), values()),
            "solved_at": st.one_of(impossible_dates(), values()),
            "custom_fields": values(),
            "events": st.one_of(st.lists(event, max_size=3), values()),
        },
    )
    person = st.fixed_dictionaries(
        {"type": st.just("person"), "id": values()},
        optional={
            "role": values(),
            "email": values(),
            "name": values(),
            "groups": values(),
            "tier": values(),
            "capacity": values(),
            "shift": values(),
            "timezone": values(),
        },
    )
    other = st.fixed_dictionaries(
        {"type": st.sampled_from(["group", "deleted", "widget"]) | values(), "id": values()}
    )
    return st.one_of(ticket, person, other, values())
