"""Challenge rules: criteria, dates, stage transitions, weighted scoring and the wildcard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.challenges import (
    ChallengeError,
    Contender,
    Criterion,
    Stage,
    check_dates,
    check_stage,
    judge_score,
    parse_criteria,
    parse_score,
    ranking,
    weighted_score,
    wildcard,
)

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
CRITERIA = (Criterion("Impact", 3), Criterion("Feasibility", 2), Criterion("Fit", 1))


def test_criteria_parse_with_weights() -> None:
    assert parse_criteria("Impact:3; Feasibility:2; Fit:1") == CRITERIA
    assert parse_criteria(" Reach : 1 ") == (Criterion("Reach", 1),)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "1 to 4"),
        ("A:1; B:1; C:1; D:1; E:1", "At most 4"),
        ("Impact:0", "positive"),
        ("Impact:-2", "positive"),
        ("Impact:1.5", "whole"),
        ("Impact", "Name:weight"),
        ("Impact:1; impact:2", "twice"),
        ("X" * 31 + ":1", "at most 30"),
    ],
)
def test_bad_criteria_are_refused(text: str, says: str) -> None:
    with pytest.raises(ChallengeError, match=says):
        parse_criteria(text)


def test_dates_must_be_future_and_in_order() -> None:
    check_dates(NOW, [NOW + DAY, NOW + 2 * DAY, NOW + 3 * DAY, NOW + 4 * DAY])
    with pytest.raises(ChallengeError, match="future"):
        check_dates(NOW, [NOW, NOW + 2 * DAY, NOW + 3 * DAY, NOW + 4 * DAY])
    with pytest.raises(ChallengeError, match="shortlist end must come after the screening"):
        check_dates(NOW, [NOW + DAY, NOW + 3 * DAY, NOW + 3 * DAY, NOW + 4 * DAY])
    with pytest.raises(ChallengeError, match="judging end"):
        check_dates(NOW, [NOW + DAY, NOW + 2 * DAY, NOW + 5 * DAY, NOW + 4 * DAY])


def test_stages_move_one_step_forward_or_out() -> None:
    check_stage(Stage.SUBMITTED, Stage.SCREENED)
    check_stage(Stage.SCREENED, Stage.SHORTLISTED)
    check_stage(Stage.SHORTLISTED, Stage.FINALIST)
    check_stage(Stage.FINALIST, Stage.WINNER)
    check_stage(Stage.SHORTLISTED, Stage.NOT_SELECTED)
    with pytest.raises(ChallengeError, match="one stage at a time"):
        check_stage(Stage.SUBMITTED, Stage.FINALIST)
    with pytest.raises(ChallengeError, match="already"):
        check_stage(Stage.SCREENED, Stage.SCREENED)
    with pytest.raises(ChallengeError, match="decided"):
        check_stage(Stage.WINNER, Stage.NOT_SELECTED)
    with pytest.raises(ChallengeError, match="decided"):
        check_stage(Stage.NOT_SELECTED, Stage.SCREENED)
    with pytest.raises(ChallengeError, match="back"):
        check_stage(Stage.SCREENED, Stage.SUBMITTED)


def test_scores_are_whole_numbers_from_one_to_five() -> None:
    assert parse_score(" 4 ", "Impact") == 4
    for bad in ("0", "6", "-1", "3.5", "", "four"):
        with pytest.raises(ChallengeError, match="Impact"):
            parse_score(bad, "Impact")


def test_weighted_mean_per_judge_then_mean_over_judges() -> None:
    # (5*3 + 2*2 + 1*1) / 6 = 20/6; (3*3 + 3*2 + 3*1) / 6 = 3
    assert judge_score([5, 2, 1], CRITERIA) == pytest.approx(20 / 6)
    assert weighted_score([[5, 2, 1], [3, 3, 3]], CRITERIA) == pytest.approx((20 / 6 + 3) / 2)
    assert weighted_score([], CRITERIA) is None
    # The weights matter: the same numbers on a different criterion change the score.
    assert judge_score([1, 2, 5], CRITERIA) < judge_score([5, 2, 1], CRITERIA)
    with pytest.raises(ChallengeError):
        judge_score([5, 2], CRITERIA)


def _c(number: int, stage: Stage, support: int, oppose: int = 0) -> Contender:
    return Contender(number * 10, number, stage, support, oppose)


def test_wildcard_is_the_crowd_favourite_among_non_finalists() -> None:
    entries = [
        _c(1, Stage.FINALIST, 9),  # placed: not a candidate however popular
        _c(2, Stage.SHORTLISTED, 4, 1),
        _c(3, Stage.NOT_SELECTED, 5),  # the crowd can bring back what staff left out
        _c(4, Stage.WINNER, 20),
    ]
    chosen = wildcard(entries)
    assert chosen is not None and chosen.number == 3


def test_wildcard_ties_and_nobody() -> None:
    assert wildcard([_c(1, Stage.FINALIST, 5)]) is None
    assert wildcard([_c(1, Stage.SCREENED, 1, 1), _c(2, Stage.SUBMITTED, 0)]) is None
    tie = wildcard([_c(2, Stage.SCREENED, 3, 1), _c(1, Stage.SCREENED, 3, 1)])
    assert tie is not None and tie.number == 1
    more_support = wildcard([_c(1, Stage.SCREENED, 2), _c(2, Stage.SCREENED, 3, 1)])
    assert more_support is not None and more_support.number == 2


def test_ranking_puts_scores_first_then_votes() -> None:
    rows = [(1, None, 9), (2, 3.5, 1), (3, 4.0, 0), (4, 3.5, 2)]
    assert [r[0] for r in ranking(rows)] == [3, 4, 2, 1]
