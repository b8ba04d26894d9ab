"""What the Challenges feature hands from services to cogs and renderers: plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# One value for "a member who asked to be forgotten", whatever record names them.
from bot.domain.challenges import Criterion, Phase, Stage, Window
from bot.domain.idea_model import FORMER_MEMBER as FORMER_MEMBER
from bot.domain.publishing import Publication


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge as stored. ``number`` is its id within the guild (challenge #number)."""

    id: int
    guild_id: int
    number: int
    title: str
    problem: str
    good_answer: str
    author_id: int
    phase: Phase
    submission_end: datetime
    screening_end: datetime
    shortlist_end: datetime
    judging_end: datetime
    finalist_points: int
    winner_points: int
    criteria: tuple[Criterion, ...]
    created_at: datetime
    updated_at: datetime
    forum_channel_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    wildcard_idea_id: int | None = None
    published_at: datetime | None = None

    def end_of(self, window: Window) -> datetime:
        return {
            Window.SUBMISSION: self.submission_end,
            Window.SCREENING: self.screening_end,
            Window.SHORTLIST: self.shortlist_end,
            Window.JUDGING: self.judging_end,
        }[window]

    def taking_submissions(self, now: datetime) -> bool:
        return self.phase is Phase.SUBMISSIONS and now < self.submission_end

    def judging_open(self, now: datetime) -> bool:
        return self.published_at is None and now < self.judging_end

    @property
    def published(self) -> bool:
        return self.phase is Phase.PUBLISHED

    @property
    def url(self) -> str | None:
        if self.channel_id and self.message_id:
            return (
                f"https://discord.com/channels/{self.guild_id}/{self.channel_id}/{self.message_id}"
            )
        return None


@dataclass(frozen=True, slots=True)
class ChallengeDraft:
    """A new challenge before it is stored."""

    guild_id: int
    author_id: int
    title: str
    problem: str
    good_answer: str
    ends: tuple[datetime, datetime, datetime, datetime]
    criteria: tuple[Criterion, ...]
    finalist_points: int
    winner_points: int
    forum_channel_id: int | None = None
    channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """An idea in a challenge, with its stage, the crowd's votes and (when shown) its score."""

    idea_id: int
    challenge_id: int
    number: int
    title: str
    author_id: int
    stage: Stage
    wildcard: bool
    support: int
    oppose: int
    created_at: datetime
    #: The weighted mean over judges (None: not scored, or not shown to this reader).
    score: float | None = None
    judges: int = 0
    #: The idea is anonymous: public posts name "a member", never ``author_id``.
    anonymous: bool = False

    @property
    def net(self) -> int:
        return self.support - self.oppose


@dataclass(frozen=True, slots=True)
class ChallengeView:
    """A challenge with its entries in leaderboard order; ``scores_shown`` says whether the
    entries carry judges' scores (after publishing, or for staff)."""

    challenge: Challenge
    entries: tuple[Entry, ...]
    scores_shown: bool

    @property
    def winners(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.stage is Stage.WINNER)

    @property
    def finalists(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.stage is Stage.FINALIST)


@dataclass(frozen=True, slots=True)
class Scorecard:
    idea_id: int
    judge_id: int
    scores: tuple[int, ...]
    note: str


@dataclass(frozen=True, slots=True)
class ChallengeChange:
    """A change that committed, with what it must show in Discord (timer rows it wrote)."""

    challenge: Challenge
    publications: tuple[Publication, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class StageChange:
    challenge: Challenge
    entry: Entry
    old: Stage
    new: Stage
    notified: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Mentoring:
    """A mentor given to an idea: the private thread's members, once created."""

    id: int
    challenge: Challenge
    entry: Entry
    mentor_id: int
    members: tuple[int, ...]
    thread_id: int | None
    publication: Publication | None = None
