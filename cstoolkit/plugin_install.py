"""Installing plugins into cst's own environment, and pinning them in cstoolkit.toml.

``cst plugins install NAME...`` runs ``python -m pip install`` with the interpreter cst runs on
(so a plugin lands beside cstoolkit whatever the way cst was installed: pipx, a venv, a system
package) and records each requirement in ``plugins.json`` in the user data directory
(``~/.local/share/cstoolkit`` on Linux; ``$CSTOOLKIT_PLUGINS_FILE`` overrides). After an
upgrade that replaced the environment (``pipx upgrade`` / a new venv), ``cst plugins restore``
installs every recorded requirement again.

``required_plugins = ["cstoolkit-zendesk>=1.2"]`` at the top of cstoolkit.toml names the
distributions a configuration needs; every command that loads the file checks them first and
stops with one line naming the file, the line and the missing or too-old distribution.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import ConfigError, CstError, UsageError

if TYPE_CHECKING:
    from cstoolkit.config import Config

RECORD_NAME = "plugins.json"
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_SPEC_RE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([A-Za-z0-9.*+!_-]+)\s*$")


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


# -- requirements ----------------------------------------------------------------------------


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """A distribution name and version specifiers (``cstoolkit-zendesk>=1.2,<2``), read by
    ``packaging`` exactly as pip reads them (``~=1.2`` is ``>=1.2,==1.*``)."""

    text: str
    name: str
    specifiers: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> Requirement:
        from packaging.requirements import InvalidRequirement
        from packaging.requirements import Requirement as Parsed

        try:
            parsed = Parsed(text)
        except InvalidRequirement:
            raise ValueError(f"not a requirement: {text!r}") from None
        if parsed.url or parsed.marker:
            raise ValueError(f"only NAME and version specifiers are supported: {text!r}")
        # The user's order, for messages; packaging keeps a set.
        m = _NAME_RE.match(text)
        rest = m.group(3) if m else ""
        specs = []
        for part in filter(None, (p.strip() for p in rest.split(","))):
            sm = _SPEC_RE.match(part)
            if not sm:
                raise ValueError(f"bad version specifier {part!r} in {text!r}")
            specs.append((sm.group(1), sm.group(2)))
        return cls(text.strip(), parsed.name, tuple(specs))

    @property
    def key(self) -> str:
        return canonical(self.name)

    def allows(self, version: str) -> bool:
        """Whether an installed ``version`` meets the specifiers (pre-releases count, as for
        ``pip check``); a version packaging cannot read meets none but an empty set."""
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version

        spec = SpecifierSet(",".join(op + v for op, v in self.specifiers))
        try:
            return spec.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return not self.specifiers


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# -- required_plugins in cstoolkit.toml ------------------------------------------------------


def required_plugin_problems(config: Config) -> list[tuple[str, int | None]]:
    """(message, line) for each unmet or malformed ``required_plugins`` entry."""
    from cstoolkit.config import locate

    raw = config.data.get("required_plugins")
    if raw is None:
        return []
    line = locate(config.text, [], "required_plugins")
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        return [('must be a list of requirement strings, e.g. ["cstoolkit-zendesk>=1.2"]', line)]
    problems = []
    for text in raw:
        try:
            req = Requirement.parse(text)
        except ValueError as exc:
            problems.append((str(exc), line))
            continue
        have = installed_version(req.name)
        if have is None:
            problems.append(
                (f"{req.name} is not installed (run: cst plugins install '{req.text}')", line)
            )
        elif not req.allows(have):
            problems.append(
                (
                    f"{req.name} {have} is installed but {req.text} is required "
                    f"(run: cst plugins install '{req.text}')",
                    line,
                )
            )
    return problems


def check_required_plugins(config: Config) -> None:
    """Raise a one-line ConfigError (exit 2) for the first unmet ``required_plugins`` entry."""
    if "required_plugins" not in config.data:
        return
    problems = required_plugin_problems(config)
    if problems:
        message, line = problems[0]
        raise ConfigError(message, path=config.label, line=line, field="required_plugins")


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
