"""Fixtures for Cocreate's end-to-end tests: the real bot against the local sandbox.

One bot per test module (starting one costs ~0.3 s); each test calls ``env.driver.mark_seen``
through the ``env`` fixture so earlier tests' messages never satisfy its waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from bot.client import CocreateBot
from bot.demo.community import (
    Community,
    configure,
    sandbox_settings,
    seed_community,
    start_cocreate,
)
from bot.sandbox import Driver, Sandbox
from bot.settings import load_settings


@dataclass
class Env:
    driver: Driver
    bot: CocreateBot
    community: Community
    db_path: Path


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """A sandbox with the seeded community and a configured Cocreate connected to it."""
    db_path = tmp_path_factory.mktemp("cocreate") / "cocreate.db"
    async with Driver(Sandbox()) as driver:
        community = seed_community(driver)
        settings = sandbox_settings(load_settings(environ={}), driver, db_path)
        bot = await start_cocreate(driver, settings)
        await configure(bot, community)
        yield Env(driver, bot, community, db_path)
        assert driver.sandbox.unhandled_routes == [], driver.sandbox.unhandled_routes


@pytest_asyncio.fixture(loop_scope="module")
async def env(module_env: Env) -> Env:
    module_env.driver.mark_seen()
    return module_env
