"""cstoolkit-helpscout: the Help Scout Mailbox API v2 backend (``plugin = "helpscout"``)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_helpscout.backend import HelpScoutBackend

__all__ = ["HelpScoutBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(HelpScoutBackend)
