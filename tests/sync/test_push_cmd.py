"""`cst sync push` and `cst sync push --list`: retries, conflicts, read_only refusals."""

from __future__ import annotations

import json
from typing import Any

from cstoolkit import push
from cstoolkit.plugin import Changes, Comment
from cstoolkit.store.locks import Lock

FROZEN = """
[backends.frozen]
plugin = "local"
path = "desk.jsonl"
read_only = true
"""


def _synced(ws: Any) -> Any:
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    return ws.store()


def _first(store: Any, instance: str = "desk", offset: int = 0) -> Any:
    return [t for t, _ in store.select(instance=instance)][offset]


def test_push_applies_pending_and_reports_conflicts_and_refusals(ws: Any) -> None:
    ws.write_config(ws.config.read_text().split("[backends.frozen]")[0] + FROZEN)
    assert ws.invoke("sync", "pull", "frozen").exit_code == 0
    store = _synced(ws)
    ok, stale = _first(store), _first(store, offset=1)
    frozen = _first(store, "frozen")
    stale_expected = stale.updated_at
    # someone changes `stale` upstream after we pulled it
    ws.backend("desk").apply(stale.external_id, Changes(add_tags=["changed-upstream"]))
    push.plan(
        store,
        [
            push.PlannedChange(
                ok.id, Changes(priority="urgent", expected_updated_at=ok.updated_at), "t"
            ),
            push.PlannedChange(
                stale.id, Changes(status="solved", expected_updated_at=stale_expected), "t"
            ),
            push.PlannedChange(frozen.id, Changes(add_tags=["cst-never-written"]), "t"),
        ],
    )
    store.close()
    proc = ws.run("sync", "push", "--json")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["applied"], summary["conflicts"], summary["refused"]) == (1, 1, 1)
    assert "is read_only" in proc.stderr and "conflict" in proc.stderr
    store = ws.store()
    assert str(store.get_ticket(ok.id).priority) == "urgent"  # reflected into the store
    store.close()
    listed = ws.run("sync", "push", "--list", "--json")
    assert listed.returncode == 0
    queue = {e["ticket_id"]: e for e in json.loads(listed.stdout)}
    assert set(queue) == {stale.id, frozen.id}
    assert (
        queue[stale.id]["state"] == "conflict"
        and "changed since the plan" in (queue[stale.id]["reason"])
    )
    assert queue[frozen.id]["state"] == "refused" and "read_only" in queue[frozen.id]["reason"]
    # nothing retryable is left: a second push does nothing and succeeds
    again = ws.run("sync", "push", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["results"] == []
    # the read_only instance was never written
    assert "cst-never-written" not in (ws.root / "desk.jsonl").read_text()


def test_failed_changes_wait_in_the_queue_and_are_retried(ws: Any) -> None:
    store = _synced(ws)
    ticket = _first(store)
    push.plan(
        store,
        [push.PlannedChange(ticket.id, Changes(comments=[Comment("retry me", public=True)]), "t")],
    )
    store.close()
    helpdesk = ws.root / "desk.jsonl"
    moved = ws.root / "desk.moved"
    helpdesk.rename(moved)  # the backend is down
    first = ws.run("sync", "push")
    assert first.returncode == 1 and "failed" in first.stderr
    table = ws.run("sync", "push", "--list", "--format", "csv")
    assert table.returncode == 0
    header, row = table.stdout.splitlines()[:2]
    assert header.startswith("id,state,instance,ticket_id") and ",failed," in row
    assert "public: retry me" in row
    moved.rename(helpdesk)  # back up
    second = ws.run("sync", "push", "desk", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["applied"] == 1
    assert helpdesk.read_text().count("retry me") == 1
    assert ws.run("sync", "push", "--list").stderr.strip() == "the write queue is empty"


def test_push_on_a_busy_instance_exits_4(ws: Any) -> None:
    store = _synced(ws)
    ticket = _first(store)
    push.plan(store, [push.PlannedChange(ticket.id, Changes(priority="low"), "t")])
    lock = Lock(store, "push:desk")
    lock.acquire()
    proc = ws.run("sync", "push")
    assert proc.returncode == 4 and "push:desk: another run holds the lock" in proc.stderr
    lock.release()
    assert ws.run("sync", "push").returncode == 0
    store.close()


def test_nothing_to_push_is_success(ws: Any) -> None:
    proc = ws.run("sync", "push")
    assert proc.returncode == 0
    assert "pushed 0 change(s)" in proc.stderr


def test_a_comment_a_dead_pusher_was_posting_is_in_doubt_until_resent_on_purpose(
    ws: Any,
) -> None:
    from cstoolkit.store import planned

    store = _synced(ws)
    ticket = _first(store)
    push.plan(store, [push.PlannedChange(ticket.id, Changes(comments=[Comment("maybe")]), "t")])
    # A pusher claimed it, began to send and died; its lease has run out since.
    (row,) = planned.claim(store, "dead-pusher", 600)
    assert planned.begin_send(store, row.id, "dead-pusher", 600)
    with store.transaction() as cur:
        cur.execute("UPDATE planned_changes SET claim_expires = 0 WHERE id = ?", (row.id,))
    store.close()
    first = ws.run("sync", "push", "--json")
    assert first.returncode == 1, first.stderr
    assert [e["state"] for e in json.loads(first.stdout)["in_doubt"]] == ["in_doubt"]
    assert "in_doubt" in first.stderr
    assert "maybe" not in (ws.root / "desk.jsonl").read_text(), "never posted blindly"
    listed = json.loads(ws.run("sync", "push", "--list", "--json").stdout)
    assert [(e["state"], e["ticket_id"]) for e in listed] == [("in_doubt", ticket.id)]
    assert ws.run("sync", "push").returncode == 0, "in doubt: not pushed again by itself"
    resent = ws.run("sync", "push", "--resend-in-doubt", "--json")
    assert resent.returncode == 0, resent.stderr
    assert json.loads(resent.stdout)["applied"] == 1
    assert (ws.root / "desk.jsonl").read_text().count('"maybe"') == 1
