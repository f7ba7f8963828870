"""cstoolkit-request-tracker: the Request Tracker 5 backend (``plugin = "request_tracker"``).

Modules:

* ``backend``: the settings and :class:`RequestTrackerBackend`: the client, the TicketSQL
  keyset walk, queues, transaction histories and bodies, apply / create / fetch;
* ``records``: RT tickets and transactions as the core model's tickets, people, events, and
  RT's values (statuses, numeric priorities, times, references, custom fields) read;
* ``writes``: what a write sends: the update body of a plan's changes, a new ticket's body.
"""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_request_tracker.backend import RequestTrackerBackend

__all__ = ["RequestTrackerBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(RequestTrackerBackend)
