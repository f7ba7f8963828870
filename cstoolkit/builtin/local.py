"""The built-in ``local`` backend: a helpdesk that lives in one JSON Lines file.

The format is documented in docs/backends/local.md. In short: one JSON object per line, of type
``group``, ``person``, ``ticket`` (with its events) or ``deleted``; a later line for the same id
supersedes an earlier one. Writes append a new version of the ticket, so the file doubles as a
history and an incremental pull is a read from a byte offset.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from cstoolkit.builtin import local_values as values
from cstoolkit.builtin.local_values import parse_time
from cstoolkit.errors import BackendError, ConfigError, ConflictError
from cstoolkit.hookspecs import hookimpl
from cstoolkit.model import (
    Channel,
    Event,
    EventKind,
    Group,
    Person,
    Priority,
    Role,
    Status,
    Ticket,
    bare_id,
    now,
    qualify,
)
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    CONFLICT_CHECK,
    FILTER_KEYS,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    ApplyResult,
    Backend,
    Changes,
    CheckResult,
    NewTicket,
    Page,
    Setting,
)
from cstoolkit.textfiles import FileError, decode

_CHECK_BYTES = 4096  # bytes at the head and before the cursor that must be unchanged
_MARKER_KEY = "marker"
_PERSON_FIELDS = (
    "id",
    "type",
    "role",
    "name",
    "email",
    "organization",
    "plan",
    "language",
    "timezone",
    "groups",
)
_TICKET_FIELDS = (
    "id",
    "type",
    "subject",
    "description",
    "status",
    "priority",
    "channel",
    "requester",
    "assignee",
    "group",
    "tags",
    "created_at",
    "updated_at",
    "solved_at",
    "language",
    "custom_fields",
    "events",
)


class HelpdeskFileError(FileError, BackendError):
    """A line of the helpdesk file that cannot be read: ``file:line: field: problem``.

    The file is one people (or their export scripts) write, so it exits 2 like any such file;
    it is also a BackendError, which is what callers of a backend expect."""


_KINDS: dict[str, EventKind] = {k.value: k for k in EventKind}
_ROLES: dict[str, Role] = {r.value: r for r in Role}


@dataclass
class _Cursor:
    offset: int
    check: str

    def dump(self) -> str:
        return json.dumps({"offset": self.offset, "check": self.check})

    @classmethod
    def load(cls, text: str | None) -> _Cursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(int(data["offset"]), str(data["check"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class _Index:
    """Where the latest version of each ticket starts, built by scanning the file once."""

    size: int = 0
    tickets: dict[str, int] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    max_id: int = 0


class LocalBackend(Backend):
    name: ClassVar[str] = "local"
    description: ClassVar[str] = "A helpdesk in a local JSON Lines file: no account, no network."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("path", "path", required=True, help="The helpdesk file (JSON Lines)."),
        Setting("page_size", "int", default=1000, help="Tickets per page of a pull."),
    )
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {TICKETS_READ, TICKETS_WRITE, TICKETS_CREATE, COMMENTS_WRITE, CONFLICT_CHECK}
    )

    def __init__(self, instance: str, config: Any, state: Any) -> None:
        super().__init__(instance, config, state)
        self.path = Path(self.config["path"])
        self.page_size = int(self.config.get("page_size") or 1000)
        self._index: _Index | None = None
        self._since: datetime | None = None
        self._filters: dict[str, frozenset[str]] = {}

    # -- reading -------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        if not self.path.exists():
            return CheckResult(False, f"{self.path}: no such file")
        if not os.access(self.path, os.R_OK):
            return CheckResult(False, f"{self.path}: not readable")
        return CheckResult(True, f"{self.path}: readable, {self.path.stat().st_size} bytes")

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        """Read the file from the cursor's byte offset (from the start with ``full``/``since``).

        ``since`` keeps tickets whose ``updated_at`` is at or after it; the ``filters`` setting
        keeps tickets whose top-level field of the same name (``brand``, ``mailbox``, ``queue``,
        ``group``) holds one of the listed values. People, groups and deletions always pass.
        An unreadable or stale cursor restarts the read from the beginning.
        """
        if not self.path.exists():
            raise BackendError(f"{self.path}: no such file (backend {self.instance!r})")
        self._since = since
        self._filters = self._read_filters()
        start = 0
        saved = None if (full or since is not None) else _Cursor.load(cursor)
        with open(self.path, "rb") as fh:
            if saved is not None and self._cursor_valid(fh, saved):
                start = saved.offset
            fh.seek(start)
            page = Page()
            offset = start
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # a line still being written: leave it for the next run
                offset += len(raw)
                if not raw.strip():
                    continue
                self._read_record(raw, page, fh_offset=offset - len(raw))
                if len(page.tickets) >= self.page_size:
                    page.cursor = self._make_cursor(fh, offset)
                    yield page
                    page = Page()
            page.cursor = self._make_cursor(fh, offset)
            yield page

    def _cursor_valid(self, fh: Any, cur: _Cursor) -> bool:
        size = os.fstat(fh.fileno()).st_size
        if cur.offset > size:
            return False
        return self._check_at(fh, cur.offset) == cur.check

    def _check_at(self, fh: Any, offset: int) -> str:
        """A digest of the file's head and of the bytes just before ``offset``.

        A file rewritten or truncated since the cursor was made fails this check, and the pull
        starts over (the store's hash comparison makes that cheap). An in-place edit in the
        middle of a large file is not detected: append a new version of the ticket instead,
        or run ``cst sync pull --full``.
        """
        pos = fh.tell()
        digest = hashlib.sha256()
        fh.seek(0)
        digest.update(fh.read(min(offset, _CHECK_BYTES)))
        fh.seek(max(0, offset - _CHECK_BYTES))
        digest.update(fh.read(min(offset, _CHECK_BYTES)))
        fh.seek(pos)
        return digest.hexdigest()[:16]

    def _make_cursor(self, fh: Any, offset: int) -> str:
        return _Cursor(offset, self._check_at(fh, offset)).dump()

    def _line_number(self, offset: int) -> int:
        with open(self.path, "rb") as fh:
            return fh.read(offset).count(b"\n") + 1

    def _decode(self, raw: bytes, offset: int) -> Any:
        """One line as JSON: strict UTF-8, positions of bad bytes and nesting named."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            decode(raw, str(self.path), first_line=self._line_number(offset))
            raise  # pragma: no cover - decode raised at the bad byte
        try:
            return json.loads(text)
        except RecursionError:
            raise ValueError("nested too deeply") from None

    def _read_record(self, raw: bytes, page: Page, fh_offset: int) -> None:
        try:
            rec = self._decode(raw, fh_offset)
            if not isinstance(rec, dict):
                raise ValueError("a line must be a JSON object")
            kind = rec.get("type")
            if kind == "ticket":
                if self._filters and not self._passes(rec):
                    return
                ticket, events = self._ticket(rec)
                if self._since is not None and ticket.updated_at < self._since:
                    return
                page.tickets.append(ticket)
                page.events.extend(events)
            elif kind == "person":
                page.people.append(self._person(rec))
            elif kind == "group":
                ext = values.one_id(values.required(rec, "id"), "id")
                page.groups.append(
                    Group(
                        id=qualify(self.instance, ext),
                        instance=self.instance,
                        external_id=ext,
                        name=values.text(rec.get("name"), "name") or ext,
                        raw=rec,
                    )
                )
            elif kind == "deleted":
                page.deleted.append(values.one_id(values.required(rec, "id"), "id"))
            else:
                raise ValueError(
                    f"type: {values.show(kind)} is not one of group, person, ticket, deleted"
                )
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            line = self._line_number(fh_offset)
            raise HelpdeskFileError(str(exc), path=str(self.path), line=line) from None

    def _read_filters(self) -> dict[str, frozenset[str]]:
        raw = self.config.get("filters") or {}
        if not isinstance(raw, dict):
            raise ConfigError("filters: expected a table", field=f"backends.{self.instance}")
        out: dict[str, frozenset[str]] = {}
        for key, value in raw.items():
            where = f"backends.{self.instance}.filters.{key}"
            if key not in FILTER_KEYS:
                raise ConfigError(f"unknown filter; use {', '.join(FILTER_KEYS)}", field=where)
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, (str, int)) for v in values):
                raise ConfigError("expected a value or a list of values", field=where)
            out[key] = frozenset(str(v) for v in values)
        return out

    def _passes(self, rec: dict[str, Any]) -> bool:
        for key, allowed in self._filters.items():
            value = rec.get(key)
            if value is None or str(value) not in allowed:
                return False
        return True

    def _person(self, rec: dict[str, Any]) -> Person:
        ext = values.one_id(values.required(rec, "id"), "id")
        groups = rec.get("groups") or []
        if not isinstance(groups, list):
            raise ValueError("groups: expected a list of group ids")
        return Person(
            id=qualify(self.instance, ext),
            instance=self.instance,
            external_id=ext,
            role=values.member(Role, rec.get("role"), "role", Role.REQUESTER),
            name=values.text(rec.get("name"), "name") or "",
            email=values.text(rec.get("email"), "email"),
            organization=values.text(rec.get("organization"), "organization"),
            plan=values.text(rec.get("plan"), "plan"),
            language=values.text(rec.get("language"), "language"),
            timezone=values.text(rec.get("timezone"), "timezone"),
            groups=[
                qualify(self.instance, values.one_id(g, f"groups[{i}]"))
                for i, g in enumerate(groups)
            ],
            raw={k: v for k, v in rec.items() if k not in _PERSON_FIELDS},
        )

    def _q(self, value: Any, what: str) -> str | None:
        """A reference to another record (requester, assignee, group, author): one id."""
        return None if value in (None, "") else qualify(self.instance, values.one_id(value, what))

    def _ticket(self, rec: dict[str, Any]) -> tuple[Ticket, list[Event]]:
        ext = values.one_id(values.required(rec, "id"), "id")
        tid = qualify(self.instance, ext)
        created = parse_time(values.required(rec, "created_at"), "created_at")
        tags = rec.get("tags") or []
        if not isinstance(tags, list):
            raise ValueError("tags: expected a list")
        for i, t in enumerate(tags):
            if isinstance(t, bool) or not isinstance(t, str | int):
                raise ValueError(f"tags[{i}]: expected a text, got {values.show(t)}")
        custom = rec.get("custom_fields") or {}
        if not isinstance(custom, dict):
            raise ValueError("custom_fields: expected an object")
        events_raw = rec.get("events") or []
        if not isinstance(events_raw, list):
            raise ValueError("events: expected a list")
        ticket = Ticket(
            id=tid,
            instance=self.instance,
            external_id=ext,
            subject=values.text(rec.get("subject"), "subject") or "",
            description=values.text(rec.get("description"), "description") or "",
            status=values.member(Status, rec.get("status"), "status", Status.NEW),
            priority=values.member(Priority, rec.get("priority"), "priority", Priority.NORMAL),
            channel=values.member(Channel, rec.get("channel"), "channel", Channel.OTHER),
            requester_id=self._q(rec.get("requester"), "requester"),
            assignee_id=self._q(rec.get("assignee"), "assignee"),
            group_id=self._q(rec.get("group"), "group"),
            tags=[str(t) for t in tags],
            created_at=created,
            updated_at=parse_time(rec.get("updated_at") or rec["created_at"], "updated_at"),
            solved_at=parse_time(rec["solved_at"], "solved_at") if rec.get("solved_at") else None,
            language=values.text(rec.get("language"), "language"),
            custom_fields=dict(custom),
            raw={k: v for k, v in rec.items() if k not in _TICKET_FIELDS},
        )
        events: list[Event] = []
        kinds, roles, known = _KINDS, _ROLES, values.EVENT_FIELD_SET
        prefix = self.instance + ":"
        # Per event, the common case is checked inline and the checking functions (with the
        # field's name for their message) are called only for what it does not cover: this
        # loop runs for every event of every synced ticket.
        for n, ev in enumerate(events_raw, start=1):
            if not isinstance(ev, dict):
                raise ValueError(f"events[{n}]: expected an object")
            get = ev.get
            ev_id = get("id")
            if not ev_id:
                ev_id = f"{ext}-{n}"
            elif not _plain_id(ev_id):
                ev_id = values.one_id(ev_id, f"events[{n}].id")
            kind = get("kind")
            event_kind = kinds.get(kind) if type(kind) is str else None
            if event_kind is None:
                event_kind = values.member(EventKind, kind, f"events[{n}].kind")
            role = get("role")
            author_role = None
            if role:
                author_role = roles.get(role) if type(role) is str else None
                if author_role is None:
                    author_role = values.member(Role, role, f"events[{n}].role")
            at = get("at")
            when = values.utc_time(at) or parse_time(at, f"events[{n}].at")
            author = get("author")
            if author is None or author == "":
                author = None
            elif _plain_id(author):
                author = prefix + author
            else:
                author = self._q(author, f"events[{n}].author")
            public = get("public")
            if public is not None and type(public) is not bool:
                values.flag(public, f"events[{n}].public")  # raises
            body, old, new = get("body"), get("old"), get("new")
            if body is not None and type(body) is not str:
                body = values.text(body, f"events[{n}].body")
            if old is not None and type(old) is not str:
                old = values.text(old, f"events[{n}].old")
            if new is not None and type(new) is not str:
                new = values.text(new, f"events[{n}].new")
            data = {} if known.issuperset(ev) else values.event_data(ev, event_kind, n)
            events.append(
                Event(
                    prefix + ev_id, tid, event_kind, when, author, author_role, public, body,
                    old, new, data,
                )
            )  # fmt: skip
        return ticket, events

    # -- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _refresh_index(self) -> _Index:
        index = self._index or _Index()
        size = self.path.stat().st_size if self.path.exists() else 0
        if size < index.size:
            index = _Index()  # the file was rewritten: scan it again
        if size > index.size:
            with open(self.path, "rb") as fh:
                fh.seek(index.size)
                offset = index.size
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break
                    self._index_line(index, raw, offset)
                    offset += len(raw)
                index.size = offset
        self._index = index
        return index

    def _index_line(self, index: _Index, raw: bytes, offset: int) -> None:
        if not raw.strip():
            return
        try:
            rec = self._decode(raw, offset)
            if not isinstance(rec, dict):
                raise ValueError("a line must be a JSON object")
            kind = rec.get("type")
            ext = (
                values.one_id(rec.get("id"), "id")
                if kind in ("ticket", "deleted", "person")
                else ""
            )
        except ValueError as exc:
            line = self._line_number(offset)
            raise HelpdeskFileError(str(exc), path=str(self.path), line=line) from None
        if kind == "ticket":
            index.tickets[ext] = offset
            if rec.get(_MARKER_KEY):
                index.markers[str(rec[_MARKER_KEY])] = ext
            if ext.isascii() and ext.isdigit() and len(ext) < 19:
                index.max_id = max(index.max_id, int(ext))
        elif kind == "deleted":
            index.tickets.pop(ext, None)
        elif kind == "person":
            if rec.get("email"):
                index.emails[str(rec["email"]).lower()] = ext
            if rec.get("phone"):
                index.phones[str(rec["phone"])] = ext

    def _read_at(self, offset: int) -> dict[str, Any]:
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            rec: dict[str, Any] = json.loads(fh.readline())
            return rec

    def _append(self, *records: dict[str, Any]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        with self._locked():
            index = self._refresh_index()
            offset = index.tickets.get(str(external_id))
            if offset is None:
                raise BackendError(f"ticket {self.instance}:{external_id} not found in {self.path}")
            rec = self._read_at(offset)
            current = parse_time(rec.get("updated_at") or rec["created_at"], "updated_at")
            expected = changes.expected_updated_at
            if expected is not None and int(current.timestamp()) != int(expected.timestamp()):
                raise ConflictError(
                    f"ticket {self.instance}:{external_id} changed since the plan "
                    f"(updated {values.z(current)}, plan made against {values.z(expected)})"
                )
            when = max(now(), current)
            events = list(rec.get("events") or [])
            changed = self._change(rec, changes, events, when)
            if not changed:
                return ApplyResult(str(external_id), False, current, "no change")
            rec["events"] = events
            rec["updated_at"] = values.z(when)
            self._append(rec)
            return ApplyResult(str(external_id), True, parse_time(rec["updated_at"], "updated_at"))

    def _change(
        self, rec: dict[str, Any], changes: Changes, events: list[dict[str, Any]], when: datetime
    ) -> bool:
        ext = str(rec["id"])
        before = len(events)

        def event(kind: EventKind, **fields: Any) -> None:
            ev = {"id": f"{ext}-{len(events) + 1}", "kind": str(kind), "at": values.z(when)}
            ev.update(role="agent", **fields)
            events.append(ev)

        simple = (
            ("status", changes.status, EventKind.STATUS_CHANGE, Status),
            ("priority", changes.priority, EventKind.PRIORITY_CHANGE, Priority),
            ("assignee", _ext(changes.assignee_id), EventKind.ASSIGNMENT, None),
            ("group", _ext(changes.group_id), EventKind.GROUP_CHANGE, None),
        )
        for key, new, kind, enum_cls in simple:
            if new is None or rec.get(key) == new:
                continue
            if enum_cls is not None:
                values.member(enum_cls, new, key)
            event(kind, old=rec.get(key), new=new)
            rec[key] = new
            if key == "status":
                resolved = new in (Status.SOLVED, Status.CLOSED)
                if resolved and not rec.get("solved_at"):
                    rec["solved_at"] = values.z(when)
                elif not resolved:
                    rec["solved_at"] = None
        tags = list(rec.get("tags") or [])
        new_tags = [t for t in tags if t not in changes.remove_tags]
        new_tags += [t for t in changes.add_tags if t not in new_tags]
        if new_tags != tags:
            event(EventKind.TAGS_CHANGE, old=" ".join(tags), new=" ".join(new_tags))
            rec["tags"] = new_tags
        custom = dict(rec.get("custom_fields") or {})
        merged = {**custom, **changes.custom_fields}
        rec["custom_fields"] = merged
        for comment in changes.comments:
            if comment.from_requester:
                event(EventKind.COMMENT, public=True, body=comment.body)
                events[-1].update(role="requester", author=rec.get("requester"))
            else:
                event(EventKind.COMMENT, public=comment.public, body=comment.body)
        return len(events) > before or merged != custom

    def create(self, ticket: NewTicket) -> str:
        with self._locked():
            index = self._refresh_index()
            if ticket.marker and ticket.marker in index.markers:
                return index.markers[ticket.marker]
            ext = str(index.max_id + 1)
            when = values.z(now())
            records: list[dict[str, Any]] = []
            requester = None
            # A requester is found (or added) by email, else by phone (WhatsApp, SMS).
            field, address = (
                ("email", ticket.requester_email.lower())
                if ticket.requester_email
                else ("phone", ticket.requester_phone)
            )
            if address:
                known = index.emails if field == "email" else index.phones
                requester = known.get(address)
                if requester is None:
                    requester = "r-" + hashlib.sha1(address.encode()).hexdigest()[:10]
                    records.append({"type": "person", "id": requester, "role": "requester",
                                    "name": ticket.requester_name,
                                    field: ticket.requester_email or address})  # fmt: skip
            rec: dict[str, Any] = {
                "type": "ticket",
                "id": ext,
                "subject": ticket.subject,
                "description": ticket.description,
                "status": str(values.member(Status, ticket.status, "status")),
                "priority": str(values.member(Priority, ticket.priority, "priority")),
                "channel": str(values.member(Channel, ticket.channel, "channel")),
                "requester": requester,
                "tags": list(ticket.tags),
                "created_at": when,
                "updated_at": when,
                "custom_fields": dict(ticket.custom_fields),
                "events": [
                    {
                        "id": f"{ext}-1",
                        "kind": "created",
                        "at": when,
                        "author": requester,
                        "role": "requester",
                        "public": True,
                        "body": ticket.description,
                    }
                ],
            }
            if ticket.language:
                rec["language"] = ticket.language
            if ticket.marker:
                rec[_MARKER_KEY] = ticket.marker
            records.append(rec)
            self._append(*records)
            return ext

    def fetch(self, external_id: str) -> Ticket | None:
        with self._locked():
            offset = self._refresh_index().tickets.get(str(external_id))
            if offset is None:
                return None
            return self._ticket(self._read_at(offset))[0]

    def find_by_marker(self, marker: str) -> str | None:
        with self._locked():
            return self._refresh_index().markers.get(marker)


def _plain_id(value: Any) -> bool:
    """The common case of ``values.one_id``: a text id of the allowed length (not blank)."""
    return type(value) is str and 0 < len(value) <= values.MAX_ID and not value.isspace()


def _ext(qualified: str | None) -> str | None:
    """Accept a qualified id (``local:a1``) or a bare one and return the bare external id."""
    return None if qualified is None else bare_id(qualified)


@hookimpl
def register_backends(register: Any) -> None:
    register(LocalBackend)
