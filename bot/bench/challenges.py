"""``cocreate bench challenges``: what challenges cost on the paths members and staff use.

- **Submitting into a challenge** runs the challenge's check and its entry row inside the
  ideas' submit unit (``IdeaService.on_submit``): the figure is its cost next to an
  ordinary submission, one at a time (each waits for its commit, as a member does).
- **The leaderboard** (``/challenge show``, ``leaderboard``, the results) reads every entry
  with its votes and every scorecard and computes the weighted means: timed for a large
  challenge.
- **Closing judging** decides the crowd's wildcard over every entry, in one unit.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.bench._common import RUNS, BenchResult, bench_settings, workdir

#: Targets. A challenge submission may cost at most this much more than an ordinary one.
SUBMIT_RATIO_MAX = 1.5
VIEW_MAX_MS = 250.0
CLOSE_MAX_MS = 250.0


@dataclass(frozen=True, slots=True)
class Sizes:
    submits: int
    entries: int
    judges: int
    runs: int


FULL = Sizes(submits=400, entries=2000, judges=5, runs=RUNS)
QUICK = Sizes(submits=60, entries=200, judges=3, runs=3)


class _Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def _measure(sizes: Sizes, folder: Path) -> dict[str, float]:
    from bot.app import create_services
    from bot.domain.challenge_model import ChallengeDraft
    from bot.domain.challenges import Criterion, Window
    from bot.domain.idea_model import IdeaDraft
    from bot.services import challenges as kinds
    from bot.services.ideas import DM_TIMER, PUBLISH_CARD

    clock = _Clock()
    services = create_services(bench_settings(folder / "bench.db"), clock=clock)
    await services.start()

    async def nothing_to_show(timer: object) -> None:
        return None  # no Discord here: publications are only written

    for kind in (
        kinds.PUBLISH_ANNOUNCE,
        kinds.PUBLISH_POST,
        kinds.PUBLISH_STAGE,
        kinds.PUBLISH_MENTOR,
        PUBLISH_CARD,
        DM_TIMER,
    ):
        services.timers.register(kind, nothing_to_show)
    try:
        guild = 1
        now = clock()
        challenge = (
            await services.challenges.create(
                ChallengeDraft(
                    guild_id=guild,
                    author_id=1,
                    title="Bench challenge",
                    problem="A problem.",
                    good_answer="An answer.",
                    ends=(
                        now + timedelta(days=1),
                        now + timedelta(days=2),
                        now + timedelta(days=3),
                        now + timedelta(days=4),
                    ),
                    criteria=(
                        Criterion("Impact", 3),
                        Criterion("Feasibility", 2),
                        Criterion("Fit", 1),
                    ),
                    finalist_points=10,
                    winner_points=50,
                    channel_id=2,
                )
            )
        ).challenge

        async def submit(i: int, into: int | None) -> None:
            draft = IdeaDraft(guild, 10_000 + i, f"Idea {i} {into}", "", challenge=into)
            await services.ideas.submit(draft, check_rate=False)

        plain: list[float] = []
        attached: list[float] = []
        for i in range(sizes.submits):  # interleaved: both see the same database growth
            started = time.perf_counter()
            await submit(2 * i, None)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            await submit(2 * i + 1, challenge.number)
            attached.append(time.perf_counter() - started)

        # A large challenge: entries (concurrently, as a burst of members would send them),
        # votes on some, every judge's scorecard on every entry.
        more = sizes.entries - sizes.submits
        await asyncio.gather(
            *(submit(10 * sizes.submits + i, challenge.number) for i in range(more))
        )
        view = await services.challenges.view(guild, challenge.number, staff=True)
        numbers = [e.number for e in view.entries]
        await asyncio.gather(
            *(
                services.ideas.vote(guild, n, 900 + (n % 7), 1)
                for n in numbers[:: max(1, len(numbers) // 50)]
            )
        )
        await asyncio.gather(
            *(
                services.challenges.score(
                    guild, n, 500 + j, [str(1 + (n + j) % 5), "3", str(1 + j % 5)], ""
                )
                for n in numbers
                for j in range(sizes.judges)
            )
        )
        views: list[float] = []
        for _ in range(sizes.runs):
            started = time.perf_counter()
            shown = await services.challenges.view(guild, challenge.number, staff=True)
            views.append(time.perf_counter() - started)
        assert len(shown.entries) == sizes.entries and shown.entries[0].judges == sizes.judges

        class _Due:
            def __init__(self, window: Window) -> None:
                self.guild_id = guild
                self.payload = {"challenge_id": challenge.id, "window": window.value}

        clock.offset = timedelta(days=4, minutes=1)
        for window in (Window.SUBMISSION, Window.SCREENING, Window.SHORTLIST):
            await services.challenges.on_window(_Due(window))
        started = time.perf_counter()
        await services.challenges.on_window(_Due(Window.JUDGING))
        close = time.perf_counter() - started
        closed = await services.challenges.get(guild, challenge.number)
        assert closed.wildcard_idea_id is not None
        return {
            "plain_ms": statistics.median(plain) * 1000,
            "attached_ms": statistics.median(attached) * 1000,
            "view_ms": statistics.median(views) * 1000,
            "close_ms": close * 1000,
        }
    finally:
        await services.close()


async def run(quick: bool, folder: Path | None = None) -> list[BenchResult]:
    sizes = QUICK if quick else FULL
    tag = " (quick mode)" if quick else ""
    with workdir(folder) as where:
        m = await _measure(sizes, where)
    ratio = m["attached_ms"] / m["plain_ms"] if m["plain_ms"] else float("nan")
    size = f"{sizes.entries:,} ideas × {sizes.judges} judges"
    return [
        BenchResult(
            f"submit an ordinary idea, median of {sizes.submits}{tag}", m["plain_ms"], "ms"
        ),
        BenchResult(
            f"submit into a challenge, median of {sizes.submits}{tag}", m["attached_ms"], "ms"
        ),
        BenchResult(
            f"challenge submit / ordinary submit{tag}",
            ratio,
            "×",
            f"≤ {SUBMIT_RATIO_MAX}",
            ratio <= SUBMIT_RATIO_MAX,
        ),
        BenchResult(
            f"leaderboard with weighted scores, {size}{tag}",
            m["view_ms"],
            "ms",
            f"≤ {VIEW_MAX_MS:g} ms",
            m["view_ms"] <= VIEW_MAX_MS,
        ),
        BenchResult(
            f"close judging + wildcard, {sizes.entries:,} ideas{tag}",
            m["close_ms"],
            "ms",
            f"≤ {CLOSE_MAX_MS:g} ms",
            m["close_ms"] <= CLOSE_MAX_MS,
        ),
    ]
