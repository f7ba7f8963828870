"""``cst plugins new``: write a ready plugin distribution from the templates beside this module.

Offline and deterministic: the templates are package data (``cstoolkit/scaffold/templates``),
filled with :class:`string.Template` (``${name}`` placeholders). The distribution depends on
``cstoolkit>=X,<Y`` computed from the running version (:func:`compatible_range`), registers
through the ``cstoolkit`` entry point, and its tests subclass the kit's conformance suite, so
they pass as generated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from cstoolkit.errors import UsageError

KINDS = ("backend", "channel", "survey")
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

_SUITES = {
    "backend": "BackendConformance",
    "channel": "ChannelConformance",
    "survey": "SurveyProviderConformance",
}
_SUFFIX = {"backend": "Backend", "channel": "Channel", "survey": "SurveyProvider"}
_CONFIG = {
    "backend": '    [backends.main]\n    plugin = "{plugin}"\n    demo = true        '
    "# built-in demo data; for the real API:\n"
    '    # base_url = "https://yourcompany.example.com/api"\n'
    '    # token = "env:{env}_TOKEN"\n\nthen `cst sync pull main`.',
    "channel": '    [channels.{plugin}]\n    plugin = "{plugin}"\n    token = "env:{env}_TOKEN"\n'
    '    # base_url = "https://api.example.com/v1"',
    "survey": '    [surveys.csat]\n    plugin = "{plugin}"\n    brand = "Acme"\n'
    '    survey_url = "https://surveys.example.com"\n    api_key = "env:{env}_API_KEY"',
}


def compatible_range(version: str) -> tuple[str, str]:
    """(lowest, first excluded) cstoolkit versions a new plugin supports.

    ``0.MINOR``: the same minor series (0.x releases may change the plugin API); from 1.0 on,
    the same major version (the API is frozen within a major, see docs/plugins/compatibility.md).
    """
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    if major == 0:
        return f"0.{minor}", f"0.{minor + 1}"
    return f"{major}.{minor}", f"{major + 1}"


@dataclass(frozen=True)
class Names:
    plugin: str  # the registry name: plugin = "acme_desk"
    dist: str  # cstoolkit-acme-desk
    module: str  # cstoolkit_acme_desk
    cls: str  # AcmeDeskBackend
    title: str  # Acme Desk

    @classmethod
    def for_(cls, name: str, kind: str) -> Names:
        raw = name.strip().lower()
        raw = raw.removeprefix("cstoolkit-").removeprefix("cstoolkit_")
        if not _NAME_RE.match(raw):
            raise UsageError(
                f"invalid plugin name {name!r}: use lowercase letters, digits and - or _ "
                "(e.g. acme-desk)"
            )
        words = re.split(r"[-_]", raw)
        return cls(
            plugin="_".join(words),
            dist="cstoolkit-" + "-".join(words),
            module="cstoolkit_" + "_".join(words),
            cls="".join(w.capitalize() for w in words) + _SUFFIX[kind],
            title=" ".join(w.capitalize() for w in words),
        )


def _template(*parts: str) -> Template:
    node = resources.files("cstoolkit.scaffold").joinpath("templates", *parts)
    return Template(node.read_text("utf-8"))


def render(name: str, kind: str, version: str | None = None) -> dict[str, str]:
    """relative path -> file content of the distribution (nothing is written)."""
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    from cstoolkit.__about__ import __version__
    from cstoolkit.api import API_VERSION

    n = Names.for_(name, kind)
    low, high = compatible_range(version or __version__)
    spec = f">={low},<{high}"
    label = {"backend": "ticketing backend", "channel": "channel", "survey": "survey provider"}
    values = {
        "plugin": n.plugin,
        "dist": n.dist,
        "module": n.module,
        "cls": n.cls,
        "title": n.title,
        "kind": kind,
        "suite": _SUITES[kind],
        "cst_req": f"cstoolkit{spec}",
        "cst_spec": spec,
        "api_version": API_VERSION,
        "description": f"{n.title} {label[kind]} for cstoolkit.",
        "config_example": _CONFIG[kind].format(plugin=n.plugin, env=n.plugin.upper()),
    }
    files = {
        CORE_FILE: Template(_core_requirements()),
        "pyproject.toml": _template("common", "pyproject.toml.tmpl"),
        "README.md": _template("common", "README.md"),
        ".gitignore": _template("common", "gitignore"),
        f"src/{n.module}/__init__.py": _template(kind, "module.py.tmpl"),
        f"tests/test_{n.plugin}.py": _template(kind, "test_plugin.py.tmpl"),
    }
    return {path: tmpl.substitute(values) for path, tmpl in files.items()}


#: The file naming the core a new plugin is developed against (``pip install -r`` it first).
CORE_FILE = "requirements-core.txt"


def core_requirement() -> str:
    """A pip requirement for the cstoolkit that runs now, where it came from, with the testing
    extra: the checkout it was installed from (editable or not, installed as a plain wheel
    built from it, which needs no ``editables`` package offline), the wheel file, or
    ``cstoolkit[testing]==X`` when it came from a package index. So a new plugin's environment
    gets the same core offline, from a checkout or a released wheel alike."""
    import json
    from importlib import metadata

    from cstoolkit.__about__ import __version__

    try:
        raw = metadata.distribution("cstoolkit").read_text("direct_url.json")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        raw = None
    info = json.loads(raw) if raw else {}
    url = str(info.get("url") or "")
    if not url.startswith("file://"):
        return f"cstoolkit[testing]=={__version__}"
    return f"cstoolkit[testing] @ {url}"


def _core_requirements() -> str:
    # "$" would be read as a placeholder by Template: escaped.
    return (
        "# The cstoolkit this plugin was generated with, as it was installed (a checkout, a\n"
        "# wheel or the package index); install it first in the plugin's environment:\n"
        "#   pip install -r requirements-core.txt\n" + core_requirement().replace("$", "$$") + "\n"
    )


def create(name: str, kind: str, directory: Path, *, version: str | None = None) -> Path:
    """Write the distribution into ``directory/cstoolkit-NAME``; returns that folder.

    Refuses to write into an existing non-empty folder.
    """
    files = render(name, kind, version)
    target = directory / Names.for_(name, kind).dist
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} already exists and is not empty")
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return target
