"""Built-in KPI metrics and report formats, registered like any plugin's.

``register_metrics`` adds one :class:`~cstoolkit.kpi.metrics.BuiltinMetric` per definition in
:data:`~cstoolkit.kpi.metrics.BUILTIN_METRICS`; ``register_exporters`` adds the ``table``,
``json``, ``csv``, ``md`` and ``html`` formats of ``cst report kpi``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cstoolkit.hookspecs import hookimpl


@hookimpl
def register_metrics(register: Callable[[Any], None]) -> None:
    from cstoolkit.kpi.metrics import BUILTIN_METRICS, BuiltinMetric

    for definition in BUILTIN_METRICS:
        register(BuiltinMetric(definition))


@hookimpl
def register_exporters(register: Callable[[Any], None]) -> None:
    from cstoolkit.kpi.html import HtmlExporter
    from cstoolkit.kpi.render import BUILTIN_EXPORTERS

    for cls in (*BUILTIN_EXPORTERS, HtmlExporter):
        register(cls())
