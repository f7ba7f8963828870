"""Recipe actions of the knowledge base (docs/knowledge.md#recipe-actions).

``suggest_articles``
    an internal note for the agent with the best articles for the ticket (once per resolution
    cycle, through the ledger);
``answer_from_kb``
    a public reply with the best article when it scores at least ``min_score``, in the ticket's
    language, once per ticket (the ledger, and the custom field ``kb_article`` it sets through
    the one write path, so a dry run shows it and ``cst triage revert`` clears it); never once
    an agent has replied, never after the requester asked for a person
    (:mod:`cstoolkit.knowledge.answer`);
``kb_handoff``
    when the requester asks for a person (``agent``, ``humano``, ``atendente``... configurable)
    and no agent has replied yet: tag the ticket ``kb_handoff`` (and move it to ``group`` when
    given), which stops every later automatic answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cstoolkit.knowledge import answer as kb_answer
from cstoolkit.triage.action_base import TEMPLATE_NAMES, Action, ActionContext, ArgError

#: Names an answer or suggestion template sees besides the recipe template names.
KB_TEMPLATE_NAMES = (*TEMPLATE_NAMES, "article", "articles")

#: The default public reply of ``answer_from_kb``, per language.
ANSWER_TEMPLATES: dict[str, str] = {
    "en": "Hello {{ requester.first_name or requester.name }},\n\n"
    "this article should answer your question: {{ article.title }}"
    "{% if article.url %} ({{ article.url }}){% endif %}\n\n{{ article.excerpt }}\n\n"
    "If it does not, just reply to this message and a person from our team will help you.",
    "es": "Hola, {{ requester.first_name or requester.name }}:\n\n"
    "este artículo debería responder a tu pregunta: {{ article.title }}"
    "{% if article.url %} ({{ article.url }}){% endif %}\n\n{{ article.excerpt }}\n\n"
    "Si no es así, responde a este mensaje y una persona del equipo te atenderá.",
    "pt": "Olá, {{ requester.first_name or requester.name }}!\n\n"
    "este artigo deve responder à sua pergunta: {{ article.title }}"
    "{% if article.url %} ({{ article.url }}){% endif %}\n\n{{ article.excerpt }}\n\n"
    "Se não responder, basta responder a esta mensagem e uma pessoa da equipe vai te atender.",
}

SUGGEST_TEMPLATE = (
    "Knowledge base articles that may help:\n"
    "{% for a in articles %}- {{ a.title }} (score {{ a.score }}"
    "{% if a.url %}, {{ a.url }}{% endif %}; matched: {{ a.matched | join(', ') }})\n"
    "{% endfor %}"
)

EXCERPT_CHARS = 600


def _template(value: Any, at: str) -> Any:
    """A template text or a table language -> text, checked as recipe templates are."""
    from cstoolkit import templating

    texts: list[tuple[tuple[str, ...], str]]
    if isinstance(value, str):
        texts = [((at,), value)]
    elif isinstance(value, Mapping) and value and all(isinstance(v, str) for v in value.values()):
        texts = [((at, str(k)), str(v)) for k, v in value.items()]
    else:
        raise ArgError("expected a template text, or a table language -> text", (at,))
    for where, text in texts:
        if not text.strip():
            raise ArgError("empty template", where)
        try:
            unknown = templating.undeclared(text, KB_TEMPLATE_NAMES)
            templating.compile_template(text)
        except templating.TemplateError as exc:
            raise ArgError(exc.message, where) from None
        if unknown:
            names = ", ".join(KB_TEMPLATE_NAMES)
            raise ArgError(f"unknown template variable '{unknown[0]}'; available: {names}", where)
    return value


def _options(args: Any, allowed: Sequence[str], example: str) -> dict[str, Any]:
    if args is None or args is True:
        return {}
    if not isinstance(args, Mapping):
        raise ArgError(f"expected nothing, or {example}")
    for key in args:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ArgError(f"unknown option '{key}'{hint}", (str(key),), key=True)
    return dict(args)


def _score(params: dict[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ArgError(f"{key} is a score between 0 and 1", (key,))
    return float(value)


def _words(params: dict[str, Any]) -> list[str]:
    value = params.get("handoff_words", list(kb_answer.HANDOFF_WORDS))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        raise ArgError("handoff_words is a list of words or phrases", ("handoff_words",))
    return [str(w) for w in value]


def _index(ctx: ActionContext) -> Any:
    index = getattr(ctx, "knowledge", None)
    if index is None:
        from cstoolkit.errors import CstError

        raise CstError("no knowledge base here (the kb actions need the store's)")
    return index


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """The article's opening, cut at a paragraph or sentence end within ``limit`` characters."""
    text = body.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for mark in ("\n\n", ". ", "\n"):
        at = cut.rfind(mark)
        if at > limit // 3:
            return cut[: at + 1].rstrip() + " ..."
    return cut.rstrip() + " ..."


def article_values(hit: Any) -> dict[str, Any]:
    a = hit.article
    return {
        "id": a.id,
        "title": a.title,
        "url": a.url or "",
        "section": a.section or "",
        "language": a.language,
        "body": a.body,
        "excerpt": excerpt(a.body),
        "score": hit.score,
        "matched": list(hit.matched),
    }


def _render(ctx: ActionContext, template: Any, language: str, extra: dict[str, Any]) -> str:
    from cstoolkit import templating

    base = getattr(ctx, "template_context", None)
    context = dict(base() if callable(base) else {})
    context.update(extra)
    return templating.render(templating.pick_language(template, language), context)


def _agent_replies(ctx: ActionContext) -> int:
    facts = getattr(ctx, "facts", None)
    return int(getattr(facts, "agent_replies", 0) or 0)


def _texts(ctx: ActionContext) -> list[str]:
    fn = getattr(ctx, "requester_texts", None)
    return list(fn()) if callable(fn) else []


class SuggestArticlesAction(Action):
    name = "suggest_articles"
    description = (
        "An internal note with the best knowledge-base articles: {limit: 3, min_score: 0.1}."
    )
    idempotent = False

    def parse(self, args: Any) -> dict[str, Any]:
        params = _options(args, ("limit", "min_score", "template"), "{limit: 3, min_score: 0.1}")
        limit = params.get("limit", 3)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 20:
            raise ArgError("limit is a whole number from 1 to 20", ("limit",))
        params["limit"] = limit
        params["min_score"] = _score(params, "min_score", kb_answer.DEFAULT_SUGGEST_SCORE)
        params["template"] = _template(params.get("template", SUGGEST_TEMPLATE), "template")
        return params

    def summary(self, params: Any) -> str:
        return f"suggest up to {params['limit']} articles (score >= {params['min_score']:g})"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        ticket = ctx.ticket
        language = kb_answer.language_of(ticket, ctx.requester)
        hits = kb_answer.suggestions(
            _index(ctx), ticket, ctx.requester, limit=params["limit"], min_score=params["min_score"]
        )
        if not hits:
            return None
        articles = [article_values(h) for h in hits]
        body = _render(ctx, params["template"], language, {"articles": articles})
        if not body.strip():
            return None
        ctx.comment(body, False)
        return "suggest " + ", ".join(a["id"] for a in articles)


class AnswerFromKbAction(Action):
    name = "answer_from_kb"
    description = (
        "A public reply with the best article above a floor, once per ticket: "
        "{min_score: 0.35, handoff_words: [agent, humano, atendente]}."
    )
    idempotent = False

    def parse(self, args: Any) -> dict[str, Any]:
        params = _options(
            args,
            ("min_score", "handoff_words", "template"),
            "{min_score: 0.35, handoff_words: [...], template: ...}",
        )
        params["min_score"] = _score(params, "min_score", kb_answer.DEFAULT_MIN_SCORE)
        params["handoff_words"] = _words(params)
        params["template"] = _template(params.get("template", ANSWER_TEMPLATES), "template")
        return params

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset(
            {f"custom.{kb_answer.ARTICLE_FIELD}", f"custom.{kb_answer.SCORE_FIELD}", "tags"}
        )

    def summary(self, params: Any) -> str:
        return f"answer from the knowledge base (score >= {params['min_score']:g})"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        ticket = ctx.ticket
        decision = kb_answer.decide(
            _index(ctx),
            ticket,
            requester=ctx.requester,
            agent_replies=_agent_replies(ctx),
            requester_texts=_texts(ctx),
            min_score=params["min_score"],
            handoff_words=params["handoff_words"],
        )
        if decision.kind != "answer" or decision.hit is None:
            return None
        hit = decision.hit
        language = hit.article.language
        body = _render(ctx, params["template"], language, {"article": article_values(hit)})
        if not body.strip():
            return None
        ctx.comment(body, True)
        ctx.set_field(f"custom.{kb_answer.ARTICLE_FIELD}", hit.article.id)
        ctx.set_field(f"custom.{kb_answer.SCORE_FIELD}", hit.score)
        ctx.add_tags([kb_answer.ANSWERED_TAG])
        return f"answer with {hit.article.id} (score {hit.score:.4f})"


class KbHandoffAction(Action):
    name = "kb_handoff"
    description = (
        "When the requester asks for a person, tag kb_handoff (and move to group): "
        "{group: support, handoff_words: [agent, humano, atendente]}."
    )

    def parse(self, args: Any) -> dict[str, Any]:
        params = _options(args, ("group", "handoff_words"), "{group: NAME, handoff_words: [...]}")
        if "group" in params and (not isinstance(params["group"], str) or not params["group"]):
            raise ArgError("group is the name of a group", ("group",))
        params["handoff_words"] = _words(params)
        return params

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset({"tags", "group"} if params.get("group") else {"tags"})

    def summary(self, params: Any) -> str:
        where = f" to {params['group']}" if params.get("group") else ""
        return f"hand off{where} when a person is asked for"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        word = kb_answer.handoff_word(
            ctx.ticket, _agent_replies(ctx), _texts(ctx), params["handoff_words"]
        )
        if word is None:
            return None
        ctx.add_tags([kb_answer.HANDOFF_TAG])
        if params.get("group"):
            ctx.set_field("group", params["group"])
        return f"handed to the team (asked for {word!r})"


KB_ACTIONS: tuple[type[Action], ...] = (SuggestArticlesAction, AnswerFromKbAction, KbHandoffAction)
