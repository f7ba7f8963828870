"""``cst plugins``: what is loaded, what it registers, what failed and why."""

from __future__ import annotations

import click

from cstoolkit.cli.app import App, chosen_format, format_options, pass_app


@click.group()
def plugins() -> None:
    """List plugins and what they register."""


@plugins.command("list")
@format_options()
@pass_app
def list_plugins(app: App, fmt: str, as_json: bool) -> None:
    """Every plugin: distribution, version, what it registers, status and errors.

    A registration that is disabled (missing optional dependency) or shadowed by an earlier
    plugin with the same name is listed with the reason.
    """
    from cstoolkit.output import render

    host = app.host
    regs = {(r.plugin, r.kind, r.name): r for r in host.shadowed}
    for kind in host.registry.values():
        for r in kind.values():
            regs.setdefault((r.plugin, r.kind, r.name), r)
    rows = []
    for rec in host.records:
        entry = rec.as_dict()
        problems = []
        items = []
        for kind, names in rec.registers.items():
            for name in names:
                reg = regs.get((rec.name, kind, name))
                state = "" if reg is None or reg.enabled else " (disabled)"
                items.append(f"{kind}:{name}{state}")
                if reg is not None and not reg.enabled:
                    problems.append(f"{kind} {name!r}: {reg.reason}")
        entry["registers_text"] = ", ".join(items)
        entry["disabled"] = problems
        entry["notes"] = "; ".join(filter(None, [rec.error, *problems]))
        rows.append(entry)
    fmt = chosen_format(fmt, as_json)
    if fmt in ("json", "ndjson"):
        for row in rows:
            row.pop("registers_text")
            row.pop("notes")
        render(rows, [], fmt)
        return
    for row in rows:
        row["registers"] = row.pop("registers_text")
    render(
        rows,
        ["name", "distribution", "version", "status", "registers", "notes"],
        fmt,
        title="Plugins",
    )
