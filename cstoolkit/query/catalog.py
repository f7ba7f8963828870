"""Every core field of the condition language, declared once (docs/query.md is made from this).

Each declaration says where the value comes from per ticket (the ticket, its requester, the
ticket's facts in ``Subject.extras``) and where the store keeps it (a column, the tags, a JSON
path, a per-ticket fact, the age of one of these, or nowhere: computed per ticket only).

Facts of the ticket's history (``reopens``, ``agent_replies``, ``survey.*``, the last replies and
the last status change) are columns of the store's ``ticket_facts`` table (the timeline's facts,
refreshed with every write): the database answers them. ``sla.*`` is computed per ticket: a
ticket's SLA state depends on the time of the question and on the SLA configuration, and a
stored outcome is right only for the configuration it was computed with (the KPI report reads
stored outcomes through :mod:`cstoolkit.sla_facts`, which checks that).
"""

from __future__ import annotations

from typing import Final

from cstoolkit.model import Channel, Priority, Status
from cstoolkit.query.registry import (
    FIELDS,
    NAMESPACES,
    FieldSpec,
    Getter,
    Namespace,
    age_hours,
    extra,
    register_field,
    requester_attr,
    ticket_attr,
)
from cstoolkit.store.conditions import Age, Column, Fact, Requester, Source, Tags

# name, kind, where the value comes from (ticket attribute, requester attribute, or the age in
# hours of a ticket attribute), description.
_BUILTIN: Final = (
    ("status", "enum", "ticket.status", "the ticket's status"),
    ("priority", "enum", "ticket.priority", "low < normal < high < urgent; gt/lt/ge/le/between "
     "compare by rank"),
    ("channel", "enum", "ticket.channel", "where the ticket came from"),
    ("subject", "text", "ticket.subject", "the subject line"),
    ("description", "text", "ticket.description", "the first message"),
    ("tags", "tags", "ticket.tags", "the ticket's tags (alias: tag)"),
    ("language", "string", "ticket.language", "the ticket's language code"),
    ("group", "id", "ticket.group_id", "the group's id (INSTANCE:ID)"),
    ("assignee", "id", "ticket.assignee_id", "the assignee's person id (INSTANCE:ID)"),
    ("requester", "string", "requester.email", "the requester's email (as requester.email)"),
    ("requester.email", "string", "requester.email", "the requester's email"),
    ("requester.domain", "string", "requester.domain", "the domain of the requester's email"),
    ("requester.plan", "string", "requester.plan", "the requester's plan"),
    ("requester.organization", "string", "requester.organization",
     "the requester's organization"),
    ("requester.language", "string", "requester.language", "the requester's language"),
    ("instance", "id", "ticket.instance", "the backend instance the ticket comes from"),
    ("id", "id", "ticket.id", "the ticket's id (INSTANCE:ID)"),
    ("created_at", "datetime", "ticket.created_at", "when the ticket was created"),
    ("updated_at", "datetime", "ticket.updated_at", "when it last changed"),
    ("solved_at", "datetime", "ticket.solved_at", "when it was solved; missing while it is not"),
    ("hours_since_created", "number", "age.created_at", "calendar hours since created"),
    ("hours_since_updated", "number", "age.updated_at", "calendar hours since updated"),
    ("hours_since_solved", "number", "age.solved_at",
     "calendar hours since solved; missing while unsolved"),
)  # fmt: skip


def builtin_fields() -> dict[str, FieldSpec]:
    """The ticket's and the requester's own fields (no facts needed)."""
    enum_values: dict[str, tuple[str, ...]] = {
        "status": tuple(s.value for s in Status),
        "priority": tuple(p.value for p in sorted(Priority, key=lambda p: p.rank)),
        "channel": tuple(c.value for c in Channel),
    }
    out: dict[str, FieldSpec] = {}
    for name, kind, where_from, doc in _BUILTIN:
        where, attr = where_from.split(".")
        getter: Getter
        source: Source
        if where == "ticket":
            getter, source = ticket_attr(attr), Tags() if attr == "tags" else Column(attr)
        elif where == "requester":
            getter, source = requester_attr(attr), Requester(attr)
        else:
            getter, source = age_hours(attr), Age(Column(attr))
        out[name] = FieldSpec(
            name=name,
            kind=kind,
            getter=getter,
            values=enum_values.get(name),
            ordered=name == "priority",
            unit="hours" if where == "age" else None,
            age_of=attr if where == "age" else None,
            doc=doc,
            source=source,
        )
    return out


# -- facts of the ticket's history ---------------------------------------------------------------

#: Instants of the ticket's history: (base, the instant, the age since it). The age field
#: is ``hours_since_<base>``, the instant ``<base>_at``.
HISTORY_INSTANTS: Final = (
    ("last_public_reply", "when the last public agent reply was written",
     "calendar hours since the last public agent reply"),
    ("last_requester_reply", "when the requester last wrote (a public message)",
     "calendar hours since the requester last wrote"),
    ("status_change", "when the status last changed (its creation when it never did)",
     "calendar hours since the status last changed"),
)  # fmt: skip

#: Survey facts: (name, kind, description). Booleans are kind ``any`` (true/false).
SURVEY_FIELDS: Final = (
    ("csat", "number", "the latest CSAT answer (1-5)"),
    ("nps", "number", "the latest NPS answer (0-10)"),
    ("ces", "number", "the latest CES answer (1-7)"),
    ("score", "any", "the latest survey answer of any kind"),
    ("comment", "text", "the comment of the latest survey answer"),
    ("offered", "any", "true when a survey was offered"),
    ("answered", "any", "true when a survey was answered"),
)

# -- SLA state -----------------------------------------------------------------------------------

#: The SLA engine's metrics (``cstoolkit.sla.METRICS`` is this tuple; docs/sla.md).
SLA_METRICS: Final[tuple[str, ...]] = ("first_reply", "next_reply", "periodic_update", "resolution")

#: ``sla.*`` fields: (suffix, kind, description). Per-metric ones exist for every metric as
#: ``sla.<metric>.<suffix>``.
SLA_AGGREGATE_FIELDS: Final[tuple[tuple[str, str, str], ...]] = (
    ("policy", "string", "the name of the SLA policy that applies"),
    ("breached", "any", "true when an active (unfulfilled) clock is past its target"),
    ("ever_breached", "any", "true when any clock of the ticket was ever breached"),
    ("paused", "any", "true when every active clock is paused"),
    (
        "remaining_hours",
        "number",
        "least remaining time of the active clocks, in each clock's own hours",
    ),
    (
        "remaining_business_hours",
        "number",
        "business hours (policy calendar) until the earliest due time (negative: overdue)",
    ),
    ("remaining_calendar_hours", "number", "calendar hours until the earliest due time"),
    ("due_at", "datetime", "the earliest due time of the active clocks"),
    ("next_metric", "string", "the metric whose active clock is due first"),
)
SLA_METRIC_FIELDS: Final[tuple[tuple[str, str, str], ...]] = (
    ("breached", "any", "true when this clock (its latest instance) is past its target"),
    ("active", "any", "true while the clock has not been fulfilled"),
    ("paused", "any", "true while the clock is paused"),
    ("remaining_hours", "number", "target minus elapsed, in the clock's own hours"),
    ("remaining_business_hours", "number", "business hours until the due time"),
    ("remaining_calendar_hours", "number", "calendar hours until the due time"),
    ("elapsed_hours", "number", "hours counted so far (business hours for a business clock)"),
    ("due_at", "datetime", "when the target is reached"),
    ("fulfilled_at", "datetime", "when the clock stopped"),
)

#: The routing model's predictions (docs/routing.md): (target, kind, description).
PREDICTED_FIELDS: Final = (
    ("group", "id", "group for the ticket (INSTANCE:ID)"),
    ("priority", "string", "priority for the ticket"),
    ("tags", "tags", "topic tags for the ticket"),
    ("language", "string", "language of the ticket's text"),
)

#: Bases of the business-time ages (a recipe's calendar).
BUSINESS_BASES: Final = (
    "created",
    "updated",
    "solved",
    "last_public_reply",
    "last_requester_reply",
    "status_change",
)


def _fact(name: str, kind: str) -> Fact:
    """The store's column of a fact field (dots as underscores); true/false ones as 0/1."""
    return Fact(name.replace(".", "_"), boolean=kind == "any" and name != "survey.score")


def _declare(
    name: str,
    kind: str,
    doc: str,
    needs: str,
    *,
    source: Source | None = None,
    unit: str | None = None,
    age_of: str | None = None,
) -> None:
    register_field(
        name, kind, extra(name), doc=doc, source=source, unit=unit, age_of=age_of,
        needs=(needs,), replace=True,
    )  # fmt: skip


def declare_fact_fields() -> None:
    """The fields of the ticket's history, SLA state, business time, groups and roster."""
    for base, when, since in HISTORY_INSTANTS:
        instant = f"{base}_at"
        _declare(instant, "datetime", when, "facts", source=Fact(base))  # epoch seconds
        _declare(
            f"hours_since_{base}",
            "number",
            since,
            "facts",
            source=Age(Fact(base)),
            unit="hours",
            age_of=instant,
        )
    _declare("reopens", "number", "times the ticket was reopened", "facts", source=Fact("reopens"))
    _declare(
        "agent_replies", "number", "public agent replies", "facts", source=Fact("agent_replies")
    )
    for suffix, kind, doc in SURVEY_FIELDS:
        name = f"survey.{suffix}"
        _declare(name, kind, doc, "facts", source=_fact(name, kind))
    for suffix, kind, doc in SLA_AGGREGATE_FIELDS:
        name = f"sla.{suffix}"
        _declare(name, kind, doc, "sla")  # per ticket: depends on now and the configuration
    for metric in SLA_METRICS:
        for suffix, kind, doc in SLA_METRIC_FIELDS:
            name = f"sla.{metric}.{suffix}"
            _declare(name, kind, f"{metric}: {doc}", "sla")
    for base in BUSINESS_BASES:
        words = base.replace("_", " ")
        _declare(
            f"business_hours_since_{base}",
            "number",
            f"business hours of the recipe's calendar since {words}",
            "calendar",
            unit="hours",
        )
        _declare(
            f"business_days_since_{base}",
            "number",
            f"whole business days (open days of the recipe's calendar) since {words}, "
            "not counting that day",
            "calendar",
            unit="days",
        )
    for target, kind, doc in PREDICTED_FIELDS:
        _declare(f"predicted.{target}", kind, f"the routing model's {doc}", "model")
        _declare(
            f"predicted.{target}.confidence",
            "number",
            f"the model's probability (0-1) for predicted.{target}",
            "model",
        )
    _declare("group.name", "string", "the group's name (else its id within the backend)", "groups")
    _declare("assignee.tier", "number", "the assignee's tier in the roster", "roster")
    _declare("assignee.on_shift", "any", "true when the assignee is on shift now", "roster")


def declare() -> None:
    """Fill the registry with every core field (at import of :mod:`cstoolkit.query`)."""
    FIELDS.update(builtin_fields())
    NAMESPACES["sla."] = Namespace("any", "SLA state computed by the SLA engine (docs/sla.md)")
    NAMESPACES["survey."] = Namespace("any", "survey results of the ticket")
    declare_fact_fields()


#: The names :func:`declare_fact_fields` declares (history, SLA, business time, roster).
def fact_field_names() -> frozenset[str]:
    return frozenset(n for n, s in FIELDS.items() if s.needs)
