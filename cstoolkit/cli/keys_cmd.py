"""``cst keys``: secrets in the 0600 keys file, referenced from config as ``key:NAME``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.errors import NotFoundError, UsageError


@click.group(cls=base.Group)
def keys() -> None:
    """Manage secrets in the keys file (referenced from config as key:NAME).

    The keys file is $CSTOOLKIT_KEYS_FILE, else the config's keys_file, else keys.json in the
    user config directory.
    """


def _path(app: App) -> Path:
    """The keys file of the config in use (its ``keys_file``), for the config's references."""
    from cstoolkit import secrets

    return secrets.keys_path(app.unchecked_config.env)


@keys.command("set")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from standard input.")
@pass_app
def set_key(app: App, name: str, from_stdin: bool) -> None:
    """Store a secret under NAME (prompted without echo, or read with --stdin)."""
    from cstoolkit import secrets

    if from_stdin:
        value = sys.stdin.read().rstrip("\r\n")
    else:
        value = click.prompt(f"Value for {name}", hide_input=True, confirmation_prompt=False)
    if not value:
        raise UsageError("empty value; nothing stored")
    path = secrets.set_key(name, value, _path(app))
    app.say(f"stored key {name!r} in {path}")


@keys.command("list")
@format_options()
@pass_app
def list_keys(app: App, fmt: str, as_json: bool) -> None:
    """Names of the stored keys (never their values)."""
    from cstoolkit import secrets
    from cstoolkit.output import render

    path = _path(app)
    rows = [{"name": n, "reference": f"key:{n}"} for n in sorted(secrets.load_keys(path))]
    render(rows, ["name", "reference"], chosen_format(fmt, as_json), title=str(path))


@keys.command("remove")
@click.argument("name")
@pass_app
def remove_key(app: App, name: str) -> None:
    """Remove the key NAME."""
    from cstoolkit import secrets

    path = _path(app)
    if not secrets.remove_key(name, path):
        raise NotFoundError(f"no key named {name!r} in {path}")
    app.say(f"removed key {name!r} from {path}")
