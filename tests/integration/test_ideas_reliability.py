"""The rules behind the spam guard and durable publishing, on a real SQLite database:
the cooldown decided inside the write unit, by the times sources were posted; vote toggles
in one unit; publications recorded with the change; cursors started when a channel becomes
watched."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from bot.app import Services, create_services
from bot.domain.idea_model import IdeaDraft
from bot.domain.ideas import IdeaStatus
from bot.domain.snowflake import snowflake_time, time_snowflake
from bot.errors import RateLimited
from bot.services.ideas import DM_TIMER, PUBLISH_CARD, PUBLISH_STATUS, card_key
from bot.settings import Settings

MOD = 7
_guilds = itertools.count(50_000)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = create_services(settings)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def _guild(services: Services, cooldown: str = "2m") -> int:
    guild_id = next(_guilds)
    await services.guild_settings.set_values(guild_id, {"ideas_cooldown": cooldown}, MOD)
    return guild_id


async def _count(services: Services, guild_id: int) -> int:
    return int(
        await services.db.fetchval("SELECT count(*) FROM ideas WHERE guild_id = ?", (guild_id,))
    )


def _message_draft(guild_id: int, author: int, n: int, posted: datetime) -> IdeaDraft:
    return IdeaDraft(
        guild_id,
        author,
        f"Idea number {n}",
        "",
        source="message",
        source_channel_id=1,
        source_message_id=time_snowflake(posted) + n,
        posted_at=posted,
    )


async def test_a_burst_from_one_member_stores_one_idea(services: Services) -> None:
    g = await _guild(services)
    now = datetime.now(UTC)
    results = await asyncio.gather(
        *(services.ideas.submit(_message_draft(g, 1, n, now)) for n in range(100)),
        return_exceptions=True,
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert (len(stored), len(refused)) == (1, 99)
    assert await _count(services, g) == 1


async def test_a_burst_from_many_members_stores_every_idea(services: Services) -> None:
    g = await _guild(services)
    now = datetime.now(UTC)
    results = await asyncio.gather(
        *(services.ideas.submit(_message_draft(g, 100 + n, n, now)) for n in range(100))
    )
    assert all(r.created for r in results)
    assert await _count(services, g) == 100


async def test_the_cooldown_compares_posting_times_not_handling_times(services: Services) -> None:
    """Catch-up handles messages posted far apart within milliseconds of each other."""
    g = await _guild(services, "2m")
    posted = datetime.now(UTC) - timedelta(minutes=30)
    first = await services.ideas.submit(_message_draft(g, 1, 1, posted))
    later = await services.ideas.submit(_message_draft(g, 1, 2, posted + timedelta(minutes=10)))
    assert first.created and later.created
    # Within two minutes of either, in any order: refused.
    with pytest.raises(RateLimited):
        await services.ideas.submit(_message_draft(g, 1, 3, posted + timedelta(seconds=30)))
    with pytest.raises(RateLimited):
        await services.ideas.submit(_message_draft(g, 1, 4, posted - timedelta(seconds=30)))
    assert await _count(services, g) == 2


async def test_capture_as_idea_limits_the_member_who_captures(services: Services) -> None:
    g = await _guild(services)
    capturer = 5
    drafts = [
        IdeaDraft(g, 200 + n, f"Captured {n}", "", source="menu", submitted_by=capturer)
        for n in range(10)
    ]
    results = await asyncio.gather(
        *(services.ideas.submit(d) for d in drafts), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, RateLimited) for r in results) == 9


async def test_a_block_is_decided_in_the_unit(services: Services) -> None:
    g = await _guild(services, "1s")
    await services.ideas.block(g, 1, None, "spam", MOD)
    with pytest.raises(RateLimited, match="paused"):
        await services.ideas.submit(IdeaDraft(g, 1, "Blocked", ""), check_rate=False)
    assert await _count(services, g) == 0


async def test_two_quick_toggles_end_where_two_clicks_should(services: Services) -> None:
    g = await _guild(services, "1s")
    await services.guild_settings.set_values(g, {"ideas_oppose_votes": True}, MOD)
    number = (await services.ideas.submit(IdeaDraft(g, 1, "Toggle me", ""))).idea.number
    first, second = await asyncio.gather(
        services.ideas.vote(g, number, 2, 1, toggle=True),
        services.ideas.vote(g, number, 2, 1, toggle=True),
    )
    assert sorted((first.current, second.current)) == [0, 1]
    idea = await services.ideas.get(g, number)
    assert idea.support == 0  # on, then off: as two clicks are
    # Oppose after support switches; support again after that switches back.
    await services.ideas.vote(g, number, 2, 1, toggle=True)
    switched = await services.ideas.vote(g, number, 2, -1, toggle=True)
    assert (switched.previous, switched.current) == (1, -1)


async def _timer(services: Services, kind: str, key: str) -> dict[str, object] | None:
    rows = await services.db.fetchall(
        "SELECT kind, key, done_at, payload FROM timers WHERE kind = ? AND key = ?", (kind, key)
    )
    return dict(rows[0]) if rows else None


async def test_a_new_idea_is_recorded_with_its_publication(services: Services) -> None:
    g = await _guild(services, "1s")
    submission = await services.ideas.submit(IdeaDraft(g, 1, "Publish me", ""))
    row = await _timer(services, PUBLISH_CARD, card_key(submission.idea.id))
    assert row is not None and row["done_at"] is None


async def test_the_similar_ideas_a_card_shows_are_read_in_the_submissions_unit(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = await _guild(services, "1s")
    ideas = services.ideas
    shown = (await ideas.submit(IdeaDraft(g, 1, "Dark mode for the mobile app", ""))).idea
    hidden = (await ideas.submit(IdeaDraft(g, 2, "Dark mode in the mobile app", ""))).idea
    await ideas.submit(IdeaDraft(g, 3, "Export the leaderboard as CSV", ""))
    await ideas.warm_up(g)  # the index is built at start; its first read is not the capture's
    # Hidden behind the index's back (as by a change racing the lookup): the store decides.
    await services.db.execute("UPDATE ideas SET status = 'hidden' WHERE id = ?", (hidden.id,))
    reads: list[object] = []
    real_read = services.db.read

    async def counted_read(fn: Any) -> Any:
        reads.append(fn)
        return await real_read(fn)

    monkeypatch.setattr(services.db, "read", counted_read)
    submission = await ideas.submit(IdeaDraft(g, 4, "Mobile app dark mode", ""), similar=None)
    monkeypatch.undo()
    assert reads == []  # one write unit: the matches are read inside it
    row = await _timer(services, PUBLISH_CARD, card_key(submission.idea.id))
    assert row is not None
    similar = orjson.loads(str(row["payload"]))["similar"]
    # The hidden look-alike is found by the index but not shown; the unrelated idea is not
    # found at all.
    assert [s["number"] for s in similar] == [shown.number]
    assert similar[0]["title"] == "Dark mode for the mobile app"
    assert similar[0]["status"] == "new" and similar[0]["score"] > 0
    # Without similar=None, nothing is looked up (callers that offered them already).
    plain = await ideas.submit(IdeaDraft(g, 5, "Dark mode for the mobile app, please", ""))
    row = await _timer(services, PUBLISH_CARD, card_key(plain.idea.id))
    assert row is not None and orjson.loads(str(row["payload"]))["similar"] == []


async def test_a_failed_submit_records_no_publication(services: Services) -> None:
    g = await _guild(services)
    now = datetime.now(UTC)
    await services.ideas.submit(_message_draft(g, 1, 1, now))
    with pytest.raises(RateLimited):
        await services.ideas.submit(_message_draft(g, 1, 2, now))
    count = await services.db.fetchval(
        "SELECT count(*) FROM timers WHERE guild_id = ? AND kind = ?", (g, PUBLISH_CARD)
    )
    assert count == 1


async def test_a_status_change_is_recorded_with_its_announcements(services: Services) -> None:
    g = await _guild(services, "1s")
    number = (await services.ideas.submit(IdeaDraft(g, 1, "Decide me", ""))).idea.number
    await services.ideas.vote(g, number, 2, 1)
    await services.ideas.set_notifications(g, 2, True)
    change = await services.ideas.change_status(
        g, number, IdeaStatus.PLANNED, "On the roadmap", MOD, moderator=True
    )
    assert change.publish_key is not None
    assert await _timer(services, PUBLISH_STATUS, change.publish_key) is not None
    # The follower's batched DM is a timer row of the same unit.
    assert await _timer(services, DM_TIMER, f"{g}:2") is not None
    hidden = await services.ideas.change_status(
        g, number, IdeaStatus.HIDDEN, "Off topic", MOD, moderator=True
    )
    assert hidden.publish_key is None  # moderation is not announced


async def test_card_versions_track_what_cards_show(services: Services) -> None:
    g = await _guild(services, "1s")
    idea = (await services.ideas.submit(IdeaDraft(g, 1, "Versioned", ""))).idea
    await services.ideas.attach_card(idea.id, 10, 11, 11, idea.card_version)
    assert await services.ideas.stale_cards(g) == []
    await services.ideas.vote(g, idea.number, 2, 1)
    await services.ideas.edit(
        g, idea.number, 1, title="Versioned, edited", body=None, moderator=False
    )
    (stale,) = await services.ideas.stale_cards(g)
    assert stale.card_version > stale.card_shown
    await services.ideas.card_shown(stale.id, stale.card_version)
    assert await services.ideas.stale_cards(g) == []
    # An older edit finishing late never moves the shown version back.
    await services.ideas.card_shown(stale.id, idea.card_version)
    assert await services.ideas.stale_cards(g) == []


async def test_a_channel_starts_its_cursor_when_it_becomes_watched(services: Services) -> None:
    g = await _guild(services)
    before = datetime.now(UTC)
    await services.guild_settings.set_values(g, {"watched_channels": [31, 32]}, MOD)
    for channel in (31, 32):
        cursor = await services.ideas.cursor(channel)
        assert cursor is not None
        assert abs(snowflake_time(cursor) - before) < timedelta(seconds=5)
    # Moving a watched channel's cursor on is kept when another channel is added.
    await services.ideas.advance_cursor(g, 31, time_snowflake(before + timedelta(hours=1)))
    await services.guild_settings.set_values(g, {"watched_channels": [31, 32, 33]}, MOD)
    assert await services.ideas.cursor(31) == time_snowflake(before + timedelta(hours=1))
    assert await services.ideas.cursor(33) is not None


def test_snowflakes_round_trip_to_the_millisecond() -> None:
    moment = datetime(2026, 12, 4, 12, 30, 15, 123000, tzinfo=UTC)
    assert snowflake_time(time_snowflake(moment)) == moment
    assert snowflake_time(175928847299117063) == datetime(
        2016, 4, 30, 11, 18, 25, 796000, tzinfo=UTC
    )


async def test_a_read_racing_a_change_never_caches_the_old_settings(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settings read that began before a change and ends after it must not leave the
    old settings cached for good (seen as a moderator refused right after /setup)."""
    g = next(_guilds)
    db = services.db
    real_read = db.read
    release = asyncio.Event()

    async def slow_read(fn):  # type: ignore[no-untyped-def]
        result = await real_read(fn)  # the old overrides: read before the change
        await release.wait()
        return result

    monkeypatch.setattr(db, "read", slow_read)
    racing = asyncio.create_task(services.guild_settings.get(g))
    await asyncio.sleep(0)  # the read has begun
    monkeypatch.setattr(db, "read", real_read)
    await services.guild_settings.set_values(g, {"ideas_cooldown": "5m"}, MOD)
    release.set()
    await racing
    assert (await services.guild_settings.get(g))["ideas_cooldown"] == "5m"
