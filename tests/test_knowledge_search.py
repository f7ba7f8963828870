"""Knowledge search: terms per language, FTS5's BM25 computed once, the same ranking and the
same normalised scores on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cstoolkit.knowledge import text as analyse
from cstoolkit.knowledge.search import TITLE_WEIGHT, Index
from cstoolkit.knowledge.sync import sync_source
from cstoolkit.store import open_store
from tests.knowledge_kit import QUERIES, markdown_source, write_kb


def _ranking(store, queries=QUERIES):  # type: ignore[no-untyped-def]
    index = Index(store)
    return [
        [
            (h.article.id, h.score, tuple(h.matched))
            for h in index.search(q, language=lang, limit=10)
        ]
        for q, lang in queries
    ]


@pytest.mark.parametrize(
    ("language", "words", "stems"),
    [
        ("es", "reembolsos reembolso contraseñas", ["reembols", "reembols", "contrasen"]),
        ("en", "refunds refunded passwords", ["refund", "refund", "password"]),
        ("pt", "reembolsos senhas redefinir", ["reembols", "senh", "redefin"]),
        ("xx", "Ünïcode words", ["unicode", "words"]),  # no stemmer: folded words
    ],
)
def test_terms_are_stemmed_per_language(language: str, words: str, stems: list[str]) -> None:
    assert analyse.terms(words, language) == stems


def test_stop_words_and_accents() -> None:
    assert analyse.terms("¿Dónde está mi pedido?", "es") == ["dond", "ped"]
    assert all(t.isascii() and t.isalnum() for t in analyse.terms("ação não é força", "pt"))


def test_score_is_fts5_bm25_normalised(tmp_path: Path) -> None:
    """On SQLite the raw score equals FTS5's own bm25() with the same column weights."""
    store = open_store(tmp_path / "s.db")
    sync_source(store, "help", markdown_source(write_kb(tmp_path / "kb")))
    index = Index(store)
    checked = 0
    for query, lang in QUERIES:
        for hit in index.search(query, language=lang or "en", limit=10):
            terms = analyse.query_terms(query, hit.language)
            match = " OR ".join(f'"{t}"' for t in terms)
            (fts5,) = store.conn.execute(
                f"SELECT bm25(kb_fts, {TITLE_WEIGHT}, 1.0) FROM kb_fts JOIN kb_articles a "
                "ON a.rowid = kb_fts.rowid WHERE kb_fts MATCH ? AND a.id = ?",
                (match, hit.article.id),
            ).fetchone()
            assert hit.bm25 == pytest.approx(-fts5, rel=1e-9), (query, hit.article.id)
            assert 0 < hit.score < 1
            checked += 1
    assert checked >= 10
    store.close()


def test_ranking_and_scores(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    sync_source(store, "help", markdown_source(write_kb(tmp_path / "kb")))
    index = Index(store)
    best = index.search("no me llega el enlace para restablecer la contraseña", language="es")
    assert best[0].article.id == "help:es/contrasena.md"
    assert {"enlace", "restablecer", "contraseña"} <= set(best[0].matched)
    assert all(h.article.language == "es" for h in best)
    anywhere = index.search("reembolso")  # no language: read as each language of the base
    assert {h.article.id for h in anywhere} == {"help:es/reembolso.md", "help:pt/reembolso.md"}
    assert index.search("something nobody wrote about") == []
    floor = best[0].score
    assert [h.article.id for h in index.search(
        "no me llega el enlace para restablecer la contraseña", language="es", min_score=floor
    )] == ["help:es/contrasena.md"]  # fmt: skip
    store.close()


@pytest.mark.server
def test_sqlite_and_postgresql_rank_the_same_articles_with_the_same_scores(
    tmp_path: Path, pg_target
) -> None:  # type: ignore[no-untyped-def]
    root = write_kb(tmp_path / "kb")
    lite = open_store(tmp_path / "s.db")
    pg = pg_target.open()
    for store in (lite, pg):
        sync_source(store, "help", markdown_source(root))
    on_sqlite, on_pg = _ranking(lite), _ranking(pg)
    assert on_sqlite == on_pg
    assert sum(len(r) for r in on_sqlite) >= 15  # the queries do find articles
    # an incremental change keeps them equal
    (root / "en/refund.md").write_text("# Refund\nRefund refund refund.\n", "utf-8")
    import os

    os.utime(root / "en/refund.md", ns=(1, 2_000_000_000_000_000_000))
    for store in (lite, pg):
        sync_source(store, "help", markdown_source(root))
    assert _ranking(lite) == _ranking(pg)
    lite.close()
    pg.close()


def test_gaps_name_topics_no_article_covers(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cstoolkit.knowledge.gaps import gaps
    from cstoolkit.model import Status, Ticket

    store = open_store(tmp_path / "s.db")
    sync_source(store, "help", markdown_source(write_kb(tmp_path / "kb")))
    at = datetime(2026, 11, 2, tzinfo=UTC)

    def ticket(n: int, subject: str, tags: list[str]) -> tuple[Ticket, None]:
        return Ticket(f"d:{n}", "d", str(n), subject, Status.NEW, at, at, tags=tags,
                      language="en"), None  # fmt: skip

    items = [ticket(i, "password reset link never arrives", ["password", "en"]) for i in range(6)]
    items += [ticket(10 + i, "add a dark mode to the mobile app", ["feature"]) for i in range(7)]
    items += [ticket(20, "dark mode please", ["rare"])]
    found = gaps(Index(store), items, min_score=0.3, min_tickets=5, ignore={"en"})
    rows = [g.as_dict() for g in found]
    assert [(r["topic"], r["tickets"], r["covered"], r["gap"]) for r in rows] == [
        ("feature", 7, 0, True),
        ("password", 6, 6, False),
    ]
    assert rows[1]["best_article"] == "help:en/reset-password.md"
    store.close()


# -- generated knowledge bases: the same ranking on both stores -------------------------------

WORDS = {
    "en": [
        "password",
        "reset",
        "link",
        "refund",
        "order",
        "charge",
        "card",
        "invoice",
        "delivery",
        "parcel",
        "account",
        "login",
        "code",
        "verification",
        "app",
        "crash",
        "error",
        "export",
        "report",
        "dark",
        "mode",
    ],
    "es": [
        "contraseña",
        "restablecer",
        "enlace",
        "reembolso",
        "pedido",
        "cobro",
        "tarjeta",
        "factura",
        "entrega",
        "paquete",
        "cuenta",
        "acceso",
        "código",
        "verificación",
        "aplicación",
        "error",
        "informe",
        "modo",
    ],
    "pt": [
        "senha",
        "redefinir",
        "link",
        "reembolso",
        "pedido",
        "cobrança",
        "cartão",
        "fatura",
        "entrega",
        "pacote",
        "conta",
        "acesso",
        "código",
        "verificação",
        "aplicativo",
        "erro",
        "relatório",
        "modo",
    ],
}


class _Given:
    """A knowledge source handing over generated articles (all of them on every pull)."""

    def __init__(self, articles: list[Any]) -> None:
        self.articles = articles

    def pull(self, cursor: str | None) -> Any:
        from cstoolkit.articles import ArticlePage

        yield ArticlePage(list(self.articles), [], "all")


def _articles(draw: Any) -> tuple[list[Any], list[tuple[str, str]]]:
    from datetime import UTC, datetime

    from hypothesis import strategies as st

    from cstoolkit.articles import Article

    out = []
    n = draw(st.integers(min_value=1, max_value=8))
    for i in range(n):
        lang = draw(st.sampled_from(sorted(WORDS)))
        words = st.sampled_from(WORDS[lang])
        title = " ".join(draw(st.lists(words, min_size=1, max_size=4)))
        body = " ".join(draw(st.lists(words, min_size=0, max_size=30)))
        out.append(
            Article(f"g:{i}", "g", str(i), title, body, lang, datetime(2026, 1, 1, tzinfo=UTC))
        )
    queries = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        lang = draw(st.sampled_from(sorted(WORDS)))
        words = st.sampled_from([*WORDS[lang], "unknown", "zzz", "123"])
        queries.append((" ".join(draw(st.lists(words, min_size=1, max_size=8))), lang))
    return out, queries


@pytest.mark.server
def test_generated_knowledge_bases_rank_alike_on_both_stores(tmp_path: Path, pg_target) -> None:  # type: ignore[no-untyped-def]
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    lite = open_store(tmp_path / "gen.db")
    pg = pg_target.open()

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
    @given(st.data())
    def check(data: Any) -> None:
        articles, queries = _articles(data.draw)
        for store in (lite, pg):
            sync_source(store, "g", _Given(articles), full=True)
        assert _ranking(lite, queries) == _ranking(pg, queries)

    try:
        check()
    finally:
        lite.close()
        pg.close()
