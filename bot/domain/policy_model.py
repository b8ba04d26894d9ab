"""What the Policy feature hands from services to cogs and renderers: plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

# One value for "a member who asked to be forgotten", whatever record names them.
from bot.domain.idea_model import FORMER_MEMBER as FORMER_MEMBER
from bot.domain.policy import Decision, Outcome, PolicyStage, Stance
from bot.domain.publishing import Publication


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy change as stored. ``number`` is its id within the guild (policy #number)."""

    id: int
    guild_id: int
    number: int
    title: str
    summary: str
    body: str
    stage: PolicyStage
    author_id: int
    effective_at: datetime
    #: A comment-period end chosen as a date; else ``period`` after announcing.
    close_at: datetime | None
    period: timedelta | None
    notify_role_id: int | None
    affected_channels: tuple[int, ...]
    created_at: datetime
    updated_at: datetime
    announced_at: datetime | None = None
    closed_at: datetime | None = None
    responded_at: datetime | None = None
    settled_at: datetime | None = None
    #: The effective date passed without a response: the policy waits for one.
    awaiting: bool = False
    decision: Decision | None = None
    amended_body: str | None = None
    response_note: str | None = None
    responder_id: int | None = None
    card_channel_id: int | None = None
    card_message_id: int | None = None
    thread_id: int | None = None
    #: What the card shows: the store's version of it, and the version Discord displays.
    card_version: int = 0
    card_shown: int = 0
    support: int = 0
    concerned: int = 0
    oppose: int = 0
    concerns: int = 0

    @property
    def text(self) -> str:
        """The policy's text as it stands (the amended one after an amending response)."""
        return self.amended_body if self.amended_body else self.body

    @property
    def card_url(self) -> str | None:
        if self.card_channel_id and self.card_message_id:
            return (
                f"https://discord.com/channels/{self.guild_id}/"
                f"{self.card_channel_id}/{self.card_message_id}"
            )
        return None

    @property
    def thread_url(self) -> str | None:
        if self.thread_id:
            return f"https://discord.com/channels/{self.guild_id}/{self.thread_id}"
        return None

    @property
    def open_for_comments(self) -> bool:
        return self.stage is PolicyStage.ANNOUNCED


@dataclass(frozen=True, slots=True)
class PolicyDraft:
    """A new policy before it is stored (or a draft's new values, for an edit)."""

    guild_id: int
    author_id: int
    title: str
    summary: str
    body: str
    effective_at: datetime
    close_at: datetime | None = None
    period: timedelta | None = None
    notify_role_id: int | None = None
    affected_channels: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Concern:
    id: int
    policy_id: int
    guild_id: int
    number: int
    #: Staff see who raised it; members never do (FORMER_MEMBER once forgotten).
    author_id: int
    text: str
    suggestion: str
    created_at: datetime
    #: Its group in the close summary (numbered from 1, largest first), once closed.
    group_no: int | None = None
    #: The idea staff made of it, if any (linked both ways: the idea names the concern).
    idea_id: int | None = None
    idea_number: int | None = None


@dataclass(frozen=True, slots=True)
class GroupAnswer:
    group_no: int
    outcome: Outcome
    text: str
    actor_id: int


@dataclass(frozen=True, slots=True)
class ConcernGroup:
    """Concerns that say the same thing, with staff's answer once given."""

    number: int
    concerns: tuple[Concern, ...]
    answer: GroupAnswer | None = None

    @property
    def first(self) -> Concern:
        return self.concerns[0]

    @property
    def suggestions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.suggestion for c in self.concerns if c.suggestion))


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A policy with its concern groups (formed at close) and their answers."""

    policy: Policy
    groups: tuple[ConcernGroup, ...] = ()
    #: Concerns not yet grouped (while the comment period is open).
    ungrouped: tuple[Concern, ...] = ()

    @property
    def unanswered(self) -> tuple[int, ...]:
        return tuple(g.number for g in self.groups if g.answer is None)


@dataclass(frozen=True, slots=True)
class StanceResult:
    policy: Policy
    previous: Stance | None
    current: Stance
    changed: bool


@dataclass(frozen=True, slots=True)
class ConcernResult:
    policy: Policy
    concern: Concern


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """A change that committed, with what it must show in Discord (timer rows it wrote)."""

    policy: Policy
    publications: tuple[Publication, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class PolicyPage:
    items: tuple[Policy, ...]
    total: int
    page: int = 1
