"""The pytest plugin: inert until asked, and each fixture doing what it says."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.builtin.channels import ConsoleChannel
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.testing import ChannelConformance, FakeBackend, NetworkBlockedError

ORIGINAL_CONNECT = socket.socket.connect


def test_importing_the_plugin_costs_nothing_and_changes_nothing() -> None:
    code = (
        "import socket, sys; before = socket.socket.connect; "
        "import cstoolkit.testing.plugin; "
        "assert socket.socket.connect is before; "
        "print(sorted(m for m in sys.modules if m.startswith(('cstoolkit', 'click', 'httpx'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.replace("'", '"')) == [
        "cstoolkit",
        "cstoolkit.__about__",
        "cstoolkit.testing",
        "cstoolkit.testing.plugin",
    ]


def test_the_plugin_is_registered_with_pytest(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("cstoolkit")
    markers = "\n".join(pytestconfig.getini("markers"))
    assert "no_network:" in markers


def test_network_is_open_without_the_fixture() -> None:
    assert socket.socket.connect is ORIGINAL_CONNECT


def test_no_network_blocks_remote_and_allows_loopback(no_network: None) -> None:
    with pytest.raises(NetworkBlockedError, match=r"192\.0\.2\.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        client = socket.create_connection(server.getsockname(), timeout=2)
        client.close()
    finally:
        server.close()


@pytest.mark.no_network
def test_the_marker_applies_the_fixture() -> None:
    assert socket.socket.connect is not ORIGINAL_CONNECT
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("198.51.100.7", 443), timeout=1)


class TestConformanceSuitesBlockTheNetwork(ChannelConformance):
    def make_channel(self, tmp_path: Path) -> ConsoleChannel:
        return ConsoleChannel("c", {}, MemoryKeyValue("c"))

    def test_network_blocked_in_a_suite_subclass(self) -> None:
        with pytest.raises(NetworkBlockedError):
            socket.getaddrinfo("api.example.com", 443)


def test_cst_runner_runs_cst_in_an_isolated_workspace(cst_runner: Any) -> None:
    assert cst_runner.config_path.is_file()
    result = cst_runner.invoke("plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    names = {row["name"] for row in json.loads(result.stdout)}
    assert "local" in names
    cst_runner.set_key("demo", "s3cret")
    assert json.loads(cst_runner.keys_path.read_text())["demo"] == "s3cret"
    assert str(cst_runner.home) in str(Path.home())


def test_cst_runner_maps_errors_to_exit_codes(cst_runner: Any) -> None:
    result = cst_runner.invoke("sync", "pull", "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr


def test_register_plugin_makes_the_cli_use_it(cst_runner: Any, register_plugin: Any) -> None:
    from cstoolkit.cli import app

    record = register_plugin(FakeBackend)
    assert record.status == "loaded"
    assert app.HOST_OVERRIDE is register_plugin.host
    cst_runner.write_config('[backends.f]\nplugin = "fake"\ntickets = 12\n', append=True)
    result = cst_runner.invoke("sync", "pull", "f", "--json")
    assert result.exit_code == 0, result.output
    listed = cst_runner.invoke("tickets", "list", "--json")
    assert len(json.loads(listed.stdout)) == 12
    plugins = json.loads(cst_runner.invoke("plugins", "list", "--json").stdout)
    assert any(p["registers"].get("backend") == ["fake"] for p in plugins)


def test_register_plugin_reports_a_broken_plugin(register_plugin: Any) -> None:
    import types

    from cstoolkit.hookspecs import hookimpl

    broken = types.ModuleType("broken")

    @hookimpl
    def register_backends(register: Any) -> None:
        raise ValueError("boom")

    broken.register_backends = register_backends  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="boom"):
        register_plugin(broken)


def test_host_override_is_reset_after_the_fixture() -> None:
    from cstoolkit.cli import app

    assert app.HOST_OVERRIDE is None


def test_fake_backend_fixture_is_the_class(fake_backend: type) -> None:
    backend = fake_backend("x", {"tickets": 3, "page_size": 2}, MemoryKeyValue("x"))
    pages = list(backend.pull(None))
    assert [len(p.tickets) for p in pages] == [2, 1]
    assert backend.capabilities >= {"tickets.write", "tickets.create", "conflict_check"}


def test_kit_fixtures_block_the_network_by_default(cst_runner: Any, fake_backend: type) -> None:
    assert socket.socket.connect is not ORIGINAL_CONNECT
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("api.example.com", 443)


@pytest.mark.allow_network
def test_allow_network_opts_out(cst_runner: Any) -> None:
    assert socket.socket.connect is ORIGINAL_CONNECT
