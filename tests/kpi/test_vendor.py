"""The vendor check (``--vendor-metrics``): Zendesk's ticket metrics beside ours, on fixtures
whose values were computed by hand.

Calendar ``madrid`` (Mon-Fri 09:00-17:00), period [2026-03-23, 2026-04-06) local, as in
helpers.py. Zendesk tickets (instance ``zd``, each with a ``metric_set`` in its raw payload, in
minutes) and one local ticket (instance ``t``, no metric set):

* zd:1 Tue 03-24 09:00, reply 10:00, solved 11:00. Ours: first reply 60m (business 60m), first
  and full resolution 120m (120m), requester wait 120m (120m), 0 reopens, 1 reply. Zendesk says
  the same: everything agrees.
* zd:2 Wed 03-25 16:00, reply Thu 10:00, solved Thu 11:00. Ours: first reply 1080m calendar,
  120m business (Wed 16-17 + Thu 9-10); resolution 1140m (180m); requester wait 1140m (180m);
  0 reopens; 1 reply. Zendesk (another schedule, and a different view of the ticket): first
  reply business 200m, requester wait calendar 1200m, 1 reopen, 2 replies -- four
  disagreements; the rest agrees.
* zd:3 Tue 03-24 12:00:00, reply 12:30:40, solved 13:00. Ours: first reply 1840 s; Zendesk's
  whole minutes say 31m = 1860 s: 20 s apart, within the default 1-minute tolerance.
* zd:4 Thu 03-26 09:00, open, no reply among our events; Zendesk reports a first reply of 45m
  (a comment we never synced): vendor only.
* zd:5 Fri 03-27 09:00, reply 09:20, open; Zendesk's metric set has no reply time yet (synced
  before the reply): ours only.
* zd:6 Fri 03-20 16:00 (previous period), reply 16:30, solved Mon 03-23 10:00. Its first reply
  is outside the period on both sides (not counted); resolution 3960m calendar, 120m business
  (Fri 16-17 + Mon 9-10), requester wait the same, 0 reopens, 1 reply: agrees.
* t:1 Tue 03-24 10:00 (local backend), reply 10:15, solved 10:30: no vendor values, ours only.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cstoolkit.cli import cli
from cstoolkit.errors import UsageError
from cstoolkit.kpi import report as report_module
from cstoolkit.kpi import vendor as vendor_module
from cstoolkit.kpi.report import KpiOptions, build_report
from cstoolkit.kpi.vendor import parse_metric_set
from cstoolkit.model import Status
from cstoolkit.store import SQLiteStore
from tests.kpi.helpers import PERIOD, Builder, L, build_main, config
from tests.kpi.test_report_cli import CONFIG, _validate

M = 60
NOW = L("2026-04-10 12:00")


def metric_set(
    reply: tuple[int | None, int | None] = (None, None),
    first_res: tuple[int | None, int | None] = (None, None),
    full_res: tuple[int | None, int | None] = (None, None),
    wait: tuple[int | None, int | None] = (None, None),
    reopens: int = 0,
    replies: int = 0,
) -> dict[str, Any]:
    """A Zendesk metric set (the Ticket Metrics API object), values in minutes."""

    def pair(v: tuple[int | None, int | None]) -> dict[str, int | None]:
        return {"calendar": v[0], "business": v[1]}

    return {
        "id": 9000,
        "reply_time_in_minutes": pair(reply),
        "first_resolution_time_in_minutes": pair(first_res),
        "full_resolution_time_in_minutes": pair(full_res),
        "requester_wait_time_in_minutes": pair(wait),
        "agent_wait_time_in_minutes": {"calendar": 0, "business": 0},
        "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
        "reopens": reopens,
        "replies": replies,
        "assignee_stations": 1,
        "group_stations": 1,
    }


def _solved_ticket(b: Builder, n: int, created: str, reply: str, solved: str, **kw: Any) -> None:
    b.ticket(
        n,
        created,
        Status.SOLVED,
        solved=solved,
        events=[
            ("assign", created, "a1"),
            ("status", created, "new", "open"),
            ("reply", reply, "a1"),
            ("status", solved, "open", "solved", "a1"),
        ],
        **kw,
    )


def build_vendor_store(path: Path) -> SQLiteStore:
    zd = Builder("zd")
    _solved_ticket(
        zd,
        1,
        "2026-03-24 09:00",
        "2026-03-24 10:00",
        "2026-03-24 11:00",
        raw={"metric_set": metric_set((60, 60), (120, 120), (120, 120), (120, 120), 0, 1)},
    )
    _solved_ticket(
        zd,
        2,
        "2026-03-25 16:00",
        "2026-03-26 10:00",
        "2026-03-26 11:00",
        raw={"metric_set": metric_set((1080, 200), (1140, 180), (1140, 180), (1200, 180), 1, 2)},
    )
    _solved_ticket(
        zd,
        3,
        "2026-03-24 12:00:00",
        "2026-03-24 12:30:40",
        "2026-03-24 13:00",
        raw={"metric_set": metric_set((31, 31), (60, 60), (60, 60), (60, 60), 0, 1)},
    )
    zd.ticket(
        4,
        "2026-03-26 09:00",
        Status.OPEN,
        events=[("status", "2026-03-26 09:00", "new", "open")],
        raw={"metric_set": metric_set(reply=(45, 45), replies=1)},
    )
    zd.ticket(
        5,
        "2026-03-27 09:00",
        Status.OPEN,
        events=[
            ("status", "2026-03-27 09:00", "new", "open"),
            ("reply", "2026-03-27 09:20", "a1"),
        ],
        raw={"metric_set": metric_set()},
    )
    _solved_ticket(
        zd,
        6,
        "2026-03-20 16:00",
        "2026-03-20 16:30",
        "2026-03-23 10:00",
        raw={"metric_set": metric_set((30, 30), (3960, 120), (3960, 120), (3960, 120), 0, 1)},
    )
    zd.store(path).close()
    local = Builder("t")
    _solved_ticket(local, 1, "2026-03-24 10:00", "2026-03-24 10:15", "2026-03-24 10:30")
    return local.store(path)


def _report(path: Path, **opts: Any) -> dict[str, Any]:
    store = build_vendor_store(path)
    try:
        options = KpiOptions(since=PERIOD[0], until=PERIOD[1], now=NOW, **opts)
        return build_report(store, config(), options)
    finally:
        store.close()


def _cmp(report: dict[str, Any], name: str, clock: str) -> dict[str, Any]:
    return next(
        c for c in report["vendor"]["comparisons"] if c["name"] == name and c["clock"] == clock
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _report(tmp_path_factory.mktemp("vendor") / "v.db", vendor_metrics=True)


def test_the_section_and_its_schema(report: dict[str, Any]) -> None:
    _validate(report)
    v = report["vendor"]
    assert v["vendor"] == "zendesk"
    assert v["tolerance_seconds"] == 60
    assert (v["calendar"], v["business_hours"]) == ("madrid", True)
    assert v["tickets_with_metric_set"] == 6  # zd:1-6 (zd:6 was solved in the period)
    assert [(c["name"], c["clock"]) for c in v["comparisons"]] == [
        ("first_reply_time", "calendar"),
        ("first_reply_time", "business"),
        ("first_resolution_time", "calendar"),
        ("first_resolution_time", "business"),
        ("full_resolution_time", "calendar"),
        ("full_resolution_time", "business"),
        ("requester_wait_time", "calendar"),
        ("requester_wait_time", "business"),
        ("reopens", "count"),
        ("replies", "count"),
    ]
    assert {f["field"] for f in v["not_compared"]} == {
        "agent_wait_time_in_minutes",
        "on_hold_time_in_minutes",
        "assignee_stations",
        "group_stations",
    }
    assert any("Zendesk's business minutes" in n and "'madrid'" in n for n in report["notes"])


def test_first_reply_agrees_in_calendar_time(report: dict[str, Any]) -> None:
    c = _cmp(report, "first_reply_time", "calendar")
    # paired zd:1 (60m), zd:2 (1080m), zd:3 (1840 s vs 31m); zd:4 Zendesk only; zd:5, t:1 ours
    assert (c["paired"], c["ours_only"], c["vendor_only"]) == (3, 2, 1)
    assert (c["agreeing"], c["disagreeing"], c["agree_pct"]) == (3, 0, 100)
    assert c["ours_median"] == 60 * M and c["vendor_median"] == 60 * M
    assert c["ours_mean"] == pytest.approx((3600 + 64800 + 1840) / 3)
    assert c["vendor_mean"] == pytest.approx((3600 + 64800 + 1860) / 3)
    assert c["largest_disagreements"] == []
    assert (c["metric"], c["vendor_field"], c["unit"]) == (
        "first_reply_time",
        "reply_time_in_minutes",
        "seconds",
    )


def test_a_business_disagreement_is_reported_with_its_ticket(report: dict[str, Any]) -> None:
    c = _cmp(report, "first_reply_time", "business")
    assert (c["paired"], c["ours_only"], c["vendor_only"]) == (3, 2, 1)
    assert (c["agreeing"], c["disagreeing"]) == (2, 1)
    assert c["agree_pct"] == pytest.approx(200 / 3)
    assert c["largest_disagreements"] == [
        {"ticket": "zd:2", "ours": 120 * M, "vendor": 200 * M, "difference": -80 * M}
    ]
    # business: ours 60m, 120m, 1840 s; Zendesk's 60m, 200m, 31m
    assert c["ours_median"] == 60 * M and c["vendor_median"] == 60 * M
    assert c["ours_mean"] == pytest.approx((3600 + 7200 + 1840) / 3)
    assert c["vendor_mean"] == pytest.approx((3600 + 12000 + 1860) / 3)


def test_resolution_and_wait(report: dict[str, Any]) -> None:
    for name in ("first_resolution_time", "full_resolution_time"):
        for clock in ("calendar", "business"):
            c = _cmp(report, name, clock)
            # zd:1, zd:2, zd:3 and zd:6 (solved in the period); t:1 ours only
            assert (c["paired"], c["ours_only"], c["vendor_only"]) == (4, 1, 0), (name, clock)
            assert c["agreeing"] == 4 and c["largest_disagreements"] == []
    full = _cmp(report, "full_resolution_time", "calendar")
    assert full["ours_median"] == (120 * M + 1140 * M) / 2  # 60m, 120m, 1140m, 3960m
    wait = _cmp(report, "requester_wait_time", "calendar")
    assert (wait["paired"], wait["ours_only"], wait["agreeing"]) == (4, 1, 3)
    assert wait["largest_disagreements"] == [
        {"ticket": "zd:2", "ours": 1140 * M, "vendor": 1200 * M, "difference": -60 * M}
    ]
    assert _cmp(report, "requester_wait_time", "business")["agreeing"] == 4


def test_counts_must_be_equal(report: dict[str, Any]) -> None:
    reopens = _cmp(report, "reopens", "count")
    assert (reopens["paired"], reopens["ours_only"], reopens["agreeing"]) == (4, 1, 3)
    assert reopens["largest_disagreements"] == [
        {"ticket": "zd:2", "ours": 0, "vendor": 1, "difference": -1}
    ]
    assert reopens["unit"] == "count" and reopens["metric"] == "reopen_rate"
    replies = _cmp(report, "replies", "count")
    assert (replies["paired"], replies["agreeing"]) == (4, 3)
    assert replies["largest_disagreements"][0]["ticket"] == "zd:2"
    assert (replies["ours_mean"], replies["vendor_mean"]) == (1, 1.25)


def test_the_tolerance_decides_what_agrees(tmp_path: Path) -> None:
    strict = _report(tmp_path / "s.db", vendor_metrics=True, vendor_tolerance=10)
    c = _cmp(strict, "first_reply_time", "calendar")
    assert (c["agreeing"], c["disagreeing"]) == (2, 1)  # zd:3 is 20 s off
    assert c["largest_disagreements"] == [
        {"ticket": "zd:3", "ours": 1840, "vendor": 1860, "difference": -20}
    ]
    assert strict["vendor"]["tolerance_seconds"] == 10
    loose = _report(tmp_path / "l.db", vendor_metrics=True, vendor_tolerance=80 * M)
    assert _cmp(loose, "first_reply_time", "business")["agreeing"] == 3
    assert _cmp(loose, "reopens", "count")["agreeing"] == 3  # counts stay exact


def test_largest_disagreements_come_first(tmp_path: Path) -> None:
    from cstoolkit.kpi.aggregates import TicketFacts
    from cstoolkit.kpi.vendor import VendorTicket, compare

    facts = {
        f"zd:{n}": TicketFacts(0.0, float(n * 100), None, None, None, None, None, None, None, 0, 1)
        for n in range(1, 9)
    }
    vendor = {tid: VendorTicket(0.0, {"reply_time_in_minutes": (0.0, None)}, {}) for tid in facts}
    c = compare(facts, vendor, 0.0, 10_000.0, business=False)[0]
    assert c["paired"] == 8 and c["agreeing"] == 0
    assert [d["ticket"] for d in c["largest_disagreements"]] == [
        "zd:8",
        "zd:7",
        "zd:6",
        "zd:5",
        "zd:4",
    ]


def test_without_any_vendor_metrics_every_value_is_ours_only(tmp_path: Path) -> None:
    store = build_main(tmp_path / "m.db")  # the local fixture of helpers.py: no metric sets
    try:
        options = KpiOptions(since=PERIOD[0], until=PERIOD[1], now=NOW, vendor_metrics=True)
        report = build_report(store, config(), options)
    finally:
        store.close()
    _validate(report)
    v = report["vendor"]
    assert v["tickets_with_metric_set"] == 0
    counts = {m["name"]: m["values"] for m in report["metrics"]}
    for c in v["comparisons"]:
        assert (c["paired"], c["vendor_only"], c["agree_pct"]) == (0, 0, None)
        assert c["ours_median"] is None and c["vendor_median"] is None
        # exactly the values the report counted for the period
        expected = (
            counts["tickets_solved"]["count"]
            if c["unit"] == "count"
            else counts[c["name"]]["count"]
        )
        assert c["ours_only"] == expected, c["name"]
    assert any("no ticket of the period has Zendesk ticket metrics" in n for n in report["notes"])


def test_flag_off_reads_nothing_and_adds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs: list[Any] = []
    aggregate = report_module.aggregate

    def spy(store: Any, spec: Any) -> Any:
        specs.append(spec)
        result = aggregate(store, spec)
        assert result.facts is None
        return result

    def must_not_run(*args: Any, **kw: Any) -> Any:
        raise AssertionError("vendor metrics read with the flag off")

    monkeypatch.setattr(report_module, "aggregate", spy)
    monkeypatch.setattr(vendor_module, "read_zendesk_metrics", must_not_run)
    report = _report(tmp_path / "off.db")
    assert "vendor" not in report
    assert not any("vendor check" in n for n in report["notes"])
    assert [s.record_tickets for s in specs] == [False]


def test_jobs_no_longer_change_the_records(tmp_path: Path) -> None:
    one = _report(tmp_path / "one.db", vendor_metrics=True, jobs=1)
    two = _report(tmp_path / "two.db", vendor_metrics=True, jobs=2)
    assert two["scanned"]["jobs"] == 1  # the columnar report runs in one process
    assert two["vendor"] == one["vendor"]


def test_no_business_calendar_compares_calendar_minutes_only(tmp_path: Path) -> None:
    report = _report(tmp_path / "c.db", vendor_metrics=True, calendar="24x7")
    clocks = {c["clock"] for c in report["vendor"]["comparisons"]}
    assert clocks == {"calendar", "count"}
    assert report["vendor"]["business_hours"] is False
    assert any("business minutes not compared" in n for n in report["notes"])


def test_parse_metric_set_converts_minutes_and_ignores_junk() -> None:
    v = parse_metric_set(
        100.0,
        {
            "reply_time_in_minutes": {"calendar": 2, "business": None},
            "first_resolution_time_in_minutes": {"calendar": None, "business": None},
            "full_resolution_time_in_minutes": "soon",
            "requester_wait_time_in_minutes": {"calendar": True, "business": 1.5},
            "reopens": "2",
            "replies": 3,
        },
    )
    assert v.created == 100.0
    assert v.durations == {
        "reply_time_in_minutes": (120.0, None),
        "requester_wait_time_in_minutes": (None, 90.0),
    }
    assert v.counts == {"replies": 3}


# -- the command and its formats -----------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("vendor_cli")
    build_vendor_store(tmp / "kpi.db").close()
    cfg = tmp / "cstoolkit.toml"
    cfg.write_text(CONFIG)
    return cfg


def _cli(cfg: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli,
        ["--config", str(cfg), "report", "kpi", "--since", PERIOD[0], "--until", PERIOD[1], *args],
    )


def _ok(cfg: Path, *args: str) -> str:
    res = _cli(cfg, *args)
    assert res.exit_code == 0, (res.output, res.exception)
    return str(res.output)


def test_cli_json(workspace: Path) -> None:
    doc = json.loads(_ok(workspace, "--vendor-metrics", "--json"))
    _validate(doc)
    c = next(c for c in doc["vendor"]["comparisons"] if c["clock"] == "business")
    assert c["largest_disagreements"][0]["ticket"] == "zd:2"
    assert "vendor" not in json.loads(_ok(workspace, "--json"))


def test_cli_tolerance(workspace: Path) -> None:
    doc = json.loads(_ok(workspace, "--vendor-metrics", "--vendor-tolerance", "10s", "--json"))
    assert doc["vendor"]["tolerance_seconds"] == 10
    # usage errors (exit 2 through the console script's CstError mapping)
    bad = _cli(workspace, "--vendor-metrics", "--vendor-tolerance", "soon")
    assert isinstance(bad.exception, UsageError) and bad.exception.exit_code == 2
    assert "--vendor-tolerance: bad duration 'soon'" in str(bad.exception)
    alone = _cli(workspace, "--vendor-tolerance", "2m")
    assert isinstance(alone.exception, UsageError)
    assert "--vendor-tolerance goes with --vendor-metrics" in str(alone.exception)


def test_cli_table(workspace: Path) -> None:
    out = _ok(workspace, "--vendor-metrics")
    assert "Vendor check: ours vs Zendesk ticket metrics" in out
    assert "zd:2 (-1h 20m)" in out  # the business first reply disagreement
    assert "zd:2 (-1)" in out  # reopens
    assert "66.7% (2/3)" in out
    assert "own schedule" in out
    assert "Vendor check" not in _ok(workspace)


def test_cli_csv(workspace: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(_ok(workspace, "--vendor-metrics", "--format", "csv"))))
    vendor = {
        (r["group"], r["metric"], r["key"]): r["value"] for r in rows if r["section"] == "vendor"
    }
    assert vendor[("business", "first_reply_time", "paired")] == "3"
    assert vendor[("business", "first_reply_time", "disagreeing")] == "1"
    assert vendor[("count", "reopens", "ours_only")] == "1"
    worst = [r for r in rows if r["section"] == "vendor_disagreement"]
    assert {
        (r["group"], r["metric"], r["key"], r["value"])
        for r in worst
        if r["metric"] == "first_reply_time"
    } == {
        ("zd:2", "first_reply_time", "business.ours", "7200"),
        ("zd:2", "first_reply_time", "business.vendor", "12000"),
        ("zd:2", "first_reply_time", "business.difference", "-4800"),
    }


def test_cli_markdown_and_html(workspace: Path, tmp_path: Path) -> None:
    md = _ok(workspace, "--vendor-metrics", "--format", "md")
    assert "## Vendor check: ours vs Zendesk ticket metrics" in md
    assert "| First reply time | business | 3 | 2 | 1 | 66.7% (2/3) |" in md
    target = tmp_path / "v.html"
    _ok(workspace, "--vendor-metrics", "--out", str(target))
    page = target.read_text()
    assert "Vendor check: ours vs Zendesk ticket metrics" in page
    assert "zd:2 (-1h 20m)" in page
    assert "<script" not in page
    plain = tmp_path / "plain.html"
    _ok(workspace, "--out", str(plain))
    assert "Vendor check" not in plain.read_text()
