"""KPI reports and staffing.

* :mod:`cstoolkit.kpi.metrics` -- metric definitions, settings, the :class:`Metric` protocol for
  plugins and the :class:`Dist` distribution type;
* :mod:`cstoolkit.kpi.scan` -- the single pass over tickets and events that computes every
  per-ticket fact;
* :mod:`cstoolkit.kpi.report` -- ``cst report kpi``: periods, grouping, deltas, the JSON document
  (schema in ``schema.json``, documented in docs/report-schema.md) and the table/csv/md
  renderers;
* :mod:`cstoolkit.kpi.html` -- the self-contained HTML report (inline CSS and SVG);
* :mod:`cstoolkit.kpi.vendor` -- the vendor check (``--vendor-metrics``): Zendesk's ticket
  metrics beside ours, ticket by ticket, never mixed in;
* :mod:`cstoolkit.kpi.staffing` -- Erlang C staffing;
* :mod:`cstoolkit.kpi.quickstart` -- the KPI part of ``cst quickstart``.

Definitions are documented one by one in docs/metrics.md.
"""

from __future__ import annotations

from cstoolkit.kpi.metrics import Dist, KpiSettings, Metric, MetricContext

__all__ = ["Dist", "KpiSettings", "Metric", "MetricContext"]
