"""Helpers for the sandbox e2e tests: a plain discord.py bot and a small world."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import discord
from discord.ext import commands

from bot.sandbox import Driver, Guild, Member, P, Role
from bot.sandbox.state import Channel


class SandboxBot(commands.Bot):
    """A plain ``commands.Bot`` that records what it receives."""

    def __init__(self, *, message_content: bool = False, members: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        intents.members = members
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
        self.received: list[discord.Message] = []
        self.threads: list[discord.Thread] = []
        self.raw_reactions: list[discord.RawReactionActionEvent] = []
        self.errors: list[discord.HTTPException] = []  # what handlers caught
        self._watchers: list[tuple[Callable[[], bool], asyncio.Event]] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py waits 5 s before every re-IDENTIFY to respect Discord's limits; the
        # sandbox has none, and the tests stay fast.
        return None

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        super().dispatch(event_name, *args, **kwargs)
        self._poke()  # the cache changed before the event was dispatched

    async def on_message(self, message: discord.Message) -> None:
        self.received.append(message)
        self._poke()

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.append(thread)
        self._poke()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.raw_reactions.append(payload)
        self._poke()

    def _poke(self) -> None:
        for check, event in self._watchers:
            if check():
                event.set()

    async def until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (bounded) until ``check()`` holds after the bot received something."""
        if check():
            return
        event = asyncio.Event()
        self._watchers.append((check, event))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"bot state not reached; received: {self.contents()}") from None
        finally:
            self._watchers.remove((check, event))

    def contents(self) -> list[str]:
        return [m.content for m in self.received]


@dataclass
class World:
    """The community most tests use."""

    guild: Guild
    general: Channel
    staff: Channel
    forum: Channel
    helper: Role
    admin: Role
    alice: Member
    bob: Member
    extra: dict[str, Any] = field(default_factory=dict)


def build_world(driver: Driver) -> World:
    """A guild with #general, a private #staff, an #ideas forum, two roles and two members
    (Bob has DMs closed)."""
    guild = driver.add_guild("Makers")
    general = driver.add_text_channel(guild, "general")
    staff = driver.add_text_channel(guild, "staff")
    forum = driver.add_forum(guild, "ideas", tags=["feature", "bug"])
    helper = driver.add_role(guild, "Helper")
    admin = driver.add_role(guild, "Admin", permissions=P.ADMINISTRATOR, above_bot=True)
    driver.set_overwrite(staff, guild.everyone, deny=P.VIEW_CHANNEL)
    driver.set_overwrite(staff, admin, allow=P.VIEW_CHANNEL)
    driver.set_overwrite(staff, driver.bot_role(guild), allow=P.VIEW_CHANNEL)
    alice = driver.add_member(guild, "Alice")
    bob = driver.add_member(guild, "Bob", dms_closed=True)
    return World(guild, general, staff, forum, helper, admin, alice, bob)
