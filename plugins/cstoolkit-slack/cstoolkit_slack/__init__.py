"""Slack channels for cstoolkit.

* ``slack_webhook``: an incoming webhook (``POST`` JSON to the hook URL, answered ``200 ok`` or
  a plain-text error such as ``invalid_payload``, ``no_service``, ``channel_is_archived``). It
  always posts to the channel the hook was created for.
* ``slack``: ``chat.postMessage`` with a bot token (``Authorization: Bearer xoxb-…``), answered
  ``{"ok": true, "channel": …, "ts": …}`` or ``{"ok": false, "error": "channel_not_found"}``
  (HTTP 200 either way). It posts to the requester's Slack id (``handles.slack`` /
  ``slack_id`` in the person's data) or to the configured ``channel``.

Both send through the one HTTP layer (:mod:`cstoolkit.http_channel`). Neither offers an
idempotency key, so both are ``idempotent = False``: a crash between the post
and the ledger commit leaves the survey ``in_doubt``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cstoolkit.hookspecs import hookimpl
from cstoolkit.http import parse_error_data
from cstoolkit.http_channel import HttpChannel, http_channel_settings
from cstoolkit.messages import DeliveryResult, Message, Recipient
from cstoolkit.plugin import CheckResult, Setting

API = "https://slack.com/api"
# chat.postMessage errors that stop the channel for the run (credentials, scopes, limits).
_STOP = frozenset(
    {
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
)
# Errors about this one message or destination: retrying will not help.
_PERMANENT = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "user_not_found",
        "cannot_dm_bot",
    }
)


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


class SlackWebhookChannel(HttpChannel):
    name: ClassVar[str] = "slack_webhook"
    description: ClassVar[str] = "Posts to a Slack channel through an incoming webhook."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("url", required=True, secret=True, help="The hook URL (env:NAME or key:NAME)."),
        *http_channel_settings(timeout=10.0, max_retry_wait=60.0),
    )
    address_kind: ClassVar[str] = "any"
    url_setting: ClassVar[str | None] = "url"

    def address(self, recipient: Recipient) -> str | None:
        return recipient.handles.get("slack") or recipient.email or recipient.id

    def http_secrets(self) -> tuple[str, ...]:
        # The hook's path is its secret, and messages name the path: keep it out of all of them,
        # and its last segment (the token Slack issued) also when it is quoted alone.
        token = self.url_path.rstrip("/").rsplit("/", 1)[-1]
        return (*super().http_secrets(), self.url_path, *([token] if len(token) >= 8 else []))

    def send(self, message: Message) -> DeliveryResult:
        handle = message.recipient.handles.get("slack")
        text = f"<@{handle}> {message.short}" if handle else message.short
        response = self.post(self.url_path, json={"text": text, "blocks": blocks(message)})
        if isinstance(response, DeliveryResult):
            return response
        return DeliveryResult.sent(None, "ok")


class SlackChannel(HttpChannel):
    name: ClassVar[str] = "slack"
    description: ClassVar[str] = "Posts with chat.postMessage and a bot token (DM or channel)."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("bot_token", required=True, secret=True, help="xoxb- token with chat:write."),
        Setting("channel", help="Channel id to post to when the requester has no Slack id."),
        *http_channel_settings(base_url=API, timeout=10.0, max_retry_wait=60.0),
    )
    address_kind: ClassVar[str] = "slack"
    bearer_setting: ClassVar[str | None] = "bot_token"
    auth_hint: ClassVar[str] = "the bot_token setting"
    permanent_codes: ClassVar[frozenset[str]] = _PERMANENT
    stop_codes: ClassVar[frozenset[str]] = _STOP

    def address(self, recipient: Recipient) -> str | None:
        return recipient.handles.get("slack") or self.config.get("channel") or None

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
        response = self.post("chat.postMessage", json=payload)
        if isinstance(response, DeliveryResult):
            return response
        data = self.accepted_json(response)
        if isinstance(data, DeliveryResult):
            return data
        if isinstance(data, dict) and data.get("ok"):
            return DeliveryResult.sent(f"{data.get('channel')}/{data.get('ts')}", "ok")
        # Slack answers errors with HTTP 200 and {"ok": false, "error": ...}.
        error = parse_error_data(data)
        code = error.code or "unknown_error"
        return DeliveryResult.failed(
            f"chat.postMessage: {error.one_line() or code}",
            stop=code in _STOP,
            permanent=code in _PERMANENT and code not in _STOP,
        )

    def check(self) -> CheckResult:
        try:
            data = self.http().json("POST", "auth.test")
        except Exception as exc:
            return CheckResult(False, str(exc))
        if isinstance(data, dict) and data.get("ok"):
            return CheckResult(True, f"authenticated as {data.get('user')} in {data.get('team')}")
        return CheckResult(False, f"auth.test: {parse_error_data(data).one_line()}")


@hookimpl
def register_channels(register: Any) -> None:
    register(SlackWebhookChannel)
    register(SlackChannel)
