"""Twilio SMS channel for cstoolkit: the Programmable Messaging ``Messages`` resource.

* Send: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded ``To``,
  ``From`` or ``MessagingServiceSid``, ``Body``; HTTP basic auth ``AccountSid:AuthToken``),
  answered ``201`` with the message ``sid`` (``SM…``), kept as the ledger's provider reference.
* Errors: ``{"code": 21211, "message": …, "more_info": …, "status": 400}`` (read by the HTTP
  layer into ``(21211) message``).
* Reconcile (``idempotent = True``): Twilio takes no idempotency key on create, but its
  messages can be listed: ``GET …/Messages.json?To=…&From=…&PageSize=…`` (newest first). After a
  crash the channel lists the messages to the number created since the survey was reserved and
  looks for this survey's link in their bodies; found means delivered (its SID is committed),
  not found means it was never created and is sent again.

Requests go through the one HTTP layer (:mod:`cstoolkit.http_channel`): the create is a POST
without an idempotency key, so it is sent again only when it cannot have reached Twilio
(connection refused, a 429); a timeout after sending or a 5xx is ``unknown`` and looked up.

**WhatsApp through Twilio** (a ``whatsapp:`` recipient): the channel keeps WhatsApp's 24-hour
customer-service window itself, with the same implementation as the WhatsApp Cloud API channel
(:func:`cstoolkit.messages.in_service_window`, from the customer's newest message). Inside it a
reply is free text (``Body``); outside it, the approved template configured as ``content_sid``
(Twilio's Content API: ``ContentSid`` and ``ContentVariables``, a JSON object ``{"1": …}`` of
the ``content_variables`` in order, and no ``Body``); without one nothing is sent (``cst inbound
replies`` then marks the ticket "window closed"). Twilio's error 63016 (outside the window)
stays a permanent refusal, the backstop for a window cst could not see (a customer message
that never reached cst). A template message cannot be recognised by its text, so ``lookup``
does not guess for one: the engine leaves it in doubt rather than send it twice.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from cstoolkit.hookspecs import hookimpl
from cstoolkit.http_channel import HttpChannel, http_channel_settings
from cstoolkit.messages import (
    DEFAULT_TEMPLATE_PARAMETERS,
    SERVICE_WINDOW_HOURS,
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

API = "https://api.twilio.com"
# Twilio error codes that concern this one recipient or message: retrying will not help.
# 63016: a WhatsApp free-form message outside the 24-hour window.
_PERMANENT = frozenset(
    str(code)
    for code in (21211, 21214, 21408, 21610, 21612, 21614, 21617, 30003, 30005, 30006, 63016)
)
_LOOKUP_PAGES = 5


class TwilioSMSChannel(HttpChannel):
    name: ClassVar[str] = "twilio_sms"
    description: ClassVar[str] = (
        "SMS through Twilio's Messages API; reconciled by listing messages."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("account_sid", required=True, help="AC… account SID."),
        Setting("auth_token", required=True, secret=True, help="Auth token (env:NAME, key:NAME)."),
        Setting("from_number", help="Sending number in E.164 (or use messaging_service_sid)."),
        Setting("messaging_service_sid", help="MG… Messaging Service to send from."),
        Setting("status_callback", help="URL Twilio calls with delivery status updates."),
        Setting(
            "content_sid",
            help="HX… approved WhatsApp template (Content API) sent outside the 24-hour window.",
        ),
        Setting(
            "content_variables",
            "list",
            default=DEFAULT_TEMPLATE_PARAMETERS,
            help=f"The template's variables 1, 2, …; each one of {', '.join(TEMPLATE_PARAMETERS)}.",
        ),
        Setting(
            "window_hours",
            "int",
            default=SERVICE_WINDOW_HOURS,
            help="WhatsApp's customer-service window.",
        ),
        *http_channel_settings(
            base_url=API, timeout=15.0, max_retry_wait=60.0, default_rate_limit_wait=2.0
        ),
    )
    idempotent: ClassVar[bool] = True
    address_kind: ClassVar[str] = "phone"
    basic_auth_settings: ClassVar[tuple[str, str] | None] = ("account_sid", "auth_token")
    auth_hint: ClassVar[str] = "the account_sid and auth_token settings"
    permanent_codes: ClassVar[frozenset[str]] = _PERMANENT

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        if not (self.config.get("from_number") or self.config.get("messaging_service_sid")):
            from cstoolkit.errors import ConfigError

            raise ConfigError(
                "set from_number or messaging_service_sid", field=f"channels.{instance}"
            )
        for p in unknown_template_parameters(self.config.get("content_variables")):
            from cstoolkit.errors import ConfigError

            raise ConfigError(
                f"unknown template variable {p!r} (use {', '.join(TEMPLATE_PARAMETERS)})",
                field=f"channels.{instance}.content_variables",
            )

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.config['account_sid']}/Messages.json"

    @staticmethod
    def e164(phone: str) -> str:
        """``+`` and the digits; a ``whatsapp:`` address (Twilio's WhatsApp) keeps its prefix."""
        prefix = "whatsapp:" if phone.startswith("whatsapp:") else ""
        digits = re.sub(r"[^\d+]", "", phone.removeprefix(prefix))
        return prefix + (digits if digits.startswith("+") else "+" + digits)

    @staticmethod
    def whatsapp(message: Message) -> bool:
        return (message.recipient.phone or "").startswith("whatsapp:")

    def in_window(self, message: Message) -> bool:
        """Free text may go out: SMS always; WhatsApp inside the customer-service window."""
        hours = int(self.config.get("window_hours") or SERVICE_WINDOW_HOURS)
        return not self.whatsapp(message) or in_service_window(message, hours, now=now())

    def template_for(self, message: Message) -> Template | None:
        """The approved template for outside the window (``content_sid``), or None."""
        if message.template is not None:
            return message.template
        sid = self.config.get("content_sid")
        if not sid:
            return None
        variables = template_parameters(message, self.config.get("content_variables"))
        return Template(str(sid), message.language, variables)

    def form(self, message: Message) -> dict[str, str]:
        """The request's form: ``Body`` inside the window (and for SMS), else the template's
        ``ContentSid`` and ``ContentVariables`` (the caller checked there is one)."""
        assert message.recipient.phone
        data = {"To": self.e164(message.recipient.phone)}
        template = None if self.in_window(message) else self.template_for(message)
        if template is None:
            data["Body"] = message.short or message.text
        else:
            data["ContentSid"] = template.name
            variables = {str(n): v for n, v in enumerate(template.parameters, start=1)}
            data["ContentVariables"] = json.dumps(variables, ensure_ascii=False)
        if self.config.get("messaging_service_sid"):
            data["MessagingServiceSid"] = str(self.config["messaging_service_sid"])
        else:
            data["From"] = str(self.config["from_number"])
        if self.config.get("status_callback"):
            data["StatusCallback"] = str(self.config["status_callback"])
        return data

    def send(self, message: Message) -> DeliveryResult:
        if not message.recipient.phone:
            return DeliveryResult.failed("recipient has no phone number", permanent=True)
        if not self.in_window(message) and self.template_for(message) is None:
            return DeliveryResult.failed(
                "outside WhatsApp's 24-hour customer-service window and no approved template "
                "configured (set content_sid); free text would be refused (63016)",
                permanent=True,
            )
        response = self.post(self.messages_path, data=self.form(message))
        if isinstance(response, DeliveryResult):
            return response
        data = self.accepted_json(response)
        if isinstance(data, DeliveryResult):
            return data
        sid = data.get("sid") if isinstance(data, dict) else None
        if not sid:
            return DeliveryResult.unknown("created, but the answer had no sid")
        return DeliveryResult.sent(str(sid), str(data.get("status", "")))

    def lookup(
        self, idempotency_key: str, *, message: Message | None = None, since: datetime | None = None
    ) -> DeliveryResult | None:
        if message is None or not message.recipient.phone:
            raise NotImplementedError("needs the message to look for")
        if not self.in_window(message):
            # Not NotImplementedError (that would mean "send it again"): unknown, left in doubt.
            raise RuntimeError(
                "a WhatsApp template message cannot be recognised by its text; not looked up"
            )
        marker = message.links.get("survey") or message.short
        start = since - timedelta(minutes=5) if since is not None else None
        params: dict[str, Any] = {"To": self.e164(message.recipient.phone), "PageSize": 50}
        if self.config.get("from_number"):
            params["From"] = str(self.config["from_number"])
        path: str | None = self.messages_path
        for _ in range(_LOOKUP_PAGES):
            if path is None:
                break
            data = self.http().get_json(path, params=params)  # errors raise: not "not found"
            params = {}
            if not isinstance(data, dict):
                raise RuntimeError(f"{self.label}: listing messages: not a JSON object")
            older = False
            for item in data.get("messages") or []:
                created = (
                    parsedate_to_datetime(item["date_created"])
                    if item.get("date_created")
                    else None
                )
                if created is not None and start is not None and created < start:
                    older = True
                    continue
                if marker and marker in (item.get("body") or ""):
                    return DeliveryResult.sent(str(item["sid"]), "found by listing messages")
            if older:
                break
            path = data.get("next_page_uri")
        return None

    def check(self) -> CheckResult:
        try:
            data = self.http().get_json(f"/2010-04-01/Accounts/{self.config['account_sid']}.json")
        except Exception as exc:
            return CheckResult(False, str(exc))
        name = data.get("friendly_name", "") if isinstance(data, dict) else ""
        return CheckResult(True, f"account {name}")


@hookimpl
def register_channels(register: Any) -> None:
    register(TwilioSMSChannel)


@hookimpl
def register_inbound_sources(register: Any) -> None:
    from cstoolkit_twilio_sms.inbound import TwilioInbound

    register(TwilioInbound)
