"""The command-line reference (docs/cli.md), made from the click commands themselves.

``python -m cstoolkit.cli.reference docs/cli.md`` rewrites the file; a test keeps it equal to
:func:`render`, so the documentation site's reference is always what ``cst`` does. Plugin
commands are left out (they document themselves): only the built-in commands are walked.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

HEADER = """\
# Command reference

Every built-in command with its options, made from the commands themselves (regenerate:
`python -m cstoolkit.cli.reference docs/cli.md`; a test keeps this page equal to them). Global
options come before the command: `cst [--config FILE] [-v|-vv] [-q] [--log-format text|json]
COMMAND`. Exit codes: [exit-codes.md](exit-codes.md); output formats: [output.md](output.md).
"""


def _usage(command: click.Command, ctx: click.Context) -> str:
    pieces = command.collect_usage_pieces(ctx)
    return " ".join([ctx.command_path, *pieces])


def _option_rows(command: click.Command, ctx: click.Context) -> list[tuple[str, str]]:
    rows = []
    help_option = command.get_help_option(ctx)
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param is help_option:
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            rows.append(record)
    return rows


def _paragraphs(text: str) -> list[str]:
    """Help text as Markdown paragraphs; click's ``\b`` blocks (kept as typed) as code."""
    out = []
    for para in text.split("\n\n"):
        if para.startswith("\b\n"):
            body = "\n".join(line.strip() for line in para[2:].splitlines())
            out.append(f"```\n{body}\n```")
        else:
            out.append(" ".join(para.split()))
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(command: click.Command, ctx: click.Context, depth: int) -> list[str]:
    out = [f"{'#' * depth} `{ctx.command_path}`", ""]
    help_text = inspect.cleandoc(command.help or "")
    if help_text:
        paragraphs = _paragraphs(help_text)
        if isinstance(command, click.Group):
            paragraphs = paragraphs[:1]
        for para in paragraphs:
            out += [para, ""]
    out += ["```", _usage(command, ctx), "```", ""]
    rows = _option_rows(command, ctx)
    if rows and not isinstance(command, click.Group):
        out += ["| option | meaning |", "|---|---|"]
        out += [f"| `{_cell(opt)}` | {_cell(text)} |" for opt, text in rows]
        out.append("")
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            out += _section(sub, click.Context(sub, parent=ctx, info_name=name), depth + 1)
    return out


def render() -> str:
    """The whole reference page."""
    from cstoolkit.cli import COMMANDS, cli

    root = click.Context(cli, info_name="cst", terminal_width=100, max_content_width=100)
    lines = [HEADER]
    for name in sorted(COMMANDS):
        command = cli.get_command(root, name)
        assert command is not None, name
        lines += _section(command, click.Context(command, parent=root, info_name=name), 2)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m cstoolkit.cli.reference docs/cli.md")
    Path(args[0]).write_text(render(), "utf-8")
    print(f"wrote {args[0]}")


if __name__ == "__main__":
    main()
