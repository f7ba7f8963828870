"""Benchmark the sync pipeline: the local backend into the store (SQLite, and PostgreSQL with
``--pg`` or ``--store-url``), through the engine, the facts refresh included.

Usage::

    python benchmarks/bench_sync_local.py                      # 200,000 generated tickets, SQLite
    python benchmarks/bench_sync_local.py --pg                 # and a throwaway local PostgreSQL
    python benchmarks/bench_sync_local.py --runs 3             # the median of three first loads
    python benchmarks/bench_sync_local.py --tickets 50000 --page-size 500
    python benchmarks/bench_sync_local.py --file helpdesk.jsonl  # an existing local helpdesk
    python benchmarks/bench_sync_local.py --store-url postgresql://cst@127.0.0.1/bench

Runs of :func:`cstoolkit.sync.pull` (the code path of ``cst sync pull``: lock, page
transactions with their cursor and facts refresh, run record) over one helpdesk file, each in a
fresh child process so that its peak RSS is its own:

* ``first``: an empty store, every ticket inserted (``--runs N``: N fresh stores, the median);
* ``again``: the same store, incremental (nothing new: the cost of a cron run with no change);
* ``full``: ``--full`` over the filled store (every ticket read, hashed and found unchanged,
  then the deletion reconciliation).

Each run prints tickets per second of wall clock and per CPU second of the syncing process, the
share of the facts refresh (``cstoolkit.store.facts.refresh``, timed around each page's one
call), and the resident memory at the start, middle and end of the pull with its peak. With
PostgreSQL the server's own CPU is not in the process's CPU seconds: the wall clock is the
figure there (on an otherwise idle machine).

``--pg`` starts PostgreSQL the way the tests do (``tests/pgserver.py``: ``initdb`` in a
temporary directory, 127.0.0.1 only, ``fsync=off``) and removes it afterwards. The helpdesk is
generated (deterministically: seed 1, 90 days ending 2026-03-01) into a temporary directory
that is deleted afterwards. Nothing is asserted: the point is the figures. On a shared machine,
compare the CPU seconds rather than the wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import cstoolkit  # noqa: F401
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"platform: {platform.platform()}\n"
        f"machine:  {platform.machine()} / {_cpu_model()}, {os.cpu_count()} CPUs "
        f"(load average {load})\n"
        f"python:   {platform.python_implementation()} {platform.python_version()}"
    )


def _rss_mb() -> float:
    """Resident memory of this process now (Linux; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def child(args: argparse.Namespace) -> int:
    """One pull, in this process; prints one JSON line of figures."""
    from cstoolkit import sync
    from cstoolkit.builtin.local import LocalBackend
    from cstoolkit.store import facts, open_store
    from cstoolkit.store.kv import MemoryKeyValue

    store = (
        open_store(args.store_url, schema=args.schema) if args.store_url else open_store(args.store)
    )
    backend = LocalBackend(
        "bench", {"path": str(args.file), "page_size": args.page_size}, MemoryKeyValue("bench")
    )
    # the facts refresh: the one call per page, timed where the store makes it
    spent = {"cpu": 0.0, "wall": 0.0}
    refresh = facts.refresh

    def timed_refresh(*a: Any, **kw: Any) -> int:
        w, c = time.perf_counter(), time.process_time()
        try:
            return refresh(*a, **kw)
        finally:
            spent["cpu"] += time.process_time() - c
            spent["wall"] += time.perf_counter() - w

    facts.refresh = timed_refresh  # type: ignore[assignment]
    rss = [_rss_mb()]

    def on_page(summary: Any, page: Any) -> None:
        rss.append(_rss_mb())

    wall, cpu = time.perf_counter(), time.process_time()
    summary = sync.pull(store, backend, full=args.full, on_page=on_page)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = store.counts()
    store.close()
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "rss": _peak_rss_mb(),
                "rss_start": rss[0],
                "rss_middle": rss[len(rss) // 2],
                "rss_end": rss[-1],
                "refresh_cpu": spent["cpu"],
                "refresh_wall": spent["wall"],
                "summary": summary.as_dict(),
                "events": counts["events"],
            }
        )
    )
    return 0


def _run(
    args: argparse.Namespace, store: Path, path: Path, full: bool, schema: str
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--file",
        str(path),
        "--store",
        str(store),
        "--page-size",
        str(args.page_size),
    ]
    cmd += ["--full"] if full else []
    cmd += ["--store-url", args.store_url, "--schema", schema] if args.store_url else []
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _show(label: str, r: dict[str, Any], runs: list[dict[str, Any]] | None = None) -> None:
    s = r["summary"]
    n = s["fetched"]
    print(
        f"{label:6}: {n:>9,} tickets read ({s['inserted']:,} new, {s['updated']:,} updated, "
        f"{s['unchanged']:,} unchanged, {s['deleted']:,} deleted) in {s['pages']:,} pages"
    )
    if runs and len(runs) > 1:
        print(
            f"        median of {len(runs)} runs; tickets/s wall: "
            + ", ".join(f"{n / x['wall']:,.0f}" for x in runs)
            + "; per CPU s: "
            + ", ".join(f"{n / x['cpu']:,.0f}" for x in runs)
        )
    if n:
        print(
            f"        {r['wall']:7.1f} s wall, {r['cpu']:7.1f} s CPU -> "
            f"{n / r['wall']:>8,.0f} tickets/s wall, {n / r['cpu']:>8,.0f} tickets/s per CPU s"
        )
        share_cpu = r["refresh_cpu"] / r["cpu"] if r["cpu"] else 0.0
        share_wall = r["refresh_wall"] / r["wall"] if r["wall"] else 0.0
        print(
            f"        facts refresh {r['refresh_wall']:.1f} s wall, {r['refresh_cpu']:.1f} s CPU "
            f"({share_wall:.0%} of the wall clock, {share_cpu:.0%} of the CPU)"
        )
    else:
        print(f"        {r['wall']:7.3f} s wall")
    print(
        f"        RSS {r['rss_start']:,.1f} MB at the start, {r['rss_middle']:,.1f} MB in the "
        f"middle, {r['rss_end']:,.1f} MB at the end; peak {r['rss']:,.1f} MB"
    )


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]


def _bench_store(args: argparse.Namespace, tmp: str, path: Path, label: str) -> None:
    print(f"store:    {label}")
    firsts: list[dict[str, Any]] = []
    for i in range(args.runs):
        store = Path(tmp) / f"store{i}.db"
        schema = f"{args.schema}_{i}"
        firsts.append(_run(args, store, path, False, schema))
        if i + 1 < args.runs:
            _drop(args, store, schema)
    first = _median(firsts)
    _show("first", first, firsts)
    size_note = "" if args.store_url else f", store {store.stat().st_size / 1e6:,.0f} MB"
    print(f"        {first['events']:,} events stored{size_note}")
    _show("again", _run(args, store, path, False, schema))
    _show("full", _run(args, store, path, True, schema))
    _drop(args, store, schema)


def _drop(args: argparse.Namespace, store: Path, schema: str) -> None:
    """Remove one run's store (a file, or a schema of the PostgreSQL database)."""
    if args.store_url:
        import psycopg

        with psycopg.connect(args.store_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(store) + suffix).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1, help="first loads to take the median of")
    parser.add_argument("--file", type=Path, default=None, help="an existing local helpdesk")
    parser.add_argument("--dir", type=Path, default=None, help="where to put temporary files")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--store-url", default=None, help="a postgresql:// URL: measure the PostgreSQL store"
    )
    parser.add_argument(
        "--pg", action="store_true", help="also measure a throwaway PostgreSQL on 127.0.0.1"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--schema", default=f"bench_{os.getpid()}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    from cstoolkit.sample import SampleSpec, generate_file

    print(_machine())
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-sync-local-") as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / "helpdesk.jsonl"
            spec = SampleSpec(
                args.tickets, args.days, args.seed, end=datetime(2026, 3, 1, tzinfo=UTC)
            )
            started = time.perf_counter()
            stats = generate_file(spec, path)
            print(
                f"input:    {stats.tickets:,} tickets, {stats.events:,} events, "
                f"{stats.people:,} people generated in {time.perf_counter() - started:,.1f} s"
            )
        size = path.stat().st_size
        print(f"file:     {path.name}, {size / 1e6:,.1f} MB; page size {args.page_size}")
        if args.store_url:
            _bench_store(args, tmp, path, f"PostgreSQL, schema {args.schema}_*")
            return 0
        if not args.no_sqlite:
            _bench_store(args, tmp, path, "SQLite")
        if args.pg or args.no_sqlite:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.pgserver import start_server

            server = start_server()
            try:
                args.store_url = server.url
                _bench_store(args, tmp, path, "PostgreSQL (local server, fsync off)")
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
