"""cstoolkit-liveagent: the LiveAgent API v3 backend (``plugin = "liveagent"``)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_liveagent.backend import LiveAgentBackend

__all__ = ["LiveAgentBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(LiveAgentBackend)
