"""Knowledge-base articles as knowledge sources hand them over (plugin API 1.2).

An :class:`Article` is what a help center, a Solutions folder or a Markdown file holds: a title,
a body, its language, section, labels, public URL and update time. Ids are qualified by the
knowledge source instance (``guide:360001``), as ticket ids are by the backend instance.
A source's ``pull(cursor)`` yields :class:`ArticlePage` objects; the store commits each page's
articles, deletions and cursor in one transaction, so a killed sync resumes after the last
committed page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Article:
    id: str
    source: str
    external_id: str
    title: str
    body: str
    language: str
    updated_at: datetime
    section: str | None = None
    labels: list[str] = field(default_factory=list)
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ArticlePage:
    """Articles changed since the cursor, external ids removed at the source, and the cursor
    that resumes after this page (``None``: keep the previous one)."""

    articles: list[Article] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cursor: str | None = None
