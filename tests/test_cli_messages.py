"""What a person reads: a did-you-mean at every level, summaries before details."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click
import pytest

from cstoolkit.cli import base, cli
from cstoolkit.model import now
from tests.surveys.helpers import make_workspace, simple_desk


def _cst(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cstoolkit", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["tikets"], "No such command 'tikets'. Did you mean 'tickets'?"),
        (["tickets", "lst"], "No such command 'lst'. Did you mean 'list'?"),
        (["sync", "pul"], "No such command 'pul'. Did you mean 'pull'?"),
        (["report", "kpi", "--sinse", "3d"], "No such option '--sinse'. Did you mean '--since'?"),
        (["tickets", "list", "--limt", "3"], "No such option '--limt'. Did you mean '--limit'?"),
        (["--cnfig", "x", "tickets"], "No such option '--cnfig'. Did you mean '--config'?"),
        (["survey", "--hlep"], "No such option '--hlep'. Did you mean '--help'?"),
    ],
)
def test_a_did_you_mean_at_every_level(args: list[str], hint: str) -> None:
    proc = _cst(*args)
    assert proc.returncode == 2
    assert hint in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_nothing_close_gets_no_guess() -> None:
    proc = _cst("zzzzqq")
    assert proc.returncode == 2
    assert "No such command 'zzzzqq'." in proc.stderr and "Did you mean" not in proc.stderr


def _walk(command: click.Command, ctx: click.Context, path: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = [(path, command)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                out += _walk(sub, click.Context(sub, parent=ctx, info_name=name), f"{path} {name}")
    return out


def test_every_command_is_made_of_the_one_base() -> None:
    """The did-you-mean lives in cstoolkit.cli.base: every built-in command and group uses it."""
    from cstoolkit.cli import COMMANDS

    ctx = click.Context(cli, info_name="cst")
    commands = [(p, c) for name in COMMANDS for p, c in _walk(cli.get_command(ctx, name), ctx,
                f"cst {name}")]  # fmt: skip
    assert len(commands) > 40
    wrong = [p for p, c in commands if not isinstance(c, base.Command | base.Group)]
    assert wrong == []


def _said(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's lines but the one naming the store (the helper's config is in the environment)."""
    return [line for line in proc.stderr.splitlines() if not line.startswith("store: ")]


def test_survey_dry_run_prints_the_summary_first_and_details_on_request(tmp_path: Path) -> None:
    simple_desk(tmp_path / "helpdesk.jsonl", 3, now(), solved_ago=timedelta(days=2))
    ws = make_workspace(tmp_path)
    quiet = ws.cst("survey", "send", "--dry-run")
    assert quiet.returncode == 0, quiet.stderr
    assert _said(quiet)[0] == "dry run: 3 survey(s) would be sent"
    assert "demo:1" not in quiet.stdout + quiet.stderr  # no line per ticket
    assert "one line per survey: add --verbose" in quiet.stderr
    loud = ws.cst("survey", "send", "--dry-run", "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert _said(loud)[0] == "dry run: 3 survey(s) would be sent"
    assert all(f"demo:{i}" in loud.stdout for i in (1, 2, 3))


# -- which store: never a silent default ------------------------------------------------------


def _run_in(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if k != "CSTOOLKIT_CONFIG"} | env
    return subprocess.run(
        [sys.executable, "-m", "cstoolkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        check=False,
    )


def test_outside_a_workspace_the_default_store_is_named_and_says_how_to_start(
    tmp_path: Path,
) -> None:
    proc = _run_in(tmp_path, "tickets", "list")
    assert proc.returncode == 0, proc.stderr
    assert "store: " in proc.stderr and "(the default store: no cstoolkit.toml" in proc.stderr
    assert "it is empty. To start: `cst quickstart`" in proc.stderr
    assert "--config FILE" in proc.stderr


def test_a_store_found_through_the_environment_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "elsewhere" / "cstoolkit.toml"
    cfg.parent.mkdir()
    cfg.write_text('[store]\npath = "team.db"\n')
    proc = _run_in(tmp_path, "status", CSTOOLKIT_CONFIG=str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert f"store: {cfg.parent / 'team.db'} (config {cfg}, from $CSTOOLKIT_CONFIG)" in proc.stderr
    assert "To start" not in proc.stderr  # it is a configured store, empty or not


def test_the_workspaces_store_and_an_explicit_config_are_not_announced(tmp_path: Path) -> None:
    (tmp_path / "cstoolkit.toml").write_text('[store]\npath = "cstoolkit.db"\n')
    here = _run_in(tmp_path, "tickets", "list")
    named = _run_in(tmp_path.parent, "--config", str(tmp_path / "cstoolkit.toml"), "status")
    for proc in (here, named):
        assert proc.returncode == 0, proc.stderr
        assert "store: " not in proc.stderr
