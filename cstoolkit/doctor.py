"""``cst doctor``: is everything in place? Config, plugins, store, and each instance, live.

The config is checked exactly as every command checks it on load (the caller passes the
problems it found). The live checks (the store, and a read-only call to each backend) are
bounded: each runs in its own thread with its own timeout (``[doctor] timeout``, 5 s by
default), an HTTP backend is built with that timeout and without retries (``max_retry_wait =
0``), all of them run at once, and the whole command stops at ``[doctor] max_runtime`` (60 s).
A check that does not answer in time is reported by name ("backends.zendesk_main: live check
timed out after 5 s") and left behind: its thread is a daemon and holds nothing the command
still needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cstoolkit.config import INSTANCE_SECTIONS, Config, Problem, section_values
from cstoolkit.config.types import format_duration
from cstoolkit.errors import ConfigError, CstError
from cstoolkit.host import Host
from cstoolkit.plugin import Backend

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_RUNTIME = 60.0


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Bounds:
    """How long doctor's live checks may take: each one, and the whole command."""

    timeout: float = DEFAULT_TIMEOUT
    max_runtime: float = DEFAULT_MAX_RUNTIME


def bounds_for(
    config: Config, *, timeout: float | None = None, max_runtime: float | None = None
) -> Bounds:
    """``[doctor]`` (when it is valid), overridden by the command's options."""
    try:
        table = section_values("doctor", config)
    except ConfigError:
        table = {}
    return Bounds(
        timeout=timeout or table.get("timeout") or DEFAULT_TIMEOUT,
        max_runtime=max_runtime or table.get("max_runtime") or DEFAULT_MAX_RUNTIME,
    )


def run_checks(
    config: Config,
    host: Host,
    problems: Sequence[Problem] | None = None,
    *,
    bounds: Bounds | None = None,
) -> list[Check]:
    """Every check, in a fixed order; ``problems`` are the config's (checked here when None)."""
    bounds = bounds or Bounds()
    deadline = time.monotonic() + bounds.max_runtime
    checks = _config_checks(config, host, problems)
    failed = [r for r in host.records if r.status == "error"]
    loaded = [r for r in host.records if r.status == "loaded"]
    if failed:
        names = ", ".join(f"{r.name} ({r.error})" for r in failed)
        checks.append(Check("plugins", "warn", f"{len(loaded)} loaded; failed: {names}"))
    else:
        checks.append(Check("plugins", "ok", f"{len(loaded)} loaded"))
    live: list[tuple[str, Callable[[], Check]]] = [("store", lambda: _check_store(config))]
    if config.instances("inbound"):
        live.append(("inbound", lambda: check_inbound(config)))
    for section in INSTANCE_SECTIONS:
        for name in sorted(config.instances(section)):
            label = f"{section}.{name}"
            live.append((label, _instance_check(config, host, section, name, label, bounds)))
    checks.extend(_bounded(live, bounds, deadline))
    return checks


def _config_checks(config: Config, host: Host, problems: Sequence[Problem] | None) -> list[Check]:
    if config.path is None:
        return [Check("config", "warn", "no cstoolkit.toml found; using defaults")]
    if problems is None:
        from cstoolkit.checks import config_problems

        problems = config_problems(config, host)
    if not problems:
        return [Check("config", "ok", str(config.path))]
    return [Check("config", "fail" if p.severity == "error" else "warn", str(p)) for p in problems]


def _bounded(
    live: list[tuple[str, Callable[[], Check]]], bounds: Bounds, deadline: float
) -> list[Check]:
    """Run every check at once, each in a daemon thread; wait for each until its own timeout
    (counted from its start) or the command's deadline, whichever comes first."""
    results: dict[str, Check] = {}
    threads = []
    for label, fn in live:

        def work(label: str = label, fn: Callable[[], Check] = fn) -> None:
            try:
                results[label] = fn()
            except CstError as exc:
                results[label] = Check(label, "fail", str(exc))
            except Exception as exc:  # a check must never take the command down
                first = f"{type(exc).__name__}: {exc}".splitlines()[0]
                results[label] = Check(label, "fail", f"check failed: {first}")

        thread = threading.Thread(target=work, name=f"doctor:{label}", daemon=True)
        thread.start()
        threads.append((label, thread, time.monotonic()))
    out = []
    for label, thread, started in threads:
        own_end = started + bounds.timeout
        thread.join(max(0.0, min(own_end, deadline) - time.monotonic()))
        if label in results:
            out.append(results[label])
        elif time.monotonic() >= deadline and own_end > deadline:
            spent = format_duration(bounds.max_runtime)
            out.append(Check(label, "fail", f"not finished: doctor's max_runtime ({spent}) spent"))
        else:
            out.append(
                Check(
                    label,
                    "fail",
                    f"{label}: live check timed out after {_seconds(bounds.timeout)}",
                )
            )
    return out


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _instance_check(
    config: Config, host: Host, section: str, name: str, label: str, bounds: Bounds
) -> Callable[[], Check]:
    def check() -> Check:
        from cstoolkit.instances import build_instance

        # The instance's own HTTP timeout at most doctor's, and no retries: one try each.
        overrides = {"timeout": bounds.timeout, "max_retry_wait": 0.0}
        obj = build_instance(config, host, section, name, None, overrides=overrides)
        if not isinstance(obj, Backend):
            close = getattr(obj, "close", None)
            if callable(close):
                close()
            return Check(label, "ok", "configured")
        try:
            verdict = obj.check()
        finally:
            obj.close()
        return Check(label, "ok" if verdict.ok else "fail", verdict.detail)

    return check


def check_inbound(config: Config) -> Check:
    """Inbound messages in doubt, interrupted, or left unparsed in a mailbox."""
    from cstoolkit.inbound.status import counts
    from cstoolkit.store.configured import open_configured

    if not config.store_url and not config.store_path.exists():
        return Check("inbound", "ok", "nothing received yet")
    store = open_configured(config)
    try:
        c = counts(store)
    finally:
        store.close()
    if not any(c.values()):
        return Check("inbound", "ok", "nothing in doubt, nothing left unparsed")
    detail = (f"{c['in_doubt']} in doubt, {c['interrupted']} interrupted, {c['unparsed']} "
              "unparsed (see: cst inbound status)")  # fmt: skip
    return Check("inbound", "warn", detail)


def _check_store(config: Config) -> Check:
    from cstoolkit.store.configured import open_configured
    from cstoolkit.store.migrations import MIGRATIONS

    path = config.store_label
    if not config.store_url and not config.store_path.exists():
        return Check("store", "warn", f"{path}: not created yet (the first sync creates it)")
    store = open_configured(config, migrate=False)
    try:
        version, latest = store.schema_version, MIGRATIONS[-1].version
        if version < latest:
            return Check(
                "store",
                "warn",
                f"{path}: schema {version}, {latest} available (migrated on next use)",
            )
        return Check(
            "store", "ok", f"{path}: schema {version}, {store.counts()['tickets']} tickets"
        )
    except CstError as exc:
        return Check("store", "fail", str(exc))
    except Exception as exc:  # a corrupt file raises sqlite3 errors
        return Check("store", "fail", f"{path}: {exc}")
    finally:
        store.close()
