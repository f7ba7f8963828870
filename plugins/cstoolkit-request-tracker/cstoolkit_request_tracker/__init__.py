"""cstoolkit-request-tracker: the Request Tracker 5 backend (``plugin = "request_tracker"``)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_request_tracker.backend import RequestTrackerBackend

__all__ = ["RequestTrackerBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(RequestTrackerBackend)
