"""Policy-change rules: the stage machine, the date rules, text limits and concern groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.errors import DomainError
from bot.domain.policy import (
    ACTIONS,
    CONCERN_GROUP_THRESHOLD,
    TRANSITIONS,
    PolicyStage,
    allowed_targets,
    check_action,
    check_new_effective,
    check_transition,
    group_concerns,
    plan_dates,
    validate_concern,
    validate_suggestion,
    validate_text,
    validate_title,
)
from bot.domain.similarity import DEFAULT_THRESHOLD

S = PolicyStage
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DEFAULTS = {"default_period": 7 * DAY, "minimum": 3 * DAY, "reminder_lead": 2 * DAY}


# -- the stage machine -------------------------------------------------------------------------
def test_the_stages_run_one_way_from_draft_to_effective_or_withdrawn() -> None:
    assert {
        S.DRAFT: {S.ANNOUNCED},
        S.ANNOUNCED: {S.CLOSED},
        S.CLOSED: {S.RESPONDED},
        S.RESPONDED: {S.EFFECTIVE, S.WITHDRAWN},
        S.EFFECTIVE: set(),
        S.WITHDRAWN: set(),
    } == TRANSITIONS
    # Every stage can be reached from a draft, and nothing leads back.
    reached, frontier = {S.DRAFT}, [S.DRAFT]
    while frontier:
        for nxt in allowed_targets(frontier.pop()):
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert reached == set(S)


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_check_transition_follows_the_table(old: PolicyStage, new: PolicyStage) -> None:
    if new in TRANSITIONS[old]:
        check_transition(old, new)
    else:
        with pytest.raises(DomainError) as err:
            check_transition(old, new)
        assert err.value.code == "bad_transition"


@pytest.mark.parametrize(
    ("stage", "action", "code"),
    [
        (S.ANNOUNCED, "edit", "already_announced"),
        (S.CLOSED, "edit", "wrong_stage"),
        (S.ANNOUNCED, "announce", "already_announced"),
        (S.DRAFT, "stance", "not_announced"),
        (S.CLOSED, "stance", "comments_closed"),
        (S.RESPONDED, "concern", "comments_closed"),
        (S.ANNOUNCED, "respond", "comments_open"),
        (S.RESPONDED, "respond", "already_responded"),
        (S.EFFECTIVE, "answer", "already_responded"),
        (S.DRAFT, "respond", "not_announced"),
        (S.ANNOUNCED, "make_idea", "comments_open"),
    ],
)
def test_actions_outside_their_stages_are_refused_with_a_reason(
    stage: PolicyStage, action: str, code: str
) -> None:
    assert stage not in ACTIONS[action]
    with pytest.raises(DomainError) as err:
        check_action(stage, action)
    assert err.value.code == code and err.value.message.endswith(".")


def test_actions_in_their_stages_pass() -> None:
    for action, stages in ACTIONS.items():
        for stage in stages:
            check_action(stage, action)
    assert ACTIONS["stance"] == ACTIONS["concern"] == {S.ANNOUNCED}
    assert ACTIONS["edit"] == ACTIONS["announce"] == {S.DRAFT}


# -- dates -------------------------------------------------------------------------------------
def test_the_default_period_starts_when_announced() -> None:
    dates = plan_dates(NOW, NOW + 10 * DAY, **DEFAULTS)
    assert dates.announced_at == NOW
    assert dates.close_at == NOW + 7 * DAY
    assert dates.reminder_at == NOW + 5 * DAY  # 48 h before close
    assert dates.effective_at == NOW + 10 * DAY
    assert dates.staff_reminder_at == NOW + 8 * DAY  # 48 h before the effective date


def test_a_chosen_length_or_date_replaces_the_default() -> None:
    assert plan_dates(NOW, NOW + 30 * DAY, period=14 * DAY, **DEFAULTS).close_at == NOW + 14 * DAY
    chosen = NOW + 4 * DAY
    assert plan_dates(NOW, NOW + 30 * DAY, close_at=chosen, **DEFAULTS).close_at == chosen


def test_reminders_that_would_fall_outside_their_window_are_left_out() -> None:
    # A 3-day period with a 4-day lead: a reminder "before close" would precede the announcement.
    dates = plan_dates(
        NOW,
        NOW + 3 * DAY + timedelta(hours=1),
        period=3 * DAY,
        **{**DEFAULTS, "reminder_lead": 4 * DAY},
    )
    assert dates.reminder_at is None
    assert dates.staff_reminder_at is None  # 48 h before the effective date is before close


def test_an_effective_date_before_the_comment_period_ends_is_refused() -> None:
    for effective in (NOW + 5 * DAY, NOW + 7 * DAY):  # before, and at the very end
        with pytest.raises(DomainError) as err:
            plan_dates(NOW, effective, **DEFAULTS)
        assert err.value.code == "effective_before_close"
    plan_dates(NOW, NOW + 7 * DAY + timedelta(minutes=1), **DEFAULTS)


def test_a_comment_period_shorter_than_the_minimum_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        plan_dates(NOW, NOW + 30 * DAY, period=2 * DAY, **DEFAULTS)
    assert err.value.code == "period_too_short"
    assert "3d" in err.value.message and "2d" in err.value.message
    with pytest.raises(DomainError):  # a chosen end date already past
        plan_dates(NOW, NOW + 30 * DAY, close_at=NOW - DAY, **DEFAULTS)
    assert plan_dates(NOW, NOW + 30 * DAY, period=3 * DAY, **DEFAULTS).close_at == NOW + 3 * DAY


def test_dates_must_be_aware_and_a_new_effective_date_in_the_future() -> None:
    with pytest.raises(ValueError):
        plan_dates(NOW.replace(tzinfo=None), NOW + 30 * DAY, **DEFAULTS)
    with pytest.raises(DomainError):
        check_new_effective(NOW, NOW)
    check_new_effective(NOW, NOW + timedelta(seconds=1))


# -- text --------------------------------------------------------------------------------------
def test_texts_are_cleaned_and_limited() -> None:
    assert validate_title("  New \u202elinks\n rule ") == "New links rule"
    with pytest.raises(DomainError):
        validate_title("\u200b\u200b")
    with pytest.raises(DomainError):
        validate_title("x" * 101)
    assert validate_text("a\x1b[31mb\n\nc") == "ab\n\nc"
    with pytest.raises(DomainError) as err:
        validate_text("x" * 4001, limit=4000)
    assert err.value.code == "text_too_long"
    with pytest.raises(DomainError):
        validate_concern("   ")
    assert validate_suggestion(None) == "" and validate_suggestion(" keep 5 \n") == "keep 5"


# -- concern groups ------------------------------------------------------------------------------
LINKS = [
    "The new posting limit of 3 links per day is too strict for people who share tutorials",
    "Three links a day is too strict: tutorial authors share more links than that",
    "Limit of 3 links per day is far too strict for tutorial writers",
    "The daily link limit hurts people sharing tutorials",
]
THREADS = [
    "Please keep the archive of old threads, deleting them loses knowledge",
    "Old threads should not be deleted, they hold years of answers",
    "Deleting old threads loses knowledge",
]
UNRELATED = [
    "What about bots? Will the rule apply to webhook announcements too?",
    "The new rules for voice channels are confusing",
    "I love this change",
]


def _numbered(texts: list[str]) -> list[tuple[int, str]]:
    return list(enumerate(texts, 1))


def test_near_identical_concerns_group_and_unrelated_ones_do_not() -> None:
    concerns = _numbered([LINKS[0], THREADS[0], UNRELATED[0], LINKS[1], THREADS[1], LINKS[2]])
    assert group_concerns(concerns) == [[1, 4, 6], [2, 5], [3]]


def test_rephrasings_all_join_their_group_and_each_unrelated_concern_stands_alone() -> None:
    texts = LINKS + THREADS + UNRELATED
    groups = group_concerns(_numbered(texts))
    assert groups[:2] == [[1, 2, 3, 4], [5, 6, 7]]
    assert sorted(groups[2:]) == [[8], [9], [10]]


def test_the_threshold_is_documented_and_stricter_than_the_idea_lookup() -> None:
    assert CONCERN_GROUP_THRESHOLD >= DEFAULT_THRESHOLD
    # Different worries on one theme stay apart at this threshold...
    worry = "I am worried that moderators will delete old threads without warning"
    assert group_concerns(_numbered([worry, THREADS[0]])) == [[1], [2]]
    # ...and the threshold is what keeps an unrelated concern out: at 0 it joins the links.
    mixed = _numbered([*LINKS, UNRELATED[1]])
    assert group_concerns(mixed) == [[1, 2, 3, 4], [5]]
    assert group_concerns(mixed, threshold=0.0) == [[1, 2, 3, 4, 5]]


def test_grouping_is_deterministic_orders_groups_and_handles_edge_cases() -> None:
    texts = _numbered([UNRELATED[2], LINKS[0], LINKS[1]])
    assert group_concerns(texts) == [[2, 3], [1]]  # largest group first
    assert group_concerns(texts) == group_concerns(texts)
    assert group_concerns([]) == []
    assert group_concerns([(7, "only one")]) == [[7]]
    # Identical words, and concerns of stop words only, never crash and never vanish.
    same = group_concerns(_numbered(["too strict", "too strict", "the", "a an"]))
    assert sorted(cid for g in same for cid in g) == [1, 2, 3, 4]
    assert [1, 2] in same
