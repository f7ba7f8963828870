"""Every check of a configuration: the schema's, then what only the engines can tell.

:func:`cstoolkit.config.check_config` checks the file against the schema (types, ranges,
unknown keys, references). Some values mean something only to the engine that reads them; this
module asks each engine, for every part the schema found no error in:

* each ``[calendars.NAME]``: its hours, days and holiday country (:mod:`cstoolkit.calendars`);
* each ``[sla.NAME]``: priorities, statuses, metrics and its ``when`` condition
  (:mod:`cstoolkit.sla`);
* the roster file (:mod:`cstoolkit.triage.roster`), and the groups its tiers escalate to;
* each plugin instance, built without a store as ``cst doctor`` builds it (its own checks of
  its settings, and the signing keys of a survey provider that signs links), and the
  ``mapping`` targets of a backend (model values).

``cst config check``, ``cst doctor`` and every command that loads the config run these (the
command layer adds the ``[run]`` steps parsed as command lines: :mod:`cstoolkit.cli.steps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cstoolkit.config import INSTANCE_SECTIONS, Config, Problem, check_config
from cstoolkit.config.check import PluginHost
from cstoolkit.config.positions import parse_field
from cstoolkit.errors import ConfigError, CstError


def config_problems(
    config: Config, host: PluginHost, *, resolve_secrets: bool = True
) -> list[Problem]:
    """The schema's problems, then the engines' for the parts the schema found fine.

    ``resolve_secrets=False``: see :func:`cstoolkit.config.check_config`; an instance whose
    secret references do not resolve here is then not built by the check either.
    """
    problems = check_config(config, host, resolve_secrets=resolve_secrets)
    broken = {_prefix(p.field) for p in problems if p.severity == "error" and p.field}
    known = {p.field for p in problems}
    if not resolve_secrets:
        broken |= _unresolved_instances(config)
    for check in (_calendars, _sla, _roster, _instances):
        for problem in check(config, host, broken):
            if problem.field not in known or problem.severity != "error":
                problems.append(problem)
    return problems


def _unresolved_instances(config: Config) -> set[str]:
    """``section.name`` of each instance with an ``env:``/``key:`` reference that does not
    resolve on this host."""
    from cstoolkit import secrets

    out = set()
    for section in INSTANCE_SECTIONS:
        for name, table in _tables(config, section, set()):
            for value in _leaves(table):
                if not (secrets.is_reference(value) and value.startswith(("env:", "key:"))):
                    continue
                try:
                    secrets.resolve(value, field="", env=config.env)
                except CstError:
                    out.add(f"{section}.{name}")
                    break
    return out


def _prefix(field: str) -> str:
    """``sla.gold.first_reply`` -> ``sla.gold``: the part a problem makes unusable."""
    return ".".join(field.split("[", maxsplit=1)[0].split(".")[:2])


def _problem(config: Config, exc: CstError, fallback: tuple[str, ...]) -> Problem:
    field = getattr(exc, "field", None) or ".".join(fallback)
    path = parse_field(field)
    message = getattr(exc, "bare_message", None) or str(exc)
    return Problem(message, config.label, config.line(*path) or config.line(*fallback), field)


def _tables(config: Config, section: str, broken: set[str]) -> Iterator[tuple[str, dict]]:
    tables = config.data.get(section)
    if not isinstance(tables, dict) or section in broken:
        return
    for name, table in tables.items():
        if isinstance(table, dict) and f"{section}.{name}" not in broken:
            yield name, table


def _calendars(config: Config, host: Any, broken: set[str]) -> Iterator[Problem]:
    from cstoolkit.calendars import parse_calendar

    for name, table in _tables(config, "calendars", broken):
        try:
            parse_calendar(name, table)
        except ConfigError as exc:
            yield _problem(config, exc, ("calendars", name))


def _sla(config: Config, host: Any, broken: set[str]) -> Iterator[Problem]:
    from cstoolkit.config.check import names_of
    from cstoolkit.sla import parse_policy

    calendars = names_of(config.data)["calendars"]
    for position, (name, table) in enumerate(_tables(config, "sla", broken)):
        try:
            parse_policy(name, table, calendars=calendars, position=position)
        except ConfigError as exc:
            yield _problem(config, exc, ("sla", name))


def _roster(config: Config, host: Any, broken: set[str]) -> Iterator[Problem]:
    if not isinstance(config.data.get("roster"), str) or "roster" in broken:
        return
    from cstoolkit.triage.roster import load_from_config

    try:
        roster = load_from_config(config, None)
    except CstError as exc:
        yield Problem(str(exc), config.label, config.line("roster"), "roster")
        return
    if roster is None:
        return
    groups = set(roster.groups) | {g for agent in roster.agents for g in agent.groups}
    for tier, group in sorted(roster.tiers.items()):
        if group not in groups:
            yield Problem(
                f"{roster.source}: tiers: tier {tier} escalates to group {group!r}, which no "
                "agent is in and groups does not define",
                config.label,
                config.line("roster"),
                "roster",
            )


def _instances(config: Config, host: Any, broken: set[str]) -> Iterator[Problem]:
    from cstoolkit import secrets
    from cstoolkit.instances import build_instance

    for section in INSTANCE_SECTIONS:
        for name, table in _tables(config, section, broken):
            if any(secrets.is_reference(v) and v.startswith("keyring:") for v in _leaves(table)):
                continue  # resolved only when used: asking the keyring can prompt
            if section == "backends":
                yield from _mapping(config, name, table.get("mapping"))
            try:
                obj = build_instance(config, host, section, name, None)
                try:
                    if hasattr(type(obj), "signer"):  # a provider that signs links
                        obj.signer  # noqa: B018  (builds the signer: checks its keys)
                finally:
                    close = getattr(obj, "close", None)
                    if callable(close):
                        close()
            except CstError as exc:
                yield _problem(config, exc, (section, name))
            except Exception as exc:  # a plugin that fails on its own settings
                first = f"{type(exc).__name__}: {exc}".splitlines()[0]
                yield Problem(
                    f"the plugin refused these settings ({secrets.REDACTOR.redact(first)})",
                    config.label,
                    config.line(section, name),
                    f"{section}.{name}",
                )


def _mapping(config: Config, name: str, mapping: Any) -> Iterator[Problem]:
    """Each target of ``mapping.statuses/priorities/channels`` must be a model value."""
    from cstoolkit import model

    if not isinstance(mapping, dict):
        return
    enums = {"statuses": model.Status, "priorities": model.Priority, "channels": model.Channel}
    for table, enum in enums.items():
        values = mapping.get(table)
        if not isinstance(values, dict):
            continue
        allowed = sorted(m.value for m in enum)
        for vendor, target in values.items():
            if target not in allowed:
                path = ("backends", name, "mapping", table, vendor)
                yield Problem(
                    f"{target!r} is not one of {', '.join(allowed)}",
                    config.label,
                    config.line(*path),
                    f"backends.{name}.mapping.{table}.{vendor}",
                )


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value
