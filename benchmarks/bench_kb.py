"""Benchmark: knowledge-base sync and search on the SQLite store.

Generates N Markdown-like articles in Spanish, English and Portuguese from the sample desk's
vocabulary (cstoolkit.synthetic.vocabulary), syncs them into a fresh SQLite store and ranks the
sample desk's ticket texts against them (the same search `cst kb suggest` and
`answer_from_kb` run). Prints machine info, input size and the figures; asserts nothing.

    python benchmarks/bench_kb.py [--articles N] [--queries N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    from cstoolkit.articles import Article, ArticlePage
    from cstoolkit.knowledge.search import Index
    from cstoolkit.knowledge.sync import sync_source
    from cstoolkit.store import open_store
    from cstoolkit.synthetic.vocabulary import TEMPLATES

    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = [
        (lang, subject, body)
        for lang, topics in TEMPLATES.items()
        for items in topics.values()
        for _tag, subject, body in items
    ]
    words = {lang: " ".join(s + " " + b for la, s, b in texts if la == lang).split()
             for lang in TEMPLATES}  # fmt: skip
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    articles = []
    for i in range(args.articles):
        lang = rng.choice(sorted(words))
        title = " ".join(rng.choices(words[lang], k=rng.randint(3, 8)))
        body = " ".join(rng.choices(words[lang], k=rng.randint(40, 400)))
        articles.append(Article(f"b:{i}", "b", str(i), title, body, lang, stamp))

    class Source:
        def pull(self, cursor: str | None):  # type: ignore[no-untyped-def]
            for start in range(0, len(articles), 200):
                yield ArticlePage(articles[start : start + 200], [], str(start))

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "kb.db")
        t0 = time.perf_counter()
        summary = sync_source(store, "b", Source())
        sync_s = time.perf_counter() - t0
        queries = [
            (lang, (subject + "\n" + body).format(order="A-1", invoice="F-1", amount="10 EUR"))
            for lang, subject, body in rng.choices(texts, k=args.queries)
        ]
        index = Index(store)
        t0 = time.perf_counter()
        hits = 0
        for lang, text in queries:
            hits += len(index.search(text, language=lang, limit=3))
        search_s = time.perf_counter() - t0
        store.close()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}")  # fmt: skip
    print(f"input: {summary.total} articles (es/en/pt), {args.queries} ticket texts")
    print(f"sync: {sync_s:.2f} s ({summary.total / sync_s:,.0f} articles/s)")
    print(f"search: {1000 * search_s / args.queries:.1f} ms per ticket text, {hits} hits")


if __name__ == "__main__":
    main()
