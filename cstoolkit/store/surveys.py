"""Store access for surveys: offers, answers, opt-outs (migration 0005) and survey events.

The delivery state of an offer lives in the idempotence ledger (scope ``survey``, same key);
``survey_offers`` keeps what is needed to report on it, to enforce the fatigue limit and to
compose the same message again when a crashed send is reconciled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.model import Event, EventKind, Person, Role, Ticket
from cstoolkit.store import codec, facts

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

SCOPE = "survey"


@dataclass
class OfferRow:
    key: str
    survey: str
    kind: str
    ticket_id: str
    cycle: int
    requester_id: str | None
    address: str | None
    channel: str
    language: str
    offered_at: datetime
    expires_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    state: str | None = None  # the ledger state, when read with it


_OFFER_COLS = (
    "o.key, o.survey, o.kind, o.ticket_id, o.cycle, o.requester_id, o.address, o.channel, "
    "o.language, o.offered_at, o.expires_at, o.data, l.state"
)


def _offer(row: Any) -> OfferRow:
    offered, expires = codec.from_epoch(row[9]), codec.from_epoch(row[10])
    assert offered is not None and expires is not None
    return OfferRow(
        key=row[0],
        survey=row[1],
        kind=row[2],
        ticket_id=row[3],
        cycle=int(row[4]),
        requester_id=row[5],
        address=row[6],
        channel=row[7],
        language=row[8],
        offered_at=offered,
        expires_at=expires,
        data=json.loads(row[11]),
        state=row[12],
    )


# -- candidates --------------------------------------------------------------------------------


def solved_since(store: Store, since: datetime) -> Iterator[tuple[Ticket, Person | None]]:
    """Tickets solved (or closed) at or after ``since``, with their requester, oldest first."""
    cols = ", ".join(f"t.{c}" for c in codec.TICKET_COLUMNS.split(", "))
    pcols = ", ".join(f"r.{c}" for c in codec.PERSON_COLUMNS.split(", "))
    ncols = len(codec.TICKET_COLUMNS.split(", "))
    sql = (
        f"SELECT {cols}, {pcols} FROM tickets t LEFT JOIN people r ON r.id = t.requester_id "
        "WHERE t.deleted = 0 AND t.solved_at IS NOT NULL AND t.status IN ('solved', 'closed') "
        "AND t.solved_at >= ? ORDER BY t.solved_at, t.id"
    )
    rows = store.conn.execute(sql, (codec.to_epoch(since),)).fetchall()
    for row in rows:
        ticket = codec.row_ticket(row[:ncols])
        requester = codec.row_person(row[ncols:]) if row[ncols] is not None else None
        yield ticket, requester


# -- opt-outs ----------------------------------------------------------------------------------


def normalize_phone(value: str) -> str:
    digits = re.sub(r"[^\d+]", "", value)
    return digits if digits.startswith("+") else "+" + digits.lstrip("+")


def optout_values(
    requester_id: str | None, email: str | None, phone: str | None
) -> list[tuple[str, str]]:
    """The (kind, value) pairs that identify a person in the opt-out table."""
    out = []
    if requester_id:
        out.append(("person", f"person:{requester_id}"))
    if email:
        out.append(("email", f"email:{email.strip().lower()}"))
    if phone:
        out.append(("phone", f"phone:{normalize_phone(phone)}"))
    return out


def is_opted_out(
    store: Store, requester_id: str | None, email: str | None, phone: str | None
) -> bool:
    values = [v for _, v in optout_values(requester_id, email, phone)]
    if not values:
        return False
    marks = ",".join("?" * len(values))
    row = store.conn.execute(
        f"SELECT 1 FROM survey_optouts WHERE value IN ({marks}) LIMIT 1", values
    ).fetchone()
    return row is not None


def add_optout(
    store: Store,
    requester_id: str | None,
    email: str | None,
    phone: str | None,
    *,
    source: str,
    at: datetime,
) -> int:
    """Record an opt-out; returns how many new values were added (0: already opted out)."""
    added = 0
    with store.transaction() as cur:
        for kind, value in optout_values(requester_id, email, phone):
            cur.execute(
                "INSERT INTO survey_optouts (value, kind, requester_id, at, source) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (value, kind, requester_id, codec.to_epoch(at), source),
            )
            added += cur.rowcount
    return added


def list_optouts(store: Store) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT value, kind, requester_id, at, source FROM survey_optouts ORDER BY at, value"
    )
    return [
        {
            "value": r[0],
            "kind": r[1],
            "requester_id": r[2],
            "at": codec.from_epoch(r[3]),
            "source": r[4],
        }
        for r in rows
    ]


# -- offers ------------------------------------------------------------------------------------


def last_offer_at(
    store: Store, requester_id: str | None, address: str | None, exclude_key: str
) -> datetime | None:
    """When this person was last offered a survey (any survey, delivery not known-failed).

    One indexed lookup per identifier (requester id, address), not an OR that scans.
    """
    branches, params = [], []
    for column, value in (("requester_id", requester_id), ("address", address)):
        if value:
            branches.append(
                f"SELECT o.offered_at AS at FROM survey_offers o WHERE o.{column} = ? "
                "AND o.key != ? AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.scope = ? "
                "AND l.key = o.key AND l.state = 'failed')"
            )
            params += [value, exclude_key, SCOPE]
    if not branches:
        return None
    row = store.conn.execute(
        f"SELECT MAX(at) FROM ({' UNION ALL '.join(branches)}) AS offers", params
    ).fetchone()
    return codec.from_epoch(row[0]) if row and row[0] is not None else None


def put_offer(cur: Any, offer: OfferRow) -> None:
    cur.execute(
        "INSERT INTO survey_offers (key, survey, kind, ticket_id, cycle, requester_id, address, "
        "channel, language, offered_at, expires_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?) ON CONFLICT (key) DO UPDATE SET requester_id = excluded.requester_id, "
        "address = excluded.address, channel = excluded.channel, language = excluded.language, "
        "offered_at = excluded.offered_at, expires_at = excluded.expires_at, data = excluded.data",
        (
            offer.key,
            offer.survey,
            offer.kind,
            offer.ticket_id,
            offer.cycle,
            offer.requester_id,
            offer.address,
            offer.channel,
            offer.language,
            codec.to_epoch(offer.offered_at),
            codec.to_epoch(offer.expires_at),
            codec.dumps(offer.data),
        ),
    )


def get_offer(store: Store, key: str) -> OfferRow | None:
    row = store.conn.execute(
        f"SELECT {_OFFER_COLS} FROM survey_offers o LEFT JOIN ledger l "
        "ON l.scope = ? AND l.key = o.key WHERE o.key = ?",
        (SCOPE, key),
    ).fetchone()
    return _offer(row) if row else None


def offers(store: Store, state: str | None = None) -> list[OfferRow]:
    sql = (
        f"SELECT {_OFFER_COLS} FROM survey_offers o LEFT JOIN ledger l "
        "ON l.scope = ? AND l.key = o.key"
    )
    params: list[Any] = [SCOPE]
    if state is not None:
        sql += " WHERE l.state = ?"
        params.append(state)
    return [_offer(r) for r in store.conn.execute(sql + " ORDER BY o.offered_at, o.key", params)]


def latest_offer_for_ticket(store: Store, survey: str, ticket_id: str) -> OfferRow | None:
    row = store.conn.execute(
        f"SELECT {_OFFER_COLS} FROM survey_offers o LEFT JOIN ledger l "
        "ON l.scope = ? AND l.key = o.key WHERE o.survey = ? AND o.ticket_id = ? "
        "ORDER BY o.cycle DESC, o.offered_at DESC LIMIT 1",
        (SCOPE, survey, ticket_id),
    ).fetchone()
    return _offer(row) if row else None


def insert_event(cur: Any, event: Event) -> None:
    cols = codec.EVENT_COLUMNS.split(", ")
    cur.execute(
        f"INSERT INTO events ({codec.EVENT_COLUMNS}) VALUES ({','.join('?' * len(cols))}) "
        "ON CONFLICT (id) DO NOTHING",
        codec.event_row(event),
    )
    if cur.rowcount:
        facts.refresh(cur, [event.ticket_id])


def offered_event(offer: OfferRow, at: datetime, provider_ref: str | None) -> Event:
    return Event(
        id=f"survey:{offer.key}:offered",
        ticket_id=offer.ticket_id,
        kind=EventKind.SURVEY_OFFERED,
        at=at,
        author_role=Role.SYSTEM,
        data={
            "survey": offer.survey,
            "kind": offer.kind,
            "channel": offer.channel,
            "cycle": offer.cycle,
            "provider_ref": provider_ref,
        },
    )


# -- answers -----------------------------------------------------------------------------------


@dataclass
class AnswerRow:
    offer_key: str
    survey: str
    kind: str
    ticket_id: str
    requester_id: str | None
    score: int
    comment: str
    answered_at: datetime
    source: str
    external_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "answered_at": self.answered_at,
            "survey": self.survey,
            "kind": self.kind,
            "score": self.score,
            "ticket": self.ticket_id,
            "requester": self.requester_id,
            "comment": self.comment,
            "source": self.source,
            "offer": self.offer_key,
        }


def record_answer(store: Store, answer: AnswerRow) -> bool:
    """Store an answer and its SURVEY_ANSWERED event in one transaction.

    Returns False (and changes nothing) when this offer already has an answer: one per survey.
    """
    event = Event(
        id=f"survey:{answer.offer_key}:answered",
        ticket_id=answer.ticket_id,
        kind=EventKind.SURVEY_ANSWERED,
        at=answer.answered_at,
        author_id=answer.requester_id,
        author_role=Role.REQUESTER,
        public=False,
        body=answer.comment or None,
        data={
            "survey": answer.survey,
            "kind": answer.kind,
            "score": answer.score,
            "comment": answer.comment,
        },
    )
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO survey_answers (offer_key, survey, kind, ticket_id, "
            "requester_id, score, comment, answered_at, source, external_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                answer.offer_key,
                answer.survey,
                answer.kind,
                answer.ticket_id,
                answer.requester_id,
                answer.score,
                answer.comment,
                codec.to_epoch(answer.answered_at),
                answer.source,
                answer.external_id,
            ),
        )
        if cur.rowcount != 1:
            return False
        insert_event(cur, event)
    return True


_ANSWER_COLS = (
    "offer_key, survey, kind, ticket_id, requester_id, score, comment, answered_at, source, "
    "external_id"
)


def _answer(row: Any) -> AnswerRow:
    at = codec.from_epoch(row[7])
    assert at is not None
    return AnswerRow(row[0], row[1], row[2], row[3], row[4], int(row[5]), row[6], at, row[8],
                     row[9])  # fmt: skip


def get_answer(store: Store, offer_key: str) -> AnswerRow | None:
    row = store.conn.execute(
        f"SELECT {_ANSWER_COLS} FROM survey_answers WHERE offer_key = ?", (offer_key,)
    ).fetchone()
    return _answer(row) if row else None


def answers(
    store: Store,
    *,
    surveys: Iterable[str] | None = None,
    since: datetime | None = None,
) -> list[AnswerRow]:
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    names = list(surveys or [])
    if names:
        where.append(f"survey IN ({','.join('?' * len(names))})")
        params.extend(names)
    if since is not None:
        where.append("answered_at >= ?")
        params.append(codec.to_epoch(since))
    rows = store.conn.execute(
        f"SELECT {_ANSWER_COLS} FROM survey_answers WHERE {' AND '.join(where)} "
        "ORDER BY answered_at, offer_key",
        params,
    )
    return [_answer(r) for r in rows]


def answer_by_external_id(store: Store, survey: str, external_id: str) -> bool:
    row = store.conn.execute(
        "SELECT 1 FROM survey_answers WHERE survey = ? AND external_id = ?", (survey, external_id)
    ).fetchone()
    return row is not None


def totals(store: Store) -> tuple[int, int]:
    """(answers, opt-outs) in the store, for ``cst status``."""
    answered = int(store.conn.execute("SELECT COUNT(*) FROM survey_answers").fetchone()[0])
    optouts = int(store.conn.execute("SELECT COUNT(*) FROM survey_optouts").fetchone()[0])
    return answered, optouts
