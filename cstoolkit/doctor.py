"""``cst doctor``: is everything in place? Config, plugins, store, and each instance, live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cstoolkit.config import INSTANCE_SECTIONS, Config, build_instance, check_config
from cstoolkit.errors import CstError
from cstoolkit.host import Host
from cstoolkit.plugin import Backend


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def run_checks(config: Config, host: Host) -> list[Check]:
    checks: list[Check] = []
    if config.path is None:
        checks.append(Check("config", "warn", "no cstoolkit.toml found; using defaults"))
    else:
        problems = check_config(config, host)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            checks.append(Check("config", "fail", f"{len(errors)} error(s); first: {errors[0]}"))
        elif problems:
            checks.append(
                Check("config", "warn", f"{len(problems)} warning(s); first: {problems[0]}")
            )
        else:
            checks.append(Check("config", "ok", str(config.path)))
    failed = [r for r in host.records if r.status == "error"]
    loaded = [r for r in host.records if r.status == "loaded"]
    if failed:
        names = ", ".join(f"{r.name} ({r.error})" for r in failed)
        checks.append(Check("plugins", "warn", f"{len(loaded)} loaded; failed: {names}"))
    else:
        checks.append(Check("plugins", "ok", f"{len(loaded)} loaded"))
    checks.append(_check_store(config))
    for section in INSTANCE_SECTIONS:
        for name in sorted(config.instances(section)):
            label = f"{section}.{name}"
            try:
                obj = build_instance(config, host, section, name, None)
            except CstError as exc:
                checks.append(Check(label, "fail", str(exc)))
                continue
            if not isinstance(obj, Backend):
                checks.append(Check(label, "ok", "configured"))
                continue
            try:
                verdict = obj.check()
            except CstError as exc:
                checks.append(Check(label, "fail", str(exc)))
                continue
            finally:
                obj.close()
            checks.append(Check(label, "ok" if verdict.ok else "fail", verdict.detail))
    return checks


def _check_store(config: Config) -> Check:
    from cstoolkit.store.migrations import MIGRATIONS

    path = config.store_label
    if not config.store_url and not config.store_path.exists():
        return Check("store", "warn", f"{path}: not created yet (the first sync creates it)")
    try:
        store = config.open_store(migrate=False)
    except CstError as exc:
        return Check("store", "fail", str(exc))
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
    except Exception as exc:  # a corrupt file raises sqlite3 errors
        return Check("store", "fail", f"{path}: {exc}")
    finally:
        store.close()
