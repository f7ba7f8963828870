"""Test kit for cstoolkit plugins (install with ``pip install 'cstoolkit[testing]'``).

* conformance suites to subclass: :class:`BackendConformance`, :class:`ChannelConformance`,
  :class:`SurveyProviderConformance` (see docs/plugins/testing.md);
* :class:`FakeBackend` / :class:`FakeHelpdesk`, an in-memory backend with every capability;
* pytest fixtures (``cst_runner``, ``register_plugin``, ``fake_backend``, ``no_network``) from
  :mod:`cstoolkit.testing.plugin`, which pytest loads through the ``pytest11`` entry point.

Names are imported lazily: importing this package costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BackendConformance": "cstoolkit.testing.conformance",
    "ChannelConformance": "cstoolkit.testing.conformance",
    "SurveyProviderConformance": "cstoolkit.testing.conformance",
    "settings_problems": "cstoolkit.testing.conformance",
    "BackendBehaviour": "cstoolkit.testing.backend_suite",
    "store_snapshot": "cstoolkit.testing.backend_suite",
    "FakeBackend": "cstoolkit.testing.fake",
    "FakeHelpdesk": "cstoolkit.testing.fake",
    "CstRunner": "cstoolkit.testing.plugin",
    "NetworkBlockedError": "cstoolkit.testing.plugin",
}

__all__ = [
    "BackendBehaviour",
    "BackendConformance",
    "ChannelConformance",
    "CstRunner",
    "FakeBackend",
    "FakeHelpdesk",
    "NetworkBlockedError",
    "SurveyProviderConformance",
    "settings_problems",
    "store_snapshot",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cstoolkit.testing' has no attribute {name!r}")
