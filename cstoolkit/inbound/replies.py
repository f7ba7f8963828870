"""Replies go back out: agents' public replies, and acknowledgements, over the customer's channel.

An agent answers in the helpdesk; ``cst sync pull`` brings the reply into the store and
``cst inbound replies`` (or ``cst run``'s step) delivers every public agent reply written after
the customer's first message on a ticket that came in over WhatsApp or SMS, through the
source's ``reply_channel``:

* each reply is reserved in the ledger (scope ``inbound_reply``, key ``reply:TICKET:EVENT``)
  and sent at most once; an unknown outcome becomes ``in_doubt``, never resent blindly;
* WhatsApp (the Cloud API or Twilio; the channel keeps the window with
  :func:`cstoolkit.messages.in_service_window`): free text inside the 24-hour customer-service
  window (counted from the customer's newest message), the configured approved template
  outside it; with no template the reply is
  not sent and the ticket says so through the one write path (a planned change pushed by
  :mod:`cstoolkit.push`): the source's ``window_closed_tag`` and an internal note.

With ``acknowledge = true`` a new ticket is answered once with its number
(key ``ack:TICKET``), over the same channel.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cstoolkit import push
from cstoolkit.inbound_source import InboundMessage
from cstoolkit.messages import Message, Recipient
from cstoolkit.model import Role, split_id
from cstoolkit.plugin import Changes, Comment
from cstoolkit.store import inbound as db
from cstoolkit.store.ledger import Ledger
from cstoolkit.timeline.build import public_comments

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.inbound.engine import Settings
    from cstoolkit.plugin import Channel
    from cstoolkit.store import Store

log = logging.getLogger(__name__)

SCOPE = "inbound_reply"
SENT = "sent"
FAILED = "failed"
IN_DOUBT = "in_doubt"
WINDOW_CLOSED = "window_closed"
REFUSED = "refused"
#: provider error codes that mean "outside the customer-service window"
WINDOW_CODES = ("63016", "131047")
#: the channels whose tickets get agents' replies delivered
REPLY_CHANNELS = ("whatsapp", "sms")


@dataclass
class Delivery:
    ticket_id: str
    key: str
    action: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket_id, "key": self.key, "action": self.action,
                "detail": self.detail}  # fmt: skip


def _channel(config: Config, host: Any, store: Store, name: str) -> Channel:
    from cstoolkit.instances import build_instance

    built: Channel = build_instance(config, host, "channels", name, store)
    return built


def _recipient(row: db.Row, settings: Settings) -> Recipient:
    if row.channel == "email":
        return Recipient(email=row.contact)
    if row.channel == "whatsapp" and settings.plugin == "twilio":
        return Recipient(phone="whatsapp:" + row.contact)  # Twilio's WhatsApp addresses
    return Recipient(phone=row.contact)


def _window_closed(channel: Channel, message: Message) -> bool:
    """True when the channel keeps a customer-service window (WhatsApp), it is closed, and no
    approved template is configured to send instead."""
    in_window = getattr(channel, "in_window", None)
    template_for = getattr(channel, "template_for", None)
    if in_window is None or template_for is None:
        return False
    return not in_window(message) and template_for(message) is None


def send_once(
    store: Store, channel: Channel, settings: Settings, key: str, ticket_id: str, text: str,
    backend_for: Callable[[str], Any], *, dry_run: bool = False,
) -> Delivery | None:  # fmt: skip
    """Send ``text`` to the customer of ``ticket_id`` once (None: already done, or nobody to
    send to)."""
    row = db.last_inbound(store, ticket_id)
    if row is None:
        return None
    ledger = Ledger(store, SCOPE)
    entry = ledger.get(key)
    if entry is not None and entry.state != "failed":
        return None
    _, external = split_id(ticket_id)
    message = Message(
        idempotency_key=key, recipient=_recipient(row, settings), subject=f"[#{external}]",
        text=text, short=text, last_inbound_at=row.at, data={"ticket_external_id": external},
    )  # fmt: skip
    closed = _window_closed(channel, message)
    if dry_run:
        return Delivery(ticket_id, key, WINDOW_CLOSED if closed else "would send")
    if not ledger.reserve(key, {"ticket": ticket_id, "channel": channel.instance}):
        return None
    if closed:
        why = (
            f"not delivered: WhatsApp's 24-hour customer-service window closed (the customer "
            f"last wrote at {row.at:%Y-%m-%d %H:%M}Z) and no approved template is configured"
        )
        ledger.commit(key, None, outcome=WINDOW_CLOSED)
        _mark_window_closed(store, settings, ticket_id, key, why, backend_for)
        return Delivery(ticket_id, key, WINDOW_CLOSED, why)
    if not ledger.confirm(key):
        return None
    try:
        result = channel.send(message)
    except Exception as exc:  # an exception counts as unknown (the Channel contract)
        result = None
        detail = f"{type(exc).__name__}: {exc}"
    if result is None or result.outcome == "unknown":
        why = detail if result is None else result.detail
        ledger.mark_in_doubt(key, why)
        return Delivery(ticket_id, key, IN_DOUBT, why)
    if not result.ok and result.permanent:
        # Refused for good (Twilio 63016: outside WhatsApp's window): not retried; the ticket
        # says why, like a closed window.
        why = f"not delivered over {channel.instance}: {result.detail}"
        ledger.commit(key, None, outcome=REFUSED, error=result.detail)
        window = any(code in result.detail for code in WINDOW_CODES)
        _mark_window_closed(store, settings, ticket_id, key, why, backend_for, tag=window)
        return Delivery(ticket_id, key, REFUSED, why)
    if not result.ok:
        ledger.fail(key, result.detail)
        return Delivery(ticket_id, key, FAILED, result.detail)
    ledger.commit(key, result.provider_ref)
    if result.provider_ref:
        db.record(store, row.source, result.provider_ref, db.OUT, row.channel, row.contact,
                  ticket_id, message.last_inbound_at or row.at)  # fmt: skip
    return Delivery(ticket_id, key, SENT, result.detail)


def _mark_window_closed(
    store: Store, settings: Settings, ticket_id: str, key: str, why: str,
    backend_for: Callable[[str], Any], *, tag: bool = True,
) -> None:  # fmt: skip
    """The ticket says the reply did not go out: an internal note (and, for a closed window,
    the tag), planned and pushed like every other write."""
    run = "ir-" + hashlib.sha1(key.encode()).hexdigest()[:12]
    tags = [settings.window_closed_tag] if tag else []
    change = Changes(add_tags=tags, comments=[Comment(why, public=False)])
    push.plan(store, [push.PlannedChange(ticket_id, change, f"inbound:{settings.name}",
                                         ledger_key=key)], run)  # fmt: skip
    push.push(store, backend_for, run_id=run, actor=f"inbound:{settings.name}")


def backends(config: Config, host: Any, store: Store) -> Callable[[str], Any]:
    """Build a backend instance by name (what the push engine asks for)."""
    from cstoolkit.instances import build_instance

    return lambda inst: build_instance(config, host, "backends", inst, store)


def deliver_replies(
    config: Config, host: Any, store: Store, name: str, *, dry_run: bool = False
) -> list[Delivery]:
    """Deliver the agents' public replies on ``[inbound.NAME]``'s tickets (see the module)."""
    from cstoolkit.inbound.engine import Settings

    settings = Settings.of(config, name)
    if not settings.reply_channel:
        return []
    channel = _channel(config, host, store, settings.reply_channel)
    out: list[Delivery] = []
    try:
        for ticket_id in db.tickets(store, name):
            row = db.last_inbound(store, ticket_id)
            since = db.first_inbound_at(store, ticket_id)
            if row is None or since is None or row.channel not in REPLY_CHANNELS:
                continue
            for event in public_comments(store.events(ticket_id)):
                if event.author_role != Role.AGENT or not event.body or event.at < since:
                    continue
                key = f"reply:{ticket_id}:{event.id}"
                done = send_once(store, channel, settings, key, ticket_id, event.body,
                                 backends(config, host, store), dry_run=dry_run)  # fmt: skip
                if done is not None:
                    out.append(done)
    finally:
        channel.close()
    return out


def acknowledger(
    config: Config, host: Any, store: Store, settings: Settings
) -> Callable[[InboundMessage, str], None] | None:
    """The callback that acknowledges a new ticket with its number, or None when the source
    does not acknowledge. A failed acknowledgement never fails taking the message in."""
    if not settings.acknowledge or not settings.reply_channel:
        return None
    reply_channel = settings.reply_channel

    def acknowledge(message: InboundMessage, ticket_id: str) -> None:
        _, external = split_id(ticket_id)
        text = settings.acknowledgement.replace("{ticket}", external)
        try:
            channel = _channel(config, host, store, reply_channel)
            try:
                done = send_once(store, channel, settings, f"ack:{ticket_id}", ticket_id, text,
                                 backends(config, host, store))  # fmt: skip
            finally:
                channel.close()
        except Exception as exc:
            log.warning("acknowledgement of %s not sent: %s", ticket_id, exc)
            return
        if done is not None and done.action != SENT:
            log.warning("acknowledgement of %s %s: %s", ticket_id, done.action, done.detail)

    return acknowledge
