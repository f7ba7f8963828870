"""The report's columns: the tickets created on one UTC day with their facts, as packed arrays.

A :class:`Chunk` holds, for each ticket (in no particular order), the tickets-table values a
report reads (creation, status, deleted flag, assignee, group, channel, priority, instance) and
its facts (:mod:`cstoolkit.timeline`): instants, counts and the facts' lists flattened into
arrays with a per-ticket length (``n_reply`` replies, then ``reply_at``/``reply_who``/
``reply_wait`` hold them one after the other). Strings are codes into the chunk's own string
table (-1: none); instants are float64 unix seconds (NaN: none). No value depends on a calendar
or on the report's options: :mod:`cstoolkit.kpi.columnar` computes everything else.

Stored as one BLOB per day by :mod:`cstoolkit.store.columns`: ``CSTC``, a little-endian u32
header length, a JSON header (count, strings, array names, dtypes and lengths), the ids as a
JSON list, then the arrays' bytes (8-byte aligned). Nothing is pickled.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cstoolkit.timeline.facts import STATUS_CODE, UNKNOWN
from cstoolkit.timeline.row import decode

FORMAT = 2
_MAGIC = b"CSTC"
NAN = float("nan")
_NONE32 = -(2**31)  # an absent instant, stored as int32
#: Arrays of whole seconds (instants and durations): stored as int32 seconds from the chunk's
#: base when every value fits, which halves what a report reads; else as float64.
WHOLE_SECONDS = frozenset(
    {
        "created", "first_reply", "last_reply", "first_solve", "last_solve", "wait_c",
        "work_c", "horizon", "status_since", "reply_at", "reply_wait", "agent_at",
        "status_at", "wait_span", "work_span", "answer_at", "sla_decided", "sla_breach",
        "sla_due",
    }
)  # fmt: skip
_DURATIONS = frozenset({"wait_c", "work_c"})
_STATUS: dict[Any, int] = dict(STATUS_CODE)  # None and any other status: UNKNOWN

#: Per-ticket arrays and their dtypes.
TICKET_ARRAYS: dict[str, str] = {
    "created": "<f8",
    "status": "|i1",
    "deleted": "|i1",
    "assignee": "<i4",
    "group": "<i4",
    "channel": "<i4",
    "priority": "<i4",
    "instance": "<i4",
    "first_reply": "<f8",
    "last_reply": "<f8",
    "first_solve": "<f8",
    "last_solve": "<f8",
    "reopens": "<i4",
    "replies": "<i4",
    "solver": "<i4",
    "wait_c": "<f8",
    "work_c": "<f8",
    "horizon": "<f8",
    "events": "<i4",
    "status_since": "<f8",
    "sla_policy": "<i4",
    # lengths of each ticket's lists in the arrays below
    "n_reply": "<i4",
    "n_agent": "<i4",
    "n_status": "<i4",
    "n_wait": "<i4",
    "n_work": "<i4",
    "n_assign": "<i4",
    "n_answer": "<i4",
    "n_sla": "<i4",
}
#: Flattened lists, each with the per-ticket length array that cuts it.
LIST_ARRAYS: dict[str, tuple[str, str]] = {
    "reply_at": ("<f8", "n_reply"),
    "reply_who": ("<i4", "n_reply"),
    "reply_wait": ("<f8", "n_reply"),
    "agent_at": ("<f8", "n_agent"),
    "agent_who": ("<i4", "n_agent"),
    "status_at": ("<f8", "n_status"),
    "status_code": ("|i1", "n_status"),
    "wait_span": ("<f8", "n_wait"),
    "work_span": ("<f8", "n_work"),
    "assign_who": ("<i4", "n_assign"),
    "answer_at": ("<f8", "n_answer"),
    "answer_kind": ("<i4", "n_answer"),
    "answer_score": ("<f8", "n_answer"),
    "sla_metric": ("<i4", "n_sla"),  # index into cstoolkit.sla.METRICS
    "sla_target": ("<f8", "n_sla"),
    "sla_business": ("|i1", "n_sla"),
    "sla_decided": ("<f8", "n_sla"),
    "sla_met": ("|i1", "n_sla"),
    "sla_breach": ("<f8", "n_sla"),
    "sla_due": ("<f8", "n_sla"),
}
#: Arrays holding codes of the string table.
STRING_ARRAYS = frozenset(
    {
        "assignee",
        "group",
        "channel",
        "priority",
        "instance",
        "solver",
        "sla_policy",
        "reply_who",
        "agent_who",
        "assign_who",
        "answer_kind",
    }
)

#: The columns a chunk is built from (``tickets t JOIN ticket_facts f``), in this order.
SOURCE_COLUMNS = (
    "t.id", "CAST(t.created_at AS INTEGER)", "t.status", "t.deleted", "t.assignee_id",
    "t.group_id", "t.channel", "t.priority", "t.instance", "f.first_reply",
    "f.last_public_reply", "f.first_solve", "f.last_solve", "f.reopens", "f.agent_replies",
    "f.solver", "f.requester_wait", "f.agent_work", "f.horizon", "f.events", "f.status_since",
    "f.status_log", "f.wait_log", "f.work_log", "f.reply_log", "f.agent_log",
    "f.assignment_log", "f.answer_log", "f.sla_policy", "f.sla_instances",
)  # fmt: skip


@dataclass
class Chunk:
    """The report's columns of the tickets created on one UTC day."""

    ids: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    arrays: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str) -> Any:
        return self.arrays[name]

    def string_array(self) -> Any:
        """The string table as a numpy object array, with ``None`` appended (code -1)."""
        out = np.empty(len(self.strings) + 1, dtype=object)
        out[: len(self.strings)] = self.strings
        out[-1] = None
        return out


class _Builder:
    """Collects rows (:data:`SOURCE_COLUMNS`) into a chunk's lists."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.ids: list[str] = []
        self.cols: dict[str, list[Any]] = {k: [] for k in (*TICKET_ARRAYS, *LIST_ARRAYS)}

    def code(self, s: Any) -> int:
        c = self.codes.get(s)
        if c is not None:
            return c
        if s is None:
            return -1
        key = str(s)
        c = self.codes.get(key)
        if c is None:
            c = self.codes[key] = len(self.codes)
        return c

    def add(self, row: Sequence[Any]) -> None:
        (
            tid, created, status, deleted, assignee, group, channel, priority, instance,
            first_reply, last_reply, first_solve, last_solve, reopens, replies, solver, wait_c,
            work_c, horizon, events, status_since, status_log, wait_log, work_log, reply_log,
            agent_log, assignment_log, answer_log, sla_policy, sla_instances,
        ) = row  # fmt: skip
        c, code = self.cols, self.code
        self.ids.append(str(tid))
        c["created"].append(created)
        c["status"].append(_STATUS.get(status, UNKNOWN))
        c["deleted"].append(1 if deleted else 0)
        c["assignee"].append(code(assignee))
        c["group"].append(code(group))
        c["channel"].append(code(channel))
        c["priority"].append(code(priority))
        c["instance"].append(code(instance))
        c["first_reply"].append(NAN if first_reply is None else first_reply)
        c["last_reply"].append(NAN if last_reply is None else last_reply)
        c["first_solve"].append(NAN if first_solve is None else first_solve)
        c["last_solve"].append(NAN if last_solve is None else last_solve)
        c["reopens"].append(reopens or 0)
        c["replies"].append(replies or 0)
        c["solver"].append(code(solver))
        c["wait_c"].append(NAN if wait_c is None else wait_c)
        c["work_c"].append(NAN if work_c is None else work_c)
        c["horizon"].append(horizon)
        c["events"].append(events or 0)
        c["status_since"].append(status_since)
        if reply_log and reply_log != "[]":
            replies_ = decode(reply_log)
            c["n_reply"].append(len(replies_))
            at_, who_, wait_ = c["reply_at"], c["reply_who"], c["reply_wait"]
            for at, who, wait in replies_:
                at_.append(at)
                who_.append(code(who))
                wait_.append(NAN if wait is None else wait)
        else:
            c["n_reply"].append(0)
        if agent_log and agent_log != "[]":
            agents = decode(agent_log)
            c["n_agent"].append(len(agents))
            at_, who_ = c["agent_at"], c["agent_who"]
            for at, who in agents:
                at_.append(at)
                who_.append(code(who))
        else:
            c["n_agent"].append(0)
        flat = decode(status_log) if status_log else ()
        c["n_status"].append(len(flat) // 2)
        c["status_at"].extend(flat[0::2])
        c["status_code"].extend(flat[1::2])
        waits = decode(wait_log) if wait_log else ()
        c["n_wait"].append(len(waits))
        c["wait_span"].extend(waits)
        works = decode(work_log) if work_log else ()
        c["n_work"].append(len(works))
        c["work_span"].extend(works)
        if assignment_log and assignment_log != "[]":
            chain = decode(assignment_log)
            c["n_assign"].append(len(chain))
            c["assign_who"].extend([code(who) for _, who in chain])
        else:
            c["n_assign"].append(0)
        if answer_log and answer_log != "[]":
            answers = decode(answer_log)
            c["n_answer"].append(len(answers))
            for at, kind, score, _comment in answers:
                c["answer_at"].append(at)
                c["answer_kind"].append(code(kind))
                c["answer_score"].append(
                    score if isinstance(score, int | float) and not isinstance(score, bool) else NAN
                )
        else:
            c["n_answer"].append(0)
        c["sla_policy"].append(code(sla_policy))
        if sla_policy is not None and sla_instances and sla_instances != "[]":
            instances = decode(sla_instances)
            c["n_sla"].append(len(instances))
            for metric, target, business, decided, met, breach_after, due in instances:
                c["sla_metric"].append(metric)
                c["sla_target"].append(target)
                c["sla_business"].append(1 if business else 0)
                c["sla_decided"].append(NAN if decided is None else decided)
                c["sla_met"].append(1 if met else 0)
                c["sla_breach"].append(NAN if breach_after is None else breach_after)
                c["sla_due"].append(NAN if due is None else due)
        else:
            c["n_sla"].append(0)

    def chunk(self) -> Chunk:
        arrays = {
            name: np.asarray(self.cols[name], dtype=dtype) for name, dtype in TICKET_ARRAYS.items()
        }
        for name, (dtype, _) in LIST_ARRAYS.items():
            arrays[name] = np.asarray(self.cols[name], dtype=dtype)
        return Chunk(self.ids, list(self.codes), arrays)


def build(rows: Iterable[Sequence[Any]]) -> Chunk:
    """A chunk of ``rows`` (:data:`SOURCE_COLUMNS`)."""
    b = _Builder()
    for row in rows:
        b.add(row)
    return b.chunk()


def splice(old: Chunk, drop: Iterable[str], new: Chunk) -> Chunk:
    """``old`` without the tickets ``drop``, plus ``new`` (their current rows)."""
    gone = set(drop)
    keep = np.fromiter((i not in gone for i in old.ids), dtype=bool, count=old.n)
    strings = list(old.strings)
    index = {s: i for i, s in enumerate(strings)}
    remap = np.empty(len(new.strings) + 1, dtype=np.int32)
    for i, s in enumerate(new.strings):
        j = index.get(s)
        if j is None:
            j = index[s] = len(strings)
            strings.append(s)
        remap[i] = j
    remap[-1] = -1
    arrays: dict[str, Any] = {}
    keep_list = {
        n: np.repeat(keep, old.arrays[n]) for n in {length for _, length in LIST_ARRAYS.values()}
    }
    for name in (*TICKET_ARRAYS, *LIST_ARRAYS):
        mask = keep if name in TICKET_ARRAYS else keep_list[LIST_ARRAYS[name][1]]
        theirs = new.arrays[name]
        if name in STRING_ARRAYS:
            theirs = remap[theirs]
        arrays[name] = np.concatenate([old.arrays[name][mask], theirs]).astype(
            TICKET_ARRAYS.get(name) or LIST_ARRAYS[name][0], copy=False
        )
    ids = [i for i, k in zip(old.ids, keep.tolist(), strict=True) if k] + new.ids
    return _compact(Chunk(ids, strings, arrays))


def _compact(chunk: Chunk) -> Chunk:
    """The chunk with only the strings its arrays still use: a value no ticket holds any more
    (a person id a privacy erasure replaced) leaves the stored chunk with the last ticket."""
    used = np.zeros(len(chunk.strings) + 1, dtype=bool)
    for name in STRING_ARRAYS:
        used[chunk.arrays[name]] = True  # code -1 marks the last slot
    used = used[:-1]
    if used.all():
        return chunk
    remap = np.full(len(chunk.strings) + 1, -1, dtype=np.int32)
    kept = np.nonzero(used)[0]
    remap[kept] = np.arange(len(kept), dtype=np.int32)
    arrays = dict(chunk.arrays)
    for name in STRING_ARRAYS:
        arrays[name] = remap[chunk.arrays[name]]
    return Chunk(chunk.ids, [chunk.strings[i] for i in kept.tolist()], arrays)


def _packed(name: str, values: Any, base: int) -> tuple[str, bytes]:
    """An array's stored dtype and bytes: whole seconds as int32 offsets when they fit."""
    dtype = TICKET_ARRAYS.get(name) or LIST_ARRAYS[name][0]
    a = np.asarray(values, dtype=dtype)
    if name in WHOLE_SECONDS and len(a):
        rel = a - (0 if name in _DURATIONS else base)
        known = ~np.isnan(rel)
        whole = rel[known]
        if np.all(whole == np.floor(whole)) and (
            not len(whole) or (whole.min() > _NONE32 and whole.max() < 2**31)
        ):
            packed = np.where(known, rel, _NONE32).astype("<i4")
            return "<i4+", packed.tobytes()
    return dtype, np.ascontiguousarray(a).tobytes()


def encode(chunk: Chunk) -> bytes:
    """The stored form of a chunk."""
    created = chunk.arrays["created"]
    base = int(np.min(created)) if len(created) else 0
    specs = []
    parts: list[bytes] = []
    for name in (*TICKET_ARRAYS, *LIST_ARRAYS):
        dtype, data = _packed(name, chunk.arrays[name], base)
        specs.append([name, dtype, len(data)])
        parts.append(data + b"\0" * (-len(data) % 8))
    ids = json.dumps(chunk.ids, ensure_ascii=False).encode()
    header = json.dumps(
        {
            "format": FORMAT,
            "n": chunk.n,
            "base": base,
            "strings": chunk.strings,
            "arrays": specs,
            "ids": len(ids),
        },
        ensure_ascii=False,
    ).encode()
    pad = b"\0" * (-(8 + len(header) + len(ids)) % 8)
    return b"".join([_MAGIC, struct.pack("<I", len(header)), header, ids, pad, *parts])


class ChunkFormatError(ValueError):
    """A stored chunk this program cannot read (another format): it is rebuilt."""


def decode_chunk(blob: bytes | memoryview, with_ids: bool = True) -> Chunk:
    """A chunk from its stored form (``with_ids=False`` leaves :attr:`Chunk.ids` as many empty
    strings: reports without a ticket filter never read them)."""
    data = bytes(blob) if isinstance(blob, memoryview) else blob
    if data[:4] != _MAGIC:
        raise ChunkFormatError("not a report column chunk")
    (hlen,) = struct.unpack_from("<I", data, 4)
    header = json.loads(data[8 : 8 + hlen])
    if header.get("format") != FORMAT:
        raise ChunkFormatError(f"chunk format {header.get('format')!r}")
    pos = 8 + hlen
    n_ids = int(header["ids"])
    ids = json.loads(data[pos : pos + n_ids]) if with_ids else [""] * int(header["n"])
    pos += n_ids
    pos += -pos % 8
    arrays: dict[str, Any] = {}
    base = int(header["base"])
    for name, dtype, size in header["arrays"]:
        if dtype == "<i4+":  # whole seconds from the base (durations: from 0)
            raw = np.frombuffer(data, dtype="<i4", count=size // 4, offset=pos)
            value = raw.astype(np.float64)
            if name not in _DURATIONS:
                value += base
            value[raw == _NONE32] = NAN
            arrays[name] = value
        else:
            arrays[name] = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize,
                                         offset=pos)  # fmt: skip
        pos += size + (-size % 8)
    return Chunk(ids, list(header["strings"]), arrays)
