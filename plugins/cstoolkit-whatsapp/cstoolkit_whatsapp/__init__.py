"""WhatsApp channel for cstoolkit: Meta's WhatsApp Cloud API.

``POST https://graph.facebook.com/{version}/{phone_number_id}/messages`` with a bearer access
token and ``{"messaging_product": "whatsapp", "to": …, "type": …}``; the answer holds
``messages[0].id`` (a ``wamid.…``). Errors come as ``{"error": {"message", "type", "code",
"error_data": {"details"}, "fbtrace_id"}}``.

The 24-hour customer-service window is modelled from the requester's last inbound message
(``Message.last_inbound_at``: when they created the ticket or last commented publicly): inside
it a free-text message is sent (``type: text``); outside it only an approved template may be
sent (``type: template``), and without a configured template the channel refuses rather than
send free text Meta would reject (error 131047, re-engagement message).

The Cloud API offers no idempotency key: ``idempotent = False`` (a send is never retried once it
may have reached Meta). Requests go through the one HTTP layer (:mod:`cstoolkit.http_channel`),
which reads the Graph error body into ``(#code) message: details``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from cstoolkit.hookspecs import hookimpl
from cstoolkit.http_channel import HttpChannel, http_channel_settings
from cstoolkit.http_errors import excerpt
from cstoolkit.messages import (
    DEFAULT_TEMPLATE_PARAMETERS,
    TEMPLATE_PARAMETERS,
    DeliveryResult,
    Message,
    Template,
    in_service_window,
    template_parameters,
    unknown_template_parameters,
)
from cstoolkit.model import now
from cstoolkit.plugin import CheckResult, Setting

GRAPH = "https://graph.facebook.com"
DEFAULT_LANGUAGES = {"en": "en_US", "es": "es", "pt": "pt_BR"}
#: Template parameters the channel can fill, by name (kept here for API 1.x importers).
PARAMETERS = TEMPLATE_PARAMETERS
DEFAULT_PARAMETERS = DEFAULT_TEMPLATE_PARAMETERS
# Meta error codes: permanent for this recipient/message, or stop for the whole run.
_PERMANENT = frozenset(
    str(code)
    for code in (131047, 131026, 131051, 131009, 132000, 132001, 132005, 132007, 132012, 133010)
)
_STOP = frozenset(str(code) for code in (0, 3, 10, 190, 200, 130429, 131031, 131042, 80007, 368))


class WhatsAppChannel(HttpChannel):
    name: ClassVar[str] = "whatsapp"
    description: ClassVar[str] = (
        "WhatsApp Cloud API: free text inside the 24-hour window, an approved template outside."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("phone_number_id", required=True, help="The sending number's id in Meta."),
        Setting("access_token", required=True, secret=True, help="System-user access token."),
        Setting("api_version", default="v21.0", help="Graph API version in the path."),
        Setting("template", help="Approved template name for use outside the 24-hour window."),
        Setting(
            "template_languages",
            "table",
            default=DEFAULT_LANGUAGES,
            help="Our language -> the template's language code.",
        ),
        Setting(
            "template_parameters",
            "list",
            default=DEFAULT_PARAMETERS,
            help=f"Body parameters, in order; each one of {', '.join(PARAMETERS)}.",
        ),
        Setting("window_hours", "int", default=24, help="The customer-service window."),
        *http_channel_settings(base_url=GRAPH, timeout=15.0, max_retry_wait=60.0),
    )
    address_kind: ClassVar[str] = "phone"
    bearer_setting: ClassVar[str | None] = "access_token"
    auth_hint: ClassVar[str] = "the access_token setting"
    permanent_codes: ClassVar[frozenset[str]] = _PERMANENT
    stop_codes: ClassVar[frozenset[str]] = _STOP

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        for p in unknown_template_parameters(self.config.get("template_parameters")):
            from cstoolkit.errors import ConfigError

            raise ConfigError(
                f"unknown template parameter {p!r} (use {', '.join(PARAMETERS)})",
                field=f"channels.{instance}.template_parameters",
            )

    def in_window(self, message: Message) -> bool:
        hours = int(self.config.get("window_hours") or 24)
        return in_service_window(message, hours, now=now())

    def template_for(self, message: Message) -> Template | None:
        if message.template is not None:
            return message.template
        name = self.config.get("template")
        if not name:
            return None
        languages = {**DEFAULT_LANGUAGES, **(self.config.get("template_languages") or {})}
        params = template_parameters(message, self.config.get("template_parameters"))
        return Template(str(name), languages.get(message.language, message.language), params)

    def payload(self, message: Message, to: str) -> dict[str, Any] | str:
        """The request body, or why nothing may be sent."""
        base: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
        }
        if self.in_window(message):
            return {
                **base,
                "type": "text",
                "text": {"preview_url": False, "body": message.short or message.text},
            }
        template = self.template_for(message)
        if template is None:
            return (
                "outside the 24-hour customer-service window and no approved template "
                "configured (set `template`); free text would be refused"
            )
        body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
        if template.parameters:
            body["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": v} for v in template.parameters],
                }
            ]
        return {**base, "type": "template", "template": body}

    def send(self, message: Message) -> DeliveryResult:
        phone = message.recipient.phone
        if not phone:
            return DeliveryResult.failed("recipient has no phone number", permanent=True)
        to = re.sub(r"\D", "", phone)
        payload = self.payload(message, to)
        if isinstance(payload, str):
            return DeliveryResult.failed(payload, permanent=True)
        version = str(self.config.get("api_version") or "v21.0")
        path = f"{version}/{self.config['phone_number_id']}/messages"
        response = self.post(path, json=payload)
        if isinstance(response, DeliveryResult):
            return response
        data = self.accepted_json(response)
        if isinstance(data, DeliveryResult):
            return data
        try:
            wamid = str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            return DeliveryResult.unknown(f"unexpected answer: {excerpt(str(data), 200)}")
        kind = payload["type"]
        return DeliveryResult.sent(wamid, f"{kind} message accepted")

    def check(self) -> CheckResult:
        version = str(self.config.get("api_version") or "v21.0")
        try:
            data = self.http().get_json(f"{version}/{self.config['phone_number_id']}")
        except Exception as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, f"number {data.get('display_phone_number', '?')}")


@hookimpl
def register_channels(register: Any) -> None:
    register(WhatsAppChannel)


@hookimpl
def register_inbound_sources(register: Any) -> None:
    from cstoolkit_whatsapp.inbound import WhatsAppInbound

    register(WhatsAppInbound)
