"""A third-party backend written against plugin API 1.0 (a Setting tuple, the config dict, its
own HTTP-free pull) still loads through the host and passes the conformance suite on API 1.1."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cstoolkit.errors import BackendError
from cstoolkit.model import Status, Ticket
from cstoolkit.plugin import TICKETS_READ, Backend, Page, Setting
from cstoolkit.plugin_settings import SettingsNamespace
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.testing import BackendConformance

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


class OldStyleBackend(Backend):
    """Exactly as a 1.0 plugin is written: tuple settings, ``self.config`` read by key."""

    name: ClassVar[str] = "oldstyle"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("tickets", "int", default=23, help="How many tickets the data set has."),
        Setting("page_size", "int", default=5, help="Tickets per page."),
        Setting("token", secret=True, help="Not used; checks redaction."),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset({TICKETS_READ})

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        self.count = int(self.config.get("tickets") or 23)
        self.page_size = int(self.config.get("page_size") or 5)

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        if cursor and not full and since is None:
            try:
                start = int(json.loads(cursor)["next"])
            except (ValueError, KeyError, TypeError):
                raise BackendError(f"{self.instance}: unreadable cursor") from None
        else:
            start = 1
        for first in range(start, self.count + 1, self.page_size):
            last = min(first + self.page_size, self.count + 1)
            tickets = [
                Ticket(
                    id=f"{self.instance}:{n}",
                    instance=self.instance,
                    external_id=str(n),
                    subject=f"old {n}",
                    status=Status.OPEN,
                    created_at=EPOCH + timedelta(hours=n),
                    updated_at=EPOCH + timedelta(hours=n),
                )
                for n in range(first, last)
            ]
            yield Page(tickets=tickets, cursor=json.dumps({"next": last}))
        if start > self.count:
            yield Page(cursor=json.dumps({"next": start}))

    def fetch(self, external_id: str) -> Ticket | None:
        for page in self.pull(None):
            for ticket in page.tickets:
                if ticket.external_id == external_id:
                    return ticket
        return None


class TestOldStyleBackendConformance(BackendConformance):
    expected_tickets = 23
    garbage_cursor = "raise"

    def make_backend(self, tmp_path: Path) -> OldStyleBackend:
        return OldStyleBackend("old", {"token": "old-secret-1234"}, MemoryKeyValue("old"))


def test_it_loads_through_the_host_and_syncs(cst_runner: Any, register_plugin: Any) -> None:
    plugin = types.ModuleType("cstoolkit_oldstyle")
    from cstoolkit.hookspecs import hookimpl

    @hookimpl
    def register_backends(register: Any) -> None:
        register(OldStyleBackend)

    plugin.register_backends = register_backends  # type: ignore[attr-defined]
    register_plugin(plugin, name="oldstyle")
    assert register_plugin.host.get("backend", "oldstyle") is OldStyleBackend
    cst_runner.write_config('[backends.old]\nplugin = "oldstyle"\ntickets = 12\n', append=True)
    result = cst_runner.invoke("sync", "pull", "old", "--json")
    assert result.exit_code == 0, result.output
    listed = cst_runner.invoke("tickets", "list", "--json")
    assert len(json.loads(listed.stdout)) == 12


def test_settings_stay_a_tuple_and_options_is_a_converted_namespace() -> None:
    assert OldStyleBackend.options_class is None
    assert [s.name for s in OldStyleBackend.settings] == ["tickets", "page_size", "token"]
    backend = OldStyleBackend("old", {"tickets": 4, "token": "old-secret-1234"}, None)
    assert backend.config == {"tickets": 4, "token": "old-secret-1234"}  # the dict, as in 1.0
    assert isinstance(backend.options, SettingsNamespace)
    assert backend.options.tickets == 4 and backend.options.page_size == 5
    assert "old-secret-1234" not in repr(backend.options)


def test_a_class_declaring_both_styles_is_refused() -> None:
    from cstoolkit.plugin import BackendSettings

    class Typed(BackendSettings):
        pass

    with pytest.raises(TypeError, match="not both"):

        class Both(Backend[Typed]):
            settings = (Setting("x"),)
