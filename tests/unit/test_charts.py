"""bot.render.charts: PNG bar charts drawn without pyplot, lazily, safely in threads."""

from __future__ import annotations

import io
import math
import struct
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from bot.render import charts
from bot.render.charts import horizontal_bars

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


def size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def pixels(png: bytes, colour: str) -> int:
    """How many pixels of the image are exactly ``colour``."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = {c: n for n, c in image.getcolors(image.width * image.height) or []}
    return counts.get(rgb(colour), 0)


def test_a_chart_is_a_png_800_wide() -> None:
    png = horizontal_bars("Leaderboard", ["#1 Alice", "#2 Bob"], [12, 7], subtitle="Page 1")
    assert png.startswith(PNG_SIGNATURE)
    assert size(png) == (800, 120 + 40 * 2)
    Image.open(io.BytesIO(png)).verify()  # a complete, decodable file


def test_height_grows_with_the_rows() -> None:
    heights = [
        size(horizontal_bars("t", [f"m{i}" for i in range(n)], list(range(n))))[1]
        for n in (1, 5, 10)
    ]
    assert heights == [160, 320, 520]


def test_background_is_opaque_and_dark_for_discord() -> None:
    png = horizontal_bars("t", ["a"], [1])
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0)) == (*rgb(charts.BACKGROUND), 255)
    assert image.getpixel((799, 159)) == (*rgb(charts.BACKGROUND), 255)


def test_highlighted_rows_are_drawn_in_the_accent_colour() -> None:
    plain = horizontal_bars("t", ["a", "b", "c"], [3, 2, 1])
    podium = horizontal_bars("t", ["a", "b", "c"], [3, 2, 1], highlight={0})
    assert pixels(plain, charts.HIGHLIGHT) == 0
    assert pixels(podium, charts.HIGHLIGHT) > 1000  # a whole bar
    assert pixels(podium, charts.BAR) < pixels(plain, charts.BAR)


def test_long_labels_are_cut_to_24_characters() -> None:
    assert charts.truncate("x" * 24) == "x" * 24
    assert charts.truncate("x" * 25) == "x" * 23 + "…"
    assert len(charts.truncate("a very long display name indeed")) == 24
    # Two names that differ only after the cut draw the same picture; shorter ones do not.
    cut_a = horizontal_bars("t", ["A" * 23 + "B" * 40], [3])
    cut_b = horizontal_bars("t", ["A" * 23 + "C" * 40], [3])
    whole = horizontal_bars("t", ["A" * 22 + "CC"], [3])
    assert cut_a == cut_b != whole


def test_values_are_printed_readably() -> None:
    assert charts.format_value(12) == "12"
    assert charts.format_value(12.0) == "12"
    assert charts.format_value(1234567) == "1,234,567"
    assert charts.format_value(2.25) == "2.2"
    assert charts.format_value(-3) == "-3"
    # The numbers are drawn: a chart with other values differs.
    assert horizontal_bars("t", ["a"], [10]) != horizontal_bars("t", ["a"], [11])


def test_no_rows_draw_the_empty_text() -> None:
    empty = horizontal_bars("Leaderboard", [], [], empty_text="No points yet")
    assert size(empty) == (800, 160)
    other = horizontal_bars("Leaderboard", [], [], empty_text="No more members.")
    assert empty != other
    assert pixels(empty, charts.BAR) == 0


def test_names_in_any_script_never_crash_or_warn() -> None:
    names = ["Zoë", "名前", "🔥 Alex", "עברית", "Ωmega", "$x^2$", "a_b$c", "\u200d", ""]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph or mathtext warning fails the test
        png = horizontal_bars("Points 🎉 名前", names, list(range(len(names))))
    assert size(png) == (800, 120 + 40 * len(names))
    assert charts.clean("a\u200db\u202e") == "ab"  # a joiner, a right-to-left override
    assert charts.clean("Zoë  Ωmega") == "Zoë Ωmega"
    assert charts.clean("") == ""
    # What a font lacks is left out of a title, never drawn as a box.
    assert charts.clean("🔥 Alex") in ("🔥 Alex", "Alex")
    assert "□" not in charts.clean("名前 \U000e0001 \U0010fffd")


def test_a_label_no_font_draws_becomes_its_row_number() -> None:
    unknown = "\U0010fffd\U0010fffe"  # private use: no font has these
    assert charts.drawable(unknown) is None and not charts.covers(unknown)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = horizontal_bars("t", ["Alice", unknown], [2, 1])
        numbered = horizontal_bars("t", ["Alice", "#2"], [2, 1])
        named = horizontal_bars("t", ["Alice", unknown], [2, 1], fallback_labels=["A", "Opt 2"])
    assert png == numbered  # the row is labelled by its number, not with boxes
    assert named == horizontal_bars("t", ["Alice", "Opt 2"], [2, 1])
    with pytest.raises(ValueError, match="fallback"):
        horizontal_bars("t", ["a"], [1], fallback_labels=[])


#: Labels in six scripts besides Latin, and emoji, as members write them.
SCRIPTS = {
    "Japanese": "山田太郎",
    "Arabic": "محمد",
    "Hebrew": "עברית",
    "Devanagari": "हिन्दी",
    "Thai": "ภาษาไทย",
    "Cyrillic": "Привет",
    "Greek": "Ωmega",
    "emoji": "🔥 Alex 🎉",
}


def test_labels_in_six_scripts_and_emoji_draw_without_missing_glyphs() -> None:
    """Where the fonts are installed (CI and the Docker image install Debian's
    fonts-noto-core, fonts-noto-cjk and fonts-symbola), every label is drawn: matplotlib
    warns for each glyph it cannot draw, and any warning fails this test."""
    lacking = [script for script, text in SCRIPTS.items() if not charts.covers(text)]
    if lacking:
        pytest.skip(
            f"no installed font draws {', '.join(lacking)}: install fonts-noto-core "
            "fonts-noto-cjk fonts-symbola (as .ci/run does) to run this test"
        )
    labels = list(SCRIPTS.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = horizontal_bars("Poll 🎉 名前 محمد", labels, list(range(1, len(labels) + 1)))
    # Every row is drawn from its own text: none fell back to its number.
    assert all(charts.drawable(label) for label in labels)
    assert png != horizontal_bars("Poll", [f"#{i + 1}" for i in range(len(labels))], [1] * 8)
    # Right-to-left words are drawn in the order they are read, Arabic letters joined.
    assert charts.drawable("עברית") == "תירבע"
    assert charts.drawable("محمد") == "\ufeaa\ufee4\ufea4\ufee3"


def test_labels_get_the_cleaning_every_typed_text_gets() -> None:
    # ANSI escapes go whole (not only their ESC), and a decomposed accent is composed into
    # the letter the font draws.
    assert charts.clean("\x1b[31mAlex\x1b[0m") == "Alex"
    assert charts.clean("Zoe\u0301") == "Zoé"
    assert charts.clean("Refund \u202egnp.exe\u202c") == "Refund gnp.exe"
    assert charts.clean("\x1b[0m") == ""  # nothing was typed that could be drawn


def test_negative_and_fractional_values_draw() -> None:
    png = horizontal_bars("Opportunity", ["a", "b", "c"], [-4, 0, 2.5])
    assert size(png) == (800, 240)
    assert pixels(png, charts.BAR) > 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="labels but"):
        horizontal_bars("t", ["a", "b"], [1])
    with pytest.raises(ValueError, match="finite"):
        horizontal_bars("t", ["a"], [math.nan])
    with pytest.raises(ValueError, match="highlighted"):
        horizontal_bars("t", ["a"], [1], highlight={1})
    with pytest.raises(ValueError, match="at most"):
        n = charts.MAX_ROWS + 1
        horizontal_bars("t", ["a"] * n, [1] * n)


def test_drawing_from_threads_gives_identical_pictures() -> None:
    def draw(_: int) -> bytes:
        return horizontal_bars("t", [f"m{i}" for i in range(8)], list(range(8)), highlight={0})

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(draw, range(8)))
    assert len(set(results)) == 1 and results[0].startswith(PNG_SIGNATURE)


def _run(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_matplotlib_is_imported_lazily_and_pyplot_never() -> None:
    _run(
        "import sys\n"
        "import bot.render.charts, bot.render.points, cogs.points\n"
        "assert 'matplotlib' not in sys.modules, 'imported at start-up'\n"
        "bot.render.charts.horizontal_bars('t', ['a'], [1])\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )


def test_no_global_figures_or_backend_change_when_pyplot_is_in_use() -> None:
    _run(
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import matplotlib.pyplot as plt\n"
        "from bot.render.charts import horizontal_bars\n"
        "for n in range(3):\n"
        "    horizontal_bars('t', ['a'] * n, [1] * n)\n"
        "assert plt.get_fignums() == [], plt.get_fignums()\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
    )


def test_challenge_results_chart_draws_the_scored_ideas_only() -> None:
    from datetime import UTC, datetime

    from bot.domain.challenge_model import Challenge, ChallengeView, Entry
    from bot.domain.challenges import Criterion, Phase, Stage
    from bot.render.challenges import results_chart

    now = datetime(2026, 5, 1, tzinfo=UTC)
    challenge = Challenge(
        1,
        1,
        1,
        "Onboarding",
        "p",
        "g",
        1,
        Phase.PUBLISHED,
        now,
        now,
        now,
        now,
        10,
        50,
        (Criterion("Impact", 1),),
        now,
        now,
    )

    def entry(number: int, score: float | None, stage: Stage) -> Entry:
        return Entry(number, 1, number, f"Idea {number}", 2, stage, False, 1, 0, now, score, 2)

    assert results_chart(ChallengeView(challenge, (entry(1, None, Stage.SCREENED),), True)) is None
    png = results_chart(
        ChallengeView(
            challenge, (entry(1, 4.5, Stage.WINNER), entry(2, None, Stage.SCREENED)), True
        )
    )
    assert png is not None and png.startswith(b"\x89PNG")
