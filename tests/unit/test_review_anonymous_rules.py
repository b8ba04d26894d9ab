"""The review queue's and anonymous ideas' pure rules: who is held, what is public, which
transitions lead out of review, the ``ideas_review`` choices, and tagged messages that ask
to be anonymous."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.capture import CaptureConfig, asks_anonymous, parse_message
from bot.domain.errors import DomainError
from bot.domain.guild_config import parse_value, spec_for, validate_stored
from bot.domain.ideas import (
    HELD_STATUSES,
    TRANSITIONS,
    IdeaStatus,
    ReviewMode,
    check_transition,
    is_first_response,
    is_open,
    is_public,
    needs_review,
)

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
WEEK = timedelta(days=7)


def _held(mode: str, joined: datetime | None, points: int = 0, threshold: int = 0) -> bool:
    return needs_review(
        mode, joined_at=joined, now=NOW, new_for=WEEK, points=points, points_threshold=threshold
    )


def test_off_holds_nobody_and_all_holds_everybody() -> None:
    veteran = NOW - timedelta(days=400)
    assert not _held("off", None)
    assert not _held("off", NOW)
    assert _held("all", veteran, points=10_000)


def test_new_members_by_join_date() -> None:
    assert _held("new_members", NOW - timedelta(days=6, hours=23))
    assert not _held("new_members", NOW - timedelta(days=7))
    assert not _held("new_members", NOW - timedelta(days=30))


def test_new_members_by_points_only_when_a_threshold_is_set() -> None:
    veteran = NOW - timedelta(days=30)
    assert not _held("new_members", veteran, points=0, threshold=0)
    assert _held("new_members", veteran, points=4, threshold=5)
    assert not _held("new_members", veteran, points=5, threshold=5)


def test_unknown_join_time_is_held() -> None:
    assert _held("new_members", None, points=100, threshold=0)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        _held("sometimes", None)
    assert ReviewMode("new_members") is ReviewMode.NEW_MEMBERS


def test_held_statuses_are_neither_public_nor_open() -> None:
    for status in HELD_STATUSES:
        assert not is_public(status)
        assert not is_open(status)
    assert not is_public(IdeaStatus.HIDDEN)
    assert is_public(IdeaStatus.NEW) and is_public(IdeaStatus.DECLINED)


def test_no_status_change_leads_into_or_out_of_review() -> None:
    for old, targets in TRANSITIONS.items():
        assert not targets & HELD_STATUSES, old
    assert TRANSITIONS[IdeaStatus.PENDING_REVIEW] == frozenset()
    with pytest.raises(DomainError):
        check_transition(IdeaStatus.PENDING_REVIEW, IdeaStatus.PLANNED, None, True, False)
    with pytest.raises(DomainError):
        check_transition(IdeaStatus.NEW, IdeaStatus.REJECTED, "no", True, False)


def test_rejecting_is_a_first_response_and_approving_is_not() -> None:
    assert is_first_response(IdeaStatus.PENDING_REVIEW, IdeaStatus.REJECTED)
    assert not is_first_response(IdeaStatus.PENDING_REVIEW, IdeaStatus.NEW)


def test_review_setting_takes_only_its_choices() -> None:
    spec = spec_for("ideas_review")
    assert parse_value(spec, "New_Members") == "new_members"
    assert parse_value(spec, "all") == "all"
    with pytest.raises(DomainError, match="one of"):
        parse_value(spec, "sometimes")
    with pytest.raises(DomainError):
        validate_stored(spec, "sometimes")
    assert validate_stored(spec, "off") == "off"


def test_tagged_messages_that_ask_to_be_anonymous() -> None:
    config = CaptureConfig()
    text = "[idea anonymous] Dark mode"
    # Not a configured tag: it captures nothing, and the refusal must say why.
    assert parse_message(text, config) is None
    assert asks_anonymous(text, config)
    assert asks_anonymous("[ #Bug   Anonymous ] Crash on save", config)
    labelled = "[idea] [anonymous] Dark mode"
    assert asks_anonymous(labelled, config, parse_message(labelled, config))
    plain = "[idea] Dark mode for anonymous visitors"
    assert not asks_anonymous(plain, config, parse_message(plain, config))
    assert not asks_anonymous("[poll anonymous] who?", config)
    assert not asks_anonymous("no brackets at all", config)
