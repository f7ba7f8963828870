"""Fixtures for the survey tests; plugin distributions under plugins/ are importable here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .helpers import KEY, KEY_ENV

ROOT = Path(__file__).resolve().parents[2]
for plugin_dir in sorted((ROOT / "plugins").glob("cstoolkit-*")):
    src = plugin_dir / "src"
    path = str(src if src.is_dir() else plugin_dir)
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture(autouse=True)
def _signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
