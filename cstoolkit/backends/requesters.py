"""Customers known only by a phone number, and their own messages, on vendor backends.

A message that comes in over WhatsApp or SMS (:mod:`cstoolkit.inbound`) reaches a backend as a
:class:`~cstoolkit.plugin.NewTicket` with ``requester_phone`` and no email, or as a
:class:`~cstoolkit.plugin.Comment` with ``from_requester=True``. What each vendor can do with
them differs (docs/inbound.md has the table); what they share is here, once:

* :func:`e164` — the one spelling of a phone number sent to vendors and compared
  (:func:`same_phone` compares a vendor's spelling with it);
* :func:`first_with_phone` — pick the vendor record that really carries the number from a
  search answer (a vendor that ignores an unknown filter returns everybody: never trusted);
* :func:`person_by_phone` — the one find-or-create of the vendor's person for a number,
  remembered in the backend instance's state by a hash of the number and checked again;
* :func:`requester_of` — the requester's id on a ticket just read, or None when it names none;
* :func:`placeholder_email` — for vendors whose customers must have an email: an address in a
  domain the operator names (and whose mail goes nowhere), never one made up by cst;
* :func:`requester_note` — for vendors whose API can only write as the API user (an agent): the
  customer's message as an internal note that says whose it is. Posting it as a public agent
  reply would mail the customer their own message back as if an agent had written it. The same
  note is the one rule for a ticket that names no requester on a vendor that can post as one:
  agents see the message, nobody is mailed, and the write does not stay stuck in the push queue.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.plugin import Comment

if TYPE_CHECKING:
    from cstoolkit.store.kv import KeyValue

#: The first line of a customer's message kept as an internal note (see :func:`requester_note`).
REQUESTER_NOTE_HEADER = "Message from the requester (an internal note: not sent to anyone):"
#: instance-state key of the people a backend found or created by phone (see person_by_phone)
PHONES_KEY = "people_by_phone"
#: how many of them are remembered (the oldest are forgotten first)
PHONES_MAX = 5000


def e164(phone: str) -> str:
    """``+`` and the digits of ``phone`` (``whatsapp:+34 600-111-222`` -> ``+34600111222``);
    a :class:`~cstoolkit.errors.BackendError` when it holds no digits."""
    digits = re.sub(r"\D", "", phone.removeprefix("whatsapp:"))
    if not digits:
        raise BackendError(f"not a phone number: {phone[:40]!r}")
    return "+" + digits


def same_phone(a: Any, b: str) -> bool:
    """True when ``a`` (a vendor's spelling, maybe without ``+`` or with spaces) is ``b``."""
    return isinstance(a, str) and re.sub(r"\D", "", a) == re.sub(r"\D", "", b) != ""


def first_with_phone(
    records: Iterable[Any], phone: str, numbers: Callable[[Mapping[str, Any]], Iterable[Any]]
) -> Mapping[str, Any] | None:
    """The first record among ``records`` one of whose ``numbers(record)`` is ``phone``."""
    for record in records:
        if isinstance(record, Mapping) and any(same_phone(n, phone) for n in numbers(record)):
            return record
    return None


def person_by_phone(
    state: KeyValue | None,
    phone: str,
    *,
    search: Callable[[str], str | None] | None,
    create: Callable[[str], str],
    exists: Callable[[str], bool] | None = None,
) -> str:
    """The vendor's id of the person whose phone is ``phone``, found or created once.

    ``search``, ``create`` and ``exists`` are called with the number spelled by :func:`e164`.
    In order: the id found or created for that number before (remembered in ``state``, the
    backend instance's state, keyed by a hash of the number, so a person created a moment ago
    is found even while the vendor's search index lags; ``exists(id)`` re-checks it, so a
    person merged or deleted since is looked up again), then the vendor's search
    (``search(phone)``, None where the vendor documents none), then ``create(phone)``. The id
    found or created is remembered. Errors of the calls propagate (a BackendError).
    """
    number = e164(phone)
    key = phone_key(number)
    people = _people(state)
    known = people.get(key)
    if known is not None and (exists is None or exists(known)):
        return known
    found = search(number) if search is not None else None
    person = found if found is not None else create(number)
    if state is not None:
        people = _people(state)
        people.pop(key, None)
        people[key] = person
        while len(people) > PHONES_MAX:
            people.pop(next(iter(people)))
        state.set(PHONES_KEY, people)
    return person


def phone_key(phone: str) -> str:
    """The key the memory of :func:`person_by_phone` files ``phone`` under (a hash of its
    :func:`e164` spelling, never the number)."""
    return hashlib.sha256(e164(phone).encode()).hexdigest()[:24]


def _people(state: KeyValue | None) -> dict[str, str]:
    raw = state.get(PHONES_KEY, {}) if state is not None else {}
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items() if v is not None}


def requester_of(record: Mapping[str, Any], key: str) -> str | int | None:
    """The requester's id on a ticket ``record`` (``record[key]``), or None when it names none
    (the customer's message is then kept as :func:`requester_note`, never an agent's)."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return value


def placeholder_email(phone: str, domain: str | None, setting: str) -> str:
    """``phone-<digits>@<domain>`` for a vendor that needs an email for every customer.

    ``domain`` is the operator's (``setting`` names where it is configured): one they own and
    whose mail they drop, so the vendor's notifications to it reach nobody. Without it the
    ticket is refused with a one-line error naming the setting, rather than invent an address
    someone else may own.
    """
    if not domain:
        raise ConfigError(
            "a requester known only by phone needs an email in this helpdesk: set it to a "
            "domain you own whose mail is discarded (customers get phone-<digits>@<domain>)",
            field=setting,
        )
    clean = domain.strip().lstrip("@").lower()
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", clean):
        raise ConfigError(f"not a domain name: {domain[:60]!r}", field=setting)
    return f"phone-{e164(phone)[1:]}@{clean}"


def requester_note(comment: Comment) -> Comment:
    """``comment`` as an internal note marked as the requester's message when it is one (a
    vendor that cannot post as the customer); any other comment unchanged."""
    if not comment.from_requester:
        return comment
    return Comment(f"{REQUESTER_NOTE_HEADER}\n\n{comment.body}", public=False)
