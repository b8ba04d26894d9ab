"""Ideas end to end: the review queue (a new member's idea held, approved or rejected with a
reason from /idea queue) and anonymous ideas (no author mention anywhere public; the author
for a moderator's /idea show, written to the mod log; /idea reveal), with their bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import (
    card,
    dms_to,
    fresh_member,
    idea,
    idea_count,
    publish,
    running_cocreate,
)

from bot.domain import events
from bot.domain.ideas import IdeaStatus
from bot.sandbox import Member, Message

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("ideas-review") / "cocreate.db"
    async with running_cocreate(db_path) as env:
        yield env


async def _settings(env: Env, **values: Any) -> None:
    defaults: dict[str, Any] = {"ideas_review": "off", "ideas_anonymous": False}
    await env.bot.services.guild_settings.set_values(
        env.community.guild.id, {**defaults, **values}, env.community.mod.id
    )


def _buttons(message: Message) -> dict[str, str]:
    return {
        b["label"]: b["custom_id"]
        for row in message.components
        for b in row["components"]
        if "custom_id" in b
    }


async def _submitted_events(env: Env, idea_id: int) -> int:
    return int(
        await env.bot.services.db.fetchval(
            "SELECT count(*) FROM outbox WHERE kind = ? AND subject_id = ?",
            (events.IDEA_SUBMITTED, idea_id),
        )
    )


async def _modal_submit(
    env: Env, member: Member, title: str, post_as: str | None = None, **options: Any
) -> Message:
    """``/idea submit`` with ``options``, the form filled in (``post_as``: the form's
    anonymity toggle, when it has one); the member's answer."""
    d = env.driver
    opened = await d.slash(member, "idea submit", channel=env.community.general, **options)
    response = await opened.response()
    if response.modal is None:  # refused before the form opened
        return await reply_of(opened)
    title_id, body_id, *toggle = list(response.modal.fields)
    values: dict[str, str | list[str]] = {title_id: title, body_id: "Details"}
    if post_as is not None:
        values[toggle[0]] = [post_as]
    result = await d.submit_modal(member, response.modal, values)
    return await reply_of(result)


def _public_bot_messages(env: Env, since: set[int]) -> list[Message]:
    """What the bot posted in server channels (not DMs, not ephemeral) after ``since``."""
    world = env.driver.world
    return [
        m
        for m in world.messages.values()
        if m.id not in since
        and m.author.id == world.bot.id
        and m.guild_id is not None
        and m.visible_to is None
    ]


# -- the review queue ------------------------------------------------------------------------------
async def test_new_members_idea_is_held_then_approved_and_public(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env, ideas_review="new_members")
    newcomer = await fresh_member(env, "Newcomer")
    source = await d.post(c.general, newcomer, "[idea] Weekly office hours with the team")
    await d.wait_for_reaction(source, "🕓")
    held = await env.bot.services.ideas.by_source(c.guild.id, source.id)
    assert held is not None and held.status is IdeaStatus.PENDING_REVIEW
    assert held.card_message_id is None and await _submitted_events(env, held.id) == 0
    # Nothing public: no card, no reply in the channel.
    assert not [m for m in d.messages_in(c.ideas) if f"#{held.number} · " in embed_text(m)]
    assert not [m for m in d.messages_in(c.general) if m.reference_id == source.id]
    # Members cannot see it; its author can.
    hidden = await reply_of(
        await d.slash(c.bob, "idea show", channel=c.general, number=held.number)
    )
    assert hidden.ephemeral and "no idea" in hidden.content.lower()
    own = await reply_of(
        await d.slash(newcomer, "idea show", channel=c.general, number=held.number)
    )
    assert "Awaiting review" in embed_text(own)

    queue = await reply_of(await d.slash(c.mod, "idea queue", channel=c.general))
    assert queue.ephemeral and f"#{held.number}" in embed_text(queue)
    assert f"<@{newcomer.id}>" in embed_text(queue)
    overdue = await reply_of(await d.slash(c.mod, "idea overdue", channel=c.general))
    assert overdue.ephemeral  # listed once the target passes (tested on the service)
    approve = _buttons(queue)[f"Approve #{held.number}"]
    d.mark_seen()
    answer = await reply_of(await d.click(c.mod, queue, approve))
    assert answer.ephemeral and f"#{held.number} is approved" in answer.content
    posted = await d.wait_for_message(
        c.ideas, predicate=lambda m: f"#{held.number} · " in embed_text(m)
    )
    reply = await d.wait_for_message(c.general, predicate=lambda m: m.reference_id == source.id)
    approved = await idea(env, held.number)
    assert approved.status is IdeaStatus.NEW and approved.card_message_id == posted.id
    assert approved.card_url is not None and approved.card_url in reply.content
    told = await d.wait_for_dm(newcomer)
    assert "approved" in told.content and f"#{held.number}" in told.content
    assert await _submitted_events(env, held.id) == 1  # the award is paid from now on
    await d.wait_for_message(c.modlog, predicate=lambda m: "idea.approve" in str(m.embeds))
    # Clicking again: it is no longer waiting; nothing is posted twice.
    again = await reply_of(await d.click(c.mod, queue, approve))
    assert again.ephemeral and "not waiting for review" in again.content
    cards = [m for m in d.messages_in(c.ideas) if f"#{held.number} · " in embed_text(m)]
    assert len(cards) == 1


async def test_rejected_with_a_reason_the_author_receives(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env, ideas_review="all")
    member = await fresh_member(env, "Rejected")
    held_note = await _modal_submit(env, member, "Sell my mixtape in the server shop")
    assert held_note.ephemeral and "waiting for a moderator's review" in held_note.content
    number = int(held_note.content.split("#")[1].split(" ")[0])
    queue = await reply_of(await d.slash(c.mod, "idea queue", channel=c.general))
    reject = _buttons(queue)[f"Reject #{number}"]

    # Bad input: a reason of blanks is refused, and nothing changes.
    opened = await d.click(c.mod, queue, reject)
    modal = (await opened.response()).modal
    assert modal is not None
    (reason_id,) = list(modal.fields)
    refused = await reply_of(await d.submit_modal(c.mod, modal, {reason_id: "   "}))
    assert refused.ephemeral and "reason" in refused.content.lower()
    assert (await idea(env, number)).status is IdeaStatus.PENDING_REVIEW
    assert not dms_to(env, member)[1:]  # nothing but what it got before, if anything

    opened = await d.click(c.mod, queue, reject)
    modal = (await opened.response()).modal
    assert modal is not None
    done = await reply_of(
        await d.submit_modal(c.mod, modal, {reason_id: "Advertising is not an idea here."})
    )
    assert done.ephemeral and f"#{number} is rejected" in done.content
    told = await d.wait_for_dm(member)
    assert "Advertising is not an idea here." in told.content and f"#{number}" in told.content
    rejected = await idea(env, number)
    assert rejected.status is IdeaStatus.REJECTED and rejected.card_message_id is None
    assert await _submitted_events(env, rejected.id) == 0
    after = await reply_of(await d.slash(c.mod, "idea queue", channel=c.general))
    assert f"#{number}" not in embed_text(after)


async def test_only_moderators_review(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env)
    carrier = card(env, await publish(env, c.alice, "Carrier of a forged review button"))
    await _settings(env, ideas_review="all")
    member = await fresh_member(env, "Curious")
    note = await _modal_submit(env, member, "A quiet channel for focused work")
    number = int(note.content.split("#")[1].split(" ")[0])
    refused = await reply_of(await d.slash(c.bob, "idea queue", channel=c.general))
    assert refused.ephemeral and "moderator" in refused.content.lower()
    # A member who got hold of the button (an old or tampered message) is refused too.
    approve = f"idea:review:{number}:approve"
    carrier.components = [
        *carrier.components,
        {"type": 1, "components": [{"type": 2, "style": 3, "label": "A", "custom_id": approve}]},
    ]
    clicked = await reply_of(await d.click(c.bob, carrier, approve))
    assert clicked.ephemeral and "moderator" in clicked.content.lower()
    assert (await idea(env, number)).status is IdeaStatus.PENDING_REVIEW


# -- anonymous ideas -------------------------------------------------------------------------------
async def test_anonymous_idea_names_no_author_in_public(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env, ideas_anonymous=True)
    author = await fresh_member(env, "Shy")
    before = set(env.driver.world.messages)
    answer = await _modal_submit(env, author, "Quiet hours for notifications", anonymous=True)
    assert answer.ephemeral and "a member" in answer.content
    number = int(answer.content.split("#")[1].split(".")[0])
    found = await idea(env, number)
    assert found.anonymous and found.author_id == author.id
    posted = await d.wait_for_message(c.ideas, predicate=lambda m: m.id == found.card_message_id)
    assert "a member" in embed_text(posted)

    # A decision: the thread message and the #shipped post name nobody; the author is told.
    await d.slash(c.mod, "idea status", channel=c.general, number=number, status="implemented")
    await d.wait_for_message(c.shipped, predicate=lambda m: f"#{number}" in m.content)
    told = await d.wait_for_dm(author)
    assert f"#{number}" in told.content
    thread = d.world.channels[found.thread_id or 0]
    said = await d.wait_for_message(thread, predicate=lambda m: "Implemented" in m.content)
    assert said.mention_ids == []
    for message in _public_bot_messages(env, before):
        assert author.id not in message.mention_ids, message.content
        assert str(author.id) not in embed_text(message), embed_text(message)

    # Members see "a member"; a moderator sees the author, and the look is logged.
    seen = await reply_of(await d.slash(c.bob, "idea show", channel=c.general, number=number))
    assert str(author.id) not in embed_text(seen) and "a member" in embed_text(seen)
    history = await reply_of(await d.slash(c.bob, "idea history", channel=c.general, number=number))
    assert str(author.id) not in embed_text(history)
    looked = await reply_of(await d.slash(c.mod, "idea show", channel=c.general, number=number))
    assert f"<@{author.id}>" in embed_text(looked)
    await d.wait_for_message(c.modlog, predicate=lambda m: "idea.author_look" in str(m.embeds))
    looks = await env.bot.services.db.fetchval(
        "SELECT count(*) FROM mod_actions WHERE action = 'idea.author_look' AND target = ?",
        (f"#{number}",),
    )
    assert looks == 1
    # The author's own list still credits them.
    mine = await reply_of(await d.slash(author, "idea mine", channel=c.general))
    assert f"#{number}" in embed_text(mine)
    others = await reply_of(await d.slash(c.bob, "idea list", channel=c.general, author=author))
    assert f"#{number}" not in embed_text(others)

    # The author reveals themselves: the card shows their name.
    d.mark_seen()
    revealed = await reply_of(
        await d.slash(author, "idea reveal", channel=c.general, number=number)
    )
    assert revealed.ephemeral and "shows you" in revealed.content
    await d.wait_for_edit(card(env, found), predicate=lambda m: f"<@{author.id}>" in embed_text(m))


async def test_anonymous_refused_when_the_server_does_not_allow_it(env: Env) -> None:
    c = env.community
    await _settings(env, ideas_anonymous=False)
    member = await fresh_member(env, "Hopeful")
    before = await idea_count(env)
    refused = await _modal_submit(env, member, "Anonymous suggestion box", anonymous=True)
    assert refused.ephemeral and "turned off" in refused.content
    assert await idea_count(env) == before
    assert not [
        m for m in env.driver.messages_in(c.ideas) if "Anonymous suggestion" in embed_text(m)
    ]


async def test_tagged_message_cannot_be_anonymous(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env, ideas_anonymous=True)
    member = await fresh_member(env, "Tagger")
    before = await idea_count(env)
    message = await d.post(c.general, member, "[idea anonymous] Secret santa for the team")
    await d.wait_for_reaction(message, "⚠️")
    dm = await d.wait_for_dm(member)
    assert "cannot be anonymous" in dm.content and "/idea submit anonymous:True" in dm.content
    assert await idea_count(env) == before


async def test_the_forms_toggle_makes_an_idea_anonymous(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env)
    member = await fresh_member(env, "Toggler")
    opened = await d.slash(member, "idea submit", channel=c.general)
    modal = (await opened.response()).modal
    assert modal is not None and len(modal.fields) == 2  # no toggle while not allowed
    await _settings(env, ideas_anonymous=True)
    answer = await _modal_submit(env, member, "Toggled into anonymity", post_as="anonymous")
    number = int(answer.content.split("#")[1].split(".")[0])
    found = await idea(env, number)
    assert found.anonymous and found.author_id == member.id
    posted = await d.wait_for_message(c.ideas, predicate=lambda m: m.id == found.card_message_id)
    assert str(member.id) not in embed_text(posted) and "a member" in embed_text(posted)
    signed = await _modal_submit(
        env, await fresh_member(env, "Signer"), "Weekly recap newsletter by email"
    )
    number = int(signed.content.split("#")[1].split(".")[0])
    assert not (await idea(env, number)).anonymous  # the toggle defaults to the name


async def test_the_queue_does_not_name_an_anonymous_author(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env, ideas_review="all", ideas_anonymous=True)
    author = await fresh_member(env, "Unnamed")
    note = await _modal_submit(env, author, "Rotate the meeting times", post_as="anonymous")
    number = int(note.content.split("#")[1].split(" ")[0])
    queue = await reply_of(await d.slash(c.mod, "idea queue", channel=c.general))
    text = embed_text(queue)
    assert f"#{number}" in text and "a member (anonymous)" in text
    assert str(author.id) not in text
    # Approved, its card is as anonymous as any other.
    d.mark_seen()
    await reply_of(await d.click(c.mod, queue, _buttons(queue)[f"Approve #{number}"]))
    posted = await d.wait_for_message(c.ideas, predicate=lambda m: f"#{number} · " in embed_text(m))
    assert str(author.id) not in embed_text(posted) and posted.mention_ids == []
    await _settings(env)


async def test_capturing_a_held_idea_again_does_not_reveal_it(env: Env) -> None:
    c, d = env.community, env.driver
    await _settings(env, ideas_review="all")
    author, capturer = await fresh_member(env, "Quiet"), await fresh_member(env, "Catcher")
    source = await d.post(c.general, author, "A calmer notification sound for mentions")
    first = await reply_of(await d.message_command(capturer, "Capture as idea", source))
    assert "waiting for a moderator's review" in first.content
    held = await env.bot.services.ideas.by_source(c.guild.id, source.id)
    assert held is not None and held.status is IdeaStatus.PENDING_REVIEW
    stored = await idea_count(env)

    # Another member learns that it was captured, not which idea it is.
    other = await reply_of(await d.message_command(c.bob, "Capture as idea", source))
    assert other.ephemeral and "already been captured" in other.content
    assert "#" not in other.content and "review" not in other.content
    # Its author is told it awaits review; a moderator gets its number and state.
    own = await reply_of(await d.message_command(author, "Capture as idea", source))
    assert own.ephemeral and f"your idea #{held.number}" in own.content
    assert "waiting for a moderator's review" in own.content
    mod = await reply_of(await d.message_command(c.mod, "Capture as idea", source))
    assert mod.ephemeral and f"already idea #{held.number} (pending review" in mod.content
    assert await idea_count(env) == stored  # none of the answers stored anything
    assert (await idea(env, held.number)).status is IdeaStatus.PENDING_REVIEW
    await _settings(env)
