"""`cst doctor` is bounded: each live check has its own short timeout and one try, the whole command
has a deadline, and a check that does not answer in time is named.

The servers are real sockets on 127.0.0.1: a closed port (connection refused) and a listening
socket that never answers. Outcomes are asserted; the wall-clock guard is generous (the machine
is shared) and only there so that a regression fails instead of hanging for minutes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

GUARD = 90.0  # seconds: far above the bounds below, far below the 658 s this used to take


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield int(s.getsockname()[1])


def config(tmp_path: Path, port: int, extra: str = "") -> Path:
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(
        '[store]\npath = "cst.db"\n\n'
        "[backends.zendesk_main]\n"
        'plugin = "zendesk"\n'
        f'base_url = "http://127.0.0.1:{port}"\n'
        'email = "ops@example.com"\n'
        'token = "env:CST_DOCTOR_TOKEN"\n\n'
        "[backends.local_desk]\n"
        'plugin = "local"\n'
        'path = "desk.jsonl"\n' + extra
    )
    (tmp_path / "desk.jsonl").write_text("")
    return cfg


def doctor(cfg: Path, *args: str) -> tuple[int, dict[str, dict[str, str]], float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "--config", str(cfg), "doctor", "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CST_DOCTOR_TOKEN": "doctor-token-value"},
        timeout=GUARD,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    rows = {row["check"]: row for row in json.loads(proc.stdout)}
    return proc.returncode, rows, elapsed


def test_a_closed_port_fails_once_without_retries(tmp_path: Path) -> None:
    code, rows, _ = doctor(config(tmp_path, closed_port()), "--timeout", "3s")
    assert code == 1
    row = rows["backends.zendesk_main"]
    assert row["status"] == "fail" and "cannot connect" in row["detail"], row
    assert "gave up after" not in row["detail"]  # one try: nothing waited before giving up
    assert "waited" not in row["detail"] or "0s waited already" in row["detail"]
    assert rows["backends.local_desk"]["status"] == "ok"  # the other checks still ran
    assert "doctor-token-value" not in json.dumps(rows)


def test_a_server_that_never_answers_is_named_when_its_check_times_out(
    tmp_path: Path, silent_port: int
) -> None:
    code, rows, _ = doctor(config(tmp_path, silent_port), "--timeout", "1s")
    assert code == 1
    row = rows["backends.zendesk_main"]
    assert row["status"] == "fail", row
    assert "timed out" in row["detail"], row
    assert rows["backends.local_desk"]["status"] == "ok"
    assert rows["config"]["status"] == "ok"


def test_the_doctor_section_sets_the_bound(tmp_path: Path, silent_port: int) -> None:
    cfg = config(tmp_path, silent_port, '\n[doctor]\ntimeout = "1s"\n')
    code, rows, _ = doctor(cfg)
    assert code == 1
    assert "timed out" in rows["backends.zendesk_main"]["detail"]


def test_the_whole_command_has_a_deadline(tmp_path: Path) -> None:
    """A check that outlives the command's max_runtime is reported as not finished."""
    from cstoolkit.config import load_config
    from cstoolkit.doctor import Bounds, Check, _bounded

    def slow() -> Check:
        time.sleep(30)
        return Check("slow", "ok", "never seen")

    def quick() -> Check:
        return Check("quick", "ok", "fine")

    started = time.monotonic()
    bounds = Bounds(timeout=20, max_runtime=0.5)
    out = _bounded([("slow", slow), ("quick", quick)], bounds, time.monotonic() + 0.5)
    assert time.monotonic() - started < GUARD
    assert [(c.name, c.status) for c in out] == [("slow", "fail"), ("quick", "ok")]
    assert "max_runtime (0.5s) spent" in out[0].detail
    out = _bounded([("slow", slow)], Bounds(timeout=0.2), time.monotonic() + 60)
    assert out[0].detail == "slow: live check timed out after 0.2 s"
    assert load_config(None).path is None


def test_doctor_options_are_checked(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "doctor", "--timeout", "soon"],
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert proc.returncode == 2 and "--timeout" in proc.stderr and "soon" in proc.stderr
