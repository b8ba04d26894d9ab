"""Ideas end to end: voting on cards, and status changes told to everyone concerned
(author DM, one thread message, follower DMs batched per hour, #shipped)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import (
    Clock,
    card,
    dms_to,
    followers,
    fresh_member,
    idea,
    patches_of,
    publish,
    running_cocreate,
    settle_cards,
    votes,
)

from bot.domain.ideas import IdeaStatus
from bot.sandbox import Message

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLOCK = Clock()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("ideas-votes") / "cocreate.db"
    async with running_cocreate(db_path, clock=CLOCK) as env:
        yield env


def _vote_id(number: int, up: bool = True) -> str:
    return f"idea:vote:{number}:{'up' if up else 'down'}"


async def _click_vote(env: Env, member: Any, message: Message, custom_id: str) -> str:
    answer = await reply_of(await env.driver.click(member, message, custom_id))
    assert answer.ephemeral
    return answer.content


async def _events(env: Env, kind: str, subject_id: int) -> int:
    return int(
        await env.bot.services.db.fetchval(
            "SELECT count(*) FROM outbox WHERE kind = ? AND subject_id = ?", (kind, subject_id)
        )
    )


async def _thread_messages(env: Env, thread_id: int | None) -> list[Message]:
    assert thread_id is not None
    thread = env.driver.world.channels[thread_id]
    return [m for m in env.driver.messages_in(thread) if m.author.id == env.driver.world.bot.id]


# -- voting -------------------------------------------------------------------------------------
async def test_support_retract_change_and_no_self_vote(env: Env) -> None:
    c, d = env.community, env.driver
    on = await reply_of(
        await d.slash(c.mod, "config set", channel=c.general, key="ideas_oppose_votes", value="on")
    )
    assert on.ephemeral
    try:
        found = await publish(env, c.alice, "Nested comments on cards")
        message = card(env, found)
        assert message.button(_vote_id(found.number, up=False)) is not None
        n = found.number

        assert "You support" in await _click_vote(env, c.bob, message, _vote_id(n))
        assert await votes(env, n) == {c.bob.id: 1}
        assert c.bob.id in await followers(env, n)  # voters follow by default

        assert "removed" in await _click_vote(env, c.bob, message, _vote_id(n))  # again: retract
        assert await votes(env, n) == {}

        await _click_vote(env, c.bob, message, _vote_id(n))
        assert "oppose" in await _click_vote(env, c.bob, message, _vote_id(n, up=False))
        assert await votes(env, n) == {c.bob.id: -1}
        assert ((await idea(env, n)).support, (await idea(env, n)).oppose) == (0, 1)

        cast = await _events(env, "idea.vote_cast", found.id)
        refused = await _click_vote(env, c.alice, message, _vote_id(n))
        assert "can't vote for your own idea" in refused
        assert await votes(env, n) == {c.bob.id: -1}
        assert await _events(env, "idea.vote_cast", found.id) == cast

        edited = await d.wait_for_edit(
            message, predicate=lambda m: "👍 0 · 👎 1" in embed_text(m), timeout=5
        )
        assert edited.button(_vote_id(n))["label"] == "Support · 0"
        assert edited.button(_vote_id(n, up=False))["label"] == "Oppose · 1"
    finally:
        await env.bot.services.guild_settings.reset(c.guild.id, "ideas_oppose_votes", c.mod.id)


async def test_votes_within_a_second_become_one_card_edit(env: Env) -> None:
    """Within ``card_edit_interval`` (1 s by default; the tests' settings shorten it)."""
    c, d = env.community, env.driver
    publisher: Any = env.bot.get_cog("Ideas").publisher  # type: ignore[union-attr]
    found = await publish(env, c.alice, "Saved searches for the board list")
    await settle_cards(env)
    message = card(env, found)
    voters = [await fresh_member(env, "Voter") for _ in range(4)]
    before = patches_of(env, message.id)
    shortened, publisher.card_refresh_delay = publisher.card_refresh_delay, 1.0
    try:
        results = await asyncio.gather(
            *(d.click(v, message, _vote_id(found.number)) for v in voters)
        )
        for result in results:
            assert "You support" in (await reply_of(result)).content
        await d.wait_for_edit(message, predicate=lambda m: "👍 4" in embed_text(m))
        await settle_cards(env)
    finally:
        publisher.card_refresh_delay = shortened
    assert patches_of(env, message.id) - before == 1
    assert set(await votes(env, found.number)) == {v.id for v in voters}
    assert (await followers(env, found.number)) >= {v.id for v in voters}


async def test_thumbs_up_reactions_count_as_support_when_enabled(env: Env) -> None:
    c, d = env.community, env.driver
    await env.bot.services.guild_settings.set_values(
        c.guild.id, {"ideas_reaction_votes": True}, c.mod.id
    )
    try:
        found = await publish(env, c.alice, "Reaction voting on cards")
        message = card(env, found)
        await d.react(message, c.carol, "👍")
        await d.react(message, c.alice, "👍")  # the author's own: not counted
        await d.wait_for_edit(message, predicate=lambda m: "👍 1" in embed_text(m))
        assert await votes(env, found.number) == {c.carol.id: 1}
        await d.unreact(message, c.carol, "👍")
        await d.wait_for_edit(message, predicate=lambda m: "👍 0" in embed_text(m))
        assert await votes(env, found.number) == {}
    finally:
        await env.bot.services.guild_settings.reset(c.guild.id, "ideas_reaction_votes", c.mod.id)


# -- status changes -----------------------------------------------------------------------------
async def test_status_change_dms_the_author_and_posts_once_in_the_thread(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Bulk edit card due dates")
    result = await d.slash(
        c.mod,
        "idea status",
        channel=c.general,
        number=found.number,
        status="under_review",
        reason="We are sizing it this sprint.",
    )
    answer = await reply_of(result)
    assert answer.ephemeral and "Under review" in answer.content

    dm = await d.wait_for_dm(c.alice)
    assert f"#{found.number}" in dm.content and "We are sizing it this sprint." in dm.content
    posted = await _thread_messages(env, found.thread_id)
    assert len(posted) == 1
    assert posted[0].mention_ids == [c.alice.id]
    assert posted[0].mention_role_ids == [] and not posted[0].mention_everyone
    sent = next(
        call
        for call in d.sandbox.calls
        if call.method == "POST" and call.path.endswith(f"/channels/{found.thread_id}/messages")
    )
    assert sent.json["allowed_mentions"]["parse"] == []
    assert [str(u) for u in sent.json["allowed_mentions"]["users"]] == [str(c.alice.id)]

    await d.wait_for_edit(card(env, found), predicate=lambda m: "Under review" in embed_text(m))
    now = await idea(env, found.number)
    assert now.status is IdeaStatus.UNDER_REVIEW and now.first_response_at is not None
    assert now.decided_at is None
    logged = await d.wait_for_message(c.modlog, predicate=lambda m: "idea.status" in str(m.embeds))
    assert "new → under_review" in embed_text(logged)


async def test_decide_button_select_and_reason_modal(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.bob, "Import boards from Trello")
    denied = await reply_of(await d.click(c.carol, card(env, found), f"idea:status:{found.number}"))
    assert denied.ephemeral and "Only moderators" in denied.content

    picker = await reply_of(await d.click(c.mod, card(env, found), f"idea:status:{found.number}"))
    assert picker.ephemeral
    select_id = f"idea:pick:{found.number}"
    assert picker.button(select_id) is not None

    # Declined needs a reason: a blank one is refused and nothing changes.
    opened = await d.select(c.mod, picker, select_id, ["declined"])
    modal = (await opened.response()).modal
    assert modal is not None
    (reason_id,) = list(modal.fields)
    refused = await reply_of(await d.submit_modal(c.mod, modal, {reason_id: ""}))
    assert refused.ephemeral and "reason" in refused.content
    assert (await idea(env, found.number)).status is IdeaStatus.NEW
    assert await _thread_messages(env, found.thread_id) == []
    assert dms_to(env, c.bob) == []

    opened = await d.select(c.mod, picker, select_id, ["declined"])
    modal = (await opened.response()).modal
    assert modal is not None
    done = await reply_of(
        await d.submit_modal(c.mod, modal, {reason_id: "Trello's API no longer allows it."})
    )
    assert "Declined" in done.content
    dm = await d.wait_for_dm(c.bob)
    assert "Declined" in dm.content and "Trello's API no longer allows it." in dm.content
    now = await idea(env, found.number)
    assert (now.status, now.status_reason) == (
        IdeaStatus.DECLINED,
        "Trello's API no longer allows it.",
    )
    assert now.decided_at is not None and now.first_response_at is not None
    edited = await d.wait_for_edit(
        card(env, found), predicate=lambda m: "Declined" in embed_text(m)
    )
    assert edited.button(_vote_id(found.number)) is None  # voting has closed


async def test_declined_without_a_reason_by_slash_changes_nothing(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.carol, "Card cover images")
    answer = await reply_of(
        await d.slash(
            c.mod, "idea status", channel=c.general, number=found.number, status="declined"
        )
    )
    assert answer.ephemeral and "Please give a reason" in answer.content
    assert (await idea(env, found.number)).status is IdeaStatus.NEW
    assert await _thread_messages(env, found.thread_id) == []
    history = await env.bot.services.ideas.history(c.guild.id, found.number, moderator=True)
    assert [e.kind for e in history[1]] == ["submitted"]


async def test_a_non_moderator_cannot_change_a_status(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Two-factor sign in")
    events = await _events(env, "idea.status_changed", found.id)
    answer = await reply_of(
        await d.slash(
            c.bob, "idea status", channel=c.general, number=found.number, status="planned"
        )
    )
    assert answer.ephemeral and "Only moderators" in answer.content
    assert (await idea(env, found.number)).status is IdeaStatus.NEW
    assert await _events(env, "idea.status_changed", found.id) == events
    assert await _thread_messages(env, found.thread_id) == []
    # The author can withdraw their own idea, but not decide it.
    own = await reply_of(
        await d.slash(
            c.alice, "idea status", channel=c.general, number=found.number, status="planned"
        )
    )
    assert "Only moderators" in own.content


async def test_the_author_withdraws_their_idea(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.bob, "Sound on new comments")
    refused = await reply_of(
        await d.slash(c.carol, "idea withdraw", channel=c.general, number=found.number)
    )
    assert "Only the idea's author" in refused.content
    done = await reply_of(
        await d.slash(
            c.bob, "idea withdraw", channel=c.general, number=found.number, reason="Changed my mind"
        )
    )
    assert "withdrawn" in done.content
    said = await d.wait_for_message(d.world.channels[found.thread_id or 0])
    assert "Withdrawn" in said.content and "Changed my mind" in said.content
    now = await idea(env, found.number)
    assert (now.status, now.first_response_at) == (IdeaStatus.WITHDRAWN, None)
    assert [m for m in dms_to(env, c.bob) if f"#{found.number}" in m.content] == []


async def test_a_member_with_closed_dms_hears_in_the_thread(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.dave, "Keyboard-only navigation")
    await reply_of(
        await d.slash(
            c.mod, "idea status", channel=c.general, number=found.number, status="planned"
        )
    )
    posted = await d.wait_for_message(
        d.world.channels[found.thread_id or 0], predicate=lambda m: "Planned" in m.content
    )
    assert posted.mention_ids == [c.dave.id]
    assert dms_to(env, c.dave) == []
    assert (await idea(env, found.number)).status is IdeaStatus.PLANNED


async def test_implemented_ideas_are_announced_crediting_author_and_contributors(
    env: Env,
) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Markdown tables in cards", contributors=(c.carol.id,))
    await reply_of(
        await d.slash(
            c.mod,
            "idea status",
            channel=c.general,
            number=found.number,
            status="implemented",
            reason="Shipped in 2.3",
        )
    )
    shipped = await d.wait_for_message(c.shipped)
    assert f"#{found.number}" in shipped.content and "Markdown tables in cards" in shipped.content
    assert f"<@{c.alice.id}>" in shipped.content and f"<@{c.carol.id}>" in shipped.content
    assert shipped.mention_ids == []  # credit, not a ping for everyone who reads #shipped
    assert found.card_url is not None and found.card_url in shipped.content


async def test_follower_dms_are_batched_to_one_an_hour(env: Env) -> None:
    c, d = env.community, env.driver
    first = await publish(env, c.alice, "Calendar view for due dates")
    second = await publish(env, c.bob, "Weekly email summary")
    fan = await fresh_member(env, "Fan")
    for found in (first, second):
        await _click_vote(env, fan, card(env, found), _vote_id(found.number))
    on = await reply_of(await d.slash(fan, "idea notifications", channel=c.general, setting="on"))
    assert "at most one DM an hour" in on.content
    timers = env.bot.services.timers

    async def change(number: int, status: str) -> None:
        await reply_of(
            await d.slash(c.mod, "idea status", channel=c.general, number=number, status=status)
        )

    await change(first.number, "under_review")
    dm = await d.wait_for_dm(fan)
    assert f"#{first.number}" in dm.content and "Under review" in dm.content
    await timers.run_due()  # waits for the dispatcher run that sent it to finish

    await change(second.number, "planned")
    await change(first.number, "planned")
    assert len(dms_to(env, fan)) == 1  # nothing more within the hour
    row = await env.bot.services.db.fetchone(
        "SELECT due_at, done_at FROM timers WHERE kind = 'ideas.dm' AND key = ?",
        (f"{c.guild.id}:{fan.id}",),
    )
    assert row is not None and row["done_at"] is None
    pending = await env.bot.services.ideas.pending_notices(c.guild.id, fan.id)
    assert [(n.idea_number, n.new_status) for n in pending] == [
        (second.number, "planned"),
        (first.number, "planned"),
    ]
    assert await timers.run_due() == 0  # not due yet
    assert len(dms_to(env, fan)) == 1

    CLOCK.advance(timedelta(hours=1, minutes=1))
    assert await timers.run_due() == 1
    dms = dms_to(env, fan)
    assert len(dms) == 2
    batch = dms[1].content
    assert f"#{second.number}" in batch and f"#{first.number}" in batch
    assert batch.count("Planned") == 2
    assert await env.bot.services.ideas.pending_notices(c.guild.id, fan.id) == []
    # Followers who did not opt in were not DMed (the authors heard about their own ideas).
    assert all(f"#{second.number}" not in m.content for m in dms_to(env, c.alice))
