"""cstoolkit.toml: finding it, reading it, checking it, and building plugin instances from it.

Lookup order: ``--config``, then ``$CSTOOLKIT_CONFIG``, then ``./cstoolkit.toml``, then the
user config directory (``~/.config/cstoolkit/cstoolkit.toml`` on Linux). Relative paths in the
file resolve against the file's own directory, never the working directory (cron runs from
$HOME). String values may use ``${VAR}`` / ``${VAR:-default}``; secret settings hold references
(see :mod:`cstoolkit.secrets`).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit import secrets
from cstoolkit.errors import ConfigError, PluginError
from cstoolkit.plugin import COMMON_BACKEND_SETTINGS, PluginBase, Setting
from cstoolkit.textfiles import read_text

if TYPE_CHECKING:
    from cstoolkit.host import Host
    from cstoolkit.store import Store

CONFIG_NAME = "cstoolkit.toml"

#: [section] -> plugin kind of its named instances.
INSTANCE_SECTIONS: dict[str, str] = {
    "backends": "backend",
    "channels": "channel",
    "surveys": "survey_provider",
}
#: Top-level keys and tables the file may hold (other issues add theirs here).
KNOWN_SECTIONS: set[str] = {*INSTANCE_SECTIONS, "store"}
KNOWN_SECTIONS |= {"calendars", "sla", "roster"}  # triage and SLA (docs/sla.md, docs/roster.md)
KNOWN_SECTIONS |= {"kpi", "costs", "staffing"}  # reports (docs/metrics.md, docs/staffing.md)
KNOWN_SECTIONS |= {"run"}  # cst run (docs/operations.md)
KNOWN_SECTIONS |= {"required_plugins"}  # plugin pinning (cstoolkit/plugin_install.py)
STORE_KEYS = {
    "path": Setting("path", "path", help="SQLite store file (the default store)."),
    "url": Setting("url", help="postgresql://user@host:5432/db: the team store (PostgreSQL)."),
    "schema": Setting("schema", default="public", help="PostgreSQL schema of the store."),
    "password": Setting("password", secret=True, help="PostgreSQL password (env:/key: reference)."),
}

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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


@dataclass
class InstanceConfig:
    """A named plugin instance: ``[backends.zendesk_eu] plugin = "zendesk"``."""

    kind: str
    section: str
    name: str
    plugin: str
    settings: dict[str, Any]
    line: int | None = None

    @property
    def read_only(self) -> bool:
        return bool(self.settings.get("read_only", False))

    @property
    def label(self) -> str:
        return f"{self.section}.{self.name}"


@dataclass
class Config:
    path: Path | None
    data: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "<defaults>"

    def resolve_path(self, value: str) -> Path:
        """A path as written in this file: ``~`` expanded, relative to the file's directory."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def store_path(self) -> Path:
        store = self.data.get("store") or {}
        if store.get("path"):
            return self.resolve_path(str(store["path"]))
        if self.path:
            return self.base_dir / "cstoolkit.db"
        from platformdirs import user_data_dir

        return Path(user_data_dir("cstoolkit")) / "cstoolkit.db"

    @property
    def store_url(self) -> str | None:
        """The PostgreSQL URL of ``[store] url``, or None for the SQLite file."""
        url = (self.data.get("store") or {}).get("url")
        return str(url) if url else None

    @property
    def store_label(self) -> str:
        """Where the store is, safe to print (a URL loses its password)."""
        if self.store_url:
            from cstoolkit.store import redact_url

            return redact_url(self.store_url)
        return str(self.store_path)

    def open_store(self, *, migrate: bool = True) -> Store:
        """Open the configured store (SQLite file or PostgreSQL)."""
        from cstoolkit.store import open_store

        store = self.data.get("store") or {}
        if not self.store_url:
            return open_store(self.store_path, migrate=migrate)
        password = store.get("password")
        if password is not None:
            password = secrets.resolve(str(password), field="store.password", env=self.env)
        return open_store(
            self.store_url,
            migrate=migrate,
            schema=str(store.get("schema") or "public"),
            password=password,
        )

    def instances(self, section: str) -> dict[str, InstanceConfig]:
        out = {}
        for name, table in (self.data.get(section) or {}).items():
            if not isinstance(table, dict):
                continue
            settings = {k: v for k, v in table.items() if k != "plugin"}
            out[name] = InstanceConfig(
                kind=INSTANCE_SECTIONS[section],
                section=section,
                name=name,
                plugin=str(table.get("plugin", "")),
                settings=settings,
                line=locate(self.text, [section, name]),
            )
        return out

    def instance(self, section: str, name: str) -> InstanceConfig:
        found = self.instances(section)
        if name not in found:
            close = difflib.get_close_matches(name, list(found), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(found)) or "none configured"
            raise ConfigError(
                f"no [{section}.{name}] instance{hint}; configured: {known}", path=self.label
            )
        return found[name]


# -- loading ---------------------------------------------------------------------------------


def find_config(
    explicit: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    env = os.environ if env is None else env
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("config file not found", path=str(path))
        return path.resolve()
    if env.get("CSTOOLKIT_CONFIG"):
        path = Path(env["CSTOOLKIT_CONFIG"])
        if not path.is_file():
            raise ConfigError("config file named by CSTOOLKIT_CONFIG not found", path=str(path))
        return path.resolve()
    local = (cwd or Path.cwd()) / CONFIG_NAME
    if local.is_file():
        return local.resolve()
    from platformdirs import user_config_dir

    user = Path(user_config_dir("cstoolkit")) / CONFIG_NAME
    return user if user.is_file() else None


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    if path is None:
        return Config(path=None, env=env)
    try:
        text = read_text(path)  # strict UTF-8, size-bounded (cstoolkit.textfiles)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(
            f"invalid TOML: {msg}",
            path=str(path),
            line=int(m.group(1)) if m else None,
            column=int(m.group(2)) if m else None,
        ) from None
    data = _interpolate(data, env, path, text, [])
    return Config(path=path, data=data, text=text, env=env)


def _interpolate(
    value: Any, env: Mapping[str, str], path: Path, text: str, trail: list[str]
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env, path, text, [*trail, k]) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, path, text, trail) for v in value]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"environment variable {name} is not set (use ${{{name}:-default}} for a default)",
                path=str(path),
                line=locate(text, trail[:-1], trail[-1]) if trail else None,
                field=".".join(trail),
            )

        return _ENV_RE.sub(sub, value)
    return value


def locate(text: str, table: list[str], key: str | None = None) -> int | None:
    """The 1-based line of ``[table]`` (or of ``key`` inside it) in TOML source text.

    tomllib keeps no positions, so this scans the text: enough for the plain tables and
    ``key = value`` lines a config file is made of.
    """
    if not text:
        return None
    want = [part.strip().strip('"').strip("'") for part in table]
    current: list[str] = []
    header_line = None
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        m = re.match(r"^\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", stripped)
        if m:
            current = [p.strip().strip('"').strip("'") for p in m.group(1).split(".")]
            if current == want:
                header_line = n
                if key is None:
                    return n
            elif key is None and want and current[: len(want)] == want and header_line is None:
                return n  # [a.b] is where table a starts when there is no [a] header
            continue
        if key is not None and current == want:
            km = re.match(r"^([A-Za-z0-9_\-\"']+)\s*=", stripped)
            if km and km.group(1).strip('"').strip("'") == key:
                return n
        if key is not None and not want and not current:
            km = re.match(r"^([A-Za-z0-9_\-]+)\s*=", stripped)
            if km and km.group(1) == key:
                return n
    return header_line


# -- checking --------------------------------------------------------------------------------


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _store_problems(store: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, message, severity) for the [store] table's values."""
    from urllib.parse import urlsplit

    from cstoolkit.store import SCHEMA_NAME, is_url

    out: list[tuple[str, str, str]] = []
    url = store.get("url")
    if url is not None:
        if not is_url(url):
            out.append(("url", "must be a postgresql://user@host:port/database URL", "error"))
        else:
            if "path" in store:
                out.append(("path", "set either path (SQLite) or url (PostgreSQL), not both",
                            "error"))  # fmt: skip
            if urlsplit(url).password is not None:
                out.append(("url", "holds a password: move it to store.password as an env: or "
                            "key: reference", "warning"))  # fmt: skip
    password = store.get("password")
    if password is not None and not secrets.is_reference(password):
        out.append(("password", "a plain password: use an env: or key: reference", "warning"))
    schema = store.get("schema")
    if schema is not None and not SCHEMA_NAME.fullmatch(str(schema)):
        out.append(("schema", "must be a plain lower-case name (letters, digits, _)", "error"))
    return out


def check_config(config: Config, host: Host) -> list[Problem]:
    """Every problem of the file, each with its file, line and field."""
    problems: list[Problem] = []
    label = config.label

    def add(message: str, line: int | None, fld: str | None, severity: str = "error") -> None:
        problems.append(Problem(message, label, line, fld, severity))

    for key, value in config.data.items():
        if key not in KNOWN_SECTIONS:
            add(
                f"unknown section{_did_you_mean(key, sorted(KNOWN_SECTIONS))}",
                locate(config.text, [key]) or locate(config.text, [], key),
                key,
            )
        elif (key in INSTANCE_SECTIONS or key == "store") and not isinstance(value, dict):
            add("must be a table", locate(config.text, [], key), key)
    store = config.data.get("store")
    if isinstance(store, dict):
        for key in store:
            if key not in STORE_KEYS:
                add(
                    f"unknown store setting{_did_you_mean(key, sorted(STORE_KEYS))}",
                    locate(config.text, ["store"], key),
                    f"store.{key}",
                )
        for problem in _store_problems(store):
            add(problem[1], locate(config.text, ["store"], problem[0]), f"store.{problem[0]}",
                problem[2])  # fmt: skip
    for section in INSTANCE_SECTIONS:
        for inst in config.instances(section).values():
            problems.extend(_check_instance(config, host, inst))
    from cstoolkit.plugin_install import required_plugin_problems

    for message, line in required_plugin_problems(config):
        add(message, line, "required_plugins")
    if "run" in config.data:  # the steps of `cst run` (docs/operations.md)
        from cstoolkit.ops.run import load_plan

        try:
            load_plan(config)
        except ConfigError as exc:
            add(exc.bare_message, exc.line, exc.field)
    if {"kpi", "costs", "staffing"} & set(config.data):  # reports (docs/reports.md)
        from cstoolkit.kpi.metrics import KpiSettings
        from cstoolkit.kpi.staffing import StaffingSettings

        for read in (KpiSettings.from_config, StaffingSettings.from_config):
            try:
                read(config.data)
            except ConfigError as exc:
                parts = (exc.field or "").split(".")
                add(exc.bare_message, locate(config.text, parts[:1], parts[1] if len(parts) > 1
                                             else None), exc.field)  # fmt: skip
    return problems


def _check_instance(config: Config, host: Host, inst: InstanceConfig) -> Iterator[Problem]:
    label = config.label

    def at(key: str | None) -> int | None:
        return locate(config.text, [inst.section, inst.name], key) or inst.line

    if not inst.plugin:
        yield Problem("missing 'plugin = \"...\"'", label, inst.line, f"{inst.label}.plugin")
        return
    try:
        cls: type[PluginBase] = host.get(inst.kind, inst.plugin)
    except PluginError as exc:
        yield Problem(str(exc), label, at("plugin"), f"{inst.label}.plugin")
        return
    schema = {s.name: s for s in cls.settings}
    if inst.kind == "backend":
        schema.update({s.name: s for s in COMMON_BACKEND_SETTINGS if s.name != "plugin"})
    for key, value in inst.settings.items():
        fld = f"{inst.label}.{key}"
        spec = schema.get(key)
        if spec is None:
            hint = _did_you_mean(key, sorted(schema))
            yield Problem(f"unknown setting for plugin {inst.plugin!r}{hint}", label, at(key), fld)
            continue
        if spec.secret and isinstance(value, str) and not secrets.is_reference(value):
            yield Problem(
                "secret written in the file; use env:NAME or key:NAME (cst keys set NAME)",
                label,
                at(key),
                fld,
                "warning",
            )
        why = spec.check(value)
        if why:
            yield Problem(why, label, at(key), fld)
    for spec in schema.values():
        if spec.required and spec.name not in inst.settings:
            yield Problem(
                f"required setting {spec.name!r} is missing", label, inst.line, inst.label
            )


def instance_settings(
    config: Config, inst: InstanceConfig, cls: type[PluginBase]
) -> dict[str, Any]:
    """The settings a plugin instance is built with: defaults, paths resolved, secrets resolved.

    Raises ConfigError for the first problem (``cst config check`` lists them all).
    """
    out: dict[str, Any] = {}
    schema = {s.name: s for s in cls.settings}
    for spec in schema.values():
        fld = f"{inst.label}.{spec.name}"
        if spec.name in inst.settings:
            value = inst.settings[spec.name]
        elif spec.required:
            raise ConfigError(
                f"required setting {spec.name!r} is missing",
                path=config.label,
                line=inst.line,
                field=inst.label,
            )
        else:
            value = spec.default
        if value is not None:
            why = spec.check(value)
            if why:
                raise ConfigError(
                    why,
                    path=config.label,
                    line=locate(config.text, [inst.section, inst.name], spec.name),
                    field=fld,
                )
            if spec.type == "path":
                value = str(config.resolve_path(value))
            if spec.secret and isinstance(value, str):
                value = secrets.resolve(value, field=fld, env=config.env)
        out[spec.name] = value
    unknown = set(inst.settings) - set(schema) - {s.name for s in COMMON_BACKEND_SETTINGS}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"unknown setting for plugin {inst.plugin!r}{_did_you_mean(key, sorted(schema))}",
            path=config.label,
            line=locate(config.text, [inst.section, inst.name], key),
            field=f"{inst.label}.{key}",
        )
    return out


def redacted(config: Config, host: Host) -> dict[str, Any]:
    """The config as ``cst config show`` prints it: every secret value masked.

    References (``env:NAME``) are shown, since they are not secrets; a literal value in a secret
    setting, or in a setting of an unknown plugin whose name suggests a secret, is masked.
    """
    data: dict[str, Any] = {k: v for k, v in config.data.items() if k not in INSTANCE_SECTIONS}
    for section in INSTANCE_SECTIONS:
        if section not in config.data:
            continue
        data[section] = {}
        for inst in config.instances(section).values():
            try:
                cls = host.get(inst.kind, inst.plugin)
                secret_names = set(cls.secret_settings())
            except PluginError:
                secret_names = set()
            table: dict[str, Any] = {"plugin": inst.plugin}
            for key, value in inst.settings.items():
                looks_secret = re.search(r"token|secret|password|key|credential", key, re.I)
                hide = (key in secret_names or looks_secret) and not secrets.is_reference(value)
                table[key] = secrets.MASK if hide else value
            data[section][inst.name] = table
    store = data.get("store")
    if isinstance(store, dict):
        store = dict(store)
        if isinstance(store.get("url"), str):
            from cstoolkit.store import redact_url

            store["url"] = redact_url(store["url"])
        if "password" in store and not secrets.is_reference(store["password"]):
            store["password"] = secrets.MASK
        data["store"] = store
    return data


def build_instance(config: Config, host: Host, section: str, name: str, store: Store | None) -> Any:
    """Instantiate the plugin of ``[section.name]`` with resolved settings and its state area."""
    from cstoolkit.store.kv import MemoryKeyValue

    inst = config.instance(section, name)
    if not inst.plugin:
        raise ConfigError(
            "missing 'plugin = \"...\"'",
            path=config.label,
            line=inst.line,
            field=f"{inst.label}.plugin",
        )
    cls = host.get(inst.kind, inst.plugin)
    settings = instance_settings(config, inst, cls)
    settings["read_only"] = inst.read_only
    if inst.kind == "backend":
        # Common backend settings (start_date, filters, mapping) reach every plugin.
        for spec in COMMON_BACKEND_SETTINGS:
            if spec.name not in ("plugin", "read_only") and spec.name not in settings:
                settings[spec.name] = inst.settings.get(spec.name, spec.default)
    state = store.kv(name) if store is not None else MemoryKeyValue(name)
    return cls(name, settings, state)
