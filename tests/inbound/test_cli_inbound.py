"""The commands as a user runs them: ``cst inbound serve`` as a process, ``replies``,
``status`` and ``resolve`` through the entry point."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.config_gen import cst

from .helpers import APP_SECRET, ENV, VERIFY_TOKEN, http, post_wa, tickets, wa_body, workspace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_process_takes_a_signed_message_in(tmp_path: Path) -> None:
    config = workspace(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstoolkit", "--config", str(config), "inbound", "serve",
         "--port", str(port)],
        env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if http(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("cst inbound serve did not come up")
        assert post_wa(port, wa_body("wamid.CLI1", text="from the process"))[0] == 200
        assert post_wa(port, wa_body("wamid.CLI2"), secret="wrong")[0] == 403
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert [t["description"] for t in tickets(tmp_path).values()] == ["from the process"]
    text = (out + err).decode()
    assert "inbound.wa (whatsapp)" in text and "/inbound/wa" in text
    for secret in (APP_SECRET, VERIFY_TOKEN):
        assert secret not in text


def test_replies_status_and_resolve_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = workspace(tmp_path)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code, out, err = cst("--config", str(config), "inbound", "replies", "--json")
    assert code == 0 and out.strip() == "[]"
    code, out, err = cst("--config", str(config), "inbound", "status")
    assert code == 0 and "nothing in doubt" in err
    code, out, err = cst("--config", str(config), "inbound", "resolve", "wa", "nope", "--again")
    assert code == 3 and "no such message in doubt" in err
    code, out, err = cst("--config", str(config), "inbound", "resolve", "wa", "nope")
    assert code == 2
