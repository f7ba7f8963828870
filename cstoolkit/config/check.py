"""Checking a whole configuration against the schema: every problem with its file, line and key.

:func:`check_config` walks the file once: unknown sections and keys (with a did-you-mean), types
and ranges, required keys, the core sections' rules, each plugin instance against the settings
its plugin declares, and the references between parts (a survey's channel, a calendar named by
an SLA policy or the reports, the roster file, secret references that must resolve, the
distributions ``required_plugins`` names). :func:`section_values` gives the engines the typed
values of one core table, checked the same way.

The plugin host is passed in (anything with ``get(kind, name) -> plugin class``): this module
imports no engine and no plugin.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cstoolkit import secrets
from cstoolkit.config.core import SECTIONS
from cstoolkit.config.files import Config
from cstoolkit.config.positions import Path as KeyPath
from cstoolkit.config.positions import field_name, line_of
from cstoolkit.config.run_plan import RunPlan, build_plan
from cstoolkit.config.schema import BAD, Key, Section, Walk, did_you_mean
from cstoolkit.errors import ConfigError, PluginError


class PluginHost(Protocol):
    def get(self, kind: str, name: str) -> Any: ...


@dataclass
class Problem:
    """One finding of ``cst config check``."""

    message: str
    path: str | None = None
    line: int | None = None
    field: str | None = None
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = self.path or "<config>"
        if self.line:
            where += f":{self.line}"
        fld = f" {self.field}:" if self.field else ""
        return f"{where}: {self.severity}:{fld} {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


def names_of(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Section -> the names its tables define (and its built-in names), for references."""
    out: dict[str, list[str]] = {}
    for name, section in SECTIONS.items():
        if section.form != "tables":
            continue
        tables = data.get(name)
        own = (
            [k for k, v in tables.items() if isinstance(v, dict)]
            if isinstance(tables, dict)
            else []
        )
        out[name] = [*section.builtin_names, *own]
    return out


def secret_resolver(env: Mapping[str, str]) -> Any:
    """Raises ValueError when an ``env:`` or ``key:`` reference does not resolve.

    ``keyring:`` references are resolved only when used: asking the system keyring can prompt.
    """

    def resolve(ref: str) -> None:
        if ref.startswith("keyring:"):
            return
        try:
            secrets.resolve(ref, field="", env=env)
        except ConfigError as exc:
            raise ValueError(exc.bare_message) from None

    return resolve


class Checker:
    def __init__(
        self, config: Config, host: PluginHost | None, *, resolve_secrets: bool = True
    ) -> None:
        self.config = config
        self.host = host
        self.walk = Walk(
            base_dir=config.base_dir,
            names=names_of(config.data),
            resolve_secret=secret_resolver(config.env) if resolve_secrets else None,
        )

    def problem(self, path: KeyPath, message: str, severity: str = "error") -> None:
        self.walk.problem(path, message, severity)

    def rules(self, section: Section, values: dict[str, Any], at: KeyPath) -> None:
        def problem(where: Any, message: str, severity: str = "error") -> None:
            rel = (where,) if isinstance(where, str) else tuple(where)
            self.problem((*at, *rel), message, severity)

        for rule in section.rules:
            rule(values, problem)

    # -- the file --------------------------------------------------------------------------------

    def run(self) -> None:
        data = self.config.data
        for name, value in data.items():
            section = SECTIONS.get(name)
            if section is None:
                hint = did_you_mean(name, sorted(SECTIONS))
                self.problem((name,), f"unknown section{hint}")
            elif section.form == "value":
                self.value_section(section, value)
            elif not isinstance(value, dict):
                self.problem((name,), f"must be a table ([{name}])")
            elif section.form == "table":
                values = self.walk.table(section.keys, value, (name,), what=section.noun)
                self.rules(section, values, (name,))
            else:
                self.named_tables(section, value)

    def value_section(self, section: Section, value: Any) -> None:
        key = section.keys[0]
        path = (section.name,)
        typed = self.walk.value(key, value, path)
        if section.name == "roster" and isinstance(typed, str) and typed != "store":
            try:
                found = self.config.resolve_path(typed).is_file()
            except (OSError, ValueError):
                found = False
            if not found:
                self.problem(path, f'{typed}: no such file (a roster file, or "store")')

    def named_tables(self, section: Section, tables: dict[str, Any]) -> None:
        for name, table in tables.items():
            path = (section.name, name)
            if not isinstance(table, dict):
                self.problem(path, f"must be a table ([{section.name}.{name}])")
                continue
            if section.name_pattern is not None and not section.name_pattern.fullmatch(name):
                self.problem(path, "instance names may use letters, digits, - and _ (1-64)")
            if section.plugin_kind is not None:
                self.instance(section, name, table)
                continue
            values = self.walk.table(section.keys, table, path, what=section.noun)
            self.rules(section, values, path)

    # -- plugin instances ------------------------------------------------------------------------

    def instance(self, section: Section, name: str, table: dict[str, Any], cls: Any = None) -> None:
        """One ``[section.name]`` table against the core keys and its plugin's settings
        (``cls``: the plugin class, else looked up in the host)."""
        path = (section.name, name)
        core = {k.name: k for k in section.keys}
        plugin = table.get("plugin")
        if plugin is None:
            self.problem((*path, "plugin"), "missing 'plugin = \"...\"'")
            return
        if not isinstance(plugin, str):
            self.walk.value(core["plugin"], plugin, (*path, "plugin"))
            return
        if cls is None and self.host is not None:
            try:
                cls = self.host.get(section.plugin_kind or "", plugin)
            except PluginError as exc:
                self.problem((*path, "plugin"), str(exc))
        settings = {s.name: s for s in getattr(cls, "settings", ())}
        known = sorted(set(core) | set(settings))
        for key, value in table.items():
            where = (*path, key)
            if key in core:
                self.walk.value(core[key], value, where)
            elif key in settings:
                self.setting(settings[key], value, where)
            elif cls is not None:
                hint = did_you_mean(key, known)
                self.problem(where, f"unknown setting for plugin {plugin!r}{hint}")
        for spec_key in core.values():
            if spec_key.required and spec_key.name not in table:
                self.problem(path, f"required setting {spec_key.name!r} is missing")
        for spec in settings.values():
            if spec.required and spec.name not in table and spec.name not in core:
                self.problem(path, f"required setting {spec.name!r} is missing")

    def setting(self, spec: Any, value: Any, path: KeyPath) -> None:
        """One value of a plugin's own setting (a ``Setting``: its ``check`` decides)."""
        why = spec.check(value)
        if why:
            self.problem(path, why)
            return
        if spec.type == "path" and isinstance(value, str) and not value.strip():
            self.problem(path, "expected a path, got an empty string")
        if spec.secret:
            refs = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, ref in refs:
                where = path if sub is None else (*path, sub)
                if isinstance(ref, str):
                    self.walk.value(Key(spec.name, "secret", secret=True), ref, where)
                else:
                    self.problem(where, "expected a secret reference (env:NAME or key:NAME)")


def check_config(
    config: Config, host: PluginHost | None, *, resolve_secrets: bool = True
) -> list[Problem]:
    """Every problem of the file, each with its file, line and field.

    ``resolve_secrets=False`` (the check every command runs on load) leaves out whether the
    ``env:``/``key:`` references resolve on this host: a host that runs only some jobs need
    not hold every instance's secrets, and an instance whose secret is missing fails, naming
    the setting, when a command uses it. ``cst config check`` and ``cst doctor`` resolve them.
    """
    checker = Checker(config, host, resolve_secrets=resolve_secrets)
    checker.run()
    return to_problems(config, checker.walk.found)


def to_problems(config: Config, found: Iterable[tuple[KeyPath, str, str]]) -> list[Problem]:
    out = []
    seen = set()
    for path, message, severity in found:
        if (path, message) in seen:
            continue
        seen.add((path, message))
        out.append(
            Problem(
                message,
                config.label,
                line_of(config.lines, path),
                field_name(path) or None,
                severity,
            )
        )
    return out


def section_values(name: str, source: Config | Mapping[str, Any]) -> dict[str, Any]:
    """The typed values of the core table ``[name]`` with defaults filled in.

    ``source`` is a :class:`Config` (errors then name the file and line) or its data mapping.
    Raises ConfigError for the first problem; ``cst config check`` reports them all.
    """
    config = source if isinstance(source, Config) else None
    data = source.data if isinstance(source, Config) else source
    section = SECTIONS[name]
    base = config.base_dir if config else Path(os.getcwd())
    walk = Walk(base_dir=base, names=names_of(data))
    table = data.get(name)
    if table is None:
        table = {}
    if not isinstance(table, dict):
        walk.problem((name,), f"must be a table ([{name}])")
        values: dict[str, Any] = {}
    else:
        values = walk.table(section.keys, table, (name,), what=section.noun)

        def problem(where: Any, message: str, severity: str = "error") -> None:
            rel = (where,) if isinstance(where, str) else tuple(where)
            walk.problem((name, *rel), message, severity)

        if not walk.found:
            for rule in section.rules:
                rule(values, problem)
    errors = [(p, m) for p, m, severity in walk.found if severity == "error"]
    if errors:
        path, message = errors[0]
        if config is not None:
            raise config.error(message, *path)
        raise ConfigError(message, field=field_name(path))
    return {k: v for k, v in values.items() if v is not BAD}


def key_values(keys: tuple[Key, ...], table: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The typed values of ``table`` checked against ``keys`` (references not checked), with
    defaults; ConfigError (field ``label.key``) for the first problem."""
    walk = Walk(base_dir=Path(os.getcwd()))
    values = walk.table(keys, table, tuple(label.split(".")))
    errors = [(p, m) for p, m, severity in walk.found if severity == "error"]
    if errors:
        path, message = errors[0]
        raise ConfigError(message, field=field_name(path))
    return values


# -- the [run] plan ----------------------------------------------------------------------------


def load_plan(config: Config) -> RunPlan:
    """The ``[run]`` table as steps; a ConfigError naming the file, line and field otherwise."""
    if config.data.get("run") is None:
        raise ConfigError(
            'no [run] table: name the steps, e.g. steps = ["sync pull", "survey send"]',
            path=config.label,
            field="run",
        )
    values = section_values("run", config)
    return build_plan(values, _raise_first(config))


def _raise_first(config: Config) -> Callable[..., None]:
    def fail(where: tuple[str | int, ...], message: str) -> None:
        path = ("run", *where)
        raise ConfigError(
            message, path=config.label, line=line_of(config.lines, path), field=field_name(path)
        )

    return fail
