"""``cst sync``: pull tickets into the store, push planned changes, mirror between backends.

Exit codes (docs/sync.md): 0 ok; 1 some instance or change failed (or conflicted); 2 usage or
configuration error (including an instance whose credentials are refused); 4 busy (another run
holds the lock) when nothing failed. With several instances: 2 over 1 over 4.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from cstoolkit.cli import base, progress
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app
from cstoolkit.errors import EXIT_BUSY, EXIT_FAILED, BusyError, CstError
from cstoolkit.output import echo


@click.group(cls=base.Group)
def sync() -> None:
    """Pull tickets into the store, push planned changes, mirror between backends."""


def _json_logs() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("log_format") == "json")


class _Reporter:
    """Human lines on a terminal, one JSON event per line under ``--log-format json``."""

    def __init__(self, app: App) -> None:
        self.app = app
        # Under --log-format json: one JSON event per instance (its summary) even without -v,
        # so cron logs stay quiet and structured; the engine's own log lines need -v.
        self.json = _json_logs()
        self.live: Any = None  # the progress bars (cstoolkit.cli.progress.Bars), while shown

    def _say(self, text: str) -> None:
        if self.live is not None:
            self.live.say(text)
        else:
            echo(text)

    def info(self, instance: str | None, event: str, message: str, **fields: Any) -> None:
        if self.json:
            if not self.app.quiet:
                self._event("info", instance, event, message, fields)
        elif not self.app.quiet:
            self._say(message)

    def error(self, instance: str | None, event: str, message: str, **fields: Any) -> None:
        if self.json:
            self._event("error", instance, event, message, fields)
        else:
            self._say(f"error: {message}")

    def _event(
        self, level: str, instance: str | None, event: str, message: str, fields: dict[str, Any]
    ) -> None:
        from cstoolkit.output import plain
        from cstoolkit.secrets import REDACTOR

        entry = {
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "level": level,
            "logger": "cstoolkit.sync",
            "event": event,
            "instance": instance,
            "message": REDACTOR.redact(message),
            **plain(fields),
        }
        click.echo(json.dumps(entry, ensure_ascii=False), err=True)


# -- pull ------------------------------------------------------------------------------------


@sync.command("pull")
@click.argument("instances", nargs=-1)
@click.option("--full", is_flag=True, help="Re-read everything and mark what is gone as deleted.")
@click.option(
    "--since",
    "since_text",
    metavar="WHEN",
    help="Re-read tickets updated since WHEN: 2024-05-01, 2024-05-01T08:00Z, 12h, 7d, 2w.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@pass_app
def pull(
    app: App, instances: tuple[str, ...], full: bool, since_text: str | None, as_json: bool
) -> None:
    """Pull changed tickets from INSTANCES (default: every configured backend).

    Resumable: each page and its cursor are committed together, so a killed run continues where
    it stopped. A second run on an instance that is being pulled exits at once (code 4); the
    other instances still run. Exit 1 if any instance failed, 2 for a configuration or
    credentials problem, 4 if one was busy and none failed.
    """
    from cstoolkit import sync as engine
    from cstoolkit.config import locate
    from cstoolkit.output import write_json

    since = engine.parse_since(since_text) if since_text else None
    config = app.config
    names = list(dict.fromkeys(instances)) or sorted(config.instances("backends"))
    for name in names:
        config.instance("backends", name)  # an unknown name is a usage error before any run
    report = _Reporter(app)
    if not names:
        report.info(
            None, "sync.nothing", f"no backends configured in {config.label}; nothing to do"
        )
    summaries: list[dict[str, Any]] = []
    codes: list[int] = []
    with progress.bars(quiet=app.quiet) as bars:
        report.live = bars
        for name in names:
            task = bars.add(name, unit="tickets")

            def on_page(summary: engine.PullSummary, page: object, task: Any = task) -> None:
                s = summary.stats
                task.update(
                    completed=summary.fetched,
                    note=f"{summary.pages} pages +{s.inserted} ~{s.updated} -{s.deleted}",
                )

            try:
                backend = app.backend(name)
                try:
                    engine.start_date(
                        backend,
                        path=config.label,
                        line=locate(config.text, ["backends", name], "start_date"),
                    )
                except CstError:
                    backend.close()
                    raise
                summary = engine.pull(app.store, backend, full=full, since=since, on_page=on_page)
            except BusyError as exc:
                codes.append(EXIT_BUSY)
                report.error(name, "sync.busy", str(exc))
                summaries.append(_failed(name, engine.BUSY, exc, full, since))
                continue
            except CstError as exc:
                codes.append(exc.exit_code)
                report.error(name, "sync.failed", f"{name}: {exc}")
                summaries.append(_failed(name, engine.FAILED, exc, full, since))
                continue
            finally:
                task.finish()
            codes.append(0)
            record = summary.as_dict()
            summaries.append(record)
            s = summary.stats
            report.info(
                name,
                "sync.summary",
                f"{name}: fetched {summary.fetched} tickets in {summary.pages} page(s): "
                f"{s.inserted} new, {s.updated} updated, {s.unchanged} unchanged, "
                f"{s.deleted} deleted ({summary.seconds:.1f}s"
                + (f", {summary.requests} requests" if summary.requests else "")
                + (f", {summary.retries} retries" if summary.retries else "")
                + (
                    f", {summary.seconds_waited_rate_limit:.1f}s rate-limited"
                    if summary.seconds_waited_rate_limit
                    else ""
                )
                + ")",
                summary=record,
            )
    code = engine.exit_code(codes)
    if as_json:
        write_json({"instances": summaries, "exit_code": code})
    if code:
        sys.exit(code)


def _failed(
    name: str, outcome: str, exc: CstError, full: bool, since: datetime | None
) -> dict[str, Any]:
    from cstoolkit import sync as engine
    from cstoolkit.secrets import REDACTOR

    summary = getattr(exc, "pull_summary", None)  # what was committed before the failure
    if not isinstance(summary, engine.PullSummary):
        summary = engine.PullSummary(name, outcome=outcome, full=full, since=since)
    summary.outcome = outcome
    summary.error = REDACTOR.redact(str(exc))
    summary.exit_code = exc.exit_code
    return summary.as_dict()


# -- push ------------------------------------------------------------------------------------

QUEUE_COLUMNS = [
    "id",
    "state",
    "instance",
    "ticket_id",
    "source",
    "changes",
    "attempts",
    "reason",
    "created_at",
    "updated_at",
    "run_id",
]


def _queue_record(entry: Any) -> dict[str, Any]:
    from cstoolkit.push import changes_to_dict

    changes = changes_to_dict(entry.changes)
    if "comments" in changes:
        changes["comments"] = [
            ("public: " if c["public"] else "note: ") + c["body"][:60] for c in changes["comments"]
        ]
    return {
        "id": entry.id,
        "state": entry.state,
        "instance": entry.instance,
        "ticket_id": entry.ticket_id,
        "source": entry.source,
        "changes": changes,
        "attempts": entry.attempts,
        "reason": entry.reason,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "run_id": entry.run_id,
    }


@sync.command("push")
@click.argument("instances", nargs=-1)
@click.option("--list", "show_list", is_flag=True, help="Show the queue instead of pushing it.")
@click.option(
    "--resend-in-doubt",
    is_flag=True,
    help="Queue again the changes in doubt (a pusher died while posting them; check the "
    "tickets first), then push.",
)
@format_options()
@pass_app
def push(
    app: App,
    instances: tuple[str, ...],
    show_list: bool,
    resend_in_doubt: bool,
    fmt: str,
    as_json: bool,
) -> None:
    """Retry planned changes still waiting (pending or failed) for INSTANCES (default: all).

    Each change goes through the one write path: a ticket changed upstream since the plan is a
    conflict and is not overwritten; a read_only instance gets nothing. `--list` shows the
    queue of pending, claimed, failed, conflicting, refused and in-doubt changes with their
    reasons (conflicts and refusals are not retried: plan them again; a change in doubt is
    queued again only with --resend-in-doubt). Exit 1 when any change failed, conflicted, was
    refused or ended in doubt; 4 when an instance is being pushed by another run.
    """
    from cstoolkit import push as engine
    from cstoolkit.output import render, write_json
    from cstoolkit.store import locks

    chosen = list(dict.fromkeys(instances)) or None
    if show_list:
        shown = (engine.PENDING, engine.CLAIMED, engine.FAILED, engine.CONFLICT,
                 engine.REFUSED, engine.IN_DOUBT)  # fmt: skip
        queue = list(engine.entries(app.store, states=shown, instances=chosen))
        count = render(
            (_queue_record(e) for e in queue),
            QUEUE_COLUMNS,
            chosen_format(fmt, as_json),
            title="Write queue",
            table_columns=["id", "state", "ticket_id", "source", "changes", "attempts", "reason"],
        )
        if count == 0 and chosen_format(fmt, as_json) == "table":
            app.say("the write queue is empty")
        return
    report = _Reporter(app)
    if resend_in_doubt:
        count = engine.resend_in_doubt(app.store, chosen)
        app.say(f"{count} change(s) in doubt queued again")
    pushable = (*engine.RETRYABLE, engine.CLAIMED)  # claimed: maybe a dead pusher's
    waiting = sorted({e.instance for e in engine.entries(app.store, states=pushable)})
    names = [n for n in chosen if n in waiting] if chosen else waiting
    busy: list[str] = []
    with contextlib.ExitStack() as stack:
        held = []
        for name in names:
            try:
                stack.enter_context(locks.hold(app.store, f"push:{name}"))
                held.append(name)
            except BusyError as exc:
                busy.append(name)
                report.error(name, "push.busy", str(exc))
        summary = (
            engine.push(app.store, app.backend, instances=held) if held else engine.PushSummary()
        )
    for entry in [*summary.results, *summary.fenced, *summary.in_doubt]:
        if entry.state in (engine.FAILED, engine.CONFLICT, engine.REFUSED, engine.IN_DOUBT) or (
            entry in summary.fenced
        ):
            state = "fenced" if entry in summary.fenced else entry.state
            report.error(
                entry.instance, f"push.{state}", f"{entry.ticket_id}: {state}: {entry.reason}"
            )
    report.info(
        None,
        "push.summary",
        f"pushed {len(summary.results)} change(s): {summary.applied} applied, "
        f"{summary.unchanged} unchanged, {summary.conflicts} conflicts, {summary.failed} failed, "
        f"{summary.refused} refused" + (f"; busy: {', '.join(busy)}" if busy else ""),
        summary={k: v for k, v in summary.as_dict().items() if k != "results"},
    )
    if as_json or fmt == "json":
        write_json({**summary.as_dict(), "busy": busy})
    if not summary.ok:
        sys.exit(EXIT_FAILED)
    if busy:
        sys.exit(EXIT_BUSY)


# -- mirror ----------------------------------------------------------------------------------

ACTION_COLUMNS = ["action", "source_id", "target_id", "outcome", "changes", "detail"]


@sync.command("mirror")
@click.argument("source")
@click.argument("target")
@click.option("-q", "--query", "query_text", help="Only tickets of SOURCE matching this condition.")
@click.option("--apply", is_flag=True, help="Create and update in TARGET (default: dry run).")
@click.option(
    "--public-comments",
    is_flag=True,
    help="Post SOURCE's comments on TARGET as public replies (default: internal notes, so "
    "TARGET never emails SOURCE's customer).",
)
@format_options()
@pass_app
def mirror(
    app: App,
    source: str,
    target: str,
    query_text: str | None,
    apply: bool,
    public_comments: bool,
    fmt: str,
    as_json: bool,
) -> None:
    """Create and update the tickets of SOURCE in TARGET (a dry run unless --apply).

    Reads SOURCE from the store (pull it first). A ticket is created in TARGET once, with a
    marker that a re-run finds even after a crash; afterwards its status, priority, tags and
    public comments follow through the push engine, as internal notes on TARGET unless
    --public-comments. A ticket mirrored A->B is never mirrored back B->A. Exit 1 when a
    creation or change failed or conflicted, 4 when the pair is busy.
    """
    from cstoolkit import mirror as engine
    from cstoolkit.cli.querying import selection
    from cstoolkit.output import render, write_json

    app.config.instance("backends", source)
    node = selection(app, query_text, "sync mirror --query")
    backend = app.backend(target)
    try:
        summary = engine.mirror(
            app.store, source, backend, query=node, apply=apply, backend_for=app.backend,
            public_comments=public_comments,
        )  # fmt: skip
    finally:
        backend.close()
    output = chosen_format(fmt, as_json)
    if output == "json":
        write_json(summary.as_dict())
    else:
        render(
            (a.as_dict() for a in summary.actions),
            ACTION_COLUMNS,
            output,
            title=f"Mirror {source} -> {target}" + ("" if apply else " (dry run)"),
        )
    verb = "" if apply else "would be "
    app.say(
        f"{source} -> {target}: {summary.selected} selected; {summary.created} {verb}created, "
        f"{summary.linked} linked by marker, {summary.updated} {verb}updated, "
        f"{summary.skipped} skipped, {summary.conflicts} conflicts, {summary.failed} failed"
        + ("" if apply else "; dry run: nothing written (add --apply)")
    )
    if not summary.ok:
        sys.exit(EXIT_FAILED)
