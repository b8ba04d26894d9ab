"""Poll rules: options, closing times, ballots, plurality and instant run-off counting,
native-poll limits and outcome-survey opportunity scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.errors import DomainError
from bot.domain.poll_model import Band, PollDraft, PollMode
from bot.domain.polls import (
    band,
    check_ballot,
    check_draft,
    clean_line,
    closing_time,
    count,
    instant_runoff,
    native_hours,
    opportunity,
    parse_options,
    parse_outcomes,
    score_survey,
    validate_question,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MAX = timedelta(days=30)


def code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


# -- options and text ----------------------------------------------------------------------
def test_options_are_read_one_per_line_cleaned() -> None:
    text = "  Dark mode \n\n- Offline\u202e sync\n2. Export\tto  PDF\n"
    assert parse_options(text) == ("Dark mode", "Offline sync", "Export to PDF")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("only one", "too_few_options"),
        ("", "too_few_options"),
        ("\n".join(f"o{i}" for i in range(21)), "too_many_options"),
        ("a\n" + "x" * 81, "option_too_long"),
        ("Dark mode\ndark  MODE", "duplicate_option"),
    ],
)
def test_bad_options_are_refused_with_a_reason(text: str, expected: str) -> None:
    with pytest.raises(DomainError) as exc:
        parse_options(text)
    assert code(exc) == expected


def test_limits_are_inclusive() -> None:
    assert len(parse_options("\n".join(f"o{i}" for i in range(20)))) == 20
    assert parse_options("a\n" + "x" * 80)[1] == "x" * 80


def test_text_cleaning_keeps_scripts_and_drops_controls() -> None:
    assert clean_line("e\u0301te\u0007") == "\u00e9te"  # NFC; a bell dropped
    assert clean_line("山田\u202e太郎 محمد") == "山田太郎 محمد"  # a bidi override dropped
    with pytest.raises(DomainError):
        validate_question(" \u202e ")
    with pytest.raises(DomainError):
        validate_question("q" * 301)


def test_outcomes() -> None:
    assert parse_outcomes("Minimize the time it takes to find a board\n") == (
        "Minimize the time it takes to find a board",
    )
    with pytest.raises(DomainError):
        parse_outcomes("\n\n")
    with pytest.raises(DomainError):
        parse_outcomes("\n".join(f"o{i}" for i in range(21)))


# -- closing times -------------------------------------------------------------------------
def test_durations_and_end_times_in_the_guild_timezone() -> None:
    assert closing_time("2d", UTC, now=NOW, maximum=MAX) == NOW + timedelta(days=2)
    assert closing_time("6h", UTC, now=NOW, maximum=MAX) == NOW + timedelta(hours=6)
    berlin = ZoneInfo("Europe/Berlin")
    # 18:00 in Berlin (UTC+1 in March before the switch) is 17:00 UTC.
    assert closing_time("2026-03-05 18:00", berlin, now=NOW, maximum=MAX) == datetime(
        2026, 3, 5, 17, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["2026-03-01 10:00", "31d", "soon", "0h"])
def test_past_too_long_or_unreadable_times_are_refused(text: str) -> None:
    with pytest.raises(DomainError):
        closing_time(text, UTC, now=NOW, maximum=MAX)


# -- ballots -------------------------------------------------------------------------------
def test_ballots_follow_the_mode() -> None:
    assert check_ballot(PollMode.SINGLE, 3, 1, [2]) == (2,)
    assert check_ballot(PollMode.MULTI, 4, 2, [3, 0]) == (0, 3)
    assert check_ballot(PollMode.RANKED, 4, 1, [3, 0, 2]) == (3, 0, 2)  # order kept
    assert check_ballot(PollMode.MULTI, 4, 2, [3]) == (3,)
    assert check_ballot(PollMode.RANKED, 4, 1, [0]) == (0,)
    for mode, picks, bad in [
        (PollMode.SINGLE, 1, [0, 1]),
        (PollMode.MULTI, 2, [0, 1, 2]),
        (PollMode.RANKED, 1, [1, 1]),
        (PollMode.SINGLE, 1, []),
        (PollMode.SINGLE, 1, [5]),
        (PollMode.MULTI, 2, [-1]),  # one pick takes a shorter path: same rules
        (PollMode.RANKED, 1, [4]),
    ]:
        with pytest.raises(DomainError):
            check_ballot(mode, 4, picks, bad)


def test_plurality_and_multi_counts() -> None:
    tally = count(3, [(0,), (2,), (2,), (0, 2)])
    assert tally.counts == (2, 0, 3)
    assert tally.ballots == 4
    assert tally.winners == (2,)
    assert tally.share(2) == 0.75
    assert count(2, [(0,), (1,)]).winners == (0, 1)  # a tie shows both
    assert count(2, []).winners == ()


# -- instant run-off -----------------------------------------------------------------------
MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE = range(4)


def tennessee() -> list[tuple[int, ...]]:
    """Wikipedia's worked example, per 100 voters: 42 % Memphis, 26 % Nashville, 15 %
    Chattanooga, 17 % Knoxville, each with the preference order voters near them hold."""
    return (
        [(MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE)] * 42
        + [(NASHVILLE, CHATTANOOGA, KNOXVILLE, MEMPHIS)] * 26
        + [(CHATTANOOGA, KNOXVILLE, NASHVILLE, MEMPHIS)] * 15
        + [(KNOXVILLE, CHATTANOOGA, NASHVILLE, MEMPHIS)] * 17
    )


def test_the_tennessee_capital_elects_knoxville() -> None:
    result = instant_runoff(4, tennessee())
    assert result.winner == KNOXVILLE
    first, second, third = result.rounds
    assert first.counts == {0: 42, 1: 26, 2: 15, 3: 17}
    assert first.eliminated == CHATTANOOGA
    assert second.counts == {0: 42, 1: 26, 3: 32}
    assert second.eliminated == NASHVILLE
    assert third.counts == {0: 42, 3: 58}
    assert third.eliminated is None
    assert result.exhausted == 0 and result.ballots == 100


def test_a_first_round_majority_wins_at_once() -> None:
    result = instant_runoff(3, [(0,), (0,), (1,)])
    assert result.winner == 0 and len(result.rounds) == 1


def test_exhausted_ballots_are_reported() -> None:
    # 2 rank only C; C goes out first and those ballots have nowhere to go.
    ballots = [(0,)] * 3 + [(1,)] * 3 + [(2,)] * 2 + [(1, 0)]
    result = instant_runoff(3, ballots)
    assert result.rounds[0].eliminated == 2
    assert result.rounds[1].exhausted == 2
    assert result.winner == 1  # 4 of the 7 ballots still counting


def test_a_tie_for_last_goes_by_first_preferences_then_list_position() -> None:
    # Round 1: A 2, B 2, C 1, D 1... C and D tie; C has fewer first preferences? Both 1:
    # the later one in the list (D) goes first.
    ballots = [(0,), (0,), (1,), (1,), (2, 0), (3, 1)]
    assert instant_runoff(4, ballots).rounds[0].eliminated == 3
    # Round 2 of this one: B and C tie at 2 votes; B had 1 first preference, C had 2.
    ballots = [(0,)] * 3 + [(1,)] + [(3, 1)] + [(2,)] * 2
    result = instant_runoff(4, ballots)
    assert result.rounds[0].eliminated == 3  # D: 1 vote, 1 first preference
    assert result.rounds[1].counts == {0: 3, 1: 2, 2: 2}
    assert result.rounds[1].eliminated == 1  # fewer first preferences than C


def test_no_ballots_elect_nobody() -> None:
    result = instant_runoff(3, [])
    assert result.winner is None and result.ballots == 0


# -- native polls --------------------------------------------------------------------------
def draft(**kw: object) -> PollDraft:
    base: dict[str, object] = {
        "guild_id": 1,
        "channel_id": 2,
        "creator_id": 3,
        "question": "Q?",
        "options": ("a", "b", "c"),
        "closes_at": NOW + timedelta(days=1),
        "native": True,
    }
    base.update(kw)
    return PollDraft(**base)  # type: ignore[arg-type]


def test_native_polls_refuse_what_discord_cannot_honour() -> None:
    check_draft(draft())
    check_draft(draft(mode=PollMode.MULTI, max_picks=3))
    for bad in (
        {"anonymous": True},
        {"hide_results": True},
        {"eligible_role_id": 9},
        {"mode": PollMode.RANKED},
        {"mode": PollMode.MULTI, "max_picks": 2},
        {"options": tuple(f"o{i}" for i in range(11))},
        {"options": ("a", "x" * 56)},
    ):
        with pytest.raises(DomainError) as exc:
            check_draft(draft(**bad))
        assert code(exc) == "native_unsupported"


def test_native_durations_round_to_whole_hours_within_32_days() -> None:
    assert native_hours(NOW, NOW + timedelta(hours=5, minutes=40)) == 6
    assert native_hours(NOW, NOW + timedelta(minutes=10)) == 1
    assert native_hours(NOW, NOW + timedelta(days=40)) == 768


def test_max_picks_only_for_multi() -> None:
    with pytest.raises(DomainError):
        check_draft(draft(native=False, max_picks=2))
    with pytest.raises(DomainError):
        check_draft(draft(native=False, mode=PollMode.MULTI, max_picks=4))


# -- outcome surveys -----------------------------------------------------------------------
def test_opportunity_worked_example() -> None:
    # Ten members rate one outcome: 8 rate its importance 4 or 5, 2 their satisfaction
    # 4 or 5. I = 8.0, S = 2.0, opportunity = 8 + (8 - 2) = 14.0: high.
    importance = [5, 5, 4, 4, 5, 4, 4, 5, 2, 3]
    satisfaction = [1, 2, 3, 2, 4, 5, 1, 2, 3, 3]
    # A second outcome everyone finds important and is satisfied with: 10 + 0 = 10.
    answers = [((i, s), (5, 5)) for i, s in zip(importance, satisfaction, strict=True)]
    result = score_survey(2, answers)
    first, second = result.outcomes
    assert (first.importance, first.satisfaction, first.opportunity) == (8.0, 2.0, 14.0)
    assert first.band is Band.HIGH
    assert second.opportunity == 10.0 and second.band is Band.CONSIDER
    assert result.responses == 10
    assert [o.index for o in result.ranked()] == [0, 1]


def test_opportunity_never_goes_below_importance_and_bands_have_edges() -> None:
    assert opportunity(3.0, 9.0) == 3.0
    assert opportunity(10.0, 0.0) == 20.0
    assert [band(v) for v in (15.01, 15.0, 12.0, 11.99, 10.0, 9.99)] == [
        Band.EXTREME,
        Band.HIGH,
        Band.HIGH,
        Band.CONSIDER,
        Band.CONSIDER,
        Band.LOW,
    ]


def test_incomplete_answers_are_not_counted() -> None:
    result = score_survey(2, [((5, 1), (0, 0)), ((5, 1), (4, 4))])
    assert result.responses == 1
