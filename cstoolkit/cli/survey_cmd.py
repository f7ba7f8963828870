"""``cst survey``: send post-resolution surveys, serve the answer page, import and list answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.output import echo

SEND_COLUMNS = ["survey", "ticket", "action", "channel", "address", "language", "reason"]
SEND_RECORD_COLUMNS = ["survey", "ticket", "action", "reason", "requester", "address", "channel",
                       "language", "key", "provider_ref", "due_at"]  # fmt: skip
RESPONSE_COLUMNS = ["answered_at", "survey", "kind", "score", "ticket", "requester", "comment",
                    "source"]  # fmt: skip


@click.group(cls=base.Group)
def survey() -> None:
    """Send post-resolution surveys (CSAT, NPS, CES) and collect the answers."""


@survey.command("send")
@click.option("--dry-run", is_flag=True, help="Say who would get what, and why others not.")
@click.option("--survey", "survey_name", help="Only this [surveys.NAME].")
@format_options()
@click.option(
    "--resend-in-doubt",
    is_flag=True,
    help="Send again, on purpose, the surveys whose delivery is unknown (may duplicate).",
)
@click.option(
    "-v",
    "--verbose",
    "details",
    is_flag=True,
    help="After the summary, one line per survey considered (table format).",
)
@pass_app
def send(
    app: App,
    dry_run: bool,
    survey_name: str | None,
    fmt: str,
    as_json: bool,
    resend_in_doubt: bool,
    details: bool,
) -> None:
    """Send every due survey, each at most once (scheduled: acts unless --dry-run).

    Prints a summary (how many were sent or would be, and why the others were not); --verbose
    adds one line per survey considered, failures and doubts are always listed. Exit 0 when
    everything due went out (or nothing was due), 1 when a send failed or ended in doubt, 4
    when another run holds the lock. --format json prints the run report; ndjson and csv one
    record per survey considered.
    """
    from cstoolkit.output import render, write_json
    from cstoolkit.surveys.send import (
        FAILED_NOW,
        FENCED,
        IN_DOUBT_NOW,
        RECONCILED,
        SENT,
        send_surveys,
    )

    fmt = chosen_format(fmt, as_json)
    as_json = fmt == "json"
    if not app.config.instances("surveys"):
        app.say(f"no [surveys.NAME] configured in {app.config.label}; nothing to do")
        if fmt in ("ndjson", "csv"):
            render([], SEND_RECORD_COLUMNS, fmt)
        if as_json:
            write_json({"dry_run": dry_run, "surveys": [], "sent": 0, "in_doubt": []})
        return
    from cstoolkit.cli import progress

    store = app.store
    with progress.task("surveys" + (" (dry run)" if dry_run else ""), quiet=app.quiet):
        report = send_surveys(
            app.config,
            app.host,
            store,
            survey=survey_name,
            dry_run=dry_run,
            resend_in_doubt=resend_in_doubt,
        )
    if as_json:
        write_json(report.as_dict())
    else:
        if fmt != "table":
            render(report.as_dict()["items"], SEND_RECORD_COLUMNS, fmt)
        # Summary first (stderr); the lines per survey after it, on request (or when they
        # need attention: a failure, a doubt, a fenced or reconciled send).
        if dry_run:
            app.say(f"dry run: {report.count('would_send')} survey(s) would be sent")
        else:
            app.say(
                f"sent {report.count(SENT)}, failed {report.count(FAILED_NOW)}, "
                f"in doubt {report.count(IN_DOUBT_NOW)}, reconciled {report.count(RECONCILED)}"
                + (f", fenced {report.count(FENCED)}" if report.count(FENCED) else "")
                + f" ({report.seconds:.1f}s)"
            )
        for reason, n in report.skipped.items():
            app.say(f"  not sent: {n} {reason}")
        verbose = details or app.verbose > 0
        attention = (FAILED_NOW, IN_DOUBT_NOW, RECONCILED, FENCED)
        shown = [
            i
            for i in report.items
            if i.action in attention or (verbose and (dry_run or i.action == SENT))
        ]
        if shown and fmt == "table":
            render([i.as_dict() for i in shown], SEND_COLUMNS, "table")
        if not verbose and fmt == "table" and len(shown) < len(report.items):
            app.say("  one line per survey: add --verbose")
    for err in report.errors:
        echo(f"error: {err}")
    if report.in_doubt and not as_json:
        echo(
            f"warning: {len(report.in_doubt)} survey(s) in doubt (delivered or not is unknown; "
            "never resent blindly):"
        )
        for e in report.in_doubt[:20]:
            echo(f"  {e['key']} to {e['address']} via {e['channel']}: {e['why']}")
        echo("  resend them on purpose with: cst survey send --resend-in-doubt")
    if report.exit_code:
        sys.exit(report.exit_code)


@survey.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port to bind (0: any).")
@pass_app
def serve(app: App, host: str, port: int) -> None:
    """Serve the answer and opt-out pages that survey links point to.

    Put it behind your reverse proxy and set each survey's public_url to the address people
    reach; it binds to 127.0.0.1 unless told otherwise.
    """
    from cstoolkit.surveys.server import make_server

    server = make_server(app.config, app.host, host=host, port=port)
    bound_host, bound_port = server.server_address[:2]
    app.say(f"serving survey pages on http://{bound_host!s}:{bound_port}/ (Ctrl-C to stop)")
    for name, url in server.app.public_urls().items():
        app.say(f"  surveys.{name}: links point to {url}")
    lim = server.limits
    app.say(
        f"  limits: headers {lim.max_header_bytes:,} B, body {lim.max_body_bytes:,} B, "
        f"{lim.request_timeout}s per request, {lim.idle_timeout}s idle, "
        f"{lim.max_connections} connections (docs/security.md)"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        app.say("stopped")
    finally:
        server.server_close()


@survey.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--survey", "survey_name", help="Survey of every row (else a survey column).")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even if some are bad.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def import_(
    app: App, file: Path, survey_name: str | None, skip_invalid: bool, as_json: bool
) -> None:
    """Import answers collected elsewhere from FILE.csv.

    Columns: ticket, score, survey (unless --survey); optional comment, answered_at (ISO 8601),
    kind (for a survey not configured here) and external_id. Every row is checked first: one bad
    row imports nothing unless --skip-invalid. Re-importing a file adds nothing twice.
    """
    from cstoolkit.errors import EXIT_FAILED, EXIT_USAGE
    from cstoolkit.model import now
    from cstoolkit.output import write_json
    from cstoolkit.surveys.answers import import_csv

    result = import_csv(
        app.config, app.store, file, survey=survey_name, now=now(), skip_invalid=skip_invalid
    )
    for err in result.errors:
        echo(f"error: {err}")
    if as_json:
        write_json(result.as_dict())
    if result.errors and not skip_invalid:
        app.say(f"{file}: {len(result.errors)} invalid row(s); nothing imported")
        sys.exit(EXIT_USAGE)
    app.say(
        f"{file}: {result.rows} row(s): {result.imported} imported, "
        f"{result.duplicates} already there, {len(result.errors)} invalid"
    )
    if result.errors:
        sys.exit(EXIT_FAILED)


@survey.command("responses")
@click.option("--survey", "survey_names", multiple=True, help="Only these surveys.")
@click.option(
    "--since", help="Only answers since: an age (30d) or a time (2026-01-31; docs/time.md)."
)
@format_options()
@pass_app
def responses(
    app: App, survey_names: tuple[str, ...], since: str | None, fmt: str, as_json: bool
) -> None:
    """List survey answers (web, import and provider pulls), with a summary on stderr."""
    from cstoolkit.output import render
    from cstoolkit.store import surveys as db
    from cstoolkit.surveys.answers import summarize

    rows = db.answers(app.store, surveys=survey_names, since=_since(since))
    fmt = chosen_format(fmt, as_json)
    render([r.as_dict() for r in rows], RESPONSE_COLUMNS, fmt)
    for line in summarize(rows):
        app.say(line)


@survey.command("pull")
@click.option("--survey", "survey_name", help="Only this survey.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def pull(app: App, survey_name: str | None, as_json: bool) -> None:
    """Fetch answers from hosted survey providers (e.g. Nicereply) into the store."""
    from cstoolkit.model import now
    from cstoolkit.output import write_json
    from cstoolkit.surveys.answers import pull_responses

    results = [
        r.as_dict()
        for r in pull_responses(app.config, app.host, app.store, now=now(), survey=survey_name)
    ]
    if as_json:
        write_json({"surveys": results})
    for r in results:
        app.say(
            f"{r['survey']}: fetched {r['fetched']}, recorded {r['recorded']}, "
            f"unmatched {r['unmatched']}"
        )
    if not results:
        app.say("no hosted survey provider configured; nothing to pull")


@survey.command("optouts")
@format_options()
@pass_app
def optouts(app: App, fmt: str, as_json: bool) -> None:
    """List people who opted out of surveys (they are never surveyed again)."""
    from cstoolkit.output import render
    from cstoolkit.store import surveys as db

    render(db.list_optouts(app.store), ["value", "kind", "requester_id", "at", "source"],
           chosen_format(fmt, as_json))  # fmt: skip


def _since(text: str | None) -> Any:
    """``--since``: a time spec (docs/time.md), UTC unless it says otherwise."""
    if not text:
        return None
    from cstoolkit import timespec
    from cstoolkit.model import now

    with timespec.option("--since"):
        return timespec.parse_time(text, now=now())
