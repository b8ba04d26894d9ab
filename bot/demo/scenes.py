"""``cocreate demo``: the real bot in a small community on the local sandbox, offline.

It seeds a community, connects the unmodified bot (temporary database, no token), plays a
short script of what moderators and members do through the same driver the end-to-end
tests use, and prints the transcript. Each feature adds its scene here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.demo.community import Community, sandbox_settings, seed_community, start_cocreate
from bot.sandbox.driver import Driver, InteractionResult
from bot.sandbox.mentions import readable
from bot.sandbox.server import Sandbox
from bot.sandbox.state import Member, Message
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.client import CocreateBot

log = logging.getLogger(__name__)

#: A scene plays members' actions; it may return a close-up (an embed's text) to print.
Scene = Callable[[Driver, "CocreateBot", Community], Awaitable[str | None]]


async def _answer(result: InteractionResult) -> Message:
    response = await result.response(10)
    if response.deferred:
        return await result.followup(0, 10)
    assert response.message is not None
    return response.message


async def _pick(driver: Driver, who: Member, guide: Message, key: str, values: list[Any]) -> None:
    driver.mark_seen()
    await (await driver.select(who, guide, f"setup:set:{key}", values)).response()
    await driver.wait_for_edit(guide)  # saved, and the guide shows it


async def _page(driver: Driver, who: Member, guide: Message, page: int) -> None:
    await (await driver.click(who, guide, f"setup:page:{page}")).response()


async def scene_setup(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """A moderator sets Cocreate up with the guide, then checks permissions."""
    guide = await _answer(await driver.slash(c.owner, "setup start", channel=c.general))
    await _pick(driver, c.owner, guide, "watched_channels", [c.general])
    await _pick(driver, c.owner, guide, "ideas_channel", [c.ideas])
    await _pick(driver, c.owner, guide, "ideas_forum", [c.forum])
    await _page(driver, c.owner, guide, 1)
    await _pick(driver, c.owner, guide, "staff_channel", [c.staff])
    await _pick(driver, c.owner, guide, "modlog_channel", [c.modlog])
    await _page(driver, c.owner, guide, 2)
    await _pick(driver, c.owner, guide, "moderator_roles", [c.moderator_role])
    # The rest a moderator can also type:
    for key, value in (
        ("announcements_channel", f"<#{c.announcements.id}>"),
        ("shipped_channel", f"<#{c.shipped.id}>"),
        ("help_channels", f"<#{c.help.id}>"),
        ("staff_roles", f"<@&{c.staff_role.id}>"),
        ("timezone", "Europe/Berlin"),
    ):
        await _answer(
            await driver.slash(c.mod, "config set", channel=c.staff, key=key, value=value)
        )
    report = await _answer(await driver.slash(c.mod, "setup check", channel=c.staff))
    return _embed_body(report)


def _embed_body(message: Message) -> str:
    """An embed's title and description, indented, to show what a member read."""
    lines = []
    for embed in message.embeds:
        lines.append(f"    ┌ {embed.get('title', '')}")
        lines += [f"    │ {line}" for line in str(embed.get("description", "")).splitlines()]
    return "\n".join(lines)


async def scene_ideas(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """Members share ideas three ways, vote, meet a duplicate, and get decisions with reasons."""
    await driver.post(
        c.general,
        c.alice,
        "[idea] Offline mode for the mobile app\nI edit notes on the train and lose them when the "
        "signal drops.",
    )
    card = await driver.wait_for_message(c.ideas)
    await driver.wait_for_message(c.general)  # the reply linking the card
    for voter in (c.bob, c.carol):
        await _answer(await driver.click(voter, card, "idea:vote:1:up"))
    await driver.wait_for_edit(card)
    thread, _ = await driver.create_forum_post(
        c.forum,
        c.carol,
        "Export boards to PDF",
        "Clients want a printable board after each sprint review.",
        tags=["editor"],
    )
    await driver.wait_for_message(thread)
    submit = await driver.slash(c.dave, "idea submit", channel=c.general)
    modal = (await submit.response()).modal
    assert modal is not None
    title_field, body_field = list(modal.fields)
    offer = await _answer(
        await driver.submit_modal(
            c.dave,
            modal,
            {
                title_field: "Offline mode on mobile",
                body_field: "Let me keep writing with no signal.",
            },
        )
    )
    support = next(
        row["custom_id"]
        for block in offer.components
        for row in block["components"]
        if ":support:" in row["custom_id"]
    )
    await _answer(await driver.click(c.dave, offer, support))
    await _answer(
        await driver.slash(
            c.bob, "idea status", channel=c.general, number=1, status="planned", reason="Nice!"
        )
    )
    for status, reason, told in (
        ("planned", "Top voted this month; scheduled for the 3.2 release.", c.alice),
        ("implemented", "Shipped in 3.2 — thank you!", c.alice),
    ):
        await _answer(
            await driver.slash(
                c.mod, "idea status", channel=c.staff, number=1, status=status, reason=reason
            )
        )
        await driver.wait_for_dm(told)
    await driver.wait_for_message(c.shipped)
    listing = await _answer(await driver.slash(c.carol, "idea list", channel=c.general))
    return _embed_body(listing)


def _demo_picture() -> bytes:
    """A small PNG mock-up for the demo (drawn here: the demo ships no files)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 200), (245, 245, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 300, 60), fill=(90, 100, 240))
    for row in range(3):
        draw.rectangle((20, 80 + row * 38, 300, 106 + row * 38), outline=(120, 120, 140))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def scene_ideas_more(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """A product team's tracker receives idea events by webhook; an idea with a picture is
    declined, and its thread closes a day later."""
    from aiohttp import web

    from bot.domain.webhooks import EVENT_HEADER, SIGNATURE_HEADER, verify

    received: list[tuple[str, bytes, str]] = []

    async def tracker(request: web.Request) -> web.Response:
        received.append(
            (
                request.headers.get(EVENT_HEADER, ""),
                await request.read(),
                request.headers.get(SIGNATURE_HEADER, ""),
            )
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/tracker", tracker)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/tracker"
        added = await _answer(
            await driver.slash(c.mod, "config webhook add", channel=c.staff, url=url, events="all")
        )
        secret = added.content.split("```")[1].strip()
        await driver.post(
            c.general,
            c.bob,
            "[idea] Compact list view\nFit more cards on a laptop screen (mock-up attached).",
            files=[("compact-list.png", _demo_picture())],
        )
        card = await driver.wait_for_message(c.ideas, predicate=lambda m: bool(m.attachments))
        number = int(str(card.embeds[0]["title"]).split(" ")[0].lstrip("#"))
        await _answer(
            await driver.slash(
                c.mod,
                "idea status",
                channel=c.staff,
                number=number,
                status="declined",
                reason="Density settings are coming instead; see the roadmap.",
            )
        )
        await _days_pass(bot, 1.1)  # ideas_thread_lock_delay: the thread closes
        await bot.services.webhooks.settle()
        listing = await _answer(await driver.slash(c.mod, "config webhook list", channel=c.staff))
        hook = int(listing.embeds[0]["fields"][0]["name"].split(" ")[0].lstrip("#"))
        await _answer(
            await driver.slash(c.mod, "config webhook remove", channel=c.staff, webhook=hook)
        )
    finally:
        await runner.cleanup()
    lines = ["The tracker received:"] + [
        f"  {event}: signature {'verified' if verify(secret, body, sig) else 'WRONG'}"
        for event, body, sig in received
    ]
    return "\n".join(lines)


async def scene_points(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """Points follow outcomes: the shipped idea's author leads; a helpful answer is thanked."""
    await bot.services.points.consume_outbox()  # apply the ideas' events now (idempotent)
    question = await driver.post(c.help, c.bob, "How do I share a board with a client?")
    answer = await driver.reply(question, c.dave, "Board menu → Share → Guest link.")
    await driver.react(answer, c.bob, "✅")
    await _answer(
        await driver.slash(
            c.mod,
            "points adjust",
            channel=c.staff,
            user=c.carol,
            delta=15,
            reason="Ran the beta feedback session",
        )
    )
    await _answer(await driver.slash(c.alice, "points show", channel=c.general))
    await _answer(await driver.slash(c.bob, "points innovators", channel=c.general))
    board = await _answer(
        await driver.slash(c.carol, "points leaderboard", channel=c.general, image=True)
    )
    return _embed_body(board)


async def _form(
    driver: Driver, who: Member, command: str, c: Community, texts: tuple[str, str], **slash: Any
) -> Message:
    """``who`` runs ``command`` and fills in the form it opens (question, then list)."""
    opened = await driver.slash(who, command, channel=c.general, **slash)
    modal = (await opened.response(10)).modal
    assert modal is not None
    fields = list(modal.fields)
    return await _answer(
        await driver.submit_modal(who, modal, dict(zip(fields, texts, strict=True)))
    )


def _showing(text: str) -> Callable[[Message], bool]:
    return lambda message: text in message.content


def _titled(message: Message, start: str) -> bool:
    return any(str(e.get("title", "")).startswith(start) for e in message.embeds)


async def scene_polls(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """A moderator asks what to build next; members vote (one changes their mind), rank a
    roadmap, rate outcomes; the polls close with results and charts."""
    await _form(
        driver, c.mod, "poll create", c,
        ("What should we build next?", "Dark mode\nOffline sync\nExport to PDF"),
        duration="2d",
    )  # fmt: skip
    poll = await driver.wait_for_message(c.general, predicate=lambda m: _titled(m, "Poll #"))
    poll_id = str(poll.embeds[0]["title"]).split("#", 1)[1].split(" ", 1)[0]
    for who, option in ((c.alice, 1), (c.bob, 1), (c.carol, 0), (c.dave, 2), (c.dave, 1)):
        await _answer(await driver.click(who, poll, f"poll:v:{poll_id}:{option}"))
    await _answer(await driver.slash(c.mod, "poll close", channel=c.general, poll=int(poll_id)))
    results = await driver.wait_for_message(c.general, predicate=lambda m: _titled(m, "Results"))
    await _form(
        driver, c.mod, "survey create", c,
        ("Working with boards", "Minimize the time it takes to find a board\n"
         "Minimize the likelihood of losing edits offline"),
        duration="3d",
    )  # fmt: skip
    survey = await driver.wait_for_message(c.general, predicate=lambda m: _titled(m, "Survey #"))
    survey_id = str(survey.embeds[0]["title"]).split("#", 1)[1].split(" ", 1)[0]
    step = await _answer(await driver.click(c.alice, survey, f"poll:q:{survey_id}"))
    for index, (imp, sat) in enumerate(((5, 1), (3, 4))):
        for what, value in (("i", imp), ("s", sat)):
            custom_id = f"poll:qr:{survey_id}:{index}:{what}"
            await (await driver.select(c.alice, step, custom_id, [str(value)])).response()
            shown = f"**{value}**" if what == "i" else ("Thank you" if index else "outcome 2")
            await driver.wait_for_edit(step, predicate=_showing(shown))
    return _embed_body(results)


async def scene_members(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """Members find out what they can do; one tries a moderator's command."""
    await _answer(await driver.slash(c.alice, "help", channel=c.general))
    await _answer(await driver.slash(c.bob, "about", channel=c.general))
    # /config is not even shown to Bob (it needs Manage Server); /points is, and Cocreate
    # itself refuses its moderator subcommands.
    await _answer(await driver.slash(c.bob, "points history", channel=c.general, user=c.alice))
    return None


class DemoClock:
    """The demo bot's "now": real time, moved forward when a scene skips days."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


async def _days_pass(bot: CocreateBot, days: float) -> None:
    """Skip ``days``; the dates that fell due run, as the scheduler would run them."""
    clock = bot.services.clock
    assert isinstance(clock, DemoClock)
    clock.advance(timedelta(days=days))
    await bot.services.timers.run_due()


async def _fill_form(
    driver: Driver, who: Member, opened: InteractionResult, values: dict[str, str | list[str]]
) -> Message:
    form = await opened.response(10)
    assert form.modal is not None
    return await _answer(await driver.submit_modal(who, form, values))


async def scene_policy(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """Staff announce a policy change; members give stances and concerns; staff answer each
    concern group, amend it, and it takes effect."""
    await _fill_form(
        driver,
        c.staffer,
        await driver.slash(
            c.staffer,
            "policy draft",
            channel=c.staff,
            effective="in 10d",
            affected=f"<#{c.general.id}>",
        ),
        {
            "title": "Links in #general",
            "summary": "At most three links a day per member in #general, to stop link dumps.",
            "text": "1. Members post at most three links a day in #general.\n"
            "2. Moderators may remove links beyond that.",
        },
    )
    await _answer(await driver.slash(c.staffer, "policy announce", channel=c.staff, number=1))
    card = await driver.wait_for_message(c.announcements)
    await driver.wait_for_thread(c.announcements)
    for who, stance in ((c.alice, "support"), (c.bob, "concerned"), (c.carol, "concerned")):
        await _answer(await driver.click(who, card, f"policy:stance:1:{stance}"))
    for who, concern, change in (
        (c.bob, "Three links a day is too few for people who share tutorials.", "Five a day"),
        (c.carol, "Tutorial authors need more than three links a day.", ""),
    ):
        await _fill_form(
            driver,
            who,
            await driver.click(who, card, "policy:concern:1"),
            {"concern": concern, "suggestion": change},
        )
    await _days_pass(bot, 7.01)  # the comment period ends: summaries for all and for staff
    await driver.wait_for_message(c.staff, contains="for staff")
    await _answer(
        await driver.slash(
            c.staffer,
            "policy answer",
            channel=c.staff,
            number=1,
            group=1,
            outcome="changed",
            text="Members who share tutorials may post five links a day.",
        )
    )
    await _fill_form(
        driver,
        c.staffer,
        await driver.slash(
            c.staffer, "policy respond", channel=c.staff, number=1, decision="amend"
        ),
        {
            "amended": "1. Members post at most three links a day in #general; five for "
            "tutorials.\n2. Moderators may remove links beyond that.",
            "note": "Thank you: tutorial authors convinced us.",
        },
    )
    await driver.wait_for_dm(c.bob)
    await _days_pass(bot, 3)  # the effective date
    effective = await driver.wait_for_message(c.announcements, contains="is now in effect")
    shown = await _answer(await driver.slash(c.alice, "policy show", channel=c.general, number=1))
    return _embed_body(shown) + "\n" + _embed_body(effective)


async def _challenge_idea(
    driver: Driver, who: Member, opened: InteractionResult, title: str
) -> int:
    form = await opened.response(10)
    assert form.modal is not None
    title_id, body_id = list(form.modal.fields)
    answer = await _answer(
        await driver.submit_modal(who, form, {title_id: title, body_id: "How it would work."})
    )
    return int(answer.content.split("Your idea is #", 1)[1].split(".", 1)[0])


async def scene_challenges(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """A moderator asks one focused question with a deadline; members answer; judges score
    on weighted criteria; a mentor helps; the crowd's favourite gets a wildcard; the winner
    is rewarded."""
    roles = f"<@&{c.staff_role.id}> <@&{c.moderator_role.id}>"
    await _answer(
        await driver.slash(c.mod, "config set", channel=c.staff, key="judge_roles", value=roles)
    )
    await _fill_form(
        driver,
        c.mod,
        await driver.slash(
            c.mod,
            "challenge create",
            channel=c.staff,
            title="Help newcomers contribute in their first week",
            submission_end="in 1d",
            screening_end="in 2d",
            shortlist_end="in 3d",
            judging_end="in 4d",
            criteria="Impact:3; Feasibility:2; Fit:1",
            finalist_points=30,
            winner_points=120,
        ),
        {
            "problem": "Half of new members never post. They don't know where to start.",
            "good_answer": "Something we can try within a month, and a way to see if it works.",
        },
    )
    post = await driver.wait_for_message(c.announcements, contains="New challenge")
    first = await _challenge_idea(
        driver,
        c.alice,
        await driver.click(c.alice, post, "challenge:submit:1"),
        "Pair every newcomer with a buddy",
    )
    second = await _challenge_idea(
        driver,
        c.bob,
        await driver.click(c.bob, post, "challenge:submit:1"),
        "A printable first-week checklist",
    )
    third = await _challenge_idea(
        driver,
        c.carol,
        await driver.slash(c.carol, "idea submit", channel=c.general, challenge=1),
        "Friday office hours with maintainers",
    )
    for voter in (c.dave, c.owner):
        idea = await bot.services.ideas.get(c.guild.id, third)
        assert idea.card_message_id is not None
        card = driver.world.messages[idea.card_message_id]
        await _answer(await driver.click(voter, card, f"idea:vote:{third}:up"))

    async def stage(number: int, to: str) -> None:
        await _answer(
            await driver.slash(c.mod, "challenge stage", channel=c.staff, idea=number, stage=to)
        )

    for number in (first, second, third):
        await stage(number, "screened")
    await stage(first, "shortlisted")
    await stage(second, "shortlisted")
    await stage(third, "not_selected")
    for judge, number, scores in (
        (c.staffer, first, ["5", "4", "3"]),
        (c.mod, first, ["4", "4", "4"]),
        (c.staffer, second, ["3", "3", "4"]),
        (c.mod, second, ["2", "3", "3"]),
    ):
        opened = await driver.slash(judge, "challenge score", channel=c.staff, idea=number)
        values: dict[str, str | list[str]] = {f"score{i}": v for i, v in enumerate(scores)}
        await _fill_form(driver, judge, opened, {**values, "note": ""})
    await _answer(
        await driver.slash(c.mod, "challenge mentor", channel=c.staff, idea=first, member=c.staffer)
    )
    await stage(first, "finalist")
    await _days_pass(bot, 4.01)  # every window closes; judging's close brings the wildcard
    await driver.wait_for_message(c.announcements, contains="judging is closed")
    await stage(first, "winner")
    await _answer(await driver.slash(c.mod, "challenge publish", channel=c.staff, challenge=1))
    await driver.wait_for_message(c.announcements, contains="Results of")
    await bot.services.timers.run_due()  # the rewards
    board = await _answer(
        await driver.slash(c.bob, "challenge leaderboard", channel=c.general, challenge=1)
    )
    return _embed_body(board)


async def scene_privacy(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """Carol asks to be forgotten; a moderator confirms; Carol gets a DM."""
    await _answer(await driver.slash(c.carol, "privacy forget-me", channel=c.general))
    request = await driver.wait_for_message(c.modlog, contains="Privacy request")
    confirm = request.components[0]["components"][0]["custom_id"]
    await (await driver.click(c.mod, request, confirm)).response()
    await driver.wait_for_dm(c.carol)
    return None


async def scene_review(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """Ideas wait for review before they are public; one is anonymous; a moderator
    approves two from the queue and rejects one with a reason."""
    for key, value in (("ideas_review", "all"), ("ideas_anonymous", "on")):
        await _answer(
            await driver.slash(c.mod, "config set", channel=c.staff, key=key, value=value)
        )
    # Bob shared an idea a moment ago (the cooldown): the staffer posts this one.
    tagged = await driver.post(c.general, c.staffer, "[idea] Keyboard shortcuts cheat sheet")
    await driver.wait_for_reaction(tagged, "🕓")
    for who, title, body, post_as in (
        (c.dave, "A suggestion box for honest feedback", "Easier to say unsigned.", "anonymous"),
        (c.alice, "Buy my handmade mugs", "Only 20 € each.", "named"),
    ):
        opened = await driver.slash(who, "idea submit", channel=c.general)
        modal = (await opened.response(10)).modal
        assert modal is not None
        title_field, body_field, toggle = list(modal.fields)  # the form's "Post as" toggle
        await _answer(
            await driver.submit_modal(
                who, modal, {title_field: title, body_field: body, toggle: [post_as]}
            )
        )
    queue = await _answer(await driver.slash(c.mod, "idea queue", channel=c.staff))
    shown = _embed_body(queue)
    buttons = [b["custom_id"] for row in queue.components for b in row["components"]]
    approvals = [b for b in buttons if b.endswith(":approve")]
    for custom_id in approvals[:2]:
        await _answer(await driver.click(c.mod, queue, custom_id))
    reject = [b for b in buttons if b.endswith(":reject")][2]
    modal = (await (await driver.click(c.mod, queue, reject)).response(10)).modal
    assert modal is not None
    (reason,) = list(modal.fields)
    await _answer(
        await driver.submit_modal(c.mod, modal, {reason: "Selling is for #marketplace, not ideas."})
    )
    await driver.wait_for_dm(c.alice)
    await _answer(
        await driver.slash(c.mod, "config set", channel=c.staff, key="ideas_review", value="off")
    )
    return shown


def _button(message: Message, part: str) -> str:
    return next(
        str(item["custom_id"])
        for row in message.components
        for item in row["components"]
        if part in str(item.get("custom_id", ""))
    )


async def scene_digest(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """The month goes on (an idea, votes, a decision), then staff get it in one report: a
    moderator makes the digest monthly, previews it and posts it now (the scheduled one
    comes on the 1st, 09:00 in the server's timezone); /export hands over the data.

    Monthly, because the policy scene skipped ten days on the bot's clock while Discord's
    message times stayed put: the month so far holds everything the demo did (unless the
    skip crossed into the next month; then it is a quieter digest)."""
    driver.mark_seen()
    # Everyone else shared an idea a moment ago (the cooldown): the owner posts this one.
    await driver.post(
        c.general, c.owner, "[idea] Keyboard shortcuts for boards\nMouse-only editing is slow."
    )
    card = await driver.wait_for_message(c.ideas)
    await driver.wait_for_message(c.general)  # the reply linking the card
    for voter in (c.alice, c.dave):
        await _answer(await driver.click(voter, card, _button(card, ":up")))
    await _answer(
        await driver.slash(
            c.mod, "idea status", channel=c.staff, number=2, status="planned",
            reason="Clients keep asking; planned for 3.3.",
        )
    )  # fmt: skip
    schedule = await driver.slash(c.mod, "digest schedule", channel=c.staff, frequency="monthly")
    await _answer(schedule)
    await _answer(await driver.slash(c.mod, "digest preview", channel=c.staff))
    await _answer(await driver.slash(c.mod, "digest now", channel=c.staff))
    posted = await driver.wait_for_message(
        c.staff,
        predicate=lambda m: (
            not m.ephemeral and any("so far" in str(e.get("title", "")) for e in m.embeds)
        ),
    )
    # A long digest continues in the messages after the first (Discord's embed limits).
    world = driver.world
    ids = list(dict.fromkeys(world.channel_messages.get(c.staff.id, [])))
    after = [world.messages[i] for i in ids[ids.index(posted.id) :]]
    parts = [m for m in after if m.embeds and not m.ephemeral and m.author == posted.author]
    await _answer(await driver.slash(c.mod, "export", channel=c.staff))
    return "\n".join(_embed_body(m) for m in parts)


SCENES: list[tuple[str, Scene]] = [
    ("A moderator sets Cocreate up", scene_setup),
    ("Members look around", scene_members),
    ("Ideas: captured, voted on, decided", scene_ideas),
    ("Ideas: a picture, a closed thread, a tracker fed by webhook", scene_ideas_more),
    ("Points reward outcomes", scene_points),
    ("Polls and an outcome survey", scene_polls),
    ("A policy change is discussed before it takes effect", scene_policy),
    ("A challenge: one question, judges, a mentor, a wildcard and a winner", scene_challenges),
    ("Ideas wait for review; one is anonymous", scene_review),
    ("A member asks to be forgotten", scene_privacy),
    ("Staff get the digest", scene_digest),
]


async def run_demo(settings: Settings, *, serve: bool = False, port: int = 0) -> int:
    """Run the demo; with ``serve``, keep the sandbox and bot up until interrupted."""
    logging.disable(logging.INFO)  # the transcript is the output; warnings still show
    # Bursts into one channel meet the sandbox's rate limits on purpose; discord.py waits
    # and retries, so its "being rate limited" warnings are expected here.
    logging.getLogger("discord.http").setLevel(logging.ERROR)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cocreate-demo-") as tmp:
        async with Driver(Sandbox(port=port)) as driver:
            community = seed_community(driver)
            demo_settings = sandbox_settings(settings, driver, Path(tmp) / "demo.db")
            bot = await start_cocreate(driver, demo_settings, clock=DemoClock())
            print(f"Cocreate {bot.version} is connected to a local Discord sandbox.\n")
            shown = 0
            for title, scene in SCENES:
                print(f"== {title} ==")
                closeup = await scene(driver, bot, community)
                lines = driver.transcript().splitlines()
                print(readable(driver.world, "\n".join(lines[shown:])))
                if closeup:
                    print(readable(driver.world, closeup))
                print()
                shown = len(lines)
            unhandled = driver.sandbox.unhandled_routes
            if unhandled:
                print(
                    f"Routes the sandbox does not implement were called: {unhandled}",
                    file=sys.stderr,
                )
                return 1
            print(f"Demo finished in {time.monotonic() - started:.1f}s.")
            if serve:
                await _serve(driver)
    return 0


async def _serve(driver: Driver) -> None:
    sandbox = driver.sandbox
    print(
        "\nThe sandbox keeps running. Point another Cocreate (or any discord.py bot) at it:\n"
        f"  COCREATE_DISCORD_API_BASE={sandbox.api_base} \\\n"
        f"  COCREATE_DISCORD_GATEWAY_URL={sandbox.gateway_url} \\\n"
        f"  DISCORD_TOKEN={sandbox.token} cocreate run\n"
        "Press Ctrl+C to stop."
    )
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()
