"""Challenges: focused, time-boxed idea campaigns. The rules, without Discord or SQL.

A challenge asks one question with a deadline. Its windows follow each other (submissions,
screening, shortlisting, judging); each of its ideas moves through stages
(:class:`Stage`); judges score ideas on the challenge's weighted criteria, and an idea's
score is the weighted mean over its judges; the crowd's favourite among the ideas staff
did not make finalists gets a wildcard finalist place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import DomainError
from bot.domain.text import clean_block, clean_line, has_visible

MAX_CRITERIA = 4
MIN_SCORE = 1
MAX_SCORE = 5
#: A modal input's label holds 45 characters; a criterion's name must fit with its weight.
CRITERION_NAME_MAX = 30
MAX_WEIGHT = 100
TITLE_MAX = 100
TEXT_MAX = 2000
NOTE_MAX = 1000


class ChallengeError(DomainError):
    """A challenge rule broken by what staff, a judge or a member typed."""

    def __init__(self, message: str, code: str = "invalid_challenge") -> None:
        super().__init__(code, message)


class Stage(StrEnum):
    """Where an idea stands in its challenge."""

    SUBMITTED = "submitted"
    SCREENED = "screened"
    SHORTLISTED = "shortlisted"
    FINALIST = "finalist"
    WINNER = "winner"
    NOT_SELECTED = "not_selected"


#: The stages in order; an idea moves one step forward at a time, or out (not selected).
ORDER = (Stage.SUBMITTED, Stage.SCREENED, Stage.SHORTLISTED, Stage.FINALIST, Stage.WINNER)
FINAL = frozenset({Stage.WINNER, Stage.NOT_SELECTED})
#: The stages the wildcard rule sees as already placed.
PLACED = frozenset({Stage.FINALIST, Stage.WINNER})

STAGE_LABEL = {
    Stage.SUBMITTED: "📥 Submitted",
    Stage.SCREENED: "🔎 Screened",
    Stage.SHORTLISTED: "📋 Shortlisted",
    Stage.FINALIST: "🏅 Finalist",
    Stage.WINNER: "🏆 Winner",
    Stage.NOT_SELECTED: "➖ Not selected",
}


class Window(StrEnum):
    """The windows of a challenge, in order; each closes at its date, once."""

    SUBMISSION = "submission"
    SCREENING = "screening"
    SHORTLIST = "shortlist"
    JUDGING = "judging"


WINDOWS = (Window.SUBMISSION, Window.SCREENING, Window.SHORTLIST, Window.JUDGING)


class Phase(StrEnum):
    """What a challenge is doing now: the window that is open, then closed, then published."""

    SUBMISSIONS = "submissions"
    SCREENING = "screening"
    SHORTLISTING = "shortlisting"
    JUDGING = "judging"
    CLOSED = "closed"  # judging ended: staff choose the winner, then publish
    PUBLISHED = "published"


#: The phase that follows the close of each window.
AFTER = {
    Window.SUBMISSION: Phase.SCREENING,
    Window.SCREENING: Phase.SHORTLISTING,
    Window.SHORTLIST: Phase.JUDGING,
    Window.JUDGING: Phase.CLOSED,
}


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    weight: int


_CRITERION = re.compile(r"^(?P<name>.+?)\s*:\s*(?P<weight>[+-]?\d+(?:\.\d+)?)$")


def parse_criteria(text: str) -> tuple[Criterion, ...]:
    """``Impact:3; Feasibility:2; Fit:1`` → criteria: 1–4, distinct names, whole positive
    weights. Raises ChallengeError with what to fix."""
    parts = [p.strip() for p in re.split(r"[;\n]", text or "") if p.strip()]
    if not parts:
        raise ChallengeError("Give 1 to 4 criteria with weights, such as `Impact:3; Fit:1`.")
    if len(parts) > MAX_CRITERIA:
        raise ChallengeError(
            f"At most {MAX_CRITERIA} criteria (a judge's form has room for {MAX_CRITERIA} "
            f"scores and a note); you gave {len(parts)}."
        )
    out: list[Criterion] = []
    seen: set[str] = set()
    for part in parts:
        match = _CRITERION.match(part)
        if match is None:
            raise ChallengeError(f"Write each criterion as `Name:weight`; `{part[:40]}` is not.")
        name = clean_line(match["name"]).strip()
        if not name:
            raise ChallengeError("A criterion needs a name.")
        if len(name) > CRITERION_NAME_MAX:
            raise ChallengeError(
                f"Criterion names have at most {CRITERION_NAME_MAX} characters: `{name[:40]}`."
            )
        weight_text = match["weight"]
        if "." in weight_text:
            raise ChallengeError(f"Weights are whole numbers: `{part[:40]}`.")
        weight = int(weight_text)
        if weight <= 0:
            raise ChallengeError(f"Weights must be positive: `{name}` has {weight}.")
        if weight > MAX_WEIGHT:
            raise ChallengeError(f"Weights are at most {MAX_WEIGHT}: `{name}` has {weight}.")
        if name.casefold() in seen:
            raise ChallengeError(f"The criterion `{name}` is named twice.")
        seen.add(name.casefold())
        out.append(Criterion(name, weight))
    return tuple(out)


def check_criteria(criteria: Sequence[Criterion]) -> None:
    """Criteria as stored must obey what :func:`parse_criteria` enforces on typed text."""
    parse_criteria("; ".join(f"{c.name}:{c.weight}" for c in criteria))


def check_dates(now: datetime, ends: Sequence[datetime]) -> None:
    """The four window ends must be in the future and in order (each after the one before)."""
    if len(ends) != len(WINDOWS):
        raise ChallengeError("A challenge has four dates.")
    if ends[0] <= now:
        raise ChallengeError("The submission end must be in the future.")
    names = ("submission end", "screening end", "shortlist end", "judging end")
    for (earlier, a), (later, b) in zip(
        zip(names, ends, strict=True), zip(names[1:], ends[1:], strict=True), strict=False
    ):
        if b <= a:
            raise ChallengeError(f"The {later} must come after the {earlier}.")


def check_stage(old: Stage, new: Stage) -> None:
    """One step forward, or out of the running while not yet decided."""
    if old is new:
        raise ChallengeError(f"The idea is already {STAGE_LABEL[new]}.")
    if old in FINAL:
        raise ChallengeError(f"The idea is {STAGE_LABEL[old]}: its place is decided.")
    if new is Stage.NOT_SELECTED:
        return
    if new is Stage.SUBMITTED:
        raise ChallengeError("An idea cannot go back to submitted.")
    if ORDER.index(new) != ORDER.index(old) + 1:
        nxt = ORDER[ORDER.index(old) + 1]
        raise ChallengeError(
            f"An idea moves one stage at a time: from {STAGE_LABEL[old]} to "
            f"{STAGE_LABEL[nxt]} (or not selected)."
        )


def parse_score(text: str, criterion: str) -> int:
    """One judge's 1–5 score for one criterion, as typed."""
    value = (text or "").strip()
    if not re.fullmatch(r"[+-]?\d+", value):
        raise ChallengeError(
            f"Score `{criterion}` with a whole number from {MIN_SCORE} to {MAX_SCORE}."
        )
    score = int(value)
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise ChallengeError(
            f"Scores go from {MIN_SCORE} to {MAX_SCORE}; `{criterion}` got {score}."
        )
    return score


def judge_score(scores: Sequence[int], criteria: Sequence[Criterion]) -> float:
    """One judge's weighted mean over the criteria."""
    if len(scores) != len(criteria):
        raise ChallengeError("A scorecard has one score per criterion.")
    total = sum(c.weight for c in criteria)
    return sum(s * c.weight for s, c in zip(scores, criteria, strict=True)) / total


def weighted_score(cards: Iterable[Sequence[int]], criteria: Sequence[Criterion]) -> float | None:
    """An idea's score: the mean over its judges of each judge's weighted mean (None: no
    judge scored it). Each judge counts once, whatever their weights."""
    per_judge = [judge_score(card, criteria) for card in cards]
    if not per_judge:
        return None
    return sum(per_judge) / len(per_judge)


@dataclass(frozen=True, slots=True)
class Contender:
    """What the wildcard rule reads of an entry."""

    idea_id: int
    number: int
    stage: Stage
    support: int
    oppose: int


def wildcard(entries: Iterable[Contender]) -> Contender | None:
    """The crowd's favourite among the ideas not placed (not finalist or winner): most net
    votes, then most support, then the earliest idea. None when no such idea has a net
    vote above zero (a wildcard is the crowd's choice, not a default)."""
    best: Contender | None = None
    for entry in entries:
        if entry.stage in PLACED:
            continue
        net = entry.support - entry.oppose
        if net <= 0:
            continue
        if best is None or (net, entry.support, -entry.number) > (
            best.support - best.oppose,
            best.support,
            -best.number,
        ):
            best = entry
    return best


def ranking(
    rows: Iterable[tuple[int, float | None, int]],
) -> list[tuple[int, float | None, int]]:
    """Leaderboard order of ``(idea number, score, net votes)``: score first (unscored
    last), then votes, then the earlier idea."""
    return sorted(rows, key=lambda r: (r[1] is None, -(r[1] or 0.0), -r[2], r[0]))


def validate_title(text: str) -> str:
    title = clean_line(text or "").strip()
    if not title or not has_visible(title):
        raise ChallengeError("A challenge needs a title.")
    if len(title) > TITLE_MAX:
        raise ChallengeError(f"Titles have at most {TITLE_MAX} characters.")
    return title


def validate_text(text: str, what: str, *, required: bool = True) -> str:
    value = clean_block(text or "").strip()
    if required and not value:
        raise ChallengeError(f"Say {what}.")
    if len(value) > TEXT_MAX:
        raise ChallengeError(f"Keep {what} under {TEXT_MAX} characters.")
    return value


def check_points(finalist: int, winner: int) -> None:
    if finalist < 0 or winner < 0:
        raise ChallengeError("Reward points cannot be negative.")
