"""Kill -9 a bot posting a digest: once right after the run is committed (nothing posted
yet), once right after a part is posted (not yet recorded). Started again, it posts the
digest exactly once: every part once, none twice. The bot runs as operators run it
(``python -m bot run``); ``COCREATE_FAULTS`` kills it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from process_helpers import Operator, prepare_database

from bot.demo.community import Community, seed_community
from bot.sandbox import Driver, Message, Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def world() -> AsyncIterator[tuple[Driver, Community]]:
    async with Driver(Sandbox()) as driver:
        yield driver, seed_community(driver)
        assert driver.sandbox.unhandled_routes == [], driver.sandbox.unhandled_routes


@pytest_asyncio.fixture(loop_scope="module")
async def bot(world: tuple[Driver, Community], tmp_path: Path) -> AsyncIterator[Operator]:
    driver, community = world
    db_path = tmp_path / "cocreate.db"
    await prepare_database(driver, community, db_path)
    process = Operator(driver, db_path)
    driver.mark_seen()
    yield process
    await process.kill()


def _parts(driver: Driver, community: Community) -> list[Message]:
    """The digest parts the bot posted in the staff channel (each footed by run and part)."""
    return [
        m
        for m in driver.world.messages.values()
        if m.channel_id == community.staff.id
        and m.author.id == driver.world.bot.id
        and not m.ephemeral
        and any("digest" in str(e.get("footer", {}).get("text", "")).lower() for e in m.embeds)
    ]


def _footers(messages: list[Message]) -> list[str]:
    return [str(m.embeds[-1].get("footer", {}).get("text", "")) for m in messages]


@pytest.mark.parametrize(
    ("point", "posted_before_restart"),
    [("digests.after-run-commit", False), ("digests.after-part-post", True)],
)
async def test_a_digest_killed_before_it_is_recorded_as_posted_appears_exactly_once(
    world: tuple[Driver, Community], bot: Operator, point: str, posted_before_restart: bool
) -> None:
    driver, c = world
    before = len(_parts(driver, c))
    await bot.start(faults=point)
    await driver.slash(c.mod, "digest now", channel=c.staff)
    code = await bot.wait_exit()
    assert code == -9, f"expected SIGKILL at {point}, got {code}:\n{bot.output}"
    run = bot.query("SELECT id, status, message_ids FROM digest_runs ORDER BY id DESC")[0]
    assert run["status"] == "pending" and run["message_ids"] == "[]"  # committed, not posted
    assert (len(_parts(driver, c)) > before) is posted_before_restart

    await bot.start()  # what is recorded but not yet shown is shown

    def status() -> str:
        rows = bot.query(f"SELECT status FROM digest_runs WHERE id = {int(run['id'])}")
        return str(rows[0]["status"])

    await driver.world.wait_until(lambda: status() == "published", 20, status)
    (published,) = bot.query(f"SELECT message_ids FROM digest_runs WHERE id = {int(run['id'])}")
    mine = _parts(driver, c)[before:]
    footers = _footers(mine)
    assert mine and len(footers) == len(set(footers)), footers  # no part twice
    assert all(f.startswith(f"Cocreate digest {int(run['id'])} · part ") for f in footers)
    total = int(footers[0].rsplit("/", 1)[1])
    assert len(mine) == total  # every part once
    assert sorted(m.id for m in mine) == sorted(json.loads(published[0]))
