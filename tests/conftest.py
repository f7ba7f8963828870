"""Shared fixtures for the core test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own config, keys or plugins by accident."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("CSTOOLKIT_KEYS_FILE", str(home / "keys.json"))
    for var in (
        "CSTOOLKIT_CONFIG",
        "CSTOOLKIT_LOAD_PLUGINS",
        "CSTOOLKIT_DISABLE_PLUGINS",
        "CSTOOLKIT_STRICT_PLUGINS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def require_servers() -> bool:
    """Under CI (CSTOOLKIT_REQUIRE_SERVERS=1) a missing real server fails instead of skipping."""
    return os.environ.get("CSTOOLKIT_REQUIRE_SERVERS", "") not in ("", "0")
