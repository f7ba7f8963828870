"""Benchmark ``cst report kpi``: the full KPI report over a store of 1,000,000 sample tickets.

Usage::

    python benchmarks/bench_kpi.py                      # 1,000,000 tickets over 90 days, SQLite
    python benchmarks/bench_kpi.py --postgres           # the same on a local PostgreSQL server
    python benchmarks/bench_kpi.py --postgres --pg-data /big/disk/pg1m   # keep the loaded cluster
    python benchmarks/bench_kpi.py --tickets 200000     # a smaller store
    python benchmarks/bench_kpi.py --cache /fast/disk   # where the generated store is kept

The input is pinned: :func:`cstoolkit.sample.generate_file` with seed 1, 90 days ending at
:data:`END`, synced into a SQLite store with :func:`cstoolkit.sync.pull` and the ``local``
backend, both cached under ``--cache`` (default ``/tmp/cst-bench-kpi``). The cached store is
never changed: each run copies it to a work file (``--work``) first. What is measured, each
figure of issue 17's table:

1. the store brought to this version (migrations) and the report's columns built once, and the
   SLA outcomes computed once (both happen once after a first load or a changed SLA policy);
2. the report -- the whole pipeline of the command (config, plugin host, columns, every metric,
   JSON and HTML rendering) over the whole 90 days with ``--compare previous``, SLA included, a
   business-hours calendar (Mon-Fri 09:00-18:00 Europe/Madrid with Spanish holidays) -- run
   ``--repeat`` times, each in a fresh process whose peak memory (RSS) and CPU time are read
   from the kernel; the median is printed with the spread;
3. a sync that changes 1% of the tickets (``--change``): a later version of each, reopened with
   one more public agent reply, written through the store's sync path; then the refresh (SLA
   outcomes and columns of exactly those tickets) and the report again.

With ``--postgres`` the same sample is synced into a PostgreSQL server started on 127.0.0.1
for the run (as the tests start theirs) and steps 1-3 run there; the load is printed as the
PostgreSQL ingest figure (tickets per second of wall clock and per client CPU second, the facts
refresh's share, peak RSS). A million tickets take a while to load, so ``--pg-data DIR`` keeps
the cluster: the first run makes it in ``DIR/data``, loads it, brings it up to date (step 1)
and stops it there; every run (the first included) then starts a server on a copy of it in
``DIR/work`` (removed afterwards), so the 1% change of step 3 never reaches the kept cluster
and each run measures the same input. ``DIR/bench-input.txt`` names the input it holds (a run
with another ``--tickets``/``--days``/``--seed`` refuses it). Nothing is asserted: the point is
the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import cstoolkit  # noqa: F401
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cstoolkit.config import load_config
from cstoolkit.host import Host
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import open_store
from cstoolkit.sync import pull

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 3, 1, tzinfo=UTC)  # fixed, so the data (and figures) repeat exactly
CONFIG = """\
[store]
{store}

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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def _write_config(path: Path, store_line: str, helpdesk: Path, sla: bool) -> Path:
    path.write_text(CONFIG.format(store=store_line, helpdesk=helpdesk) + (SLA if sla else ""))
    return path


def prepare(cache: Path, tickets: int, days: int, seed: int, out: Path) -> tuple[Path, Path]:
    """Generate and sync the sample once (cached); return the helpdesk and the store files.
    A cached store is only read (its config is written to ``out``)."""
    cache.mkdir(parents=True, exist_ok=True)
    tag = f"{tickets}-{days}d-s{seed}"
    helpdesk = cache / f"helpdesk-{tag}.jsonl"
    store = cache / f"store-{tag}.db"
    if not helpdesk.exists():
        t = time.perf_counter()
        stats = generate_file(SampleSpec(tickets, days, seed, end=END), helpdesk)
        print(f"generated {stats.tickets:,} tickets in {time.perf_counter() - t:,.0f} s")
    if store.exists():
        st = open_store(store, migrate=False)
        try:
            if st.get_cursor("bench") is not None:
                return helpdesk, store
        finally:
            st.close()
    config = _write_config(out / f"cstoolkit-{tag}.toml", f'path = "{store}"', helpdesk, False)
    _sync(config)
    return helpdesk, store


def _sync(config_path: Path) -> None:
    """Load the helpdesk into the configured store (when it is empty) and print the load as an
    ingest figure: tickets per second of wall clock and per CPU second of this process (the
    client's: a PostgreSQL server's own CPU is not in it), the facts refresh's share (the one
    ``facts.refresh`` call per page, timed around it) and this process's peak RSS."""
    import resource

    from cstoolkit.store import facts

    cfg = load_config(config_path)
    st = open_store(cfg.store_path) if cfg.store_url is None else open_store(cfg.store_url)
    spent = [0.0, 0.0]  # wall, CPU of the facts refresh
    refresh = facts.refresh

    def timed_refresh(*a: Any, **kw: Any) -> int:
        w, c = time.perf_counter(), time.process_time()
        try:
            return refresh(*a, **kw)
        finally:
            spent[0] += time.perf_counter() - w
            spent[1] += time.process_time() - c

    try:
        if st.get_cursor("bench") is None or not st.counts()["tickets"]:
            from cstoolkit.config import build_instance

            facts.refresh = timed_refresh  # type: ignore[assignment]
            t, c = time.perf_counter(), time.process_time()
            backend = build_instance(cfg, Host().load(), "backends", "bench", st)
            summary = pull(st, backend)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            n = summary.fetched
            print(
                f"ingest:   {n:,} tickets loaded ({'PostgreSQL' if cfg.store_url else 'SQLite'}, "
                f"local backend) in {wall:,.0f} s wall: {n / wall:,.0f} tickets/s; client CPU "
                f"{cpu:,.0f} s: {n / cpu:,.0f} tickets per CPU s; facts refresh "
                f"{spent[0] / wall:.0%} of the wall clock, {spent[1] / cpu:.0%} of the CPU; "
                f"peak RSS {rss:,.0f} MB (load average {os.getloadavg()[0]:.1f} at the end)"
            )
    finally:
        facts.refresh = refresh  # type: ignore[assignment]
        st.close()


# -- one report in a fresh process ----------------------------------------------------------------


def report_once(config_path: Path, days: int) -> dict[str, Any]:
    """The child's side: build and render the report; print its figures as JSON."""
    import io

    from cstoolkit.kpi.html import render_html
    from cstoolkit.kpi.render import JsonExporter
    from cstoolkit.kpi.report import KpiOptions, build_report

    started = time.perf_counter()
    config = load_config(config_path)
    store = open_store(config.store_url or config.store_path)
    options = KpiOptions(
        since=f"{days}d", until=END.date().isoformat(), compare="previous", now=END
    )
    report = build_report(store, config, options, Host().load())
    built = time.perf_counter()
    buf = io.StringIO()
    JsonExporter().write(report, buf)
    html = render_html(report)
    store.close()
    frt = next(m for m in report["metrics"] if m["name"] == "first_reply_time")["values"]
    sla = next(m for m in report["metrics"] if m["name"] == "sla_compliance")["values"]
    return {
        "wall": time.perf_counter() - started,
        "report": built - started,
        "tickets": report["scanned"]["tickets"],
        "events": report["scanned"]["events"],
        "json_kb": len(buf.getvalue()) / 1e3,
        "html_kb": len(html) / 1e3,
        "frt": [frt["business.median"], frt["calendar.median"], frt["count"]],
        "sla": [sla["rate"], sla["completed"]],
    }


def _spawn_report(config_path: Path, days: int) -> dict[str, Any]:
    """One report in a forked child: its own figures plus the kernel's CPU time and peak RSS
    of that process (the whole report: it starts no other process)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            fig = report_once(config_path, days)
            os.write(w, json.dumps(fig).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        data = os.read(r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    _, status, usage = os.wait4(pid, 0)
    if status:
        raise SystemExit(f"report failed (status {status})")
    fig: dict[str, Any] = json.loads(b"".join(chunks))
    fig["cpu"] = usage.ru_utime + usage.ru_stime
    fig["rss_mb"] = usage.ru_maxrss / 1024
    return fig


def reports(label: str, config_path: Path, days: int, repeat: int) -> dict[str, Any]:
    runs = [_spawn_report(config_path, days) for _ in range(repeat)]
    walls = [r["wall"] for r in runs]
    med = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    print(
        f"{label}: {statistics.median(walls):,.2f} s wall median of {len(runs)} "
        f"(min {min(walls):,.2f}, max {max(walls):,.2f}); report {med['report']:,.2f} s, "
        f"JSON + HTML {med['wall'] - med['report']:,.2f} s; CPU {med['cpu']:,.2f} s; "
        f"peak RSS {max(r['rss_mb'] for r in runs):,.0f} MB (whole process tree: one process)"
    )
    print(
        f"          {med['tickets']:,} tickets read ({med['events']:,} events); "
        f"first reply median {med['frt'][0]} s business, {med['frt'][1]} s calendar over "
        f"{med['frt'][2]:,}; SLA {med['sla'][0]:.2f}% of {med['sla'][1]:,}; "
        f"JSON {med['json_kb']:,.0f} kB, HTML {med['html_kb']:,.0f} kB"
    )
    return med


# -- the store's own steps ------------------------------------------------------------------------


def upkeep(config_path: Path, label: str) -> None:
    """Migrations, SLA outcomes and the report's columns brought up to date, each timed."""
    from cstoolkit import sla, sla_facts
    from cstoolkit.calendars import load_calendars
    from cstoolkit.store import columns
    from cstoolkit.store import facts as stored_facts

    config = load_config(config_path)
    t = time.perf_counter()
    store = open_store(config.store_url or config.store_path)
    migrated = time.perf_counter() - t
    try:
        c = time.process_time()
        t = time.perf_counter()
        stored_facts.ensure(store)
        policies = sla.load_policies(config.data)
        calendars = load_calendars(config.data.get("calendars"))
        sla_facts.ensure(store, policies, calendars)
        t_sla = time.perf_counter() - t
        t = time.perf_counter()
        stats = columns.refresh(store)
        t_cols = time.perf_counter() - t
        cpu = time.process_time() - c
    finally:
        store.close()
    print(
        f"{label}: {t_sla + t_cols:,.2f} s wall (SLA outcomes {t_sla:,.2f} s, columns "
        f"{t_cols:,.2f} s: {stats.tickets:,} tickets, {stats.days} days, {stats.rebuilt} "
        f"rebuilt); CPU {cpu:,.2f} s" + (f"; migrations {migrated:,.2f} s" if migrated > 1 else "")
    )


def change_share(config_path: Path, share: float, seed: int) -> int:
    """A sync that changes ``share`` of the tickets: each reopened by one more public agent
    reply an hour after its last update, written through the store's sync path in pages."""
    from cstoolkit.model import Event, EventKind, Role, Status
    from cstoolkit.plugin import Page

    config = load_config(config_path)
    store = open_store(config.store_url or config.store_path)
    try:
        total = store.counts()["tickets"]
        rng = random.Random(seed)  # the sample's tickets are bench:1 .. bench:N
        chosen = [f"bench:{n}" for n in sorted(rng.sample(range(1, total + 1), int(total * share)))]
        t = time.perf_counter()
        c = time.process_time()
        for k in range(0, len(chosen), 1000):
            page = Page()
            for tid in chosen[k : k + 1000]:
                ticket = store.get_ticket(tid)
                if ticket is None:
                    continue
                at = min(ticket.updated_at + timedelta(hours=1), END - timedelta(seconds=1))
                page.tickets.append(replace(ticket, status=Status.OPEN, updated_at=at))
                page.events.append(
                    Event(
                        id=f"{ticket.external_id}-bench",
                        ticket_id=ticket.id,
                        kind=EventKind.COMMENT,
                        at=at,
                        author_id=ticket.assignee_id,
                        author_role=Role.AGENT,
                        public=True,
                        body="one more reply",
                    )
                )
            store.upsert_page("bench", page)
        print(
            f"sync of a 1% change: {len(chosen):,} tickets in {time.perf_counter() - t:,.2f} s "
            f"wall, CPU {time.process_time() - c:,.2f} s (reading them back included)"
        )
        return len(chosen)
    finally:
        store.close()


def _kept_postgres(
    pg_data: Path, tag: str, helpdesk: Path, sla_on: bool, out: Path
) -> tuple[Any, bool]:
    """A server on a work copy of the cluster kept in ``pg_data/data`` (and whether this run
    loaded it); on the first run the
    cluster is made there, loaded (the ingest figure), brought up to date (migrations, SLA
    outcomes, columns: the "once" figure) and stopped. The kept cluster is never changed after
    that: each run copies it to ``pg_data/work`` (the 1% change of the run goes there, and the
    copy is removed when the run ends), as the SQLite path copies its cached store."""
    import shutil
    import subprocess

    sys.path.insert(0, str(ROOT))
    from tests.pgserver import start_server

    pristine = pg_data / "data"
    marker = pg_data / "bench-input.txt"
    loaded = False
    if (pristine / "PG_VERSION").exists():
        if marker.exists() and marker.read_text().strip() != tag:
            raise SystemExit(
                f"{pg_data} holds the input {marker.read_text().strip()}, not {tag}: "
                "give another --pg-data"
            )
    else:
        loader = start_server(pg_data)
        print(f"store:    PostgreSQL on 127.0.0.1:{loader.port}, loading into {pristine}")
        try:
            config_path = _write_config(
                out / f"cstoolkit-{tag}-pg-load.toml", f'url = "{loader.url}"', helpdesk, sla_on
            )
            _sync(config_path)
            upkeep(config_path, "once:     migrations, SLA outcomes and columns built")
        except BaseException:
            loader.stop()  # a half-loaded cluster is not kept
            raise
        loader.stop(keep=True)
        marker.write_text(tag + "\n")
        loaded = True
    work = pg_data / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = time.perf_counter()
    # cp -a keeps the owner and modes PostgreSQL insists on (the server runs as postgres)
    subprocess.run(["cp", "-a", str(pristine), str(work / "data")], check=True)
    shutil.copystat(pg_data, work)
    if os.geteuid() == 0:
        st = pristine.stat()
        os.chown(work, st.st_uid, st.st_gid)
    took = time.perf_counter() - t
    server = start_server(work, init=False)
    print(
        f"store:    PostgreSQL on 127.0.0.1:{server.port}, a work copy ({took:,.0f} s) of the "
        f"cluster kept in {pristine}: {work / 'data'}"
    )
    return server, loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cst-bench-kpi"))
    parser.add_argument("--work", type=Path, default=None, help="the work copy (default: in cache)")
    parser.add_argument("--repeat", type=int, default=3, help="report runs per measure")
    parser.add_argument("--change", type=float, default=0.01, help="share of tickets changed")
    parser.add_argument("--no-sla", action="store_true", help="no SLA policy")
    parser.add_argument("--postgres", action="store_true", help="measure on PostgreSQL")
    parser.add_argument(
        "--pg-data",
        type=Path,
        default=None,
        help="with --postgres: keep the loaded cluster in DIR/data (made, loaded and brought up "
        "to date on the first run, then stopped) and run each later run on a copy of it",
    )
    parser.add_argument("--sla", action="store_true", help=argparse.SUPPRESS)  # the default now
    parser.add_argument("--report-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pg_data is not None and not args.postgres:
        parser.error("--pg-data keeps a PostgreSQL cluster: give --postgres too")
    if args.report_only:
        print(json.dumps(report_once(args.report_only, args.days)))
        return 0

    tag = f"{args.tickets}-{args.days}d-s{args.seed}"
    work = args.work or args.cache / f"work-{tag}.db"
    out = work.parent
    out.mkdir(parents=True, exist_ok=True)
    helpdesk, cached = prepare(args.cache, args.tickets, args.days, args.seed, out)
    sla_on = not args.no_sla
    print(f"platform: {platform.platform()}")
    print(f"machine:  {platform.machine()} / {_cpu_model()}, {os.cpu_count()} CPUs "
          f"(load average {os.getloadavg()[0]:.1f} at the start)")  # fmt: skip
    print(f"python:   {platform.python_implementation()} {platform.python_version()}, "
          f"sqlite {__import__('sqlite3').sqlite_version}, numpy "
          f"{__import__('numpy').__version__}")  # fmt: skip
    st = open_store(cached, migrate=False)
    counts = st.counts()
    st.close()
    print(f"input:    {counts['tickets']:,} tickets, {counts['events']:,} events, "
          f"{counts['people']:,} people, {args.days} days to {END.date()}, seed {args.seed}; "
          f"SQLite store {cached.stat().st_size / 1e9:,.2f} GB")  # fmt: skip
    print(f"report:   the whole {args.days} days, --compare previous, calendar support "
          f"(business hours), {'1 SLA policy' if sla_on else 'no SLA policy'}")  # fmt: skip

    server = None
    once = "once:     migrations, SLA outcomes and columns built"
    try:
        if args.postgres and args.pg_data is not None:
            server, loaded = _kept_postgres(args.pg_data, tag, helpdesk, sla_on, out)
            once = "upkeep:   the work copy (brought up to date when the kept cluster was " + (
                "loaded, above)" if loaded else "loaded: nothing left to do)"
            )
            config_path = _write_config(
                out / f"cstoolkit-{tag}-pg.toml", f'url = "{server.url}"', helpdesk, sla_on
            )
        elif args.postgres:
            sys.path.insert(0, str(ROOT))
            from tests.pgserver import start_server

            server = start_server()
            print(f"store:    PostgreSQL on 127.0.0.1:{server.port} (started for this run)")
            config_path = _write_config(
                out / f"cstoolkit-{tag}-pg.toml", f'url = "{server.url}"', helpdesk, sla_on
            )
            _sync(config_path)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{work}{suffix}").unlink(missing_ok=True)
            t = time.perf_counter()
            import sqlite3  # the cached file is only read (its WAL included)

            src = sqlite3.connect(f"file:{cached}?mode=ro", uri=True)
            dst = sqlite3.connect(work)
            src.backup(dst)
            dst.close()
            src.close()
            took = time.perf_counter() - t
            print(f"store:    SQLite, a work copy of the cached store ({took:,.0f} s): {work}")
            config_path = _write_config(
                out / f"cstoolkit-{tag}-work.toml", f'path = "{work}"', helpdesk, sla_on
            )
        upkeep(config_path, once)
        reports("first:   ", config_path, args.days, args.repeat)
        change_share(config_path, args.change, args.seed)
        upkeep(config_path, "refresh:  after the 1% sync")
        reports("second:  ", config_path, args.days, args.repeat)
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
