"""Fixtures shared by the unit and integration tests: settings on a temporary database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import migrate
from bot.settings import Settings, load_settings
from bot.storage.database import Database


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
