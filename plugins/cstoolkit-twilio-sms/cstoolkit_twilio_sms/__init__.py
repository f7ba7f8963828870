"""Twilio SMS channel for cstoolkit: the Programmable Messaging ``Messages`` resource.

* Send: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded ``To``,
  ``From`` or ``MessagingServiceSid``, ``Body``; HTTP basic auth ``AccountSid:AuthToken``),
  answered ``201`` with the message ``sid`` (``SM…``), kept as the ledger's provider reference.
* Errors: ``{"code": 21211, "message": …, "more_info": …, "status": 400}``.
* Reconcile (``idempotent = True``): Twilio takes no idempotency key on create, but its
  messages can be listed: ``GET …/Messages.json?To=…&From=…&PageSize=…`` (newest first). After a
  crash the channel lists the messages to the number created since the survey was reserved and
  looks for this survey's link in their bodies; found means delivered (its SID is committed),
  not found means it was never created and is sent again.

The form body is posted with httpx directly: :mod:`cstoolkit.http`'s client only sends JSON.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from cstoolkit.hookspecs import hookimpl
from cstoolkit.messages import DeliveryResult, Message
from cstoolkit.plugin import Channel, CheckResult, Setting
from cstoolkit.secrets import REDACTOR

API = "https://api.twilio.com"
# Twilio error codes that concern this one recipient or message: retrying will not help.
_PERMANENT = {21211, 21214, 21408, 21610, 21612, 21614, 21617, 30003, 30005, 30006}
_LOOKUP_PAGES = 5


def describe(response: Any) -> str:
    try:
        data = response.json()
        return f"({data.get('code')}) {data.get('message', '')}".strip()
    except ValueError:
        return response.text.strip()[:200]


def _code(response: Any) -> int | None:
    try:
        return int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        return None


class TwilioSMSChannel(Channel):
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
        Setting("base_url", default=API, help="Twilio API base URL."),
        Setting("timeout", "float", default=15.0, help="Seconds per request."),
        Setting("retries", "int", default=2, help="Retries of a 429 within a run."),
    )
    idempotent: ClassVar[bool] = True
    address_kind: ClassVar[str] = "phone"
    requires: ClassVar[tuple[str, ...]] = ("httpx",)
    sleep = staticmethod(time.sleep)

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        if not (self.config.get("from_number") or self.config.get("messaging_service_sid")):
            from cstoolkit.errors import ConfigError

            raise ConfigError(
                "set from_number or messaging_service_sid", field=f"channels.{instance}"
            )
        self._client: Any = None
        REDACTOR.add(str(self.config["auth_token"]))

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.config['account_sid']}/Messages.json"

    def http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                base_url=str(self.config.get("base_url") or API),
                auth=(str(self.config["account_sid"]), str(self.config["auth_token"])),
                timeout=float(self.config.get("timeout") or 15.0),
                headers={"Accept": "application/json", "User-Agent": "cstoolkit-twilio-sms"},
            )
        return self._client

    @staticmethod
    def e164(phone: str) -> str:
        digits = re.sub(r"[^\d+]", "", phone)
        return digits if digits.startswith("+") else "+" + digits

    def form(self, message: Message) -> dict[str, str]:
        assert message.recipient.phone
        data = {"To": self.e164(message.recipient.phone), "Body": message.short or message.text}
        if self.config.get("messaging_service_sid"):
            data["MessagingServiceSid"] = str(self.config["messaging_service_sid"])
        else:
            data["From"] = str(self.config["from_number"])
        if self.config.get("status_callback"):
            data["StatusCallback"] = str(self.config["status_callback"])
        return data

    def send(self, message: Message) -> DeliveryResult:
        import httpx

        if not message.recipient.phone:
            return DeliveryResult.failed("recipient has no phone number", permanent=True)
        configured = self.config.get("retries")
        retries = int(configured) if configured is not None else 2
        for attempt in range(retries + 1):
            try:
                response = self.http().post(self.messages_path, data=self.form(message))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                return DeliveryResult.failed(f"cannot connect: {type(exc).__name__}", stop=True)
            except httpx.HTTPError as exc:
                # The request may have reached Twilio: the engine will look it up.
                return DeliveryResult.unknown(f"{type(exc).__name__} after sending the request")
            status = response.status_code
            if status in (200, 201):
                try:
                    sid = str(response.json()["sid"])
                except (ValueError, KeyError):
                    return DeliveryResult.unknown("created, but the answer had no sid")
                return DeliveryResult.sent(sid, str(response.json().get("status", "")))
            if status == 429 and attempt < retries:
                wait = response.headers.get("Retry-After", "")
                self.sleep(min(float(wait), 30.0) if wait.isdigit() else 2.0 ** (attempt + 1))
                continue
            detail = REDACTOR.redact(f"HTTP {status}: {describe(response)}")
            if status == 429:
                return DeliveryResult.failed(detail, stop=True)
            if status in (401, 403):
                return DeliveryResult.failed(detail, stop=True)
            if status >= 500:
                return DeliveryResult.unknown(detail)
            code = _code(response)
            return DeliveryResult.failed(detail, permanent=code in _PERMANENT or status == 404)
        return DeliveryResult.failed("rate limited", stop=True)  # pragma: no cover

    def lookup(
        self, idempotency_key: str, *, message: Message | None = None, since: datetime | None = None
    ) -> DeliveryResult | None:
        if message is None or not message.recipient.phone:
            raise NotImplementedError("needs the message to look for")
        marker = message.links.get("survey") or message.short
        start = since - timedelta(minutes=5) if since is not None else None
        params: dict[str, Any] = {"To": self.e164(message.recipient.phone), "PageSize": 50}
        if self.config.get("from_number"):
            params["From"] = str(self.config["from_number"])
        path: str | None = self.messages_path
        for _ in range(_LOOKUP_PAGES):
            if path is None:
                break
            response = self.http().get(path, params=params)
            params = {}
            if response.status_code != 200:
                raise RuntimeError(
                    f"listing messages: HTTP {response.status_code}: {describe(response)}"
                )
            data = response.json()
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
            r = self.http().get(f"/2010-04-01/Accounts/{self.config['account_sid']}.json")
        except Exception as exc:
            return CheckResult(False, f"{type(exc).__name__}")
        if r.status_code == 200:
            return CheckResult(True, f"account {r.json().get('friendly_name', '')}")
        return CheckResult(False, f"HTTP {r.status_code}: {describe(r)}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@hookimpl
def register_channels(register: Any) -> None:
    register(TwilioSMSChannel)
