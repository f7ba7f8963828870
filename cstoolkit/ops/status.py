"""``cst status``: how fresh the store is, what waits, how the last run went.

Read-only: a few aggregate queries over sync_runs, sync_cursors, tickets, planned_changes, the
survey ledger, locks and ops_runs. :func:`prometheus` renders the same figures in the
Prometheus text exposition format for the node exporter's textfile collector.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cstoolkit.model import now
from cstoolkit.store import planned, runs
from cstoolkit.store.codec import from_epoch, to_epoch
from cstoolkit.store.locks import list_locks

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

QUEUE_STATES = ("pending", "claimed", "failed", "conflict", "refused", "in_doubt")


def _iso(epoch: int | None) -> str | None:
    value = from_epoch(epoch)
    return value.isoformat().replace("+00:00", "Z") if value else None


def collect(store: Store, instances: list[str] | None = None) -> dict[str, Any]:
    """Everything ``cst status`` shows, as plain JSON-able values."""
    from cstoolkit.inbound.status import counts as inbound_counts
    from cstoolkit.ops.run import last_run
    from cstoolkit.surveys.send import status_summary

    stamp = to_epoch(now()) or 0
    names = set(instances or []) | runs.synced_instances(store)
    tickets = runs.live_tickets_by_instance(store)
    names |= set(tickets)
    queue = planned.counts_by_instance(store, QUEUE_STATES)
    names |= set(queue)
    rows = []
    for name in sorted(names):
        state = runs.sync_state(store, name)
        ok, stats = state.last_success, state.last_stats
        q = queue.get(name, {})
        rows.append(
            {
                "instance": name,
                "tickets": int(tickets.get(name, 0)),
                "last_success_at": _iso(ok),
                "lag_seconds": stamp - ok if ok is not None else None,
                "last_outcome": state.last_outcome,
                "last_run_at": _iso(state.last_started),
                "cursor_age_seconds": stamp - state.cursor_updated
                if state.cursor_updated is not None
                else None,
                "rate_limit_wait_seconds": float(stats.get("seconds_waited_rate_limit") or 0),
                "requests": int(stats.get("requests") or 0),
                "retries": int(stats.get("retries") or 0),
                "push_queue": sum(q.get(s, 0) for s in ("pending", "claimed", "failed")),
                "push_blocked": sum(q.get(s, 0) for s in ("conflict", "refused", "in_doubt")),
            }
        )
    surveys = status_summary(store)
    offers = surveys["offers"]
    run = last_run(store)
    held = list_locks(store)
    return {
        "generated_at": _iso(stamp),
        "instances": rows,
        "surveys": {
            "sent": offers.get("done", 0),
            "pending": offers.get("reserved", 0) + offers.get("failed", 0),
            "in_doubt": offers.get("in_doubt", 0),
            "answers": surveys["answers"],
            "opt_outs": surveys["opt_outs"],
        },
        "inbound": inbound_counts(store),
        "last_run": None
        if run is None
        else {
            "run_id": run["run_id"],
            "finished_at": run["finished_at"],
            "outcome": run["outcome"],
            "exit_code": run["exit_code"],
            "seconds": run["seconds"],
            "steps": len(run["steps"]),
            "failed_steps": [
                s["name"] for s in run["steps"] if s["outcome"] in ("failed", "timeout", "busy")
            ],
        },
        "locks": [{"name": h.name, "expires_at": _iso(to_epoch(h.expires_at))} for h in held],
    }


def table_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **r,
            "lag": _human(r["lag_seconds"]),
            "cursor_age": _human(r["cursor_age_seconds"]),
        }
        for r in status["instances"]
    ]


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


# -- Prometheus ------------------------------------------------------------------------------


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def prometheus(status: dict[str, Any]) -> str:
    """The status in the text exposition format (version 0.0.4); an unknown value is omitted."""
    out: list[str] = []

    def metric(name: str, help_: str, kind: str, samples: list[tuple[dict[str, str], Any]]) -> None:
        full = f"cstoolkit_{name}"
        out.append(f"# HELP {full} {help_}")
        out.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            if value is None:
                continue
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{full}{{{text}}} {_num(value)}" if text else f"{full} {_num(value)}")

    rows = status["instances"]

    def per(key: str) -> list[tuple[dict[str, str], Any]]:
        return [({"instance": r["instance"]}, r[key]) for r in rows]

    def epoch(iso: str | None) -> float | None:
        from cstoolkit.timespec import parse_time

        return parse_time(iso, relative=False).timestamp() if iso else None

    metric(
        "sync_last_success_timestamp_seconds",
        "Unix time the last successful sync pull of the instance finished.",
        "gauge",
        [({"instance": r["instance"]}, epoch(r["last_success_at"])) for r in rows],
    )
    metric(
        "sync_lag_seconds",
        "Seconds since the last successful sync pull of the instance.",
        "gauge",
        per("lag_seconds"),
    )
    metric(
        "sync_cursor_age_seconds",
        "Seconds since the instance's sync cursor last moved.",
        "gauge",
        per("cursor_age_seconds"),
    )
    metric(
        "sync_last_run_ok",
        "1 if the instance's last sync pull succeeded, else 0.",
        "gauge",
        [
            (
                {"instance": r["instance"]},
                None if r["last_outcome"] is None else int(r["last_outcome"] == "ok"),
            )
            for r in rows
        ],
    )
    metric(
        "sync_rate_limit_wait_seconds",
        "Seconds the instance's last sync pull waited on rate limits.",
        "gauge",
        per("rate_limit_wait_seconds"),
    )
    metric("tickets", "Tickets stored for the instance (not deleted).", "gauge", per("tickets"))
    metric(
        "push_queue",
        "Planned changes waiting to be pushed (pending or failed).",
        "gauge",
        per("push_queue"),
    )
    metric(
        "push_blocked",
        "Planned changes that conflicted or were refused (need a new plan).",
        "gauge",
        per("push_blocked"),
    )
    s = status["surveys"]
    metric("surveys_pending", "Survey offers reserved or failed, not yet delivered.", "gauge",
           [({}, s["pending"])])  # fmt: skip
    metric("surveys_in_doubt", "Survey offers whose delivery is unknown (never resent blindly).",
           "gauge", [({}, s["in_doubt"])])  # fmt: skip
    inbound = status["inbound"]
    metric("inbound_in_doubt", "Inbound messages or replies whose outcome is unknown (never "
           "redone blindly).", "gauge", [({}, inbound["in_doubt"])])  # fmt: skip
    metric("inbound_unparsed", "Mail left flagged in a mailbox because it cannot be parsed.",
           "gauge", [({}, inbound["unparsed"])])  # fmt: skip
    run = status["last_run"]
    metric(
        "run_last_timestamp_seconds",
        "Unix time the last cst run finished.",
        "gauge",
        [({}, epoch(run["finished_at"]) if run else None)],
    )
    metric(
        "run_last_success",
        "1 if the last cst run had no failed step, else 0.",
        "gauge",
        [({}, None if run is None else int(run["exit_code"] == 0))],
    )
    metric(
        "run_last_failed_steps",
        "Steps of the last cst run that failed or timed out.",
        "gauge",
        [({}, None if run is None else len(run["failed_steps"]))],
    )
    metric("locks_held", "Run locks currently in the store.", "gauge", [({}, len(status["locks"]))])
    return "\n".join(out) + "\n"


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``, so a
    reader (the textfile collector) never sees half a file."""
    import os
    import tempfile
    from pathlib import Path

    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
