"""Fixtures of the sync tests: a workspace with local helpdesks and helpers to run `cst`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cstoolkit.cli import cli
from cstoolkit.config import build_instance, load_config
from cstoolkit.host import Host
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import SQLiteStore, open_store

SAMPLE_END = "2026-03-01T00:00:00+00:00"


def sample(path: Path, tickets: int, seed: int = 11, days: int = 20) -> None:
    from datetime import datetime

    spec = SampleSpec(tickets=tickets, days=days, seed=seed, end=datetime.fromisoformat(SAMPLE_END))
    generate_file(spec, path)


def append(path: Path, *records: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")


@dataclass
class Workspace:
    root: Path
    config: Path

    @staticmethod
    def append(path: Path, *records: dict[str, Any]) -> None:
        append(path, *records)

    def write_config(self, text: str) -> None:
        self.config.write_text(text, "utf-8")

    @property
    def store_path(self) -> Path:
        return self.root / "cstoolkit.db"

    def store(self) -> SQLiteStore:
        return open_store(self.store_path)

    def backend(self, name: str, store: SQLiteStore | None = None) -> Any:
        return build_instance(load_config(self.config), Host().load(), "backends", name, store)

    def invoke(self, *args: str) -> Result:
        """Run `cst` in-process (exit codes from sys.exit in commands are kept)."""
        return CliRunner().invoke(cli, ["--config", str(self.config), *args])

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run the real entry point in a subprocess (exit codes mapped by cstoolkit.cli.main)."""
        return subprocess.run(
            [sys.executable, "-m", "cstoolkit", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=120,
            check=False,
        )

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "cstoolkit", "--config", str(self.config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )


LOCAL_PAIR = """
[backends.desk]
plugin = "local"
path = "desk.jsonl"
page_size = 40

[backends.copy]
plugin = "local"
path = "copy.jsonl"
page_size = 40

[backends.frozen]
plugin = "local"
path = "copy.jsonl"
read_only = true
"""


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """desk (120 sample tickets), copy (empty) and frozen (read_only view of copy)."""
    sample(tmp_path / "desk.jsonl", 120)
    (tmp_path / "copy.jsonl").touch()
    config = tmp_path / "cstoolkit.toml"
    config.write_text(LOCAL_PAIR, "utf-8")
    return Workspace(tmp_path, config)


@pytest.fixture
def pull_json() -> Callable[[Result], dict[str, dict[str, Any]]]:
    def parse(result: Result) -> dict[str, dict[str, Any]]:
        data = json.loads(result.stdout)
        return {s["instance"]: s for s in data["instances"]}

    return parse
