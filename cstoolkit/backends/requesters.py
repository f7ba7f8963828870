"""Customers known only by a phone number, and their own messages, on vendor backends.

A message that comes in over WhatsApp or SMS (:mod:`cstoolkit.inbound`) reaches a backend as a
:class:`~cstoolkit.plugin.NewTicket` with ``requester_phone`` and no email, or as a
:class:`~cstoolkit.plugin.Comment` with ``from_requester=True``. What each vendor can do with
them differs (docs/inbound.md has the table); what they share is here, once:

* :func:`e164` — the one spelling of a phone number sent to vendors and compared;
* :func:`first_with_phone` — pick the vendor record that really carries the number from a
  search answer (a vendor that ignores an unknown filter returns everybody: never trusted);
* :func:`placeholder_email` — for vendors whose customers must have an email: an address in a
  domain the operator names (and whose mail goes nowhere), never one made up by cst;
* :func:`requester_note` — for vendors whose API can only write as the API user (an agent): the
  customer's message as an internal note that says whose it is. Posting it as a public agent
  reply would mail the customer their own message back as if an agent had written it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.plugin import Comment

#: The first line of a customer's message kept as an internal note (see :func:`requester_note`).
REQUESTER_NOTE_HEADER = "Message from the requester (an internal note: not sent to anyone):"


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
