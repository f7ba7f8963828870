"""Jira Service Management customers for requesters known only by phone (WhatsApp, SMS).

A JSM customer is an Atlassian account, and an account needs an email; JSM has no phone field.
So a phone-only requester becomes the customer ``phone-<digits>@<phone_customer_domain>``
(:func:`cstoolkit.backends.placeholder_email`): a domain the operator owns and whose mail is
dropped, since JSM mails its customers. Without that setting the create is refused with a
one-line error naming it.

The customer's accountId is remembered by ``person_by_phone`` (keyed by a hash of the number)
and checked again with ``GET /rest/api/3/user?accountId=`` before it is used again.

* ``POST /rest/servicedeskapi/customer?strictConflictStatusCode=true`` with ``email`` and
  ``displayName`` creates the customer (its ``accountId`` is in the answer); an existing one
  answers 409, and is then found with ``GET /rest/api/3/user/search?query=<email>`` (only an
  account whose ``emailAddress`` is that address counts);
* ``POST /rest/servicedeskapi/servicedesk/{id}/customer`` with ``accountIds`` gives the customer
  access to the service desk (no change when they have it), so that the request can be raised
  on their behalf (``raiseOnBehalfOf``: the accountId).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.backends import expect_list, placeholder_email
from cstoolkit.errors import BackendError
from cstoolkit.http import HttpClient
from cstoolkit.http_errors import HttpError

if TYPE_CHECKING:
    from cstoolkit.backends import HttpBackend

CUSTOMER_PATH = "/rest/servicedeskapi/customer"
USER_SEARCH_PATH = "/rest/api/3/user/search"
USER_PATH = "/rest/api/3/user"


def customer_for_phone(
    backend: HttpBackend[Any],
    *,
    phone: str,
    name: str,
    domain: str | None,
    setting: str,
    servicedesk_id: str,
) -> str:
    """The accountId of the customer standing for ``phone`` (remembered, created or found:
    ``person_by_phone``, re-checked with Get User), with access to service desk
    ``servicedesk_id``."""
    http, label = backend.http, backend.label
    email = placeholder_email(phone, domain, setting)

    def create(number: str) -> str:
        return _create(http, label, email, name or number) or _find(http, label, email)

    def exists(account: str) -> bool:
        user = backend.get_or_none(USER_PATH, params={"accountId": account})
        return isinstance(user, Mapping) and user.get("active", True) is not False

    account = backend.person_by_phone(phone, search=None, create=create, exists=exists)
    http.request(
        "POST",
        f"/rest/servicedeskapi/servicedesk/{servicedesk_id}/customer",
        json={"accountIds": [account]},
        idempotent=True,  # adding a customer who is already there changes nothing
    )
    return account


def _create(http: HttpClient, label: str, email: str, name: str) -> str | None:
    """The new customer's accountId, or None when the account exists already (409)."""
    try:
        data = http.json(
            "POST",
            CUSTOMER_PATH,
            params={"strictConflictStatusCode": "true"},
            json={"email": email, "displayName": name},
        )
    except HttpError as exc:
        if exc.status == 409:
            return None
        raise
    account = data.get("accountId") if isinstance(data, Mapping) else None
    if not account:
        raise BackendError(f"{label}: POST {CUSTOMER_PATH}: no accountId in the answer")
    return str(account)


def _find(http: HttpClient, label: str, email: str) -> str:
    data = http.get_json(USER_SEARCH_PATH, params={"query": email, "maxResults": 10})
    for user in expect_list(data, label, f"GET {USER_SEARCH_PATH}"):
        if (
            isinstance(user, Mapping)
            and str(user.get("emailAddress") or "").lower() == email
            and user.get("accountId")
        ):
            return str(user["accountId"])
    raise BackendError(
        f"{label}: the customer {email} exists (409) but no account with that email was found "
        f"by GET {USER_SEARCH_PATH}"
    )


__all__ = ["customer_for_phone"]
