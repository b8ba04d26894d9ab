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


async def scene_privacy(driver: Driver, bot: CocreateBot, c: Community) -> str | None:
    """Carol asks to be forgotten; a moderator confirms; Carol gets a DM."""
    await _answer(await driver.slash(c.carol, "privacy forget-me", channel=c.general))
    request = await driver.wait_for_message(c.modlog, contains="Privacy request")
    confirm = request.components[0]["components"][0]["custom_id"]
    await (await driver.click(c.mod, request, confirm)).response()
    await driver.wait_for_dm(c.carol)
    return None


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
    await driver.post(
        c.general, c.bob, "[idea] Keyboard shortcuts for boards\nMouse-only editing is slow."
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
    ("Points reward outcomes", scene_points),
    ("Polls and an outcome survey", scene_polls),
    ("A policy change is discussed before it takes effect", scene_policy),
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
