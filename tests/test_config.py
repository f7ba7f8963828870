"""cstoolkit.toml: lookup, interpolation, secrets, checks with file/line/field, redaction."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from cstoolkit import secrets
from cstoolkit.cli import cli
from cstoolkit.config import build_instance, check_config, find_config, load_config
from cstoolkit.errors import ConfigError
from cstoolkit.host import Host
from cstoolkit.plugin import Backend, Setting

GOOD = """\
[store]
path = "data/store.db"

[backends.demo]
plugin = "local"
path = "helpdesk.jsonl"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write(tmp_path / "a" / "cstoolkit.toml", GOOD)
    from_env = write(tmp_path / "b" / "cstoolkit.toml", GOOD)
    local = write(tmp_path / "cstoolkit.toml", GOOD)
    monkeypatch.setenv("CSTOOLKIT_CONFIG", str(from_env))
    assert find_config(explicit) == explicit.resolve()
    assert find_config() == from_env.resolve()
    monkeypatch.delenv("CSTOOLKIT_CONFIG")
    assert find_config() == local.resolve()
    local.unlink()
    user = write(Path(os.environ["XDG_CONFIG_HOME"]) / "cstoolkit" / "cstoolkit.toml", GOOD)
    assert find_config() == user
    with pytest.raises(ConfigError, match="config file not found"):
        find_config(tmp_path / "missing.toml")


def test_relative_paths_resolve_against_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cfg_path = write(tmp_path / "conf" / "cstoolkit.toml", GOOD)
    monkeypatch.chdir(tmp_path)  # cron runs from $HOME: the working directory must not matter
    config = load_config(cfg_path)
    assert config.store_path == tmp_path / "conf" / "data" / "store.db"
    backend = build_instance(config, Host().load(), "backends", "demo", None)
    assert backend.config["path"] == str(tmp_path / "conf" / "helpdesk.jsonl")


def test_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_DIR", "/srv/desk")
    cfg = write(
        tmp_path / "cstoolkit.toml",
        '[backends.demo]\nplugin = "local"\npath = "${DESK_DIR}/h.jsonl"\n'
        'page_size = 10\n[store]\npath = "${STORE:-x.db}"\n',
    )
    config = load_config(cfg)
    assert config.data["backends"]["demo"]["path"] == "/srv/desk/h.jsonl"
    assert config.store_path == tmp_path / "x.db"
    write(cfg, '[backends.demo]\nplugin = "local"\n\npath = "${NOPE_NOT_SET}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(err.value).startswith(f"{cfg}:4: backends.demo.path: environment variable")


def test_invalid_toml_names_line_and_column(tmp_path: Path) -> None:
    cfg = write(tmp_path / "cstoolkit.toml", '[backends.demo]\nplugin = "local"\npath = \n')
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(err.value).startswith(f"{cfg}:3:")
    assert "invalid TOML" in str(err.value)


def test_check_reports_every_problem_with_line_and_field(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "cstoolkit.toml",
        """\
[store]
pth = "x.db"

[backends.a]
plugin = "locall"

[backends.b]
plugin = "local"
pathh = "h.jsonl"
page_size = "ten"

[backend.c]
plugin = "local"
""",
    )
    problems = check_config(load_config(cfg), Host().load())
    text = [str(p) for p in problems]
    assert f"{cfg}:2: error: store.pth: unknown store setting (did you mean 'path'?)" in text
    assert any(
        t.startswith(f"{cfg}:5: error: backends.a.plugin: unknown backend plugin 'locall'")
        and "did you mean 'local'" in t
        for t in text
    )
    assert any(t.startswith(f"{cfg}:9: error: backends.b.pathh:") and "'path'" in t for t in text)
    assert f"{cfg}:10: error: backends.b.page_size: expected int, got str" in text
    assert any(t.startswith(f"{cfg}:7: error: backends.b:") and "'path'" in t for t in text)
    assert any(t.startswith(f"{cfg}:12: error: backend:") and "'backends'" in t for t in text)


def test_config_check_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = write(tmp_path / "good.toml", GOOD)
    result = runner.invoke(cli, ["--config", str(good), "config", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["problems"] == []
    bad = write(tmp_path / "bad.toml", '[backends.x]\nplugin = "nope"\n')
    proc = _run_cst("--config", str(bad), "config", "check")
    assert proc.returncode == 2
    assert f"{bad}:2: error: backends.x.plugin: unknown backend plugin 'nope'" in proc.stderr


class SecretBackend(Backend):
    name = "secretive"
    settings = (
        Setting("token", secret=True, required=True),
        Setting("path", "path", default="x"),
    )


def test_secret_references_resolve_and_are_redacted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "s3cr3t-value-from-env")
    secrets.set_key("desk", "s3cr3t-value-from-keys")
    host = Host().load()
    host.registry["backend"]["secretive"] = _reg(SecretBackend)
    cfg = write(
        tmp_path / "cstoolkit.toml",
        '[backends.e]\nplugin = "secretive"\ntoken = "env:MY_TOKEN"\n'
        '[backends.k]\nplugin = "secretive"\ntoken = "key:desk"\n'
        '[backends.lit]\nplugin = "secretive"\ntoken = "literal-secret-123"\n',
    )
    config = load_config(cfg)
    assert build_instance(config, host, "backends", "e", None).config["token"] == (
        "s3cr3t-value-from-env"
    )
    assert build_instance(config, host, "backends", "k", None).config["token"] == (
        "s3cr3t-value-from-keys"
    )
    from cstoolkit.config import redacted

    shown = json.dumps(redacted(config, host))
    assert "literal-secret-123" not in shown and "env:MY_TOKEN" in shown
    warnings = [p for p in check_config(config, host) if p.severity == "warning"]
    assert [p.field for p in warnings] == ["backends.lit.token"]
    assert secrets.REDACTOR.redact("token=s3cr3t-value-from-keys!") == "token=***!"


def test_missing_secret_reference_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment variable NOPE_TOKEN is not set"):
        secrets.resolve("env:NOPE_TOKEN", field="backends.x.token", env={})
    with pytest.raises(ConfigError, match="no key named 'nokey'; add it with: cst keys set nokey"):
        secrets.resolve("key:nokey", field="backends.x.token")


def test_keys_file_is_0600_and_refused_when_open(tmp_path: Path) -> None:
    path = secrets.set_key("zendesk_main", "abc123-secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.load_keys() == {"zendesk_main": "abc123-secret"}
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        secrets.load_keys()


def test_keys_cli_never_prints_values(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "set", "desk", "--stdin"], input="very-secret-v\n")
    assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["keys", "list", "--json"])
    assert json.loads(listed.stdout) == [{"name": "desk", "reference": "key:desk"}]
    assert "very-secret-v" not in listed.output
    assert runner.invoke(cli, ["keys", "remove", "desk"]).exit_code == 0
    proc = _run_cst("keys", "remove", "desk")
    assert proc.returncode == 3 and "no key named 'desk'" in proc.stderr


def test_config_show_redacts(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "cstoolkit.toml",
        GOOD + '\n[backends.other]\nplugin = "unknown_vendor"\napi_token = "plain-secret-9"\n',
    )
    result = CliRunner().invoke(cli, ["--config", str(cfg), "config", "show"])
    assert result.exit_code == 0, result.output
    assert "plain-secret-9" not in result.output
    assert 'api_token = "***"' in result.output
    assert "[backends.demo]" in result.output


def _reg(cls: type) -> object:
    from cstoolkit.host import Registration

    return Registration("backend", cls.name, cls, "test")


def _run_cst(*args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "cstoolkit", *args],
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )


def test_check_store_table_for_postgresql(tmp_path: Path) -> None:
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(
        "[store]\n"
        'path = "x.db"\n'
        'url = "postgresql://cst:hunter2@db:5432/support"\n'
        'schema = "Bad-Name"\n'
        'password = "plain"\n'
    )
    problems = [str(p) for p in check_config(load_config(cfg), Host().load())]
    assert f"{cfg}:2: error: store.path: set either path (SQLite) or url (PostgreSQL)" in "\n".join(
        problems
    )
    assert any(":3: warning: store.url: holds a password" in p for p in problems)
    assert any(":4: error: store.schema: must be a plain lower-case name" in p for p in problems)
    assert any(":5: warning: store.password: a plain password" in p for p in problems)
    assert not any("hunter2" in p for p in problems)
    cfg.write_text('[store]\nurl = "mysql://db/x"\n')
    (problem,) = check_config(load_config(cfg), Host().load())
    assert problem.field == "store.url" and "postgresql://" in problem.message
    cfg.write_text('[store]\nurl = "postgresql://cst@db/support"\npassword = "env:PGPW"\n')
    config = load_config(cfg, env={"PGPW": "from-the-environment"})  # references must resolve
    assert check_config(config, Host().load()) == []
    assert config.store_label == "postgresql://cst@db/support"
