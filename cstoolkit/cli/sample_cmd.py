"""``cst sample``: synthetic helpdesk data in the local backend's format."""

from __future__ import annotations

from pathlib import Path

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, pass_app


@click.group(cls=base.Group)
def sample() -> None:
    """Generate realistic synthetic helpdesk data."""


@sample.command("generate")
@click.option("--tickets", "n_tickets", type=int, default=5000, show_default=True)
@click.option("--days", type=int, default=90, show_default=True, help="Period the arrivals span.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same file.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The helpdesk file to write (JSON Lines, see docs/backends/local.md).",
)
@click.option(
    "--realistic-text/--plain-text",
    default=True,
    show_default=True,
    help="Realistic first messages (paraphrases, typos, mixed languages, two topics, vague "
    "messages, ~5% corrected groups; docs/routing.md) or the plain templates.",
)
@pass_app
def generate(
    app: App, n_tickets: int, days: int, seed: int, out: Path, realistic_text: bool
) -> None:
    """Write a deterministic, realistic helpdesk file (streams: 1,000,000 tickets fit)."""
    from cstoolkit.cli import progress
    from cstoolkit.sample import SampleSpec, generate_file

    spec = SampleSpec(tickets=n_tickets, days=days, seed=seed, realistic_text=realistic_text)
    with progress.task("sample", total=n_tickets, unit="tickets", quiet=app.quiet) as bar:
        stats = generate_file(spec, out, lambda n: bar.update(completed=n))
    app.say(
        f"wrote {stats.tickets} tickets, {stats.events} events, {stats.people} people, "
        f"{stats.groups} groups to {out} ({stats.bytes / 1e6:.1f} MB)"
    )
