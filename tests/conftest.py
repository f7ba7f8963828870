"""Shared fixtures for the core test suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from cstoolkit.store import Store, open_store
from tests.imapserver import IMAP_ENABLE, ImapServer
from tests.imapserver import start_server as start_imap
from tests.pgserver import PG_ENABLE, PgServer, start_server


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own config, keys or plugins by accident."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))  # crash reports
    monkeypatch.setenv("CSTOOLKIT_KEYS_FILE", str(home / "keys.json"))
    for var in (
        "CSTOOLKIT_CONFIG",
        "CSTOOLKIT_LOAD_PLUGINS",
        "CSTOOLKIT_DISABLE_PLUGINS",
        "CSTOOLKIT_STRICT_PLUGINS",
        "CSTOOLKIT_CRASH_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def require_servers() -> bool:
    """Under CI (CSTOOLKIT_REQUIRE_SERVERS=1) a missing real server fails instead of skipping."""
    return os.environ.get("CSTOOLKIT_REQUIRE_SERVERS", "") not in ("", "0")


def skip_or_fail(why: str, enable: str) -> NoReturn:
    """Skip a test whose server, browser, tool or data is missing here, saying ``why`` and how
    to ``enable`` it; under CSTOOLKIT_REQUIRE_SERVERS=1 (CI) fail instead."""
    message = f"{why}; to enable: {enable}"  # what every skip says (tests/test_skip_reasons.py)
    if require_servers():
        pytest.fail(f"{message} (CSTOOLKIT_REQUIRE_SERVERS=1 requires it)", pytrace=False)
    pytest.skip(message)


# -- Dovecot: one real IMAP server per test session -------------------------------------------


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    """One Dovecot IMAP server per test process (per xdist worker) on 127.0.0.1."""
    try:
        server = start_imap()
    except RuntimeError as exc:
        skip_or_fail(f"no IMAP server: {exc}", IMAP_ENABLE)
    yield server
    server.stop()


# -- PostgreSQL: one real server per test session, one fresh schema per test -----------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server per test process (per xdist worker): its own port and directory."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed", "pip install -e '.[test]'")
    try:
        server = start_server()
    except RuntimeError as exc:
        skip_or_fail(f"no PostgreSQL server: {exc}", PG_ENABLE)
    yield server
    server.stop()


@dataclass
class PgTarget:
    """A PostgreSQL store location: the server's URL and a schema of this test alone."""

    url: str
    schema: str

    def open(self, *, migrate: bool = True) -> Store:
        return open_store(self.url, schema=self.schema, migrate=migrate)

    def config_toml(self) -> str:
        return f'[store]\nurl = "{self.url}"\nschema = "{self.schema}"\n'


@pytest.fixture
def pg_target(pg_server: PgServer) -> Iterator[PgTarget]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield PgTarget(pg_server.url, schema)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


STORE_KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.server),
]


@dataclass
class StoreFactory:
    """Opens the same store (one SQLite file, or one PostgreSQL schema) as often as asked."""

    kind: str
    path: Path
    pg: PgTarget | None = None

    def __call__(self, *, migrate: bool = True) -> Store:
        if self.pg is not None:
            return self.pg.open(migrate=migrate)
        return open_store(self.path, migrate=migrate)

    @property
    def target(self) -> str:
        """What ``[store]`` names: the file, or the URL (the schema is in :attr:`pg`)."""
        return self.pg.url if self.pg is not None else str(self.path)

    def config_toml(self) -> str:
        return self.pg.config_toml() if self.pg is not None else f'[store]\npath = "{self.path}"\n'


@pytest.fixture(params=STORE_KINDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """The store test suite runs once on SQLite and once on a real PostgreSQL server."""
    if request.param == "postgresql":
        return StoreFactory("postgresql", tmp_path / "s.db", request.getfixturevalue("pg_target"))
    return StoreFactory("sqlite", tmp_path / "s.db")
