"""Benchmark the sync pipeline: the local backend into the store (SQLite, or PostgreSQL with
``--store-url``), through the engine.

Usage::

    python benchmarks/bench_sync_local.py                      # 200,000 generated tickets
    python benchmarks/bench_sync_local.py --tickets 50000 --page-size 500
    python benchmarks/bench_sync_local.py --file helpdesk.jsonl  # an existing local helpdesk
    python benchmarks/bench_sync_local.py --store-url postgresql://cst@127.0.0.1/bench

Three runs of :func:`cstoolkit.sync.pull` (the code path of ``cst sync pull``: lock, page
transactions with their cursor, run record) over one helpdesk file, each in a fresh child
process so that its peak RSS is its own:

* ``first``: an empty store, every ticket inserted;
* ``again``: the same store, incremental (nothing new: the cost of a cron run with no change);
* ``full``: ``--full`` over the filled store (every ticket read, hashed and found unchanged,
  then the deletion reconciliation).

The helpdesk is generated (deterministically) into a temporary directory that is deleted
afterwards. Nothing is asserted: the point is the figures. On a shared machine, compare the
CPU seconds rather than the wall clock.
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


def child(args: argparse.Namespace) -> int:
    """One pull, in this process; prints one JSON line of figures."""
    from cstoolkit import sync
    from cstoolkit.builtin.local import LocalBackend
    from cstoolkit.store import open_store
    from cstoolkit.store.kv import MemoryKeyValue

    store = (
        open_store(args.store_url, schema=args.schema) if args.store_url else open_store(args.store)
    )
    backend = LocalBackend(
        "bench", {"path": str(args.file), "page_size": args.page_size}, MemoryKeyValue("bench")
    )
    wall, cpu = time.perf_counter(), time.process_time()
    summary = sync.pull(store, backend, full=args.full)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = store.counts()
    store.close()
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "rss": _peak_rss_mb(),
                "summary": summary.as_dict(),
                "events": counts["events"],
            }
        )
    )
    return 0


def _run(args: argparse.Namespace, store: Path, path: Path, full: bool) -> dict[str, Any]:
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
    cmd += ["--store-url", args.store_url, "--schema", args.schema] if args.store_url else []
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _show(label: str, r: dict[str, Any]) -> None:
    s = r["summary"]
    n = s["fetched"]
    print(
        f"{label:6}: {n:>9,} tickets read ({s['inserted']:,} new, {s['updated']:,} updated, "
        f"{s['unchanged']:,} unchanged, {s['deleted']:,} deleted) in {s['pages']:,} pages"
    )
    if n:
        print(
            f"        {r['wall']:7.1f} s wall, {r['cpu']:7.1f} s CPU -> "
            f"{n / r['wall']:>8,.0f} tickets/s wall, {n / r['cpu']:>8,.0f} tickets/s per CPU s"
        )
    else:
        print(f"        {r['wall']:7.3f} s wall")
    print(f"        peak RSS {r['rss']:,.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--file", type=Path, default=None, help="an existing local helpdesk")
    parser.add_argument("--dir", type=Path, default=None, help="where to put temporary files")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--store-url", default=None, help="a postgresql:// URL: measure the PostgreSQL store"
    )
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
        store = Path(tmp) / "store.db"
        print(f"store:    {'PostgreSQL, schema ' + args.schema if args.store_url else 'SQLite'}")
        first = _run(args, store, path, full=False)
        _show("first", first)
        size_note = "" if args.store_url else f", store {store.stat().st_size / 1e6:,.0f} MB"
        print(f"        {first['events']:,} events stored{size_note}")
        _show("again", _run(args, store, path, full=False))
        _show("full", _run(args, store, path, full=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
