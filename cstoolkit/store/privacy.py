"""The privacy suppression list: forgotten people stay forgotten when the next sync runs.

``cst privacy forget`` (:mod:`cstoolkit.ops.privacy`) adds keyed hashes of a person's id and
email to ``privacy_suppressions``. :func:`suppress_page` is called by ``Store.upsert_page``
inside the page's transaction and rewrites a page before it is stored: a suppressed person
becomes a pseudonym (same pseudonym as the erasure gave, so counts per person still add up),
their tickets lose subject, description, custom fields and raw payload, and comment bodies they
wrote (or written on their tickets) are dropped. With an empty list it costs one indexed
``SELECT``; otherwise one set lookup per person id and email in the page (hashes are cached).

The hashes are HMAC-SHA256 under a random per-store salt (plugin_state ``_privacy``/``salt``),
so the list does not reveal a guessable address to someone who has only the list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import Any

from cstoolkit.model import Event, EventKind, Page, Person, Ticket, now
from cstoolkit.store.codec import dumps, to_epoch

SALT_INSTANCE = "_privacy"
SALT_KEY = "salt"
PSEUDONYM_MARK = "forgotten-"


def salt(cur: Any, *, create: bool = False) -> str | None:
    """The store's salt (created on first use when ``create``; call inside a transaction)."""
    row = cur.execute(
        "SELECT value FROM plugin_state WHERE instance = ? AND key = ?", (SALT_INSTANCE, SALT_KEY)
    ).fetchone()
    if row is not None:
        return str(row[0]).strip('"')
    if not create:
        return None
    value = secrets.token_hex(32)
    cur.execute(
        "INSERT INTO plugin_state (instance, key, value, updated_at) VALUES (?, ?, ?, ?)",
        (SALT_INSTANCE, SALT_KEY, dumps(value), to_epoch(now())),
    )
    return value


@lru_cache(maxsize=65536)
def digest(salt_value: str, value: str) -> str:
    """The keyed hash of an id or email (emails and ids compared case-insensitively)."""
    return hmac.new(
        salt_value.encode(), value.strip().lower().encode("utf-8"), hashlib.sha256
    ).hexdigest()


def pseudonym(salt_value: str, person_id: str) -> str:
    """A stable stand-in id for a forgotten person, in the same instance."""
    instance = person_id.split(":", 1)[0] if ":" in person_id else "unknown"
    tag = digest(salt_value, "pseudonym:" + person_id)[:16]
    return f"{instance}:{PSEUDONYM_MARK}{tag}"


def is_pseudonym(person_id: str | None) -> bool:
    return bool(person_id) and f":{PSEUDONYM_MARK}" in str(person_id)


def add(cur: Any, salt_value: str, values: list[tuple[str, str]]) -> list[str]:
    """Add (kind, value) pairs to the list; return their hashes."""
    stamp = to_epoch(now())
    hashes = []
    for kind, value in values:
        h = digest(salt_value, value)
        hashes.append(h)
        cur.execute(
            "INSERT INTO privacy_suppressions (hash, kind, at) VALUES (?, ?, ?) "
            "ON CONFLICT (hash) DO NOTHING",
            (h, kind, stamp),
        )
    return hashes


def forgotten_person(p: Person, pseudo: str) -> Person:
    return Person(
        id=pseudo,
        instance=p.instance,
        external_id=pseudo.split(":", 1)[1],
        role=p.role,
        organization=p.organization,
        plan=p.plan,
        language=p.language,
        timezone=p.timezone,
        groups=list(p.groups),
    )


def suppress_page(cur: Any, page: Page) -> Page:
    """``page`` with suppressed people pseudonymised (the same object when none is)."""
    if cur.execute("SELECT 1 FROM privacy_suppressions LIMIT 1").fetchone() is None:
        return page
    salt_value = salt(cur)
    if salt_value is None:
        return page
    hashes = {r[0] for r in cur.execute("SELECT hash FROM privacy_suppressions")}
    found: dict[str, str] = {}  # suppressed person id -> pseudonym
    learned: list[tuple[str, str]] = []
    # One hash lookup per distinct person id and email of the page; the loops below only do
    # dictionary lookups in ``found``.
    people_ids: set[str] = {p.id for p in page.people}
    people_ids.update(t.requester_id for t in page.tickets if t.requester_id)
    people_ids.update(t.assignee_id for t in page.tickets if t.assignee_id)
    people_ids.update(e.author_id for e in page.events if e.author_id)
    for e in page.events:
        if e.kind == EventKind.ASSIGNMENT:
            people_ids.update(v for v in (e.old, e.new) if v)
    for person_id in people_ids:
        if not is_pseudonym(person_id) and digest(salt_value, person_id) in hashes:
            found[person_id] = pseudonym(salt_value, person_id)
    for p in page.people:
        if p.id not in found and p.email and digest(salt_value, p.email) in hashes:
            found[p.id] = pseudonym(salt_value, p.id)
            learned.append(("person_id", p.id))  # later pages may hold the id without the email
    blank_tickets = {t.id for t in page.tickets if t.requester_id in found}
    in_page = {t.id for t in page.tickets}
    orphan_ids = sorted({e.ticket_id for e in page.events if e.ticket_id not in in_page})
    for i in range(0, len(orphan_ids), 500):  # events-only pages: tickets stored as forgotten
        chunk = orphan_ids[i : i + 500]
        blank_tickets.update(
            r[0]
            for r in cur.execute(
                f"SELECT id FROM tickets WHERE id IN ({','.join('?' * len(chunk))}) "
                f"AND requester_id LIKE '%:{PSEUDONYM_MARK}%'",
                chunk,
            )
        )
    if not found and not blank_tickets:
        return page
    if learned:
        add(cur, salt_value, learned)
    people = [forgotten_person(p, found[p.id]) if p.id in found else p for p in page.people]
    tickets: list[Ticket] = []
    for t in page.tickets:
        if t.requester_id not in found and t.assignee_id not in found:
            tickets.append(t)
            continue
        changes: dict[str, Any] = {}
        if t.assignee_id in found:
            changes["assignee_id"] = found[t.assignee_id]
        if t.requester_id in found:
            changes.update(
                requester_id=found[t.requester_id],
                subject="",
                description="",
                custom_fields={},
                raw={},
            )
        tickets.append(dataclasses.replace(t, **changes))
    events: list[Event] = []
    for e in page.events:
        if (
            e.author_id not in found
            and e.ticket_id not in blank_tickets
            and e.old not in found
            and e.new not in found
        ):
            events.append(e)
            continue
        author = found.get(e.author_id or "", e.author_id)
        old = found.get(e.old or "", e.old) if e.kind == EventKind.ASSIGNMENT else e.old
        new = found.get(e.new or "", e.new) if e.kind == EventKind.ASSIGNMENT else e.new
        events.append(
            dataclasses.replace(
                e,
                author_id=author,
                old=old,
                new=new,
                body=None,
                data={} if e.body is not None else e.data,
            )
        )
    return dataclasses.replace(page, people=people, tickets=tickets, events=events)
