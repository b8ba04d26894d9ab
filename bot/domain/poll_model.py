"""What the Polls feature hands from services to cogs and renderers: plain records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.publishing import Publication


class PollMode(StrEnum):
    """How a ballot picks: one option, up to ``max_picks`` options, or a ranking."""

    SINGLE = "single"
    MULTI = "multi"
    RANKED = "ranked"


class PollKind(StrEnum):
    """A poll (options) or an outcome survey (statements rated 1–5 twice)."""

    POLL = "poll"
    SURVEY = "survey"


@dataclass(frozen=True, slots=True)
class PollDraft:
    """A new poll or survey before it is stored (checked by ``bot.domain.polls``)."""

    guild_id: int
    channel_id: int
    creator_id: int
    question: str
    options: tuple[str, ...]
    closes_at: datetime
    mode: PollMode = PollMode.SINGLE
    max_picks: int = 1
    anonymous: bool = False
    hide_results: bool = False
    eligible_role_id: int | None = None
    native: bool = False
    kind: PollKind = PollKind.POLL
    #: For a poll over ideas: the idea (row) id behind each option, in option order.
    idea_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Poll:
    """One poll or survey as stored. ``id`` is what members type (`/poll close 12`)."""

    id: int
    guild_id: int
    channel_id: int
    creator_id: int
    kind: PollKind
    question: str
    options: tuple[str, ...]
    mode: PollMode
    max_picks: int
    anonymous: bool
    hide_results: bool
    eligible_role_id: int | None
    native: bool
    created_at: datetime
    closes_at: datetime
    closed_at: datetime | None = None
    #: Closed at start-up because the bot was down at ``closes_at``.
    closed_late: bool = False
    message_id: int | None = None
    results_message_id: int | None = None
    ballots: int = 0
    idea_ids: tuple[int, ...] = ()
    #: For native polls: the counts Discord reported when the poll ended.
    native_counts: tuple[int, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def message_url(self) -> str | None:
        if self.message_id:
            return (
                f"https://discord.com/channels/{self.guild_id}/{self.channel_id}/{self.message_id}"
            )
        return None


@dataclass(frozen=True, slots=True)
class Created:
    """A stored poll and the publication of its message (see ``bot.domain.publishing``)."""

    poll: Poll
    publication: Publication


@dataclass(slots=True)
class BallotResult:
    """What one ballot recorded. ``choices`` are option indexes (ranked: best first).

    Lean on purpose (built on the vote path, 1,000 at once): the poll's options, not the
    whole poll, whose ballot count would cost a count per vote. Not frozen: a frozen
    dataclass sets each field through ``object.__setattr__`` (≈ 1.9 instead of ≈ 0.6 µs
    a ballot); nothing changes it after the vote returns it."""

    poll_id: int
    guild_id: int
    options: tuple[str, ...]
    mode: PollMode
    choices: tuple[int, ...]
    previous: tuple[int, ...] | None
    anonymous: bool
    live_results: bool

    @property
    def first(self) -> bool:
        """The member's first ballot in this poll (participation is paid once)."""
        return self.previous is None

    @property
    def changed(self) -> bool:
        return self.previous is not None and self.previous != self.choices


@dataclass(frozen=True, slots=True)
class SurveyProgress:
    """A member's ratings so far: (importance, satisfaction) per outcome, 0 = not yet."""

    poll: Poll
    ratings: tuple[tuple[int, int], ...]
    #: The member just completed the survey with this answer (participation is paid).
    completed_now: bool = False

    @property
    def complete(self) -> bool:
        return all(i and s for i, s in self.ratings)

    @property
    def next_unrated(self) -> int | None:
        for index, (i, s) in enumerate(self.ratings):
            if not (i and s):
                return index
        return None


@dataclass(frozen=True, slots=True)
class Tally:
    """Single or multi mode: votes per option, and how many ballots were cast."""

    counts: tuple[int, ...]
    ballots: int

    @property
    def winners(self) -> tuple[int, ...]:
        """The options with the most votes (several on a tie; none without votes)."""
        top = max(self.counts, default=0)
        return tuple(i for i, c in enumerate(self.counts) if c == top) if top else ()

    def share(self, index: int) -> float:
        """Share of ballots that picked option ``index`` (0–1)."""
        return self.counts[index] / self.ballots if self.ballots else 0.0


@dataclass(frozen=True, slots=True)
class RunoffRound:
    """One round of instant run-off: each continuing option's votes, the ballots that no
    longer rank any continuing option, and the option eliminated after it (None: decided)."""

    counts: dict[int, int]
    exhausted: int
    eliminated: int | None = None


@dataclass(frozen=True, slots=True)
class RunoffResult:
    rounds: tuple[RunoffRound, ...]
    winner: int | None
    ballots: int
    first_preferences: tuple[int, ...] = ()

    @property
    def exhausted(self) -> int:
        return self.rounds[-1].exhausted if self.rounds else 0


class Band(StrEnum):
    """How strongly an outcome's opportunity score calls for new ideas."""

    EXTREME = "extreme"
    HIGH = "high"
    CONSIDER = "worth considering"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class OutcomeScore:
    """Importance, satisfaction and opportunity of one outcome (Ulwick's ODI)."""

    index: int
    importance: float
    satisfaction: float
    opportunity: float
    band: Band
    responses: int


@dataclass(frozen=True, slots=True)
class SurveyResult:
    outcomes: tuple[OutcomeScore, ...]
    responses: int

    def ranked(self) -> list[OutcomeScore]:
        """Best opportunity first; ties in statement order."""
        return sorted(self.outcomes, key=lambda o: (-o.opportunity, o.index))


@dataclass(frozen=True, slots=True)
class Results:
    """A poll's results as shown: exactly one of the three is set."""

    poll: Poll
    tally: Tally | None = None
    runoff: RunoffResult | None = None
    survey: SurveyResult | None = None
    #: Below the configured minimum, survey results are withheld (with the count).
    withheld: bool = False
    minimum: int = 0


@dataclass(frozen=True, slots=True)
class Closing:
    """A close that just happened (None from the service when it was closed already)."""

    poll: Poll
    late: bool
    publication: Publication | None = None
