"""Built-in recipe actions, registered through the same hook as a plugin's
(``set``, ``add_tags``, ``remove_tags``, ``assign``, ``escalate``, ``note``, ``reply``,
``notify``, ``apply_sla``; see docs/recipes.md)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl


@hookimpl
def register_actions(register: Any) -> None:
    from cstoolkit.triage.actions import BUILTIN_ACTIONS

    for cls in BUILTIN_ACTIONS:
        register(cls())
