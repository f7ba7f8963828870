"""Plugin settings: the ``Setting`` schema entry and typed settings classes built on it.

A plugin states its settings in one of two ways:

* **typed** (plugin API 1.1): a subclass of :class:`PluginSettings` whose fields are declared
  with :func:`setting`; the plugin class names it as its type parameter
  (``class AcmeBackend(HttpBackend[AcmeSettings])``). The class's ``settings`` tuple, which the
  host, ``cst config check``, the docs and the config schema read, is *derived* from the fields,
  and the instance receives ``self.options``: an ``AcmeSettings`` with every value checked and
  converted once (ints, floats, bools, ``Path`` for paths, defaults applied);
* **a tuple of** :class:`Setting` (plugin API 1.0), which keeps working: ``self.config`` is the
  dict it always was, and ``self.options`` is a :class:`SettingsNamespace` with the same values
  converted, built the first time it is read.

The host resolves ``env:`` / ``key:`` references and relative paths before the plugin is built
(``cstoolkit.config.instance_settings``); a plugin built directly (tests) gets values as given.

Types come from the annotations (``str``, ``int``, ``float``, ``bool``, ``Path``, a list or
tuple, a dict or mapping; ``X | None`` for optional), so a settings module must import the
types it names at run time (not only under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, dataclass_transform

from cstoolkit.errors import ConfigError

SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "path": (str, Path),
    "list": (list, tuple),
    "table": (dict,),
}


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration field of a plugin instance.

    ``secret=True`` marks a value that is never shown: ``cst config show`` redacts it, errors and
    logs never contain it, and the config file should hold a reference (``env:NAME`` or
    ``key:NAME``) rather than the value itself.
    """

    name: str
    type: str = "str"
    required: bool = False
    default: Any = None
    secret: bool = False
    help: str = ""
    choices: tuple[str, ...] | None = None
    #: Inclusive bounds of an ``int`` or ``float`` setting (None: unbounded).
    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not acceptable, or None."""
        number: Any = value
        allowed = SETTING_TYPES.get(self.type)
        if allowed is None:
            return f"unknown setting type {self.type!r}"
        if isinstance(value, bool) and self.type in ("int", "float"):
            return f"expected {self.type}, got a boolean"
        if not isinstance(value, allowed) or (self.type == "table" and not _str_keys(number)):
            return f"expected {self.type}, got {type(value).__name__}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        if self.minimum is not None and number < self.minimum:
            return f"must be at least {self.minimum:g}"
        if self.maximum is not None and number > self.maximum:
            return f"must be at most {self.maximum:g}"
        return None

    def convert(self, value: Any) -> Any:
        """``value`` (already checked) as the Python type of this setting."""
        if self.type == "float":
            return float(value)
        if self.type == "path":
            return Path(value)
        if self.type == "list":
            return list(value)
        if self.type == "table":
            return dict(value)
        return value


def _str_keys(value: Mapping[Any, Any]) -> bool:
    return all(isinstance(k, str) for k in value)


# -- typed settings ----------------------------------------------------------------------------

_META = "cstoolkit.setting"


@dataclass(frozen=True, slots=True)
class _Meta:
    help: str
    secret: bool
    choices: tuple[str, ...] | None
    minimum: float | None
    maximum: float | None
    type: str | None
    common: bool


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    secret: bool = False,
    choices: Sequence[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    type: str | None = None,
    like: Setting | None = None,
    common: bool = False,
) -> Any:
    """A field of a :class:`PluginSettings` class.

    Without a default the setting is required, unless its annotation allows None
    (``token: str | None = setting(secret=True)`` is optional, default None).

    ``like`` starts from an existing :class:`Setting` (its help, type, bounds and default), for
    shared settings such as the HTTP ones; the other arguments override it. ``common`` marks a
    setting every instance of the kind accepts (declared once, e.g. a backend's ``filters``): it
    is converted like the others but left out of the class's derived ``settings`` tuple.
    Secret fields are left out of ``repr()``.
    """
    if like is not None:
        help = help or like.help
        secret = secret or like.secret
        choices = choices if choices is not None else like.choices
        minimum = like.minimum if minimum is None else minimum
        maximum = like.maximum if maximum is None else maximum
        type = type or like.type
        if default is dataclasses.MISSING and not like.required:
            default = like.default
    meta = _Meta(
        help=help,
        secret=secret,
        choices=tuple(choices) if choices is not None else None,
        minimum=minimum,
        maximum=maximum,
        type=type,
        common=common,
    )
    metadata = {_META: meta}
    if isinstance(default, list | dict):
        initial = default
        return dataclasses.field(default_factory=initial.copy, repr=not secret, metadata=metadata)
    return dataclasses.field(default=default, repr=not secret, metadata=metadata)


def _setting_type(annotation: Any) -> str | None:
    """The :class:`Setting` type of a field annotation (``X | None`` is X), None if unknown."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _setting_type(rest[0]) if len(rest) == 1 else None
    base = origin or annotation
    simple = {str: "str", bool: "bool", int: "int", float: "float", Path: "path"}
    if base in simple:
        return simple[base]
    if isinstance(base, type):
        if issubclass(base, Mapping | dict):
            return "table"
        if issubclass(base, list | tuple | Sequence) and not issubclass(base, str):
            return "list"
    return None


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(setting,))
class PluginSettings:
    """Base of a plugin's typed settings: every subclass becomes a frozen, keyword-only
    dataclass whose fields are declared with :func:`setting`.

    ``schema()`` is the derived ``Setting`` tuple (own fields first, then inherited ones, in
    declaration order; ``common`` fields left out) and ``from_config()`` builds an instance from
    an instance's settings dict, raising :class:`~cstoolkit.errors.ConfigError` naming the field.
    """

    _schema: ClassVar[tuple[Setting, ...] | None] = None
    _all: ClassVar[tuple[Setting, ...] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``X | None`` without a default is an optional setting whose default is None.
        hints = typing.get_type_hints(cls)
        for name, value in list(vars(cls).items()):
            if (
                isinstance(value, dataclasses.Field)
                and value.default is dataclasses.MISSING
                and value.default_factory is dataclasses.MISSING
                and type(None) in typing.get_args(hints.get(name))
            ):
                value.default = None
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        cls._schema = cls._all = None

    @classmethod
    def _specs(cls) -> tuple[Setting, ...]:
        """Every field as a Setting, common ones included (cached)."""
        if cls._all is None:
            hints = typing.get_type_hints(cls)
            out = []
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                meta = f.metadata.get(_META)
                if meta is None:
                    raise TypeError(f"{cls.__name__}.{f.name}: declare it with setting(...)")
                kind = meta.type or _setting_type(hints.get(f.name))
                if kind is None:
                    raise TypeError(
                        f"{cls.__name__}.{f.name}: cannot tell the setting type of "
                        f"{hints.get(f.name)!r}; pass setting(type=...)"
                    )
                required = f.default is dataclasses.MISSING and (
                    f.default_factory is dataclasses.MISSING
                )
                default = None
                if f.default is not dataclasses.MISSING:
                    default = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    default = f.default_factory()
                spec = Setting(
                    f.name,
                    kind,
                    required=required,
                    default=default,
                    secret=meta.secret,
                    help=meta.help,
                    choices=meta.choices,
                    minimum=meta.minimum,
                    maximum=meta.maximum,
                )
                if default is not None and spec.check(default):
                    raise TypeError(f"{cls.__name__}.{f.name}: default {spec.check(default)}")
                out.append(spec)
            cls._all = tuple(out)
        return cls._all

    @classmethod
    def schema(cls) -> tuple[Setting, ...]:
        """The ``Setting`` tuple a plugin class declares (derived, cached)."""
        if cls._schema is None:
            common = {
                f.name
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                if f.metadata[_META].common
            }
            declared_in: dict[str, int] = {}
            for depth, klass in enumerate(cls.__mro__):
                for name in vars(klass).get("__annotations__", {}):
                    declared_in.setdefault(name, depth)
            specs = [s for s in cls._specs() if s.name not in common]
            specs.sort(key=lambda s: declared_in.get(s.name, 0))  # stable: keeps field order
            cls._schema = tuple(specs)
        return cls._schema

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, where: str) -> Self:
        """Check and convert ``config`` (an instance's settings dict) into this class.

        ``where`` names the instance (``backends.zendesk_main``) in error messages. A missing
        or None value takes the field's default; keys that are not fields are ignored (the
        config check reports unknown settings).
        """
        return cls(**convert_settings(cls._specs(), config, where=where))

    def secret_values(self) -> list[str]:
        """The values of the secret settings that are set (for the redactor and clients)."""
        return [
            str(getattr(self, s.name))
            for s in self._specs()
            if s.secret and isinstance(getattr(self, s.name), str) and getattr(self, s.name)
        ]


def convert_settings(
    specs: Sequence[Setting], config: Mapping[str, Any], *, where: str
) -> dict[str, Any]:
    """Checked and converted values of ``specs`` from ``config``, defaults for missing ones."""
    values = {s.name: s.convert(s.default) for s in specs if s.default is not None}
    for spec in specs:
        value = config.get(spec.name)
        if value is None:
            if spec.required:
                raise ConfigError(f"required setting {spec.name!r} is missing", field=where)
            continue
        why = spec.check(value)
        if why:
            raise ConfigError(why, field=f"{where}.{spec.name}")
        values[spec.name] = spec.convert(value)
    return values


class SettingsNamespace:
    """``self.options`` of a plugin that declares a ``Setting`` tuple (plugin API 1.0): the
    declared settings as attributes, converted like typed ones (defaults for missing values)."""

    def __init__(self, specs: Sequence[Setting], config: Mapping[str, Any], *, where: str):
        self._secret = frozenset(s.name for s in specs if s.secret)
        values: dict[str, Any] = dict.fromkeys(s.name for s in specs)
        values.update(convert_settings(specs, config, where=where))
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # for mypy: settings are dynamic attributes
        raise AttributeError(f"no setting {name!r}")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={'***' if k in self._secret else repr(v)}"
            for k, v in self.__dict__.items()
            if not k.startswith("_")
        )
        return f"SettingsNamespace({shown})"


def options_class_of(cls: type) -> type[PluginSettings] | None:
    """The settings class a plugin class names as its type parameter, if any."""
    for base in vars(cls).get("__orig_bases__", ()):
        for arg in typing.get_args(base):
            if isinstance(arg, type) and issubclass(arg, PluginSettings):
                return arg
    return None
