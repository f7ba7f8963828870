"""cstoolkit: connect the tools a customer-support team already has.

The public API for plugin authors is importable from here; names are resolved lazily so that
``import cstoolkit`` (and ``cst --help``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cstoolkit.__about__ import __version__

if TYPE_CHECKING:
    from cstoolkit.errors import (
        AuthError,
        BackendError,
        ConfigError,
        ConflictError,
        CstError,
        PluginError,
    )
    from cstoolkit.hookspecs import hookimpl
    from cstoolkit.model import (
        Channel as ChannelKind,
    )
    from cstoolkit.model import (
        Event,
        EventKind,
        Group,
        Person,
        Priority,
        Role,
        Status,
        Ticket,
    )
    from cstoolkit.plugin import (
        ApplyResult,
        Backend,
        Changes,
        Channel,
        CheckResult,
        Comment,
        NewTicket,
        Page,
        Setting,
        SurveyProvider,
    )

_EXPORTS: dict[str, str] = {
    "hookimpl": "cstoolkit.hookspecs",
    **dict.fromkeys(
        ["Event", "EventKind", "Group", "Person", "Priority", "Role", "Status", "Ticket"],
        "cstoolkit.model",
    ),
    **dict.fromkeys(
        [
            "ApplyResult",
            "Backend",
            "Changes",
            "Channel",
            "CheckResult",
            "Comment",
            "NewTicket",
            "Page",
            "Setting",
            "SurveyProvider",
        ],
        "cstoolkit.plugin",
    ),
    **dict.fromkeys(
        ["AuthError", "BackendError", "ConfigError", "ConflictError", "CstError", "PluginError"],
        "cstoolkit.errors",
    ),
}
_RENAMED = {"ChannelKind": ("cstoolkit.model", "Channel")}

__all__ = [
    "ApplyResult",
    "AuthError",
    "Backend",
    "BackendError",
    "Changes",
    "Channel",
    "ChannelKind",
    "CheckResult",
    "Comment",
    "ConfigError",
    "ConflictError",
    "CstError",
    "Event",
    "EventKind",
    "Group",
    "NewTicket",
    "Page",
    "Person",
    "PluginError",
    "Priority",
    "Role",
    "Setting",
    "Status",
    "SurveyProvider",
    "Ticket",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'cstoolkit' has no attribute {name!r}")
