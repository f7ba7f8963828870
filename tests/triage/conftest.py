"""Fixtures for the triage tests: a small sample helpdesk synced into a store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cstoolkit.model import Channel, Event, EventKind, Person, Priority, Role, Status, Ticket
from tests import sample_workspace

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"


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
    base = tmp_path_factory.mktemp("triage-sample")
    end = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a fixed period: results do not drift
    roster = (RECIPES / "roster.example.yaml").read_text()
    return sample_workspace.build(base, roster=roster, tickets=400, days=30, seed=7, end=end)


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
