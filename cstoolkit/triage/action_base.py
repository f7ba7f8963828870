"""The recipe action protocol: :class:`Action`, :class:`ArgError`, :class:`ActionContext` and the
names a recipe template sees (documented in :mod:`cstoolkit.triage.actions`, which re-exports
them, and in docs/recipes.md#plugin-actions). Kept apart so every module of actions builds on
it without importing the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol


class ArgError(Exception):
    """Bad arguments of an action; ``at`` is the path inside the arguments."""

    def __init__(self, message: str, at: Sequence[str | int] = (), *, key: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.at = tuple(at)
        self.key = key  # the problem is the key at ``at`` (an unknown option), not its value


class ActionContext(Protocol):
    """What an action can see and do for one ticket (implemented by the engine)."""

    @property
    def ticket(self) -> Any: ...  # the working copy, with earlier changes applied
    @property
    def requester(self) -> Any: ...
    @property
    def now(self) -> Any: ...
    @property
    def roster(self) -> Any: ...

    def set_field(self, name: str, value: Any) -> bool: ...
    def add_tags(self, tags: Sequence[str]) -> bool: ...
    def remove_tags(self, tags: Sequence[str]) -> bool: ...
    def comment(self, body: str, public: bool) -> None: ...
    def notify(self, channel: str, to: str, subject: str, text: str) -> None: ...
    def render(self, template: Any) -> str: ...
    def assign(self, strategy: str, params: Mapping[str, Any]) -> str | None: ...
    def escalate(self, params: Mapping[str, Any]) -> str | None: ...


class Action:
    """Base class of the built-in actions (plugins may use it, or just the same attributes)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    idempotent: ClassVar[bool] = True

    def parse(self, args: Any) -> Any:
        return args

    def once(self, params: Any) -> bool:
        return not self.idempotent

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset()

    def summary(self, params: Any) -> str:
        return self.name

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        raise NotImplementedError


#: The names a recipe template sees (built by the engine's ``template_context``).
TEMPLATE_NAMES = (
    "ticket", "before", "requester", "assignee", "group", "sla", "recipe", "rule", "now",
)  # fmt: skip
