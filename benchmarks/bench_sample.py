"""Benchmark ``cst sample generate``: throughput, output size and peak memory.

Usage::

    python benchmarks/bench_sample.py                    # 1,000,000 tickets over 90 days
    python benchmarks/bench_sample.py --tickets 100000 --days 30 --dir /fast/disk

The file is written with :func:`cstoolkit.sample.generate_file` (the code path the command
uses, including the final fsync and rename) into a temporary directory that is deleted
afterwards. Nothing is asserted: the point is the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

try:
    from cstoolkit.sample import SampleSpec, generate_file
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cstoolkit.sample import SampleSpec, generate_file


def _peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (ru_maxrss is KiB on Linux, B on macOS)."""
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
    return (
        f"platform: {platform.platform()}\n"
        f"machine:  {platform.machine()} / {_cpu_model()}, "
        f"{os.cpu_count()} CPUs\n"
        f"python:   {platform.python_implementation()} {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the temporary file")
    args = parser.parse_args(argv)

    # A fixed end keeps the output (and so its size) identical from one day to the next.
    spec = SampleSpec(args.tickets, args.days, args.seed, end=datetime(2026, 3, 1, tzinfo=UTC))
    print(_machine())
    print(f"input:    {spec.tickets:,} tickets over {spec.days} days, seed {spec.seed}")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-sample-") as tmp:
        path = Path(tmp) / "helpdesk.jsonl"
        rss_before = _peak_rss_mb()
        started = time.perf_counter()
        cpu_started = time.process_time()
        stats = generate_file(spec, path)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        size = path.stat().st_size
    print(f"output:   {stats.tickets:,} tickets, {stats.events:,} events, {stats.people:,} people")
    print(f"written:  {size / 1e6:,.1f} MB ({size / stats.tickets:,.0f} bytes/ticket)")
    print(f"time:     {elapsed:,.1f} s wall, {cpu:,.1f} s CPU")
    print(f"speed:    {stats.tickets / elapsed:,.0f} tickets/s, {size / 1e6 / elapsed:,.1f} MB/s")
    print(f"peak RSS: {_peak_rss_mb():,.1f} MB (at start: {rss_before:,.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
