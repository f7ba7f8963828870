"""Facts as one stored row of ``ticket_facts`` and back (no SQL here: the store owns that).

Every value a query field reads is a plain column named after the field (dots become
underscores: ``reopens``, ``agent_replies``, ``survey_csat``...); instants are INTEGER unix
seconds, booleans 0/1. The lists a report aggregates are compact JSON arrays (``*_log``
columns), readable inside the database too (``json_each`` in SQLite, ``jsonb_array_elements``
in PostgreSQL):

=================  ==========================================================================
column             JSON
=================  ==========================================================================
requester_log      ``[at, ...]`` public requester messages
reply_log          ``[[at, agent, wait_from], ...]`` public agent replies (see ``Reply``)
status_log         ``[start, code, start, code, ...]`` status periods (``STATUSES[code]``)
agent_log          ``[[at, agent], ...]`` status changes an agent made
wait_log           ``[start, end, ...]`` spans of requester wait up to the latest solve (NULL:
                   no value); ``work_log`` the same for agent work
assignment_log     ``[[at, assignee], ...]``
group_log          ``[[at, group], ...]``
offer_log          ``[[at, kind], ...]`` survey offers
answer_log         ``[[at, kind, score, comment], ...]`` survey answers
=================  ==========================================================================
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Sequence
from typing import Any

from cstoolkit.timeline.facts import FACTS_VERSION, Facts, Reply, SurveyAnswer

#: The event-derived columns of ``ticket_facts``, in row order (the SLA outcome columns, filled
#: by the SLA engine, are separate: :mod:`cstoolkit.store.facts`).
COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "facts_version",
    "horizon",
    "events",
    "agent_created",
    "requester_messages",
    "agent_replies",
    "internal_notes",
    "touches",
    "first_message",
    "first_reply",
    "last_public_reply",
    "last_requester_reply",
    "status_change",
    "status_since",
    "status_history",
    "solves",
    "first_solve",
    "last_solve",
    "reopens",
    "solver",
    "requester_wait",
    "agent_work",
    "wait_log",
    "work_log",
    "first_assignee",
    "assignments",
    "reassignments",
    "group_changes",
    "survey_offered",
    "survey_answered",
    "survey_kind",
    "survey_score",
    "survey_comment",
    "survey_csat",
    "survey_nps",
    "survey_ces",
    "requester_log",
    "reply_log",
    "status_log",
    "agent_log",
    "assignment_log",
    "group_log",
    "offer_log",
    "answer_log",
)
INDEX = {name: i for i, name in enumerate(COLUMNS)}

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_scan_once = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def decode(text: str) -> Any:
    """One of the compact arrays of a row (the C scanner called directly: json.loads adds a
    few microseconds of Python per call, paid for every list of every ticket read)."""
    return _scan_once(text, 0)[0]


_text = json.encoder.encode_basestring  # the C encoder of one string


def _value(x: Any) -> str:
    if x is None:
        return "null"
    kind = type(x)
    if kind is int:
        return str(x)
    if kind is str:
        return _text(x)
    return _dumps(x)  # floats (survey scores) and anything else, as json does


def _log(items: Sequence[Any]) -> str:
    """Compact JSON of a list of numbers or of small lists (what json.dumps gives, built
    without its per-call overhead: this runs for every ticket a sync writes)."""
    if not items:
        return "[]"
    if type(items[0]) is int:
        return "[" + ",".join(map(str, items)) + "]"
    return "[" + ",".join("[" + ",".join(map(_value, row)) + "]" for row in items) + "]"


def _spans(spans: Sequence[tuple[int, int]]) -> str:
    return _log([t for span in spans for t in span])


def _pairs(text: str | None) -> list[tuple[int, int]]:
    flat = decode(text) if text else []
    return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]


def to_row(f: Facts) -> tuple[Any, ...]:
    """The stored row of ``f`` (values in :data:`COLUMNS` order)."""
    solves = f.solves
    latest = f.latest_answer()
    by_kind = {k: f.latest_answer(k) for k in ("csat", "nps", "ces")}
    flat: list[int] = []
    for at, code in f.statuses:
        flat.append(at)
        flat.append(code)
    return (
        f.ticket_id,
        FACTS_VERSION,
        f.horizon,
        f.events,
        int(f.agent_created),
        len(f.requester_messages),
        len(f.replies),
        f.internal_notes,
        f.touches,
        f.first_message,
        f.first_reply,
        f.last_public_reply,
        f.last_requester_reply,
        f.status_change,
        f.status_since,
        int(f.status_history),
        len(solves),
        solves[0] if solves else None,
        solves[-1] if solves else None,
        f.reopens,
        f.solver,
        f.requester_wait,
        f.agent_work,
        _spans(f.wait_spans) if f.requester_wait is not None else None,
        _spans(f.work_spans) if f.agent_work is not None else None,
        f.first_assignee,
        len(f.assignments),
        f.reassignments,
        f.group_changes,
        int(bool(f.survey_offers or f.survey_answers)),
        int(bool(f.survey_answers)),
        latest.kind if latest else None,
        latest.score if latest else None,
        latest.comment if latest else None,
        *((a.score if a else None) for a in by_kind.values()),
        _log(f.requester_messages),
        _log([[r.at, r.agent, r.wait_from] for r in f.replies]),
        _log(flat),
        _log(f.agent_changes),
        _log(f.assignments),
        _log(f.groups),
        _log(f.survey_offers),
        _log([[a.at, a.kind, a.score, a.comment] for a in f.survey_answers]),
    )


def from_row(row: Sequence[Any], created: int) -> Facts:
    """The facts of a stored row (``created``: the ticket's creation, from the tickets table)."""
    g = row.__getitem__
    loads = decode
    flat = loads(g(INDEX["status_log"]))
    wait, work = g(INDEX["requester_wait"]), g(INDEX["agent_work"])
    return Facts(
        ticket_id=g(0),
        created=int(created),
        horizon=int(g(INDEX["horizon"])),
        events=int(g(INDEX["events"])),
        agent_created=bool(g(INDEX["agent_created"])),
        requester_messages=[int(t) for t in loads(g(INDEX["requester_log"]))],
        replies=[Reply(int(a), b, c) for a, b, c in loads(g(INDEX["reply_log"]))],
        internal_notes=int(g(INDEX["internal_notes"])),
        touches=int(g(INDEX["touches"])),
        statuses=[(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)],
        status_history=bool(g(INDEX["status_history"])),
        status_change=int(g(INDEX["status_change"])),
        solver=g(INDEX["solver"]),
        requester_wait=None if wait is None else int(wait),
        agent_work=None if work is None else int(work),
        wait_spans=_pairs(g(INDEX["wait_log"])),
        work_spans=_pairs(g(INDEX["work_log"])),
        agent_changes=[(int(a), b) for a, b in loads(g(INDEX["agent_log"]))],
        assignments=[(int(a), b) for a, b in loads(g(INDEX["assignment_log"]))],
        groups=[(int(a), b) for a, b in loads(g(INDEX["group_log"]))],
        survey_offers=[(int(a), b) for a, b in loads(g(INDEX["offer_log"]))],
        survey_answers=[
            SurveyAnswer(int(a), k, s, c) for a, k, s, c in loads(g(INDEX["answer_log"]))
        ],
    )
