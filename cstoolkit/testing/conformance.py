"""Conformance suites a plugin's tests subclass to get the standard tests.

``BackendConformance`` is the backend behaviour suite (:mod:`cstoolkit.testing.backend_suite`)
under its published name. ``ChannelConformance`` and ``SurveyProviderConformance`` check the
channel and survey-provider contracts. Subclass one as ``TestSomething`` and implement its
``make_*`` method; every ``test_*`` method then runs against your plugin::

    from cstoolkit.testing import ChannelConformance

    class TestMyChannel(ChannelConformance):
        def make_channel(self, tmp_path):
            return MyChannel("mine", {"token": "s3cret-token"}, MemoryKeyValue("mine"))

The channel and survey suites run with the network blocked (``no_network`` marker: loopback
stays open, so a local fake server works); mock HTTP with respx or a 127.0.0.1 server.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.messages import DeliveryResult, Message, Recipient, SurveyOffer
from cstoolkit.model import now
from cstoolkit.plugin import (
    KNOWN_CAPABILITIES,
    MESSAGES_SEND,
    SURVEYS_SEND,
    Channel,
    PluginBase,
    Setting,
    SurveyProvider,
)
from cstoolkit.plugin_settings import SETTING_TYPES
from cstoolkit.testing.backend_suite import BackendBehaviour

#: The backend suite, published under the name the other suites follow.
BackendConformance = BackendBehaviour

__all__ = [
    "BackendConformance",
    "ChannelConformance",
    "SurveyProviderConformance",
    "settings_problems",
]


def settings_problems(cls: type[PluginBase]) -> list[str]:
    """What is wrong with a plugin class's declaration (empty when it is valid)."""
    problems: list[str] = []
    if not isinstance(cls.name, str) or not cls.name:
        problems.append("the class needs a non-empty name")
    unknown = set(cls.capabilities) - KNOWN_CAPABILITIES
    if unknown:
        problems.append(f"unknown capabilities {sorted(unknown)}")
    seen: set[str] = set()
    for spec in cls.settings:
        if not isinstance(spec, Setting):
            problems.append(f"{spec!r} is not a Setting")
            continue
        if spec.name in seen:
            problems.append(f"setting {spec.name!r} declared twice")
        seen.add(spec.name)
        if spec.type not in SETTING_TYPES:
            problems.append(f"setting {spec.name!r}: unknown type {spec.type!r}")
            continue
        if spec.default is not None:
            why = spec.check(spec.default)
            if why:
                problems.append(f"setting {spec.name!r}: default {why}")
        if spec.required and spec.default is not None:
            problems.append(f"setting {spec.name!r}: required settings take no default")
        if spec.secret and spec.type not in ("str", "table"):
            problems.append(f"setting {spec.name!r}: a secret must be a str (or a table of refs)")
    return problems


def _secret_strings(plugin: Any) -> list[str]:
    """The instance's secret setting values that are long enough to look for."""
    out = []
    for name in type(plugin).secret_settings():
        value = plugin.config.get(name)
        values = value.values() if isinstance(value, dict) else [value]
        out += [v for v in values if isinstance(v, str) and len(v) >= 4]
    return out


# -- channels --------------------------------------------------------------------------------


@pytest.mark.no_network
class ChannelConformance:
    """Subclass (as ``TestSomething``) and implement :meth:`make_channel`.

    The channel should deliver successfully in the test set-up (mock its HTTP API with respx or
    point it at a local fake server); give its secret settings real-looking values so the
    redaction tests have something to look for.
    """

    #: Whether ``send`` reports the provider's message id. Set False only for a provider that
    #: returns none at all (Slack incoming webhooks answer a bare "ok").
    provider_ref_expected: bool = True

    def make_channel(self, tmp_path: Path) -> Channel:
        raise NotImplementedError

    def make_message(self, key: str = "suite/t1/c1") -> Message:
        """A message every kind of channel can address (override to adapt)."""
        return Message(
            idempotency_key=key,
            recipient=Recipient(
                id="c1",
                name="Ana Example",
                email="ana@example.org",
                phone="+15555550100",
                language="en",
                handles={"slack": "U0SUITE", "whatsapp": "+15555550100"},
            ),
            subject="How did we do?",
            text="Please rate your experience: https://example.org/s/1",
            html="<p>Please rate your experience</p>",
            short="Rate us: https://example.org/s/1",
            links={"survey": "https://example.org/s/1", "opt_out": "https://example.org/o/1"},
            data={"type": "survey", "kind": "csat"},
            created_at=now(),
        )

    def _send(self, channel: Channel, message: Message) -> DeliveryResult:
        try:
            return channel.send(message)
        finally:
            channel.close()

    def test_declaration(self, tmp_path: Path) -> None:
        channel = self.make_channel(tmp_path)
        cls = type(channel)
        assert issubclass(cls, Channel)
        assert MESSAGES_SEND in cls.capabilities
        assert settings_problems(cls) == []
        assert isinstance(cls.idempotent, bool)

    def test_address_is_a_string_or_none(self, tmp_path: Path) -> None:
        channel = self.make_channel(tmp_path)
        address = channel.address(self.make_message().recipient)
        assert address is None or (isinstance(address, str) and address)
        assert channel.address(Recipient()) is None or channel.address_kind == "any"

    def test_send_returns_a_delivery_result_with_a_provider_id(self, tmp_path: Path) -> None:
        result = self._send(self.make_channel(tmp_path), self.make_message())
        assert isinstance(result, DeliveryResult)
        assert result.ok, f"send failed in the suite's set-up: {result.outcome} {result.detail}"
        if self.provider_ref_expected:
            assert isinstance(result.provider_ref, str) and result.provider_ref, "no provider id"

    def test_idempotent_lookup_finds_a_sent_message(self, tmp_path: Path) -> None:
        channel = self.make_channel(tmp_path)
        if not channel.idempotent:
            pytest.skip(
                "channel is not idempotent; to enable: set `idempotent = True` on a channel "
                "whose provider dedupes by key"
            )
        message = self.make_message("suite/t2/c1")
        sent_at = now() - timedelta(seconds=5)
        assert channel.send(message).ok
        try:
            found = channel.lookup(message.idempotency_key, message=message, since=sent_at)
        except NotImplementedError:
            pytest.skip(
                "idempotent through the provider's key, no lookup; "
                "to enable: implement Channel.lookup()"
            )
        finally:
            channel.close()
        assert isinstance(found, DeliveryResult) and found.ok

    def test_lookup_of_a_never_sent_key_is_none(self, tmp_path: Path) -> None:
        channel = self.make_channel(tmp_path)
        if not channel.idempotent:
            pytest.skip(
                "channel is not idempotent; to enable: set `idempotent = True` on a channel "
                "whose provider dedupes by key"
            )
        try:
            found = channel.lookup(
                "suite/never-sent/c9",
                message=self.make_message("suite/never-sent/c9"),
                since=now() - timedelta(minutes=1),
            )
        except NotImplementedError:
            pytest.skip("no lookup; to enable: implement Channel.lookup()")
        finally:
            channel.close()
        assert found is None

    def test_secrets_not_in_repr_or_results(self, tmp_path: Path) -> None:
        channel = self.make_channel(tmp_path)
        secrets = _secret_strings(channel)
        result = self._send(channel, self.make_message("suite/t3/c1"))
        nowhere = Message(idempotency_key="suite/t4/c1", recipient=Recipient(), text="x")
        try:
            failed = self._send(self.make_channel(tmp_path), nowhere)
            texts = [failed.detail, str(failed.provider_ref)]
        except Exception as exc:  # an exception counts as unknown; its text must be clean too
            texts = [str(exc)]
        for secret in secrets:
            assert secret not in repr(channel)
            assert secret not in result.detail and secret not in str(result.provider_ref)
            for text in texts:
                assert secret not in text


# -- survey providers ------------------------------------------------------------------------


@pytest.mark.no_network
class SurveyProviderConformance:
    """Subclass (as ``TestSomething``) and implement :meth:`make_provider`."""

    #: Languages every kind must compose in.
    languages: tuple[str, ...] = ("en",)

    def make_provider(self, tmp_path: Path) -> SurveyProvider:
        raise NotImplementedError

    def make_channel(self, tmp_path: Path) -> Channel:
        """The channel messages are composed for (default: the built-in console channel)."""
        from cstoolkit.builtin.channels import ConsoleChannel
        from cstoolkit.store.kv import MemoryKeyValue

        return ConsoleChannel("suite-console", {}, MemoryKeyValue("suite-console"))

    def make_offer(self, kind: str, language: str) -> SurveyOffer:
        at = now().replace(microsecond=0)
        return SurveyOffer(
            key=f"suite-{kind}/t1/c1",
            survey=f"suite-{kind}",
            kind=kind,
            ticket_id="demo:1",
            ticket_external_id="1",
            cycle=1,
            recipient=Recipient(id="c1", name="Ana Example", email="ana@example.org"),
            language=language,
            offered_at=at,
            expires_at=at + timedelta(days=28),
            subject="Printer on fire",
            agent_name="Bo",
        )

    def test_declaration(self, tmp_path: Path) -> None:
        cls = type(self.make_provider(tmp_path))
        assert issubclass(cls, SurveyProvider)
        assert SURVEYS_SEND in cls.capabilities
        assert settings_problems(cls) == []
        assert cls.kinds and set(cls.kinds) <= {"csat", "nps", "ces"}

    def test_compose_gives_a_message_for_each_kind_and_language(self, tmp_path: Path) -> None:
        provider = self.make_provider(tmp_path)
        channel = self.make_channel(tmp_path)
        for kind in sorted(type(provider).kinds):
            for language in self.languages:
                offer = self.make_offer(kind, language)
                message = provider.compose(offer, channel)
                label = f"{kind}/{language}"
                assert isinstance(message, Message), label
                assert message.idempotency_key == offer.key, label
                assert message.recipient == offer.recipient, label
                assert message.text or message.short or message.template, f"{label}: empty"

    def test_compose_is_deterministic(self, tmp_path: Path) -> None:
        provider = self.make_provider(tmp_path)
        channel = self.make_channel(tmp_path)
        for kind in sorted(type(provider).kinds):
            offer = self.make_offer(kind, self.languages[0])
            first = provider.compose(offer, channel)
            again = replace(offer, data=dict(offer.data))  # as reloaded from the ledger
            assert provider.compose(again, channel) == first, kind

    def test_secrets_not_in_messages(self, tmp_path: Path) -> None:
        provider = self.make_provider(tmp_path)
        channel = self.make_channel(tmp_path)
        secrets = _secret_strings(provider)
        for kind in sorted(type(provider).kinds):
            message = provider.compose(self.make_offer(kind, self.languages[0]), channel)
            text = " ".join(
                [
                    message.subject,
                    message.text,
                    message.html or "",
                    message.short,
                    *message.links.values(),
                ]
            )
            for secret in secrets:
                assert secret not in text, f"{kind}: a secret setting leaks into the message"
            for secret in secrets:
                assert secret not in repr(provider)
