"""One timeline: a ticket's events turned into its facts, once.

:func:`build` (from stored event rows) and :func:`facts_of` (from model objects) are the only
code that interprets events; every engine reads :class:`Facts` instead. The store keeps one row
of facts per ticket (``ticket_facts``, :mod:`cstoolkit.store.facts`) and refreshes it in the
same transaction as whatever changed the ticket or its events, so reports and queries read
facts and never replay history.

This package sits just above :mod:`cstoolkit.model` (it imports nothing else of cstoolkit), so
the store may use it.
"""

from __future__ import annotations

from cstoolkit.timeline.build import (
    EventRow,
    TicketCore,
    build,
    event_row,
    facts_of,
    public_comments,
)
from cstoolkit.timeline.facts import (
    FACTS_VERSION,
    STATUSES,
    UNKNOWN,
    Facts,
    Reply,
    SurveyAnswer,
    status_code,
    status_name,
)

__all__ = [
    "FACTS_VERSION",
    "STATUSES",
    "UNKNOWN",
    "EventRow",
    "Facts",
    "Reply",
    "SurveyAnswer",
    "TicketCore",
    "build",
    "event_row",
    "facts_of",
    "public_comments",
    "status_code",
    "status_name",
]
