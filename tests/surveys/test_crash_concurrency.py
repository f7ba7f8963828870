"""Never twice, never silently lost: kill -9 in the middle of a run, and concurrent senders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cstoolkit.hookspecs import hookimpl
from cstoolkit.messages import DeliveryResult, Message
from cstoolkit.model import now
from cstoolkit.plugin import Channel
from cstoolkit.store import open_store
from cstoolkit.store.ledger import DONE, IN_DOUBT, TEST_LEASE_ENV, Ledger
from cstoolkit.surveys.send import send_surveys

from .helpers import make_workspace, simple_desk
from .smtpd import Handler, SMTPServer, require_aiosmtpd
from .test_smtp import SMTP

pytestmark = pytest.mark.server

N = 24


def _eligible(ws: Any) -> set[str]:
    config, host, store = ws.load()
    try:
        dry = send_surveys(config, host, store, dry_run=True)
    finally:
        store.close()
    return {i.address for i in dry.items if i.action == "would_send"}  # type: ignore[misc]


def test_kill_9_mid_run_then_rerun_sends_each_survey_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_aiosmtpd()
    monkeypatch.setenv(TEST_LEASE_ENV, "1")  # the dead run's reservation is reconciled after it
    simple_desk(tmp_path / "helpdesk.jsonl", N, now())
    handler = Handler(delay=0.15)  # a slow server: the run is still going when we kill it
    with SMTPServer(handler) as server:
        ws = make_workspace(
            tmp_path,
            channels=SMTP.format(port=server.port, security="none", extra=""),
            channel="mail",
        )
        eligible = _eligible(ws)
        assert len(eligible) == N
        proc = subprocess.Popen(
            [sys.executable, "-m", "cstoolkit", "survey", "send", "--json"],
            env=ws.env(),
            cwd=ws.dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        server.wait_for(6, timeout=30)
        time.sleep(0.05)  # most likely inside the next DATA exchange
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        first_batch = len(handler.messages)
        assert 6 <= first_batch < N, "the kill must land in the middle of the run"
        time.sleep(1.5)  # the DATA in flight (if any) finishes and the dead run's lease ends
        handler.delay = 0.0
        before = len(handler.messages)
        rerun = ws.cst("survey", "send", "--json", timeout=120)
        report = json.loads(rerun.stdout)
        after = len(handler.messages)
        again = ws.cst("survey", "send", "--json", timeout=120)
    received = Counter(r for m in handler.messages for r in m.rcpt_tos)
    assert all(n == 1 for n in received.values()), f"someone got two surveys: {received}"
    in_doubt = report["in_doubt"]
    assert len(in_doubt) <= 1, in_doubt
    missing = eligible - set(received)
    assert len(missing) <= 1
    if missing:  # the in-flight one never arrived: it is reported, not silently lost
        assert [e["address"] for e in in_doubt] == sorted(missing)
    # Everyone else has exactly one survey.
    assert set(received) | {e["address"] for e in in_doubt} == eligible
    assert rerun.returncode == (1 if in_doubt else 0), rerun.stderr
    print(f"killed after {first_batch} messages; in doubt after re-run: {in_doubt}")
    assert report["sent"] == after - before
    # A third run sends nothing and still reports the in-doubt entry.
    third = json.loads(again.stdout)
    assert third["sent"] == 0 and len(third["in_doubt"]) == len(in_doubt)
    assert again.returncode == 0
    store = open_store(ws.store_path)
    states = Counter(e.state for e in Ledger(store, "survey").entries())
    store.close()
    assert states[DONE] == N - len(in_doubt) and states[IN_DOUBT] == len(in_doubt)


def test_two_concurrent_cli_senders_never_duplicate(tmp_path: Path) -> None:
    require_aiosmtpd()
    simple_desk(tmp_path / "helpdesk.jsonl", N, now())
    handler = Handler(delay=0.02)
    with SMTPServer(handler) as server:
        ws = make_workspace(
            tmp_path,
            channels=SMTP.format(port=server.port, security="none", extra=""),
            channel="mail",
        )
        cmd = [sys.executable, "-m", "cstoolkit", "survey", "send", "--json"]
        procs = [
            subprocess.Popen(
                cmd,
                env=ws.env(),
                cwd=ws.dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        codes = sorted(p.returncode for p in procs)
        if codes == [0, 4]:
            # The loser was refused by the lock; run it again now that the other is done.
            assert any("another run holds the lock" in err for _, err in outs)
            assert ws.cst("survey", "send", "--json").returncode == 0
        else:
            assert codes == [0, 0], outs
    received = Counter(r for m in handler.messages for r in m.rcpt_tos)
    assert len(received) == N and set(received.values()) == {1}


class SlowChannel(Channel):
    """Records every delivery; slow enough for two threads to overlap."""

    name: ClassVar[str] = "slow"
    address_kind: ClassVar[str] = "email"
    delivered: ClassVar[list[str]] = []
    lock = threading.Lock()

    def send(self, message: Message) -> DeliveryResult:
        time.sleep(0.005)
        with SlowChannel.lock:
            SlowChannel.delivered.append(message.idempotency_key)
        return DeliveryResult.sent()


class SlowPlugin:
    @hookimpl
    def register_channels(self, register: Any) -> None:
        register(SlowChannel)


def test_the_ledger_alone_stops_duplicates_between_racing_runs(tmp_path: Path) -> None:
    """Without the run lock (as with an expired lease), the ledger's primary key still decides."""
    SlowChannel.delivered = []
    simple_desk(tmp_path / "helpdesk.jsonl", N, now())
    ws = make_workspace(tmp_path, channels='[channels.slow]\nplugin = "slow"\n', channel="slow")
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        config, host, store = ws.load()
        host.register_plugin(SlowPlugin(), "slow")
        try:
            reports.append(send_surveys(config, host, store, use_lock=False))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    counts = Counter(SlowChannel.delivered)
    assert len(counts) == N and set(counts.values()) == {1}
    assert sum(r.count("sent") for r in reports) == N
