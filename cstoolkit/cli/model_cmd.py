"""``cst model``: learned routing, trained on the store's own history (docs/routing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app

COLUMNS = ["target", "predictor", "n", "accuracy", "macro_f1"]
FLOOR_COLUMNS = ["target", "floor", "coverage", "accuracy"]


@click.group(cls=base.Group)
def model() -> None:
    """Train, evaluate and explain the routing model (needs cstoolkit[ml])."""


def _models_dir(app: App) -> Path:
    return app.config.base_dir / "models"


def _time(value: str | None, option: str) -> Any:
    if value is None:
        return None
    from cstoolkit.timespec import option as timespec_option
    from cstoolkit.timespec import parse_time

    with timespec_option(option):
        return parse_time(value)


def _recipes(app: App, paths: tuple[str, ...]) -> Any:
    """The recipes baseline: plan each test ticket with the named recipes (default: the
    workspace's recipes/*.yaml), None when there are none."""
    from cstoolkit.routing.service import recipe_decider
    from cstoolkit.triage.engine import Planner
    from cstoolkit.triage.runner import Workspace

    files = list(paths)
    if not files:
        folder = app.config.base_dir / "recipes"
        files = [
            str(p)
            for p in sorted(folder.glob("*.yaml"))
            if not p.name.endswith(".test.yaml") and not p.name.startswith("roster")
        ]
    if not files:
        return None
    ws = Workspace(app.config, app.host, app.store)
    recipes = ws.load(files)
    planner = Planner(recipes, ws.context(recipes))

    def plan(ticket: Any, requester: Any) -> dict[str, Any]:
        return planner.plan_ticket_safely(ticket, requester).after

    return recipe_decider(plan)


@model.command("train", cls=base.Command)
@click.option("--since", help="Only tickets created since (a date or an age such as 180d).")
@click.option("--until", help="Only tickets created before.")
@click.option(
    "--classifier",
    type=click.Choice(["calibrated", "sgd", "logreg"]),
    default="calibrated",
    show_default=True,
    help="The linear model (docs/routing.md, Choices).",
)
@click.option("--no-validate", is_flag=True, help="Skip the time-ordered validation figures.")
@click.option(
    "--exclude-tag",
    "exclude_tags",
    multiple=True,
    help="A tag not to learn as a topic (besides es, en, pt, vip, escalated).",
)
@format_options()
@pass_app
def train(
    app: App,
    since: str | None,
    until: str | None,
    classifier: str,
    no_validate: bool,
    exclude_tags: tuple[str, ...],
    fmt: str,
    as_json: bool,
) -> None:
    """Learn group, priority, topic tags and language from what people decided; write the
    model and its metadata to the workspace's models/ folder."""
    from cstoolkit.output import emit
    from cstoolkit.routing import service

    start, end = _time(since, "--since"), _time(until, "--until")
    excluded = (*service.DEFAULT_EXCLUDED_TAGS, *exclude_tags)
    validation = None
    if not no_validate:
        validation = service.evaluate(
            app.store, since=start, until=end, kind=classifier, exclude_tags=excluded
        )
    meta = service.train(
        app.store,
        _models_dir(app),
        since=start,
        until=end,
        kind=classifier,
        validation=validation,
        exclude_tags=excluded,
    )
    fmt = chosen_format(fmt, as_json)
    emit(fmt, _rows(validation or {}), COLUMNS, document=meta, title="Validation")
    app.say(
        f"trained on {meta['data']['tickets']} tickets ({meta['data']['from']} .. "
        f"{meta['data']['to']}) in {meta['train_seconds']} s: {_models_dir(app)}/routing.skops "
        f"({meta['size_bytes'] / 1e6:.1f} MB)"
    )


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for target, entry in result.get("targets", {}).items():
        for who in ("model", "majority", "recipes"):
            if who in entry:
                r = entry[who]
                rows.append(
                    {
                        "target": target,
                        "predictor": who,
                        "n": r["n"],
                        "accuracy": r["accuracy"],
                        "macro_f1": r["macro_f1"],
                    }
                )
    return rows


@model.command("evaluate", cls=base.Command)
@click.option("--since", help="Only tickets created since (a date or an age such as 180d).")
@click.option("--until", help="Only tickets created before.")
@click.option(
    "--test-share",
    type=float,
    default=0.2,
    show_default=True,
    help="The newest share of the tickets to test on (trained on the older rest).",
)
@click.option(
    "--classifier",
    type=click.Choice(["calibrated", "sgd", "logreg"]),
    default="calibrated",
    show_default=True,
)
@click.option(
    "--exclude-tag",
    "exclude_tags",
    multiple=True,
    help="A tag not to learn as a topic (besides es, en, pt, vip, escalated).",
)
@click.option(
    "--recipes",
    "recipe_paths",
    multiple=True,
    help="Recipes of the rules baseline (default: the workspace's recipes/*.yaml).",
)
@format_options(extra=("html",))
@pass_app
def evaluate(
    app: App,
    since: str | None,
    until: str | None,
    test_share: float,
    classifier: str,
    exclude_tags: tuple[str, ...],
    recipe_paths: tuple[str, ...],
    fmt: str,
    as_json: bool,
) -> None:
    """Time-ordered validation: train on older tickets, test on newer; per-class figures,
    macro-F1, confusion, the confidence-floor table, against the majority class and what the
    current recipes decided."""
    from cstoolkit.output import emit, render
    from cstoolkit.routing import service

    result = service.evaluate(
        app.store,
        since=_time(since, "--since"),
        until=_time(until, "--until"),
        test_share=test_share,
        kind=classifier,
        exclude_tags=(*service.DEFAULT_EXCLUDED_TAGS, *exclude_tags),
        recipes=_recipes(app, recipe_paths),
    )
    fmt = chosen_format(fmt, as_json)

    def html(out: Any) -> None:
        from cstoolkit.routing.html import page

        out.write(page(result))

    emit(
        fmt,
        _rows(result),
        COLUMNS,
        document=result,
        writers={"html": html},
        title="Time-ordered validation",
    )
    if fmt == "table":
        floors = [
            {"target": t, **row}
            for t, e in result["targets"].items()
            if t in ("group", "priority")
            for row in e["model"]["floors"]
        ]
        render(floors, FLOOR_COLUMNS, "table", title="Confidence floors (model)")


@model.command("explain", cls=base.Command)
@click.argument("ticket")
@click.option(
    "--target",
    type=click.Choice(["group", "priority", "language"]),
    default="group",
    show_default=True,
)
@click.option("--top", type=int, default=10, show_default=True)
@format_options()
@pass_app
def explain(app: App, ticket: str, target: str, top: int, fmt: str, as_json: bool) -> None:
    """The terms that pushed TICKET's prediction (weight = the term's value x its weight)."""
    from cstoolkit.output import emit
    from cstoolkit.routing import service

    result = service.explain(app.store, _models_dir(app), ticket, target, top)
    rows = [{"term": r["term"], "weight": r["weight"], "pushes": "for"} for r in result["for"]]
    rows += [
        {"term": r["term"], "weight": r["weight"], "pushes": "against"} for r in result["against"]
    ]
    fmt = chosen_format(fmt, as_json)
    emit(
        fmt,
        rows,
        ["term", "weight", "pushes"],
        document=result,
        title=f"{ticket}: {target} {result['prediction']} ({result['confidence']:.2f})",
    )


@model.command("status", cls=base.Command)
@click.option("--weeks", type=int, default=4, show_default=True)
@format_options()
@pass_app
def status(app: App, weeks: int, fmt: str, as_json: bool) -> None:
    """The model's age, whether it must be retrained, and the last weeks' accuracy against its
    validation accuracy."""
    from cstoolkit.output import emit
    from cstoolkit.routing import service

    data = service.status(app.store, _models_dir(app), weeks=weeks)
    rows = [
        {
            "target": t,
            "validation_accuracy": data["validation"].get(t),
            "recent_accuracy": r["accuracy"],
            "recent_tickets": r["tickets"],
        }
        for t, r in data["recent"].items()
    ]
    fmt = chosen_format(fmt, as_json)
    emit(
        fmt,
        rows,
        ["target", "validation_accuracy", "recent_accuracy", "recent_tickets"],
        document=data,
        title=f"model {data['name']}: {data['age_days']} days old",
    )
    if data["retrain"]:
        app.say(f"retrain: {data['retrain']}")
