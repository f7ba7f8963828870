"""cstoolkit-jira-sm: the Jira Service Management Cloud backend (``plugin = "jira_sm"``)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_jira_sm.backend import JiraSMBackend

__all__ = ["JiraSMBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(JiraSMBackend)
