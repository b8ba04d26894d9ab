"""The digest's chart: activity and ideas by status over the last periods, as PNG bytes.

Pure and thread-safe like :mod:`bot.render.charts` (matplotlib imported on first use, the
Agg canvas drawn directly, one drawing at a time). The bot draws it with :func:`render`,
in a worker *process*: in a thread, matplotlib's C drawing and the garbage collections its
many objects set off hold the GIL, and the event loop was measured stalling 140 ms
(``cocreate bench digests``); in a process it does not stall at all.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.domain.digest_model import ChartPoint
from bot.render.charts import _LOCK, BACKGROUND, BAR, DPI, HIGHLIGHT, MUTED, TEXT

STATUS_COLOURS = {
    "new": "#80848e",
    "under_review": "#5865f2",
    "planned": "#00a8fc",
    "in_progress": "#f0b232",
    "implemented": "#23a55a",
    "declined": "#f23f43",
}


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _watch_parent(parent: int) -> None:
    """In the worker: exit once the bot is gone. A bot killed with SIGKILL cannot stop
    its worker, which would wait for work forever (holding the bot's stdout open)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="cocreate-chart-parent-watch", daemon=True).start()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # spawn: a fresh interpreter, never a fork of a process running threads.
            _pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
        return _pool


async def render(points: Sequence[ChartPoint], title: str = "Activity") -> bytes:
    """:func:`activity_chart` drawn in the worker process (started on first use, kept
    until :func:`shutdown`); a worker that died is replaced once."""
    loop = asyncio.get_running_loop()
    args = (tuple(points), title)
    try:
        return await loop.run_in_executor(_executor(), activity_chart, *args)
    except BrokenProcessPool:
        shutdown()
        return await loop.run_in_executor(_executor(), activity_chart, *args)


def shutdown() -> None:
    """Stop the worker process (the next :func:`render` starts another)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def activity_chart(points: Sequence[ChartPoint], title: str = "Activity") -> bytes:
    """Stacked bars of new ideas by status per period, and a line of activity (ideas and
    votes), oldest period on the left."""
    with _LOCK:
        return _draw(list(points), title)


def _draw(points: list[ChartPoint], title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.07, 0.14, 0.72, 0.72))
    ax.set_facecolor(BACKGROUND)
    fig.text(0.07, 0.93, title, color=TEXT, fontsize=14, fontweight="bold")
    xs = list(range(len(points)))
    bottoms = [0] * len(points)
    statuses = [s for s in STATUS_COLOURS if any(p.by_status.get(s) for p in points)]
    for status in statuses:
        heights = [p.by_status.get(status, 0) for p in points]
        ax.bar(xs, heights, bottom=bottoms, color=STATUS_COLOURS[status], label=status)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_xticks(xs, [p.label for p in points], color=MUTED, fontsize=8)
    ax.tick_params(axis="y", colors=MUTED)
    ax.set_ylabel("new ideas", color=MUTED)
    other = ax.twinx()
    other.plot(xs, [p.activity for p in points], color=HIGHLIGHT, marker="o", label="activity")
    other.tick_params(axis="y", colors=HIGHLIGHT)
    other.set_ylabel("ideas + votes", color=HIGHLIGHT)
    for axis in (ax, other):
        for spine in axis.spines.values():
            spine.set_color(MUTED if axis is ax else BAR)
    if statuses:
        legend = ax.legend(loc="upper left", bbox_to_anchor=(1.1, 1.0), fontsize=8, frameon=False)
        for text in legend.get_texts():
            text.set_color(TEXT)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    return buffer.getvalue()
