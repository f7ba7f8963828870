"""``cst config``: where the config is, what it says (redacted), and what is wrong with it."""

from __future__ import annotations

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, pass_app
from cstoolkit.errors import ConfigError
from cstoolkit.output import echo


@click.group(cls=base.Group)
def config() -> None:
    """Show and check cstoolkit.toml."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, as_json: bool) -> None:
    """The configuration in effect, with every secret value masked.

    Shown even when it has problems (`cst config check` lists them), to help find them.
    """
    from cstoolkit.config import redacted
    from cstoolkit.output import write_json

    config = app.unchecked_config
    data = redacted(config, app.host)
    if as_json:
        write_json({"path": config.label, "store": config.store_label, "config": data})
        return
    click.echo(f"# {config.label}")
    click.echo(f"# store: {config.store_label}")
    click.echo(_toml(data))


def _toml(data: dict, prefix: str = "") -> str:
    """Render a (redacted) config mapping back as TOML for reading."""
    import json

    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(lines)
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        scalars = {k: v for k, v in value.items() if not isinstance(v, dict)}
        body = _toml(value, name)
        if scalars:
            out += f"\n\n[{name}]\n" + body
        else:
            out += "\n" + body
    return out.strip("\n") + ("\n" if not prefix else "")


@config.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@pass_app
def check(app: App, as_json: bool) -> None:
    """Report every problem with its file, line and field; exit 2 if there is an error.

    The same checks run whenever a command loads the file (and in `cst doctor`).
    """
    from cstoolkit.output import write_json

    config = app.unchecked_config
    problems = app.config_problems()
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        write_json({"path": config.label, "problems": [p.as_dict() for p in problems]})
    else:
        for p in problems:
            echo(str(p))
        if not problems:
            app.say(f"{config.label}: ok")
    if errors:
        raise ConfigError(f"{len(errors)} error(s) in {config.label}")


@config.command("path")
@pass_app
def path(app: App) -> None:
    """Print the path of the config file in use (and of the store)."""
    click.echo(app.unchecked_config.label)
    click.echo(app.unchecked_config.store_label)
