"""The local backend: the behaviour suite plus its own file-format behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cstoolkit.builtin.local import LocalBackend
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, Comment
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.testing.backend_suite import BackendBehaviour, store_snapshot

FIXTURE_TICKETS = 120


def make_local(path: Path, page_size: int = 50) -> LocalBackend:
    return LocalBackend("loc", {"path": str(path), "page_size": page_size}, MemoryKeyValue("loc"))


class TestLocalBackend(BackendBehaviour):
    expected_tickets = FIXTURE_TICKETS

    def make_backend(self, tmp_path: Path) -> LocalBackend:
        path = tmp_path / "helpdesk.jsonl"
        if not path.exists():
            generate_file(SampleSpec(tickets=FIXTURE_TICKETS, days=20, seed=7), path)
        return make_local(path)

    def change_upstream(self, backend: LocalBackend, external_id: str) -> None:
        backend.apply(external_id, Changes(add_tags=["changed-upstream"]))


def _write(path: Path, *records: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


TICKET = {
    "type": "ticket",
    "id": "1",
    "subject": "Printer on fire",
    "status": "open",
    "created_at": "2026-11-02T10:00:00Z",
    "updated_at": "2026-11-02T10:05:00Z",
    "events": [
        {"kind": "created", "at": "2026-11-02T10:00:00Z", "author": "c1", "role": "requester"}
    ],
}


def test_hand_written_file_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _write(path, {"type": "person", "id": "c1", "email": "Ana@Example.org"}, TICKET)
    (page,) = list(make_local(path).pull(None))
    (ticket,) = page.tickets
    assert ticket.id == "loc:1" and ticket.priority == "normal" and ticket.channel == "other"
    assert ticket.requester_id is None  # no requester named on the ticket line
    assert page.people[0].domain == "example.org"
    assert page.events[0].id == "loc:1-1"  # event ids default to <ticket>-<n>


def test_an_events_data_object_holds_what_its_own_keys_cannot(tmp_path: Path) -> None:
    """A survey answer's ``kind`` (csat) cannot be a key of the event (its kind is the event's):
    it goes in ``data``; other unknown keys join it."""
    answer = {
        "kind": "survey_answered",
        "at": "2026-11-03T10:00:00Z",
        "author": "c1",
        "data": {"survey": "csat", "kind": "csat", "score": 4},
        "channel": "email",
    }
    path = tmp_path / "h.jsonl"
    _write(path, {**TICKET, "events": [*TICKET["events"], answer]})
    (page,) = list(make_local(path).pull(None))
    assert page.events[1].data == {"survey": "csat", "kind": "csat", "score": 4, "channel": "email"}


def test_later_line_supersedes_and_deleted_lines(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _write(path, TICKET, {**TICKET, "status": "solved", "updated_at": "2026-11-03T00:00:00Z"})
    store = open_store(tmp_path / "s.db")
    for page in make_local(path).pull(None):
        store.upsert_page("loc", page)
    assert store.get_ticket("loc:1").status == "solved"
    _write(path, {"type": "deleted", "id": "1"})
    backend = make_local(path)
    for page in backend.pull(store.get_cursor("loc")):
        stats = store.upsert_page("loc", page)
    assert stats.deleted == 1
    assert list(store.select()) == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "h.jsonl:2:"),
        (json.dumps({**TICKET, "status": "opne"}), "status: 'opne' is not one of"),
        (json.dumps({**TICKET, "created_at": "2026-11-02 10:00"}), "has no time zone"),
        (json.dumps({"type": "widget", "id": "9"}), "type: 'widget'"),
        (json.dumps({**TICKET, "id": None}), "id: missing"),
        (
            json.dumps({**TICKET, "events": [{**TICKET["events"][0], "data": [1]}]}),
            "events[1].data: expected an object",
        ),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "h.jsonl"
    _write(path, TICKET)
    with open(path, "a") as fh:
        fh.write(line + "\n")
    with pytest.raises(BackendError) as err:
        list(make_local(path).pull(None))
    assert message in str(err.value)
    assert f"{path}:2:" in str(err.value)


def test_partial_last_line_is_left_for_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _write(path, TICKET)
    with open(path, "a") as fh:
        fh.write('{"type": "ticket", "id": "2"')  # a writer is still appending
    pages = list(make_local(path).pull(None))
    assert [t.id for p in pages for t in p.tickets] == ["loc:1"]
    with open(path, "a") as fh:
        fh.write(', "subject": "x", "created_at": "2026-11-02T11:00:00Z"}\n')
    rest = list(make_local(path).pull(pages[-1].cursor))
    assert [t.id for p in rest for t in p.tickets] == ["loc:2"]


def test_rewritten_file_invalidates_the_cursor(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _write(path, TICKET, {**TICKET, "id": "2"})
    cursor = list(make_local(path).pull(None))[-1].cursor
    path.write_text(
        json.dumps({**TICKET, "id": "3"}) + "\n" + json.dumps({**TICKET, "id": "4"}) + "\n"
    )
    pages = list(make_local(path).pull(cursor))
    assert [t.external_id for p in pages for t in p.tickets] == ["3", "4"]


def test_apply_writes_events_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _write(path, TICKET)
    backend = make_local(path)
    result = backend.apply(
        "1",
        Changes(
            status="solved",
            assignee_id="loc:a7",
            comments=[Comment("Fixed, sorry!", public=True), Comment("note", public=False)],
        ),
    )
    assert result.changed
    ticket = backend.fetch("1")
    assert ticket is not None
    assert ticket.status == "solved" and ticket.assignee_id == "loc:a7" and ticket.solved_at
    (page,) = list(make_local(path).pull(None, full=True))
    kinds = [(e.kind, e.public, e.new) for e in page.events]
    assert ("status_change", None, "solved") in kinds
    assert ("assignment", None, "a7") in kinds
    assert ("comment", True, None) in kinds and ("comment", False, None) in kinds


def test_create_reuses_marker_after_a_crash(tmp_path: Path) -> None:
    """Mirror writes a marker: creating twice with it yields one ticket."""
    from cstoolkit.plugin import NewTicket

    path = tmp_path / "h.jsonl"
    _write(path, TICKET)
    backend = make_local(path)
    a = backend.create(NewTicket("S", "D", requester_email="x@example.org", marker="m-1"))
    b = make_local(path).create(NewTicket("S", "D", requester_email="x@example.org", marker="m-1"))
    assert a == b == "2"
    tickets = [t for p in make_local(path).pull(None) for t in p.tickets]
    assert [t.external_id for t in tickets] == ["1", "2"]
    assert tickets[1].requester_id is not None


def test_sync_of_generated_helpdesk_matches_file(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    stats = generate_file(SampleSpec(tickets=300, days=15, seed=3), path)
    store = open_store(tmp_path / "s.db")
    backend = make_local(path, page_size=64)
    for page in backend.pull(None):
        store.upsert_page("loc", page)
    counts = store.counts()
    assert counts["tickets"] == stats.tickets == 300
    assert counts["events"] == stats.events
    assert counts["people"] == stats.people
    assert store_snapshot(store)["tickets"]
