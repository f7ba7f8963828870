"""What a ticket asks the knowledge base, and whether a first-line answer may go out.

A ticket's question is its subject and its first message (the description), read in the
ticket's language (the ticket's, else its requester's, else the default). An automatic answer
(:func:`decide`) goes out only when all of these hold, in this order:

1. the requester has not asked for a person: none of the handoff words (``agent``, ``humano``,
   ``atendente``..., configurable) appears as a whole word in any of their messages; when one
   does, the ticket is handed to the team and no automatic answer follows, ever;
2. no agent has replied publicly yet (the ticket's facts: ``agent_replies`` is 0);
3. the ticket has not been answered from the knowledge base before (once per ticket: the
   custom field :data:`ARTICLE_FIELD` is set when an answer is planned);
4. the best article in the ticket's language scores at least the floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cstoolkit.knowledge import text as analyse
from cstoolkit.knowledge.search import Hit, Index

#: Custom fields an automatic answer sets on the ticket (through the one write path, so a
#: revert clears them): the article, its score, and the tag of a handoff.
ARTICLE_FIELD = "kb_article"
SCORE_FIELD = "kb_score"
HANDOFF_TAG = "kb_handoff"
ANSWERED_TAG = "kb_answered"
#: Words that mean "let me talk to a person" (whole words, accents ignored).
HANDOFF_WORDS = (
    "agent",
    "human",
    "person",
    "agente",
    "humano",
    "persona",
    "atendente",
    "pessoa",
)
#: The default floor of an automatic answer (a normalised score, docs/knowledge.md).
DEFAULT_MIN_SCORE = 0.35
#: The default floor of a suggestion to an agent.
DEFAULT_SUGGEST_SCORE = 0.1


def question(ticket: Any) -> str:
    """The text a ticket asks: its subject and first message."""
    return f"{ticket.subject or ''}\n{ticket.description or ''}".strip()


def language_of(ticket: Any, requester: Any = None, default: str = "en") -> str:
    lang = getattr(ticket, "language", None) or getattr(requester, "language", None)
    return analyse.language_code(lang, default)


@dataclass
class Decision:
    """``answer`` (with the hit), ``handoff`` (the word found) or ``skip`` (why)."""

    kind: str
    reason: str
    hit: Hit | None = None


def answered_from_kb(ticket: Any) -> bool:
    custom = ticket.custom_fields or {}
    return bool(custom.get(ARTICLE_FIELD)) or ANSWERED_TAG in (ticket.tags or [])


def human_replies(ticket: Any, agent_replies: int) -> int:
    """Public agent replies other than the knowledge base's own answer (which the helpdesk
    records as the integration user's reply, and sync brings back as an agent's)."""
    return max(0, agent_replies - (1 if answered_from_kb(ticket) else 0))


def asks_for_person(texts: Sequence[str], words: Sequence[str]) -> str | None:
    phrases = [analyse.normalise_phrase(w) for w in words]
    for text in texts:
        found = analyse.contains_phrase(text, phrases)
        if found:
            return found
    return None


def handoff_word(
    ticket: Any, agent_replies: int, texts: Sequence[str], words: Sequence[str]
) -> str | None:
    """The handoff word the requester used, when ``kb_handoff`` hands ``ticket`` to the team
    now: not handed off yet, no person of the team replied, and a word found in ``texts``."""
    if HANDOFF_TAG in (ticket.tags or []) or human_replies(ticket, agent_replies):
        return None
    return asks_for_person(texts, words)


def suggestions(
    index: Index, ticket: Any, requester: Any, *, limit: int, min_score: float
) -> list[Hit]:
    """The articles ``suggest_articles`` offers the agent for ``ticket`` (best first)."""
    return index.search(
        question(ticket), language=language_of(ticket, requester), limit=limit, min_score=min_score
    )


def decide(
    index: Index,
    ticket: Any,
    *,
    requester: Any = None,
    agent_replies: int = 0,
    requester_texts: Sequence[str] = (),
    min_score: float = DEFAULT_MIN_SCORE,
    handoff_words: Sequence[str] = HANDOFF_WORDS,
    default_language: str = "en",
) -> Decision:
    """Whether to answer ``ticket`` from the knowledge base now (see the module docstring)."""
    if HANDOFF_TAG in (ticket.tags or []):
        return Decision("skip", "handed to the team")
    word = asks_for_person([question(ticket), *requester_texts], handoff_words)
    if word:
        return Decision("handoff", f"asked for a person ({word!r})")
    if answered_from_kb(ticket):
        return Decision("skip", "already answered from the knowledge base")
    if agent_replies:
        return Decision("skip", "an agent has replied")
    language = language_of(ticket, requester, default_language)
    hits = index.search(question(ticket), language=language, limit=1)
    if not hits:
        return Decision("skip", f"no article in {language!r} matches")
    best = hits[0]
    if best.score < min_score:
        return Decision("skip", f"best article scores {best.score:.4f} < {min_score:g}", best)
    return Decision("answer", f"{best.article.id} scores {best.score:.4f}", best)
