"""The cstoolkit pytest plugin (entry point ``pytest11: cstoolkit``).

Loaded by pytest in every run where cstoolkit is installed, so it stays inert: it imports only
the standard library at module level, registers the ``no_network`` marker, and does nothing
else unless a test asks for one of its fixtures:

``cst_runner``
    runs ``cst`` in-process in a temporary workspace (``cstoolkit.toml``, store, isolated
    HOME, config dir and keys file); exit codes are those of the real ``cst``.
``register_plugin``
    registers a plugin module, object or class on a fresh :class:`~cstoolkit.host.Host` for
    the duration of the test; commands run through ``cst_runner`` use that host.
``fake_backend``
    the :class:`~cstoolkit.testing.fake.FakeBackend` class (in memory, every capability).
``no_network``
    connections to anything but loopback raise :class:`NetworkBlockedError`; the
    ``@pytest.mark.no_network`` marker applies it to a test or class.

A test that uses ``cst_runner``, ``register_plugin`` or ``fake_backend`` gets ``no_network``
too: the network is blocked by default wherever the kit is in use. Mark a test
``@pytest.mark.allow_network`` to opt out. Tests that use none of the kit's fixtures are left
exactly as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from click.testing import Result

    from cstoolkit.host import Host, PluginRecord

MARKER = "no_network"
ALLOW_MARKER = "allow_network"
DEFAULT_CONFIG = '[store]\npath = "cstoolkit.db"\n'
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: block connections to anything but loopback (cstoolkit.testing).",
    )
    config.addinivalue_line(
        "markers",
        f"{ALLOW_MARKER}: let a test using cstoolkit.testing fixtures reach the network.",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker(MARKER) is not None:
            names = getattr(item, "fixturenames", None)
            if isinstance(names, list) and MARKER not in names:
                names.insert(0, MARKER)


# -- no_network ------------------------------------------------------------------------------


class NetworkBlockedError(RuntimeError):
    """A test under ``no_network`` tried to reach a non-loopback address."""


def _is_loopback(host: Any) -> bool:
    import ipaddress

    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard_address(address: Any, family: Any) -> None:
    import socket

    if hasattr(socket, "AF_UNIX") and family == socket.AF_UNIX:
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback(host):
        raise NetworkBlockedError(
            f"network access to {host!r} blocked by cstoolkit.testing no_network "
            "(only loopback is allowed; mock the API or use a 127.0.0.1 server)"
        )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block connections (and name lookups) to anything but loopback for this test."""
    import socket

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        _guard_address(address, self.family)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        _guard_address(address, self.family)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            _guard_address((host, 0), None)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def _kit_network(request: pytest.FixtureRequest) -> None:
    """The kit's fixtures block the network unless the test is marked ``allow_network``."""
    if request.node.get_closest_marker(ALLOW_MARKER) is None:
        request.getfixturevalue(MARKER)


# -- cst_runner ------------------------------------------------------------------------------


class _MainCommand:
    """Lets click's CliRunner run ``cstoolkit.cli.main`` (error -> exit code mapping included)."""

    name = "cst"

    def main(self, args: Sequence[str] = (), prog_name: str | None = None, **_: Any) -> Any:
        from cstoolkit.cli import main

        return main(list(args))


class CstRunner:
    """Runs ``cst`` in a temporary workspace; see :func:`cst_runner`."""

    def __init__(self, workspace: Path, home: Path) -> None:
        self.workspace = workspace
        self.home = home
        self.config_path = workspace / "cstoolkit.toml"
        self.keys_path = home / "keys.json"

    def write_config(self, text: str, *, append: bool = False) -> Path:
        """Write (or append to) the workspace's cstoolkit.toml; returns its path."""
        if append:
            text = self.config_path.read_text("utf-8") + "\n" + text
        self.config_path.write_text(text, "utf-8")
        return self.config_path

    def set_key(self, name: str, value: str) -> None:
        """Store a secret in the isolated keys file (referenced as ``key:NAME``)."""
        from cstoolkit.secrets import set_key

        set_key(name, value, self.keys_path)

    def invoke(self, *args: str, input: str | None = None, config: bool = True) -> Result:
        """Run ``cst [--config WORKSPACE/cstoolkit.toml] ARGS``; returns click's Result."""
        from click.testing import CliRunner

        argv = ["--config", str(self.config_path), *args] if config else list(args)
        try:  # click 8.1 mixes stderr into stdout unless told not to; 8.2 keeps both apart
            runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
        except TypeError:
            runner = CliRunner()
        return runner.invoke(_MainCommand(), argv, input=input)  # type: ignore[arg-type]

    def store(self) -> Any:
        """Open the workspace's store (close it when done)."""
        from cstoolkit.store import open_store

        return open_store(self.workspace / "cstoolkit.db")


@pytest.fixture
def cst_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _kit_network: None) -> CstRunner:
    """A CLI runner over a temporary workspace with an isolated HOME and keys file."""
    workspace = tmp_path / "cst-workspace"
    home = tmp_path / "cst-home"
    workspace.mkdir()
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("CSTOOLKIT_KEYS_FILE", str(home / "keys.json"))
    for var in (
        "CSTOOLKIT_CONFIG",
        "CSTOOLKIT_LOAD_PLUGINS",
        "CSTOOLKIT_DISABLE_PLUGINS",
        "CSTOOLKIT_STRICT_PLUGINS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(workspace)
    runner = CstRunner(workspace, home)
    runner.write_config(DEFAULT_CONFIG)
    return runner


# -- register_plugin -------------------------------------------------------------------------


class PluginRegistrar:
    """The ``register_plugin`` fixture's value: call it with a plugin; ``.host`` is the host."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._count = 0

    def __call__(self, plugin: Any, name: str | None = None) -> PluginRecord:
        """Register a module or object with hook implementations, or a plugin class.

        A Backend / Channel / SurveyProvider subclass is wrapped in a tiny plugin that registers
        it. Raises if the plugin fails to load (the host's error message is shown).
        """
        from cstoolkit.plugin import PluginBase

        self._count += 1
        if isinstance(plugin, type) and issubclass(plugin, PluginBase):
            plugin = _wrap_class(plugin)
        label = name or getattr(plugin, "__name__", None) or f"test-plugin-{self._count}"
        record = self.host.register_plugin(plugin, str(label))
        if record.status != "loaded":
            raise RuntimeError(f"plugin {label!r} did not load: {record.error}")
        return record


def _wrap_class(cls: type) -> Any:
    import types

    from cstoolkit.hookspecs import hookimpl

    hook = {
        "backend": "register_backends",
        "channel": "register_channels",
        "survey_provider": "register_survey_providers",
    }[cls.kind]  # type: ignore[attr-defined]

    def register(register: Callable[[Any], None]) -> None:
        register(cls)

    register.__name__ = hook
    module = types.ModuleType(f"cst_test_plugin_{cls.__name__}")
    setattr(module, hook, hookimpl(register))
    return module


@pytest.fixture
def register_plugin(_kit_network: None) -> Iterator[PluginRegistrar]:
    """Register plugins on a fresh host (built-ins only) that the CLI uses for this test."""
    from cstoolkit.cli import app
    from cstoolkit.host import Host

    host = Host(entry_points=[], env=dict(os.environ)).load()
    previous = app.HOST_OVERRIDE
    app.HOST_OVERRIDE = host
    try:
        yield PluginRegistrar(host)
    finally:
        app.HOST_OVERRIDE = previous


# -- fake_backend ----------------------------------------------------------------------------


@pytest.fixture
def fake_backend(_kit_network: None) -> type:
    """The in-memory :class:`~cstoolkit.testing.fake.FakeBackend` class (every capability)."""
    from cstoolkit.testing.fake import FakeBackend

    return FakeBackend
