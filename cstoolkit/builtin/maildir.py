"""The built-in ``maildir`` inbound source: a Maildir (what many MTAs deliver to) read by
``cst inbound poll``; no network, no password.

Each poll lists the messages in ``new/`` and ``cur/`` that carry neither the seen flag (``S``)
nor the flagged one (``F``) (nor ``T``, trashed), oldest first, at most ``batch`` of them:

* a message the engine took is moved to ``cur/`` and marked seen (``:2,S``): a rename within
  the Maildir, as the Maildir convention wants; its bytes are never rewritten, nothing is
  deleted;
* a message that cannot be parsed (no sender address, broken MIME, an unknown charset, over
  ``max_message_bytes``) is moved to ``cur/`` flagged (``:2,F``), left there and reported by the
  poll (exit 1), ``cst inbound status``, ``cst status`` and ``cst doctor``; remove the ``F``
  (a mail client's "unflag") and the next poll tries again.

Parsing is :mod:`cstoolkit.builtin.mail`'s, shared with the ``imap`` source. An attachment is
linked by ``maildir://PATH/;KEY=KEY/;SECTION=N``: the message's unique name in the Maildir
(the file in ``cur/`` whose name starts with it) and the MIME part's section. The standard
library's :class:`mailbox.Maildir` checks the folder; flags are changed by renaming the file
directly (on Python 3.11 ``mailbox`` can change flags only by rewriting the message).
"""

from __future__ import annotations

import logging
import mailbox
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from cstoolkit.builtin.mail import MAIL_SETTINGS, Unparsable, parse_mail
from cstoolkit.errors import BackendError
from cstoolkit.hookspecs import hookimpl
from cstoolkit.inbound_source import POLL, InboundSource, Polled
from cstoolkit.plugin import CheckResult, Setting

log = logging.getLogger(__name__)

#: The separator of a file's unique name and its info (``:2,FLAGS``), as mailbox.Maildir uses.
COLON = mailbox.Maildir.colon
SEEN, FLAGGED, TRASHED = "S", "F", "T"


@dataclass(frozen=True)
class _Entry:
    subdir: str  # new | cur
    filename: str

    @property
    def key(self) -> str:
        return self.filename.split(COLON, 1)[0]

    @property
    def flags(self) -> str:
        name = self.filename
        if COLON + "2," not in name:
            return ""
        return name.rsplit(COLON + "2,", 1)[1]


class MaildirSource(InboundSource):
    name: ClassVar[str] = "maildir"
    description: ClassVar[str] = "A Maildir folder, polled; nothing is ever deleted."
    mode: ClassVar[str] = POLL
    channel: ClassVar[str] = "email"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("path", "path", required=True, help="The Maildir (holding new/, cur/, tmp/)."),
        *MAIL_SETTINGS,
    )

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        self.root = Path(self.config["path"])

    def check(self) -> CheckResult:
        try:
            self._open()
        except BackendError as exc:
            return CheckResult(False, str(exc))
        waiting = sum(1 for _ in self._waiting())
        return CheckResult(True, f"{self.root}: a Maildir, {waiting} message(s) waiting")

    def _open(self) -> mailbox.Maildir:
        if not all((self.root / sub).is_dir() for sub in ("new", "cur", "tmp")):
            raise BackendError(
                f"inbound.{self.instance}: {self.root}: not a Maildir (no new/, cur/, tmp/)"
            )
        return mailbox.Maildir(self.root, factory=None, create=False)

    def _waiting(self) -> list[_Entry]:
        found: list[tuple[float, str, _Entry]] = []
        for sub in ("new", "cur"):
            try:
                names = os.listdir(self.root / sub)
            except OSError as exc:
                raise BackendError(f"inbound.{self.instance}: {self.root / sub}: {exc}") from None
            for filename in names:
                entry = _Entry(sub, filename)
                if filename.startswith(".") or set(entry.flags) & {SEEN, FLAGGED, TRASHED}:
                    continue
                try:
                    mtime = (self.root / sub / filename).stat().st_mtime
                except OSError:
                    continue  # taken by another reader meanwhile
                found.append((mtime, filename, entry))
        return [entry for _, _, entry in sorted(found)]

    def poll(self) -> Iterator[Polled]:
        self._open()
        batch = int(self.config.get("batch") or 100)
        for entry in self._waiting()[:batch]:
            item = self._item(entry)
            if item is not None:
                yield item

    def _item(self, entry: _Entry) -> Polled | None:
        path = self.root / entry.subdir / entry.filename
        ref = f"{entry.subdir}/{entry.filename}"
        item = Polled(ref, None, done=lambda: self._mark(entry, SEEN),
                      unparsable=lambda why: self._mark(entry, FLAGGED))  # fmt: skip
        limit = int(self.config.get("max_message_bytes") or 0)
        try:
            size = path.stat().st_size
            if limit and size > limit:
                item.problem = f"{size} bytes, over max_message_bytes ({limit})"
                return item
            raw = path.read_bytes()
        except FileNotFoundError:
            return None  # another reader moved it: its poll takes it (the ledger: once)
        except OSError as exc:
            item.problem = f"cannot be read: {exc.strerror or exc}"
            return item
        where = f"maildir://{quote(str(self.root.resolve()))}/;KEY={quote(entry.key, safe='')}"
        try:
            item.message = parse_mail(
                raw,
                lambda section: f"{where}/;SECTION={section}",
                max_attachment_bytes=int(self.config.get("max_attachment_bytes") or 0),
            )
        except Unparsable as exc:
            item.problem = str(exc)
        return item

    def _mark(self, entry: _Entry, flag: str) -> None:
        """Move the message to ``cur/`` with ``flag`` added (a rename: the bytes stay)."""
        flags = "".join(sorted(set(entry.flags) | {flag}))
        target = self.root / "cur" / f"{entry.key}{COLON}2,{flags}"
        try:
            os.rename(self.root / entry.subdir / entry.filename, target)
        except FileNotFoundError:
            pass  # already moved by another reader
        except OSError as exc:  # left as it is: the next poll finds it again (the ledger: once)
            log.warning("inbound.%s: cannot mark %s: %s", self.instance, entry.filename, exc)


@hookimpl
def register_inbound_sources(register: Any) -> None:
    register(MaildirSource)
