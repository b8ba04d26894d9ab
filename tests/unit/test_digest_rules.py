"""Digest rules: crontab conversion, periods across DST and timezones, missed runs, and
each metric on fixtures with known answers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import digest as rules
from bot.domain.digest_model import IdeaTimes, Period, SpanStats
from bot.scheduling.digest_cron import next_fire
from bot.services.digests import ideas_sections

PARIS, NEW_YORK, TOKYO = "Europe/Paris", "America/New_York", "Asia/Tokyo"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0,6", "sat,sun"),
        ("*/2", "tue,thu,sat,sun"),
        ("sun", "sun"),
        ("*", "*"),
        ("0-6", "*"),
    ],
)
def test_crontab_weekdays_become_names(field: str, expected: str) -> None:
    assert rules.convert_weekdays(field) == expected


def test_zero_nine_monday_fires_on_mondays_at_nine_local() -> None:
    moment = utc(2025, 1, 1)
    for _ in range(10):
        moment = next_fire("0 9 * * 1", TOKYO, moment)  # type: ignore[assignment]
        local = moment.astimezone(rules_zone(TOKYO))
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)


def rules_zone(name: str):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@pytest.mark.parametrize("bad", ["", "0 9 * *", "61 9 * * 1", "0 9 * * 8", "0 9 1 * 1", "x"])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(rules.ScheduleError):
        rules.normalise_schedule(bad)


def test_presets_and_crontabs_are_normalised() -> None:
    assert rules.normalise_schedule(" Weekly ") == "weekly"
    assert rules.normalise_schedule("0  9 * *   1") == "0 9 * * 1"


def test_a_weekly_period_across_spring_forward_is_167_hours() -> None:
    # Paris moves to summer time on 30 March 2025: 09:00 is 08:00 UTC before, 07:00 after.
    period = rules.period_ending(next_fire, "0 9 * * 1", PARIS, utc(2025, 3, 31, 7))
    assert period == Period(utc(2025, 3, 24, 8), utc(2025, 3, 31, 7))
    assert period.length == 167 * 3600


def test_a_weekly_period_across_fall_back_is_169_hours() -> None:
    # New York returns to standard time on 2 November 2025.
    period = rules.period_ending(next_fire, "0 9 * * 1", NEW_YORK, utc(2025, 11, 3, 14))
    assert period == Period(utc(2025, 10, 27, 13), utc(2025, 11, 3, 14))
    assert period.length == 169 * 3600


def test_daily_and_monthly_periods_in_other_timezones() -> None:
    daily = rules.period_ending(next_fire, "0 9 * * *", TOKYO, utc(2025, 6, 2, 0))
    assert daily == Period(utc(2025, 6, 1, 0), utc(2025, 6, 2, 0))
    monthly = rules.period_ending(next_fire, "0 9 1 * *", PARIS, utc(2025, 3, 1, 8))
    assert monthly == Period(utc(2025, 2, 1, 8), utc(2025, 3, 1, 8))


def test_the_current_period_starts_at_the_last_fire() -> None:
    now = utc(2025, 3, 5, 12)
    assert rules.current_period(next_fire, "0 9 * * 1", "UTC", now) == Period(
        utc(2025, 3, 3, 9), now
    )


def test_twelve_chart_periods_end_with_the_digests_own() -> None:
    period = rules.period_ending(next_fire, "0 9 * * 1", "UTC", utc(2025, 3, 3, 9))
    periods = rules.previous_periods(next_fire, "0 9 * * 1", "UTC", period, 12)
    assert len(periods) == 12 and periods[-1] == period
    assert periods[0].start == utc(2024, 12, 9, 9)  # 12 weeks before 3 March
    assert all(a.end == b.start for a, b in itertools.pairwise(periods))


@pytest.mark.parametrize(
    ("crontab", "zone"),
    [
        ("0 9 * * 1", "UTC"),
        ("0 9 * * *", "Europe/Berlin"),  # across the March DST change
        ("0 9 1 * *", "America/New_York"),
        ("0 9 * * 1-5", "Asia/Tokyo"),  # weekdays: periods of one and three days
        ("30 8 1,15 * *", "UTC"),  # periods of unequal length
    ],
)
def test_chart_periods_are_the_chain_of_previous_fires(crontab: str, zone: str) -> None:
    fire = rules.previous_fire(next_fire, crontab, zone, utc(2025, 4, 2, 12))
    assert fire is not None
    for period in (
        rules.period_ending(next_fire, crontab, zone, fire),
        rules.current_period(next_fire, crontab, zone, utc(2025, 4, 2, 12)),
    ):
        expected = [period]
        while len(expected) < 12:
            before = rules.previous_fire(next_fire, crontab, zone, expected[0].start)
            assert before is not None
            expected.insert(0, Period(before, expected[0].start))
        assert rules.previous_periods(next_fire, crontab, zone, period, 12) == expected
        assert rules.previous_periods(next_fire, crontab, zone, period, 1) == [period]


def test_missed_runs_post_the_latest_late_and_skip_the_older() -> None:
    missed = rules.missed_runs(
        next_fire, "0 9 * * *", "UTC", utc(2025, 3, 1, 9), utc(2025, 3, 3, 9, 30)
    )
    assert missed.post == utc(2025, 3, 3, 9)
    assert missed.late
    assert missed.skipped == (utc(2025, 3, 1, 9), utc(2025, 3, 2, 9))
    assert missed.next_fire == utc(2025, 3, 4, 9)


def test_a_run_on_time_is_not_late() -> None:
    missed = rules.missed_runs(
        next_fire, "0 9 * * *", "UTC", utc(2025, 3, 1, 9), utc(2025, 3, 1, 9, 1)
    )
    assert (missed.post, missed.late, missed.skipped) == (utc(2025, 3, 1, 9), False, ())


DAY = 86400.0
TARGET = timedelta(days=10)


def test_response_rate_counts_only_ideas_past_their_target_or_answered() -> None:
    times = [
        IdeaTimes(2 * DAY, 5 * DAY, 30 * DAY),  # answered in time
        IdeaTimes(12 * DAY, None, 30 * DAY),  # answered late
        IdeaTimes(None, None, 11 * DAY),  # overdue, unanswered
        IdeaTimes(None, None, 3 * DAY),  # still within its target: not counted
    ]
    assert rules.response_rate(times, TARGET) == pytest.approx(1 / 3)
    assert rules.response_rate([], TARGET) is None


def test_implementation_rate_and_medians() -> None:
    assert rules.implementation_rate(3, 100) == pytest.approx(0.03)
    assert rules.implementation_rate(0, 0) is None
    assert rules.median_seconds([1.0, None, 3.0, 10.0]) == 3.0
    assert rules.median_seconds([None]) is None
    assert rules.format_span(3 * DAY + 4 * 3600) == "3d 4h"
    assert rules.format_rate(0.029) == "2.9%"


def test_movers_rank_by_votes_gained_then_number() -> None:
    assert rules.movers([(4, 2), (2, 5), (9, 5), (7, 0)], limit=2) == [(2, 5), (9, 5)]


def test_change_shows_the_difference_from_the_previous_period() -> None:
    assert rules.change(12, 9) == "12 (+3)"
    assert rules.change(4, 6) == "4 (−2)"
    assert rules.change(5, 5) == "5 (=)"


def test_ideas_sections_from_known_data() -> None:
    data = {
        "new": {"new": 3, "planned": 1, "hidden": 1},
        "votes": 7,
        "who": {1, 2, 3},
        "top": [(5, "Dark mode", 1, "new", 4, None)],
        "movers": [(2, "Export", 2, "planned", 9, 3)],
        "decisions": [
            ("declined", "Out of scope", "t", 3, "Fax support", 2, 0),
            ("implemented", None, "t", 1, "Search", 3, 8),
        ],
        "overdue": (1, [(4, "Old idea", 1, "new", 0, "2025-01-01T00:00:00+00:00")]),
        "stats": SpanStats(2, 1, 2, 2 * DAY, 4 * DAY),
        "year_stats": SpanStats(100, 50, 100, 2 * DAY, 4 * DAY),
        "year_implemented": 3,
        "credits": {1: [3, 9]},
    }
    sections = {s.key: s for s in ideas_sections(data, TARGET)}
    assert sections["ideas.top"].metrics == {"New ideas": 4, "Votes": 7}
    assert sections["ideas.top"].participants == {1, 2, 3}
    assert "+3 votes" in sections["ideas.movers"].lines[0]
    assert "_Out of scope_" in sections["ideas.decisions"].lines[0]
    assert "Old idea" in sections["ideas.overdue"].lines[0]
    rates = "\n".join(sections["ideas.rates"].lines)
    assert "Implementation rate (12 months): **3.0%**" in rates
    assert "period **50.0%**" in rates
    assert "Median time to decision: period **4d 0h**, 12 months **4d 0h**" in rates
    assert sections["ideas.shipped"].lines == ("**#1** Search — thanks to <@3>, <@9>",)
