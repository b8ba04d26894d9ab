"""Polls benchmark behind ``cocreate bench polls [--quick]``. Figures:

1. **Ballots/s** through :meth:`PollService.vote` — 1,000 members vote at once, each
   awaiting the commit of its ballot (the unit reads the poll and the member's ballot,
   decides, upserts, and pays a first ballot's participation award in the same unit) —
   divided by raw aiosqlite
   ``executemany`` of the same rows (the ballot, the ledger entry and the totals upsert of
   the award) into a copy of the same database, committed in the writer's batch size.
   The median of 5 runs, after one uncounted run of each that warms the caches. Target
   ≥ 0.5.
2. **Closing a poll with 10,000 ballots**: the close (one unit) and the count that the
   results post shows, for a single-choice and a ranked poll (instant run-off over 10
   options). Target ≤ 1 s each (the worst run).
3. **The results chart** of that poll, drawn as the bot draws it (in a worker thread);
   the worst run includes the first chart of the process, which loads matplotlib and
   scans the system's fonts. Target ≤ 3 s.

Quick mode (CI) runs fewer times on a smaller seeded database and says so.
"""

from __future__ import annotations

import asyncio
import gc
import random
import shutil
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from bot.bench import _common
from bot.bench._common import RUNS, BenchResult, bench_settings
from bot.storage import Tx
from bot.storage import bench as raw_sql

if TYPE_CHECKING:
    from bot.app import Services

GUILD = 1
MODERATOR = 2
FIRST_MEMBER = 900_000_000_000_000_000
BALLOT_RATIO_MIN = 0.5
COUNT_MAX_S = 1.0
CHART_MAX_S = 3.0
OPTIONS = "\n".join(
    f"{name}" for name in (
        "Dark mode", "Offline sync", "Export to PDF", "Calendar view", "Templates",
        "Keyboard shortcuts", "Comments", "Search", "Mobile widgets", "Integrations",
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Sizes:
    voters: int  # members voting at once in each measured run
    seeded: int  # ballots already in the database (other polls)
    closing: int  # ballots in the poll being closed
    runs: int = RUNS


FULL = Sizes(voters=1000, seeded=100_000, closing=10_000)
QUICK = Sizes(voters=1000, seeded=20_000, closing=10_000, runs=3)


@dataclass(frozen=True, slots=True)
class BallotFigures:
    service_per_s: float
    raw_per_s: float
    voters: int
    batches_per_run: float

    @property
    def ratio(self) -> float:
        return self.service_per_s / self.raw_per_s


@dataclass(frozen=True, slots=True)
class CloseFigures:
    single_s: float  # worst run: close + count of a single-choice poll
    ranked_s: float  # worst run: close + instant run-off of a ranked poll
    chart_s: float  # worst run (includes the process's first chart)
    chart_median_s: float
    ballots: int


async def _services(path: Path) -> Services:
    from bot.app import create_services

    services = create_services(bench_settings(path))
    await services.start()
    return services


async def _create(services: Services, mode: str = "single", when: str = "7d") -> int:
    from bot.domain.poll_model import PollMode

    created = await services.polls.create(
        guild_id=GUILD,
        channel_id=3,
        creator_id=MODERATOR,
        role_ids=(),
        moderator=True,
        question="What should we build next?",
        options=OPTIONS,
        when=when,
        mode=PollMode(mode),
    )
    return created.poll.id


def _seed_ballots(conn: Tx, poll_id: int, count: int, ranked: bool, seed: int) -> None:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        if ranked:
            order = list(range(10))
            rng.shuffle(order)
            answer: list[int] = order[: rng.randint(1, 10)]
        else:
            answer = [min(9, int(rng.expovariate(0.4)))]
        rows.append(
            (
                poll_id,
                str(FIRST_MEMBER + seed * 10_000_000 + n),
                GUILD,
                orjson.dumps(answer).decode(),
            )
        )
    raw_sql.write_on(conn, ("poll_ballots", rows))


async def measure_ballots(
    *, voters: int, seeded: int, runs: int = RUNS, workdir: Path | None = None
) -> BallotFigures:
    """Figure 1. See the module docstring."""
    from bot.domain.points import day_key
    from bot.storage import points as points_repo

    with _common.workdir(workdir) as folder:
        service_path = folder / "ballots-service.db"
        raw_path = folder / "ballots-raw.db"
        services = await _services(service_path)
        try:
            seeded_poll = await _create(services)
            await services.db.run_exclusive(
                lambda c: _seed_ballots(c, seeded_poll, seeded, False, 1)
            )
            # One more poll than runs: the first run of each side warms SQLite's page
            # cache and prepared statements, as in a bot that has been running, and is
            # not counted.
            polls = [await _create(services) for _ in range(runs + 1)]
        finally:
            await services.close()
        shutil.copyfile(service_path, raw_path)

        services = await _services(service_path)
        # Configured as the bot's writer (foreign keys enforced, statement journal in
        # memory), as in `bench ideas`: only the way rows are written differs.
        raw = await raw_sql.RawWriter(
            raw_path, busy_timeout_ms=services.settings.database.busy_timeout_ms
        ).open()
        batch = services.settings.database.batch_max_rows
        service_rates: list[float] = []
        raw_rates: list[float] = []
        batches: list[int] = []
        try:
            await services.guild_settings.get(GUILD)  # as in a running bot: cached
            await services.points.rules(GUILD)
            vote = services.polls.vote
            for run, poll_id in enumerate(polls):
                first = FIRST_MEMBER + 1_000_000_000 + run * voters
                members = range(first, first + voters)
                # Each side starts every run with an empty write-ahead log.
                await services.db.run_exclusive(raw_sql.checkpoint)
                await raw.checkpoint()
                gc.collect()
                before = services.db.stats.batches
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(vote(GUILD, poll_id, m, (), [m % 10]) for m in members)
                )
                service_rate = voters / (time.perf_counter() - started)
                service_batches = services.db.stats.batches - before
                assert all(r.first for r in results)

                now = datetime.now(UTC)
                stamp, day = now.isoformat(), day_key(now)
                chunks = []
                for start in range(0, voters, batch):
                    part = members[start : start + batch]
                    chunks.append(
                        (
                            [(poll_id, str(m), GUILD, f"[{m % 10}]") for m in part],
                            [
                                (
                                    None,
                                    GUILD,
                                    m,
                                    1,
                                    "participation",
                                    f"took part in poll #{poll_id}",
                                    "poll",
                                    poll_id,
                                    f"participation:{poll_id}:{m}",
                                    None,
                                    0,
                                    stamp,
                                )
                                for m in part
                            ],
                            [
                                points_repo.totals_row(
                                    GUILD, m, 1, stamp, day, {"participation": 1}
                                )
                                for m in part
                            ],
                        )
                    )
                gc.collect()
                started = time.perf_counter()
                for ballot_rows, ledger_rows, total_rows in chunks:
                    await raw.write(
                        ("poll_ballots", ballot_rows),
                        ("points_ledger_with_id", ledger_rows),
                        ("points_totals_service", total_rows),
                    )
                if run == 0:
                    continue  # the warm-up
                raw_rates.append(voters / (time.perf_counter() - started))
                service_rates.append(service_rate)
                batches.append(service_batches)
            ((stored,),) = await services.db.read(
                lambda c: raw_sql.query(c, "poll_ballots_between", (polls[0], polls[-1]))
            )
            if stored != voters * len(polls):
                raise AssertionError(f"{stored} ballots stored, {voters * len(polls)} cast")
        finally:
            await raw.close()
            await services.close()
    return BallotFigures(
        statistics.median(service_rates),
        statistics.median(raw_rates),
        voters,
        statistics.mean(batches),
    )


async def measure_close(
    *, ballots: int, runs: int = RUNS, workdir: Path | None = None
) -> CloseFigures:
    """Figures 2 and 3. See the module docstring."""
    from bot.render import polls as render

    single: list[float] = []
    ranked: list[float] = []
    charts: list[float] = []
    with _common.workdir(workdir) as folder:
        services = await _services(folder / "close.db")
        try:
            for run in range(runs):
                for mode, times in (("single", single), ("ranked", ranked)):
                    poll_id = await _create(services, mode)
                    await services.db.run_exclusive(
                        partial(
                            _seed_ballots,
                            poll_id=poll_id,
                            count=ballots,
                            ranked=mode == "ranked",
                            seed=run + 10,
                        )
                    )
                    gc.collect()
                    started = time.perf_counter()
                    closing = await services.polls.close(poll_id)
                    assert closing is not None
                    results = await services.polls.count(closing.poll)
                    times.append(time.perf_counter() - started)
                    if mode == "single":
                        assert results.tally is not None and results.tally.ballots == ballots
                        started = time.perf_counter()
                        png = await asyncio.to_thread(render.results_chart, results)
                        charts.append(time.perf_counter() - started)
                        assert png
                    else:
                        assert results.runoff is not None and results.runoff.winner is not None
        finally:
            await services.close()
    return CloseFigures(max(single), max(ranked), max(charts), statistics.median(charts), ballots)


async def run(quick: bool) -> list[BenchResult]:
    sizes = QUICK if quick else FULL
    tag = " (quick mode)" if quick else ""
    if quick:
        print(f"  quick mode: {sizes.runs} runs, {sizes.seeded:,} seeded ballots")
    b = await measure_ballots(voters=sizes.voters, seeded=sizes.seeded, runs=sizes.runs)
    c = await measure_close(ballots=sizes.closing, runs=sizes.runs)
    return [
        BenchResult(
            f"ballots/s through the service, {b.voters:,} at once{tag}", b.service_per_s, "/s"
        ),
        BenchResult(
            f"ballots/s raw executemany (ballot, ledger, totals rows){tag}", b.raw_per_s, "/s"
        ),
        BenchResult(f"write batches per {b.voters:,} ballots", b.batches_per_run, ""),
        BenchResult(
            f"ballots: service / raw{tag}",
            b.ratio,
            "×",
            f"≥ {BALLOT_RATIO_MIN}",
            b.ratio >= BALLOT_RATIO_MIN,
        ),
        BenchResult(
            f"close + count, {c.ballots:,} ballots, single choice (worst){tag}",
            c.single_s,
            "s",
            f"≤ {COUNT_MAX_S:g} s",
            c.single_s <= COUNT_MAX_S,
        ),
        BenchResult(
            f"close + instant run-off, {c.ballots:,} ranked ballots (worst){tag}",
            c.ranked_s,
            "s",
            f"≤ {COUNT_MAX_S:g} s",
            c.ranked_s <= COUNT_MAX_S,
        ),
        BenchResult(
            f"results chart (worst, incl. the first in the process){tag}",
            c.chart_s,
            "s",
            f"≤ {CHART_MAX_S:g} s",
            c.chart_s <= CHART_MAX_S,
        ),
        BenchResult(f"results chart (median){tag}", c.chart_median_s, "s"),
    ]


if __name__ == "__main__":  # pragma: no cover
    import sys

    from bot.bench import format_table

    print(format_table(asyncio.run(run("--quick" in sys.argv))))
