"""Erasing a person from the store's rows (``cst privacy forget``'s writes).

:mod:`cstoolkit.ops.privacy` decides who is forgotten and how a JSON document is scrubbed; the
functions here are the rows that decision touches. Each takes the cursor of the caller's write
transaction (``with store.transaction() as tx``), so a whole erasure commits or rolls back at
once, and returns how many rows it changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cstoolkit.store.codec import dumps

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

#: JSON documents that may name a person: (count key, table, key columns, column).
DOCUMENTS = (
    ("ledger", "ledger", ("scope", "key"), "detail"),
    ("planned_changes", "planned_changes", ("id",), "changes"),
    ("planned_changes", "planned_changes", ("id",), "old_values"),
    ("planned_changes", "planned_changes", ("id",), "reason"),
    ("triage_snapshots", "triage_recipe_state", ("recipe", "ticket_id"), "snapshot"),
    ("audit_entries", "audit_log", ("id",), "details"),
)


def naming_in_events(column: str, person_id: str) -> tuple[str, tuple[str, ...]]:
    """The condition (and its parameters) on ``events.<column>`` (``old`` or ``new``) that finds
    ``person_id`` there: its qualified id, or its bare external id on a ticket of its own
    instance (backends write an assignment's ``old``/``new`` as the helpdesk names the agent,
    and the timeline qualifies a bare value with the ticket's instance)."""
    instance, _, external = person_id.partition(":")
    prefix = f"{instance}:"
    return (
        f"({column} = ? OR ({column} = ? AND substr(ticket_id, 1, {len(prefix)}) = ?))",
        (person_id, external, prefix),
    )


def people_matching(tx: Any, value: str) -> list[tuple[str, str | None]]:
    """(id, email) of the stored people whose id is ``value`` or whose email is ``value``
    (compared case-insensitively)."""
    rows = tx.execute(
        "SELECT id, email FROM people WHERE id = ? OR (email IS NOT NULL AND lower(email) = "
        "lower(?))",
        (value, value),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def erase_person(tx: Any, pid: str, pseudo: str, counts: dict[str, int]) -> None:
    """Replace person ``pid`` by ``pseudo`` everywhere an id points to them and erase what
    they wrote or asked; add the rows changed to ``counts`` (tickets, events, survey_offers,
    survey_answers, triage_snapshots)."""
    instance, external = pseudo.split(":", 1)
    row = tx.execute("SELECT 1 FROM people WHERE id = ?", (pseudo,)).fetchone()
    if row is not None:
        tx.execute("DELETE FROM people WHERE id = ?", (pid,))
    else:
        tx.execute(
            "UPDATE people SET id = ?, instance = ?, external_id = ?, name = '', email = NULL, "
            "domain = NULL, raw = '{}' WHERE id = ?",
            (pseudo, instance, external, pid),
        )
    tickets = [r[0] for r in tx.execute("SELECT id FROM tickets WHERE requester_id = ?", (pid,))]
    tx.execute(
        "UPDATE tickets SET requester_id = ?, subject = '', description = '', "
        "custom_fields = '{}', raw = '{}', payload_hash = 'forgotten' WHERE requester_id = ?",
        (pseudo, pid),
    )
    counts["tickets"] += tx.rowcount
    tx.execute(
        "UPDATE tickets SET assignee_id = ?, payload_hash = 'forgotten' WHERE assignee_id = ?",
        (pseudo, pid),
    )
    for i in range(0, len(tickets), _CHUNK):
        chunk = tickets[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        tx.execute(
            f"UPDATE events SET body = NULL, data = '{{}}' WHERE ticket_id IN ({marks}) "
            "AND body IS NOT NULL",
            chunk,
        )
        counts["events"] += tx.rowcount
        tx.execute(f"DELETE FROM triage_recipe_state WHERE ticket_id IN ({marks})", chunk)
        counts["triage_snapshots"] += tx.rowcount
    tx.execute(
        "UPDATE events SET author_id = ?, body = NULL, "
        "data = CASE WHEN body IS NULL THEN data ELSE '{}' END WHERE author_id = ?",
        (pseudo, pid),
    )
    counts["events"] += tx.rowcount
    for column in ("old", "new"):
        where, params = naming_in_events(column, pid)
        tx.execute(f"UPDATE events SET {column} = ? WHERE {where}", (pseudo, *params))
    tx.execute(
        "UPDATE survey_offers SET requester_id = ?, address = NULL, data = '{}' "
        "WHERE requester_id = ?",
        (pseudo, pid),
    )
    counts["survey_offers"] += tx.rowcount
    tx.execute(
        "UPDATE survey_answers SET requester_id = ?, comment = '' WHERE requester_id = ?",
        (pseudo, pid),
    )
    counts["survey_answers"] += tx.rowcount


def blank_offer_addresses(tx: Any, email: str) -> int:
    """Erase the address (and message data) of survey offers sent to ``email`` (lower case)."""
    tx.execute(
        "UPDATE survey_offers SET address = NULL, data = '{}' WHERE lower(address) = ?", (email,)
    )
    return int(tx.rowcount)


def hash_optouts(tx: Any, value: str, hashed: Callable[[str], str], pseudo: str | None) -> int:
    """Replace the opt-outs of ``value`` (an address or a person id) by ``hashed(address)``,
    pointing at ``pseudo``: they were asked never to be surveyed, and that still holds."""
    changed = 0
    rows = tx.execute(
        "SELECT value FROM survey_optouts WHERE lower(value) = lower(?) OR requester_id = ?",
        (value, value),
    ).fetchall()
    for (old,) in rows:
        new = hashed(old)
        tx.execute("DELETE FROM survey_optouts WHERE value = ?", (new,))
        tx.execute(
            "UPDATE survey_optouts SET value = ?, requester_id = ? WHERE value = ?",
            (new, pseudo, old),
        )
        changed += tx.rowcount
    return changed


def hash_inbound_contacts(tx: Any, value: str, hashed: Callable[[str], str]) -> int:
    """Replace the inbound contact ``value`` (a phone or an email address) by ``hashed(value)``
    in the inbound message rows: threading then treats a later message as a new contact."""
    tx.execute(
        "UPDATE inbound_messages SET contact = ? WHERE lower(contact) = lower(?)",
        (hashed(value), value),
    )
    return int(tx.rowcount)


def drop_state_entries(tx: Any, key: str, drop: Callable[[str, str, str], bool]) -> int:
    """Remove, from every plugin instance's mapping-valued state ``key``, the entries for which
    ``drop(instance, entry key, entry value)`` holds; return how many were removed."""
    removed = 0
    rows = tx.execute("SELECT instance, value FROM plugin_state WHERE key = ?", (key,))
    for instance, raw in rows.fetchall():
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if not isinstance(value, dict):
            continue
        kept = {k: v for k, v in value.items() if not drop(instance, str(k), str(v))}
        if len(kept) != len(value):
            removed += len(value) - len(kept)
            tx.execute(
                "UPDATE plugin_state SET value = ? WHERE instance = ? AND key = ?",
                (dumps(kept), instance, key),
            )
    return removed


def scrub_documents(
    tx: Any, needles: list[str], scrub: Callable[[Any], Any], counts: dict[str, int]
) -> None:
    """Rewrite with ``scrub`` every JSON document of :data:`DOCUMENTS` that mentions a needle
    (case-insensitively); add the rows changed to ``counts`` under each document's key."""
    like_params = [f"%{n.lower()}%" for n in needles]
    for key, table, keys, col in DOCUMENTS:
        like = " OR ".join(f"lower({col}) LIKE ?" for _ in needles)
        cols = ", ".join(keys)
        where = " AND ".join(f"{k} = ?" for k in keys)
        rows = tx.execute(f"SELECT {cols}, {col} FROM {table} WHERE {like}", like_params)
        for row in rows.fetchall():
            try:
                value = json.loads(row[-1])
            except (TypeError, ValueError):
                value = row[-1]
            new = scrub(value)
            text = dumps(new) if not isinstance(new, str) else new
            tx.execute(f"UPDATE {table} SET {col} = ? WHERE {where}", (text, *row[:-1]))
            counts[key] += 1


def retarget_audit(tx: Any, mapping: dict[str, str]) -> None:
    """Audit entries whose target is a forgotten person name their pseudonym instead."""
    for pid, pseudo in mapping.items():
        tx.execute("UPDATE audit_log SET target = ? WHERE target = ?", (pseudo, pid))
