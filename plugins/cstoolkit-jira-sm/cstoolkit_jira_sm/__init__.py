"""cstoolkit-jira-sm: the Jira Service Management Cloud backend (``plugin = "jira_sm"``).

Modules:

* ``backend``: the settings and :class:`JiraSMBackend`: the client, the JQL keyset walk with
  its cursor, changelogs, comments and SLAs, apply (transitions, edits, assignee, comments),
  create, fetch and the marker look-up;
* ``records``: Jira issues, comments and changelog histories as the core model's tickets and
  events; the status and priority tables; Atlassian Document Format text.
"""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_jira_sm.backend import JiraSMBackend

__all__ = ["JiraSMBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(JiraSMBackend)
