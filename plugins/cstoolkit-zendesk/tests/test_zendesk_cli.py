"""End to end: `cst sync pull` against a local server on 127.0.0.1 (a subprocess, real HTTP)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

SECRET = "zd-e2e-secret-token-42"


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 401
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        body = json.dumps({"error": "Couldn't authenticate you"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_invalid_token_exits_2_without_printing_it(server: int, tmp_path: Path) -> None:
    if not any(ep.name == "zendesk" for ep in metadata.entry_points(group="cstoolkit")):
        pytest.skip(
            "cstoolkit-zendesk is not installed; "
            "to enable: pip install -e plugins/cstoolkit-zendesk"
        )
    config = tmp_path / "cstoolkit.toml"
    config.write_text(
        f'[store]\npath = "store.db"\n\n[backends.zd]\nplugin = "zendesk"\n'
        f'base_url = "http://127.0.0.1:{server}"\nemail = "agent@example.com"\n'
        f'token = "env:ZD_E2E_TOKEN"\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "ZD_E2E_TOKEN": SECRET,
        "HOME": str(tmp_path),
        "CSTOOLKIT_KEYS_FILE": str(tmp_path / "keys.json"),
    }
    command = [sys.executable, "-m", "cstoolkit", "--config", str(config)]
    done = subprocess.run(
        [*command, "sync", "pull", "zd", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    assert SECRET not in output
    assert "401" in output and "email and token" in output
    # the request did reach our server with Basic {email}/token:{token}
    assert _Handler.seen and _Handler.seen[0][0].startswith("/api/v2/incremental/tickets/cursor")
    assert _Handler.seen[0][1].startswith("Basic ")
