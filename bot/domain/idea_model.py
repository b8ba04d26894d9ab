"""What the Ideas feature hands from services to cogs and renderers: plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.ideas import IdeaStatus, normalise_tags
from bot.domain.images import IdeaImage
from bot.domain.publishing import Publication

#: author_id of an idea whose author asked to be forgotten.
FORMER_MEMBER = 0
#: author_id in reports (digests) for an anonymous idea: no member's id is shown.
ANONYMOUS_AUTHOR = -1


@dataclass(frozen=True, slots=True)
class ChallengeTag:
    """The challenge an idea answers, as its card and ``/idea show`` name it."""

    number: int
    title: str
    #: The idea's stage in it (a ``bot.domain.challenges.Stage`` value).
    stage: str


@dataclass(frozen=True, slots=True)
class Idea:
    """One idea as stored. ``number`` is its id within the guild (shown as #number)."""

    id: int
    guild_id: int
    number: int
    kind: str
    title: str
    body: str
    author_id: int
    status: IdeaStatus
    status_reason: str | None
    source: str
    source_channel_id: int | None
    source_message_id: int | None
    card_channel_id: int | None
    card_message_id: int | None
    thread_id: int | None
    support: int
    oppose: int
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None = None
    decided_at: datetime | None = None
    merged_into: int | None = None
    hidden_from: IdeaStatus | None = None
    flag: str | None = None
    #: What the card shows: the store's version of it, and the version Discord displays.
    card_version: int = 0
    card_shown: int = 0
    tags: tuple[str, ...] = ()
    contributors: tuple[int, ...] = ()
    #: The file name of the idea's image, uploaded with its card (None: no image).
    image_name: str | None = None
    #: Shown as "a member" everywhere public; the author is known to the store.
    anonymous: bool = False
    #: The challenge it answers, read with its details (None: none, or not read).
    challenge: ChallengeTag | None = None

    @property
    def net(self) -> int:
        return self.support - self.oppose

    @property
    def source_url(self) -> str | None:
        if self.source_channel_id and self.source_message_id:
            return (
                f"https://discord.com/channels/{self.guild_id}/"
                f"{self.source_channel_id}/{self.source_message_id}"
            )
        return None

    @property
    def card_url(self) -> str | None:
        if self.card_channel_id and self.card_message_id:
            return (
                f"https://discord.com/channels/{self.guild_id}/"
                f"{self.card_channel_id}/{self.card_message_id}"
            )
        return None


@dataclass(frozen=True, slots=True)
class IdeaDraft:
    """A new idea before it is stored."""

    guild_id: int
    author_id: int
    title: str
    body: str
    kind: str = "idea"
    tags: tuple[str, ...] = ()
    source: str = "modal"  # message | forum | modal | menu
    source_channel_id: int | None = None
    source_message_id: int | None = None
    #: Credited besides the author (the member who captured someone else's message).
    contributors: tuple[int, ...] = ()
    #: For forum posts: the post's own thread is the discussion thread.
    thread_id: int | None = None
    #: When the source was posted (a message's snowflake time); None: now. The cooldown
    #: compares these, so catch-up after downtime judges messages by when members wrote.
    posted_at: datetime | None = None
    #: Who submitted it, when not the author (the member using "Capture as idea"): the
    #: cooldown and blocks apply to them.
    submitted_by: int | None = None
    #: A picture shown on the card (checked and scaled by bot.domain.images).
    image: IdeaImage | None = None
    #: The number of the challenge it answers (checked and attached by the challenges
    #: feature's submit hook, in the same unit as the idea); None: an ordinary idea.
    challenge: int | None = None
    #: The author asked for the card to say "a member" (``/idea submit anonymous:True``).
    anonymous: bool = False
    #: When the author joined the server, as Discord says (the review rule for new
    #: members); None when unknown.
    joined_at: datetime | None = None

    @property
    def submitter(self) -> int:
        return self.author_id if self.submitted_by is None else self.submitted_by

    def __post_init__(self) -> None:
        # Tags come from every capture path and the /idea submit option: cleaned here, once,
        # whoever builds the draft. (Title and body are cleaned and checked by the
        # validators the service runs: an invisible title must be refused, not dropped.)
        object.__setattr__(self, "tags", normalise_tags(self.tags))


@dataclass(frozen=True, slots=True)
class Submission:
    idea: Idea
    created: bool  # False when the source message was captured before (replays, catch-up)
    #: The card to publish, recorded with the idea (None when not created).
    publication: Publication | None = None


@dataclass(frozen=True, slots=True)
class SimilarCandidate:
    number: int
    title: str
    status: IdeaStatus
    score: float
    support: int


@dataclass(frozen=True, slots=True)
class VoteResult:
    idea: Idea
    previous: int  # 0 none, +1 support, -1 oppose
    current: int
    changed: bool


@dataclass(frozen=True, slots=True)
class StatusChange:
    idea: Idea
    old: IdeaStatus
    new: IdeaStatus
    reason: str | None
    actor_id: int
    #: Followers other than the author who asked for DMs (their notices were queued).
    queued_for: tuple[int, ...] = ()
    #: The key of the timer row that publishes this change in Discord (None: nothing to
    #: tell, e.g. hiding).
    publish_key: str | None = None


@dataclass(frozen=True, slots=True)
class IdeaEvent:
    id: int
    kind: str
    actor_id: int | None
    old_status: str | None
    new_status: str | None
    reason: str | None
    detail: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdeaPage:
    items: tuple[Idea, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, slots=True)
class MergeResult:
    source: Idea
    target: Idea
    moved_votes: int
    merge_id: int
    #: The source's move to `duplicate`, to announce like any status change.
    change: StatusChange | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A queued status-change notice for a follower's batched DM."""

    id: int
    member_id: int
    idea_number: int
    idea_title: str
    old_status: str
    new_status: str
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ListFilters:
    status: IdeaStatus | None = None
    kind: str | None = None
    tag: str | None = None
    author_id: int | None = None
    include_closed: bool = True
    #: With ``author_id``: whether that author's anonymous ideas are listed (only to them).
    include_anonymous: bool = True
    extra: dict[str, str] = field(default_factory=dict)
    #: Only the ideas answering the challenge with this number.
    challenge: int | None = None
