"""`cst plugins new`: the generated distributions are complete and their tests pass as generated."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import scaffold
from cstoolkit.__about__ import __version__
from cstoolkit.errors import UsageError


def test_compatible_range() -> None:
    assert scaffold.compatible_range("0.1.0") == ("0.1", "0.2")
    assert scaffold.compatible_range("0.12.3.dev1") == ("0.12", "0.13")
    assert scaffold.compatible_range("1.4.2") == ("1.4", "2")
    assert scaffold.compatible_range("2.0") == ("2.0", "3")


def test_names() -> None:
    n = scaffold.Names.for_("cstoolkit-acme-desk", "backend")
    assert (n.plugin, n.dist, n.module, n.cls) == (
        "acme_desk",
        "cstoolkit-acme-desk",
        "cstoolkit_acme_desk",
        "AcmeDeskBackend",
    )
    for bad in ("Acme Desk", "1acme", "acme--desk", "", "acme/../x"):
        with pytest.raises(UsageError):
            scaffold.Names.for_(bad, "channel")


def test_pyproject_pins_the_running_version_and_declares_the_entry_point() -> None:
    files = scaffold.render("acme", "backend", version="1.3.0")
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["name"] == "cstoolkit-acme"
    assert meta["project"]["dependencies"] == ["cstoolkit>=1.3,<2"]
    assert meta["project"]["entry-points"]["cstoolkit"] == {"acme": "cstoolkit_acme"}
    assert meta["project"]["optional-dependencies"]["test"][0] == "cstoolkit[testing]>=1.3,<2"
    assert set(files) == {
        "requirements-core.txt",
        "pyproject.toml",
        "README.md",
        ".gitignore",
        "src/cstoolkit_acme/__init__.py",
        "tests/test_acme.py",
    }
    assert "BackendConformance" in files["tests/test_acme.py"]
    for text in files.values():
        assert "${" not in text.replace("${{", "")


def test_cli_refuses_an_existing_folder(cst_runner: Any, tmp_path: Path) -> None:
    first = cst_runner.invoke("plugins", "new", "acme", "--kind", "channel", "--dir", str(tmp_path))
    assert first.exit_code == 0, first.output
    assert (tmp_path / "cstoolkit-acme" / "src" / "cstoolkit_acme" / "__init__.py").is_file()
    again = cst_runner.invoke("plugins", "new", "acme", "--kind", "channel", "--dir", str(tmp_path))
    assert again.exit_code == 2 and "not empty" in again.stderr


@pytest.mark.parametrize("kind", scaffold.KINDS)
def test_generated_tests_pass_as_generated(kind: str, tmp_path: Path) -> None:
    target = scaffold.create(f"demo-{kind}", kind, tmp_path)
    meta = tomllib.loads((target / "pyproject.toml").read_text())
    low, high = scaffold.compatible_range(__version__)
    assert meta["project"]["dependencies"] == [f"cstoolkit>={low},<{high}"]
    compile_all = [sys.executable, "-m", "compileall", "-q", str(target)]
    assert subprocess.run(compile_all, capture_output=True, check=False).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(target / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
