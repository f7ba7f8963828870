"""``cst status``: sync freshness, queues, surveys and the last run, for people and Prometheus."""

from __future__ import annotations

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app

TABLE_COLUMNS = ["instance", "tickets", "last_success_at", "lag", "cursor_age", "last_outcome",
                 "rate_limit_wait_seconds", "push_queue", "push_blocked"]  # fmt: skip
#: ndjson/csv: every field of an instance's row (seconds as numbers).
RECORD_COLUMNS = ["instance", "tickets", "last_success_at", "lag_seconds", "cursor_age_seconds",
                  "last_outcome", "last_run_at", "rate_limit_wait_seconds", "requests", "retries",
                  "push_queue", "push_blocked"]  # fmt: skip


@click.command("status", cls=base.Command)
@format_options(extra=("prometheus",))
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write to FILE atomically (temporary file + rename) instead of stdout.",
)
@pass_app
def status(app: App, fmt: str, as_json: bool, out_path: str | None) -> None:
    """Per backend instance: last successful sync, lag, cursor age, rate-limit waits, push
    queue; pending and in-doubt surveys; the last `cst run`'s outcome.

    --format prometheus writes the text exposition format for the node exporter's textfile
    collector; ndjson and csv write one record per instance.
    """
    import io

    from cstoolkit.ops import status as engine
    from cstoolkit.output import emit

    fmt = chosen_format(fmt, as_json)
    data = engine.collect(app.store, sorted(app.config.instances("backends")))
    buf = io.StringIO()
    rows = engine.table_rows(data)
    emit(
        fmt,
        rows,
        RECORD_COLUMNS,
        document=data,
        writers={"prometheus": lambda out: out.write(engine.prometheus(data))},
        out=buf,
        title="Sync",
        table_columns=TABLE_COLUMNS,
    )
    if fmt == "table":
        s = data["surveys"]
        buf.write(
            f"surveys: {s['pending']} pending, {s['in_doubt']} in doubt, {s['sent']} sent, "
            f"{s['answers']} answers\n"
        )
        inbound = data["inbound"]
        if any(inbound.values()):
            buf.write(
                f"inbound: {inbound['in_doubt']} in doubt, {inbound['interrupted']} interrupted, "
                f"{inbound['unparsed']} unparsed (cst inbound status)\n"
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
