"""cstoolkit-helpscout: the Help Scout Mailbox API v2 backend (``plugin = "helpscout"``).

Modules:

* ``backend``: the settings and :class:`HelpScoutBackend`: OAuth2 tokens, the client, the
  ``modifiedSince`` keyset walk with its cursor, threads, apply / create / fetch and the marker
  look-up;
* ``records``: Help Scout conversations, customers and threads as the core model's tickets,
  people, events; the status and channel tables; a conversation's modification stamp;
* ``docs``: :class:`HelpScoutDocsSource`, Docs articles as a knowledge source
  (``plugin = "helpscout_docs"``, plugin API 1.2).
"""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_helpscout.backend import HelpScoutBackend
from cstoolkit_helpscout.docs import HelpScoutDocsSource

__all__ = [
    "HelpScoutBackend",
    "HelpScoutDocsSource",
    "register_backends",
    "register_knowledge_sources",
]


@hookimpl
def register_backends(register: Any) -> None:
    register(HelpScoutBackend)


@hookimpl
def register_knowledge_sources(register: Any) -> None:
    register(HelpScoutDocsSource)
