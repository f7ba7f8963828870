"""The helpscout plugin through the shared backend behaviour suite (over the stateful fake)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpscout_fake import FakeHelpScout, make_backend

from cstoolkit.plugin import Backend
from cstoolkit.testing.backend_suite import BackendBehaviour


class TestHelpScoutBehaviour(BackendBehaviour):
    expected_tickets = 20
    garbage_cursor = "raise"

    @pytest.fixture(autouse=True)
    def _fake(self) -> Iterator[None]:
        self.fake = FakeHelpScout(conversations=20, page_size=7)
        with self.fake.mounted():
            yield

    def make_backend(self, tmp_path: Path) -> Backend:
        backend: Backend = make_backend(self.fake)
        return backend
