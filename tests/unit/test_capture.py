"""Capture parsing: tags in messages and forum posts → kind, title, body, tags."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.capture import (
    DEFAULT_CAPTURE,
    DEFAULT_TAGS,
    CaptureConfig,
    CapturedText,
    parse_captured,
    parse_forum_post,
    parse_message,
    split_title,
)
from bot.domain.errors import DomainError
from bot.domain.ideas import BODY_MAX, TITLE_MAX


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value.code


class TestUntagged:
    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   \n  ",
            "just chatting about dark mode",
            "- [ ] a checklist item\n- [x] done",
            "see [the docs](https://example.com) for [details]",
            "#general is busy today",
            "#ideas-archive has the old ones",
            "check <#123456789012345678> for updates",
            "line one\n[idea] tag on the second line is not a capture",
            "[ideas] is not a configured tag",
        ],
    )
    def test_returns_none(self, text: str) -> None:
        assert parse_message(text) is None

    def test_channel_mention_of_an_unknown_channel_is_not_a_tag(self) -> None:
        assert parse_message("[<#42>] Offline mode") is None
        assert parse_message("[<#42>] Offline mode", channel_names={42: "general"}) is None


class TestTagForms:
    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            ("[idea] Dark mode", "idea"),
            ("[IDEA] Dark mode", "idea"),
            ("[ Idea ] Dark mode", "idea"),
            ("[#idea] Dark mode", "idea"),
            ("**[idea]** Dark mode", "idea"),
            ("`[idea]` Dark mode", "idea"),
            ("#idea Dark mode", "idea"),
            ("#idea: Dark mode", "idea"),
            ("[idea]: Dark mode", "idea"),
            ("[idea] - Dark mode", "idea"),
            ("Dark mode [idea]", "idea"),
            ("Dark mode - [idea]", "idea"),
            ("  \n\n[bug] Dark mode", "bug"),
            ("[feedback] Dark mode", "feedback"),
            ("[story] Dark mode", "story"),
            ("[prototype] Dark mode", "prototype"),
            ("# [idea] Dark mode", "idea"),
        ],
    )
    def test_forms(self, text: str, kind: str) -> None:
        assert parse_message(text) == CapturedText(kind, "Dark mode", "", ())

    def test_tag_in_the_middle_of_the_first_line(self) -> None:
        captured = parse_message("Add a [bug] report button")
        assert captured == CapturedText("bug", "Add a report button", "", ())

    def test_first_tag_wins_and_later_ones_stay_as_text(self) -> None:
        captured = parse_message("[idea] Let members file a [bug] from the app")
        assert captured is not None
        assert (captured.kind, captured.title) == ("idea", "Let members file a [bug] from the app")

    def test_tag_discord_turned_into_a_channel_mention(self) -> None:
        names = {111: "idea", 222: "bug"}
        assert parse_message("[<#111>] Offline mode", channel_names=names) == CapturedText(
            "idea", "Offline mode", "", ()
        )
        captured = parse_message("[#<#222>] Crash on start", channel_names=names)
        assert captured is None or captured.kind == "bug"
        assert parse_message("[<#222>] Crash on start", channel_names=names) == CapturedText(
            "bug", "Crash on start", "", ()
        )

    def test_channel_mention_next_to_the_tag_stays_in_the_title(self) -> None:
        captured = parse_message("[idea]<#123456> needs a pinned FAQ")
        assert captured == CapturedText("idea", "<#123456> needs a pinned FAQ", "", ())
        captured = parse_message("<#123456>[idea] needs a pinned FAQ")
        assert captured == CapturedText("idea", "<#123456> needs a pinned FAQ", "", ())

    def test_hashtag_only_counts_at_the_start(self) -> None:
        assert parse_message("Dark mode #idea") is None
        assert parse_message("#idea-board is where these go") is None


class TestTitleAndBody:
    def test_first_line_is_title_rest_is_body(self) -> None:
        text = "[idea] Dark mode for the editor\nIt hurts my eyes at night.\n\nPlease!"
        assert parse_message(text) == CapturedText(
            "idea", "Dark mode for the editor", "It hurts my eyes at night.\n\nPlease!", ()
        )

    def test_tag_alone_on_the_first_line(self) -> None:
        text = "[idea]\n\n  Dark mode for the editor  \nbody line"
        assert parse_message(text) == CapturedText(
            "idea", "Dark mode for the editor", "body line", ()
        )

    def test_whitespace_in_the_title_is_collapsed(self) -> None:
        captured = parse_message("[idea]   Dark\t\tmode   ")
        assert captured is not None and captured.title == "Dark mode"

    def test_long_title_is_cut_on_a_word_and_the_rest_moves_to_the_body(self) -> None:
        words = " ".join(f"word{i}" for i in range(40))
        captured = parse_message(f"[idea] {words}\nOriginal body.")
        assert captured is not None
        assert len(captured.title) <= TITLE_MAX
        assert captured.title.endswith("…")
        head = captured.title[:-1]
        assert words.startswith(head) and words[len(head)] == " "
        assert captured.body.startswith("…")
        assert captured.body.endswith("\n\nOriginal body.")
        # Nothing the member wrote is lost.
        rejoined = head + " " + captured.body[1:].split("\n\n")[0]
        assert rejoined == words

    def test_a_title_of_exactly_the_limit_is_kept_whole(self) -> None:
        title = "x" * TITLE_MAX
        assert parse_message(f"[idea] {title}") == CapturedText("idea", title, "", ())

    def test_labels_next_to_a_leading_tag_become_tags(self) -> None:
        captured = parse_message("[idea][Mobile] [ sync ] Offline mode\nbody")
        assert captured == CapturedText("idea", "Offline mode", "body", ("mobile", "sync"))

    def test_labels_resolve_channel_mentions_and_skip_links(self) -> None:
        captured = parse_message("[idea][<#5>] Offline mode", channel_names={5: "android"})
        assert captured is not None and captured.tags == ("android",)
        captured = parse_message("[idea] [our roadmap](https://example.com) should be public")
        assert captured is not None
        assert captured.tags == ()
        assert captured.title == "[our roadmap](https://example.com) should be public"

    def test_brackets_elsewhere_are_prose(self) -> None:
        captured = parse_message("Support [[wiki links]] [idea]")
        assert captured == CapturedText("idea", "Support [[wiki links]]", "", ())


class TestRejections:
    @pytest.mark.parametrize("text", ["[idea]", "[idea]   \n  \n ", "**[idea]** :", "#idea -"])
    def test_empty(self, text: str) -> None:
        assert _code(lambda: parse_message(text)) == "title_empty"

    def test_oversized_body(self) -> None:
        assert parse_message("[idea] T\n" + "b" * BODY_MAX) is not None
        assert _code(lambda: parse_message("[idea] T\n" + "b" * (BODY_MAX + 1))) == "body_too_long"


class TestConfig:
    def test_custom_tags_map_to_kinds(self) -> None:
        config = CaptureConfig({"feature-request": "idea", "FR": "idea", "oops": "bug"})
        assert parse_message("[fr] Dark mode", config) == CapturedText("idea", "Dark mode", "", ())
        assert parse_message("[Feature-Request] X", config) == CapturedText("idea", "X", "", ())
        assert parse_message("[oops] X", config) == CapturedText("bug", "X", "", ())
        # The defaults are not active unless configured.
        assert parse_message("[idea] X", config) is None

    def test_regex_characters_in_tags_are_literal(self) -> None:
        with pytest.raises(DomainError) as exc:
            CaptureConfig({"a.b": "idea"})
        assert exc.value.code == "bad_tag"

    @pytest.mark.parametrize("tags", [{}, {"": "idea"}, {"ok": " "}, {"x" * 40: "idea"}])
    def test_bad_configs(self, tags: dict[str, str]) -> None:
        assert _code(lambda: CaptureConfig(tags)) == "bad_tag"

    def test_defaults(self) -> None:
        assert dict(DEFAULT_TAGS) == {
            "idea": "idea",
            "feedback": "feedback",
            "bug": "bug",
            "story": "story",
            "prototype": "prototype",
        }
        assert DEFAULT_CAPTURE.kind_for("#Bug") == "bug"


class TestForumPost:
    def test_kind_from_applied_tags_and_all_tags_kept(self) -> None:
        captured = parse_forum_post("Crash on start", "When I open the app…", ["Mobile", "Bug"])
        assert captured == CapturedText(
            "bug", "Crash on start", "When I open the app…", ("mobile", "bug")
        )

    def test_kind_from_the_post_title_wins(self) -> None:
        captured = parse_forum_post("[feedback] Onboarding", "", ["Bug"])
        assert captured == CapturedText("feedback", "Onboarding", "", ("bug",))

    def test_default_kind_and_tag_cleanup(self) -> None:
        captured = parse_forum_post("  Dark mode ", "  body \n", ["  UI  Polish ", "ui polish", ""])
        assert captured == CapturedText("idea", "Dark mode", "body", ("ui polish",))

    def test_custom_default_kind(self) -> None:
        config = CaptureConfig(DEFAULT_TAGS, default_kind="Feedback")
        assert parse_forum_post("Hi", "", [], config).kind == "feedback"

    def test_errors(self) -> None:
        assert _code(lambda: parse_forum_post("  ", "body", [])) == "title_empty"
        assert _code(lambda: parse_forum_post("[bug]", "body", [])) == "title_empty"
        too_long = "b" * (BODY_MAX + 1)
        assert _code(lambda: parse_forum_post("T", too_long, [])) == "body_too_long"


class TestCaptured:
    """ "Capture as idea" reads any message: by its tag, else by its first line."""

    def test_a_tagged_message_reads_as_at_tag_capture(self) -> None:
        text = "[bug][sync] Comments vanish\nAfter reconnecting."
        assert parse_captured(text) == parse_message(text)
        assert parse_captured(text).kind == "bug"

    def test_a_tag_discord_turned_into_a_channel_mention_counts(self) -> None:
        captured = parse_captured("[<#42>] Shared calendars", channel_names={42: "feedback"})
        assert captured == CapturedText("feedback", "Shared calendars", "", ())
        # Without the channel's name the mention is ordinary text of the first line.
        assert parse_captured("[<#42>] Shared calendars").title == "[<#42>] Shared calendars"

    def test_an_untagged_message_gives_its_first_line_as_title(self) -> None:
        captured = parse_captured("  Read-only share links\nFor clients.\nWho only look.  ")
        assert captured == CapturedText(
            "idea", "Read-only share links", "For clients.\nWho only look.", ()
        )

    def test_a_long_first_line_opens_the_body_with_its_overflow(self) -> None:
        words = " ".join(f"word{i}" for i in range(40))
        captured = parse_captured(f"{words}\nSecond line.")
        assert len(captured.title) <= TITLE_MAX and captured.title.endswith("…")
        assert captured.body.startswith("word") and captured.body.endswith("\nSecond line.")
        assert " ".join(f"{captured.title[:-1]} {captured.body}".split()) == " ".join(
            f"{words} Second line.".split()
        )

    def test_the_title_is_left_to_the_caller_to_refuse(self) -> None:
        assert parse_captured("   ") == CapturedText("idea", "", "", ())
        assert _code(lambda: parse_captured("[idea]")) == "title_empty"


class TestSplitTitle:
    def test_short_title_unchanged(self) -> None:
        assert split_title("Dark mode") == ("Dark mode", "")

    def test_unbroken_word_is_cut_hard(self) -> None:
        head, rest = split_title("x" * 250)
        assert head == "x" * (TITLE_MAX - 1) + "…"
        assert rest == "x" * (250 - TITLE_MAX + 1)

    @given(st.text(alphabet=st.sampled_from("ab  c"), min_size=0, max_size=300))
    def test_always_within_limit_and_lossless(self, line: str) -> None:
        line = " ".join(line.split())
        head, rest = split_title(line)
        assert len(head) <= TITLE_MAX
        if not rest:
            assert head == line
        else:
            assert head.endswith("…")
            assert " ".join(f"{head[:-1]} {rest}".split()) == line or (head[:-1] + rest) == line


@given(st.text(max_size=600))
def test_parse_message_never_raises_anything_but_domain_errors(text: str) -> None:
    try:
        captured = parse_message(text)
    except DomainError:
        return
    if captured is not None:
        assert 1 <= len(captured.title) <= TITLE_MAX
        assert "\n" not in captured.title
        assert len(captured.body) <= BODY_MAX
        assert captured.kind in DEFAULT_TAGS.values()


_TAGGY = st.lists(
    st.sampled_from(
        ["[idea]", "[BUG]", "#idea", "[#story]", "<#12>", "[<#12>]", "**", "[", "]", "#"]
    )
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    max_size=12,
).map(" ".join)


@given(_TAGGY, st.text(max_size=50))
def test_tag_heavy_text_never_crashes(first_line: str, rest: str) -> None:
    try:
        captured = parse_message(f"{first_line}\n{rest}", channel_names={12: "idea"})
    except DomainError as exc:
        assert exc.code in {"title_empty", "body_too_long"}
        return
    if captured is not None:
        assert 1 <= len(captured.title) <= TITLE_MAX
        assert not re.search(r"\[\s*idea\s*\]", captured.title[:6], re.IGNORECASE)


def test_untagged_text_takes_the_fast_path() -> None:
    # Its speed is measured by `cocreate bench ideas`; here only that it returns early.
    text = "Honestly I think the new release is great, the editor feels much faster now." * 3
    assert parse_message(text) is None


def test_a_repeated_tag_is_not_the_title() -> None:
    assert parse_message("[idea] # [idea]\nDark mode") == CapturedText("idea", "Dark mode", "", ())
    captured = parse_message("[idea] [idea] Dark mode")
    assert captured is not None and captured.title == "Dark mode"


def test_tag_glued_to_the_title() -> None:
    assert parse_message("[idea]Dark mode") == CapturedText("idea", "Dark mode", "", ())
