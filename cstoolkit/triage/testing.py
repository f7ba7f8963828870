"""``cst recipe test``: recipe tests written next to the recipe.

``recipes/vip.test.yaml`` tests ``recipes/vip.yaml``: each case is a ticket fixture and the
actions expected, so a support lead can change a rule and see what it does before it touches a
ticket. The format (docs/recipes.md#tests)::

    recipe: vip.yaml                 # default: this file's name without .test
    now: 2026-03-02T10:00:00Z
    roster: roster.example.yaml      # optional, relative to this file
    calendars: {madrid: {timezone: Europe/Madrid, hours: {mon-fri: "09:00-18:00"}}}
    sla: {standard: {calendar: madrid, first_reply: {normal: 8h}}}
    cases:
      - name: enterprise low becomes high
        ticket: {subject: Help, priority: low, requester: {plan: enterprise}}
        expect:
          matched: [enterprise is high]
          changes: {priority: high, tags: {add: [vip]}}
          notes: ["Enterprise"]

Tests need no store, no network and no config: everything comes from the file (the workspace's
calendars, SLA policies and roster are used when the file names none; ``knowledge:`` articles
go into a throwaway in-memory store for the knowledge-base actions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cstoolkit import timespec
from cstoolkit.errors import ConfigError
from cstoolkit.model import (
    Channel,
    Event,
    EventKind,
    Person,
    Priority,
    Role,
    Status,
    Ticket,
    utc,
)
from cstoolkit.textfiles import Doc, FileError, load_yaml
from cstoolkit.triage import engine
from cstoolkit.triage.assign import AssignState
from cstoolkit.triage.recipe import Env, Recipe, load_recipe
from cstoolkit.triage.roster import Roster, load_roster

_TOP = ("recipe", "now", "roster", "calendars", "sla", "instance", "knowledge", "cases")
_CASE = ("name", "ticket", "previous", "ledger", "state", "now", "predicted", "expect")
#: what a case's ``predicted:`` may say (the routing model's answer for its ticket)
_PREDICTED = ("group", "priority", "tags", "language")
_EXPECT = (
    "matched",
    "changes",
    "unchanged",
    "notes",
    "replies",
    "notifications",
    "skipped",
    "errors",
)
DEFAULT_NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


@dataclass
class CaseResult:
    name: str
    line: int
    failures: list[str] = field(default_factory=list)
    plan: engine.TicketPlan | None = None
    #: the case's ``predicted.*`` values (shown beside its result)
    predicted: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "line": self.line,
            "ok": self.ok,
            "failures": self.failures,
            "matched": self.plan.matched if self.plan else [],
            "changes": self.plan.describe_changes() if self.plan else [],
            "predicted": self.predicted,
        }


@dataclass
class RecipeTestReport:
    test_file: str
    recipe: str
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.cases)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if not c.ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "test_file": self.test_file,
            "recipe": self.recipe,
            "passed": len(self.cases) - self.failed,
            "failed": self.failed,
            "cases": [c.as_dict() for c in self.cases],
        }


def tests_path_for(path: str | Path) -> Path:
    """``vip.yaml`` -> ``vip.test.yaml``; a test file is returned as is."""
    p = Path(path)
    if p.name.endswith((".test.yaml", ".test.yml")):
        return p
    return p.with_name(p.name.rsplit(".", 1)[0] + ".test.yaml")


def _time(value: Any, doc: Doc, at: tuple[Any, ...]) -> datetime:
    if isinstance(value, datetime):
        parsed = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        try:
            parsed = timespec.parse_time(value, relative=False, naive=False, ages=False)
        except timespec.TimeSpecError as exc:
            raise doc.error(at, str(exc)) from None
    try:
        return utc(parsed)
    except ValueError as exc:
        raise doc.error(at, str(exc)) from None


def _text(doc: Doc, at: tuple[Any, ...], value: Any, what: str = "a text") -> str:
    """One value written as text (a number is fine; a list or mapping is not)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise doc.error(at, f"expected {what}, got {value!r}")
    return str(value)


def _typed(
    doc: Doc, at: tuple[Any, ...], value: Any, kind: type | tuple[type, ...], what: str
) -> Any:
    if value is not None and not isinstance(value, kind):
        raise doc.error(at, f"expected {what}, got {value!r}")
    return value


def _predicted(doc: Doc, at: tuple[Any, ...], value: Any, instance: str) -> dict[str, Any] | None:
    """A case's ``predicted: {group: billing, group.confidence: 0.92, tags: [refund]}`` as the
    ``predicted.*`` values of its ticket (bare group names qualified like the ticket's)."""
    value = _typed(
        doc, at, value, Mapping, "a mapping such as {group: billing, group.confidence: 0.9}"
    )
    if value is None:
        return None
    out: dict[str, Any] = {}
    for key, given in value.items():
        v: Any = given
        target, _, suffix = str(key).partition(".")
        if target not in _PREDICTED or suffix not in ("", "confidence"):
            names = ", ".join(f"{t}, {t}.confidence" for t in _PREDICTED)
            raise doc.error((*at, key), f"unknown prediction '{key}' ({names})", key=True)
        if suffix:
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                raise doc.error((*at, key), "a confidence is a number between 0 and 1")
            v = float(v)
        elif target == "group" and isinstance(v, str) and ":" not in v:
            v = f"{instance}:{v}"
        out[f"predicted.{key}"] = v
    return out


def run_tests(
    path: str | Path,
    *,
    env: Env | None = None,
    calendars: Mapping[str, Any] | None = None,
    policies: Sequence[Any] | None = None,
    roster: Roster | None = None,
) -> RecipeTestReport:
    """Run every case of a recipe test file (or of the test file next to a recipe)."""
    from cstoolkit import sla
    from cstoolkit.calendars import load_calendars

    test_path = tests_path_for(path)
    doc = load_yaml(test_path)
    data = doc.data
    if not isinstance(data, Mapping):
        raise doc.error((), "a recipe test file is a mapping with cases: [...]")
    for key in data:
        if key not in _TOP:
            raise doc.error((key,), f"unknown key '{key}'", key=True)
    base = test_path.parent
    recipe_name = data.get("recipe") or test_path.name.replace(".test.", ".")
    recipe_path = base / _text(doc, ("recipe",), recipe_name, "a file name")
    if data.get("calendars") is not None:
        try:
            calendars = load_calendars(data["calendars"])
        except ConfigError as exc:
            raise doc.field_error(exc.field or "calendars", exc.bare_message) from None
    calendars = dict(calendars or load_calendars(None))
    if data.get("sla") is not None:
        if not isinstance(data["sla"], Mapping):
            raise doc.error(("sla",), "sla is a table name -> policy")
        try:
            policies = sla.load_policies({"sla": data["sla"], "calendars": dict(calendars)})
        except ConfigError as exc:
            raise doc.field_error(exc.field or "sla", exc.bare_message) from None
    policies = list(policies or [])
    if data.get("roster") is not None:
        roster = load_roster(base / _text(doc, ("roster",), data["roster"], "a file name"))
    env = env or Env()
    env = Env(
        actions=env.actions,
        calendars=list(calendars),
        policies=[p.name for p in policies],
        channels=env.channels,
        roster=roster,
    )
    recipe = load_recipe(recipe_path, env)
    now = _time(data["now"], doc, ("now",)) if data.get("now") else DEFAULT_NOW
    instance = _text(doc, ("instance",), data.get("instance") or "demo", "an instance name")
    report = RecipeTestReport(str(test_path), str(recipe_path))
    cases = data.get("cases")
    if not isinstance(cases, list) or not cases:
        raise doc.error(("cases",) if "cases" in data else (), "a test file needs cases: [...]")
    from cstoolkit.knowledge.fixtures import memory_index

    store, knowledge = memory_index(doc, data.get("knowledge"), DEFAULT_NOW)
    try:
        for i, case in enumerate(cases):
            report.cases.append(
                _run_case(
                    doc, i, case, recipe, now, instance, calendars, policies, roster, knowledge
                )
            )
    finally:
        if store is not None:
            store.close()
    return report


def _run_case(
    doc: Doc,
    i: int,
    case: Any,
    recipe: Recipe,
    now: datetime,
    instance: str,
    calendars: Mapping[str, Any],
    policies: Sequence[Any],
    roster: Roster | None,
    knowledge: Any = None,
) -> CaseResult:
    at: tuple[Any, ...] = ("cases", i)
    if not isinstance(case, Mapping):
        raise doc.error(at, "a case is a mapping with ticket: and expect:")
    for key in case:
        if key not in _CASE:
            raise doc.error((*at, key), f"unknown key '{key}'", key=True)
    name = _text(doc, (*at, "name"), case.get("name") or f"case {i + 1}")
    result = CaseResult(name, doc.pos(at)[0])
    when = _time(case["now"], doc, (*at, "now")) if case.get("now") else now
    ticket, requester, events = _fixture(
        doc, (*at, "ticket"), case.get("ticket") or {}, i, instance, when
    )
    state = _state(doc, (*at, "state"), case.get("state") or {}, roster)
    previous = _typed(
        doc, (*at, "previous"), case.get("previous"), Mapping, "a mapping field -> value"
    )
    ledger = _typed(doc, (*at, "ledger"), case.get("ledger") or [], list, "a list of ledger keys")
    done = {_text(doc, (*at, "ledger", n), key) for n, key in enumerate(ledger)}
    predicted = _predicted(doc, (*at, "predicted"), case.get("predicted"), instance)
    ctx = engine.Context(
        now=when,
        calendars=calendars,
        policies=policies,
        roster=roster,
        state=state,
        predict=(lambda _t, _r: predicted) if predicted is not None else None,
        events=lambda _tid: events,
        previous=lambda _r, _t: dict(previous) if isinstance(previous, Mapping) else None,
        ledger_seen=lambda key: key in done or any(key.startswith(d) for d in done),
        knowledge=knowledge,
    )
    planner = engine.Planner([recipe], ctx)
    tp = planner.plan_ticket_safely(ticket, requester)
    result.plan = tp
    result.predicted = predicted
    expect = case.get("expect")
    if not isinstance(expect, Mapping):
        raise doc.error(at, "a case needs expect: {matched: [...], changes: {...}}")
    for key in expect:
        if key not in _EXPECT:
            raise doc.error((*at, "expect", key), f"unknown expectation '{key}'", key=True)
    _check_expect(doc, (*at, "expect"), expect)
    result.failures = _compare(expect, tp, ticket, roster)
    if tp.errors and "errors" not in expect:
        result.failures += [f"error: {e}" for e in tp.errors]
    return result


def _check_expect(doc: Doc, at: tuple[Any, ...], expect: Mapping[str, Any]) -> None:
    """The shape of each expectation (docs/recipes.md#tests), before comparing anything."""
    lists = {"matched": "a list of rule names"}
    for key, what in lists.items():
        _typed(doc, (*at, key), expect.get(key), list, what)
    _typed(doc, (*at, "changes"), expect.get("changes"), Mapping, "a mapping field -> value")
    _typed(doc, (*at, "unchanged"), expect.get("unchanged"), bool, "true or false")
    for key in ("notes", "replies", "notifications", "skipped", "errors"):
        _typed(doc, (*at, key), expect.get(key), (int, list), "a count or a list of texts")
    changes = expect.get("changes") or {}
    tags = changes.get("tags")
    if isinstance(tags, Mapping):
        for part in ("add", "remove"):
            _typed(doc, (*at, "changes", "tags", part), tags.get(part), list, "a list of tags")


def _first_event_time(doc: Doc, at: tuple[Any, ...], raw: Mapping[str, Any]) -> datetime | None:
    """The earliest ``at`` of the case's events: a ticket without ``created_at`` was created
    then at the latest (an event never comes before its ticket's creation)."""
    events = raw.get("events")
    if not isinstance(events, list):
        return None
    times = [
        _time(ev["at"], doc, (*at, "events", n, "at"))
        for n, ev in enumerate(events)
        if isinstance(ev, Mapping) and ev.get("at")
    ]
    return min(times) if times else None


def _fixture(
    doc: Doc, at: tuple[Any, ...], raw: Any, i: int, instance: str, now: datetime
) -> tuple[Ticket, Person | None, list[Event]]:
    if not isinstance(raw, Mapping):
        raise doc.error(at, "ticket is a mapping (subject, status, priority, ...)")
    ext = _text(doc, (*at, "id"), raw.get("id") or (i + 1), "one id")
    tid = f"{instance}:{ext}"
    created = (
        _time(raw["created_at"], doc, (*at, "created_at"))
        if raw.get("created_at")
        else _first_event_time(doc, at, raw) or (now - timedelta(hours=1))
    )

    def q(value: Any, key: tuple[Any, ...]) -> str | None:
        if value in (None, ""):
            return None
        text = _text(doc, key, value, "one id")
        return text if ":" in text else f"{instance}:{text}"

    def enum(
        cls: Any, key: str, default: str, where: tuple[Any, ...], src: Mapping[str, Any]
    ) -> Any:
        value = src.get(key, default)
        try:
            return cls(value)
        except (ValueError, TypeError):
            allowed = ", ".join(m.value for m in cls)
            raise doc.error((*where, key), f"{key}: {value!r} is not one of {allowed}") from None

    status = enum(Status, "status", "new", at, raw)
    priority = enum(Priority, "priority", "normal", at, raw)
    channel = enum(Channel, "channel", "email", at, raw)
    events: list[Event] = []
    req_raw = _typed(doc, (*at, "requester"), raw.get("requester") or {}, Mapping, "a mapping")
    requester = None
    if req_raw:
        r_at = (*at, "requester")
        rid = _text(doc, (*r_at, "id"), req_raw.get("id", "c" + ext), "one id")
        texts = {
            k: None if req_raw.get(k) is None else _text(doc, (*r_at, k), req_raw[k])
            for k in ("name", "email", "organization", "plan", "language")
        }
        requester = Person(
            id=f"{instance}:{rid}",
            instance=instance,
            external_id=rid,
            role=Role.REQUESTER,
            name=texts["name"] or "",
            email=texts["email"],
            organization=texts["organization"],
            plan=texts["plan"],
            language=texts["language"],
        )
    raw_events = raw.get("events")
    if raw_events is None:
        raw_events = [{"kind": "created", "at": created, "role": "requester", "public": True}]
    _typed(doc, (*at, "events"), raw_events, list, "a list of events")
    for n, ev in enumerate(raw_events):
        where = (*at, "events", n)
        if not isinstance(ev, Mapping):
            raise doc.error(where, "an event is a mapping (kind, at, role, ...)")
        kind = enum(EventKind, "kind", "comment", where, ev)
        role = enum(Role, "role", "", where, ev) if ev.get("role") else None
        author = ev.get("author")
        if author is None and role == Role.REQUESTER and requester is not None:
            author = requester.id
        events.append(
            Event(
                id=f"{tid}-{n + 1}",
                ticket_id=tid,
                kind=kind,
                at=_time(ev.get("at", created), doc, (*where, "at")),
                author_id=q(author, (*where, "author")),
                author_role=role,
                public=_typed(
                    doc,
                    (*where, "public"),
                    ev.get("public", True if kind == EventKind.CREATED else None),
                    bool,
                    "true or false",
                ),
                body=None if ev.get("body") is None else _text(doc, (*where, "body"), ev["body"]),
                old=None if ev.get("old") is None else _text(doc, (*where, "old"), ev["old"]),
                new=None if ev.get("new") is None else _text(doc, (*where, "new"), ev["new"]),
                data=dict(
                    _typed(doc, (*where, "data"), ev.get("data") or {}, Mapping, "a mapping")
                ),
            )
        )
    updated = (
        _time(raw["updated_at"], doc, (*at, "updated_at"))
        if raw.get("updated_at")
        else max([created, *(e.at for e in events)])
    )
    solved = _time(raw["solved_at"], doc, (*at, "solved_at")) if raw.get("solved_at") else None
    tags = _typed(doc, (*at, "tags"), raw.get("tags") or [], list, "a list of tags")
    custom = _typed(
        doc, (*at, "custom_fields"), raw.get("custom_fields") or {}, Mapping, "a mapping"
    )
    language = raw.get("language")
    ticket = Ticket(
        id=tid,
        instance=instance,
        external_id=ext,
        subject=_text(doc, (*at, "subject"), raw.get("subject", "")),
        description=_text(doc, (*at, "description"), raw.get("description", "")),
        status=status,
        created_at=created,
        updated_at=updated,
        priority=priority,
        channel=channel,
        requester_id=requester.id if requester else None,
        assignee_id=q(raw.get("assignee"), (*at, "assignee")),
        group_id=q(raw.get("group"), (*at, "group")),
        tags=[_text(doc, (*at, "tags", n), t, "a tag") for n, t in enumerate(tags)],
        solved_at=solved,
        language=(None if language is None else _text(doc, (*at, "language"), language))
        or (requester.language if requester else None),
        custom_fields={str(k): v for k, v in custom.items()},
    )
    return ticket, requester, events


def _state(doc: Doc, at: tuple[Any, ...], raw: Any, roster: Roster | None) -> AssignState:
    """``state: {loads: {a1: {email: 3}}, last: {a1: {email: 2026-03-02T08:00:00Z}}}``."""
    state = AssignState()
    if not isinstance(raw, Mapping):
        raise doc.error(at, "state is {loads: {...}, last: {...}}")
    for part in ("loads", "last"):
        table = _typed(doc, (*at, part), raw.get(part) or {}, Mapping, "a mapping agent -> {...}")
        for agent, per in table.items():
            where = (*at, part, agent)
            for key, value in _typed(doc, where, per or {}, Mapping, "a mapping").items():
                if part == "loads":
                    if (
                        isinstance(value, bool)
                        or not isinstance(value, int)
                        or not 0 <= value <= 10**6
                    ):
                        raise doc.error((*where, key), f"expected a count, got {value!r}")
                    state.load[(str(agent), str(key))] = value
                else:
                    state.last[(str(agent), str(key))] = _time(
                        value, doc, (*where, key)
                    ).timestamp()
    return state


def _compare(
    expect: Mapping[str, Any], tp: engine.TicketPlan, ticket: Ticket, roster: Roster | None
) -> list[str]:
    fails: list[str] = []
    rules = [m.split("/", 1)[1] for m in tp.matched]
    if "matched" in expect:
        want = list(expect["matched"] or [])
        if rules != want:
            fails.append(f"matched: expected {want}, got {rules}")
    changed = tp.field_changes()
    if expect.get("unchanged") and (changed or tp.comments):
        fails.append(f"expected no change, got: {'; '.join(tp.describe_changes())}")
    if "changes" in expect:
        want_changes = dict(expect["changes"] or {})
        seen = set()
        for raw_name, value in want_changes.items():
            name = str(raw_name)
            seen.add(name)
            if name == "tags":
                fails += _compare_tags(value, tp)
                continue
            got = changed.get(name)
            new = got[1] if got else None
            expected = _qualify(name, value, ticket, roster)
            if got is None:
                fails.append(f"{name}: expected -> {value}, but it did not change")
            elif new != expected:
                fails.append(f"{name}: expected -> {value}, got -> {_short(name, new)}")
        extra = [k for k in changed if k not in seen]
        if extra:
            fails.append(
                "unexpected changes: "
                + "; ".join(
                    f"{k}: {_short(k, changed[k][0])} -> {_short(k, changed[k][1])}" for k in extra
                )
            )
    for key, public in (("notes", False), ("replies", True)):
        if key in expect:
            bodies = [c.body for c in tp.comments if c.public == public]
            fails += _compare_texts(key, expect[key], bodies)
    if "notifications" in expect:
        fails += _compare_texts(
            "notifications", expect["notifications"], [n.text for n in tp.notifications]
        )
    if "skipped" in expect:
        fails += _compare_texts("skipped", expect["skipped"], tp.skipped)
    if "errors" in expect:
        fails += _compare_texts("errors", expect["errors"], tp.errors)
    return fails


def _qualify(name: str, value: Any, ticket: Ticket, roster: Roster | None) -> Any:
    if name == "assignee" and isinstance(value, str) and ":" not in value:
        agent = roster.agent(value) if roster else None
        if agent is not None:
            return agent.person_id(ticket.instance)
        return f"{ticket.instance}:{value}"
    if name == "group" and isinstance(value, str) and ":" not in value:
        if roster is not None:
            return roster.group_id(value, ticket.instance)
        return f"{ticket.instance}:{value}"
    return value


def _short(name: str, value: Any) -> Any:
    if name in ("assignee", "group") and isinstance(value, str):
        return value.partition(":")[2] or value
    return value


def _compare_tags(want: Any, tp: engine.TicketPlan) -> list[str]:
    if isinstance(want, list):
        got = sorted(tp.after["tags"])
        expected = sorted(str(t) for t in want)
        return [] if got == expected else [f"tags: expected {expected}, got {got}"]
    if not isinstance(want, Mapping):
        return ["tags: expected {add: [...], remove: [...]} or the full list"]
    fails = []
    for key, got in (("add", tp.added_tags()), ("remove", tp.removed_tags())):
        expected = sorted(str(t) for t in want.get(key) or [])
        if sorted(got) != expected:
            fails.append(f"tags {key}: expected {expected}, got {sorted(got)}")
    return fails


def _compare_texts(label: str, want: Any, got: Sequence[str]) -> list[str]:
    if isinstance(want, bool | int):
        n = int(want)
        return [] if len(got) == n else [f"{label}: expected {n}, got {len(got)}"]
    if isinstance(want, list):
        fails = []
        for text in want:
            if not any(str(text).lower() in g.lower() for g in got):
                fails.append(f"{label}: none contains {text!r} (got {list(got)})")
        return fails
    return [f"{label}: expected a number or a list of texts"]


def format_report(report: RecipeTestReport) -> list[str]:
    lines = []
    for c in report.cases:
        shown = ""
        if c.predicted:
            shown = (
                " [model: "
                + ", ".join(f"{k.removeprefix('predicted.')} {v}" for k, v in c.predicted.items())
                + "]"
            )
        if c.ok:
            lines.append(f"PASS {c.name}{shown}")
            if c.predicted and c.plan is not None:  # the decision beside the prediction
                lines.append("     decided: " + ("; ".join(c.plan.describe_changes()) or "-"))
        else:
            lines.append(f"FAIL {c.name} ({report.test_file}:{c.line}){shown}")
            lines += [f"     {f}" for f in c.failures]
    lines.append(
        f"{len(report.cases) - report.failed} passed, {report.failed} failed ({report.test_file})"
    )
    return lines


__all__ = [
    "CaseResult",
    "FileError",
    "RecipeTestReport",
    "format_report",
    "run_tests",
    "tests_path_for",
]
