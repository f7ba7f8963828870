"""cstoolkit-zendesk: the Zendesk Support backend for cstoolkit (``plugin = "zendesk"``).

Modules:

* ``backend``: :class:`ZendeskBackend`: the client, the two incremental exports (tickets,
  ticket events), filters, author roles, apply / create / fetch;
* ``settings``: the instance settings and the account limits per plan;
* ``records``: Zendesk tickets, users and audits as the core model's tickets, people, events;
* ``writes``: what a write sends: the update body of a plan's changes, a new ticket's body;
* ``mapping``: the status, priority and channel tables and custom field names;
* ``knowledge``: :class:`ZendeskGuideSource`, Help Center articles as a knowledge source
  (``plugin = "zendesk_guide"``, plugin API 1.2).
"""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_zendesk.backend import PLAN_LIMITS, ZendeskBackend
from cstoolkit_zendesk.knowledge import ZendeskGuideSource

__all__ = [
    "PLAN_LIMITS",
    "ZendeskBackend",
    "ZendeskGuideSource",
    "register_backends",
    "register_knowledge_sources",
]


@hookimpl
def register_backends(register: Any) -> None:
    register(ZendeskBackend)


@hookimpl
def register_knowledge_sources(register: Any) -> None:
    register(ZendeskGuideSource)
