"""Proof: a freshly scaffolded backend plugin, built as a wheel and installed into a new virtual
environment beside cstoolkit, is listed by `cst plugins list` and works in `cst sync pull`."""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

from cstoolkit import scaffold


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=300, check=False, **kw
    )  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc


def test_scaffolded_wheel_in_a_new_venv_is_listed_and_pulls(tmp_path: Path) -> None:
    source = scaffold.create("proofdesk", "backend", tmp_path / "src")
    dist = tmp_path / "dist"
    isolation = [] if importlib.util.find_spec("hatchling") else ["--use-pep517"]
    wheel_cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(source)]
    if not isolation:
        wheel_cmd.insert(4, "--no-build-isolation")
    _run(wheel_cmd)
    (wheel,) = dist.glob("cstoolkit_proofdesk-0.1.0-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    # A venv made from inside a venv sees the base interpreter's packages, not this one's: add
    # this environment's site-packages (with its .pth files, for editable installs) behind it.
    new_site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    here = [p for p in site.getsitepackages() if not p.startswith(sys.base_prefix)]
    (Path(new_site.stdout.strip()) / "_cst_parent_env.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in here)
    )
    # pip of the base interpreter, pointed at the new environment's interpreter.
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)])
    where = _run([python, "-c", "import cstoolkit_proofdesk as m; print(m.__file__)"]).stdout
    assert str(env_dir) in where, "the plugin must be installed in the new environment"
    outside = subprocess.run(
        [sys.executable, "-c", "import cstoolkit_proofdesk"], capture_output=True, check=False
    )
    assert outside.returncode != 0, "the plugin must not leak into the base environment"

    workspace = tmp_path / "ws"
    workspace.mkdir()
    cfg = workspace / "cstoolkit.toml"
    cfg.write_text(
        'required_plugins = ["cstoolkit-proofdesk>=0.1"]\n\n'
        '[store]\npath = "cst.db"\n\n[backends.demo]\nplugin = "proofdesk"\ndemo = true\n'
    )
    cst = [python, "-m", "cstoolkit", "--config", str(cfg)]
    listed = json.loads(_run([*cst, "plugins", "list", "--json"]).stdout)
    (entry,) = [p for p in listed if p["name"] == "proofdesk"]
    assert entry["distribution"] == "cstoolkit-proofdesk" and entry["version"] == "0.1.0"
    assert entry["status"] == "loaded" and entry["registers"] == {"backend": ["proofdesk"]}
    assert entry["disabled"] == [] and not entry["error"]

    _run([*cst, "sync", "pull", "demo"])
    tickets = json.loads(_run([*cst, "tickets", "list", "--json"]).stdout)
    assert len(tickets) == 30
    again = _run([*cst, "sync", "pull", "demo", "--json"])
    assert '"inserted": 0' in again.stdout
