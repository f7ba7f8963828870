"""``cst kb sync``: every configured knowledge source pulled into the store, incrementally.

Each page a source yields is stored with its cursor in one transaction
(:func:`cstoolkit.store.knowledge.save_page`), so a killed sync resumes after the last
committed page and nothing is stored twice. An article's terms are made here, once, by the one
analyser (:mod:`cstoolkit.knowledge.text`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cstoolkit.articles import Article
from cstoolkit.knowledge import text as analyse
from cstoolkit.store import knowledge as kb

if TYPE_CHECKING:
    from cstoolkit.store import Store


@dataclass
class SourceSummary:
    source: str
    pages: int = 0
    articles: int = 0
    deleted: int = 0
    total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "pages": self.pages,
            "articles": self.articles,
            "deleted": self.deleted,
            "total": self.total,
        }


def article_row(instance: str, article: Article) -> kb.ArticleRow:
    """What the store keeps of ``article``: its fields and its terms."""
    language = analyse.language_code(article.language)
    title_terms = analyse.terms(article.title, language)
    body_terms = analyse.terms(article.body, language)
    return kb.ArticleRow(
        id=f"{instance}:{article.external_id}",
        source=instance,
        external_id=str(article.external_id),
        title=article.title,
        body=article.body,
        language=language,
        updated_at=article.updated_at,
        title_terms=" ".join(title_terms),
        terms=" ".join(body_terms),
        length=len(title_terms) + len(body_terms),
        section=article.section,
        labels=list(article.labels),
        url=article.url,
    )


def sync_source(
    store: Store,
    instance: str,
    source: Any,
    *,
    full: bool = False,
    on_page: Callable[[SourceSummary], None] | None = None,
) -> SourceSummary:
    """Pull ``source`` (a KnowledgeSource instance named ``instance``) into the store.

    ``full`` starts from no cursor; articles the source no longer lists are then removed."""
    summary = SourceSummary(instance)
    cursor = None if full else kb.source_cursor(store, instance)
    seen: set[str] = set()
    for page in source.pull(cursor):
        rows = [article_row(instance, a) for a in page.articles]
        seen.update(r.external_id for r in rows)
        written, removed = kb.save_page(store, instance, rows, page.deleted, page.cursor)
        summary.pages += 1
        summary.articles += written
        summary.deleted += removed
        if on_page is not None:
            on_page(summary)
    if full:
        gone = sorted(kb.external_ids(store, instance) - seen)
        if gone:
            summary.deleted += kb.save_page(store, instance, [], gone, None)[1]
    summary.total = len(kb.external_ids(store, instance))
    return summary
