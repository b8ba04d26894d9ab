"""Kill -9 a bot announcing a policy change right after its card is posted, before the card
is recorded; start it again: the announcement appears once, with its thread and full text.
The bot runs as operators run it (``python -m bot run``); ``COCREATE_FAULTS`` kills it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from process_helpers import Operator

from bot.app import create_services
from bot.demo.community import Community, sandbox_settings, seed_community
from bot.domain.policy_model import PolicyDraft
from bot.sandbox import Driver, Message, Sandbox
from bot.settings import load_settings

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def world() -> AsyncIterator[tuple[Driver, Community]]:
    async with Driver(Sandbox()) as driver:
        yield driver, seed_community(driver)
        assert driver.sandbox.unhandled_routes == [], driver.sandbox.unhandled_routes


@pytest_asyncio.fixture(loop_scope="module")
async def bot(world: tuple[Driver, Community], tmp_path: Path) -> AsyncIterator[Operator]:
    """A configured database holding a draft policy, and a process to run on it."""
    driver, community = world
    db_path = tmp_path / "cocreate.db"
    services = create_services(sandbox_settings(load_settings(environ={}), driver, db_path))
    await services.start()
    await services.guild_settings.set_values(
        community.guild.id, community.configured, community.owner.id
    )
    await services.policy.draft(
        PolicyDraft(
            guild_id=community.guild.id,
            author_id=community.staffer.id,
            title="Quiet hours",
            summary="No pings between 22:00 and 07:00.",
            body="Members do not ping others between 22:00 and 07:00 server time.",
            effective_at=datetime.now(UTC) + timedelta(days=10),
        )
    )
    await services.close()
    process = Operator(driver, db_path)
    driver.mark_seen()
    yield process
    await process.kill()


def _cards(driver: Driver, community: Community) -> list[Message]:
    return [
        m
        for m in driver.world.messages.values()
        if m.channel_id == community.announcements.id
        and m.author.id == driver.world.bot.id
        and any(str(e.get("title", "")).startswith("Policy #1 · ") for e in m.embeds)
    ]


async def test_an_announcement_killed_before_its_card_is_recorded_is_shown_once(
    world: tuple[Driver, Community], bot: Operator
) -> None:
    driver, c = world
    await bot.start(faults="policy.after-card-post")
    await driver.slash(c.staffer, "policy announce", channel=c.staff, number=1)
    code = await bot.wait_exit()
    assert code == -9, f"expected SIGKILL at policy.after-card-post, got {code}:\n{bot.output}"
    (row,) = bot.query("SELECT stage, card_message_id FROM policies")
    assert row["stage"] == "announced" and row["card_message_id"] is None
    assert len(_cards(driver, c)) == 1  # posted, not recorded

    await bot.start()
    thread = await driver.wait_for_thread(c.announcements, timeout=15)
    await driver.wait_for_message(thread, contains="full text", timeout=10)
    (shown,) = _cards(driver, c)  # still one card
    (row,) = bot.query("SELECT card_message_id, thread_id FROM policies")
    assert row["card_message_id"] == shown.id and row["thread_id"] == thread.id == shown.id

    def pending() -> int:
        return int(
            bot.query(
                "SELECT count(*) FROM timers WHERE kind = 'policy.announce' AND done_at IS NULL"
            )[0][0]
        )

    await driver.world.wait_until(lambda: pending() == 0, 10, lambda: f"{pending()} pending")
