"""Charts as PNG bytes: leaderboards now, poll results and outcome surveys later.

Pure (no Discord imports) and safe to run in a worker thread: matplotlib is imported on
first use (so starting the bot never pays for it), figures are built with the
object-oriented ``Figure`` and drawn by the Agg canvas directly. Nothing touches pyplot or
the global backend, so no figure outlives a call and nothing another module configured is
switched (``matplotlib.use`` would close pyplot's figures if anything had imported it).
"""

from __future__ import annotations

import functools
import io
import math
import threading
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from bot.domain.text import clean_line

#: Width of every chart, and the height of its fixed parts plus one row, in pixels.
WIDTH_PX = 800
BASE_HEIGHT_PX = 120
ROW_HEIGHT_PX = 40
DPI = 100
#: Longer labels are cut to this many characters, the last being "…".
MAX_LABEL = 24
#: Outer margin, the widest the label column may be, and the gap between label and bar.
MARGIN_PX = 24
MAX_LABEL_PX = 340
LABEL_PAD_PX = 8
#: Share of the value range left free beyond the longest bar, for its number.
ROOM = 0.22
#: More rows than this is a caller's bug (and an image too tall to read).
MAX_ROWS = 50

# Opaque and dark (Discord's dark theme), so the chart reads the same on the light theme.
BACKGROUND = "#2b2d31"
TEXT = "#f2f3f5"
MUTED = "#b5bac1"
BAR = "#5865f2"
HIGHLIGHT = "#f0b232"
#: Drawn instead of a letter no installed font has (names in scripts we lack fonts for).
MISSING_GLYPH = "□"
# The first installed font covering a character draws it (matplotlib's font fallback);
# DejaVu Sans ships with matplotlib, the others are used where the host has them.
PREFERRED_FONTS = (
    "DejaVu Sans",
    "Noto Sans",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK KR",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
)

# matplotlib's text and font caches are not meant for concurrent drawing; charts are small
# (tens of ms) and rare, so one at a time is cheap insurance.
_LOCK = threading.Lock()


def format_value(value: float) -> str:
    """12 → "12", 1234 → "1,234", 2.5 → "2.5"."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def horizontal_bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    subtitle: str | None = None,
    highlight: set[int] | None = None,
    empty_text: str = "Nothing to show yet",
    value_format: Callable[[float], str] = format_value,
) -> bytes:
    """A horizontal bar chart as PNG bytes: one row per label, the first at the top.

    ``highlight`` holds indexes of rows drawn in the accent colour; each value is printed at
    the end of its bar. With no rows the image shows ``empty_text`` instead. The image is
    800 px wide and 120 + 40 × rows px high (one row's height when empty).

    Raises ``ValueError`` when labels and values differ in length, a value is not finite,
    a highlighted index is not a row, or there are more than ``MAX_ROWS`` rows.
    """
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels but {len(values)} values")
    if len(labels) > MAX_ROWS:
        raise ValueError(f"{len(labels)} rows; at most {MAX_ROWS} fit in a chart")
    numbers = [float(v) for v in values]
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError("chart values must be finite numbers")
    marked = set(highlight or ())
    if not marked <= set(range(len(numbers))):
        raise ValueError(f"highlighted rows {sorted(marked)} are not all among {len(numbers)}")
    with _LOCK:
        return _draw(
            title,
            [truncate(clean(label)) for label in labels],
            numbers,
            subtitle=subtitle,
            highlight=marked,
            empty_text=empty_text,
            value_format=value_format,
        )


def truncate(label: str, limit: int = MAX_LABEL) -> str:
    """``label`` cut to ``limit`` characters, ending in "…" when cut."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def clean(text: str) -> str:
    """``text`` with what no installed font draws replaced: letters by "□", emoji and other
    symbols dropped (a name like "🔥 Alex" stays readable), as are control and format
    characters; whitespace collapsed.

    Without this, matplotlib draws an empty box and warns once per missing glyph.
    """
    _, covered = _fonts()
    out = []
    # First the cleaning every typed text gets (ANSI escapes removed whole, controls and
    # bidi overrides dropped, NFC so "e" + accent is drawn as the "é" the font has); then
    # what only a chart needs: format characters (joiners, marks) have no glyph to draw.
    line = clean_line(text)
    for char in line:
        category = unicodedata.category(char)
        if char.isspace():
            out.append(" ")
        elif category in ("Cc", "Cf"):
            continue  # controls, joiners, direction marks: nothing to draw
        elif ord(char) in covered:
            out.append(char)
        elif category in ("So", "Sk", "Sm", "Mn", "Me"):
            continue  # emoji, their modifiers and variation selectors
        else:
            out.append(MISSING_GLYPH)
    cleaned = " ".join("".join(out).split())
    return cleaned or (MISSING_GLYPH if line else "")


@functools.cache
def _fonts() -> tuple[list[str], frozenset[int]]:
    """The installed families of ``PREFERRED_FONTS`` and every code point they cover."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    installed = {f.name: f.fname for f in font_manager.fontManager.ttflist if f.style == "normal"}
    families = [name for name in PREFERRED_FONTS if name in installed] or ["DejaVu Sans"]
    covered: set[int] = set()
    for name in families:
        path = installed.get(name) or font_manager.findfont(name)
        covered.update(FT2Font(path).get_charmap())
    return families, frozenset(covered)


def _draw(
    title: str,
    labels: list[str],
    values: list[float],
    *,
    subtitle: str | None,
    highlight: set[int],
    empty_text: str,
    value_format: Callable[[float], str],
) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    families, _ = _fonts()
    rows = len(values)
    height_px = BASE_HEIGHT_PX + ROW_HEIGHT_PX * max(rows, 1)
    fig = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, facecolor=BACKGROUND)
    canvas = FigureCanvasAgg(fig)  # attaches itself as fig.canvas: no pyplot, no backend
    # Names are text, not math: "$5 bounty" must not switch to mathtext (or fail to parse).
    text_style: dict[str, Any] = {"family": families, "parse_math": False}
    fig.text(
        MARGIN_PX / WIDTH_PX,
        1 - 18 / height_px,
        truncate(clean(title), 80),
        color=TEXT,
        fontsize=15,
        fontweight="bold",
        va="top",
        **text_style,
    )
    if subtitle:
        fig.text(
            MARGIN_PX / WIDTH_PX,
            1 - 46 / height_px,
            truncate(clean(subtitle), 100),
            color=MUTED,
            fontsize=11,
            va="top",
            **text_style,
        )
    top_px, bottom_px = 84, BASE_HEIGHT_PX - 84

    def place(left_px: float) -> tuple[float, float, float, float]:
        return (
            left_px / WIDTH_PX,
            bottom_px / height_px,
            (WIDTH_PX - left_px - MARGIN_PX) / WIDTH_PX,
            (height_px - top_px - bottom_px) / height_px,
        )

    ax = fig.add_axes(place(MAX_LABEL_PX))
    ax.set_facecolor(BACKGROUND)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.xaxis.set_visible(False)
    if not rows:
        ax.set_position(place(MARGIN_PX))
        ax.yaxis.set_visible(False)
        ax.text(
            0.5,
            0.5,
            truncate(clean(empty_text), 80),
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=MUTED,
            fontsize=13,
            **text_style,
        )
    else:
        positions = list(range(rows))
        colours = [HIGHLIGHT if i in highlight else BAR for i in positions]
        ax.barh(positions, values, height=0.7, color=colours)
        ax.set_yticks(positions, labels, color=TEXT, fontsize=12, **text_style)
        ax.tick_params(axis="y", length=0, pad=LABEL_PAD_PX)
        # Bars start right after the widest label; wide letters ("WWW…") get a smaller
        # font rather than being cut at the left edge.
        renderer = canvas.get_renderer()
        widest = max(t.get_window_extent(renderer).width for t in ax.get_yticklabels())
        if widest > MAX_LABEL_PX - MARGIN_PX - LABEL_PAD_PX:
            for tick in ax.get_yticklabels():
                tick.set_fontsize(12 * (MAX_LABEL_PX - MARGIN_PX - LABEL_PAD_PX) / widest)
            widest = MAX_LABEL_PX - MARGIN_PX - LABEL_PAD_PX
        ax.set_position(place(MARGIN_PX + LABEL_PAD_PX + widest + 4))
        ax.set_ylim(rows - 0.5, -0.5)  # the first row at the top
        low, high = min(0.0, *values), max(0.0, *values)
        span = (high - low) or 1.0
        # Room beyond the longest bars for their numbers.
        ax.set_xlim(low - (ROOM * span if low < 0 else 0.0), high + ROOM * span)
        if low < 0:  # negative totals (corrections): show where zero is
            ax.axvline(0, color=MUTED, linewidth=0.8)
        for i, value in enumerate(values):
            ax.annotate(
                value_format(value),
                xy=(value, i),
                xytext=(5 if value >= 0 else -5, 0),
                textcoords="offset points",
                ha="left" if value >= 0 else "right",
                va="center",
                color=TEXT,
                fontsize=11,
                **text_style,
            )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    return buffer.getvalue()
