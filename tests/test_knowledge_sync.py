"""Knowledge sync: the Markdown-folder source, incremental pulls, front matter errors, the
knowledge-source hook and ``cst kb sync``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cstoolkit.errors import ConfigError
from cstoolkit.knowledge.sync import sync_source
from cstoolkit.store import knowledge as store_kb
from tests.config_gen import cst
from tests.knowledge_kit import ARTICLES, markdown_source, write_kb


def test_markdown_folder_syncs_incrementally(store_factory, tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    store = store_factory()
    source = markdown_source(root)
    first = sync_source(store, "help", source)
    assert (first.articles, first.deleted, first.total) == (len(ARTICLES), 0, len(ARTICLES))
    stored = {a.external_id: a for a in store_kb.articles(store)}
    reset = stored["en/reset-password.md"]
    assert reset.title == "Reset your password" and reset.language == "en"
    assert reset.section == "Login" and reset.labels == ["password", "login"]
    assert reset.url == "https://help.example.com/reset-password"
    assert stored["en/refund.md"].title == "Refund for a cancelled order"  # from the heading
    assert stored["es/reembolso.md"].language == "es"  # from its folder
    assert stored["pt/senha.md"].terms.split()[:3] == ["link", "redefin", "senh"]

    again = sync_source(store, "help", source)
    assert (again.articles, again.deleted) == (0, 0)  # nothing changed, nothing read

    changed = root / "en/refund.md"
    changed.write_text("# Refunds\nRefunds take 3 days now.\n", "utf-8")
    os.utime(changed, ns=(1, 2_000_000_000_000_000_000))
    (root / "pt/senha.md").unlink()
    third = sync_source(store, "help", source)
    assert (third.articles, third.deleted, third.total) == (1, 1, len(ARTICLES) - 1)
    assert store_kb.article(store, "help:en/refund.md").title == "Refunds"  # type: ignore[union-attr]
    assert store_kb.article(store, "help:pt/senha.md") is None
    assert not store_kb.matching(store, ["senh"])  # gone from the index too
    store.close()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\ntitle: A\nlangauge: es\n---\nbody\n", 3, "unknown front matter key (did you mean"),
        ("---\ntitle: [unclosed\n---\nbody\n", 2, "invalid YAML"),
        ("---\ntitle: A\nlabels: {a: 1}\n---\nbody\n", 3, "labels: expected a label"),
        ("---\ntitle: A\nupdated: soon\n---\n", 3, "updated: not a date"),
        ("---\ntitle: A\n", 1, "never closed"),
    ],
)
def test_broken_front_matter_is_one_line_at_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    root = write_kb(tmp_path / "kb", {"en/good.md": "# Good\nbody\n", "en/bad.md": text})
    with pytest.raises(ConfigError) as err:
        list(markdown_source(root).pull(None))  # type: ignore[attr-defined]
    assert str(err.value).startswith(f"{root / 'en/bad.md'}:{line}")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cst_kb_sync_reports_a_broken_file_with_exit_2_and_stores_nothing(tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "en/zz-bad.md").write_text("---\ntitle: A\nlangauge: es\n---\n", "utf-8")
    config = tmp_path / "cstoolkit.toml"
    config.write_text(
        '[store]\npath = "cst.db"\n\n[knowledge.help]\nplugin = "markdown"\npath = "kb"\n',
        "utf-8",
    )
    code, _, err = cst("--config", str(config), "kb", "sync")
    assert code == 2, err
    assert f"{root / 'en/zz-bad.md'}:3: langauge: unknown front matter key" in err
    assert len(err.strip().splitlines()) <= 2  # the error (and at most a hint), no traceback
    code, _, err = cst("--config", str(config), "kb", "list")
    assert code == 3  # nothing half-stored

    (root / "en/zz-bad.md").unlink()
    code, _, err = cst("--config", str(config), "kb", "sync", "--json")
    assert code == 0, err
    assert f"{len(ARTICLES)} articles written" in err


def test_an_unknown_source_and_no_source_are_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "cstoolkit.toml"
    config.write_text('[store]\npath = "cst.db"\n', "utf-8")
    code, _, err = cst("--config", str(config), "kb", "sync")
    assert code == 2 and "no knowledge source" in err
    code, _, err = cst("--config", str(config), "kb", "sync", "nope")
    assert code == 2 and "no [knowledge.nope]" in err


def test_the_knowledge_source_hook_registers_sources() -> None:
    from cstoolkit import hookimpl
    from cstoolkit.host import Host
    from cstoolkit.plugin import KnowledgeSource

    class Wiki(KnowledgeSource):  # type: ignore[type-arg]
        name = "wiki"

    class Plugin:
        @hookimpl
        def register_knowledge_sources(self, register):  # type: ignore[no-untyped-def]
            register(Wiki)

    host = Host(entry_points=[]).load()
    host.register_plugin(Plugin(), "wiki-plugin")
    assert host.get("knowledge_source", "wiki") is Wiki
    assert host.get("knowledge_source", "markdown").__name__ == "MarkdownSource"


def test_a_registered_non_source_is_refused() -> None:
    from cstoolkit import hookimpl
    from cstoolkit.host import Host

    class Plugin:
        @hookimpl
        def register_knowledge_sources(self, register):  # type: ignore[no-untyped-def]
            register(object)

    host = Host(entry_points=[]).load()
    record = host.register_plugin(Plugin(), "bad")
    assert record.status == "error" and "not a KnowledgeSource class" in record.error
