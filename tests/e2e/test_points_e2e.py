"""Points end to end: the real bot in the sandbox, fed outbox events as the Ideas feature
writes them, with reward roles, moderators' adjustments and paged leaderboards."""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from helpers import discord_handlers_done, embed_text, reply_of

from bot.client import CocreateBot
from bot.demo.community import (
    Community,
    configure,
    sandbox_settings,
    seed_community,
    start_cocreate,
)
from bot.domain import events
from bot.render import points as points_render
from bot.sandbox import Driver, Member, Message, Role, Sandbox
from bot.settings import load_settings
from bot.storage import common

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

IDEA = 7001
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class PointsEnv:
    driver: Driver
    bot: CocreateBot
    community: Community
    contributor: Role
    legend: Role  # above the bot's role: it cannot be given
    crowd: list[Member]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PointsEnv]:
    """The seeded community plus reward roles (created before the bot starts) and a crowd
    of members for leaderboard pages."""
    db_path = tmp_path_factory.mktemp("points") / "cocreate.db"
    async with Driver(Sandbox()) as driver:
        community = seed_community(driver)
        contributor = driver.add_role(community.guild, "Contributor")
        legend = driver.add_role(community.guild, "Legend", above_bot=True)
        crowd = [driver.add_member(community.guild, f"Member {i:02d}") for i in range(14)]
        settings = sandbox_settings(load_settings(environ={}), driver, db_path)
        bot = await start_cocreate(driver, settings)
        await configure(bot, community)
        await bot.services.guild_settings.set_values(
            community.guild.id,
            {"points_role_rewards": [f"3:{contributor.id}", f"1000:{legend.id}"]},
            community.owner.id,
        )
        yield PointsEnv(driver, bot, community, contributor, legend, crowd)
        assert driver.sandbox.unhandled_routes == [], driver.sandbox.unhandled_routes


@pytest_asyncio.fixture(loop_scope="module")
async def env(module_env: PointsEnv) -> PointsEnv:
    module_env.driver.mark_seen()
    return module_env


async def emit(env: PointsEnv, event: str, actor: int, **payload: Any) -> None:
    """Write an event to the outbox the way the Ideas service does, then wake points."""
    guild = env.community.guild.id
    await env.bot.services.db.write(
        lambda c: common.emit_event(
            c, guild, event, subject_id=IDEA, actor_id=actor, payload=payload
        )
    )
    env.bot.services.points.notify()


async def total(env: PointsEnv, member: Member) -> int:
    all_time, _ = await env.bot.services.points.totals(env.community.guild.id, member.id)
    return all_time


async def test_a_vote_crosses_a_role_threshold_and_a_retraction_takes_it_back(
    env: PointsEnv,
) -> None:
    c, d = env.community, env.driver
    await emit(
        env,
        events.IDEA_SUBMITTED,
        c.alice.id,
        author_id=c.alice.id,
        kind="idea",
        source="modal",
        contributors=[],
    )
    await emit(
        env,
        events.IDEA_VOTE_CAST,
        c.bob.id,
        author_id=c.alice.id,
        voter_id=c.bob.id,
        value=1,
        previous=0,
    )
    await d.wait_for_role_change(c.alice, env.contributor, added=True)
    assert await total(env, c.alice) == 3  # submitted +2, vote +1
    await emit(
        env,
        events.IDEA_VOTE_RETRACTED,
        c.bob.id,
        author_id=c.alice.id,
        voter_id=c.bob.id,
        previous=1,
    )
    await d.wait_for_role_change(c.alice, env.contributor, added=False)
    assert await total(env, c.alice) == 2
    assert env.contributor.id not in d.world.guilds[c.guild.id].members[c.alice.id].role_ids


async def test_show_has_total_rank_and_recent_entries(env: PointsEnv) -> None:
    c = env.community
    card = await reply_of(await env.driver.slash(c.alice, "points show", channel=c.general))
    text = embed_text(card)
    assert card.ephemeral
    assert "Points of Alice" in text and "All time" in text
    assert "idea submitted" in text and "taken back" in text


async def test_adjust_by_a_moderator_is_recorded_logged_and_rewarded(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    before = await total(env, c.carol)
    reply = await reply_of(
        await d.slash(
            c.mod,
            "points adjust",
            channel=c.general,
            user=c.carol,
            delta=10,
            reason="Wrote the migration guide",
        )
    )
    assert reply.ephemeral and "+10" in reply.content
    assert await total(env, c.carol) == before + 10
    logged = await d.wait_for_message(
        c.modlog, predicate=lambda m: "points.adjust" in str(m.embeds)
    )
    assert "migration guide" in embed_text(logged)
    await d.wait_for_role_change(c.carol, env.contributor, added=True)
    rows = await env.bot.services.db.fetchall(
        "SELECT action, target FROM mod_actions WHERE guild_id = ? AND action = ?",
        (c.guild.id, "points.adjust"),
    )
    assert [(r[0], r[1]) for r in rows] == [("points.adjust", str(c.carol.id))]
    history = await reply_of(
        await d.slash(c.mod, "points history", channel=c.general, user=c.carol)
    )
    assert "migration guide" in embed_text(history)


async def test_a_role_above_the_bot_is_reported_to_moderators_once(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    await env.bot.services.guild_settings.set_values(
        c.guild.id,
        {"points_role_rewards": [f"3:{env.contributor.id}", f"5:{env.legend.id}"]},
        c.owner.id,
    )
    try:
        for reason in ("First bonus", "Second bonus"):
            await reply_of(
                await d.slash(
                    c.mod,
                    "points adjust",
                    channel=c.general,
                    user=c.carol,
                    delta=1,
                    reason=reason,
                )
            )
        notice = await d.wait_for_message(c.modlog, contains="can't give or take")
        assert str(env.legend.id) in notice.content
        await d.wait_for_message(c.modlog, predicate=lambda m: "Second bonus" in str(m.embeds))
        repeats = [m for m in d.messages_in(c.modlog) if "can't give or take" in m.content]
        assert len(repeats) == 1
        assert env.legend.id not in d.world.guilds[c.guild.id].members[c.carol.id].role_ids
    finally:
        await env.bot.services.guild_settings.set_values(
            c.guild.id,
            {"points_role_rewards": [f"3:{env.contributor.id}", f"1000:{env.legend.id}"]},
            c.owner.id,
        )


async def test_non_moderators_cannot_adjust_or_see_histories(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    before = await total(env, c.bob)
    denied = await reply_of(
        await d.slash(
            c.bob, "points adjust", channel=c.general, user=c.bob, delta=50, reason="I deserve it"
        )
    )
    assert denied.ephemeral and "Only moderators" in denied.content
    history = await reply_of(
        await d.slash(c.bob, "points history", channel=c.general, user=c.alice)
    )
    assert "Only moderators" in history.content
    assert await total(env, c.bob) == before


async def test_bad_adjustments_are_refused_and_change_nothing(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    before = await total(env, c.bob)
    too_big = await reply_of(
        await d.slash(
            c.mod,
            "points adjust",
            channel=c.general,
            user=c.bob,
            delta=501,
            reason="Too generous",
        )
    )
    assert too_big.ephemeral and "at most 500" in too_big.content
    blank = await reply_of(
        await d.slash(c.mod, "points adjust", channel=c.general, user=c.bob, delta=5, reason="   ")
    )
    assert "Give a reason" in blank.content
    stranger = d.world.add_user("Stranger")
    unknown = await reply_of(
        await d.slash(
            c.mod, "points adjust", channel=c.general, user=stranger, delta=5, reason="Not here"
        )
    )
    assert unknown.ephemeral and "is not a valid user" in unknown.content
    assert await total(env, c.bob) == before


async def test_helpful_answer_marked_by_the_asker(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    before = await total(env, c.dave)
    question = await d.post(c.help, c.bob, "How do I export my boards?")
    answer = await d.reply(question, c.dave, "Settings → Export, then pick CSV.")
    await d.react(answer, c.alice, "✅")  # neither the asker nor a moderator: nothing
    await d.react(answer, c.bob, "✅")  # the asker: +5 crosses the Contributor threshold
    await d.wait_for_role_change(c.dave, env.contributor, added=True)
    assert await total(env, c.dave) == before + 5
    entries = await env.bot.services.points.history(c.guild.id, c.dave.id)
    assert [(e.kind, e.actor_id) for e in entries] == [("helpful_answer", c.bob.id)]


async def test_helpful_answer_in_a_thread_and_by_a_moderator(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    helper, other = env.crowd[0], env.crowd[1]
    thread = await d.add_thread(c.help, "Sync fails on Android", owner=c.carol)
    answer = await d.post(thread, helper, "Clear the app cache, then sign in again.")
    await d.react(answer, c.carol, "✅")  # Carol started the thread: she is the asker
    await d.wait_for_role_change(helper, env.contributor, added=True)
    assert await total(env, helper) == 5
    tip = await d.post(c.help, other, "Tip: Ctrl+K opens the command palette.")
    await d.react(tip, other, "✅")  # one's own answer: nothing
    await d.react(tip, c.mod, "✅")  # a moderator may mark any answer
    await d.wait_for_role_change(other, env.contributor, added=True)
    assert await total(env, other) == 5
    await env.bot.services.points.adjust(c.guild.id, helper.id, -5, "reset", c.mod.id, key="r1")
    await env.bot.services.points.adjust(c.guild.id, other.id, -5, "reset", c.mod.id, key="r2")


async def test_leaderboard_pages_with_buttons_and_hides_members_who_left(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    points = env.bot.services.points
    for i, member in enumerate(env.crowd):
        await points.adjust(c.guild.id, member.id, 20 + i, "crowd", c.mod.id, key=f"crowd:{i}")
    leaver = env.crowd[-1]  # the top scorer
    left = asyncio.ensure_future(
        env.bot.wait_for("raw_member_remove", check=lambda p: p.user.id == leaver.id, timeout=5)
    )
    await d.leave(leaver)
    await left
    result = await d.slash(c.alice, "points leaderboard", channel=c.general)
    board = await reply_of(result)
    d.mark_seen()  # the board arrived as an edit of the "thinking" reply
    first = embed_text(board)
    assert "Leaderboard · all time" in first and "Page 1" in first
    assert f"<@{leaver.id}>" not in first
    assert f"<@{env.crowd[-2].id}>" in first  # the top scorer still here is first
    next_id = next(
        comp["custom_id"]
        for row in board.components
        for comp in row["components"]
        if comp["custom_id"].startswith("points:page:all:-:next:")
    )
    await (await d.click(c.bob, board, next_id)).response()
    page_two = await d.wait_for_edit(board)
    second = embed_text(page_two)
    assert "Page 2" in second and "`#11`" in second
    assert f"<@{env.crowd[-2].id}>" not in second
    prev_id = next(
        comp["custom_id"]
        for row in page_two.components
        for comp in row["components"]
        if comp["custom_id"].startswith("points:page:all:-:prev:")
    )
    await (await d.click(c.bob, page_two, prev_id)).response()
    again = await d.wait_for_edit(board)
    assert "Page 1" in embed_text(again)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (which must be there)."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def button(message: Message, prefix: str) -> str:
    return next(
        comp["custom_id"]
        for row in message.components
        for comp in row["components"]
        if comp["custom_id"].startswith(prefix)
    )


async def picture_of(env: PointsEnv, board: Message) -> bytes:
    """The board's one attachment, downloaded like a client would; the embed shows it."""
    [attachment] = board.attachments
    assert attachment.filename == "leaderboard.png"
    url = attachment.to_json(env.driver.world.base_url, board.channel_id)["url"]
    assert board.embeds[0]["image"]["url"] == url  # the sandbox resolved attachment://
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        data = await response.read()
    assert data == attachment.data
    return data


async def test_leaderboard_picture_is_attached_and_kept_when_paging(
    env: PointsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d = env.community, env.driver
    drawn_in: list[threading.Thread] = []
    draw = points_render.leaderboard_chart

    def watched(*args: Any) -> bytes:
        drawn_in.append(threading.current_thread())
        return draw(*args)

    monkeypatch.setattr(points_render, "leaderboard_chart", watched)
    board = await reply_of(
        await d.slash(c.alice, "points leaderboard", channel=c.general, image=True)
    )
    d.mark_seen()
    # Drawn in a worker thread: matplotlib never holds up the event loop.
    assert drawn_in and threading.main_thread() not in drawn_in
    sent = [
        call
        for call in d.sandbox.calls
        if call.method == "POST" and call.route == "/webhooks/{application_id}/{interaction_token}"
    ][-1]
    assert sent.json["embeds"][0]["image"]["url"] == "attachment://leaderboard.png"
    first = embed_text(board)
    assert "Leaderboard · all time" in first and "Page 1" in first  # the text list stays
    assert f"<@{env.crowd[-2].id}>" in first
    picture = await picture_of(env, board)
    assert png_size(picture) == (800, 120 + 40 * 10)
    next_id = button(board, "points:page:all:-:next:")
    assert next_id.endswith(":img") and len(next_id) <= 100
    await (await d.click(c.bob, board, next_id)).response()
    page_two = await d.wait_for_edit(board)
    second = embed_text(page_two)
    assert "Page 2" in second and "`#11`" in second
    rows = len(page_two.embeds[0]["description"].splitlines())
    again = await picture_of(env, page_two)  # one attachment: the first page's is gone
    assert again != picture and png_size(again) == (800, 120 + 40 * rows)
    assert button(page_two, "points:page:all:-:prev:").endswith(":img")


async def test_a_picture_that_cannot_be_drawn_leaves_the_board(
    env: PointsEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    c, d = env.community, env.driver
    board = await reply_of(
        await d.slash(c.alice, "points leaderboard", channel=c.general, image=True)
    )
    d.mark_seen()
    assert len(board.attachments) == 1

    def broken(*args: Any) -> bytes:
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(points_render, "leaderboard_chart", broken)
    with caplog.at_level(logging.ERROR, logger="cogs.points"):
        await (await d.click(c.bob, board, button(board, "points:page:all:-:next:"))).response()
        page_two = await d.wait_for_edit(board)
    assert "Page 2" in embed_text(page_two)
    # The first page's picture would be wrong here: it goes, and so does the embed's image.
    assert page_two.attachments == [] and "image" not in page_two.embeds[0]
    assert button(page_two, "points:page:all:-:prev:").endswith(":img")  # next time, maybe
    assert "Could not draw a leaderboard" in caplog.text
    fresh = await reply_of(
        await d.slash(c.alice, "points leaderboard", channel=c.general, image=True)
    )
    assert "Page 1" in embed_text(fresh) and fresh.attachments == []
    assert "image" not in fresh.embeds[0]


async def test_weekly_leaderboard_by_kind_and_innovators(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    weekly = embed_text(
        await reply_of(
            await d.slash(
                c.alice, "points leaderboard", channel=c.general, period="week", kind="helpful"
            )
        )
    )
    assert "last 7 days" in weekly and "helpful" in weekly and f"<@{c.dave.id}>" in weekly
    innovators = embed_text(
        await reply_of(await d.slash(c.alice, "points innovators", channel=c.general))
    )
    # Bob voted on Alice's idea (engagement 0.5); Alice's only vote was taken back.
    assert "Innovators" in innovators and f"<@{c.bob.id}>" in innovators


async def test_season_start_archives_and_keeps_all_time(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    all_time = await total(env, c.carol)
    reply = await reply_of(await d.slash(c.mod, "points season start", channel=c.general))
    assert "Season 2 has started" in reply.content
    assert await env.bot.services.points.totals(c.guild.id, c.carol.id) == (all_time, 0)
    denied = await reply_of(await d.slash(c.bob, "points season start", channel=c.general))
    assert "Only moderators" in denied.content


async def handled(env: PointsEnv, event: str, action: Any) -> None:
    """Run ``action`` and return once the bot's ``on_<event>`` listeners have finished
    (they change points, which no Discord message shows)."""
    seen = asyncio.ensure_future(env.bot.wait_for(event, timeout=5))
    await action
    await seen
    # dispatch() creates the listener tasks in the same call that resolves wait_for.
    await discord_handlers_done()


async def test_removing_the_check_mark_takes_the_points_back_or_passes_them_on(
    env: PointsEnv,
) -> None:
    c, d = env.community, env.driver
    helper = env.crowd[2]
    start = await total(env, helper)
    question = await d.post(c.help, c.bob, "Can I undo an archive?")
    answer = await d.reply(question, helper, "Yes: Archive → Restore.")
    await handled(env, "raw_reaction_add", d.react(answer, c.bob, "✅"))  # the asker's pays
    assert await total(env, helper) == start + 5
    await handled(env, "raw_reaction_add", d.react(answer, c.mod, "✅"))  # still one award

    async def entries() -> list[tuple[int, int | None]]:
        history = await env.bot.services.points.history(c.guild.id, helper.id)
        return [(e.delta, e.actor_id) for e in history if e.kind == "helpful_answer"]

    # The paying ✅ goes: the moderator's, still there, carries the award.
    await handled(env, "raw_reaction_remove", d.unreact(answer, c.bob, "✅"))
    assert await entries() == [(5, c.mod.id), (-5, c.bob.id), (5, c.bob.id)]
    assert await total(env, helper) == start + 5
    # No qualifying ✅ left: the points go back.
    await handled(env, "raw_reaction_remove", d.unreact(answer, c.mod, "✅"))
    assert await total(env, helper) == start
    await handled(env, "raw_reaction_add", d.react(answer, c.alice, "✅"))  # not the asker
    assert await total(env, helper) == start
    await handled(env, "raw_reaction_add", d.react(answer, c.bob, "✅"))  # pays again, once
    assert await total(env, helper) == start + 5
    await handled(env, "raw_reaction_clear", d.clear_reactions(answer, c.mod))
    assert await total(env, helper) == start
    assert await consistent_totals(env)


async def consistent_totals(env: PointsEnv) -> bool:
    points = env.bot.services.points
    sums = await points.ledger_sums(env.community.guild.id)
    return all([await total_of(env, m) == s for m, s in sums.items()])


async def total_of(env: PointsEnv, member_id: int) -> int:
    return (await env.bot.services.points.totals(env.community.guild.id, member_id))[0]


async def test_show_ranks_like_the_leaderboard_without_members_who_left(env: PointsEnv) -> None:
    c, d = env.community, env.driver
    second = env.crowd[-2]  # the leaderboard test's top scorer left; this one is next
    mine = await total(env, second)
    present = d.world.guilds[c.guild.id].members
    sums = await env.bot.services.points.ledger_sums(c.guild.id)
    above = [m for m, s in sums.items() if s > mine and m in present]
    card = embed_text(await reply_of(await d.slash(second, "points show", channel=c.general)))
    assert f"#{len(above) + 1}" in card
    leaver = env.crowd[-1]
    assert sums[leaver.id] > mine and leaver.id not in present  # counted before, not now
    assert f"#{len(above) + 2}" not in card
