"""Never twice, also when an operator steps in or a process dies: leases and fencing.

Real `cst survey send` processes on one store (SQLite, and a real PostgreSQL server), a real
HTTP receiver (the webhook channel) or SMTP server, a forced lock release while the first sender
lives, a sender that stalls past its lease, and `kill -9` at seeded random points.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from random import Random
from typing import Any

import pytest

from cstoolkit.model import now
from cstoolkit.store.ledger import DONE, IN_DOUBT, RESERVED, TEST_LEASE_ENV, Ledger
from cstoolkit.surveys.send import TEST_SEND_DELAY_ENV, TEST_SEND_RESUME_ENV
from tests.conftest import StoreFactory

from .helpers import CONFIG, KEY, KEY_ENV, simple_desk
from .smtpd import Handler, SMTPServer, require_aiosmtpd
from .test_smtp import SMTP

pytestmark = pytest.mark.server

WEBHOOK = """\
[channels.hook]
plugin = "webhook"
url = "http://127.0.0.1:{port}/surveys"
timeout = 20
retries = 0
"""


class Receiver:
    """An HTTP endpoint that records every POST's idempotency key; each answer waits ``delay``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.keys: list[str] = []
        self.first = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with outer._lock:
                    outer.keys.append(self.headers.get("Idempotency-Key") or "")
                outer.first.set()
                time.sleep(outer.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.keys)


class Desk:
    """A directory with a local helpdesk of ``n`` solved tickets and a config on ``stores``."""

    def __init__(self, root: Path, stores: StoreFactory, channels: str, channel: str, n: int):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        simple_desk(root / "helpdesk.jsonl", n, now())
        text = CONFIG.format(channels=channels, channel=channel, key_env=KEY_ENV, extra="")
        text = text.replace('[store]\npath = "cstoolkit.db"\n', stores.config_toml())
        self.config = root / "cstoolkit.toml"
        self.config.write_text(text, "utf-8")
        self.stores = stores
        done = self.cst("sync", "pull")
        assert done.returncode == 0, done.stderr

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, KEY_ENV: KEY, "CSTOOLKIT_CONFIG": str(self.config), **extra}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cstoolkit", *args]

    def cst(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=self.env(**env),
            cwd=self.root, timeout=120, check=False,
        )  # fmt: skip

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.env(**env), cwd=self.root,
        )  # fmt: skip

    def states(self) -> Counter[str]:
        store = self.stores()
        try:
            return Counter(e.state for e in Ledger(store, "survey").entries())
        finally:
            store.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(delay=0.0) as r:
        yield r


def _report(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, json.loads(out) if out.strip() else {}, err


@pytest.mark.slow_on_postgresql
def test_forced_release_while_the_first_sender_lives_sends_nothing_twice(
    tmp_path: Path, store_factory: StoreFactory, receiver: Receiver
) -> None:
    """The issue's case: `cst locks release --force` during a live run, then a second run."""
    n = 4
    receiver.delay = 1.0  # each send is in flight for a second
    desk = Desk(tmp_path, store_factory, WEBHOOK.format(port=receiver.port), "hook", n)
    first = desk.popen("survey", "send", "--json")
    assert receiver.first.wait(60), "the first sender never sent"
    released = desk.cst("locks", "release", "survey:send", "--force")
    assert released.returncode == 0, released.stderr
    second = desk.popen("survey", "send", "--json")
    (code_a, rep_a, err_a), (code_b, rep_b, err_b) = _report(first), _report(second)
    counts = receiver.counts()
    assert set(counts.values()) == {1}, f"a survey was sent twice: {counts}"
    assert len(counts) == n, "every survey went out once"
    assert (code_a, code_b) == (0, 0), (err_a, err_b)
    assert rep_a["sent"] + rep_b["sent"] == n
    assert rep_b["reconciled"] == 0 and not rep_b["in_doubt"], "a live run's survey is no orphan"
    assert desk.states() == Counter({DONE: n})


@pytest.mark.slow_on_postgresql
def test_a_sender_that_outlives_its_lease_is_fenced_and_sends_nothing(
    tmp_path: Path, store_factory: StoreFactory, receiver: Receiver
) -> None:
    """The first run stalls between reserve and send for longer than its lease; the second run
    takes the reservation over and sends it; the first, waking, is refused by the fencing check
    and does not send."""
    desk = Desk(tmp_path, store_factory, WEBHOOK.format(port=receiver.port), "hook", 1)
    resume = tmp_path / "resume"  # the stalled run goes on once the taker is done (or after 120 s)
    stall = {TEST_LEASE_ENV: "1", TEST_SEND_DELAY_ENV: "120", TEST_SEND_RESUME_ENV: str(resume)}
    stalled = desk.popen("survey", "send", "--json", **stall)
    deadline = time.monotonic() + 60
    while desk.states()[RESERVED] != 1:
        assert time.monotonic() < deadline and stalled.poll() is None, "no reservation"
        time.sleep(0.1)
    time.sleep(1.5)  # its lease (1 s) runs out while it stalls
    assert desk.cst("locks", "release", "survey:send", "--force").returncode == 0
    taker = desk.cst("survey", "send", "--json")
    assert taker.returncode == 0, taker.stderr
    assert json.loads(taker.stdout)["sent"] == 1
    resume.touch()
    code, report, err = _report(stalled)
    assert report["fenced"] == 1 and report["sent"] == 0, err
    assert code == 1, "a fenced item is reported: the run stalled past its lease"
    (item,) = [i for i in report["items"] if i["action"] == "fenced"]
    assert "no longer holds it" in item["reason"]
    assert list(receiver.counts().values()) == [1]
    assert desk.states() == Counter({DONE: 1})


def _kill_and_settle(tmp_path: Path, stores: StoreFactory, rng: Random, n: int) -> list[str]:
    """Kill a sender at a random moment, start a second one at once while the dead one's
    lease still runs, then a third after it ran out. Returns the in-doubt keys."""
    require_aiosmtpd()
    handler = Handler(delay=0.12)
    with SMTPServer(handler) as server:
        channels = SMTP.format(port=server.port, security="none", extra="")
        desk = Desk(tmp_path, stores, channels, "mail", n)
        lease = {TEST_LEASE_ENV: "2"}
        proc = desk.popen("survey", "send", "--json", **lease)
        server.wait_for(1, timeout=60)
        time.sleep(rng.uniform(0.0, 0.12 * (n - 2)))  # a random point of the run
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert desk.cst("locks", "release", "survey:send", "--force").returncode in (0, 3)
        soon = desk.cst("survey", "send", "--json", **lease)  # most likely within its lease
        assert soon.returncode in (0, 1), soon.stderr
        time.sleep(2.5)
        later = desk.cst("survey", "send", "--json", **lease)
        assert later.returncode in (0, 1), later.stderr
        report = json.loads(later.stdout)
    received = Counter(r for m in handler.messages for r in m.rcpt_tos)
    assert all(c == 1 for c in received.values()), f"someone got two surveys: {received}"
    in_doubt = [e["address"] for e in report["in_doubt"]]
    assert len(in_doubt) <= 1 and not set(in_doubt) & set(received) - set(in_doubt)
    assert len(set(received) | set(in_doubt)) == n, "every survey sent once or reported"
    assert desk.states() == Counter({DONE: n - len(in_doubt), IN_DOUBT: len(in_doubt)}) - Counter()
    return in_doubt


@pytest.mark.slow_on_postgresql
def test_kill_9_at_a_random_point_never_sends_twice(
    tmp_path: Path, store_factory: StoreFactory, seeded_random: Random
) -> None:
    _kill_and_settle(tmp_path, store_factory, seeded_random, 6)


@pytest.mark.slow
def test_kill_9_at_many_random_points_never_sends_twice(
    tmp_path: Path, store_factory: StoreFactory, seeded_random: Random
) -> None:
    doubts = 0
    for trial in range(8):
        if store_factory.pg is None:
            store_factory = StoreFactory("sqlite", tmp_path / f"s{trial}.db")
        else:
            store_factory.pg.schema = f"{store_factory.pg.schema[:20]}_{trial}"
        doubts += len(_kill_and_settle(tmp_path / str(trial), store_factory, seeded_random, 8))
    print(f"8 kill points: {doubts} survey(s) in doubt, none sent twice")
