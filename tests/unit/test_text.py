"""Cleaning typed text: properties of clean_line / clean_block / require_visible, and the
attacks they exist for."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import DomainError
from bot.domain.text import (
    BIDI_CONTROLS,
    clean_block,
    clean_line,
    has_visible,
    is_visible,
    require_visible,
)

# -- strategies -------------------------------------------------------------------------------
# Characters the cleaners must handle specially, mixed into arbitrary Unicode (surrogates
# included: st.characters() leaves them out unless asked).
_SPECIAL = (
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + sorted(BIDI_CONTROLS)
    + ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c", "\u2060", "\ufeff"]
    + ["\u00ad", "\u3164", "\u2800", "\u115f", "\u2028", "\u2029", "\u3000", "\u00a0"]
    + ["e", "\u0301", "\u0308", "A", "\u212b", "\u2126", " ", "[", "]", "m", ";", "3", "1"]
    + ["\ud800", "\udfff"]
)
_ANY_CHAR = st.one_of(
    st.sampled_from(_SPECIAL),
    st.characters(exclude_categories=()),
)
any_text = st.text(_ANY_CHAR, max_size=60)

# Text with nothing to remove: no controls but tab/newline, no bidi controls, no surrogates.
_SAFE_CHAR = st.one_of(
    st.sampled_from(["e", "\u0301", "\u212b", "A", " ", "\n", "\t", "\u200d", "\u200f", "["]),
    st.characters(exclude_categories=("Cc", "Cs")).filter(lambda c: c not in BIDI_CONTROLS),
)
safe_text = st.text(_SAFE_CHAR, max_size=40)

# Whole escape sequences and lone junk characters that removal must make disappear without a
# trace (line-breaking controls are mapped to "\n"/" ", not removed: tested by example).
_PARAMS = st.text(st.sampled_from("0123456789;?"), max_size=6)
_ANSI = st.one_of(
    st.builds(lambda p, f: f"\x1b[{p}{f}", _PARAMS, st.sampled_from("mKHJABCDhl@~")),
    st.builds(
        lambda body, end: f"\x1b]{body}{end}",
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
        st.sampled_from(["\x07", "\x1b\\"]),
    ),
    st.sampled_from(["\x1b(B", "\x1b)0", "\x1b7", "\x1b8", "\x1bc", "\x1b=", "\x1b>"]),
)
_LONE_JUNK = st.sampled_from(
    [chr(c) for c in (*range(0x09), *range(0x0E, 0x1B), 0x7F, *range(0x80, 0x85))]
    + [chr(c) for c in range(0x86, 0xA0)]
    + sorted(BIDI_CONTROLS)
    + ["\ud800", "\udbff", "\udc00"]
)
junk = st.one_of(_ANSI, _LONE_JUNK)

# Never visible: spaces, format characters (zero-width, bidi), lone combining marks, fillers.
_INVISIBLE = st.sampled_from(
    [
        *(" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\u200b", "\u200c", "\u200d"),
        *("\u200e", "\u200f", "\u061c", "\u2060", "\ufeff", "\u00ad", "\u0301", "\u20dd"),
        *("\u3164", "\u2800", "\u115f", "\u1160", "\uffa0", "\x00", "\x07", "\x1b"),
        *("\u202e", "\u2066", "\U000e0041"),
    ]
)


@st.composite
def mixed(draw: st.DrawFn) -> tuple[str, str]:
    """``(text, the same text without its junk)``: safe pieces with junk between them."""
    pieces = draw(st.lists(st.tuples(safe_text, st.lists(junk, max_size=3)), max_size=5))
    text = "".join(safe + "".join(bad) for safe, bad in pieces)
    return text, "".join(safe for safe, _ in pieces)


CLEANERS = pytest.mark.parametrize("clean", [clean_line, clean_block], ids=["line", "block"])


def _forbidden(char: str, *, block: bool) -> bool:
    category = unicodedata.category(char)
    if block and char in "\n\t":
        return False
    return category in ("Cc", "Cs") or char in BIDI_CONTROLS


# -- properties -------------------------------------------------------------------------------
@CLEANERS
@given(any_text)
def test_cleaning_is_idempotent(clean: object, text: str) -> None:
    assert callable(clean)
    once = clean(text)
    assert clean(once) == once


@given(any_text)
def test_a_block_keeps_only_newlines_and_tabs_of_the_controls(text: str) -> None:
    out = clean_block(text)
    assert not [c for c in out if _forbidden(c, block=True)]
    assert "\x1b" not in out and "\r" not in out
    assert unicodedata.is_normalized("NFC", out)
    assert out == out.strip()


@given(any_text)
def test_a_line_is_one_line_of_single_spaces(text: str) -> None:
    out = clean_line(text)
    assert not [c for c in out if _forbidden(c, block=False)]
    assert unicodedata.is_normalized("NFC", out)
    # White space only as single spaces between words: no tab, newline, double space.
    assert out == " ".join(out.split())
    assert all(c == " " for c in out if c.isspace())


@CLEANERS
@given(mixed())
def test_junk_disappears_without_touching_the_text_around_it(
    clean: object, case: tuple[str, str]
) -> None:
    assert callable(clean)
    text, without_junk = case
    assert clean(text) == clean(without_junk)


@given(safe_text)
def test_a_block_changes_nothing_but_normalisation_and_surrounding_space(text: str) -> None:
    assert clean_block(text) == unicodedata.normalize("NFC", text).strip()


@CLEANERS
@given(safe_text)
def test_visible_characters_are_kept_in_order(clean: object, text: str) -> None:
    assert callable(clean)
    normal = unicodedata.normalize("NFC", text)
    assert [c for c in clean(text) if is_visible(c)] == [c for c in normal if is_visible(c)]
    assert clean(text).split() == normal.split()


@given(st.text(_INVISIBLE, max_size=30))
def test_text_of_only_invisible_characters_is_refused(text: str) -> None:
    for out in (clean_line(text), clean_block(text)):
        assert not has_visible(out)
        with pytest.raises(DomainError) as exc:
            require_visible(out, field="title")
        assert exc.value.code == "invisible_text"


@given(
    st.text(_INVISIBLE, max_size=10),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=5),
    any_text,
)
def test_text_with_a_printable_ascii_character_is_accepted(
    before: str, word: str, after: str
) -> None:
    # The word on a line of its own: an ESC at the end of ``before`` cannot take it into an
    # escape sequence (a space could: it is an intermediate byte, as in ESC SP F).
    out = clean_line(f"{before}\n{word}\n{after}")
    assert word in out
    assert require_visible(out, field="title") == out


@given(any_text)
def test_refusal_happens_exactly_when_nothing_visible_is_left(text: str) -> None:
    out = clean_line(text)
    visible = any(is_visible(c) for c in out)
    try:
        require_visible(out, field="title")
    except DomainError:
        assert not visible
    else:
        assert visible


# -- the attacks, by example ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "line", "block"),
    [
        # Right-to-left override: shown as "Refund exe.png", stored as typed.
        ("Refund \u202egnp.exe\u202c", "Refund gnp.exe", "Refund gnp.exe"),
        ("\u2067Admin\u2069 says hi", "Admin says hi", "Admin says hi"),
        ("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069ok", "ok", "ok"),
        # NUL, BEL, backspace (which could hide what precedes it on a terminal).
        ("Dark\x00 mode\x07", "Dark mode", "Dark mode"),
        ("Free money\x08\x08\x08\x08\x08Dark mode", "Free moneyDark mode", "Free moneyDark mode"),
        # ANSI escapes go whole: colour, cursor moves, a window title, charset switches.
        ("\x1b[31;1mRed\x1b[0m alert", "Red alert", "Red alert"),
        ("\x1b[2J\x1b[HCleared", "Cleared", "Cleared"),
        ("\x1b]0;pwned\x07Title", "Title", "Title"),
        ("\x1b]8;;https://x.example\x1b\\link\x1b]8;;\x1b\\", "link", "link"),
        ("\x1b(0lqk\x1b(B", "lqk", "lqk"),
        # A lone ESC or a C1 control is dropped, but the letters after it stay.
        ("a\x1b", "a", "a"),
        ("Next \x9b Save", "Next Save", "Next  Save"),
        # DEL and the C1 block.
        ("x\x7fy\x80z\x9f", "xyz", "xyz"),
        # Line breaks: kept (as "\n") in a block, a space on a line.
        ("one\r\ntwo\rthree\x0bfour\u2028five", "one two three four five", None),
        ("a\tb", "a b", "a\tb"),
        # NFC: a decomposed é, the Ångström and Ohm signs.
        ("Cafe\u0301", "Café", "Café"),
        ("\u212b \u2126", "Å Ω", "Å Ω"),
        # Lone surrogates (which SQLite cannot store) vanish.
        ("bad\ud800surrogate", "badsurrogate", "badsurrogate"),
    ],
)
def test_attacks(typed: str, line: str, block: str | None) -> None:
    assert clean_line(typed) == line
    if block is not None:
        assert clean_block(typed) == block


def test_a_block_keeps_paragraphs_and_normalises_line_breaks() -> None:
    typed = "  First line\r\nsecond\tcolumn\r\rthird\x85fourth  \n"
    assert clean_block(typed) == "First line\nsecond\tcolumn\n\nthird\nfourth"


def test_bidi_marks_and_joiners_are_kept() -> None:
    # Decided: the marks (LRM, RLM, ALM) only place neutral characters; they cannot reverse
    # a run of letters, and right-to-left writers need them. Joiners build emoji and words.
    hebrew = "\u05e9\u05dc\u05d5\u05dd!\u200f"
    assert clean_line(hebrew) == hebrew
    assert clean_line("\u200e(1)\u061c") == "\u200e(1)\u061c"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_line(family) == family
    assert clean_line("\u0645\u06cc\u200c\u062e\u0648\u0627\u0645") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645"
    )


@pytest.mark.parametrize(
    "typed",
    [
        "\u200b\u2060\ufeff",
        "",
        "   \t ",
        "\u3164\u3164",  # Hangul filler: the classic blank name
        "\u2800",  # blank Braille pattern
        "\u200e\u200f\u061c",
        "\u0301\u0301",  # marks with nothing to sit on
        "\x1b[31m\x1b[0m",
        "\u202e\u202c",
    ],
)
def test_blank_looking_titles_are_refused(typed: str) -> None:
    assert not has_visible(clean_line(typed))
    with pytest.raises(DomainError) as exc:
        require_visible(clean_line(typed), field="title")
    assert "no visible text" in exc.value.message and "title" in exc.value.message


@pytest.mark.parametrize("typed", ["a", "1", "!", "🔥", "名", "\u0915\u093e", "\ue000"])
def test_anything_drawn_counts_as_visible(typed: str) -> None:
    assert has_visible(typed)
    assert require_visible(typed, field="title") == typed
