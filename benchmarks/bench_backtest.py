"""Benchmark: `cst triage backtest` of a fixed 20-rule recipe over 1,000,000 stored tickets, and
the per-ticket cost of `cst triage run`.

The store is built once (``cst sample generate --tickets 1000000`` then a sync, ~15 minutes)
and cached under /tmp/cst-bench-1m; later runs reuse it. Prints machine info, input size, the
rule mix and the figures; asserts nothing.

    python benchmarks/bench_backtest.py [--tickets N] [--dir DIR] [--run-sample N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

RECIPE = """\
# The benchmark's fixed recipe: 20 rules mixing enum, text, regex, tag, requester, custom-field,
# business-hours and calendar-age conditions, nested all/any/not, stop, and one assignment
# strategy (round robin inside the group).
name: bench-20
calendar: madrid
rules:
  - name: spam quarantine
    when: {subject: {matches: "\\\\b(viagra|casino|lottery|bitcoin)\\\\b"}}
    then: [{add_tags: [spam_quarantine]}, {set: {status: on_hold}}]
    stop: true
  - name: enterprise high
    when: {all: [{requester.plan: enterprise}, {priority: {lt: high}}]}
    then: [{set: {priority: high}}, {add_tags: [priority_support]}]
  - name: paid at least normal
    when: {requester.plan: paid, priority: low}
    then: [{set: {priority: normal}}]
  - name: vip tag
    when: {tags: vip}
    then: [{add_tags: [vip_seen]}]
  - name: billing es
    when: {subject: {contains_any: [factura, reembolso, cobro]}}
    then: [{set: {group: billing}}, {add_tags: [topic_billing]}]
  - name: billing en
    when: {subject: {contains_any: [refund, invoice, charged]}}
    then: [{set: {group: billing}}, {add_tags: [topic_billing]}]
  - name: billing pt
    when: {subject: {contains_any: [fatura, cobrança]}}
    then: [{set: {group: billing}}, {add_tags: [topic_billing]}]
  - name: technical words
    when:
      any:
        - subject: {contains_any: [error, erro, crash]}
        - description: {matches: "\\\\b(500|api)\\\\b"}
    then: [{set: {group: technical}}, {add_tags: [topic_technical]}]
  - name: api product
    when: {custom.product: api}
    then: [{add_tags: [product_api]}]
  - name: mobile product
    when: {custom.product: {in: ["mobile app"]}}
    then: [{add_tags: [product_mobile]}]
  - name: live channels urgent-ish
    when: {channel: {in: [chat, phone]}, priority: {ge: high}}
    then: [{add_tags: [live_priority]}]
  - name: whatsapp
    when: {channel: whatsapp}
    then: [{add_tags: [channel_whatsapp]}]
  - name: out of hours arrival
    when: {business_hours_since_created: {lt: 0.01}, hours_since_created: {lt: 1}}
    then: [{add_tags: [arrived_out_of_hours]}]
  - name: portuguese
    when: {language: pt}
    then: [{add_tags: [lang_pt]}]
  - name: organization customers
    when: {not: {requester.organization: null}}
    then: [{add_tags: [org_customer]}]
  - name: free urgent check
    when: "requester.plan:free priority:urgent -tag:reviewed"
    then: [{add_tags: [check_urgency]}]
  - name: sla policy vip
    when: {any: [{requester.plan: enterprise}, {tags: vip}]}
    then: [{apply_sla: vip}]
  - name: round robin billing
    when: {group: {matches: "billing$"}, assignee: null}
    then: [{assign: {strategy: round_robin, group: billing}}]
  - name: note for urgent
    when: {priority: urgent}
    then: [{note: "Urgent ticket {{ ticket.id }}"}]
  - name: low priority feature
    when: {tags: feature_request, priority: low}
    then: [{add_tags: [backlog]}]
"""

CONFIG = """\
roster = "store"

[store]
path = "cstoolkit.db"

[backends.demo]
plugin = "local"
path = "helpdesk.jsonl"
page_size = 5000

[calendars.madrid]
timezone = "Europe/Madrid"
hours = { mon-fri = "09:00-18:00" }
holidays_country = "ES"

[sla.vip]
order = 1
when = "requester.plan:enterprise OR tag:vip"
calendar = "madrid"
first_reply = { urgent = "30m", high = "1h", normal = "2h", low = "4h" }
resolution = { urgent = "4h", high = "8h", normal = "24h", low = "40h" }

[sla.standard]
order = 2
calendar = "madrid"
first_reply = { urgent = "1h", high = "4h", normal = "8h", low = "16h" }
resolution = { urgent = "8h", high = "24h", normal = "40h", low = "80h" }
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs{mem}; Python {platform.python_version()} "
        f"on {platform.system()} {platform.release()}"
    )


def build(directory: Path, tickets: int) -> None:
    from cstoolkit.config import build_instance, load_config
    from cstoolkit.host import Host
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store import open_store
    from cstoolkit.sync import pull

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cstoolkit.toml").write_text(CONFIG)
    helpdesk = directory / "helpdesk.jsonl"
    marker = directory / f"built-{tickets}"
    if marker.exists():
        return
    print(f"building the store once ({tickets} tickets) in {directory} ...", flush=True)
    t = time.perf_counter()
    if not helpdesk.exists():
        generate_file(SampleSpec(tickets=tickets, seed=1), helpdesk)
    config = load_config(directory / "cstoolkit.toml")
    store = open_store(config.store_path)
    host = Host().load()
    pull(store, build_instance(config, host, "backends", "demo", store))
    store.close()
    marker.write_text("ok\n")
    print(f"built in {time.perf_counter() - t:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--run-sample",
        type=int,
        default=5000,
        help="tickets planned to measure the per-ticket cost of triage run",
    )
    args = parser.parse_args()
    directory = args.dir or Path(
        f"/tmp/cst-bench-{args.tickets // 1000}k"
        if args.tickets != 1_000_000
        else "/tmp/cst-bench-1m"
    )
    if args.tickets == 1_000_000 and (directory / "cstoolkit.db").exists():
        (directory / f"built-{args.tickets}").touch()
    build(directory, args.tickets)
    recipe_path = directory / "bench-20.yaml"
    recipe_path.write_text(RECIPE)

    from cstoolkit.config import load_config
    from cstoolkit.host import Host
    from cstoolkit.store import open_store
    from cstoolkit.triage import backtest, engine
    from cstoolkit.triage.recipe import load_recipe
    from cstoolkit.triage.runner import Workspace

    config = load_config(directory / "cstoolkit.toml")
    store = open_store(config.store_path)
    ws = Workspace(config, Host().load(), store)
    counts = store.counts()
    span = store.conn.execute("SELECT MIN(created_at), MAX(created_at) FROM tickets").fetchone()
    days = (span[1] - span[0]) / 86400 + 1
    print(f"machine: {machine()}")
    print(
        f"input: {counts['tickets']:,} tickets, {counts['events']:,} events, "
        f"{counts['people']:,} people in {config.store_path} "
        f"({os.path.getsize(config.store_path) / 1e9:.1f} GB), {days:.0f} days of arrivals; "
        f"roster: {len(ws.roster.agents) if ws.roster else 0} agents (from the store)"
    )
    recipe = load_recipe(recipe_path, ws.env())
    mix: Counter[str] = Counter()
    for rule in recipe.rules:
        for f in sorted(rule.fields):
            kind = (
                "business-hours"
                if f.startswith("business_")
                else ("age" if f.startswith("hours_since") else f.split(".")[0])
            )
            mix[kind] += 1
        for call in rule.then:
            mix[f"action:{call.name}"] += 1
    print(
        f"recipe: {len(recipe.rules)} rules; conditions by field: "
        + ", ".join(f"{k} {v}" for k, v in sorted(mix.items()) if not k.startswith("action:"))
    )
    print(
        "        actions: "
        + ", ".join(f"{k[7:]} {v}" for k, v in sorted(mix.items()) if k.startswith("action:"))
    )

    since = f"{int(days) + 2}d"
    for attempt in ("first (cold caches)", "second"):
        load_before = os.getloadavg()[0]
        t, cpu = time.perf_counter(), time.process_time()
        result = backtest.run(ws, str(recipe_path), since=since)
        wall = time.perf_counter() - t
        cpu = time.process_time() - cpu
        print(
            f"\nbacktest ({attempt}): {result.tickets:,} tickets in {wall:.2f}s "
            f"({wall / max(result.tickets, 1) * 1e6:.1f} µs/ticket); target < 10 s: "
            f"{'met' if wall < 10 else f'missed by {wall - 10:.1f}s'}"
        )
        print("  phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
        print(
            f"  CPU time of this process: {cpu:.2f}s; load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after (other work on this {os.cpu_count()}-CPU machine "
            "slows the wall time)"
        )
    print("  matches per rule: " + ", ".join(f"{k} {v:,}" for k, v in result.rule_matches.items()))
    print(
        f"  changed tickets: {result.changed_tickets:,}; fields: {result.field_changes}; "
        f"counted: {result.counted}"
    )
    assigned = sum(r["assigned"] for r in result.by_agent)
    print(
        f"  assignments: {assigned:,} to {len(result.by_agent)} agents; nobody available "
        f"{result.not_assigned:,}; per tier {result.by_tier}"
    )
    top = result.by_agent[:3]
    print(
        "  busiest agents: "
        + "; ".join(
            f"{r['agent']} {r['assigned']} over {r['shifts']} shifts (avg {r['per_shift_avg']}, "
            f"max {r['per_shift_max']})"
            for r in top
        )
    )
    for metric, entry in (result.sla.get("metrics") or {}).items():
        a, b = entry["as_stored"], entry["with_recipe"]
        print(
            f"  SLA {metric}: breached {a['breach_rate']:.1%} as stored, "
            f"{b['breach_rate']:.1%} with the recipe ({a['clocks']} clocks, sample "
            f"{result.sla['sample']})"
        )

    # per-ticket cost of `triage run` (planning, the part that scales with tickets)
    recipes = ws.load([recipe_path])
    ctx = ws.context(recipes)
    planner = engine.Planner(recipes, ctx)
    items = []
    for pair in store.select(None, limit=args.run_sample):
        items.append(pair)
    t, cpu = time.perf_counter(), time.process_time()
    plan = planner.plan(items)
    spent = time.perf_counter() - t
    cpu = time.process_time() - cpu
    print(
        f"\ntriage run planning: {len(items):,} tickets in {spent:.2f}s = "
        f"{spent / max(len(items), 1) * 1e6:.0f} µs/ticket wall, "
        f"{cpu / max(len(items), 1) * 1e6:.0f} µs CPU "
        f"({plan.summary()['matched']:,} matched, {plan.summary()['changing']:,} would change)"
    )
    t = time.perf_counter()
    sel = 0
    for _pair in ws.select(recipes, None, ctx.now):
        sel += 1
        if sel >= args.run_sample:
            break
    spent_sel = time.perf_counter() - t
    print(
        f"triage run selection from the store: {spent_sel / max(sel, 1) * 1e6:.0f} µs/ticket "
        f"({sel:,} tickets)"
    )
    store.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
