"""Secret references and the keys file.

A secret setting in cstoolkit.toml holds a *reference*, resolved only when a plugin instance is
built: ``env:NAME`` (an environment variable), ``key:NAME`` (the 0600 keys file managed by
``cst keys``), or ``keyring:SERVICE/NAME`` (the system keyring, when the ``keyring`` package is
installed). Every resolved value is added to :data:`REDACTOR`, which scrubs it from log records
and error messages.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cstoolkit.errors import ConfigError

REFERENCE_PREFIXES = ("env:", "key:", "keyring:")
MASK = "***"


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIXES)


class Redactor(logging.Filter):
    """Replaces every known secret value with ``***`` in text and log records."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, value: str) -> None:
        if value and len(value) >= 4:  # masking 1-3 characters would mangle ordinary text
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
        return True


REDACTOR = Redactor()


def keys_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("CSTOOLKIT_KEYS_FILE"):
        return Path(env["CSTOOLKIT_KEYS_FILE"])
    from platformdirs import user_config_dir

    return Path(user_config_dir("cstoolkit")) / "keys.json"


def load_keys(path: Path | None = None) -> dict[str, str]:
    path = path or keys_path()
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"keys file is accessible by other users (mode {mode:04o}); run: chmod 600 {path}",
            path=str(path),
        )
    try:
        data = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise ConfigError(f"keys file is not valid JSON: {exc}", path=str(path)) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError("keys file must hold a JSON object of strings", path=str(path))
    return data


def save_keys(keys: Mapping[str, str], path: Path | None = None) -> Path:
    """Write the keys file atomically, created with mode 0600 from the start."""
    path = path or keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(sorted(keys.items())), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def set_key(name: str, value: str, path: Path | None = None) -> Path:
    _check_key_name(name)
    keys = load_keys(path)
    keys[name] = value
    return save_keys(keys, path)


def remove_key(name: str, path: Path | None = None) -> bool:
    keys = load_keys(path)
    if name not in keys:
        return False
    del keys[name]
    save_keys(keys, path)
    return True


def _check_key_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"invalid key name {name!r} (use letters, digits, - _ .)")


def resolve(value: str, *, field: str, env: Mapping[str, str] | None = None) -> str:
    """Resolve a secret reference to its value; a plain value is returned as it is."""
    env = os.environ if env is None else env
    if value.startswith("env:"):
        name = value[4:]
        if name not in env:
            raise ConfigError(f"environment variable {name} is not set", field=field)
        secret = env[name]
    elif value.startswith("key:"):
        name = value[4:]
        keys = load_keys(keys_path(env))
        if name not in keys:
            raise ConfigError(
                f"no key named {name!r}; add it with: cst keys set {name}", field=field
            )
        secret = keys[name]
    elif value.startswith("keyring:"):
        service, _, user = value[8:].partition("/")
        try:
            import keyring
        except ImportError:
            raise ConfigError(
                "keyring reference used but the keyring package is not installed "
                "(pip install 'cstoolkit[keyring]')",
                field=field,
            ) from None
        found = keyring.get_password(service, user)
        if found is None:
            raise ConfigError(
                f"no keyring entry for service {service!r} user {user!r}", field=field
            )
        secret = found
    else:
        secret = value
    REDACTOR.add(secret)
    return secret
