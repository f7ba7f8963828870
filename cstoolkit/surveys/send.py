"""The survey send engine: never sent twice, never silently lost.

For every configured survey, every ticket solved within its ``max_age`` is judged by the policy
(:func:`cstoolkit.surveys.policy.evaluate`), then by its history (ledger entry, opt-out, fatigue
limit). Each survey to send goes through the idempotence ledger (scope ``survey``)::

    reserve (+ offer row; opt-out and fatigue re-checked in the same transaction)
      -> channel.send
      -> commit (+ SURVEY_OFFERED event, same transaction)  delivered
      -> fail                                               known not delivered: retried later
      -> mark_in_doubt                                      unknown, and the channel cannot tell

The ledger's primary key decides between two concurrent runs; the ``survey:send`` lock keeps
runs apart. A reservation carries a lease its run renews while it works; a run reconciles only
the reservations whose lease expired (their owner died), after taking each over atomically:
through the channel's ``lookup`` when it is ``idempotent`` (outbox, webhook, Twilio), else
``in_doubt`` — reported on every run, resent only with ``--resend-in-doubt``. Right before each
send the owner confirms it still holds the reservation (the fencing check,
:meth:`Ledger.confirm`); if it does not, it sends nothing and reports the item ``fenced``. So
neither a forced lock release nor a second host makes a live run's survey sendable twice.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cstoolkit import model
from cstoolkit.config import Config
from cstoolkit.errors import ConfigError, CstError
from cstoolkit.instances import build_instance
from cstoolkit.messages import FAILED as R_FAILED
from cstoolkit.messages import SENT as R_SENT
from cstoolkit.messages import DeliveryResult, Message, Recipient, SurveyOffer
from cstoolkit.model import Person, Ticket
from cstoolkit.plugin import Channel, SurveyProvider
from cstoolkit.secrets import REDACTOR
from cstoolkit.store import Store
from cstoolkit.store import facts as stored_facts
from cstoolkit.store import surveys as db
from cstoolkit.store.ledger import DONE, IN_DOUBT, RESERVED, Entry, Ledger
from cstoolkit.surveys import policy as pol
from cstoolkit.surveys.outcome import (
    FAILED_NOW,
    FENCED,
    IN_DOUBT_NOW,
    LATER,
    RECONCILED,
    SENT,
    SKIPPED,
    UNKNOWN_NOW,
    WOULD_SEND,
    Item,
    SendReport,
    in_doubt_entries,
    iter_actions,
    status_summary,
)

log = logging.getLogger(__name__)

LOCK_NAME = "survey:send"
SCOPE = db.SCOPE
_RENEW_EVERY = 60.0
PERMANENT = "permanent: "
TEST_SEND_DELAY_ENV = "CSTOOLKIT_TEST_SEND_DELAY"
#: crash tests only: a file whose appearance ends the pause early (the test's barrier)
TEST_SEND_RESUME_ENV = "CSTOOLKIT_TEST_SEND_RESUME"
__all__ = [
    "FAILED_NOW", "FENCED", "IN_DOUBT_NOW", "LATER", "RECONCILED", "SENT", "SKIPPED", "UNKNOWN_NOW",
    "WOULD_SEND", "Item", "SendReport", "in_doubt_entries", "iter_actions", "load_surveys",
    "recipient_for", "send_surveys", "status_summary",
]  # fmt: skip


def recipient_for(person: Person) -> Recipient:
    raw = person.raw or {}
    phone = raw.get("phone") or raw.get("mobile") or raw.get("phone_number") or raw.get("whatsapp")
    handles = {str(k): str(v) for k, v in (raw.get("handles") or {}).items()}
    if raw.get("slack_id"):
        handles.setdefault("slack", str(raw["slack_id"]))
    return Recipient(
        id=person.id,
        name=person.name,
        email=person.email,
        phone=str(phone) if phone else None,
        language=person.language,
        timezone=person.timezone,
        handles=handles,
    )


@dataclass
class _Survey:
    name: str
    policy: pol.Policy
    provider: SurveyProvider
    link_ttl: timedelta


class _Channels:
    """Channel instances built on first use, closed at the end of the run."""

    def __init__(self, config: Config, host: Any, store: Store) -> None:
        self.config, self.host, self.store = config, host, store
        self._built: dict[str, Channel] = {}
        self.stopped: dict[str, str] = {}

    def get(self, name: str) -> Channel:
        if name not in self._built:
            self._built[name] = build_instance(self.config, self.host, "channels", name, self.store)
        return self._built[name]

    def close(self) -> None:
        for ch in self._built.values():
            try:
                ch.close()
            except Exception as exc:  # closing must never hide the run's result
                log.warning("closing channel %s: %s", ch.instance, exc)


def load_surveys(
    config: Config, host: Any, store: Store | None, only: str | None = None
) -> list[_Survey]:
    configured = config.instances("surveys")
    if only is not None:
        config.instance("surveys", only)  # raises with did-you-mean
        names = [only]
    else:
        names = sorted(configured)
    out = []
    for name in names:
        provider = build_instance(config, host, "surveys", name, store)
        policy = pol.Policy.from_settings(name, provider.config)
        if policy.kind not in provider.kinds:
            raise ConfigError(
                f"provider {configured[name].plugin!r} cannot send {policy.kind!r} surveys",
                path=config.label,
                field=f"surveys.{name}.kind",
            )
        for ch in {policy.channel, *policy.channel_for.values()}:
            if ch not in config.instances("channels"):
                config.instance("channels", ch)  # raises: no [channels.NAME]
        ttl = pol.parse_duration(
            provider.config.get("link_ttl") or "28d", f"surveys.{name}.link_ttl"
        )
        out.append(_Survey(name, policy, provider, ttl))
    return out


class _Engine:
    def __init__(
        self,
        config: Config,
        host: Any,
        store: Store,
        report: SendReport,
        surveys: list[_Survey],
        *,
        clock: Callable[[], datetime],
        on_item: Callable[[Item], None] | None,
    ) -> None:
        self.config, self.host, self.store = config, host, store
        self.report = report
        self.surveys = {s.name: s for s in surveys}
        self.clock = clock
        self.on_item = on_item
        self.channels = _Channels(config, host, store)
        self.ledger = Ledger(store, SCOPE, report.run_id)
        self.lock: Any = None
        self._renewed = time.monotonic()
        self._groups: dict[str, str | None] = {}
        self._people: dict[str, str] = {}
        self._planned: set[str] = set()  # dry run: who this run would already survey

    # -- helpers ---------------------------------------------------------------------------

    def add(self, item: Item) -> None:
        self.report.items.append(item)
        if self.on_item is not None:
            self.on_item(item)

    def tick(self) -> None:
        self.ledger.keep_alive()
        if self.lock is not None and time.monotonic() - self._renewed > _RENEW_EVERY:
            self.lock.renew()
            self._renewed = time.monotonic()

    def group_name(self, group_id: str | None) -> str | None:
        if not group_id:
            return None
        if group_id not in self._groups:
            g = self.store.group(group_id)
            self._groups[group_id] = g.name if g else None
        return self._groups[group_id]

    def agent_name(self, assignee_id: str | None) -> str:
        if not assignee_id:
            return ""
        if assignee_id not in self._people:
            p = self.store.person(assignee_id)
            self._people[assignee_id] = p.name if p else ""
        return self._people[assignee_id]

    def survey_for(self, name: str) -> _Survey | None:
        if name not in self.surveys:
            try:
                found = load_surveys(self.config, self.host, self.store, name)
            except CstError:
                return None
            self.surveys[name] = found[0]
        return self.surveys[name]

    def offer_for(
        self,
        sv: _Survey,
        ticket: Ticket,
        requester: Person,
        facts: pol.FactsOrEvents,
        cycle: int,
        key: str,
        now: datetime,
        *,
        offered_at: datetime | None = None,
        expires_at: datetime | None = None,
        language: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> SurveyOffer:
        recipient = recipient_for(requester)
        lang = language or (
            pol.normalize_language(requester.language)
            or pol.normalize_language(ticket.language)
            or sv.policy.default_language
        )
        templates = getattr(sv.provider, "templates", None)
        if language is None and templates is not None:
            lang = templates.pick_language(
                [
                    pol.normalize_language(requester.language),
                    pol.normalize_language(ticket.language),
                ],
                sv.policy.kind,
                sv.policy.default_language,
            )
        start = offered_at or now
        return SurveyOffer(
            key=key,
            survey=sv.name,
            kind=sv.policy.kind,
            ticket_id=ticket.id,
            ticket_external_id=ticket.external_id,
            cycle=cycle,
            recipient=recipient,
            language=lang,
            offered_at=start,
            expires_at=expires_at or (start + sv.link_ttl),
            subject=ticket.subject,
            agent_name=self.agent_name(ticket.assignee_id),
            last_inbound_at=pol.last_inbound_at(ticket, facts),
            data=dict(data or {}),
        )

    # -- reconciliation ------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Settle reservations whose owner stopped renewing them (lease expired); a live
        owner's reservation is never touched, whatever happened to the run lock."""
        for entry in self.ledger.orphans():
            self.tick()
            if self.ledger.take_over(entry):  # False: its owner renewed it, or another run won
                self._reconcile_one(entry)

    def _reconcile_one(self, entry: Entry) -> None:
        row = db.get_offer(self.store, entry.key)
        survey, ticket_id = pol.split_key(entry.key)
        item = Item(survey, ticket_id, RECONCILED, key=entry.key)
        dead = f"run {entry.run_id[:8]} stopped between send and commit (its lease expired)"
        if row is None:
            self.ledger.mark_in_doubt(entry.key, f"{dead}; no offer record")
            item.action, item.reason = IN_DOUBT_NOW, f"{dead}; no offer record"
            self.add(item)
            return
        item.channel, item.address, item.requester = row.channel, row.address, row.requester_id
        try:
            channel = self.channels.get(row.channel)
        except CstError as exc:
            self.ledger.mark_in_doubt(entry.key, f"{dead}; channel unavailable: {exc}")
            item.action, item.reason = IN_DOUBT_NOW, f"{dead}; channel unavailable: {exc}"
            self.add(item)
            return
        if not channel.idempotent:
            why = f"{dead}; channel {row.channel!r} cannot tell whether it was delivered"
            self.ledger.mark_in_doubt(entry.key, why)
            item.action, item.reason = IN_DOUBT_NOW, why
            self.add(item)
            return
        message = self._recompose(row)
        try:
            found = channel.lookup(entry.key, message=message, since=entry.reserved_at)
        except NotImplementedError:
            self.ledger.fail(
                entry.key, "reconciled: resending with the same idempotency key (no lookup)"
            )
            return
        except Exception as exc:
            err = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
            self.ledger.abandon(entry.key, f"lookup failed: {err}")  # the next run tries again
            self.report.errors.append(f"{entry.key}: lookup failed, left for the next run: {err}")
            return
        if found is not None and found.ok:
            self._commit(row, found.provider_ref, self.clock())
            item.provider_ref = found.provider_ref
            item.reason = "found by lookup after a crashed run"
            self.add(item)
        else:
            self.ledger.fail(entry.key, "reconciled: lookup found no delivery")

    def _recompose(self, row: db.OfferRow) -> Message | None:
        sv = self.survey_for(row.survey)
        ticket = self.store.get_ticket(row.ticket_id)
        if sv is None or ticket is None or not ticket.requester_id:
            return None
        requester = self.store.person(ticket.requester_id)
        if requester is None:
            return None
        facts = stored_facts.for_ticket(self.store, ticket)
        offer = self.offer_for(
            sv, ticket, requester, facts, row.cycle, row.key, self.clock(),
            offered_at=row.offered_at, expires_at=row.expires_at, language=row.language,
            data=row.data,
        )  # fmt: skip
        try:
            return sv.provider.compose(offer, self.channels.get(row.channel))
        except Exception as exc:
            log.warning("cannot compose %s again: %s", row.key, exc)
            return None

    def release_in_doubt(self, names: set[str]) -> None:
        for entry in list(self.ledger.entries(IN_DOUBT)):
            if pol.split_key(entry.key)[0] in names:
                self.ledger.release(entry.key)

    # -- the main loop -------------------------------------------------------------------------

    def run_survey(self, sv: _Survey, dry_run: bool) -> None:
        now = self.clock()
        policy = sv.policy
        for ticket, requester in db.solved_since(self.store, now - policy.max_age):
            self.tick()
            facts = stored_facts.for_ticket(self.store, ticket)
            base = Item(policy.survey, ticket.id, SKIPPED, requester=ticket.requester_id)
            decision = pol.evaluate(
                policy, ticket, requester, facts, now,
                group_name=self.group_name(ticket.group_id),
            )  # fmt: skip
            if decision.action != pol.SEND:
                base.action = LATER if decision.action == pol.LATER else SKIPPED
                base.reason, base.due_at = decision.reason, decision.due_at
                self.add(base)
                continue
            assert requester is not None
            cycle = pol.resolution_cycle(ticket, facts)
            key = pol.ledger_key(policy, ticket.id, cycle)
            base.key = key
            entry = self.ledger.get(key)
            why = self._history_block(entry, policy)
            if why:
                base.reason = why
                self.add(base)
                continue
            channel_name = policy.channel_for_ticket(ticket)
            base.channel = channel_name
            if channel_name in self.channels.stopped:
                base.action, base.reason = (
                    LATER,
                    f"channel stopped: {self.channels.stopped[channel_name]}",
                )
                self.add(base)
                continue
            channel = self.channels.get(channel_name)
            recipient = recipient_for(requester)
            address = channel.address(recipient)
            base.address = address
            if not address:
                base.reason = f"no {channel.address_kind} address for the requester"
                self.add(base)
                continue
            if dry_run:  # a real run checks both under the write lock, in _reserve
                if db.is_opted_out(self.store, requester.id, recipient.email, recipient.phone):
                    base.reason = "opted out"
                    self.add(base)
                    continue
                fatigue = self._fatigued(requester.id, address, key, now, policy)
                if fatigue:
                    base.reason = fatigue
                    self.add(base)
                    continue
            offer = self.offer_for(sv, ticket, requester, facts, cycle, key, now)
            base.language = offer.language
            try:
                message = sv.provider.compose(offer, channel)
            except CstError:
                raise
            except Exception as exc:
                base.action = FAILED_NOW
                base.reason = f"compose failed: {type(exc).__name__}: {exc}"
                self.add(base)
                continue
            base.language = message.language
            if dry_run:
                if policy.fatigue:
                    self._planned.update({requester.id, address})
                base.action = WOULD_SEND
                base.reason = f"{policy.kind} via {channel_name}"
                self.add(base)
                continue
            self._deliver(sv, base, offer, message, channel, entry, address)

    def _history_block(self, entry: Entry | None, policy: pol.Policy) -> str:
        if entry is None:
            return ""
        if entry.state == DONE:
            return "already surveyed"
        if entry.state == IN_DOUBT:
            return "in doubt (resend on purpose with --resend-in-doubt)"
        if entry.state == RESERVED:
            return "being sent by another run"
        error = str(entry.detail.get("error", ""))
        if error.startswith(PERMANENT):
            return f"failed permanently: {error.removeprefix(PERMANENT)}"
        attempts = int(entry.detail.get("attempts", 0))
        if attempts >= policy.max_attempts:
            return f"gave up after {attempts} failed attempts: {error}"
        return ""

    def _fatigued(
        self, requester_id: str, address: str, key: str, now: datetime, policy: pol.Policy
    ) -> str:
        if not policy.fatigue:
            return ""
        if requester_id in self._planned or address in self._planned:
            return f"fatigue: surveyed earlier in this run (fatigue_days {policy.fatigue.days})"
        last = db.last_offer_at(self.store, requester_id, address, key)
        if last is not None and now - last < policy.fatigue:
            days = (now - last).days
            return f"fatigue: surveyed {days}d ago (fatigue_days {policy.fatigue.days})"
        return ""

    def _reserve(self, offer: SurveyOffer, message: Message, channel: str, address: str,
                 attempts: int, policy: pol.Policy) -> tuple[str, db.OfferRow]:  # fmt: skip
        """Claim the key; ('', row) on success, else why not (another run, opted out, fatigue)."""
        row = db.OfferRow(
            key=offer.key,
            survey=offer.survey,
            kind=offer.kind,
            ticket_id=offer.ticket_id,
            cycle=offer.cycle,
            requester_id=offer.recipient.id,
            address=address,
            channel=channel,
            language=message.language,
            offered_at=offer.offered_at,
            expires_at=offer.expires_at,
            data=offer.data,
        )
        r = offer.recipient
        with self.store.transaction() as cur:
            # Re-checked under the write lock: another process may have acted since we looked.
            if db.is_opted_out(self.store, r.id, r.email, r.phone):
                return "opted out", row
            why = self._fatigued(r.id or "", address, offer.key, offer.offered_at, policy)
            if why:
                return why, row
            detail = {"survey": offer.survey, "channel": channel, "attempts": attempts}
            if not self.ledger.reserve(offer.key, detail):
                return "already surveyed (claimed by another run)", row
            db.put_offer(cur, row)
        return "", row

    def _commit(self, row: db.OfferRow, provider_ref: str | None, at: datetime) -> None:
        with self.store.transaction() as cur:
            self.ledger.commit(row.key, provider_ref, delivered_at=at.isoformat())
            db.insert_event(cur, db.offered_event(row, at, provider_ref))

    def _deliver(
        self,
        sv: _Survey,
        item: Item,
        offer: SurveyOffer,
        message: Message,
        channel: Channel,
        entry: Entry | None,
        address: str,
    ) -> None:
        attempts = int(entry.detail.get("attempts", 0)) + 1 if entry is not None else 1
        assert item.channel is not None
        why, row = self._reserve(offer, message, item.channel, address, attempts, sv.policy)
        if why:
            item.reason = why
            self.add(item)
            return
        if entry is not None and channel.idempotent:
            # A retry: the earlier attempt may have gone through after all.
            try:
                found = channel.lookup(offer.key, message=message, since=entry.reserved_at)
            except NotImplementedError:
                found = None  # the provider deduplicates by the idempotency key
            except Exception as exc:  # cannot tell: try again next run, never send blindly
                why = REDACTOR.redact(f"lookup before a retry failed: {type(exc).__name__}: {exc}")
                self.ledger.fail(offer.key, why)
                item.action, item.reason = FAILED_NOW, why
                self.add(item)
                return
            if found is not None and found.ok:
                self._commit(row, found.provider_ref, self.clock())
                item.action, item.provider_ref = RECONCILED, found.provider_ref
                item.reason = "an earlier attempt was delivered after all"
                self.add(item)
                return
        _test_pause()
        if not self.ledger.confirm(offer.key):  # the fencing check: still ours, lease extended
            item.action = FENCED
            item.reason = f"not sent: this run no longer holds it ({self.ledger.holder(offer.key)})"
            self.add(item)
            return
        try:
            result = channel.send(message)
        except Exception as exc:  # an exception is an unknown outcome, never a known failure
            detail = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
            result = DeliveryResult.unknown(detail)
        self._settle(item, row, message, channel, result)

    def _settle(
        self,
        item: Item,
        row: db.OfferRow,
        message: Message,
        channel: Channel,
        result: DeliveryResult,
    ) -> None:
        detail = REDACTOR.redact(result.detail)
        if result.stop:
            self.channels.stopped[channel.instance] = detail or "stopped"
        if result.outcome == R_SENT:
            self._commit(row, result.provider_ref, self.clock())
            item.action, item.provider_ref = SENT, result.provider_ref
            item.reason = f"{row.kind} via {channel.instance}"
        elif result.outcome == R_FAILED:
            self.ledger.fail(row.key, (PERMANENT if result.permanent else "") + detail)
            item.action, item.reason = FAILED_NOW, detail
        elif channel.idempotent:
            found = None
            try:
                found = channel.lookup(row.key, message=message, since=row.offered_at)
            except NotImplementedError:
                pass  # the provider deduplicates by the idempotency key: resending is safe
            except Exception as exc:
                # Neither delivered nor known not to be: the next run reconciles it by lookup.
                why = REDACTOR.redact(
                    f"outcome unknown ({detail}) and the lookup failed: {type(exc).__name__}: {exc}"
                )
                self.ledger.abandon(row.key, why)
                item.action, item.reason = UNKNOWN_NOW, f"{why}; reconciled by the next run"
                self.add(item)
                return
            if found is not None and found.ok:
                self._commit(row, found.provider_ref, self.clock())
                item.action, item.provider_ref = SENT, found.provider_ref
                item.reason = f"{row.kind} via {channel.instance} (confirmed by lookup)"
            else:
                self.ledger.fail(row.key, f"outcome unknown ({detail}); safe to resend")
                item.action, item.reason = FAILED_NOW, f"outcome unknown: {detail}"
        else:
            self.ledger.mark_in_doubt(row.key, detail or "outcome unknown")
            item.action, item.reason = IN_DOUBT_NOW, detail or "outcome unknown"
        self.add(item)


def _test_pause() -> None:
    """``CSTOOLKIT_TEST_SEND_DELAY`` (seconds): a pause between reserve and the fencing check,
    for crash tests only (a run that stalls longer than its lease); it ends early when the file
    named by ``CSTOOLKIT_TEST_SEND_RESUME`` appears, so a test can let the stalled run go on
    exactly after another run took its reservation over, however slow the machine is."""
    import os

    try:
        delay = max(0.0, float(os.environ.get(TEST_SEND_DELAY_ENV) or 0))
    except ValueError:
        return
    resume = os.environ.get(TEST_SEND_RESUME_ENV)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if resume and os.path.exists(resume):
            return
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def send_surveys(
    config: Config,
    host: Any,
    store: Store,
    *,
    survey: str | None = None,
    dry_run: bool = False,
    resend_in_doubt: bool = False,
    use_lock: bool = True,
    clock: Callable[[], datetime] | None = None,
    on_item: Callable[[Item], None] | None = None,
    run_id: str | None = None,
) -> SendReport:
    """Send every due survey (or, with ``dry_run``, say what would be sent and why not).

    ``use_lock=False`` is for tests that prove the ledger alone prevents duplicates (the
    reconciliation is safe without the lock: it only takes reservations whose lease expired).
    """
    import uuid

    started = time.monotonic()
    clock = clock or model.now
    report = SendReport(dry_run=dry_run, run_id=run_id or uuid.uuid4().hex)
    surveys = load_surveys(config, host, store, survey)
    report.surveys = [s.name for s in surveys]
    engine = _Engine(config, host, store, report, surveys, clock=clock, on_item=on_item)
    names = {s.name for s in surveys}
    lock_cm: contextlib.AbstractContextManager[Any]
    if dry_run or not use_lock:
        lock_cm = contextlib.nullcontext()
    else:
        from cstoolkit.store.locks import hold

        lock_cm = hold(store, LOCK_NAME)
    try:
        with lock_cm as lock:
            engine.lock = lock
            if not dry_run:
                engine.reconcile()
            if resend_in_doubt and not dry_run:
                engine.release_in_doubt(names)
            for sv in surveys:
                engine.run_survey(sv, dry_run)
    finally:
        engine.channels.close()
        report.in_doubt = in_doubt_entries(store, names)
        report.seconds = time.monotonic() - started
    for name, why in engine.channels.stopped.items():
        report.errors.append(f"channel {name} stopped: {why}")
    return report
