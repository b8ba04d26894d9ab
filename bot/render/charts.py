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
import logging
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
# The first font of this list that has a character draws it (matplotlib's font fallback
# over a ``family`` list): DejaVu Sans ships with matplotlib; the others are drawn where the
# host has them (the Docker image and CI install them: Debian's fonts-noto-core,
# fonts-noto-cjk and fonts-symbola). Symbola draws emoji in one colour: matplotlib cannot
# draw the colour bitmaps of Noto Color Emoji.
PREFERRED_FONTS = (
    "DejaVu Sans",
    "Noto Sans",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK KR",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Bengali",
    "Noto Sans Tamil",
    "Noto Sans Thai",
    "Noto Sans Armenian",
    "Noto Sans Georgian",
    "Noto Sans Ethiopic",
    "Noto Sans Symbols",
    "Noto Sans Symbols2",
    "Noto Sans Math",
    "Symbola",
)
# Invisible characters that only change how their neighbours look (joiners, variation
# selectors, skin-tone modifiers): dropped, the character they modify is drawn plainly.
_MODIFIERS = frozenset(range(0xFE00, 0xFE10)) | frozenset(range(0x1F3FB, 0x1F400))

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
    fallback_labels: Sequence[str] | None = None,
) -> bytes:
    """A horizontal bar chart as PNG bytes: one row per label, the first at the top.

    A label with a character no installed font can draw is replaced by its
    ``fallback_labels`` entry (default ``#1``, ``#2``…: the row's number), so the chart
    never shows boxes; the text beside the chart (an embed) carries the full label.

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
    fallbacks = (
        [f"#{i + 1}" for i in range(len(labels))]
        if fallback_labels is None
        else list(fallback_labels)
    )
    if len(fallbacks) != len(labels):
        raise ValueError(f"{len(labels)} labels but {len(fallbacks)} fallback labels")
    with _LOCK:
        drawn = [drawable(label) for label in labels]
        return _draw(
            title,
            [truncate(d if d is not None else f) for d, f in zip(drawn, fallbacks, strict=True)],
            numbers,
            subtitle=subtitle,
            highlight=marked,
            empty_text=empty_text,
            value_format=value_format,
        )


def truncate(label: str, limit: int = MAX_LABEL) -> str:
    """``label`` cut to ``limit`` characters, ending in "…" when cut."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _visible(text: str) -> str:
    """``text`` without controls, format characters and modifiers, whitespace collapsed.

    First the cleaning every typed text gets (ANSI escapes removed whole, controls and bidi
    overrides dropped, NFC so "e" + accent is drawn as the "é" the font has); then what
    only a chart needs: format characters (joiners, marks) have no glyph to draw."""
    out = []
    for char in clean_line(text):
        if char.isspace():
            out.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf") or ord(char) in _MODIFIERS:
            continue
        else:
            out.append(char)
    return " ".join("".join(out).split())


def drawable(text: str) -> str | None:
    """``text`` as the chart draws it (right-to-left words in display order), or None
    when an installed font lacks one of its characters."""
    _, covered = _fonts()
    visible = _visible(text)
    if any(not ch.isspace() and ord(ch) not in covered for ch in visible):
        return None
    return _display_order(visible)


def clean(text: str) -> str:
    """``text`` for a title: what no installed font draws is left out (never a box)."""
    _, covered = _fonts()
    kept = "".join(ch for ch in _visible(text) if ch.isspace() or ord(ch) in covered)
    return _display_order(" ".join(kept.split()))


def covers(text: str) -> bool:
    """Whether the installed fonts draw every visible character of ``text``."""
    return drawable(text) is not None


def _display_order(text: str) -> str:
    """Right-to-left runs (Arabic, Hebrew) reversed into the order they are seen.

    Agg lays glyphs out left to right in storage order; without this "محمد" would be
    drawn back to front. Arabic letters are then shaped into their joined forms (see
    :func:`_shape_arabic`)."""
    if not any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text):
        return text
    text = _shape_arabic(text)
    out: list[str] = []
    run: list[str] = []
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL", "NSM") or (run and kind in ("WS", "ON", "CS")):
            run.append(char)
            continue
        out += _flush_rtl(run)
        run = []
        out.append(char)
    out += _flush_rtl(run)
    return "".join(out)


def _flush_rtl(run: list[str]) -> list[str]:
    # Trailing neutrals (spaces) belong outside the reversed run.
    tail: list[str] = []
    while run and unicodedata.bidirectional(run[-1]) in ("WS", "ON", "CS"):
        tail.insert(0, run.pop())
    return [*reversed(run), *tail]


@functools.cache
def _arabic_forms() -> dict[str, dict[str, str]]:
    """Letter → {form: presentation-form character}, read from Unicode's decompositions
    of the Arabic Presentation Forms-B block (``<initial> 0645`` …)."""
    forms: dict[str, dict[str, str]] = {}
    for code in range(0xFE70, 0xFEFD):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and parts[0] in ("<isolated>", "<final>", "<initial>", "<medial>"):
            forms.setdefault(chr(int(parts[1], 16)), {})[parts[0][1:-1]] = chr(code)
    return forms


def _shape_arabic(text: str) -> str:
    """Each Arabic letter in its joined form (initial, medial, final, isolated): a letter
    joins its left neighbour when it has an initial or medial form (dual-joining)."""
    forms = _arabic_forms()
    letters = list(text)
    out = []
    for i, char in enumerate(letters):
        own = forms.get(char)
        if own is None:
            out.append(char)
            continue
        before = forms.get(letters[i - 1]) if i > 0 else None
        after = forms.get(letters[i + 1]) if i + 1 < len(letters) else None
        joins_prev = before is not None and ("initial" in before or "medial" in before)
        joins_next = after is not None and ("initial" in own or "medial" in own)
        if joins_prev and joins_next and "medial" in own:
            form = "medial"
        elif joins_prev and "final" in own:
            form = "final"
        elif joins_next and "initial" in own:
            form = "initial"
        else:
            form = "isolated"
        out.append(own.get(form, char))
    return "".join(out)


@functools.cache
def _fonts() -> tuple[list[str], frozenset[int]]:
    """The installed families of ``PREFERRED_FONTS`` and every code point they cover.

    Fonts installed after matplotlib built its font cache are not in it: the system's
    font folders are scanned once and what is new is added, so fonts installed later (a
    CI step, a Docker layer) are used without deleting the cache."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    # Titles are bold; fonts that come in one weight (Symbola, Noto Sans Math…) are drawn
    # in it, and matplotlib would log a warning per family for that on every start.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    manager = font_manager.fontManager
    known = {f.fname for f in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known and path.lower().endswith((".ttf", ".otf", ".ttc")):
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue  # a font FreeType cannot read (e.g. colour bitmaps)
    installed: dict[str, str] = {}
    for entry in manager.ttflist:
        if entry.style == "normal" and entry.weight in (400, "normal", "regular"):
            installed.setdefault(entry.name, entry.fname)
    for entry in manager.ttflist:
        installed.setdefault(entry.name, entry.fname)
    families = [name for name in PREFERRED_FONTS if name in installed] or ["DejaVu Sans"]
    covered: set[int] = set()
    for name in families:
        path = installed.get(name) or font_manager.findfont(name)
        try:
            covered.update(FT2Font(path).get_charmap())
        except (OSError, RuntimeError):
            continue
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


def opportunity_scatter(
    title: str,
    importance: Sequence[float],
    satisfaction: Sequence[float],
    *,
    subtitle: str | None = None,
) -> bytes:
    """Outcome survey results as PNG bytes: satisfaction (x) against importance (y), each
    0–10, one numbered point per outcome (the embed beside it lists the statements), the
    underserved zone (importance above satisfaction, opportunity ≥ 10) shaded."""
    if len(importance) != len(satisfaction):
        raise ValueError(f"{len(importance)} importances but {len(satisfaction)} satisfactions")
    points = [(float(i), float(s)) for i, s in zip(importance, satisfaction, strict=True)]
    if not all(math.isfinite(v) for p in points for v in p):
        raise ValueError("chart values must be finite numbers")
    with _LOCK:
        return _draw_scatter(title, points, subtitle)


def _draw_scatter(title: str, points: list[tuple[float, float]], subtitle: str | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    families, _ = _fonts()
    text_style: dict[str, Any] = {"family": families, "parse_math": False}
    size_px = 640
    fig = Figure(figsize=(WIDTH_PX / DPI, size_px / DPI), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    fig.text(
        MARGIN_PX / WIDTH_PX,
        1 - 18 / size_px,
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
            1 - 46 / size_px,
            truncate(clean(subtitle), 100),
            color=MUTED,
            fontsize=11,
            va="top",
            **text_style,
        )
    ax = fig.add_axes((0.1, 0.1, 0.85, 0.75))
    ax.set_facecolor(BACKGROUND)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    for spine in ax.spines.values():
        spine.set_color(MUTED)
    ax.tick_params(colors=MUTED)
    # Underserved: opportunity I + (I − S) ≥ 10, i.e. S ≤ 2I − 10, above the diagonal.
    xs = [x / 10 for x in range(101)]
    ax.fill_between(
        xs,
        [min(10.0, max(x, (x + 10) / 2)) for x in xs],
        [10.0] * len(xs),
        color=HIGHLIGHT,
        alpha=0.18,
        linewidth=0,
    )
    ax.plot([0, 10], [0, 10], color=MUTED, linewidth=0.8, linestyle="--")
    ax.set_xlabel("Satisfaction (share rating 4–5, × 10)", color=TEXT, **text_style)
    ax.set_ylabel("Importance (share rating 4–5, × 10)", color=TEXT, **text_style)
    ax.text(0.3, 9.5, "underserved", color=HIGHLIGHT, fontsize=11, va="top", **text_style)
    for number, (imp, sat) in enumerate(points, start=1):
        ax.scatter([sat], [imp], s=120, color=BAR, zorder=3)
        ax.annotate(
            str(number),
            xy=(sat, imp),
            xytext=(8, 6),
            textcoords="offset points",
            color=TEXT,
            fontsize=11,
            **text_style,
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    return buffer.getvalue()
