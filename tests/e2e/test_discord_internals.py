"""Cocreate's message fast path against the real discord.py and real gateway payloads.

``CocreateBot.dispatch`` handles the ``message`` event itself (no task per message, no
command context) and must still do what discord.py's own dispatch does: resolve
``wait_for("message")`` and run listeners added with ``add_listener`` or ``Cog.listener``.
It reads two undocumented attributes (``Client._listeners``, ``BotBase.extra_events``);
pyproject.toml pins discord.py's minor version, and an upgrade that changes them fails
here instead of in production.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from conftest import Env
from discord.ext import commands

from bot.client import CocreateBot

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


class _Spy(commands.Cog):
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.event = asyncio.Event()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message.id)
        self.event.set()


def _scheduled(bot: CocreateBot, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the event tasks the bot schedules from now on."""
    names: list[str] = []
    original = bot._schedule_event

    def spy(coro: Any, event_name: str, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        names.append(event_name)
        return original(coro, event_name, *args, **kwargs)

    monkeypatch.setattr(bot, "_schedule_event", spy)
    return names


async def test_a_message_no_feature_routes_schedules_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d, bot = env.community, env.driver, env.bot
    # As after the guild's first message since start: its settings are cached.
    await bot.services.guild_settings.get(c.guild.id)
    scheduled = _scheduled(bot, monkeypatch)
    posted = await d.post(c.help, c.bob, "just chatting in an unwatched channel")
    untagged = await d.post(c.general, c.bob, "just chatting where ideas are watched")
    # wait_for still resolves, through the fast path, with the parsed message.
    got = await bot.wait_for("message", check=lambda m: m.id == untagged.id, timeout=5)
    assert isinstance(got, discord.Message) and got.content == untagged.content
    assert got.channel.id == c.general.id and got.author.id == c.bob.id
    assert posted.id < untagged.id
    assert scheduled == []  # no on_message task, no command context, no route handler


async def test_wait_for_checks_and_listeners_still_work(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d, bot = env.community, env.driver, env.bot
    spy = _Spy()
    await bot.add_cog(spy)
    added: list[int] = []

    async def listener(message: discord.Message) -> None:
        added.append(message.id)

    bot.add_listener(listener, "on_message")
    try:
        rejected = asyncio.ensure_future(
            bot.wait_for("message", check=lambda m: m.content == "never", timeout=5)
        )
        failing = asyncio.ensure_future(bot.wait_for("message", check=lambda m: 1 / 0, timeout=5))
        accepted = asyncio.ensure_future(
            bot.wait_for("message", check=lambda m: m.content == "hello there", timeout=5)
        )
        await asyncio.sleep(0)
        posted = await d.post(c.help, c.alice, "hello there")
        assert (await accepted).id == posted.id
        with pytest.raises(ZeroDivisionError):
            await failing  # a check that raises fails its waiter, as in discord.py
        await asyncio.wait_for(spy.event.wait(), 5)
        assert spy.seen == [posted.id]
        await env.driver.world.wait_until(lambda: added == [posted.id], 5, lambda: str(added))
        assert not rejected.done()  # still waiting: only the accepted and failed were removed
        assert len(bot._listeners.get("message", [])) == 1
        rejected.cancel()
    finally:
        bot.remove_listener(listener, "on_message")
        await bot.remove_cog(spy.qualified_name)


async def test_a_routed_message_runs_its_handler_in_a_named_task(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d, bot = env.community, env.driver, env.bot
    scheduled = _scheduled(bot, monkeypatch)
    ran = asyncio.Event()
    names: list[str] = []

    async def handler(message: discord.Message) -> None:
        task = asyncio.current_task()
        assert task is not None
        names.append(task.get_name())
        ran.set()

    def route(message: discord.Message) -> Any:
        return handler if message.content == "route me" else None

    bot.add_message_route(route)
    try:
        await d.post(c.help, c.alice, "route me")
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        bot.remove_message_route(route)
    assert scheduled == ["on_message"]
    assert names == ["discord.py: on_message"]  # close() waits for it like any handler
