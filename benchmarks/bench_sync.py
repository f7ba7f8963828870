"""Benchmark ``cst sync pull`` from Zendesk: pipeline speed, rate-limit efficiency, memory.

A fake Zendesk (stdlib ``http.server``, in its own process on 127.0.0.1) serves cursor-based
incremental export pages of synthesized tickets shaped like Zendesk's documented example
(via, custom fields, tags, description) with the sideloads the plugin asks for (metric_sets,
users, groups, organizations), and can enforce a rate limit: more than N requests in any
60 seconds get HTTP 429 with ``Retry-After`` (and a non-JSON body). The client is the real
pipeline: ``cstoolkit.sync.pull(store, ZendeskBackend(...))`` into a SQLite store on disk.

Usage::

    python benchmarks/bench_sync.py                      # all three figures (about 4 minutes)
    python benchmarks/bench_sync.py --only speed --speed-tickets 100000
    python benchmarks/bench_sync.py --only rate --limit 20 --rate-seconds 90
    python benchmarks/bench_sync.py --only memory --memory-tickets 1000000
    python benchmarks/bench_sync.py --only speed --profile   # where the time goes

Figures printed (nothing is asserted):

(a) tickets/s into the store with no limit (target >= 20,000);
(b) with a limit of N requests/minute (a rolling 60-second window on the fake server): the
    steady request rate reached as a share of N (target >= 95%), for a client whose export
    budget matches the limit (it paces evenly) and for one that does not know the limit and
    relies on 429 + Retry-After (it bursts, so over a short run its rate per minute exceeds N;
    its time against the limiter's fastest schedule, which ignores processing time, is the
    fairer figure there);
(c) peak RSS while syncing 1,000,000 tickets, sampled along the way (target < 250 MB, flat).

Issue 17 keeps (a) as "about 2x a Singer tap" and asks to report it: the comparison with a
Singer tap is not measured by this script (see :data:`SINGER_NOTE`, printed with (a)).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import http.server
import inspect
import io
import json
import multiprocessing
import os
import platform
import pstats
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

try:
    import cstoolkit  # noqa: F401
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
try:
    import cstoolkit_zendesk  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "cstoolkit-zendesk"))

T0 = 1_600_000_000
CHANNELS = ("email", "web", "native_messaging", "voice", "api", "web_widget")
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("null", '"low"', '"normal"', '"high"', '"urgent"')
AGENTS = 50
GROUPS = 8
ORGS = 200


# -- the fake server ---------------------------------------------------------------------------


#: printed with figure (a): why no Singer tap figure stands beside it
SINGER_NOTE = (
    "Singer tap: not measured. tap-zendesk (2.8.2, on the package index) has its endpoints "
    "fixed to https://<subdomain>.zendesk.com and reads each ticket's audits with one request "
    "per ticket; running it against this script's plain-HTTP fake server on 127.0.0.1 would "
    "need changes to the tap and audit pages on the server, which this script does not have. "
    "The 'about 2x a Singer tap' of issue 17 is an earlier measurement, not repeated here."
)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ticket(i: int, pool: int) -> str:
    created = T0 + i * 30
    updated = created + 3600 + (i % 7) * 600
    req = 10_000_000 + i % pool
    org = "null" if i % 3 else str(100 + i % ORGS)
    assignee = "null" if i % 5 == 0 else str(1 + i % AGENTS)
    group = "null" if i % 5 == 0 else str(1000 + i % GROUPS)
    return (
        f'{{"id":{i},"url":"https://bench.zendesk.com/api/v2/tickets/{i}.json",'
        f'"external_id":null,"via":{{"channel":"{CHANNELS[i % 6]}","source":{{"from":{{}},'
        f'"to":{{}},"rel":null}}}},"created_at":"{_iso(created)}","updated_at":"{_iso(updated)}",'
        f'"generated_timestamp":{updated},"type":"question",'
        f'"subject":"Order {i} arrived damaged","raw_subject":"Order {i} arrived damaged",'
        f'"description":"Hello, my order {i} arrived with a broken lid. Can you send a '
        f'replacement or refund it? Thanks.","priority":{PRIORITIES[i % 5]},'
        f'"status":"{STATUSES[i % 6]}","recipient":"support@bench.example",'
        f'"requester_id":{req},"submitter_id":{req},"assignee_id":{assignee},'
        f'"organization_id":{org},"group_id":{group},"collaborator_ids":[],"follower_ids":[],'
        f'"has_incidents":false,"is_public":true,"due_at":null,'
        f'"tags":["order","t{i % 17}"],"custom_fields":[{{"id":360001,"value":"sku-{i % 997}"}},'
        f'{{"id":360002,"value":null}}],"satisfaction_rating":null,"brand_id":1,'
        f'"allow_channelback":false,"allow_attachments":true}}'
    )


def _metric(i: int) -> str:
    created = T0 + i * 30
    return (
        f'{{"id":{5_000_000 + i},"ticket_id":{i},"created_at":"{_iso(created)}",'
        f'"group_stations":1,"assignee_stations":1,"reopens":0,"replies":{i % 4},'
        f'"reply_time_in_minutes":{{"calendar":{i % 300},"business":{i % 120}}},'
        f'"first_resolution_time_in_minutes":{{"calendar":null,"business":null}},'
        f'"solved_at":null}}'
    )


def _user(uid: int) -> str:
    role = "agent" if uid <= AGENTS else "end-user"
    org = "null" if uid <= AGENTS or uid % 3 else str(100 + uid % ORGS)
    return (
        f'{{"id":{uid},"name":"User {uid}","email":"user{uid}@example.org","role":"{role}",'
        f'"locale":"en-US","time_zone":"Madrid","iana_time_zone":"Europe/Madrid",'
        f'"organization_id":{org}}}'
    )


class _Limiter:
    """At most ``per_minute`` answered requests in any 60 seconds (0: no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.served: collections.deque[float] = collections.deque()
        self.lock = threading.Lock()

    def admit(self) -> float:
        """0 if the request may proceed, else the seconds to wait (Retry-After)."""
        if not self.per_minute:
            return 0.0
        with self.lock:
            now = time.monotonic()
            while self.served and self.served[0] <= now - 60:
                self.served.popleft()
            if len(self.served) >= self.per_minute:
                return self.served[0] + 60 - now
            self.served.append(now)
            return 0.0


def _handler(total: int, limiter: _Limiter, log: Any) -> type[http.server.BaseHTTPRequestHandler]:
    pool = max(1, total // 3)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            incremental = url.path.startswith("/api/v2/incremental/")
            if incremental:
                wait = limiter.admit()
                if wait > 0:
                    log.put(("429", time.time()))
                    retry = str(max(1, int(wait + 0.999)))
                    self._send(429, b"Too Many Requests", {"Retry-After": retry})
                    return
                log.put(("200", time.time()))
            if url.path == "/api/v2/incremental/tickets/cursor.json":
                self._send(200, self._page(q))
            elif url.path == "/api/v2/incremental/ticket_events.json":
                body = {
                    "ticket_events": [],
                    "count": 0,
                    "end_of_stream": True,
                    "end_time": int(q.get("start_time", 0)),
                    "next_page": None,
                }
                self._send(200, json.dumps(body).encode())
            elif url.path == "/api/v2/users/me.json":
                self._send(200, b'{"user":{"id":1,"role":"admin"}}')
            else:
                self._send(404, b'{"error":"InvalidEndpoint"}')

        def _page(self, q: dict[str, str]) -> bytes:
            per_page = int(q.get("per_page", 1000))
            start = int(q.get("cursor", "1"))
            end = min(total + 1, start + per_page)
            ids = range(start, end)
            include = set(q.get("include", "").split(","))
            parts = ['{"tickets":[', ",".join(_ticket(i, pool) for i in ids), "]"]
            if "metric_sets" in include:
                parts += [',"metric_sets":[', ",".join(_metric(i) for i in ids), "]"]
            if "users" in include:
                users = sorted({10_000_000 + i % pool for i in ids} | {1 + i % AGENTS for i in ids})
                parts += [',"users":[', ",".join(_user(u) for u in users), "]"]
            if "groups" in include:
                groups = ",".join(f'{{"id":{1000 + g},"name":"Group {g}"}}' for g in range(GROUPS))
                parts += [',"groups":[', groups, "]"]
            if "organizations" in include:
                orgs = sorted({100 + i % ORGS for i in ids if i % 3 == 0})
                parts += [
                    ',"organizations":[',
                    ",".join(
                        f'{{"id":{o},"name":"Org {o}","organization_fields":{{"plan":"p{o % 3}"}}}}'
                        for o in orgs
                    ),
                    "]",
                ]
            after = str(end)
            parts.append(
                f',"after_cursor":"{after}","after_url":null,"before_cursor":null,'
                f'"before_url":null,"end_of_stream":{"true" if end > total else "false"}}}'
            )
            return "".join(parts).encode()

    return Handler


def _serve(total: int, per_minute: int, ready: Any, log: Any) -> None:
    limiter = _Limiter(per_minute)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(total, limiter, log))
    ready.put(httpd.server_address[1])
    httpd.serve_forever()


@contextlib.contextmanager
def fake_zendesk(total: int, per_minute: int = 0) -> Iterator[tuple[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    ready, log = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_serve, args=(total, per_minute, ready, log), daemon=True)
    proc.start()
    try:
        port = ready.get(timeout=30)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.join(5)


# -- the client --------------------------------------------------------------------------------


def _backend(base_url: str, page_size: int, export_rpm: float) -> Any:
    from cstoolkit_zendesk import ZendeskBackend

    from cstoolkit.store.kv import MemoryKeyValue

    config: dict[str, Any] = {s.name: s.default for s in ZendeskBackend.settings}
    config.update(
        base_url=base_url,
        email="bench@example.com",
        token="bench-token-value",
        page_size=page_size,
        export_requests_per_minute=export_rpm,
        requests_per_minute=1_000_000,
        budget_share=1.0,
        read_only=False,
        filters=None,
        mapping={"plan_field": "plan"},
    )
    return ZendeskBackend("bench", config, MemoryKeyValue("bench"))


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class _Timed:
    """Wraps a store to measure the time spent in its write transactions (upsert and commit);
    the store itself is not changed."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with self._store.transaction() as cur:
                yield cur
        finally:
            self.seconds += time.perf_counter() - started


class _GcTimer:
    """Seconds spent in the cyclic garbage collector (gc.callbacks)."""

    def __init__(self) -> None:
        import gc

        self.seconds = 0.0
        self._started = 0.0
        self._gc = gc

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> _GcTimer:
        self._gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._gc.callbacks.remove(self)


def run_speed(
    tickets: int, page_size: int, workdir: Path, profile: bool, experiment: str = ""
) -> dict[str, Any]:
    from cstoolkit import sync
    from cstoolkit.store import open_store

    with fake_zendesk(tickets) as (base_url, _log):
        store = open_store(workdir / f"speed{experiment}.db")
        timed = _Timed(store)
        backend = _backend(base_url, page_size, export_rpm=1_000_000)
        http_seconds = [0.0]
        decode_seconds = [0.0]
        client = backend.http
        original_request, original_decode = client.request, client.decode

        def timed_request(*args: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return original_request(*args, **kw)
            finally:
                http_seconds[0] += time.perf_counter() - started

        def timed_decode(response: Any) -> Any:
            started = time.perf_counter()
            try:
                return original_decode(response)
            finally:
                decode_seconds[0] += time.perf_counter() - started

        client.request = timed_request  # type: ignore[method-assign]
        client.decode = timed_decode  # type: ignore[method-assign]
        if "gc" in experiment:
            import gc

            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        with _GcTimer() as gc_timer:
            options: dict[str, Any] = {}
            if "prefetch_pages" in inspect.signature(sync.pull).parameters:
                options["prefetch_pages"] = "no-prefetch" not in experiment
            summary = sync.pull(timed, backend, **options)  # type: ignore[arg-type]
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        counts = store.counts()
        store.close()
    out = {
        "tickets": summary.fetched,
        "stored": counts["tickets"],
        "people": counts["people"],
        "seconds": elapsed,
        "tickets_per_s": summary.fetched / elapsed,
        "store_s": timed.seconds,
        "http_s": http_seconds[0],
        "decode_s": decode_seconds[0],
        "gc_s": gc_timer.seconds,
        "other_s": max(0.0, elapsed - timed.seconds - http_seconds[0] - decode_seconds[0]),
        "requests": summary.requests,
    }
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def run_rate(limit: int, seconds: float, page_size: int, workdir: Path, paced: bool) -> dict:
    from cstoolkit import sync
    from cstoolkit.store import open_store

    requests = max(2, int(seconds * limit / 60)) + 1  # the last one is the events request
    tickets = (requests - 1) * page_size
    with fake_zendesk(tickets, per_minute=limit) as (base_url, log):
        store = open_store(workdir / f"rate-{'paced' if paced else 'unpaced'}.db")
        budget = float(limit) if paced else float(limit * 10)
        backend = _backend(base_url, page_size, export_rpm=budget)
        if not paced:
            backend.http.max_retry_wait = 3600
        started = time.monotonic()
        summary = sync.pull(store, backend)
        elapsed = time.monotonic() - started
        store.close()
        time.sleep(0.2)
        events = []
        while not log.empty():
            events.append(log.get())
    served = sorted(t for kind, t in events if kind == "200")
    refused = sum(1 for kind, _ in events if kind == "429")
    span = served[-1] - served[0] if len(served) > 1 else float("nan")
    rate = (len(served) - 1) * 60 / span if len(served) > 1 and span > 0 else float("nan")
    # The fastest schedule the limiter allows for the same number of requests (zero
    # processing time): request j (0-based) at 60 * (j // limit) seconds.
    fastest = 60.0 * ((len(served) - 1) // limit) if served else float("nan")
    return {
        "limit": limit,
        "fastest_span_s": fastest,
        "time_share": fastest / span if len(served) > 1 and span > 0 else float("nan"),
        "served": len(served),
        "refused_429": refused,
        "span_s": span,
        "elapsed_s": elapsed,
        "rate_per_min": rate,
        "share": rate / limit,
        "fetched": summary.fetched,
        "waited_s": summary.seconds_waited_rate_limit,
        "retries": summary.retries,
    }


def run_memory(tickets: int, page_size: int, workdir: Path) -> dict[str, Any]:
    from cstoolkit import sync
    from cstoolkit.store import open_store

    samples: list[tuple[int, float]] = []
    marks = {tickets * k // 10 for k in range(1, 11)}
    with fake_zendesk(tickets) as (base_url, _log):
        store = open_store(workdir / "memory.db")
        backend = _backend(base_url, page_size, export_rpm=1_000_000)
        baseline = _rss_mb()

        def on_page(summary: Any, page: Any) -> None:
            done = summary.fetched
            if any(done >= m > done - len(page.tickets) for m in marks):
                samples.append((done, _rss_mb()))

        started = time.perf_counter()
        summary = sync.pull(store, backend, on_page=on_page)
        elapsed = time.perf_counter() - started
        store.close()
    return {
        "tickets": summary.fetched,
        "seconds": elapsed,
        "baseline_mb": baseline,
        "samples": samples,
        "peak_mb": _peak_rss_mb(),
        "db_mb": (workdir / "memory.db").stat().st_size / 1e6,
    }


# -- main --------------------------------------------------------------------------------------


def _machine() -> str:
    cpu = platform.processor() or "unknown cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"platform: {platform.platform()}\n"
        f"machine:  {platform.machine()} / {cpu}, {os.cpu_count()} CPUs\n"
        f"python:   {platform.python_implementation()} {platform.python_version()}"
    )


def _child(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter, so RSS and caches start clean."""
    import subprocess

    cmd = [sys.executable, __file__, "--child", kind, "--dir", str(workdir)]
    cmd += ["--page-size", str(args.page_size), "--limit", str(args.limit)]
    cmd += ["--rate-seconds", str(args.rate_seconds), "--speed-tickets", str(args.speed_tickets)]
    cmd += ["--memory-tickets", str(args.memory_tickets)]
    if args.profile:
        cmd.append("--profile")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("speed", "rate", "memory"))
    parser.add_argument("--speed-tickets", type=int, default=200_000)
    parser.add_argument("--memory-tickets", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=20, help="requests/minute for (b)")
    parser.add_argument("--rate-seconds", type=float, default=90.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="also time the engine without prefetch and with GC tuning (what-ifs)",
    )
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        workdir = args.dir
        if args.child.startswith("speed"):
            experiment = args.child.removeprefix("speed")
            result = run_speed(
                args.speed_tickets, args.page_size, workdir, args.profile, experiment
            )
        elif args.child == "memory":
            result = run_memory(args.memory_tickets, args.page_size, workdir)
        else:
            paced = args.child == "rate-paced"
            result = run_rate(args.limit, args.rate_seconds, args.page_size, workdir, paced)
        print(json.dumps(result))
        return 0

    print(_machine())
    print(f"page size {args.page_size} tickets; store: SQLite (WAL) in a temporary directory\n")
    with tempfile.TemporaryDirectory(prefix="cst-bench-sync-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        if args.only in (None, "speed"):
            r = _child("speed", args, workdir)
            print(f"(a) pipeline speed, no rate limit: {r['tickets']:,} tickets")
            print(
                f"    {r['tickets_per_s']:,.0f} tickets/s into the store "
                f"({r['seconds']:.1f} s, {r['requests']} requests; target >= 20,000)"
            )
            print(
                f"    busy time (these overlap if the engine reads ahead in a thread): "
                f"store transactions (upsert + commit) {r['store_s']:.1f} s, HTTP (request + "
                f"fake server) {r['http_s']:.1f} s, JSON decode {r['decode_s']:.1f} s; "
                f"cyclic GC {r['gc_s']:.1f} s"
            )
            print(f"    {SINGER_NOTE}")
            if "profile" in r:
                print(r["profile"])
            if args.experiments:
                print("    experiments (not the toolkit as shipped; for the engine's owners):")
                from cstoolkit import sync

                kinds = [("speed+gc", "GC frozen + thresholds raised during the sync")]
                if "prefetch_pages" in inspect.signature(sync.pull).parameters:
                    kinds.insert(0, ("speed+no-prefetch", "engine prefetch off"))
                for kind, label in kinds:
                    e = _child(kind, args, workdir)
                    print(
                        f"    - {label}: {e['tickets_per_s']:,.0f} tickets/s "
                        f"(store {e['store_s']:.1f} s, GC {e['gc_s']:.1f} s)"
                    )
        if args.only in (None, "rate"):
            print(f"\n(b) rate limit {args.limit} requests/minute, ~{args.rate_seconds:.0f} s:")
            for kind, label in (
                ("rate-paced", "client budget = limit"),
                ("rate-unpaced", "client unaware, 429 + Retry-After"),
            ):
                r = _child(kind, args, workdir)
                print(
                    f"    {label}: {r['served']} requests served in {r['span_s']:.1f} s "
                    f"({r['fetched']:,} tickets), {r['refused_429']} x 429, "
                    f"{r['waited_s']:.1f} s waited"
                )
                print(
                    f"      steady rate {r['rate_per_min']:.2f}/min = {r['share']:.1%} of "
                    f"{args.limit}/min; the limiter's fastest schedule for these requests "
                    f"takes {r['fastest_span_s']:.0f} s = {r['time_share']:.1%} of it"
                )
        if args.only in (None, "memory"):
            r = _child("memory", args, workdir)
            print(f"\n(c) memory while syncing {r['tickets']:,} tickets ({r['seconds']:.0f} s):")
            print(f"    RSS before the sync: {r['baseline_mb']:.0f} MB")
            line = ", ".join(f"{n // 1000:,}k: {mb:.0f} MB" for n, mb in r["samples"])
            print(f"    RSS along the way: {line}")
            print(
                f"    peak RSS {r['peak_mb']:.0f} MB (target < 250 MB); "
                f"store file {r['db_mb']:.0f} MB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
