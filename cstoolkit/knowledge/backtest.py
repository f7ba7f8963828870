"""Backtests of the knowledge-base actions: which past tickets a first-line answer would have
answered, with which articles, which asked for a person, and what would have been suggested.

Each ticket is taken as it arrived: its subject and first message in its language, with no
answer from the knowledge base yet. It would have been answered when the requester did not ask
for a person in that message and the best article scores at least the floor, exactly as
``answer_from_kb`` decides (:func:`cstoolkit.knowledge.answer.decide`, with no agent reply
yet); it would have been handed off as ``kb_handoff`` decides
(:func:`~cstoolkit.knowledge.answer.handoff_word`) and given the articles ``suggest_articles``
picks (:func:`~cstoolkit.knowledge.answer.suggestions`). For the answered tickets the result
also says what really happened: solved with at most one agent reply (a question one answer
settled).

``cst kb backtest`` replays ``answer_from_kb`` over stored tickets (:func:`backtest`);
``cst triage backtest`` replays a recipe's knowledge-base actions on the tickets its rules
matched, through the same :class:`BacktestResult` steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cstoolkit.knowledge import answer as kb_answer
from cstoolkit.knowledge.search import Hit, Index


@dataclass
class BacktestResult:
    min_score: float
    evaluated: int = 0
    answered: int = 0
    handed_off: int = 0
    one_reply_solved: int = 0
    suggested: int = 0
    by_article: Counter[str] = field(default_factory=Counter)
    scores: dict[str, list[float]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    by_suggested: Counter[str] = field(default_factory=Counter)
    _seen: set[str] = field(default_factory=set, repr=False)
    _handed: set[str] = field(default_factory=set, repr=False)

    def summary(self) -> dict[str, Any]:
        share = round(100.0 * self.answered / self.evaluated, 2) if self.evaluated else None
        return {
            "evaluated": self.evaluated,
            "answered": self.answered,
            "answered_pct": share,
            "handed_off": self.handed_off,
            "answered_and_solved_with_one_reply": self.one_reply_solved,
            "min_score": self.min_score,
        }

    def articles(self) -> list[dict[str, Any]]:
        return [
            {
                "article": article,
                "title": self.titles[article],
                "tickets": n,
                "mean_score": round(sum(self.scores[article]) / n, 4),
            }
            for article, n in sorted(self.by_article.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    # -- the steps, one ticket at a time ------------------------------------------------------

    def _count(self, ticket: Any) -> None:
        if ticket.id not in self._seen:
            self._seen.add(ticket.id)
            self.evaluated += 1

    def _handoff(self, ticket: Any) -> None:
        if ticket.id not in self._handed:
            self._handed.add(ticket.id)
            self.handed_off += 1

    def answer(
        self,
        index: Index,
        ticket: Any,
        requester: Any,
        *,
        min_score: float = kb_answer.DEFAULT_MIN_SCORE,
        handoff_words: Sequence[str] = kb_answer.HANDOFF_WORDS,
        tags: Sequence[str] = (),
        facts: Callable[[Any], Any] | None = None,
        agent_replies: int = 0,
        texts: Sequence[str] = (),
    ) -> kb_answer.Decision:
        """``answer_from_kb`` on ``ticket`` as it arrived (with ``tags``: what a recipe's earlier
        actions added; ``agent_replies`` and the requester's ``texts`` by the time it runs, when
        later than the arrival), counted; the decision says what it would have done."""
        self._count(ticket)
        decision = kb_answer.decide(
            index,
            arrived(ticket, tags),
            requester=requester,
            agent_replies=agent_replies,
            requester_texts=texts,
            min_score=min_score,
            handoff_words=handoff_words,
        )
        if decision.kind == "handoff":
            self._handoff(ticket)
        if decision.kind != "answer" or decision.hit is None:
            return decision
        hit = decision.hit
        self.answered += 1
        article = hit.article.id
        self.by_article[article] += 1
        self.scores.setdefault(article, []).append(hit.score)
        self.titles[article] = hit.article.title
        one_reply = False
        if facts is not None:
            f = facts(ticket)
            one_reply = bool(f.solves) and f.agent_replies <= 1
            self.one_reply_solved += one_reply
        self.tickets.append(
            {
                "ticket": ticket.id,
                "subject": ticket.subject,
                "language": hit.article.language,
                "article": article,
                "score": hit.score,
                "matched": list(hit.matched),
                "solved_with_one_reply": one_reply,
            }
        )
        return decision

    def handoff(
        self,
        ticket: Any,
        *,
        handoff_words: Sequence[str] = kb_answer.HANDOFF_WORDS,
        tags: Sequence[str] = (),
        agent_replies: int = 0,
        texts: Sequence[str] = (),
    ) -> str | None:
        """``kb_handoff`` on ``ticket`` as it arrived (``agent_replies`` and ``texts`` as in
        :meth:`answer`): the word it asked for a person with."""
        self._count(ticket)
        view = arrived(ticket, tags)
        said = [kb_answer.question(view), *texts]
        word = kb_answer.handoff_word(view, agent_replies, said, handoff_words)
        if word is not None:
            self._handoff(ticket)
        return word

    def suggest(
        self, index: Index, ticket: Any, requester: Any, *, limit: int, min_score: float
    ) -> list[Hit]:
        """``suggest_articles`` on ``ticket`` as it arrived: the articles it would offer."""
        self._count(ticket)
        hits = kb_answer.suggestions(
            index, arrived(ticket), requester, limit=limit, min_score=min_score
        )
        if hits:
            self.suggested += 1
            for hit in hits:
                self.by_suggested[hit.article.id] += 1
        return hits


def backtest(
    index: Index,
    tickets: Iterable[tuple[Any, Any]],
    *,
    min_score: float = kb_answer.DEFAULT_MIN_SCORE,
    handoff_words: Sequence[str] = kb_answer.HANDOFF_WORDS,
    facts: Callable[[Any], Any] | None = None,
) -> BacktestResult:
    """Replay the first-line decision over ``tickets`` ((ticket, requester) pairs)."""
    out = BacktestResult(min_score)
    for ticket, requester in tickets:
        out.answer(
            index,
            ticket,
            requester,
            min_score=min_score,
            handoff_words=handoff_words,
            facts=facts,
        )
    return out


class _Arrived:
    """A ticket as it arrived: no tags or custom fields added later by anyone (an earlier
    answer from the knowledge base included), but ``tags`` (a replayed recipe's own)."""

    def __init__(self, ticket: Any, tags: Sequence[str] = ()) -> None:
        self.id = ticket.id
        self.subject = ticket.subject
        self.description = ticket.description
        self.language = ticket.language
        self.tags: list[str] = list(tags)
        self.custom_fields: dict[str, Any] = {}


def arrived(ticket: Any, tags: Sequence[str] = ()) -> Any:
    return _Arrived(ticket, tags)
