"""The ``[run]`` table as a plan: which steps ``cst run`` runs, in which form in a dry run.

Checked with the rest of the file (:data:`cstoolkit.config.core.RUN` names this module's
:func:`plan_rule`); :mod:`cstoolkit.ops.run` runs the plan.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.config.schema import BAD

if TYPE_CHECKING:
    pass

DEFAULT_STEP_TIMEOUT = 30 * 60.0

# How each schedulable command is run by ``cst run --dry-run``.
ADD_DRY_RUN = "add --dry-run"  # scheduled command that acts unless --dry-run
DROP_APPLY = "drop --apply"  # changes tickets only on request: a dry run without --apply
AS_IS = "as is"  # reads only (may write the file it is told to with --out)
ADD_LIST = "add --list"  # sync push: the queue it would push, listed
PREVIEW = "preview"  # no dry-run form: not run, described (outcome "previewed"); the later
#                      steps, even those that need it, run on the store as it is
#: The former name of PREVIEW (a dry run no longer skips what follows such a step).
SKIP = PREVIEW

MODES: dict[str, str] = {
    "sync pull": PREVIEW,
    "sync push": ADD_LIST,
    "sync mirror": DROP_APPLY,
    "triage run": DROP_APPLY,
    "triage apply": PREVIEW,
    "triage revert": ADD_DRY_RUN,
    "triage backtest": AS_IS,
    "survey send": ADD_DRY_RUN,
    "survey pull": PREVIEW,
    "survey import": PREVIEW,
    "survey responses": AS_IS,
    "survey optouts": AS_IS,
    "inbound poll": PREVIEW,
    "inbound replies": ADD_DRY_RUN,
    "inbound status": AS_IS,
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


@dataclass
class Step:
    name: str
    command: str
    args: list[str]
    timeout: float = DEFAULT_STEP_TIMEOUT
    needs: list[str] = field(default_factory=list)
    #: the full argv (tests may give any program; by default built by ``ops.run.argv_for``)
    argv: list[str] | None = None


@dataclass
class RunPlan:
    steps: list[Step]
    max_runtime: float | None = None


def command_key(args: list[str]) -> str | None:
    """The MODES key of a step's arguments (``sync pull``, ``status``), None if unknown."""
    words = [a for a in args[:2] if not a.startswith("-")]
    for n in (2, 1):
        key = " ".join(words[:n])
        if len(words) >= n and key in MODES:
            return key
    return None


def dry_run_args(args: list[str]) -> tuple[list[str] | None, str]:
    """The arguments a dry run uses for a step (None: only described, see :data:`PREVIEW`)
    and the mode applied."""
    key = command_key(args)
    mode = MODES.get(key or "", PREVIEW)
    if key == "sync push" and "--list" in args:
        mode = AS_IS
    if mode == ADD_LIST:
        return [*args, "--list"], mode
    if mode == ADD_DRY_RUN:
        return (args if "--dry-run" in args else [*args, "--dry-run"]), mode
    if mode == DROP_APPLY:
        return [a for a in args if a != "--apply"], mode
    if mode == AS_IS:
        return args, mode
    return None, mode


def build_plan(values: dict[str, Any], problem: Callable[..., None]) -> RunPlan:
    """The plan from the typed values of ``[run]``; ``problem(path, message)`` for each fault
    (path relative to ``[run]``: ``("steps", 2)``)."""
    default_timeout = values.get("timeout")
    if not isinstance(default_timeout, float):
        default_timeout = DEFAULT_STEP_TIMEOUT
    max_runtime = values.get("max_runtime")
    steps: list[Step] = []
    names: set[str] = set()
    raw_steps = values.get("steps")
    for i, item in enumerate(raw_steps if isinstance(raw_steps, list) else []):
        where = ("steps", i)
        if item is BAD:
            continue
        raw = {"command": item} if isinstance(item, str) else item
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip():
            problem(where, 'command: expected a cst command line such as "sync pull"')
            continue
        try:
            args = shlex.split(command)
        except ValueError as exc:
            problem(where, f"command: {exc}")
            continue
        if args and args[0] == "cst":
            args = args[1:]
        if command_key(args) is None:
            problem(
                where,
                f"command: {command!r} is not a command cst run can schedule "
                f"(known: {', '.join(sorted(MODES))})",
            )
            continue
        name = str(raw.get("name") or command)
        if name in names:
            problem(where, f"two steps are named {name!r} (give one a name = ...)")
            continue
        needs = raw.get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        if needs is BAD or any(n not in names for n in needs):
            unknown = [n for n in needs if n not in names] if needs is not BAD else []
            problem(
                where,
                "needs: expected names of earlier steps"
                + (f" ({', '.join(map(repr, unknown))} is not one)" if unknown else ""),
            )
            continue
        timeout = raw.get("timeout")
        if timeout is BAD:
            continue
        seconds = float(timeout) if isinstance(timeout, int | float) else default_timeout
        steps.append(Step(name, command, args, seconds, list(needs)))
        names.add(name)
    return RunPlan(steps, max_runtime if isinstance(max_runtime, float) else None)


def plan_rule(values: dict[str, Any], problem: Callable[..., None]) -> None:
    """The rule of the ``[run]`` section: every step must make a plan."""
    build_plan(values, problem)
