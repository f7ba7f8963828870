"""What cst completes itself, beyond command and option names (read on a TAB only).

:class:`cstoolkit.cli.base.Command` gives parameters a completer by name
(:data:`cstoolkit.cli.base.COMPLETES`, so every command gets them alike):

* backend instances (``sync pull NAME``, ``sync mirror SOURCE TARGET``), surveys (``--survey``)
  and calendars (``--calendar``): the names configured in the config the command would read;
* recipe files of ``cst triage`` and ``cst recipe`` commands: ``*.yaml`` files and folders;
* query fields (``--query``): the names of the query field registry
  (:data:`cstoolkit.query.FIELDS`, its aliases and namespaces), then an enum field's values.

A completer never fails: a broken config completes nothing. ``cst completion`` (the script to
load) is :mod:`cstoolkit.cli.completion`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem


def complete(kind: str, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """The completions of one parameter; nothing when anything goes wrong."""
    try:
        if kind == "query":
            return [CompletionItem(c) for c in query_completions(incomplete)]
        if kind == "recipe":
            return _recipe_files(ctx, incomplete)
        names = _configured(ctx).get(kind, [])
        return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]
    except Exception:  # completion must never break the shell
        return []


def _configured(ctx: click.Context) -> dict[str, list[str]]:
    from cstoolkit.config import find_config, load_config
    from cstoolkit.config.check import names_of

    root = ctx.find_root()
    path = find_config(root.params.get("config_path"))
    return names_of(load_config(path).data) if path is not None else {}


def _recipe_files(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    if ctx.command_path.split()[1:2] not in (["triage"], ["recipe"]):
        return [CompletionItem(incomplete, type="file")]
    tests = ctx.command_path.split()[1:3] == ["recipe", "test"]
    folder, _, stem = incomplete.rpartition("/")
    where = Path(folder or ".")
    out = []
    for entry in sorted(os.scandir(where), key=lambda e: e.name):
        if not entry.name.startswith(stem) or entry.name.startswith("."):
            continue
        path = f"{folder}/{entry.name}" if folder else entry.name
        if entry.is_dir():
            out.append(CompletionItem(path + "/", type="dir"))
        elif entry.name.endswith((".yaml", ".yml")) and (
            tests or not entry.name.endswith((".test.yaml", ".test.yml"))
        ):
            out.append(CompletionItem(path))
    return out


def query_completions(incomplete: str) -> list[str]:
    """``sta`` -> ``status:``; ``tag:vip pri`` -> ``tag:vip priority:``; ``status:o`` ->
    ``status:open``, ``status:on_hold``: from the query field registry."""
    from cstoolkit.query import ALIASES, FIELDS, NAMESPACES

    head, _, word = incomplete.rpartition(" ")
    prefix = f"{head} " if head else ""
    sign = "-" if word.startswith("-") else ""
    word = word[len(sign) :]
    name, colon, value = word.partition(":")
    if not colon:
        names = [*FIELDS, *ALIASES, *NAMESPACES]
        return [f"{prefix}{sign}{n}" + ("" if n.endswith(".") else ":") for n in sorted(names)
                if n.startswith(name)]  # fmt: skip
    spec: Any = FIELDS.get(ALIASES.get(name, name))
    values = getattr(spec, "values", None) or ()
    done, _, last = value.rpartition(",")
    start = f"{prefix}{sign}{name}:{done + ',' if done else ''}"
    return [f"{start}{v}" for v in sorted(values) if v.startswith(last)]
