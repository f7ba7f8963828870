"""`cst sync mirror`: exactly-once creation, symmetric links, updates through the push engine."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cstoolkit import mirror
from cstoolkit.builtin.local import LocalBackend
from cstoolkit.errors import CapabilityError, UsageError
from cstoolkit.plugin import Backend, Changes, Comment, NewTicket
from cstoolkit.query import parse
from cstoolkit.store.ledger import Ledger
from cstoolkit.store.mirror_links import Links

QUERY = "status:open"


def _tickets(path: Path) -> dict[str, dict[str, Any]]:
    """The latest version of every ticket line in a local helpdesk file."""
    latest: dict[str, dict[str, Any]] = {}
    for raw in path.read_text().splitlines():
        rec = json.loads(raw)
        if rec.get("type") == "ticket":
            latest[rec["id"]] = rec
    return latest


def _markers(path: Path) -> Counter[str]:
    return Counter(rec.get("marker") for rec in _tickets(path).values())


def _run(ws: Any, store: Any, source: str, target: str, **kw: Any) -> mirror.MirrorSummary:
    backend = ws.backend(target, store)
    return mirror.mirror(
        store,
        source,
        backend,
        backend_for=lambda name: ws.backend(name, store),
        **kw,
    )


@pytest.fixture
def pulled(ws: Any) -> Any:
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    store = ws.store()
    yield store
    store.close()


def _open_ids(store: Any) -> list[str]:
    return [t.id for t, _ in store.select(parse(QUERY), instance="desk")]


def test_dry_run_writes_nothing(ws: Any, pulled: Any) -> None:
    before = pulled.counts()
    summary = _run(ws, pulled, "desk", "copy", query=parse(QUERY))
    assert summary.created == len(_open_ids(pulled)) > 0
    assert {a.outcome for a in summary.actions} == {"would create"}
    assert (ws.root / "copy.jsonl").read_text() == ""
    assert pulled.counts() == before
    for table in ("mirror_links", "ledger", "planned_changes"):
        assert pulled.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0


def test_apply_creates_each_ticket_once_and_rerun_creates_nothing(ws: Any, pulled: Any) -> None:
    wanted = _open_ids(pulled)
    first = _run(ws, pulled, "desk", "copy", query=parse(QUERY), apply=True)
    assert first.created == len(wanted) and first.ok
    markers = _markers(ws.root / "copy.jsonl")
    assert markers == Counter({mirror.marker_for(i): 1 for i in wanted})
    second = _run(ws, pulled, "desk", "copy", query=parse(QUERY), apply=True)
    assert (second.created, second.linked, second.updated) == (0, 0, 0)
    assert _markers(ws.root / "copy.jsonl") == markers
    links = Links(pulled)
    for ticket_id in wanted:
        there = links.peer(ticket_id, "copy")
        assert there is not None and there.origin
        back = links.peer(there.peer_id, "desk")  # symmetric: the copy knows its original
        assert back is not None and back.peer_id == ticket_id and not back.origin
    ledger = Ledger(pulled, mirror.SCOPE)
    assert all(e.state == "done" for e in ledger.entries() if e.key.startswith("create:"))


def test_copies_are_never_mirrored_back(ws: Any, pulled: Any) -> None:
    _run(ws, pulled, "desk", "copy", query=parse(QUERY), apply=True)
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    desk_lines = (ws.root / "desk.jsonl").read_text()
    back = _run(ws, pulled, "copy", "desk", apply=True)
    assert back.created == 0 and back.skipped == back.selected > 0
    assert all("never mirrored back" in a.detail for a in back.actions)
    assert (ws.root / "desk.jsonl").read_text() == desk_lines


def test_crash_between_create_and_link_is_repaired_by_the_marker(ws: Any, pulled: Any) -> None:
    wanted = _open_ids(pulled)
    victim = pulled.get_ticket(wanted[0])
    # A dead run reserved the creation, created the copy with its marker, and died.
    dead = Ledger(pulled, mirror.SCOPE, "dead-run", lease=0)  # its lease ran out
    key = mirror.create_key(victim.id, "copy")
    dead.reserve(
        key,
        {
            "ticket": victim.id,
            "source": "desk",
            "target": "copy",
            "marker": mirror.marker_for(victim.id),
        },
    )
    LocalBackend("copy", {"path": str(ws.root / "copy.jsonl")}, None).create(
        NewTicket(victim.subject, "x", marker=mirror.marker_for(victim.id))
    )
    summary = _run(ws, pulled, "desk", "copy", query=parse(QUERY), apply=True)
    assert summary.recovered == 1 and summary.created == len(wanted) - 1
    assert _markers(ws.root / "copy.jsonl")[mirror.marker_for(victim.id)] == 1
    assert Ledger(pulled, mirror.SCOPE).get(key).state == "done"


def test_copy_found_by_marker_without_any_ledger_entry_is_linked(ws: Any, pulled: Any) -> None:
    wanted = _open_ids(pulled)
    LocalBackend("copy", {"path": str(ws.root / "copy.jsonl")}, None).create(
        NewTicket("made elsewhere", "x", marker=mirror.marker_for(wanted[0]))
    )
    summary = _run(ws, pulled, "desk", "copy", query=parse(QUERY), apply=True)
    assert summary.linked == 1 and summary.created == len(wanted) - 1
    assert sum(_markers(ws.root / "copy.jsonl").values()) == len(wanted)


def test_reverse_run_repairs_an_interrupted_creation_before_mirroring_back(
    ws: Any, pulled: Any
) -> None:
    victim = pulled.get_ticket(_open_ids(pulled)[0])
    dead = Ledger(pulled, mirror.SCOPE, "dead-run", lease=0)  # its lease ran out
    marker = mirror.marker_for(victim.id)
    key = mirror.create_key(victim.id, "copy")
    dead.reserve(key, {"ticket": victim.id, "source": "desk", "target": "copy", "marker": marker})
    LocalBackend("copy", {"path": str(ws.root / "copy.jsonl")}, None).create(
        NewTicket(victim.subject, "x", marker=marker)
    )
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    desk_lines = (ws.root / "desk.jsonl").read_text()
    back = _run(ws, pulled, "copy", "desk", apply=True)
    assert back.recovered == 1 and back.created == 0 and back.skipped == 1
    assert (ws.root / "desk.jsonl").read_text() == desk_lines


def test_changes_and_public_comments_follow_once(ws: Any, pulled: Any) -> None:
    source_id = _open_ids(pulled)[0]
    _run(ws, pulled, "desk", "copy", query=parse(QUERY), apply=True)
    link = Links(pulled).peer(source_id, "copy")
    assert link is not None
    copy_ext = link.peer_id.split(":", 1)[1]
    desk = ws.backend("desk")
    original = pulled.get_ticket(source_id)
    new_tag = "mirrored-tag"
    dropped = original.tags[0]
    desk.apply(
        original.external_id,
        Changes(
            priority="urgent" if str(original.priority) != "urgent" else "low",
            add_tags=[new_tag],
            remove_tags=[dropped],
            comments=[
                Comment("A public answer to mirror", public=True),
                Comment("An internal note that stays home", public=False),
            ],
        ),
    )
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    summary = _run(ws, pulled, "desk", "copy", query=parse(f"id:{source_id}"), apply=True)
    assert summary.ok and summary.updated == 1, summary.as_dict()
    copy = _tickets(ws.root / "copy.jsonl")[copy_ext]
    source_now = pulled.get_ticket(source_id)
    assert copy["priority"] == str(source_now.priority)
    assert new_tag in copy["tags"] and dropped not in copy["tags"]
    text = (ws.root / "copy.jsonl").read_text()
    assert "An internal note that stays home" not in text
    assert sum(1 for e in copy["events"] if e.get("body") == "A public answer to mirror") == 1
    # Re-running mirrors nothing more: the comment is in the ledger, the fields are equal.
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    again = _run(ws, pulled, "desk", "copy", query=parse(f"id:{source_id}"), apply=True)
    assert again.updated == 0 and again.created == 0
    copy = _tickets(ws.root / "copy.jsonl")[copy_ext]
    assert sum(1 for e in copy["events"] if e.get("body") == "A public answer to mirror") == 1


def test_a_copy_changed_upstream_is_a_conflict_not_an_overwrite(
    ws: Any, pulled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_id = _open_ids(pulled)[0]
    _run(ws, pulled, "desk", "copy", query=parse(QUERY), apply=True)
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    link = Links(pulled).peer(source_id, "copy")
    copy_ext = link.peer_id.split(":", 1)[1]
    later = datetime.now(UTC) + timedelta(minutes=5)  # a later second than our pulled copy
    with monkeypatch.context() as patch:
        patch.setattr("cstoolkit.builtin.local.now", lambda: later)
        ws.backend("copy").apply(copy_ext, Changes(add_tags=["edited-in-copy"]))  # not pulled
    original = pulled.get_ticket(source_id)
    ws.backend("desk").apply(original.external_id, Changes(status="pending"))
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    result = ws.invoke("sync", "mirror", "desk", "copy", "--query", f"id:{source_id}", "--apply")
    assert result.exit_code == 1, result.output
    assert "1 conflicts" in result.stderr
    assert _tickets(ws.root / "copy.jsonl")[copy_ext]["status"] != "pending"


def test_cli_dry_run_then_apply(ws: Any) -> None:
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    dry = ws.invoke("sync", "mirror", "desk", "copy", "--query", QUERY, "--json")
    assert dry.exit_code == 0
    plan = json.loads(dry.stdout)
    assert plan["applied"] is False and plan["created"] > 0
    assert "dry run: nothing written" in dry.stderr
    assert (ws.root / "copy.jsonl").read_text() == ""
    applied = ws.invoke("sync", "mirror", "desk", "copy", "--query", QUERY, "--apply", "--json")
    assert applied.exit_code == 0
    assert json.loads(applied.stdout)["created"] == plan["created"]


def test_read_only_target_is_refused(ws: Any) -> None:
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    proc = ws.run("sync", "mirror", "desk", "frozen", "--apply")
    assert proc.returncode == 2
    assert "instance 'frozen' is read_only: mirror never writes to it" in proc.stderr
    assert (ws.root / "copy.jsonl").read_text() == ""


def test_query_matching_nothing_exits_3(ws: Any) -> None:
    assert ws.invoke("sync", "pull", "desk").exit_code == 0
    proc = ws.run("sync", "mirror", "desk", "copy", "--query", "tag:no-such-tag")
    assert proc.returncode == 3


class _NoMarkers(LocalBackend):
    name: ClassVar[str] = "nomarkers"
    find_by_marker = Backend.find_by_marker  # type: ignore[assignment]


def test_target_that_cannot_find_markers_is_refused(ws: Any, pulled: Any) -> None:
    target = _NoMarkers("copy", {"path": str(ws.root / "copy.jsonl")}, None)
    with pytest.raises(CapabilityError, match="find_by_marker"):
        mirror.mirror(pulled, "desk", target, apply=True)
    with pytest.raises(UsageError, match="same instance"):
        mirror.mirror(pulled, "copy", ws.backend("copy"))


def _customer_writes(ws: Any, pulled: Any, source_id: str, body: str) -> None:
    """The customer of ``source_id`` posts a public message on the source system."""
    original = pulled.get_ticket(source_id)
    desk = ws.backend("desk")
    desk.apply(original.external_id, Changes(comments=[Comment(body, public=True)]))
    assert ws.invoke("sync", "pull", "desk").exit_code == 0


def _copy_events(ws: Any, pulled: Any, source_id: str, body: str) -> list[dict[str, Any]]:
    link = Links(pulled).peer(source_id, "copy")
    assert link is not None
    copy = _tickets(ws.root / "copy.jsonl")[link.peer_id.split(":", 1)[1]]
    return [e for e in copy["events"] if e.get("body") == body]


def test_a_customers_public_message_arrives_on_the_copy_as_an_internal_note(
    ws: Any, pulled: Any
) -> None:
    """The second system must never email the first system's customer: mirrored comments
    are internal notes unless asked otherwise."""
    source_id = _open_ids(pulled)[0]
    _run(ws, pulled, "desk", "copy", query=parse(f"id:{source_id}"), apply=True)
    _customer_writes(ws, pulled, source_id, "Where is my refund?")
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    summary = _run(ws, pulled, "desk", "copy", query=parse(f"id:{source_id}"), apply=True)
    assert summary.ok and summary.updated == 1, summary.as_dict()
    (event,) = _copy_events(ws, pulled, source_id, "Where is my refund?")
    assert event["kind"] == "comment" and event["public"] is False


def test_public_comments_on_the_copy_only_when_the_command_asks(ws: Any, pulled: Any) -> None:
    source_id = _open_ids(pulled)[0]
    _run(ws, pulled, "desk", "copy", query=parse(f"id:{source_id}"), apply=True)
    pulled.close()
    _customer_writes(ws, ws.store(), source_id, "Please call me back")
    assert ws.invoke("sync", "pull", "copy").exit_code == 0
    done = ws.run("sync", "mirror", "desk", "copy", "-q", f"id:{source_id}", "--apply",
                  "--public-comments")  # fmt: skip
    assert done.returncode == 0, done.stderr
    store = ws.store()
    (event,) = _copy_events(ws, store, source_id, "Please call me back")
    assert event["public"] is True
    store.close()


def test_a_creation_reserved_by_a_live_run_is_never_made_twice(ws: Any, pulled: Any) -> None:
    """Another run (alive: its lease runs; its pair lock may have been released by force) has
    reserved a creation and not made it yet: this run leaves it alone."""
    victim = pulled.get_ticket(_open_ids(pulled)[0])
    live = Ledger(pulled, mirror.SCOPE, "live-run")
    key = mirror.create_key(victim.id, "copy")
    marker = mirror.marker_for(victim.id)
    live.reserve(key, {"ticket": victim.id, "source": "desk", "target": "copy", "marker": marker})
    summary = _run(ws, pulled, "desk", "copy", query=parse(f"id:{victim.id}"), apply=True)
    assert summary.created == 0 and summary.recovered == 0
    assert [a.detail for a in summary.actions] == ["being created by another run"]
    assert marker not in _markers(ws.root / "copy.jsonl")
    assert live.confirm(key), "the live run still holds it and may create it"
    entry = Ledger(pulled, mirror.SCOPE).get(key)
    assert entry is not None and entry.run_id == "live-run"
