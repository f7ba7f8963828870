"""``cst doctor``."""

from __future__ import annotations

import sys

import click

from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.errors import EXIT_FAILED


@click.command()
@format_options()
@pass_app
def doctor(app: App, fmt: str, as_json: bool) -> None:
    """Check config, plugins, store, and each configured instance with a live read-only call.

    Exit 1 if any check fails.
    """
    from cstoolkit.doctor import run_checks
    from cstoolkit.output import render

    checks = run_checks(app.config, app.host)
    render(
        [c.as_dict() for c in checks],
        ["check", "status", "detail"],
        chosen_format(fmt, as_json),
        title="cst doctor",
    )
    if any(c.status == "fail" for c in checks):
        sys.exit(EXIT_FAILED)
