"""Builders for survey tests: a small local helpdesk, a config, a synced store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

KEY_ENV = "CST_TEST_SURVEY_KEY"
KEY = "test-signing-key-0123456789abcdef"
LANGS = ("es", "en", "pt")


def z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket(
    tid: int,
    requester: str,
    solved: datetime,
    *,
    created: datetime | None = None,
    status: str = "solved",
    tags: list[str] | None = None,
    channel: str = "email",
    created_by: tuple[str, str] | None = None,
    reopened: bool = False,
) -> dict[str, Any]:
    created = created or solved - timedelta(hours=3)
    author, role = created_by or (requester, "requester")
    events: list[dict[str, Any]] = [
        {
            "id": f"{tid}-1",
            "kind": "created",
            "at": z(created),
            "author": author,
            "role": role,
            "public": True,
            "body": "help",
        },
        {
            "id": f"{tid}-2",
            "kind": "comment",
            "at": z(created + timedelta(minutes=30)),
            "author": "a1",
            "role": "agent",
            "public": True,
            "body": "answer",
        },
    ]
    if reopened:
        first = solved - timedelta(hours=2)
        events += [
            {
                "id": f"{tid}-3",
                "kind": "status_change",
                "at": z(first),
                "author": "a1",
                "role": "agent",
                "old": "open",
                "new": "solved",
            },
            {
                "id": f"{tid}-4",
                "kind": "status_change",
                "at": z(first + timedelta(minutes=30)),
                "author": requester,
                "role": "requester",
                "old": "solved",
                "new": "open",
            },
        ]
    events.append(
        {
            "id": f"{tid}-9",
            "kind": "status_change",
            "at": z(solved),
            "author": "a1",
            "role": "agent",
            "old": "open",
            "new": "solved",
        }
    )
    return {
        "type": "ticket",
        "id": str(tid),
        "subject": f"Problem number {tid}",
        "status": status,
        "priority": "normal",
        "channel": channel,
        "requester": requester,
        "assignee": "a1",
        "group": "general",
        "tags": tags or [],
        "created_at": z(created),
        "updated_at": z(solved),
        "solved_at": z(solved),
        "events": events,
    }


def person(
    pid: str,
    *,
    lang: str = "en",
    email: str | None = None,
    role: str = "requester",
    tz: str = "UTC",
    plan: str = "paid",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "person",
        "id": pid,
        "role": role,
        "name": f"Person {pid.upper()}",
        "email": email if email is not None else f"{pid}@customer.example",
        "language": lang,
        "timezone": tz,
        "plan": plan,
        **extra,
    }


def write_helpdesk(path: Path, records: list[dict[str, Any]]) -> None:
    base = [
        {"type": "group", "id": "general", "name": "General"},
        {
            "type": "person",
            "id": "a1",
            "role": "agent",
            "name": "Ana Agent",
            "email": "ana@support.example",
            "language": "es",
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in base + records), "utf-8")


def simple_desk(path: Path, n: int, now: datetime, *, solved_ago: timedelta = timedelta(days=2)):
    """n requesters, one solved ticket each, languages rotating es/en/pt."""
    records: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        records.append(person(f"c{i}", lang=LANGS[i % 3]))
        records.append(ticket(i, f"c{i}", now - solved_ago - timedelta(minutes=i)))
    write_helpdesk(path, records)


@dataclass
class Workspace:
    dir: Path
    config: Path

    @property
    def store_path(self) -> Path:
        return self.dir / "cstoolkit.db"

    @property
    def outbox(self) -> Path:
        return self.dir / "outbox"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env[KEY_ENV] = KEY
        env["CSTOOLKIT_CONFIG"] = str(self.config)
        return env

    def cst(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: PLW1510 - callers check returncode
            [sys.executable, "-m", "cstoolkit", *args],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            cwd=self.dir,
        )

    def load(self) -> tuple[Any, Any, Any]:
        from cstoolkit.config import load_config
        from cstoolkit.host import Host
        from cstoolkit.store import open_store

        config = load_config(self.config)
        return config, Host().load(), open_store(config.store_path)


CONFIG = """\
[store]
path = "cstoolkit.db"

[backends.demo]
plugin = "local"
path = "helpdesk.jsonl"

{channels}

[surveys.csat]
plugin = "builtin"
kind = "csat"
channel = "{channel}"
signing_keys = {{ k1 = "env:{key_env}" }}
public_url = "http://127.0.0.1:8765"
brand = "Acme"
delay = "1h"
max_age = "7d"
fatigue_days = 0
{extra}
"""

OUTBOX = """\
[channels.outbox]
plugin = "outbox"
path = "outbox"
"""


def make_workspace(
    directory: Path,
    *,
    channels: str = OUTBOX,
    channel: str = "outbox",
    extra: str = "",
    sync: bool = True,
) -> Workspace:
    directory.mkdir(parents=True, exist_ok=True)
    cfg = directory / "cstoolkit.toml"
    cfg.write_text(
        CONFIG.format(channels=channels, channel=channel, key_env=KEY_ENV, extra=extra), "utf-8"
    )
    ws = Workspace(directory, cfg)
    if sync:
        sync_store(ws)
    return ws


def sync_store(ws: Workspace) -> None:
    from cstoolkit.config import build_instance
    from cstoolkit.sync import pull

    config, host, store = ws.load()
    try:
        pull(store, build_instance(config, host, "backends", "demo", store))
    finally:
        store.close()
