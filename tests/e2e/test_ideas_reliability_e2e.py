"""Discord shows the store's truth, and the spam guard holds, end to end: an edit that
arrives while the card is being posted, cards left stale by a restart, a channel watched
moments before the bot went down, and bursts of tagged messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from conftest import Env
from helpers import embed_text
from ideas_helpers import (
    card,
    dms_to,
    fresh_member,
    handlers_done,
    idea,
    idea_count,
    publish,
    running_cocreate,
    settle_cards,
)

from bot import faults
from bot.app import create_bot
from bot.sandbox import RateLimitRule, RateLimits

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

# Discord's windows, shortened so bursts take seconds: the bot still meets real 429s.
FAST = RateLimits(
    messages=RateLimitRule(10, 0.2, advertised=False),
    dms=RateLimitRule(5, 0.2, advertised=False),
    reactions=RateLimitRule(5, 0.05),
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("ideas-reliability") / "cocreate.db"
    async with running_cocreate(db_path, limits=FAST) as env:
        yield env


async def test_an_edit_while_the_card_is_posted_reaches_the_card(env: Env) -> None:
    """The member fixes a typo while the card is being posted, before its id is recorded."""
    c, d = env.community, env.driver
    member = await fresh_member(env, "Typo")
    edited = asyncio.Event()

    async def edit_now(point: str) -> None:
        if point == "ideas.after-card-post" and not edited.is_set():
            edited.set()
            await d.edit(posted, "[idea] Dark mode")
            await env.bot.wait_for(
                "raw_message_edit", check=lambda p: p.message_id == posted.id, timeout=5
            )
            await handlers_done(env)  # the store now holds the fixed title

    faults.hook = edit_now
    try:
        posted = await d.post(c.general, member, "[idea] Dark mdoe")
        reply = await d.wait_for_message(c.general, contains="Captured as idea")
        await handlers_done(env)  # the card is recorded right after the reply
    finally:
        faults.hook = None
    assert edited.is_set()
    found = await env.bot.services.ideas.by_source(c.guild.id, posted.id)
    assert found is not None and found.title == "Dark mode"
    assert reply.reference_id == posted.id
    shown = card(env, found)
    if "Dark mode" not in embed_text(shown):
        await d.wait_for_edit(shown, predicate=lambda m: "Dark mode" in embed_text(m))
    await handlers_done(env)
    assert "Dark mdoe" not in embed_text(card(env, await idea(env, found.number)))


async def test_a_burst_from_one_member_stores_one_idea_and_sends_one_dm(env: Env) -> None:
    c, d = env.community, env.driver
    member = await fresh_member(env, "Burst")
    before = await idea_count(env)
    posted = await asyncio.gather(
        *(d.post(c.general, member, f"[idea] Burst idea number {n}") for n in range(100))
    )
    await d.wait_for_message(c.ideas, predicate=lambda m: bool(m.embeds), timeout=10)

    def warned() -> int:
        return sum(
            member_id == d.world.bot.id
            for m in posted
            for member_id in d.world.messages[m.id].reactions.get("⚠️", [])
        )

    await d.world.wait_until(lambda: warned() == 99, 30, lambda: f"{warned()} of 99 warned")
    await handlers_done(env)
    assert await idea_count(env) == before + 1
    assert warned() == 99
    told = dms_to(env, member)
    assert len(told) == 1 and "share another" in told[0].content


async def test_a_burst_from_many_members_stores_every_idea(env: Env) -> None:
    c, d = env.community, env.driver
    members = [await fresh_member(env, "Crowd") for _ in range(20)]
    before = await idea_count(env)
    await asyncio.gather(
        *(
            d.post(c.general, m, f"[idea] Crowd idea {n} about {m.id}")
            for n, m in enumerate(members)
        )
    )

    async def all_stored() -> None:
        while await idea_count(env) < before + 20:
            await env.bot.wait_for("message", timeout=10)

    await asyncio.wait_for(all_stored(), 30)
    await d.world.wait_until(
        lambda: (
            sum(bool(m.embeds) and m.channel_id == c.ideas.id for m in d.world.messages.values())
            >= before + 20
        ),
        30,
        lambda: "cards of the crowd",
    )
    await handlers_done(env)
    assert await idea_count(env) == before + 20


async def test_a_burst_is_acknowledged_in_few_messages_each_idea_once(env: Env) -> None:
    """Cards are paced under the hidden per-channel limit (no 429s), and the members'
    channel gets a few acknowledgements listing the ideas, not a reply per idea; a retry
    of a publication finds its idea in such a list and posts nothing more."""
    c, d = env.community, env.driver
    members = [await fresh_member(env, "Herd") for _ in range(15)]
    calls_before = len(d.sandbox.calls)
    bot_id = d.world.bot.id
    general_before = {m.id for m in d.messages_in(c.general)}
    sources = await asyncio.gather(
        *(d.post(c.general, m, f"[idea] Herd idea {n} from {m.id}") for n, m in enumerate(members))
    )
    stored = []
    for source in sources:
        await d.world.wait_until(
            lambda s=source: bool(_acknowledgements_of(env, s, general_before)),
            30,
            lambda: "acknowledgements of the herd",
        )
        await handlers_done(env)
        found = await env.bot.services.ideas.by_source(c.guild.id, source.id)
        assert found is not None and found.card_message_id is not None
        stored.append(found)
    for source in sources:
        assert len(_acknowledgements_of(env, source, general_before)) == 1
    acks = [
        m for m in d.messages_in(c.general) if m.id not in general_before and m.author.id == bot_id
    ]
    assert len(acks) < len(sources)  # coalesced
    listed = [m for m in acks if m.reference_id is None]
    assert listed and all("Herd idea" in m.content and m.mention_ids == [] for m in listed)
    # No 429 on a message route: the bot paced itself under the hidden limit.
    refused = [
        str(call)
        for call in d.sandbox.calls[calls_before:]
        if call.status == 429 and call.route.startswith("/channels/{channel_id}/messages")
    ]
    assert refused == []
    # A retry (as after a crash) of an idea listed in a coalesced acknowledgement finds it.
    in_list = next(i for i in stored if any(f"**#{i.number}**" in m.content for m in listed))
    publisher = env.bot.get_cog("Ideas").publisher  # type: ignore[union-attr]
    count = len(d.messages_in(c.general))
    await publisher._reply_to_source(in_list, [], look_first=True)
    assert len(d.messages_in(c.general)) == count


def _acknowledgements_of(env: Env, source: Any, before: set[int]) -> list[Any]:
    """The bot's messages in the source's channel that acknowledge it: a reply to it, or
    a list naming its idea."""
    d = env.driver
    where = d.world.channels[source.channel_id]
    found = []
    for m in d.messages_in(where):
        if m.id in before or m.author.id != d.world.bot.id:
            continue
        listed = m.reference_id is None and f"from {source.author.id}" in m.content
        if m.reference_id == source.id or listed:
            found.append(m)
    return found


async def test_vote_buttons_toggle_in_one_unit(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Toggle twice quickly")
    shown = card(env, found)
    custom_id = f"idea:vote:{found.number}:up"
    first, second = await asyncio.gather(
        d.click(c.carol, shown, custom_id), d.click(c.carol, shown, custom_id)
    )
    await first.followup()
    await second.followup()
    assert (await idea(env, found.number)).support == 0  # on, then off


# -- restarts (last: they replace the bot) ---------------------------------------------------------
async def test_cards_left_stale_are_corrected_at_start(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Counted while nobody edits")
    ideas = env.bot.services.ideas
    # Votes stored, but the card edit that would follow never happens (as after a crash).
    for member in (c.bob, c.carol, c.dave):
        await ideas.vote(c.guild.id, found.number, member.id, 1)
    assert "👍 0" in embed_text(card(env, found))
    settings = env.bot.settings
    await d.stop_bot()
    env.bot = create_bot(settings)
    await d.start_bot(env.bot)
    await d.wait_for_edit(card(env, found), predicate=lambda m: "👍 3" in embed_text(m), timeout=10)
    await settle_cards(env)
    assert await env.bot.services.ideas.stale_cards(c.guild.id) == []


async def test_a_channel_watched_just_before_downtime_is_caught_up(env: Env) -> None:
    c, d = env.community, env.driver
    fresh = d.add_text_channel(c.guild, "feedback")
    ideas_cog: Any = env.bot.get_cog("Ideas")
    await ideas_cog.flush_cursors()
    await env.bot.services.guild_settings.set_values(
        c.guild.id, {"watched_channels": [c.general.id, fresh.id]}, c.mod.id
    )
    authors = [await fresh_member(env, "Late") for _ in range(3)]
    settings = env.bot.settings
    await d.stop_bot()
    missed = []
    for n, who in enumerate(authors):
        missed.append(await d.post(fresh, who, f"[idea] Posted while down number {n}"))
    env.bot = create_bot(settings)
    await d.start_bot(env.bot)
    for _ in missed:
        await d.wait_for_message(fresh, contains="Captured as idea", timeout=10)
    await handlers_done(env)
    for message in missed:
        assert await env.bot.services.ideas.by_source(c.guild.id, message.id) is not None
