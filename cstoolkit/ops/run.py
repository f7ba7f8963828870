"""``cst run``: the steps named in ``[run]``, one subprocess each, under one lock.

Each step is ``sys.executable -m cstoolkit --config <same file> <command>``, started in its own
process group in the config file's directory (so relative paths in steps resolve against the
file, as everywhere else), so a step that hangs is killed (SIGTERM, then SIGKILL after a grace
period) and its exit code is the real one. Steps are independent unless one names others in
``needs``: a failed step does not stop the next, only the steps that need it. The whole run
holds the lock ``run`` (renewed while it lasts) and stops starting steps when ``--max-runtime``
is spent; the step running at that moment is killed.

Steps end with the run: on SIGTERM, SIGINT or SIGHUP the run stops the step in progress (its
process group: SIGTERM, then SIGKILL after the grace period), starts no further step, records
the run as ``interrupted`` and exits 128 + the signal's number (143 for SIGTERM). A run killed
with SIGKILL cannot do that; its step notices instead and ends (:mod:`cstoolkit.ops.lifeline`:
the kernel's parent-death signal on Linux, and everywhere a pipe whose end closes with the
parent), so it never holds its lock while the next run starts.

Dry runs (``--dry-run``) follow :data:`MODES`: every step is run in its dry-run form, run as is
when it changes nothing, or skipped when it has no dry-run form. The plan itself (``[run]``
checked, :class:`Step`, :data:`MODES`) is read by :mod:`cstoolkit.config.run_plan`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit.config.check import load_plan  # noqa: F401  (the [run] plan, checked)
from cstoolkit.config.run_plan import (  # noqa: F401  (the plan is read by the config layer)
    ADD_DRY_RUN,
    ADD_LIST,
    AS_IS,
    DEFAULT_STEP_TIMEOUT,
    DROP_APPLY,
    MODES,
    PREVIEW,
    SKIP,
    RunPlan,
    Step,
    command_key,
    dry_run_args,
)
from cstoolkit.errors import EXIT_INTERNAL
from cstoolkit.model import now
from cstoolkit.ops import lifeline

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.store.base import Store

LOCK_NAME = "run"
KILL_GRACE = 5.0
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 4000

OK, FAILED, TIMEOUT, SKIPPED, BUSY = "ok", "failed", "timeout", "skipped", "busy"
INTERRUPTED = "interrupted"
#: A dry run's step that has no dry-run form: described, not run; steps that need it still run.
PREVIEWED = "previewed"
#: Signals that stop a run (and its step in progress) in order.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class StepResult:
    name: str
    command: str
    outcome: str
    exit_code: int | None = None
    seconds: float = 0.0
    stderr_tail: str = ""
    reason: str = ""
    dry_run_mode: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.command,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "reason": self.reason,
            "dry_run_mode": self.dry_run_mode,
            "stderr_tail": self.stderr_tail,
        }


@dataclass
class RunReport:
    run_id: str
    started_at: datetime
    dry_run: bool = False
    max_runtime: float | None = None
    finished_at: datetime | None = None
    steps: list[StepResult] = field(default_factory=list)
    #: the signal that stopped the run (SIGTERM, SIGINT, SIGHUP), if one did
    stopped_by: int | None = None

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.outcome in (FAILED, TIMEOUT, BUSY, INTERRUPTED)]

    @property
    def exit_code(self) -> int:
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        return 1 if self.failed else 0

    @property
    def outcome(self) -> str:
        if self.stopped_by is not None:
            return INTERRUPTED
        return FAILED if self.failed else OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "dry_run": self.dry_run,
            "max_runtime": self.max_runtime,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "stopped_by": signal.Signals(self.stopped_by).name if self.stopped_by else None,
            "seconds": round((self.finished_at - self.started_at).total_seconds(), 3)
            if self.finished_at
            else None,
            "steps": [s.as_dict() for s in self.steps],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# -- config ----------------------------------------------------------------------------------


def argv_for(config_path: Path | None, args: list[str], root_options: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "cstoolkit"]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    return [*argv, *root_options, *args]


# -- running ---------------------------------------------------------------------------------


def learn_secrets(config: Config, host: Any) -> None:
    """Resolve every configured instance's secret settings so REDACTOR masks their values in
    the steps' stderr (a step's own messages are redacted by the step too)."""
    from cstoolkit.config import INSTANCE_SECTIONS, instance_settings

    for section in INSTANCE_SECTIONS:
        for inst in config.instances(section).values():
            try:
                instance_settings(config, inst, host.get(inst.kind, inst.plugin))
            except Exception:  # a broken instance fails its own step, not the run
                continue


def _tail(path: Path) -> str:

    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - STDERR_TAIL_CHARS * 4))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = text.splitlines()[-STDERR_TAIL_LINES:]
    from cstoolkit.secrets import redact_text

    return redact_text("\n".join(lines))[-STDERR_TAIL_CHARS:]


def _kill(proc: subprocess.Popen[bytes], grace: float) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _Stop:
    """A signal handler that remembers the first stop signal (the run loop polls it)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: Any = None) -> None:
        if self.signum is None:
            self.signum = signum

    def requested(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[_Stop]:
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_step(
    argv: list[str],
    *,
    timeout: float,
    cwd: Path | None,
    env: dict[str, str] | None = None,
    tick: Callable[[], None] | None = None,
    grace: float = KILL_GRACE,
    stop: Callable[[], bool] | None = None,
) -> tuple[int | None, bool, float, str]:
    """Run one step: (exit code, timed out, seconds, redacted stderr tail).

    The step is killed (its process group) when ``timeout`` passes or ``stop()`` turns true;
    it ends by itself if this process dies (:mod:`cstoolkit.ops.lifeline`).
    """
    started = time.monotonic()
    options, lifeline_fd = lifeline.spawn_options(env)
    try:
        with tempfile.TemporaryDirectory(prefix="cst-run-") as tmp:
            err_path = Path(tmp) / "stderr"
            with open(err_path, "wb") as err:
                try:
                    proc = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                        cwd=str(cwd) if cwd else None,
                        start_new_session=True,
                        **options,
                    )
                finally:
                    lifeline.close_read_end(options)
                timed_out = False
                while True:
                    left = timeout - (time.monotonic() - started)
                    if left <= 0:
                        timed_out = True
                        _kill(proc, grace)
                        break
                    if stop is not None and stop():
                        _kill(proc, grace)
                        break
                    try:
                        proc.wait(timeout=min(0.25, left))
                        break
                    except subprocess.TimeoutExpired:
                        if tick is not None:
                            tick()
            return proc.returncode, timed_out, time.monotonic() - started, _tail(err_path)
    finally:
        os.close(lifeline_fd)  # the step sees EOF only now, after it ended


def execute(
    store: Store,
    plan: RunPlan,
    *,
    config_path: Path | None,
    cwd: Path | None = None,
    dry_run: bool = False,
    max_runtime: float | None = None,
    root_options: list[str] | None = None,
    env: dict[str, str] | None = None,
    on_step: Callable[[StepResult], None] | None = None,
    grace: float = KILL_GRACE,
    describe: Callable[[Step], str] | None = None,
) -> RunReport:
    """Run the plan under the ``run`` lock (BusyError, exit 4, when it is held); record it.

    In a dry run, a step with no dry-run form is not run: ``describe(step)`` says what it would
    do (outcome :data:`PREVIEWED`), and the steps that need it run on the store as it is."""
    from cstoolkit.store import locks

    limit = max_runtime if max_runtime is not None else plan.max_runtime
    report = RunReport(uuid.uuid4().hex, now(), dry_run=dry_run, max_runtime=limit)
    with _stop_on_signals() as stop, locks.hold(store, LOCK_NAME) as lease:
        _record_start(store, report)
        last_renew = time.monotonic()

        def tick() -> None:
            nonlocal last_renew
            if time.monotonic() - last_renew > lease.ttl / 3:
                lease.renew()
                last_renew = time.monotonic()

        started = time.monotonic()
        try:
            for step in plan.steps:
                if stop.requested():
                    break
                result = _one(
                    step, report, started, limit, dry_run, config_path, cwd, root_options,
                    env, tick, grace, stop.requested, describe,
                )  # fmt: skip
                report.steps.append(result)
                if on_step is not None:
                    on_step(result)
            report.stopped_by = stop.signum
        finally:
            report.finished_at = now()
            _record_finish(store, report)
    return report


def _one(
    step: Step,
    report: RunReport,
    started: float,
    limit: float | None,
    dry_run: bool,
    config_path: Path | None,
    cwd: Path | None,
    root_options: list[str] | None,
    env: dict[str, str] | None,
    tick: Callable[[], None],
    grace: float,
    stop: Callable[[], bool] | None = None,
    describe: Callable[[Step], str] | None = None,
) -> StepResult:
    result = StepResult(step.name, step.command, SKIPPED)
    done = (OK, PREVIEWED)
    broken = [r.name for r in report.steps if r.name in step.needs and r.outcome not in done]
    if broken:
        result.reason = f"needs {', '.join(broken)}, which did not succeed"
        return result
    args: list[str] | None = step.args
    if dry_run:
        args, result.dry_run_mode = dry_run_args(step.args)
        if args is None:
            result.outcome = PREVIEWED
            what = describe(step) if describe is not None else ""
            result.reason = (what or "would run") + " (not run in a dry run: no dry-run form)"
            return result
    timeout = step.timeout
    cut_by_limit = False
    if limit is not None:
        left = limit - (time.monotonic() - started)
        if left <= 0:
            result.reason = "max runtime reached before this step"
            return result
        if left < timeout:
            timeout, cut_by_limit = left, True
    assert args is not None
    argv = step.argv if step.argv is not None else argv_for(config_path, args, root_options or [])
    if dry_run and args is not None:
        result.command = shlex.join(args)
    try:
        code, timed_out, seconds, tail = run_step(
            argv, timeout=timeout, cwd=cwd, env=env, tick=tick, grace=grace, stop=stop
        )
    except OSError as exc:
        result.outcome, result.reason = FAILED, f"cannot start: {exc}"
        return result
    result.exit_code, result.seconds, result.stderr_tail = code, seconds, tail
    if stop is not None and stop() and not timed_out:
        result.outcome, result.reason = INTERRUPTED, "the run was stopped by a signal"
    elif timed_out:
        result.outcome = TIMEOUT
        result.reason = (
            f"killed: max runtime {limit:g}s reached"
            if cut_by_limit
            else f"killed after its timeout of {step.timeout:g}s"
        )
    elif code == 0:
        result.outcome = OK
    elif code == 4:
        result.outcome, result.reason = BUSY, "another run held the lock this step needs"
    elif code == EXIT_INTERNAL:
        result.outcome, result.reason = FAILED, internal_error_reason(tail)
    else:
        result.outcome, result.reason = FAILED, f"exit code {code}"
    return result


def internal_error_reason(stderr_tail: str) -> str:
    """The reason of a step that ended in an internal error (exit 70): a bug in cst or a
    plugin, not a failed operation; names the step's crash report when its stderr did."""
    from cstoolkit.crash import REPORT_LINE

    found = REPORT_LINE.findall(stderr_tail)
    where = f"; crash report: {found[-1]}" if found else ""
    return f"internal error (exit {EXIT_INTERNAL}: a bug, not a failed operation){where}"


def _record_start(store: Store, report: RunReport) -> None:
    from cstoolkit.store import runs

    runs.start_ops_run(store, report.run_id, report.started_at, dry_run=report.dry_run)


def _record_finish(store: Store, report: RunReport) -> None:
    from cstoolkit.store import runs

    runs.finish_ops_run(
        store,
        report.run_id,
        report.finished_at,
        report.outcome,
        report.exit_code,
        report.as_dict(),
    )


def last_run(store: Store, *, include_dry_runs: bool = False) -> dict[str, Any] | None:
    """The latest finished ``cst run`` (its report), or None."""
    from cstoolkit.store import runs

    return runs.last_ops_report(store, include_dry_runs=include_dry_runs)
