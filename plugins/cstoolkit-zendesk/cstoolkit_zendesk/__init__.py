"""cstoolkit-zendesk: the Zendesk Support backend for cstoolkit (``plugin = "zendesk"``)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_zendesk.backend import PLAN_LIMITS, ZendeskBackend

__all__ = ["PLAN_LIMITS", "ZendeskBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(ZendeskBackend)
