"""The command line end to end: quickstart, tickets, doctor, sample, sync pull, start-up cost."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cstoolkit.cli import cli
from cstoolkit.inbound.sample import MAILS as SAMPLE_MAILS


def cst(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real entry point (exit codes come from cstoolkit.cli.main)."""
    return subprocess.run(
        [sys.executable, "-m", "cstoolkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ,
        check=False,
    )


@pytest.fixture(scope="module")
def quickstart_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("qs")
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "quickstart", "--dir", str(root), "--tickets", "400"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "HOME": str(root),
            "XDG_CONFIG_HOME": str(root / ".config"),
            "CSTOOLKIT_KEYS_FILE": str(root / "keys.json"),
        },
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "400 sample tickets generated" in proc.stdout
    return root


#: The sample mails quickstart takes in that start a ticket (the others answer one of them).
SAMPLE_MAIL_TICKETS = sum(1 for mail in SAMPLE_MAILS if not mail[5])
#: Tickets in the quickstart workspace: the 400 generated and those the sample mail created.
TOTAL = 400 + SAMPLE_MAIL_TICKETS


@pytest.fixture
def workspace(quickstart_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The quickstart workspace, with the keys file its survey signing key is in (every command
    checks that the config's secret references resolve)."""
    monkeypatch.setenv("CSTOOLKIT_KEYS_FILE", str(quickstart_root / "keys.json"))
    return quickstart_root


def test_quickstart_creates_a_working_workspace(workspace: Path) -> None:
    for name in ("cstoolkit.toml", "helpdesk.jsonl", "cstoolkit.db"):
        assert (workspace / name).exists()
    proc = cst("--config", str(workspace / "cstoolkit.toml"), "tickets", "list", "--json",
               "--limit", "0")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == TOTAL


def test_quickstart_is_safe_to_rerun(workspace: Path) -> None:
    before = (workspace / "helpdesk.jsonl").read_bytes()
    proc = cst("quickstart", "--dir", str(workspace), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["created_config"] is False and result["generated_tickets"] == 0
    assert result["sync"]["inserted"] == 0 and result["sync"]["updated"] == 0
    assert sum(result["by_status"].values()) == TOTAL
    assert (workspace / "helpdesk.jsonl").read_bytes() == before


def test_tickets_list_formats_and_query(workspace: Path) -> None:
    cfg = str(workspace / "cstoolkit.toml")
    proc = cst("--config", cfg, "tickets", "list", "--query", "channel:email", "--format", "csv",
               "--limit", "0")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert rows and all(r["channel"] == "email" for r in rows)
    nd = cst("--config", cfg, "tickets", "list", "--format", "ndjson", "--limit", "5")
    assert [json.loads(line)["id"] for line in nd.stdout.splitlines()][:1] == ["demo:1"]
    table = cst("--config", cfg, "tickets", "list", "--limit", "3")
    assert f"demo:{TOTAL}" in table.stdout and "status" in table.stdout  # newest first


def test_tickets_list_table_shows_the_newest_and_says_how_many_machine_formats_all(
    workspace: Path,
) -> None:
    cfg = str(workspace / "cstoolkit.toml")
    table = cst("--config", cfg, "tickets", "list")
    assert table.returncode == 0, table.stderr
    ids = re.findall(r"demo:\d+", table.stdout)
    assert len(ids) == 100 and ids[0] == f"demo:{TOTAL}" and "demo:1 " not in table.stdout
    assert f"showing 100 of {TOTAL} (--limit 0 for all)" in table.stderr
    for fmt in ("json", "ndjson", "csv"):
        out = cst("--config", cfg, "tickets", "list", "--format", fmt).stdout
        n = len(json.loads(out)) if fmt == "json" else len(out.splitlines()) - (fmt == "csv")
        assert n == TOTAL, fmt
    few = cst("--config", cfg, "tickets", "list", "--format", "ndjson", "--limit", "7")
    assert len(few.stdout.splitlines()) == 7 and "showing" not in few.stderr
    everything = cst("--config", cfg, "tickets", "list", "--limit", "0")
    assert "demo:1 " in everything.stdout and "showing" not in everything.stderr


def test_no_match_exits_3(workspace: Path) -> None:
    proc = cst("--config", str(workspace / "cstoolkit.toml"), "tickets", "list", "--query",
               "tag:no-such-tag-anywhere")  # fmt: skip
    assert proc.returncode == 3
    assert proc.stderr.strip() == "error: no ticket matched"
    proc = cst("--config", str(workspace / "cstoolkit.toml"), "tickets", "show", "demo:99999")
    assert proc.returncode == 3


def test_bad_query_exits_2_with_one_line(workspace: Path) -> None:
    proc = cst("--config", str(workspace / "cstoolkit.toml"), "tickets", "list", "--query",
               "status:opne")  # fmt: skip
    assert proc.returncode == 2
    first, *rest = proc.stderr.strip().splitlines()
    assert first.startswith("error: query: column 8: unknown status 'opne'")
    assert "did you mean 'open'" in first
    assert all(line.startswith("hint:") for line in rest)


def test_tickets_show(workspace: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--config", str(workspace / "cstoolkit.toml"), "tickets", "show", "demo:1", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["id"] == "demo:1" and data["events"][0]["kind"] == "created"
    assert data["requester"] and "@" in data["requester"]


def test_doctor_ok_and_failing(workspace: Path, tmp_path: Path) -> None:
    proc = cst("--config", str(workspace / "cstoolkit.toml"), "doctor", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["check"]: c for c in json.loads(proc.stdout)}
    assert checks["backends.demo"]["status"] == "ok"
    assert checks["store"]["status"] == "ok" and f"{TOTAL} tickets" in checks["store"]["detail"]
    broken = tmp_path / "cstoolkit.toml"
    broken.write_text('[backends.gone]\nplugin = "local"\npath = "missing.jsonl"\n')
    proc = cst("--config", str(broken), "doctor", "--json")
    assert proc.returncode == 1
    checks = {c["check"]: c for c in json.loads(proc.stdout)}
    assert checks["backends.gone"]["status"] == "fail"
    assert "missing.jsonl: no such file" in checks["backends.gone"]["detail"]


def test_sample_generate_then_sync_pull(tmp_path: Path) -> None:
    out = tmp_path / "desk.jsonl"
    proc = cst("sample", "generate", "--tickets", "120", "--days", "10", "--seed", "5",
               "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "wrote 120 tickets" in proc.stderr
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(f'[backends.desk]\nplugin = "local"\npath = "{out.name}"\npage_size = 50\n')
    first = cst("--config", str(cfg), "sync", "pull", "--json")
    assert first.returncode == 0, first.stderr
    (summary,) = json.loads(first.stdout)["instances"]
    assert (summary["fetched"], summary["inserted"], summary["pages"]) == (120, 120, 3)
    again = json.loads(cst("--config", str(cfg), "sync", "pull", "--json").stdout)["instances"][0]
    assert again["inserted"] == 0 and again["updated"] == 0


def test_sync_pull_failure_exits_1(tmp_path: Path) -> None:
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text('[backends.gone]\nplugin = "local"\npath = "nowhere.jsonl"\n')
    proc = cst("--config", str(cfg), "sync", "pull")
    assert proc.returncode == 1
    assert "nowhere.jsonl: no such file" in proc.stderr


def test_unknown_instance_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text('[backends.desk]\nplugin = "local"\npath = "x.jsonl"\n')
    proc = cst("--config", str(cfg), "sync", "pull", "dsek")
    assert proc.returncode == 2
    assert "no [backends.dsek] instance (did you mean 'desk'?)" in proc.stderr


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from cstoolkit.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"  # the console script's entry point, as `cst --help` runs it
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('httpx', 'rich', 'sqlite3', 'yaml', 'jinja2', 'cstoolkit.store',"
        " 'cstoolkit.host', 'pluggy', 'holidays', 'waitress', 'difflib', 'cstoolkit.cli.progress',"
        " 'cstoolkit.cli.completion', 'cstoolkit.cli.completers', 'click.shell_completion',"
        " 'cstoolkit.query', 'cstoolkit.secrets', 'tempfile')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    assert "quickstart" in proc.stdout


def test_version() -> None:
    from cstoolkit import __version__

    proc = cst("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_json_log_format_for_cron(tmp_path: Path) -> None:
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text('[backends.x]\nplugin = "nope"\n')
    proc = cst("--config", str(cfg), "--log-format", "json", "-v", "config", "check")
    assert proc.returncode == 2
