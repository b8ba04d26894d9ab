"""Ideas end to end: merge and unmerge, hide and block, and browsing (list, search, mine,
show, history, paging, autocomplete)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

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
    idea_count,
    publish,
    running_cocreate,
    votes,
)

from bot.domain.idea_model import IdeaDraft
from bot.domain.ideas import IdeaStatus

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLOCK = Clock()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("ideas-moderation") / "cocreate.db"
    async with running_cocreate(db_path, clock=CLOCK) as env:
        yield env


async def _contributors(env: Env, number: int) -> tuple[int, ...]:
    return (await idea(env, number)).contributors


def _thread_texts(env: Env, thread_id: int | None) -> list[str]:
    thread = env.driver.world.channels[thread_id or 0]
    return [
        m.content for m in env.driver.messages_in(thread) if m.author.id == env.driver.world.bot.id
    ]


# -- merge ---------------------------------------------------------------------------------------
async def test_merge_moves_votes_once_and_unmerge_restores_exactly(env: Env) -> None:
    c, d = env.community, env.driver
    ideas = env.bot.services.ideas
    source = await publish(env, c.alice, "Darker theme for night owls")
    target = await publish(env, c.bob, "Dark mode everywhere", contributors=(c.staffer.id,))
    g = c.guild.id
    for member, number in (
        (c.carol, source.number),
        (c.dave, source.number),
        (c.bob, source.number),  # the target's author: never a vote on their own idea
        (c.carol, target.number),  # already supports the target: counted once
        (c.mod, target.number),
    ):
        await ideas.vote(g, number, member.id, 1)
    await ideas.change_status(
        g, source.number, IdeaStatus.UNDER_REVIEW, None, c.mod.id, moderator=True
    )
    before = {
        "source_votes": await votes(env, source.number),
        "target_votes": await votes(env, target.number),
        "source_followers": await followers(env, source.number),
        "target_followers": await followers(env, target.number),
        "target_contributors": await _contributors(env, target.number),
    }
    await ideas.set_notifications(g, c.carol.id, True)
    d.mark_seen()

    answer = await reply_of(
        await d.slash(
            c.mod, "idea merge", channel=c.general, source=source.number, target=target.number
        )
    )
    assert answer.ephemeral and "1 vote(s) moved" in answer.content
    merged_target = await idea(env, target.number)
    assert await votes(env, target.number) == {c.carol.id: 1, c.mod.id: 1, c.dave.id: 1}
    assert (merged_target.support, merged_target.oppose) == (3, 0)
    assert await votes(env, source.number) == {}
    assert await followers(env, target.number) >= before["source_followers"]
    assert merged_target.contributors == (c.staffer.id, c.alice.id)
    merged_source = await idea(env, source.number)
    assert merged_source.status is IdeaStatus.DUPLICATE
    assert merged_source.merged_into == merged_target.id
    assert (merged_source.support, merged_source.oppose) == (0, 0)
    # The source's thread hears about it once, with the status it really had.
    said = await d.wait_for_message(d.world.channels[source.thread_id or 0])
    assert "Duplicate" in said.content and "Under review" in said.content
    assert said.mention_ids == [c.alice.id]
    told = await d.wait_for_dm(c.carol)  # a follower who opted in to DMs
    assert f"#{source.number}" in told.content and "Duplicate" in told.content
    await d.wait_for_edit(card(env, source), predicate=lambda m: "Duplicate" in embed_text(m))
    await d.wait_for_edit(card(env, target), predicate=lambda m: "👍 3" in embed_text(m))
    # A merged idea takes no votes.
    refused = await reply_of(
        await d.slash(c.carol, "idea show", channel=c.general, number=source.number)
    )
    assert "Duplicate" in embed_text(refused)

    undone = await reply_of(
        await d.slash(c.mod, "idea unmerge", channel=c.general, source=source.number)
    )
    assert undone.ephemeral and "separate" in undone.content
    after = {
        "source_votes": await votes(env, source.number),
        "target_votes": await votes(env, target.number),
        "source_followers": await followers(env, source.number),
        "target_followers": await followers(env, target.number),
        "target_contributors": await _contributors(env, target.number),
    }
    assert after == before
    restored = await idea(env, source.number)
    assert (restored.status, restored.merged_into, restored.support) == (
        IdeaStatus.UNDER_REVIEW,
        None,
        3,
    )
    assert (await idea(env, target.number)).support == 2
    await d.wait_for_edit(
        card(env, source),
        predicate=lambda m: "Under review" in embed_text(m) and "👍 3" in embed_text(m),
    )
    again = await reply_of(
        await d.slash(c.mod, "idea unmerge", channel=c.general, source=source.number)
    )
    assert "not merged" in again.content


async def test_members_cannot_merge(env: Env) -> None:
    c, d = env.community, env.driver
    one = await publish(env, c.alice, "Color-blind friendly labels")
    two = await publish(env, c.bob, "Accessible label colors")
    answer = await reply_of(
        await d.slash(
            c.carol, "idea merge", channel=c.general, source=one.number, target=two.number
        )
    )
    assert answer.ephemeral and "Only moderators" in answer.content
    assert (await idea(env, one.number)).merged_into is None


# -- hide ------------------------------------------------------------------------------------------
async def test_hide_removes_an_idea_from_lists_and_search_quietly_and_unhide_restores_it(
    env: Env,
) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Zeppelin delivery tracking", "spam spam spam")
    await env.bot.services.ideas.change_status(
        c.guild.id, found.number, IdeaStatus.PLANNED, "Maybe", c.mod.id, moderator=True
    )
    d.mark_seen()
    alice_dms, thread_said = len(dms_to(env, c.alice)), len(_thread_texts(env, found.thread_id))

    hidden = await reply_of(
        await d.slash(
            c.mod, "idea hide", channel=c.general, number=found.number, reason="Spam link"
        )
    )
    assert hidden.ephemeral and "hidden" in hidden.content
    now = await idea(env, found.number)
    assert (now.status, now.hidden_from) == (IdeaStatus.HIDDEN, IdeaStatus.PLANNED)
    await d.wait_for_message(c.modlog, predicate=lambda m: "idea.status" in str(m.embeds))
    edited = await d.wait_for_edit(card(env, found), predicate=lambda m: "Hidden" in embed_text(m))
    assert edited.components == []

    listed = embed_text(await reply_of(await d.slash(c.bob, "idea list", channel=c.general)))
    assert "Zeppelin" not in listed
    searched = embed_text(
        await reply_of(await d.slash(c.bob, "idea search", channel=c.general, query="zeppelin"))
    )
    assert "Zeppelin" not in searched and "0 idea(s)" in searched
    shown = await reply_of(
        await d.slash(c.bob, "idea show", channel=c.general, number=found.number)
    )
    assert f"There is no idea #{found.number} here." in shown.content
    assert len(dms_to(env, c.alice)) == alice_dms  # no notification of moderation
    assert len(_thread_texts(env, found.thread_id)) == thread_said

    back = await reply_of(
        await d.slash(c.mod, "idea unhide", channel=c.general, number=found.number)
    )
    assert "visible again" in back.content
    now = await idea(env, found.number)
    assert (now.status, now.status_reason) == (IdeaStatus.PLANNED, "Maybe")
    listed = embed_text(await reply_of(await d.slash(c.bob, "idea list", channel=c.general)))
    assert "Zeppelin" in listed
    searched = embed_text(
        await reply_of(await d.slash(c.bob, "idea search", channel=c.general, query="zeppelin"))
    )
    assert "Zeppelin" in searched
    assert len(dms_to(env, c.alice)) == alice_dms
    assert len(_thread_texts(env, found.thread_id)) == thread_said


# -- block -----------------------------------------------------------------------------------------
async def test_blocked_member_is_told_why_and_nothing_is_stored_until_unblocked(env: Env) -> None:
    c, d = env.community, env.driver
    troll = await fresh_member(env, "Troll")
    answer = await reply_of(
        await d.slash(
            c.mod, "idea block", channel=c.general, member=troll, reason="Flooding the board"
        )
    )
    assert answer.ephemeral and "until unblocked" in answer.content
    logged = await d.wait_for_message(c.modlog, predicate=lambda m: "idea.block" in str(m.embeds))
    assert "Flooding the board" in embed_text(logged)

    before = await idea_count(env)
    tagged = await d.post(c.general, troll, "[idea] Free pizza for everyone")
    await d.wait_for_reaction(tagged, "⚠️")
    dm = await d.wait_for_dm(troll)
    assert "Flooding the board" in dm.content
    assert await idea_count(env) == before
    opened = await d.slash(troll, "idea submit", channel=c.general)
    modal = (await opened.response()).modal
    assert modal is not None
    title_id = next(iter(modal.fields))
    refused = await reply_of(await d.submit_modal(troll, modal, {title_id: "Pizza again"}))
    assert refused.ephemeral and "Flooding the board" in refused.content
    assert await idea_count(env) == before

    await reply_of(await d.slash(c.mod, "idea unblock", channel=c.general, member=troll))
    again = await d.post(c.general, troll, "[idea] A quiet hours setting")
    await d.wait_for_message(c.general, predicate=lambda m: m.reference_id == again.id)
    assert await idea_count(env) == before + 1
    not_blocked = await reply_of(
        await d.slash(c.mod, "idea unblock", channel=c.general, member=troll)
    )
    assert "not blocked" in not_blocked.content


async def test_edit_by_the_author_while_new_and_by_moderators_later(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Smarter notifcations", "Fewer pings")
    denied = await reply_of(
        await d.slash(c.bob, "idea edit", channel=c.general, number=found.number)
    )
    assert denied.ephemeral and "Only the author" in denied.content

    opened = await d.slash(c.alice, "idea edit", channel=c.general, number=found.number)
    modal = (await opened.response()).modal
    assert modal is not None
    title_id, body_id = list(modal.fields)
    assert modal.fields[title_id]["value"] == "Smarter notifcations"
    saved = await reply_of(
        await d.submit_modal(
            c.alice, modal, {title_id: "Smarter notifications", body_id: "Fewer, better pings"}
        )
    )
    assert "updated" in saved.content
    await d.wait_for_edit(
        card(env, found), predicate=lambda m: "Smarter notifications" in embed_text(m)
    )
    await env.bot.services.ideas.change_status(
        c.guild.id, found.number, IdeaStatus.PLANNED, None, c.mod.id, moderator=True
    )
    late = await reply_of(
        await d.slash(c.alice, "idea edit", channel=c.general, number=found.number)
    )
    assert "Only the author" in late.content
    opened = await d.slash(c.mod, "idea edit", channel=c.general, number=found.number)
    modal = (await opened.response()).modal
    assert modal is not None
    title_id, body_id = list(modal.fields)
    assert modal.fields[body_id]["value"] == "Fewer, better pings"
    await reply_of(await d.submit_modal(c.mod, modal, {title_id: "Smarter notification settings"}))
    now = await idea(env, found.number)
    assert (now.title, now.body) == ("Smarter notification settings", "Fewer, better pings")
    history = await env.bot.services.ideas.history(c.guild.id, found.number, moderator=True)
    assert [e.kind for e in history[1]] == ["submitted", "edited", "status", "edited"]


# -- browsing --------------------------------------------------------------------------------------
async def test_browsing_lists_filters_sorts_pages_and_autocompletes(env: Env) -> None:
    c, d = env.community, env.driver
    ideas = env.bot.services.ideas
    g = c.guild.id
    reader = await fresh_member(env, "Reader")
    titles = [
        ("Quokka mode: a cheerful theme", "idea", ("theme",)),
        ("Quokka stickers in comments", "idea", ("fun",)),
        ("Quokka crash when pasting images", "bug", ("editor",)),
        ("Quokka onboarding checklist", "feedback", ("theme",)),
        ("Quokka keyboard cheatsheet", "idea", ()),
        ("Quokka weekly digest", "idea", ()),
        ("Quokka board templates", "idea", ()),
    ]
    numbers = []
    for i, (title, kind, tags) in enumerate(titles):
        author = reader if i == 0 else c.carol
        sub = await ideas.submit(
            IdeaDraft(g, author.id, title, "", kind=kind, tags=tags), check_rate=False
        )
        numbers.append(sub.idea.number)
    for voter in (c.alice, c.bob, c.mod):
        await ideas.vote(g, numbers[3], voter.id, 1)
    await ideas.vote(g, numbers[5], c.alice.id, 1)

    first = await reply_of(await d.slash(reader, "idea search", channel=c.general, query="quokka"))
    text = embed_text(first)
    assert "Page 1/2 · 7 idea(s)" in text
    assert text.count("Quokka") == 5
    next_id = next(
        b["custom_id"]
        for row in first.components
        for b in row["components"]
        if "Next" in b["label"]
    )
    paged = await d.click(reader, first, next_id)
    assert (await paged.response()).type == 6
    second = await paged.edited()
    assert "Page 2/2" in embed_text(second) and embed_text(second).count("Quokka") == 2
    prev_id = next(
        b["custom_id"]
        for row in second.components
        for b in row["components"]
        if "Previous" in b["label"]
    )
    assert prev_id.startswith("idea:page:search:1:")

    top = embed_text(await reply_of(await d.slash(reader, "idea list", channel=c.general)))
    assert top.index("Quokka onboarding checklist") < top.index("Quokka weekly digest")
    bugs = embed_text(
        await reply_of(await d.slash(reader, "idea list", channel=c.general, kind="bug"))
    )
    assert "Quokka crash when pasting images" in bugs and "1 idea(s)" in bugs
    themed = embed_text(
        await reply_of(await d.slash(reader, "idea list", channel=c.general, tag="theme"))
    )
    assert "2 idea(s)" in themed and "cheerful" in themed and "onboarding" in themed
    by_reader = embed_text(
        await reply_of(await d.slash(reader, "idea list", channel=c.general, author=reader))
    )
    assert "1 idea(s)" in by_reader and "cheerful" in by_reader
    newest = embed_text(
        await reply_of(await d.slash(reader, "idea list", channel=c.general, sort="new"))
    )
    assert newest.index("Quokka board templates") < newest.index("Quokka weekly digest")
    await ideas.change_status(g, numbers[2], IdeaStatus.PLANNED, None, c.mod.id, moderator=True)
    planned = embed_text(
        await reply_of(await d.slash(reader, "idea list", channel=c.general, status="planned"))
    )
    assert "Quokka crash when pasting images" in planned and planned.count("Quokka") == 1

    mine = embed_text(await reply_of(await d.slash(reader, "idea mine", channel=c.general)))
    assert "Your ideas" in mine and "1 idea(s)" in mine and "cheerful" in mine

    shown = embed_text(
        await reply_of(await d.slash(reader, "idea show", channel=c.general, number=numbers[3]))
    )
    assert "Quokka onboarding checklist" in shown and "👍 3" in shown and "Submitted" in shown
    history = embed_text(
        await reply_of(await d.slash(reader, "idea history", channel=c.general, number=numbers[2]))
    )
    assert "submitted" in history and "Planned" in history

    by_number = await d.autocomplete(reader, "idea show", "number", str(numbers[4]))
    assert [ch["value"] for ch in by_number] == [numbers[4]]
    by_word = await d.autocomplete(reader, "idea show", "number", "cheatsheet")
    assert [ch["value"] for ch in by_word] == [numbers[4]]
    recent = await d.autocomplete(reader, "idea status", "number", "")
    assert 0 < len(recent) <= 25 and all(isinstance(ch["value"], int) for ch in recent)


async def test_overdue_uses_the_guilds_response_target(env: Env) -> None:
    """Last: it moves the bot's clock four days ahead."""
    c, d = env.community, env.driver
    waiting = await publish(env, c.alice, "Overdue: offline search")
    answered = await publish(env, c.bob, "Overdue: answered already")
    await env.bot.services.ideas.change_status(
        c.guild.id, answered.number, IdeaStatus.UNDER_REVIEW, None, c.mod.id, moderator=True
    )
    CLOCK.advance(timedelta(days=4))

    async def overdue() -> str:
        return embed_text(await reply_of(await d.slash(c.mod, "idea overdue", channel=c.general)))

    assert f"#{waiting.number}" not in await overdue()  # the default target is 10 days
    await reply_of(
        await d.slash(
            c.mod, "config set", channel=c.general, key="ideas_response_target", value="3d"
        )
    )
    report = await overdue()
    assert "Overdue: offline search" in report and "answered already" not in report
    assert "after 3 days" in report or "3d" in report
    denied = await reply_of(await d.slash(c.bob, "idea overdue", channel=c.general))
    assert "Only moderators" in denied.content
