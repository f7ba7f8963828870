"""Deterministic synthetic helpdesk data, written in the local backend's JSON Lines format.

``cst sample generate`` calls :func:`generate_file`. The output is meant to look like a real
Spanish/English/Portuguese support desk so that metrics, routing recipes and reports have
something believable to chew on:

* arrivals follow an hour-of-day and weekday profile in Europe/Madrid local time;
* customers come from a pool of ~tickets/3 and some of them write much more often than others;
* every ticket has a full event history (routing, replies, internal notes, pending and on-hold
  periods, escalations, reopenings, automatic closing) cut off at the end of the period, so the
  last days naturally hold a backlog of unsolved tickets.

Design constraints:

* **Deterministic.** Everything derives from ``spec.seed`` through :class:`random.Random` (whose
  algorithms are stable across CPython releases) and a 64-bit integer hash, never from
  ``hash()`` or the clock, so the same spec gives byte-identical output. Madrid's daylight saving
  rule is computed here rather than read from the system's tz database for the same reason.
* **Streaming.** Arrivals are drawn hour by hour in time order and each ticket is written as soon
  as it is simulated. Memory is bounded by one hour's arrivals plus one byte per customer in the
  pool (whether its ``person`` line was written yet): about 0.4 MB for a million tickets.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cstoolkit.errors import UsageError
from cstoolkit.model import now
from cstoolkit.synthetic.desk import Customers as _Customers
from cstoolkit.synthetic.desk import Roster as _Roster
from cstoolkit.synthetic.desk import Timestamps as _Timestamps
from cstoolkit.synthetic.desk import arrivals as _arrivals
from cstoolkit.synthetic.desk import make_agents as _make_agents
from cstoolkit.synthetic.simulation import Context as _Context
from cstoolkit.synthetic.simulation import ticket_record as _ticket_record
from cstoolkit.synthetic.vocabulary import DAY as _DAY
from cstoolkit.synthetic.vocabulary import GROUPS as _GROUPS

__all__ = ["SampleSpec", "SampleStats", "generate", "generate_file"]


@dataclass
class SampleSpec:
    """What to generate.

    ``end`` is the (aware) end of the period, truncated to the second; arrivals fall in
    ``[end - days, end)`` and no event is later than ``end``. The default is today's midnight UTC
    so that quickstart data always looks current. ``agents`` defaults to a head count that scales
    with the daily volume: ``max(8, tickets / days / 12)``, capped at 200.
    """

    tickets: int = 5000
    days: int = 90
    seed: int = 1
    end: datetime | None = None
    agents: int | None = None
    #: Add customers' survey answers (CSAT, some NPS) after solves (see
    #: :func:`cstoolkit.synthetic.simulation.survey_answers`). Off by default, so the default
    #: output (and the benchmarks' inputs) stay as they were; drawn from their own random
    #: stream, so the rest of the file is the same either way.
    survey_answers: bool = False
    #: Rewrite first messages realistically (paraphrases, typos, mixed languages, two topics,
    #: vague messages) and let agents correct about 5% of the routing trigger's groups (one
    #: ``group_change`` event each): see :mod:`cstoolkit.synthetic.text`. On for quickstart and
    #: ``cst sample generate``; off by default so the benchmarks' inputs keep their events.
    realistic_text: bool = False


@dataclass
class SampleStats:
    """What was written: line counts by kind and the size in bytes (UTF-8)."""

    tickets: int
    events: int
    people: int
    groups: int
    bytes: int


# -- output ------------------------------------------------------------------------------------


def _check(spec: SampleSpec) -> int:
    """Validate ``spec`` and return the end of the period in epoch seconds."""
    if spec.tickets < 1:
        raise UsageError(f"--tickets must be at least 1 (got {spec.tickets})")
    if spec.days < 1:
        raise UsageError(f"--days must be at least 1 (got {spec.days})")
    if spec.agents is not None and spec.agents < 1:
        raise UsageError(f"agents must be at least 1 (got {spec.agents})")
    end = spec.end
    if end is None:
        end = now().replace(hour=0, minute=0, second=0, microsecond=0)
    elif end.tzinfo is None:
        raise UsageError(f"the end of the period needs a time zone: {end.isoformat()}")
    return math.floor(end.timestamp())


class _Writer:
    """Writes one JSON object per line and keeps the counts."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.bytes = 0
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def __call__(self, record: dict[str, Any]) -> None:
        line = self._dumps(record) + "\n"
        self.out.write(line)
        self.bytes += len(line) if line.isascii() else len(line.encode())


def generate(
    spec: SampleSpec, out: IO[str], on_progress: Callable[[int], None] | None = None
) -> SampleStats:
    """Write the sample helpdesk described by ``spec`` to ``out``, a text stream.

    Lines come in the order a reader needs them: groups, agents, then tickets in ``created_at``
    order, each preceded by its requester's ``person`` line the first time that customer
    appears. ``on_progress(tickets written)`` is called every 1,000 tickets.
    """
    end = _check(spec)
    start = end - spec.days * _DAY
    write = _Writer(out)
    for gid, name in _GROUPS:
        write({"type": "group", "id": gid, "name": name})
    agents = _make_agents(spec)
    for agent in agents:
        write(agent.record)
    rng = random.Random(f"cst-sample/{spec.seed}/tickets")
    surveys = random.Random(f"cst-sample/{spec.seed}/surveys") if spec.survey_answers else None
    text = random.Random(f"cst-sample/{spec.seed}/text") if spec.realistic_text else None
    ctx = _Context(rng, _Roster(agents), end, _Timestamps(), surveys, text)
    customers = _Customers(spec.seed, max(1, spec.tickets // 3))
    people, events = len(agents), 0
    for n, created in enumerate(_arrivals(rng, spec.tickets, start, end), start=1):
        req = customers.draw(rng)
        person = customers.first_use(req)
        if person is not None:
            write(person)
            people += 1
        record = _ticket_record(ctx, str(n), created, req)
        events += len(record["events"])
        write(record)
        if on_progress is not None and n % 1000 == 0:
            on_progress(n)
    return SampleStats(spec.tickets, events, people, len(_GROUPS), write.bytes)


def generate_file(
    spec: SampleSpec, path: Path, on_progress: Callable[[int], None] | None = None
) -> SampleStats:
    """Write the sample to ``path`` atomically.

    The data goes to a temporary file in the same directory, which is flushed, synced and then
    renamed over ``path``, so a crash or an error leaves either the old file or the complete new
    one, never half of it (and no temporary file behind).
    """
    path = Path(path)
    _check(spec)  # fail before creating anything
    tmp = _create_temp(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
            stats = generate(spec, fh, on_progress)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_dir(path.parent)
    return stats


def _create_temp(path: Path) -> Path:
    """Create an empty, uniquely named temporary file next to ``path`` (mode 0666 & ~umask)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise OSError(f"could not create a temporary file next to {path}")


def _sync_dir(directory: Path) -> None:
    """Make the rename durable; best effort (not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
