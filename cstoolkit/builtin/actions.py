"""Built-in recipe actions, registered through the same hook as a plugin's
(``set``, ``add_tags``, ``remove_tags``, ``assign``, ``escalate``, ``note``, ``reply``,
``notify``, ``apply_sla``; see docs/recipes.md) and the knowledge base's (``suggest_articles``,
``answer_from_kb``, ``kb_handoff``; docs/knowledge.md)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl


@hookimpl
def register_actions(register: Any) -> None:
    from cstoolkit.triage.actions import BUILTIN_ACTIONS

    for cls in BUILTIN_ACTIONS:  # the knowledge base's (triage/kb_actions.py) included
        register(cls())
