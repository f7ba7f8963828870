"""The liveagent plugin through the shared backend behaviour suite (over the stateful fake)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from liveagent_fake import FakeLiveAgent, make_backend

from cstoolkit.plugin import Backend
from cstoolkit.testing.backend_suite import BackendBehaviour


class TestLiveAgentBehaviour(BackendBehaviour):
    expected_tickets = 20
    garbage_cursor = "raise"
    missing_id = "t9999"

    @pytest.fixture(autouse=True)
    def _fake(self) -> Iterator[None]:
        self.fake = FakeLiveAgent(tickets=20)
        with self.fake.mounted():
            yield

    def make_backend(self, tmp_path: Path) -> Backend:
        backend: Backend = make_backend(self.fake)
        return backend
