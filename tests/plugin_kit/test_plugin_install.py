"""`cst plugins install/uninstall/restore` (pip patched out) and required_plugins pinning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import plugin_install
from cstoolkit.config import check_config, load_config
from cstoolkit.errors import ConfigError
from cstoolkit.host import Host


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(plugin_install, "run_pip", lambda args: calls.append(list(args)))
    return calls


def test_install_records_and_restore_reinstalls(cst_runner: Any, pip_calls: list) -> None:
    result = cst_runner.invoke("plugins", "install", "cstoolkit-zendesk>=1.2", "cstoolkit_Slack")
    assert result.exit_code == 0, result.output
    assert pip_calls == [["install", "cstoolkit-zendesk>=1.2", "cstoolkit_Slack"]]
    record = plugin_install.record_path()
    assert record.is_relative_to(cst_runner.home)
    assert json.loads(record.read_text())["plugins"] == {
        "cstoolkit-slack": "cstoolkit_Slack",
        "cstoolkit-zendesk": "cstoolkit-zendesk>=1.2",
    }
    # An upgrade later: reinstall, newest requirement wins for the same distribution.
    assert cst_runner.invoke("plugins", "install", "-U", "cstoolkit-zendesk>=1.3").exit_code == 0
    assert pip_calls[-1] == ["install", "--upgrade", "cstoolkit-zendesk>=1.3"]
    pip_calls.clear()
    assert cst_runner.invoke("plugins", "restore").exit_code == 0
    assert pip_calls == [["install", "cstoolkit_Slack", "cstoolkit-zendesk>=1.3"]]


def test_uninstall_forgets(cst_runner: Any, pip_calls: list) -> None:
    cst_runner.invoke("plugins", "install", "cstoolkit-zendesk", "cstoolkit-slack")
    result = cst_runner.invoke("plugins", "uninstall", "cstoolkit_zendesk")
    assert result.exit_code == 0, result.output
    assert pip_calls[-1] == ["uninstall", "--yes", "cstoolkit_zendesk"]
    assert plugin_install.load_record() == {"cstoolkit-slack": "cstoolkit-slack"}


def test_restore_with_nothing_recorded_does_nothing(cst_runner: Any, pip_calls: list) -> None:
    result = cst_runner.invoke("plugins", "restore")
    assert result.exit_code == 0 and "nothing to do" in result.stderr
    assert pip_calls == []


def test_a_failed_pip_records_nothing(cst_runner: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(args: list[str]) -> None:
        raise plugin_install.PipError("pip install failed: No matching distribution")

    monkeypatch.setattr(plugin_install, "run_pip", fail)
    result = cst_runner.invoke("plugins", "install", "cstoolkit-nope")
    assert result.exit_code == 1 and "No matching distribution" in result.stderr
    assert plugin_install.load_record() == {}


def test_bad_requirement_is_a_usage_error(cst_runner: Any, pip_calls: list) -> None:
    result = cst_runner.invoke("plugins", "install", "cstoolkit-x @ https://evil.example/x.whl")
    assert result.exit_code == 2
    assert pip_calls == []


def test_run_pip_uses_this_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(cmd: list[str], **kw: Any) -> Any:
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: could not find it\n")

    monkeypatch.setattr(plugin_install.subprocess, "run", fake_run)
    with pytest.raises(plugin_install.PipError, match="could not find it"):
        plugin_install.run_pip(["install", "x"])
    assert seen["cmd"][:3] == [sys.executable, "-m", "pip"]


def test_requirement_parsing_and_versions() -> None:
    req = plugin_install.Requirement.parse("cstoolkit_Zendesk >=1.2, <2")
    assert req.key == "cstoolkit-zendesk" and req.specifiers == ((">=", "1.2"), ("<", "2"))
    assert req.allows("1.2.0") and req.allows("1.10") and not req.allows("1.1.9")
    assert not req.allows("2.0")
    assert plugin_install.Requirement.parse("x>1.9").allows("1.10")
    with pytest.raises(ValueError):
        plugin_install.Requirement.parse("x >> 1")


# -- required_plugins ------------------------------------------------------------------------


def _config(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "cstoolkit.toml"
    path.write_text(f'# pinned plugins\n{line}\n\n[store]\npath = "x.db"\n')
    return path


def test_missing_required_plugin_stops_any_command(cst_runner: Any) -> None:
    cst_runner.write_config('required_plugins = ["cstoolkit-no-such-plugin>=1.2"]\n')
    result = cst_runner.invoke("tickets", "list")
    assert result.exit_code == 2
    line = result.stderr.strip().splitlines()[0]
    assert line == (
        f"error: {cst_runner.config_path}:1: required_plugins: cstoolkit-no-such-plugin is not "
        "installed (run: cst plugins install 'cstoolkit-no-such-plugin>=1.2')"
    )


def test_too_old_required_plugin_in_a_real_process(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 'required_plugins = ["pytest>=1", "cstoolkit>=99"]')
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "--config", str(cfg), "sync", "pull"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{cfg}:2: required_plugins: cstoolkit " in proc.stderr
    assert "is installed but cstoolkit>=99 is required" in proc.stderr


def test_satisfied_required_plugins_let_commands_run(cst_runner: Any) -> None:
    cst_runner.write_config('required_plugins = ["pytest>=1", "cstoolkit"]\n')
    result = cst_runner.invoke("tickets", "list", "--json")
    assert result.exit_code == 0, result.output


def test_config_check_reports_each_unmet_requirement(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 'required_plugins = ["cstoolkit-nope", "cstoolkit>=99", "bad >> 1"]')
    problems = check_config(load_config(cfg), Host(entry_points=[]))
    mine = [p for p in problems if p.field == "required_plugins"]
    assert len(mine) == 3 and all(p.line == 2 for p in mine)
    assert not [p for p in problems if "unknown section" in p.message]


def test_required_plugins_must_be_a_list(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 'required_plugins = "cstoolkit-zendesk"')
    with pytest.raises(ConfigError, match="must be a list"):
        plugin_install.check_required_plugins(load_config(cfg))
