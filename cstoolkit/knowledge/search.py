"""Ranking articles for a text: BM25 as SQLite FTS5 computes it, normalised to 0..1.

The store says which articles hold a query's terms and in how many articles each term
occurs; the score is computed here, once, from those figures, so it is the same number on
SQLite and PostgreSQL (``tests/test_knowledge_search.py`` checks that it equals FTS5's own
``bm25()`` on SQLite and that both stores rank alike).

For a query with distinct terms *t* and an article *d* (title and body, *N* articles in the
knowledge base, *avgdl* their average number of terms)::

    idf(t)   = ln((N - n(t) + 0.5) / (n(t) + 0.5)), at least 1e-6    (n(t): articles with t)
    f(t, d)  = 2 * (occurrences in the title) + (occurrences in the body)
    bm25     = sum over t of idf(t) * f * (k1 + 1) / (f + k1 * (1 - b + b * |d| / avgdl))
    score    = bm25 / sum over t of w(t) * (k1 + 1)                 (k1 = 1.2, b = 0.75)

where w(t) = idf(t) for a term some article holds and, for a term no article holds, the
weight it would have if one article held it, idf with n(t) = 1: the base could have had an
article on it and has none, so the question is only partly covered. A term no article holds
that has a digit in it (an order number, an amount) or is one or two characters long says
nothing about the topic and is left out.

``score`` is the share of the best BM25 an article could reach for the query: 1 would be an
article holding every term infinitely often, 0 one holding none; a question about something
the knowledge base does not cover scores low however well a few common words match. The share
of the query's terms the base holds is reported beside it as ``coverage``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.knowledge import text as analyse
from cstoolkit.store import knowledge as kb

if TYPE_CHECKING:
    from cstoolkit.store import Store

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 2.0
BODY_WEIGHT = 1.0
#: Scores are shown and compared with floors rounded to this many decimals.
DIGITS = 4


@dataclass
class Hit:
    """One ranked article: its normalised score, raw BM25 and the query words it holds."""

    article: kb.ArticleRow
    score: float
    bm25: float
    matched: list[str] = field(default_factory=list)
    language: str = ""
    coverage: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        a = self.article
        return {
            "article": a.id,
            "title": a.title,
            "language": a.language,
            "section": a.section,
            "url": a.url,
            "score": self.score,
            "bm25": round(self.bm25, DIGITS),
            "matched": list(self.matched),
            "coverage": self.coverage,
        }


@dataclass(slots=True)
class _Scored:
    id: str
    score: float
    bm25: float
    matched: list[str]
    language: str
    coverage: float


def is_topic_word(term: str) -> bool:
    """Whether a term no article holds still counts against a query's score (see above)."""
    return len(term) > 2 and not any(c.isdigit() for c in term)


def idf(n_docs: int, df: int) -> float:
    value = math.log((n_docs - df + 0.5) / (df + 0.5))
    return value if value > 0 else 1e-6


class Index:
    """Searches one store's knowledge base; keeps the base's totals and the document
    frequencies it has looked up for the life of one command (a backtest searches many)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._totals: tuple[int, int] | None = None
        self._df: dict[str, int] = {}
        self._languages: list[str] | None = None

    @property
    def totals(self) -> tuple[int, int]:
        if self._totals is None:
            self._totals = kb.totals(self.store)
        return self._totals

    @property
    def languages(self) -> list[str]:
        if self._languages is None:
            self._languages = kb.languages(self.store)
        return self._languages

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        missing = [t for t in terms if t not in self._df]
        if missing:
            self._df.update(kb.document_frequencies(self.store, missing))
        return {t: self._df[t] for t in terms}

    def search(
        self,
        text: str,
        *,
        language: str | None = None,
        limit: int = 5,
        min_score: float = 0.0,
    ) -> list[Hit]:
        """The best articles for ``text``: in ``language`` only (the text read as that
        language), or, without one, in every language of the knowledge base (the text read
        as each), best first; ties by article id."""
        scored: list[_Scored] = []
        langs = [language] if language else self.languages
        for lang in langs:
            scored.extend(self._search_language(text, lang))
        scored.sort(key=lambda s: (-s.score, s.id))
        best = [s for s in scored if s.score >= min_score and s.score > 0][:limit]
        out = []
        for s in best:  # the whole article only for what is shown
            article = kb.article(self.store, s.id)
            if article is not None:
                out.append(Hit(article, s.score, s.bm25, s.matched, s.language, s.coverage))
        return out

    def _search_language(self, text: str, language: str) -> list[_Scored]:
        originals: dict[str, str] = {}
        stop = analyse.STOP_WORDS.get(language, frozenset())
        for word in analyse.words(text):
            if word in stop:
                continue
            for term in analyse.terms(word, language):
                originals.setdefault(term, word)
        terms = list(originals)
        if not terms:
            return []
        n_docs, total = self.totals
        if n_docs == 0:
            return []
        avgdl = total / n_docs if total else 1.0
        df = self.document_frequencies(terms)
        weights = {t: idf(n_docs, df[t]) for t in terms if df[t]}
        missing = [t for t in terms if not df[t] and is_topic_word(t)]
        if not weights:
            return []
        best = sum(w * (K1 + 1) for w in weights.values())
        best += len(missing) * idf(n_docs, 1) * (K1 + 1)
        coverage = round(len(weights) / (len(weights) + len(missing)), DIGITS)
        out = []
        for candidate in kb.candidates(self.store, terms, languages=[language]):
            raw, matched = bm25(candidate, weights, avgdl)
            if not matched:
                continue
            out.append(
                _Scored(
                    candidate.id,
                    round(raw / best, DIGITS) if best else 0.0,
                    raw,
                    [originals[t] for t in terms if t in matched],
                    language,
                    coverage,
                )
            )
        return out


def bm25(article: Any, weights: dict[str, float], avgdl: float) -> tuple[float, set[str]]:
    """FTS5's BM25 of ``article`` for terms with these IDF weights, and the terms it holds."""
    title = article.title_terms.split()
    body = article.terms.split()
    norm = K1 * (1 - B + B * article.length / avgdl)
    score = 0.0
    matched = set()
    for term, weight in weights.items():
        f = TITLE_WEIGHT * title.count(term) + BODY_WEIGHT * body.count(term)
        if f:
            matched.add(term)
            score += weight * (f * (K1 + 1)) / (f + norm)
    return score, matched
