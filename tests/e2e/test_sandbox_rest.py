"""REST behaviour through the sandbox: permissions, Discord's error codes and limits,
rate limits, threads, forum posts, reactions and polls — driven by a plain discord.py bot."""

from __future__ import annotations

import asyncio
import datetime
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
import pytest_asyncio
from conftest_sandbox_helpers import SandboxBot, World, build_world

from bot.sandbox import ApiError, Driver, P, RateLimitRule, RateLimits, Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Env:
    driver: Driver
    bot: SandboxBot
    world: World

    def channel(self, channel_id: int) -> discord.TextChannel:
        channel = self.bot.get_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        return channel

    @property
    def guild(self) -> discord.Guild:
        guild = self.bot.get_guild(self.world.guild.id)
        assert guild is not None
        return guild


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env() -> AsyncIterator[Env]:
    # Short windows: the module's tests send many messages into one channel.
    fast = RateLimits(
        messages=RateLimitRule(5, 0.05, advertised=False),
        reactions=RateLimitRule(1, 0.01),
        dms=RateLimitRule(5, 0.05, advertised=False),
    )
    async with Driver(Sandbox(rate_limits=fast)) as driver:
        world = build_world(driver)
        bot = SandboxBot(message_content=True)
        await driver.start_bot(bot)
        yield Env(driver, bot, world)
        assert driver.sandbox.unhandled_routes == []


async def test_dm_to_member_with_closed_dms_is_forbidden_50007(env: Env) -> None:
    d, w = env.driver, env.world
    alice = await env.bot.fetch_user(w.alice.id)
    await alice.send("your idea was planned")
    dm = await d.wait_for_dm(w.alice)
    assert dm.content == "your idea was planned"
    bob = await env.bot.fetch_user(w.bob.id)
    with pytest.raises(discord.Forbidden) as caught:
        await bob.send("you will never read this")
    assert caught.value.code == 50007


async def test_role_changes_respect_the_hierarchy(env: Env) -> None:
    d, w = env.driver, env.world
    member = env.guild.get_member(w.alice.id)
    assert member is not None
    await member.add_roles(discord.Object(w.helper.id))
    change = await d.wait_for_role_change(w.alice, w.helper, added=True)
    assert change.data["added"] == [w.helper.id]
    assert w.helper.id in w.alice.role_ids
    await env.bot.until(
        lambda: any(r.id == w.helper.id for r in member.roles)
    )  # GUILD_MEMBER_UPDATE
    with pytest.raises(discord.Forbidden) as caught:
        await member.add_roles(discord.Object(w.admin.id))  # above the bot's role
    assert (caught.value.status, caught.value.code) == (403, 50013)
    assert w.admin.id not in w.alice.role_ids
    await member.remove_roles(discord.Object(w.helper.id))
    await d.wait_for_role_change(w.alice, w.helper, added=False)


async def test_embed_and_content_limits_are_enforced_50035(env: Env) -> None:
    general = env.channel(env.world.general.id)
    with pytest.raises(discord.HTTPException) as caught:
        await general.send(embed=discord.Embed(title="t" * 257))
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "embeds.0.title" in caught.value.text
    too_big = [discord.Embed(description="d" * 3500) for _ in range(2)]
    with pytest.raises(discord.HTTPException) as caught:
        await general.send(embeds=too_big)
    assert caught.value.code == 50035
    with pytest.raises(discord.HTTPException) as caught:
        await general.send("x" * 2001)
    assert caught.value.code == 50035
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="x" * 81, custom_id="y" * 101))
    with pytest.raises(discord.HTTPException) as caught:
        await general.send("vote", view=view)
    assert caught.value.code == 50035
    assert "components.0.components.0.custom_id" in caught.value.text
    assert "components.0.components.0.label" in caught.value.text
    ok = await general.send(embed=discord.Embed(title="Digest", description="3 new ideas"))
    assert ok.embeds[0].title == "Digest"
    assert "[embed: Digest]" in env.driver.transcript()


async def test_missing_permissions_and_unknown_objects(env: Env) -> None:
    d, w = env.driver, env.world
    locked = d.add_text_channel(w.guild, "announcements")  # CHANNEL_CREATE reaches the bot
    post = await d.post(locked, w.alice, "member post")
    d.set_overwrite(locked, d.bot_role(w.guild), deny=P.SEND_MESSAGES | P.MANAGE_MESSAGES)
    await env.bot.until(lambda: env.guild.get_channel(locked.id) is not None)
    channel = env.guild.get_channel(locked.id)
    assert isinstance(channel, discord.TextChannel)
    await env.bot.until(lambda: not channel.permissions_for(env.guild.me).send_messages)
    with pytest.raises(discord.Forbidden) as caught:
        await channel.send("blocked")
    assert caught.value.code == 50013
    with pytest.raises(discord.Forbidden) as caught:  # someone else's message
        await channel.get_partial_message(post.id).delete()
    assert caught.value.code == 50013
    with pytest.raises(discord.NotFound) as missing:
        await channel.fetch_message(1)
    assert missing.value.code == 10008
    with pytest.raises(discord.NotFound) as missing:
        await env.bot.fetch_channel(1)
    assert missing.value.code == 10003


async def test_message_edit_delete_reply_and_history(env: Env) -> None:
    d, w = env.driver, env.world
    general = env.channel(w.general.id)
    question = await d.post(w.general, w.alice, "when is the next release?")
    asked = await general.fetch_message(question.id)
    answer = await asked.reply("Friday", mention_author=False)
    stored = await d.wait_for_message(w.general, contains="Friday")
    assert stored.reference_id == question.id
    assert w.alice.id not in stored.mention_ids  # mention_author=False
    await answer.edit(content="Friday, 10:00 UTC")
    assert (await d.wait_for_edit(stored)).content == "Friday, 10:00 UTC"
    call = await d.wait_for_call("PATCH", "/channels/{channel_id}/messages/{message_id}")
    assert call.json["content"] == "Friday, 10:00 UTC"
    newest = [m.content async for m in general.history(limit=2)]
    assert newest == ["Friday, 10:00 UTC", "when is the next release?"]
    after = [
        m.id async for m in general.history(after=discord.Object(question.id), oldest_first=True)
    ]
    assert after == [answer.id]
    await answer.delete()
    assert stored.deleted
    await asked.delete()  # a member's message: the bot has MANAGE_MESSAGES here
    assert question.deleted


async def test_attachments_upload_and_read_and_the_upload_limit_is_413(env: Env) -> None:
    d, w = env.driver, env.world
    general = env.channel(w.general.id)
    posted = await d.post(w.general, w.alice, "look", files=[("shot.png", b"\x89PNG fake")])
    fetched = await general.fetch_message(posted.id)
    (attachment,) = fetched.attachments
    assert attachment.content_type == "image/png"  # from the file name, as Discord does
    assert await attachment.read() == b"\x89PNG fake"
    limit = env.guild.filesize_limit
    assert w.guild.upload_limit == limit
    sent = await general.send(file=discord.File(io.BytesIO(b"x" * 1000), filename="a.bin"))
    assert sent.attachments[0].size == 1000
    with pytest.raises(discord.HTTPException) as caught:
        await general.send(file=discord.File(io.BytesIO(b"x" * (limit + 1)), filename="big.bin"))
    assert caught.value.status == 413
    with pytest.raises(discord.HTTPException) as caught:
        await sent.edit(attachments=[discord.File(io.BytesIO(b"x" * (limit + 1)), "big.bin")])
    assert caught.value.status == 413
    assert len(d.messages_in(w.general)[-1].attachments) == 1  # unchanged


async def test_reactions_both_ways(env: Env) -> None:
    d, w = env.driver, env.world
    post = await d.post(w.general, w.alice, "Idea: dark mode")
    await d.react(post, w.bob, "👍")
    await env.bot.until(lambda: any(r.message_id == post.id for r in env.bot.raw_reactions))
    raw = next(r for r in env.bot.raw_reactions if r.message_id == post.id)
    assert (raw.user_id, str(raw.emoji)) == (w.bob.id, "👍")
    message = await env.channel(w.general.id).fetch_message(post.id)
    await message.add_reaction("⚠️")
    await d.wait_for_reaction(post, "⚠️")
    voters = [u.id async for u in message.reactions[0].users()]
    assert voters == [w.bob.id]
    await message.remove_reaction("👍", discord.Object(w.bob.id))
    assert post.reactions == {"⚠️": [d.world.bot.id]}


async def test_threads_and_forum_posts(env: Env) -> None:
    d, w = env.driver, env.world
    forum = env.guild.get_channel(w.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    tag = next(t for t in forum.available_tags if t.name == "bug")
    created = await forum.create_thread(
        name="Crash on save", content="Steps: ...", applied_tags=[tag]
    )
    thread = await d.wait_for_thread(w.forum)
    assert thread.id == created.thread.id == created.message.id
    assert thread.applied_tags == [tag.id]
    assert d.messages_in(thread)[0].content == "Steps: ..."
    post_thread, _ = await d.create_forum_post(
        w.forum, w.alice, "Export to CSV", "please", tags=["feature"]
    )
    await env.bot.until(lambda: any(t.id == post_thread.id for t in env.bot.threads))
    seen = next(t for t in env.bot.threads if t.id == post_thread.id)
    assert [t.name for t in seen.applied_tags] == ["feature"]
    starter = await env.channel(w.general.id).send("discuss here")
    discussion = await starter.create_thread(name="Discussion")
    assert (await d.wait_for_thread(w.general)).id == discussion.id == starter.id
    await discussion.send("first!")
    assert (await d.wait_for_message(d.world.channels[discussion.id])).content == "first!"
    await discussion.edit(archived=True)
    assert d.world.channels[discussion.id].archived


async def test_a_thread_is_renamed_by_its_owner_or_with_manage_threads(env: Env) -> None:
    d, w = env.driver, env.world
    thread, _ = await d.create_forum_post(w.forum, w.alice, "Dark mode", "please")
    await env.bot.until(lambda: any(t.id == thread.id for t in env.bot.threads))
    # Bob neither started the post nor has Manage Threads.
    with pytest.raises(ApiError) as refused:
        await d.rename_thread(thread, "Bob's title", by=w.bob)
    assert (refused.value.status, refused.value.code) == (403, 50013)
    for bad in ("", "x" * 101):  # a channel name is 1-100 characters
        with pytest.raises(ApiError) as invalid:
            await d.rename_thread(thread, bad)
        assert (invalid.value.status, invalid.value.code) == (400, 50035)
    assert thread.name == "Dark mode"
    renamed = asyncio.ensure_future(
        env.bot.wait_for("raw_thread_update", check=lambda p: p.thread_id == thread.id, timeout=5)
    )
    await d.rename_thread(thread, "Dark mode everywhere")  # by its owner
    assert (await renamed).data["name"] == "Dark mode everywhere"
    cached = env.guild.get_thread(thread.id)
    assert cached is not None and cached.name == "Dark mode everywhere"
    # The bot has Manage Threads: it may rename a post it did not start.
    await cached.edit(name="Dark mode, everywhere")
    assert thread.name == "Dark mode, everywhere"


async def test_native_poll(env: Env) -> None:
    d, w = env.driver, env.world
    poll = discord.Poll(question="Next feature?", duration=datetime.timedelta(hours=1))
    poll.add_answer(text="Dark mode")
    poll.add_answer(text="Export")
    sent = await env.channel(w.general.id).send(poll=poll)
    stored = await d.wait_for_message(w.general, predicate=lambda m: m.poll is not None)
    await d.vote(stored, w.alice, "Export")
    await d.vote(stored, w.bob, "Export")
    assert sent.poll is not None
    export = sent.poll.get_answer(2)
    assert export is not None
    assert sorted([u.id async for u in export.voters()]) == sorted([w.alice.id, w.bob.id])
    await sent.end_poll()
    assert stored.poll is not None and stored.poll.finalized


async def test_unimplemented_route_is_recorded(env: Env) -> None:
    unhandled = env.driver.sandbox.unhandled_routes
    with pytest.raises(discord.NotFound) as caught:
        [m async for m in env.channel(env.world.general.id).pins()]
    assert caught.value.code == 0
    assert [c.path for c in unhandled] == [f"/channels/{env.world.general.id}/messages/pins"]
    unhandled.clear()  # expected here; the fixture asserts none other happened


async def test_injected_outage_answers_5xx_then_the_route_works_again(env: Env) -> None:
    faults = env.driver.sandbox.faults
    outage = faults.fail("GET", "/channels/{channel_id}/messages", 503, times=1)
    channel = env.channel(env.world.general.id)
    try:
        with pytest.raises(discord.DiscordServerError) as caught:
            [m async for m in channel.history(limit=1)]
        assert caught.value.status == 503
        assert outage.hits == 1
        [m async for m in channel.history(limit=1)]  # the outage is over: no error
        assert outage.hits == 1
        assert [c.status for c in env.driver.sandbox.calls[-2:]] == [503, 200]
    finally:
        faults.clear()


async def test_injected_hold_keeps_a_request_waiting_until_released(env: Env) -> None:
    d = env.driver
    slow = d.sandbox.faults.hold("POST", "/channels/{channel_id}/messages")
    try:
        sending = asyncio.ensure_future(env.channel(env.world.general.id).send("held"))
        await d.world.wait_until(lambda: slow.hits, 5, lambda: "the request never arrived")
        assert not sending.done()
        assert "held" not in [m.content for m in d.messages_in(env.world.general)]
        slow.release()
        sent = await asyncio.wait_for(sending, 5)
        assert sent.content == "held"
    finally:
        d.sandbox.faults.clear()


async def test_burst_of_sends_meets_429s_and_all_arrive_in_order() -> None:
    limits = RateLimits(messages=RateLimitRule(5, 0.5, advertised=False))
    async with Driver(Sandbox(rate_limits=limits)) as d:
        w = build_world(d)
        bot = SandboxBot()
        await d.start_bot(bot)
        channel = bot.get_channel(w.general.id)
        assert isinstance(channel, discord.TextChannel)
        for i in range(12):
            await channel.send(f"update {i}")
        assert [m.content for m in d.messages_in(w.general)] == [f"update {i}" for i in range(12)]
        limited = [c for c in d.sandbox.calls if c.status == 429]
        assert len(limited) >= 1
        assert {c.route for c in limited} == {"/channels/{channel_id}/messages"}
        assert d.sandbox.unhandled_routes == []


async def test_advertised_bucket_is_paced_by_discord_py_without_429s() -> None:
    limits = RateLimits(reactions=RateLimitRule(1, 0.05))
    async with Driver(Sandbox(rate_limits=limits)) as d:
        w = build_world(d)
        bot = SandboxBot()
        await d.start_bot(bot)
        post = await d.post(w.general, w.alice, "react to me")
        channel = bot.get_channel(w.general.id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.fetch_message(post.id)
        for emoji in ("1️⃣", "2️⃣", "3️⃣", "4️⃣"):
            await message.add_reaction(emoji)
        assert list(post.reactions) == ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
        assert not [c for c in d.sandbox.calls if c.status == 429]


async def test_late_interaction_response_gets_10062() -> None:
    async with Driver(Sandbox(ack_deadline=0.0)) as d:
        w = build_world(d)
        bot = SandboxBot()
        errors: asyncio.Queue[discord.HTTPException] = asyncio.Queue()

        @bot.tree.command(name="slow", description="Answers too late")
        async def slow(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_message("finally")
            except discord.HTTPException as exc:
                errors.put_nowait(exc)

        await d.start_bot(bot)
        await bot.tree.sync()
        await d.slash(w.alice, "slow")
        error = await asyncio.wait_for(errors.get(), 5)
        assert (error.status, error.code) == (404, 10062)
        assert d.sandbox.unhandled_routes == []
