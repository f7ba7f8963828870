"""Installing plugins into cst's own environment, and pinning them in cstoolkit.toml.

``cst plugins install NAME...`` runs ``python -m pip install`` with the interpreter cst runs on
(so a plugin lands beside cstoolkit whatever the way cst was installed: pipx, a venv, a system
package) and records each requirement in ``plugins.json`` in the user data directory
(``~/.local/share/cstoolkit`` on Linux; ``$CSTOOLKIT_PLUGINS_FILE`` overrides). After an
upgrade that replaced the environment (``pipx upgrade`` / a new venv), ``cst plugins restore``
installs every recorded requirement again.

``required_plugins = ["cstoolkit-zendesk>=1.2"]`` at the top of cstoolkit.toml names the
distributions a configuration needs; the config schema checks them
(:mod:`cstoolkit.config.requirements`) whenever a command loads the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cstoolkit.config import Config, check_config
from cstoolkit.config.requirements import (  # noqa: F401  (the requirement helpers' home)
    Requirement,
    canonical,
    installed_version,
)
from cstoolkit.errors import ConfigError, CstError, UsageError

RECORD_NAME = "plugins.json"


class PipError(CstError):
    """pip failed (its last line of output is the message)."""


# -- the one pip call ------------------------------------------------------------------------


def run_pip(args: Sequence[str]) -> None:
    """Run ``python -m pip ARGS`` with cst's own interpreter (the one place tests patch)."""
    cmd = [sys.executable, "-m", "pip", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise PipError(f"pip {' '.join(args[:1])} failed: {last}")


# -- required_plugins in cstoolkit.toml ------------------------------------------------------


def required_plugin_problems(config: Config) -> list[tuple[str, int | None]]:
    """(message, line) for each unmet or malformed ``required_plugins`` entry."""
    if "required_plugins" not in config.data:
        return []
    return [
        (p.message, p.line)
        for p in check_config(_only(config, "required_plugins"), None)
        if p.severity == "error"
    ]


def check_required_plugins(config: Config) -> None:
    """Raise a one-line ConfigError (exit 2) for the first unmet ``required_plugins`` entry."""
    problems = required_plugin_problems(config)
    if problems:
        message, line = problems[0]
        raise ConfigError(message, path=config.label, line=line, field="required_plugins")


def _only(config: Config, key: str) -> Config:
    return replace(config, data={key: config.data[key]})


# -- the record of installed plugins ---------------------------------------------------------


def record_path(env: Any = None) -> Path:
    env = os.environ if env is None else env
    if env.get("CSTOOLKIT_PLUGINS_FILE"):
        return Path(env["CSTOOLKIT_PLUGINS_FILE"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("cstoolkit")) / RECORD_NAME


def load_record(path: Path | None = None) -> dict[str, str]:
    """canonical name -> requirement text as the user gave it."""
    path = path or record_path()
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable plugin record: {exc}", path=str(path)) from None
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(plugins, dict):
        raise ConfigError("unreadable plugin record: no 'plugins' table", path=str(path))
    return {str(k): str(v) for k, v in plugins.items()}


def save_record(record: dict[str, str], path: Path | None = None) -> Path:
    path = path or record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"plugins": dict(sorted(record.items()))}, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def _parse_all(specs: Sequence[str]) -> list[Requirement]:
    if not specs:
        raise UsageError("name at least one plugin distribution")
    out = []
    for spec in specs:
        try:
            out.append(Requirement.parse(spec))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return out


def install(specs: Sequence[str], *, upgrade: bool = False) -> list[str]:
    """pip install the requirements into cst's environment and record them; returns names."""
    reqs = _parse_all(specs)
    run_pip(["install", *(["--upgrade"] if upgrade else []), *(r.text for r in reqs)])
    record = load_record()
    for r in reqs:
        record[r.key] = r.text
    save_record(record)
    return [r.name for r in reqs]


def uninstall(names: Sequence[str]) -> list[str]:
    """pip uninstall the distributions and drop them from the record; returns names."""
    reqs = _parse_all(names)
    run_pip(["uninstall", "--yes", *(r.name for r in reqs)])
    record = load_record()
    for r in reqs:
        record.pop(r.key, None)
    save_record(record)
    return [r.name for r in reqs]


def restore() -> list[str]:
    """Install every recorded requirement again (after an upgrade); returns what was asked."""
    record = load_record()
    if not record:
        return []
    specs = [record[k] for k in sorted(record)]
    run_pip(["install", *specs])
    return specs
