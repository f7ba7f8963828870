"""The settings a plugin instance is built with, and the configuration as ``config show`` prints
it (secrets masked). Building the instance itself (plugin class, state area in the store) is
:mod:`cstoolkit.instances`'s job, one layer up.
"""

from __future__ import annotations

from typing import Any

from cstoolkit import secrets
from cstoolkit.config.check import Checker, PluginHost, to_problems
from cstoolkit.config.core import SECTIONS
from cstoolkit.config.files import INSTANCE_SECTIONS, Config, InstanceConfig
from cstoolkit.errors import ConfigError, PluginError


def instance_settings(config: Config, inst: InstanceConfig, cls: Any) -> dict[str, Any]:
    """The settings a plugin instance is built with: defaults, paths resolved, secrets resolved.

    The instance is checked exactly as ``cst config check`` checks it; a ConfigError names its
    first problem. Besides the plugin's own settings, the result holds the section's core keys
    (``read_only``, ``filters``... of a backend; the policy of a survey) as written, with their
    defaults.
    """
    section = SECTIONS[inst.section]
    checker = Checker(config, None)
    table = {"plugin": inst.plugin, **inst.settings}
    checker.instance(section, inst.name, table, cls=cls)
    errors = [p for p in to_problems(config, checker.walk.found) if p.severity == "error"]
    if errors:
        first = errors[0]
        raise ConfigError(first.message, path=first.path, line=first.line, field=first.field)
    out: dict[str, Any] = {
        key.name: inst.settings.get(key.name, key.default)
        for key in section.keys
        if key.name != "plugin"
    }
    for spec in cls.settings:
        value = inst.settings.get(spec.name, spec.default)
        if value is not None:
            if spec.type == "path" and isinstance(value, str):
                value = str(config.resolve_path(value))
            if spec.secret and isinstance(value, str):
                value = secrets.resolve(value, field=f"{inst.label}.{spec.name}", env=config.env)
            elif spec.secret and isinstance(value, dict):
                # A table of references (a survey's signing_keys): each resolved here, where
                # the config's environment (and its keys_file) is known.
                value = {
                    k: secrets.resolve(v, field=f"{inst.label}.{spec.name}.{k}", env=config.env)
                    if isinstance(v, str)
                    else v
                    for k, v in value.items()
                }
        out[spec.name] = value
    return out


def redacted(config: Config, host: PluginHost) -> dict[str, Any]:
    """The config as ``cst config show`` prints it: every secret value masked.

    References (``env:NAME``) are shown, since they are not secrets; a literal value in a secret
    setting, or in a setting of an unknown plugin whose name suggests a secret, is masked.
    """
    data: dict[str, Any] = {
        k: secrets.redact_value(k, v) for k, v in config.data.items() if k not in INSTANCE_SECTIONS
    }
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
                table[key] = secrets.redact_value(key, value, secret=key in secret_names)
            data[section][inst.name] = table
    return data
