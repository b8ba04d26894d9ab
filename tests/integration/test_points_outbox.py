"""The points outbox consumer on real SQLite: the Ideas feature's events in, awards out —
votes that follow the vote as it stands, caps, the giver→receiver cooldown, milestones,
hiding, merging, engagement, bad events, and idempotence across a restart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import migrate
from bot.domain import events
from bot.domain.points import Period
from bot.services.guild_settings import GuildSettingsService
from bot.services.points import CONSUMER, PointsService
from bot.settings import Settings
from bot.storage import common
from bot.storage import points as repo
from bot.storage.database import Database

G = 2000
AUTHOR, HELPER = 10, 11
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Outbox:
    """Writes events as the Ideas service does (one unit each), at a chosen time."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.now = START

    async def emit(self, event: str, idea: int, actor: int | None = None, **payload: Any) -> int:
        at = self.now.isoformat()

        def unit(conn: sqlite3.Connection) -> int:
            event_id = common.emit_event(
                conn, G, event, subject_id=idea, actor_id=actor, payload=payload
            )
            conn.execute("UPDATE outbox SET created_at = ? WHERE id = ?", (at, event_id))
            return event_id

        return await self.db.write(unit)

    async def submitted(self, idea: int, author: int = AUTHOR, **extra: Any) -> int:
        return await self.emit(
            events.IDEA_SUBMITTED, idea, author, author_id=author, kind="idea", source="modal",
            contributors=extra.get("contributors", []),
        )  # fmt: skip

    async def vote(self, idea: int, voter: int, value: int = 1, author: int = AUTHOR) -> int:
        return await self.emit(
            events.IDEA_VOTE_CAST, idea, voter, author_id=author, voter_id=voter, value=value,
            previous=0,
        )  # fmt: skip

    async def retract(self, idea: int, voter: int, author: int = AUTHOR) -> int:
        return await self.emit(
            events.IDEA_VOTE_RETRACTED, idea, voter, author_id=author, voter_id=voter, previous=1
        )

    async def status(
        self, idea: int, old: str, new: str, author: int = AUTHOR, contributors: Any = ()
    ) -> int:
        return await self.emit(
            events.IDEA_STATUS_CHANGED, idea, 1, author_id=author, old=old, new=new,
            reason=None, contributors=list(contributors),
        )  # fmt: skip


@pytest.fixture
def outbox(db: Database) -> Outbox:
    return Outbox(db)


@pytest.fixture
def points(db: Database, settings: Settings, outbox: Outbox) -> PointsService:
    # The consumer records at its own clock: here the outbox writer's, as if events were
    # applied the moment they were written.
    return PointsService(db, GuildSettingsService(db, settings.guild_defaults), lambda: outbox.now)


async def total(points: PointsService, member: int) -> int:
    return (await points.totals(G, member))[0]


async def consistent(points: PointsService) -> dict[int, int]:
    sums = await points.ledger_sums(G)
    totals = {m: await total(points, m) for m in sums}
    assert totals == sums
    return totals


async def test_submit_and_votes_follow_the_vote_as_it_stands(
    points: PointsService, outbox: Outbox
) -> None:
    await outbox.submitted(1)
    await outbox.vote(1, 21)
    await outbox.vote(1, 22, value=-1)  # oppose: nothing
    await outbox.vote(1, AUTHOR)  # a self vote (the ideas service refuses them): nothing
    changed = await points.consume_outbox()
    assert changed == {(G, AUTHOR)}
    assert await total(points, AUTHOR) == 3
    await outbox.retract(1, 21)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 2
    await outbox.vote(1, 21)  # voting again restores it
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 3
    await outbox.vote(1, 21, value=-1)  # switching to oppose takes it back
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 2
    assert await consistent(points) == {AUTHOR: 2}
    assert await points.consume_outbox() == set()  # nothing new: nothing happens


async def test_daily_vote_cap_and_retracting_a_capped_vote(
    points: PointsService, outbox: Outbox
) -> None:
    await outbox.submitted(1)
    voters = list(range(100, 125))
    for voter in voters:
        await outbox.vote(1, voter)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 2 + 20  # 25 votes, 20 paid today
    capped = [e for e in await points.history(G, AUTHOR, limit=50) if e.withheld]
    assert len(capped) == 5 and all(e.delta == 0 and e.withheld == 1 for e in capped)
    # Voter 124's vote was capped: taking it back must not remove a point never given.
    await outbox.retract(1, 124)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 22
    # Voter 100's vote was paid: taking it back frees a point of today's cap...
    await outbox.retract(1, 100)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 21
    # ...so a capped voter who votes again now gets through.
    await outbox.retract(1, 123)
    await outbox.vote(1, 123)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 22
    outbox.now += timedelta(days=1)
    await outbox.vote(1, 124)  # a new day, a fresh cap
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 23
    await consistent(points)


async def test_vote_ring_cooldown_per_giver_and_receiver(
    points: PointsService, outbox: Outbox
) -> None:
    for idea in range(1, 6):
        await outbox.submitted(idea)
    for idea in range(1, 5):
        await outbox.vote(idea, 50)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 10 + 3  # the 4th vote from 50 in 24 h: withheld
    # Retracting and voting again on an idea already paid is not a new award.
    await outbox.retract(1, 50)
    await outbox.vote(1, 50)
    await outbox.vote(5, 51)  # another giver is not limited by 50's ring
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 10 + 3 + 1
    outbox.now += timedelta(hours=25)
    await outbox.vote(5, 50)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 10 + 3 + 1 + 1
    entries = await points.history(G, AUTHOR, limit=50)
    ring = [e for e in entries if "limit of 3" in e.reason]
    assert len(ring) == 1 and ring[0].delta == 0 and ring[0].withheld == 1


async def test_milestones_pay_author_and_contributors_once(
    points: PointsService, outbox: Outbox
) -> None:
    await outbox.submitted(1)
    await outbox.status(1, "new", "planned", contributors=[HELPER])
    await outbox.status(1, "planned", "in_progress", contributors=[HELPER])
    await outbox.status(1, "in_progress", "planned", contributors=[HELPER])  # away and back
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, HELPER)) == (12, 10)
    await outbox.status(1, "planned", "implemented", contributors=[HELPER])
    await outbox.status(1, "implemented", "planned", contributors=[HELPER])
    await outbox.status(1, "planned", "implemented", contributors=[HELPER])
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, HELPER)) == (62, 60)
    # Straight to implemented pays the planned milestone too.
    await outbox.submitted(2)
    await outbox.status(2, "new", "implemented")
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 62 + 2 + 10 + 50
    # A decline keeps what was earned.
    await outbox.status(2, "implemented", "declined")
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 124
    await consistent(points)


async def test_hiding_reverses_everything_and_unhiding_restores_it(
    points: PointsService, outbox: Outbox
) -> None:
    await outbox.submitted(1)
    await outbox.vote(1, 30)
    await outbox.vote(1, 31)
    await outbox.status(1, "new", "planned", contributors=[HELPER])
    await outbox.submitted(2)  # another idea: untouched
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, HELPER)) == (2 + 2 + 10 + 2, 10)
    await outbox.status(1, "planned", "hidden", contributors=[HELPER])
    await outbox.status(1, "planned", "hidden", contributors=[HELPER])  # replayed: no-op
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, HELPER)) == (2, 0)
    # Votes change while hidden (moderators' tools may still move them): settled on unhide.
    await outbox.retract(1, 30)
    await outbox.vote(1, 32)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 2
    await outbox.status(1, "hidden", "planned", contributors=[HELPER])
    await points.consume_outbox()
    # Restored: submitted 2 + planned 10 + votes of 31 and 32 (30's was taken back) + idea 2.
    assert (await total(points, AUTHOR), await total(points, HELPER)) == (2 + 10 + 2 + 2, 10)
    # Hide again, unhide again: the same amounts, no more.
    await outbox.status(1, "planned", "hidden")
    await outbox.status(1, "hidden", "planned")
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, HELPER)) == (16, 10)
    await consistent(points)


async def test_merge_moves_vote_points_and_unmerge_restores_them(
    points: PointsService, outbox: Outbox
) -> None:
    other = 12
    await outbox.submitted(1)  # the source, by AUTHOR
    await outbox.submitted(2, author=other)  # the target
    await outbox.vote(1, 40)
    await outbox.vote(1, 41)
    await outbox.vote(2, 41, author=other)  # 41 already supports the target
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, other)) == (4, 3)
    await outbox.emit(
        events.IDEA_MERGED, 1, 1, target_id=2, source_author_id=AUTHOR, target_author_id=other,
        moved_voters=[40],
    )  # fmt: skip
    await points.consume_outbox()
    # Source votes are cleared; 40's support now counts for the target.
    assert (await total(points, AUTHOR), await total(points, other)) == (2, 4)
    await outbox.emit(events.IDEA_UNMERGED, 1, 1, target_id=2, restored_voters=[40, 41])
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, other)) == (4, 3)
    await consistent(points)


@pytest.mark.parametrize("vote_first", [True, False])
async def test_replaying_from_a_lost_cursor_never_reapplies_a_merge_over_later_votes(
    points: PointsService, outbox: Outbox, db: Database, vote_first: bool
) -> None:
    # Found by Hypothesis: a merge moves the votes it meets, so applying it again after a
    # later vote (or a vote again after the merge cleared it) used to change the totals.
    other = 12

    async def merge() -> None:
        await outbox.emit(
            events.IDEA_MERGED, 2, 1, target_id=1, source_author_id=other,
            target_author_id=AUTHOR, moved_voters=[40] if vote_first else [],
        )  # fmt: skip

    if vote_first:
        await outbox.vote(2, 40, author=other)
        await merge()
    else:
        await merge()
        await outbox.vote(2, 40, author=other)  # the ideas service refuses this; events may not
    await points.consume_outbox()
    once = (await total(points, AUTHOR), await total(points, other))
    assert once == ((1, 0) if vote_first else (0, 1))
    await db.write(lambda c: repo.set_cursor(c, CONSUMER, 0))
    await points.consume_outbox()
    assert (await total(points, AUTHOR), await total(points, other)) == once
    await consistent(points)


async def test_engagement_and_innovators_from_events(points: PointsService, outbox: Outbox) -> None:
    await outbox.submitted(1)
    await outbox.submitted(2)
    for voter in range(60, 69):  # 9 supporters on idea 1
        await outbox.vote(1, voter)
    for voter in range(70, 74):  # 4 on idea 2
        await outbox.vote(2, voter)
    await outbox.status(1, "new", "implemented")
    await outbox.status(2, "new", "planned")
    await outbox.submitted(3, author=60)
    await outbox.vote(3, AUTHOR, author=60)  # AUTHOR engages with someone else's idea
    await outbox.emit(events.IDEA_COMMENTED, 3, 61, author_id=60, member_id=61)
    await outbox.emit(events.IDEA_COMMENTED, 3, 60, author_id=60, member_id=60)  # own: no
    await points.consume_outbox()
    top = await points.innovators(G, limit=3)
    ada = top[0]
    assert ada.member_id == AUTHOR
    assert (ada.implemented, ada.planned, ada.engaged) == (1, 1, 1)
    assert ada.vote_root_sum == 3 + 2
    assert ada.score == 10 + 5 + 5 + 0.5
    by_member = {s.member_id: s for s in await points.innovators(G, limit=50)}
    assert by_member[60].vote_root_sum == 1 and by_member[60].engaged == 1  # voted on idea 1
    assert by_member[61].engaged == 2  # voted on idea 1, commented on idea 3
    hidden_rank = await points.innovators(G, limit=50, exclude={AUTHOR})
    assert AUTHOR not in {s.member_id for s in hidden_rank}


async def test_a_bad_event_is_skipped_and_later_ones_still_apply(
    points: PointsService, outbox: Outbox, db: Database
) -> None:
    await outbox.emit(events.IDEA_VOTE_CAST, 1, 5, author_id="not a number", voter_id=5, value=1)
    await outbox.emit("some.future_event", 1, 5, anything=True)
    await outbox.submitted(2)
    await points.consume_outbox()
    assert await total(points, AUTHOR) == 2
    last = await db.fetchval("SELECT MAX(id) FROM outbox")
    assert await db.read(lambda c: repo.get_cursor(c, CONSUMER)) == last


async def test_cap_counters_keep_one_day_and_a_retraction_returns_only_its_own_day(
    points: PointsService, outbox: Outbox, db: Database
) -> None:
    async def counters() -> tuple[str, int, int]:
        row = await db.fetchone(
            "SELECT cap_day, cap_ideas, cap_votes FROM points_totals WHERE member_id = ?",
            (AUTHOR,),
        )
        assert row is not None
        return str(row[0]), int(row[1]), int(row[2])

    day1 = START.date().isoformat()
    await outbox.submitted(1)
    await outbox.vote(1, 21)
    await outbox.vote(1, 22)
    await points.consume_outbox()
    assert await counters() == (day1, 2, 2)
    await outbox.retract(1, 22)  # same day: the cap gets its point back
    await points.consume_outbox()
    assert await counters() == (day1, 2, 1)
    outbox.now += timedelta(days=2)
    day3 = outbox.now.date().isoformat()
    await outbox.vote(1, 23)  # a later day starts the counters again
    await points.consume_outbox()
    assert await counters() == (day3, 0, 1)
    await outbox.retract(1, 21)  # paid on day 1: today's cap is not given a bonus
    await points.consume_outbox()
    assert await counters() == (day3, 0, 1)
    assert await total(points, AUTHOR) == 2 + 1  # the idea and vote 23 (21 and 22 retracted)


async def test_member_forgotten_event(points: PointsService, outbox: Outbox) -> None:
    await outbox.submitted(1)
    await outbox.emit(events.MEMBER_FORGOTTEN, 0, AUTHOR)
    await points.consume_outbox()
    assert await points.totals(G, AUTHOR) == (0, 0)
    assert await points.ledger_sums(G) == {}


async def test_forget_catches_up_first(points: PointsService, outbox: Outbox) -> None:
    await outbox.submitted(1)
    await outbox.vote(1, 21)  # not consumed yet when the member is forgotten
    await points.forget(G, AUTHOR)
    assert await points.consume_outbox() == set()
    assert await points.totals(G, AUTHOR) == (0, 0)


async def test_consumer_is_idempotent_across_a_restart(settings: Settings, tmp_path: Any) -> None:
    """Consume, stop, add events while down, start a fresh process on the same file:
    only the new events apply, once."""

    async def open_db() -> Database:
        db = Database(settings.database.path)
        await db.open()
        await migrate(db, settings)
        return db

    db = await open_db()
    outbox = Outbox(db)
    service = PointsService(db, GuildSettingsService(db, settings.guild_defaults), lambda: START)
    await outbox.submitted(1)
    await outbox.vote(1, 21)
    await service.consume_outbox()
    assert await total(service, AUTHOR) == 3
    await outbox.vote(1, 22)  # committed, but the process stops before consuming it
    await db.close()

    db = await open_db()
    try:
        outbox = Outbox(db)
        restarted = PointsService(
            db, GuildSettingsService(db, settings.guild_defaults), lambda: START
        )
        assert await restarted.consume_outbox() == {(G, AUTHOR)}  # catches up
        assert await total(restarted, AUTHOR) == 4
        assert await restarted.consume_outbox() == set()
        # Even a lost cursor (a restored backup) replays to the same totals.
        before = await restarted.ledger_sums(G)
        await db.write(lambda c: repo.set_cursor(c, CONSUMER, 0))
        await restarted.consume_outbox()
        assert await restarted.ledger_sums(G) == before
        assert await consistent(restarted) == before
        board = await restarted.leaderboard(G, Period.ALL)
        assert board.rows == [(1, AUTHOR, 4)]
    finally:
        await db.close()
