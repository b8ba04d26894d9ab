"""Concurrent awards on real SQLite never race past a cap or pay a key twice."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.points import AwardKind
from bot.domain.points_model import AwardResult
from bot.services.guild_settings import GuildSettingsService
from bot.services.points import PointsService
from bot.services.points.pipeline import AwardPipeline
from bot.settings import Settings
from bot.storage.database import Database

G = 3000
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def points(db: Database, settings: Settings) -> PointsService:
    return PointsService(db, GuildSettingsService(db, settings.guild_defaults), lambda: NOW)


async def _yield_then(awaitable: Any, hops: int) -> AwardResult:
    # Yield to the loop a few times so the awards land in different write units.
    for _ in range(hops):
        await asyncio.sleep(0)
    result: AwardResult = await awaitable
    return result


async def test_100_concurrent_awards_against_one_cap(points: PointsService) -> None:
    rng = random.Random(7)
    results = await asyncio.gather(
        *(
            _yield_then(points.award_participation(G, 5, poll_id=poll), rng.randrange(4))
            for poll in range(100)
        )
    )
    paid = [r for r in results if r.delta]
    assert sum(r.delta for r in results) == 10 == len(paid)
    assert sum(r.status == "capped" for r in results) == 90
    assert await points.totals(G, 5) == (10, 10)
    assert await points.ledger_sums(G) == {5: 10}


async def test_mixed_kinds_sharing_a_cap_and_duplicate_keys(
    points: PointsService, db: Database
) -> None:
    rng = random.Random(11)
    calls = []
    for i in range(100):
        if i % 3 == 0:
            calls.append(points.award_policy_feedback(G, 6, policy_id=i % 7))  # repeats keys
        else:
            calls.append(points.award_participation(G, 6, poll_id=i))
    results = await asyncio.gather(*(_yield_then(c, rng.randrange(3)) for c in calls))
    assert sum(r.delta for r in results) == 10
    assert await points.totals(G, 6) == (10, 10)
    keys = await db.fetchval(  # every policy key appears once in the ledger
        "SELECT COUNT(*) FROM points_ledger WHERE award_key LIKE 'policy_feedback:%'"
    )
    assert keys == 7


async def test_a_failing_batch_falls_back_to_one_unit_per_award(
    points: PointsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = AwardPipeline._pay_many
    failures = 0

    def flaky(conn: sqlite3.Connection, batch: list[Any], at: datetime) -> list[AwardResult]:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise sqlite3.OperationalError("disk hiccup")
        return original(conn, batch, at)

    monkeypatch.setattr(AwardPipeline, "_pay_many", staticmethod(flaky))
    results = await asyncio.gather(*(points.award_participation(G, 7, poll) for poll in range(30)))
    assert failures == 1
    assert sum(r.delta for r in results) == 10
    assert await points.totals(G, 7) == (10, 10)


async def test_concurrent_awards_and_adjustments_keep_totals_equal_to_the_ledger(
    points: PointsService, db: Database
) -> None:
    rng = random.Random(3)
    calls: list[Any] = []
    for i in range(200):
        member = rng.randrange(1, 6)
        choice = rng.randrange(3)
        if choice == 0:
            calls.append(points.award_participation(G, member, poll_id=rng.randrange(30)))
        elif choice == 1:
            calls.append(points.adjust(G, member, rng.randint(-20, 20) or 1, "fix", 99, key=str(i)))
        else:
            calls.append(points.award(G, member, AwardKind.VOTE_RECEIVED, key=f"v{i}",
                                      source_kind="idea", source_id=i, reason="vote"))  # fmt: skip
    await asyncio.gather(*(_yield_then(c, rng.randrange(3)) for c in calls))
    sums = await points.ledger_sums(G)
    for member, expected in sums.items():
        assert (await points.totals(G, member))[0] == expected
    for member in sums:
        used = await db.fetchval(
            "SELECT COALESCE(SUM(delta), 0) FROM points_ledger WHERE member_id = ? "
            "AND kind = 'vote_received'",
            (member,),
        )
        assert used <= 20


async def test_a_batch_meeting_used_keys_is_planned_again_with_the_same_outcome(
    points: PointsService, db: Database
) -> None:
    # Batches are first written as if no key were used; a key already in the ledger makes
    # the batch undo that attempt and plan again. The outcome must be the sequential one.
    for poll in range(5):
        await points.award_participation(G, 8, poll)
    polls = [3, 5, 6, 3, *range(7, 20)]
    results = await asyncio.gather(*(points.award_participation(G, 8, p) for p in polls))
    statuses = [r.status for r in results]
    assert statuses[0] == statuses[3] == "duplicate"
    assert statuses[1:3] == ["awarded", "awarded"]
    assert statuses[4:7] == ["awarded"] * 3  # polls 7, 8, 9: the cap of 10 is reached
    assert set(statuses[7:]) == {"capped"}
    assert await points.totals(G, 8) == (10, 10)
    keys = await db.fetchall(
        "SELECT award_key, COUNT(*) FROM points_ledger WHERE member_id = 8 GROUP BY award_key"
    )
    assert len(keys) == 5 + len(set(polls) - {3}) and {k[1] for k in keys} == {1}
