"""Every domain entry point for typed text cleans it with bot.domain.text: the capture
parsers, the idea validators, tags, points adjustments and per-server setting values."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.capture import parse_captured, parse_forum_post, parse_message
from bot.domain.errors import DomainError
from bot.domain.guild_config import parse_value as parse_setting
from bot.domain.guild_config import spec_for
from bot.domain.idea_model import IdeaDraft
from bot.domain.ideas import (
    IdeaStatus,
    check_transition,
    normalise_tags,
    validate_body,
    validate_reason,
    validate_title,
)
from bot.domain.points import check_adjustment
from bot.domain.text import BIDI_CONTROLS, clean_line

DISGUISED = "Refund \u202egnp.exe\u202c"
ZERO_WIDTH = "\u200b\u2060\ufeff"
DIRTY = "\x1b[1;31mDark\x1b[0m\x00 mode\x07\x08 \u202eedit\u202c"


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value.code


# -- capture ----------------------------------------------------------------------------------
class TestCapture:
    def test_a_disguised_title_is_read_cleaned(self) -> None:
        parsed = parse_message(f"[idea] {DISGUISED}\nBody\x1b[2J with\x00 junk\r\nline two")
        assert parsed is not None
        assert parsed.title == "Refund gnp.exe"
        assert parsed.body == "Body with junk\nline two"

    def test_an_ansi_coloured_tag_still_counts_and_leaves_no_litter(self) -> None:
        parsed = parse_message("\x1b[32m[idea]\x1b[0m[mobile] Offline mode")
        assert parsed is not None
        assert (parsed.title, parsed.tags) == ("Offline mode", ("mobile",))

    def test_a_zero_width_title_is_refused_with_a_message_that_says_so(self) -> None:
        for text in (f"[idea] {ZERO_WIDTH}", f"[idea]{ZERO_WIDTH}\n   ", f"[idea]\n{ZERO_WIDTH}"):
            with pytest.raises(DomainError) as exc:
                parse_message(text)
            assert exc.value.code == "invisible_text", text
            assert "no visible text" in exc.value.message
        # Nothing typed at all is still told apart: "needs a title after the tag".
        assert _code(lambda: parse_message("[idea]")) == "title_empty"

    def test_an_invisible_first_line_lets_the_next_line_be_the_title(self) -> None:
        parsed = parse_message(f"[idea] {ZERO_WIDTH}\nDark mode\nBecause.")
        assert parsed is not None and (parsed.title, parsed.body) == ("Dark mode", "Because.")

    def test_labels_are_cleaned_and_blank_ones_are_not_tags(self) -> None:
        parsed = parse_message("[idea][Mo\u202ebile] Offline")
        assert parsed is not None and parsed.tags == ("mobile",)

    def test_capture_as_idea_reads_cleaned_text(self) -> None:
        parsed = parse_captured(f"{DISGUISED}\r\nwhy\x07 it matters")
        assert (parsed.title, parsed.body) == ("Refund gnp.exe", "why it matters")
        assert parse_captured(f"{ZERO_WIDTH}\nbody").title == ZERO_WIDTH  # refused on submit

    def test_forum_post_title_body_and_tags_are_cleaned(self) -> None:
        parsed = parse_forum_post(
            f"[bug] {DISGUISED}", "Steps\x1b[0m:\r\n1. open", ["Sync\u202e", "E\u0301diteur"]
        )
        assert (parsed.kind, parsed.title) == ("bug", "Refund gnp.exe")
        assert parsed.body == "Steps:\n1. open"
        assert parsed.tags == ("sync", "\u00e9diteur")

    def test_a_forum_post_titled_with_zero_width_characters_is_refused(self) -> None:
        assert _code(lambda: parse_forum_post(ZERO_WIDTH, "text", [])) == "invisible_text"


# -- ideas ------------------------------------------------------------------------------------
class TestIdeaText:
    def test_titles_are_cleaned_lines(self) -> None:
        assert validate_title(DISGUISED) == "Refund gnp.exe"
        assert validate_title(DIRTY) == "Dark mode edit"
        assert validate_title("Cafe\u0301\tcorner\nmenu") == "Café corner menu"

    def test_an_invisible_title_is_refused_an_empty_one_too(self) -> None:
        assert _code(lambda: validate_title(ZERO_WIDTH)) == "invisible_text"
        assert _code(lambda: validate_title("\u3164 \u2800")) == "invisible_text"
        assert _code(lambda: validate_title("  ")) == "title_empty"

    def test_bodies_keep_their_lines(self) -> None:
        assert validate_body("  one\r\n\ttwo\x00\x1b[0m\n\u202ethree ") == "one\n\ttwo\nthree"

    def test_reasons_are_cleaned_and_an_invisible_one_is_no_reason(self) -> None:
        assert validate_reason(f"Dup\x1b[0m of {DISGUISED}", required=True) == (
            "Dup of Refund gnp.exe"
        )
        assert validate_reason(ZERO_WIDTH, required=False) is None
        assert _code(lambda: validate_reason(ZERO_WIDTH, required=True)) == "reason_required"

    def test_a_decline_with_an_invisible_reason_is_refused(self) -> None:
        decline = lambda: check_transition(  # noqa: E731
            IdeaStatus.NEW, IdeaStatus.DECLINED, ZERO_WIDTH, True, False
        )
        assert _code(decline) == "reason_required"

    def test_tags_are_cleaned_lowercase_unique_and_never_blank(self) -> None:
        assert normalise_tags(["Mobile", "mo\u202ebile", ZERO_WIDTH, "", "E\u0301t\u00e9"]) == (
            "mobile",
            "\u00e9t\u00e9",
        )

    def test_a_draft_cleans_its_tags_whoever_builds_it(self) -> None:
        draft = IdeaDraft(1, 2, "t", "", tags=("UI\x00", "ui", "\u200b"))
        assert draft.tags == ("ui",)

    @given(st.lists(st.text(max_size=12), max_size=6))
    def test_normalised_tags_are_clean_and_stable(self, tags: list[str]) -> None:
        out = normalise_tags(tags)
        assert normalise_tags(out) == out
        for tag in out:
            assert tag == clean_line(tag) and unicodedata.is_normalized("NFC", tag)
            assert not BIDI_CONTROLS & set(tag)


# -- other features ---------------------------------------------------------------------------
def test_points_adjustment_reasons_are_cleaned() -> None:
    assert check_adjustment(5, f"Bonus \x1b[1mfor\x1b[0m {DISGUISED}", 100) == (
        "Bonus for Refund gnp.exe"
    )
    assert _code(lambda: check_adjustment(5, ZERO_WIDTH, 100)) == "reason_required"


def test_setting_values_are_cleaned() -> None:
    assert parse_setting(spec_for("points_role_basis"), "season\u202e\x00") == "season"
    assert _code(lambda: parse_setting(spec_for("points_role_basis"), ZERO_WIDTH)) == "bad_value"
    assert parse_setting(spec_for("ideas_tags"), "idea, \u200b, bug\x1b[0m") == ["idea", "bug"]
