"""Durations and moments as members type them, read in the guild's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import DomainError
from bot.domain.timeparse import (
    MAX_DURATION,
    format_duration,
    get_zone,
    parse_duration,
    parse_when,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 12:00 in Berlin (CEST), 06:00 in New York


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2d", timedelta(days=2)),
        ("6h30m", timedelta(hours=6, minutes=30)),
        ("1w 2d", timedelta(days=9)),
        ("90m", timedelta(minutes=90)),
        ("3 days", timedelta(days=3)),
        ("1 hour", timedelta(hours=1)),
        ("45s", timedelta(seconds=45)),
        ("  2H ", timedelta(hours=2)),
        ("1d, 2h", timedelta(days=1, hours=2)),
        ("2 weeks 1 day", timedelta(days=15)),
        ("10 mins", timedelta(minutes=10)),
        ("366d", MAX_DURATION),
    ],
)
def test_parse_duration_good_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "such as"),
        ("   ", "such as"),
        ("0m", "longer than zero"),
        ("0d 0h", "longer than zero"),
        ("abc", "not a duration"),
        ("2x", "not a duration"),
        ("5d5d", "not a duration"),
        ("2d 3", "not a duration"),
        ("d2", "not a duration"),
        ("2d and 3h", "not a duration"),
        ("-2d", "not a duration"),
        ("1.5h", "not a duration"),
        ("367d", "maximum"),
        ("60w", "maximum"),
    ],
)
def test_parse_duration_bad_forms(text: str, hint: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_duration(text)
    assert info.value.code == "bad_duration"
    assert hint in info.value.message
    if text.strip() and "zero" not in hint:
        assert text.strip() in info.value.message  # names what the member typed


def test_parse_duration_error_lists_accepted_forms() -> None:
    with pytest.raises(DomainError) as info:
        parse_duration("soon")
    assert "2d" in info.value.message and "6h30m" in info.value.message


def test_parse_duration_custom_maximum() -> None:
    assert parse_duration("2h", maximum=timedelta(hours=2)) == timedelta(hours=2)
    with pytest.raises(DomainError, match="maximum of 2h"):
        parse_duration("2h1m", maximum=timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=9), "1w 2d"),
        (timedelta(hours=6, minutes=30), "6h 30m"),
        (timedelta(seconds=61), "1m 1s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=-5), "0s"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=1, max_value=int(MAX_DURATION.total_seconds())))
def test_format_parse_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    text = format_duration(value)
    assert parse_duration(text) == value
    assert format_duration(parse_duration(text)) == text


# -- moments ------------------------------------------------------------------------------
def test_parse_when_duration_and_in_prefix() -> None:
    assert parse_when("2d", BERLIN, now=NOW) == NOW + timedelta(days=2)
    assert parse_when("in 6h", BERLIN, now=NOW) == NOW + timedelta(hours=6)
    assert parse_when("In   1w 2d", BERLIN, now=NOW) == NOW + timedelta(days=9)


def test_parse_when_date_is_midnight_in_the_guild_zone() -> None:
    result = parse_when("2026-12-01", NEW_YORK, now=NOW)
    # Midnight in New York in December (EST, UTC-5) is 05:00 UTC.
    assert result == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)
    summer = parse_when("2026-07-01", BERLIN, now=NOW)
    assert summer == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)  # CEST, UTC+2


@pytest.mark.parametrize(
    "text", ["2026-12-01 18:00", "2026-12-01T18:00", "2026-12-01 18:00:00", "2026-12-01  18:00"]
)
def test_parse_when_date_and_time(text: str) -> None:
    assert parse_when(text, BERLIN, now=NOW) == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def test_parse_when_time_today_or_tomorrow_in_the_guild_zone() -> None:
    # It is 12:00 in Berlin: 13:00 is later today...
    assert parse_when("13:00", BERLIN, now=NOW) == datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    # ...while 11:00 has passed there (though not in UTC): it means tomorrow.
    assert parse_when("11:00", BERLIN, now=NOW) == datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    # Exactly now is not the future either.
    assert parse_when("12:00", BERLIN, now=NOW) == datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    assert parse_when("9:05", NEW_YORK, now=NOW) == datetime(2026, 6, 1, 13, 5, tzinfo=UTC)


def test_parse_when_time_near_midnight_crosses_to_the_next_local_day() -> None:
    late = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
    assert parse_when("00:15", BERLIN, now=late) == datetime(2026, 6, 1, 22, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("2020-01-01", "past"),
        ("2026-06-01 11:59", "past"),
        ("2026-06-01", "past"),
        ("24:00", "time of day"),
        ("12:60", "time of day"),
        ("2026-13-01", "not a date"),
        ("2026-02-30 10:00", "date and time"),
        ("tomorrow", "not a moment"),
        ("", "not a moment"),
        ("in soon", "not a duration"),
        ("2d5x", "not a duration"),
    ],
)
def test_parse_when_errors(text: str, hint: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_when(text, BERLIN, now=NOW)
    assert hint in info.value.message
    assert info.value.code in ("bad_date", "bad_duration")


def test_parse_when_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("2d", BERLIN, now=datetime(2026, 6, 1, 10, 0))


def test_parse_when_dst_gap_and_ambiguity_do_not_crash() -> None:
    before = datetime(2026, 1, 1, tzinfo=UTC)
    # 02:30 does not exist in New York on 2026-03-08 (clocks jump 02:00 → 03:00).
    gap = parse_when("2026-03-08 02:30", NEW_YORK, now=before)
    assert gap.tzinfo is UTC
    assert gap in (
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
    )
    # 01:30 happens twice on 2026-11-01 (02:00 EDT → 01:00 EST): either reading is fine.
    twice = parse_when("2026-11-01 01:30", NEW_YORK, now=before)
    assert twice in (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    )
    # A time of day on the day the clocks change.
    on_change = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    assert parse_when("02:30", NEW_YORK, now=on_change) > on_change
    assert parse_when("03:30", NEW_YORK, now=on_change) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


# -- zones ----------------------------------------------------------------------------------
def test_get_zone_good_names() -> None:
    assert get_zone("Europe/Berlin").key == "Europe/Berlin"
    assert get_zone("UTC").key == "UTC"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars/Olympus",
        "Europe/Berlin ",
        " UTC",
        "../etc/passwd",
        "Europe/../UTC",
        "/etc/localtime",
        "America",  # a folder of zones, not a zone
        "x" * 300,
        "UTC\x00",
    ],
)
def test_get_zone_bad_names(name: str) -> None:
    with pytest.raises(DomainError) as info:
        get_zone(name)
    assert info.value.code == "bad_timezone"
    assert "Europe/Berlin" in info.value.message  # suggests the expected form
