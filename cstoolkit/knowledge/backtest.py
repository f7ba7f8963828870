"""``cst kb backtest``: which past tickets a first-line answer would have answered, and with
which articles.

Each ticket is taken as it arrived: its subject and first message in its language. It would
have been answered when the requester did not ask for a person in that message and the best
article scores at least the floor, exactly as ``answer_from_kb`` decides
(:func:`cstoolkit.knowledge.answer.decide`, with no agent reply yet). For those tickets the
result also says what really happened: solved with at most one agent reply (a question one
answer settled) and reopened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cstoolkit.knowledge import answer as kb_answer
from cstoolkit.knowledge.search import Index


@dataclass
class BacktestResult:
    min_score: float
    evaluated: int = 0
    answered: int = 0
    handed_off: int = 0
    one_reply_solved: int = 0
    by_article: Counter[str] = field(default_factory=Counter)
    scores: dict[str, list[float]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    tickets: list[dict[str, Any]] = field(default_factory=list)

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
        out.evaluated += 1
        arriving = _as_arrived(ticket)
        decision = kb_answer.decide(
            index,
            arriving,
            requester=requester,
            min_score=min_score,
            handoff_words=handoff_words,
        )
        if decision.kind == "handoff":
            out.handed_off += 1
            continue
        if decision.kind != "answer" or decision.hit is None:
            continue
        hit = decision.hit
        out.answered += 1
        article = hit.article.id
        out.by_article[article] += 1
        out.scores.setdefault(article, []).append(hit.score)
        out.titles[article] = hit.article.title
        one_reply = False
        if facts is not None:
            f = facts(ticket)
            one_reply = bool(f.solves) and f.agent_replies <= 1
            out.one_reply_solved += one_reply
        out.tickets.append(
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
    return out


class _Arrived:
    """A ticket as it arrived: no tags or custom fields added later by anyone (an earlier
    answer from the knowledge base included)."""

    def __init__(self, ticket: Any) -> None:
        self.subject = ticket.subject
        self.description = ticket.description
        self.language = ticket.language
        self.tags: list[str] = []
        self.custom_fields: dict[str, Any] = {}


def _as_arrived(ticket: Any) -> Any:
    return _Arrived(ticket)
