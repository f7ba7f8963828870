"""The shape of a configuration, as data: :class:`Key` and :class:`Section`, and the walker that
checks a value against a key and returns it typed.

The core sections are declared in :mod:`cstoolkit.config.core`; a plugin's settings come from
the ``settings`` tuple of its class (``Setting``, :mod:`cstoolkit.plugin`), read by
:mod:`cstoolkit.config.check`. Both end up in the same walk, so every problem is reported the
same way: the key's path, one message, and the line the path is on.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cstoolkit.config import types
from cstoolkit.config.positions import Path as KeyPath

#: The type names a :class:`Key` may have (``a|b`` accepts either).
TYPES: dict[str, str] = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "path": "a path, relative to the config file",
    "file": "an existing file, relative to the config file",
    "list": "an array",
    "table": "a table",
    "duration": "a duration: 30m, 24h, 7d (s, m, h, d, w, y)",
    "timezone": "an IANA time zone name (Europe/Madrid)",
    "clock_range": "HH:MM-HH:MM",
    "date": "a date (2026-12-24)",
    "when": "an ISO 8601 date or time, or a span ago (90d)",
    "target": "a service-level target PERCENT/SECONDS (80/20)",
    "requirement": "a requirement (cstoolkit-zendesk>=1.2)",
    "secret": "a secret reference: env:NAME, key:NAME or keyring:SERVICE/USER",
    "store_url": "a postgresql://user@host:port/database URL",
    "name": "a plain lower-case name (letters, digits, _)",
}
#: How a type is named in "expected ..., got ..." messages.
_NOUNS: dict[str, str] = {
    "bool": "true or false",
    "path": "a path",
    "file": "a file name",
    "list": "an array",
    "duration": "a duration (30m, 24h, 7d)",
    "timezone": "a time zone name",
    "clock_range": "HH:MM-HH:MM",
    "requirement": "a requirement string",
    "secret": "a secret reference (env:NAME, key:NAME)",
    "store_url": "a postgresql:// URL",
    "name": "a plain name",
}
_PYTHON: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "path": (str,),
    "file": (str,),
    "list": (list,),
    "table": (dict,),
    "duration": (str, int, float),
    "timezone": (str,),
    "clock_range": (str,),
    "date": (str, types.date),
    "when": (str,),
    "target": (str,),
    "requirement": (str,),
    "secret": (str,),
    "store_url": (str,),
    "name": (str,),
}


@dataclass(frozen=True)
class Key:
    """One setting: its type, bounds, default and what it refers to."""

    name: str
    type: str = "str"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    #: Inclusive bounds: of the number, of a duration in seconds, of a list's length.
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    #: The section whose named tables the value must name (``channels``, ``calendars``...).
    ref: str | None = None
    #: The unit of a bare number in a ``duration``.
    unit: str = "s"
    #: Each element of a ``list``.
    items: Key | None = None
    #: Each value of a free-form ``table`` (keys are free).
    values: Key | None = None
    #: The known keys of a ``table`` (others are unknown).
    keys: tuple[Key, ...] | None = None
    #: Report a ``list`` element's problem at the element (``steps[2]``) or at the list.
    index_items: bool = True
    #: The message for a value of the wrong type (default: "expected <type>, got <type>").
    expect: str = ""
    #: How the keys of this ``table`` are called in messages ("unknown filter").
    noun: str = "setting"

    @property
    def setting_type(self) -> str:
        """The plugin ``Setting`` type closest to this key's (for settings derived from it)."""
        first = self.type.split("|")[0]
        if first in ("str", "int", "float", "bool", "path", "list", "table"):
            return first
        return "str"


@dataclass(frozen=True)
class Section:
    """A top-level part of cstoolkit.toml.

    ``form`` is ``table`` (``[store]``), ``tables`` (named tables ``[calendars.NAME]``) or
    ``value`` (a top-level key such as ``roster = "..."``, described by ``keys[0]``).
    """

    name: str
    form: str
    keys: tuple[Key, ...]
    help: str = ""
    doc: str = ""
    #: The kind of plugin the named tables are instances of (backends, channels, surveys).
    plugin_kind: str | None = None
    #: Rules across keys of one table: ``rule(values, problem)`` with typed values.
    rules: tuple[Callable[[dict[str, Any], Callable[[str, str], None]], None], ...] = ()
    #: Names that exist without a table (the built-in calendar ``24x7``).
    builtin_names: tuple[str, ...] = ()
    #: What a name of one of its tables may look like.
    name_pattern: Any = None
    #: How its keys are called in messages ("unknown store setting").
    noun: str = "setting"

    def key(self, name: str) -> Key | None:
        for k in self.keys:
            if k.name == name:
                return k
        return None


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


BAD = object()  # a value that failed its check


@dataclass
class Walk:
    """One check of values against keys; collects ``(path, message, severity)``."""

    base_dir: Path
    #: section name -> the names its tables define (for ``ref``; None: references unchecked).
    names: Mapping[str, Sequence[str]] | None = None
    #: Resolve a secret reference (raises ValueError when it does not resolve), or None.
    resolve_secret: Callable[[str], None] | None = None
    found: list[tuple[KeyPath, str, str]] = field(default_factory=list)

    def problem(self, path: KeyPath, message: str, severity: str = "error") -> None:
        self.found.append((path, message, severity))

    # -- tables ----------------------------------------------------------------------------------

    def table(
        self, keys: Sequence[Key], data: Mapping[str, Any], path: KeyPath, *, what: str = "setting"
    ) -> dict[str, Any]:
        """Every key of ``data`` against ``keys``; defaults filled in; BAD where it failed."""
        known = {k.name: k for k in keys}
        out: dict[str, Any] = {}
        for name, value in data.items():
            key = known.get(name)
            if key is None:
                self.problem((*path, name), f"unknown {what}{did_you_mean(name, sorted(known))}")
                continue
            out[name] = self.value(key, value, (*path, name))
        for key in keys:
            if key.name in out:
                continue
            if key.required:
                self.problem(path, f"required {what} {key.name!r} is missing")
                out[key.name] = BAD
            else:
                out[key.name] = self.default(key)
        return out

    def default(self, key: Key) -> Any:
        """A key's default, typed like a value written in the file."""
        if key.default is None:
            return None
        typed = Walk(self.base_dir).value(key, key.default, ())
        return None if typed is BAD else typed

    # -- one value -------------------------------------------------------------------------------

    def value(self, key: Key, value: Any, path: KeyPath) -> Any:
        alternatives = key.type.split("|")
        for kind in alternatives:
            if isinstance(value, _PYTHON[kind]) and not (
                isinstance(value, bool) and kind in ("int", "float", "duration")
            ):
                return self._typed(kind, key, value, path)
        wanted = " or ".join(_NOUNS.get(k, TYPES[k]) for k in alternatives)
        self.problem(path, key.expect or f"expected {wanted}, got {types.describe(value)}")
        return BAD

    def _typed(self, kind: str, key: Key, value: Any, path: KeyPath) -> Any:
        try:
            typed = self._convert(kind, key, value, path)
        except ValueError as exc:
            self.problem(path, str(exc))
            return BAD
        if typed is BAD:
            return BAD
        if key.choices is not None and kind == "str" and value not in key.choices:
            hint = did_you_mean(value, key.choices)
            self.problem(path, f"must be one of {', '.join(key.choices)}{hint}")
            return BAD
        if not self._in_bounds(kind, key, typed, value, path):
            return BAD
        if (
            key.ref
            and self.names is not None
            and kind in ("str", "name")
            and not self._refers(key.ref, value, path)
        ):
            return BAD
        return typed

    def _convert(self, kind: str, key: Key, value: Any, path: KeyPath) -> Any:
        if kind == "float":
            if not math.isfinite(value):
                raise ValueError(f"expected a finite number, got {value!r}")
            return float(value)
        if kind in ("path", "file"):
            if not value.strip():
                raise ValueError("expected a path, got an empty string")
            try:
                resolved = self.base_dir / Path(value).expanduser()
                if kind == "file" and not resolved.is_file():
                    raise ValueError(f"{value}: no such file (relative to the config file)")
            except (OSError, RuntimeError) as exc:
                raise ValueError(f"{value}: not a usable path ({exc})") from None
            return str(resolved)
        if kind == "list":
            return self._list(key, value, path)
        if kind == "table":
            if key.keys is not None:
                return self.table(key.keys, value, path, what=key.noun)
            if key.values is not None:
                return {k: self.value(key.values, v, (*path, k)) for k, v in value.items()}
            return dict(value)
        if kind == "duration":
            return types.parse_duration(value, unit=key.unit)
        if kind == "timezone":
            types.parse_timezone(value)
            return value
        if kind == "clock_range":
            return types.parse_clock_range(value)
        if kind == "date":
            return types.parse_date(value)
        if kind == "when":
            types.parse_when(value, at=types.datetime(2000, 1, 1, tzinfo=types.UTC))
            return value
        if kind == "target":
            return types.parse_target(value)
        if kind == "requirement":
            from cstoolkit.config.requirements import requirement_problem

            why = requirement_problem(value)
            if why:
                raise ValueError(why)
            return value
        if kind == "secret":
            return self._secret(value, path)
        if kind == "store_url":
            if not types.is_store_url(value):
                raise ValueError("must be a postgresql://user@host:port/database URL")
            return value
        if kind == "name":
            if not types.SCHEMA_NAME.fullmatch(value):
                raise ValueError("must be a plain lower-case name (letters, digits, _)")
            return value
        return value

    def _list(self, key: Key, value: list[Any], path: KeyPath) -> Any:
        if key.items is None:
            return list(value)
        out = [
            self.value(key.items, v, (*path, i) if key.index_items else path)
            for i, v in enumerate(value)
        ]
        return BAD if any(v is BAD for v in out) else out

    def _secret(self, value: str, path: KeyPath) -> str:
        from cstoolkit import secrets

        if not secrets.is_reference(value):
            noun = "password" if "password" in str(path[-1]) else "secret"
            self.problem(
                path,
                f"a plain {noun} written in the file: use an env: or key: reference "
                "(cst keys set NAME)",
                "warning",
            )
            return value
        if self.resolve_secret is not None:
            self.resolve_secret(value)
        return value

    def _in_bounds(self, kind: str, key: Key, typed: Any, raw: Any, path: KeyPath) -> bool:
        if key.minimum is None and key.maximum is None:
            return True
        if kind in ("int", "float", "duration"):
            measure = float(typed)
        elif kind == "list":
            measure = float(len(raw))
        else:
            return True
        for bound, word, outside in (
            (key.minimum, "least", lambda b: measure < b),
            (key.maximum, "most", lambda b: measure > b),
        ):
            if bound is not None and outside(bound):
                self.problem(path, f"must be at {word} {_bound(bound, kind)}")
                return False
        return True

    def _refers(self, section: str, value: str, path: KeyPath) -> bool:
        names = list((self.names or {}).get(section, ()))
        if value in names:
            return True
        hint = did_you_mean(value, names)
        known = f"; configured: {', '.join(sorted(names))}" if names else "; none configured"
        self.problem(path, f"no [{section}.{value}]{hint}{known if not hint else ''}")
        return False


def _bound(value: float, kind: str) -> str:
    if kind == "duration":
        return types.format_duration(value)
    if kind == "list":
        return f"{value:g} element(s)"
    return f"{value:g}"
