"""Shell completion (commands, backend names, recipe files, query fields) and progress bars
that show on a terminal only."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _complete(cwd: Path, words: str) -> list[str]:
    env = dict(os.environ, _CST_COMPLETE="bash_complete", COMP_WORDS=words,
               COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)))  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit"], capture_output=True, text=True, cwd=cwd, env=env,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if "," in line]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("complete")
    (root / "cstoolkit.toml").write_text(
        '[backends.demo]\nplugin = "local"\npath = "h.jsonl"\n'
        '[backends.desk2]\nplugin = "local"\npath = "h2.jsonl"\n'
        '[calendars.madrid]\ntimezone = "Europe/Madrid"\nhours = { mon-fri = "09:00-18:00" }\n'
    )
    (root / "recipes").mkdir()
    for name in ("vip.yaml", "vip.test.yaml", "notes.txt"):
        (root / "recipes" / name).write_text("")
    return root


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("cst tic", ["tickets"]),
        ("cst sync pull ", ["demo", "desk2"]),
        ("cst sync mirror demo d", ["demo", "desk2"]),
        ("cst report kpi --calendar ", ["24x7", "madrid"]),
        ("cst triage run recipes/", ["recipes/vip.yaml"]),
        ("cst recipe test recipes/v", ["recipes/vip.test.yaml", "recipes/vip.yaml"]),
        ("cst tickets list --query sta", ["status:", "status_change_at:"]),
        ("cst tickets list --query priority:h", ["priority:high"]),
        ("cst completion ", ["bash", "zsh", "fish"]),
    ],
)
def test_completion(ws: Path, words: str, expected: list[str]) -> None:
    assert _complete(ws, words) == expected


def test_query_completion_reads_the_field_registry() -> None:
    from cstoolkit.cli.completers import query_completions
    from cstoolkit.query import FIELDS

    every = query_completions("")
    assert {f"{name}:" for name in FIELDS} <= set(every)
    assert query_completions("tag:vip -sta") == ["tag:vip -status:", "tag:vip -status_change_at:"]
    assert "status:open,pending" in query_completions("status:open,p")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "completion", shell],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "_CST_COMPLETE" in proc.stdout


def _on_a_terminal(args: list[str], cwd: Path) -> str:
    """Run cst with stdout and stderr on a pseudo-terminal; return what it drew."""
    main, child = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstoolkit", *args], stdout=child, stderr=child, cwd=cwd, env=env
    )
    os.close(child)
    out = b""
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(main)
    assert proc.returncode == 0, out[-2000:]
    return out.decode("utf-8", "replace")


def test_a_long_command_shows_a_bar_on_a_terminal_and_nothing_otherwise(tmp_path: Path) -> None:
    args = ["sample", "generate", "--tickets", "3000", "--days", "30", "--out", "h.jsonl"]
    drawn = _on_a_terminal(args, tmp_path)
    assert "sample" in drawn and "/3,000 tickets" in drawn  # the bar, counting
    piped = subprocess.run(
        [sys.executable, "-m", "cstoolkit", *args], capture_output=True, text=True,
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert piped.returncode == 0
    assert piped.stderr.startswith("wrote 3000 tickets") and "\x1b" not in piped.stderr


def test_one_progress_helper() -> None:
    """Bars come from cstoolkit.cli.progress alone: no command draws its own."""
    users = [
        p.relative_to(ROOT)
        for p in (ROOT / "cstoolkit").rglob("*.py")
        if "rich.progress" in p.read_text() and p.name != "progress.py"
    ]
    assert users == []
