"""``cst recipe``: check, draw and test triage recipes (nothing here touches a ticket)."""

from __future__ import annotations

from typing import Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, pass_app
from cstoolkit.output import echo

_FORMATS = ("table", "json")


def _env(app: App) -> Any:
    """Check recipes against the workspace when there is a config file, else alone."""
    from cstoolkit.config import find_config
    from cstoolkit.triage.recipe import Env
    from cstoolkit.triage.runner import Workspace

    if find_config(app.config_path) is None:
        return Env(), None
    ws = Workspace(app.config, app.host, None)
    return ws.env(), ws


@click.group(cls=base.Group)
def recipe() -> None:
    """Check, draw and test triage recipes."""


@recipe.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Warnings fail the check too.")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
@pass_app
def check_cmd(app: App, files: tuple[str, ...], strict: bool, fmt: str, as_json: bool) -> None:
    """Check recipes: every error and warning with file:line:column.

    Exit 2 when a recipe has an error (or a warning, with --strict).
    """
    from cstoolkit.output import write_json
    from cstoolkit.triage.check import check_file

    fmt = chosen_format(fmt, as_json)
    env, _ws = _env(app)
    problems = []
    for path in files:
        _recipe, found = check_file(path, env)
        problems += found
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if fmt == "json":
        write_json([p.as_dict() for p in problems])
    else:
        for p in problems:
            echo(str(p))
        if not problems:
            app.say(f"{len(files)} recipe(s) OK")
        else:
            app.say(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    if errors or (strict and warnings):
        raise click.exceptions.Exit(2)


@recipe.command("graph")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(("mermaid", "dot")), default="mermaid", show_default=True
)
@pass_app
def graph_cmd(app: App, file: str, fmt: str) -> None:
    """Draw a recipe as the flowchart of the process it encodes (Mermaid or Graphviz dot)."""
    from cstoolkit.triage.graph import render
    from cstoolkit.triage.recipe import load_recipe

    env, _ws = _env(app)
    click.echo(render(load_recipe(file, env), fmt), nl=False)


@recipe.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
@pass_app
def test_cmd(app: App, files: tuple[str, ...], fmt: str, as_json: bool) -> None:
    """Run the tests written next to recipes (FILE.test.yaml for FILE.yaml).

    Each case is a ticket fixture and the actions expected. Exit 1 when a case fails.
    """
    from cstoolkit.output import write_json
    from cstoolkit.triage.testing import format_report, run_tests

    fmt = chosen_format(fmt, as_json)
    env, ws = _env(app)
    kwargs: dict[str, Any] = {"env": env}
    if ws is not None:
        roster = ws.roster if ws.roster is not None and ws.roster.agents else None
        kwargs.update(calendars=ws.calendars, policies=ws.policies, roster=roster)
    reports = [run_tests(path, **kwargs) for path in files]
    if fmt == "json":
        write_json([r.as_dict() for r in reports])
    else:
        for report in reports:
            for line in format_report(report):
                click.echo(line)
    if not all(r.ok for r in reports):
        raise click.exceptions.Exit(1)
