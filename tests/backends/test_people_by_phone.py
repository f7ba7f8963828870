"""HttpBackend.person_by_phone: found or created once, remembered by a hash, checked again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cstoolkit.backends import HttpBackend, HttpBackendSettings, requesters
from cstoolkit.store.kv import MemoryKeyValue


class AcmeBackend(HttpBackend[HttpBackendSettings]):
    name = "acme"
    options_class = HttpBackendSettings
    default_base_url = "https://acme.example"


def acme(state: Any) -> AcmeBackend:
    return AcmeBackend("ac", {"read_only": False}, state)


class Vendor:
    """A vendor with a directory of people by phone and a search that may lag."""

    def __init__(self) -> None:
        self.people: dict[str, str] = {}  # id -> phone
        self.calls: list[str] = []
        self.indexed = True

    def search(self, phone: str) -> str | None:
        self.calls.append("search")
        if not self.indexed:
            return None
        return next((i for i, p in self.people.items() if p == phone), None)

    def create(self, phone: str) -> str:
        self.calls.append("create")
        pid = str(100 + self.calls.count("create") - 1)
        self.people[pid] = phone
        return pid

    def exists(self, pid: str) -> bool:
        self.calls.append("exists")
        return pid in self.people


def test_found_or_created_once_and_remembered_by_a_hash() -> None:
    vendor, state = Vendor(), MemoryKeyValue("ac")
    vendor.indexed = False  # the vendor's search has not caught up with new people
    backend = acme(state)

    def find(phone: str) -> str:
        return backend.person_by_phone(
            phone, search=vendor.search, create=vendor.create, exists=vendor.exists
        )

    first = find("+34600111222")
    again = find("+34600111222")
    assert first == again == "100"
    assert vendor.calls == ["search", "create", "exists"]
    assert "+34600111222" not in json.dumps(state.get(requesters.PHONES_KEY))
    del vendor.people["100"]  # merged or deleted in the helpdesk since
    assert find("+34600111222") == "101"


def test_a_vendor_without_search_creates_then_remembers() -> None:
    vendor = Vendor()
    backend = acme(MemoryKeyValue("ac"))
    ids = [backend.person_by_phone("+1555", search=None, create=vendor.create) for _ in range(3)]
    assert ids == ["100"] * 3 and vendor.calls == ["create"]


def test_memory_is_bounded_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requesters, "PHONES_MAX", 3)
    vendor, state = Vendor(), MemoryKeyValue("ac")
    backend = acme(state)
    for n in range(5):
        backend.person_by_phone(f"+1{n}", search=None, create=vendor.create)
    assert len(state.get(requesters.PHONES_KEY)) == 3
    backend.person_by_phone("+10", search=None, create=vendor.create)  # forgotten: created again
    assert vendor.calls.count("create") == 6


def test_requester_of_is_none_for_a_ticket_without_one() -> None:
    # The one rule (docs/inbound.md): no requester, so the plugin posts requester_note instead.
    backend = acme(MemoryKeyValue("ac"))
    assert backend.requester_of({"requester_id": 7}, "requester_id", "42") == 7
    for bad in (
        {},
        {"requester_id": None},
        {"requester_id": ""},
        {"requester_id": True},
        {"requester_id": {"id": 1}},
    ):
        assert backend.requester_of(bad, "requester_id", "42") is None


def test_every_spelling_of_a_number_is_one_person() -> None:
    vendor = Vendor()
    backend = acme(MemoryKeyValue("ac"))
    spellings = ["+34600111222", "whatsapp:+34600111222", "+34 600-111-222", "34600111222"]
    ids = {backend.person_by_phone(p, search=None, create=vendor.create) for p in spellings}
    assert ids == {"100"} and vendor.people == {"100": "+34600111222"}


def test_privacy_forget_drops_the_remembered_phone(tmp_path: Any) -> None:
    """``cst privacy forget +34…`` (or the person's id) removes the backends' memory of that
    number: no hash of it, and no entry naming the forgotten person, stays in the store."""
    from cstoolkit.ops.privacy import forget
    from cstoolkit.store import open_store
    from cstoolkit.store.kv import KeyValue

    store = open_store(tmp_path / "s.db")
    try:
        vendor = Vendor()
        backend = acme(KeyValue(store, "ac"))
        ana = backend.person_by_phone("+34 600 111 222", search=vendor.search, create=vendor.create)
        bob = backend.person_by_phone("+34600333444", search=vendor.search, create=vendor.create)
        cid = backend.person_by_phone("+34600555666", search=vendor.search, create=vendor.create)
        key = requesters.phone_key
        assert set(KeyValue(store, "ac").get(requesters.PHONES_KEY)) == {
            key("+34600111222"),
            key("+34600333444"),
            key("+34600555666"),
        }
        report = forget(store, "whatsapp:+34600111222")
        assert report.counts["remembered_phones"] == 1
        report = forget(store, f"ac:{bob}")
        assert report.counts["remembered_phones"] == 1
        left = KeyValue(store, "ac").get(requesters.PHONES_KEY)
        assert left == {key("+34600555666"): cid}
        assert ana not in left.values()
        # forgotten: the next message from that number looks the person up again
        vendor.calls.clear()
        backend.person_by_phone("+34600111222", search=vendor.search, create=vendor.create)
        assert vendor.calls[0] == "search"
    finally:
        store.close()
