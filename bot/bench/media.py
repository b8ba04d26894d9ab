"""Ideas' pictures and webhooks, behind ``cocreate bench media [--quick]``. Figures:

1. **Preparing a picture within the limit** (a 1280×800 PNG mock-up kept as it is): checked
   by decoding it fully. Median of 5. Target ≤ 100 ms: a capture with a picture waits for it.
2. **Scaling a picture down** to Discord's 10 MiB upload limit: a 12 MiB PNG of random
   pixels (the worst case: nothing compresses) re-encoded smaller. Median of 5. Target
   ≤ 3 s (a capture waits for it; the event loop does not, see 3).
3. **Event-loop stall while scaling**: the longest gap between ticks of a 5 ms heartbeat on
   the loop while figure 2 runs (it runs in a worker thread). Target ≤ 100 ms: votes and
   other members' captures keep flowing.
4. **Webhook deliveries recorded/s**: 500 idea events read from the outbox by the webhooks'
   consumer for a guild with 3 webhooks (1,500 delivery rows and their timer rows, in the
   consumer's batched units). Target ≥ 2,000/s: a burst of ideas never backs up behind its
   webhooks.

Quick mode (CI) runs smaller sizes and says so.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from bot.bench import _common
from bot.bench._common import RUNS, BenchResult, bench_settings

if TYPE_CHECKING:
    from bot.app import Services

KEEP_MAX_MS = 100.0
SCALE_MAX_S = 3.0
STALL_MAX_MS = 100.0
DELIVERIES_MIN = 2000.0
LIMIT = 10 * 1024 * 1024
GUILD = 7


def _mockup(width: int, height: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (240, 240, 245))
    draw = ImageDraw.Draw(image)
    for n in range(0, height, 40):
        draw.rectangle((20, n + 5, width - 20, n + 30), outline=(90, 90, 120), fill=(200, 210, 250))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _noise(size: int) -> bytes:
    from PIL import Image

    side = int((size / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


async def _stall_while(work: asyncio.Future[Any]) -> float:
    """The longest gap (ms) between 5 ms heartbeats on the loop until ``work`` is done."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    last = loop.time()
    while not work.done():
        await asyncio.sleep(0.005)
        now = loop.time()
        worst = max(worst, (now - last) * 1000 - 5)
        last = now
    await work
    return worst


async def _deliveries_per_second(services: Services, events: int) -> float:
    from bot.domain.idea_model import IdeaDraft
    from bot.services.webhooks import DELIVER_TIMER
    from bot.storage import webhooks as repo

    async def not_sent(timer: object) -> None:
        return None  # the figure is the recording, not the network

    services.timers.register(DELIVER_TIMER, not_sent)
    hooks = services.webhooks
    for n in range(3):
        await services.db.write(
            partial(
                repo.insert_webhook,
                guild_id=GUILD,
                url=f"https://hooks{n}.example/x",
                events=("idea.created",),
                secret="k",
                actor_id=1,
            )
        )
    services.ideas.on_events.clear()  # consumed below, timed
    for n in range(events):
        draft = IdeaDraft(GUILD, 1000 + n, f"Benchmark idea number {n}", "A few words.")
        await services.ideas.submit(draft, check_rate=False)
    started = time.perf_counter()
    recorded = await hooks.consume()
    elapsed = time.perf_counter() - started
    await hooks.settle()
    return recorded / elapsed


async def run(quick: bool = False) -> list[BenchResult]:
    from bot.app import create_services
    from bot.domain.images import prepare_image

    runs = 3 if quick else RUNS
    note = " (quick)" if quick else ""
    mockup = _mockup(640, 400) if quick else _mockup(1280, 800)
    keep = []
    for _ in range(runs):
        started = time.perf_counter()
        prepare_image(mockup, LIMIT)
        keep.append((time.perf_counter() - started) * 1000)
    big = _noise(LIMIT + 2 * 1024 * 1024)
    scale, stalls = [], []
    for _ in range(1 if quick else runs):
        started = time.perf_counter()
        work = asyncio.ensure_future(asyncio.to_thread(prepare_image, big, LIMIT))
        stalls.append(await _stall_while(work))
        scale.append(time.perf_counter() - started)
    events = 100 if quick else 500
    with _common.workdir(None) as folder:
        services = create_services(bench_settings(folder / "bench.db"))
        await services.start()
        try:
            rate = await _deliveries_per_second(services, events)
        finally:
            await services.webhooks.close()
            await services.close()
    keep_ms, scale_s, stall_ms = statistics.median(keep), statistics.median(scale), max(stalls)
    return [
        BenchResult(
            f"picture kept (1280×800 PNG){note}",
            keep_ms,
            "ms",
            f"≤ {KEEP_MAX_MS:.0f} ms",
            keep_ms <= KEEP_MAX_MS,
        ),
        BenchResult(
            f"picture scaled to 10 MiB (12 MiB PNG){note}",
            scale_s,
            "s",
            f"≤ {SCALE_MAX_S:.0f} s",
            scale_s <= SCALE_MAX_S,
        ),
        BenchResult(
            f"event-loop stall while scaling{note}",
            stall_ms,
            "ms",
            f"≤ {STALL_MAX_MS:.0f} ms",
            stall_ms <= STALL_MAX_MS,
        ),
        BenchResult(
            f"webhook deliveries recorded ({events} events × 3 hooks){note}",
            rate,
            "/s",
            f"≥ {DELIVERIES_MIN:,.0f}/s",
            rate >= DELIVERIES_MIN,
        ),
    ]
