"""The plugin host: loading order, fault isolation, env switches, collisions, disabled plugins.

Plugins here are real distributions: a ``*.dist-info`` folder with an ``entry_points.txt`` in a
directory put on ``sys.path``, found by importlib.metadata exactly as an installed wheel is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from cstoolkit.errors import PluginError
from cstoolkit.host import Host

InstallFn = Callable[..., None]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def install(site: Path) -> InstallFn:
    """Write a module and a distribution whose ``cstoolkit`` entry point names it."""

    def _install(dist: str, module: str, code: str, version: str = "1.0", ep: str | None = None):
        (site / f"{module}.py").write_text(textwrap.dedent(code))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[cstoolkit]\n{ep or module} = {module}\n")
        sys.modules.pop(module, None)

    return _install


GOOD = """
from cstoolkit import hookimpl
from cstoolkit.plugin import Backend

class GoodBackend(Backend):
    name = "{name}"

@hookimpl
def register_backends(register):
    register(GoodBackend)

@hookimpl
def register_metrics(register):
    class M:
        name = "good_metric"
    register(M)
"""


def test_builtins_load_first(install: InstallFn) -> None:
    host = Host().load()
    assert host.records[0].name == "local" and host.records[0].builtin
    assert host.get("backend", "local").name == "local"


def test_good_plugin_registers_every_kind(install: InstallFn) -> None:
    install("cstoolkit-good", "good_plugin", GOOD.format(name="good"), version="2.3")
    host = Host().load()
    record = next(r for r in host.records if r.name == "good_plugin")
    assert record.status == "loaded"
    assert record.distribution == "cstoolkit-good" and record.version == "2.3"
    assert record.registers == {"backend": ["good"], "metric": ["good_metric"]}
    assert host.get("backend", "good").name == "good"
    assert "good_metric" in host.names("metric")


def test_plugin_broken_at_import_is_reported_and_the_rest_work(install: InstallFn) -> None:
    install("cstoolkit-broken", "broken_import", "raise RuntimeError('boom at import')\n")
    install("cstoolkit-good", "good_plugin", GOOD.format(name="good"))
    host = Host().load()
    broken = next(r for r in host.records if r.name == "broken_import")
    assert broken.status == "error"
    assert broken.error == "RuntimeError: boom at import"
    assert host.get("backend", "good")


def test_plugin_broken_in_register_is_rolled_back(install: InstallFn) -> None:
    install(
        "cstoolkit-half",
        "half_plugin",
        """
        from cstoolkit import hookimpl
        from cstoolkit.plugin import Backend

        class Half(Backend):
            name = "half"

        @hookimpl
        def register_backends(register):
            register(Half)

        @hookimpl
        def register_channels(register):
            raise ValueError("no channels today")
        """,
    )
    host = Host().load()
    record = next(r for r in host.records if r.name == "half_plugin")
    assert record.status == "error" and "no channels today" in record.error
    assert "half" not in host.names("backend"), "a failing plugin's registrations are rolled back"
    assert not host.pm.has_plugin("half_plugin")


def test_unknown_hook_is_reported_with_a_suggestion(install: InstallFn) -> None:
    install(
        "cstoolkit-typo",
        "typo_plugin",
        """
        from cstoolkit import hookimpl

        @hookimpl
        def register_backend(register):
            pass
        """,
    )
    host = Host().load()
    record = next(r for r in host.records if r.name == "typo_plugin")
    assert record.status == "error"
    assert "unknown hook 'register_backend'" in record.error
    assert "did you mean 'register_backends'" in record.error


def test_invalid_registration_is_an_error(install: InstallFn) -> None:
    install(
        "cstoolkit-bad",
        "bad_plugin",
        """
        from cstoolkit import hookimpl

        @hookimpl
        def register_backends(register):
            register(object)
        """,
    )
    record = next(r for r in Host().load().records if r.name == "bad_plugin")
    assert record.status == "error" and "not a Backend class" in record.error


def test_collisions_are_deterministic_and_visible(install: InstallFn) -> None:
    # Installed in the "wrong" order on purpose: resolution follows distribution names.
    install("cstoolkit-zeta", "zeta_plugin", GOOD.format(name="dup"))
    install("cstoolkit-alpha", "alpha_plugin", GOOD.format(name="dup"))
    install("cstoolkit-shadow", "shadow_local", GOOD.format(name="local"))
    host = Host().load()
    assert host.registry["backend"]["dup"].plugin == "alpha_plugin"
    assert host.registry["backend"]["local"].plugin == "local", "built-ins win"
    shadowed = {(r.plugin, r.name): r.reason for r in host.shadowed}
    assert "already registered by plugin 'alpha_plugin'" in shadowed[("zeta_plugin", "dup")]
    assert ("shadow_local", "local") in shadowed


def test_missing_optional_dependency_disables_not_crashes(install: InstallFn) -> None:
    install(
        "cstoolkit-needy",
        "needy_plugin",
        """
        from cstoolkit import hookimpl
        from cstoolkit.plugin import Backend

        class Needy(Backend):
            name = "needy"
            requires = ("surely_not_installed_module_xyz",)

        @hookimpl
        def register_backends(register):
            register(Needy)
        """,
    )
    host = Host().load()
    assert next(r for r in host.records if r.name == "needy_plugin").status == "loaded"
    with pytest.raises(PluginError, match="disabled: missing dependency"):
        host.get("backend", "needy")


def test_env_switches(install: InstallFn) -> None:
    install("cstoolkit-good", "good_plugin", GOOD.format(name="good"))
    install("cstoolkit-other", "other_plugin", GOOD.format(name="other"))
    only = Host(env={"CSTOOLKIT_LOAD_PLUGINS": "good_plugin"}).load()
    assert "good" in only.names("backend") and "other" not in only.names("backend")
    assert "local" in only.names("backend"), "LOAD_PLUGINS does not touch built-ins"
    skipped = next(r for r in only.records if r.name == "other_plugin")
    assert skipped.status == "skipped" and "CSTOOLKIT_LOAD_PLUGINS" in skipped.error
    by_dist = Host(env={"CSTOOLKIT_DISABLE_PLUGINS": "cstoolkit-other,local"}).load()
    assert "other" not in by_dist.names("backend")
    assert "local" not in by_dist.names("backend"), "DISABLE_PLUGINS applies to built-ins too"


def test_strict_mode_reraises(install: InstallFn) -> None:
    install("cstoolkit-broken", "broken_import", "raise RuntimeError('boom at import')\n")
    with pytest.raises(RuntimeError, match="boom"):
        Host(env={"CSTOOLKIT_STRICT_PLUGINS": "1"}).load()


def test_unknown_plugin_name_suggests(install: InstallFn) -> None:
    with pytest.raises(PluginError, match="did you mean 'local'"):
        Host().load().get("backend", "locall")


def test_plugins_list_json_through_the_cli(install: InstallFn, site: Path) -> None:
    install("cstoolkit-good", "good_plugin", GOOD.format(name="good"))
    install("cstoolkit-broken", "broken_import", "raise RuntimeError('boom at import')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        env={**_env(), "PYTHONPATH": str(site)},
        check=True,
    )
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["good_plugin"]["status"] == "loaded"
    assert rows["good_plugin"]["registers"] == {"backend": ["good"], "metric": ["good_metric"]}
    assert rows["broken_import"]["status"] == "error"
    assert rows["local"]["builtin"] is True


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("CSTOOLKIT_")}


def test_announced_plugin_command_is_listed_and_runs(site: Path) -> None:
    (site / "announcing_plugin.py").write_text(
        textwrap.dedent(
            """
            import click

            @click.command(help="Say hello from a plugin.")
            def hello():
                click.echo("hello from the plugin")
            """
        )
    )
    info = site / "cstoolkit_announcing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cstoolkit-announcing\n")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nother = x:y\n\n[cstoolkit.commands]\nhello = announcing_plugin:hello\n"
    )
    env = {**_env(), "PYTHONPATH": str(site)}
    helptext = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "--help"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    assert "hello" in helptext and "Plugin command (announcing_plugin)" in helptext
    assert "Say hello from a plugin." not in helptext, "--help must not import plugin modules"
    ran = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "hello"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    assert ran.stdout.strip() == "hello from the plugin"
