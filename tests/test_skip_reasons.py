"""Every skip in the suite says how to enable the test it skips.

The source of the whole repository (core tests, plugin tests, the plugin test kit and the root
conftest) is read, not run: a skip written for a machine without a server or a browser is
checked here too, on a machine that has them. Each skip (``pytest.skip``, ``importorskip``,
``mark.skip``, ``mark.skipif``) must give its reason as text that says ``to enable:``, and each
``skip_or_fail(why, enable)`` (tests/conftest.py, which writes ``to enable:`` itself) must say
how. Under CSTOOLKIT_REQUIRE_SERVERS=1 (CI) ``skip_or_fail`` fails instead of skipping.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import chromium
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
#: What every skip reason says before how to enable the test.
ENABLE = "to enable: "
SKIPPED_DIRS = {".git", "build", "dist", "node_modules", "__pycache__"}
#: A quick look before parsing: only files that may call one of them are parsed.
SKIP_CALL = re.compile(r"skip(if|_or_fail)?\(|importorskip")
#: Functions whose calls skip: the reason argument's position and keyword.
SKIPPERS = {"skip": (0, "reason"), "importorskip": (None, "reason"), "skipif": (None, "reason")}


@dataclass
class Skip:
    where: str
    call: str
    reason: ast.expr | None


@functools.cache
def python_files() -> tuple[Path, ...]:
    """The repository's Python files; virtual environments and build output are not entered."""
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        out += [Path(folder, f) for f in sorted(files) if f.endswith(".py")]
    return tuple(out)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _text(node: ast.expr | None) -> str | None:
    """The literal text of a reason (an f-string's fixed parts), or None if it is not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) or "" for v in node.values if isinstance(v, ast.Constant))
    return None


@functools.cache
def _skips(path: Path, root: Path = ROOT) -> list[Skip]:
    source = path.read_text(encoding="utf-8")
    if not SKIP_CALL.search(source):
        return []
    tree = ast.parse(source, filename=str(path))
    out: list[Skip] = []
    helpers = {  # functions whose own body turns its arguments into a reason
        f
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and f.name.endswith("skip_or_fail")
    }
    inside_helper = {id(n) for f in helpers for n in ast.walk(f)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in inside_helper:
            continue
        name = _name(node.func)
        where = f"{path.relative_to(root)}:{node.lineno}"
        if name == "skip_or_fail":  # skip_or_fail(why, enable)
            how = node.args[1] if len(node.args) > 1 else None
            how = next((k.value for k in node.keywords if k.arg == "enable"), how)
            out.append(Skip(where, "skip_or_fail", how))
        elif name in SKIPPERS:
            position, keyword = SKIPPERS[name]
            reason = node.args[position] if position is not None and node.args else None
            reason = next((k.value for k in node.keywords if k.arg in (keyword, "msg")), reason)
            out.append(Skip(where, name, reason))
        elif name.endswith("skip_or_fail"):  # a plugin's own helper: its reason is built inside
            out.append(Skip(where, name, ast.Constant(ENABLE)))
    for helper in helpers:
        text = ast.get_source_segment(source, helper) or ""
        if ENABLE not in text:
            out.append(Skip(f"{path.relative_to(root)}:{helper.lineno}", helper.name, None))
    return out


def test_the_scan_sees_the_skips_of_the_suite() -> None:
    found = [s for p in python_files() for s in _skips(p)]
    calls = {s.call for s in found}
    assert {"skip", "importorskip", "skip_or_fail"} <= calls
    assert any("cstoolkit/testing/" in s.where for s in found), "the plugin kit is scanned"
    assert any(s.where.startswith("plugins/") for s in found), "plugin tests are scanned"


def test_every_skip_reason_says_how_to_enable_the_test() -> None:
    problems = []
    for path in python_files():
        if path == Path(__file__).resolve():
            continue
        for skip in _skips(path):
            if skip.call == "skip_or_fail":
                text = _text(skip.reason)
                if skip.reason is None or text == "":
                    problems.append(f"{skip.where}: skip_or_fail() without how to enable")
                continue
            text = _text(skip.reason)
            if text is None:
                problems.append(f"{skip.where}: {skip.call}() without a literal reason")
            elif ENABLE.strip() not in text:
                problems.append(f"{skip.where}: {skip.call}() reason lacks {ENABLE!r}: {text!r}")
    assert not problems, "\n".join(problems)


def test_the_scan_catches_a_skip_without_how_to_enable(tmp_path: Path) -> None:
    bad = tmp_path / "test_bad.py"
    bad.write_text(
        "import pytest\n"
        "pytest.skip('no server')\n"
        "pytest.importorskip('x')\n"
        "pytest.mark.skipif(True, reason='never; to enable: nothing')\n"
        "skip_or_fail('no browser')\n",
        encoding="utf-8",
    )
    found = _skips(bad, root=tmp_path)
    assert [(s.call, _text(s.reason)) for s in found] == [
        ("skip", "no server"),
        ("importorskip", None),
        ("skipif", "never; to enable: nothing"),
        ("skip_or_fail", None),
    ]


def test_skip_or_fail_skips_with_how_to_enable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSTOOLKIT_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        skip_or_fail("no frobnicator here", "apt-get install frobnicator")
    assert skipped.value.msg == "no frobnicator here; to enable: apt-get install frobnicator"


def test_skip_or_fail_fails_when_ci_requires_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSTOOLKIT_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        skip_or_fail("no frobnicator here", "apt-get install frobnicator")
    assert "to enable: apt-get install frobnicator" in str(failed.value.msg)
    assert "CSTOOLKIT_REQUIRE_SERVERS=1" in str(failed.value.msg)


def test_a_missing_chromium_skips_naming_the_package_and_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CSTOOLKIT_REQUIRE_SERVERS", raising=False)
    monkeypatch.setenv(chromium.ENV, str(tmp_path / "no-such-browser"))
    with pytest.raises(pytest.skip.Exception) as skipped:
        chromium.require()
    assert "apt-get install chromium" in skipped.value.msg
    assert f"{chromium.ENV}=/path/to/chromium" in skipped.value.msg
    monkeypatch.setenv("CSTOOLKIT_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception):
        chromium.require()


def test_chromium_named_by_the_variable_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    program = tmp_path / "my-chromium"
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    monkeypatch.setenv(chromium.ENV, str(program))
    assert chromium.require() == str(program)
