"""Zendesk's metric sets, as the backend stores them, are what ``cst report kpi
--vendor-metrics`` reads: kept beside our values in the ticket's raw payload, never mixed in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from zendesk_fake import T0, FakeZendesk, make_backend

from cstoolkit.kpi.report import KpiOptions, build_report
from cstoolkit.kpi.vendor import read_zendesk_metrics
from cstoolkit.store import open_store
from cstoolkit.sync import pull as engine_pull


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    zd = FakeZendesk(tickets=6)
    with zd.mounted():
        yield zd


def test_pulled_metric_sets_are_read_by_the_vendor_check(fake: FakeZendesk, tmp_path: Path) -> None:
    fake.metrics[3].update(
        {
            "reply_time_in_minutes": {"calendar": 12, "business": 7},
            "full_resolution_time_in_minutes": {"calendar": 90, "business": None},
            "reopens": 2,
        }
    )
    store = open_store(tmp_path / "zd.db")
    try:
        engine_pull(store, make_backend(fake))
        since, until = T0 - 86400, T0 + 86400
        read = read_zendesk_metrics(store, "t.deleted = 0", [], since, until)
        assert sorted(read) == [f"zd:{n}" for n in range(1, 7)]
        t3 = read["zd:3"]
        assert t3.durations["reply_time_in_minutes"] == (720.0, 420.0)
        assert t3.durations["full_resolution_time_in_minutes"] == (5400.0, None)
        assert t3.counts == {"reopens": 2, "replies": fake.metrics[3]["replies"]}
        # our own fields stay ours: the metric set is only in the raw payload
        ticket = store.get_ticket("zd:3")
        assert ticket is not None and ticket.raw["metric_set"]["reopens"] == 2
        # the whole report runs on the pulled store and shows the section
        report = build_report(
            store,
            None,
            KpiOptions(
                since=datetime.fromtimestamp(since, UTC),
                until=datetime.fromtimestamp(until, UTC),
                vendor_metrics=True,
            ),
        )
        assert report["vendor"]["tickets_with_metric_set"] == 6
        by = {(c["name"], c["clock"]): c for c in report["vendor"]["comparisons"]}
        assert "business" not in {clock for _, clock in by}  # no calendar configured: 24x7
        # zd:3: the agent replied 31 s after creation; the planted metric set says 12 minutes.
        # zd:6 has a reply too, but the fake's metric set has no reply time: ours only.
        frt = by[("first_reply_time", "calendar")]
        assert (frt["paired"], frt["ours_only"], frt["vendor_only"]) == (1, 1, 0)
        assert frt["largest_disagreements"] == [
            {"ticket": "zd:3", "ours": 31, "vendor": 720, "difference": -689}
        ]
        # zd:3 is on hold for us, solved 90 minutes after creation for the planted metric set
        full = by[("full_resolution_time", "calendar")]
        assert (full["paired"], full["ours_only"], full["vendor_only"]) == (0, 1, 1)
    finally:
        store.close()
