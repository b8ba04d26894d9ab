"""Kill -9 a bot right after a challenge's submission window closed (committed), before
the close is posted; start it again: the close appears once, and the window is not closed
twice. The bot runs as operators run it (``python -m bot run``); ``COCREATE_FAULTS`` kills
it at the point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from process_helpers import Operator

from bot.app import create_services
from bot.demo.community import Community, sandbox_settings, seed_community
from bot.domain.challenge_model import ChallengeDraft
from bot.domain.challenges import Criterion
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
    """A database holding a challenge created a day ago whose submissions ended an hour
    later (so its window is due at start), and a process to run on it."""
    driver, community = world
    db_path = tmp_path / "cocreate.db"
    now = datetime.now(UTC)
    then = now - timedelta(days=1)
    services = create_services(
        sandbox_settings(load_settings(environ={}), driver, db_path), clock=lambda: then
    )
    await services.start()
    await services.guild_settings.set_values(
        community.guild.id, community.configured, community.owner.id
    )
    await services.challenges.create(
        ChallengeDraft(
            guild_id=community.guild.id,
            author_id=community.mod.id,
            title="Quieter notifications",
            problem="Members mute the server because it pings too much.",
            good_answer="Fewer pings, nobody misses what matters.",
            ends=(
                then + timedelta(hours=1),
                now + timedelta(days=1),
                now + 2 * timedelta(days=1),
                now + 3 * timedelta(days=1),
            ),
            criteria=(Criterion("Impact", 2), Criterion("Effort", 1)),
            finalist_points=10,
            winner_points=50,
            channel_id=community.announcements.id,
        )
    )
    await services.close()
    process = Operator(driver, db_path)
    driver.mark_seen()
    yield process
    await process.kill()


def _closes(driver: Driver, community: Community) -> list[Message]:
    return [
        m
        for m in driver.world.messages.values()
        if m.channel_id == community.announcements.id
        and m.author.id == driver.world.bot.id
        and "submissions are closed" in m.content
    ]


async def test_a_window_killed_between_its_commit_and_its_post_is_posted_once(
    world: tuple[Driver, Community], bot: Operator
) -> None:
    driver, c = world
    await bot.start(faults="challenges.after-window-commit")
    code = await bot.wait_exit()
    assert code == -9, (
        f"expected SIGKILL at challenges.after-window-commit, got {code}:\n{bot.output}"
    )
    (row,) = bot.query("SELECT phase, message_id FROM challenges")
    assert row["phase"] == "screening" and row["message_id"] is not None  # announced, closed
    assert _closes(driver, c) == []  # committed, not posted

    await bot.start()
    await driver.wait_for_message(c.announcements, contains="submissions are closed", timeout=15)

    def pending() -> int:
        return int(
            bot.query(
                "SELECT count(*) FROM timers WHERE kind IN ('challenge.post', 'challenge.window') "
                "AND done_at IS NULL AND due_at <= strftime('%Y-%m-%dT%H:%M:%S', 'now')"
            )[0][0]
        )

    await driver.world.wait_until(lambda: pending() == 0, 10, lambda: f"{pending()} pending")
    assert len(_closes(driver, c)) == 1
    (row,) = bot.query("SELECT phase FROM challenges")
    assert row["phase"] == "screening"
    announcement = driver.world.messages[int(bot.query("SELECT message_id FROM challenges")[0][0])]
    button = announcement.button("challenge:submit:1")
    assert button is not None and button.get("disabled") is True
