"""Surveys per second through SMTP to a local aiosmtpd server, one reused connection per run.

End to end: policy, ledger reserve / commit (SQLite, WAL), offer rows and SURVEY_OFFERED events,
message composition (Jinja2 templates, signed links) and SMTP delivery to 127.0.0.1. Prints the
machine, the input size and the figures; asserts nothing.

    python benchmarks/bench_survey_smtp.py [--surveys 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_desk(path: Path, n: int) -> None:
    now = datetime.now(UTC)
    langs = ("es", "en", "pt")
    lines: list[dict[str, object]] = [
        {"type": "group", "id": "general", "name": "General"},
        {"type": "person", "id": "a1", "role": "agent", "name": "Ana Agent"},
    ]
    for i in range(1, n + 1):
        solved = now - timedelta(days=2, seconds=i)
        created = solved - timedelta(hours=3)
        lines.append({"type": "person", "id": f"c{i}", "role": "requester", "name": f"Client {i}",
                      "email": f"c{i}@customer.example", "language": langs[i % 3]})  # fmt: skip
        lines.append({
            "type": "ticket", "id": str(i), "subject": f"Problem {i}", "status": "solved",
            "requester": f"c{i}", "assignee": "a1", "group": "general", "channel": "email",
            "created_at": _z(created), "updated_at": _z(solved), "solved_at": _z(solved),
            "events": [
                {"id": f"{i}-1", "kind": "created", "at": _z(created), "author": f"c{i}",
                 "role": "requester", "public": True},
                {"id": f"{i}-2", "kind": "status_change", "at": _z(solved), "author": "a1",
                 "role": "agent", "old": "open", "new": "solved"},
            ],
        })  # fmt: skip
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), "utf-8")


SERVER = r"""
import sys, time
from aiosmtpd.controller import Controller

class Counter:
    messages = 0
    bytes = 0
    sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        Counter.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        Counter.messages += 1
        Counter.bytes += len(envelope.content)
        return "250 2.0.0 queued"

c = Controller(Counter(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
c.stop()
print(Counter.messages, Counter.bytes, Counter.sessions, flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surveys", type=int, default=2000)
    args = parser.parse_args()
    from cstoolkit.config import build_instance, load_config
    from cstoolkit.host import Host
    from cstoolkit.store import open_store
    from cstoolkit.surveys.send import send_surveys
    from cstoolkit.sync import pull

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"input: {args.surveys} solved tickets, one requester each (es/en/pt), CSAT, SMTP")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The SMTP server runs in its own process, as a real one would: no GIL shared with us.
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    os.environ["CST_BENCH_SURVEY_KEY"] = "bench-signing-key-0123456789abcdef"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            write_desk(d / "helpdesk.jsonl", args.surveys)
            (d / "cstoolkit.toml").write_text(f"""
[backends.demo]
plugin = "local"
path = "helpdesk.jsonl"

[channels.mail]
plugin = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
from_addr = "surveys@support.example"

[surveys.csat]
plugin = "builtin"
kind = "csat"
channel = "mail"
signing_keys = {{ k1 = "env:CST_BENCH_SURVEY_KEY" }}
delay = "1h"
max_age = "7d"
fatigue_days = 14
""")
            config = load_config(d / "cstoolkit.toml")
            host = Host().load()
            store = open_store(config.store_path)
            pull(store, build_instance(config, host, "backends", "demo", store))
            started = time.perf_counter()
            report = send_surveys(config, host, store)
            seconds = time.perf_counter() - started
            sent = report.count("sent")
            rerun_started = time.perf_counter()
            rerun = send_surveys(config, host, store)
            rerun_seconds = time.perf_counter() - rerun_started
            store.close()
    finally:
        out, _ = server.communicate("", timeout=30)
    messages, size, sessions = (int(x) for x in out.split())
    print(f"sent: {sent} surveys in {seconds:.2f} s = {sent / seconds:.0f} surveys/s "
          f"(target >= 200/s)")  # fmt: skip
    print(f"server: {messages} messages, {size / max(1, messages):.0f} bytes each, "
          f"{sessions} SMTP session(s) (connection reuse)")  # fmt: skip
    print(f"re-run (nothing due, {rerun.count('skipped')} already surveyed): "
          f"{rerun_seconds:.2f} s, sent {rerun.count('sent')}")  # fmt: skip


if __name__ == "__main__":
    main()
