"""Built-in channels: ``console``, ``outbox`` (files), ``smtp`` and ``webhook``.

Capabilities and idempotency (see docs/channels.md); ``webhook`` sends through the one HTTP
layer (:mod:`cstoolkit.http_channel`):

=========  ===========  =====================================================================
channel    idempotent   how a crash between send and commit is settled
=========  ===========  =====================================================================
console    no           in_doubt
outbox     yes          lookup: the file is named after the idempotency key
smtp       no           in_doubt (messages carry a Message-ID derived from the key, so the
                        receiving side can deduplicate)
webhook    yes          resent with the same ``Idempotency-Key`` header
=========  ===========  =====================================================================
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import smtplib
import socket
import ssl
import sys
import tempfile
import time
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar

from cstoolkit.hookspecs import hookimpl
from cstoolkit.http_channel import HttpChannel, http_channel_settings
from cstoolkit.messages import DeliveryResult, Message
from cstoolkit.model import now
from cstoolkit.plugin import Channel, CheckResult, Setting

# -- email building (shared by smtp and outbox) ------------------------------------------------
#
# The MIME text is written directly: RFC 2047 encoded-words for non-ASCII header text,
# quoted-printable bodies (binascii, in C), CRLF line ends, a boundary derived from the key.
# The stdlib email package produces the same but spends milliseconds per message, which
# matters at hundreds of surveys per second; the tests parse the result with it.

_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def message_id(idempotency_key: str, domain: str) -> str:
    """A Message-ID derived from the ledger key: the same survey always has the same id."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<survey.{digest}@{domain}>"


def encode_words(text: str) -> str:
    """Header text as it may appear on the wire: ASCII as is, else RFC 2047 ``B`` words."""
    text = " ".join(text.split())
    if text.isascii():
        return text
    words, chunk = [], ""
    for ch in text:
        if len((chunk + ch).encode()) > 45:  # 45 bytes -> 60 base64 chars: a word <= 75
            words.append(chunk)
            chunk = ""
        chunk += ch
    if chunk:
        words.append(chunk)
    return "\r\n ".join(
        "=?utf-8?b?" + base64.b64encode(w.encode()).decode("ascii") + "?=" for w in words
    )


def _mailbox(name: str, addr: str) -> str:
    if not name:
        return addr
    if not name.isascii():
        return f"{encode_words(name)} <{addr}>"
    if _SPECIALS.search(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{addr}>'
    return f"{name} <{addr}>"


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not body.endswith("\r\n"):
        body += "\r\n"
    return binascii.b2a_qp(body.encode("utf-8"), istext=True)


def _part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + _qp(text)


def build_email(
    message: Message,
    *,
    from_addr: str,
    from_name: str = "",
    reply_to: str | None = None,
    msgid_domain: str | None = None,
) -> bytes:
    """The message as sent (CRLF): text and HTML alternatives, List-Unsubscribe (RFC 2369/8058).

    Deterministic for a given message: the Message-ID and the MIME boundary derive from the
    idempotency key.
    """
    rcpt = message.recipient
    if not rcpt.email:
        raise ValueError("recipient has no email address")
    for value in (rcpt.email, from_addr, reply_to or ""):
        if any(c in value for c in "\r\n<>,") or not value.isascii():
            raise ValueError(f"unusable address {value!r}")
    key = message.idempotency_key
    headers = [
        ("From", _mailbox(from_name, from_addr)),
        ("To", _mailbox(rcpt.name, rcpt.email)),
    ]
    if reply_to:
        headers.append(("Reply-To", reply_to))
    headers += [
        ("Subject", encode_words(message.subject)),
        ("Date", format_datetime(message.created_at or now(), usegmt=True)),
        ("Message-ID", message_id(key, msgid_domain or from_addr.rpartition("@")[2] or "local")),
        ("MIME-Version", "1.0"),
        ("Content-Language", message.language),
        ("Auto-Submitted", "auto-generated"),
    ]
    unsubscribe = [message.links[k] for k in ("opt_out", "opt_out_mailto") if k in message.links]
    if unsubscribe:
        headers.append(("List-Unsubscribe", ", ".join(f"<{u}>" for u in unsubscribe)))
        if "opt_out" in message.links:
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for name, value in message.headers.items():
        headers.append((name, encode_words(value)))
    text = message.text or message.short
    if message.html:
        boundary = "=_cst_" + hashlib.sha256(key.encode()).hexdigest()[:24]
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        sep = f"--{boundary}\r\n".encode()
        body = (
            sep + _part("plain", text) + b"\r\n" + sep + _part("html", message.html)
            + f"\r\n--{boundary}--\r\n".encode()
        )  # fmt: skip
    else:
        headers += [
            ("Content-Type", 'text/plain; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ]
        body = _qp(text)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("ascii") + b"\r\n" + body


def _safe_name(key: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[:80]
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def message_json(message: Message) -> dict[str, Any]:
    r = message.recipient
    return {
        "idempotency_key": message.idempotency_key,
        "to": {
            "id": r.id,
            "name": r.name,
            "email": r.email,
            "phone": r.phone,
            "language": r.language,
            "timezone": r.timezone,
            "handles": r.handles,
        },
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "short": message.short,
        "language": message.language,
        "links": message.links,
        "data": message.data,
        "created_at": message.created_at.isoformat().replace("+00:00", "Z")
        if message.created_at
        else None,
    }


# -- console -----------------------------------------------------------------------------------


class ConsoleChannel(Channel):
    name: ClassVar[str] = "console"
    description: ClassVar[str] = "Prints each message (stderr by default): for trying things out."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("stream", default="stderr", choices=("stderr", "stdout"), help="Where to print."),
    )
    address_kind: ClassVar[str] = "any"

    def send(self, message: Message) -> DeliveryResult:
        out = sys.stdout if self.config.get("stream") == "stdout" else sys.stderr
        to = self.address(message.recipient)
        body = message.text or message.short
        out.write(f"--- to {to}: {message.subject}\n{body}\n")
        out.flush()
        return DeliveryResult.sent(f"console:{message.idempotency_key}")


# -- outbox ------------------------------------------------------------------------------------


class OutboxChannel(Channel):
    name: ClassVar[str] = "outbox"
    description: ClassVar[str] = (
        "Writes each message as a file (.eml for email, .json otherwise), named after its "
        "idempotency key."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("path", "path", required=True, help="Directory the files are written to."),
        Setting(
            "format",
            default="auto",
            choices=("auto", "email", "json"),
            help="auto: .eml when the recipient has an email address, else .json.",
        ),
        Setting("from_addr", default="surveys@localhost", help="From address of .eml files."),
        Setting("from_name", default="", help="From display name of .eml files."),
    )
    idempotent: ClassVar[bool] = True
    address_kind: ClassVar[str] = "any"

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        self.path = Path(self.config["path"])
        self.format = str(self.config.get("format") or "auto")
        if self.format == "email":
            self.address_kind = "email"  # type: ignore[misc]

    def address(self, recipient: Any) -> str | None:
        if self.format == "email":
            return recipient.email
        return super().address(recipient)

    def _is_email(self, message: Message) -> bool:
        return self.format == "email" or (self.format == "auto" and bool(message.recipient.email))

    def _file(self, key: str, email: bool) -> Path:
        return self.path / (_safe_name(key) + (".eml" if email else ".json"))

    def send(self, message: Message) -> DeliveryResult:
        email = self._is_email(message)
        target = self._file(message.idempotency_key, email)
        try:
            if email:
                data = build_email(
                    message,
                    from_addr=str(self.config.get("from_addr") or "surveys@localhost"),
                    from_name=str(self.config.get("from_name") or ""),
                )
            else:
                data = json.dumps(message_json(message), ensure_ascii=False, indent=2).encode()
            self.path.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            dfd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            return DeliveryResult.failed(f"{self.path}: {exc.strerror or exc}", stop=True)
        return DeliveryResult.sent(target.name)

    def lookup(
        self, idempotency_key: str, *, message: Message | None = None, since: datetime | None = None
    ) -> DeliveryResult | None:
        for email in (True, False):
            target = self._file(idempotency_key, email)
            if target.exists():
                return DeliveryResult.sent(target.name, "found in outbox")
        return None

    def check(self) -> CheckResult:
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return CheckResult(False, f"{self.path}: not writable")
        return CheckResult(True, f"{self.path}: writable")


# -- smtp --------------------------------------------------------------------------------------

_SECURITY = ("starttls", "ssl", "none")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_IDLE_NOOP = 10.0  # seconds: check a reused connection that sat idle longer than this


class SMTPChannel(Channel):
    name: ClassVar[str] = "smtp"
    description: ClassVar[str] = (
        "Email through an SMTP server (SSL or STARTTLS, auth, one connection per run)."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("host", required=True, help="SMTP server host name."),
        Setting("port", "int", default=0, help="0: 587 with starttls, 465 with ssl, 25 with none."),
        Setting("security", default="starttls", choices=_SECURITY, help="Transport security."),
        Setting("username", help="Login name (omit for no authentication)."),
        Setting("password", secret=True, help="Password: env:NAME or key:NAME."),
        Setting("from_addr", required=True, help="Envelope and header From address."),
        Setting("from_name", default="", help="From display name."),
        Setting("reply_to", help="Reply-To address."),
        Setting("timeout", "float", default=30.0, help="Socket timeout in seconds."),
        Setting("verify_tls", "bool", default=True, help="Verify the server's certificate."),
        Setting("ca_file", "path", help="CA bundle to verify the server with."),
        Setting("message_id_domain", help="Domain of Message-IDs (default: the From domain)."),
        Setting("local_hostname", help="Name sent in EHLO (default: this host's FQDN)."),
    )
    address_kind: ClassVar[str] = "email"

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        self.security = str(self.config.get("security") or "starttls")
        self.host = str(self.config["host"])
        self.port = int(self.config.get("port") or _DEFAULT_PORTS[self.security])
        self.timeout = float(self.config.get("timeout") or 30.0)
        self.from_addr = str(self.config["from_addr"])
        self._conn: smtplib.SMTP | None = None
        self._last_used = 0.0

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.config.get("ca_file"))
        if not self.config.get("verify_tls", True):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self) -> smtplib.SMTP:
        local = self.config.get("local_hostname") or None
        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=local, timeout=self.timeout,
                context=self._tls_context(),
            )  # fmt: skip
        else:
            conn = smtplib.SMTP(self.host, self.port, local_hostname=local, timeout=self.timeout)
        try:
            if conn.sock is not None:  # small commands go out at once (no Nagle delay)
                with _quiet():
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            user = self.config.get("username")
            if user:
                conn.login(str(user), str(self.config.get("password") or ""))
        except BaseException:
            with _quiet():
                conn.close()
            raise
        return conn

    def _session(self) -> smtplib.SMTP:
        if self._conn is not None and time.monotonic() - self._last_used > _IDLE_NOOP:
            try:
                if self._conn.noop()[0] != 250:
                    raise smtplib.SMTPServerDisconnected("noop refused")
            except (smtplib.SMTPException, OSError):
                self._drop()
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with _quiet():
                self._conn.close()
        self._conn = None

    def send(self, message: Message) -> DeliveryResult:
        rcpt = message.recipient.email
        if not rcpt:
            return DeliveryResult.failed("recipient has no email address", permanent=True)
        domain = self.config.get("message_id_domain") or self.from_addr.rpartition("@")[2]
        try:
            payload = build_email(
                message,
                from_addr=self.from_addr,
                from_name=str(self.config.get("from_name") or ""),
                reply_to=self.config.get("reply_to"),
                msgid_domain=domain,
            )
        except (ValueError, TypeError) as exc:
            return DeliveryResult.failed(f"cannot build the email: {exc}", permanent=True)
        msgid = message_id(message.idempotency_key, domain)
        for attempt in (1, 2):
            try:
                conn = self._session()
            except smtplib.SMTPAuthenticationError as exc:
                return DeliveryResult.failed(
                    f"authentication refused by {self.host}: {exc.smtp_code}", stop=True
                )
            except (smtplib.SMTPException, OSError) as exc:
                return DeliveryResult.failed(
                    f"cannot connect to {self.host}:{self.port}: {_err(exc)}", stop=True
                )
            try:
                code, resp = conn.mail(self.from_addr)
                if code != 250:
                    conn.rset()
                    return DeliveryResult.failed(f"sender refused: {code} {_text(resp)}")
                code, resp = conn.rcpt(rcpt)
                if code not in (250, 251):
                    conn.rset()
                    return DeliveryResult.failed(
                        f"recipient {rcpt} refused: {code} {_text(resp)}", permanent=code >= 500
                    )
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                # Nothing was handed over yet: reconnect once and try again.
                self._drop()
                if attempt == 2:
                    return DeliveryResult.failed(f"connection lost before DATA: {_err(exc)}")
                continue
            try:
                code, resp = conn.data(payload)
            except smtplib.SMTPDataError as exc:
                return DeliveryResult.failed(
                    f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}"
                )
            except (smtplib.SMTPException, OSError) as exc:
                # The server may or may not have accepted the message: never resend blindly.
                self._drop()
                return DeliveryResult.unknown(f"connection lost during DATA: {_err(exc)}")
            self._last_used = time.monotonic()
            if code != 250:
                return DeliveryResult.failed(f"message refused: {code} {_text(resp)}")
            return DeliveryResult.sent(msgid, _text(resp))
        return DeliveryResult.failed("unreachable")  # pragma: no cover

    def check(self) -> CheckResult:
        try:
            conn = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            return CheckResult(False, f"{self.host}:{self.port}: {_err(exc)}")
        with _quiet():
            conn.quit()
        return CheckResult(True, f"{self.host}:{self.port}: connected ({self.security})")

    def close(self) -> None:
        if self._conn is not None:
            with _quiet():
                self._conn.quit()
            self._drop()


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def _text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def _err(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


# -- HTTP outcomes (for channels built on cstoolkit.http) --------------------------------------


def http_failure(exc: Exception, describe: Any = None) -> DeliveryResult:
    """Map an error of :class:`cstoolkit.http.HttpClient` to a delivery outcome.

    Kept for plugins written before :mod:`cstoolkit.http_channel`; the mapping is
    :func:`cstoolkit.http_channel.delivery_failure`. ``describe`` is no longer needed (the HTTP
    layer keeps the vendor's error details) and is ignored.
    """
    from cstoolkit.http_channel import delivery_failure

    return delivery_failure(exc)


# -- webhook -----------------------------------------------------------------------------------


def sign_body(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(HttpChannel):
    name: ClassVar[str] = "webhook"
    description: ClassVar[str] = (
        "POSTs each message as JSON, signed with HMAC-SHA256, with an Idempotency-Key header."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("url", required=True, help="Where to POST."),
        Setting("secret", secret=True, help="HMAC-SHA256 signing secret (env:NAME or key:NAME)."),
        Setting("signature_header", default="X-Cst-Signature", help="Header with sha256=HEX."),
        Setting("idempotency_header", default="Idempotency-Key", help="Header with the key."),
        Setting("headers", "table", default={}, help="Extra headers."),
        *http_channel_settings(timeout=10.0, max_retry_wait=30.0, default_rate_limit_wait=1.0),
    )
    idempotent: ClassVar[bool] = True
    address_kind: ClassVar[str] = "any"
    url_setting: ClassVar[str | None] = "url"
    backoff_base: ClassVar[float] = 0.5

    def body(self, message: Message) -> bytes:
        payload = {"type": "survey.message", **message_json(message), "sent_at": _z(now())}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def http_headers(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.config.get("headers") or {}).items()}

    def send(self, message: Message) -> DeliveryResult:
        body = self.body(message)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cstoolkit-webhook",
            str(
                self.config.get("idempotency_header") or "Idempotency-Key"
            ): message.idempotency_key,
            **self.http_headers(),
        }
        if self.config.get("secret"):
            # The signature covers these exact bytes, posted as they are (content=, not json=).
            headers[str(self.config.get("signature_header") or "X-Cst-Signature")] = sign_body(
                str(self.config["secret"]), body
            )
        from cstoolkit.http import HttpError

        try:
            # The receiver deduplicates the Idempotency-Key: 5xx and timeouts may be resent.
            response = self.http().request(
                "POST", self.url_path, content=body, headers=headers, idempotent=True
            )
        except Exception as exc:
            if isinstance(exc, HttpError) and exc.status == 409:  # it had the key already
                return DeliveryResult.sent(exc.request_id or message.idempotency_key, "HTTP 409")
            return self.failure(exc)
        ref = response.headers.get("X-Request-Id") or message.idempotency_key
        return DeliveryResult.sent(ref, f"HTTP {response.status_code}")

    def failure(self, exc: Exception) -> DeliveryResult:
        from cstoolkit.http import RetriesExhausted

        if isinstance(exc, RetriesExhausted) and exc.kind != "network":
            # Idempotent: whatever happened, the survey is simply sent again next run.
            return DeliveryResult.unknown(str(exc), stop=exc.kind == "rate")
        return super().failure(exc)


def _z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@hookimpl
def register_channels(register: Any) -> None:
    for cls in (ConsoleChannel, OutboxChannel, SMTPChannel, WebhookChannel):
        register(cls)
