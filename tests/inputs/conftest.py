"""Fixtures for the hostile-input tests: the real CLI in-process and a small workspace.

Every test here states one property: whatever a person writes (a recipe, a query, a roster, a
template, a helpdesk line), cst either succeeds or says what is wrong in one line and exits
with its documented code; it never shows a traceback or an "internal error", and a resource
bomb is stopped by a limit (the limit's own error is asserted, never a timing).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import sample_workspace

ROSTER = """\
timezone: Europe/Madrid
groups:
  general: {tier: 1}
  technical: {tier: 2}
tiers: {2: technical}
agents:
  - {id: a1, groups: [general], tier: 1, capacity: {email: 10}}
  - {id: a2, groups: [technical], tier: 2}
"""


@dataclass
class Outcome:
    """What one ``cst`` invocation did."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"cst {' '.join(self.args)[:300]} -> {self.exit_code}\n{self.stderr[-3000:]}"


class _Main:
    """Lets click's CliRunner run ``cstoolkit.cli.main``: the real error -> exit code mapping."""

    name = "cst"

    def main(self, args: Any = (), prog_name: str | None = None, **_: Any) -> Any:
        from cstoolkit.cli import main

        return main(list(args))


def assert_clean(out: Outcome, allowed: tuple[int, ...] = (0, 2)) -> None:
    """The property every test here checks on a CLI outcome."""
    text = out.stdout + out.stderr
    assert "Traceback" not in text, str(out)
    assert "internal error" not in text, str(out)
    assert out.exit_code in allowed, str(out)
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    if out.exit_code == 2:
        assert errors, f"exit 2 without an error line\n{out}"
    for line in errors:
        assert len(line) < 2000, f"an error longer than a line\n{out}"


@pytest.fixture(scope="session")
def loaded_host() -> Any:
    from cstoolkit.host import Host

    return Host().load()


@pytest.fixture
def cst(loaded_host: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Outcome]:
    """``cst(*args)`` runs the real command line in this process (plugins loaded once)."""
    from click.testing import CliRunner

    from cstoolkit.cli import app

    monkeypatch.setattr(app, "HOST_OVERRIDE", loaded_host)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Outcome:
        result = runner.invoke(_Main(), list(args), input=input)  # type: ignore[arg-type]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a bug in the test harness or an escaped exception
        return Outcome(tuple(args), result.exit_code, result.stdout, result.stderr)

    return run


@dataclass
class Workspace:
    dir: Path

    @property
    def config(self) -> Path:
        return self.dir / "cstoolkit.toml"

    def args(self, *rest: str) -> tuple[str, ...]:
        return ("--config", str(self.config), *rest)


@pytest.fixture(scope="session")
def _workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample helpdesk synced into a store, built once per session."""
    base = tmp_path_factory.mktemp("inputs-workspace")
    end = datetime(2026, 3, 2, tzinfo=UTC)
    return sample_workspace.build(base, roster=ROSTER, tickets=60, days=20, seed=3, end=end)


@pytest.fixture
def workspace(_workspace_template: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh copy of the sample workspace for one test."""
    target = tmp_path / "ws"
    shutil.copytree(_workspace_template, target)
    yield Workspace(target)
