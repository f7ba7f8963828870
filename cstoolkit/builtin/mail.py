"""One mail message -> one :class:`~cstoolkit.inbound_source.InboundMessage`: the parsing the
mail sources (``imap``, ``maildir``) share.

* the sender is the first address of ``From`` (lower-cased); none is a parse failure;
* the idempotence key is the ``Message-ID`` (a digest of the raw bytes when there is none);
* threading: the Message-IDs in ``In-Reply-To`` and ``References`` (at most 50, newest last);
* the text is the plain-text part, else the HTML part without its tags;
* the language is the first of ``Content-Language`` (``es-ES`` -> ``es``), when given;
* attachments are never copied: each is listed with its type and size and linked by
  ``part_url(section)`` (the source's address of the MIME part, sections numbered as IMAP
  does: 1, 2, 2.1 ...); one over ``max_attachment_bytes`` is listed without a link.

Anything the standard library's parser raises on hostile bytes becomes :class:`Unparsable`
with a one-line reason, so a source flags the message and goes on (never a traceback).
"""

from __future__ import annotations

import email
import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

from cstoolkit.inbound_source import Attachment, InboundMessage
from cstoolkit.model import now
from cstoolkit.plugin import Setting

#: The settings every mail source takes (IMAP and Maildir): how much one poll reads.
MAIL_SETTINGS: tuple[Setting, ...] = (
    Setting("batch", "int", default=100, help="Messages taken per poll, at most."),
    Setting(
        "max_message_bytes",
        "int",
        default=25 * 1024 * 1024,
        help="Larger messages are not read: flagged and reported.",
    ),
    Setting(
        "max_attachment_bytes",
        "int",
        default=10 * 1024 * 1024,
        help="Larger attachments are listed without a link.",
    ),
)

_TAGS = re.compile(r"<[^>]*>")
_MSGID = re.compile(r"<[^<>\s]+>")
#: Header values kept (characters): an id longer than RFC 5322's line limit is not an id.
MAX_ID_CHARS = 998
MAX_SUBJECT_CHARS = 500
MAX_THREAD_REFS = 50


class Unparsable(ValueError):
    """The message cannot be read; the text says why (one line, no content of the mail)."""


def parse_mail(
    raw: bytes, part_url: Callable[[str], str], *, max_attachment_bytes: int = 0
) -> InboundMessage:
    """``raw`` (a whole RFC 5322 message) -> an InboundMessage, or :class:`Unparsable`."""
    try:
        return _parse(raw, part_url, max_attachment_bytes)
    except Unparsable:
        raise
    except RecursionError:
        raise Unparsable("cannot be parsed: MIME parts nested too deeply") from None
    except Exception as exc:  # the email package raises many kinds on hostile input
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise Unparsable(f"cannot be parsed: {reason}") from None


def _parse(raw: bytes, part_url: Callable[[str], str], limit: int) -> InboundMessage:
    msg = email.message_from_bytes(raw, policy=policy.default)
    if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default makes these
        raise Unparsable("cannot be parsed: not a mail message")
    from_ = getaddresses([str(msg.get("From", ""))])
    senders = [(n, a) for n, a in from_ if "@" in a]
    if not senders:
        raise Unparsable("no sender address (From)")
    name, address = senders[0]
    message_id = str(msg.get("Message-ID", "")).strip()
    if not message_id:
        message_id = "<sha256-" + hashlib.sha256(raw).hexdigest()[:32] + "@cst.invalid>"
    refs = " ".join(str(msg.get(h, "")) for h in ("In-Reply-To", "References"))
    thread = list(dict.fromkeys(_MSGID.findall(refs)))
    received = now()
    if msg.get("Date"):
        try:
            received = parsedate_to_datetime(str(msg["Date"])).astimezone(UTC)
        except (TypeError, ValueError, OverflowError):
            received = now()
    data = {}
    language = _language(str(msg.get("Content-Language", "")))
    if language:
        data["language"] = language
    return InboundMessage(
        message_id=message_id[:MAX_ID_CHARS], channel="email",
        sender=address.strip().lower(), sender_name=str(name)[:200],
        subject=" ".join(str(msg.get("Subject", "")).split())[:MAX_SUBJECT_CHARS],
        text=_text(msg), received_at=received, thread_refs=thread[-MAX_THREAD_REFS:],
        attachments=_attachments(msg, part_url, limit), data=data,
    )  # fmt: skip


def _language(value: str) -> str:
    first = value.split(",", maxsplit=1)[0].strip().lower()
    code = re.split(r"[-_]", first, maxsplit=1)[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else ""


def _text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = body.get_content()
    if not isinstance(content, str):
        raise Unparsable("the text part is not text")
    if body.get_content_subtype() == "html":
        content = re.sub(r"\n\s*\n+", "\n\n", _TAGS.sub("", content))
    return content.strip()


def _attachments(msg: Message, part_url: Callable[[str], str], limit: int) -> list[Attachment]:
    out = []
    for section, part in sections(msg):
        disposition = part.get_content_disposition()
        if disposition not in ("attachment", "inline") or (
            disposition == "inline" and not part.get_filename()
        ):
            continue
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else None
        too_large = bool(limit and size is not None and size > limit)
        out.append(Attachment(
            name=str(part.get_filename() or f"part-{section}")[:200],
            content_type=part.get_content_type(), size=size,
            url=None if too_large else part_url(section), too_large=too_large,
        ))  # fmt: skip
    return out


def sections(msg: Message, prefix: str = "") -> Iterator[tuple[str, Message]]:
    """Leaf parts with their IMAP section numbers (RFC 3501: 1, 2, 2.1 ...)."""
    if not msg.is_multipart():
        yield (prefix or "1"), msg
        return
    payload = msg.get_payload()
    for i, part in enumerate(payload if isinstance(payload, list) else [], start=1):
        section = f"{prefix}.{i}" if prefix else str(i)
        if part.is_multipart():
            yield from sections(part, section)
        else:
            yield section, part
