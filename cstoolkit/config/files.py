"""Finding cstoolkit.toml, reading it, and the :class:`Config` every command reads.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cstoolkit import secrets
from cstoolkit.config.positions import Path as KeyPath
from cstoolkit.config.positions import field_name, key_lines, line_of
from cstoolkit.config.types import is_store_url
from cstoolkit.errors import ConfigError
from cstoolkit.textfiles import read_text

CONFIG_NAME = "cstoolkit.toml"
#: The environment variable naming the keys file (see :func:`cstoolkit.secrets.keys_path`).
KEYS_ENV = "CSTOOLKIT_KEYS_FILE"

#: [section] -> plugin kind of its named instances.
INSTANCE_SECTIONS: dict[str, str] = {
    "backends": "backend",
    "channels": "channel",
    "surveys": "survey_provider",
    "inbound": "inbound_source",
    "knowledge": "knowledge_source",
}

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
        return self.settings.get("read_only", False) is True

    @property
    def label(self) -> str:
        return f"{self.section}.{self.name}"


@dataclass
class StoreSettings:
    """Where the store is: a SQLite file, or a PostgreSQL URL with schema and password."""

    path: Path
    url: str | None = None
    schema: str = "public"
    #: A secret reference (or, discouraged, the password itself); resolved when opening.
    password: str | None = None


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

    @cached_property
    def lines(self) -> dict[KeyPath, int]:
        """Each key path of the file -> its line (see :mod:`cstoolkit.config.positions`)."""
        return key_lines(self.text)

    def line(self, *path: str | int) -> int | None:
        """The line of a key path (or of the nearest thing the file has for it)."""
        return line_of(self.lines, path)

    def error(self, message: str, *path: str | int) -> ConfigError:
        """A ConfigError naming this file, the line of ``path`` and the field."""
        return ConfigError(
            message, path=self.label, line=self.line(*path), field=field_name(path) or None
        )

    def resolve_path(self, value: str) -> Path:
        """A path as written in this file: ``~`` expanded, relative to the file's directory."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else (self.base_dir / p)

    def _store_table(self) -> dict[str, Any]:
        store = self.data.get("store")
        return store if isinstance(store, dict) else {}

    @property
    def store_path(self) -> Path:
        path = self._store_table().get("path")
        if isinstance(path, str) and path.strip():
            return self.resolve_path(path)
        if self.path:
            return self.base_dir / "cstoolkit.db"
        from platformdirs import user_data_dir

        return Path(user_data_dir("cstoolkit")) / "cstoolkit.db"

    @property
    def store_url(self) -> str | None:
        """The PostgreSQL URL of ``[store] url``, or None for the SQLite file."""
        url = self._store_table().get("url")
        return url if is_store_url(url) else None

    @property
    def store(self) -> StoreSettings:
        """The ``[store]`` table, for the store layer to open (``cstoolkit.store.configured``)."""
        table = self._store_table()
        schema, password = table.get("schema"), table.get("password")
        return StoreSettings(
            path=self.store_path,
            url=self.store_url,
            schema=schema if isinstance(schema, str) and schema else "public",
            password=str(password) if password is not None else None,
        )

    @property
    def store_label(self) -> str:
        """Where the store is, safe to print (a URL loses its password)."""
        if self.store_url:
            return secrets.redact_url(self.store_url)
        return str(self.store_path)

    def instances(self, section: str) -> dict[str, InstanceConfig]:
        out = {}
        tables = self.data.get(section)
        for name, table in (tables if isinstance(tables, dict) else {}).items():
            if not isinstance(table, dict):
                continue
            settings = {k: v for k, v in table.items() if k != "plugin"}
            plugin = table.get("plugin", "")
            out[name] = InstanceConfig(
                kind=INSTANCE_SECTIONS[section],
                section=section,
                name=name,
                plugin=plugin if isinstance(plugin, str) else "",
                settings=settings,
                line=self.line(section, name),
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


#: How the config in use was found (:func:`config_source`).
EXPLICIT, ENVIRONMENT, WORKSPACE, USER, DEFAULTS = "option", "environment", "workspace", "user", ""


def find_config(
    explicit: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    return config_source(explicit, env=env, cwd=cwd)[0]


def config_source(
    explicit: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[Path | None, str]:
    """The config file in lookup order and how it was found: ``--config`` (:data:`EXPLICIT`),
    ``$CSTOOLKIT_CONFIG`` (:data:`ENVIRONMENT`), ``./cstoolkit.toml`` (:data:`WORKSPACE`), the
    user config directory (:data:`USER`), or none (:data:`DEFAULTS`)."""
    env = os.environ if env is None else env
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("config file not found", path=str(path))
        return path.resolve(), EXPLICIT
    if env.get("CSTOOLKIT_CONFIG"):
        path = Path(env["CSTOOLKIT_CONFIG"])
        if not path.is_file():
            raise ConfigError("config file named by CSTOOLKIT_CONFIG not found", path=str(path))
        return path.resolve(), ENVIRONMENT
    local = (cwd or Path.cwd()) / CONFIG_NAME
    if local.is_file():
        return local.resolve(), WORKSPACE
    from platformdirs import user_config_dir

    user = Path(user_config_dir("cstoolkit")) / CONFIG_NAME
    return (user, USER) if user.is_file() else (None, DEFAULTS)


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and parse the file (ConfigError naming the line for invalid TOML); not checked:
    :func:`cstoolkit.config.check_config` lists what is wrong with it."""
    env = os.environ if env is None else env
    if path is None:
        return Config(path=None, env=env)
    try:
        text = read_text(path)  # strict UTF-8, size-bounded (cstoolkit.textfiles)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text", path=str(path), line=line) from None
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
    config = Config(path=path, text=text, env=env)
    config.data = _interpolate(data, env, config, ())
    config.env = _with_keys_file(config)
    return config


def _with_keys_file(config: Config) -> Mapping[str, str]:
    """The environment the config's secret references resolve in: ``keys_file`` (relative to
    the file) is the keys file of its ``key:`` references unless $CSTOOLKIT_KEYS_FILE names
    another (the environment wins, as it does for the config file itself)."""
    keys_file = config.data.get("keys_file")
    if not isinstance(keys_file, str) or not keys_file.strip() or config.env.get(KEYS_ENV):
        return config.env
    from collections import ChainMap

    return ChainMap({KEYS_ENV: str(config.resolve_path(keys_file))}, config.env)  # type: ignore[arg-type]


def _interpolate(value: Any, env: Mapping[str, str], config: Config, trail: KeyPath) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env, config, (*trail, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, config, (*trail, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise config.error(
                f"environment variable {name} is not set (use ${{{name}:-default}} for a default)",
                *trail,
            )

        return _ENV_RE.sub(sub, value)
    return value
