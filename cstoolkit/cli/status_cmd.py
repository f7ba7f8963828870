"""``cst status``: sync freshness, queues, surveys and the last run, for people and Prometheus."""

from __future__ import annotations

import click

from cstoolkit.cli.app import App, pass_app

TABLE_COLUMNS = ["instance", "tickets", "last_success_at", "lag", "cursor_age", "last_outcome",
                 "rate_limit_wait_seconds", "push_queue", "push_blocked"]  # fmt: skip


@click.command("status")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "prometheus"]),
    default="table",
    show_default=True,
    help="prometheus: text exposition format for the node exporter's textfile collector.",
)
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write to FILE atomically (temporary file + rename) instead of stdout.",
)
@pass_app
def status(app: App, fmt: str, as_json: bool, out_path: str | None) -> None:
    """Per backend instance: last successful sync, lag, cursor age, rate-limit waits, push
    queue; pending and in-doubt surveys; the last `cst run`'s outcome."""
    import io

    from cstoolkit.ops import status as engine
    from cstoolkit.output import render, write_json

    fmt = "json" if as_json else fmt
    data = engine.collect(app.store, sorted(app.config.instances("backends")))
    buf = io.StringIO()
    if fmt == "prometheus":
        buf.write(engine.prometheus(data))
    elif fmt == "json":
        write_json(data, out=buf)
    else:
        render(engine.table_rows(data), TABLE_COLUMNS, "table", out=buf, title="Sync")
        s = data["surveys"]
        buf.write(
            f"surveys: {s['pending']} pending, {s['in_doubt']} in doubt, {s['sent']} sent, "
            f"{s['answers']} answers\n"
        )
        run = data["last_run"]
        if run is None:
            buf.write("last run: never (cst run)\n")
        else:
            failed = run["failed_steps"]
            buf.write(
                f"last run: {run['outcome']} at {run['finished_at']} "
                f"({run['steps']} steps"
                + (f"; failed: {', '.join(failed)}" if failed else "")
                + ")\n"
            )
        if data["locks"]:
            buf.write("locks: " + ", ".join(lk["name"] for lk in data["locks"]) + "\n")
    if out_path:
        from cstoolkit.ops.status import write_atomic

        write_atomic(out_path, buf.getvalue())
        app.say(f"status written to {out_path}")
    else:
        click.echo(buf.getvalue(), nl=False)
