"""Benchmark ``cst report kpi``: the full KPI report over a store of 1,000,000 sample tickets.

Usage::

    python benchmarks/bench_kpi.py                      # 1,000,000 tickets over 90 days
    python benchmarks/bench_kpi.py --jobs 1             # one process
    python benchmarks/bench_kpi.py --sla                # with one SLA policy (slow: see below)
    python benchmarks/bench_kpi.py --cache /fast/disk   # where the generated store is kept

The sample helpdesk is generated with :func:`cstoolkit.sample.generate_file` and synced into a
SQLite store with :func:`cstoolkit.sync.pull` and the ``local`` backend, both cached under
``--cache`` (default ``/tmp/cst-bench-kpi``) between runs: generating and syncing a million
tickets takes a quarter of an hour, the report itself is what is measured. The report runs the
whole pipeline of the command (config, plugin host, scan, SQL counts, every metric, every
renderer's input) over the whole 90 days with ``--compare previous``, and renders JSON and HTML.
It runs with a business-hours calendar (Mon-Fri 09:00-18:00 Europe/Madrid with Spanish public
holidays) so business time is exercised. Nothing is asserted: the point is the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

try:
    import cstoolkit  # noqa: F401
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cstoolkit.config import load_config
from cstoolkit.host import Host
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import open_store
from cstoolkit.sync import pull

END = datetime(2026, 3, 1, tzinfo=UTC)  # fixed, so the data (and figures) repeat exactly
CONFIG = """\
[store]
path = "{store}"

[backends.bench]
plugin = "local"
path = "{helpdesk}"
page_size = 5000

[calendars.support]
timezone = "Europe/Madrid"
hours = {{ mon-fri = "09:00-18:00" }}
holidays_country = "ES"

[kpi]
calendar = "support"

[costs]
agent_hour = 28.0
hours_per_agent_day = 7.5

[staffing]
aht = "6m"
"""
SLA = """
[sla.standard]
calendar = "support"
business_hours = true
first_reply = { urgent = "30m", high = "1h", normal = "2h", low = "4h" }
resolution = { urgent = "4h", high = "8h", normal = "24h", low = "40h" }
"""


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def prepare(cache: Path, tickets: int, days: int, seed: int, sla: bool) -> Path:
    """Generate and sync the sample once; return the config file of the cached workspace."""
    cache.mkdir(parents=True, exist_ok=True)
    tag = f"{tickets}-{days}d-s{seed}"
    helpdesk = cache / f"helpdesk-{tag}.jsonl"
    store = cache / f"store-{tag}.db"
    config = cache / f"cstoolkit-{tag}{'-sla' if sla else ''}.toml"
    config.write_text(CONFIG.format(store=store, helpdesk=helpdesk) + (SLA if sla else ""))
    if not helpdesk.exists():
        t = time.perf_counter()
        stats = generate_file(SampleSpec(tickets, days, seed, end=END), helpdesk)
        print(f"generated {stats.tickets:,} tickets in {time.perf_counter() - t:,.0f} s")
    cfg = load_config(config)
    st = open_store(cfg.store_path)
    try:
        if st.get_cursor("bench") is None or not st.counts()["tickets"]:
            from cstoolkit.config import build_instance

            t = time.perf_counter()
            backend = build_instance(cfg, Host().load(), "backends", "bench", st)
            summary = pull(st, backend)
            print(f"synced {summary.fetched:,} tickets in {time.perf_counter() - t:,.0f} s")
    finally:
        st.close()
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cst-bench-kpi"))
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: auto)")
    parser.add_argument("--sla", action="store_true", help="configure one SLA policy")
    args = parser.parse_args(argv)

    config_path = prepare(args.cache, args.tickets, args.days, args.seed, args.sla)
    print(f"platform: {platform.platform()}")
    print(f"machine:  {platform.machine()} / {_cpu_model()}, {os.cpu_count()} CPUs")
    print(f"python:   {platform.python_implementation()} {platform.python_version()}, "
          f"sqlite {__import__('sqlite3').sqlite_version}")  # fmt: skip

    from cstoolkit.kpi.html import render_html
    from cstoolkit.kpi.render import JsonExporter
    from cstoolkit.kpi.report import KpiOptions, build_report

    config = load_config(config_path)
    store = open_store(config.store_path)
    counts = store.counts()
    size = os.path.getsize(config.store_path)
    print(f"input:    {counts['tickets']:,} tickets, {counts['events']:,} events, "
          f"{counts['people']:,} people; store {size / 1e9:,.2f} GB")  # fmt: skip
    print(f"report:   the whole {args.days} days to "
          f"{END.date()}, --compare previous, calendar support (business hours)"
          f"{', 1 SLA policy' if args.sla else ', no SLA policy'}")  # fmt: skip
    options = KpiOptions(
        since=f"{args.days}d", until=END.date().isoformat(), compare="previous", jobs=args.jobs,
        now=END,
    )  # fmt: skip
    started, cpu0 = time.perf_counter(), time.process_time()
    host = Host().load()
    report = build_report(store, config, options, host)
    built = time.perf_counter()
    buf = io.StringIO()
    JsonExporter().write(report, buf)
    html = render_html(report)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = children.ru_utime + children.ru_stime
    scanned = report["scanned"]
    print(f"scanned:  {scanned['tickets']:,} tickets, {scanned['events']:,} events "
          f"({scanned['jobs']} worker process(es))")  # fmt: skip
    print(f"time:     {elapsed:,.2f} s wall (report {built - started:,.2f} s, JSON + HTML "
          f"{elapsed - (built - started):,.2f} s); CPU {cpu:,.1f} s here + {child_cpu:,.1f} s "
          "in workers")  # fmt: skip
    print(f"memory:   peak RSS {_peak_rss_mb():,.0f} MB (this process), "
          f"{_peak_rss_mb(resource.RUSAGE_CHILDREN):,.0f} MB (largest worker)")  # fmt: skip
    print(f"output:   JSON {len(buf.getvalue()) / 1e3:,.0f} kB, HTML {len(html) / 1e3:,.0f} kB")
    frt = next(m for m in report["metrics"] if m["name"] == "first_reply_time")["values"]
    print(f"check:    first reply median {frt['business.median']} s business, "
          f"{frt['calendar.median']} s calendar over {frt['count']:,} tickets")  # fmt: skip
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
