"""The digest's chart: activity and ideas by status over the last periods, as PNG bytes.

Pure and thread-safe like :mod:`bot.render.charts` (matplotlib imported on first use, the
Agg canvas drawn directly, one drawing at a time); callers run it in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

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
