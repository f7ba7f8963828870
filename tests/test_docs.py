"""Documentation that must follow the code."""

from __future__ import annotations

import inspect
from pathlib import Path

from cstoolkit import hookspecs
from cstoolkit.errors import EXIT_INTERNAL, CstError

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _hooks() -> dict[str, str]:
    out = {}
    for name, fn in vars(hookspecs).items():
        if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec"):
            sig = inspect.signature(fn)
            params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
            out[name] = f"{name}({params}) -> {sig.return_annotation}"
    return out


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    text = (DOCS / "plugins" / "hooks.md").read_text()
    hooks = _hooks()
    assert len(hooks) >= 7
    for name, signature in hooks.items():
        assert f"## {name}" in text, f"docs/plugins/hooks.md lacks a section for {name}"
        assert f"`{signature}`" in text, f"docs/plugins/hooks.md: signature differs: {signature}"


def test_every_exit_code_is_documented() -> None:
    text = (DOCS / "exit-codes.md").read_text()
    codes = {0, 1, 2, 3, 4, EXIT_INTERNAL}

    def walk(cls: type) -> None:
        codes.add(cls.exit_code)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(CstError)
    for code in codes:
        assert f"| {code} |" in text, f"exit code {code} missing from docs/exit-codes.md"


def test_the_configuration_reference_is_made_from_the_schema() -> None:
    """docs/configuration.md holds the reference tables exactly as the schema renders them
    (regenerate: python -m cstoolkit.config.reference docs/configuration.md)."""
    from cstoolkit.config.reference import BEGIN, END, render

    text = (DOCS / "configuration.md").read_text()
    assert text[text.index(BEGIN) : text.index(END) + len(END)] == render()


def test_the_command_reference_is_made_from_the_commands() -> None:
    """docs/cli.md is exactly what the click commands say (regenerate:
    python -m cstoolkit.cli.reference docs/cli.md)."""
    from cstoolkit.cli.reference import render

    assert (DOCS / "cli.md").read_text() == render()


def test_every_page_is_in_the_documentation_sites_nav() -> None:
    """mkdocs.yml lists every page (the strict build in CI also says so)."""
    import re

    nav = (DOCS.parent / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s+([\w/.-]+\.md)\s*$", nav, re.MULTILINE))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages == listed
