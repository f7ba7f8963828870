"""Where the headless-browser tests find Chromium, and what they say when it is missing.

``CSTOOLKIT_CHROMIUM`` names the program; otherwise ``chromium`` (Debian) or
``chromium-browser`` (Ubuntu) on PATH. Each test starts its own browser with its own profile
directory under its ``tmp_path`` and a port chosen by the browser, so parallel workers never
share one.
"""

from __future__ import annotations

import os
import shutil

from tests.conftest import skip_or_fail

ENV = "CSTOOLKIT_CHROMIUM"
ENABLE = f"apt-get install chromium, or set {ENV}=/path/to/chromium"


def find() -> str | None:
    """The Chromium program to run, or None when there is none here."""
    named = os.environ.get(ENV)
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require() -> str:
    """The Chromium program; skips the test (fails under CSTOOLKIT_REQUIRE_SERVERS=1) without."""
    program = find()
    if program is None:
        where = os.environ.get(ENV)
        skip_or_fail(f"{ENV}={where} is not executable" if where else "chromium is not installed",
                     ENABLE)  # fmt: skip
    return program
