"""Decided threads end to end: a decided idea's thread gets a closing message and is archived
and locked by its timer after ``ideas_thread_lock_delay``, across a restart; moving the
idea back to an open status unlocks it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from conftest import Env
from helpers import reply_of
from ideas_helpers import Clock, idea, publish, running_cocreate

from bot.app import create_bot, create_services
from bot.services.ideas import THREAD_TIMER, thread_key

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLOCK = Clock()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("ideas-threads") / "cocreate.db"
    async with running_cocreate(db_path, clock=CLOCK) as env:
        yield env


async def _thread_timer(env: Env, idea_id: int) -> tuple[str, str | None] | None:
    row = await env.bot.services.db.fetchone(
        "SELECT due_at, done_at FROM timers WHERE kind = ? AND key = ?",
        (THREAD_TIMER, thread_key(idea_id)),
    )
    return None if row is None else (str(row[0]), row[1])


async def test_a_decided_thread_is_locked_by_its_timer_across_a_restart(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.alice, "Export boards as PDF")
    assert found.thread_id
    thread = d.world.channels[found.thread_id]
    reply = await reply_of(
        await d.slash(
            c.mod,
            "idea status",
            channel=c.general,
            number=found.number,
            status="implemented",
            reason="Shipped in 2.4",
        )
    )
    assert "Implemented" in reply.content or "implemented" in reply.content
    await d.wait_for_message(thread, contains="now **")
    # Not closed yet: the members have a day to say thanks.
    assert not thread.locked and not thread.archived
    timer = await _thread_timer(env, found.id)
    assert timer is not None and timer[1] is None

    settings = env.bot.settings
    await d.stop_bot()
    CLOCK.advance(timedelta(hours=25))  # the lock fell due while the bot was down
    env.bot = create_bot(settings, create_services(settings, clock=CLOCK))
    await d.start_bot(env.bot)
    closing = await d.wait_for_message(thread, contains="discussion is now closed", timeout=10)
    assert f"#{found.number}" in closing.content
    await d.wait_for_channel_update(thread, predicate=lambda t: t.locked and t.archived)
    # Another run (it waits for the start's own run to finish) finds nothing left to do.
    assert await env.bot.services.timers.run_due() == 0
    timer = await _thread_timer(env, found.id)
    assert timer is not None and timer[1] is not None
    closings = [m for m in d.messages_in(thread) if "discussion is now closed" in m.content]
    assert len(closings) == 1

    # Back to an open status: the thread opens again, at once.
    d.mark_seen()
    await reply_of(
        await d.slash(
            c.mod,
            "idea status",
            channel=c.general,
            number=found.number,
            status="in_progress",
            reason="A regression: reopened",
        )
    )
    await d.wait_for_channel_update(thread, predicate=lambda t: not t.locked and not t.archived)
    assert (await idea(env, found.number)).status.value == "in_progress"


async def test_reopening_before_the_delay_cancels_the_lock(env: Env) -> None:
    c, d = env.community, env.driver
    found = await publish(env, c.bob, "Keyboard shortcuts for voting")
    assert found.thread_id
    thread = d.world.channels[found.thread_id]
    for status, reason in (("declined", "Not now"), ("under_review", "Looking again")):
        await reply_of(
            await d.slash(
                c.mod,
                "idea status",
                channel=c.general,
                number=found.number,
                status=status,
                reason=reason,
            )
        )
    # The one row of this idea's thread now says "reopen" (due at once), not "close".
    row = await env.bot.services.db.fetchone(
        "SELECT payload FROM timers WHERE kind = ? AND key = ?",
        (THREAD_TIMER, thread_key(found.id)),
    )
    assert row is not None and '"close":false' in row[0]
    CLOCK.advance(timedelta(hours=25))
    await env.bot.services.timers.run_due()
    assert not thread.locked and not thread.archived
    assert not [m for m in d.messages_in(thread) if "discussion is now closed" in m.content]


async def test_a_merged_ideas_thread_closes_and_unmerging_reopens_it(env: Env) -> None:
    c, d = env.community, env.driver
    source = await publish(env, c.carol, "Dark theme please")
    target = await publish(env, c.dave, "A dark mode")
    assert source.thread_id
    thread = d.world.channels[source.thread_id]
    await reply_of(
        await d.slash(
            c.mod, "idea merge", channel=c.general, source=source.number, target=target.number
        )
    )
    CLOCK.advance(timedelta(hours=25))
    await env.bot.services.timers.run_due()
    assert thread.locked and thread.archived
    await reply_of(await d.slash(c.mod, "idea unmerge", channel=c.general, source=source.number))
    await d.wait_for_channel_update(thread, predicate=lambda t: not t.locked and not t.archived)
