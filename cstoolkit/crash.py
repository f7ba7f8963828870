"""Crash reports: what an unexpected exception leaves behind (docs/security.md).

An exception that is not a :class:`~cstoolkit.errors.CstError` is a bug in cst or a plugin, not
a failed operation. :func:`report` writes one file holding the traceback, the command line,
the cst, Python and platform versions and the installed plugins, every secret masked
(:func:`cstoolkit.secrets.redact_text` over the whole text, option values by
:func:`cstoolkit.secrets.redact_argv`), and returns the one line ``cst`` prints; the process
then exits with :data:`~cstoolkit.errors.EXIT_INTERNAL` (70), so a cron wrapper can tell a bug
from a failed run.

Reports go to ``$CSTOOLKIT_CRASH_DIR`` or the user state directory
(``~/.local/state/cstoolkit/crash`` on Linux): a cron job's user has one even without a
workspace. Each file is ``<UTC time>-<pid>.txt``, mode 0600 in a 0700 directory; the newest
:data:`KEEP` are kept.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shlex
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cstoolkit.secrets import learn_mapping, learn_url, learn_value, redact_argv, redact_text

CRASH_DIR_ENV = "CSTOOLKIT_CRASH_DIR"
#: How many crash reports are kept (older ones are deleted when a new one is written).
KEEP = 20
#: Finds the report a ``cst`` process named in its stderr (``cst run`` quotes it for a step).
REPORT_LINE = re.compile(r"crash report: (\S+\.txt)")
#: The longest error detail printed on the one line (the report has all of it).
DETAIL_CHARS = 300


def crash_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where crash reports are written."""
    env = os.environ if env is None else env
    if env.get(CRASH_DIR_ENV):
        return Path(env[CRASH_DIR_ENV])
    from platformdirs import user_state_dir

    return Path(user_state_dir("cstoolkit")) / "crash"


def report(exc: BaseException, argv: list[str], app: Any = None, *, verbose: bool = False) -> str:
    """Write the crash report of ``exc`` and return the one line to print (``error: ...``).

    ``app`` is the command's :class:`~cstoolkit.cli.app.App` if one was made: the secrets of
    its config are learnt first, so they are masked even if the crash came before any of them
    was used. With ``verbose`` the (redacted) traceback is printed on stderr too.
    """
    _learn_secrets(app)
    text = redact_text(render(exc, argv, app))
    detail = redact_text(f"{type(exc).__name__}: {exc}".strip().splitlines()[0])
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 3] + "..."
    if verbose:
        print(redact_text("".join(traceback.format_exception(exc))), file=sys.stderr, end="")
    try:
        path = write(text)
    except OSError as err:
        why = redact_text(f"{err.strerror or err}: {err.filename or crash_dir()}")
        return f"error: internal error: {detail} (could not write a crash report: {why})"
    return f"error: internal error: {detail}; crash report: {path}"


def render(exc: BaseException, argv: list[str], app: Any = None) -> str:
    """The report's text, before redaction."""
    from cstoolkit.__about__ import __version__

    lines = [
        "cst crash report: an unexpected error (a bug in cst or a plugin); exit code 70",
        f"time: {datetime.now(UTC).isoformat(timespec='seconds').replace('+00:00', 'Z')}",
        f"command: {shlex.join(redact_argv(['cst', *argv]))}",
        f"cst: {__version__}",
        f"python: {platform.python_version()} ({platform.python_implementation()}) "
        f"{sys.executable}",
        f"platform: {platform.platform()}",
    ]
    config = _loaded(app, "config")
    if config is not None:
        lines.append(f"config: {config.label}")
        lines.append(f"store: {config.store_label}")
    lines.append("plugins:")
    lines.extend(f"  {line}" for line in _plugins(app))
    lines.append("")
    lines.append("traceback:")
    lines.append("".join(traceback.format_exception(exc)).rstrip("\n"))
    return "\n".join(lines) + "\n"


def write(text: str, directory: Path | None = None) -> Path:
    """Write one report (mode 0600, never over another) and keep the newest :data:`KEEP`."""
    directory = directory or crash_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"{stamp}-{os.getpid()}.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    prune(directory)
    return path


def prune(directory: Path, keep: int = KEEP) -> None:
    """Delete all but the newest ``keep`` reports (names sort by time)."""
    reports = sorted(p for p in directory.glob("*.txt") if p.is_file())
    for old in reports[: max(0, len(reports) - keep)]:
        with contextlib.suppress(OSError):
            old.unlink()


def _loaded(app: Any, name: str) -> Any:
    """An App's config or host if it was already built (a crash report builds nothing)."""
    return None if app is None else vars(app).get(name)


def _learn_secrets(app: Any) -> None:
    """Teach REDACTOR the secrets of the loaded config: literal and env:/key: values of
    secret-looking and plugin-declared secret settings, and the passwords in every URL."""
    config = _loaded(app, "config") or _loaded(app, "unchecked_config")
    if config is None:
        return
    with contextlib.suppress(Exception):  # best effort: the report is written regardless
        learn_mapping(config.data, config.env)
        learn_url(config.store_url)
    host = _loaded(app, "host")
    if host is None:  # the plugins say which settings are secret: load them (no instance)
        try:
            host = app.host
        except Exception:  # a broken plugin must not stop the report
            return
    from cstoolkit.config import INSTANCE_SECTIONS

    for section in INSTANCE_SECTIONS:
        with contextlib.suppress(Exception):
            for inst in config.instances(section).values():
                with contextlib.suppress(Exception):
                    for name in host.get(inst.kind, inst.plugin).secret_settings():
                        learn_value(inst.settings.get(name), config.env)


def _plugins(app: Any) -> list[str]:
    """One line per plugin: from the loaded host (with its status), else from metadata."""
    host = _loaded(app, "host")
    if host is not None:
        return [
            f"{r.name} {r.version or ''} ({r.distribution or 'built in'}): {r.status}"
            + (f": {r.error}" if r.error else "")
            for r in host.records
        ]
    try:
        from importlib.metadata import entry_points

        found = {
            f"{ep.name} {ep.dist.version if ep.dist else ''} ({ep.dist.name if ep.dist else '?'})"
            for ep in entry_points(group="cstoolkit")
        }
    except Exception as err:  # a broken environment must not stop the report
        return [f"(could not list: {type(err).__name__})"]
    return sorted(found) or ["(none installed)"]
