"""The built-in channels, survey provider and the kit's fake backend run the conformance suites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cstoolkit.builtin.channels import ConsoleChannel, OutboxChannel, WebhookChannel
from cstoolkit.errors import ConflictError
from cstoolkit.plugin import Changes, Setting
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.surveys.provider import BuiltinSurveyProvider
from cstoolkit.testing import (
    BackendBehaviour,
    BackendConformance,
    ChannelConformance,
    FakeBackend,
    FakeHelpdesk,
    SurveyProviderConformance,
    settings_problems,
)


class TestConsoleChannel(ChannelConformance):
    def make_channel(self, tmp_path: Path) -> ConsoleChannel:
        return ConsoleChannel("console", {"stream": "stderr"}, MemoryKeyValue("console"))


class TestOutboxChannel(ChannelConformance):
    def make_channel(self, tmp_path: Path) -> OutboxChannel:
        return OutboxChannel("outbox", {"path": str(tmp_path / "outbox")}, MemoryKeyValue("o"))


class TestWebhookChannel(ChannelConformance):
    """Idempotent through its Idempotency-Key (no lookup); the receiver is mocked with respx."""

    provider_ref_expected = True  # the key, or the receiver's X-Request-Id

    def make_channel(self, tmp_path: Path) -> WebhookChannel:
        respx = pytest.importorskip(
            "respx", reason="respx is not installed; to enable: pip install -e '.[test]'"
        )
        import httpx

        router = respx.mock(assert_all_called=False)
        router.post("https://hooks.example/cst").mock(return_value=httpx.Response(202))
        router.start()
        self._routers = [*getattr(self, "_routers", []), router]
        config = {"url": "https://hooks.example/cst", "secret": "whsec-suite-secret-1234"}
        return WebhookChannel("hook", config, MemoryKeyValue("hook"))

    def teardown_method(self) -> None:
        for router in getattr(self, "_routers", []):
            router.stop()
        self._routers = []


class TestBuiltinSurveyProvider(SurveyProviderConformance):
    languages = ("en", "es", "pt")

    def make_provider(self, tmp_path: Path) -> BuiltinSurveyProvider:
        config = {"signing_keys": {"k1": "suite-signing-secret-1"}, "brand": "Acme"}
        return BuiltinSurveyProvider("csat", config, MemoryKeyValue("csat"))


class TestFakeBackend(BackendConformance):
    expected_tickets = 25
    garbage_cursor = "raise"

    def make_backend(self, tmp_path: Path) -> FakeBackend:
        # One helpdesk per test: writes through one backend are seen by the next.
        if not hasattr(self, "helpdesk"):
            self.helpdesk = FakeHelpdesk(25)
        config: dict[str, Any] = {"helpdesk": self.helpdesk, "page_size": 10, "token": "tok-1234"}
        return FakeBackend("fake", config, MemoryKeyValue("fake"))

    def change_upstream(self, backend: FakeBackend, external_id: str) -> None:  # type: ignore[override]
        backend.helpdesk.change_upstream(external_id)


def test_backend_conformance_is_the_published_behaviour_suite() -> None:
    assert BackendConformance is BackendBehaviour


def test_fake_backend_conflict_check_passes_a_fresh_plan() -> None:
    backend = FakeBackend("f", {}, MemoryKeyValue("f"))
    ticket = backend.fetch("1")
    assert ticket is not None
    result = backend.apply("1", Changes(priority="urgent", expected_updated_at=ticket.updated_at))
    assert result.changed
    with pytest.raises(ConflictError):
        backend.apply("1", Changes(priority="low", expected_updated_at=ticket.updated_at))


def test_settings_problems_finds_bad_declarations() -> None:
    class Bad(ConsoleChannel):
        name = ""
        settings = (
            Setting("a", "int", default="x"),
            Setting("a"),
            Setting("b", "nope"),
            Setting("c", "int", secret=True),
        )

    problems = settings_problems(Bad)
    assert any("name" in p for p in problems)
    assert any("declared twice" in p for p in problems)
    assert any("unknown type" in p for p in problems)
    assert any("default expected int" in p for p in problems)
    assert any("a secret must be a str" in p for p in problems)
    assert settings_problems(ConsoleChannel) == []


class _LeakyChannel(ConsoleChannel):
    name = "leaky"
    settings = (Setting("token", secret=True),)

    def __repr__(self) -> str:
        return f"<leaky {self.config['token']}>"


def test_channel_suite_catches_a_secret_in_repr(tmp_path: Path) -> None:
    class Suite(ChannelConformance):
        def make_channel(self, tmp_path: Path) -> _LeakyChannel:
            return _LeakyChannel("leaky", {"token": "leaked-secret"}, MemoryKeyValue("l"))

    with pytest.raises(AssertionError):
        Suite().test_secrets_not_in_repr_or_results(tmp_path)
