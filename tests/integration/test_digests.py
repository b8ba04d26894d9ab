"""Digests on a real, migrated SQLite database: each period posted exactly once across
restarts, downtime recorded as one late post and skipped periods, and the period queries
using their indexes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import Services, create_services
from bot.domain.digest_model import DigestSection, Period, RunKind, RunStatus
from bot.scheduling.timers import Timer
from bot.services.digests import DUE, PUBLISH, due_key
from bot.settings import Settings
from bot.storage import digests as repo

GUILD, STAFF, MOD = 1001, 4242, 501
# Monday 3 March 2025, 09:00 UTC: a fire time of the default schedule (weekly, UTC).
MONDAY = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY - timedelta(days=2))


async def started(settings: Settings, clock: Clock, posts: list[int]) -> Services:
    """A process: services on the shared file, with a publisher that records posts."""
    services = create_services(settings, clock=clock)
    await services.start()

    async def due(timer: Timer) -> Any:
        return await services.digests.run_due(timer.guild_id, timer.payload)

    async def publish(timer: Timer) -> Any:
        run_id = int(timer.payload["run_id"])
        posts.append(run_id)
        return services.digests.published_recorder(run_id, STAFF, [len(posts)])

    services.timers.register(DUE, due)
    services.timers.register(PUBLISH, publish)
    return services


@pytest.fixture
async def configured(settings: Settings, clock: Clock) -> AsyncIterator[Settings]:
    services = await started(settings, clock, [])
    await services.guild_settings.set_values(GUILD, {"staff_channel": STAFF}, MOD)
    await services.digests.ensure_armed([GUILD])
    await services.close()
    yield settings


async def runs(services: Services) -> list[tuple[str, str, bool, datetime]]:
    history = await services.digests.history(GUILD, limit=50)
    return [(r.kind, r.status, r.late, r.period.end) for r in reversed(history)]


async def test_the_default_schedule_arms_monday_nine_in_the_guilds_timezone(
    configured: Settings, clock: Clock
) -> None:
    services = await started(configured, clock, [])
    try:
        row = await services.db.fetchall(
            "SELECT due_at FROM timers WHERE kind = ? AND key = ?", (DUE, due_key(GUILD))
        )
        assert datetime.fromisoformat(row[0][0]) == MONDAY
        # A timezone change re-arms it in the same unit: 09:00 in Paris is 08:00 UTC.
        await services.guild_settings.set_values(GUILD, {"timezone": "Europe/Paris"}, MOD)
        row = await services.db.fetchall(
            "SELECT due_at FROM timers WHERE kind = ? AND key = ?", (DUE, due_key(GUILD))
        )
        assert datetime.fromisoformat(row[0][0]) == MONDAY - timedelta(hours=1)
    finally:
        await services.close()


async def test_restart_around_a_due_time_posts_exactly_once(
    configured: Settings, clock: Clock
) -> None:
    posts: list[int] = []
    clock.now = MONDAY - timedelta(seconds=1)
    first = await started(configured, clock, posts)
    assert await first.timers.run_due() == 0  # not due yet
    await first.close()  # the process stops a second before the fire time
    clock.now = MONDAY + timedelta(seconds=30)
    second = await started(configured, clock, posts)
    await second.timers.run_due()  # start-up: what fell due runs
    await second.timers.run_due()  # the publication row it wrote
    await second.close()
    third = await started(configured, clock, posts)  # a restart right after
    await third.timers.run_due()
    await third.timers.run_due()
    try:
        assert len(posts) == 1
        assert await runs(third) == [(RunKind.SCHEDULED, RunStatus.PUBLISHED, False, MONDAY)]
    finally:
        await third.close()


async def test_downtime_across_three_due_times_posts_once_late_and_skips_two(
    configured: Settings, clock: Clock
) -> None:
    posts: list[int] = []
    clock.now = MONDAY + timedelta(weeks=2, hours=5)  # down since before the first Monday
    services = await started(configured, clock, posts)
    try:
        await services.timers.run_due()
        await services.timers.run_due()
        assert len(posts) == 1
        assert await runs(services) == [
            (RunKind.SCHEDULED, RunStatus.SKIPPED, True, MONDAY),
            (RunKind.SCHEDULED, RunStatus.SKIPPED, True, MONDAY + timedelta(weeks=1)),
            (RunKind.SCHEDULED, RunStatus.PUBLISHED, True, MONDAY + timedelta(weeks=2)),
        ]
        # Re-armed for the next Monday; nothing else is due.
        assert await services.timers.run_due() == 0
        row = await services.db.fetchall(
            "SELECT due_at, done_at FROM timers WHERE kind = ? AND key = ?", (DUE, due_key(GUILD))
        )
        assert datetime.fromisoformat(row[0][0]) == MONDAY + timedelta(weeks=3)
        assert row[0][1] is None
    finally:
        await services.close()


async def test_digest_now_is_an_extra_run_beside_the_scheduled_one(
    configured: Settings, clock: Clock
) -> None:
    posts: list[int] = []
    clock.now = MONDAY + timedelta(days=2)
    services = await started(configured, clock, posts)
    try:
        run, publication = await services.digests.post_now(GUILD, MOD)
        assert run.kind is RunKind.EXTRA and run.period.start == MONDAY
        assert await services.timers.run_written(publication)
        await services.timers.run_due()  # the scheduled Monday digest, due since Monday
        await services.timers.run_due()
        kinds = sorted(r[0] for r in await runs(services))
        assert kinds == [RunKind.EXTRA, RunKind.SCHEDULED]
        assert len(posts) == 2
    finally:
        await services.close()


PERIOD_QUERIES = {
    "new_ideas": lambda c, s, e: repo.new_ideas(c, GUILD, s, e),
    "new_votes": lambda c, s, e: repo.new_votes(c, GUILD, s, e),
    "top_points": lambda c, s, e: repo.top_points(c, GUILD, s, e, 5),
    "decisions": lambda c, s, e: repo.decisions(c, GUILD, s, e),
}


@pytest.mark.parametrize("name", sorted(PERIOD_QUERIES))
async def test_period_queries_use_their_indexes(settings: Settings, name: str) -> None:
    services = create_services(settings)
    await services.start()
    captured: list[str] = []

    def plan(conn: Any) -> None:
        conn.set_trace_callback(captured.append)
        try:
            PERIOD_QUERIES[name](conn, "2025-01-01", "2025-02-01")
        finally:
            conn.set_trace_callback(None)
        for sql in captured:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            detail = " ".join(str(r[3]) for r in rows)
            assert "USING" in detail and "SCAN ideas " not in detail + " ", (sql, detail)

    try:
        await services.db.read(plan)
    finally:
        await services.close()


async def test_sections_read_together_come_out_in_order_and_one_failing_is_left_out(
    settings: Settings, clock: Clock
) -> None:
    # "first" waits until "second" has started: read one after the other, the build would
    # never finish. The output keeps registration order; a failing section is logged and
    # left out, the others stand.
    services = await started(settings, clock, [])
    try:
        second_started = asyncio.Event()

        async def first(guild_id: int, period: Period) -> DigestSection:
            await second_started.wait()
            return DigestSection("first", "First", ("one",))

        async def second(guild_id: int, period: Period) -> DigestSection:
            second_started.set()
            return DigestSection("second", "Second", ("two",))

        async def broken(guild_id: int, period: Period) -> DigestSection:
            raise RuntimeError("a section's bug")

        services.digests.register_section("first", first)
        services.digests.register_section("broken", broken)
        services.digests.register_section("second", second)
        period = Period(MONDAY - timedelta(days=7), MONDAY)
        digest = await asyncio.wait_for(services.digests.build(GUILD, period), 10)
        keys = [section.key for section in digest.sections]
        assert keys.index("first") < keys.index("second")
        assert "broken" not in keys
        assert keys[0] == "headline"
    finally:
        await services.close()
