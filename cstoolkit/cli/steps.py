"""The ``[run]`` steps checked as the command lines they are.

The config layer knows which commands ``cst run`` may schedule; only the commands themselves
know their options. Each step is parsed by its click command (no callback runs), so an unknown
option or a bad value is a config problem of the step's line, and the names a step gives are
checked: recipe files must exist (relative to the config file, where steps run), backend
instances, surveys and calendars must be configured, a mirror's target must not be read-only.
"""

from __future__ import annotations

import shlex
from typing import Any

import click

from cstoolkit.config import Config, Problem
from cstoolkit.config.check import names_of
from cstoolkit.config.positions import field_name
from cstoolkit.config.run_plan import command_key
from cstoolkit.config.schema import did_you_mean

#: command -> parameter -> what the value names: ``file`` (an input that must exist), or the
#: section whose instance it names.
REFERENCES: dict[str, dict[str, str]] = {
    "triage run": {"recipes": "file"},
    "triage backtest": {"recipe": "file"},
    "recipe check": {"files": "file"},
    "recipe test": {"files": "file"},
    "recipe graph": {"file": "file"},
    "sync pull": {"instances": "backends"},
    "sync push": {"instances": "backends"},
    "sync mirror": {"source": "backends", "target": "backends"},
    "survey send": {"survey_name": "surveys"},
    "survey pull": {"survey_name": "surveys"},
    "report kpi": {"calendar": "calendars"},
}


def step_problems(config: Config) -> list[Problem]:
    """One problem per step whose command line does not parse or names what does not exist
    (steps the schema already refuses are left to it)."""
    run = config.data.get("run")
    steps = run.get("steps") if isinstance(run, dict) else None
    out = []
    for i, item in enumerate(steps if isinstance(steps, list) else []):
        command = item.get("command") if isinstance(item, dict) else item
        if not isinstance(command, str):
            continue
        try:
            args = shlex.split(command)
        except ValueError:
            continue
        args = args[1:] if args[:1] == ["cst"] else args
        if command_key(args) is None:
            continue
        for message in _check(config, args):
            path = ("run", "steps", i)
            out.append(Problem(message, config.label, config.line(*path), field_name(path)))
    return out


def _parse(args: list[str]) -> tuple[list[str], click.Context]:
    """A step's command words and its parsed context (click errors propagate)."""
    from cstoolkit.cli import cli

    root = cli.make_context("cst", [], resilient_parsing=True)
    command: Any = cli
    words: list[str] = []
    rest = list(args)
    ctx = root
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"no command {name!r}")
        words.append(name)
        command = sub
    return words, command.make_context(" ".join(["cst", *words]), rest, parent=root)


def _check(config: Config, args: list[str]) -> list[str]:
    try:
        words, parsed = _parse(args)
    except click.exceptions.Exit:
        return ["command: asks for --help or --version"]
    except click.ClickException as exc:
        return [f"command: {exc.format_message()}"]
    out = []
    for param, kind in REFERENCES.get(" ".join(words), {}).items():
        value = parsed.params.get(param)
        for item in value if isinstance(value, tuple | list) else [value]:
            if item is None:
                continue
            why = _reference(config, kind, str(item))
            if why:
                out.append(f"{param.removesuffix('_name')}: {why}")
    if words == ["sync", "mirror"]:
        target = config.instances("backends").get(str(parsed.params.get("target")))
        if target is not None and target.read_only:
            out.append(f"target: [backends.{target.name}] is read_only: mirror cannot write to it")
    return out


def _reference(config: Config, kind: str, value: str) -> str | None:
    if kind == "file":
        path = config.resolve_path(value)
        try:
            if path.is_file():
                return None
        except OSError:
            pass
        return f"{value}: no such file (steps run in {config.base_dir})"
    names = names_of(config.data)[kind]
    if value in names:
        return None
    hint = did_you_mean(value, names)
    return f"no [{kind}.{value}]{hint or '; configured: ' + (', '.join(sorted(names)) or 'none')}"


def describe(config: Config, store: Any, args: list[str]) -> str:
    """What a step with no dry-run form would do, for ``cst run --dry-run`` (which does not run
    it): the backends it would pull and since when, the file it would import..."""
    try:
        words, parsed = _parse(args)
    except (click.ClickException, click.exceptions.Exit):
        return ""
    params = parsed.params
    key = " ".join(words)
    if key == "sync pull":
        names = list(params.get("instances") or ()) or sorted(config.instances("backends"))
        if not names:
            return "would pull nothing: no backends configured"
        since = []
        for name in names:
            _cursor, last = store.cursor_info(name)
            when = f"changes since {last:%Y-%m-%d %H:%M} UTC" if last else "all (never pulled)"
            since.append(f"{name}: {when}")
        return "would pull tickets into the store from " + "; ".join(since)
    if key == "survey pull":
        which = params.get("survey_name")
        return "would fetch new answers of " + (f"[surveys.{which}]" if which else "every survey")
    if key == "survey import":
        return f"would import the answers in {params.get('file')}"
    if key == "triage apply":
        return f"would apply the reviewed plan {params.get('plan_file')} to the helpdesks"
    return ""
