"""The digest's lines for closed polls and for policy changes, on known results."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.domain.policy import PolicyStage
from bot.domain.policy_model import Policy
from bot.domain.poll_model import (
    Band,
    OutcomeScore,
    Poll,
    PollKind,
    PollMode,
    Results,
    RunoffResult,
    RunoffRound,
    SurveyResult,
    Tally,
)
from bot.services.digest_sources import policy_sections, result_line

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
POLL = Poll(
    id=4,
    guild_id=1,
    channel_id=2,
    creator_id=3,
    kind=PollKind.POLL,
    question="Which first?",
    options=("Dark mode", "Sync", "Export"),
    mode=PollMode.SINGLE,
    max_picks=1,
    anonymous=False,
    hide_results=False,
    eligible_role_id=None,
    native=False,
    created_at=AT,
    closes_at=AT,
    closed_at=AT,
)


def test_tally_winner_tie_and_no_votes() -> None:
    assert result_line(Results(POLL, tally=Tally((5, 2, 1), 8))) == (
        "**Poll #4** Which first? — **Dark mode** 5 of 8 ballots (62%)"
    )
    assert result_line(Results(POLL, tally=Tally((3, 0, 3), 6))) == (
        "**Poll #4** Which first? — tie: **Dark mode** / **Export** 3 of 6 ballots (50%)"
    )
    assert result_line(Results(POLL, tally=Tally((0, 0, 0), 0))).endswith("— no votes")
    secret = replace(POLL, anonymous=True)
    assert "_(anonymous)_" in result_line(Results(secret, tally=Tally((1, 0, 0), 1)))


def test_runoff_winner_after_rounds() -> None:
    ranked = replace(POLL, mode=PollMode.RANKED)
    rounds = (RunoffRound({0: 2, 1: 2, 2: 1}, 0, 2), RunoffRound({0: 3, 1: 2}, 0))
    line = result_line(Results(ranked, runoff=RunoffResult(rounds, 0, 5)))
    assert line.endswith("— **Dark mode** wins after 2 rounds · 5 ballots")
    none = result_line(Results(ranked, runoff=RunoffResult((), None, 0)))
    assert none.endswith("— no winner · 0 ballots")


def test_survey_top_opportunity_or_withheld() -> None:
    survey = replace(POLL, kind=PollKind.SURVEY, options=("Find a board", "Lost edits"))
    scores = (
        OutcomeScore(0, 6.0, 5.0, 7.0, Band.LOW, 3),
        OutcomeScore(1, 9.0, 2.0, 16.0, Band.EXTREME, 3),
    )
    line = result_line(Results(survey, survey=SurveyResult(scores, 3)))
    assert line == (
        "**Survey #4** Which first? — top opportunity: **Lost edits** (16.0, extreme) · 3 responses"
    )
    withheld = Results(survey, survey=SurveyResult(scores, 3), withheld=True, minimum=5)
    assert result_line(withheld).endswith("3 responses: results withheld (fewer than 5)")


def _policy(number: int, **kw: object) -> Policy:
    values: dict[str, object] = {
        "id": number,
        "guild_id": 1,
        "number": number,
        "title": f"Change {number}",
        "summary": "s",
        "body": "b",
        "stage": PolicyStage.ANNOUNCED,
        "author_id": 9,
        "effective_at": AT + timedelta(days=10),
        "close_at": AT + timedelta(days=3),
        "period": None,
        "notify_role_id": None,
        "affected_channels": (),
        "created_at": AT,
        "updated_at": AT,
        **kw,
    }
    return Policy(**values)  # type: ignore[arg-type]


def test_policy_sections_deadlines_and_waiting() -> None:
    open_ = [_policy(1, support=2, concerns=1)]
    waiting = [
        _policy(2, stage=PolicyStage.CLOSED, closed_at=AT),
        _policy(3, stage=PolicyStage.CLOSED, closed_at=AT, awaiting=True),
    ]
    first, second = policy_sections(open_, waiting, 4, frozenset({5, 6}))
    deadline = int((AT + timedelta(days=3)).timestamp())
    assert first.lines == (
        f"**Policy #1** Change 1 — comments close <t:{deadline}:f> (<t:{deadline}:R>) "
        "· 👍 2 · 🤔 0 · 👎 0 · 1 concern",
    )
    assert first.metrics == {"Policy feedback": 4} and first.participants == {5, 6}
    assert second.key == "policy.awaiting" and len(second.lines) == 2
    assert not second.lines[0].startswith("⚠️")
    assert second.lines[1].startswith("⚠️") and "effective date passed" in second.lines[1]
    (only,) = policy_sections([], [], 0, frozenset())
    assert only.lines == ("No policy change is open for comment.",)
