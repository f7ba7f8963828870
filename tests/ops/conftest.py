"""Fixtures of the operations tests: a workspace with a small local helpdesk.

The workspace's store is the parametrized ``store_factory``: every operations test runs on
SQLite and again on a real PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cstoolkit.cli import cli
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import Store
from tests.conftest import StoreFactory

BASE = """
[backends.desk]
plugin = "local"
path = "desk.jsonl"
page_size = 40
"""


@dataclass
class Workspace:
    root: Path
    config: Path
    stores: StoreFactory

    @property
    def kind(self) -> str:
        return self.stores.kind

    @property
    def store_path(self) -> Path:
        """The SQLite file (SQLite workspaces only)."""
        return self.stores.path

    def store(self, *, migrate: bool = True) -> Store:
        return self.stores(migrate=migrate)

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(self.stores.config_toml() + BASE + extra, "utf-8")

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args])

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The real entry point in a subprocess (exit codes mapped by cstoolkit.cli.main)."""
        return subprocess.run(
            [sys.executable, "-m", "cstoolkit", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=timeout,
            check=False,
        )

    def run_json(self, *args: str) -> tuple[int, Any]:
        proc = self.run(*args)
        return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else None

    def append(self, *records: dict[str, Any]) -> None:
        with open(self.root / "desk.jsonl", "a", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec) + "\n")


@pytest.fixture
def ws(tmp_path: Path, store_factory: StoreFactory) -> Workspace:
    spec = SampleSpec(
        tickets=80, days=20, seed=5, end=datetime.fromisoformat("2026-03-01T00:00:00+00:00")
    )
    generate_file(spec, tmp_path / "desk.jsonl")
    w = Workspace(tmp_path, tmp_path / "cstoolkit.toml", store_factory)
    w.write_config()
    return w


@pytest.fixture
def synced(ws: Workspace) -> Workspace:
    result = ws.invoke("sync", "pull")
    assert result.exit_code == 0, result.output
    return ws
