"""Kill -9 between a held idea's approval and its card: after the restart the card appears
exactly once (with one reply to its source and one DM to its author). The bot runs as
``python -m bot run``; ``COCREATE_FAULTS`` kills it at the exact point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from helpers import embed_text, reply_of
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
    operator = Operator(driver, db_path)
    driver.mark_seen()
    yield operator
    await operator.kill()


def _cards(driver: Driver, community: Community, number: int) -> list[Message]:
    return [
        m
        for m in driver.world.messages.values()
        if m.channel_id == community.ideas.id
        and m.author.id == driver.world.bot.id
        and any(str(e.get("title", "")).startswith(f"#{number} · ") for e in m.embeds)
    ]


async def _settled(driver: Driver, bot: Operator) -> None:
    def pending() -> int:
        return int(
            bot.query(
                "SELECT count(*) FROM timers WHERE done_at IS NULL AND kind <> 'digests.due'"
            )[0][0]
        )

    await driver.world.wait_until(lambda: pending() == 0, 10, lambda: f"{pending()} pending")


@pytest.mark.parametrize("point", ["ideas.after-approve-commit", "ideas.after-card-post"])
async def test_an_approval_killed_before_its_card_is_recorded_is_shown_once(
    world: tuple[Driver, Community], bot: Operator, point: str
) -> None:
    driver, c = world
    await bot.start()
    answer = await reply_of(
        await driver.slash(c.mod, "config set", channel=c.general, key="ideas_review", value="all")
    )
    assert "ideas_review" in answer.content
    source = await driver.post(c.general, c.alice, f"[idea] Approved across {point}")
    await driver.wait_for_reaction(source, "🕓", timeout=15)
    await _settled(driver, bot)
    (row,) = bot.query("SELECT number, status FROM ideas")
    assert row["status"] == "pending_review"
    number = row["number"]
    queue = await reply_of(await driver.slash(c.mod, "idea queue", channel=c.general))
    await bot.kill()

    await bot.start(faults=point)
    await driver.click(c.mod, queue, f"idea:review:{number}:approve")
    code = await bot.wait_exit()
    assert code == -9, f"expected SIGKILL at {point}, got {code}:\n{bot.output}"
    (row,) = bot.query("SELECT status, card_message_id FROM ideas")
    assert row["status"] == "new" and row["card_message_id"] is None  # committed, not shown

    await bot.start()
    await driver.wait_for_message(
        c.general, predicate=lambda m: m.reference_id == source.id, timeout=15
    )
    await _settled(driver, bot)
    (shown,) = _cards(driver, c, number)  # one card, not two
    (row,) = bot.query("SELECT card_message_id, thread_id FROM ideas")
    assert row["card_message_id"] == shown.id and row["thread_id"] == shown.id
    assert "Approved across" in embed_text(shown)
    replies = [
        m
        for m in driver.world.messages.values()
        if m.reference_id == source.id and m.author.id == driver.world.bot.id
    ]
    assert len(replies) == 1
    dms = [
        m
        for m in driver.world.messages.values()
        if m.author.id == driver.world.bot.id
        and m.guild_id is None
        and "was approved" in m.content
        and f"#{number}" in m.content
    ]
    assert len(dms) == 1
