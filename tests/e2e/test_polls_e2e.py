"""Polls and outcome surveys end to end: the real bot in the sandbox, driven as members
and moderators do — create through the command and its form, vote with buttons and
selects, change a vote, rank, rate, close, read results with their chart, native polls,
anonymous ballots, ineligible members, bad input, and a close that fell due while the bot
was down."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import Clock, fresh_member, handlers_done, publish, running_cocreate

from bot.app import create_bot, create_services
from bot.sandbox import InteractionResult, Member, Message
from bot.sandbox.state import Channel, P

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLOCK = Clock()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("polls") / "cocreate.db"
    async with running_cocreate(db_path, clock=CLOCK) as env:
        yield env


async def create_poll(
    env: Env,
    who: Member,
    question: str,
    options: str,
    *,
    channel: Channel | None = None,
    command: str = "poll create",
    **slash: Any,
) -> InteractionResult:
    """``who`` runs ``/poll create`` with ``slash`` options and fills in its form."""
    d = env.driver
    opened = await d.slash(who, command, channel=channel or env.community.general, **slash)
    modal = (await opened.response()).modal
    assert modal is not None, "no form opened"
    question_field, options_field = list(modal.fields)
    return await d.submit_modal(who, modal, {question_field: question, options_field: options})


async def posted_poll(env: Env, question: str, channel: Channel | None = None) -> Message:
    return await env.driver.wait_for_message(
        channel or env.community.general, predicate=lambda m: question in embed_text(m)
    )


def poll_id_of(message: Message) -> int:
    title = str(message.embeds[0]["title"])
    return int(title.split("#", 1)[1].split(" ", 1)[0])


def custom_ids(message: Message) -> list[str]:
    return [
        child["custom_id"]
        for row in message.components
        for child in row.get("components", [])
        if child.get("custom_id")
    ]


async def ballots(env: Env, poll_id: int) -> list[tuple[str, str]]:
    rows = await env.bot.services.db.fetchall(
        "SELECT voter, answer FROM poll_ballots WHERE poll_id = ?", (poll_id,)
    )
    return [(str(r[0]), str(r[1])) for r in rows]


async def close_poll(env: Env, who: Member, poll_id: int) -> Message:
    """``who`` closes the poll; returns the results post."""
    c, d = env.community, env.driver
    answer = await reply_of(await d.slash(who, "poll close", channel=c.general, poll=poll_id))
    assert "closed" in answer.content, answer.content
    return await d.wait_for_message(
        predicate=lambda m: (
            f"Results · Poll #{poll_id}" in embed_text(m)
            or f"Results · Survey #{poll_id}" in embed_text(m)
        )
    )


# -- a single-choice poll, from creation to the results chart --------------------------------
async def test_create_vote_change_close_and_results_with_a_chart(env: Env) -> None:
    c, d = env.community, env.driver
    done = await create_poll(
        env, c.mod, "What should we build next?", "Dark mode\nOffline sync\nExport to PDF",
        duration="2d",
    )  # fmt: skip
    told = await reply_of(done)
    assert "Poll #" in told.content and told.ephemeral
    message = await posted_poll(env, "What should we build next?")
    poll_id = poll_id_of(message)
    assert custom_ids(message) == [f"poll:v:{poll_id}:{i}" for i in range(3)]

    vote = await reply_of(await d.click(c.alice, message, f"poll:v:{poll_id}:1"))
    assert vote.ephemeral and "**Offline sync**" in vote.content and "recorded" in vote.content
    changed = await reply_of(await d.click(c.alice, message, f"poll:v:{poll_id}:0"))
    assert "changed to **Dark mode**" in changed.content
    await reply_of(await d.click(c.bob, message, f"poll:v:{poll_id}:0"))
    await reply_of(await d.click(c.carol, message, f"poll:v:{poll_id}:2"))
    assert sorted(await ballots(env, poll_id)) == sorted(
        [(str(c.alice.id), "[0]"), (str(c.bob.id), "[0]"), (str(c.carol.id), "[2]")]
    )
    # Live results: the poll message shows the counts (one coalesced edit).
    await d.wait_for_edit(message, predicate=lambda m: "3 ballot(s)" in embed_text(m))

    results = await close_poll(env, c.mod, poll_id)
    text = embed_text(results)
    assert "Dark mode — 2 (67 %)" in text and "Winner: **Dark mode**" in text
    assert results.attachments and results.attachments[0].data.startswith(PNG_SIGNATURE)
    assert results.reference_id == message.id
    # The poll message shows it closed, without buttons; voting is over.
    closed = await d.wait_for_edit(message, predicate=lambda m: not m.components)
    assert "Closed" in embed_text(closed)
    with pytest.raises(Exception, match="no such component"):
        await d.click(c.dave, closed, f"poll:v:{poll_id}:1")
    # Participation points, once per member.
    assert (await env.bot.services.points.totals(c.guild.id, c.alice.id))[0] >= 1


async def test_voting_after_close_and_closing_twice_are_refused(env: Env) -> None:
    c, d = env.community, env.driver
    await reply_of(await create_poll(env, c.mod, "Closed soon?", "Yes\nNo", duration="1d"))
    message = await posted_poll(env, "Closed soon?")
    poll_id = poll_id_of(message)
    stale = copy.copy(message)  # the buttons as a member's client still shows them
    await close_poll(env, c.mod, poll_id)
    late = await reply_of(await d.click(c.alice, stale, f"poll:v:{poll_id}:0"))
    assert "closed" in late.content and late.ephemeral
    again = await reply_of(await d.slash(c.mod, "poll close", channel=c.general, poll=poll_id))
    assert "closed already" in again.content
    assert await ballots(env, poll_id) == []


# -- who may vote and who may create ---------------------------------------------------------
async def test_an_ineligible_member_is_told_and_nothing_is_stored(env: Env) -> None:
    c, d = env.community, env.driver
    await reply_of(
        await create_poll(
            env, c.mod, "Staff only: which sprint?", "This one\nNext one", duration="1d",
            eligible_role=c.staff_role,
        )
    )  # fmt: skip
    message = await posted_poll(env, "Staff only: which sprint?")
    poll_id = poll_id_of(message)
    refused = await reply_of(await d.click(c.alice, message, f"poll:v:{poll_id}:0"))
    assert refused.ephemeral and "role" in refused.content
    assert await ballots(env, poll_id) == []
    await reply_of(await d.click(c.staffer, message, f"poll:v:{poll_id}:0"))
    assert [v for v, _ in await ballots(env, poll_id)] == [str(c.staffer.id)]


async def test_a_member_without_the_creator_role_cannot_create(env: Env) -> None:
    c, d = env.community, env.driver
    refused = await reply_of(
        await d.slash(c.alice, "poll create", channel=c.general, duration="1d")
    )
    assert refused.ephemeral and "create polls" in refused.content
    await env.bot.services.guild_settings.set_values(
        c.guild.id, {"polls_creator_roles": [c.staff_role.id]}, c.mod.id
    )
    try:
        done = await create_poll(env, c.staffer, "Staff may ask too?", "Yes\nNo", duration="1d")
        assert "Poll #" in (await reply_of(done)).content
    finally:
        await env.bot.services.guild_settings.reset(c.guild.id, "polls_creator_roles", c.mod.id)


async def test_a_channel_where_the_bot_or_the_member_cannot_post_is_refused(env: Env) -> None:
    """The poll goes to the channel the command is used in (or its `channel` option)."""
    c, d = env.community, env.driver
    created = asyncio.ensure_future(env.bot.wait_for("guild_channel_create", timeout=5))
    quiet = d.add_text_channel(c.guild, "no-files")
    await created
    updated = asyncio.ensure_future(env.bot.wait_for("guild_channel_update", timeout=5))
    d.set_overwrite(quiet, d.bot_role(c.guild), deny=P.ATTACH_FILES)
    await updated
    refused = await reply_of(await d.slash(c.mod, "poll create", channel=quiet, duration="1d"))
    assert refused.ephemeral and "I cannot attach charts" in refused.content
    # A poll creator who may read a channel but not post in it cannot poll there either.
    updated = asyncio.ensure_future(env.bot.wait_for("guild_channel_update", timeout=5))
    d.set_overwrite(c.announcements, c.staff_role, deny=P.SEND_MESSAGES)
    await updated
    await env.bot.services.guild_settings.set_values(
        c.guild.id, {"polls_creator_roles": [c.staff_role.id]}, c.mod.id
    )
    try:
        answer = await reply_of(
            await d.slash(c.staffer, "poll create", channel=c.announcements, duration="1d")
        )
        assert answer.ephemeral and "You cannot post in" in answer.content
    finally:
        await env.bot.services.guild_settings.reset(c.guild.id, "polls_creator_roles", c.mod.id)


@pytest.mark.parametrize(
    ("options", "duration", "expected"),
    [
        ("Only one", "1d", "at least 2 options"),
        ("Same\nsame", "1d", "are the same"),
        ("Short\n" + "x" * 80 + "y", "1d", "at most 80"),
        ("A\nB", "2020-01-01 10:00", "in the past"),
        ("A\nB", "60d", "at most 4w 2d"),
    ],
)
async def test_bad_input_gets_a_clear_ephemeral_error_and_stores_nothing(
    env: Env, options: str, duration: str, expected: str
) -> None:
    c = env.community
    before = await env.bot.services.db.fetchval("SELECT count(*) FROM polls")
    done = await create_poll(env, c.mod, "Bad input?", options, duration=duration)
    answer = await reply_of(done)
    assert answer.ephemeral and expected in answer.content, answer.content
    assert await env.bot.services.db.fetchval("SELECT count(*) FROM polls") == before


# -- anonymous, multi and ranked --------------------------------------------------------------
async def test_anonymous_ballots_hold_no_member_id(env: Env) -> None:
    c, d = env.community, env.driver
    await reply_of(
        await create_poll(
            env, c.mod, "Be honest: is the editor slow?", "Yes\nNo\nSometimes", duration="1d",
            anonymous=True,
        )
    )  # fmt: skip
    message = await posted_poll(env, "Be honest: is the editor slow?")
    poll_id = poll_id_of(message)
    for who, option in ((c.alice, 0), (c.bob, 2), (c.alice, 1)):
        answer = await reply_of(await d.click(who, message, f"poll:v:{poll_id}:{option}"))
        assert "anonymous" in answer.content
    stored = await ballots(env, poll_id)
    assert len(stored) == 2
    for member in (c.alice, c.bob):
        assert all(str(member.id) not in voter for voter, _ in stored)
    await close_poll(env, c.mod, poll_id)
    assert (
        await env.bot.services.db.fetchval("SELECT ballot_key FROM polls WHERE id = ?", (poll_id,))
        is None
    )
    export = await reply_of(await d.slash(c.mod, "poll export", channel=c.general, poll=poll_id))
    assert "cannot be exported" in export.content


async def test_a_multi_choice_poll_takes_several_picks_and_exports_named_ballots(
    env: Env,
) -> None:
    c, d = env.community, env.driver
    await reply_of(
        await create_poll(
            env, c.mod, "Which platforms do you use?", "Web\nWindows\nmacOS\nAndroid",
            duration="1d", mode="multi", max_picks=2,
        )
    )  # fmt: skip
    message = await posted_poll(env, "Which platforms do you use?")
    poll_id = poll_id_of(message)
    answer = await reply_of(await d.select(c.alice, message, f"poll:m:{poll_id}", ["3", "0"]))
    assert "**Web**, **Android**" in answer.content
    export = await reply_of(await d.slash(c.mod, "poll export", channel=c.general, poll=poll_id))
    assert export.attachments[0].data.decode().splitlines() == [
        "member_id,choice_1,choice_2",
        f"{c.alice.id},Web,Android",
    ]


async def test_a_ranked_ballot_is_made_with_successive_selects(env: Env) -> None:
    c, d = env.community, env.driver
    await reply_of(
        await create_poll(
            env, c.mod, "Order the roadmap", "Search\nTemplates\nComments", duration="1d",
            mode="ranked",
        )
    )  # fmt: skip
    message = await posted_poll(env, "Order the roadmap")
    poll_id = poll_id_of(message)
    assert custom_ids(message) == [f"poll:r:{poll_id}"]
    step = await reply_of(await d.click(c.alice, message, f"poll:r:{poll_id}"))
    assert step.ephemeral and "1st choice" in step.content
    first = await d.select(c.alice, step, f"poll:rk:{poll_id}:", ["2"])
    step = await first.edited() if (await first.response()).type != 7 else step
    assert "2nd choice" in step.content and "1. Comments" in step.content
    second = await d.select(c.alice, step, f"poll:rk:{poll_id}:2", ["0"])
    await second.response()
    assert f"poll:rs:{poll_id}:2.0" in custom_ids(step)
    last = await d.select(c.alice, step, f"poll:rk:{poll_id}:2.0", ["1"])
    confirmed = await reply_of(last)
    assert "1. **Comments**, 2. **Search**, 3. **Templates**" in confirmed.content
    # Bob submits a partial ranking with the button.
    step = await reply_of(await d.click(c.bob, message, f"poll:r:{poll_id}"))
    await (await d.select(c.bob, step, f"poll:rk:{poll_id}:", ["1"])).response()
    partial = await reply_of(await d.click(c.bob, step, f"poll:rs:{poll_id}:1"))
    assert "1. **Templates**" in partial.content
    results = await close_poll(env, c.mod, poll_id)
    assert "Round 1" in embed_text(results) and results.attachments


# -- native polls ------------------------------------------------------------------------------
async def test_a_native_poll_is_posted_counted_and_closed(env: Env) -> None:
    c, d = env.community, env.driver
    refused = await reply_of(
        await create_poll(env, c.mod, "Native anonymous?", "A\nB", duration="1d", native=True,
                          anonymous=True)
    )  # fmt: skip
    assert "native poll cannot" in refused.content
    await reply_of(
        await create_poll(env, c.mod, "Lunch on Friday?", "Pizza\nSushi", duration="90m",
                          native=True)
    )  # fmt: skip
    message = await d.wait_for_message(
        c.general, predicate=lambda m: m.poll is not None and m.poll.question == "Lunch on Friday?"
    )
    poll = await env.bot.services.polls.by_message(message.id)
    assert poll is not None and poll.native
    assert poll.closes_at - poll.created_at == timedelta(hours=2)  # whole hours
    before = (await env.bot.services.points.totals(c.guild.id, c.carol.id))[0]
    last_seen = asyncio.ensure_future(
        env.bot.wait_for("raw_poll_vote_add", check=lambda p: p.user_id == c.alice.id, timeout=5)
    )
    await d.vote(message, c.carol, "Sushi")
    await d.vote(message, c.bob, "Sushi")
    await d.vote(message, c.alice, "Pizza")
    await last_seen  # events arrive in order: every vote has reached the bot
    await handlers_done(env)
    assert (await env.bot.services.points.totals(c.guild.id, c.carol.id))[0] == before + 1
    results = await close_poll(env, c.mod, poll.id)
    assert "Sushi — 2 (67 %)" in embed_text(results)
    assert message.poll is not None and message.poll.finalized


# -- outcome surveys ---------------------------------------------------------------------------
async def test_a_survey_is_rated_resumed_and_scored_after_the_minimum(env: Env) -> None:
    c, d = env.community, env.driver
    await env.bot.services.guild_settings.set_values(
        c.guild.id, {"polls_min_survey_responses": 2}, c.mod.id
    )
    await reply_of(
        await create_poll(
            env, c.mod, "Working with boards",
            "Minimize the time it takes to find a board\nMinimize lost edits when offline",
            command="survey create", duration="3d",
        )
    )  # fmt: skip
    message = await d.wait_for_message(
        c.general, predicate=lambda m: "Survey #" in embed_text(m) and "boards" in embed_text(m)
    )
    poll_id = poll_id_of(message)
    raters = [c.alice, c.bob, await fresh_member(env, "Rater")]
    for n, who in enumerate(raters):
        step = await reply_of(await d.click(who, message, f"poll:q:{poll_id}"))
        assert "outcome 1 of 2" in step.content
        for index, (imp, sat) in enumerate(((5, 1), (2, 5))):
            if n == 1 and index == 1:
                # Bob leaves after the first outcome and resumes where he left.
                step = await reply_of(await d.click(who, message, f"poll:q:{poll_id}"))
                assert "outcome 2 of 2" in step.content
            for what, value in (("i", imp), ("s", sat)):
                rated = await d.select(who, step, f"poll:qr:{poll_id}:{index}:{what}", [str(value)])
                await rated.response()
                shown = {"i": f"you? **{value}** ·", "s": "Thank you" if index else "outcome 2"}
                await d.wait_for_edit(step, predicate=lambda m, t=shown[what]: t in m.content)
        assert "Thank you" in step.content
    results = await close_poll(env, c.mod, poll_id)
    text = embed_text(results)
    assert "**20.0** (extreme)" in text and "3 complete response(s)" in text
    assert results.attachments and results.attachments[0].data.startswith(PNG_SIGNATURE)


# -- a poll over ideas -------------------------------------------------------------------------
async def test_a_poll_over_ideas_posts_in_their_threads_and_plans_the_winner(env: Env) -> None:
    c, d = env.community, env.driver
    first = await publish(env, c.alice, "Keyboard shortcuts for boards")
    second = await publish(env, c.bob, "Calendar view of due dates")
    told = await reply_of(
        await d.slash(
            c.mod, "poll ideas", channel=c.general, duration="1d", mode="single",
            numbers=f"{first.number} {second.number}",
        )
    )  # fmt: skip
    assert "Poll #" in told.content
    message = await posted_poll(env, "Which idea should we build next?")
    poll_id = poll_id_of(message)
    for who in (c.carol, c.dave):
        await reply_of(await d.click(who, message, f"poll:v:{poll_id}:1"))
    results = await close_poll(env, c.mod, poll_id)
    assert second.thread_id is not None
    thread = d.world.channels[second.thread_id]
    won = await d.wait_for_message(thread, contains="won poll")
    assert f"#{poll_id}" in won.content
    plan = f"poll:plan:{poll_id}:{second.number}"
    assert plan in custom_ids(results)
    done = await reply_of(await d.click(c.mod, results, plan))
    assert "planned" in done.content
    idea = await env.bot.services.ideas.get(c.guild.id, second.number)
    assert idea.status.value == "planned"
    _, events = await env.bot.services.ideas.history(c.guild.id, first.number, moderator=True)
    assert any(e.kind == "poll" for e in events)


# -- downtime (last: it replaces the bot) --------------------------------------------------------
async def test_a_poll_due_while_the_bot_was_down_closes_once_at_start_with_a_note(
    env: Env,
) -> None:
    c, d = env.community, env.driver
    await reply_of(await create_poll(env, c.mod, "Closes while down?", "Yes\nNo", duration="12h"))
    message = await posted_poll(env, "Closes while down?")
    await reply_of(await create_poll(env, c.mod, "Reminded later?", "Yes\nNo", duration="1d"))
    later = await posted_poll(env, "Reminded later?")
    poll_id = poll_id_of(message)
    await reply_of(await d.click(c.alice, message, f"poll:v:{poll_id}:1"))
    settings = env.bot.settings
    await d.stop_bot()
    CLOCK.advance(timedelta(hours=13))
    env.bot = create_bot(settings, create_services(settings, clock=CLOCK))
    await d.start_bot(env.bot)
    results = await d.wait_for_message(
        c.general, predicate=lambda m: f"Results · Poll #{poll_id}" in embed_text(m), timeout=10
    )
    text = embed_text(results)
    assert "Closed late" in text and "No — 1 (100 %)" in text
    # Its reminder fell due while the bot was down too, but the close came first: none.
    assert not [
        m for m in d.messages_in(c.general) if "⏰ Poll" in m.content and "down?" in m.content
    ]
    closed = await d.wait_for_edit(message, predicate=lambda m: not m.components, timeout=10)
    assert "Closed" in embed_text(closed)
    # Once: a second restart posts nothing more. By then the other poll is an hour from
    # its close (23.5 h of 24): its reminder is posted, linking to it.
    await d.stop_bot()
    CLOCK.advance(timedelta(hours=10, minutes=30))
    env.bot = create_bot(settings, create_services(settings, clock=CLOCK))
    await d.start_bot(env.bot)
    reminder = await d.wait_for_message(c.general, contains="Reminded later?", timeout=10)
    assert "Reminded later?" in reminder.content and str(later.id) in reminder.content
    await handlers_done(env)
    posts = [m for m in d.messages_in(c.general) if f"Results · Poll #{poll_id}" in embed_text(m)]
    assert len(posts) == 1
