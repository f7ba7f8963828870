"""``cst run``: the steps named in ``[run]``, one subprocess each, under one lock.

Each step is ``sys.executable -m cstoolkit --config <same file> <command>``, started in its own
process group in the config file's directory (so relative paths in steps resolve against the
file, as everywhere else), so a step that hangs is killed (SIGTERM, then SIGKILL after a grace
period) and its exit code is the real one. Steps are independent unless one names others in
``needs``: a failed step does not stop the next, only the steps that need it. The whole run
holds the lock ``run`` (renewed while it lasts) and stops starting steps when ``--max-runtime``
is spent; the step running at that moment is killed.

Dry runs (``--dry-run``) follow :data:`MODES`: every step is run in its dry-run form, run as is
when it changes nothing, or skipped when it has no dry-run form.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import EXIT_INTERNAL, ConfigError, CstError
from cstoolkit.model import now
from cstoolkit.ops import parse_span

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.store.base import Store

LOCK_NAME = "run"
DEFAULT_STEP_TIMEOUT = 30 * 60.0
KILL_GRACE = 5.0
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 4000

# How each schedulable command is run by ``cst run --dry-run``.
ADD_DRY_RUN = "add --dry-run"  # scheduled command that acts unless --dry-run
DROP_APPLY = "drop --apply"  # changes tickets only on request: a dry run without --apply
AS_IS = "as is"  # reads only (may write the file it is told to with --out)
SKIP = "skip"  # no dry-run form: not run in a dry run (outcome "skipped")

MODES: dict[str, str] = {
    "sync pull": SKIP,
    "sync push": SKIP,  # "sync push --list" reads only: run as is
    "sync mirror": DROP_APPLY,
    "triage run": DROP_APPLY,
    "triage apply": SKIP,
    "triage revert": ADD_DRY_RUN,
    "triage backtest": AS_IS,
    "survey send": ADD_DRY_RUN,
    "survey pull": SKIP,
    "survey import": SKIP,
    "survey responses": AS_IS,
    "survey optouts": AS_IS,
    "report kpi": AS_IS,
    "report staffing": AS_IS,
    "tickets list": AS_IS,
    "tickets show": AS_IS,
    "recipe check": AS_IS,
    "recipe test": AS_IS,
    "recipe graph": AS_IS,
    "config check": AS_IS,
    "config show": AS_IS,
    "plugins list": AS_IS,
    "doctor": AS_IS,
    "status": AS_IS,
    "locks list": AS_IS,
    "store prune": ADD_DRY_RUN,
    "store migrate": ADD_DRY_RUN,
    "store backup": AS_IS,
}

OK, FAILED, TIMEOUT, SKIPPED, BUSY = "ok", "failed", "timeout", "skipped", "busy"


@dataclass
class Step:
    name: str
    command: str
    args: list[str]
    timeout: float = DEFAULT_STEP_TIMEOUT
    needs: list[str] = field(default_factory=list)
    #: the full argv (tests may give any program; by default built by :func:`argv_for`)
    argv: list[str] | None = None


@dataclass
class RunPlan:
    steps: list[Step]
    max_runtime: float | None = None


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

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.outcome in (FAILED, TIMEOUT, BUSY)]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def outcome(self) -> str:
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
            "seconds": round((self.finished_at - self.started_at).total_seconds(), 3)
            if self.finished_at
            else None,
            "steps": [s.as_dict() for s in self.steps],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# -- config ----------------------------------------------------------------------------------


def command_key(args: list[str]) -> str | None:
    """The MODES key of a step's arguments (``sync pull``, ``status``), None if unknown."""
    words = [a for a in args[:2] if not a.startswith("-")]
    for n in (2, 1):
        key = " ".join(words[:n])
        if len(words) >= n and key in MODES:
            return key
    return None


def load_plan(config: Config) -> RunPlan:
    """The ``[run]`` table as steps; a ConfigError naming the file, line and field otherwise."""
    from cstoolkit.config import locate

    section = config.data.get("run")
    label = config.label

    def fail(message: str, fld: str, key: str | None = None) -> ConfigError:
        line = locate(config.text, ["run"], key) if config.text else None
        return ConfigError(message, path=label, line=line, field=fld)

    if section is None:
        raise ConfigError(
            'no [run] table: name the steps, e.g. steps = ["sync pull", "survey send"]',
            path=label,
            field="run",
        )
    if not isinstance(section, dict):
        raise fail("must be a table", "run")
    unknown = set(section) - {"steps", "timeout", "max_runtime"}
    if unknown:
        key = sorted(unknown)[0]
        raise fail("unknown setting (known: steps, timeout, max_runtime)", f"run.{key}", key)

    def span(value: Any, fld: str, key: str) -> float:
        try:
            return parse_span(value, fld).total_seconds()
        except CstError as exc:
            raise fail(str(exc).split(": ", 1)[-1], fld, key) from None

    default_timeout = (
        span(section["timeout"], "run.timeout", "timeout")
        if "timeout" in section
        else DEFAULT_STEP_TIMEOUT
    )
    max_runtime = (
        span(section["max_runtime"], "run.max_runtime", "max_runtime")
        if "max_runtime" in section
        else None
    )
    raw_steps = section.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail("expected a non-empty list of steps", "run.steps", "steps")
    steps: list[Step] = []
    names: set[str] = set()
    for i, item in enumerate(raw_steps):
        fld = f"run.steps[{i}]"
        raw = {"command": item} if isinstance(item, str) else item
        if not isinstance(raw, dict):
            raise fail("expected a command string or a table with command = ...", fld, "steps")
        extra = set(raw) - {"command", "name", "timeout", "needs"}
        if extra:
            raise fail(
                f"unknown key {sorted(extra)[0]!r} (known: command, name, timeout, needs)",
                fld,
                "steps",
            )
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip():
            raise fail('command: expected a cst command line such as "sync pull"', fld, "steps")
        try:
            args = shlex.split(command)
        except ValueError as exc:
            raise fail(f"command: {exc}", fld, "steps") from None
        if args and args[0] == "cst":
            args = args[1:]
        key = command_key(args)
        if key is None:
            raise fail(
                f"command: {command!r} is not a command cst run can schedule "
                f"(known: {', '.join(sorted(MODES))})",
                fld,
                "steps",
            )
        name = str(raw.get("name") or command)
        if name in names:
            raise fail(f"two steps are named {name!r} (give one a name = ...)", fld, "steps")
        needs = raw.get("needs", [])
        if isinstance(needs, str):
            needs = [needs]
        if not isinstance(needs, list) or any(n not in names for n in needs):
            raise fail("needs: expected names of earlier steps", fld, "steps")
        timeout = span(raw["timeout"], f"{fld}.timeout", "steps") if "timeout" in raw else None
        steps.append(Step(name, command, args, timeout or default_timeout, list(needs)))
        names.add(name)
    return RunPlan(steps, max_runtime)


def dry_run_args(args: list[str]) -> tuple[list[str] | None, str]:
    """The arguments a dry run uses for a step (None: skip it) and the mode applied."""
    key = command_key(args)
    mode = MODES.get(key or "", SKIP)
    if key == "sync push" and "--list" in args:
        mode = AS_IS
    if mode == ADD_DRY_RUN:
        return (args if "--dry-run" in args else [*args, "--dry-run"]), mode
    if mode == DROP_APPLY:
        return [a for a in args if a != "--apply"], mode
    if mode == AS_IS:
        return args, mode
    return None, mode


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


def run_step(
    argv: list[str],
    *,
    timeout: float,
    cwd: Path | None,
    env: dict[str, str] | None = None,
    tick: Callable[[], None] | None = None,
    grace: float = KILL_GRACE,
) -> tuple[int | None, bool, float, str]:
    """Run one step: (exit code, timed out, seconds, redacted stderr tail)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cst-run-") as tmp:
        err_path = Path(tmp) / "stderr"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=str(cwd) if cwd else None,
                env=env,
                start_new_session=True,
            )
            timed_out = False
            while True:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    timed_out = True
                    _kill(proc, grace)
                    break
                try:
                    proc.wait(timeout=min(1.0, left))
                    break
                except subprocess.TimeoutExpired:
                    if tick is not None:
                        tick()
        return proc.returncode, timed_out, time.monotonic() - started, _tail(err_path)


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
) -> RunReport:
    """Run the plan under the ``run`` lock (BusyError, exit 4, when it is held); record it."""
    from cstoolkit.store import locks

    limit = max_runtime if max_runtime is not None else plan.max_runtime
    report = RunReport(uuid.uuid4().hex, now(), dry_run=dry_run, max_runtime=limit)
    with locks.hold(store, LOCK_NAME) as lease:
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
                result = _one(
                    step, report, started, limit, dry_run, config_path, cwd, root_options,
                    env, tick, grace,
                )  # fmt: skip
                report.steps.append(result)
                if on_step is not None:
                    on_step(result)
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
) -> StepResult:
    result = StepResult(step.name, step.command, SKIPPED)
    broken = [r.name for r in report.steps if r.name in step.needs and r.outcome != OK]
    if broken:
        result.reason = f"needs {', '.join(broken)}, which did not succeed"
        return result
    args: list[str] | None = step.args
    if dry_run:
        args, result.dry_run_mode = dry_run_args(step.args)
        if args is None:
            result.reason = "no dry-run form: not run in a dry run"
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
            argv, timeout=timeout, cwd=cwd, env=env, tick=tick, grace=grace
        )
    except OSError as exc:
        result.outcome, result.reason = FAILED, f"cannot start: {exc}"
        return result
    result.exit_code, result.seconds, result.stderr_tail = code, seconds, tail
    if timed_out:
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
    from cstoolkit.store.codec import to_epoch

    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO ops_runs (run_id, started_at, dry_run, outcome) VALUES (?, ?, ?, ?)",
            (report.run_id, to_epoch(report.started_at), int(report.dry_run), "running"),
        )


def _record_finish(store: Store, report: RunReport) -> None:
    from cstoolkit.store.codec import dumps, to_epoch

    with store.transaction() as cur:
        cur.execute(
            "UPDATE ops_runs SET finished_at = ?, outcome = ?, exit_code = ?, report = ? "
            "WHERE run_id = ?",
            (
                to_epoch(report.finished_at),
                report.outcome,
                report.exit_code,
                dumps(report.as_dict()),
                report.run_id,
            ),
        )


def last_run(store: Store, *, include_dry_runs: bool = False) -> dict[str, Any] | None:
    """The latest finished ``cst run`` (its report), or None."""
    import json

    sql = "SELECT report FROM ops_runs WHERE finished_at IS NOT NULL"
    if not include_dry_runs:
        sql += " AND dry_run = 0"
    row = store.conn.execute(sql + " ORDER BY started_at DESC, finished_at DESC LIMIT 1").fetchone()
    return json.loads(row[0]) if row else None
