"""cstoolkit.toml: finding it, reading it, and checking it against one schema.

The bottom layer: it imports no engine, no store and no plugin (a test keeps it so).

* :mod:`~cstoolkit.config.files`: lookup, reading, ``${VAR}`` interpolation, :class:`Config`;
* :mod:`~cstoolkit.config.positions`: the line of every key of the file;
* :mod:`~cstoolkit.config.types`: each kind of value (durations, time zones...) parsed once;
* :mod:`~cstoolkit.config.schema` and :mod:`~cstoolkit.config.core`: the core sections as data;
* :mod:`~cstoolkit.config.check`: every problem of a file; the typed values of a section;
* :mod:`~cstoolkit.config.run_plan`: the ``[run]`` steps as a plan;
* :mod:`~cstoolkit.config.instances`: a plugin instance's settings; the redacted config.

Plugin instances are built by :func:`cstoolkit.instances.build_instance` (it needs the store
for their state); ``cstoolkit.config.build_instance`` still finds it for existing callers.
"""

from __future__ import annotations

import importlib
from typing import Any

from cstoolkit.config.check import Problem, check_config, section_values
from cstoolkit.config.core import SECTIONS
from cstoolkit.config.files import (
    CONFIG_NAME,
    INSTANCE_SECTIONS,
    Config,
    InstanceConfig,
    StoreSettings,
    find_config,
    load_config,
)
from cstoolkit.config.instances import instance_settings, redacted
from cstoolkit.config.positions import locate

#: Top-level keys and tables the file may hold.
KNOWN_SECTIONS: frozenset[str] = frozenset(SECTIONS)

__all__ = [
    "CONFIG_NAME",
    "INSTANCE_SECTIONS",
    "KNOWN_SECTIONS",
    "SECTIONS",
    "Config",
    "InstanceConfig",
    "Problem",
    "StoreSettings",
    "build_instance",
    "check_config",
    "find_config",
    "instance_settings",
    "load_config",
    "locate",
    "redacted",
    "section_values",
]


def __getattr__(name: str) -> Any:
    # Kept for callers written before instances were built one layer up; looked up by name so
    # that this package imports nothing above it.
    if name == "build_instance":
        return importlib.import_module("cstoolkit.instances").build_instance
    raise AttributeError(f"module 'cstoolkit.config' has no attribute {name!r}")
