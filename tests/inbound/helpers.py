"""Builders for inbound tests: a workspace with a local helpdesk, signed provider requests."""

from __future__ import annotations

import functools
import json
import socket
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cstoolkit.config import Config, load_config
from cstoolkit.host import Host
from cstoolkit.inbound_source import meta_signature, twilio_signature
from cstoolkit.store import Store, open_store

APP_SECRET = "meta-app-secret-5f1c0ffee"
VERIFY_TOKEN = "verify-token-77d1e"
AUTH_TOKEN = "twilio-auth-token-9a8b7c"
ACCOUNT = "AC" + "0" * 32
ENV = {
    "CST_TEST_APP_SECRET": APP_SECRET,
    "CST_TEST_VERIFY_TOKEN": VERIFY_TOKEN,
    "CST_TEST_AUTH_TOKEN": AUTH_TOKEN,
    "CST_TEST_WA_TOKEN": "wa-access-token-1234",
}


def workspace(root: Path, extra: str = "", *, backend: str = "local") -> Path:
    """A cstoolkit.toml with a local helpdesk, a WhatsApp and a Twilio webhook source."""
    (root / "helpdesk.jsonl").write_text("")
    (root / "cstoolkit.toml").write_text(
        f"""
[backends.desk]
plugin = "{backend}"
path = "helpdesk.jsonl"

[inbound.wa]
plugin = "whatsapp"
backend = "desk"
app_secret = "env:CST_TEST_APP_SECRET"
verify_token = "env:CST_TEST_VERIFY_TOKEN"

[inbound.tw]
plugin = "twilio"
backend = "desk"
account_sid = "{ACCOUNT}"
auth_token = "env:CST_TEST_AUTH_TOKEN"
{extra}
"""
    )
    return root / "cstoolkit.toml"


@functools.cache
def host() -> Host:
    """The plugins, loaded once per test process (nothing here changes them)."""
    return Host().load()


def load(path: Path) -> tuple[Config, Host, Store]:
    config = load_config(path, env=ENV)
    return config, host(), open_store(config.store_path)


def wa_body(
    wamid: str = "wamid.HBgM0001", sender: str = "34600111222", text: str = "hola", **kw: Any
) -> bytes:
    message: dict[str, Any] = kw.get("message") or {
        "from": sender,
        "id": wamid,
        "timestamp": str(kw.get("timestamp", int(time.time()))),
        "type": "text",
        "text": {"body": text},
    }
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550001234",
                                    "phone_number_id": "106540352242922",
                                },
                                "contacts": [{"profile": {"name": "Ana"}, "wa_id": sender}],
                                "messages": [message],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def twilio_form(sid: str = "SM" + "a" * 32, sender: str = "+34600111222", body: str = "hola",
                **extra: str) -> dict[str, list[str]]:  # fmt: skip
    form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": sender,
            "To": "+15550001234", "Body": body, "NumMedia": "0", **extra}  # fmt: skip
    return {k: [v] for k, v in form.items()}


def http(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
         ) -> tuple[int, bytes]:  # fmt: skip
    """One request over a real socket; (status, body)."""
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            f"Content-Length: {len(body)}"]  # fmt: skip
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


def post_wa(port: int, body: bytes, *, secret: str = APP_SECRET, sign: bool = True
            ) -> tuple[int, bytes]:  # fmt: skip
    headers = {"Content-Type": "application/json"}
    if sign:
        headers["X-Hub-Signature-256"] = meta_signature(secret, body)
    return http(port, "POST", "/inbound/wa", body, headers)


def post_twilio(port: int, form: dict[str, list[str]], *, url: str | None = None,
                token: str = AUTH_TOKEN, sign: bool = True) -> tuple[int, bytes]:  # fmt: skip
    body = urlencode([(k, v) for k, vs in form.items() for v in vs]).encode()
    url = url or f"http://127.0.0.1:{port}/inbound/tw"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = twilio_signature(token, url, form)
    return http(port, "POST", "/inbound/tw", body, headers)


def helpdesk(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "helpdesk.jsonl").read_text().splitlines()]


def tickets(root: Path) -> dict[str, dict[str, Any]]:
    """The latest version of each ticket in the local helpdesk file."""
    out: dict[str, dict[str, Any]] = {}
    for rec in helpdesk(root):
        if rec.get("type") == "ticket":
            out[rec["id"]] = rec
    return out


def mail(mid: str, *, sender: str = "Ana <ana@example.com>", subject: str = "Order 42",
         text: str = "Where is my order?", **headers: str) -> EmailMessage:  # fmt: skip
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = mid
    msg["Date"] = "Mon, 07 Dec 2026 09:00:00 +0000"
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(text)
    return msg
