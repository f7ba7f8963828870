"""The zendesk plugin through the shared backend behaviour suite (over the stateful fake)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zendesk_fake import FakeZendesk, make_backend

from cstoolkit.plugin import Backend
from cstoolkit.testing.backend_suite import BackendBehaviour


class TestZendeskBehaviour(BackendBehaviour):
    expected_tickets = 25

    @pytest.fixture(autouse=True)
    def _fake(self) -> Iterator[None]:
        self.fake = FakeZendesk(tickets=25)
        with self.fake.mounted():
            yield

    def make_backend(self, tmp_path: Path) -> Backend:
        backend: Backend = make_backend(self.fake, page_size=7)
        return backend

    def change_upstream(self, backend: Any, external_id: str) -> None:
        self.fake.touch(int(external_id))
