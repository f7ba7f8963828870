"""Fixtures of the request_tracker tests: a real RT 5 server for the session, and helpers.

The ``rt`` session fixture starts ``rt-server`` on 127.0.0.1 on a free port over a *copy* of
the installed SQLite database (see rt_server.py: RT reads the temporary site configuration named
by RT_SITE_CONFIG / RT_SITE_CONFIG_DIR, so the system install is never modified), creates an
auth token and the ``cst_marker`` / ``cst_tags`` custom fields, and stops the server at the end.
It skips when the Debian packages are absent, saying how to install them, unless
CSTOOLKIT_REQUIRE_SERVERS=1 (CI): then a missing or broken server is a failure. Under pytest-xdist
each worker that runs one of these tests starts its own server (its own port and directory).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import rt_server

REQUIRE_ENV = "CSTOOLKIT_REQUIRE_SERVERS"
HOW = "run .ci/setup-servers (installs Request Tracker 5; the tests start their own server)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server: needs a real server (skipped when absent)")


def _skip_or_fail(why: str) -> None:
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"{why}; to enable: {HOW} ({REQUIRE_ENV}=1 requires it)", pytrace=False)
    pytest.skip(f"{why}; to enable: {HOW}")


@pytest.fixture(scope="session")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rt_server.RT]:
    why = rt_server.missing()
    if why is not None:
        _skip_or_fail(f"Request Tracker 5 is not installed: {why}")
    workdir = tmp_path_factory.mktemp("rt")
    try:
        server = rt_server.start(workdir)
    except (RuntimeError, OSError) as exc:
        _skip_or_fail(f"Request Tracker server did not start: {exc}")
    handle = rt_server.RT(server)
    try:
        yield handle
    finally:
        handle.client.close()
        server.stop()
