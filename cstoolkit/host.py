"""The plugin host: loads built-in and third-party plugins with fault isolation.

Loading order, which is also the order that settles name collisions:

1. built-in plugins (``cstoolkit.builtin.*``), in the order of :data:`BUILTINS`;
2. entry points of the ``cstoolkit`` group, sorted by distribution name, then entry-point name.

The first registration of a (kind, name) wins; later ones are kept as *shadowed* and shown by
``cst plugins list`` so a collision is never silent. Each plugin is imported, registered and
asked for its registrations inside its own ``try``: one that fails to import, raises in a
``register_*`` hook, registers something invalid or implements an unknown hook is reported and
skipped, and everything it registered is rolled back. ``CSTOOLKIT_STRICT_PLUGINS=1`` re-raises
instead (for plugin authors).

Environment switches: ``CSTOOLKIT_LOAD_PLUGINS=a,b`` loads only these entry points (built-ins
still load); ``CSTOOLKIT_DISABLE_PLUGINS=a,b`` skips these, built-ins included.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from cstoolkit import hookspecs
from cstoolkit.errors import PluginError
from cstoolkit.inbound_source import InboundSource
from cstoolkit.plugin import (
    KNOWN_CAPABILITIES,
    Backend,
    Channel,
    KnowledgeSource,
    PluginBase,
    SurveyProvider,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cstoolkit"
COMMANDS_ENTRY_POINT_GROUP = "cstoolkit.commands"

#: Built-in plugins: (short name, module). They register through the same hooks as any plugin.
BUILTINS: tuple[tuple[str, str], ...] = (
    ("local", "cstoolkit.builtin.local"),
    ("channels", "cstoolkit.builtin.channels"),
    ("surveys", "cstoolkit.surveys.provider"),
    ("actions", "cstoolkit.builtin.actions"),
    ("kpi", "cstoolkit.builtin.kpi"),
    ("imap", "cstoolkit.builtin.imap"),
    ("maildir", "cstoolkit.builtin.maildir"),
    ("knowledge", "cstoolkit.builtin.knowledge"),
)

#: hook name -> the kind of thing its ``register`` callback takes.
HOOK_KINDS: dict[str, str] = {
    "register_backends": "backend",
    "register_channels": "channel",
    "register_survey_providers": "survey_provider",
    "register_actions": "action",
    "register_metrics": "metric",
    "register_exporters": "exporter",
    "register_inbound_sources": "inbound_source",
    "register_knowledge_sources": "knowledge_source",
}

_KIND_BASES: dict[str, type[PluginBase]] = {
    "backend": Backend,
    "channel": Channel,
    "survey_provider": SurveyProvider,
    "inbound_source": InboundSource,
    "knowledge_source": KnowledgeSource,
}


@dataclass
class Registration:
    kind: str
    name: str
    obj: Any
    plugin: str
    enabled: bool = True
    reason: str = ""


@dataclass
class PluginRecord:
    """What ``cst plugins list`` shows for one plugin."""

    name: str
    module: str
    builtin: bool
    distribution: str | None = None
    version: str | None = None
    status: str = "pending"  # loaded | error | skipped
    error: str = ""
    registers: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "builtin": self.builtin,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "registers": self.registers,
        }


def _env_list(env: Mapping[str, str], key: str) -> set[str] | None:
    raw = env.get(key)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class _PluginFailure(Exception):
    """Internal: a plugin misbehaved; the message is what ``plugins list`` shows."""


class Host:
    """Holds the plugin manager and the registries built from every loaded plugin."""

    def __init__(
        self,
        *,
        builtins: Iterable[tuple[str, str]] = BUILTINS,
        entry_points: Iterable[metadata.EntryPoint] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._builtins = tuple(builtins)
        self._entry_points = entry_points
        self._env = os.environ if env is None else env
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self.registry: dict[str, dict[str, Registration]] = {k: {} for k in HOOK_KINDS.values()}
        self.shadowed: list[Registration] = []
        self._loaded = False

    @property
    def strict(self) -> bool:
        return self._env.get("CSTOOLKIT_STRICT_PLUGINS", "") not in ("", "0")

    # -- loading -------------------------------------------------------------------------------

    def load(self) -> Host:
        if self._loaded:
            return self
        self._loaded = True
        disabled = _env_list(self._env, "CSTOOLKIT_DISABLE_PLUGINS") or set()
        only = _env_list(self._env, "CSTOOLKIT_LOAD_PLUGINS")
        for short, module in self._builtins:
            record = PluginRecord(name=short, module=module, builtin=True, distribution="cstoolkit")
            record.version = _version("cstoolkit")
            if short in disabled:
                self._skip(record, "disabled by CSTOOLKIT_DISABLE_PLUGINS")
                continue
            self._load_one(record, functools.partial(importlib.import_module, module))
        for ep in self._sorted_entry_points():
            dist = ep.dist.name if ep.dist is not None else None
            record = PluginRecord(name=ep.name, module=ep.value, builtin=False, distribution=dist)
            record.version = ep.dist.version if ep.dist is not None else None
            names = {ep.name, dist or ""}
            if names & disabled:
                self._skip(record, "disabled by CSTOOLKIT_DISABLE_PLUGINS")
            elif only is not None and not names & only:
                self._skip(record, "not in CSTOOLKIT_LOAD_PLUGINS")
            else:
                self._load_one(record, ep.load)
        return self

    def register_plugin(self, obj: Any, name: str) -> PluginRecord:
        """Register an already-imported plugin object (tests, embedding applications)."""
        record = PluginRecord(name=name, module=getattr(obj, "__name__", repr(obj)), builtin=False)
        self._loaded = True
        self._load_one(record, lambda: obj)
        return record

    def _sorted_entry_points(self) -> list[metadata.EntryPoint]:
        eps = self._entry_points
        if eps is None:
            eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
        return sorted(eps, key=lambda ep: ((ep.dist.name if ep.dist else "").lower(), ep.name))

    def _skip(self, record: PluginRecord, reason: str) -> None:
        record.status = "skipped"
        record.error = reason
        self.records.append(record)

    def _load_one(self, record: PluginRecord, loader: Callable[[], Any]) -> None:
        self.records.append(record)
        registered = False
        try:
            obj = loader()
            if self.pm.is_registered(obj) or self.pm.has_plugin(record.name):
                raise _PluginFailure("already registered under another name")
            self.pm.register(obj, name=record.name)
            registered = True
            self._check_unknown_hooks(obj)
            pending = self._collect(obj, record)
        except Exception as exc:  # fault isolation: any failure of a plugin is reported
            if registered:
                self.pm.unregister(name=record.name)
            record.status = "error"
            record.error = _describe(exc)
            log.warning("plugin %s failed to load: %s", record.name, record.error)
            if self.strict:
                raise
            return
        for reg in pending:
            self._commit(reg, record)
        record.status = "loaded"

    def _check_unknown_hooks(self, obj: Any) -> None:
        for caller in self.pm.get_hookcallers(obj) or []:
            if caller.spec is None:
                known = [*sorted(HOOK_KINDS), "register_commands"]
                close = difflib.get_close_matches(caller.name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _PluginFailure(f"implements unknown hook {caller.name!r}{hint}")

    def _collect(self, obj: Any, record: PluginRecord) -> list[Registration]:
        """Call each of the plugin's register hooks; return what it registered."""
        pending: list[Registration] = []
        for hook_name, kind in HOOK_KINDS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not obj:
                    continue

                def register(thing: Any, _kind: str = kind) -> None:
                    pending.append(_validate(_kind, thing, record.name))

                impl.function(register=register)
        return pending

    def _commit(self, reg: Registration, record: PluginRecord) -> None:
        record.registers.setdefault(reg.kind, []).append(reg.name)
        current = self.registry[reg.kind].get(reg.name)
        if current is not None:
            reg.enabled = False
            reg.reason = (
                f"{reg.kind} name {reg.name!r} already registered by plugin {current.plugin!r} "
                "(built-ins win, then plugins in alphabetical order of distribution)"
            )
            self.shadowed.append(reg)
            log.warning("%s", reg.reason)
            return
        self.registry[reg.kind][reg.name] = reg

    # -- queries -------------------------------------------------------------------------------

    def names(self, kind: str) -> list[str]:
        self.load()
        return sorted(self.registry[kind])

    def get(self, kind: str, name: str) -> Any:
        """Return the registered object, or raise a one-line PluginError (with did-you-mean)."""
        self.load()
        reg = self.registry[kind].get(name)
        label = kind.replace("_", " ")
        if reg is None:
            close = difflib.get_close_matches(name, list(self.registry[kind]), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(self.registry[kind])) or "none"
            raise PluginError(f"unknown {label} plugin {name!r}{hint}; available: {known}")
        if not reg.enabled:
            raise PluginError(f"{label} plugin {name!r} is disabled: {reg.reason}")
        return reg.obj

    def registrations(self) -> list[Registration]:
        self.load()
        regs = [r for kind in self.registry.values() for r in kind.values()]
        return regs + self.shadowed


def _validate(kind: str, thing: Any, plugin: str) -> Registration:
    base = _KIND_BASES.get(kind)
    if base is not None:
        if not (isinstance(thing, type) and issubclass(thing, base)):
            raise _PluginFailure(f"registered {thing!r} as a {kind}, not a {base.__name__} class")
        unknown = set(thing.capabilities) - KNOWN_CAPABILITIES
        if unknown:
            raise _PluginFailure(
                f"{thing.__name__} declares unknown capabilities {sorted(unknown)}"
            )
    name = getattr(thing, "name", "")
    if not isinstance(name, str) or not name:
        raise _PluginFailure(f"registered a {kind} without a name: {thing!r}")
    reg = Registration(kind=kind, name=name, obj=thing, plugin=plugin)
    if isinstance(thing, type) and issubclass(thing, PluginBase):
        missing = thing.missing_requirements()
        if missing:
            reg.enabled = False
            reg.reason = "missing dependency " + ", ".join(repr(m) for m in missing)
    return reg


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(exc, _PluginFailure):
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
