"""Benchmark what the knowledge base adds to ``cst report kpi``: ``self_service`` per group and
per series bucket, and the knowledge-gaps table (``--gaps``).

Usage::

    python benchmarks/bench_kpi.py --tickets 200000 --repeat 1   # builds the cached store once
    python benchmarks/bench_kb_report.py --tickets 200000

It copies the store ``benchmarks/bench_kpi.py`` keeps in its cache (never changing it), marks
every tenth ticket as answered from the knowledge base (custom field ``kb_article``), syncs the
sample knowledge base (``cstoolkit.knowledge.sample``, 12 articles) and times the report
in-process (median of ``--repeat`` runs, after one warm-up run that builds the columns):

* the report without ``--by`` (``self_service`` as one period value and per series bucket);
* with ``--by channel`` and ``--by week`` (``self_service`` per group: one more query);
* with ``--gaps`` (topics from tags): the added time is the gaps table;

and then each added part alone, in wall and CPU seconds: ``self_service`` for one period, per
channel and per day (the series), both as the store function counts them (the created tickets
counted too) and as the report reads them (only the answered tickets, through their partial
index; the report has the created tickets counted already), and the gaps section.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

try:
    import cstoolkit  # noqa: F401
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cstoolkit.config import Config
from cstoolkit.host import Host
from cstoolkit.instances import build_instance
from cstoolkit.knowledge import sample as kb_sample
from cstoolkit.knowledge.gaps import GapRequest
from cstoolkit.knowledge.sync import sync_source
from cstoolkit.kpi.report import KpiOptions, build_report
from cstoolkit.store import open_store


def _median(fn: Any, repeat: int) -> tuple[float, float, float]:
    return _timed(fn, repeat)[:3]


def _timed(fn: Any, repeat: int) -> tuple[float, float, float, float]:
    """Median, min and max wall seconds, and median CPU seconds, of ``repeat`` runs."""
    times, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(times), min(times), max(times), statistics.median(cpu)


def _parts(store: Any, repeat: int) -> None:
    from datetime import UTC, datetime

    from cstoolkit.calendars import ZoneClock
    from cstoolkit.knowledge.gaps import for_report
    from cstoolkit.kpi.periods import bucket_bounds, buckets
    from cstoolkit.store import knowledge as store_kb

    since = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    until = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    zone = ZoneClock("UTC", since - 86400, until + 86400)
    day0 = zone.day(since)
    labels, index = buckets(day0, zone.day(until - 1), "day")
    bounds = bucket_bounds(zone, day0, index)
    where = "t.deleted = 0"
    parts = {
        "self_service, one period": lambda: store_kb.self_service_counts(
            store, where, [], since=since, until=until
        ),
        "self_service per channel": lambda: store_kb.self_service_counts(
            store, where, [], since=since, until=until, by="channel"
        ),
        f"self_service per day ({len(labels)})": lambda: store_kb.self_service_counts(
            store, where, [], since=since, until=until, bounds=bounds
        ),
        "  answered only, one period": lambda: store_kb.self_service_answered(
            store, where, [], since=since, until=until
        ),
        "  answered only, per channel": lambda: store_kb.self_service_answered(
            store, where, [], since=since, until=until, by="channel"
        ),
        "  answered only, per day": lambda: store_kb.self_service_answered(
            store, where, [], since=since, until=until, bounds=bounds
        ),
        "gaps section (tags)": lambda: for_report(
            store, where, [], since=since, until=until, request=GapRequest(), notes=[]
        ),
    }
    print("parts alone (wall median (min-max), CPU median):")
    for name, fn in parts.items():
        med, lo, hi, cpu = _timed(fn, repeat)
        print(f"  {name:<30} {med:7.3f} s  ({lo:.3f}-{hi:.3f})  CPU {cpu:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cst-bench-kpi"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/cst-bench-kb"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    cached = args.cache / f"store-{args.tickets}-{args.days}d-s{args.seed}.db"
    if not cached.exists():
        sys.exit(f"{cached} is missing: run benchmarks/bench_kpi.py --tickets {args.tickets} first")
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "store.db"
    shutil.copyfile(cached, db)
    kb_dir = args.work / "kb"
    shutil.rmtree(kb_dir, ignore_errors=True)
    kb_sample.write(kb_dir)

    host = Host(entry_points=[]).load()
    store = open_store(db)
    try:
        with store.transaction() as cur:
            cur.execute(
                "UPDATE tickets SET custom_fields = json_set(COALESCE(custom_fields, '{}'), "
                "'$.kb_article', 'help:en/reset-password.md') WHERE rowid % 10 = 0"
            )
        config = Config(
            path=None, data={"knowledge": {"help": {"plugin": "markdown", "path": str(kb_dir)}}}
        )
        source = build_instance(config, host, "knowledge", "help", store)
        sync_source(store, "help", source, full=True)
        runs = {
            "report": KpiOptions(since="2026-01-01", until="2026-03-01"),
            "report --by channel": KpiOptions(since="2026-01-01", until="2026-03-01", by="channel"),
            "report --by week": KpiOptions(since="2026-01-01", until="2026-03-01", by="week"),
            "report --gaps": KpiOptions(since="2026-01-01", until="2026-03-01", gaps=GapRequest()),
        }
        build_report(store, config, runs["report"], host)  # warm-up: columns, facts
        print(f"{args.tickets:,} tickets, {args.days} days; median of {args.repeat} (min-max)")
        for name, options in runs.items():
            med, lo, hi = _median(
                lambda o=options: build_report(store, config, o, host), args.repeat
            )
            print(f"  {name:<22} {med:7.3f} s  ({lo:.3f}-{hi:.3f})")
        _parts(store, args.repeat)
    finally:
        store.close()


if __name__ == "__main__":
    main()
