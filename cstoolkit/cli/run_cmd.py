"""``cst run``: every scheduled step of ``[run]`` in one cron line (docs/operations.md)."""

from __future__ import annotations

import sys

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, pass_app
from cstoolkit.output import echo


@click.command("run", cls=base.Command)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Preview every step on the current store: each in its dry-run form, or described "
    "when it has none (docs/operations.md).",
)
@click.option(
    "--max-runtime",
    metavar="DURATION",
    help="Stop the whole run after this long (90s, 10m, 2h); default [run] max_runtime.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON on stdout.")
@pass_app
def run(app: App, dry_run: bool, max_runtime: str | None, as_json: bool) -> None:
    """Run the steps named in [run] under one lock, each in its own process with a timeout.

    A failed step does not stop the steps after it (only those that `needs` it). Exit 0 when
    every step succeeded (or was skipped by a dry run), 1 when any failed or timed out, 2 for a
    configuration error, 4 when another `cst run` holds the lock.
    """
    from cstoolkit.cli import steps
    from cstoolkit.ops import parse_span
    from cstoolkit.ops import run as engine
    from cstoolkit.output import write_json

    limit = parse_span(max_runtime, "--max-runtime").total_seconds() if max_runtime else None
    config = app.config
    plan = engine.load_plan(config)
    engine.learn_secrets(config, app.host)
    ctx = click.get_current_context()
    root = ctx.find_root().params
    options: list[str] = []
    if root.get("log_format") == "json":
        options += ["--log-format", "json"]
    if root.get("quiet"):
        options.append("-q")
    options += ["-v"] * int(root.get("verbose") or 0)

    def show(result: engine.StepResult) -> None:
        line = f"{result.outcome:>9}  {result.name} ({result.seconds:.1f}s"
        if result.exit_code is not None:
            line += f", exit {result.exit_code}"
        line += ")" + (f": {result.reason}" if result.reason and result.outcome != "ok" else "")
        app.say(line)
        if dry_run and result.outcome == engine.OK:
            # What the step would do: the command run and the first line it said (its
            # summary: every command says its summary first).
            said = [
                x.strip()
                for x in result.stderr_tail.splitlines()
                if x.strip() and not x.startswith("store: ")
            ]
            app.say(f"           {result.command}" + (f": {said[0]}" if said else ""))

    app.say(f"cst run: {len(plan.steps)} step(s)" + (" (dry run)" if dry_run else ""))
    report = engine.execute(
        app.store,
        plan,
        config_path=config.path,
        cwd=config.base_dir,
        dry_run=dry_run,
        max_runtime=limit,
        root_options=options,
        on_step=show,
        describe=lambda step: steps.describe(config, app.store, step.args),
    )
    if as_json:
        write_json(report.as_dict())
    if report.stopped_by is not None:
        import signal

        app.say(f"run {report.run_id}: stopped by {signal.Signals(report.stopped_by).name}")
    failed = report.failed
    for r in failed:
        if r.stderr_tail:
            echo(f"--- {r.name}: last lines of stderr ---\n{r.stderr_tail}")
    app.say(
        f"run {report.run_id}: {len(report.steps) - len(failed)} of {len(report.steps)} step(s) "
        f"did not fail" + (f"; failed: {', '.join(r.name for r in failed)}" if failed else "")
    )
    if report.exit_code:
        sys.exit(report.exit_code)
