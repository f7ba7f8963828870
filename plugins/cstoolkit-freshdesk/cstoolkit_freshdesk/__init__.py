"""cstoolkit-freshdesk: the Freshdesk backend for cstoolkit (``plugin = "freshdesk"``).

Modules:

* ``backend``: the settings and :class:`FreshdeskBackend`: the client, the keyset walk over
  ``updated_since`` with its cursor, conversations, agents and groups, companies, apply /
  create / fetch and the marker look-up;
* ``records``: Freshdesk tickets, requesters and conversations as the core model's tickets,
  people, events;
* ``writes``: what a write sends: the update body of a plan's changes, a new ticket's body and
  its marker tag;
* ``mapping``: the status, priority and source code tables and custom field names;
* ``knowledge``: :class:`FreshdeskSolutionsSource`, Solutions articles as a knowledge source
  (``plugin = "freshdesk_solutions"``, plugin API 1.2).
"""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_freshdesk.backend import FreshdeskBackend
from cstoolkit_freshdesk.knowledge import FreshdeskSolutionsSource

__all__ = [
    "FreshdeskBackend",
    "FreshdeskSolutionsSource",
    "register_backends",
    "register_knowledge_sources",
]


@hookimpl
def register_backends(register: Any) -> None:
    register(FreshdeskBackend)


@hookimpl
def register_knowledge_sources(register: Any) -> None:
    register(FreshdeskSolutionsSource)
