"""Settings every test in the repository shares (core and plugins): budgets and seeds.

Two profiles, chosen by ``CSTOOLKIT_TEST_PROFILE``:

* ``default`` (the README test command): generated-input tests run a small, fixed set of
  examples, and tests marked ``slow`` are skipped, so the whole suite stays within minutes;
* ``ci`` (set by ``.ci/run``): the same tests with a larger budget, and the ``slow`` tests.

Both are deterministic: hypothesis derandomizes its examples and random kill points come from
:func:`test_seed`, so a failure replays with the same command. ``pytest --hypothesis-profile ci``
raises the budget of the generated-input tests alone.

Both run in parallel, one pytest-xdist worker per core, unless told otherwise: ``-n 0`` (or
``-p no:xdist``) runs everything in one process, for debugging; ``-n N`` picks the number.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("CSTOOLKIT_TEST_PROFILE", "default")
if PROFILE not in ("default", "ci"):
    raise pytest.UsageError(f"CSTOOLKIT_TEST_PROFILE must be default or ci, not {PROFILE!r}")

_COMMON = {
    "derandomize": True,
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("default", max_examples=25, **_COMMON)
settings.register_profile("ci", max_examples=300, **_COMMON)
settings.load_profile(PROFILE)

#: The seed of random choices in tests (kill points, orderings); override to replay another.
DEFAULT_SEED = 20261206


def test_seed() -> int:
    return int(os.environ.get("CSTOOLKIT_TEST_SEED", DEFAULT_SEED))


test_seed.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def seeded_random(request: pytest.FixtureRequest) -> random.Random:
    """A random.Random seeded from CSTOOLKIT_TEST_SEED and the test's name.

    The seed is printed, so a failing run says how to replay it.
    """
    seed = test_seed()
    print(f"random seed {seed} (replay: CSTOOLKIT_TEST_SEED={seed} pytest '{request.node.nodeid}')")
    return random.Random(f"{seed}:{request.node.nodeid}")


# -- parallel runs (pytest-xdist) ------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``-n auto`` (one worker per core) unless the command line gives ``-n``.

    Set here rather than in ``addopts`` so that ``-p no:xdist`` still works (an ``-n`` in addopts
    would then be an unknown option) and a pytest without xdist runs the suite in one process.
    Each worker starts the real servers its tests need (tests/conftest.py): no two share a
    port, a data directory or a temporary file.
    """
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.option.numprocesses is None:
        config.option.numprocesses = "auto"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``slow`` tests run in CI's profile (or with CSTOOLKIT_SLOW_TESTS=1), not by default."""
    if PROFILE == "ci" or os.environ.get("CSTOOLKIT_SLOW_TESTS"):
        return
    skip = pytest.mark.skip(
        reason="slow: runs in CI's profile; "
        "to enable: CSTOOLKIT_SLOW_TESTS=1 (or CSTOOLKIT_TEST_PROFILE=ci)"
    )
    on_sqlite_only = pytest.mark.skip(
        reason="slow on PostgreSQL: runs there in CI's profile (the SQLite run is the default's); "
        "to enable: CSTOOLKIT_SLOW_TESTS=1 (or CSTOOLKIT_TEST_PROFILE=ci)"
    )
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
        elif item.get_closest_marker("slow_on_postgresql") and _on_postgresql(item):
            item.add_marker(on_sqlite_only)


def _on_postgresql(item: pytest.Item) -> bool:
    """Whether ``item`` is the PostgreSQL run of a test parametrized over the stores."""
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgresql" in callspec.id.split("-")
