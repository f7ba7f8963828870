"""``cst quickstart``."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from cstoolkit.cli.app import App, pass_app


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cst-quickstart"),
    show_default=True,
    help="Workspace to create (or reuse).",
)
@click.option("--tickets", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@pass_app
def quickstart(app: App, directory: Path, tickets: int, as_json: bool) -> None:
    """Create a workspace with a sample helpdesk, sync it, and show what is there.

    No account and no network: the helpdesk is a local file. Safe to re-run.
    """
    from cstoolkit import quickstart as engine
    from cstoolkit.output import write_json

    result = engine.run(directory, app.host, tickets=tickets)
    if as_json:
        write_json(result.as_dict())
        return
    s = result.sync.stats
    cfg = shlex.quote(str(result.config))
    lines = [
        f"Workspace: {result.directory}",
        f"  config    {result.config}" + ("  (created)" if result.created_config else "  (kept)"),
        f"  helpdesk  {result.helpdesk}"
        + (
            f"  ({result.generated_tickets} sample tickets generated)"
            if result.generated_tickets
            else "  (kept)"
        ),
        f"  store     {result.store}",
        "",
        f"Synced backend {engine.BACKEND!r}: {result.sync.fetched} tickets read, {s.inserted} new, "
        f"{s.updated} updated, {s.unchanged} unchanged ({result.sync.seconds:.1f}s).",
        "",
        "Tickets by status:  " + ", ".join(f"{k} {v}" for k, v in result.by_status.items()),
        "Tickets by channel: " + ", ".join(f"{k} {v}" for k, v in result.by_channel.items()),
        *[line for text, _ in result.stages.values() for line in ["", *text]],
        "",
        "Try next:",
        f"  cst --config {cfg} tickets list --query 'status:open priority:urgent'",
        f"  cst --config {cfg} tickets show {engine.BACKEND}:1",
        f"  cst --config {cfg} doctor",
    ]
    click.echo("\n".join(lines))
