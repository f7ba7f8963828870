"""Plugin metrics under ``--by`` and in the series: the values of each metric that computes per
group (``compute_groups``, see :class:`cstoolkit.kpi.metrics.Grouping`), beside the built-in
metrics' groups and series of :mod:`cstoolkit.kpi.report`.

A metric gives its values for every group key in one call (one query for all groups), from the
same definitions as its period value, so a group's values are the ones ``--query`` restricted
to that group would give, and the series' buckets the ones of a period of one bucket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cstoolkit.calendars import ZoneClock
from cstoolkit.kpi.metrics import Grouping, MetricContext
from cstoolkit.kpi.periods import bucket_bounds

__all__ = [
    "attribute_grouping",
    "group_values",
    "plugin_value",
    "series_values",
    "time_grouping",
]

PluginMetric = tuple[str, Any, str]  # name, metric object, plugin


def time_grouping(
    zone: ZoneClock,
    day0: int,
    day_buckets: Sequence[int],
    created: Mapping[Any, int] | None = None,
) -> Grouping:
    """Buckets of local days (``--by day|week|month`` or the series); ``created``: the tickets
    created per bucket as the report counted them."""
    n = max(day_buckets, default=-1) + 1
    return Grouping(
        by="time",
        keys=tuple(range(n)),
        timezone=zone.zone,
        day0=day0,
        day_buckets=tuple(day_buckets),
        bounds=tuple(bucket_bounds(zone, day0, list(day_buckets))),
        created=created,
    )


def attribute_grouping(
    by: str,
    keys: Sequence[Any],
    tiers: Mapping[str, int],
    created: Mapping[Any, int] | None = None,
) -> Grouping:
    """The groups of a ``--by`` attribute; ``created``: the tickets created per group as the
    report counted them."""
    return Grouping(by=by, keys=tuple(keys), tiers=dict(tiers), created=created)


def plugin_value(result: Any) -> dict[str, float | None] | None:
    """A plugin metric's ``compute`` result as the report's values (names -> numbers)."""
    if result is None:
        return None
    if isinstance(result, bool):
        return {"value": float(result)}
    if isinstance(result, int | float):
        return {"value": float(result)}
    if isinstance(result, Mapping):
        return {
            str(k): (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None)
            for k, v in result.items()
        }
    raise TypeError(f"a metric returned {type(result).__name__}, not a number or a mapping")


def group_values(
    metrics: Sequence[PluginMetric], ctx: MetricContext, grouping: Grouping, notes: list[str]
) -> dict[str, dict[Any, dict[str, float | None]]]:
    """``{metric name: {group key: values}}`` of the metrics that compute per group; a metric
    that fails is left out with a note (a plugin's bug must not sink the report)."""
    out: dict[str, dict[Any, dict[str, float | None]]] = {}
    for name, metric, plugin in metrics:
        compute = getattr(metric, "compute_groups", None)
        if compute is None:
            continue
        try:
            got = compute(ctx, grouping)
            out[name] = {
                key: plugin_value(got.get(key)) or {"value": None} for key in grouping.keys
            }
        except Exception as exc:
            notes.append(
                f"metric {name!r} (plugin {plugin}) failed by {grouping.by}: "
                f"{type(exc).__name__}: {exc}"
            )
    return out


def series_values(
    metrics: Sequence[PluginMetric],
    ctx: MetricContext,
    grouping: Grouping,
    headlines: Mapping[str, str],
    notes: list[str],
) -> dict[str, list[float | None]]:
    """``{metric name: [headline value per bucket]}`` (the series of the report)."""
    out: dict[str, list[float | None]] = {}
    for name, by_key in group_values(metrics, ctx, grouping, notes).items():
        head = headlines.get(name)
        out[name] = [
            (by_key[k].get(head) if head else next(iter(by_key[k].values()), None))
            for k in grouping.keys
        ]
    return out
