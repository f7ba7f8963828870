"""Knowledge-base articles and their full-text index (migration 0013).

Articles arrive with their terms already made (:mod:`cstoolkit.knowledge.text`); this module
keeps them and finds which articles hold which terms. The index is the dialect's own:

* SQLite: an FTS5 table ``kb_fts(title, body)`` whose rowid is the article row's, and its
  ``fts5vocab`` companion ``kb_vocab`` for document frequencies;
* PostgreSQL: a generated ``tsvector`` column ``search`` (``to_tsvector('simple', ...)``, no
  stemming: the terms are stemmed already) with a GIN index.

Both answer the same two questions with the same results: which articles hold any of these
terms (:func:`matching`) and in how many articles each term occurs
(:func:`document_frequencies`). Scoring happens above the store, from those answers, so a score
is the same number on both stores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.model import Person, Ticket, now
from cstoolkit.store import codec
from cstoolkit.store.codec import dumps, from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

#: At most this many candidate articles are read for one query (by id); a knowledge base with
#: more articles matching one query ranks the first ones by id (docs/knowledge.md).
MAX_CANDIDATES = 5000

_COLUMNS = (
    "id, source, external_id, title, body, language, section, labels, url, updated_at, "
    "title_terms, terms, length"
)
_CHUNK = 400


@dataclass(slots=True)
class ArticleRow:
    """One stored article with its indexed terms (space-separated)."""

    id: str
    source: str
    external_id: str
    title: str
    body: str
    language: str
    updated_at: datetime
    title_terms: str
    terms: str
    length: int
    section: str | None = None
    labels: list[str] = field(default_factory=list)
    url: str | None = None


def _row(r: Sequence[Any]) -> ArticleRow:
    updated = from_epoch(r[9])
    assert updated is not None
    return ArticleRow(
        id=r[0],
        source=r[1],
        external_id=r[2],
        title=r[3],
        body=r[4],
        language=r[5],
        section=r[6],
        labels=list(json.loads(r[7] or "[]")),
        url=r[8],
        updated_at=updated,
        title_terms=r[10],
        terms=r[11],
        length=int(r[12]),
    )


# -- schema ------------------------------------------------------------------------------------


def create_index(
    store: Store, cur: Any, on_progress: Callable[[int, int], None] | None = None
) -> None:
    """Migration 0013's step: the dialect's full-text index over ``kb_articles``."""
    if store.dialect == "sqlite":
        cur.execute("CREATE VIRTUAL TABLE kb_fts USING fts5(title, body, tokenize = 'unicode61')")
        cur.execute("CREATE VIRTUAL TABLE kb_vocab USING fts5vocab(kb_fts, 'row')")
    else:
        cur.execute(
            "ALTER TABLE kb_articles ADD COLUMN search tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple', title_terms || ' ' || terms)) STORED"
        )
        cur.execute("CREATE INDEX kb_articles_search ON kb_articles USING GIN (search)")


# -- writing -----------------------------------------------------------------------------------


def source_cursor(store: Store, source: str) -> str | None:
    row = store.conn.execute("SELECT cursor FROM kb_sources WHERE source = ?", (source,)).fetchone()
    return row[0] if row else None


def save_page(
    store: Store,
    source: str,
    rows: Sequence[ArticleRow],
    deleted: Iterable[str],
    cursor: str | None,
) -> tuple[int, int]:
    """Store one page of a source: its articles, its deletions (external ids) and its cursor,
    in one transaction. Returns (articles written, articles deleted)."""
    stamp = to_epoch(now())
    removed = 0
    with store.transaction() as cur:
        for row in rows:
            _upsert(store, cur, row, stamp)
        for external_id in deleted:
            removed += _delete(store, cur, f"{source}:{external_id}")
        count = cur.execute(
            "SELECT COUNT(*) FROM kb_articles WHERE source = ?", (source,)
        ).fetchone()[0]
        cur.execute(
            "INSERT INTO kb_sources (source, cursor, synced_at, articles) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET cursor = COALESCE(excluded.cursor, "
            "kb_sources.cursor), synced_at = excluded.synced_at, articles = excluded.articles",
            (source, cursor, stamp, count),
        )
    return len(rows), removed


def _upsert(store: Store, cur: Any, row: ArticleRow, stamp: int | None) -> None:
    cur.execute(
        "INSERT INTO kb_articles (id, source, external_id, title, body, language, section, "
        "labels, url, updated_at, title_terms, terms, length, synced_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, "
        "language = excluded.language, section = excluded.section, labels = excluded.labels, "
        "url = excluded.url, updated_at = excluded.updated_at, "
        "title_terms = excluded.title_terms, terms = excluded.terms, length = excluded.length, "
        "synced_at = excluded.synced_at",
        (
            row.id,
            row.source,
            row.external_id,
            row.title,
            row.body,
            row.language,
            row.section,
            dumps(list(row.labels)),
            row.url,
            to_epoch(row.updated_at),
            row.title_terms,
            row.terms,
            row.length,
            stamp,
        ),
    )
    if store.dialect == "sqlite":
        rowid = cur.execute("SELECT rowid FROM kb_articles WHERE id = ?", (row.id,)).fetchone()[0]
        cur.execute("DELETE FROM kb_fts WHERE rowid = ?", (rowid,))
        cur.execute(
            "INSERT INTO kb_fts (rowid, title, body) VALUES (?, ?, ?)",
            (rowid, row.title_terms, row.terms),
        )


def _delete(store: Store, cur: Any, article_id: str) -> int:
    if store.dialect == "sqlite":
        found = cur.execute("SELECT rowid FROM kb_articles WHERE id = ?", (article_id,)).fetchone()
        if found is None:
            return 0
        cur.execute("DELETE FROM kb_fts WHERE rowid = ?", (found[0],))
    cur.execute("DELETE FROM kb_articles WHERE id = ?", (article_id,))
    return 1


def external_ids(store: Store, source: str) -> set[str]:
    rows = store.conn.execute("SELECT external_id FROM kb_articles WHERE source = ?", (source,))
    return {r[0] for r in rows}


# -- reading -----------------------------------------------------------------------------------


def totals(store: Store) -> tuple[int, int]:
    """(articles, indexed terms in all of them): BM25's N and, divided, its average length."""
    sql = "SELECT COUNT(*), COALESCE(SUM(length), 0) FROM kb_articles"
    row = store.conn.execute(sql).fetchone()
    return int(row[0]), int(row[1])


def document_frequencies(store: Store, terms: Sequence[str]) -> dict[str, int]:
    """In how many articles (title or body) each of ``terms`` occurs."""
    wanted = list(dict.fromkeys(terms))
    out = dict.fromkeys(wanted, 0)
    if not wanted:
        return out
    if store.dialect == "sqlite":
        for i in range(0, len(wanted), _CHUNK):
            part = wanted[i : i + _CHUNK]
            marks = ", ".join("?" * len(part))
            rows = store.conn.execute(
                f"SELECT term, doc FROM kb_vocab WHERE term IN ({marks})", tuple(part)
            )
            for term, doc in rows:
                out[term] = int(doc)
        return out
    for term in wanted:
        row = store.conn.execute(
            "SELECT COUNT(*) FROM kb_articles WHERE search @@ to_tsquery('simple', ?)",
            (_quoted(term),),
        ).fetchone()
        out[term] = int(row[0])
    return out


def _quoted(term: str) -> str:
    # terms are ASCII letters and digits (cstoolkit.knowledge.text); quoting keeps them literal
    return "'" + term.replace("'", "") + "'"


@dataclass(slots=True)
class Candidate:
    """What scoring an article needs: its id and indexed terms (no title or body text)."""

    id: str
    title_terms: str
    terms: str
    length: int


def candidates(
    store: Store,
    terms: Sequence[str],
    *,
    languages: Sequence[str] | None = None,
    limit: int = MAX_CANDIDATES,
) -> list[Candidate]:
    """The articles holding any of ``terms`` (in ``languages`` when given), by id, as the
    terms scoring reads."""
    return [
        Candidate(*r)
        for r in _matching(store, terms, "a.id, a.title_terms, a.terms, a.length", languages, limit)
    ]


def matching(
    store: Store,
    terms: Sequence[str],
    *,
    languages: Sequence[str] | None = None,
    limit: int = MAX_CANDIDATES,
) -> list[ArticleRow]:
    """The articles holding any of ``terms`` (in ``languages`` when given), by id."""
    cols = ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
    return [_row(r) for r in _matching(store, terms, cols, languages, limit)]


def _matching(
    store: Store,
    terms: Sequence[str],
    cols: str,
    languages: Sequence[str] | None,
    limit: int,
) -> list[Any]:
    wanted = [t for t in dict.fromkeys(terms) if t]
    if not wanted:
        return []
    where = ""
    params: list[Any] = []
    if languages:
        where = f" AND a.language IN ({', '.join('?' * len(languages))})"
        params.extend(languages)
    if store.dialect == "sqlite":
        match = " OR ".join(f'"{t}"' for t in wanted)
        sql = (
            f"SELECT {cols} FROM kb_fts JOIN kb_articles a ON a.rowid = kb_fts.rowid "
            f"WHERE kb_fts MATCH ?{where} ORDER BY a.id LIMIT ?"
        )
    else:
        match = " | ".join(_quoted(t) for t in wanted)
        sql = (
            f"SELECT {cols} FROM kb_articles a WHERE a.search @@ to_tsquery('simple', ?)"
            f"{where} ORDER BY a.id LIMIT ?"
        )
    return list(store.conn.execute(sql, (match, *params, limit)))


def articles(
    store: Store, *, source: str | None = None, language: str | None = None
) -> list[ArticleRow]:
    where, params = [], []
    if source:
        where.append("source = ?")
        params.append(source)
    if language:
        where.append("language = ?")
        params.append(language)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM kb_articles{clause} ORDER BY id", tuple(params)
    )
    return [_row(r) for r in rows]


def article(store: Store, article_id: str) -> ArticleRow | None:
    row = store.conn.execute(
        f"SELECT {_COLUMNS} FROM kb_articles WHERE id = ?", (article_id,)
    ).fetchone()
    return _row(row) if row else None


def languages(store: Store) -> list[str]:
    rows = store.conn.execute("SELECT DISTINCT language FROM kb_articles ORDER BY language")
    return [r[0] for r in rows]


def sources(store: Store) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT source, synced_at, articles FROM kb_sources ORDER BY source"
    ).fetchall()
    return [{"source": r[0], "synced_at": from_epoch(r[1]), "articles": r[2]} for r in rows]


# -- self-service figures ----------------------------------------------------------------------


#: The counts :func:`self_service_counts` returns, in order.
SELF_SERVICE_COUNTS = (
    "created", "answered", "deflected", "reopened", "csat_responses", "csat_good",
)  # fmt: skip


def bucket_case(column: str, bounds: Sequence[int]) -> str:
    """An SQL expression giving the bucket index ``b`` of ``column`` in
    ``[bounds[b], bounds[b + 1])`` (NULL outside ``bounds``): nested CASEs halving the range,
    so a row costs ``log2(buckets)`` comparisons."""
    edges = [int(b) for b in bounds]

    def inner(lo: int, hi: int) -> str:
        if hi - lo == 1:
            return str(lo)
        mid = (lo + hi) // 2
        return f"CASE WHEN {column} < {edges[mid]} THEN {inner(lo, mid)} ELSE {inner(mid, hi)} END"

    if len(edges) < 2:
        return "NULL"
    return (
        f"CASE WHEN {column} >= {edges[0]} AND {column} < {edges[-1]} "
        f"THEN {inner(0, len(edges) - 1)} END"
    )


def _join(where: str) -> str:
    """People joined as ``r`` when a report's condition reads them."""
    return " LEFT JOIN people r ON r.id = t.requester_id" if "r." in where else ""


def _period(where: str) -> str:
    """``FROM tickets t [LEFT JOIN people r] WHERE (where) AND created in [?, ?)``: a report's
    condition over ``tickets t`` and ``people r`` and its period."""
    return f"FROM tickets t{_join(where)} {_cond(where)}"


def _cond(where: str) -> str:
    return f"WHERE ({where}) AND t.created_at >= ? AND t.created_at < ?"


#: The partial index on the answered tickets by creation (migration 0016).
ANSWERED_INDEX = "tickets_kb_answered"

#: The condition of :data:`ANSWERED_INDEX`, written as the index's own (so planners match it).
ANSWERED = "json_extract(t.custom_fields, '$.kb_article') IS NOT NULL"


def _key(by: str | None, bounds: Sequence[int] | None) -> str:
    from cstoolkit.store.reports import GROUP_COLUMNS

    if bounds is not None:
        return bucket_case("t.created_at", bounds)
    return GROUP_COLUMNS[by] if by is not None else "NULL"


def self_service_answered(
    store: Store,
    where: str,
    params: Sequence[Any],
    *,
    since: float,
    until: float,
    csat_good_min: int = 4,
    by: str | None = None,
    bounds: Sequence[int] | None = None,
) -> dict[Any, dict[str, int]]:
    """The counts of :func:`self_service_counts` but ``created``, by key: only the answered
    tickets are read, through the partial index :data:`ANSWERED_INDEX` (their facts joined);
    keys without an answered ticket are absent."""
    sql = (
        f"SELECT {_key(by, bounds)} AS k, COUNT(*), "
        "SUM(CASE WHEN t.status IN ('solved', 'closed') "
        "AND COALESCE(f.agent_replies, 0) <= 1 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN COALESCE(f.reopens, 0) > 0 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN f.survey_csat >= 1 AND f.survey_csat < 6 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN f.survey_csat >= ? AND f.survey_csat < 6 THEN 1 ELSE 0 END) "
        f"FROM tickets t INDEXED BY {ANSWERED_INDEX}{_join(where)} "
        "LEFT JOIN ticket_facts f ON f.ticket_id = t.id "
        f"WHERE {ANSWERED} AND t.created_at >= ? AND t.created_at < ? AND ({where}) "
        "GROUP BY k"
    )
    rows = store.conn.execute(
        sql, (csat_good_min, math.ceil(since), math.ceil(until), *params)
    ).fetchall()
    return {
        row[0]: {n: int(v or 0) for n, v in zip(SELF_SERVICE_COUNTS[1:], row[1:], strict=True)}
        for row in rows
    }


def created_counts(
    store: Store,
    where: str,
    params: Sequence[Any],
    *,
    since: float,
    until: float,
    by: str | None = None,
    bounds: Sequence[int] | None = None,
) -> dict[Any, int]:
    """Tickets ``where`` selects created in [since, until), by the key of
    :func:`self_service_counts`: a plain count, no custom field decoded."""
    sql = f"SELECT {_key(by, bounds)} AS k, COUNT(*) {_period(where)} GROUP BY k"
    rows = store.conn.execute(sql, (*params, math.ceil(since), math.ceil(until))).fetchall()
    return {row[0]: int(row[1]) for row in rows}


def combine(
    created: Mapping[Any, int], answered: Mapping[Any, Mapping[str, int]]
) -> dict[Any, dict[str, int]]:
    """The counts of :func:`self_service_counts` from the created tickets and the answered
    ones' counts, by key; keys without a created ticket are absent."""
    zero = dict.fromkeys(SELF_SERVICE_COUNTS[1:], 0)
    return {k: {"created": int(n), **answered.get(k, zero)} for k, n in created.items() if n}


def self_service_counts(
    store: Store,
    where: str,
    params: Sequence[Any],
    *,
    since: float,
    until: float,
    csat_good_min: int = 4,
    by: str | None = None,
    bounds: Sequence[int] | None = None,
) -> dict[Any, dict[str, int]]:
    """Of the tickets ``where`` selects (a report's condition over ``tickets t`` and ``people
    r``) created in [since, until): how many were created, answered from the knowledge base
    (custom field ``kb_article`` set), of those solved with no agent reply but the answer's own
    (``agent_replies <= 1``), reopened, and their CSAT answers (1-5) and good ones.

    Keyed by group: ``None`` alone without ``by`` and ``bounds``; with ``by`` (a ``--by``
    attribute, :data:`cstoolkit.store.reports.GROUP_COLUMNS`) the ticket's value of that
    column (``tier``: its assignee); with ``bounds`` the index of the creation bucket
    (:func:`bucket_case`). Keys without tickets are absent.

    Two queries: :func:`self_service_answered` (the answered tickets alone, through the partial
    index) and :func:`created_counts`. The KPI report has the created tickets counted already
    and runs only the first (:class:`cstoolkit.knowledge.metrics.SelfServiceMetric`)."""
    answered = self_service_answered(
        store, where, params, since=since, until=until, csat_good_min=csat_good_min, by=by,
        bounds=bounds,
    )  # fmt: skip
    created = created_counts(store, where, params, since=since, until=until, by=by, bounds=bounds)
    return combine(created, answered)


# -- the knowledge gaps' tickets ----------------------------------------------------------------


def tickets_created(
    store: Store,
    where: str,
    params: Sequence[Any],
    *,
    since: float,
    until: float,
    untagged: bool = False,
) -> Iterator[tuple[Ticket, Person | None]]:
    """The (ticket, requester) pairs ``where`` selects (a report's condition) created in
    [since, until), oldest first; ``untagged``: only those without tags."""
    extra = " AND NOT EXISTS (SELECT 1 FROM ticket_tags tt WHERE tt.ticket_id = t.id)"
    sql = f"SELECT t.id {_period(where)}{extra if untagged else ''}"
    yield from _pairs(store, sql, [*params, math.ceil(since), math.ceil(until)])


def _pairs(
    store: Store, id_sql: str, params: Sequence[Any]
) -> Iterator[tuple[Ticket, Person | None]]:
    cols = ", ".join(f"t.{c}" for c in codec.TICKET_COLUMNS.split(", "))
    pcols = ", ".join(f"r.{c}" for c in codec.PERSON_COLUMNS.split(", "))
    ncols = len(codec.TICKET_COLUMNS.split(", "))
    sql = (
        f"SELECT {cols}, {pcols} FROM tickets t LEFT JOIN people r ON r.id = t.requester_id "
        f"WHERE t.id IN ({id_sql}) ORDER BY t.created_at, t.id"
    )
    for row in store.conn.execute(sql, tuple(params)):
        requester = codec.row_person(row[ncols:]) if row[ncols] is not None else None
        yield codec.row_ticket(row[:ncols]), requester


def tag_samples(
    store: Store,
    where: str,
    params: Sequence[Any],
    *,
    since: float,
    until: float,
    sample: int,
    min_tickets: int = 1,
    ignore: Iterable[str] = (),
) -> tuple[dict[str, int], dict[str, list[tuple[Ticket, Person | None]]]]:
    """Per tag of the tickets ``where`` selects created in [since, until) (but ``ignore``):
    how many tickets carry it, and for the tags on at least ``min_tickets`` of them the latest
    ``sample`` (by creation, then id; oldest first) as (ticket, requester) pairs. Counted in
    SQL; only the sampled tickets are read."""
    skip = sorted(set(ignore))
    not_in = f" AND tt.tag NOT IN ({', '.join('?' * len(skip))})" if skip else ""
    base = f"FROM ticket_tags tt JOIN tickets t ON t.id = tt.ticket_id{_join(where)} {_cond(where)}"
    args = [*params, math.ceil(since), math.ceil(until), *skip]
    counts = {
        str(tag): int(n)
        for tag, n in store.conn.execute(
            f"SELECT tt.tag, COUNT(*) {base}{not_in} GROUP BY tt.tag", tuple(args)
        ).fetchall()
    }
    chosen = sorted(tag for tag, n in counts.items() if n >= min_tickets)
    latest: dict[str, list[tuple[Ticket, Person | None]]] = {tag: [] for tag in chosen}
    if not chosen:
        return counts, latest
    marks = ", ".join("?" * len(chosen))
    ranked = (
        "SELECT tt.tag AS tag, t.id AS id, ROW_NUMBER() OVER (PARTITION BY tt.tag "
        f"ORDER BY t.created_at DESC, t.id DESC) AS n {base} AND tt.tag IN ({marks})"
    )
    rows = store.conn.execute(
        f"SELECT tag, id FROM ({ranked}) s WHERE n <= ?",
        (*params, math.ceil(since), math.ceil(until), *chosen, int(sample)),
    ).fetchall()  # fmt: skip
    tags_of: dict[str, list[str]] = {}
    for tag, tid in rows:
        tags_of.setdefault(tid, []).append(tag)
    ids = sorted(tags_of)
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(part))
        for ticket, requester in _pairs(
            store, f"SELECT id FROM tickets WHERE id IN ({marks})", part
        ):
            for tag in tags_of[ticket.id]:
                latest[tag].append((ticket, requester))
    for pairs in latest.values():
        pairs.sort(key=lambda tr: (tr[0].created_at, tr[0].id))
    return counts, latest
