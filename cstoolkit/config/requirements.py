"""``required_plugins``: distribution requirements a configuration needs, and whether they hold.

``required_plugins = ["cstoolkit-zendesk>=1.2"]`` at the top of cstoolkit.toml names the
distributions a configuration needs; every command that loads the file checks them first
(:mod:`cstoolkit.config.check`). Installing them is :mod:`cstoolkit.plugin_install`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_SPEC_RE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([A-Za-z0-9.*+!_-]+)\s*$")


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
    except (metadata.PackageNotFoundError, ValueError):
        return None


def requirement_problem(text: str) -> str | None:
    """Why the requirement ``text`` does not hold in this environment, or None."""
    try:
        req = Requirement.parse(text)
    except ValueError as exc:
        return str(exc)
    have = installed_version(req.name)
    if have is None:
        return f"{req.name} is not installed (run: cst plugins install '{req.text}')"
    if not req.allows(have):
        return (
            f"{req.name} {have} is installed but {req.text} is required "
            f"(run: cst plugins install '{req.text}')"
        )
    return None
