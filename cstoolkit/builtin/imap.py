"""The built-in ``imap`` inbound source: a mailbox read by ``cst inbound poll``.

Each poll logs in (TLS by default; STARTTLS; plain IMAP only to a loopback address), selects
the mailbox and reads the messages that carry neither of cst's keywords, oldest first, at most
``batch`` of them:

* a message the engine took is marked ``\\Seen`` and ``CstImported`` (never deleted or moved);
* a message that cannot be parsed (no sender address, broken MIME, an unknown charset, over
  ``max_message_bytes``) is flagged ``\\Flagged`` and ``CstUnparsed``, left where it is and
  reported; remove the keyword after fixing it and the next poll tries again.

Parsing is :mod:`cstoolkit.builtin.mail`'s, shared with the ``maildir`` source. Attachments
are never copied: each is listed with its type and size and linked by an IMAP URL (RFC 5092:
``imap://user@host:port/INBOX;UIDVALIDITY=v/;UID=u/;SECTION=2``) to the part in the mailbox;
one over ``max_attachment_bytes`` is listed without a link. The idempotence key is the
message's ``Message-ID`` (a digest of the raw message when it has none).
"""

from __future__ import annotations

import imaplib
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote

from cstoolkit.builtin.mail import MAIL_SETTINGS, Unparsable, parse_mail
from cstoolkit.errors import BackendError, ConfigError
from cstoolkit.hookspecs import hookimpl
from cstoolkit.inbound_source import POLL, InboundMessage, InboundSource, Polled
from cstoolkit.plugin import Setting

IMPORTED = "CstImported"
UNPARSED = "CstUnparsed"


class ImapSource(InboundSource):
    name: ClassVar[str] = "imap"
    description: ClassVar[str] = "An IMAP mailbox, polled; nothing is ever deleted."
    mode: ClassVar[str] = POLL
    channel: ClassVar[str] = "email"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("host", required=True, help="The IMAP server."),
        Setting("port", "int", help="Port (default 993 with tls, else 143)."),
        Setting(
            "security",
            default="tls",
            choices=("tls", "starttls", "none"),
            help="tls, starttls, or none (only to a loopback address).",
        ),
        Setting("username", required=True, help="The mailbox's login."),
        Setting("password", required=True, secret=True, help="Its password (env:, key:)."),
        Setting("mailbox", default="INBOX", help="The folder to read."),
        *MAIL_SETTINGS,
        Setting("timeout", "float", default=30.0, help="Seconds per network operation."),
    )

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        if self.config.get("security", "tls") == "none" and not _loopback(str(config["host"])):
            raise ConfigError(
                'security = "none" sends the password in clear: only allowed to a loopback '
                "address (use tls or starttls)",
                field=f"inbound.{instance}.security",
            )

    @property
    def port(self) -> int:
        port = self.config.get("port")
        return int(port) if port else (993 if self.config.get("security") == "tls" else 143)

    def _connect(self) -> imaplib.IMAP4:
        host, timeout = str(self.config["host"]), float(self.config.get("timeout") or 30.0)
        security = self.config.get("security") or "tls"
        try:
            conn: imaplib.IMAP4
            if security == "tls":
                ctx = ssl.create_default_context()
                conn = imaplib.IMAP4_SSL(host, self.port, ssl_context=ctx, timeout=timeout)
            else:
                conn = imaplib.IMAP4(host, self.port, timeout=timeout)
                if security == "starttls":
                    conn.starttls(ssl.create_default_context())
            conn.login(str(self.config["username"]), str(self.config["password"]))
        except imaplib.IMAP4.error as exc:
            raise BackendError(f"inbound.{self.instance}: {host}: login refused: {exc}") from None
        except (OSError, ssl.SSLError) as exc:
            raise BackendError(f"inbound.{self.instance}: {host}:{self.port}: {exc}") from None
        return conn

    def poll(self) -> Iterator[Polled]:
        conn = self._connect()
        try:
            mailbox = str(self.config.get("mailbox") or "INBOX")
            typ, _ = conn.select(_quoted(mailbox))
            if typ != "OK":
                raise BackendError(f"inbound.{self.instance}: cannot open mailbox {mailbox!r}")
            validity = (conn.response("UIDVALIDITY")[1] or [b"0"])[0]
            uidvalidity = validity.decode() if isinstance(validity, bytes) else "0"
            typ, data = conn.uid("SEARCH", f"UNKEYWORD {IMPORTED} UNKEYWORD {UNPARSED}")
            uids = (data[0] or b"").split() if typ == "OK" and data else []
            for raw_uid in uids[: int(self.config.get("batch") or 100)]:
                uid = raw_uid.decode()
                yield self._item(conn, mailbox, uidvalidity, uid)
        finally:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def _item(self, conn: imaplib.IMAP4, mailbox: str, validity: str, uid: str) -> Polled:
        ref = f"{mailbox};UIDVALIDITY={validity};UID={uid}"

        def mark(flags: str) -> None:
            conn.uid("STORE", uid, "+FLAGS", f"({flags})")

        item = Polled(ref, None, done=lambda: mark(f"\\Seen {IMPORTED}"),
                      unparsable=lambda why: mark(f"\\Flagged {UNPARSED}"))  # fmt: skip
        limit = int(self.config.get("max_message_bytes") or 0)
        typ, data = conn.uid("FETCH", uid, "(RFC822.SIZE)")
        size = _size(data) if typ == "OK" else None
        if size is None:
            item.problem = "the server gave no size for it"
            return item
        if limit and size > limit:
            item.problem = f"{size} bytes, over max_message_bytes ({limit})"
            return item
        typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = _body(data) if typ == "OK" else None
        if raw is None:
            item.problem = "the server did not return its content"
            return item
        try:
            item.message = self.parse_mail(raw, self._url(mailbox, validity, uid))
        except Unparsable as exc:
            item.problem = str(exc)
        return item

    def _url(self, mailbox: str, validity: str, uid: str) -> str:
        user = quote(str(self.config["username"]), safe="")
        host = str(self.config["host"])
        return (f"imap://{user}@{host}:{self.port}/{quote(mailbox)};UIDVALIDITY={validity}"
                f"/;UID={uid}")  # fmt: skip

    def parse_mail(self, raw: bytes, url: str) -> InboundMessage:
        """One raw message -> an InboundMessage (:func:`cstoolkit.builtin.mail.parse_mail`);
        :class:`~cstoolkit.builtin.mail.Unparsable` when it cannot be read."""
        return parse_mail(
            raw,
            lambda section: f"{url}/;SECTION={section}",
            max_attachment_bytes=int(self.config.get("max_attachment_bytes") or 0),
        )


def _size(data: Any) -> int | None:
    for item in data or []:
        text = item.decode() if isinstance(item, bytes) else str(item)
        m = re.search(r"RFC822\.SIZE (\d+)", text)
        if m:
            return int(m.group(1))
    return None


def _body(data: Any) -> bytes | None:
    for item in data or []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except OSError:
            return False


@hookimpl
def register_inbound_sources(register: Any) -> None:
    register(ImapSource)
