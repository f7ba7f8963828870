"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests and the benchmark."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.conftest import skip_or_fail


def have_aiosmtpd() -> bool:
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        return False
    return True


def require_aiosmtpd() -> None:
    if not have_aiosmtpd():
        skip_or_fail("aiosmtpd is not installed", "pip install -e '.[test]'")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=email_policy.default)  # type: ignore[return-value]


@dataclass
class Handler:
    refuse: set[str] = field(default_factory=set)
    delay: float = 0.0
    messages: list[Received] = field(default_factory=list)
    ehlo_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.ehlo_count += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 2.0.0 queued"


class SMTPServer:
    """aiosmtpd on 127.0.0.1, on a socket bound before the server starts.

    Binding first (port 0: the kernel picks a free port) and handing the socket to asyncio leaves
    no moment in which another process, such as a parallel test worker, could take the port.
    """

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        from aiosmtpd.controller import Controller

        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen()

        class BoundController(Controller):
            def _create_server(self) -> Any:
                return self.loop.create_server(
                    self._factory_invoker, sock=listening, ssl=self.ssl_context
                )

        self.handler = handler
        self.port = int(listening.getsockname()[1])
        # A generous start-up wait: the machine may be busy with other tests.
        kwargs.setdefault("ready_timeout", 30.0)
        self.controller = BoundController(handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.handler.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)


def authenticator(user: str, password: str) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == user and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return check


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made with the openssl command (skips when absent)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.CalledProcessError):
        skip_or_fail("openssl cannot make a test certificate here", "apt-get install openssl")
    return cert, key
