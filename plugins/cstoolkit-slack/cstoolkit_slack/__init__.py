"""Slack channels for cstoolkit.

* ``slack_webhook``: an incoming webhook (``POST`` JSON to the hook URL, answered ``200 ok`` or
  a plain-text error such as ``invalid_payload``, ``no_service``, ``channel_is_archived``). It
  always posts to the channel the hook was created for.
* ``slack``: ``chat.postMessage`` with a bot token (``Authorization: Bearer xoxb-…``), answered
  ``{"ok": true, "channel": …, "ts": …}`` or ``{"ok": false, "error": "channel_not_found"}``
  (HTTP 200 either way). It posts to the requester's Slack id (``handles.slack`` /
  ``slack_id`` in the person's data) or to the configured ``channel``.

Neither offers an idempotency key, so both are ``idempotent = False``: a crash between the post
and the ledger commit leaves the survey ``in_doubt``.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

from cstoolkit.builtin.channels import http_failure
from cstoolkit.hookspecs import hookimpl
from cstoolkit.messages import DeliveryResult, Message, Recipient
from cstoolkit.plugin import Channel, CheckResult, Setting

API = "https://slack.com/api"
# chat.postMessage errors that stop the channel for the run (credentials, scopes, limits).
_STOP = {
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "ratelimited",
    "team_access_not_granted",
}
# Errors about this one message or destination: retrying will not help.
_PERMANENT = {
    "channel_not_found",
    "is_archived",
    "not_in_channel",
    "msg_too_long",
    "no_text",
    "invalid_blocks",
    "user_not_found",
    "cannot_dm_bot",
}


def blocks(message: Message) -> list[dict[str, Any]]:
    """Section with the question, one link button per score, and the opt-out link."""
    scores = sorted(
        (int(k.split(":", 1)[1]), url) for k, url in message.links.items() if k.startswith("score:")
    )
    out: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": message.subject or message.short}}
    ]
    if scores:
        out.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": str(n)},
                        "url": url,
                        "action_id": f"score_{n}",
                    }
                    for n, url in scores
                ],
            }
        )
    elif "survey" in message.links:
        out[0]["text"]["text"] += f"\n<{message.links['survey']}>"
    if "opt_out" in message.links:
        out.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{message.links['opt_out']}|Unsubscribe>"}
                ],
            }
        )
    return out


class _SlackBase(Channel):
    requires: ClassVar[tuple[str, ...]] = ("httpx",)
    sleep = staticmethod(time.sleep)  # tests replace it

    def _client(self, base_url: str, token: str | None = None, *, secret: str = "") -> Any:
        from cstoolkit.http import HttpClient

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return HttpClient(
            base_url,
            label=f"channels.{self.instance}",
            headers=headers,
            secrets=[token, secret],
            timeout=float(self.config.get("timeout") or 10.0),
            max_attempts=3,
            max_retry_wait=float(self.config.get("max_retry_wait") or 60.0),
            sleep=self.sleep,
        )


class SlackWebhookChannel(_SlackBase):
    name: ClassVar[str] = "slack_webhook"
    description: ClassVar[str] = "Posts to a Slack channel through an incoming webhook."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("url", required=True, secret=True, help="The hook URL (env:NAME or key:NAME)."),
        Setting("timeout", "float", default=10.0, help="Seconds per request."),
        Setting("max_retry_wait", "float", default=60.0, help="Longest total wait on 429s."),
    )
    address_kind: ClassVar[str] = "any"

    def address(self, recipient: Recipient) -> str | None:
        return recipient.handles.get("slack") or recipient.email or recipient.id

    def send(self, message: Message) -> DeliveryResult:
        from urllib.parse import urlsplit

        url = str(self.config["url"])
        parts = urlsplit(url)
        # The hook's path is its secret: keep it out of every message.
        client = self._client(f"{parts.scheme}://{parts.netloc}", secret=parts.path)
        handle = message.recipient.handles.get("slack")
        text = f"<@{handle}> {message.short}" if handle else message.short
        try:
            client.request("POST", parts.path, json={"text": text, "blocks": blocks(message)})
        except Exception as exc:
            return http_failure(exc, describe=lambda body: body.strip()[:200])
        finally:
            client.close()
        return DeliveryResult.sent(None, "ok")


class SlackChannel(_SlackBase):
    name: ClassVar[str] = "slack"
    description: ClassVar[str] = "Posts with chat.postMessage and a bot token (DM or channel)."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("bot_token", required=True, secret=True, help="xoxb- token with chat:write."),
        Setting("channel", help="Channel id to post to when the requester has no Slack id."),
        Setting("base_url", default=API, help="Slack Web API base URL."),
        Setting("timeout", "float", default=10.0, help="Seconds per request."),
        Setting("max_retry_wait", "float", default=60.0, help="Longest total wait on 429s."),
    )
    address_kind: ClassVar[str] = "slack"

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        self._http: Any = None

    def address(self, recipient: Recipient) -> str | None:
        return recipient.handles.get("slack") or self.config.get("channel") or None

    def http(self) -> Any:
        if self._http is None:
            self._http = self._client(
                str(self.config.get("base_url") or API), str(self.config["bot_token"])
            )
        return self._http

    def send(self, message: Message) -> DeliveryResult:
        channel = self.address(message.recipient)
        if not channel:
            return DeliveryResult.failed("no Slack id and no channel configured", permanent=True)
        payload = {
            "channel": channel,
            "text": message.short,
            "blocks": blocks(message),
            "unfurl_links": False,
            "metadata": {
                "event_type": "cst_survey",
                "event_payload": {"key": message.idempotency_key},
            },
        }
        try:
            response = self.http().request("POST", "chat.postMessage", json=payload)
            data = json.loads(response.content or b"{}")
        except ValueError:
            return DeliveryResult.unknown("chat.postMessage answered something that is not JSON")
        except Exception as exc:
            return http_failure(exc)
        if data.get("ok"):
            return DeliveryResult.sent(f"{data.get('channel')}/{data.get('ts')}", "ok")
        error = str(data.get("error") or "unknown_error")
        return DeliveryResult.failed(
            f"chat.postMessage: {error}", stop=error in _STOP, permanent=error in _PERMANENT
        )

    def check(self) -> CheckResult:
        try:
            data = json.loads(self.http().request("POST", "auth.test").content)
        except Exception as exc:
            return CheckResult(False, str(exc))
        if data.get("ok"):
            return CheckResult(True, f"authenticated as {data.get('user')} in {data.get('team')}")
        return CheckResult(False, f"auth.test: {data.get('error')}")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


@hookimpl
def register_channels(register: Any) -> None:
    register(SlackWebhookChannel)
    register(SlackChannel)
