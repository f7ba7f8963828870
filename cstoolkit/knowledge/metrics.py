"""Self-service figures of the KPI report, and the knowledge gaps.

``self_service`` is a KPI metric registered through ``register_metrics`` (the built-in
``knowledge`` plugin), so it appears in ``cst report kpi`` beside the others without changing
how the report aggregates: it computes from SQL counts over the report's own ticket filter and
the tickets' facts (:func:`cstoolkit.store.knowledge.self_service_counts`). Anchor: the
ticket's creation. Values:

``answered``
    tickets answered from the knowledge base (``answer_from_kb`` set ``kb_article``);
``answered_pct``
    of the tickets created;
``deflected`` / ``deflection_pct``
    answered tickets solved with no agent reply but the answer itself (``agent_replies <= 1``:
    the answer is the integration's own public reply, and it never goes out after an agent's);
``reopened`` / ``reopened_pct``
    answered tickets reopened (``reopens > 0``; the answer is the ticket's first reply, so a
    reopen follows it);
``csat_pct`` / ``csat_responses``
    CSAT of the answered tickets: answers 4-5 (``[kpi] csat_good_min``) over answers 1-5.

The knowledge-gaps table is :mod:`cstoolkit.knowledge.gaps`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.store import knowledge as store_kb

if TYPE_CHECKING:
    from cstoolkit.kpi.metrics import Grouping, MetricContext


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


class SelfServiceMetric:
    """The ``self_service`` KPI metric (see the module docstring)."""

    name = "self_service"
    label = "Answered from the knowledge base"
    description = (
        "Tickets answered from the knowledge base; deflected (solved with no agent reply), "
        "reopened, CSAT of those."
    )
    unit = "count"
    headline = "answered"

    def compute(self, ctx: MetricContext) -> Mapping[str, float | None] | None:
        if ctx.store is None or not ctx.store.has_table("kb_articles"):
            return None
        return values(self.counts(ctx).get(None, _ZERO))

    def compute_groups(
        self, ctx: MetricContext, grouping: Grouping
    ) -> Mapping[Any, Mapping[str, float | None]]:
        """The values of each group of ``--by`` or bucket of the series (one query)."""
        if ctx.store is None or not ctx.store.has_table("kb_articles"):
            return {}
        found = self.counts(ctx, grouping)
        return {key: values(found.get(key, _ZERO)) for key in grouping.keys}

    def counts(
        self, ctx: MetricContext, grouping: Grouping | None = None
    ) -> dict[Any, dict[str, int]]:
        """The counts of :func:`cstoolkit.store.knowledge.self_service_counts` by group key
        (``None`` alone without ``grouping``; tiers summed over their agents). Only the
        answered tickets are read; the created ones are the report's own count when it gives
        them (``tickets_created`` of the period, ``Grouping.created``), else counted."""
        assert ctx.store is not None
        by = grouping.by if grouping is not None and grouping.by != "time" else None
        bounds = grouping.bounds if grouping is not None and grouping.by == "time" else None
        span: dict[str, Any] = {"since": ctx.since, "until": ctx.until, "by": by, "bounds": bounds}
        answered = store_kb.self_service_answered(
            ctx.store, ctx.where, ctx.params, csat_good_min=csat_good_min(ctx.config), **span
        )
        created = _reported(ctx, grouping)
        if created is None:
            created = store_kb.created_counts(ctx.store, ctx.where, ctx.params, **span)
            if by == "tier" and grouping is not None:
                per_tier: Counter[Any] = Counter()
                for agent, n in created.items():
                    per_tier[_tier(grouping, agent)] += n
                created = per_tier
        if by == "tier" and grouping is not None:
            answered = _by_tier(grouping, answered)
        return store_kb.combine(created, answered)


def _reported(ctx: MetricContext, grouping: Grouping | None) -> Mapping[Any, int] | None:
    """The report's own count of the tickets created (the period's, or per key), if given."""
    if grouping is not None:
        return grouping.created
    count = (ctx.results.get("tickets_created") or {}).get("count")
    return {None: int(count)} if isinstance(count, int | float) else None


def _tier(grouping: Grouping, agent: Any) -> Any:
    """An assignee's tier (``None``: no assignee, or an agent of no tier)."""
    return grouping.tiers.get(agent) if agent is not None else None


def _by_tier(
    grouping: Grouping, found: Mapping[Any, Mapping[str, int]]
) -> dict[Any, dict[str, int]]:
    """Counts per agent summed per tier (:func:`_tier`)."""
    tiers: dict[Any, dict[str, int]] = {}
    for agent, c in found.items():
        total = tiers.setdefault(_tier(grouping, agent), dict.fromkeys(c, 0))
        for name, n in c.items():
            total[name] += n
    return tiers


_ZERO = dict.fromkeys(store_kb.SELF_SERVICE_COUNTS, 0)


def csat_good_min(config: Any) -> int:
    """``[kpi] csat_good_min`` (4 unless set)."""
    kpi = config.get("kpi") if isinstance(config, Mapping) else None
    if isinstance(kpi, Mapping) and isinstance(kpi.get("csat_good_min"), int):
        return int(kpi["csat_good_min"])
    return 4


def values(c: Mapping[str, int]) -> dict[str, float | None]:
    """The metric's values from its counts (the period's, a group's or a bucket's)."""
    answered = c["answered"]
    return {
        "answered": answered,
        "answered_pct": _pct(answered, c["created"]),
        "deflected": c["deflected"],
        "deflection_pct": _pct(c["deflected"], answered),
        "reopened": c["reopened"],
        "reopened_pct": _pct(c["reopened"], answered),
        "csat_pct": _pct(c["csat_good"], c["csat_responses"]),
        "csat_responses": c["csat_responses"],
    }
