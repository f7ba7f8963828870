"""Fixtures for the triage tests: a small sample helpdesk synced into a store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cstoolkit.model import Channel, Event, EventKind, Person, Priority, Role, Status, Ticket

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"

CONFIG = """\
roster = "roster.yaml"

[store]
path = "cstoolkit.db"

[backends.demo]
plugin = "local"
path = "helpdesk.jsonl"

[channels.out]
plugin = "outbox"
path = "outbox"

[calendars.madrid]
timezone = "Europe/Madrid"
hours = { mon-fri = "09:00-18:00" }

[sla.standard]
calendar = "madrid"
first_reply = { urgent = "1h", high = "4h", normal = "8h", low = "16h" }
resolution = "40h"
"""


@dataclass
class Workspace:
    dir: Path
    config: Path
    helpdesk: Path

    def args(self, *rest: str) -> list[str]:
        return ["--config", str(self.config), *rest]


@pytest.fixture(scope="session")
def _sample_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample helpdesk and its synced store, built once per session."""
    from cstoolkit.config import build_instance, load_config
    from cstoolkit.host import Host
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store import open_store
    from cstoolkit.sync import pull

    base = tmp_path_factory.mktemp("triage-sample")
    (base / "cstoolkit.toml").write_text(CONFIG)
    shutil.copy(RECIPES / "roster.example.yaml", base / "roster.yaml")
    end = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a fixed period: results do not drift
    generate_file(SampleSpec(tickets=400, days=30, seed=7, end=end), base / "helpdesk.jsonl")
    config = load_config(base / "cstoolkit.toml")
    store = open_store(config.store_path)
    pull(store, build_instance(config, Host().load(), "backends", "demo", store))
    store.close()
    return base


@pytest.fixture
def workspace(_sample_template: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh copy of the sample workspace for one test (it may write to it)."""
    target = tmp_path / "ws"
    shutil.copytree(_sample_template, target)
    yield Workspace(target, target / "cstoolkit.toml", target / "helpdesk.jsonl")


def ticket(
    n: int = 1,
    *,
    subject: str = "Help",
    status: str = "open",
    priority: str = "normal",
    channel: str = "email",
    tags: list[str] | None = None,
    group: str | None = "demo:general",
    assignee: str | None = None,
    created: datetime | None = None,
    language: str | None = "en",
    custom: dict[str, object] | None = None,
    description: str = "",
) -> Ticket:
    at = created or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return Ticket(
        id=f"demo:{n}",
        instance="demo",
        external_id=str(n),
        subject=subject,
        status=Status(status),
        created_at=at,
        updated_at=at,
        priority=Priority(priority),
        channel=Channel(channel),
        description=description,
        requester_id="demo:c1",
        assignee_id=assignee,
        group_id=group,
        tags=list(tags or []),
        language=language,
        custom_fields=dict(custom or {}),
    )


def person(plan: str = "free", email: str = "ana@example.com") -> Person:
    return Person(
        id="demo:c1",
        instance="demo",
        external_id="c1",
        role=Role.REQUESTER,
        name="Ana Lima",
        email=email,
        plan=plan,
        organization="Acme",
        language="en",
    )


_counter = [0]


def event(
    kind: str,
    at: datetime,
    role: str | None = None,
    *,
    public: bool | None = None,
    old: str | None = None,
    new: str | None = None,
    author: str | None = None,
    body: str | None = None,
    data: dict[str, object] | None = None,
    ticket_id: str = "demo:1",
) -> Event:
    _counter[0] += 1
    return Event(
        id=f"e{_counter[0]}",
        ticket_id=ticket_id,
        kind=EventKind(kind),
        at=at,
        author_id=author,
        author_role=Role(role) if role else None,
        public=public,
        body=body,
        old=old,
        new=new,
        data=dict(data or {}),
    )
