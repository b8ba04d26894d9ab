"""Shared pieces of the Ideas e2e modules: a bot with a movable clock, fresh members, and
short reads of what the bot stored."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import Env
from helpers import discord_handlers_done

from bot.app import create_bot, create_services
from bot.demo.community import Community, configure, sandbox_settings, seed_community
from bot.domain.idea_model import Idea, IdeaDraft
from bot.sandbox import Driver, Member, Message, RateLimitRule, RateLimits, Sandbox
from bot.services.ideas import PUBLISH_CARD, card_key
from bot.settings import Settings, load_settings


class Clock:
    """Real time plus an offset the test moves forward (the bot's only idea of "now")."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def ideas_settings(driver: Driver, db_path: Path, **discord: Any) -> Settings:
    settings = sandbox_settings(load_settings(environ={}), driver, db_path)
    if discord:
        settings = settings.replace_section("discord", **discord)
    return settings


@contextlib.asynccontextmanager
async def running_cocreate(
    db_path: Path,
    *,
    clock: Clock | None = None,
    before_start: Callable[[Driver, Community], None] | None = None,
    limits: RateLimits | None = None,
    **discord: Any,
) -> AsyncIterator[Env]:
    """The seeded community with a configured Cocreate (optionally on ``clock``).

    Discord allows 5 messages (sends and edits) per 5 s in a channel; every card lands in
    #ideas, so the window is shortened to 1 s: the bot still meets real 429s, faster.
    """
    limits = limits or RateLimits(
        messages=RateLimitRule(5, 1.0, advertised=False),
        dms=RateLimitRule(5, 1.0, advertised=False),
    )
    async with Driver(Sandbox(rate_limits=limits)) as driver:
        community = seed_community(driver)
        if before_start is not None:
            before_start(driver, community)
        settings = ideas_settings(driver, db_path, **discord)
        bot = create_bot(settings, create_services(settings, clock=clock))
        await driver.start_bot(bot)
        await configure(bot, community)
        yield Env(driver, bot, community, db_path)
        assert driver.sandbox.unhandled_routes == [], driver.sandbox.unhandled_routes


_names = iter(range(1, 10_000))


async def fresh_member(env: Env, name: str = "Member", *, dms_closed: bool = False) -> Member:
    """A new member (so the 2-minute submission cooldown of earlier tests never applies),
    returned once the bot has seen them join."""
    label = f"{name} {next(_names)}"
    joined = asyncio.ensure_future(
        env.bot.wait_for("member_join", check=lambda m: m.global_name == label, timeout=5)
    )
    member = await env.driver.join(env.community.guild, label)
    env.driver.set_dms_closed(member, dms_closed)
    await joined
    return member


async def publish(
    env: Env,
    author: Member,
    title: str,
    body: str = "",
    *,
    kind: str = "idea",
    tags: tuple[str, ...] = (),
    contributors: tuple[int, ...] = (),
) -> Idea:
    """An idea set up for a test (not the thing under test): stored and its card posted
    the way every capture path does, without the cooldown. Marks everything so far as seen,
    so the set-up card never satisfies a later ``wait_for_message``."""
    services = env.bot.services
    draft = IdeaDraft(
        guild_id=env.community.guild.id,
        author_id=author.id,
        title=title,
        body=body,
        kind=kind,
        tags=tags,
        contributors=contributors,
    )
    submission = await services.ideas.submit(draft, check_rate=False)
    assert await services.timers.run_now(PUBLISH_CARD, card_key(submission.idea.id))
    idea = await services.ideas.get(submission.idea.guild_id, submission.idea.number)
    assert idea.card_message_id, "the card was not posted"
    env.driver.mark_seen()
    return idea


async def idea(env: Env, number: int) -> Idea:
    return await env.bot.services.ideas.get(env.community.guild.id, number)


async def idea_count(env: Env) -> int:
    return int(
        await env.bot.services.db.fetchval(
            "SELECT count(*) FROM ideas WHERE guild_id = ?", (env.community.guild.id,)
        )
    )


async def votes(env: Env, number: int) -> dict[int, int]:
    rows = await env.bot.services.db.fetchall(
        "SELECT v.member_id, v.value FROM idea_votes v JOIN ideas i ON i.id = v.idea_id "
        "WHERE i.guild_id = ? AND i.number = ?",
        (env.community.guild.id, number),
    )
    return {int(r[0]): int(r[1]) for r in rows}


async def followers(env: Env, number: int) -> set[int]:
    found = await idea(env, number)
    return set(await env.bot.services.ideas.followers(found.id))


def card(env: Env, found: Idea) -> Message:
    assert found.card_message_id
    return env.driver.world.messages[found.card_message_id]


async def settle_cards(env: Env) -> None:
    """Wait (bounded) for every pending card refresh to be sent."""
    cog: Any = env.bot.get_cog("Ideas")
    pending = list(cog.publisher._refresh.values())
    if pending:
        await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 10)


def dms_to(env: Env, member: Member) -> list[Message]:
    """Every DM the bot sent to ``member`` so far."""
    world = env.driver.world
    return [
        m
        for m in world.messages.values()
        if m.author.id == world.bot.id
        and not m.deleted
        and (channel := world.channels.get(m.channel_id)) is not None
        and channel.recipient_id == member.id
    ]


def patches_of(env: Env, message_id: int) -> int:
    """How many times the bot edited ``message_id`` through the channel messages route."""
    return sum(
        1
        for call in env.driver.sandbox.calls
        if call.method == "PATCH"
        and call.route == "/channels/{channel_id}/messages/{message_id}"
        and call.path.endswith(f"/{message_id}")
    )


async def handlers_done(env: Env, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait (bounded) for the event handlers discord.py is running right now to finish:
    what the bot does after its last visible action (storing a card's id) is then done."""
    await discord_handlers_done(timeout)
