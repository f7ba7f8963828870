"""``cst inbound``: customers' messages in (webhooks, a mailbox) and agents' replies back out."""

from __future__ import annotations

import sys

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.output import echo

OUTCOME_COLUMNS = ["source", "message_id", "action", "ticket", "detail"]
REPLY_COLUMNS = ["ticket", "key", "action", "detail"]
STATUS_COLUMNS = ["source", "kind", "ref", "state", "detail"]


@click.group(cls=base.Group)
def inbound() -> None:
    """Take customers' WhatsApp, SMS and email messages in; send agents' replies back out."""


@inbound.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8766, show_default=True, help="Port to bind (0: any).")
@pass_app
def serve(app: App, host: str, port: int) -> None:
    """Receive the providers' webhooks: POST /inbound/NAME for each [inbound.NAME].

    Answers Meta's hub.challenge check, verifies every request's signature (403 when missing or
    wrong), refuses malformed bodies (400) and takes each message in once. Put it behind your
    reverse proxy and set each source's public_url to the URL the provider calls.
    """
    from cstoolkit.inbound.server import make_server

    server = make_server(app.config, app.host, app.store, host=host, port=port)
    bound_host, bound_port = server.server_address[:2]
    app.say(f"serving inbound webhooks on http://{bound_host!s}:{bound_port}/ (Ctrl-C to stop)")
    for name, ep in server.app.endpoints.items():
        shown = ep.public_url or f"http://{bound_host}:{bound_port}/inbound/{name}"
        app.say(f"  inbound.{name} ({ep.source.name}): {shown}")
    if not server.app.endpoints:
        app.say("  no webhook source is configured ([inbound.NAME] with plugin whatsapp or twilio)")
    for o in server.app.recover():
        app.say(f"  recovered {o.source}:{o.message_id}: {o.action} {o.ticket_id or ''} {o.detail}")
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
        server.app.close()


@inbound.command("replies")
@click.argument("names", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send nothing.")
@format_options()
@pass_app
def replies(app: App, names: tuple[str, ...], dry_run: bool, fmt: str, as_json: bool) -> None:
    """Deliver agents' public replies on WhatsApp and SMS tickets over their channel.

    Run after `cst sync pull` (scheduled: acts unless --dry-run). Each reply goes out once;
    outside WhatsApp's 24-hour window without a template the ticket is tagged and noted
    instead. Exit 1 when a delivery failed or ended in doubt.
    """
    from cstoolkit.inbound.replies import FAILED, IN_DOUBT, REFUSED, deliver_replies
    from cstoolkit.output import render

    chosen = list(names) or list(app.config.instances("inbound"))
    rows = []
    for name in chosen:
        app.config.instance("inbound", name)
        rows += [d.as_dict() for d in deliver_replies(app.config, app.host, app.store, name,
                                                      dry_run=dry_run)]  # fmt: skip
    count = render(rows, REPLY_COLUMNS, chosen_format(fmt, as_json), title="Replies")
    if count == 0 and chosen_format(fmt, as_json) == "table":
        app.say("no reply to deliver")
    if any(r["action"] in (FAILED, IN_DOUBT, REFUSED) for r in rows):
        sys.exit(1)


@inbound.command("poll")
@click.argument("names", nargs=-1)
@format_options()
@pass_app
def poll(app: App, names: tuple[str, ...], fmt: str, as_json: bool) -> None:
    """Read the polled sources (an IMAP mailbox, a Maildir) once and take each new message in.

    A message that cannot be parsed is left in the mailbox, flagged and reported (exit 1);
    nothing is ever deleted. With answer_from_kb, each new ticket gets its first answer from
    the knowledge base (said on stderr). Scheduled: run it from cron or `cst run`.
    """
    from cstoolkit.inbound.engine import FAILED, IN_DOUBT
    from cstoolkit.inbound.first_answer import NOT_TRIED
    from cstoolkit.inbound.poll import poll_sources
    from cstoolkit.output import render

    report = poll_sources(app.config, app.host, app.store, list(names) or None)
    rows = [o.as_dict() for o in report.outcomes]
    render(rows, OUTCOME_COLUMNS, chosen_format(fmt, as_json), title="Inbound")
    for p in report.problems:
        echo(f"warning: {p}")
    for a in report.answers:
        app.say(f"first answer on {a.ticket_id}: {a.action.replace('_', ' ')}: {a.detail}")
    if not rows and not report.problems and chosen_format(fmt, as_json) == "table":
        app.say("no new message")
    not_tried = any(a.action == NOT_TRIED for a in report.answers)
    if report.problems or not_tried or any(r["action"] in (FAILED, IN_DOUBT) for r in rows):
        sys.exit(1)


@inbound.command("status")
@format_options()
@pass_app
def status(app: App, fmt: str, as_json: bool) -> None:
    """Messages in doubt, held, or left unparsed in a mailbox (exit 1 when there are any)."""
    from cstoolkit.inbound.status import problems
    from cstoolkit.output import render

    rows = problems(app.store)
    count = render(rows, STATUS_COLUMNS, chosen_format(fmt, as_json), title="Inbound problems")
    if count == 0 and chosen_format(fmt, as_json) == "table":
        app.say("nothing in doubt, nothing left unparsed")
    if count:
        sys.exit(1)


@inbound.command("resolve")
@click.argument("name")
@click.argument("message_id")
@click.option("--ticket", help="The ticket you found created for it (its external id).")
@click.option("--again", is_flag=True, help="It was not created: take it in again next time.")
@pass_app
def resolve(app: App, name: str, message_id: str, ticket: str | None, again: bool) -> None:
    """Settle an in-doubt message of [inbound.NAME] after checking the helpdesk."""
    from cstoolkit.errors import NotFoundError, UsageError
    from cstoolkit.inbound.engine import Settings, resolve
    from cstoolkit.model import qualify

    if bool(ticket) == again:
        raise UsageError("give either --ticket ID or --again")
    backend = Settings.of(app.config, name).backend
    created = qualify(backend, ticket) if ticket else None
    if not resolve(app.store, name, message_id, created=created):
        raise NotFoundError(f"{name}:{message_id}: no such message in doubt",
                            hint="see: cst inbound status")  # fmt: skip
    app.say(f"{name}:{message_id}: " + (f"recorded as {created}" if created else "released"))
