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
