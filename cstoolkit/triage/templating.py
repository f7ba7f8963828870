"""Sandboxed templates for notes, replies and notifications (Jinja2 ``SandboxedEnvironment``).

Templates see plain data only (dicts, lists, strings, numbers), never live objects: ``ticket``
(as changed so far), ``before`` (the ticket before this run), ``requester``, ``assignee``,
``group``, ``sla``, ``recipe``, ``rule`` and ``now``. Undefined names
are errors found by ``cst recipe check``; a missing attribute (``ticket.custom_fields.x`` on a
ticket without it) renders as nothing. The output is capped at 100,000 characters.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cstoolkit.errors import CstError

MAX_OUTPUT = 100_000


class TemplateError(CstError):
    """A template failed to compile or render; ``line`` is the line inside the template."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import ChainableUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["datetime"] = _format_datetime
    return env


def _format_datetime(value: Any, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime(fmt)
    return "" if value is None else str(value)


@functools.lru_cache(maxsize=1024)
def compile_template(text: str) -> Any:
    """Compile once; raises :class:`TemplateError` with the template line of a syntax error."""
    from jinja2 import TemplateSyntaxError

    try:
        return environment().from_string(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", exc.lineno) from None


def render(text: str, context: Mapping[str, Any]) -> str:
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError

    template = compile_template(text)
    try:
        out = str(template.render(**context))
    except SecurityError as exc:
        raise TemplateError(f"template refused by the sandbox: {exc}") from None
    except JinjaError as exc:
        raise TemplateError(f"template error: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateError(f"template error: {type(exc).__name__}: {exc}") from None
    return out[:MAX_OUTPUT]


NAMES = ("ticket", "before", "requester", "assignee", "group", "sla", "recipe", "rule", "now")


def undeclared(text: str) -> list[str]:
    """Top-level names a template uses that are not among :data:`NAMES` (nor set inside it)."""
    from jinja2 import TemplateSyntaxError, meta

    try:
        ast = environment().parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", exc.lineno) from None
    return sorted(n for n in meta.find_undeclared_variables(ast) if n not in NAMES)


def pick_language(value: Any, language: str | None) -> str:
    """A template may be one text or a table language -> text (falls back to en, then the
    first one)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value:
        if language and language in value:
            return str(value[language])
        if "en" in value:
            return str(value["en"])
        return str(next(iter(value.values())))
    return str(value)
