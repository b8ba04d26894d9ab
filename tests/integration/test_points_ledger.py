"""PointsService on a real SQLite database: awards, caps, adjustments, reversals,
leaderboards, seasons, role-reward totals and forgetting a member."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.points import Period
from bot.errors import Conflict, InvalidInput, PermissionDenied
from bot.services.guild_settings import GuildSettingsService
from bot.services.points import PointsService
from bot.settings import Settings
from bot.storage.database import Database

G = 1000
MOD = 900
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **amount: float) -> None:
        self.now += timedelta(**amount)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def guild_settings(db: Database, settings: Settings) -> GuildSettingsService:
    return GuildSettingsService(db, settings.guild_defaults)


@pytest.fixture
def points(db: Database, guild_settings: GuildSettingsService, clock: Clock) -> PointsService:
    return PointsService(db, guild_settings, clock)


async def consistent(points: PointsService, guild: int = G) -> dict[int, int]:
    """Totals equal ledger sums for every member; returns the totals."""
    sums = await points.ledger_sums(guild)
    totals = {m: (await points.totals(guild, m))[0] for m in sums}
    assert totals == sums
    return totals


async def test_an_award_pays_once_per_key(points: PointsService) -> None:
    first = await points.award_challenge(G, 5, challenge_id=3, place="winner")
    again = await points.award_challenge(G, 5, challenge_id=3, place="winner")
    finalist = await points.award_challenge(G, 5, challenge_id=3, place="finalist")
    assert (first.status, first.delta) == ("awarded", 100)
    assert again.status == "duplicate" and again.delta == 0
    assert finalist.delta == 25
    assert await points.totals(G, 5) == (125, 125)
    assert await consistent(points) == {5: 125}


async def test_nobody_awards_themselves(points: PointsService) -> None:
    result = await points.award_helpful(G, answerer_id=5, message_id=77, actor_id=5)
    assert result.status == "skipped"
    assert await points.totals(G, 5) == (0, 0)
    assert (await points.award_helpful(G, 5, 77, actor_id=6)).delta == 5
    assert (await points.award_helpful(G, 5, 77, actor_id=7)).status == "duplicate"


async def test_removing_the_paying_check_mark_takes_the_points_back(
    points: PointsService, db: Database, clock: Clock
) -> None:
    async def helpful_cap() -> int:
        return int(
            await db.fetchval("SELECT cap_helpful FROM points_totals WHERE member_id = 5") or 0
        )

    assert (await points.award_helpful(G, 5, 77, actor_id=6)).delta == 5
    assert await points.revoke_helpful(G, 77, actor_id=7) is None  # 7's ✅ never paid
    assert await points.totals(G, 5) == (5, 5)
    undone = await points.revoke_helpful(G, 77, actor_id=6)
    assert undone is not None and undone.delta == -5
    assert await points.totals(G, 5) == (0, 0)
    assert await helpful_cap() == 0  # the day's cap is given back
    assert await points.revoke_helpful(G, 77, actor_id=6) is None  # nothing stands now
    # Another qualifying ✅ pays again; toggling never nets more than one award.
    for _ in range(3):
        assert (await points.award_helpful(G, 5, 77, actor_id=7)).delta == 5
        assert (await points.award_helpful(G, 5, 77, actor_id=6)).status == "duplicate"
        assert (await points.revoke_helpful(G, 77, actor_id=None)) is not None  # cleared
    assert (await points.award_helpful(G, 5, 77, actor_id=7)).delta == 5
    assert await points.totals(G, 5) == (5, 5)
    assert await consistent(points) == {5: 5}
    # A removal on a later day returns nothing to that day's cap.
    clock.advance(days=1)
    await points.award_helpful(G, 5, 78, actor_id=6)
    assert await helpful_cap() == 5
    await points.revoke_helpful(G, 77, actor_id=7)
    assert await helpful_cap() == 5
    assert await points.totals(G, 5) == (5, 5)


async def test_daily_participation_cap_is_recorded_not_silently_dropped(
    points: PointsService, clock: Clock
) -> None:
    for poll in range(10):
        assert (await points.award_participation(G, 5, poll)).delta == 1
    capped = await points.award_participation(G, 5, 10)
    assert (capped.status, capped.delta, capped.withheld) == ("capped", 0, 1)
    assert await points.totals(G, 5) == (10, 10)
    history = await points.history(G, 5, limit=1)
    assert history[0].withheld == 1 and "daily cap" in history[0].reason
    # Policy feedback shares the participation cap.
    assert (await points.award_policy_feedback(G, 5, policy_id=1)).status == "capped"
    clock.advance(days=1)  # a new UTC day, a fresh cap
    assert (await points.award_policy_feedback(G, 5, policy_id=2)).delta == 2
    assert await consistent(points) == {5: 12}


async def test_a_cap_cuts_an_award_to_what_is_left(points: PointsService) -> None:
    for poll in range(9):
        await points.award_participation(G, 5, poll)
    partial = await points.award_policy_feedback(G, 5, policy_id=1)  # worth 2, 1 left
    assert (partial.status, partial.delta, partial.withheld) == ("capped", 1, 1)
    assert await points.totals(G, 5) == (10, 10)


async def test_guild_settings_change_values_and_caps(
    points: PointsService, guild_settings: GuildSettingsService
) -> None:
    await guild_settings.set_values(
        G, {"points_participation": 3, "points_cap_participation_daily": 0}, MOD
    )
    for poll in range(12):
        await points.award_participation(G, 5, poll)
    assert await points.totals(G, 5) == (36, 36)  # no cap
    await guild_settings.set_values(G, {"points_participation": 0}, MOD)
    assert (await points.award_participation(G, 5, 99)).status == "skipped"


async def test_a_ballots_award_planned_without_awaiting_is_the_awaited_plan(
    points: PointsService, guild_settings: GuildSettingsService
) -> None:
    """The ballot path's plan (what the guild's awards share kept per change of its rules)
    equals the full one, and follows the guild's settings when they change."""

    async def both(member: int, poll: int) -> tuple[object, object]:
        known, now = points.plan_participation_now(G, member, poll)
        assert known
        return now, await points.plan_participation(G, member, poll)

    await points.rules(G)  # built, as in a running bot
    for member, poll in ((5, 1), (6, 1), (5, 2)):
        now, awaited = await both(member, poll)
        assert now == awaited and now is not None
    await guild_settings.set_values(
        G, {"points_participation": 3, "points_cap_participation_daily": 7}, MOD
    )
    assert points.plan_participation_now(G, 5, 3) == (False, None)  # rules to rebuild
    await points.rules(G)
    now, awaited = await both(5, 3)
    assert now == awaited and now is not None
    assert (now.delta, now.cap) == (3, 7)
    await guild_settings.set_values(G, {"points_participation": 0}, MOD)
    await points.rules(G)
    assert await both(5, 4) == (None, None)


async def test_adjust_writes_an_entry_and_an_audit_row_together(
    points: PointsService, db: Database
) -> None:
    result = await points.adjust(G, 5, -20, "  Duplicate   accounts ", MOD, key="i-1")
    assert result.delta == -20
    again = await points.adjust(G, 5, -20, "Duplicate accounts", MOD, key="i-1")
    assert again.status == "duplicate"  # a double click changes nothing
    assert await points.totals(G, 5) == (-20, -20)
    rows = await db.fetchall(
        "SELECT actor_id, action, target, detail FROM mod_actions WHERE guild_id = ?", (G,)
    )
    assert [tuple(r) for r in rows] == [(MOD, "points.adjust", "5", "-20 Duplicate accounts")]
    entry = (await points.history(G, 5))[0]
    assert (entry.kind, entry.actor_id, entry.reason) == ("adjustment", MOD, "Duplicate accounts")


@pytest.mark.parametrize(
    ("delta", "reason", "error"),
    [
        (501, "too much", InvalidInput),
        (-501, "too much", InvalidInput),
        (0, "nothing", InvalidInput),
        (10, "   ", InvalidInput),
    ],
)
async def test_bad_adjustments_change_nothing(
    points: PointsService, db: Database, delta: int, reason: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await points.adjust(G, 5, delta, reason, MOD, key="k")
    assert await points.totals(G, 5) == (0, 0)
    assert await db.fetchval("SELECT COUNT(*) FROM mod_actions") == 0
    assert await db.fetchval("SELECT COUNT(*) FROM points_ledger") == 0


async def test_moderators_cannot_adjust_themselves(points: PointsService) -> None:
    with pytest.raises(PermissionDenied):
        await points.adjust(G, MOD, 100, "I'm great", MOD, key="k")


async def test_adjust_bound_is_a_guild_setting(
    points: PointsService, guild_settings: GuildSettingsService
) -> None:
    await guild_settings.set_values(G, {"points_adjust_max": 1000}, MOD)
    assert (await points.adjust(G, 5, 1000, "Hackathon", MOD, key="k")).delta == 1000


async def test_reverse_takes_back_what_a_source_stands_at_once(points: PointsService) -> None:
    await points.award_participation(G, 5, poll_id=4)
    await points.award_participation(G, 6, poll_id=4)
    await points.award_participation(G, 6, poll_id=5)
    results = await points.reverse(G, "poll", 4, key="void-4", reason="poll voided")
    assert sorted((r.member_id, r.delta) for r in results) == [(5, -1), (6, -1)]
    assert await points.reverse(G, "poll", 4, key="void-4b", reason="again") == []
    assert await consistent(points) == {5: 0, 6: 1}


async def test_leaderboards_from_totals_and_windows(points: PointsService, clock: Clock) -> None:
    await points.adjust(G, 1, 50, "old work", MOD, key="a")
    clock.advance(days=21)
    await points.adjust(G, 2, 30, "this month", MOD, key="b")
    clock.advance(days=10)
    for i, member in enumerate((3, 4, 5)):
        await points.adjust(G, member, 10 - i, "this week", MOD, key=f"c{i}")
    await points.award_helpful(G, 5, message_id=1, actor_id=3)
    every = await points.leaderboard(G, Period.ALL)
    assert [(r[1], r[2]) for r in every.rows] == [(1, 50), (2, 30), (5, 13), (3, 10), (4, 9)]
    week = await points.leaderboard(G, Period.WEEK)
    assert [(r[1], r[2]) for r in week.rows] == [(5, 13), (3, 10), (4, 9)]
    month = await points.leaderboard(G, Period.MONTH)
    assert [r[1] for r in month.rows] == [2, 5, 3, 4]
    helpful = await points.leaderboard(G, Period.ALL, "helpful")
    assert [(r[1], r[2]) for r in helpful.rows] == [(5, 5)]
    assert (await points.leaderboard(G, Period.WEEK, "votes")).rows == []
    with pytest.raises(InvalidInput):
        await points.leaderboard(G, Period.ALL, "karma")


async def test_leaderboard_pages_skip_excluded_members(points: PointsService) -> None:
    for member in range(1, 26):
        await points.adjust(G, member, member, "seed", MOD, key=f"s{member}")
    gone = {25, 20, 3}
    first = await points.leaderboard(G, Period.ALL, per_page=10, exclude=gone)
    assert [r[1] for r in first.rows] == [24, 23, 22, 21, 19, 18, 17, 16, 15, 14]
    assert [r[0] for r in first.rows] == list(range(1, 11)) and first.has_next
    second = await points.leaderboard(G, Period.ALL, page=1, per_page=10, exclude=gone)
    assert [r[1] for r in second.rows] == [13, 12, 11, 10, 9, 8, 7, 6, 5, 4]
    third = await points.leaderboard(G, Period.ALL, page=2, per_page=10, exclude=gone)
    assert [r[1] for r in third.rows] == [2, 1] and not third.has_next
    week = await points.leaderboard(G, Period.WEEK, page=2, per_page=10, exclude=gone)
    assert [r[1] for r in week.rows] == [2, 1]


async def test_show_has_rank_and_recent_entries(points: PointsService) -> None:
    await points.adjust(G, 1, 40, "one", MOD, key="a")
    await points.adjust(G, 2, 30, "two", MOD, key="b")
    await points.award_participation(G, 2, poll_id=1)
    card = await points.show(G, 2)
    assert (card.all_time, card.season, card.rank, card.season_no) == (31, 31, 2, 1)
    assert [e.kind for e in card.recent] == ["participation", "adjustment"]
    nobody = await points.show(G, 3)
    assert nobody.rank is None and nobody.recent == []
    # Ranked as leaderboards show it: members who left (or excluded staff) do not count.
    assert (await points.show(G, 2, exclude={1})).rank == 1
    assert (await points.show(G, 2, exclude={2})).rank == 2  # only others are looked up


async def test_season_start_archives_resets_and_keeps_all_time(
    points: PointsService, clock: Clock, db: Database
) -> None:
    await points.adjust(G, 1, 40, "s1", MOD, key="a")
    await points.adjust(G, 2, 30, "s1", MOD, key="b")
    clock.advance(hours=1)
    started = await points.start_season(G, MOD)
    assert (started.closed, started.opened, started.archived) == (1, 2, 2)
    assert started.top == [(1, 40), (2, 30)]
    assert await points.totals(G, 1) == (40, 0)
    with pytest.raises(Conflict):  # a double click does not skip a season
        await points.start_season(G, MOD)
    clock.advance(days=1)
    await points.adjust(G, 2, 5, "s2", MOD, key="c")
    season = await points.leaderboard(G, Period.SEASON)
    assert [(r[1], r[2]) for r in season.rows] == [(2, 5)] and season.season_no == 2
    season_kind = await points.leaderboard(G, Period.SEASON, "adjustments")
    assert [(r[1], r[2]) for r in season_kind.rows] == [(2, 5)]
    assert [r[1] for r in (await points.leaderboard(G, Period.ALL)).rows] == [1, 2]
    clock.advance(minutes=2)
    assert (await points.start_season(G, MOD)).opened == 3
    actions = await db.fetchall("SELECT action FROM mod_actions WHERE action LIKE 'points.season%'")
    assert len(actions) == 2


async def test_role_totals_follow_the_guild_basis(
    points: PointsService, guild_settings: GuildSettingsService
) -> None:
    await points.adjust(G, 1, 40, "before", MOD, key="a")
    await points.start_season(G, MOD)
    await points.adjust(G, 1, 5, "after", MOD, key="b")
    assert await points.role_totals(G, [1, 2]) == {1: 45, 2: 0}
    await guild_settings.set_values(G, {"points_role_basis": "season"}, MOD)
    assert await points.role_totals(G, [1, 2]) == {1: 5, 2: 0}


async def test_role_notices_are_claimed_once(points: PointsService) -> None:
    assert await points.claim_role_notice(G, 42)
    assert not await points.claim_role_notice(G, 42)
    await points.release_role_notice(G, 42)
    assert await points.claim_role_notice(G, 42)


async def test_forget_anonymises_entries_and_removes_totals(
    points: PointsService, db: Database
) -> None:
    await points.award_participation(G, 5, poll_id=1)
    await points.adjust(G, 5, 10, "kept reason", MOD, key="a")
    await points.award_helpful(G, 6, message_id=3, actor_id=5)  # 5 gave this one
    await points.start_season(G, MOD)
    report = await points.forget(G, 5)
    assert report["ledger entries anonymised"] == 2 and report["totals removed"] == 1
    assert report["entries they gave anonymised"] == 1
    assert report["season results removed"] == 1
    assert await points.totals(G, 5) == (0, 0)
    leaked = await db.fetchval(
        "SELECT COUNT(*) FROM points_ledger WHERE member_id = 5 OR actor_id = 5 "
        "OR award_key LIKE '%5%' AND award_key NOT LIKE 'forgotten:%' AND award_key != 'helpful:3'"
    )
    assert leaked == 0
    reasons = await db.fetchall("SELECT reason FROM points_ledger WHERE member_id = 0")
    assert "kept reason" in {r[0] for r in reasons}
    assert await consistent(points) == {6: 5}
    assert [r[1] for r in (await points.leaderboard(G, Period.ALL)).rows] == [6]


async def test_guilds_are_separate(points: PointsService) -> None:
    await points.award_participation(G, 5, poll_id=1)
    assert (await points.award_participation(G + 1, 5, poll_id=1)).delta == 1
    assert await points.totals(G + 1, 5) == (1, 1)
    assert (await points.leaderboard(G + 1, Period.ALL)).rows == [(1, 5, 1)]
