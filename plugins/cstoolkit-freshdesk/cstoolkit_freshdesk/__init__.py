"""cstoolkit-freshdesk: the Freshdesk backend for cstoolkit (``plugin = "freshdesk"``)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_freshdesk.backend import FreshdeskBackend

__all__ = ["FreshdeskBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(FreshdeskBackend)
