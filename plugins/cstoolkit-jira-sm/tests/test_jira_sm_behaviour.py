"""The jira_sm plugin through the shared backend behaviour suite (over the stateful fake)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jira_fake import FakeJira, make_backend

from cstoolkit.plugin import Backend
from cstoolkit.testing.backend_suite import BackendBehaviour


class TestJiraSMBehaviour(BackendBehaviour):
    expected_tickets = 20
    garbage_cursor = "raise"

    @pytest.fixture(autouse=True)
    def _fake(self) -> Iterator[None]:
        self.fake = FakeJira(issues=20, user_tz="America/New_York")
        with self.fake.mounted():
            yield

    def make_backend(self, tmp_path: Path) -> Backend:
        backend: Backend = make_backend(self.fake)
        return backend
