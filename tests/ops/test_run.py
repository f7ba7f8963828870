"""`cst run`: steps as subprocesses under one lock, timeouts, max runtime, dry runs, reports."""

from __future__ import annotations

import sys
import time

import pytest

from cstoolkit.config import load_config
from cstoolkit.errors import ConfigError
from cstoolkit.ops import run as engine
from cstoolkit.store import locks

from .conftest import Workspace

SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


@pytest.mark.slow_on_postgresql
def test_failing_middle_step_does_not_stop_later_steps(synced: Workspace) -> None:
    # A recipe that exists (the config check requires that) but does not load: exit 2.
    (synced.root / "broken.yaml").write_text("rules: [", "utf-8")
    synced.write_config(
        """
[run]
steps = [
  "sync pull",
  { command = "triage run broken.yaml --apply", name = "triage" },
  "sync push",
  "status --format prometheus --out status.prom",
]
"""
    )
    code, report = synced.run_json("run", "--json")
    assert code == 1
    outcomes = {s["name"]: (s["outcome"], s["exit_code"]) for s in report["steps"]}
    assert outcomes == {
        "sync pull": ("ok", 0),
        "triage": ("failed", 2),
        "sync push": ("ok", 0),
        "status --format prometheus --out status.prom": ("ok", 0),
    }
    triage = report["steps"][1]
    assert "broken.yaml" in triage["stderr_tail"]
    # relative paths in steps resolve against the config file's directory
    assert (synced.root / "status.prom").read_text().startswith("# HELP cstoolkit_")
    assert report["outcome"] == "failed" and report["exit_code"] == 1
    # recorded in the store and shown by cst status
    code, status = synced.run_json("status", "--json")
    assert code == 0
    assert status["last_run"]["run_id"] == report["run_id"]
    assert status["last_run"]["failed_steps"] == ["triage"]
    # the run lock was released
    store = synced.store()
    assert locks.list_locks(store) == []
    store.close()


def test_all_ok_exits_zero(synced: Workspace) -> None:
    synced.write_config('[run]\nsteps = ["sync pull", "locks list --json"]\n')
    proc = synced.run("run")
    assert proc.returncode == 0, proc.stderr
    assert "ok  sync pull" in proc.stderr


def test_run_lock_busy_exits_4(synced: Workspace) -> None:
    synced.write_config('[run]\nsteps = ["status"]\n')
    store = synced.store()
    with locks.hold(store, engine.LOCK_NAME):
        proc = synced.run("run")
    store.close()
    assert proc.returncode == 4
    assert "cst locks release run" in proc.stderr


def test_unknown_command_is_a_config_error(ws: Workspace) -> None:
    ws.write_config('[run]\nsteps = ["sync pull", "frobnicate now"]\n')
    proc = ws.run("run")
    assert proc.returncode == 2
    assert "run.steps[1]" in proc.stderr and "frobnicate" in proc.stderr
    ws.write_config('[run]\nsteps = ["sync pull"]\ntimeout = "soon"\n')
    proc = ws.run("run")
    assert proc.returncode == 2 and "run.timeout" in proc.stderr
    ws.write_config("")
    assert ws.run("run").returncode == 2  # no [run] table


def test_load_plan_forms(ws: Workspace) -> None:
    ws.write_config(
        """
[run]
timeout = "5m"
max_runtime = "1h"

[[run.steps]]
command = "sync pull"
timeout = "90s"

[[run.steps]]
command = "cst triage run recipes/vip.yaml --apply"
name = "vip"
needs = ["sync pull"]
"""
    )
    plan = engine.load_plan(load_config(ws.config))
    assert plan.max_runtime == 3600
    assert [(s.name, s.timeout, s.needs) for s in plan.steps] == [
        ("sync pull", 90, []),
        ("vip", 300, ["sync pull"]),
    ]
    assert plan.steps[1].args == ["triage", "run", "recipes/vip.yaml", "--apply"]
    ws.write_config('[run]\nsteps = [{ command = "sync pull", needs = ["later"] }]\n')
    with pytest.raises(ConfigError, match="needs"):
        engine.load_plan(load_config(ws.config))


def test_dry_run_mapping() -> None:
    assert engine.dry_run_args(["survey", "send"]) == (["survey", "send", "--dry-run"],
                                                       engine.ADD_DRY_RUN)  # fmt: skip
    assert engine.dry_run_args(["triage", "run", "r.yaml", "--apply"]) == (
        ["triage", "run", "r.yaml"],
        engine.DROP_APPLY,
    )
    assert engine.dry_run_args(["sync", "pull"]) == (None, engine.PREVIEW)
    assert engine.dry_run_args(["sync", "push"]) == (["sync", "push", "--list"], engine.ADD_LIST)
    assert engine.dry_run_args(["sync", "push", "--list"])[1] == engine.AS_IS
    assert engine.dry_run_args(["report", "kpi", "--format", "csv"])[1] == engine.AS_IS
    assert engine.dry_run_args(["store", "prune", "--older-than", "2y"])[0] == [
        "store", "prune", "--older-than", "2y", "--dry-run"]  # fmt: skip


def test_dry_run_cli(synced: Workspace) -> None:
    (synced.root / "nothing.yaml").write_text("rules: [", "utf-8")  # exists, does not load
    synced.write_config(
        '[run]\nsteps = ["sync pull", "triage run nothing.yaml --apply", '
        '"store prune --older-than 30d"]\n'
    )
    code, report = synced.run_json("run", "--dry-run", "--json")
    steps = report["steps"]
    assert report["dry_run"] is True
    assert steps[0]["outcome"] == "previewed" and steps[0]["dry_run_mode"] == "preview"
    assert steps[0]["reason"].startswith("would pull tickets into the store from desk: ")
    assert steps[1]["command"] == "triage run nothing.yaml"  # --apply dropped
    assert steps[2]["command"].endswith("--dry-run") and steps[2]["outcome"] == "ok"
    assert code == 1  # the triage step still fails (the recipe does not load)
    store = synced.store()
    assert store.counts()["tickets"] == 80  # the prune was a dry run
    store.close()


@pytest.mark.slow_on_postgresql
def test_a_dry_run_previews_every_step_even_those_that_need_a_pull(synced: Workspace) -> None:
    """The sync a triage step needs is not run in a dry run: the triage still runs (on the
    store as it is), in its dry-run form, and each step says what it would do."""
    (synced.root / "r.yaml").write_text(
        "rules:\n  - name: urgent\n    when: {priority: urgent}\n    then: [{add_tags: [u]}]\n"
    )
    synced.write_config(
        '[run]\nsteps = ["sync pull", { command = "triage run r.yaml --apply", name = "t", '
        'needs = ["sync pull"] }, { command = "sync push", needs = ["t"] }]\n'
    )
    code, report = synced.run_json("run", "--dry-run", "--json")
    pull, triage, push = report["steps"]
    assert code == 0
    assert pull["outcome"] == "previewed" and "desk: changes since" in pull["reason"]
    assert triage["outcome"] == "ok" and triage["command"] == "triage run r.yaml"
    assert push["outcome"] == "ok" and push["command"] == "sync push --list"
    proc = synced.run("run", "--dry-run")
    assert "triage run r.yaml: " in proc.stderr and "tickets evaluated" in proc.stderr
    assert "sync push --list: the write queue is empty" in proc.stderr


def test_step_timeout_kills_and_next_step_runs(synced: Workspace) -> None:
    store = synced.store()
    plan = engine.RunPlan(
        [
            engine.Step("hang", "hang", [], timeout=1.0, argv=SLEEP),
            engine.Step("ok", "ok", [], timeout=10, argv=[sys.executable, "-c", "pass"]),
        ]
    )
    started = time.monotonic()
    report = engine.execute(store, plan, config_path=None, grace=1.0)
    elapsed = time.monotonic() - started
    assert [s.outcome for s in report.steps] == ["timeout", "ok"]
    assert report.steps[0].exit_code is not None and report.steps[0].exit_code < 0  # signalled
    assert "timeout of 1s" in report.steps[0].reason
    assert report.exit_code == 1
    assert elapsed < 10
    store.close()


def test_max_runtime_stops_the_run(synced: Workspace) -> None:
    store = synced.store()
    plan = engine.RunPlan(
        [
            engine.Step("first", "first", [], timeout=60, argv=SLEEP),
            engine.Step("second", "second", [], timeout=60, argv=SLEEP),
        ]
    )
    started = time.monotonic()
    report = engine.execute(store, plan, config_path=None, max_runtime=1.5, grace=1.0)
    assert time.monotonic() - started < 10
    first, second = report.steps
    assert first.outcome == "timeout" and "max runtime" in first.reason
    assert second.outcome == "skipped" and "max runtime" in second.reason
    store.close()


def test_max_runtime_option_parsed(synced: Workspace) -> None:
    synced.write_config('[run]\nsteps = ["status"]\n')
    code, report = synced.run_json("run", "--max-runtime", "10m", "--json")
    assert code == 0 and report["max_runtime"] == 600
    proc = synced.run("run", "--max-runtime", "forever")
    assert proc.returncode == 2 and "--max-runtime" in proc.stderr


def test_needs_skips_dependents_and_redacts_stderr(synced: Workspace) -> None:
    store = synced.store()
    noisy = [sys.executable, "-c",
             "import sys; sys.stderr.write('boom token=s3cr3tvalue\\n'); sys.exit(3)"]  # fmt: skip
    plan = engine.RunPlan(
        [
            engine.Step("a", "a", [], argv=noisy),
            engine.Step("b", "b", [], needs=["a"], argv=[sys.executable, "-c", "pass"]),
            engine.Step("c", "c", [], argv=[sys.executable, "-c", "pass"]),
        ]
    )
    report = engine.execute(store, plan, config_path=None)
    assert [s.outcome for s in report.steps] == ["failed", "skipped", "ok"]
    assert "s3cr3tvalue" not in report.steps[0].stderr_tail
    assert "boom token=***" in report.steps[0].stderr_tail
    last = engine.last_run(store)
    assert last is not None and last["run_id"] == report.run_id and last["exit_code"] == 1
    store.close()
