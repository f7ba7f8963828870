"""The plugin author docs follow the code: directory, fixtures, API version."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from cstoolkit import api
from cstoolkit.testing import plugin as kit

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins"


def test_directory_lists_every_first_party_distribution() -> None:
    text = (DOCS / "directory.md").read_text()
    dists = sorted(p.name for p in (ROOT / "plugins").iterdir() if p.name.startswith("cstoolkit-"))
    assert len(dists) >= 6
    missing = [d for d in dists if f"`{d}`" not in text]
    assert not missing, f"docs/plugins/directory.md does not list {missing}"


def test_testing_page_documents_every_fixture() -> None:
    text = (DOCS / "testing.md").read_text()
    fixtures = [name for name, obj in vars(kit).items() if _is_fixture(obj)]
    assert set(fixtures) >= {"cst_runner", "register_plugin", "fake_backend", "no_network"}
    for name in fixtures:
        assert f"`{name}`" in text, f"docs/plugins/testing.md lacks fixture {name}"


def _is_fixture(obj: object) -> bool:
    # pytest >= 8.4 wraps fixtures in FixtureFunctionDefinition; older ones mark the function.
    return type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(
        obj, "_pytestfixturefunction"
    )


@pytest.mark.parametrize(
    "page", ["tutorial.md", "settings-and-capabilities.md", "compatibility.md", "testing.md"]
)
def test_author_pages_exist_and_link_to_existing_pages(page: str) -> None:
    text = (DOCS / page).read_text()
    assert text.startswith("# ")
    for target in __import__("re").findall(r"\]\(([^)#:]+\.md)", text):
        assert (DOCS / target).resolve().is_file(), f"{page} links to missing {target}"


def test_compatibility_page_names_the_api_version_and_covered_modules() -> None:
    text = (DOCS / "compatibility.md").read_text()
    assert f'"{api.API_VERSION}"' in text
    for module in api.COVERED:
        assert f"`{module}`" in text, module
    assert "versionadded" in text


def test_settings_page_lists_every_capability_and_setting_type() -> None:
    from cstoolkit.plugin import _TYPES, KNOWN_CAPABILITIES

    text = (DOCS / "settings-and-capabilities.md").read_text()
    for cap in KNOWN_CAPABILITIES:
        assert f"`{cap}`" in text
    for kind in _TYPES:
        assert f"| `{kind}` |" in text
    source = inspect.getsource(api)
    assert "ConflictError" in source and "`ConflictError`" in text
