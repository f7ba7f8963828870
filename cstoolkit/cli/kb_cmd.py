"""``cst kb``: sync knowledge sources, search articles, suggest articles for a ticket."""

from __future__ import annotations

from typing import Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.errors import ConfigError, NotFoundError

HIT_COLUMNS = [
    "article",
    "title",
    "language",
    "section",
    "score",
    "bm25",
    "coverage",
    "matched",
    "url",
]
HIT_TABLE = ["article", "title", "language", "score", "matched"]


@click.group(cls=base.Group)
def kb() -> None:
    """Knowledge base: sync articles, search them, suggest them for tickets."""


@kb.command("sync")
@click.argument("names", nargs=-1)
@click.option("--full", is_flag=True, help="Read every article again (and drop removed ones).")
@format_options()
@pass_app
def sync_cmd(app: App, names: tuple[str, ...], full: bool, fmt: str, as_json: bool) -> None:
    """Pull articles from the [knowledge.NAME] sources (all of them by default)."""
    from cstoolkit.instances import build_instance
    from cstoolkit.knowledge.sync import sync_source
    from cstoolkit.output import render

    config = app.config
    configured = sorted(config.instances("knowledge"))
    for name in names:
        if name not in configured:
            known = ", ".join(configured) or "none"
            raise ConfigError(f"no [knowledge.{name}] in {config.label}; configured: {known}")
    if not configured:
        raise ConfigError(
            f"no knowledge source in {config.label}: add [knowledge.NAME] with plugin = "
            '"markdown" and path = "FOLDER" (docs/knowledge.md)'
        )
    store = app.store
    rows = []
    for name in names or tuple(configured):
        source = build_instance(config, app.host, "knowledge", name, store)
        summary = sync_source(store, name, source, full=full)
        rows.append(summary.as_dict())
        app.say(
            f"{name}: {summary.articles} articles written, {summary.deleted} removed, "
            f"{summary.total} in the store"
        )
    chosen = chosen_format(fmt, as_json)
    if chosen != "table":
        render(rows, ["source", "pages", "articles", "deleted", "total"], chosen)


@kb.command("list")
@click.option("--source", help="Only this knowledge source.")
@click.option("--language", help="Only articles in this language (es, en, pt...).")
@format_options()
@pass_app
def list_cmd(app: App, source: str | None, language: str | None, fmt: str, as_json: bool) -> None:
    """Stored articles (exit 3 when none)."""
    from cstoolkit.output import render
    from cstoolkit.store import knowledge as store_kb

    rows = [
        {
            "article": a.id,
            "title": a.title,
            "language": a.language,
            "section": a.section,
            "labels": a.labels,
            "url": a.url,
            "updated_at": a.updated_at,
            "terms": a.length,
        }
        for a in store_kb.articles(app.store, source=source, language=language)
    ]
    render(
        rows,
        ["article", "title", "language", "section", "labels", "url", "updated_at", "terms"],
        chosen_format(fmt, as_json),
        title="Articles",
        table_columns=["article", "title", "language", "section", "updated_at"],
    )
    if not rows:
        raise NotFoundError("no article in the store (cst kb sync)")


def _hits(app: App, hits: list[Any], fmt: str, as_json: bool, title: str) -> None:
    from cstoolkit.output import render

    render(
        [h.as_dict() for h in hits],
        HIT_COLUMNS,
        chosen_format(fmt, as_json),
        title=title,
        table_columns=HIT_TABLE,
    )


@kb.command("search")
@click.argument("text")
@click.option("--language", help="Read the text as this language and search its articles only.")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Only articles scoring at least this (0-1, docs/knowledge.md).",
)
@format_options()
@pass_app
def search_cmd(
    app: App,
    text: str,
    language: str | None,
    limit: int,
    min_score: float,
    fmt: str,
    as_json: bool,
) -> None:
    """The best articles for TEXT with their scores and matched words (exit 3: none)."""
    from cstoolkit.knowledge.search import Index
    from cstoolkit.knowledge.text import language_code

    lang = language_code(language) if language else None
    hits = Index(app.store).search(text, language=lang, limit=limit, min_score=min_score)
    _hits(app, hits, fmt, as_json, f"Articles for {text!r}")
    if not hits:
        raise NotFoundError("no article matched")


@kb.command("suggest")
@click.argument("ticket_id")
@click.option("--limit", type=click.IntRange(min=1), default=3, show_default=True)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Only articles scoring at least this (0-1).",
)
@format_options()
@pass_app
def suggest_cmd(
    app: App, ticket_id: str, limit: int, min_score: float, fmt: str, as_json: bool
) -> None:
    """Articles for a stored ticket (its subject and first message, in its language)."""
    from cstoolkit.knowledge.answer import language_of, question
    from cstoolkit.knowledge.search import Index

    store = app.store
    ticket = store.get_ticket(ticket_id)
    if ticket is None:
        raise NotFoundError(f"no ticket {ticket_id!r} in the store (ids look like INSTANCE:ID)")
    requester = store.person(ticket.requester_id) if ticket.requester_id else None
    language = language_of(ticket, requester)
    hits = Index(store).search(
        question(ticket), language=language, limit=limit, min_score=min_score
    )
    _hits(app, hits, fmt, as_json, f"Articles for {ticket_id} ({language})")
    if not hits:
        raise NotFoundError(f"no article in {language!r} matched {ticket_id}")


def _selected(app: App, query_text: str | None, where: str) -> Any:
    from cstoolkit.cli.querying import selection

    return app.store.select(selection(app, query_text, where))


@kb.command("backtest")
@click.option("-q", "--query", "query_text", help="Only tickets matching this condition.")
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=None,
    help="The answer floor (default: answer_from_kb's, 0.35).",
)
@click.option("--tickets", "show_tickets", is_flag=True, help="List each answered ticket.")
@format_options()
@pass_app
def backtest_cmd(
    app: App,
    query_text: str | None,
    min_score: float | None,
    show_tickets: bool,
    fmt: str,
    as_json: bool,
) -> None:
    """How many stored tickets a first-line answer would have answered, with which articles."""
    from functools import partial

    from cstoolkit.knowledge.answer import DEFAULT_MIN_SCORE
    from cstoolkit.knowledge.backtest import backtest
    from cstoolkit.knowledge.search import Index
    from cstoolkit.output import render, write_json
    from cstoolkit.store import facts

    store = app.store
    result = backtest(
        Index(store),
        _selected(app, query_text, "kb backtest --query"),
        min_score=DEFAULT_MIN_SCORE if min_score is None else min_score,
        facts=partial(facts.for_ticket, store),
    )
    chosen = chosen_format(fmt, as_json)
    s = result.summary()
    if chosen == "json":
        write_json({**s, "articles": result.articles(), "tickets": result.tickets})
        return
    app.say(
        f"{s['evaluated']} tickets: {s['answered']} would have been answered "
        f"({s['answered_pct'] or 0}%) at score >= {s['min_score']:g}, {s['handed_off']} asked "
        f"for a person; {s['answered_and_solved_with_one_reply']} of the answered were solved "
        "with one agent reply"
    )
    if show_tickets:
        render(
            result.tickets,
            ["ticket", "subject", "language", "article", "score", "matched"],
            chosen,
            title="Tickets answered",
        )
    else:
        render(
            result.articles(),
            ["article", "title", "tickets", "mean_score"],
            chosen,
            title="Articles that would have answered",
        )


def topics_option(fn: Any) -> Any:
    """``--topics``: where a ticket's topics come from (docs/knowledge.md, "Knowledge gaps")."""
    from cstoolkit.knowledge import TOPIC_SOURCES

    return click.option(
        "--topics",
        "topics",
        type=click.Choice(TOPIC_SOURCES),
        default="auto",
        show_default=True,
        help="Topics from tags, from the routing model's predicted tags (model), or tags and "
        "the model's for tickets without tags (auto).",
    )(fn)


@kb.command("gaps")
@click.option("-q", "--query", "query_text", help="Only tickets matching this condition.")
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=None,
    help="An article covers a ticket from this score (default 0.35).",
)
@click.option("--min-tickets", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Tickets searched per topic (the latest).",
)
@topics_option
@format_options()
@pass_app
def gaps_cmd(
    app: App,
    query_text: str | None,
    min_score: float | None,
    min_tickets: int,
    sample: int,
    topics: str,
    fmt: str,
    as_json: bool,
) -> None:
    """Topics (tags, or the routing model's) with many tickets and no article above the floor."""
    from cstoolkit.knowledge.answer import DEFAULT_MIN_SCORE
    from cstoolkit.knowledge.gaps import COLUMNS, gaps, language_tags
    from cstoolkit.knowledge.search import Index
    from cstoolkit.output import render
    from cstoolkit.routing.topics import gap_topics

    request = gap_topics(topics, app.config.base_dir / "models")
    if request.note:
        app.say(f"note: {request.note}")
    index = Index(app.store)
    found = gaps(
        index,
        _selected(app, query_text, "kb gaps --query"),
        min_score=DEFAULT_MIN_SCORE if min_score is None else min_score,
        min_tickets=min_tickets,
        sample=sample,
        ignore=language_tags(index),
        topics=request.topics(),
    )
    render(
        [g.as_dict() for g in found],
        COLUMNS,
        chosen_format(fmt, as_json),
        title=f"Knowledge gaps (topics: {request.source})",
    )
    n = sum(g.is_gap for g in found)
    app.say(f"{n} of {len(found)} topics are gaps (under 50% of their tickets covered)")
