"""`cst run` steps end with the run: SIGTERM/SIGINT to the run, and kill -9 of the run.

Real processes: `cst run` with a slow real step (`sync mirror --apply`, slowed by the crash-test
knob between a creation and its link, holding the lock `mirror:copy+desk`), on SQLite and on a
real PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cstoolkit.mirror import TEST_MIRROR_DELAY_ENV
from cstoolkit.ops.lifeline import spawn_options
from cstoolkit.store.locks import list_locks, pid_alive

from .conftest import Workspace

COPY = """
[backends.copy]
plugin = "local"
path = "copy.jsonl"

[run]
steps = ["sync mirror desk copy --apply --query id:desk:1"]
"""
MIRROR_LOCK = "mirror:copy+desk"


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def _start_slow_run(ws: Workspace) -> tuple[subprocess.Popen[str], int]:
    """`cst run` with its step in flight; returns the run and the step's pid (the holder of
    the mirror lock)."""
    (ws.root / "copy.jsonl").touch()
    ws.write_config(COPY)
    run = subprocess.Popen(
        [sys.executable, "-m", "cstoolkit", "--config", str(ws.config), "run", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, TEST_MIRROR_DELAY_ENV: "60"},
    )  # fmt: skip
    store = ws.store()
    deadline = time.monotonic() + 60
    try:
        while True:
            held = [i for i in list_locks(store) if i.name == MIRROR_LOCK]
            if held:
                return run, held[0].pid
            assert time.monotonic() < deadline and run.poll() is None, run.stderr
            time.sleep(0.1)
    finally:
        store.close()


def _next_run_proceeds(ws: Workspace) -> None:
    proc = ws.run("run", "--json")
    assert proc.returncode == 0, proc.stderr
    (step,) = json.loads(proc.stdout)["steps"]
    assert step["outcome"] == "ok", step
    store = ws.store()
    assert list_locks(store) == [], "no lock left behind"
    store.close()


def test_kill_9_of_cst_run_ends_its_step(synced: Workspace) -> None:
    run, step = _start_slow_run(synced)
    assert step != run.pid
    os.kill(run.pid, signal.SIGKILL)
    run.wait(30)
    assert _gone(step, 10), "the step outlived its run"
    store = synced.store()
    mirror_locks = [i for i in list_locks(store) if i.name == MIRROR_LOCK]
    assert not mirror_locks, "the step released its lock as it ended"
    store.close()
    _next_run_proceeds(synced)


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)]
)
@pytest.mark.slow_on_postgresql
def test_a_stop_signal_ends_the_step_and_records_the_run(
    synced: Workspace, sig: signal.Signals
) -> None:
    run, step = _start_slow_run(synced)
    os.kill(run.pid, sig)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 128 + sig, err
    assert _gone(step, 5), "the step outlived its run"
    report = json.loads(out)
    assert report["outcome"] == "interrupted" and report["stopped_by"] == sig.name
    assert [s["outcome"] for s in report["steps"]] == ["interrupted"]
    assert f"stopped by {sig.name}" in err
    code, status = synced.run_json("status", "--json")
    assert code == 0 and status["last_run"]["run_id"] == report["run_id"]
    _next_run_proceeds(synced)


DRIVER = """
import os, subprocess, sys, time
from cstoolkit.ops.lifeline import spawn_options, close_read_end
options, keep = spawn_options(None)
options.pop("preexec_fn", None)  # the portable mechanism alone: the pipe
child = subprocess.Popen(
    [sys.executable, "-c",
     "from cstoolkit.ops.lifeline import watch; watch(grace=1.0); import time; time.sleep(60)"],
    start_new_session=True, **options)
close_read_end(options)
print(child.pid, flush=True)
time.sleep(60)
"""


def test_without_the_parent_death_signal_the_pipe_ends_the_step(tmp_path: Path) -> None:
    assert spawn_options(None)[0]["pass_fds"]
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert driver.stdout is not None
    child = int(driver.stdout.readline())
    assert pid_alive(child)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(30)
    assert _gone(child, 10), "the step outlived its parent"
