"""The knowledge-gaps table: topics with many tickets and no article that answers them.

One implementation for ``cst kb gaps`` and the ``knowledge_gaps`` section of ``cst report
kpi``. A ticket's topics are its tags (language tags left out) or, from the routing model, the
tags it predicts (:data:`TOPIC_SOURCES`; the commands build the prediction, this module only
takes a function). For each topic with at least ``min_tickets`` tickets, its latest ``sample``
tickets are searched (subject and first message, in the ticket's language): the share an
article answers at ``min_score`` or more is the topic's coverage, and a topic under 50% is a
gap. The work grows with the topics, not the tickets: at most ``sample`` searches per topic,
and one search per distinct question and language.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.knowledge import TOPIC_SOURCES
from cstoolkit.knowledge import answer as kb_answer
from cstoolkit.knowledge.search import Index
from cstoolkit.knowledge.text import STEMMERS

if TYPE_CHECKING:
    from cstoolkit.knowledge.search import Hit
    from cstoolkit.model import Person, Ticket
    from cstoolkit.store import Store

__all__ = [
    "COLUMNS",
    "TOPIC_SOURCES",
    "Gap",
    "GapRequest",
    "GapSettings",
    "Topics",
    "for_report",
    "gaps",
    "language_tags",
    "measure",
    "tag_topics",
    "with_predictions",
]

Pair = tuple["Ticket", "Person | None"]
#: a ticket's topics, for many tickets at once (a model predicts faster in batches)
Topics = Callable[[Sequence[Pair]], list[list[str]]]
COLUMNS = ["topic", "tickets", "sampled", "covered", "coverage_pct", "gap", "best_article"]


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


@dataclass(frozen=True)
class GapSettings:
    """The table's knobs (``cst kb gaps`` and ``cst report kpi --gaps`` options)."""

    min_score: float = kb_answer.DEFAULT_MIN_SCORE
    min_tickets: int = 5
    sample: int = 50


@dataclass
class Gap:
    topic: str
    tickets: int = 0
    sampled: int = 0
    covered: int = 0
    articles: Counter[str] = field(default_factory=Counter)

    @property
    def coverage_pct(self) -> float | None:
        return _pct(self.covered, self.sampled)

    @property
    def is_gap(self) -> bool:
        pct = self.coverage_pct
        return pct is not None and pct < 50.0

    def as_dict(self) -> dict[str, Any]:
        best = self.articles.most_common(1)
        return {
            "topic": self.topic,
            "tickets": self.tickets,
            "sampled": self.sampled,
            "covered": self.covered,
            "coverage_pct": self.coverage_pct,
            "gap": self.is_gap,
            "best_article": best[0][0] if best else None,
        }


def tag_topics(pairs: Sequence[Pair]) -> list[list[str]]:
    """Topics from the tickets' own tags."""
    return [list(t.tags) for t, _ in pairs]


def with_predictions(predicted: Topics, *, every_ticket: bool = False) -> Topics:
    """Topics from the routing model's predicted tags (``predicted``): for the tickets without
    tags of their own, or for every ticket (``every_ticket``)."""

    def topics(pairs: Sequence[Pair]) -> list[list[str]]:
        if every_ticket:
            return predicted(pairs)
        out = tag_topics(pairs)
        bare = [i for i, tags in enumerate(out) if not tags]
        if bare:
            for i, tags in zip(bare, predicted([pairs[i] for i in bare]), strict=True):
                out[i] = list(tags)
        return out

    return topics


def language_tags(index: Index) -> set[str]:
    """Tags that name a language are not topics."""
    return set(STEMMERS) | set(index.languages)


def gaps(
    index: Index,
    tickets: Iterable[Pair],
    *,
    min_score: float = kb_answer.DEFAULT_MIN_SCORE,
    min_tickets: int = 5,
    sample: int = 50,
    ignore: Iterable[str] = (),
    topics: Topics = tag_topics,
) -> list[Gap]:
    """Topics with at least ``min_tickets`` tickets, each with how many of its latest
    ``sample`` tickets an article answers at ``min_score`` or more (in the ticket's language);
    a topic under 50% is a gap. Gaps first, the most uncovered tickets first."""
    counts: Counter[str] = Counter()
    latest: dict[str, list[Pair]] = {}
    _add_topics(list(tickets), topics, set(ignore), counts, latest)
    return measure(index, counts, latest, min_score=min_score, min_tickets=min_tickets,
                   sample=sample)  # fmt: skip


def _add_topics(
    pairs: Sequence[Pair],
    topics: Topics,
    skip: set[str],
    counts: Counter[str],
    latest: dict[str, list[Pair]],
) -> None:
    for pair, names in zip(pairs, topics(pairs), strict=True):
        for topic in dict.fromkeys(names):
            if topic not in skip:
                counts[topic] += 1
                latest.setdefault(topic, []).append(pair)


def measure(
    index: Index,
    counts: Mapping[str, int],
    tickets: Mapping[str, Sequence[Pair]],
    *,
    min_score: float = kb_answer.DEFAULT_MIN_SCORE,
    min_tickets: int = 5,
    sample: int = 50,
) -> list[Gap]:
    """The table from each topic's ticket count and its tickets (at least its latest
    ``sample``): the searches, one per distinct question and language."""
    found: dict[tuple[str, str | None], Hit | None] = {}
    out = []
    for topic, n in counts.items():
        if n < min_tickets:
            continue
        gap = Gap(topic, tickets=n)
        latest = sorted(tickets.get(topic, ()), key=lambda tr: (tr[0].created_at, tr[0].id))
        for ticket, requester in latest[-sample:]:
            gap.sampled += 1
            key = (kb_answer.question(ticket), kb_answer.language_of(ticket, requester))
            if key not in found:
                hits = index.search(key[0], language=key[1], limit=1)
                found[key] = hits[0] if hits else None
            best = found[key]
            if best is not None and best.score >= min_score:
                gap.covered += 1
                gap.articles[best.article.id] += 1
        out.append(gap)
    out.sort(
        key=lambda g: (
            not g.is_gap,
            -(g.tickets - g.covered * g.tickets / max(g.sampled, 1)),
            g.topic,
        )
    )
    return out


def _section(found: Sequence[Gap], settings: GapSettings, source: str) -> dict[str, Any]:
    return {
        "topics": source,
        "min_score": settings.min_score,
        "min_tickets": settings.min_tickets,
        "sample": settings.sample,
        "gaps": sum(g.is_gap for g in found),
        "columns": list(COLUMNS),
        "rows": [[g.as_dict()[c] for c in COLUMNS] for g in found],
    }


@dataclass(frozen=True)
class GapRequest:
    """Where the topics come from, and the table's settings: the tags, and the routing
    model's predicted tags (``predicted``, built by the commands: the model lives above this
    package) for the tickets without tags or for every ticket (``every_ticket``)."""

    settings: GapSettings = field(default_factory=GapSettings)
    predicted: Topics | None = None
    every_ticket: bool = False
    source: str = "tags"
    note: str | None = None

    def topics(self) -> Topics:
        if self.predicted is None:
            return tag_topics
        return with_predictions(self.predicted, every_ticket=self.every_ticket)


NO_KNOWLEDGE_BASE = (
    "knowledge gaps: no knowledge base (no articles in the store: add [knowledge.NAME] and run "
    "cst kb sync, docs/knowledge.md)"
)


def for_report(
    store: Store,
    where: str,
    params: Sequence[Any],
    *,
    since: float,
    until: float,
    request: GapRequest,
    notes: list[str],
) -> dict[str, Any] | None:
    """The report's ``knowledge_gaps`` section over the tickets of its condition (``where``
    over ``tickets t`` and ``people r``) created in the period, or ``None`` with a one-line
    note when the store holds no article.

    Tags are counted in SQL and only each topic's latest tickets are read; the tickets the
    model gives topics to (those without tags, or all of them) are read and predicted."""
    from cstoolkit.store import knowledge as store_kb

    if request.note:
        notes.append(request.note)
    index = Index(store)
    if not store.has_table("kb_articles") or not index.languages:
        notes.append(NO_KNOWLEDGE_BASE)
        return None
    settings = request.settings
    skip = language_tags(index)
    counts: Counter[str] = Counter()
    latest: dict[str, list[Pair]] = {}
    if request.predicted is None or not request.every_ticket:
        tag_counts, tag_latest = store_kb.tag_samples(
            store, where, params, since=since, until=until, sample=settings.sample,
            min_tickets=settings.min_tickets if request.predicted is None else 1, ignore=skip,
        )  # fmt: skip
        counts.update(tag_counts)
        for topic, pairs in tag_latest.items():
            latest.setdefault(topic, []).extend(pairs)
    if request.predicted is not None:
        pairs = list(
            store_kb.tickets_created(
                store, where, params, since=since, until=until,
                untagged=not request.every_ticket,
            )
        )  # fmt: skip
        _add_topics(pairs, request.predicted, skip, counts, latest)
    found = measure(index, counts, latest, min_score=settings.min_score,
                    min_tickets=settings.min_tickets, sample=settings.sample)  # fmt: skip
    return _section(found, settings, request.source)
