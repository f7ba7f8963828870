"""`cst sync pull`: summary, --since, start_date, filters, --full reconciliation, locks, logs."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cstoolkit import sync
from cstoolkit.builtin.local import LocalBackend
from cstoolkit.errors import BusyError, UsageError
from cstoolkit.model import Status, Ticket
from cstoolkit.plugin import Backend, Page
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.store.locks import Lock, list_locks

SUMMARY_KEYS = {
    "instance",
    "outcome",
    "exit_code",
    "full",
    "since",
    "pages",
    "fetched",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "reconciled",
    "requests",
    "retries",
    "seconds_waited_rate_limit",
    "seconds",
    "error",
}


def _updated(ws: Any) -> list[datetime]:
    store = ws.store()
    try:
        return sorted(t.updated_at for t, _ in store.select(instance="desk"))
    finally:
        store.close()


def test_json_summary_has_the_documented_schema(ws: Any, pull_json: Any) -> None:
    result = ws.invoke("sync", "pull", "desk", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["exit_code"] == 0
    summary = pull_json(result)["desk"]
    assert set(summary) == SUMMARY_KEYS
    assert (summary["outcome"], summary["fetched"], summary["inserted"]) == ("ok", 120, 120)
    assert summary["pages"] >= 3 and summary["requests"] == 0 and not summary["reconciled"]
    again = pull_json(ws.invoke("sync", "pull", "desk", "--json"))["desk"]
    assert (again["fetched"], again["inserted"], again["updated"]) == (0, 0, 0)


def test_since_rereads_from_a_date(ws: Any, pull_json: Any) -> None:
    ws.invoke("sync", "pull", "desk")
    stamps = _updated(ws)
    since = stamps[80]
    text = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    summary = pull_json(ws.invoke("sync", "pull", "desk", "--since", text, "--json"))["desk"]
    assert summary["fetched"] == sum(1 for s in stamps if s >= since)
    assert summary["unchanged"] == summary["fetched"] and summary["inserted"] == 0
    assert summary["since"] == text


def test_since_accepts_spans_and_refuses_garbage(ws: Any) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert sync.parse_when("7d", at=now) == now - timedelta(days=7)
    assert sync.parse_when("2026-02-01") == datetime(2026, 2, 1, tzinfo=UTC)
    assert sync.parse_when("2026-02-01T10:00:00+01:00") == datetime(2026, 2, 1, 9, tzinfo=UTC)
    with pytest.raises(UsageError, match="not an ISO 8601 date"):
        sync.parse_since("last tuesday")
    proc = ws.run("sync", "pull", "--since", "yesterday-ish")
    assert proc.returncode == 2 and "--since: 'yesterday-ish'" in proc.stderr


def test_start_date_limits_the_first_run_only(ws: Any, pull_json: Any) -> None:
    full = sorted(t.updated_at for p in ws.backend("desk").pull(None) for t in p.tickets)
    start = full[60]
    text = ws.config.read_text().replace(
        'path = "desk.jsonl"\n', f'path = "desk.jsonl"\nstart_date = "{start.isoformat()}"\n', 1
    )
    ws.write_config(text)
    first = pull_json(ws.invoke("sync", "pull", "desk", "--json"))["desk"]
    assert first["fetched"] == sum(1 for s in full if s >= start)
    assert all(s >= start for s in _updated(ws))
    again = pull_json(ws.invoke("sync", "pull", "desk", "--json"))["desk"]
    assert again["fetched"] == 0  # later runs resume from the cursor


def test_bad_start_date_is_a_config_error_naming_the_line(ws: Any) -> None:
    text = ws.config.read_text().replace(
        'path = "desk.jsonl"\n', 'path = "desk.jsonl"\nstart_date = "soon"\n', 1
    )
    ws.write_config(text)
    proc = ws.run("sync", "pull", "desk")
    assert proc.returncode == 2
    assert "cstoolkit.toml:5: backends.desk.start_date:" in proc.stderr


def test_filters_keep_only_matching_tickets(ws: Any) -> None:
    text = ws.config.read_text().replace(
        "page_size = 40\n", 'page_size = 40\nfilters = { group = ["billing"] }\n', 1
    )
    ws.write_config(text)
    result = ws.invoke("sync", "pull", "desk")
    assert result.exit_code == 0, result.output
    store = ws.store()
    groups = {t.group_id for t, _ in store.select(instance="desk")}
    assert groups == {"desk:billing"}
    store.close()


def test_unknown_filter_is_a_config_error(ws: Any) -> None:
    text = ws.config.read_text().replace(
        "page_size = 40\n", 'page_size = 40\nfilters = { colour = "red" }\n', 1
    )
    ws.write_config(text)
    proc = ws.run("sync", "pull", "desk", "--json")
    assert proc.returncode == 2
    assert "backends.desk.filters.colour: unknown filter" in proc.stderr
    assert proc.stdout == ""  # the config is checked on load: stopped before any pull


def _ghost(instance: str) -> Ticket:
    when = datetime(2026, 2, 20, tzinfo=UTC)
    return Ticket(f"{instance}:ghost", instance, "ghost", "gone upstream", Status.OPEN, when, when)


def test_full_marks_vanished_tickets_deleted(ws: Any, pull_json: Any) -> None:
    ws.invoke("sync", "pull", "desk")
    store = ws.store()
    store.upsert_page("desk", Page(tickets=[_ghost("desk")]))
    store.close()
    summary = pull_json(ws.invoke("sync", "pull", "desk", "--full", "--json"))["desk"]
    assert summary["reconciled"] and summary["deleted"] == 1 and summary["full"]
    assert summary["fetched"] == 120 and summary["unchanged"] == 120
    store = ws.store()
    assert store.get_ticket("desk:ghost") is not None
    live = {t.id for t, _ in store.select(instance="desk")}
    assert "desk:ghost" not in live and len(live) == 120
    store.close()


def test_full_that_fails_midway_reconciles_nothing(ws: Any, pull_json: Any) -> None:
    ws.invoke("sync", "pull", "desk")
    store = ws.store()
    store.upsert_page("desk", Page(tickets=[_ghost("desk")]))
    store.close()
    with open(ws.root / "desk.jsonl", "a") as fh:
        fh.write("{broken\n")
    result = ws.invoke("sync", "pull", "desk", "--full", "--json")
    assert result.exit_code == 2  # a line of a file people write that cannot be read
    summary = pull_json(result)["desk"]
    assert summary["outcome"] == "failed" and "desk.jsonl:" in summary["error"]
    assert (summary["pages"], summary["fetched"]) == (3, 120)  # committed before the error
    assert not summary["reconciled"] and summary["exit_code"] == 2
    store = ws.store()
    assert "desk:ghost" in {t.id for t, _ in store.select(instance="desk")}
    store.close()


def test_full_with_since_only_reconciles_what_it_read(ws: Any, pull_json: Any) -> None:
    ws.invoke("sync", "pull", "desk")
    store = ws.store()
    old = _ghost("desk")
    old.id, old.external_id = "desk:old-ghost", "old-ghost"
    old.created_at = old.updated_at = datetime(2020, 1, 1, tzinfo=UTC)
    store.upsert_page("desk", Page(tickets=[_ghost("desk"), old]))
    store.close()
    summary = pull_json(
        ws.invoke("sync", "pull", "desk", "--full", "--since", "2025-01-01", "--json")
    )["desk"]
    assert summary["deleted"] == 1
    store = ws.store()
    live = {t.id for t, _ in store.select(instance="desk")}
    assert "desk:old-ghost" in live and "desk:ghost" not in live
    store.close()


def test_a_deleted_ticket_that_comes_back_is_live_again(ws: Any) -> None:
    path = ws.root / "desk.jsonl"
    ws.invoke("sync", "pull", "desk")
    line = next(
        json.loads(raw) for raw in path.read_text().splitlines() if '"type":"ticket"' in raw
    )
    ws.append(path, {"type": "deleted", "id": line["id"]})
    ws.invoke("sync", "pull", "desk")
    store = ws.store()
    assert f"desk:{line['id']}" not in {t.id for t, _ in store.select(instance="desk")}
    ws.append(path, line)  # restored upstream, byte for byte the same
    stats = sync.pull(store, ws.backend("desk", store))
    assert stats.stats.updated == 1
    assert f"desk:{line['id']}" in {t.id for t, _ in store.select(instance="desk")}
    store.close()


# -- stats, old plugins ----------------------------------------------------------------------


class _Stats:
    requests = 0
    retries = 0
    seconds_waited_rate_limit = 0.0


class _CountingBackend(Backend):
    name: ClassVar[str] = "counting"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.stats = _Stats()

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        for n in range(3):
            self.stats.requests += 2
            self.stats.retries += 1
            self.stats.seconds_waited_rate_limit += 1.5
            yield Page(cursor=f"c{n}")


def test_backend_stats_reach_the_summary(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    summary = sync.pull(store, _CountingBackend("cnt", {}, MemoryKeyValue("cnt")))
    record = summary.as_dict()
    assert (record["requests"], record["retries"], record["seconds_waited_rate_limit"]) == (
        6,
        3,
        4.5,
    )
    assert store.get_cursor("cnt") == "c2"


class _OldBackend(Backend):
    """A plugin written before `since` existed."""

    name: ClassVar[str] = "old"
    calls: ClassVar[list[Any]] = []

    def pull(self, cursor: str | None, *, full: bool = False) -> Iterator[Page]:  # type: ignore[override]
        self.calls.append((cursor, full))
        yield Page(cursor="x")


def test_since_is_not_forced_on_plugins_that_predate_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(tmp_path / "s.db")
    backend = _OldBackend("old", {}, MemoryKeyValue("old"))
    summary = sync.pull(store, backend, since=datetime(2026, 1, 1, tzinfo=UTC))
    assert summary.outcome == "ok" and _OldBackend.calls == [(None, False)]


def test_garbage_cursor_in_the_store_restarts_the_local_read(ws: Any) -> None:
    store = ws.store()
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO sync_cursors (instance, cursor, updated_at) VALUES ('desk', '}{', 0)"
        )
    summary = sync.pull(store, ws.backend("desk", store))
    assert summary.fetched == 120 and summary.stats.inserted == 120
    store.close()


# -- locks and exit codes --------------------------------------------------------------------


def _hold(ws: Any, name: str) -> Lock:
    """Take a lock as another run would (our own pid is alive, so the lease is honoured)."""
    store = ws.store()
    lock = Lock(store, name)
    lock.acquire()
    return lock


def test_busy_instance_exits_4_and_the_others_still_run(ws: Any, pull_json: Any) -> None:
    lock = _hold(ws, "sync:desk")
    result = ws.invoke("sync", "pull", "desk", "copy", "--json")
    assert result.exit_code == 4
    summaries = pull_json(result)
    assert summaries["desk"]["outcome"] == "busy" and summaries["desk"]["exit_code"] == 4
    assert "another run holds the lock" in summaries["desk"]["error"]
    assert summaries["copy"]["outcome"] == "ok"
    assert "sync:desk: another run holds the lock" in result.stderr
    lock.release()
    assert ws.invoke("sync", "pull", "desk").exit_code == 0


def test_a_failure_takes_precedence_over_busy(ws: Any) -> None:
    (ws.root / "copy.jsonl").unlink()
    lock = _hold(ws, "sync:desk")
    result = ws.invoke("sync", "pull", "desk", "copy")
    assert result.exit_code == 1
    lock.release()
    assert sync.exit_code([0, 4, 1]) == 1 and sync.exit_code([4, 0]) == 4
    assert sync.exit_code([1, 2]) == 2 and sync.exit_code([0, 0]) == 0


def test_engine_raises_busy_while_the_lock_is_held(ws: Any) -> None:
    lock = _hold(ws, "sync:desk")
    store = ws.store()
    with pytest.raises(BusyError) as err:
        sync.pull(store, ws.backend("desk", store))
    assert err.value.exit_code == 4
    lock.release()
    store.close()


def test_lock_of_a_dead_process_is_taken_over(ws: Any) -> None:
    store = ws.store()
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO locks (name, holder, host, pid, acquired_at, expires_at) "
            "VALUES ('sync:desk', 'dead', ?, ?, 0, 99999999999)",
            (socket.gethostname(), _dead_pid()),
        )
        cur.execute(
            "INSERT INTO sync_runs (instance, started_at, outcome) VALUES ('desk', 0, 'running')"
        )
    summary = sync.pull(store, ws.backend("desk", store))
    assert summary.outcome == "ok" and list_locks(store) == []
    outcomes = [r[0] for r in store.conn.execute("SELECT outcome FROM sync_runs ORDER BY id")]
    assert outcomes == ["interrupted", "ok"]
    store.close()


def _dead_pid() -> int:
    pid = 2**22 - 7
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_unknown_instance_is_refused_before_anything_runs(ws: Any) -> None:
    result = ws.run("sync", "pull", "desk", "dsek")
    assert result.returncode == 2 and "did you mean 'desk'" in result.stderr
    store = ws.store()
    assert store.counts()["tickets"] == 0
    store.close()


def test_log_format_json_gives_one_event_per_instance(ws: Any) -> None:
    (ws.root / "copy.jsonl").unlink()
    proc = ws.run("--log-format", "json", "sync", "pull")
    assert proc.returncode == 1
    events = [json.loads(line) for line in proc.stderr.splitlines()]
    by_instance = {(e["instance"], e["event"]) for e in events}
    assert ("desk", "sync.summary") in by_instance
    assert ("copy", "sync.failed") in by_instance
    summary = next(e for e in events if e["event"] == "sync.summary" and e["instance"] == "desk")
    assert summary["summary"]["inserted"] == 120
    quiet = ws.run("--log-format", "json", "-q", "sync", "pull", "desk")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_no_progress_bar_when_stderr_is_not_a_terminal(ws: Any) -> None:
    proc = ws.run("sync", "pull", "desk")
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        line for line in proc.stderr.splitlines() if line.startswith("desk: fetched 120")
    ]


def test_local_backend_honours_since_and_filters_directly(ws: Any) -> None:
    backend = LocalBackend(
        "desk",
        {"path": str(ws.root / "desk.jsonl"), "filters": {"group": "technical"}},
        MemoryKeyValue("desk"),
    )
    tickets = [t for p in backend.pull(None) for t in p.tickets]
    assert tickets and {t.group_id for t in tickets} == {"desk:technical"}
    since = sorted(t.updated_at for t in tickets)[len(tickets) // 2]
    later = [t for p in backend.pull(None, since=since) for t in p.tickets]
    assert later and all(t.updated_at >= since for t in later)
    assert len(later) == sum(1 for t in tickets if t.updated_at >= since)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"kind": "teleport", "at": "2026-02-01T10:00:00Z"}, "events[1].kind: 'teleport'"),
        ({"kind": "comment", "at": "2026-02-01 10:00"}, "events[1].at: time"),
        ({"kind": "comment", "at": "2026-02-01T10:00:00Z", "role": "boss"}, "events[1].role"),
    ],
)
def test_local_event_errors_still_name_the_line(ws: Any, event: dict, message: str) -> None:
    from cstoolkit.errors import BackendError

    path = ws.root / "bad.jsonl"
    ticket = {"type": "ticket", "id": "1", "created_at": "2026-02-01T09:00:00Z"}
    ws.append(path, ticket, {**ticket, "id": "2", "events": [event]})
    backend = LocalBackend("bad", {"path": str(path)}, MemoryKeyValue("bad"))
    with pytest.raises(BackendError) as err:
        list(backend.pull(None))
    assert f"{path}:2:" in str(err.value) and message in str(err.value)
