"""Digests benchmark: building a digest at scale against the same SQL on plain sqlite3.

Run by ``cocreate bench digests [--quick]`` (:mod:`bot.bench`). One guild with a year of
history: 100,000 ideas (3 votes each, comments, decisions) and 1,000,000 points ledger
rows (quick: 10× smaller), seeded in bulk by :mod:`bot.storage.bench_digests`. Figures:

1. :meth:`DigestService.build` of a full weekly period (sections, headline against the
   previous period, the chart's 12 periods), the median call, divided by the same SQL run
   on a plain ``sqlite3`` connection in this process (``bench_digests.digest_reads``).
   Calls alternate, the ratio is of the two medians. Targets ≤ 2 and ≤ 100 ms.
2. The chart (matplotlib, PNG) rendered from the built digest: the median, no target.
3. The event loop's worst stall while building, chart included (drawn in the chart
   worker process, as the publisher does): the largest overshoot of a 1 ms sleep ticker over
   every build. Target ≤ 50 ms.

This package holds no SQL: seeding and the baseline live in ``bot/storage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.bench._common import RUNS, BenchResult, bench_settings

GUILD = 1
#: A Monday 09:00 UTC an hour past: the default schedule's fire time, so the last full
#: period is the week before it.
NOW = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Sizes:
    ideas: int
    votes_per_idea: int
    ledger: int
    calls: int  # builds (and baseline runs) timed, each alone
    charts: int = RUNS


FULL = Sizes(ideas=100_000, votes_per_idea=3, ledger=1_000_000, calls=15)
QUICK = Sizes(ideas=10_000, votes_per_idea=3, ledger=100_000, calls=15)


@contextlib.asynccontextmanager
async def _ticker() -> AsyncIterator[list[float]]:
    """The largest overshoot (seconds) of a 1 ms sleep while the block runs, in [0]."""
    worst = [0.0]
    stop = asyncio.Event()

    async def tick() -> None:
        clock = time.perf_counter
        while not stop.is_set():
            started = clock()
            await asyncio.sleep(0.001)
            worst[0] = max(worst[0], clock() - started - 0.001)

    task = asyncio.create_task(tick())
    await asyncio.sleep(0)  # the ticker runs before the work starts
    try:
        yield worst
    finally:
        stop.set()
        await task


async def measure(sizes: Sizes, folder: Path) -> list[BenchResult]:
    from bot.app import create_services
    from bot.domain import digest as rules
    from bot.render.digest_chart import activity_chart, render, shutdown
    from bot.scheduling.digest_cron import next_fire
    from bot.storage import bench_digests as seed
    from bot.storage.common import to_iso

    path = folder / "digests.db"
    seed.migrated(path)
    await asyncio.to_thread(
        seed.seed_guild,
        path,
        GUILD,
        ideas=sizes.ideas,
        votes_per_idea=sizes.votes_per_idea,
        ledger=sizes.ledger,
        now=NOW,
    )
    services = create_services(bench_settings(path), clock=lambda: NOW)
    await services.start()
    plain = seed.plain_connection(path)
    try:
        digests = services.digests
        crontab, tz, _, _ = await digests.schedule_of(GUILD)
        fire = rules.previous_fire(next_fire, crontab, tz, NOW)
        assert fire is not None
        period = rules.period_ending(next_fire, crontab, tz, fire)
        chart = rules.previous_periods(next_fire, crontab, tz, period, rules.CHART_PERIODS)
        config = await services.guild_settings.get(GUILD)
        target = config.duration("ideas_response_target")

        def iso(p: rules.Period) -> tuple[str, str]:
            return to_iso(p.start), to_iso(p.end)

        def baseline() -> int:
            return seed.digest_reads(
                plain,
                GUILD,
                iso(period),
                iso(chart[-2]),
                [iso(p) for p in chart],
                overdue_before=to_iso(period.end - target),
                target_days=target.total_seconds() / 86400.0,
                year_start=to_iso(period.end - rules.TRAILING),
                innovators_since=to_iso(NOW - timedelta(days=365)),
                limit=5,
            )

        digest = await digests.build(GUILD, period)  # warm-up: caches, pages, imports
        assert baseline() > 0
        png = activity_chart(digest.chart, "Activity and ideas by status")
        assert png == await render(digest.chart, "Activity and ideas by status")  # started
        built: list[float] = []
        plain_s: list[float] = []
        worst = 0.0
        clock = time.perf_counter
        for i in range(sizes.calls):
            for side in (0, 1) if i % 2 == 0 else (1, 0):
                started = clock()
                if side == 0:
                    async with _ticker() as stall:
                        digest = await digests.build(GUILD, period)
                        elapsed = clock() - started
                        await render(digest.chart, "Activity")
                    worst = max(worst, stall[0])
                    built.append(elapsed)
                else:
                    baseline()
                    plain_s.append(clock() - started)
        charts = []
        for _ in range(sizes.charts):
            started = clock()
            activity_chart(digest.chart, "Activity and ideas by status")
            charts.append(clock() - started)
    finally:
        shutdown()
        plain.close()
        await services.close()
    build_ms = statistics.median(built) * 1000
    ok_ms = build_ms <= 100
    plain_ms = statistics.median(plain_s) * 1000
    ratio = build_ms / plain_ms
    label = f" [{sizes.ideas:,} ideas, {sizes.ledger:,} ledger rows]"
    if sizes != FULL:
        label += " (quick: full size is 100,000 ideas, 1,000,000 rows)"
    return [
        BenchResult(f"digest build via service{label}", build_ms, "ms", "≤ 100 ms", ok_ms),
        BenchResult(f"same SQL on plain sqlite3{label}", plain_ms, "ms", "", None),
        BenchResult(f"service ÷ plain digest build{label}", ratio, "×", "≤ 2", ratio <= 2),
        BenchResult("chart rendering (PNG, 12 periods)", statistics.median(charts) * 1000, "ms"),
        BenchResult(
            "worst event-loop stall while building, chart included",
            worst * 1000,
            "ms",
            "≤ 50 ms",
            worst <= 0.050,
        ),
    ]


async def run(quick: bool) -> list[BenchResult]:
    """Every digests figure; ``quick`` uses the 10× smaller database (CI)."""
    with tempfile.TemporaryDirectory(prefix="cocreate-bench-digests-") as tmp:
        return await measure(QUICK if quick else FULL, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.bench.digests [--quick]``: print the figures, exit 1 on a FAIL."""
    from bot.bench import format_table

    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    results = asyncio.run(run(quick))
    print(format_table(results))
    return 0 if all(r.passed is not False for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
