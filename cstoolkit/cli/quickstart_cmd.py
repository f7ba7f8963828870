"""``cst quickstart``."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, pass_app


@click.command(cls=base.Command)
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
    here = _relative(result.directory)

    def rel(path: Path) -> str:
        try:
            return str(path.relative_to(result.directory))
        except ValueError:
            return str(path)

    lines = [
        f"Workspace: {result.directory}",
        f"  config    {rel(result.config)}"
        + ("  (created)" if result.created_config else "  (kept)"),
        f"  helpdesk  {rel(result.helpdesk)}"
        + (
            f"  ({result.generated_tickets} sample tickets generated)"
            if result.generated_tickets
            else "  (kept)"
        ),
        f"  store     {rel(result.store)}",
        f"  keys      {rel(result.keys)}  (secrets of key: references, mode 0600)",
        f"  recipes   recipes/  ({len(result.recipes)} recipes: cst recipe check recipes/*.yaml)",
        "",
        f"Synced backend {engine.BACKEND!r}: {result.sync.fetched} tickets read, {s.inserted} new, "
        f"{s.updated} updated, {s.unchanged} unchanged ({result.sync.seconds:.1f}s).",
        *[line for text, _ in result.stages.values() for line in ["", *text]],
        "",
        f"Try next, in the workspace (cd {shlex.quote(here)}):",
        "  cst tickets list --query 'status:open priority:urgent'",
        f"  cst tickets show {engine.BACKEND}:1",
        "  cst report kpi --compare previous",
        "  cst doctor",
    ]
    click.echo("\n".join(lines))


def _relative(directory: Path) -> str:
    """The workspace as the person would type it from here (absolute when outside)."""
    import os

    rel = os.path.relpath(directory)
    return directory.as_posix() if rel.startswith("..") else rel
