"""``cst privacy forget``: erase a person's data from the store and keep it out.

For each stored person matching REQUESTER (a person id such as ``desk:u-17``, or an email,
compared case-insensitively), in one transaction:

* the person becomes a pseudonym (``desk:forgotten-<hash>``) everywhere an id points to them:
  people, tickets (requester, assignee), events (author, assignment old/new), survey offers and
  answers; the people row keeps role, organization, plan, language, time zone and groups and
  loses name, email and raw payload;
* their tickets lose subject, description, custom fields and raw payload; comment bodies on
  their tickets and comment bodies they wrote anywhere are erased (events keep kind, time,
  public flag and pseudonymous author, so first-reply times and counts survive);
* survey offers lose the address, answers lose the free-text comment (the score stays),
  opt-outs are kept as a hash (they were asked never to be surveyed: that still holds);
* ledger details, planned changes, triage snapshots and audit details naming the email or id
  are scrubbed (ledger keys and states stay: never-twice guarantees hold);
* keyed hashes of the id(s) and the email(s) join the suppression list applied at ingest
  (:mod:`cstoolkit.store.privacy`), so the next sync stores the pseudonym, not the person;
* one audit entry ``privacy.forget`` records counts and the suppression hash, not the person.

* backends forget which of their people they found or created by phone (the memory of
  :func:`cstoolkit.backends.requesters.person_by_phone`): the entry of a forgotten phone number
  and every entry naming a forgotten person's id.

Not touched: the helpdesks themselves (erase the person there too), backups made before, the
rest of the plugin key-value area.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.backends.requesters import PHONES_KEY, phone_key
from cstoolkit.model import now
from cstoolkit.store import audit, columns, erasure, facts
from cstoolkit.store import privacy as sup
from cstoolkit.store import routing as routing_models

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

REDACTED = "[forgotten]"


@dataclass
class ForgetReport:
    people: int = 0
    suppression: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return self.people > 0 or any(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {"people": self.people, "suppression": self.suppression, **self.counts}


def _scrub(value: Any, needles: list[str], mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        if value in mapping:
            return mapping[value]
        low = value.lower()
        for n in needles:
            if n and n.lower() in low:
                return REDACTED
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, needles, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, needles, mapping) for v in value]
    return value


def _forget_phones(tx: Any, value: str, ids: list[str]) -> int:
    """Drop the backends' memory of who has a phone (see the module) for ``value`` and ``ids``."""
    keys = (
        {phone_key(value)}
        if re.fullmatch(r"(whatsapp:)?\+?[\d\s().-]*\d[\d\s().-]*", value)
        else set()
    )
    named = {tuple(pid.split(":", 1)) for pid in ids if ":" in pid}
    return erasure.drop_state_entries(
        tx,
        PHONES_KEY,
        lambda instance, key, vendor_id: key in keys or (instance, vendor_id) in named,
    )


def forget(store: Store, requester: str, *, actor: str = "cst") -> ForgetReport:
    """Erase ``requester`` (email or person id) from the store and suppress it at ingest."""
    value = requester.strip()
    report = ForgetReport()
    c: dict[str, int] = dict.fromkeys(
        ("tickets", "events", "survey_offers", "survey_answers", "opt_outs", "ledger",
         "planned_changes", "triage_snapshots", "audit_entries", "inbound_messages",
         "remembered_phones"),
        0)  # fmt: skip
    with store.transaction() as tx:
        salt = sup.salt(tx, create=True)
        assert salt is not None
        people = [p for p in erasure.people_matching(tx, value) if not sup.is_pseudonym(p[0])]
        emails = {e.lower() for _, e in people if e}
        if "@" in value:
            emails.add(value.lower())
        ids = [pid for pid, _ in people]
        if "@" not in value and value not in ids:
            ids.append(value)  # a person id not stored yet: suppress it anyway
        mapping = {pid: sup.pseudonym(salt, pid) for pid in ids}
        report.people = len(people)
        touched: set[str] = set()
        for pid, pseudo in mapping.items():
            touched |= facts.tickets_of_person(tx, pid)
            erasure.erase_person(tx, pid, pseudo, c)
        facts.refresh(tx, sorted(touched))  # authors, assignees and survey answers changed
        # models trained on their text must be retrained (docs/routing.md)
        c["routing_models"] = routing_models.mark_stale_for_tickets(
            tx, sorted(touched), "privacy forget: a customer's text was erased", now()
        )
        for email in emails:
            c["survey_offers"] += erasure.blank_offer_addresses(tx, email)
        for optout_value in [*emails, *ids]:
            c["opt_outs"] += erasure.hash_optouts(
                tx,
                optout_value,
                lambda old: "forgotten:" + sup.digest(salt, old)[:32],
                mapping.get(optout_value),
            )
        needles = [*emails, *ids]
        for contact in needles:
            c["inbound_messages"] += erasure.hash_inbound_contacts(
                tx, contact, lambda old: "forgotten:" + sup.digest(salt, old.lower())[:32]
            )
        if needles:
            erasure.scrub_documents(tx, needles, lambda v: _scrub(v, needles, mapping), c)
            erasure.retarget_audit(tx, mapping)
        c["remembered_phones"] = _forget_phones(tx, value, ids)
        hashes = sup.add(
            tx, salt, [("person_id", i) for i in ids] + [("email", e) for e in sorted(emails)]
        )
        report.suppression = hashes[0][:16] if hashes else ""
        report.counts = c
        audit.write(
            tx,
            actor,
            "privacy.forget",
            None,
            {**report.as_dict(), "pseudonyms": sorted(mapping.values())},
        )
        columns.refresh(store)  # the report's columns drop the erased ids in this transaction
    return report
