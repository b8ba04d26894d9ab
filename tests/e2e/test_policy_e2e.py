"""Policy changes end to end, as staff and members do them in Discord: draft (a form),
announce (a card pinging a role, a thread with the full text), stances and concerns with the
card's buttons, the reminder, the close summaries, answers and the response, the effective
date; a policy nobody responded to; a post Discord keeps refusing; and bad input.

Time moves with the bot's clock (``Clock``); the dates run when the test runs the due
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
from bot.domain.policy import PolicyStage
from bot.domain.policy_model import Policy
from bot.sandbox import Channel, Driver, Member, Message, P, Role

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="function")]

DAY = timedelta(days=1)
ROLES: dict[str, Role] = {}
FORUMS: dict[str, Channel] = {}


def _add_regulars(driver: Driver, community: Community) -> None:
    ROLES["regulars"] = driver.add_role(community.guild, "Regulars")
    FORUMS["policies"] = driver.add_forum(community.guild, "policy-changes")


@contextlib.asynccontextmanager
async def _running(tmp_path: Path, clock: Clock) -> AsyncIterator[Env]:
    async with running_cocreate(
        tmp_path / "policy.db", clock=clock, before_start=_add_regulars
    ) as env:
        cog: Any = env.bot.get_cog("Policies")
        cog.publisher.card_refresh_delay = 0.05
        yield env


async def _policy(env: Env, number: int) -> Policy:
    return await env.bot.services.policy.get(env.community.guild.id, number)


async def _draft(env: Env, *, effective: str = "in 10d", **options: Any) -> Message:
    """Sam (staff) drafts a policy through the command and its form; the preview."""
    d, c = env.driver, env.community
    opened = await d.slash(
        c.staffer, "policy draft", channel=c.staff, effective=effective, **options
    )
    form = await opened.response()
    assert form.modal is not None, form
    assert set(form.modal.fields) == {"title", "summary", "text"}
    submitted = await d.submit_modal(
        c.staffer,
        form,
        {
            "title": "Links in #showcase",
            "summary": "At most three links a day per member in #showcase, to stop link dumps.",
            "text": (
                "1. Members post at most three links a day in #showcase.\n"
                "2. Staff may remove extra links."
            ),
        },
    )
    return await reply_of(submitted)


async def _run_dates(env: Env, clock: Clock, delta: timedelta) -> None:
    """Time passes; the due dates run (as the scheduler runs them when they fall due)."""
    clock.advance(delta)
    await env.bot.services.timers.run_due()


def _bot_texts(env: Env, channel: Channel) -> list[str]:
    return [
        env.driver.world.describe_message(m)
        for m in env.driver.messages_in(channel)
        if m.author.id == env.driver.world.bot.id
    ]


def _button(message: Message, custom_id: str) -> dict[str, Any]:
    found = message.button(custom_id)
    assert found is not None, [r for r in message.components]
    return found


async def _click(env: Env, member: Member, card: Message, custom_id: str) -> str:
    return (await reply_of(await env.driver.click(member, card, custom_id))).content


async def _concern(
    env: Env, member: Member, card: Message, concern: str, suggestion: str = ""
) -> str:
    opened = await env.driver.click(member, card, "policy:concern:1")
    form = await opened.response()
    assert form.modal is not None
    submitted = await env.driver.submit_modal(
        member, form, {"concern": concern, "suggestion": suggestion}
    )
    return (await reply_of(submitted)).content


# -- the full workflow -----------------------------------------------------------------------
async def test_the_whole_workflow_with_three_members_and_an_acknowledged_concern(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        services = env.bot.services
        regulars = ROLES["regulars"]

        # 1. Draft: dates as options, the text in a form; previewed, stored as a draft.
        preview = await _draft(env, role=regulars, affected=f"<#{c.general.id}>", comment_end="7d")
        assert preview.ephemeral and "Draft **policy #1** is saved" in preview.content
        assert "Links in #showcase" in embed_text(preview)
        assert (await _policy(env, 1)).stage is PolicyStage.DRAFT
        assert _bot_texts(env, c.announcements) == []

        # 2. Announce: the card pings the role (never @everyone), a thread holds the text.
        answer = await reply_of(
            await d.slash(c.staffer, "policy announce", channel=c.staff, number=1)
        )
        assert "Policy #1 is announced" in answer.content
        card = await d.wait_for_message(c.announcements)
        assert card.mention_role_ids == [regulars.id] and not card.mention_everyone
        assert card.embeds[0]["title"] == "Policy #1 · Links in #showcase"
        thread = await d.wait_for_thread(c.announcements)
        assert thread.id == card.id
        text = await d.wait_for_message(thread)
        assert "full text" in text.content and "three links a day" in embed_text(text)
        pointer = await d.wait_for_message(c.general)
        assert "Policy #1" in pointer.content
        policy = await _policy(env, 1)
        assert policy.stage is PolicyStage.ANNOUNCED and policy.thread_id == thread.id
        assert policy.close_at == policy.announced_at + 7 * DAY  # type: ignore[operator]

        # 3. Three members: one stance each, changeable; concerns with a suggested change.
        alice, bob, dave = c.alice, c.bob, c.dave
        assert "Support" in await _click(env, alice, card, "policy:stance:1:support")
        await _click(env, bob, card, "policy:stance:1:oppose")
        changed = await _click(env, bob, card, "policy:stance:1:concerned")
        assert "Concerned" in changed
        await _click(env, dave, card, "policy:stance:1:concerned")
        again = await _click(env, dave, card, "policy:stance:1:concerned")
        assert "already" in again
        said = await _concern(
            env,
            bob,
            card,
            "Three links a day is too strict for tutorial authors",
            "Allow five a day",
        )
        assert "concern is #1" in said
        await _concern(
            env, dave, card, "The limit of 3 links a day is far too strict for tutorial writers"
        )
        await _concern(env, alice, card, "Will webhook announcements count towards the limit?")
        counted = await d.wait_for_edit(
            card, predicate=lambda m: "👍 1 · 🤔 2 · 👎 0 · 📝 3 concerns" in embed_text(m)
        )
        assert _button(counted, "policy:stance:1:concerned")["label"] == "Concerned · 2"

        # 4. The reminder in the thread, 48 h before close.
        await _run_dates(env, clock, 5 * DAY + timedelta(minutes=1))
        reminder = await d.wait_for_message(thread, contains="comments close")
        assert "⏰" in reminder.content

        # A click in the moment between the close date and its timer is refused, and
        # changes nothing.
        clock.advance(2 * DAY)
        late = await _click(env, alice, card, "policy:stance:1:oppose")
        assert "comment period has closed" in late
        assert (await _policy(env, 1)).support == 1

        # 5. Close: buttons disabled; the summary in the thread (anonymous) and for staff
        # (attributed, with a "Make an idea" button per concern).
        await _run_dates(env, clock, timedelta(minutes=1))
        closed_card = await d.wait_for_edit(
            card, predicate=lambda m: bool((m.button("policy:concern:1") or {}).get("disabled"))
        )
        assert all(
            _button(closed_card, f"policy:stance:1:{s}")["disabled"]
            for s in ("support", "concerned", "oppose")
        )
        public = await d.wait_for_message(thread, contains="comment period has closed")
        summary = embed_text(public)
        assert "3 concerns in 2 groups" in summary
        assert "Group 1 · 2 concerns" in summary and "Allow five a day" in summary
        assert f"<@{bob.id}>" not in summary  # anonymous in public
        staff_summary = await d.wait_for_message(c.staff, contains="for staff")
        attributed = embed_text(staff_summary)
        assert f"<@{bob.id}> (#1)" in attributed and f"<@{dave.id}> (#2)" in attributed
        assert staff_summary.button("policy:idea:1:3") is not None

        # 6. A concern becomes an idea, linked both ways.
        made = await _click(env, c.staffer, staff_summary, "policy:idea:1:3")
        assert "Concern #3 of policy #1 is now idea **#1**" in made
        marked = await d.wait_for_edit(staff_summary)
        assert _button(marked, "policy:idea:1:3")["disabled"]
        assert not _button(marked, "policy:idea:1:1").get("disabled")
        idea_card = await d.wait_for_message(c.ideas)
        assert "From concern #3 on policy #1" in embed_text(idea_card)
        shown = await reply_of(await d.slash(c.staffer, "policy show", channel=c.staff, number=1))
        assert "→ idea #1" in embed_text(shown)

        # 7. Respond: every group answered first; the response in the thread and on the
        # card; concern authors told by DM (Dave's DMs are closed: a thread mention).
        early = await reply_of(
            await d.slash(
                c.staffer, "policy respond", channel=c.staff, number=1, decision="proceed"
            )
        )
        assert "group 1, 2 have no answer" in early.content
        for group, outcome, why in (
            (1, "changed", "Tutorial authors may post five links a day."),
            (2, "heard", "Webhooks are not members; they are not limited."),
        ):
            await reply_of(
                await d.slash(
                    c.staffer,
                    "policy answer",
                    channel=c.staff,
                    number=1,
                    group=group,
                    outcome=outcome,
                    text=why,
                )
            )
        responded = await reply_of(
            await d.slash(
                c.staffer,
                "policy respond",
                channel=c.staff,
                number=1,
                decision="proceed",
                note="Thank you for the feedback!",
            )
        )
        assert "response to policy #1 is posted" in responded.content
        response = await d.wait_for_message(thread, contains="staff response")
        acknowledged = embed_text(response)
        assert "Changed because of your input" in acknowledged
        assert "five links a day" in acknowledged and "Heard; not changing" in acknowledged
        bob_dm = await d.wait_for_dm(bob)
        assert "About your concern #1" in bob_dm.content and "Changed because" in bob_dm.content
        await d.wait_for_dm(alice)
        mention = await d.wait_for_message(thread, contains="your DMs are closed")
        assert mention.mention_ids == [dave.id]
        await d.wait_for_edit(card, predicate=lambda m: "Staff responded" in embed_text(m))

        # 8. The effective date: an "in effect" announcement, once.
        await _run_dates(env, clock, 3 * DAY)
        effective = await d.wait_for_message(c.announcements, contains="is now in effect")
        assert "three links a day" in embed_text(effective)
        await d.wait_for_edit(card, predicate=lambda m: "In effect" in embed_text(m))
        await _run_dates(env, clock, DAY)
        assert sum("is now in effect" in t for t in _bot_texts(env, c.announcements)) == 1
        assert sum("comment period has closed" in t for t in _bot_texts(env, thread)) == 1
        assert len(dms_to(env, bob)) == 1

        # Points: policy feedback once per member, whatever they clicked (Alice's concern
        # also became an idea: +2 for submitting it).
        await services.points.consume_outbox()
        sums = await services.points.ledger_sums(c.guild.id)
        assert [sums.get(m.id) for m in (alice, bob, dave)] == [2 + 2, 2, 2]
        listed = await reply_of(await d.slash(alice, "policy list", channel=c.general))
        assert "In effect" in embed_text(listed)


# -- no response -----------------------------------------------------------------------------------
async def test_a_policy_without_a_response_does_not_take_effect(tmp_path: Path) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        await _draft(env, effective="in 6d", comment_end="3d")
        await reply_of(await d.slash(c.staffer, "policy announce", channel=c.staff, number=1))
        card = await d.wait_for_message(c.announcements)
        assert card.content == ""  # no role chosen: nobody is pinged
        thread = await d.wait_for_thread(c.announcements)
        # Feedback points count towards reward roles, like any points.
        regulars = ROLES["regulars"]
        await env.bot.services.guild_settings.set_values(
            c.guild.id, {"points_role_rewards": [f"2:{regulars.id}"]}, c.owner.id
        )
        await _concern(env, c.carol, card, "Three links is too few.")
        await d.wait_for_role_change(c.carol, regulars, added=True)

        await _run_dates(env, clock, 3 * DAY + timedelta(minutes=1))  # closed
        await d.wait_for_message(c.staff, contains="for staff")
        assert "takes effect" not in "".join(_bot_texts(env, c.staff))
        # 48 h before the effective date (here: a day after the close), staff are reminded.
        await _run_dates(env, clock, DAY)
        staff_reminder = await d.wait_for_message(c.staff, contains="has no response yet")
        assert "/policy respond" in staff_reminder.content

        await _run_dates(env, clock, 2 * DAY)  # the effective date, no response
        awaiting = await d.wait_for_message(thread, contains="does **not** take effect")
        assert "Policy #1" in awaiting.content
        await d.wait_for_message(c.staff, contains="did not take effect today")
        await d.wait_for_edit(
            card, predicate=lambda m: "awaiting the staff response" in embed_text(m)
        )
        policy = await _policy(env, 1)
        assert policy.stage is PolicyStage.CLOSED and policy.awaiting
        assert not any("in effect" in t for t in _bot_texts(env, c.announcements))

        await _run_dates(env, clock, DAY)  # nothing more, after a restart of the dates
        assert sum("does **not** take effect" in t for t in _bot_texts(env, thread)) == 1
        shown = await reply_of(await d.slash(c.alice, "policy show", channel=c.general, number=1))
        assert "awaiting the staff response" in embed_text(shown)


# -- a long text from a file, an edited draft, an amendment ----------------------------------------
LONG_TEXT = "# Links policy\n\n" + "\n".join(
    f"{n}. Rule {n}: members keep links relevant to the channel's topic." for n in range(1, 90)
)


async def test_a_long_text_from_a_file_an_edited_draft_and_an_amendment(tmp_path: Path) -> None:
    assert len(LONG_TEXT) > 4000
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        opened = await d.slash(
            c.staffer,
            "policy draft",
            channel=c.staff,
            effective="in 10d",
            text_file=("links.md", LONG_TEXT.encode()),
        )
        form = await opened.response()
        assert form.modal is not None
        both = await reply_of(
            await d.submit_modal(
                c.staffer, form, {"title": "Links", "summary": "Keep links on topic.", "text": "x"}
            )
        )
        assert "Give the text once" in both.content and await _count(env) == 0
        opened = await d.slash(
            c.staffer,
            "policy draft",
            channel=c.staff,
            effective="in 10d",
            text_file=("links.md", LONG_TEXT.encode()),
        )
        form = await opened.response()
        assert form.modal is not None
        await reply_of(
            await d.submit_modal(
                c.staffer, form, {"title": "Links", "summary": "Keep links on topic.", "text": ""}
            )
        )
        assert (await _policy(env, 1)).body == LONG_TEXT.strip()
        wrong = await _error(
            env, c.staffer, "policy draft", effective="in 10d", text_file=("links.pdf", b"%PDF")
        )
        assert ".md" in wrong.content

        # Edit the draft: a form prefilled with what it says (the long text stays unless
        # replaced), new dates as options.
        opened = await d.slash(
            c.staffer, "policy edit", channel=c.staff, number=1, effective="in 12d"
        )
        form = await opened.response()
        assert form.modal is not None
        assert form.modal.fields["title"]["value"] == "Links"
        assert "value" not in form.modal.fields["text"] or not form.modal.fields["text"]["value"]
        edited = await reply_of(await d.submit_modal(c.staffer, form, {"title": "Links on topic"}))
        assert "Links on topic" in embed_text(edited)
        draft = await _policy(env, 1)
        assert draft.title == "Links on topic" and draft.body == LONG_TEXT.strip()
        assert draft.effective_at - clock() > 11 * DAY
        everyone = await _error(env, c.staffer, "policy edit", number=1, role=c.guild.everyone)
        assert "never ping @everyone" in everyone.content

        # The thread carries the whole text as a file.
        await reply_of(await d.slash(c.staffer, "policy announce", channel=c.staff, number=1))
        thread = await d.wait_for_thread(c.announcements)
        text = await d.wait_for_message(thread, contains="full text")
        (attached,) = text.attachments
        assert attached.filename == "policy-1.md" and attached.data.decode() == LONG_TEXT.strip()

        # Amend with a form after the close; the amended text takes effect.
        await _run_dates(env, clock, 7 * DAY + timedelta(minutes=1))
        opened = await d.slash(
            c.staffer, "policy respond", channel=c.staff, number=1, decision="amend"
        )
        form = await opened.response()
        assert form.modal is not None and set(form.modal.fields) == {"amended", "note"}
        await reply_of(
            await d.submit_modal(
                c.staffer,
                form,
                {"amended": "Links stay on topic; moderators move the rest.", "note": "Simpler."},
            )
        )
        response = await d.wait_for_message(thread, contains="staff response")
        assert "Proceed with amendments" in response.content
        assert "moderators move the rest" in embed_text(response)
        await _run_dates(env, clock, 5 * DAY)
        effective = await d.wait_for_message(c.announcements, contains="is now in effect")
        assert "moderators move the rest" in embed_text(effective)
        assert effective.attachments == []  # short now: no file


# -- a forum as the announcements channel ---------------------------------------------------------
async def test_a_forum_announcements_channel_gets_a_forum_post(tmp_path: Path) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        forum = FORUMS["policies"]
        await env.bot.services.guild_settings.set_values(
            c.guild.id, {"announcements_channel": forum.id}, c.owner.id
        )
        await _draft(env, role=ROLES["regulars"])
        await reply_of(await d.slash(c.staffer, "policy announce", channel=c.staff, number=1))
        post = await d.wait_for_thread(forum)
        assert post.name == "Policy #1 · Links in #showcase"
        card = d.messages_in(post)[0]
        assert card.id == post.id and card.embeds[0]["title"] == "Policy #1 · Links in #showcase"
        assert card.mention_role_ids == [ROLES["regulars"].id]
        await d.wait_for_message(post, contains="full text")
        policy = await _policy(env, 1)
        assert policy.thread_id == post.id and policy.card_message_id == post.id

        await _click(env, c.bob, card, "policy:stance:1:oppose")
        await d.wait_for_edit(card, predicate=lambda m: "👎 1" in embed_text(m))
        await _run_dates(env, clock, 7 * DAY + timedelta(minutes=1))
        await d.wait_for_message(post, contains="comment period has closed")
        await reply_of(
            await d.slash(
                c.staffer, "policy respond", channel=c.staff, number=1, decision="withdraw"
            )
        )
        await _run_dates(env, clock, 3 * DAY)
        cancelled = await d.wait_for_message(post, contains="is withdrawn")
        assert "will not take effect" in cancelled.content
        assert sum("is withdrawn" in t for t in _bot_texts(env, post)) == 1
        assert (await _policy(env, 1)).stage is PolicyStage.WITHDRAWN


# -- a post Discord keeps refusing -----------------------------------------------------------------
async def test_a_refused_announcement_is_retried_and_staff_are_told(tmp_path: Path) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community
        bot_role = d.bot_role(c.guild)
        d.set_overwrite(c.announcements, bot_role, deny=P.SEND_MESSAGES)
        await _draft(env)
        answer = await reply_of(
            await d.slash(c.staffer, "policy announce", channel=c.staff, number=1)
        )
        assert "as soon as Discord accepts it" in answer.content
        for delay in (31, 61, 121):  # the backoff doubles
            await _run_dates(env, clock, timedelta(seconds=delay))
        alert = await d.wait_for_message(c.staff, contains="could not post the announcement")
        assert "after 3 attempts" in alert.content
        await _run_dates(env, clock, timedelta(seconds=241))
        assert sum("could not post" in t for t in _bot_texts(env, c.staff)) == 1  # told once

        # Still refused when the comment period ends: the close summary cannot go into a
        # thread that does not exist yet, so it waits for the announcement instead of
        # being skipped.
        await _run_dates(env, clock, 7 * DAY)
        assert (await _policy(env, 1)).stage is PolicyStage.CLOSED
        await d.wait_for_message(c.staff, contains="for staff")

        d.set_overwrite(c.announcements, bot_role, allow=P.SEND_MESSAGES)
        await _run_dates(env, clock, timedelta(minutes=31))
        card = await d.wait_for_message(c.announcements)
        assert card.embeds[0]["title"].startswith("Policy #1 ·")
        assert _button(card, "policy:stance:1:support")["disabled"]  # it shows the store
        thread = await d.wait_for_thread(c.announcements)
        await _run_dates(env, clock, timedelta(minutes=31))
        await d.wait_for_message(thread, contains="comment period has closed")
        await _run_dates(env, clock, timedelta(minutes=31))
        assert len([m for m in d.messages_in(c.announcements) if m.embeds]) == 1
        assert sum("comment period has closed" in t for t in _bot_texts(env, thread)) == 1


# -- bad input -------------------------------------------------------------------------------------
async def _error(env: Env, member: Member, command: str, **options: Any) -> Message:
    result = await env.driver.slash(
        member,
        command,
        channel=env.community.staff if member is env.community.staffer else env.community.general,
        **options,
    )
    reply = await reply_of(result)
    assert reply.ephemeral
    return reply


async def _count(env: Env) -> int:
    return int(await env.bot.services.db.fetchval("SELECT count(*) FROM policies"))


async def test_bad_input_gets_a_clear_ephemeral_error_and_changes_nothing(tmp_path: Path) -> None:
    clock = Clock()
    async with _running(tmp_path, clock) as env:
        d, c = env.driver, env.community

        # A member who is not staff cannot draft: no form, nothing stored.
        refused = await _error(env, c.alice, "policy draft", effective="in 10d")
        assert "Only staff can do that" in refused.content
        # An effective date before the comment period ends.
        early = await _error(env, c.staffer, "policy draft", effective="in 5d")
        assert "effective date must come after the comment period ends" in early.content
        # A comment period shorter than the server's minimum (3 days).
        short = await _error(env, c.staffer, "policy draft", effective="in 20d", comment_end="1d")
        assert "must last at least 3d" in short.content
        assert await _count(env) == 0

        await _draft(env)
        await reply_of(await d.slash(c.staffer, "policy announce", channel=c.staff, number=1))
        card = await d.wait_for_message(c.announcements)
        before = await _policy(env, 1)
        d.mark_seen()

        # Announcing twice, and editing after announcing.
        twice = await _error(env, c.staffer, "policy announce", number=1)
        assert twice.content == "Policy #1: It was announced already."
        edit = await _error(env, c.staffer, "policy edit", number=1)
        assert "only a draft can be edited" in edit.content
        # A member responding, or answering: staff only.
        assert (
            "Only staff"
            in (await _error(env, c.bob, "policy respond", number=1, decision="proceed")).content
        )
        # Responding while comments are open.
        open_ = await _error(env, c.staffer, "policy respond", number=1, decision="withdraw")
        assert "still open" in open_.content
        after = await _policy(env, 1)
        assert after == before
        assert len([m for m in d.messages_in(c.announcements) if m.embeds]) == 1
        assert card.id == after.card_message_id
        # A draft members cannot see, not even in the number's suggestions.
        await _draft(env)
        assert "no policy #2" in (await _error(env, c.alice, "policy show", number=2)).content
        offered = await d.autocomplete(c.alice, "policy show", "number", "")
        assert [o["value"] for o in offered] == [1]
        offered = await d.autocomplete(c.staffer, "policy announce", "number", "", channel=c.staff)
        assert [o["value"] for o in offered] == [2, 1]
        assert "#2 Links in #showcase" in offered[0]["name"]
        narrowed = await d.autocomplete(c.staffer, "policy edit", "number", "2", channel=c.staff)
        assert [o["value"] for o in narrowed] == [2]
