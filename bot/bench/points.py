"""Points benchmark: award throughput against raw writes, leaderboard latency at scale.

Run by ``cocreate bench points [--quick]`` (:mod:`bot.bench`), or directly with
``python -m bot.bench.points [--quick]``. Figures:

1. awards/s through :meth:`PointsService.award` (key check, daily cap, ledger entry,
   totals and cap counter in one unit; 1,000 concurrent members each awaiting the commit
   of its own award) divided by raw aiosqlite ``executemany`` of the same ledger and
   totals rows (same schema and indexes, same batch size, same seeded database size).
   A median of 5 runs. Target ≥ 0.5.
2. all-time top 10 through the service at 1,000,000 ledger rows and 50,000 members,
   divided by a plain indexed query on the totals table (both through the reader
   connection). Target ≤ 2. Both take a fraction of a millisecond, so one stall of the
   machine moved a mean over a few dozen calls by half (quick runs gave 2.75, 1.25,
   1.20): each call is timed alone, a thousand or more of each, interleaved, and the
   ratio is of the two medians, so that one run decides.
3. the weekly (rolling 7 days) leaderboard at the same size, the median call.
   Target ≤ 20 ms.

Quick mode (CI) uses smaller sizes and says so in the figures' names. Big data is seeded
with ``executemany`` in one transaction, not through the service.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.bench._common import RUNS, BenchResult
from bot.storage import bench as raw_sql

if TYPE_CHECKING:
    from bot.services.points import PointsService
    from bot.storage.database import Database

GUILD = 1


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each figure is; only :func:`run` picks them (the smoke test runs tiny)."""

    seed_rows: int  # ledger rows already in the award-throughput databases
    seed_members: int
    board_rows: int  # ledger rows for the leaderboard figures
    board_members: int
    board_calls: int  # top-10 calls of each kind, each timed alone (weekly: a tenth)
    rounds: int = 3  # rounds of `concurrent` awards per measured run
    concurrent: int = 1000  # members awarding at once
    runs: int = RUNS


FULL = Sizes(
    seed_rows=200_000, seed_members=20_000, board_rows=1_000_000, board_members=50_000,
    board_calls=2000,
)  # fmt: skip
QUICK = Sizes(
    seed_rows=20_000, seed_members=2_000, board_rows=100_000, board_members=5_000,
    board_calls=1000,
)  # fmt: skip
BATCH_ROWS = 500


def _ts(moment: datetime) -> str:
    from bot.storage.points import ts

    return ts(moment)


def _migrated(path: Path) -> None:
    raw_sql.migrated(path)


def _seed(path: Path, rows: int, members: int, *, days: int = 365) -> None:
    """``rows`` ledger entries spread over ``days`` and ``members``, with matching totals,
    inserted with executemany in one transaction (the way the benchmark's data should be
    made, not through the service)."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    kinds = ["vote_received"] * 6 + ["idea_submitted", "helpful_answer", "participation"]
    ledger = []
    totals: dict[int, int] = {}
    span = days * 86400
    for i in range(rows):
        member = 1000 + rng.randrange(members)
        delta = rng.choice((1, 1, 1, 2, 5))
        at = now - timedelta(seconds=rng.random() * span)
        ledger.append(
            (
                GUILD,
                member,
                delta,
                rng.choice(kinds),
                "seed",
                "idea",
                i,
                f"seed:{i}",
                None,
                0,
                _ts(at),
            )
        )
        totals[member] = totals.get(member, 0) + delta
    stamp = _ts(now)
    raw_sql.seed(
        path,
        ("points_ledger", ledger),
        ("points_totals", [(GUILD, m, t, t, stamp) for m, t in totals.items()]),
    )


async def _services(path: Path) -> tuple[Database, PointsService]:
    """A Database and PointsService on ``path``, with the default settings."""
    from bot.services.guild_settings import GuildSettingsService
    from bot.services.points import PointsService
    from bot.settings import load_settings
    from bot.storage.database import Database

    settings = load_settings(environ={})
    db = Database(
        path,
        batch_max_rows=BATCH_ROWS,
        batch_max_delay_ms=settings.database.batch_max_delay_ms,
    )
    await db.open()
    service = PointsService(
        db, GuildSettingsService(db, settings.guild_defaults), lambda: datetime.now(UTC)
    )
    return db, service


async def _service_run(service: PointsService, run: int, sizes: Sizes) -> float:
    """Awards per second through the service: 1,000 concurrent members, each awaiting the
    commit of its award before making the next (``rounds`` awards each)."""
    from bot.domain.points import AwardKind

    async def member(i: int) -> None:
        for rnd in range(sizes.rounds):
            who = 10_000_000 + (run * sizes.rounds + rnd) * sizes.concurrent + i
            result = await service.award(
                GUILD,
                who,
                AwardKind.PARTICIPATION,
                key=f"bench:{who}",
                source_kind="poll",
                source_id=run,
                reason="benchmark",
            )
            assert result.status == "awarded", result

    started = time.perf_counter()
    await asyncio.gather(*(member(i) for i in range(sizes.concurrent)))
    return sizes.rounds * sizes.concurrent / (time.perf_counter() - started)


async def _raw_run(path: Path, run: int, sizes: Sizes) -> float:
    """Awards per second as raw executemany of the same ledger and totals rows."""
    async with raw_sql.RawWriter(path) as raw:
        total = 0.0
        for rnd in range(sizes.rounds):
            base = 10_000_000 + (run * sizes.rounds + rnd) * sizes.concurrent
            # Building the rows is part of writing them, as it is for the service.
            started = time.perf_counter()
            stamp = _ts(datetime.now(UTC))
            ledger = [
                (GUILD, base + i, 1, "participation", "benchmark", "poll", run,
                 f"bench:{base + i}", None, 0, stamp)
                for i in range(sizes.concurrent)
            ]  # fmt: skip
            totals = [(GUILD, base + i, 1, stamp) for i in range(sizes.concurrent)]
            for start in range(0, sizes.concurrent, BATCH_ROWS):
                await raw.write(
                    ("points_ledger", ledger[start : start + BATCH_ROWS]),
                    ("points_totals_add", totals[start : start + BATCH_ROWS]),
                )
            total += time.perf_counter() - started
    return sizes.rounds * sizes.concurrent / total


async def _awards(folder: Path, sizes: Sizes, label: str) -> list[BenchResult]:
    svc_path, raw_path = folder / "svc.db", folder / "raw.db"
    for path in (svc_path, raw_path):
        _migrated(path)
        await asyncio.to_thread(_seed, path, sizes.seed_rows, sizes.seed_members)
    db, service = await _services(svc_path)
    service_rates: list[float] = []
    raw_rates: list[float] = []
    try:
        await _service_run(service, sizes.runs, sizes)  # warm-up (statement cache, pages)
        await _raw_run(raw_path, sizes.runs, sizes)
        for run in range(sizes.runs):  # interleaved, so drift hits both sides alike
            service_rates.append(await _service_run(service, run, sizes))
            raw_rates.append(await _raw_run(raw_path, run, sizes))
    finally:
        await db.close()
    svc, raw = statistics.median(service_rates), statistics.median(raw_rates)
    ratio = svc / raw
    return [
        BenchResult(f"awards/s via service (caps+totals){label}", svc, "awards/s", "", None),
        BenchResult(f"awards/s raw executemany (ledger+totals){label}", raw, "awards/s", "", None),
        BenchResult(f"service ÷ raw award throughput{label}", ratio, "×", "≥ 0.5", ratio >= 0.5),
    ]


async def _timed_pair(
    first: Callable[[], Awaitable[object]], second: Callable[[], Awaitable[object]], calls: int
) -> tuple[float, float]:
    """Median seconds per call of each over ``calls`` calls of each. Calls alternate (and
    which goes first alternates too) so that drift and cache warmth hit both alike; the
    median, not the mean, so that a stall (another process, a GC pause, a thread that
    was not scheduled) moves no figure."""
    times: tuple[list[float], list[float]] = ([], [])
    pair = ((0, first), (1, second))
    clock = time.perf_counter
    for i in range(calls):
        for side, call in pair if i % 2 == 0 else pair[::-1]:
            started = clock()
            await call()
            times[side].append(clock() - started)
    return statistics.median(times[0]), statistics.median(times[1])


async def _boards(folder: Path, sizes: Sizes, label: str) -> list[BenchResult]:
    from bot.domain.points import Period

    path = folder / "board.db"
    _migrated(path)
    await asyncio.to_thread(_seed, path, sizes.board_rows, sizes.board_members)
    db, service = await _services(path)
    try:

        async def plain() -> object:
            return await db.read(lambda c: raw_sql.query(c, "points_top10", (GUILD,)))

        async def top() -> object:
            page = await service.leaderboard(GUILD, Period.ALL)
            assert len(page.rows) == 10
            return page

        async def week() -> object:
            return await service.leaderboard(GUILD, Period.WEEK)

        for warm in (plain, top, week):
            await warm()
        plain_s, top_s = await _timed_pair(plain, top, sizes.board_calls)
        week_s, _ = await _timed_pair(week, plain, max(10, sizes.board_calls // 10))
    finally:
        await db.close()
    ratio = top_s / plain_s
    return [
        BenchResult(f"top-10 all time via service{label}", top_s * 1000, "ms", "", None),
        BenchResult(f"top-10 plain indexed totals query{label}", plain_s * 1000, "ms", "", None),
        BenchResult(f"service ÷ plain top-10 latency{label}", ratio, "×", "≤ 2", ratio <= 2),
        BenchResult(
            f"weekly-window leaderboard{label}", week_s * 1000, "ms", "≤ 20 ms", week_s <= 0.020
        ),
    ]


async def run(quick: bool) -> list[BenchResult]:
    """Run every points figure; ``quick`` uses smaller databases (CI, under 30 s)."""
    sizes = QUICK if quick else FULL
    award_label = f" [{sizes.seed_rows:,} rows seeded]"
    board_label = f" [{sizes.board_rows:,} rows, {sizes.board_members:,} members]"
    if quick:
        award_label += " (quick)"
        board_label += " (quick: full size is 1,000,000 rows, 50,000 members)"
    with tempfile.TemporaryDirectory(prefix="cocreate-bench-points-") as tmp:
        folder = Path(tmp)
        results = await _awards(folder, sizes, award_label)
        results += await _boards(folder, sizes, board_label)
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.bench.points [--quick]``: print the figures, exit 1 on a FAIL."""
    from bot.bench import format_table

    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    results = asyncio.run(run(quick))
    print(format_table(results))
    print(f"points benchmark finished in {time.perf_counter() - started:.1f}s")
    return 0 if all(r.passed is not False for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
