"""``cst tickets``: read the store."""

from __future__ import annotations

from typing import Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.errors import NotFoundError

#: Rows a table shows when no --limit is given (machine formats give every row).
TABLE_LIMIT = 100

COLUMNS = [
    "id",
    "status",
    "priority",
    "channel",
    "subject",
    "requester",
    "assignee",
    "group",
    "tags",
    "created_at",
    "updated_at",
]


def ticket_record(ticket: Any, requester: Any) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "status": str(ticket.status),
        "priority": str(ticket.priority),
        "channel": str(ticket.channel),
        "subject": ticket.subject,
        "requester": requester.email if requester is not None else ticket.requester_id,
        "assignee": ticket.assignee_id,
        "group": ticket.group_id,
        "tags": list(ticket.tags),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "solved_at": ticket.solved_at,
    }


@click.group(cls=base.Group)
def tickets() -> None:
    """List and show stored tickets."""


@tickets.command("list")
@click.option(
    "-q", "--query", "query_text", help="Condition, e.g. 'status:open tag:vip created<7d'."
)
@click.option("--instance", help="Only tickets of this backend instance.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="At most this many (0: no limit). Default: 100 in a table, every row in json, ndjson "
    "and csv.",
)
@format_options()
@pass_app
def list_tickets(
    app: App,
    query_text: str | None,
    instance: str | None,
    limit: int | None,
    fmt: str,
    as_json: bool,
) -> None:
    """Tickets in the store (exit 3 when a --query matches nothing).

    A table shows the newest 100 first and says on stderr how many there are; json, ndjson and
    csv give every ticket, oldest first, unless --limit is given.
    """
    from cstoolkit.cli.querying import selection
    from cstoolkit.output import render

    fmt = chosen_format(fmt, as_json)
    table = fmt == "table"
    if limit is None:
        limit = TABLE_LIMIT if table else 0
    node = selection(app, query_text, "tickets list --query")
    store = app.store
    rows = (
        ticket_record(t, r)
        for t, r in store.select(node, instance=instance, limit=limit or None, newest_first=table)
    )
    count = render(
        rows,
        COLUMNS,
        fmt,
        title="Tickets",
        table_columns=["id", "status", "priority", "channel", "subject", "assignee", "updated_at"],
    )
    if table and limit and count == limit:
        total = store.count_selected(node, instance=instance)
        if total > count:
            app.say(f"showing {count:,} of {total:,} (--limit 0 for all)")
    if count == 0 and (query_text or instance):
        raise NotFoundError("no ticket matched")


@tickets.command("show")
@click.argument("ticket_id")
@format_options(default="table", choices=("table", "json"))
@pass_app
def show(app: App, ticket_id: str, fmt: str, as_json: bool) -> None:
    """One ticket with its requester, events and facts (ID is INSTANCE:ID)."""
    from cstoolkit.output import render, write_json

    store = app.store
    ticket = store.get_ticket(ticket_id)
    if ticket is None:
        raise NotFoundError(f"no ticket {ticket_id!r} in the store (ids look like INSTANCE:ID)")
    requester = store.person(ticket.requester_id) if ticket.requester_id else None
    events = store.events(ticket.id)
    record = ticket_record(ticket, requester)
    record["description"] = ticket.description
    record["custom_fields"] = ticket.custom_fields
    record["events"] = [
        {
            "id": e.id,
            "kind": str(e.kind),
            "at": e.at,
            "author": e.author_id,
            "role": str(e.author_role) if e.author_role else None,
            "public": e.public,
            "old": e.old,
            "new": e.new,
            "body": e.body,
        }
        for e in events
    ]
    from cstoolkit.store.facts import of_ticket

    found = of_ticket(store, ticket.id)
    facts = found.as_dict() if found is not None else {}
    record["facts"] = facts
    if chosen_format(fmt, as_json) == "json":
        record["raw"] = ticket.raw
        write_json(record)
        return
    from cstoolkit.output import cell, terminal_text

    for key in [*COLUMNS, "solved_at", "description", "custom_fields"]:
        click.echo(f"{key:>13}: {terminal_text(cell(record.get(key)))}")
    short = [{**e, "body": _short(e["body"])} for e in record["events"]]
    render(short, ["at", "kind", "author", "public", "old", "new", "body"], "table", title="Events")
    scalars = [
        {"fact": k, "value": v} for k, v in facts.items() if k not in ("statuses", "replies")
    ]
    render(scalars, ["fact", "value"], "table", title="Facts")
    render(facts.get("statuses", []), ["from", "status"], "table", title="Status periods")


def _short(text: str | None, width: int = 80) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
