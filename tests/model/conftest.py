"""The routing tests' workspace: 400 realistic sample tickets synced into a store, and the same
workspace with a model trained once per test session (each test gets a copy)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cstoolkit.cli import cli
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 3, 1, tzinfo=UTC)
CONFIG = (
    '[store]\npath = "cstoolkit.db"\n\n[backends.demo]\nplugin = "local"\npath = "helpdesk.jsonl"\n'
)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import sklearn  # noqa: F401
        import skops  # noqa: F401
    except ImportError:
        skip_or_fail("scikit-learn is not installed", "pip install -e '.[test]' (or '.[ml]')")
    from cstoolkit.config import build_instance, load_config
    from cstoolkit.host import Host
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store import open_store
    from cstoolkit.sync import pull

    base = tmp_path_factory.mktemp("routing")
    (base / "cstoolkit.toml").write_text(CONFIG)
    spec = SampleSpec(tickets=400, days=30, seed=5, end=END, realistic_text=True)
    generate_file(spec, base / "helpdesk.jsonl")
    (base / "recipes").mkdir()
    shutil.copy(ROOT / "recipes" / "keyword-routing.yaml", base / "recipes")
    config = load_config(base / "cstoolkit.toml")
    store = open_store(config.store_path)
    try:
        pull(store, build_instance(config, Host().load(), "backends", "demo", store))
    finally:
        store.close()
    return base


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the workspace without a model."""
    target = tmp_path / "ws"
    shutil.copytree(built, target)
    yield target


@pytest.fixture(scope="session")
def trained_once(built: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The workspace with a model trained (and validated) once for the session."""
    target = tmp_path_factory.mktemp("trained") / "ws"
    shutil.copytree(built, target)
    res = run(target, "model", "train", "--json")
    assert res.exit_code == 0, res.output
    return target, res


@pytest.fixture
def trained(trained_once: tuple[Path, Any], tmp_path: Path) -> Path:
    """A copy of the trained workspace (tests may change it)."""
    target = tmp_path / "trained"
    shutil.copytree(trained_once[0], target)
    return target


def run(ws: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(ws / "cstoolkit.toml"), *args])
