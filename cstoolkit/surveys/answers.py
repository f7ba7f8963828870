"""Answers and opt-outs: verifying links, recording answers once, CSV import, provider pulls.

Every answer becomes a row of ``survey_answers`` (primary key: the offer, so one answer per
survey) and a ``SURVEY_ANSWERED`` event with ``data = {survey, kind, score, comment}`` in the same
transaction, so reports and recipes see it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cstoolkit import timespec
from cstoolkit.config import Config
from cstoolkit.errors import ConfigError, CstError
from cstoolkit.instances import build_instance
from cstoolkit.messages import SCALES
from cstoolkit.plugin import SurveyProvider
from cstoolkit.store import Store
from cstoolkit.store import facts as stored_facts
from cstoolkit.store import surveys as db
from cstoolkit.surveys import policy as pol
from cstoolkit.surveys.links import Claims, LinkError, peek_offer_key
from cstoolkit.textfiles import read_text

MAX_COMMENT = 2000
#: A CSV file of answers to import is refused above this size (docs/security.md).
MAX_IMPORT_BYTES = 64 * 1024 * 1024


def check_score(kind: str, value: Any) -> int:
    """The score as an int, or ValueError naming the allowed range."""
    low, high = SCALES[kind]
    try:
        score = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(
            f"{value!r} is not a whole number ({kind} scores are {low}-{high})"
        ) from None
    if not low <= score <= high:
        raise ValueError(f"{score} is outside {low}-{high} for {kind}")
    return score


class Verifier:
    """Verifies answer-link tokens with the signing keys of the configured surveys."""

    def __init__(self, config: Config, host: Any, store: Store | None) -> None:
        self.config, self.host, self.store = config, host, store
        self._providers: dict[str, Any] = {}

    def provider(self, survey: str) -> Any:
        if survey not in self._providers:
            if survey not in self.config.instances("surveys"):
                raise LinkError("invalid", f"survey {survey!r} is not configured")
            self._providers[survey] = build_instance(
                self.config, self.host, "surveys", survey, self.store
            )
        return self._providers[survey]

    def verify(self, store: Store, token: str, now: datetime) -> tuple[db.OfferRow, Claims]:
        key = peek_offer_key(token)
        if key is None:
            raise LinkError("invalid", "malformed token")
        row = db.get_offer(store, key)
        if row is None:
            raise LinkError("invalid", "no such survey")
        provider = self.provider(row.survey)
        signer = getattr(provider, "signer", None)
        if signer is None:
            raise LinkError("invalid", f"survey {row.survey!r} does not use signed links")
        claims: Claims = signer.verify(token, now)
        if claims.offer_key != row.key:  # pragma: no cover - the key is what was peeked
            raise LinkError("invalid", "token does not match the offer")
        return row, claims


def record(
    store: Store,
    offer: db.OfferRow,
    score: int,
    comment: str,
    at: datetime,
    *,
    source: str,
    external_id: str | None = None,
) -> bool:
    """Record the answer to ``offer``; False when it already has one (nothing changes)."""
    comment = (comment or "").strip()[:MAX_COMMENT]
    return db.record_answer(
        store,
        db.AnswerRow(
            offer_key=offer.key,
            survey=offer.survey,
            kind=offer.kind,
            ticket_id=offer.ticket_id,
            requester_id=offer.requester_id,
            score=check_score(offer.kind, score),
            comment=comment,
            answered_at=at,
            source=source,
            external_id=external_id,
        ),
    )


def opt_out(store: Store, offer: db.OfferRow, at: datetime, *, source: str) -> int:
    """Never survey this person again (their id, email and phone are all recorded)."""
    email = phone = None
    person = store.person(offer.requester_id) if offer.requester_id else None
    if person is not None:
        from cstoolkit.surveys.send import recipient_for

        r = recipient_for(person)
        email, phone = r.email, r.phone
    address = offer.address or ""
    if "@" in address:
        email = email or address
    elif address.startswith("+"):
        phone = phone or address
    return db.add_optout(store, offer.requester_id, email, phone, source=source, at=at)


# -- CSV import --------------------------------------------------------------------------------


@dataclass
class ImportResult:
    path: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "errors": self.errors,
        }


@dataclass
class _Row:
    line: int
    offer: db.OfferRow
    score: int
    comment: str
    at: datetime
    external_id: str | None


def _parse_time(value: str) -> datetime:
    """An answer's time in an import file: ISO 8601 with its zone (docs/time.md)."""
    return timespec.parse_time(value, relative=False, naive=False, ages=False)


def _find_ticket(store: Store, value: str) -> str | None:
    value = value.strip()
    if store.get_ticket(value) is not None:
        return value
    found = store.ticket_ids_by_external_id(value, limit=2)
    return found[0] if len(found) == 1 else None


def import_csv(
    config: Config,
    store: Store,
    path: Path,
    *,
    survey: str | None = None,
    now: datetime,
    skip_invalid: bool = False,
) -> ImportResult:
    """Import answers collected elsewhere. Columns: ticket, score, survey (unless ``survey``),
    and optionally comment, answered_at (ISO 8601), kind (for unconfigured surveys), external_id.

    Every row is checked first; unless ``skip_invalid``, one bad row imports nothing. A row whose
    survey already has an answer for that ticket is counted as a duplicate, not an error, so
    importing the same file twice is harmless.
    """
    result = ImportResult(str(path))
    label = str(path)
    surveys = config.instances("surveys")
    text = read_text(path, limit=MAX_IMPORT_BYTES)  # strict UTF-8: a bad byte names its line
    parsed: list[_Row] = []
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [c for c in ("ticket", "score") if c not in header]
        if survey is None and "survey" not in header:
            missing.append("survey (or --survey NAME)")
        if missing:
            raise ConfigError(f"missing column(s): {', '.join(missing)}", path=label, line=1)
        for raw in reader:
            result.rows += 1
            line = reader.line_num

            def err(msg: str, *, _line: int = line) -> None:
                result.errors.append(f"{label}:{_line}: {msg}")

            rec = {k: (v or "").strip() for k, v in raw.items() if k}
            name = survey or rec.get("survey", "")
            if not name:
                err("survey: empty")
                continue
            kind = rec.get("kind", "").lower()
            policy = None
            if name in surveys:
                settings = surveys[name].settings
                configured = str(settings.get("kind", ""))
                if kind and kind != configured:
                    err(f"kind: {kind!r} but survey {name!r} is {configured!r}")
                    continue
                kind = configured
                try:
                    policy = pol.Policy.from_settings(name, {**settings})
                except CstError as exc:
                    err(str(exc))
                    continue
            elif kind not in SCALES:
                err(f"survey: {name!r} is not configured; give its kind (csat, nps or ces)")
                continue
            ticket_id = _find_ticket(store, rec.get("ticket", ""))
            if ticket_id is None:
                err(f"ticket: {rec.get('ticket', '')!r} not found in the store")
                continue
            try:
                score = check_score(kind, rec.get("score", ""))
            except ValueError as exc:
                err(f"score: {exc}")
                continue
            try:
                at = _parse_time(rec["answered_at"]) if rec.get("answered_at") else now
            except ValueError as exc:
                err(f"answered_at: {exc}")
                continue
            offer = db.latest_offer_for_ticket(store, name, ticket_id)
            if offer is None:
                ticket = store.get_ticket(ticket_id)
                assert ticket is not None
                cycle = pol.resolution_cycle(ticket, stored_facts.for_ticket(store, ticket))
                key = (
                    pol.ledger_key(policy, ticket_id, cycle)
                    if policy is not None
                    else f"{name}/{ticket_id}"
                )
                offer = db.OfferRow(
                    key=key, survey=name, kind=kind, ticket_id=ticket_id, cycle=cycle,
                    requester_id=ticket.requester_id, address=None, channel="import",
                    language="", offered_at=at, expires_at=at,
                )  # fmt: skip
            parsed.append(_Row(line, offer, score, rec.get("comment", ""), at,
                               rec.get("external_id") or None))  # fmt: skip
    if result.errors and not skip_invalid:
        return result
    for row in parsed:
        if row.external_id and db.answer_by_external_id(store, row.offer.survey, row.external_id):
            result.duplicates += 1
            continue
        if record(store, row.offer, row.score, row.comment, row.at, source="import",
                  external_id=row.external_id):  # fmt: skip
            result.imported += 1
        else:
            result.duplicates += 1
    return result


# -- hosted providers --------------------------------------------------------------------------


@dataclass
class PullResult:
    survey: str
    fetched: int = 0
    recorded: int = 0
    unmatched: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "survey": self.survey,
            "fetched": self.fetched,
            "recorded": self.recorded,
            "unmatched": self.unmatched,
        }


def pull_responses(
    config: Config, host: Any, store: Store, *, now: datetime, survey: str | None = None
) -> Iterator[PullResult]:
    """Fetch answers from hosted providers (e.g. Nicereply) into the store, incrementally."""
    names = [survey] if survey else sorted(config.instances("surveys"))
    for name in names:
        provider = build_instance(config, host, "surveys", name, store)
        if type(provider).pull_responses is SurveyProvider.pull_responses:
            continue  # not a hosted provider
        kind = str(provider.config.get("kind"))
        since_text = provider.state.get("pulled_until")
        # Overlap the previous window a little; answers are de-duplicated by their external id.
        since = None
        if since_text:
            since = timespec.parse_time(since_text, relative=False) - timedelta(hours=1)
        result = PullResult(name)
        for answer in provider.pull_responses(since):
            result.fetched += 1
            ticket_id = _find_ticket(store, answer.ticket_id)
            if ticket_id is None:
                result.unmatched += 1
                continue
            if answer.external_id and db.answer_by_external_id(store, name, answer.external_id):
                continue
            offer = db.latest_offer_for_ticket(store, name, ticket_id)
            if offer is None:
                ticket = store.get_ticket(ticket_id)
                assert ticket is not None
                offer = db.OfferRow(
                    key=f"{name}/{ticket_id}", survey=name, kind=kind, ticket_id=ticket_id,
                    cycle=1, requester_id=ticket.requester_id, address=None, channel=name,
                    language="", offered_at=answer.answered_at, expires_at=answer.answered_at,
                )  # fmt: skip
            try:
                if record(store, offer, answer.score, answer.comment, answer.answered_at,
                          source=answer.source, external_id=answer.external_id):  # fmt: skip
                    result.recorded += 1
            except ValueError:
                result.unmatched += 1
        provider.state.set("pulled_until", now.isoformat())
        yield result


def summarize(rows: list[db.AnswerRow]) -> list[str]:
    """One line per survey: CSAT % (4-5 of all), NPS (promoters - detractors), CES average."""
    by: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        by.setdefault((r.survey, r.kind), []).append(r.score)
    lines = []
    for (name, kind), scores in sorted(by.items()):
        n = len(scores)
        if kind == "csat":
            value = f"CSAT {round(100 * sum(1 for s in scores if s >= 4) / n)}%"
        elif kind == "nps":
            promoters = sum(1 for s in scores if s >= 9)
            detractors = sum(1 for s in scores if s <= 6)
            value = f"NPS {round(100 * (promoters - detractors) / n):+d}"
        else:
            value = f"CES {sum(scores) / n:.2f} (1-7)"
        lines.append(f"{name}: {n} answer(s), {value}")
    return lines
