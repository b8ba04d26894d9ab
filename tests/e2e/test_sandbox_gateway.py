"""Gateway behaviour through the sandbox: connect, intents, RESUME, RECONNECT, INVALID_SESSION,
compression — each test with its own plain discord.py bot."""

from __future__ import annotations

import math
import zlib
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from conftest_sandbox_helpers import SandboxBot, World, build_world

from bot.sandbox import Driver, Sandbox

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def driver() -> AsyncIterator[Driver]:
    async with Driver(Sandbox()) as d:
        yield d
        assert d.sandbox.unhandled_routes == []


@pytest.fixture
def world(driver: Driver) -> World:
    return build_world(driver)


async def test_connect_ready_and_guild_cached(driver: Driver, world: World) -> None:
    thread = await driver.add_thread(world.general, "Roadmap")
    bot = SandboxBot()
    await driver.start_bot(bot)
    assert bot.is_ready() and driver.identifies == 1
    assert bot.user is not None and bot.user.id == driver.world.bot.id
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Makers"
    assert {c.name for c in guild.channels} == {"general", "staff", "ideas"}
    forum = guild.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    assert [t.name for t in forum.available_tags] == ["feature", "bug"]
    assert guild.get_thread(thread.id) is not None
    assert {m.name for m in guild.members} >= {"alice", "bob"}
    assert guild.chunked  # every member arrived in GUILD_CREATE
    staff = guild.get_channel(world.staff.id)
    assert isinstance(staff, discord.TextChannel)
    assert not staff.permissions_for(guild.get_member(world.alice.id)).view_channel  # type: ignore[arg-type]
    me = guild.me
    assert me.top_role.position > guild.get_role(world.helper.id).position  # type: ignore[union-attr]
    # discord.py asked for zstd-stream (zstandard comes with discord.py[speed]; zlib-stream
    # without it) and decoded every payload; its first heartbeat was ACKed.
    assert driver.sandbox.gateway.compression == [
        discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    ]
    assert driver.sandbox.gateway.compression == ["zstd-stream"]
    assert math.isfinite(bot.latency)


async def test_message_content_intent_is_honoured(driver: Driver, world: World) -> None:
    bot = SandboxBot(message_content=False)
    await driver.start_bot(bot)
    assert bot.user is not None
    plain = await driver.post(world.general, world.alice, "just chatting")
    mention = await driver.post(world.general, world.alice, f"<@{bot.user.id}> what do you think?")
    dm = await driver.send_dm(world.alice, "a private idea")
    channel = bot.get_channel(world.general.id)
    assert isinstance(channel, discord.TextChannel)
    own = await channel.send("from the bot")
    await bot.until(lambda: len(bot.received) == 4)
    by_id = {m.id: m for m in bot.received}
    assert by_id[plain.id].content == ""
    assert by_id[mention.id].content.endswith("what do you think?")
    assert by_id[dm.id].content == "a private idea"
    assert by_id[own.id].content == "from the bot"
    # REST reads are redacted the same way.
    fetched = await channel.fetch_message(plain.id)
    assert fetched.content == ""
    history = [m.content async for m in channel.history(limit=10)]
    assert history == ["from the bot", mention.content, ""]


class _Inflate:
    """discord.py's decompression protocol for zlib-stream (what it uses without zstandard):
    bytes are buffered until a frame ends with the Z_SYNC_FLUSH marker."""

    COMPRESSION_TYPE = "zlib-stream"

    def __init__(self) -> None:
        self.inflater = zlib.decompressobj()
        self.buffer = bytearray()

    def decompress(self, data: bytes, /) -> str | None:
        self.buffer.extend(data)
        if len(data) < 4 or data[-4:] != b"\x00\x00\xff\xff":
            return None
        text = self.inflater.decompress(self.buffer).decode()
        self.buffer = bytearray()
        return text


async def test_zlib_stream_still_works(
    driver: Driver, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A discord.py without zstandard asks for zlib-stream: the sandbox serves both."""
    monkeypatch.setattr(discord.utils, "_ActiveDecompressionContext", _Inflate)
    bot = SandboxBot(message_content=True)
    await driver.start_bot(bot)
    await driver.post(world.general, world.alice, "inflated")
    await bot.until(lambda: len(bot.received) == 1)
    assert bot.received[0].content == "inflated"
    assert driver.sandbox.gateway.compression == ["zlib-stream"]


async def test_a_large_guild_arrives_with_the_bot_only(driver: Driver, world: World) -> None:
    """Above the client's large_threshold (discord.py: 250) GUILD_CREATE carries only the
    bot's own member, as on Discord: members are not cached unless the bot asks."""
    for n in range(260):
        driver.add_member(world.guild, f"member{n}")
    bot = SandboxBot(members=True)
    bot._connection._chunk_guilds = False  # as Cocreate: chunk_guilds_at_startup=False
    await driver.start_bot(bot)
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.large and guild.member_count > 260
    assert [m.id for m in guild.members] == [driver.world.bot.id]
    assert not guild.chunked


async def test_members_intent_gates_member_events(driver: Driver, world: World) -> None:
    bot = SandboxBot(members=False)
    await driver.start_bot(bot)
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    assert guild.get_member(world.alice.id) is None  # only the bot itself without the intent
    await driver.join(world.guild, "Carol")
    await driver.post(world.general, world.alice, "after carol joined")
    await bot.until(lambda: len(bot.received) == 1)
    assert guild.get_member(driver.world.guilds[world.guild.id].member("Carol").id) is None


async def test_member_join_and_leave_reach_the_bot(driver: Driver, world: World) -> None:
    bot = SandboxBot(members=True)
    await driver.start_bot(bot)
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    carol = await driver.join(world.guild, "Carol")
    await bot.until(lambda: guild.get_member(carol.id) is not None)
    await driver.leave(carol)
    await bot.until(lambda: guild.get_member(carol.id) is None)
    assert "Makers  Carol joined" in driver.transcript()


async def test_forced_disconnect_resumes_and_replays_missed_events_once(
    driver: Driver, world: World
) -> None:
    bot = SandboxBot(message_content=True)
    await driver.start_bot(bot)
    await driver.post(world.general, world.alice, "before")
    await bot.until(lambda: bot.contents() == ["before"])
    async with driver.bot_offline(resume=True):
        for text in ("missed 1", "missed 2", "missed 3"):
            await driver.post(world.general, world.bob, text)
        assert bot.contents() == ["before"]
    await driver.post(world.general, world.alice, "after")
    await bot.until(lambda: "after" in bot.contents())
    assert bot.contents() == ["before", "missed 1", "missed 2", "missed 3", "after"]
    assert (driver.identifies, driver.resumes) == (1, 1)


async def test_reconnect_opcode_resumes(driver: Driver, world: World) -> None:
    bot = SandboxBot(message_content=True)
    await driver.start_bot(bot)
    await driver.send_reconnect()
    await driver.post(world.general, world.alice, "still here")
    await bot.until(lambda: bot.contents() == ["still here"])
    assert (driver.identifies, driver.resumes) == (1, 1)


async def test_invalid_session_makes_the_bot_identify_again(driver: Driver, world: World) -> None:
    bot = SandboxBot(message_content=True)
    await driver.start_bot(bot)
    await driver.invalidate_session()
    assert (driver.identifies, driver.resumes) == (2, 0)
    await driver.post(world.general, world.alice, "hello again")
    await bot.until(lambda: bot.contents() == ["hello again"])


async def test_dead_session_on_disconnect_falls_back_to_identify(
    driver: Driver, world: World
) -> None:
    bot = SandboxBot(message_content=True)
    await driver.start_bot(bot)
    async with driver.bot_offline(resume=False):
        await driver.post(world.general, world.alice, "lost with the session")
    assert (driver.identifies, driver.resumes) == (2, 0)
    await driver.post(world.general, world.alice, "new session")
    await bot.until(lambda: "new session" in bot.contents())
    assert "lost with the session" not in bot.contents()


async def test_disallowed_privileged_intent_closes_with_4014() -> None:
    async with Driver(Sandbox(allowed_privileged_intents=0)) as d:
        build_world(d)
        with pytest.raises(AssertionError, match="PrivilegedIntentsRequired"):
            await d.start_bot(SandboxBot(message_content=True))
        await d.stop_bot()
