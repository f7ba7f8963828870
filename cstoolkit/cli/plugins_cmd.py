"""``cst plugins``: what is loaded and why not; new plugins from templates; install and restore.

Thin: the engines are :mod:`cstoolkit.scaffold` and :mod:`cstoolkit.plugin_install`.
"""

from __future__ import annotations

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, chosen_format, format_options, pass_app


@click.group(cls=base.Group)
def plugins() -> None:
    """List, create, install and restore plugins."""


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
    regs = {(r.plugin, r.kind, r.name): r for r in host.registrations()}
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


@plugins.command("new")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["backend", "channel", "survey"]),
    required=True,
    help="What the plugin provides.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to create the cstoolkit-NAME folder.",
)
@pass_app
def new_plugin(app: App, name: str, kind: str, directory: str) -> None:
    """Write a ready plugin distribution (offline): pyproject, module, README, tests.

    The tests subclass the kit's conformance suite and pass as generated:
    cd cstoolkit-NAME && pip install -e '.[test]' && pytest
    """
    from pathlib import Path

    from cstoolkit import scaffold

    target = scaffold.create(name, kind, Path(directory))
    click.echo(str(target))
    app.say(
        f"created {kind} plugin in {target}; next (docs/plugins/tutorial.md):\n"
        f"  cd {target}\n"
        "  python -m venv .venv && . .venv/bin/activate\n"
        "  pip install -r requirements-core.txt    # the cstoolkit you run, from where it came\n"
        "  pip install -e '.[test]'\n"
        "  pytest"
    )


@plugins.command("install")
@click.argument("requirements", nargs=-1, required=True)
@click.option("--upgrade", "-U", is_flag=True, help="Upgrade if already installed.")
@pass_app
def install_plugins(app: App, requirements: tuple[str, ...], upgrade: bool) -> None:
    """pip install plugin distributions into cst's own environment and record them.

    Recorded requirements are installed again by `cst plugins restore` (after an upgrade
    that replaced the environment).
    """
    from cstoolkit import plugin_install

    names = plugin_install.install(requirements, upgrade=upgrade)
    app.say(f"installed {', '.join(names)} (recorded in {plugin_install.record_path()})")


@plugins.command("uninstall")
@click.argument("names", nargs=-1, required=True)
@pass_app
def uninstall_plugins(app: App, names: tuple[str, ...]) -> None:
    """pip uninstall plugin distributions and forget them."""
    from cstoolkit import plugin_install

    done = plugin_install.uninstall(names)
    app.say(f"uninstalled {', '.join(done)}")


@plugins.command("restore")
@pass_app
def restore_plugins(app: App) -> None:
    """Install every plugin recorded by `cst plugins install` again."""
    from cstoolkit import plugin_install

    specs = plugin_install.restore()
    if not specs:
        app.say(f"no plugins recorded in {plugin_install.record_path()}; nothing to do")
        return
    app.say(f"reinstalled {', '.join(specs)}")
