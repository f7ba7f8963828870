"""``--query`` for the commands that read the store (``tickets list``, ``report kpi``,
``sync mirror``): the condition with the context its per-ticket parts need, so every field
works there or is refused in one line naming where it works."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cstoolkit import query
    from cstoolkit.cli.app import App


def selection(app: App, text: str | None, where: str) -> query.Selection | None:
    """``text`` parsed, with the store's facts, the config's SLA policies, calendars and roster
    for its per-ticket parts (None without a query). Raises a one-line QueryError (exit 2)."""
    if not text:
        return None
    from cstoolkit import query

    node = query.parse(text)
    if not any(query.field_spec(name).needs for name in query.fields_used(node)):
        return query.Selection(node, query.Context(where=where))  # the ticket's own fields
    from cstoolkit.triage.runner import Workspace

    context = Workspace(app.config, store=app.store).query_context(node, where)
    chosen = query.Selection(node, context)
    chosen.check()
    return chosen
