"""The first hour of a new user: what ``cst quickstart`` prints can be reproduced in its workspace.

One quickstart runs (as a person would, in a fresh home with no keys file named) and every
figure it prints is compared with what the documented follow-up command prints in the
workspace with no flags; every shipped recipe passes ``cst recipe check`` there; the README's
recipe paths exist there; the survey signing key stays in the workspace.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cstoolkit.kpi.quickstart import _LINES
from cstoolkit.triage.quickstart import is_recipe_name

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSTOOLKIT_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        COLUMNS="250",
    )
    return env


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.dir = root / "cst-quickstart"
        self.output = ""

    def cst(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "cstoolkit", *args],
            capture_output=True,
            text=True,
            cwd=self.dir,
            env=_env(self.home),
            check=False,
        )
        if check:
            assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
        return proc


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    w = Workspace(tmp_path_factory.mktemp("first-hour"))
    w.home.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "quickstart", "--tickets", "900"],
        capture_output=True,
        text=True,
        cwd=w.root,
        env=_env(w.home),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    w.output = proc.stdout
    return w


def _table_rows(text: str) -> dict[str, list[str]]:
    """The rows of a rich table as printed: first cell -> the other cells, stripped."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_kpi_figure_is_what_report_kpi_prints_in_the_workspace(ws: Workspace) -> None:
    labels = {
        m["name"]: m["label"]
        for m in json.loads(ws.cst("report", "kpi", "--json").stdout)["metrics"]
    }
    rows = _table_rows(ws.cst("report", "kpi").stdout)  # no flags, as quickstart says
    shown = 0
    for name, label in _LINES:
        m = re.search(rf"^  {re.escape(label)}\s+(\S.*?)\s*$", ws.output, re.MULTILINE)
        if m is None:
            continue
        shown += 1
        assert rows[labels[name]][0] == m.group(1), (name, rows[labels[name]], m.group(1))
    assert shown == len(_LINES)
    assert "  the same figures, and every other metric: cst report kpi" in ws.output
    # the business-hours calendar the figures use is in the generated config
    assert "times in business hours of 'madrid'" in ws.output
    assert "[calendars.madrid]" in (ws.dir / "cstoolkit.toml").read_text()


def test_the_triage_figures_are_what_triage_run_prints(ws: Workspace) -> None:
    m = re.search(r"Triage recipe (\S+) \(dry run.*?: (\d+ tickets evaluated, \d+ matched a rule, "
                  r"\d+ would change)", ws.output)  # fmt: skip
    assert m is not None, ws.output
    assert f"see it all:  cst triage run {m.group(1)}" in ws.output
    proc = ws.cst("triage", "run", m.group(1))
    assert m.group(2) in proc.stderr + proc.stdout


def test_the_knowledge_figures_are_what_kb_commands_print(ws: Workspace) -> None:
    m = re.search(r"Knowledge base kb/: (\d+) articles \(cst kb list\)\. Recipe (\S+) applied "
                  r"to the sample helpdesk: (\d+) open tickets answered", ws.output)  # fmt: skip
    assert m is not None, ws.output
    assert len(json.loads(ws.cst("kb", "list", "--json").stdout)) == int(m.group(1)) > 0
    assert m.group(2) == "recipes/first-line.yaml"
    assert ws.cst("recipe", "check", m.group(2)).returncode == 0
    b = re.search(
        r"cst kb backtest  \((\d+) of (\d+) tickets would have been answered\)", ws.output
    )
    assert b is not None, ws.output
    proc = ws.cst("kb", "backtest")
    assert f"{b.group(2)} tickets: {b.group(1)} would have been answered" in proc.stderr
    assert int(b.group(1)) > 0
    # answering again finds nothing new (once per ticket), and the report counts what was
    plan = json.loads(ws.cst("triage", "run", m.group(2), "--json").stdout)
    assert not [c for t in plan["tickets"] for c in t["comments"] if c["public"]]
    report = json.loads(ws.cst("report", "kpi", "--json").stdout)
    (kb,) = [x for x in report["metrics"] if x["name"] == "self_service"]
    assert kb["values"]["answered"] >= int(m.group(3))


def test_the_survey_figures_are_what_status_prints(ws: Workspace) -> None:
    m = re.search(r"surveys: sent (\d+) CSAT", ws.output)
    assert m is not None and int(m.group(1)) > 0
    assert "the counts:  cst status" in ws.output
    assert f"{m.group(1)} sent" in ws.cst("status").stdout


def test_every_shipped_recipe_passes_recipe_check_in_the_workspace(ws: Workspace) -> None:
    shipped = sorted(p.name for p in RECIPES.glob("*.yaml"))
    for name in shipped:
        assert (ws.dir / "recipes" / name).is_file(), name
    recipes = [f"recipes/{n}" for n in shipped if is_recipe_name(n)]
    assert len(recipes) >= 8
    proc = ws.cst("recipe", "check", *recipes, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tests = [f"recipes/{n}" for n in shipped if n.endswith(".test.yaml")]
    proc = ws.cst("recipe", "test", *tests, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_recipe_the_readme_names_is_in_the_workspace(ws: Workspace) -> None:
    named = set(re.findall(r"\brecipes/[\w.-]+\.yaml\b", (ROOT / "README.md").read_text()))
    assert named
    for path in named:
        assert (ws.dir / path).is_file(), f"README names {path}, not in the quickstart workspace"


def test_the_survey_key_stays_in_the_workspace_and_quickstart_says_where(ws: Workspace) -> None:
    keys = ws.dir / "keys.json"
    assert keys.is_file() and stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert "quickstart-survey-key" in json.loads(keys.read_text())
    assert not list(ws.home.rglob("keys.json")), "a key was written under the user's home"
    assert 'keys_file = "keys.json"' in (ws.dir / "cstoolkit.toml").read_text()
    assert f"in {keys} (mode 0600)" in ws.output
    names = ws.cst("keys", "list", "--json").stdout
    assert "quickstart-survey-key" in names  # cst keys reads the workspace's file


def test_a_keys_file_named_by_the_environment_wins(tmp_path: Path) -> None:
    """$CSTOOLKIT_KEYS_FILE is the user saying otherwise: the config's keys_file yields."""
    from cstoolkit import secrets
    from cstoolkit.config import load_config

    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text('keys_file = "k/keys.json"\n')
    assert secrets.keys_path(load_config(cfg, env={}).env) == tmp_path / "k" / "keys.json"
    mine = tmp_path / "mine.json"
    loaded = load_config(cfg, env={"CSTOOLKIT_KEYS_FILE": str(mine)})
    assert secrets.keys_path(loaded.env) == mine


def test_the_sample_mail_is_taken_in_once_and_the_knowledge_base_answers_one(
    ws: Workspace,
) -> None:
    m = re.search(r"Inbound mail Maildir/: (\d+) messages taken in once \(cst inbound poll\): "
                  r"(\d+) new tickets, (\d+) reply threaded to a ticket; the knowledge base "
                  r"answered (\d+) first, handed (\d+) to the team\.", ws.output)  # fmt: skip
    assert m is not None, ws.output
    assert [int(g) for g in m.groups()] == [4, 3, 1, 1, 1]
    listed = json.loads(ws.cst("tickets", "list", "--query", "tag:inbound", "--json").stdout)
    assert len(listed) == 3
    answered = [t for t in listed if "kb_answered" in t["tags"]]
    assert len(answered) == 1 and "kb_handoff" in json.dumps(listed)
    # the answer is in the customer's language (the mail is Spanish) and went through the one
    # write path: the helpdesk file holds it as a public reply
    helpdesk = [json.loads(line) for line in (ws.dir / "helpdesk.jsonl").read_text().splitlines()]
    (rec,) = [r for r in helpdesk if r.get("type") == "ticket"
              and r["id"] == answered[0]["id"].split(":")[1]][-1:]  # fmt: skip
    replies = [e["body"] for e in rec["events"] if e["kind"] == "comment" and e["public"]]
    assert len(replies) == 1 and replies[0].startswith("Hola")
    # the figure of today's report is what the command it names prints
    f = re.search(r"today's, answered from the KB: (\d+)  \((cst report kpi [^)]*)\)", ws.output)
    assert f is not None and f.group(1) == "1", ws.output
    report = json.loads(ws.cst(*f.group(2).split()[1:], "--json").stdout)
    (kb,) = [x for x in report["metrics"] if x["name"] == "self_service"]
    assert kb["values"]["answered"] == 1
    # every mail was taken (moved to cur/, seen); polling again takes nothing twice
    maildir = ws.dir / "Maildir"
    assert not list((maildir / "new").iterdir())
    assert sorted(p.name.rsplit(":2,", 1)[1] for p in (maildir / "cur").iterdir()) == ["S"] * 4
    again = ws.cst("inbound", "poll")
    assert "no new message" in again.stderr
    assert ws.cst("inbound", "status").returncode == 0
