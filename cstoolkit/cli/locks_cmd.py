"""``cst locks``: see who holds which run lock, and release one whose holder is gone."""

from __future__ import annotations

from typing import Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app

COLUMNS = ["name", "state", "host", "pid", "acquired_at", "expires_at", "holder"]


def _state(info: Any) -> str:
    import os
    import socket

    from cstoolkit.model import now
    from cstoolkit.store.locks import pid_alive

    if info.expires_at <= now():
        return "expired"
    if info.host == socket.gethostname():
        if info.pid == os.getpid():
            return "held"
        return "held" if pid_alive(info.pid) else "holder gone"
    return "held (other host)"


@click.group(cls=base.Group)
def locks() -> None:
    """List run locks and release one whose holder is gone."""


@locks.command("list")
@format_options()
@pass_app
def list_cmd(app: App, fmt: str, as_json: bool) -> None:
    """List the locks in the store: name, state (held, holder gone, expired), holder."""
    from cstoolkit.output import render
    from cstoolkit.store.locks import list_locks

    rows = [{**info.as_dict(), "state": _state(info)} for info in list_locks(app.store)]
    count = render(rows, COLUMNS, chosen_format(fmt, as_json), title="Locks")
    if count == 0 and chosen_format(fmt, as_json) == "table":
        app.say("no locks are held")


@locks.command("release")
@click.argument("name")
@click.option("--force", is_flag=True, help="Release even a lock whose holder still runs here.")
@pass_app
def release(app: App, name: str, force: bool) -> None:
    """Release the lock NAME (e.g. sync:desk, run) whose holder is gone.

    Refuses (exit 4) when the holder is a live process on this host and the lease is still
    valid, unless --force. Exit 3 when no such lock is held.
    """
    from cstoolkit.errors import BusyError, NotFoundError
    from cstoolkit.store.locks import force_release, list_locks

    found = [i for i in list_locks(app.store) if i.name == name]
    if not found:
        raise NotFoundError(f"{name}: no such lock is held", hint="see: cst locks list")
    state = _state(found[0])
    if state == "held" and not force:
        raise BusyError(
            f"{name}: held by live process {found[0].pid} on this host; "
            "not released (use --force if you are sure)"
        )
    force_release(app.store, name)
    app.store.audit("cst", "lock.release", name, {"state": state, "host": found[0].host,
                                                    "pid": found[0].pid})  # fmt: skip
    app.say(f"{name}: released (was {state}, pid {found[0].pid} on {found[0].host})")
