"""The request_tracker backend against a real Request Tracker 5 server (marker ``server``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cstoolkit_request_tracker import RequestTrackerBackend
from rt_server import RT

from cstoolkit.model import EventKind, Priority, Status
from cstoolkit.plugin import Backend, Changes, Comment
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.testing.backend_suite import BackendBehaviour

pytestmark = pytest.mark.server

SUITE_QUEUE = "cst-suite"
SUITE_TICKETS = 7


def backend(rt: RT, name: str = "rt", **settings: Any) -> RequestTrackerBackend:
    return RequestTrackerBackend(name, rt.config(**settings), MemoryKeyValue(name))


# -- pull -------------------------------------------------------------------------------------


def test_tickets_created_through_rest2_are_pulled_with_events(rt: RT) -> None:
    rt.queue("cst-pull")
    first = rt.ticket("cst-pull", "Printer on fire", Priority=80)
    second = rt.ticket("cst-pull", "Cannot log in")
    rt.post(f"/ticket/{first}/correspond", {"Content": "We are on it", "ContentType": "text/plain"})
    rt.post(
        f"/ticket/{first}/comment",
        {"Content": "internal: call facilities", "ContentType": "text/plain"},
    )
    rt.put(f"/ticket/{first}", {"Status": "open", "Owner": "root"})
    rt.put(f"/ticket/{second}", {"Status": "stalled"})

    b = backend(rt, filters={"queue": "cst-pull"}, per_page=1)
    pages = list(b.pull(None))
    b.close()
    tickets = {t.external_id: t for p in pages for t in p.tickets}
    assert set(tickets) == {first, second}
    assert len([p for p in pages if p.tickets]) == 2  # per_page=1: one ticket a page
    t1, t2 = tickets[first], tickets[second]
    assert t1.subject == "Printer on fire"
    assert t1.status == Status.OPEN and t2.status == Status.ON_HOLD
    assert t1.priority == Priority.HIGH
    assert t1.assignee_id == "rt:root" and t2.assignee_id is None
    assert t1.requester_id == "rt:customer@example.org"
    assert t1.description == "Body of Printer on fire"
    assert t1.group_id and t1.group_id.startswith("rt:")
    groups = {g.name for p in pages for g in p.groups}
    assert {"General", "cst-pull"} <= groups
    events = [e for p in pages for e in p.events if e.ticket_id == t1.id]
    kinds = [e.kind for e in events]
    assert kinds[0] == EventKind.CREATED and events[0].body == "Body of Printer on fire"
    replies = [e for e in events if e.kind == EventKind.COMMENT]
    assert [(e.public, e.body) for e in replies] == [
        (True, "We are on it"),
        (False, "internal: call facilities"),
    ]
    assert all(e.author_id == "rt:root" for e in replies)
    status = [e for e in events if e.kind == EventKind.STATUS_CHANGE]
    assert [(e.old, e.new) for e in status] == [("new", "open")]
    owner = [e for e in events if e.kind == EventKind.ASSIGNMENT]
    assert [(e.old, e.new) for e in owner][:1] == [(None, "rt:root")]


def test_incremental_pull_sees_only_recent_changes_and_resumes(rt: RT) -> None:
    rt.queue("cst-incr")
    old = rt.ticket("cst-incr", "Old ticket")
    b = backend(rt, filters={"queue": "cst-incr"}, overlap=0)
    pages = list(b.pull(None))
    cursor = pages[-1].cursor
    assert cursor and old in {t.external_id for p in pages for t in p.tickets}
    # overlap=0: the ids read at the boundary second are skipped on resume
    again = [t.external_id for p in b.pull(cursor) for t in p.tickets]
    assert again == []
    new = rt.ticket("cst-incr", "New ticket")
    later = [t.external_id for p in b.pull(cursor) for t in p.tickets]
    assert later == [new]
    b.close()


# -- the behaviour suite ----------------------------------------------------------------------


class TestRequestTrackerBehaviour(BackendBehaviour):
    """The shared suite on a dedicated queue of the real server (7 tickets, 3 a page)."""

    garbage_cursor = "restart"
    _seeded: bool = False

    @pytest.fixture(autouse=True)
    def _seed(self, rt: RT) -> None:
        self.rt = rt
        if not getattr(type(self), "_seeded", False):
            rt.queue(SUITE_QUEUE)
            for n in range(SUITE_TICKETS):
                rt.ticket(SUITE_QUEUE, f"Suite seed {n}", Requestor=f"seed{n}@example.org")
            type(self)._seeded = True

    def make_backend(self, tmp_path: Path) -> Backend:
        return backend(
            self.rt,
            per_page=3,
            queue=SUITE_QUEUE,
            filters={"queue": SUITE_QUEUE},
            # RT has no "pending": model pending is written as stalled and read back as such.
            mapping={"statuses": {"stalled": "pending"}},
        )


# -- push engine ------------------------------------------------------------------------------


def test_push_engine_changes_owner_priority_status_and_comments(rt: RT, tmp_path: Path) -> None:
    from cstoolkit import push, sync

    rt.queue("cst-push")
    ext = rt.ticket("cst-push", "Refund request")
    store = open_store(tmp_path / "store.db")
    b = backend(rt, filters={"queue": "cst-push"})
    sync.pull(store, b)
    stored = store.get_ticket(f"rt:{ext}")
    assert stored is not None
    changes = Changes(
        status="solved",
        priority="urgent",
        assignee_id="rt:root",
        comments=[Comment("Refund issued (cst recipe)", public=False)],
        expected_updated_at=stored.updated_at,
    )
    push.plan(store, [push.PlannedChange(stored.id, changes, "recipe:refund")])
    result = push.push(store, lambda _name: backend(rt, filters={"queue": "cst-push"}))
    assert (result.applied, result.failed, result.conflicts) == (1, 0, 0)
    live = rt.get(f"/ticket/{ext}")
    assert live["Status"] == "resolved"
    assert live["Owner"]["id"] == "root"
    assert int(live["Priority"]) == 100
    types = [h["Type"] for h in rt.history(ext)]
    assert "Comment" in types
    attachments = rt.get(f"/ticket/{ext}/attachments", fields="Content", per_page=100)["items"]
    assert any(a.get("Content") == "Refund issued (cst recipe)" for a in attachments)
    # the same plan again changes nothing; a stale plan is a conflict (re-read via fetch)
    assert b.apply(ext, Changes(status="solved", priority="urgent")).changed is False
    # RT's LastUpdated has 1-second precision: an upstream edit in the same second as the sync
    # that planned the change is invisible to the re-read conflict check (documented).
    time.sleep(1.1)
    rt.put(f"/ticket/{ext}", {"Subject": "Refund request (edited upstream)"})
    stale = Changes(priority="low", expected_updated_at=stored.updated_at)
    push.plan(store, [push.PlannedChange(stored.id, stale, "recipe:stale")])
    second = push.push(store, lambda _name: backend(rt, filters={"queue": "cst-push"}))
    assert second.conflicts == 1
    assert int(rt.get(f"/ticket/{ext}")["Priority"]) == 100
    store.close()


# -- CLI: mirror, auth failure, triage --------------------------------------------------------


def _cst(cfg: Path, *args: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cstoolkit", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "RT_TEST_TOKEN": token},
        timeout=120,
        check=False,
    )


def _workspace(rt: RT, tmp_path: Path, queue: str, tickets: int = 4) -> Path:
    from datetime import datetime

    from cstoolkit.sample import SampleSpec, generate_file

    spec = SampleSpec(
        tickets=tickets, days=5, seed=3, end=datetime.fromisoformat("2026-03-01T00:00:00+00:00")
    )
    generate_file(spec, tmp_path / "helpdesk.jsonl")
    cfg = tmp_path / "cst.toml"
    cfg.write_text(
        f"""\
[store]
path = "cstoolkit.db"

[backends.desk]
plugin = "local"
path = "helpdesk.jsonl"

[backends.rt]
plugin = "request_tracker"
base_url = "{rt.base_url}"
token = "env:RT_TEST_TOKEN"
queue = "{queue}"
filters = {{ queue = "{queue}" }}
""",
        "utf-8",
    )
    return cfg


def test_cli_mirror_local_into_rt_and_back_is_idempotent(rt: RT, tmp_path: Path) -> None:
    import json

    rt.queue("cst-mirror")
    cfg = _workspace(rt, tmp_path, "cst-mirror")
    assert _cst(cfg, "sync", "pull", token=rt.token).returncode == 0
    first = _cst(cfg, "sync", "mirror", "desk", "rt", "--apply", "--json", token=rt.token)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["created"] == 4
    found = rt.get("/tickets", query="Queue = 'cst-mirror'", per_page=100)
    assert found["total"] == 4
    # pull the copies, mirror back (copies are never mirrored back), then everything again
    assert _cst(cfg, "sync", "pull", token=rt.token).returncode == 0
    back = _cst(cfg, "sync", "mirror", "rt", "desk", "--apply", "--json", token=rt.token)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["created"] == 0
    again = _cst(cfg, "sync", "mirror", "desk", "rt", "--apply", "--json", token=rt.token)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["created"] == 0
    assert rt.get("/tickets", query="Queue = 'cst-mirror'", per_page=100)["total"] == 4


def test_cli_wrong_token_exits_2_without_printing_it(rt: RT, tmp_path: Path) -> None:
    cfg = _workspace(rt, tmp_path, "General", tickets=1)
    bad = "1-14-0000000000000000deadbeefcafe0000"
    run = _cst(cfg, "sync", "pull", "rt", token=bad)
    assert run.returncode == 2, run.stderr
    assert "401" in run.stderr or "refused" in run.stderr
    assert bad not in run.stdout + run.stderr


def test_cli_triage_recipe_with_apply_changes_rt(rt: RT, tmp_path: Path) -> None:
    rt.queue("cst-triage")
    ext = rt.ticket("cst-triage", "Urgent: site down")
    cfg = _workspace(rt, tmp_path, "cst-triage", tickets=1)
    recipe = tmp_path / "rt-smoke.yaml"
    recipe.write_text(
        """\
name: rt-smoke
description: Take new RT tickets, raise them and leave a note.
query: "status:new"
rules:
  - name: take it
    when: "status:new"
    then:
      - set: {priority: high, status: open, assignee: "rt:root"}
      - note: "Triaged by cst ({{ ticket.subject }})"
""",
        "utf-8",
    )
    assert _cst(cfg, "sync", "pull", "rt", token=rt.token).returncode == 0
    run = _cst(cfg, "triage", "run", str(recipe), "-q", "instance:rt", "--apply", token=rt.token)
    assert run.returncode == 0, run.stderr
    live = rt.get(f"/ticket/{ext}")
    assert (live["Status"], live["Owner"]["id"], int(live["Priority"])) == ("open", "root", 75)
    attachments = rt.get(f"/ticket/{ext}/attachments", fields="Content", per_page=100)["items"]
    assert any(a.get("Content") == "Triaged by cst (Urgent: site down)" for a in attachments)
