"""`cst locks` and `cst status` (table, json, prometheus, atomic --out)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cstoolkit.model import now
from cstoolkit.store import locks
from cstoolkit.store.codec import to_epoch

from .conftest import Workspace


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow_on_postgresql
def test_locks_list_and_release(synced: Workspace) -> None:
    code, rows = synced.run_json("locks", "list", "--json")
    assert code == 0 and rows == []
    store = synced.store()
    live = locks.Lock(store, "sync:desk")
    live.acquire()
    stamp = to_epoch(now()) or 0
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO locks (name, holder, host, pid, acquired_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ("run", "gone", live.host, _dead_pid(), stamp, stamp + 600),
        )
    code, rows = synced.run_json("locks", "list", "--format", "json")
    states = {r["name"]: r["state"] for r in rows}
    assert states == {"run": "holder gone", "sync:desk": "held"}
    # a live holder on this host is not released without --force
    proc = synced.run("locks", "release", "sync:desk")
    assert proc.returncode == 4 and "--force" in proc.stderr
    proc = synced.run("locks", "release", "run")
    assert proc.returncode == 0, proc.stderr
    assert [i.name for i in locks.list_locks(store)] == ["sync:desk"]
    assert synced.run("locks", "release", "nope").returncode == 3
    assert synced.run("locks", "release", "sync:desk", "--force").returncode == 0
    assert locks.list_locks(store) == []
    assert any(e["action"] == "lock.release" for e in store.audit_entries())
    store.close()


PROM_LINE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)\})? (?P<value>-?[0-9.e+-]+|NaN|[+-]Inf)$'
)


def parse_prometheus(text: str) -> dict[tuple[str, str], float]:
    """A strict reader of the text exposition format: HELP and TYPE come first, once each."""
    assert text.endswith("\n")
    helped: set[str] = set()
    typed: dict[str, str] = {}
    samples: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helped
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name in helped and name not in typed and kind in ("gauge", "counter")
            typed[name] = kind
        else:
            m = PROM_LINE.match(line)
            assert m, line
            assert m.group("name") in typed, line
            assert m.group("name").startswith("cstoolkit_")
            samples[(m.group("name"), m.group("labels") or "")] = float(m.group("value"))
    return samples


@pytest.mark.slow_on_postgresql
def test_status_formats(synced: Workspace) -> None:
    code, data = synced.run_json("status", "--json")
    assert code == 0
    (desk,) = data["instances"]
    assert desk["instance"] == "desk" and desk["tickets"] == 80
    assert desk["last_outcome"] == "ok" and 0 <= desk["lag_seconds"] < 120
    assert desk["cursor_age_seconds"] is not None
    assert data["surveys"] == {"sent": 0, "pending": 0, "in_doubt": 0, "answers": 0,
                               "opt_outs": 0}  # fmt: skip
    assert data["last_run"] is None
    proc = synced.run("status", "--format", "prometheus")
    assert proc.returncode == 0
    samples = parse_prometheus(proc.stdout)
    assert samples[("cstoolkit_tickets", 'instance="desk"')] == 80
    assert samples[("cstoolkit_sync_last_run_ok", 'instance="desk"')] == 1
    assert ("cstoolkit_sync_lag_seconds", 'instance="desk"') in samples
    assert samples[("cstoolkit_surveys_in_doubt", "")] == 0
    assert ("cstoolkit_run_last_success", "") not in samples  # never ran: omitted
    table = synced.run("status")
    assert table.returncode == 0 and "desk" in table.stdout and "last run: never" in table.stdout


def test_status_out_is_atomic_and_complete(synced: Workspace) -> None:
    target = synced.root / "textfile" / "cstoolkit.prom"
    target.parent.mkdir()
    target.write_text("old\n")
    proc = synced.run("status", "--format", "prometheus", "--out", str(target))
    assert proc.returncode == 0 and proc.stdout == ""
    parse_prometheus(target.read_text())
    assert [p.name for p in target.parent.iterdir()] == ["cstoolkit.prom"]  # no temp left


def test_status_counts_queue_and_surveys(synced: Workspace) -> None:
    store = synced.store()
    stamp = to_epoch(now())
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO planned_changes (run_id, source, ticket_id, instance, changes, state, "
            "created_at, updated_at) VALUES ('r', 'test', 'desk:1', 'desk', '{}', 'failed', ?, ?)",
            (stamp, stamp),
        )
        for key, state in (("k1", "in_doubt"), ("k2", "reserved"), ("k3", "done")):
            cur.execute(
                "INSERT INTO ledger (scope, key, state, reserved_at, updated_at, run_id, detail) "
                "VALUES ('survey', ?, ?, ?, ?, 'r', '{}')",
                (key, state, stamp, stamp),
            )
    store.close()
    code, data = synced.run_json("status", "--json")
    assert code == 0
    assert data["instances"][0]["push_queue"] == 1
    assert data["surveys"]["pending"] == 1 and data["surveys"]["in_doubt"] == 1
    assert data["surveys"]["sent"] == 1
    samples = parse_prometheus(synced.run("status", "--format", "prometheus").stdout)
    assert samples[("cstoolkit_push_queue", 'instance="desk"')] == 1
    assert samples[("cstoolkit_surveys_pending", "")] == 1
    json.dumps(data)


def test_status_as_ndjson_and_csv_one_record_per_instance(synced: Workspace) -> None:
    import csv
    import io

    nd = synced.run("status", "--format", "ndjson")
    assert nd.returncode == 0, nd.stderr
    (record,) = [json.loads(line) for line in nd.stdout.splitlines()]
    assert record["instance"] == "desk" and record["tickets"] == 80
    as_csv = synced.run("status", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert row["instance"] == "desk" and row["tickets"] == "80"
