"""Poll and survey rules: options as members type them, closing times, ballots, counting
(plurality, multi, instant run-off) and outcome-survey opportunity scores.

Pure: no Discord, no database. Services call these inside their write units, so a rule is
decided on the state it is written against.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo

from bot.domain import text as text_rules
from bot.domain.errors import DomainError
from bot.domain.poll_model import (
    Band,
    OutcomeScore,
    PollDraft,
    PollMode,
    RunoffResult,
    RunoffRound,
    SurveyResult,
    Tally,
)
from bot.domain.timeparse import format_duration, parse_when

MIN_OPTIONS = 2
MAX_OPTIONS = 20
OPTION_MAX = 80
QUESTION_MAX = 300
MAX_OUTCOMES = 20
OUTCOME_MAX = 200
#: Discord's native polls: at most 10 answers of at most 55 characters, 1 h to 32 days.
NATIVE_MAX_ANSWERS = 10
NATIVE_ANSWER_MAX = 55
NATIVE_MAX_HOURS = 32 * 24
#: Ratings 4 and 5 (of 1–5) count as "important" and "satisfied" (top-two-box).
TOP_BOX = (4, 5)


def clean_line(text: str) -> str:
    """One line of member text as stored (the one place polls clean typed text)."""
    return text_rules.clean_line(text)


def validate_question(text: str) -> str:
    value = clean_line(text)
    if not value:
        raise DomainError("question_empty", "A poll needs a question.")
    if len(value) > QUESTION_MAX:
        raise DomainError(
            "question_too_long",
            f"A question can be at most {QUESTION_MAX} characters (this one has {len(value)}).",
        )
    return value


def _lines(text: str) -> list[str]:
    return [line for line in (clean_line(raw) for raw in text.splitlines()) if line]


def parse_options(
    text: str, *, limit: int = OPTION_MAX, most: int = MAX_OPTIONS
) -> tuple[str, ...]:
    """Options one per line: 2–20, each ≤ 80 characters, no two alike (case and spacing
    ignored). Blank lines are skipped; a leading "- " or "1. " is the member's list
    formatting, not part of the option."""
    options = [_strip_bullet(line) for line in _lines(text)]
    options = [o for o in options if o]
    if len(options) < MIN_OPTIONS:
        raise DomainError(
            "too_few_options", f"A poll needs at least {MIN_OPTIONS} options, one per line."
        )
    if len(options) > most:
        raise DomainError(
            "too_many_options", f"A poll takes at most {most} options ({len(options)} given)."
        )
    return _checked_items(options, limit, "option")


def parse_outcomes(text: str) -> tuple[str, ...]:
    """Outcome statements one per line: 1–20, each ≤ 200 characters, no two alike."""
    outcomes = [o for o in (_strip_bullet(line) for line in _lines(text)) if o]
    if not outcomes:
        raise DomainError("too_few_outcomes", "A survey needs at least one outcome statement.")
    if len(outcomes) > MAX_OUTCOMES:
        raise DomainError(
            "too_many_outcomes",
            f"A survey takes at most {MAX_OUTCOMES} outcomes ({len(outcomes)} given).",
        )
    return _checked_items(outcomes, OUTCOME_MAX, "outcome")


def _strip_bullet(line: str) -> str:
    if line[:2] in ("- ", "* ", "• "):
        return line[2:].strip()
    head, dot, rest = line.partition(". ")
    if dot and head.isdigit() and len(head) <= 2:
        return rest.strip()
    return line


def _checked_items(items: list[str], limit: int, what: str) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        if len(item) > limit:
            raise DomainError(
                f"{what}_too_long",
                f"{what.capitalize()} {number} has {len(item)} characters; at most {limit}.",
            )
        key = " ".join(item.casefold().split())
        if key in seen:
            raise DomainError(
                f"duplicate_{what}",
                f"{what.capitalize()}s {seen[key]} and {number} are the same: “{item}”.",
            )
        seen[key] = number
    return tuple(items)


def closing_time(text: str, tz: tzinfo, *, now: datetime, maximum: timedelta) -> datetime:
    """When a poll closes: a duration (``2d``, ``6h``) from now or an end time in the
    guild's timezone (``2026-12-01 18:00``). Must lie in the future and within
    ``maximum`` (the guild's ``polls_max_duration``)."""
    closes = parse_when(text, tz, now=now)
    if closes - now > maximum:
        raise DomainError(
            "too_long",
            f"A poll can run at most {format_duration(maximum)}; `{text.strip()}` is later.",
        )
    return closes


def check_draft(draft: PollDraft) -> None:
    """Settings that contradict each other (the options themselves are parsed first)."""
    n = len(draft.options)
    if draft.mode is PollMode.MULTI and not 1 <= draft.max_picks <= n:
        raise DomainError("bad_max_picks", f"Max picks must be between 1 and {n}.")
    if draft.mode is not PollMode.MULTI and draft.max_picks != 1:
        raise DomainError("bad_max_picks", "Max picks only applies to `multi` polls.")
    if draft.native:
        check_native(draft)


def check_native(draft: PollDraft) -> None:
    """Refuse what a Discord native poll cannot honour: it is public, shows results live,
    is open to everyone, picks one option or any number, and has ≤ 10 short answers."""
    refusals = []
    if draft.anonymous:
        refusals.append("anonymous ballots (Discord shows who voted)")
    if draft.hide_results:
        refusals.append("hidden results (Discord shows them live)")
    if draft.eligible_role_id:
        refusals.append("an eligible role (anyone who sees it can vote)")
    if draft.mode is PollMode.RANKED:
        refusals.append("ranked ballots")
    if draft.mode is PollMode.MULTI and draft.max_picks not in (1, len(draft.options)):
        refusals.append("a max picks other than 1 or all")
    if len(draft.options) > NATIVE_MAX_ANSWERS:
        refusals.append(f"more than {NATIVE_MAX_ANSWERS} answers")
    long = [i + 1 for i, o in enumerate(draft.options) if len(o) > NATIVE_ANSWER_MAX]
    if long:
        refusals.append(
            f"answers over {NATIVE_ANSWER_MAX} characters (option {', '.join(map(str, long))})"
        )
    if refusals:
        raise DomainError(
            "native_unsupported",
            "A Discord native poll cannot have " + "; ".join(refusals) + ". "
            "Leave `native` off for a Cocreate poll.",
        )


def native_hours(now: datetime, closes_at: datetime) -> int:
    """The whole hours (1–768) a native poll runs: the duration rounded to the nearest."""
    hours = round((closes_at - now).total_seconds() / 3600)
    return min(max(1, hours), NATIVE_MAX_HOURS)


def check_ballot(
    mode: PollMode, options: int, max_picks: int, choices: Sequence[int]
) -> tuple[int, ...]:
    """A ballot's option indexes, checked against the poll: single picks one, multi 1 to
    ``max_picks`` distinct ones, ranked orders 1 or more distinct ones (best first)."""
    if len(choices) == 1:
        # The common ballot (one pick, as every single-choice vote is), checked without the
        # general path's generator, set and sort: ≈ 0.4 instead of ≈ 3 µs a ballot, which
        # counts when 1,000 members vote at once (see ``cocreate bench polls``).
        only = int(choices[0])
        if not 0 <= only < options:
            raise DomainError("bad_choice", "That option is not in this poll.")
        if mode is PollMode.MULTI and max_picks < 1:
            raise DomainError("too_many_choices", f"This poll takes at most {max_picks} options.")
        return (only,)
    picked = tuple(int(c) for c in choices)
    if not picked:
        raise DomainError("empty_ballot", "Pick at least one option.")
    if any(not 0 <= c < options for c in picked):
        raise DomainError("bad_choice", "That option is not in this poll.")
    if len(set(picked)) != len(picked):
        raise DomainError("repeated_choice", "Each option can be picked once.")
    if mode is PollMode.SINGLE and len(picked) != 1:
        raise DomainError("one_choice", "This poll takes one option.")
    if mode is PollMode.MULTI and len(picked) > max_picks:
        raise DomainError("too_many_choices", f"This poll takes at most {max_picks} options.")
    if mode is not PollMode.RANKED:
        picked = tuple(sorted(picked))
    return picked


def count(options: int, ballots: Iterable[Sequence[int]]) -> Tally:
    """Single and multi mode: each ballot gives one vote to each option it picked."""
    counts = [0] * options
    total = 0
    for ballot in ballots:
        total += 1
        for choice in ballot:
            if 0 <= choice < options:
                counts[choice] += 1
    return Tally(tuple(counts), total)


def instant_runoff(options: int, ballots: Iterable[Sequence[int]]) -> RunoffResult:
    """Count ranked ballots by instant run-off.

    Each round counts every ballot for its highest-ranked option still in the race. An
    option with more than half of those votes wins; otherwise the option with the fewest
    votes is eliminated, a tie broken by fewer first preferences, then by the later
    position in the option list. Ballots that rank no continuing option are exhausted and
    reported per round. The last option standing wins (none when nobody voted).
    """
    cast = [tuple(b) for b in ballots if b]
    first = [0] * options
    for ballot in cast:
        first[ballot[0]] += 1
    continuing = set(range(options))
    rounds: list[RunoffRound] = []
    while continuing:
        counts = dict.fromkeys(sorted(continuing), 0)
        exhausted = 0
        for ballot in cast:
            top = next((c for c in ballot if c in continuing), None)
            if top is None:
                exhausted += 1
            else:
                counts[top] += 1
        live = len(cast) - exhausted
        leader = max(counts, key=lambda o: (counts[o], -o))
        if live == 0:
            rounds.append(RunoffRound(counts, exhausted))
            return RunoffResult(tuple(rounds), None, len(cast), tuple(first))
        if counts[leader] * 2 > live or len(continuing) == 1:
            rounds.append(RunoffRound(counts, exhausted))
            return RunoffResult(tuple(rounds), leader, len(cast), tuple(first))
        loser = min(continuing, key=lambda o: (counts[o], first[o], -o))
        rounds.append(RunoffRound(counts, exhausted, loser))
        continuing.discard(loser)
    return RunoffResult(tuple(rounds), None, len(cast), tuple(first))  # pragma: no cover


def check_rating(value: int) -> int:
    if not 1 <= int(value) <= 5:
        raise DomainError("bad_rating", "Ratings go from 1 to 5.")
    return int(value)


def band(opportunity: float) -> Band:
    """> 15 extreme, 12 to 15 high, 10 to < 12 worth considering, < 10 low."""
    if opportunity > 15:
        return Band.EXTREME
    if opportunity >= 12:
        return Band.HIGH
    if opportunity >= 10:
        return Band.CONSIDER
    return Band.LOW


def opportunity(importance: float, satisfaction: float) -> float:
    """Ulwick's opportunity score: I + max(I − S, 0), each on 0–10, so 0–20."""
    return importance + max(importance - satisfaction, 0.0)


def score_survey(outcomes: int, answers: Iterable[Sequence[Sequence[int]]]) -> SurveyResult:
    """Opportunity per outcome over complete answers, each a (importance, satisfaction)
    pair per outcome. I = 10 × share of importance ratings 4–5, S likewise."""
    complete = [a for a in answers if len(a) == outcomes and all(i and s for i, s in a)]
    n = len(complete)
    scores = []
    for index in range(outcomes):
        important = sum(1 for a in complete if a[index][0] in TOP_BOX)
        satisfied = sum(1 for a in complete if a[index][1] in TOP_BOX)
        imp = 10 * important / n if n else 0.0
        sat = 10 * satisfied / n if n else 0.0
        opp = opportunity(imp, sat)
        scores.append(OutcomeScore(index, imp, sat, opp, band(opp), n))
    return SurveyResult(tuple(scores), n)


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a whole percentage ("0 %" of nothing)."""
    return f"{(100 * part / whole if whole else 0):.0f} %"


def round_half_up(value: float, digits: int = 1) -> float:
    """Scores as shown: 13.95 → 14.0, never banker's rounding."""
    scale = 10**digits
    return math.floor(value * scale + 0.5) / scale
