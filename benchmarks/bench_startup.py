"""Median wall time of ``cst --help`` and ``cst --version`` (target: under 100 ms).

Run with every first-party plugin installed; prints the machine, the plugins seen and the
figures. No assertions: this prints, a person reads.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from importlib.metadata import entry_points


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    cst = shutil.which("cst") or sys.exit("cst is not installed (pip install -e .)")
    plugins = sorted(ep.name for ep in entry_points(group="cstoolkit"))
    cores = os.cpu_count()
    print(f"machine: {platform.platform()}, {cores} cores, Python {platform.python_version()}")
    print(f"plugins installed (entry points): {len(plugins)}: {', '.join(plugins) or 'none'}")
    measure([cst, "--version"], 3)  # warm the page cache
    for args in (["--help"], ["--version"]):
        times = measure([cst, *args], runs)
        print(
            f"cst {' '.join(args)}: median {statistics.median(times):.1f} ms, "
            f"min {min(times):.1f} ms, max {max(times):.1f} ms over {runs} runs"
        )
    baseline = measure([sys.executable, "-c", "pass"], runs)
    print(f"python -c pass (interpreter floor): median {statistics.median(baseline):.1f} ms")


if __name__ == "__main__":
    main()
