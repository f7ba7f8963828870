"""A received message becomes a ticket, or a comment on the contact's open ticket, once.

Never twice: every message is reserved in the ledger (scope ``inbound``) under its source and
the provider's message id before anything is written, so a provider's retry, a second server
or a re-read mailbox finds it taken and is answered "already received".

* **Threading.** A message that answers known Message-IDs (mail: ``In-Reply-To``,
  ``References``) goes to their ticket; otherwise the contact's newest ticket through the same
  source, while it is not solved or closed (as the store last saw it). Else a new ticket.
* **A comment** is a planned change pushed through the one write path (:mod:`cstoolkit.push`):
  its run id is derived from the ledger key, so a crash between planning and the ledger's
  commit is repaired by finding that planned change again.
* **A new ticket** is created with a marker (``NewTicket.marker``). A crash between the
  backend's create and the ledger's commit leaves a reservation whose lease runs out; the next
  run (:meth:`Receiver.recover`) takes it over and asks the backend for the marker
  (``Backend.find_by_marker``): found, it is recorded; not found, it is created now. Where the
  backend cannot be asked, the entry becomes ``in_doubt``: reported by ``cst status``,
  ``cst doctor`` and ``cst inbound status``, never created again blindly.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit import push
from cstoolkit.errors import CstError
from cstoolkit.inbound_source import InboundMessage, InboundSource
from cstoolkit.model import qualify
from cstoolkit.plugin import Backend, Changes, Comment, NewTicket, marker_token
from cstoolkit.store import inbound as db
from cstoolkit.store.ledger import DONE, IN_DOUBT, RESERVED, Entry, Ledger

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.store import Store

log = logging.getLogger(__name__)

SCOPE = "inbound"
CREATED = "created"
COMMENTED = "commented"
DUPLICATE = "duplicate"
FAILED = "failed"
#: how a message's outcome is shown (``action``)
ACTIONS = (CREATED, COMMENTED, DUPLICATE, FAILED, IN_DOUBT)


@dataclass
class Outcome:
    """What became of one message."""

    source: str
    message_id: str
    action: str
    ticket_id: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "message_id": self.message_id,
            "action": self.action,
            "ticket": self.ticket_id,
            "detail": self.detail,
        }


@dataclass
class Settings:
    """An ``[inbound.NAME]`` instance's core keys (the source plugin has its own)."""

    name: str
    plugin: str
    backend: str
    reply_channel: str | None = None
    public_url: str | None = None
    acknowledge: bool = False
    acknowledgement: str = "We received your message. Your ticket number is {ticket}."
    tags: list[str] = field(default_factory=list)
    priority: str = "normal"
    window_closed_tag: str = "whatsapp-window-closed"
    #: a first answer from the knowledge base on each new ticket (:mod:`.first_answer`)
    answer_from_kb: bool = False
    answer_min_score: float | None = None
    handoff_words: list[str] | None = None

    @classmethod
    def of(cls, config: Config, name: str) -> Settings:
        inst = config.instance("inbound", name)
        s = inst.settings
        return cls(
            name=name,
            plugin=inst.plugin,
            backend=str(s.get("backend") or ""),
            reply_channel=s.get("reply_channel"),
            public_url=s.get("public_url"),
            acknowledge=bool(s.get("acknowledge", False)),
            acknowledgement=str(s.get("acknowledgement") or cls.acknowledgement),
            tags=[str(t) for t in s.get("tags") or []],
            priority=str(s.get("priority") or "normal"),
            window_closed_tag=str(s.get("window_closed_tag") or cls.window_closed_tag),
            answer_from_kb=bool(s.get("answer_from_kb", False)),
            answer_min_score=(
                float(s["answer_min_score"]) if s.get("answer_min_score") is not None else None
            ),
            handoff_words=(
                [str(w) for w in s["handoff_words"]] if s.get("handoff_words") is not None else None
            ),
        )


def chain(
    *hooks: Callable[[InboundMessage, str], None] | None,
) -> Callable[[InboundMessage, str], None] | None:
    """One ``on_created`` hook running ``hooks`` in order (the acknowledgement, then the first
    answer from the knowledge base); None when there is none."""
    chosen = [h for h in hooks if h is not None]
    if not chosen:
        return None

    def created(message: InboundMessage, ticket_id: str) -> None:
        for hook in chosen:
            hook(message, ticket_id)

    return created


def build_source(config: Config, host: Any, name: str, store: Store | None) -> InboundSource:
    from cstoolkit.instances import build_instance

    source: InboundSource = build_instance(config, host, "inbound", name, store)
    return source


def message_key(source: str, message_id: str) -> str:
    return f"{source}:{message_id}"


def marker_for(key: str) -> str:
    """The marker a created ticket carries (short: vendors cap tag lengths)."""
    return marker_token(f"cst-inbound:{key}", prefix="cst-in-")


def _push_run(key: str) -> str:
    """The planned-change run id of the comment for ledger ``key`` (found again after a crash)."""
    return "in-" + hashlib.sha1(key.encode()).hexdigest()[:12]


class Receiver:
    """Takes the messages of one ``[inbound.NAME]`` source into its backend."""

    def __init__(
        self,
        config: Config,
        host: Any,
        store: Store,
        name: str,
        *,
        backend: Backend | None = None,
        run_id: str | None = None,
        on_created: Callable[[InboundMessage, str], None] | None = None,
    ) -> None:
        self.config, self.host, self.store = config, host, store
        self.settings = Settings.of(config, name)
        self.name = name
        self.ledger = Ledger(store, SCOPE, run_id or uuid.uuid4().hex)
        self._backend = backend
        self.on_created = on_created

    # -- the backend ----------------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from cstoolkit.instances import build_instance

            self._backend = build_instance(
                self.config, self.host, "backends", self.settings.backend, self.store
            )
        return self._backend

    def _backend_for(self, instance: str) -> Any:
        if instance != self.settings.backend:
            from cstoolkit.instances import build_instance

            return build_instance(self.config, self.host, "backends", instance, self.store)
        return _Borrowed(self.backend)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    # -- receiving ------------------------------------------------------------------------------

    def receive(self, message: InboundMessage) -> Outcome:
        """Take one message: created, commented, duplicate, failed (a later delivery of the same
        message may try again) or in_doubt."""
        key = message_key(self.name, message.message_id)
        detail = {"source": self.name, "message": message.as_dict()}
        if not self.ledger.reserve(key, detail):
            entry = self.ledger.get(key)
            if (
                entry is not None
                and entry.state == RESERVED
                and entry.run_id != self.ledger.run_id
                and entry.lease_expired()
                and self.ledger.take_over(entry)
            ):
                return self._settle(entry)  # a dead run's: the provider's retry settles it
            state = entry.state if entry else "?"
            ticket = entry.provider_ref if entry else None
            why = "already received" if state == DONE else f"already received ({state})"
            return Outcome(self.name, message.message_id, DUPLICATE, ticket, why)
        return self._take(key, message)

    def _take(self, key: str, message: InboundMessage) -> Outcome:
        try:
            ticket_id = self._thread(message)
            if ticket_id is not None:
                return self._comment(key, message, ticket_id)
            return self._create(key, message)
        except CstError as exc:
            # Known not written (the backend refused or could not be reached before writing):
            # a later delivery of the message may try again.
            self.ledger.fail(key, str(exc))
            return Outcome(self.name, message.message_id, FAILED, None, str(exc))

    def _thread(self, message: InboundMessage) -> str | None:
        found = db.ticket_of_messages(self.store, self.name, message.thread_refs)
        if found is not None:
            return found
        if message.channel == "email":
            return None  # a mail answering nothing we know starts a ticket (subjects are not ids)
        latest = db.latest_for_contact(self.store, self.name, message.sender)
        if latest is None:
            return None
        ticket = self.store.get_ticket(latest.ticket_id)
        if ticket is not None and ticket.status.is_resolved:
            return None
        return latest.ticket_id

    def _comment(self, key: str, message: InboundMessage, ticket_id: str) -> Outcome:
        run = _push_run(key)
        already = list(push.entries(self.store, run_id=run))
        if not already:
            change = Changes(comments=[Comment(message.body(), public=True, from_requester=True)])
            item = push.PlannedChange(ticket_id, change, f"inbound:{self.name}", ledger_key=key)
            push.plan(self.store, [item], run)
        self._recorded(key, message, ticket_id, COMMENTED)
        summary = push.push(self.store, self._backend_for, run_id=run, actor=f"inbound:{self.name}")
        state = summary.results[0].state if summary.results else "pending"
        detail = "comment applied" if state == push.APPLIED else f"comment {state} in the queue"
        return Outcome(self.name, message.message_id, COMMENTED, ticket_id, detail)

    def _create(self, key: str, message: InboundMessage) -> Outcome:
        if not self.ledger.confirm(key):
            why = f"not created: {self.ledger.holder(key)}"
            return Outcome(self.name, message.message_id, DUPLICATE, None, why)
        try:
            external = self.backend.create(self._new_ticket(key, message))
        except Exception as exc:
            # Created or not is unknown (a timeout after sending, a refusal, a bug): never
            # created again blindly. The lease is given up, so the provider's next delivery or
            # the next serve/poll settles it by the marker, or leaves it in doubt.
            why = f"creating the ticket: {type(exc).__name__}: {exc}"
            self.ledger.abandon(key, why)
            log.warning("inbound %s: %s", key, why)
            return Outcome(self.name, message.message_id, FAILED, None, why)
        ticket_id = qualify(self.settings.backend, str(external))
        self._recorded(key, message, ticket_id, CREATED)
        if self.on_created is not None:
            self.on_created(message, ticket_id)
        return Outcome(self.name, message.message_id, CREATED, ticket_id, "ticket created")

    def _new_ticket(self, key: str, message: InboundMessage) -> NewTicket:
        subject = message.subject or _subject(message)
        email = message.sender if message.channel == "email" else None
        phone = None if message.channel == "email" else message.sender
        return NewTicket(
            subject=subject,
            description=message.body(),
            requester_email=email,
            requester_name=message.sender_name,
            requester_phone=phone,
            priority=self.settings.priority,
            channel=message.channel,
            tags=list(self.settings.tags),
            marker=marker_for(key),
            language=_language(message),
        )

    def _recorded(self, key: str, message: InboundMessage, ticket_id: str, action: str) -> None:
        db.record(
            self.store, self.name, message.message_id, db.IN, message.channel, message.sender,
            ticket_id, message.received_at,
        )  # fmt: skip
        self.ledger.commit(key, ticket_id, action=action)

    # -- after a crash --------------------------------------------------------------------------

    def recover(self) -> list[Outcome]:
        """Settle reservations of dead runs (their lease ran out): see the module docstring."""
        out = []
        for entry in self.ledger.orphans():
            if not entry.key.startswith(self.name + ":"):
                continue
            if not self.ledger.take_over(entry):
                continue
            out.append(self._settle(entry))
        return out

    def _settle(self, entry: Entry) -> Outcome:
        message = InboundMessage.from_dict(entry.detail["message"])
        key = entry.key
        planned = list(push.entries(self.store, run_id=_push_run(key)))
        if planned:
            ticket_id = planned[0].ticket_id
            self._recorded(key, message, ticket_id, COMMENTED)
            return Outcome(self.name, message.message_id, COMMENTED, ticket_id, "recovered")
        backend = self.backend
        if type(backend).find_by_marker is Backend.find_by_marker:
            why = (
                f"interrupted while creating its ticket in {self.settings.backend!r}, which "
                "cannot be searched by marker: check the helpdesk, then "
                f"`cst inbound resolve {self.name} {message.message_id}`"
            )
            self.ledger.mark_in_doubt(key, why)
            return Outcome(self.name, message.message_id, IN_DOUBT, None, why)
        found = backend.find_by_marker(marker_for(key))
        if found is not None:
            ticket_id = qualify(self.settings.backend, found)
            self._recorded(key, message, ticket_id, CREATED)
            return Outcome(self.name, message.message_id, CREATED, ticket_id, "found by marker")
        return self._take(key, message)


def in_doubt(store: Store, source: str | None = None) -> list[Entry]:
    """In-doubt messages (created or not is unknown), for status and doctor."""
    entries = Ledger(store, SCOPE, "peek").entries(IN_DOUBT)
    return [e for e in entries if source is None or e.key.startswith(source + ":")]


def pending(store: Store) -> list[Entry]:
    """Reservations still held (a live server working, or a dead one's not yet recovered)."""
    return list(Ledger(store, SCOPE, "peek").entries(RESERVED))


def resolve(store: Store, source: str, message_id: str, *, created: str | None) -> bool:
    """An operator settles an in-doubt message: ``created`` is the ticket they found (then it
    is recorded as done), or None to have it taken again on the next delivery or recovery."""
    ledger = Ledger(store, SCOPE, "operator")
    key = message_key(source, message_id)
    entry = ledger.get(key)
    if entry is None or entry.state != IN_DOUBT:
        return False
    if created is None:
        return ledger.release(key)
    message = InboundMessage.from_dict(entry.detail["message"])
    db.record(store, source, message.message_id, db.IN, message.channel, message.sender,
              created, message.received_at)  # fmt: skip
    ledger.commit(key, created, action=CREATED, resolved_by="operator")
    return True


def _language(message: InboundMessage) -> str | None:
    """The customer's language: what the message says (a mail's ``Content-Language``), else a
    guess from its words (so a first answer from the knowledge base goes out in it)."""
    from cstoolkit.knowledge.text import guess_language

    given = message.data.get("language")
    if isinstance(given, str) and given:
        return given
    return guess_language(f"{message.subject}\n{message.text}")


def _subject(message: InboundMessage) -> str:
    """A subject for a message that has none (WhatsApp, SMS): the customer's first words, so
    the ticket's question is theirs alone (the knowledge base scores the subject with the
    text; the channel and the phone are the ticket's own fields). Without words: who wrote."""
    first = " ".join(message.text.split())[:80]
    via = {"whatsapp": "WhatsApp", "sms": "SMS"}.get(message.channel, message.channel)
    return first or f"{via} from {message.sender}"


class _Borrowed:
    """The receiver's backend lent to the push engine, which closes what it is given."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        if name == "close":
            return lambda: None
        return getattr(self._backend, name)
