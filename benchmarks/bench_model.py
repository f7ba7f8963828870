"""Benchmark learned routing: training time, prediction rate, model size and the evaluation.

Usage::

    python benchmarks/bench_model.py                    # 100,000 tickets over 90 days, seed 1
    python benchmarks/bench_model.py --seed 2           # another sample (never tuned on)
    python benchmarks/bench_model.py --skip-evaluate    # only train and predict
    python benchmarks/bench_model.py --cache /fast/disk # where the generated store is kept

The realistic sample (``SampleSpec(realistic_text=True)``, the generator's seed fixed before any
tuning: 1, the default) is generated and synced into a SQLite store with the ``local`` backend,
cached under ``--cache`` between runs. Wall and CPU seconds are printed: on a shared machine
the CPU time is what the work costs (the fitting runs on one core). Then, as
``cst model evaluate`` and ``cst model train`` do: the time-ordered validation (train on the
older 80%, test on the newer 20%) of the model against the majority class and what the shipped
recipes decide (``keyword-routing.yaml`` and ``paid-plan-priority.yaml``), with the
confidence-floor table; the training on every ticket (labels from the store, fit, model file
written); the prediction rate over 10,000 tickets in one batch and one ticket at a time.
Nothing is asserted: the point is the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
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
END = datetime(2026, 3, 1, tzinfo=UTC)
CONFIG = """\
[store]
path = "{store}"

[backends.demo]
plugin = "local"
path = "{helpdesk}"
page_size = 5000
"""


def machine() -> str:
    cpus = os.cpu_count()
    try:
        load = "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        load = ""
    return f"{platform.machine()} {platform.processor() or ''} {cpus} cpus {load}, " \
           f"Python {platform.python_version()}"  # fmt: skip


def prepare(cache: Path, tickets: int, days: int, seed: int) -> Path:
    base = cache / f"t{tickets}-d{days}-s{seed}"
    config = base / "cstoolkit.toml"
    if (base / "synced").exists():
        return config
    base.mkdir(parents=True, exist_ok=True)
    spec = SampleSpec(tickets, days, seed, end=END, realistic_text=True)
    t = time.perf_counter()
    stats = generate_file(spec, base / "helpdesk.jsonl")
    print(f"generated {stats.tickets} tickets, {stats.events} events in "
          f"{time.perf_counter() - t:.0f} s")  # fmt: skip
    config.write_text(CONFIG.format(store=base / "cstoolkit.db", helpdesk=base / "helpdesk.jsonl"))
    cfg = load_config(config)
    store = open_store(cfg.store_path)
    try:
        from cstoolkit.config import build_instance

        t = time.perf_counter()
        pull(store, build_instance(cfg, Host().load(), "backends", "demo", store))
        print(f"synced in {time.perf_counter() - t:.0f} s")
    finally:
        store.close()
    (base / "synced").touch()
    return config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--classifier", default="calibrated")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/cst-bench-model"))
    ap.add_argument("--skip-evaluate", action="store_true", help="Only train and predict.")
    args = ap.parse_args()

    from cstoolkit.routing import service
    from cstoolkit.triage.engine import Planner
    from cstoolkit.triage.runner import Workspace

    print(f"machine: {machine()}")
    print(f"input: realistic sample, {args.tickets} tickets over {args.days} days, "
          f"seed {args.seed}, end {END:%Y-%m-%d}; classifier {args.classifier}")  # fmt: skip
    config_path = prepare(args.cache, args.tickets, args.days, args.seed)
    cfg = load_config(config_path)
    store = open_store(cfg.store_path)
    try:
        ws = Workspace(cfg, Host().load(), store)
        recipes = ws.load([ROOT / "recipes" / "keyword-routing.yaml",
                           ROOT / "recipes" / "paid-plan-priority.yaml"])  # fmt: skip
        planner = Planner(recipes, ws.context(recipes))
        decider = service.recipe_decider(lambda t, r: planner.plan_ticket_safely(t, r).after)

        if not args.skip_evaluate:
            evaluate(store, args.classifier, decider)
        train_and_predict(store, args.cache / "models", args.classifier)
    finally:
        store.close()


def evaluate(store: Any, classifier: str, decider: Any) -> None:
    from cstoolkit.routing import service

    t, cpu = time.perf_counter(), time.process_time()
    result = service.evaluate(store, kind=classifier, recipes=decider)
    print(f"\nevaluate (fit on 80%, baselines, figures): {time.perf_counter() - t:.1f} s wall, "
          f"{time.process_time() - cpu:.1f} s CPU")  # fmt: skip
    print(f"split: {result['split']}")
    for target, entry in result["targets"].items():
        for who in ("model", "majority", "recipes"):
            if who in entry:
                r = entry[who]
                print(f"  {target:9s} {who:9s} macro-F1 {r['macro_f1']:.3f}  "
                      f"accuracy {r['accuracy']:.3f}  n {r['n']}")  # fmt: skip
        if "gain_over_best_baseline" in entry:
            print(f"  {target:9s} macro-F1 gain over the better baseline: "
                  f"{entry['gain_over_best_baseline']:+.3f}")  # fmt: skip
    print("\nconfidence floors (group): floor coverage accuracy")
    for row in result["targets"]["group"]["model"]["floors"]:
        print(f"  {row['floor']:.2f}  {row['coverage']:.3f}  {row['accuracy']:.3f}")
    print("per class (group):")
    for c, f in result["targets"]["group"]["model"]["classes"].items():
        print(f"  {c:18s} P {f['precision']:.3f} R {f['recall']:.3f} F1 {f['f1']:.3f} "
              f"n {f['support']}")  # fmt: skip


def train_and_predict(store: Any, models: Path, classifier: str) -> None:
    from cstoolkit.routing import learn, modelfile, service
    from cstoolkit.store import routing as db

    t, cpu = time.perf_counter(), time.process_time()
    meta = service.train(store, models, kind=classifier)
    print(f"\ntrain on {meta['data']['tickets']} tickets: {time.perf_counter() - t:.1f} s wall, "
          f"{time.process_time() - cpu:.1f} s CPU (fit {meta['train_seconds']} s wall); "
          f"model file {meta['size_bytes'] / 1e6:.1f} MB")  # fmt: skip
    t = time.perf_counter()
    bundle, _ = modelfile.load(models)
    print(f"load and verify the model: {time.perf_counter() - t:.2f} s")
    sample = db.examples(store)[-10_000:]
    t, cpu = time.perf_counter(), time.process_time()
    learn.predict(bundle, sample)
    wall, used = time.perf_counter() - t, time.process_time() - cpu
    print(f"predict 10,000 tickets in one batch: {len(sample) / wall:,.0f} tickets/s wall, "
          f"{len(sample) / used:,.0f} tickets/s of CPU")  # fmt: skip
    one = sample[:500]
    t = time.perf_counter()
    for ex in one:
        learn.predict(bundle, [ex])
    print(f"predict one ticket at a time: {len(one) / (time.perf_counter() - t):,.0f} tickets/s")


if __name__ == "__main__":
    main()
