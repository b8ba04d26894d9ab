"""Fixtures for Cocreate's end-to-end tests: the real bot against the local sandbox.

One bot per test module (starting one costs ~0.3 s); each test calls ``env.driver.mark_seen``
through the ``env`` fixture so earlier tests' messages never satisfy its waits.

Real time is only waited for where a test is about time: Cocreate bots identify again at
once after INVALID_SESSION, and the per-channel message limit's window is 1 s, not 5.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
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
from bot.sandbox import Driver, RateLimitRule, RateLimits, Sandbox
from bot.settings import load_settings

#: Discord allows 5 messages (sends and edits) per 5 s in a channel: the window is shortened
#: to 1 s, so the bot still meets real 429s, and waits less for them.
FAST_LIMITS = RateLimits(
    messages=RateLimitRule(5, 1.0, advertised=False),
    dms=RateLimitRule(5, 1.0, advertised=False),
)


@dataclass
class Env:
    driver: Driver
    bot: CocreateBot
    community: Community
    db_path: Path


async def _identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
    return None


@pytest.fixture(scope="session", autouse=True)
def no_reidentify_delay() -> Iterator[None]:
    """discord.py sleeps 5 s in ``before_identify_hook`` before every IDENTIFY but the
    first (Discord allows one per 5 s); the sandbox has no such limit, so Cocreate bots in
    these tests identify again at once. Session-wide: module-scoped bots start early."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CocreateBot, "before_identify_hook", staticmethod(_identify_at_once))
        yield


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """A sandbox with the seeded community and a configured Cocreate connected to it."""
    db_path = tmp_path_factory.mktemp("cocreate") / "cocreate.db"
    async with Driver(Sandbox(rate_limits=FAST_LIMITS)) as driver:
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
