"""docs/plugins/tutorial.md as written: a new plugin's tests pass in a new virtual environment,
offline, with the core installed the way ``cst plugins new`` says (a checkout, a wheel, an
index alike)."""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

from cstoolkit import scaffold

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "plugins" / "tutorial.md"


def _commands(section: str) -> list[str]:
    """The ``$ `` lines of the first console block of a tutorial section."""
    text = TUTORIAL.read_text()
    part = text[text.index(section) :]
    block = part[part.index("```console") : part.index("```", part.index("```console") + 3)]
    return [
        line[2:].split("  #")[0].strip() for line in block.splitlines() if line.startswith("$ ")
    ]


def test_the_tutorial_says_what_plugins_new_says(tmp_path: Path) -> None:
    assert _commands("## 1.") == ["cst plugins new acme --kind backend --dir ~/src"]
    steps = _commands("## 2.")
    assert steps == [
        "cd ~/src/cstoolkit-acme",
        "python -m venv .venv && . .venv/bin/activate",
        "pip install -r requirements-core.txt",
        "pip install -e '.[test]'",
        "pytest",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "cstoolkit", "plugins", "new", "acme", "--kind", "backend",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    said = [line.split("  #")[0].strip() for line in proc.stderr.splitlines()[1:]]
    assert said[1:] == steps[1:]  # the same commands, after `cd` into where it was written
    assert (tmp_path / "cstoolkit-acme" / "requirements-core.txt").is_file()


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (None, "cstoolkit[testing]==VERSION"),  # from a package index
        (
            {"url": "file:///src/cst", "dir_info": {"editable": True}},
            "cstoolkit[testing] @ file:///src/cst",
        ),
        ({"url": "file:///src/cst", "dir_info": {}}, "cstoolkit[testing] @ file:///src/cst"),
        (
            {"url": "file:///w/cstoolkit-1.2.0-py3-none-any.whl", "archive_info": {}},
            "cstoolkit[testing] @ file:///w/cstoolkit-1.2.0-py3-none-any.whl",
        ),
    ],
)
def test_the_core_requirement_follows_where_the_core_came_from(
    monkeypatch: pytest.MonkeyPatch, direct_url: dict | None, expected: str
) -> None:
    from importlib import metadata

    from cstoolkit.__about__ import __version__

    class Dist:
        def read_text(self, name: str) -> str | None:
            return json.dumps(direct_url) if direct_url is not None else None

    monkeypatch.setattr(metadata, "distribution", lambda name: Dist())
    assert scaffold.core_requirement() == expected.replace("VERSION", __version__)


@pytest.mark.slow
def test_the_tutorials_commands_pass_offline_in_a_new_venv(tmp_path: Path) -> None:
    """Sections 1 and 2 run as written in bash, with $HOME in a temporary folder, no package
    index (PIP_NO_INDEX) and no build isolation; the new venv sees this environment's
    third-party packages (the core's dependencies) behind its own, as an offline machine's
    wheel cache would provide them. The core itself is installed by the tutorial's line."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{bin_dir}:{env.get('PATH', '')}", PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")  # fmt: skip
    parents = [p for p in site.getsitepackages() if not p.startswith(sys.base_prefix)]
    pth = tmp_path / "parent.pth"
    pth.write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in parents))
    purelib = "$(python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))')"
    script = ["set -e", *_commands("## 1.")]
    for line in _commands("## 2."):
        script.append(line)
        if line.startswith("python -m venv"):
            # The parent's packages, and pytest's console script (pip would have written it,
            # had it installed pytest instead of finding it among the parent's).
            script.append(f'cp {pth} "{purelib}/_parent_env.pth"')
            script.append(
                "printf '#!%s\\nimport sys, pytest\\nsys.exit(pytest.console_main())\\n' "
                '"$(command -v python)" > .venv/bin/pytest && chmod +x .venv/bin/pytest'
            )
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)], capture_output=True, text=True, cwd=home, env=env,
        timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"\d+ passed", proc.stdout), proc.stdout[-2000:]
    assert " failed" not in proc.stdout.splitlines()[-1]
