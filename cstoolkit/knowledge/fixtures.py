"""A knowledge base written inline in a file people write: ``knowledge:`` of a recipe test.

:func:`memory_index` reads a list of articles (``{id, title, body, language, section, labels,
url}``; a bad one is a :class:`~cstoolkit.textfiles.FileError` at its line) into a throwaway
in-memory store and returns it with its search, so ``cst recipe test`` can run
``suggest_articles`` and ``answer_from_kb`` without a workspace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.articles import Article, ArticlePage
from cstoolkit.knowledge.search import Index
from cstoolkit.knowledge.sync import sync_source

if TYPE_CHECKING:
    from cstoolkit.store import Store
    from cstoolkit.textfiles import Doc

ARTICLE_KEYS = ("id", "title", "body", "language", "section", "labels", "url")


def _text(doc: Doc, at: tuple[Any, ...], value: Any, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise doc.error(at, "expected a non-empty text")
    return value


def articles_of(doc: Doc, value: Any, updated: datetime) -> list[Article]:
    """The articles of ``value`` (at ``knowledge`` in ``doc``)."""
    if not isinstance(value, list) or not value:
        raise doc.error(("knowledge",), "knowledge is a list of articles {title, body, language}")
    out = []
    for n, raw in enumerate(value):
        at: tuple[Any, ...] = ("knowledge", n)
        if not isinstance(raw, Mapping):
            raise doc.error(at, "an article is a mapping {title, body, language}")
        for key in raw:
            if key not in ARTICLE_KEYS:
                raise doc.error((*at, key), f"unknown key '{key}'", key=True)
        labels = raw.get("labels") or []
        if not isinstance(labels, list):
            raise doc.error((*at, "labels"), "labels is a list")
        external = _text(doc, (*at, "id"), raw.get("id"), default=f"article-{n + 1}")
        section = raw.get("section")
        url = raw.get("url")
        out.append(
            Article(
                id=f"kb:{external}",
                source="kb",
                external_id=external,
                title=_text(doc, (*at, "title"), raw.get("title")),
                body=_text(doc, (*at, "body"), raw.get("body"), default=""),
                language=_text(doc, (*at, "language"), raw.get("language"), default="en"),
                updated_at=updated,
                section=_text(doc, (*at, "section"), section) if section is not None else None,
                labels=[str(v) for v in labels],
                url=_text(doc, (*at, "url"), url) if url is not None else None,
            )
        )
    return out


class _Listed:
    def __init__(self, articles: list[Article]) -> None:
        self.articles = articles

    def pull(self, cursor: str | None) -> Iterator[ArticlePage]:
        yield ArticlePage(self.articles, [], None)


def memory_index(doc: Doc, value: Any, updated: datetime) -> tuple[Store | None, Index | None]:
    """(the in-memory store, its search) for ``knowledge:`` articles; (None, None) without."""
    if value is None:
        return None, None
    from cstoolkit.store import open_store

    articles = articles_of(doc, value, updated)
    store = open_store(":memory:")
    sync_source(store, "kb", _Listed(articles))
    return store, Index(store)
