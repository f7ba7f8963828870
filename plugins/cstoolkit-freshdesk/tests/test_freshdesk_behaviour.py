"""The freshdesk plugin through the shared backend behaviour suite (over the stateful fake)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from freshdesk_fake import FakeFreshdesk, make_backend

from cstoolkit.plugin import Backend
from cstoolkit.testing.backend_suite import BackendBehaviour


class TestFreshdeskBehaviour(BackendBehaviour):
    expected_tickets = 30

    @pytest.fixture(autouse=True)
    def _fake(self) -> Iterator[None]:
        # Three tickets per second, so pages end inside a second as well as between seconds.
        self.fake = FakeFreshdesk(tickets=30, same_second=3)
        with self.fake.mounted():
            yield

    def make_backend(self, tmp_path: Path) -> Backend:
        backend: Backend = make_backend(self.fake, page_size=7)
        return backend

    def change_upstream(self, backend: Any, external_id: str) -> None:
        self.fake.update(int(external_id), {"priority": 4})
