"""The built-in knowledge source: a folder of Markdown files (``plugin = "markdown"``).

Each ``*.md`` file under ``path`` (subfolders included) is one article. Optional YAML front
matter between ``---`` lines gives its fields::

    ---
    title: Reset your password
    language: en            # else the first folder when it is a language code (es/...), else
                            # the instance's `language` setting
    section: Login
    labels: [password, login]
    url: https://help.example.com/reset-password
    updated: 2026-11-02     # else the file's modification time
    ---
    The body, in Markdown.

The title defaults to the first ``# Heading``, then to the file name. A broken front matter is
one line naming ``file:line`` (exit 2), reported before anything is stored. Sync is incremental:
the cursor remembers each file's size and modification time, so only changed files are read
again, and a removed file removes its article.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from cstoolkit.articles import Article, ArticlePage
from cstoolkit.hookspecs import hookimpl
from cstoolkit.plugin import CheckResult, KnowledgeSource, Setting
from cstoolkit.textfiles import FileError, loads_yaml, read_text

#: Articles per page of a pull (each page commits with its cursor).
PAGE_SIZE = 200
#: Front matter keys an article may set.
FRONT_MATTER_KEYS = ("title", "language", "section", "labels", "url", "updated")

_LANGUAGE_DIR = re.compile(r"[a-z]{2}(?:[-_][A-Za-z]{2})?")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class MarkdownSource(KnowledgeSource[Any]):
    name: ClassVar[str] = "markdown"
    description: ClassVar[str] = "A folder of Markdown files, one article each (front matter)."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("path", "path", required=True, help="The folder of *.md articles."),
        Setting("language", "str", default="en", help="Language of articles that name none."),
        Setting(
            "base_url",
            "str",
            help="Public URL of the folder: an article's url is this plus its path without .md "
            "(front matter url wins).",
        ),
    )

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        self.root = Path(self.config["path"])
        self.language = str(self.config.get("language") or "en")
        self.base_url = self.config.get("base_url")

    def check(self) -> CheckResult:
        if not self.root.is_dir():
            return CheckResult(False, f"{self.root}: no such folder")
        return CheckResult(True, f"{len(self._files())} Markdown files")

    def _files(self) -> dict[str, list[int]]:
        if not self.root.is_dir():
            raise FileError("no such folder", path=str(self.root))
        out: dict[str, list[int]] = {}
        for path in sorted(self.root.rglob("*.md")):
            if not path.is_file():
                continue
            st = path.stat()
            out[path.relative_to(self.root).as_posix()] = [st.st_mtime_ns, st.st_size]
        return out

    def pull(self, cursor: str | None) -> Iterator[ArticlePage]:
        before: dict[str, list[int]] = {}
        if cursor:
            try:
                before = dict(json.loads(cursor).get("files", {}))
            except (ValueError, AttributeError):
                before = {}
        now_files = self._files()
        changed = [rel for rel, stamp in now_files.items() if before.get(rel) != stamp]
        removed = sorted(set(before) - set(now_files))
        # every changed file is read and checked before anything is stored
        articles = [self.read(rel) for rel in changed]
        state = {rel: stamp for rel, stamp in before.items() if rel in now_files}
        if not articles:
            yield ArticlePage([], removed, json.dumps({"files": now_files}, sort_keys=True))
            return
        for start in range(0, len(articles), PAGE_SIZE):
            chunk = articles[start : start + PAGE_SIZE]
            for article in chunk:
                state[article.external_id] = now_files[article.external_id]
            yield ArticlePage(
                chunk,
                removed if start == 0 else [],
                json.dumps({"files": state}, sort_keys=True),
            )

    def read(self, rel: str) -> Article:
        """One file as an article (FileError at file:line when its front matter is broken)."""
        path = self.root / rel
        text = read_text(path)
        meta, body, lines = _front_matter(text, str(path))
        where = str(path)

        def fail(key: str, message: str) -> FileError:
            return FileError(f"{key}: {message}", path=where, line=lines.get(key))

        for key in meta:
            if key not in FRONT_MATTER_KEYS:
                import difflib

                close = difflib.get_close_matches(str(key), FRONT_MATTER_KEYS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                known = ", ".join(FRONT_MATTER_KEYS)
                raise fail(str(key), f"unknown front matter key{hint}; known: {known}")
        title = _text(meta, "title", fail)
        if title is None:
            heading = _HEADING.search(body)
            title = heading.group(1) if heading else path.stem.replace("-", " ").replace("_", " ")
        language = _text(meta, "language", fail)
        if language is None:
            first = rel.split("/", 1)[0] if "/" in rel else ""
            language = first if _LANGUAGE_DIR.fullmatch(first) else self.language
        labels_value = meta.get("labels", [])
        if isinstance(labels_value, str):
            labels_value = [labels_value]
        if not isinstance(labels_value, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in labels_value
        ):
            raise fail("labels", "expected a label or a list of labels")
        url = _text(meta, "url", fail)
        if url is None and self.base_url:
            url = str(self.base_url).rstrip("/") + "/" + rel.removesuffix(".md")
        return Article(
            id=f"{self.instance}:{rel}",
            source=self.instance,
            external_id=rel,
            title=title,
            body=body.strip(),
            language=language,
            updated_at=_updated(meta.get("updated"), path, fail),
            section=_text(meta, "section", fail),
            labels=[str(v) for v in labels_value],
            url=url,
        )


def _front_matter(text: str, path: str) -> tuple[dict[str, Any], str, dict[str, int]]:
    """(front matter, body, line of each key) of a Markdown file."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text, {}
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise FileError("front matter opened with '---' is never closed", path=path, line=1)
    # the document keeps its line numbers: the opening '---' becomes an empty first line
    doc = loads_yaml("\n" + "\n".join(lines[1:end]), path)
    if doc.data is None:
        return {}, "\n".join(lines[end + 1 :]), {}
    if not isinstance(doc.data, dict):
        raise FileError("front matter must be a mapping of keys", path=path, line=2)
    positions = {str(k): doc.key_pos((k,))[0] for k in doc.data}
    return dict(doc.data), "\n".join(lines[end + 1 :]), positions


def _text(meta: dict[str, Any], key: str, fail: Callable[[str, str], FileError]) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(key, "expected a non-empty text")
    return value.strip()


def _updated(value: Any, path: Path, fail: Callable[[str, str], FileError]) -> datetime:
    if value is None:
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC).replace(microsecond=0)
    from cstoolkit.timespec import TimeSpecError, parse_time

    try:
        return parse_time(value, relative=False, ages=False)
    except (TimeSpecError, ValueError):
        raise fail("updated", f"not a date or time: {value!r} (e.g. 2026-11-02)") from None


@hookimpl
def register_knowledge_sources(register: Callable[[type[KnowledgeSource[Any]]], None]) -> None:
    register(MarkdownSource)


@hookimpl
def register_metrics(register: Callable[[Any], None]) -> None:
    from cstoolkit.knowledge.metrics import SelfServiceMetric

    register(SelfServiceMetric())
