"""Skip-or-fail for tests that need a real server or browser."""

from __future__ import annotations

import os

import pytest


def require_servers() -> bool:
    return os.environ.get("CSTOOLKIT_REQUIRE_SERVERS", "") not in ("", "0")


def require_or_skip(available: bool, why: str) -> None:
    if available:
        return
    if require_servers():
        pytest.fail(f"{why} (CSTOOLKIT_REQUIRE_SERVERS=1)")
    pytest.skip(why)
