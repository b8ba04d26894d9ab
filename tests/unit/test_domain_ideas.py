"""Idea lifecycle rules: the transition table, who may move what, clocks and limits."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import DomainError
from bot.domain.ideas import (
    BODY_MAX,
    DECISION_STATUSES,
    DEFAULT_KINDS,
    DEFAULT_RESPONSE_TARGET,
    OPEN_STATUSES,
    REASON_MAX,
    TERMINAL_STATUSES,
    TITLE_MAX,
    TRANSITIONS,
    IdeaStatus,
    allowed_targets,
    check_transition,
    is_decision,
    is_first_response,
    is_open,
    is_overdue,
    is_terminal,
    overdue_at,
    validate_body,
    validate_kind,
    validate_reason,
    validate_title,
)

S = IdeaStatus
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# The lifecycle written out by hand, independently of the module's table: a change to
# TRANSITIONS must be made here too, on purpose.
EXPECTED_ALLOWED = {
    (S.NEW, S.UNDER_REVIEW),
    (S.NEW, S.PLANNED),
    (S.NEW, S.IN_PROGRESS),
    (S.NEW, S.IMPLEMENTED),
    (S.NEW, S.DECLINED),
    (S.NEW, S.DUPLICATE),
    (S.NEW, S.WITHDRAWN),
    (S.NEW, S.HIDDEN),
    (S.UNDER_REVIEW, S.PLANNED),
    (S.UNDER_REVIEW, S.IN_PROGRESS),
    (S.UNDER_REVIEW, S.IMPLEMENTED),
    (S.UNDER_REVIEW, S.DECLINED),
    (S.UNDER_REVIEW, S.DUPLICATE),
    (S.UNDER_REVIEW, S.WITHDRAWN),
    (S.UNDER_REVIEW, S.HIDDEN),
    (S.PLANNED, S.UNDER_REVIEW),
    (S.PLANNED, S.IN_PROGRESS),
    (S.PLANNED, S.IMPLEMENTED),
    (S.PLANNED, S.DECLINED),
    (S.PLANNED, S.DUPLICATE),
    (S.PLANNED, S.HIDDEN),
    (S.IN_PROGRESS, S.PLANNED),
    (S.IN_PROGRESS, S.IMPLEMENTED),
    (S.IN_PROGRESS, S.DECLINED),
    (S.IN_PROGRESS, S.DUPLICATE),
    (S.IN_PROGRESS, S.HIDDEN),
    (S.IMPLEMENTED, S.IN_PROGRESS),
    (S.IMPLEMENTED, S.HIDDEN),
    (S.DECLINED, S.UNDER_REVIEW),
    (S.DECLINED, S.HIDDEN),
    (S.DUPLICATE, S.NEW),
    (S.DUPLICATE, S.UNDER_REVIEW),
    (S.DUPLICATE, S.PLANNED),
    (S.DUPLICATE, S.IN_PROGRESS),
    (S.DUPLICATE, S.HIDDEN),
    (S.WITHDRAWN, S.HIDDEN),
    # Un-hiding: any status can be the one restored (held ideas are never hidden: they
    # leave review only through the queue).
    *((S.HIDDEN, s) for s in S if s not in (S.HIDDEN, S.PENDING_REVIEW, S.REJECTED)),
}
ALL_PAIRS = list(itertools.product(S, S))


def _try(
    old: IdeaStatus,
    new: IdeaStatus,
    *,
    reason: str | None = "because",
    moderator: bool = True,
    author: bool = True,
    previous: IdeaStatus | None = None,
) -> str | None:
    """Run check_transition; return the error code, or None when allowed."""
    try:
        check_transition(old, new, reason, moderator, author, previous=previous)
    except DomainError as exc:
        return exc.code
    return None


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(S)


def test_table_matches_the_lifecycle_written_out_by_hand() -> None:
    actual = {(old, new) for old, targets in TRANSITIONS.items() for new in targets}
    assert actual == EXPECTED_ALLOWED


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS, ids=lambda s: s.value)
def test_check_transition_follows_the_table_for_every_pair(
    old: IdeaStatus, new: IdeaStatus
) -> None:
    # The most privileged actor, with a reason, restoring the right status: only the table
    # can refuse.
    previous = new if old is S.HIDDEN else None
    code = _try(old, new, previous=previous)
    if (old, new) in EXPECTED_ALLOWED:
        assert code is None
    else:
        assert code == ("same_status" if old == new else "transition_not_allowed")
    assert ((old, new) in EXPECTED_ALLOWED) is (new in allowed_targets(old))


@pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
def test_same_status_is_refused(status: IdeaStatus) -> None:
    assert _try(status, status, previous=S.NEW) == "same_status"


@pytest.mark.parametrize(("old", "new"), sorted(EXPECTED_ALLOWED), ids=lambda s: s.value)
def test_only_moderators_change_status_except_withdrawing(old: IdeaStatus, new: IdeaStatus) -> None:
    previous = new if old is S.HIDDEN else None
    code = _try(old, new, moderator=False, author=True, previous=previous)
    if new is S.WITHDRAWN and old is not S.HIDDEN:
        assert code is None
    else:
        assert code == "not_moderator"


@pytest.mark.parametrize("old", [S.NEW, S.UNDER_REVIEW])
def test_withdrawing_is_for_the_author_only(old: IdeaStatus) -> None:
    assert _try(old, S.WITHDRAWN, moderator=True, author=False) == "not_author"
    assert _try(old, S.WITHDRAWN, moderator=False, author=True, reason=None) is None


@pytest.mark.parametrize(
    "old", [S.PLANNED, S.IN_PROGRESS, S.IMPLEMENTED, S.DECLINED, S.DUPLICATE, S.WITHDRAWN]
)
def test_author_cannot_withdraw_once_the_team_has_acted(old: IdeaStatus) -> None:
    assert _try(old, S.WITHDRAWN, moderator=False, author=True) in {
        "transition_not_allowed",
        "same_status",
    }


def test_a_stranger_cannot_do_anything() -> None:
    for old, new in EXPECTED_ALLOWED:
        previous = new if old is S.HIDDEN else None
        assert _try(old, new, moderator=False, author=False, previous=previous) is not None


@pytest.mark.parametrize("new", [S.DECLINED, S.DUPLICATE, S.HIDDEN])
@pytest.mark.parametrize("reason", [None, "", "   \n\t"])
def test_reason_required(new: IdeaStatus, reason: str | None) -> None:
    assert _try(S.UNDER_REVIEW, new, reason=reason) == "reason_required"
    assert _try(S.UNDER_REVIEW, new, reason="Out of scope for this year") is None


@pytest.mark.parametrize("new", [S.UNDER_REVIEW, S.PLANNED, S.IN_PROGRESS, S.IMPLEMENTED])
def test_reason_optional_elsewhere(new: IdeaStatus) -> None:
    assert _try(S.NEW, new, reason=None) is None


def test_reason_length_limit() -> None:
    assert _try(S.NEW, S.DECLINED, reason="x" * REASON_MAX) is None
    assert _try(S.NEW, S.DECLINED, reason="x" * (REASON_MAX + 1)) == "reason_too_long"
    # Even an optional reason is bounded: it is shown in an embed field.
    assert _try(S.NEW, S.PLANNED, reason="x" * (REASON_MAX + 1)) == "reason_too_long"


def test_validate_reason_strips() -> None:
    assert validate_reason("  soon  ", required=True) == "soon"
    assert validate_reason("   ", required=False) is None


_HELD = (S.PENDING_REVIEW, S.REJECTED)


@pytest.mark.parametrize(
    "previous", [s for s in S if s is not S.HIDDEN and s not in _HELD], ids=lambda s: s.value
)
def test_unhide_restores_exactly_the_previous_status(previous: IdeaStatus) -> None:
    for target in S:
        if target is S.HIDDEN:
            continue
        if target in _HELD:  # never hidden: held ideas leave review only through the queue
            assert _try(S.HIDDEN, target, previous=previous, reason=None, author=False) == (
                "transition_not_allowed"
            )
            continue
        code = _try(S.HIDDEN, target, previous=previous, reason=None, author=False)
        if target is previous:
            # No new reason needed, even when restoring "declined".
            assert code is None
        else:
            assert code == "unhide_restores_previous"


def test_unhide_needs_the_previous_status_and_a_moderator() -> None:
    assert _try(S.HIDDEN, S.NEW, previous=None) == "previous_unknown"
    assert _try(S.HIDDEN, S.NEW, previous=S.HIDDEN) == "previous_unknown"
    # The author of a withdrawn idea cannot un-hide it by "withdrawing" again.
    assert _try(S.HIDDEN, S.WITHDRAWN, previous=S.WITHDRAWN, moderator=False) == "not_moderator"
    assert _try(S.HIDDEN, S.WITHDRAWN, previous=S.WITHDRAWN, moderator=True, author=False) is None


def test_hiding_is_possible_from_every_visible_status() -> None:
    for old in S:
        if old is not S.HIDDEN and old not in _HELD:  # held ones are not visible
            assert _try(old, S.HIDDEN, author=False) is None


def test_open_and_terminal_partition_everything_but_hidden_and_held() -> None:
    assert OPEN_STATUSES.isdisjoint(TERMINAL_STATUSES)
    assert OPEN_STATUSES | TERMINAL_STATUSES | {S.HIDDEN, *_HELD} == set(S)
    assert is_open(S.PLANNED) and not is_open(S.DECLINED) and not is_open(S.HIDDEN)
    assert is_terminal(S.WITHDRAWN) and not is_terminal(S.IN_PROGRESS)
    assert not is_terminal(S.HIDDEN)


def test_withdrawn_only_reachable_from_new_and_under_review() -> None:
    sources = {old for old, new in EXPECTED_ALLOWED if new is S.WITHDRAWN and old is not S.HIDDEN}
    assert sources == {S.NEW, S.UNDER_REVIEW}


def test_first_response() -> None:
    for new in S:
        expected = new not in {S.NEW, S.WITHDRAWN}
        assert is_first_response(S.NEW, new) is expected
    assert not is_first_response(S.UNDER_REVIEW, S.PLANNED)


def test_decision() -> None:
    assert {s for s in S if is_decision(s)} == {S.PLANNED, S.DECLINED, S.DUPLICATE, S.IMPLEMENTED}
    assert {S.PLANNED, S.DECLINED, S.DUPLICATE, S.IMPLEMENTED} == DECISION_STATUSES


class TestOverdue:
    target = timedelta(days=10)

    def test_default_target_is_ten_days(self) -> None:
        assert timedelta(days=10) == DEFAULT_RESPONSE_TARGET

    def test_boundary(self) -> None:
        due = T0 + self.target
        assert not is_overdue(T0, None, due, self.target)
        assert is_overdue(T0, None, due + timedelta(seconds=1), self.target)
        assert overdue_at(T0, self.target) == due

    def test_answered_is_never_overdue(self) -> None:
        answered = T0 + timedelta(days=30)
        assert not is_overdue(T0, answered, T0 + timedelta(days=60), self.target)

    def test_status_filter(self) -> None:
        late = T0 + timedelta(days=11)
        assert is_overdue(T0, None, late, self.target, status=S.NEW)
        assert not is_overdue(T0, None, late, self.target, status=S.WITHDRAWN)
        assert not is_overdue(T0, None, late, self.target, status=S.HIDDEN)

    def test_naive_datetimes_are_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            is_overdue(T0.replace(tzinfo=None), None, T0, self.target)

    @given(
        age=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
        target=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=60)),
    )
    def test_overdue_iff_older_than_target(self, age: timedelta, target: timedelta) -> None:
        assert is_overdue(T0, None, T0 + age, target) is (age > target)


class TestTextLimits:
    def test_title_is_one_tidy_line(self) -> None:
        assert validate_title("  Dark \n mode\tplease ") == "Dark mode please"

    def test_title_limits(self) -> None:
        assert validate_title("x" * TITLE_MAX) == "x" * TITLE_MAX
        with pytest.raises(DomainError) as too_long:
            validate_title("x" * (TITLE_MAX + 1))
        assert too_long.value.code == "title_too_long"
        with pytest.raises(DomainError) as empty:
            validate_title(" \n ")
        assert empty.value.code == "title_empty"

    def test_body_keeps_line_breaks_and_may_be_empty(self) -> None:
        assert validate_body("\n line one\n\nline two \n") == "line one\n\nline two"
        assert validate_body(None) == ""
        assert validate_body("y" * BODY_MAX) == "y" * BODY_MAX
        with pytest.raises(DomainError) as too_long:
            validate_body("y" * (BODY_MAX + 1))
        assert too_long.value.code == "body_too_long"

    def test_limits_are_the_documented_ones(self) -> None:
        assert (TITLE_MAX, BODY_MAX) == (100, 4000)


class TestKinds:
    def test_defaults(self) -> None:
        assert {"idea", "feedback", "bug", "story", "prototype"} == DEFAULT_KINDS

    def test_normalised_and_checked_against_the_guild_set(self) -> None:
        assert validate_kind(" Bug ") == "bug"
        assert validate_kind("design", {"idea", "design"}) == "design"
        with pytest.raises(DomainError) as exc:
            validate_kind("design")
        assert exc.value.code == "bad_kind"
        assert "`bug`" in exc.value.message


def test_domain_error_carries_code_and_message() -> None:
    err = DomainError("some_code", "Shown to the member.")
    assert (err.code, err.message, str(err)) == ("some_code", "Shown to the member.", err.message)


def test_only_implemented_declined_and_duplicate_close_the_thread() -> None:
    from bot.domain.ideas import closes_thread

    closing = {s for s in IdeaStatus if closes_thread(s)}
    assert closing == {IdeaStatus.IMPLEMENTED, IdeaStatus.DECLINED, IdeaStatus.DUPLICATE}
