"""Shared test configuration. Fixture plugins for the real servers live in tests/fixtures/."""

from __future__ import annotations

import pytest

from scout_jupyter.clock import FakeClock

pytest_plugins: tuple[str, ...] = (
    "tests.fixtures.store",
    "tests.fixtures.postgres",
    "tests.fixtures.s3server",
    "tests.fixtures.supabase",
    "pytest_jupyter.jupyter_server",
    "tests.fixtures.jupyter",
    "tests.fixtures.lab",
    "tests.fixtures.hub",
)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _scout_logger_level_restored():
    """The CLI sets the ``scout_jupyter`` logger's level for its process; in the test process that
    would leak into later tests (hiding warnings that caplog checks)."""
    import logging

    logger = logging.getLogger("scout_jupyter")
    level = logger.level
    yield
    logger.setLevel(level)
