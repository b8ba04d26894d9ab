"""Fixtures shared by the unit and integration tests: settings on a temporary database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.app import migrate
from bot.settings import Settings, load_settings
from bot.storage.database import Database

# CI explores the same examples on every run (no flaky reds from a new random draw) and
# has no per-example deadline (a loaded 2-core machine is slow, not wrong). Locally,
# Hypothesis keeps searching new examples.
hypothesis_settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The default settings (no environment read) with the database in ``tmp_path``."""
    return load_settings(environ={}).replace_section(
        "database",
        path=str(tmp_path / "cocreate.db"),
        backups_dir=str(tmp_path / "backups"),
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """An opened database with every migration applied; closed after the test."""
    database = Database(
        settings.database.path,
        busy_timeout_ms=settings.database.busy_timeout_ms,
        batch_max_rows=settings.database.batch_max_rows,
        batch_max_delay_ms=settings.database.batch_max_delay_ms,
    )
    await database.open()
    try:
        await migrate(database, settings)
        yield database
    finally:
        await database.close()
