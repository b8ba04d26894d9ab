"""Ideas end to end: every capture path, similar ideas, bad input, source edits and
deletions, and catching up after downtime — the real bot against the sandbox."""

from __future__ import annotations

import asyncio
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
    handlers_done,
    idea,
    idea_count,
    patches_of,
    publish,
    running_cocreate,
    settle_cards,
    votes,
)

from bot.app import create_bot
from bot.demo.community import Community
from bot.domain.ideas import IdeaStatus
from bot.sandbox import Channel, Driver, InvalidInteraction, Message

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


def _add_idea_channel(driver: Driver, community: Community) -> None:
    # Members type "#idea" and Discord turns it into a mention of a channel called "idea".
    driver.add_text_channel(community.guild, "idea")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("ideas-capture") / "cocreate.db"
    async with running_cocreate(db_path, before_start=_add_idea_channel) as env:
        yield env


def _channel(env: Env, name: str) -> Channel:
    return next(ch for ch in env.driver.world.channels.values() if ch.name == name)


def _bot_threads_since_mark(env: Env) -> list[Any]:
    seen = env.driver._seen.activities
    return [
        a
        for a in env.driver.world.log
        if a.kind == "thread" and a.index not in seen and a.actor_id == env.driver.world.bot.id
    ]


async def _captured(env: Env, source: Message) -> Any:
    """The idea captured from a tagged ``source`` message, once the bot has replied to it
    (the last post of a capture: the card and its thread come first) and has recorded the
    card (in the commit that completes the publication, right after the reply)."""
    where = env.driver.world.channels[source.channel_id]
    await env.driver.wait_for_message(where, predicate=lambda m: m.reference_id == source.id)
    await handlers_done(env)
    found = await env.bot.services.ideas.by_source(env.community.guild.id, source.id)
    assert found is not None, "the bot replied but no idea is stored for the source"
    assert found.card_message_id is not None
    return found


def _reply_to(env: Env, source: Message) -> Message:
    where = env.driver.world.channels[source.channel_id]
    return next(m for m in env.driver.messages_in(where) if m.reference_id == source.id)


async def _menu_captured(env: Env, member: Any, source: Message) -> Any:
    """The idea ``member`` captured from ``source`` with "Capture as idea" (through the
    similar-ideas offer when one comes up)."""
    answer = await reply_of(await env.driver.message_command(member, "Capture as idea", source))
    if "Thanks! Your idea is #" not in answer.content:
        stored = await env.driver.click(member, answer, _buttons(answer)["Submit anyway"])
        answer = await reply_of(stored)
    assert answer.ephemeral and "Thanks! Your idea is #" in answer.content, answer.content
    found = await env.bot.services.ideas.by_source(env.community.guild.id, source.id)
    assert found is not None and found.card_message_id is not None
    return found


async def _handled(env: Env, event: str, check: Any, action: Any) -> None:
    """Run ``action``; return once the bot has handled the ``event`` it causes."""
    handled = asyncio.ensure_future(env.bot.wait_for(event, check=check, timeout=5))
    await action
    await handled
    await handlers_done(env)
    await settle_cards(env)


async def _edit_seen(env: Env, source: Message, content: str) -> None:
    """The author edits ``source``; return once the bot has handled the edit."""
    await _handled(
        env,
        "raw_message_edit",
        lambda p: p.message_id == source.id,
        env.driver.edit(source, content),
    )


async def _rename_seen(env: Env, thread: Channel, name: str) -> None:
    """The owner renames ``thread``; return once the bot has handled the rename."""
    await _handled(
        env,
        "raw_thread_update",
        lambda p: p.thread_id == thread.id,
        env.driver.rename_thread(thread, name),
    )


async def _forum_captured(env: Env, member: Any, title: str, content: str) -> Any:
    """A forum post by ``member`` and the idea (with its card in the post) it became."""
    thread, starter = await env.driver.create_forum_post(
        env.community.forum, member, title, content, tags=["editor"]
    )
    await env.driver.wait_for_message(thread, predicate=lambda m: bool(m.embeds))
    await handlers_done(env)  # the card's id is stored after it is posted
    found = await env.bot.services.ideas.by_source(env.community.guild.id, starter.id)
    assert found is not None and found.card_message_id is not None
    return thread, starter, found


async def _history_kinds(env: Env, number: int) -> list[str]:
    _, events = await env.bot.services.ideas.history(env.community.guild.id, number, moderator=True)
    return [e.kind for e in events]


def _buttons(message: Message) -> dict[str, str]:
    return {
        b["label"]: b["custom_id"]
        for row in message.components
        for b in row["components"]
        if "custom_id" in b
    }


# -- capture paths ----------------------------------------------------------------------------
async def test_tagged_message_becomes_an_idea_with_card_thread_and_reply(env: Env) -> None:
    c, d = env.community, env.driver
    erin = await fresh_member(env, "Erin")
    source = await d.post(
        c.general,
        erin,
        "[idea] Offline mode for the mobile app\n"
        "So I can keep writing on the train.\nAnd sync later.",
    )
    found = await _captured(env, source)
    assert found.title == "Offline mode for the mobile app"
    assert found.body == "So I can keep writing on the train.\nAnd sync later."
    assert (found.kind, found.source, found.author_id) == ("idea", "message", erin.id)
    assert found.status is IdeaStatus.NEW

    posted = card(env, found)
    text = embed_text(posted)
    assert f"#{found.number} · Offline mode for the mobile app" in text
    assert "[idea]" not in text and "So I can keep writing on the train." in text
    assert f"<@{erin.id}>" in text
    assert posted.button(f"idea:vote:{found.number}:up") is not None
    assert posted.button(f"idea:status:{found.number}") is not None

    thread = await d.wait_for_thread(c.ideas)
    assert thread.id == posted.id == found.thread_id  # a thread started on the card
    reply = _reply_to(env, source)
    assert reply.reference_id == source.id
    assert found.card_url is not None and found.card_url in reply.content
    assert f"#{found.number}" in reply.content
    assert reply.mention_ids == []  # a link, not a ping


async def test_kind_tags_and_labels_and_a_tag_discord_turned_into_a_channel_mention(
    env: Env,
) -> None:
    c, d = env.community, env.driver
    fay, gus = await fresh_member(env, "Fay"), await fresh_member(env, "Gus")
    bug = await d.post(c.general, fay, "**[bug]**[sync] Comments vanish after reconnecting")
    found = await _captured(env, bug)
    assert (found.kind, found.title, found.tags) == (
        "bug",
        "Comments vanish after reconnecting",
        ("sync",),
    )
    mention = _channel(env, "idea")
    tagged = await d.post(c.general, gus, f"[<#{mention.id}>] Shared calendars for teams")
    found = await _captured(env, tagged)
    assert (found.kind, found.title) == ("idea", "Shared calendars for teams")
    assert "<#" not in embed_text(card(env, found))
    # Editing such a message is read the same way.
    await d.edit(tagged, f"[<#{mention.id}>] Shared calendars for whole teams")
    await d.wait_for_edit(
        card(env, found), predicate=lambda m: "Shared calendars for whole teams" in embed_text(m)
    )
    assert (await idea(env, found.number)).title == "Shared calendars for whole teams"


async def test_tagged_message_in_an_unwatched_channel_is_ignored(env: Env) -> None:
    c, d = env.community, env.driver
    hal = await fresh_member(env, "Hal")
    before = await idea_count(env)
    ignored = await d.post(c.help, hal, "[idea] Export boards to PDF")
    # A later capture in a watched channel: by the time its card is up, the earlier
    # message has long been handled.
    sentinel = await d.post(c.general, await fresh_member(env, "Ivy"), "[idea] Pin comments")
    await _captured(env, sentinel)
    assert await idea_count(env) == before + 1
    assert await env.bot.services.ideas.by_source(c.guild.id, ignored.id) is None
    assert d.messages_in(c.help)[-1].id == ignored.id  # no reply there
    assert ignored.reactions == {}


async def test_forum_post_gets_its_card_inside_its_own_thread(env: Env) -> None:
    c, d = env.community, env.driver
    jo = await fresh_member(env, "Jo")
    before_threads = len(_bot_threads_since_mark(env))
    thread, starter = await d.create_forum_post(
        c.forum,
        jo,
        "Keyboard shortcuts for the editor",
        "Vim-style keys would make editing much faster.",
        tags=["editor", "mobile"],
    )
    posted = await d.wait_for_message(thread, predicate=lambda m: bool(m.embeds))
    await handlers_done(env)
    found = await env.bot.services.ideas.by_source(c.guild.id, starter.id)
    assert found is not None
    assert (found.source, found.author_id, found.title) == (
        "forum",
        jo.id,
        "Keyboard shortcuts for the editor",
    )
    assert found.body == "Vim-style keys would make editing much faster."
    assert found.tags == ("editor", "mobile")
    assert found.thread_id == thread.id and found.card_channel_id == thread.id
    assert found.card_message_id == posted.id
    assert "`editor`" in embed_text(posted)
    # No second thread, no card in #ideas.
    assert len(_bot_threads_since_mark(env)) == before_threads
    assert not [m for m in d.messages_in(c.ideas) if m.id == posted.id]


async def test_submit_modal_stores_the_idea_with_kind_and_tag(env: Env) -> None:
    c, d = env.community, env.driver
    kim = await fresh_member(env, "Kim")
    opened = await d.slash(kim, "idea submit", channel=c.general, kind="feedback", tag="Onboarding")
    modal = (await opened.response()).modal
    assert modal is not None
    title_id, body_id = list(modal.fields)
    assert modal.fields[title_id]["max_length"] == 100
    submitted = await d.submit_modal(
        kim,
        modal,
        {title_id: "A guided tour for new members", body_id: "Five steps, skippable."},
    )
    answer = await reply_of(submitted)
    assert answer.ephemeral and "Thanks! Your idea is #" in answer.content
    number = int(answer.content.split("#")[1].split(".")[0])
    found = await idea(env, number)
    assert (found.source, found.kind, found.tags, found.author_id) == (
        "modal",
        "feedback",
        ("onboarding",),
        kim.id,
    )
    assert found.body == "Five steps, skippable."
    posted = await d.wait_for_message(c.ideas, predicate=lambda m: bool(m.embeds))
    assert posted.id == found.card_message_id
    assert (await d.wait_for_thread(c.ideas)).id == found.thread_id


async def test_capture_as_idea_credits_the_author_and_the_capturer(env: Env) -> None:
    c, d = env.community, env.driver
    lou, max_ = await fresh_member(env, "Lou"), await fresh_member(env, "Max")
    source = await d.post(
        c.general, lou, "Could boards have a read-only share link?\nFor clients who only look."
    )
    result = await d.message_command(max_, "Capture as idea", source)
    answer = await reply_of(result)
    assert answer.ephemeral and "Thanks! Your idea is #" in answer.content
    found = await env.bot.services.ideas.by_source(c.guild.id, source.id)
    assert found is not None
    assert (found.author_id, found.contributors, found.source) == (lou.id, (max_.id,), "menu")
    assert found.title == "Could boards have a read-only share link?"
    assert found.body == "For clients who only look."
    text = embed_text(card(env, found))
    assert f"<@{lou.id}> with <@{max_.id}>" in text
    reply = await d.wait_for_message(c.general, predicate=lambda m: m.reference_id == source.id)
    assert found.card_url is not None and found.card_url in reply.content
    events = await env.bot.services.db.fetchall(
        "SELECT payload FROM outbox WHERE kind = 'idea.submitted' AND subject_id = ?", (found.id,)
    )
    assert str(max_.id) in events[0][0]

    again = await reply_of(await d.message_command(c.bob, "Capture as idea", source))
    assert again.ephemeral and f"already idea #{found.number}" in again.content
    unwatched = await d.post(c.help, lou, "Dark corners of the help channel")
    refused = await reply_of(await d.message_command(max_, "Capture as idea", unwatched))
    assert refused.ephemeral and "watched channels" in refused.content
    assert await env.bot.services.ideas.by_source(c.guild.id, unwatched.id) is None


# -- similar ideas ----------------------------------------------------------------------------
async def test_modal_offers_similar_ideas_before_storing(env: Env) -> None:
    c, d = env.community, env.driver
    original = await publish(env, c.alice, "Dark mode for the editor", "Easier on the eyes")
    nia = await fresh_member(env, "Nia")
    before = await idea_count(env)

    async def submit_dark_theme() -> Message:
        opened = await d.slash(nia, "idea submit", channel=c.general)
        modal = (await opened.response()).modal
        assert modal is not None
        title_id, body_id = list(modal.fields)
        result = await d.submit_modal(
            nia, modal, {title_id: "Dark theme for the editor", body_id: "At night"}
        )
        return await reply_of(result)

    offer = await submit_dark_theme()
    assert offer.ephemeral and f"#{original.number} · Dark mode for the editor" in offer.content
    buttons = {
        b["label"]: b["custom_id"]
        for row in offer.components
        for b in row["components"]
        if "custom_id" in b
    }
    assert "Submit anyway" in buttons and f"Support #{original.number} instead" in buttons
    assert await idea_count(env) == before  # nothing stored before the member chooses

    support = await d.click(nia, offer, buttons[f"Support #{original.number} instead"])
    assert f"You support #{original.number} instead" in (await reply_of(support)).content
    assert await idea_count(env) == before
    assert (await votes(env, original.number)) == {nia.id: 1}
    # The draft is used up: choosing again is refused.
    late = await d.click(nia, offer, buttons["Submit anyway"])
    assert "expired" in (await reply_of(late)).content
    assert await idea_count(env) == before

    offer = await submit_dark_theme()
    buttons = {
        b["label"]: b["custom_id"]
        for row in offer.components
        for b in row["components"]
        if "custom_id" in b
    }
    anyway = await d.click(nia, offer, buttons["Submit anyway"])
    answer = await reply_of(anyway)
    assert "Thanks! Your idea is #" in answer.content
    assert await idea_count(env) == before + 1
    number = int(answer.content.split("#")[1].split(".")[0])
    assert (await idea(env, number)).title == "Dark theme for the editor"


async def test_message_capture_lists_similar_ideas_and_offers_the_author_to_support(
    env: Env,
) -> None:
    c, d = env.community, env.driver
    original = await publish(env, c.alice, "Export boards as PDF files", "For printing")
    oli = await fresh_member(env, "Oli")
    source = await d.post(c.general, oli, "[idea] Export a board as a PDF file")
    found = await _captured(env, source)
    text = embed_text(card(env, found))
    assert "Similar ideas" in text and f"#{original.number}" in text
    reply = _reply_to(env, source)
    button = f"idea:dupe:{found.number}:{original.number}"
    assert reply.button(button) is not None
    refused = await d.click(c.bob, reply, button)
    assert "Only the idea's author" in (await reply_of(refused)).content
    chosen = await d.click(oli, reply, button)
    assert "withdrawn" in (await reply_of(chosen)).content
    assert (await idea(env, found.number)).status is IdeaStatus.WITHDRAWN
    assert (await votes(env, original.number)) == {oli.id: 1}


async def test_capture_as_idea_offers_similar_ideas_before_storing(env: Env) -> None:
    c, d = env.community, env.driver
    original = await publish(env, c.alice, "Recurring reminders for tasks", "Every Monday")
    ana, ben = await fresh_member(env, "Ana"), await fresh_member(env, "Ben")
    source = await d.post(c.general, ana, "Reminders that recur for tasks, weekly")
    before = await idea_count(env)
    offer = await reply_of(await d.message_command(ben, "Capture as idea", source))
    assert offer.ephemeral and f"#{original.number}" in offer.content
    assert await idea_count(env) == before
    stored = await d.click(ben, offer, _buttons(offer)["Submit anyway"])
    assert "Thanks! Your idea is #" in (await reply_of(stored)).content
    found = await env.bot.services.ideas.by_source(c.guild.id, source.id)
    assert found is not None
    assert (found.author_id, found.contributors) == (ana.id, (ben.id,))
    reply = await d.wait_for_message(c.general, predicate=lambda m: m.reference_id == source.id)
    assert found.card_url is not None and found.card_url in reply.content


# -- bad input -----------------------------------------------------------------------------------
async def test_empty_tagged_message_gets_a_warning_and_a_dm(env: Env) -> None:
    c, d = env.community, env.driver
    pia = await fresh_member(env, "Pia")
    before = await idea_count(env)
    empty = await d.post(c.general, pia, "[idea]")
    await d.wait_for_reaction(empty, "⚠️")
    dm = await d.wait_for_dm(pia)
    assert "needs a title" in dm.content and empty.id and str(empty.id) in dm.content
    assert await idea_count(env) == before


async def test_a_member_with_closed_dms_gets_the_reason_in_a_thread(env: Env) -> None:
    c, d = env.community, env.driver
    before = await idea_count(env)
    empty = await d.post(c.general, c.dave, "[idea]   ")
    await d.wait_for_reaction(empty, "⚠️")
    thread = await d.wait_for_thread(c.general)
    assert thread.id == empty.id  # on the member's own message, not a public reply
    told = await d.wait_for_message(thread)
    assert "needs a title" in told.content
    assert told.mention_ids == [c.dave.id]
    assert dms_to(env, c.dave) == []
    assert await idea_count(env) == before


async def test_forum_post_without_a_title_left_gets_a_warning_and_a_dm(env: Env) -> None:
    c, d = env.community, env.driver
    uli = await fresh_member(env, "Uli")
    before = await idea_count(env)
    _, starter = await d.create_forum_post(c.forum, uli, "[bug]", "It crashes.", tags=["sync"])
    await d.wait_for_reaction(starter, "⚠️")
    dm = await d.wait_for_dm(uli)
    assert "needs a title" in dm.content
    assert await idea_count(env) == before


async def test_capture_as_idea_on_a_message_without_text_is_refused(env: Env) -> None:
    c, d = env.community, env.driver
    cam = await fresh_member(env, "Cam")
    picture = await d.post(c.general, c.bob, files=[("sketch.png", b"\x89PNG")])
    before = await idea_count(env)
    refused = await reply_of(await d.message_command(cam, "Capture as idea", picture))
    assert refused.ephemeral and "needs a title" in refused.content
    assert await idea_count(env) == before


async def test_long_first_line_is_cut_into_title_and_body(env: Env) -> None:
    c, d = env.community, env.driver
    quinn = await fresh_member(env, "Quinn")
    words = " ".join(f"word{i}" for i in range(40))
    source = await d.post(c.general, quinn, f"[idea] {words}\nSecond line.")
    found = await _captured(env, source)
    assert len(found.title) <= 100 and found.title.endswith("…")
    assert found.body.startswith("…") and found.body.endswith("Second line.")
    assert "word39" in found.body


async def test_modal_with_a_blank_or_oversized_title_stores_nothing(env: Env) -> None:
    c, d = env.community, env.driver
    ray = await fresh_member(env, "Ray")
    before = await idea_count(env)
    opened = await d.slash(ray, "idea submit", channel=c.general)
    modal = (await opened.response()).modal
    assert modal is not None
    title_id, body_id = list(modal.fields)
    blank = await reply_of(await d.submit_modal(ray, modal, {title_id: "   ", body_id: "x"}))
    assert blank.ephemeral and "needs a title" in blank.content
    # Discord itself refuses a title over the modal's limit (100, the domain's limit).
    with pytest.raises(InvalidInteraction):
        await d.submit_modal(ray, modal, {title_id: "x" * 101})
    assert await idea_count(env) == before


async def test_unknown_idea_number_is_an_ephemeral_error(env: Env) -> None:
    c, d = env.community, env.driver
    for command in ("idea show", "idea history"):
        answer = await reply_of(await d.slash(c.alice, command, channel=c.general, number=9999))
        assert answer.ephemeral and "There is no idea #9999 here." in answer.content
    withdraw = await reply_of(
        await d.slash(c.alice, "idea withdraw", channel=c.general, number=9999)
    )
    assert withdraw.ephemeral and "#9999" in withdraw.content


async def test_a_second_quick_tagged_message_hits_the_cooldown(env: Env) -> None:
    c, d = env.community, env.driver
    sol = await fresh_member(env, "Sol")
    first = await d.post(c.general, sol, "[idea] Color labels for cards")
    await _captured(env, first)
    before = await idea_count(env)
    second = await d.post(c.general, sol, "[idea] Emoji reactions on comments")
    await d.wait_for_reaction(second, "⚠️")
    dm = await d.wait_for_dm(sol)
    assert "you can share another in" in dm.content
    assert await idea_count(env) == before
    assert await env.bot.services.ideas.by_source(c.guild.id, second.id) is None


# -- the source message changes --------------------------------------------------------------------
async def test_editing_the_source_updates_a_new_idea(env: Env) -> None:
    c, d = env.community, env.driver
    tia = await fresh_member(env, "Tia")
    source = await d.post(c.general, tia, "[idea] Tempaltes for boards")
    found = await _captured(env, source)
    await d.edit(source, "[idea] Templates for boards\nStart from a sprint board.")
    edited = await d.wait_for_edit(
        card(env, found), predicate=lambda m: "Templates for boards" in embed_text(m)
    )
    assert "Start from a sprint board." in embed_text(edited)
    now = await idea(env, found.number)
    assert (now.title, now.body) == ("Templates for boards", "Start from a sprint board.")
    history = await env.bot.services.ideas.history(c.guild.id, found.number, moderator=True)
    assert [e.kind for e in history[1]] == ["submitted", "edited"]

    # Once the team answered, the member's edits no longer rewrite it.
    await env.bot.services.ideas.change_status(
        c.guild.id, found.number, IdeaStatus.UNDER_REVIEW, None, c.mod.id, moderator=True
    )
    await d.edit(source, "[idea] Something else entirely")
    sentinel = await d.post(c.general, await fresh_member(env, "Uma"), "[idea] Board covers")
    await _captured(env, sentinel)
    assert (await idea(env, found.number)).title == "Templates for boards"


async def test_a_message_captured_with_the_menu_follows_its_edits_while_new(env: Env) -> None:
    c, d = env.community, env.driver
    ned, ola = await fresh_member(env, "Ned"), await fresh_member(env, "Ola")
    source = await d.post(c.general, ned, "Voice dictation for notes\nFor when typing is slow.")
    found = await _menu_captured(env, ola, source)
    assert (found.source, found.title) == ("menu", "Voice dictation for notes")
    # Read as at capture: untagged, the first line is the title and the rest the body.
    await d.edit(source, "Voice dictation for long notes\nDictate first, tidy up later.")
    edited = await d.wait_for_edit(
        card(env, found), predicate=lambda m: "Voice dictation for long notes" in embed_text(m)
    )
    assert "Dictate first, tidy up later." in embed_text(edited)
    now = await idea(env, found.number)
    assert (now.title, now.body, now.author_id, now.contributors) == (
        "Voice dictation for long notes",
        "Dictate first, tidy up later.",
        ned.id,
        (ola.id,),
    )
    assert await _history_kinds(env, found.number) == ["submitted", "edited"]

    # A text that cannot be an idea (a tag and no title) changes nothing.
    patches = patches_of(env, now.card_message_id or 0)
    await _edit_seen(env, source, "[idea]")
    assert (await idea(env, found.number)).title == "Voice dictation for long notes"
    assert patches_of(env, now.card_message_id or 0) == patches
    assert await _history_kinds(env, found.number) == ["submitted", "edited"]

    # Once the team answered, the message no longer rewrites the idea.
    await env.bot.services.ideas.change_status(
        c.guild.id, found.number, IdeaStatus.UNDER_REVIEW, None, c.mod.id, moderator=True
    )
    await _edit_seen(env, source, "Something else entirely\nNot the idea that was voted on.")
    later = await idea(env, found.number)
    assert (later.title, later.body) == (
        "Voice dictation for long notes",
        "Dictate first, tidy up later.",
    )
    assert patches_of(env, now.card_message_id or 0) == patches


async def test_a_forum_post_follows_its_text_and_renames_while_new(env: Env) -> None:
    c, d = env.community, env.driver
    pat = await fresh_member(env, "Pat")
    thread, starter, found = await _forum_captured(
        env, pat, "Sticky notes on boards", "Small yellow notes."
    )
    posted = card(env, found)
    assert posted.channel_id == thread.id
    # The post's text is its starter message (in the forum, not a watched channel).
    await d.edit(starter, "Small notes in any colour.")
    await d.wait_for_edit(posted, predicate=lambda m: "Small notes in any colour." in embed_text(m))
    assert (await idea(env, found.number)).body == "Small notes in any colour."
    # Its title is the thread's name: a rename (by its owner, as Discord allows), read as a
    # new post's title (the kind tag goes).
    await d.rename_thread(thread, "[bug] Sticky notes vanish on zoom")
    renamed = await d.wait_for_edit(
        posted, predicate=lambda m: "Sticky notes vanish on zoom" in embed_text(m)
    )
    assert "Small notes in any colour." in embed_text(renamed)
    now = await idea(env, found.number)
    assert (now.title, now.body, now.status) == (
        "Sticky notes vanish on zoom",
        "Small notes in any colour.",
        IdeaStatus.NEW,
    )
    assert await _history_kinds(env, found.number) == ["submitted", "edited", "edited"]

    # A rename to just a tag leaves no title: nothing changes.
    patches = patches_of(env, posted.id)
    await _rename_seen(env, thread, "[idea]")
    assert (await idea(env, found.number)).title == "Sticky notes vanish on zoom"
    assert patches_of(env, posted.id) == patches

    # Once planned, neither the text nor the title follows the post any more.
    await env.bot.services.ideas.change_status(
        c.guild.id, found.number, IdeaStatus.PLANNED, None, c.mod.id, moderator=True
    )
    await _edit_seen(env, starter, "Completely different text.")
    await _rename_seen(env, thread, "Completely different title")
    later = await idea(env, found.number)
    assert (later.title, later.body) == (
        "Sticky notes vanish on zoom",
        "Small notes in any colour.",
    )
    assert patches_of(env, posted.id) == patches
    assert await _history_kinds(env, found.number) == ["submitted", "edited", "edited", "status"]


async def test_deleting_the_source_withdraws_an_idea_without_votes(env: Env) -> None:
    c, d = env.community, env.driver
    vic = await fresh_member(env, "Vic")
    source = await d.post(c.general, vic, "[idea] Undo for deleted columns")
    found = await _captured(env, source)
    await d.delete(source)
    await d.wait_for_edit(card(env, found), predicate=lambda m: "Withdrawn" in embed_text(m))
    now = await idea(env, found.number)
    assert now.status is IdeaStatus.WITHDRAWN
    assert now.status_reason == "The source message was deleted."


async def test_deleting_the_source_keeps_and_flags_an_idea_with_votes(env: Env) -> None:
    c, d = env.community, env.driver
    wes = await fresh_member(env, "Wes")
    source = await d.post(c.general, wes, "[idea] Board-level notifications")
    found = await _captured(env, source)
    await env.bot.services.ideas.vote(c.guild.id, found.number, c.carol.id, 1)
    await d.delete(source)
    flagged = await d.wait_for_edit(
        card(env, found), predicate=lambda m: "source message deleted" in embed_text(m)
    )
    assert "New" in embed_text(flagged)
    now = await idea(env, found.number)
    assert (now.status, now.flag, now.support) == (IdeaStatus.NEW, "source message deleted", 1)


# -- downtime (last: it restarts the bot) ----------------------------------------------------------
async def test_catch_up_captures_messages_posted_while_the_bot_was_down(env: Env) -> None:
    c, d = env.community, env.driver
    xia, yan = await fresh_member(env, "Xia"), await fresh_member(env, "Yan")
    cog: Any = env.bot.get_cog("Ideas")
    await cog.flush_cursors()
    before = await idea_count(env)
    settings = env.bot.settings
    await d.stop_bot()
    missed = [
        await d.post(c.general, xia, "[idea] Snooze notifications for an hour"),
        await d.post(c.general, c.bob, "just chatting while the bot is away"),
        await d.post(c.general, yan, "[feedback] The new toolbar is hard to find"),
    ]
    env.bot = create_bot(settings)
    await d.start_bot(env.bot)
    for _ in range(2):
        await d.wait_for_message(c.ideas, predicate=lambda m: bool(m.embeds), timeout=10)
    ideas = env.bot.services.ideas
    first = await ideas.by_source(c.guild.id, missed[0].id)
    third = await ideas.by_source(c.guild.id, missed[2].id)
    assert first is not None and third is not None
    assert (first.author_id, third.kind) == (xia.id, "feedback")
    assert await ideas.by_source(c.guild.id, missed[1].id) is None
    assert await idea_count(env) == before + 2
    # Catching up again (another READY) captures nothing twice.
    await handlers_done(env)  # the first catch-up has moved the channel's cursor
    again: Any = env.bot.get_cog("Ideas")
    assert await again.catch_up(env.bot.get_guild(c.guild.id)) == 0
    assert await idea_count(env) == before + 2
    # Live capture works after the restart.
    live = await d.post(c.general, await fresh_member(env, "Zed"), "[idea] Archive old boards")
    await _captured(env, live)


async def test_capture_as_idea_works_without_the_message_content_intent(env: Env) -> None:
    """The bot restarts on the same database without the message-content intent."""
    c, d = env.community, env.driver
    settings = env.bot.settings.replace_section("discord", message_content_intent=False)
    await d.stop_bot()
    env.bot = create_bot(settings)
    await d.start_bot(env.bot)
    await handlers_done(env)
    before = await idea_count(env)
    ada = await fresh_member(env, "Ada")
    tagged = await d.post(c.general, ada, "[idea] Offline drafts\nKeep drafts on the device.")
    # Without the intent the bot never sees the text, so the tag cannot capture it...
    got = await env.bot.wait_for("message", check=lambda m: m.id == tagged.id, timeout=5)
    assert got.content == ""
    await handlers_done(env)
    assert await env.bot.services.ideas.by_source(c.guild.id, tagged.id) is None
    # ...but the context menu carries the message's content (through the similar-ideas
    # offer if the ideas stored so far make one).
    bea = await fresh_member(env, "Bea")
    found = await _menu_captured(env, bea, tagged)
    assert (found.title, found.body, found.author_id, found.contributors) == (
        "Offline drafts",
        "Keep drafts on the device.",
        ada.id,
        (bea.id,),
    )
    assert "Offline drafts" in embed_text(card(env, found))
    assert await idea_count(env) == before + 1


async def test_edits_the_bot_cannot_read_change_nothing(env: Env) -> None:
    """Last: without the message content intent Discord sends other members' messages
    empty, and an empty text must not wipe a forum post's idea."""
    d = env.driver
    settings = env.bot.settings
    await d.stop_bot()
    env.bot = create_bot(settings.replace_section("discord", message_content_intent=True))
    await d.start_bot(env.bot)
    await handlers_done(env)
    thread, starter, found = await _forum_captured(
        env, await fresh_member(env, "Rae"), "Board templates gallery", "Start from a template."
    )
    assert found.body == "Start from a template."
    await d.stop_bot()
    env.bot = create_bot(settings.replace_section("discord", message_content_intent=False))
    await d.start_bot(env.bot)
    await handlers_done(env)
    patches = patches_of(env, found.card_message_id)
    await _edit_seen(env, starter, "Start from a template, or blank.")
    await _rename_seen(env, thread, "A gallery of board templates")
    now = await idea(env, found.number)
    assert (now.title, now.body) == ("Board templates gallery", "Start from a template.")
    assert patches_of(env, found.card_message_id) == patches
