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

Not touched: the helpdesks themselves (erase the person there too), backups made before, the
plugin key-value area.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.store import audit, facts
from cstoolkit.store import privacy as sup
from cstoolkit.store.codec import dumps

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


def _scrub_json(
    cur: Any, table: str, key_cols: str, col: str, needles: list[str],
    mapping: dict[str, str],
) -> int:  # fmt: skip
    """Rewrite JSON column ``col`` of rows mentioning any needle; return rows changed."""
    changed = 0
    like = " OR ".join(f"lower({col}) LIKE ?" for _ in needles)
    params = [f"%{n.lower()}%" for n in needles]
    keys = key_cols.split(", ")
    rows = cur.execute(f"SELECT {key_cols}, {col} FROM {table} WHERE {like}", params).fetchall()
    for row in rows:
        try:
            value = json.loads(row[-1])
        except (TypeError, ValueError):
            value = row[-1]
        new = _scrub(value, needles, mapping)
        text = dumps(new) if not isinstance(new, str) else new
        where = " AND ".join(f"{k} = ?" for k in keys)
        cur.execute(f"UPDATE {table} SET {col} = ? WHERE {where}", (text, *row[:-1]))
        changed += 1
    return changed


def forget(store: Store, requester: str, *, actor: str = "cst") -> ForgetReport:
    """Erase ``requester`` (email or person id) from the store and suppress it at ingest."""
    value = requester.strip()
    report = ForgetReport()
    c: dict[str, int] = dict.fromkeys(
        ("tickets", "events", "survey_offers", "survey_answers", "opt_outs", "ledger",
         "planned_changes", "triage_snapshots", "audit_entries"), 0)  # fmt: skip
    with store.transaction() as cur:
        salt = sup.salt(cur, create=True)
        assert salt is not None
        people = cur.execute(
            "SELECT id, email FROM people WHERE id = ? OR (email IS NOT NULL AND lower(email) = "
            "lower(?))",
            (value, value),
        ).fetchall()
        people = [p for p in people if not sup.is_pseudonym(p[0])]
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
            touched |= facts.tickets_of_person(cur, pid)
            _forget_person(cur, pid, pseudo, c)
        facts.refresh(cur, sorted(touched))  # authors, assignees and survey answers changed
        for email in emails:
            cur.execute(
                "UPDATE survey_offers SET address = NULL, data = '{}' WHERE lower(address) = ?",
                (email,),
            )
            c["survey_offers"] += cur.rowcount
        for optout_value in [*emails, *ids]:
            rows = cur.execute(
                "SELECT value FROM survey_optouts WHERE lower(value) = lower(?) OR "
                "requester_id = ?",
                (optout_value, optout_value),
            ).fetchall()
            for (old,) in rows:
                hashed = "forgotten:" + sup.digest(salt, old)[:32]
                cur.execute("DELETE FROM survey_optouts WHERE value = ?", (hashed,))
                cur.execute(
                    "UPDATE survey_optouts SET value = ?, requester_id = ? WHERE value = ?",
                    (hashed, mapping.get(optout_value), old),
                )
                c["opt_outs"] += cur.rowcount
        needles = [*emails, *ids]
        if needles:
            c["ledger"] += _scrub_json(cur, "ledger", "scope, key", "detail", needles, mapping)
            for col in ("changes", "old_values", "reason"):
                c["planned_changes"] += _scrub_json(
                    cur, "planned_changes", "id", col, needles, mapping
                )
            c["triage_snapshots"] += _scrub_json(
                cur, "triage_recipe_state", "recipe, ticket_id", "snapshot", needles, mapping
            )
            c["audit_entries"] += _scrub_json(cur, "audit_log", "id", "details", needles, mapping)
            for pid, pseudo in mapping.items():
                cur.execute("UPDATE audit_log SET target = ? WHERE target = ?", (pseudo, pid))
        hashes = sup.add(
            cur, salt, [("person_id", i) for i in ids] + [("email", e) for e in sorted(emails)]
        )
        report.suppression = hashes[0][:16] if hashes else ""
        report.counts = c
        audit.write(
            cur,
            actor,
            "privacy.forget",
            None,
            {**report.as_dict(), "pseudonyms": sorted(mapping.values())},
        )
    return report


def _forget_person(cur: Any, pid: str, pseudo: str, c: dict[str, int]) -> None:
    instance = pseudo.split(":", 1)[0]
    external = pseudo.split(":", 1)[1]
    row = cur.execute("SELECT 1 FROM people WHERE id = ?", (pseudo,)).fetchone()
    if row is not None:
        cur.execute("DELETE FROM people WHERE id = ?", (pid,))
    else:
        cur.execute(
            "UPDATE people SET id = ?, instance = ?, external_id = ?, name = '', email = NULL, "
            "domain = NULL, raw = '{}' WHERE id = ?",
            (pseudo, instance, external, pid),
        )
    tickets = [r[0] for r in cur.execute("SELECT id FROM tickets WHERE requester_id = ?", (pid,))]
    cur.execute(
        "UPDATE tickets SET requester_id = ?, subject = '', description = '', "
        "custom_fields = '{}', raw = '{}', payload_hash = 'forgotten' WHERE requester_id = ?",
        (pseudo, pid),
    )
    c["tickets"] += cur.rowcount
    cur.execute(
        "UPDATE tickets SET assignee_id = ?, payload_hash = 'forgotten' WHERE assignee_id = ?",
        (pseudo, pid),
    )
    for i in range(0, len(tickets), 500):
        chunk = tickets[i : i + 500]
        marks = ",".join("?" * len(chunk))
        cur.execute(
            f"UPDATE events SET body = NULL, data = '{{}}' WHERE ticket_id IN ({marks}) "
            "AND body IS NOT NULL",
            chunk,
        )
        c["events"] += cur.rowcount
        cur.execute(f"DELETE FROM triage_recipe_state WHERE ticket_id IN ({marks})", chunk)
        c["triage_snapshots"] += cur.rowcount
    cur.execute(
        "UPDATE events SET author_id = ?, body = NULL, "
        "data = CASE WHEN body IS NULL THEN data ELSE '{}' END WHERE author_id = ?",
        (pseudo, pid),
    )
    c["events"] += cur.rowcount
    cur.execute("UPDATE events SET old = ? WHERE old = ?", (pseudo, pid))
    cur.execute("UPDATE events SET new = ? WHERE new = ?", (pseudo, pid))
    cur.execute(
        "UPDATE survey_offers SET requester_id = ?, address = NULL, data = '{}' "
        "WHERE requester_id = ?",
        (pseudo, pid),
    )
    c["survey_offers"] += cur.rowcount
    cur.execute(
        "UPDATE survey_answers SET requester_id = ?, comment = '' WHERE requester_id = ?",
        (pseudo, pid),
    )
    c["survey_answers"] += cur.rowcount
