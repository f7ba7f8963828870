"""A real browser answers a survey: headless Chromium driven over the DevTools protocol."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.model import now
from cstoolkit.store import surveys as db
from cstoolkit.surveys.links import Signer, survey_url
from cstoolkit.surveys.send import send_surveys
from cstoolkit.surveys.server import make_server
from tests import chromium
from tests.conftest import skip_or_fail

from .helpers import KEY, make_workspace, simple_desk

pytestmark = pytest.mark.server


class CDP:
    """The few DevTools protocol calls this test needs, over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=20)
        self._id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))

    def wait_event(self, name: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == name:
                return dict(msg.get("params", {}))
        raise TimeoutError(name)

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def click_and_wait(self, expression: str) -> None:
        self.call("Runtime.evaluate", expression=expression)
        self.wait_event("Page.loadEventFired")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[CDP]:
    try:
        import websocket
    except ImportError:
        websocket = None
    program = chromium.require()
    if websocket is None:
        skip_or_fail("websocket-client is not installed", "pip install -e '.[test]'")
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            program,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",  # newer Chromium refuses DevTools clients otherwise
            "--window-size=390,844",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as resp:
            pages = [t for t in json.loads(resp.read()) if t.get("type") == "page"]
        cdp = CDP(pages[0]["webSocketDebuggerUrl"])
        cdp.call("Page.enable")
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            width=390,
            height=844,
            deviceScaleFactor=2,
            mobile=True,
        )
        yield cdp
        cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_person_answers_in_a_real_browser(tmp_path: Path, browser: CDP) -> None:
    simple_desk(tmp_path / "helpdesk.jsonl", 2, now())
    ws = make_workspace(tmp_path)
    config, host, store = ws.load()
    send_surveys(config, host, store)
    server = make_server(config, host, ws.store_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    signer = Signer({"k1": KEY})
    offer = db.get_offer(store, "csat/demo:2")  # a Portuguese-speaking requester
    assert offer is not None and offer.language == "pt"
    token = signer.sign(offer.key, offer.expires_at)
    try:
        # The link from the email preselects 4; nothing is recorded by opening it.
        browser.navigate(survey_url(base, token, 4))
        assert browser.js("document.querySelector('h1').textContent") == "Sua opinião"
        assert browser.js("document.querySelector('input[name=score]:checked').value") == "4"
        assert browser.js("document.documentElement.lang") == "pt"
        # Usable on a phone: no horizontal scrolling at 390 CSS pixels.
        assert browser.js("document.documentElement.scrollWidth") <= 390
        shot = browser.call("Page.captureScreenshot", format="png")
        (tmp_path / "form.png").write_bytes(__import__("base64").b64decode(shot["data"]))
        assert not db.answers(store)
        # The person changes their mind, writes a comment and presses the button.
        browser.click_and_wait(
            "document.querySelector('input[name=score][value=\"5\"]').click();"
            "document.querySelector('#comment').value = 'Rápido e gentil';"
            "document.querySelector('button[type=submit]').click();"
        )
        assert browser.js("document.querySelector('h1').textContent") == "Obrigado!"
        shot = browser.call("Page.captureScreenshot", format="png")
        (tmp_path / "thanks.png").write_bytes(__import__("base64").b64decode(shot["data"]))
        (answer,) = db.answers(store)
        assert (answer.score, answer.comment, answer.source) == (5, "Rápido e gentil", "web")
        # Reopening the link (and even resubmitting) does not add a second answer.
        browser.navigate(survey_url(base, token))
        assert "Já temos a sua resposta (5)" in browser.js("document.body.innerText")
        assert browser.js("document.querySelector('form')") is None
        browser.js(
            f"fetch('{base}/s/{token}', {{method: 'POST', body: 'score=1',"
            "headers: {'Content-Type': 'application/x-www-form-urlencoded'}}).then(r => r.status)"
        )
        time.sleep(0.3)
        assert [a.score for a in db.answers(store)] == [5]
        # A tampered link and an expired link get clear error pages.
        kid, payload, mac = token.split(".")
        browser.navigate(f"{base}/s/{kid}.{payload}.{mac[::-1]}")
        assert browser.js("document.querySelector('h1').textContent") == "This link is not valid"
        expired = signer.sign(offer.key, now() - timedelta(minutes=1))
        browser.navigate(survey_url(base, expired, 3))
        assert browser.js("document.querySelector('h1').textContent") == "Este link expirou"
        assert [a.score for a in db.answers(store)] == [5]
    finally:
        server.shutdown()
        server.server_close()
        store.close()
