"""The registry is the one declaration of every field: docs/query.md is made from it, the SLA
engine and the triage engine read their field lists from it, and API 1.0's ``sql=`` still works
(deprecated)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cstoolkit import query as q
from cstoolkit.errors import QueryError
from cstoolkit.model import Status, Ticket
from cstoolkit.query import docs
from cstoolkit.store.conditions import Age, Fact, JsonPath, LegacySql

DOCS = Path(__file__).resolve().parents[2] / "docs" / "query.md"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_docs_query_md_holds_the_field_tables_as_the_registry_renders_them() -> None:
    """Regenerate with: python -m cstoolkit.query.docs docs/query.md"""
    text = DOCS.read_text(encoding="utf-8")
    begin, end = text.index(docs.BEGIN), text.index(docs.END) + len(docs.END)
    assert text[begin:end] == docs.render()


def test_every_registered_field_is_documented_with_its_kind() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name, spec in q.FIELDS.items():
        assert f"| `{name}` | `{spec.kind}` |" in text, name


def test_the_sla_and_triage_engines_read_their_fields_from_the_registry() -> None:
    from cstoolkit import sla
    from cstoolkit.query import catalog
    from cstoolkit.triage import fields

    assert sla.METRICS is catalog.SLA_METRICS
    assert set(sla.field_names()) <= set(q.FIELDS)
    assert fields.registered_names() <= set(q.FIELDS)
    fields.register()  # kept for callers: changes nothing
    sla.register_fields()
    assert q.FIELDS["reopens"].source == Fact("reopens")
    assert q.FIELDS["hours_since_last_public_reply"].source == Age(Fact("last_public_reply"))
    assert q.FIELDS["sla.breached"].source is None  # per ticket: depends on now and the config


def test_unknown_names_in_a_declared_family_are_refused_with_a_suggestion() -> None:
    with pytest.raises(QueryError, match=r"did you mean 'sla\.breached'"):
        q.parse("sla.breachd:true")
    with pytest.raises(QueryError, match=r"did you mean 'survey\.csat'"):
        q.parse("survey.cast>=4")


def test_register_field_with_sql_is_deprecated_and_still_compiles() -> None:
    try:
        with pytest.warns(DeprecationWarning, match="is deprecated since plugin API 1.1"):
            spec = q.register_field(
                "plugin.lang_upper", "string", q.registry.ticket_attr("language"),
                sql="UPPER(t.language)",
            )  # fmt: skip
        assert spec.source == LegacySql("UPPER(t.language)") and spec.sql == "UPPER(t.language)"
        sql, params = q.to_sql(q.parse("plugin.lang_upper:en"), NOW) or ("", [])
        assert "LOWER(UPPER(t.language)) = ?" in sql and params == ["en"]
    finally:
        del q.FIELDS["plugin.lang_upper"]


def test_register_field_with_a_store_neutral_source() -> None:
    try:
        q.register_field(
            "severity", "string", q.registry.json_value("raw", ("fields", "severity")),
            source=JsonPath("raw", ("fields", "severity")),
        )  # fmt: skip
        t = Ticket(
            id="x:1", instance="x", external_id="1", subject="", status=Status.OPEN,
            created_at=NOW, updated_at=NOW, raw={"fields": {"severity": "S1"}},
        )  # fmt: skip
        node = q.parse('severity:"S1"')
        assert q.evaluate(node, q.Subject(t, None, NOW))
        sql, _ = q.to_sql(node, NOW) or ("", [])
        assert 'json_extract(t.raw, \'$."fields"."severity"\')' in sql
        assert q.to_sql(node, NOW, dialect="postgresql") is not None
    finally:
        del q.FIELDS["severity"]
    with pytest.raises(ValueError, match="unknown needs"):
        q.register_field("x.y", "number", needs=["moon"])
