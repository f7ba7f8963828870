"""``cst triage``: run recipes over stored tickets (dry run unless --apply), apply a reviewed
plan, revert a run, backtest a recipe over history."""

from __future__ import annotations

from typing import Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app

PLAN_COLUMNS = ["ticket", "subject", "matched", "changes", "skipped", "errors"]
RESULT_COLUMNS = ["id", "ticket_id", "instance", "state", "changes", "old_values", "attempts",
                  "reason", "source", "run_id", "created_at", "updated_at"]  # fmt: skip
REVERT_COLUMNS = ["ticket", "restores", "not restored"]


def _workspace(app: App, *, store: bool = True) -> Any:
    from cstoolkit.triage.runner import Workspace

    ws = Workspace(app.config, app.host, app.store if store else None)
    if store and (app.config.base_dir / "models" / "routing.json").exists():
        from cstoolkit.routing.service import Predictor

        # the workspace's routing model: predicted.* fields and the route action
        ws.predict = Predictor(app.config.base_dir / "models")
    return ws


def _plan_rows(plan: Any, predict: Any = None) -> list[dict[str, Any]]:
    rows = []
    for tp in plan.tickets:
        row = {
            "ticket": tp.ticket_id,
            "subject": tp.subject,
            "matched": tp.matched,
            "changes": tp.describe_changes(),
            "skipped": tp.skipped,
            "errors": tp.errors,
        }
        if predict is not None:  # the routing model's prediction beside the decision
            row["prediction"] = predict.describe(tp.ticket_id)
        rows.append(row)
    return rows


def _show_plan(app: App, plan: Any, fmt: str, title: str, predict: Any = None) -> None:
    from cstoolkit.output import render, write_json

    if predict is not None and not predict.last:
        predict = None  # the recipes asked the model nothing
    extra = ["prediction"] if predict is not None else []
    if fmt == "json":
        doc = plan.as_dict()
        if predict is not None:
            doc["predictions"] = {t.ticket_id: predict.last.get(t.ticket_id) for t in plan.tickets}
        write_json(doc)
        return
    rows = _plan_rows(plan, predict)
    if fmt in ("ndjson", "csv"):
        render(rows, PLAN_COLUMNS + extra, fmt)
        rows = []
    for row in rows:
        row["matched"] = "\n".join(row["matched"])
        row["changes"] = "\n".join(
            row["changes"]
            + [f"({s})" for s in row["skipped"]]
            + [f"ERROR {e}" for e in row["errors"]]
        )
    if rows:
        render(rows, ["ticket", "subject", "matched", "changes", *extra], "table", title=title)
    s = plan.summary()
    app.say(
        f"{s['evaluated']} tickets evaluated, {s['matched']} matched a rule, "
        f"{s['changing']} would change ({s['comments']} comments, "
        f"{s['notifications']} notifications)" + (f", {s['errors']} errors" if s["errors"] else "")
    )
    busiest = [f"{k} {v}" for k, v in plan.rule_matches.items() if v]
    if busiest:
        app.say("matches per rule: " + ", ".join(busiest))
    _show_failed(plan)


def _show_failed(plan: Any) -> None:
    """One line per ticket that failed, then how many (always shown: they make the exit 1)."""
    failed = plan.failed
    for tp in failed:
        click.echo(f"failed {tp.ticket_id}: {'; '.join(tp.errors)}", err=True)
    if failed:
        click.echo(
            f"{len(failed)} of {plan.evaluated} tickets failed (nothing is written to them)",
            err=True,
        )


def _show_report(app: App, report: Any, fmt: str, *, failed: bool = False) -> None:
    from cstoolkit.output import render, write_json

    if fmt == "json":
        write_json(report.as_dict())
    elif fmt in ("ndjson", "csv"):
        results = report.push.results if report.push is not None else []
        render((r.as_dict() for r in results), RESULT_COLUMNS, fmt)
    if failed:  # a saved plan's failed tickets (`triage run` showed them with the plan)
        for line in report.failed:
            click.echo(f"failed {line}", err=True)
        if report.failed:
            click.echo(
                f"{len(report.failed)} tickets failed (nothing is written to them)", err=True
            )
    p = report.push
    if p is not None:
        app.say(
            f"run {report.run_id}: {p.applied} applied, {p.unchanged} unchanged, "
            f"{p.conflicts} conflicts, {p.failed} failed, {p.refused} refused"
        )
        for entry in p.results:
            if entry.state in ("conflict", "failed", "refused"):
                app.say(f"  {entry.state} {entry.ticket_id}: {entry.reason}")
    if report.notifications:
        app.say("notifications: " + ", ".join(f"{k} {v}" for k, v in report.notifications.items()))
    for err in report.notification_errors:
        app.say(f"  {err}")
    if report.ledger_refused:
        app.say(f"{len(report.ledger_refused)} actions already done by another run (skipped)")
    if report.run_id and p is not None and p.applied:
        app.say(f"undo with: cst triage revert {report.run_id}")
    elif not report.planned and not report.notifications:
        app.say("nothing to change")


@click.group(cls=base.Group)
def triage() -> None:
    """Run triage recipes over stored tickets (dry run unless --apply)."""


@triage.command("run")
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-q", "--query", "query_text", help="Only tickets matching this condition.")
@click.option("--apply", "do_apply", is_flag=True, help="Write the changes (default: dry run).")
@click.option(
    "--max-changes",
    type=click.IntRange(min=0),
    help="Refuse to apply a run that would change more tickets than this.",
)
@click.option("--plan-out", type=click.Path(dir_okay=False), help="Save the plan as JSON.")
@format_options()
@pass_app
def run_cmd(
    app: App,
    recipes: tuple[str, ...],
    query_text: str | None,
    do_apply: bool,
    max_changes: int | None,
    plan_out: str | None,
    fmt: str,
    as_json: bool,
) -> None:
    """Show what RECIPES would do to the stored tickets; --apply writes it.

    The dry run lists, per ticket, the rules that matched and each field's old -> new value.
    --apply stores the plan and pushes it through the write path (conflict checks, audit log,
    failure queue); running it again changes nothing.
    """
    from cstoolkit.triage import runner

    fmt = chosen_format(fmt, as_json)
    from cstoolkit.cli import progress

    ws = _workspace(app)
    try:
        with progress.task("triage", quiet=app.quiet):
            plan = runner.plan_run(ws, list(recipes), query_text=query_text)
        if plan_out:
            runner.write_plan(plan, plan_out)
            app.say(f"plan written to {plan_out}")
        if not do_apply:
            _show_plan(app, plan, fmt, "Triage plan (dry run: nothing written)", ws.predict)
            if fmt == "json":
                _show_failed(plan)
            if plan.failed:
                raise click.exceptions.Exit(1)
            return
        runner.check_max_changes(plan, max_changes)
        if fmt == "table":
            _show_plan(app, plan, fmt, "Triage plan (applying)", ws.predict)
        else:
            _show_failed(plan)
        report = runner.apply(ws, plan)
        _show_report(app, report, fmt)
    finally:
        ws.close()
    if not report.ok:
        raise click.exceptions.Exit(1)


@triage.command("apply")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--max-changes", type=click.IntRange(min=0), help="Refuse a larger plan.")
@format_options()
@pass_app
def apply_cmd(app: App, plan_file: str, max_changes: int | None, fmt: str, as_json: bool) -> None:
    """Apply exactly the plan a lead reviewed (saved by `triage run --plan-out`).

    A ticket changed upstream since the plan was made is refused (conflict), never overwritten.
    """
    from cstoolkit.triage import runner

    fmt = chosen_format(fmt, as_json)
    plan = runner.read_plan(plan_file)
    runner.check_max_changes(plan, max_changes)
    ws = _workspace(app)
    try:
        report = runner.apply(ws, plan, kind="plan-file")
        _show_report(app, report, fmt, failed=True)
    finally:
        ws.close()
    if not report.ok:
        raise click.exceptions.Exit(1)


@triage.command("revert")
@click.argument("run_id")
@click.option("--dry-run", is_flag=True, help="Show what would be put back; write nothing.")
@format_options()
@pass_app
def revert_cmd(app: App, run_id: str, dry_run: bool, fmt: str, as_json: bool) -> None:
    """Put back the old values a run changed (from the audit log of its pushed changes)."""
    from cstoolkit.output import render, write_json
    from cstoolkit.triage import revert

    fmt = chosen_format(fmt, as_json)
    ws = _workspace(app)
    result = revert.revert(ws.store, run_id, ws.backend_for, dry_run=dry_run)
    if fmt == "json":
        write_json(result.as_dict())
    else:
        rows = [
            {
                "ticket": i.ticket_id,
                "restores": "\n".join(i.describe()),
                "not restored": "\n".join(i.notes),
            }
            for i in result.items
        ]
        if rows or fmt != "table":
            render(
                rows,
                REVERT_COLUMNS,
                fmt,
                title=f"Revert of run {run_id}" + (" (dry run)" if dry_run else ""),
            )
        app.say(result.message())
    if not result.ok:
        raise click.exceptions.Exit(1)


@triage.command("backtest")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="History to replay: an age back from --until (30d, 12w) or a start (docs/time.md).",
)
@click.option(
    "--until",
    help="End of the period: a date, an ISO time (UTC unless zoned), today (default: now).",
)
@click.option("-q", "--query", "query_text", help="Only tickets matching this condition.")
@click.option(
    "--after",
    default="0h",
    show_default=True,
    help="Run the recipe this long after each ticket arrived (e.g. 4h, 2d).",
)
@click.option(
    "--sla-sample",
    type=click.IntRange(min=0),
    default=2000,
    show_default=True,
    help="Tickets whose SLA clocks are replayed for the projection (0: all).",
)
@click.option(
    "--per-ticket",
    is_flag=True,
    help="Show each ticket's decisions beside the routing model's prediction and confidence "
    "(CSV/NDJSON: these rows instead of the figures).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="With --per-ticket: at most this many tickets, in arrival order (0: all).",
)
@format_options()
@pass_app
def backtest_cmd(
    app: App,
    recipe: str,
    since: str,
    until: str | None,
    query_text: str | None,
    after: str,
    sla_sample: int,
    per_ticket: bool,
    limit: int,
    fmt: str,
    as_json: bool,
) -> None:
    """Replay RECIPE over stored history without writing anything.

    Each ticket created in the period is taken as it arrived and run through the recipe at its
    creation time: matches per rule, the resulting distribution per agent, group and tier, the
    load per agent per shift, projected SLA outcomes, what the knowledge-base actions would
    have answered, and what the routing model changed against the recipe alone. --per-ticket
    lists each ticket's rules and decisions (field: old -> new) beside the model's prediction.
    """

    from cstoolkit.triage import backtest

    fmt = chosen_format(fmt, as_json)
    ws = _workspace(app)
    delay = backtest.parse_after(after)
    end = backtest.parse_until(until) if until else None
    backtest.parse_since(since, until=end)  # a bad --since fails before the replay
    from cstoolkit.cli import progress

    with progress.task("backtest", quiet=app.quiet):
        result = backtest.run(
            ws,
            recipe,
            since=since,
            query_text=query_text,
            sla_sample=sla_sample,
            after=delay,
            end=end,
            per_ticket=limit if per_ticket else None,
        )
    backtest.show(result, fmt, say=app.say)
