"""``cst keys``: secrets in the 0600 keys file, referenced from config as ``key:NAME``."""

from __future__ import annotations

import sys

import click

from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.errors import NotFoundError, UsageError


@click.group()
def keys() -> None:
    """Manage secrets in the keys file (referenced from config as key:NAME)."""


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
    path = secrets.set_key(name, value)
    app.say(f"stored key {name!r} in {path}")


@keys.command("list")
@format_options()
def list_keys(fmt: str, as_json: bool) -> None:
    """Names of the stored keys (never their values)."""
    from cstoolkit import secrets
    from cstoolkit.output import render

    path = secrets.keys_path()
    rows = [{"name": n, "reference": f"key:{n}"} for n in sorted(secrets.load_keys(path))]
    render(rows, ["name", "reference"], chosen_format(fmt, as_json), title=str(path))


@keys.command("remove")
@click.argument("name")
@pass_app
def remove_key(app: App, name: str) -> None:
    """Remove the key NAME."""
    from cstoolkit import secrets

    if not secrets.remove_key(name):
        raise NotFoundError(f"no key named {name!r}")
    app.say(f"removed key {name!r}")
