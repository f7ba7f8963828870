"""The click classes every ``cst`` command and group is made of.

One place for what every level of the command line does alike: an unknown command or option
gets a did-you-mean (``cst tikets`` -> "did you mean 'tickets'?", ``cst report kpi --sinse`` ->
"did you mean '--since'?"), chosen among the names that level really has (a lazy group's
commands included, which click's own message does not know before they are loaded).

Imported by ``cst --help``: it imports click only; difflib is imported on an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click


def suggestion(word: str, choices: Iterable[str]) -> str | None:
    """The one closest name to ``word`` among ``choices``, if any is close enough."""
    import difflib

    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_option(command: click.Command, ctx: click.Context, exc: click.NoSuchOption) -> Any:
    names = [
        name
        for param in command.get_params(ctx)
        for name in (*param.opts, *param.secondary_opts)
        if name.startswith("-")
    ]
    best = suggestion(exc.option_name, names)
    hint = f" Did you mean {best!r}?" if best else ""
    return click.NoSuchOption(
        exc.option_name, message=f"No such option {exc.option_name!r}.{hint}", ctx=ctx
    )


def _completer(kind: str) -> Any:
    """A shell completer of ``kind`` (:mod:`cstoolkit.cli.completers`, imported on a TAB)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> Any:
        from cstoolkit.cli.completers import complete as run

        return run(kind, ctx, incomplete)

    return complete


def _add_completers(command: click.Command) -> None:
    """Backend, survey and calendar names, recipe files and query fields complete alike in
    every command, by parameter name (the table is in :mod:`cstoolkit.cli.completers`)."""
    for param in command.params:
        kind = COMPLETES.get(param.name or "")
        if kind and getattr(param, "_custom_shell_complete", None) is None:
            param._custom_shell_complete = _completer(kind)


#: parameter name -> what it completes (kept here so no module is imported at start-up).
COMPLETES = {
    "instances": "backends",
    "source": "backends",
    "target": "backends",
    "survey_name": "surveys",
    "calendar": "calendars",
    "query_text": "query",
    "query": "query",
    "recipes": "recipe",
    "recipe": "recipe",
    "files": "recipe",
    "file": "recipe",
}


class Command(click.Command):
    """A ``cst`` command: a did-you-mean for an unknown option, completers by parameter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_completers(self)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            raise _unknown_option(self, ctx, exc) from None


class Group(click.Group):
    """A ``cst`` group: a did-you-mean for an unknown command or option; its commands and
    subgroups are :class:`Command` and :class:`Group` too."""

    command_class = Command
    group_class = type  # subgroups made with @group.group() are of this class

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            raise _unknown_option(self, ctx, exc) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchOption:
            raise
        except click.UsageError as exc:
            name = click.utils.make_str(args[0])
            if name.startswith("-") or exc.ctx is not ctx:
                raise
            best = suggestion(name, self.list_commands(ctx))
            hint = f" Did you mean {best!r}?" if best else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx) from None
