"""``cst store``: retention (prune), online backup and schema migrations."""

from __future__ import annotations

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, pass_app


@click.group(cls=base.Group)
def store() -> None:
    """Prune old tickets, back up the store, apply schema migrations."""


@store.command("prune")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="DURATION",
    help="Resolved tickets last updated longer ago than this: 2y, 18w, 400d (y = 365 days).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_app
def prune(app: App, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Delete solved/closed tickets older than the cutoff, with their events, tags and
    finished planned changes (the ledger, survey answers, mirror links and audit log stay;
    docs/operations.md)."""
    from cstoolkit.ops import parse_span
    from cstoolkit.ops.retention import prune as engine
    from cstoolkit.output import write_json

    report = engine(app.store, parse_span(older_than, "--older-than"), dry_run=dry_run)
    if as_json:
        write_json(report.as_dict())
    c = report.counts
    verb = "would delete" if dry_run else "deleted"
    app.say(
        f"{verb} {c['tickets']} ticket(s) resolved before {report.cutoff:%Y-%m-%d}, "
        f"{c['events']} event(s), {c['tags']} tag(s), {c['planned_changes']} planned "
        f"change(s), {c['triage_snapshots']} triage snapshot(s), {c['sync_runs']} sync run(s), "
        f"{c['runs']} run record(s)" + ("; dry run: nothing deleted" if dry_run else "")
    )


@store.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def backup(app: App, file: str, as_json: bool) -> None:
    """Copy the live store to FILE (SQLite online backup; written to a temporary file and
    renamed, so FILE is never half written). Safe while other runs use the store."""
    from cstoolkit.cli import progress
    from cstoolkit.ops.retention import backup as engine
    from cstoolkit.output import write_json

    store = app.store
    with progress.task("backup", quiet=app.quiet):
        result = engine(store, file)
    if as_json:
        write_json(result)
    app.say(
        f"backup written to {result['file']} ({result['bytes']:,} bytes, schema "
        f"{result['schema_version']}, {result['tickets']} tickets)"
    )


@store.command("migrate")
@click.option("--dry-run", is_flag=True, help="List the pending migrations; apply nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def migrate(app: App, dry_run: bool, as_json: bool) -> None:
    """Apply pending schema migrations (every command also does this when it opens the store).

    Refuses (exit 1) when the store's schema is newer than this program: upgrade cstoolkit.
    """
    from cstoolkit.ops.retention import migration_status
    from cstoolkit.output import write_json
    from cstoolkit.store.configured import open_configured

    db = open_configured(app.config, migrate=False)
    try:
        status = migration_status(db)
        applied = []
        if not dry_run:
            from cstoolkit.cli import progress

            with progress.task("migrate", quiet=app.quiet) as bar:

                def step(done: int, total: int) -> None:  # a migration's own work (0010)
                    bar.update(completed=done, total=total, note="tickets")

                applied = [
                    {"version": m.version, "name": m.name} for m in db.migrate(on_progress=step)
                ]
        result = {**status, "dry_run": dry_run, "applied": applied,
                  "schema_version": db.schema_version}  # fmt: skip
    finally:
        db.close()
    if as_json:
        write_json(result)
    pending = status["pending"]
    if not pending:
        app.say(f"{result['store']}: schema {result['schema_version']} is up to date")
    for m in pending:
        state = "pending" if dry_run else "applied"
        app.say(f"{m['version']:04d}_{m['name']}: {state}")
    if pending:
        app.say(
            f"{len(pending)} migration(s) "
            + ("would be applied (dry run)" if dry_run else "applied")
            + f"; schema {result['schema_version']} of {result['latest']}"
        )
