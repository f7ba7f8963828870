"""What the requester wrote: the texts of their public messages, in order.

The same reading of "a requester message" as the facts (:mod:`cstoolkit.timeline.build`): the
ticket's creation unless an agent created it (its subject and description), and every public
comment by the requester (author role ``requester``, no role, or the requester's own id). The
first-line answer looks for "let me talk to a person" in these texts.
"""

from __future__ import annotations

from collections.abc import Iterable

from cstoolkit.model import Event, EventKind, Role, Ticket


def requester_texts(ticket: Ticket, events: Iterable[Event]) -> list[str]:
    """The requester's messages on ``ticket``: its opening text first, then their replies."""
    out: list[str] = []
    agent_created = False
    replies: list[str] = []
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        if event.kind == EventKind.CREATED:
            agent_created = event.author_role == Role.AGENT
        elif event.kind == EventKind.COMMENT and event.public and event.body:
            role = event.author_role
            if (
                role == Role.REQUESTER
                or role is None
                or (role != Role.AGENT and event.author_id == ticket.requester_id)
            ):
                replies.append(event.body)
    if not agent_created:
        out.append(f"{ticket.subject}\n{ticket.description}".strip())
    return out + replies
