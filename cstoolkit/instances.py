"""Plugin instances built from the configuration: the plugin class from the host, its settings
from the config (checked, secrets resolved), its state area from the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.config import Config, instance_settings
from cstoolkit.errors import ConfigError

if TYPE_CHECKING:
    from cstoolkit.host import Host
    from cstoolkit.store import Store


def build_instance(
    config: Config,
    host: Host,
    section: str,
    name: str,
    store: Store | None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    """Instantiate the plugin of ``[section.name]`` with resolved settings and its state area.

    ``overrides`` replace settings the plugin declares (``cst doctor`` caps ``timeout`` and
    turns retries off with ``max_retry_wait = 0``); a setting the plugin does not declare is
    left out, and a smaller configured ``timeout`` is kept.
    """
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
    for key, value in (overrides or {}).items():
        if cls.setting(key) is None:
            continue
        current = settings.get(key)
        if key == "timeout" and isinstance(current, int | float) and current < value:
            continue
        settings[key] = value
    state = store.kv(name) if store is not None else MemoryKeyValue(name)
    return cls(name, settings, state)
