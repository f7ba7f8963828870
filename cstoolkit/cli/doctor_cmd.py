"""``cst doctor``."""

from __future__ import annotations

import sys

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.errors import EXIT_FAILED


def _seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    from cstoolkit import timespec

    with timespec.option(param.opts[0]):
        return timespec.parse_duration(value, positive=True, maximum=3600)


@click.command(cls=base.Command)
@click.option(
    "--timeout",
    metavar="DURATION",
    callback=_seconds,
    help="Each live check gives up after this long (default: [doctor] timeout, 5s).",
)
@click.option(
    "--max-runtime",
    metavar="DURATION",
    callback=_seconds,
    help="Stop the whole command after this long (default: [doctor] max_runtime, 60s).",
)
@format_options()
@pass_app
def doctor(
    app: App, timeout: float | None, max_runtime: float | None, fmt: str, as_json: bool
) -> None:
    """Check config, plugins, store, and each configured instance with a live read-only call.

    The config gets the same checks as `cst config check`. Each live check is bounded by its
    own timeout and tried once (no retries); a check that does not answer in time is named.
    Exit 1 if any check fails.
    """
    from cstoolkit.doctor import bounds_for, run_checks
    from cstoolkit.output import render

    config = app.unchecked_config
    bounds = bounds_for(config, timeout=timeout, max_runtime=max_runtime)
    checks = run_checks(config, app.host, app.config_problems(), bounds=bounds)
    render(
        [c.as_dict() for c in checks],
        ["check", "status", "detail"],
        chosen_format(fmt, as_json),
        title="cst doctor",
    )
    if any(c.status == "fail" for c in checks):
        sys.exit(EXIT_FAILED)
