"""Challenges end to end, as moderators, members and judges do them in Discord: a challenge
created with its options and form and announced as a forum post with a **Submit an idea**
button; three ideas (the button and ``/idea submit challenge:``); stages told to authors;
two judges' scorecards; a mentor's private thread; the windows closing on the bot's clock
with the crowd's wildcard; a winner, the published results and the rewards. Then bad
input: each refused with an ephemeral error, nothing changed.

Time moves with the bot's clock (``Clock``); window ends run when the test runs the due
timers, as the scheduler would, so nothing here waits for real time to pass."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import Clock, dms_to, running_cocreate

from bot.demo.community import Community
from bot.domain.challenges import Phase, Stage
from bot.sandbox import ApiError, Channel, ChannelType, Driver, Member, Message, Role

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="function")]

DAY = timedelta(days=1)
WORLD: dict[str, Any] = {}


def _add_judges(driver: Driver, community: Community) -> None:
    judges: Role = driver.add_role(community.guild, "Judges")
    WORLD["judges_role"] = judges
    WORLD["forum"] = driver.add_forum(community.guild, "challenges")
    WORLD["champions"] = driver.add_role(community.guild, "Champions")
    WORLD["judge1"] = driver.add_member(community.guild, "Jude (judge)", roles=[judges])
    WORLD["judge2"] = driver.add_member(community.guild, "Jo (judge)", roles=[judges])


@contextlib.asynccontextmanager
async def _running(tmp_path: Path, clock: Clock) -> AsyncIterator[Env]:
    async with running_cocreate(
        tmp_path / "challenges.db", clock=clock, before_start=_add_judges
    ) as env:
        await env.bot.services.guild_settings.set_values(
            env.community.guild.id,
            {"judge_roles": [WORLD["judges_role"].id]},
            env.community.owner.id,
        )
        yield env


async def _create(env: Env, **options: Any) -> Message:
    """Mona (moderator) creates a challenge: options, then the form; her answer."""
    d, c = env.driver, env.community
    values: dict[str, Any] = {
        "title": "Onboarding in one evening",
        "submission_end": "in 1d",
        "screening_end": "in 2d",
        "shortlist_end": "in 3d",
        "judging_end": "in 4d",
        "criteria": "Impact:3; Feasibility:2; Fit:1",
        "finalist_points": 30,
        "winner_points": 120,
        **options,
    }
    opened = await d.slash(c.mod, "challenge create", channel=c.staff, **values)
    form = await opened.response()
    if form.modal is None:
        return await reply_of(opened)
    assert set(form.modal.fields) == {"problem", "good_answer"}
    submitted = await d.submit_modal(
        c.mod,
        form,
        {
            "problem": "New members give up before their first contribution.",
            "good_answer": "Something we can try within a month, with a way to measure it.",
        },
    )
    return await reply_of(submitted)


async def _fill_idea(env: Env, member: Member, opened: Any, title: str) -> Message:
    form = await opened.response()
    assert form.modal is not None, form
    title_id, body_id = list(form.modal.fields)
    return await reply_of(
        await env.driver.submit_modal(member, form, {title_id: title, body_id: "Details."})
    )


async def _idea_number(answer: Message) -> int:
    assert "Your idea is #" in answer.content, answer.content
    return int(answer.content.split("Your idea is #", 1)[1].split(".", 1)[0])


async def _vote(env: Env, member: Member, number: int) -> None:
    idea = await env.bot.services.ideas.get(env.community.guild.id, number)
    assert idea.card_message_id is not None
    card = env.driver.world.messages[idea.card_message_id]
    await reply_of(await env.driver.click(member, card, f"idea:vote:{number}:up"))


async def _slash(env: Env, who: Member, command: str, /, **options: Any) -> Message:
    return await reply_of(
        await env.driver.slash(who, command, channel=env.community.general, **options)
    )


async def _score(
    env: Env, judge: Member, number: int, scores: list[str], note: str = ""
) -> Message:
    opened = await env.driver.slash(
        judge, "challenge score", channel=env.community.general, idea=number
    )
    form = await opened.response()
    if form.modal is None:
        return await reply_of(opened)
    assert list(form.modal.fields) == ["score0", "score1", "score2", "note"]
    values = {f"score{i}": s for i, s in enumerate(scores)}
    values["note"] = note
    return await reply_of(await env.driver.submit_modal(judge, form, values))


async def _run_windows(env: Env, clock: Clock, delta: timedelta) -> None:
    clock.advance(delta)
    await env.bot.services.timers.run_due()


async def _count(env: Env, table: str) -> int:
    row = await env.bot.services.db.fetchone(f"SELECT count(*) FROM {table}")
    assert row is not None
    return int(row[0])


def _bot_texts(env: Env, channel: Channel) -> list[str]:
    return [
        env.driver.world.describe_message(m)
        for m in env.driver.messages_in(channel)
        if m.author.id == env.driver.world.bot.id
    ]


async def test_a_challenge_with_three_ideas_two_judges_a_mentor_a_wildcard_and_a_winner(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        services = env.bot.services
        g = c.guild.id
        forum: Channel = WORLD["forum"]
        judge1: Member = WORLD["judge1"]
        judge2: Member = WORLD["judge2"]

        # 1. Create: options, then the form; announced as a forum post with the button.
        answer = await _create(env, forum=forum)
        assert answer.ephemeral and "Challenge #1" in answer.content
        thread = await d.wait_for_thread(forum)
        post = d.world.messages[thread.id]
        assert "Onboarding in one evening" in embed_text(post)
        assert "Impact ×3 · Feasibility ×2 · Fit ×1" in embed_text(post)
        assert post.button("challenge:submit:1") is not None

        # 2. Three ideas: two with the button, one with /idea submit challenge:.
        a = await _idea_number(
            await _fill_idea(
                env,
                c.alice,
                await d.click(c.alice, post, "challenge:submit:1"),
                "A buddy for each newcomer",
            )
        )
        b = await _idea_number(
            await _fill_idea(
                env,
                c.bob,
                await d.slash(c.bob, "idea submit", channel=c.general, challenge=1),
                "A printable first-week checklist",
            )
        )
        carol_idea = await _idea_number(
            await _fill_idea(
                env,
                c.carol,
                await d.click(c.carol, post, "challenge:submit:1"),
                "Friday office hours with maintainers",
            )
        )
        view = await services.challenges.view(g, 1, staff=True)
        assert sorted(e.number for e in view.entries) == sorted([a, b, carol_idea])
        assert all(e.stage is Stage.SUBMITTED for e in view.entries)

        # Choosing a challenge and its ideas: autocomplete offers what is running.
        offered = await d.autocomplete(c.bob, "idea submit", "challenge", "onboard")
        assert [o["value"] for o in offered] == [1]
        offered = await d.autocomplete(c.mod, "challenge stage", "idea", "buddy")
        assert [o["value"] for o in offered] == [a] and "Submitted" in offered[0]["name"]

        # The crowd prefers Carol's idea; Bob likes Alice's.
        for voter in (c.dave, c.owner, c.staffer):
            await _vote(env, voter, carol_idea)
        await _vote(env, c.bob, a)

        # 3. Stages: the author hears of each change by DM and in the idea's thread.
        for n in (a, b, carol_idea):
            said = await _slash(env, c.mod, "challenge stage", idea=n, stage="screened")
            assert said.ephemeral and "Screened" in said.content
        # Bob voted for Alice's idea (voters follow) and wants followers' DMs.
        await _slash(env, c.bob, "idea notifications", setting="on")
        await _slash(env, c.mod, "challenge stage", idea=a, stage="shortlisted")
        dm = await d.wait_for_dm(c.alice, predicate=lambda m: "Shortlisted" in m.content)
        assert "Challenge #1" in dm.content
        follower = await d.wait_for_dm(c.bob, predicate=lambda m: "ideas you follow" in m.content)
        assert f"#{a}" in follower.content and "🔎 Screened → 📋 Shortlisted" in follower.content
        await _slash(env, c.mod, "challenge stage", idea=b, stage="shortlisted")
        await _slash(env, c.mod, "challenge stage", idea=carol_idea, stage="not_selected")

        # 4. Two judges score the shortlist; private until published.
        said = await _score(env, judge1, a, ["5", "4", "3"], "Cheap to try")
        assert said.ephemeral and "scorecard for idea" in said.content
        await _score(env, judge2, a, ["4", "4", "4"])
        await _score(env, judge1, b, ["2", "3", "5"])
        await _score(env, judge2, b, ["3", "2", "2"])
        board = await _slash(env, c.alice, "challenge leaderboard", challenge=1)
        assert "private until the results are published" in embed_text(board)
        assert "⭐" not in embed_text(board)
        cards = await _slash(env, c.mod, "challenge scorecards", idea=a)
        assert cards.ephemeral and "Cheap to try" in embed_text(cards)
        assert f"<@{judge1.id}>: Impact 5 · Feasibility 4 · Fit 3 → **4.33**" in embed_text(cards)
        refused = await _slash(env, judge1, "challenge scorecards", idea=a)
        assert refused.ephemeral and "Only moderators" in refused.content
        staff_view = await _slash(env, c.mod, "challenge show", challenge=1)
        assert "⭐ 4.17 (2 judges)" in embed_text(staff_view)  # ((26 / 6) + 4) / 2

        # 5. A mentor: a private thread with the author and the mentor.
        said = await _slash(env, c.mod, "challenge mentor", idea=a, member=c.staffer)
        assert said.ephemeral and "mentors idea" in said.content
        mentoring = await d.wait_for_thread(
            c.ideas, predicate=lambda t: t.type is ChannelType.PRIVATE_THREAD
        )
        welcome = await d.wait_for_message(mentoring, contains="mentors idea")
        assert {c.alice.id, c.staffer.id} <= mentoring.member_ids
        assert c.bob.id not in mentoring.member_ids
        await d.post(mentoring, c.alice, "Thanks! Where do I start?")
        with pytest.raises(ApiError):  # private: Bob cannot even see it
            await d.post(mentoring, c.bob, "Can I join?")
        assert f"<@{c.alice.id}>" in welcome.content

        await _slash(env, c.mod, "challenge stage", idea=a, stage="finalist")

        # 6. Every window closes on schedule, once; judging's close brings the wildcard.
        await _run_windows(env, clock, DAY + timedelta(minutes=1))
        closed = await d.wait_for_message(thread, contains="submissions are closed")
        assert closed is not None
        button = d.world.messages[post.id].button("challenge:submit:1")  # edited before
        assert button is not None and button.get("disabled") is True
        refused = await _slash(env, c.dave, "idea submit", challenge=1)
        assert refused.ephemeral and "not taking ideas" in refused.content
        await _run_windows(env, clock, 3 * DAY)
        await _run_windows(env, clock, timedelta(minutes=1))  # later windows, in order
        judged = await d.wait_for_message(thread, contains="judging is closed")
        assert "wildcard" in judged.content and f"#{carol_idea}" in judged.content
        texts = _bot_texts(env, thread)
        assert sum("submissions are closed" in t for t in texts) == 1
        assert sum("judging is closed" in t for t in texts) == 1
        wild = await services.challenges.view(g, 1, staff=True)
        carol_entry = next(e for e in wild.entries if e.number == carol_idea)
        assert carol_entry.stage is Stage.FINALIST and carol_entry.wildcard
        late = await _score(env, judge2, a, ["1", "1", "1"])
        assert late.ephemeral and "closed" in late.content

        # 7. A winner; the results are published, crediting winner and finalists.
        early = await _slash(env, c.mod, "challenge publish", challenge=1)
        assert early.ephemeral and "winner first" in early.content
        await _slash(env, c.mod, "challenge stage", idea=a, stage="winner")
        said = await _slash(env, c.mod, "challenge publish", challenge=1)
        assert said.ephemeral and "published" in said.content
        results = await d.wait_for_message(thread, contains="Results of")
        assert f"🥇 Winner: **#{a}" in results.content
        assert f"#{carol_idea}" in results.content and "wildcard" in results.content
        assert "⭐" in embed_text(results)
        assert set(results.mention_ids) >= {c.alice.id, c.carol.id}
        assert [a.filename for a in results.attachments] == ["challenge-results.png"]
        assert results.attachments[0].data.startswith(b"\x89PNG")
        public = await _slash(env, c.bob, "challenge leaderboard", challenge=1)
        assert "⭐ 4.17" in embed_text(public) and "👍" in embed_text(public)
        assert (await services.challenges.get(g, 1)).phase is Phase.PUBLISHED

        # 8. Rewards through the points service, once; reward roles follow the totals.
        champions: Role = WORLD["champions"]
        await services.guild_settings.set_values(
            g, {"points_role_rewards": [f"100:{champions.id}"]}, c.owner.id
        )
        await services.timers.run_due()
        await d.wait_for_role_change(c.alice, champions, added=True)
        await services.timers.run_due()
        paid = await services.db.fetchall(
            "SELECT member_id, delta, kind FROM points_ledger WHERE guild_id = ? "
            "AND source_kind = 'challenge' ORDER BY delta DESC",
            (g,),
        )
        assert [tuple(r) for r in paid] == [
            (c.alice.id, 120, "challenge_winner"),
            (c.carol.id, 30, "challenge_finalist"),
        ]
        assert any("Winner" in m.content for m in dms_to(env, c.alice))


async def test_bad_input_is_refused_with_an_ephemeral_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        for options, says in (
            ({"criteria": "Impact:3; Fit:0"}, "positive"),
            ({"criteria": "Impact:-1"}, "positive"),
            ({"criteria": "A:1; B:1; C:1; D:1; E:1"}, "At most 4"),
            ({"screening_end": "in 12h"}, "screening end must come after"),
            ({"judging_end": "in 2d"}, "judging end must come after"),
        ):
            refused = await _create(env, **options)
            assert refused.ephemeral and says in refused.content, (options, refused.content)
        assert await _count(env, "challenges") == 0

        # Only moderators create.
        opened = await d.slash(
            c.alice,
            "challenge create",
            channel=c.general,
            title="Mine",
            submission_end="in 1d",
            screening_end="in 2d",
            shortlist_end="in 3d",
            judging_end="in 4d",
            criteria="Impact:1",
        )
        assert "Only moderators" in (await reply_of(opened)).content
        assert await _count(env, "challenges") == 0

        await _create(env)
        post = await d.wait_for_message(c.announcements, contains="New challenge")
        number = await _idea_number(
            await _fill_idea(
                env, c.alice, await d.click(c.alice, post, "challenge:submit:1"), "Welcome bot"
            )
        )
        # A non-judge cannot score; a judge's score outside 1–5 stores nothing.
        refused = await _slash(env, c.bob, "challenge score", idea=number)
        assert refused.ephemeral and "Only judges" in refused.content
        refused = await _score(env, WORLD["judge1"], number, ["6", "3", "3"])
        assert refused.ephemeral and "from 1 to 5" in refused.content
        refused = await _score(env, WORLD["judge1"], number, ["0", "3", "3"])
        assert refused.ephemeral and "from 1 to 5" in refused.content
        assert await _count(env, "challenge_scores") == 0
        # A stage skipped is refused.
        refused = await _slash(env, c.mod, "challenge stage", idea=number, stage="finalist")
        assert refused.ephemeral and "one stage at a time" in refused.content

        # After the submission end: the button and the command refuse; nothing is stored.
        ideas = await _count(env, "ideas")
        clock.advance(DAY + timedelta(minutes=1))
        refused = await reply_of(await d.click(c.bob, post, "challenge:submit:1"))
        assert refused.ephemeral and "not taking ideas" in refused.content
        refused = await _slash(env, c.bob, "idea submit", challenge=1)
        assert refused.ephemeral and "not taking ideas" in refused.content
        assert await _count(env, "ideas") == ideas
        assert await _count(env, "challenge_entries") == 1
        assert len(_bot_texts(env, c.announcements)) == 1


async def test_an_ideas_challenge_is_on_its_card_in_idea_show_and_in_the_list_filter(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        ideas = env.bot.services.ideas
        answer = await _create(env)
        assert answer.ephemeral and "Challenge #1" in answer.content
        a = await _idea_number(
            await _fill_idea(
                env,
                c.alice,
                await d.slash(c.alice, "idea submit", channel=c.general, challenge=1),
                "A buddy for each newcomer",
            )
        )
        plain = await _idea_number(
            await _fill_idea(
                env,
                c.bob,
                await d.slash(c.bob, "idea submit", channel=c.general),
                "Darker code blocks",
            )
        )
        found = await ideas.get(c.guild.id, a)
        assert found.card_message_id is not None
        card = d.world.messages[found.card_message_id]
        assert "🏁 #1 · Onboarding in one evening — 📥 Submitted" in embed_text(card)
        other = await ideas.get(c.guild.id, plain)
        assert other.card_message_id is not None
        assert "🏁" not in embed_text(d.world.messages[other.card_message_id])

        # A stage change edits the card.
        said = await _slash(env, c.mod, "challenge stage", idea=a, stage="screened")
        assert said.ephemeral and "Screened" in said.content
        edited = await d.wait_for_edit(card, predicate=lambda m: "🔎 Screened" in embed_text(m))
        assert "🏁 #1 · Onboarding in one evening" in embed_text(edited)

        shown = await _slash(env, c.bob, "idea show", number=a)
        assert "🏁 #1 · Onboarding in one evening — 🔎 Screened" in embed_text(shown)
        listed = await _slash(env, c.bob, "idea list", challenge=1, sort="new")
        assert f"**#{a}**" in embed_text(listed) and f"**#{plain}**" not in embed_text(listed)
        assert "challenge #1" in embed_text(listed)
        everything = await _slash(env, c.bob, "idea list", sort="new")
        assert f"**#{plain}**" in embed_text(everything)
