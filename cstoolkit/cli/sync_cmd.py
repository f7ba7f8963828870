"""``cst sync``: move tickets between backends and the store."""

from __future__ import annotations

import sys

import click

from cstoolkit.cli.app import App, pass_app
from cstoolkit.errors import EXIT_FAILED, CstError


@click.group()
def sync() -> None:
    """Pull tickets from backends into the store."""


@sync.command("pull")
@click.argument("instances", nargs=-1)
@click.option("--full", is_flag=True, help="Re-read everything instead of resuming.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@pass_app
def pull(app: App, instances: tuple[str, ...], full: bool, as_json: bool) -> None:
    """Pull changed tickets from INSTANCES (default: every configured backend).

    Resumable: each page and its cursor are committed together, so a killed run continues where
    it stopped. Exit 1 if any instance failed; the others still run.
    """
    from cstoolkit import sync as engine
    from cstoolkit.output import write_json

    names = list(instances) or sorted(app.config.instances("backends"))
    if not names:
        app.say(f"no backends configured in {app.config.label}; nothing to do")
    summaries, failed = [], False
    for name in names:
        backend = app.backend(name)

        def progress(summary: engine.PullSummary, page: object) -> None:
            if sys.stderr.isatty() and not app.quiet:
                click.echo(f"\r{summary.instance}: {summary.fetched} tickets", nl=False, err=True)

        try:
            summary = engine.pull(app.store, backend, full=full, on_page=progress)
        except CstError as exc:
            failed = True
            click.echo(f"error: {name}: {exc}", err=True)
            summaries.append({"instance": name, "outcome": "failed", "error": str(exc)})
            continue
        if sys.stderr.isatty() and not app.quiet:
            click.echo("", err=True)
        summaries.append(summary.as_dict())
        s = summary.stats
        app.say(
            f"{name}: fetched {summary.fetched} tickets in {summary.pages} page(s): "
            f"{s.inserted} new, {s.updated} updated, {s.unchanged} unchanged, "
            f"{s.deleted} deleted ({summary.seconds:.1f}s)"
        )
    if as_json:
        write_json({"instances": summaries})
    if failed:
        sys.exit(EXIT_FAILED)
