"""Kill -9 between a commit and the Discord post that follows it, then start again: the
store is the truth and Discord shows it, each thing once. The bot runs as operators run it,
``python -m bot run`` in its own process; ``COCREATE_FAULTS`` kills it at the exact point."""

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
    """A world per test: each test's database numbers its ideas from #1."""
    async with Driver(Sandbox()) as driver:
        yield driver, seed_community(driver)
        assert driver.sandbox.unhandled_routes == [], driver.sandbox.unhandled_routes


@pytest_asyncio.fixture(loop_scope="module")
async def bot(world: tuple[Driver, Community], tmp_path: Path) -> AsyncIterator[Operator]:
    """A configured database (as after /setup) and a process to run on it."""
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


def _replies_to(driver: Driver, source: Message) -> list[Message]:
    return [
        m
        for m in driver.world.messages.values()
        if m.reference_id == source.id and m.author.id == driver.world.bot.id
    ]


async def _settled(driver: Driver, bot: Operator) -> None:
    """Wait (bounded) until every publication is done: its outcome recorded."""

    def pending() -> int:
        # The digest schedule's row stays pending by design (due at the next fire time).
        return int(
            bot.query(
                "SELECT count(*) FROM timers WHERE done_at IS NULL AND kind <> 'digests.due'"
            )[0][0]
        )

    await driver.world.wait_until(lambda: pending() == 0, 10, lambda: f"{pending()} pending")


async def _killed_at(bot: Operator, point: str) -> None:
    code = await bot.wait_exit()
    assert code == -9, f"expected SIGKILL at {point}, got {code}:\n{bot.output}"


@pytest.mark.parametrize("point", ["ideas.after-submit-commit", "ideas.after-card-post"])
async def test_a_capture_killed_before_its_card_is_recorded_is_shown_once(
    world: tuple[Driver, Community], bot: Operator, point: str
) -> None:
    driver, c = world
    await bot.start(faults=point)
    source = await driver.post(c.general, c.alice, f"[idea] Survive {point}")
    await _killed_at(bot, point)
    (row,) = bot.query("SELECT number, card_message_id FROM ideas")
    assert row["card_message_id"] is None  # committed, not (fully) shown
    number = row["number"]

    await bot.start()
    await driver.wait_for_message(c.general, contains="Captured as idea", timeout=15)
    (row,) = bot.query("SELECT card_message_id, thread_id FROM ideas")
    (shown,) = _cards(driver, c, number)  # one card, not two
    assert row["card_message_id"] == shown.id
    assert row["thread_id"] == shown.id and shown.id in driver.world.channels
    assert len(_replies_to(driver, source)) == 1
    await _settled(driver, bot)


async def test_a_status_change_killed_before_its_announcements_is_announced_once(
    world: tuple[Driver, Community], bot: Operator
) -> None:
    driver, c = world
    await bot.start(faults="ideas.after-status-commit")
    await driver.post(c.general, c.bob, "[idea] Announce me after a crash")
    await driver.wait_for_message(c.general, contains="Captured as idea", timeout=15)
    await _settled(driver, bot)
    (row,) = bot.query("SELECT number, thread_id FROM ideas")
    driver.mark_seen()
    await driver.slash(
        c.mod, "idea status", channel=c.general, number=row["number"], status="planned"
    )
    await _killed_at(bot, "ideas.after-status-commit")
    assert bot.query("SELECT status FROM ideas")[0]["status"] == "planned"

    await bot.start()
    thread = driver.world.channels[row["thread_id"]]
    said = await driver.wait_for_message(thread, contains="Planned", timeout=15)
    assert said.mention_ids == [c.bob.id]
    told = await driver.wait_for_dm(c.bob, timeout=10)
    assert "Planned" in told.content
    await bot.kill()
    said_in_thread = [
        m
        for m in driver.world.messages.values()
        if m.channel_id == thread.id and "Planned" in m.content
    ]
    assert len(said_in_thread) == 1


async def test_counts_stored_before_a_crash_reach_the_card_after_restart(
    world: tuple[Driver, Community], bot: Operator
) -> None:
    driver, c = world
    await bot.start()
    await driver.post(c.general, c.carol, "[idea] Count me after a crash")
    await driver.wait_for_message(c.general, contains="Captured as idea", timeout=15)
    await _settled(driver, bot)
    (row,) = bot.query("SELECT number, card_message_id FROM ideas")
    card = driver.world.messages[row["card_message_id"]]
    voted = await driver.click(c.dave, card, f"idea:vote:{row['number']}:up")
    await voted.followup()  # acknowledged: stored
    await bot.kill()  # before the coalesced card edit (1 s later)
    assert "👍 0" in embed_text(driver.world.messages[card.id])
    assert bot.query("SELECT support FROM ideas")[0]["support"] == 1

    await bot.start()
    await driver.wait_for_edit(card, predicate=lambda m: "👍 1" in embed_text(m), timeout=15)


async def test_a_channel_watched_just_before_a_crash_is_caught_up(
    world: tuple[Driver, Community], bot: Operator
) -> None:
    """The cursor starts when the channel becomes watched, in the same commit: a crash
    right after the change loses nothing members post before the restart."""
    driver, c = world
    fresh = driver.add_text_channel(c.guild, "feature-requests")
    await bot.start()
    answer = await reply_of(
        await driver.slash(
            c.mod,
            "config set",
            channel=c.general,
            key="watched_channels",
            value=f"<#{c.general.id}> <#{fresh.id}>",
        )
    )
    assert "watched_channels" in answer.content
    await bot.kill()  # acknowledged: stored; no message seen there yet
    missed = [
        await driver.post(fresh, member, f"[idea] Posted during the outage by {member.name}")
        for member in (c.alice, c.bob, c.carol)
    ]

    await bot.start()
    for _ in missed:
        await driver.wait_for_message(fresh, contains="Captured as idea", timeout=15)
    await _settled(driver, bot)
    sources = {row[0] for row in bot.query("SELECT source_message_id FROM ideas")}
    assert sources == {m.id for m in missed}


@pytest.mark.parametrize("point", ["ideas.after-submit-commit", "ideas.after-card-post"])
async def test_a_picture_card_killed_before_it_is_recorded_shows_the_stored_picture_once(
    world: tuple[Driver, Community], bot: Operator, point: str
) -> None:
    """The picture was stored with the idea; once the member's attachment link has expired
    (here: the source's file is gone), the card posted at the next start still has it."""
    import io

    from PIL import Image

    driver, c = world
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (5, 150, 200)).save(out, "PNG")
    picture = out.getvalue()
    await bot.start(faults=point)
    source = await driver.post(
        c.general, c.alice, f"[idea] Picture survives {point}", files=[("p.png", picture)]
    )
    await _killed_at(bot, point)
    (row,) = bot.query("SELECT number, card_message_id, image_name FROM ideas")
    assert row["card_message_id"] is None and row["image_name"] == f"idea-{row['number']}.png"
    source.attachments = []  # the link the member's upload had no longer works

    await bot.start()
    await driver.wait_for_message(c.general, contains="Captured as idea", timeout=15)
    await _settled(driver, bot)
    (shown,) = _cards(driver, c, row["number"])  # one card, not two
    assert [a.data for a in shown.attachments] == [picture]
    assert str(shown.embeds[0]["image"]["url"]).endswith(f"/idea-{row['number']}.png")
