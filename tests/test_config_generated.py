"""Generated configurations never lie: each one either fails ``cst config check`` (exit 2, one line
per problem naming file, line and key) or passes it, and then ``cst status``, ``cst config
show`` and a dry run of each ``[run]`` step end without an internal error, and without a config
error the check did not report.

The budget comes from the profile (root conftest.py): 25 examples by default, 300 under
``CSTOOLKIT_TEST_PROFILE=ci``. Commands run in-process through ``cstoolkit.cli.main``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from cstoolkit.cli import app as cli_app
from cstoolkit.host import Host
from tests.config_gen import STYLES, cst, mutated, to_toml, workspace

#: What the process may exit with (an internal error is none of these).
EXPECTED_CODES = {0, 1, 2, 3, 4}


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Host:
    """One plugin host for every command of the test (loading it is the slow part)."""
    loaded = Host().load()
    monkeypatch.setattr(cli_app, "HOST_OVERRIDE", loaded)
    return loaded


def no_internal_error(code: int, stderr: str, what: str) -> None:
    assert code in EXPECTED_CODES, f"{what}: exit {code}\n{stderr}"
    assert "internal error" not in stderr and "Traceback" not in stderr, f"{what}:\n{stderr}"


def check_lines(config: Path, stderr: str) -> list[str]:
    """The problem lines of a failed check, each asserted to name the file, line and key."""
    at = re.escape(str(config))
    problem = re.compile(rf"^{at}:\d+: (error|warning): [^\s:][^:]*: \S")
    summary = re.compile(rf"^error: \d+ error\(s\) in {at}$")
    unreadable = re.compile(rf"^error: {at}:\d+(:\d+)?: \S")  # invalid TOML: no key to name
    errors = []
    for line in stderr.splitlines():
        if problem.match(line):
            errors += [line] if ": error: " in line else []
        else:
            assert summary.match(line) or unreadable.match(line), f"unexpected line: {line!r}"
            errors += [line] if unreadable.match(line) else []
    return errors


@given(data=mutated(), style=STYLES)
def test_a_generated_config_fails_the_check_or_works(
    tmp_path: Path, host: Host, monkeypatch: pytest.MonkeyPatch, data: dict, style: dict
) -> None:
    root = tmp_path / "ws"
    config = root / "cstoolkit.toml" if root.exists() else workspace(root)
    monkeypatch.chdir(root)  # where `cst run` runs its steps
    text = to_toml(data, **style)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)  # the writer's limit, not the checker's
    config.write_text(text, "utf-8", newline="")
    code, _, stderr = cst("--config", str(config), "config", "check")
    no_internal_error(code, stderr, "config check")
    event("the check failed" if code else "the check passed")
    if code != 0:
        assert code == 2, stderr
        assert check_lines(config, stderr), stderr
        return
    # The check passed: every command that reads the config must run with it.
    commands = [["status"], ["config", "show"], *dry_runs(config)]
    for args in commands:
        code, _, stderr = cst("--config", str(config), *args)
        no_internal_error(code, stderr, " ".join(args))
        assert code != 2 and f"{config}:" not in stderr, (
            f"cst {' '.join(args)}: a usage or config error the check did not report:\n{stderr}"
        )


def dry_runs(config: Path) -> list[list[str]]:
    """Each ``[run]`` step in the form ``cst run --dry-run`` runs it (skipped ones left out)."""
    from cstoolkit.config import load_config
    from cstoolkit.errors import ConfigError
    from cstoolkit.ops.run import dry_run_args, load_plan

    try:
        plan = load_plan(load_config(config))
    except ConfigError as exc:
        assert "no [run] table" in str(exc), str(exc)
        return []
    out = []
    for step in plan.steps:
        args, _ = dry_run_args(step.args)
        if args is not None:
            out.append(args)
    return out


def test_the_skeleton_itself_passes(tmp_path: Path, host: Host) -> None:
    from tests.config_gen import SKELETON

    config = workspace(tmp_path / "ws")
    config.write_text(to_toml(SKELETON, inline=False, comments=True, crlf=False), "utf-8")
    code, _, stderr = cst("--config", str(config), "config", "check")
    assert code == 0, stderr
    assert len(dry_runs(config)) == 6  # sync pull has no dry-run form


@given(st.data())
def test_toml_styles_find_the_same_lines(data: st.DataObject) -> None:
    """Every key of the skeleton is found on a line holding its name, whatever the style."""
    from cstoolkit.config.positions import key_lines
    from tests.config_gen import SKELETON

    style = data.draw(STYLES)
    text = to_toml(SKELETON, **style)
    lines = text.replace("\r\n", "\n").split("\n")
    found = key_lines(text)
    for path, n in found.items():
        last = path[-1]
        if isinstance(last, str):
            assert last in lines[n - 1], (path, n, lines[n - 1])
