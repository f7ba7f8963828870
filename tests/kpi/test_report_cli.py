"""``cst report kpi``: formats, the JSON schema, --out, --compare, plugin metrics and formats."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cstoolkit.cli import cli
from cstoolkit.hookspecs import hookimpl
from cstoolkit.host import Host
from cstoolkit.kpi.report import KpiOptions, build_report
from tests.kpi.helpers import PERIOD, build_main, config

SCHEMA = Path(__file__).resolve().parents[2] / "cstoolkit" / "kpi" / "schema.json"
CONFIG = """\
[store]
path = "kpi.db"

[calendars.madrid]
timezone = "Europe/Madrid"
hours = { mon-fri = "09:00-17:00" }
holidays = ["2026-03-30"]

[kpi]
calendar = "madrid"
jobs = 1

[costs]
agent_hour = 30.0
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    build_main(tmp_path / "kpi.db").close()
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(CONFIG)
    return cfg


def _run(cfg: Path, *args: str) -> Any:
    res = CliRunner().invoke(
        cli,
        ["--config", str(cfg), "report", "kpi", "--since", PERIOD[0], "--until", PERIOD[1], *args],
    )
    assert res.exit_code == 0, (res.output, res.exception)
    return res


def _validate(doc: dict[str, Any]) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--compare", "previous"],
        ["--by", "agent"],
        ["--by", "day", "--compare", "previous"],
        ["--by", "tier"],
    ],
)
def test_json_follows_the_schema(workspace: Path, extra: list[str]) -> None:
    doc = json.loads(_run(workspace, "--format", "json", *extra).output)
    _validate(doc)
    assert doc["schema_version"] == 1
    names = [m["name"] for m in doc["metrics"]]
    assert names[:3] == ["tickets_created", "tickets_solved", "first_reply_time"]
    assert "sla_compliance" in names and "arrivals_heatmap" in names


def test_schema_rejects_a_broken_document(workspace: Path) -> None:
    import jsonschema

    doc = json.loads(_run(workspace, "--json").output)
    doc["metrics"][0]["values"]["count"] = "five"
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)


def test_table_with_sparklines_and_deltas(workspace: Path) -> None:
    out = _run(workspace, "--compare", "previous").output
    assert "First reply time" in out and "Δ" in out
    assert any(ch in out for ch in "▁▂▃▄▅▆▇█")
    assert "2026-03-23 → 2026-04-05 (14 days, Europe/Madrid)" in out
    assert "+3" in out  # tickets created: 5 against 2


def test_csv_long_format(workspace: Path) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(_run(workspace, "--format", "csv", "--compare", "previous").output)
        )
    )
    assert list(rows[0]) == ["section", "group", "metric", "key", "value", "previous", "delta"]
    frt = {
        r["key"]: r for r in rows if r["section"] == "metric" and r["metric"] == "first_reply_time"
    }
    assert frt["business.median"]["value"] == "3600"
    assert frt["business.median"]["previous"] == "2700"
    assert frt["business.median"]["delta"] == "900"
    heat = [r for r in rows if r["section"] == "heatmap"]
    assert len(heat) == 7 * 24


def test_markdown(workspace: Path) -> None:
    out = _run(workspace, "--format", "md", "--by", "channel").output
    assert out.startswith("# KPI report")
    assert "| First reply time | 1h 00m |" in out
    assert "## By channel" in out and "| email |" in out


def test_html_out_file_self_contained(workspace: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    _run(workspace, "--out", str(target), "--compare", "previous")  # format from the extension
    text = target.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg") >= 8
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text
    assert os.stat(target).st_mode & 0o044  # readable like any file the user writes


def test_csv_from_out_extension(workspace: Path, tmp_path: Path) -> None:
    target = tmp_path / "k.csv"
    _run(workspace, "--out", str(target))
    assert target.read_text().startswith("section,group,metric")


def test_unknown_format_is_a_usage_error(workspace: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cstoolkit",
            "--config",
            str(workspace),
            "report",
            "kpi",
            "--format",
            "jsno",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "did you mean 'json'" in proc.stderr


def test_bad_period_is_a_usage_error(workspace: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cstoolkit",
            "--config",
            str(workspace),
            "report",
            "kpi",
            "--since",
            "2026-04-06",
            "--until",
            "2026-03-23",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2 and "empty period" in proc.stderr


class TicketsPerAgentDay:
    """A plugin metric: computed from the built-in results the context carries."""

    name = "tickets_per_agent_day"
    description = "Solved tickets per agent working day (a plugin's own formula)."
    unit = "per_agent_day"

    def compute(self, ctx: Any) -> dict[str, float | None]:
        prod = ctx.results["agent_productivity"]
        sql, params = ctx.tickets_sql("COUNT(*)")
        total = ctx.store.conn.execute(sql, params).fetchone()[0]
        return {"value": prod["solved_per_agent_day"], "tickets_in_store": total}


class Broken:
    name = "broken_metric"
    description = "raises"
    unit = "count"

    def compute(self, ctx: Any) -> float:
        raise RuntimeError("boom")


class Upper:
    name = "upper"
    description = "The table format, shouted."

    def write(self, report: dict[str, Any], out: Any) -> None:
        out.write(report["report"].upper() + "\n")


class _Plugin:
    @staticmethod
    @hookimpl
    def register_metrics(register: Any) -> None:
        register(TicketsPerAgentDay())
        register(Broken())

    @staticmethod
    @hookimpl
    def register_exporters(register: Any) -> None:
        register(Upper())


def test_plugin_metrics_and_exporters(tmp_path: Path) -> None:
    host = Host(entry_points=[])
    host.load()
    host.register_plugin(_Plugin, "myplugin")
    store = build_main(tmp_path / "p.db")
    report = build_report(
        store, config(), KpiOptions(since=PERIOD[0], until=PERIOD[1], compare="previous"), host
    )
    store.close()
    _validate(report)
    entry = next(m for m in report["metrics"] if m["name"] == "tickets_per_agent_day")
    assert entry["source"] == "myplugin"
    assert entry["values"] == {"value": 1.25, "tickets_in_store": 7}
    assert entry["previous"]["value"] == 0.5 and entry["delta"]["value"] == 0.75
    assert any("broken_metric" in n and "boom" in n for n in report["notes"])
    assert not any(m["name"] == "broken_metric" for m in report["metrics"])
    buf = io.StringIO()
    host.get("exporter", "upper").write(report, buf)
    assert buf.getvalue() == "KPI\n"
    assert {"table", "json", "csv", "md", "html"} <= set(host.names("exporter"))
    assert "first_reply_time" in host.names("metric")


def test_disabling_the_builtin_plugin_hides_its_metrics(tmp_path: Path) -> None:
    # the built-in knowledge plugin registers a metric of its own (self_service)
    host = Host(entry_points=[], env={"CSTOOLKIT_DISABLE_PLUGINS": "kpi,knowledge"})
    store = build_main(tmp_path / "d.db")
    report = build_report(store, config(), KpiOptions(since=PERIOD[0], until=PERIOD[1]), host)
    store.close()
    assert report["metrics"] == []
