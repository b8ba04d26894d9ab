"""Services on a real, migrated SQLite database: settings, privacy, guilds and timers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import Services, create_services
from bot.errors import Conflict, InvalidInput, NotFound
from bot.scheduling.scheduler import create_scheduler
from bot.scheduling.timers import JOB_ID, Timer, TimerService
from bot.services.guild_settings import GuildSettingsService
from bot.services.guilds import GuildService
from bot.services.privacy import PrivacyService
from bot.settings import Settings
from bot.storage import common
from bot.storage.database import Database

GUILD, OTHER_GUILD = 1001, 2002
MOD, MEMBER = 501, 777
C1, C2 = 111111111111111111, 222222222222222222


async def mod_actions(db: Database, guild_id: int = GUILD) -> list[dict[str, Any]]:
    rows = await db.fetchall(
        "SELECT * FROM mod_actions WHERE guild_id = ? ORDER BY id", (guild_id,)
    )
    return [dict(row) for row in rows]


# -- guild settings -------------------------------------------------------------------------
@pytest.fixture
def guild_settings(db: Database, settings: Settings) -> GuildSettingsService:
    return GuildSettingsService(db, settings.guild_defaults)


async def test_set_stores_typed_value_and_audits(
    guild_settings: GuildSettingsService, db: Database
) -> None:
    spec, value = await guild_settings.set(GUILD, "ideas_channel", f"<#{C1}>", MOD)
    assert (spec.key, value) == ("ideas_channel", C1)
    config = await guild_settings.get(GUILD)
    assert config.channel("ideas_channel") == C1
    assert config.overridden == {"ideas_channel"}
    (audit,) = await mod_actions(db)
    assert (audit["actor_id"], audit["action"], audit["target"]) == (
        MOD,
        "config.set",
        "ideas_channel",
    )
    assert str(C1) in audit["detail"]
    # Other guilds still see the defaults.
    assert (await guild_settings.get(OTHER_GUILD)).channel("ideas_channel") is None


async def test_values_survive_a_fresh_service(
    guild_settings: GuildSettingsService, db: Database, settings: Settings
) -> None:
    await guild_settings.set(GUILD, "watched_channels", f"<#{C1}> <#{C2}>", MOD)
    await guild_settings.set(GUILD, "timezone", "Asia/Tokyo", MOD)
    fresh = GuildSettingsService(db, settings.guild_defaults)
    config = await fresh.get(GUILD)
    assert config["watched_channels"] == [C1, C2]
    assert config.timezone.key == "Asia/Tokyo"


async def test_cache_is_used_and_invalidated_by_changes(
    guild_settings: GuildSettingsService, db: Database
) -> None:
    first = await guild_settings.get(GUILD)
    assert await guild_settings.get(GUILD) is first
    # A change behind the service's back is not seen while cached...
    await db.write(lambda c: common.set_guild_setting(c, GUILD, "staff_channel", C2, None))
    assert (await guild_settings.get(GUILD)).channel("staff_channel") is None
    # ...but any change through the service drops the cache.
    await guild_settings.set(GUILD, "ideas_channel", str(C1), MOD)
    config = await guild_settings.get(GUILD)
    assert config is not first
    assert (config.channel("staff_channel"), config.channel("ideas_channel")) == (C2, C1)
    await guild_settings.reset(GUILD, "ideas_channel", MOD)
    assert (await guild_settings.get(GUILD)).channel("ideas_channel") is None


async def test_unknown_key_is_invalid_input_and_changes_nothing(
    guild_settings: GuildSettingsService, db: Database
) -> None:
    with pytest.raises(InvalidInput) as info:
        await guild_settings.set(GUILD, "idea_channel", str(C1), MOD)
    assert info.value.code == "unknown_setting"
    assert "`ideas_channel`" in info.value.message
    with pytest.raises(InvalidInput):
        await guild_settings.set_values(GUILD, {"timezone": "UTC", "nope": 1}, MOD)
    with pytest.raises(InvalidInput):
        await guild_settings.reset(GUILD, "nope", MOD)
    assert await db.fetchval("SELECT count(*) FROM guild_settings") == 0
    assert await mod_actions(db) == []


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("ideas_channel", "#general"),
        ("timezone", "Mars/Olympus"),
        ("moderator_roles", f"<@&{C1}>, mods"),
        ("watched_channels", f"<#{C1}> <@&{C2}>"),
    ],
)
async def test_bad_value_changes_nothing(
    guild_settings: GuildSettingsService, db: Database, key: str, raw: str
) -> None:
    await guild_settings.set(GUILD, "staff_channel", str(C2), MOD)
    before = dict((await guild_settings.get(GUILD)).items())
    audits = await mod_actions(db)
    with pytest.raises(InvalidInput) as info:
        await guild_settings.set(GUILD, key, raw, MOD)
    assert info.value.message
    assert dict((await guild_settings.get(GUILD)).items()) == before
    assert await db.fetchval("SELECT count(*) FROM guild_settings") == 1
    assert await mod_actions(db) == audits


async def test_reset_one_and_all(guild_settings: GuildSettingsService, db: Database) -> None:
    await guild_settings.set_values(GUILD, {"ideas_channel": C1, "staff_channel": C2}, MOD)
    await guild_settings.set(OTHER_GUILD, "ideas_channel", str(C1), MOD)
    assert await guild_settings.reset(GUILD, "ideas_channel", MOD) == 1
    assert await guild_settings.reset(GUILD, "ideas_channel", MOD) == 0
    config = await guild_settings.get(GUILD)
    assert (config.channel("ideas_channel"), config.channel("staff_channel")) == (None, C2)
    assert await guild_settings.reset(GUILD, None, MOD) == 1
    assert (await guild_settings.get(GUILD)).overridden == frozenset()
    assert (await guild_settings.get(OTHER_GUILD)).channel("ideas_channel") == C1
    actions = [(a["action"], a["target"]) for a in await mod_actions(db)]
    assert actions == [
        ("config.set", "ideas_channel,staff_channel"),
        ("config.reset", "ideas_channel"),
        ("config.reset", "ideas_channel"),
        ("config.reset", "*"),
    ]


async def test_stored_key_unknown_to_the_code_is_ignored(
    guild_settings: GuildSettingsService, db: Database
) -> None:
    await db.write(lambda c: common.set_guild_setting(c, GUILD, "retired_setting", 5, None))
    config = await guild_settings.get(GUILD)
    assert config.overridden == frozenset()
    assert "retired_setting" not in dict(config.items())


# -- privacy --------------------------------------------------------------------------------
@pytest.fixture
def privacy(db: Database) -> tuple[PrivacyService, list[tuple[str, int, int]]]:
    service = PrivacyService(db)
    calls: list[tuple[str, int, int]] = []

    def handler(feature: str, result: dict[str, int]) -> Callable[..., Awaitable[dict[str, int]]]:
        async def forget(guild_id: int, user_id: int) -> dict[str, int]:
            calls.append((feature, guild_id, user_id))
            return result

        return forget

    service.register("ideas", handler("ideas", {"ideas anonymised": 3}))
    service.register("points", handler("points", {"ledger rows": 7}))
    return service, calls


async def test_privacy_request_confirm_runs_every_handler_once(
    privacy: tuple[PrivacyService, list[tuple[str, int, int]]], db: Database
) -> None:
    service, calls = privacy
    assert service.features == ("ideas", "points")
    request = await service.request(GUILD, MEMBER)
    assert (request.guild_id, request.user_id, request.status) == (GUILD, MEMBER, "pending")
    with pytest.raises(Conflict):
        await service.request(GUILD, MEMBER)
    other = await service.request(OTHER_GUILD, MEMBER)  # one pending per guild, not global
    assert other.id != request.id

    confirmed, report = await service.confirm(GUILD, request.id, MOD)
    assert confirmed.id == request.id
    assert sorted(calls) == [("ideas", GUILD, MEMBER), ("points", GUILD, MEMBER)]
    assert report == {
        "ideas": {"ideas anonymised": 3},
        "points": {"ledger rows": 7},
        "events": {"event records anonymised": 0},
    }
    row = await db.fetchone("SELECT * FROM privacy_requests WHERE id = ?", (request.id,))
    assert row is not None
    assert (row["status"], row["decided_by"]) == ("done", MOD)
    assert orjson.loads(row["report"]) == report
    assert (await service.get(GUILD, request.id)).status == "done"

    with pytest.raises(Conflict):
        await service.confirm(GUILD, request.id, MOD)
    assert len(calls) == 2  # nothing ran a second time
    # Once handled, the member may ask again.
    assert (await service.request(GUILD, MEMBER)).id not in (request.id, other.id)


async def test_privacy_reject(
    privacy: tuple[PrivacyService, list[tuple[str, int, int]]], db: Database
) -> None:
    service, calls = privacy
    request = await service.request(GUILD, MEMBER)
    rejected = await service.reject(GUILD, request.id, MOD)
    assert rejected.id == request.id
    assert (await service.get(GUILD, request.id)).status == "rejected"
    with pytest.raises(Conflict):
        await service.confirm(GUILD, request.id, MOD)
    with pytest.raises(Conflict):
        await service.reject(GUILD, request.id, MOD)
    assert calls == []


async def test_privacy_request_of_another_guild_is_not_found(
    privacy: tuple[PrivacyService, list[tuple[str, int, int]]],
) -> None:
    service, calls = privacy
    request = await service.request(GUILD, MEMBER)
    with pytest.raises(NotFound):
        await service.confirm(OTHER_GUILD, request.id, MOD)
    with pytest.raises(NotFound):
        await service.get(GUILD, request.id + 1000)
    assert calls == []
    assert (await service.get(GUILD, request.id)).status == "pending"


async def test_forget_without_a_request_and_reregistration(
    privacy: tuple[PrivacyService, list[tuple[str, int, int]]],
) -> None:
    service, calls = privacy

    async def replacement(guild_id: int, user_id: int) -> dict[str, int]:
        calls.append(("ideas-v2", guild_id, user_id))
        return {}

    service.register("ideas", replacement)
    report = await service.forget(GUILD, MEMBER)
    assert sorted(calls) == [("ideas-v2", GUILD, MEMBER), ("points", GUILD, MEMBER)]
    assert set(report) == {"ideas", "points", "events"}


# -- guilds ---------------------------------------------------------------------------------
async def test_checklist_is_claimed_exactly_once(db: Database) -> None:
    guilds = GuildService(db)
    await guilds.joined(GUILD, "Makers")
    await guilds.joined(OTHER_GUILD, "Others")
    claims = await asyncio.gather(*(guilds.claim_checklist(GUILD) for _ in range(10)))
    assert claims.count(True) == 1
    assert await guilds.claim_checklist(GUILD) is False
    assert await guilds.claim_checklist(OTHER_GUILD) is True  # per guild
    await guilds.release_checklist(GUILD)
    assert await guilds.claim_checklist(GUILD) is True
    assert await guilds.claim_checklist(GUILD) is False


async def test_rejoining_keeps_the_checklist_claimed(db: Database) -> None:
    guilds = GuildService(db)
    await guilds.joined(GUILD, "Makers")
    assert await guilds.claim_checklist(GUILD) is True
    await guilds.left(GUILD)
    assert await db.fetchval("SELECT left_at FROM guilds WHERE guild_id = ?", (GUILD,))
    await guilds.joined(GUILD, "Makers renamed")
    row = await db.fetchone("SELECT name, left_at FROM guilds WHERE guild_id = ?", (GUILD,))
    assert row is not None and (row["name"], row["left_at"]) == ("Makers renamed", None)
    assert await guilds.claim_checklist(GUILD) is False


# -- timers ---------------------------------------------------------------------------------
class Clock:
    """Real time plus an offset the test moves forward (never back: see _arm)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        assert delta >= timedelta(0)
        self.offset += delta


class Recorder:
    """A timer handler that records its calls and can be told to fail."""

    def __init__(self, clock: Clock, failures: int = 0) -> None:
        self.clock = clock
        self.failures = failures
        self.calls: list[tuple[Timer, datetime]] = []
        self.event = asyncio.Event()

    async def __call__(self, timer: Timer) -> None:
        self.calls.append((timer, self.clock()))
        self.event.set()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("Discord is down")

    @property
    def keys(self) -> list[str]:
        return [timer.key for timer, _ in self.calls]


@pytest.fixture
async def scheduler() -> AsyncIterator[AsyncIOScheduler]:
    sched = create_scheduler()
    sched.start()
    try:
        yield sched
    finally:
        sched.shutdown(wait=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    built = create_services(settings, clock=clock)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def timer_row(db: Database, key: str) -> dict[str, Any]:
    row = await db.fetchone("SELECT * FROM timers WHERE key = ?", (key,))
    assert row is not None
    return dict(row)


async def test_overdue_timer_runs_once_at_start_and_never_after_restart(
    settings: Settings, clock: Clock
) -> None:
    first = create_services(settings, clock=clock)
    await first.start()
    await first.timers.schedule(
        GUILD, "poll.close", "poll:1", clock() + timedelta(hours=1), {"n": 1}
    )
    await first.close()

    clock.advance(timedelta(hours=2))  # the bot was down when the poll should have closed

    for restart in range(2):
        services = create_services(settings, clock=clock)
        await services.start()
        recorder = Recorder(clock)
        services.timers.register("poll.close", recorder)
        sched = create_scheduler()
        sched.start()
        try:
            await services.timers.start(sched)
            if restart == 0:
                assert recorder.keys == ["poll:1"]
                timer, ran_at = recorder.calls[0]
                assert (timer.guild_id, timer.kind, timer.payload) == (
                    GUILD,
                    "poll.close",
                    {"n": 1},
                )
                assert ran_at >= timer.due_at
                row = await timer_row(services.db, "poll:1")
                assert row["done_at"] is not None and row["attempts"] == 0
                assert sched.get_job(JOB_ID) is None  # nothing else is due
            else:
                assert recorder.calls == []
        finally:
            sched.shutdown(wait=False)
            await services.close()


async def test_timer_due_shortly_runs_once_when_due(
    services: Services, scheduler: AsyncIOScheduler, clock: Clock
) -> None:
    recorder = Recorder(clock)
    services.timers.register("reminder", recorder)
    await services.timers.start(scheduler)
    due = clock() + timedelta(milliseconds=150)
    await services.timers.schedule(GUILD, "reminder", "r:1", due, {"text": "stand up"})
    assert recorder.calls == []  # not before it is due
    assert scheduler.get_job(JOB_ID) is not None

    await asyncio.wait_for(recorder.event.wait(), timeout=5)
    await services.timers.run_due()  # waits for the running dispatch to finish
    assert recorder.keys == ["r:1"]
    timer, ran_at = recorder.calls[0]
    assert ran_at >= due
    assert timer.payload == {"text": "stand up"}
    assert (await timer_row(services.db, "r:1"))["done_at"] is not None


async def test_rescheduling_earlier_replaces_the_timer_and_rearms(
    services: Services, scheduler: AsyncIOScheduler, clock: Clock
) -> None:
    recorder = Recorder(clock)
    services.timers.register("reminder", recorder)
    await services.timers.start(scheduler)
    await services.timers.schedule(GUILD, "reminder", "r:1", clock() + timedelta(hours=1), {"v": 1})
    job = scheduler.get_job(JOB_ID)
    assert job is not None and job.next_run_time > clock() + timedelta(minutes=59)

    moved = clock() + timedelta(milliseconds=100)
    await services.timers.schedule(GUILD, "reminder", "r:1", moved, {"v": 2})
    await asyncio.wait_for(recorder.event.wait(), timeout=5)
    await services.timers.run_due()
    assert [timer.payload for timer, _ in recorder.calls] == [{"v": 2}]
    assert await services.db.fetchval("SELECT count(*) FROM timers") == 1


async def test_rescheduling_later_replaces_the_timer(services: Services, clock: Clock) -> None:
    recorder = Recorder(clock)
    services.timers.register("reminder", recorder)
    await services.timers.schedule(
        GUILD, "reminder", "r:1", clock() + timedelta(minutes=5), {"v": 1}
    )
    await services.timers.schedule(GUILD, "reminder", "r:1", clock() + timedelta(hours=2), {"v": 2})
    clock.advance(timedelta(minutes=10))
    assert await services.timers.run_due() == 0
    assert recorder.calls == []
    clock.advance(timedelta(hours=2))
    assert await services.timers.run_due() == 1
    assert [timer.payload for timer, _ in recorder.calls] == [{"v": 2}]
    assert await services.db.fetchval("SELECT count(*) FROM timers") == 1


async def test_failing_handler_is_retried_later(
    services: Services, scheduler: AsyncIOScheduler, clock: Clock
) -> None:
    recorder = Recorder(clock, failures=2)
    services.timers.register("digest", recorder)
    await services.timers.schedule(GUILD, "digest", "d:1", clock() - timedelta(seconds=1))

    failed_at = clock()
    await services.timers.start(scheduler)  # runs it: the handler fails
    assert len(recorder.calls) == 1
    row = await timer_row(services.db, "d:1")
    assert row["done_at"] is None
    assert row["attempts"] == 1
    assert "Discord is down" in row["last_error"]
    retry_at = datetime.fromisoformat(row["due_at"])
    assert failed_at + timedelta(seconds=29) <= retry_at <= clock() + timedelta(seconds=31)
    job = scheduler.get_job(JOB_ID)
    assert job is not None and abs(job.next_run_time - retry_at) < timedelta(seconds=1)

    assert await services.timers.run_due() == 0  # not due again yet
    assert len(recorder.calls) == 1

    clock.advance(timedelta(seconds=31))
    assert await services.timers.run_due() == 0  # second failure: backoff doubles
    row = await timer_row(services.db, "d:1")
    assert (row["attempts"], row["done_at"]) == (2, None)
    assert datetime.fromisoformat(row["due_at"]) >= clock() + timedelta(seconds=59)

    clock.advance(timedelta(seconds=61))
    assert await services.timers.run_due() == 1
    assert [timer.attempts for timer, _ in recorder.calls] == [0, 1, 2]
    assert (await timer_row(services.db, "d:1"))["done_at"] is not None
    clock.advance(timedelta(hours=1))
    assert await services.timers.run_due() == 0
    assert len(recorder.calls) == 3


async def test_timer_without_handler_is_kept_for_later(services: Services, clock: Clock) -> None:
    await services.timers.schedule(GUILD, "unknown.kind", "u:1", clock() - timedelta(seconds=1))
    assert await services.timers.run_due() == 0
    row = await timer_row(services.db, "u:1")
    assert row["done_at"] is None and row["attempts"] == 1
    assert "no handler" in row["last_error"]


async def test_cancel(services: Services, clock: Clock) -> None:
    recorder = Recorder(clock)
    services.timers.register("reminder", recorder)
    await services.timers.schedule(GUILD, "reminder", "r:1", clock() + timedelta(minutes=1))
    await services.timers.schedule(GUILD, "reminder", "r:2", clock() + timedelta(minutes=1))
    assert await services.timers.cancel("reminder", "r:1") is True
    assert await services.timers.cancel("reminder", "r:1") is False
    assert await services.timers.cancel("reminder", "never") is False
    clock.advance(timedelta(minutes=2))
    assert await services.timers.run_due() == 1
    assert recorder.keys == ["r:2"]


async def test_concurrent_dispatches_run_a_timer_once(services: Services, clock: Clock) -> None:
    recorder = Recorder(clock)
    services.timers.register("reminder", recorder)
    for i in range(5):
        await services.timers.schedule(GUILD, "reminder", f"r:{i}", clock() - timedelta(minutes=i))
    results = await asyncio.gather(*(services.timers.run_due() for _ in range(4)))
    assert sum(results) == 5
    assert sorted(recorder.keys) == [f"r:{i}" for i in range(5)]
    assert recorder.keys == [f"r:{i}" for i in reversed(range(5))]  # oldest first


async def test_timer_rescheduled_by_its_handler_runs_again(
    services: Services, clock: Clock
) -> None:
    calls: list[dict[str, Any]] = []

    async def repeat(timer: Timer) -> None:
        calls.append(timer.payload)
        if timer.payload["round"] == 1:
            await services.timers.schedule(
                timer.guild_id, timer.kind, timer.key, clock() + timedelta(hours=1), {"round": 2}
            )

    services.timers.register("repeat", repeat)
    await services.timers.schedule(
        GUILD, "repeat", "x", clock() - timedelta(seconds=1), {"round": 1}
    )
    await services.timers.run_due()
    assert (await timer_row(services.db, "x"))["done_at"] is None  # the new round is pending
    clock.advance(timedelta(hours=2))
    await services.timers.run_due()
    assert calls == [{"round": 1}, {"round": 2}]
    assert (await timer_row(services.db, "x"))["done_at"] is not None


async def test_timer_scheduled_during_a_run_is_not_lost(
    services: Services, scheduler: AsyncIOScheduler, clock: Clock
) -> None:
    follow_up = Recorder(clock)

    async def first(timer: Timer) -> None:
        await services.timers.schedule(GUILD, "follow", "f:1", clock())

    services.timers.register("first", first)
    services.timers.register("follow", follow_up)
    await services.timers.schedule(GUILD, "first", "a:1", clock() - timedelta(seconds=1))
    await services.timers.start(scheduler)
    await asyncio.wait_for(follow_up.event.wait(), timeout=5)
    await services.timers.run_due()
    assert follow_up.keys == ["f:1"]


async def test_new_timer_service_on_same_database_sees_pending_timers(
    services: Services, clock: Clock
) -> None:
    await services.timers.schedule(GUILD, "reminder", "r:1", clock() - timedelta(seconds=1))
    other = TimerService(services.db, clock)
    recorder = Recorder(clock)
    other.register("reminder", recorder)
    assert await other.run_due() == 1
    assert recorder.keys == ["r:1"]


async def test_forget_scrubs_the_member_from_past_events(db: Database) -> None:
    member, other, guild = 123456789012345678, 223456789012345678, 1
    await db.write(
        lambda c: common.emit_event(
            c,
            guild,
            "idea.vote_cast",
            subject_id=5,
            actor_id=member,
            payload={"author_id": other, "voter_id": member},
        )
    )
    await db.write(
        lambda c: common.emit_event(
            c, 2, "idea.vote_cast", actor_id=member, payload={"voter_id": member}
        )
    )
    report = await PrivacyService(db).forget(guild, member)
    assert report["events"]["event records anonymised"] == 2
    rows = await db.fetchall("SELECT guild_id, actor_id, payload FROM outbox ORDER BY id")
    assert rows[0]["actor_id"] == 0 and str(member) not in rows[0]["payload"]
    assert str(other) in rows[0]["payload"]
    assert rows[1]["actor_id"] == member  # another guild is untouched
