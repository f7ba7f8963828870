"""The knowledge base in the KPI report: ``self_service`` under ``--by`` and in the series, and
the knowledge-gaps table (``--gaps``, topics from tags or the routing model), in every format,
on a generated helpdesk with the sample knowledge base."""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.config_gen import cst

END = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = ("--since", "2026-01-01", "--until", "2026-03-02")
CONFIG = (
    '[store]\npath = "cstoolkit.db"\n\n[backends.demo]\nplugin = "local"\npath = "helpdesk.jsonl"\n'
)
KNOWLEDGE = '\n[knowledge.help]\nplugin = "markdown"\npath = "kb"\n'


def _run(ws: Path, *args: str) -> tuple[int, str, str]:
    return cst("--config", str(ws / "cstoolkit.toml"), *args)


def _ok(ws: Path, *args: str) -> str:
    code, out, err = _run(ws, *args)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 generated tickets (realistic text, topic tags), the sample knowledge base synced,
    and every third ticket answered from it (``kb_article`` set)."""
    from cstoolkit.knowledge.sample import write
    from cstoolkit.sample import SampleSpec, generate_file

    base = tmp_path_factory.mktemp("kbreport")
    (base / "cstoolkit.toml").write_text(CONFIG + KNOWLEDGE)
    spec = SampleSpec(tickets=300, days=30, seed=5, end=END, realistic_text=True)
    generate_file(spec, base / "helpdesk.jsonl")
    records = [json.loads(line) for line in (base / "helpdesk.jsonl").read_text().splitlines()]
    tickets = [r for r in records if r["type"] == "ticket"]
    for r in tickets[::3]:
        r["custom_fields"] = {**(r.get("custom_fields") or {}), "kb_article": "help:en/x.md"}
    (base / "helpdesk.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    write(base / "kb")
    _ok(base, "sync", "pull")
    _ok(base, "kb", "sync")
    return base


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(built, target)
    return target


def _report(ws: Path, *args: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_ok(ws, "report", "kpi", "--json", *SPAN, *args))
    return doc


# -- self_service under --by and in the series ---------------------------------------------------


def test_self_service_by_group_and_series_in_every_format(built: Path) -> None:
    doc = _report(built, "--by", "channel")
    (entry,) = [m for m in doc["metrics"] if m["name"] == "self_service"]
    total = entry["values"]
    assert total["answered"] == 100  # every third of 300
    groups = {g["key"]: g["values"]["self_service"] for g in doc["groups"]}
    assert sum(v["answered"] for v in groups.values()) == total["answered"]
    for key, values in list(groups.items())[:2]:  # a group: the summary of --query for it
        alone = _report(built, "--query", f"channel:{key}")
        (summary,) = [m for m in alone["metrics"] if m["name"] == "self_service"]
        assert values == summary["values"], key
    series = doc["series"]["values"]["self_service"]
    assert len(series) == len(doc["series"]["buckets"]) and sum(series) == total["answered"]

    by_week = _report(built, "--by", "week")
    assert sum(g["values"]["self_service"]["answered"] for g in by_week["groups"]) == 100

    out = _ok(built, "report", "kpi", "--format", "csv", *SPAN, "--by", "channel")
    rows = list(csv.reader(io.StringIO(out)))
    key = doc["groups"][0]["key"]
    (row,) = [r for r in rows if r[:4] == ["group", key, "self_service", "answered"]]
    assert float(row[4]) == groups[key]["answered"]
    assert sum(float(r[4]) for r in rows if r[:1] == ["series"] and r[2] == "self_service") == 100
    for fmt in ("md", "table", "html"):  # the column of the groups' table (wrapped in table)
        out = _ok(built, "report", "kpi", "--format", fmt, *SPAN, "--by", "channel")
        assert "Answered from" in out[out.index("By channel") :], fmt


def test_the_report_counts_the_created_tickets_once(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """self_service takes the tickets created (period, previous period, groups, buckets) from
    the report's own counts: its values are the same when the store's count of them fails, and
    no note says it failed."""
    from cstoolkit.store import knowledge as store_kb

    compare = ("--compare", "previous")
    counted = {
        by: _self_service(_report(built, "--by", by, *compare)) for by in ("channel", "week")
    }

    def no_count(*_: Any, **__: Any) -> dict[Any, int]:
        raise AssertionError("the created tickets were counted again")

    monkeypatch.setattr(store_kb, "created_counts", no_count)
    for by in ("channel", "tier", "week"):
        reused = _report(built, "--by", by, *compare)
        assert not [n for n in reused.get("notes") or [] if "self_service" in n], reused["notes"]
        assert _self_service(reused)[0]["answered"] == 100
        if by in counted:
            assert _self_service(reused) == counted[by], by


def _self_service(doc: dict[str, Any]) -> Any:
    (entry,) = [m for m in doc["metrics"] if m["name"] == "self_service"]
    return (
        entry["values"],
        entry.get("previous"),
        [g["values"]["self_service"] for g in doc["groups"]],
        doc["series"]["values"]["self_service"],
    )


# -- the knowledge-gaps table --------------------------------------------------------------------


def test_report_gaps_are_the_kb_gaps_table(built: Path) -> None:
    doc = _report(built, "--gaps", "--topics", "tags")
    gaps = doc["knowledge_gaps"]
    table = json.loads(_ok(built, "kb", "gaps", "--topics", "tags", "--json"))
    assert gaps["topics"] == "tags" and gaps["rows"]
    assert [dict(zip(gaps["columns"], r, strict=True)) for r in gaps["rows"]] == table
    assert gaps["gaps"] == sum(r["gap"] for r in table)
    assert "es" not in {r["topic"] for r in table}  # language tags are not topics

    import jsonschema

    schema = json.loads((Path(__file__).parents[1] / "cstoolkit/kpi/schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)
    # only asked for: without --gaps there is no section and no search
    assert "knowledge_gaps" not in _report(built)


def test_gaps_in_every_format(built: Path) -> None:
    doc = _report(built, "--gaps", "--topics", "tags")
    first = doc["knowledge_gaps"]["rows"][0][0]
    for fmt in ("table", "md", "html"):
        out = _ok(built, "report", "kpi", "--format", fmt, *SPAN, "--gaps", "--topics", "tags")
        part = out[out.index("Knowledge gaps") :]
        assert first in part and "topics: tags" in part, fmt
    out = _ok(built, "report", "kpi", "--format", "csv", *SPAN, "--gaps", "--topics", "tags")
    rows = [r for r in csv.reader(io.StringIO(out)) if r[0] == "knowledge_gaps"]
    assert ["knowledge_gaps", first, "knowledge_gaps", "tickets"] == rows[0][:4]


def test_gaps_without_a_knowledge_base_is_a_note(ws: Path) -> None:
    (ws / "cstoolkit.toml").write_text(CONFIG)
    (ws / "cstoolkit.db").unlink()
    _ok(ws, "sync", "pull")
    doc = _report(ws, "--gaps")
    assert doc["knowledge_gaps"] is None
    assert any(n.startswith("knowledge gaps: no knowledge base") for n in doc["notes"])
    out = _ok(ws, "report", "kpi", *SPAN, "--gaps")
    assert "note: knowledge gaps: no knowledge base" in out


def test_topics_goes_with_gaps(built: Path) -> None:
    code, _, err = _run(built, "report", "kpi", "--topics", "tags")
    assert code == 2 and "--topics goes with --gaps" in err


# -- topics from the routing model ---------------------------------------------------------------


def test_model_topics_without_a_model_fall_back_to_tags_with_a_note(built: Path) -> None:
    code, out, err = _run(built, "kb", "gaps", "--topics", "model", "--json")
    assert code == 0, err
    assert "note: knowledge gaps: topics from tags only: no routing model" in err
    assert out and json.loads(out) == json.loads(_ok(built, "kb", "gaps", "--topics", "tags",
                                                      "--json"))  # fmt: skip
    doc = _report(built, "--gaps")
    assert doc["knowledge_gaps"]["topics"] == "tags"
    assert any("no routing model" in n for n in doc["notes"])


def test_model_topics_without_the_ml_extra_is_a_note(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cstoolkit.errors import UsageError
    from cstoolkit.routing import learn, topics

    (built / "models").mkdir(exist_ok=True)
    meta = built / "models" / "routing.json"
    meta.write_text("{}")
    try:

        def missing() -> None:
            raise UsageError(f"learned routing needs scikit-learn: {learn.ENABLE}")

        monkeypatch.setattr(learn, "require_sklearn", missing)
        request = topics.gap_topics("auto", built / "models")
        assert request.source == "tags" and request.predicted is None and request.note
        assert request.note.startswith(
            "knowledge gaps: topics from tags only: learned routing needs"
        )
    finally:
        meta.unlink()


@pytest.fixture(scope="module")
def trained(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import sklearn  # noqa: F401
        import skops  # noqa: F401
    except ImportError:
        from tests.conftest import skip_or_fail

        skip_or_fail("scikit-learn is not installed", "pip install -e '.[test]' (or '.[ml]')")
    target = tmp_path_factory.mktemp("kbtrained") / "ws"
    shutil.copytree(built, target)
    _ok(target, "model", "train")
    return target


def test_topics_from_the_routing_model(trained: Path) -> None:
    from cstoolkit.config import load_config
    from cstoolkit.knowledge.gaps import tag_topics
    from cstoolkit.routing.topics import gap_topics
    from cstoolkit.store import open_store

    meta = json.loads((trained / "models" / "routing.json").read_text())
    model_tags = set(meta["classes"]["tags"])
    table = json.loads(_ok(trained, "kb", "gaps", "--topics", "model", "--json"))
    assert table and {r["topic"] for r in table} <= model_tags
    for topics in ("model", "auto"):  # the report's table is cst kb gaps' table
        doc = _report(trained, "--gaps", "--topics", topics)
        gaps = doc["knowledge_gaps"]
        table = json.loads(_ok(trained, "kb", "gaps", "--topics", topics, "--json"))
        assert [dict(zip(gaps["columns"], r, strict=True)) for r in gaps["rows"]] == table
        assert not any("routing model" in n for n in doc["notes"])
    assert _report(trained, "--gaps")["knowledge_gaps"]["topics"] == "tags, else model"

    # auto: a ticket keeps its own tags; one without tags takes the model's
    store = open_store(load_config(trained / "cstoolkit.toml").store_path)
    try:
        pairs = list(store.select(limit=20))
    finally:
        store.close()
    bare = [(replace(t, tags=[]), r) for t, r in pairs[:10]]
    asked = gap_topics("auto", trained / "models")
    assert asked.source == "tags, else model" and asked.note is None
    auto, model = asked.topics(), gap_topics("model", trained / "models").topics()
    assert auto(pairs[10:]) == tag_topics(pairs[10:])
    assert auto(bare) == model(bare) and any(auto(bare))


def test_report_gaps_count_tags_in_sql_as_the_table_does(
    store_factory: Any, tmp_path: Path
) -> None:
    """The report's way to the table (tags counted in SQL, each topic's latest tickets read)
    gives the rows ``gaps`` gives from the tickets themselves, on SQLite and PostgreSQL."""
    from datetime import timedelta

    from cstoolkit.knowledge.gaps import GapRequest, GapSettings, for_report, gaps, language_tags
    from cstoolkit.knowledge.search import Index
    from cstoolkit.knowledge.sync import sync_source
    from cstoolkit.model import Status, Ticket
    from cstoolkit.plugin import Page
    from tests.knowledge_kit import markdown_source, write_kb

    store = store_factory()
    try:
        sync_source(store, "help", markdown_source(write_kb(tmp_path / "kb")))
        t0 = datetime(2026, 11, 2, tzinfo=UTC)
        subjects = [
            ("password reset link never arrives", ["password", "en"]),
            ("add a dark mode to the mobile app", ["feature", "mobile"]),
            ("refund of a duplicate charge", ["billing"]),
            ("dark mode please", ["feature"]),
        ]
        tickets = [
            Ticket(f"d:{i}", "d", str(i), subjects[i % 4][0], Status.NEW,
                   t0 + timedelta(hours=i), t0 + timedelta(hours=i),
                   tags=subjects[i % 4][1], language="en")
            for i in range(40)
        ]  # fmt: skip
        store.upsert_page("d", Page(tickets=tickets))
        since, until = (t0 + timedelta(hours=2)).timestamp(), (t0 + timedelta(hours=37)).timestamp()
        settings = GapSettings(min_score=0.3, min_tickets=3, sample=4)
        notes: list[str] = []
        doc = for_report(store, "t.deleted = 0", [], since=since, until=until,
                         request=GapRequest(settings=settings), notes=notes)  # fmt: skip
        assert doc is not None and not notes
        index = Index(store)
        inside = [(t, r) for t, r in store.select() if since <= t.created_at.timestamp() < until]
        table = gaps(index, inside, min_score=0.3, min_tickets=3, sample=4,
                     ignore=language_tags(index))  # fmt: skip
        assert doc["rows"] == [[g.as_dict()[c] for c in doc["columns"]] for g in table]
        assert {r[0] for r in doc["rows"]} == {"password", "feature", "mobile", "billing"}
    finally:
        store.close()
