"""Start-up cost of ``cst --help`` against a bare interpreter, in paired runs.

Target (issue 18): ``cst --help`` with every first-party plugin installed under **60 ms**
median on the 2-core development machine, which is about **5x** a bare ``python -c pass``
measured in the same run. The two are run alternately (pass, help, version, pass, help, ...),
so a busy moment of a shared machine slows both alike, and the ratio of the medians is printed
beside the figures.

    python benchmarks/bench_startup.py [RUNS]      # default 40 pairs

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

TARGET_MS = 60.0
TARGET_RATIO = 5.0


def once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    cst = shutil.which("cst") or sys.exit("cst is not installed (pip install -e .)")
    plugins = sorted(ep.name for ep in entry_points(group="cstoolkit"))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"plugins installed (entry points): {len(plugins)}: {', '.join(plugins) or 'none'}")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "cst --help": [cst, "--help"],
        "cst --version": [cst, "--version"],
    }
    for argv in commands.values():  # warm the page cache
        once(argv)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(once(argv))
    floor = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name}: median {median:.1f} ms (x{median / floor:.1f} the interpreter), "
            f"min {min(values):.1f} ms, max {max(values):.1f} ms over {runs} paired runs"
        )
    help_ms = statistics.median(times["cst --help"])
    ratio = help_ms / floor
    met = help_ms < TARGET_MS and ratio <= TARGET_RATIO * 1.1
    print(
        f"target: cst --help under {TARGET_MS:.0f} ms and about {TARGET_RATIO:.0f}x python -c "
        f"pass: {help_ms:.1f} ms, x{ratio:.1f}: {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
