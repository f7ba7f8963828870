"""Unexpected errors: one line, a crash report with every secret masked, exit 70."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from cstoolkit import crash
from cstoolkit.cli import cli, main
from cstoolkit.errors import EXIT_INTERNAL

SECRET = "crash-secret-Zq81x"
ENV_SECRET = "env-secret-Pw77k"
CONFIG = f"""
[backends.z]
plugin = "zendesk"
subdomain = "acme"
email = "a@b.example"
token = "{SECRET}"
proxy = "http://proxyuser:proxy-pass-9Q@127.0.0.1:9"

[channels.mail]
plugin = "smtp"
host = "127.0.0.1"
from_addr = "cst@b.example"
password = "env:SMTP_PW"
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMTP_PW", ENV_SECRET)
    monkeypatch.setenv(crash.CRASH_DIR_ENV, str(tmp_path / "crashes"))
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(CONFIG, "utf-8")
    return cfg


@pytest.fixture
def boom() -> Iterator[None]:
    """``cst boom``: a command with a bug; its message and traceback hold secrets."""

    @click.command("boom")
    @click.option("--token", default="")
    @click.argument("url", required=False)
    @click.pass_obj
    def boom_cmd(app, token: str, url: str | None) -> None:  # type: ignore[no-untyped-def]
        assert app.config is not None  # the config is loaded, as in any command
        raise KeyError(f"no such thing: {SECRET} {ENV_SECRET} {token} {url}")

    cli.add_command(boom_cmd)
    yield
    cli.commands.pop("boom", None)


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


LEAKS = [SECRET, ENV_SECRET, "proxy-pass-9Q", "argv-token-5", "url-pass-3"]


def test_internal_error_prints_one_line_and_writes_a_redacted_report(
    workspace: Path, boom: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        "--config", str(workspace), "boom", "--token", "argv-token-5",
        "postgresql://cst:url-pass-3@db/x", capsys=capsys,
    )  # fmt: skip
    assert code == EXIT_INTERNAL == 70
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: internal error: KeyError: ")
    (found,) = crash.REPORT_LINE.findall(lines[0])
    report = Path(found)
    assert report.parent == workspace.parent / "crashes"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert stat.S_IMODE(report.parent.stat().st_mode) == 0o700
    text = report.read_text("utf-8")
    for leak in LEAKS:
        assert leak not in err and leak not in text, leak
    assert "Traceback (most recent call last)" in text and "boom_cmd" in text
    assert "command: cst --config" in text and "boom --token '***'" in text
    assert "postgresql://cst:***@db/x" in text
    assert f"config: {workspace}" in text
    assert "python: 3." in text and "platform: " in text and "cst: " in text
    assert "zendesk" in text  # the plugin list


def test_verbose_shows_the_redacted_traceback_too(
    workspace: Path, boom: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run("--config", str(workspace), "-v", "boom", capsys=capsys)
    assert code == 70
    assert "Traceback (most recent call last)" in err
    assert "crash report: " in err.splitlines()[-1]
    assert SECRET not in err and ENV_SECRET not in err


def test_a_report_that_cannot_be_written_is_said_in_the_one_line(
    workspace: Path, boom: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = workspace.parent / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv(crash.CRASH_DIR_ENV, str(blocker / "crash"))
    code, out, err = run("--config", str(workspace), "boom", capsys=capsys)
    assert code == 70 and out == ""
    assert len(err.splitlines()) == 1
    assert "could not write a crash report" in err and str(blocker) in err
    assert "Traceback" not in err and SECRET not in err


def test_default_location_is_the_user_state_dir(
    workspace: Path, boom: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(crash.CRASH_DIR_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(workspace.parent / "state"))
    code, _, err = run("--config", str(workspace), "boom", capsys=capsys)
    assert code == 70
    assert str(workspace.parent / "state" / "cstoolkit" / "crash") in err


def test_only_the_newest_reports_are_kept(tmp_path: Path) -> None:
    for i in range(crash.KEEP + 5):
        crash.write(f"report {i}\n", tmp_path)
    kept = sorted(tmp_path.glob("*.txt"))
    assert len(kept) == crash.KEEP
    assert kept[-1].read_text() == f"report {crash.KEEP + 4}\n"


CRASHING = (
    "import sys\n"
    "from cstoolkit.ops import status\n"
    "def collect(*a, **k):\n"
    f"    raise ZeroDivisionError('oops {SECRET}')\n"
    "status.collect = collect\n"
    "from cstoolkit.cli import main\n"
    "main(sys.argv[1:])\n"
)


def test_cst_run_reports_exit_70_as_an_internal_error_of_the_step(
    workspace: Path, tmp_path: Path
) -> None:
    """A real process: exit 70, one line on stderr, which ``cst run`` turns into the step's
    reason (naming the crash report)."""
    from cstoolkit.ops import run as engine
    from cstoolkit.store import open_store

    store = open_store(tmp_path / "s.db")
    argv = [sys.executable, "-c", CRASHING, "--config", str(workspace), "status"]
    plan = engine.RunPlan([engine.Step("st", "status", [], argv=argv)])
    report = engine.execute(store, plan, config_path=None, env=dict(os.environ))
    (step,) = report.steps
    assert step.exit_code == 70 and step.outcome == "failed"
    assert step.reason.startswith("internal error (exit 70")
    assert "crash report: " in step.reason and str(tmp_path / "crashes") in step.reason
    assert SECRET not in step.stderr_tail
    assert step.stderr_tail.count("\n") == 0 and "ZeroDivisionError" in step.stderr_tail
    (found,) = crash.REPORT_LINE.findall(step.stderr_tail)
    assert SECRET not in Path(found).read_text("utf-8")
    assert report.exit_code == 1
    store.close()
