"""What the digests feature hands from services to cogs and renderers: plain records.

A digest is built from *sections*. Each section comes from a provider registered with
``DigestService.register_section`` (ideas, points and the headline here; polls and policy
register theirs when they are merged), so the digest knows no feature's tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RunKind(StrEnum):
    SCHEDULED = "scheduled"  # one per (guild, period): the uniqueness key
    EXTRA = "extra"  # /digest now: the period so far, never counted as the scheduled one


class RunStatus(StrEnum):
    PENDING = "pending"  # recorded, its publication not finished yet
    DRAFT = "draft"  # annotate before publish: waiting for staff (auto-publish armed)
    HELD = "held"  # a staff member held the draft: no auto-publish
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    SKIPPED = "skipped"  # a period missed during downtime, older than the one posted late
    NO_CHANNEL = "no_channel"  # nowhere to post (no digest or staff channel set)


@dataclass(frozen=True, slots=True)
class Period:
    """A digest's window ``[start, end)`` (aware datetimes, UTC)."""

    start: datetime
    end: datetime

    @property
    def length(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One part of a digest, as a provider returns it.

    ``lines`` are ready-to-show Markdown lines (no mentions are pinged: the renderer posts
    with mentions disabled). ``metrics`` are headline numbers (name → value) the headline
    compares with the previous period; ``participants`` are member ids counted as active
    contributors; ``more`` points to where the full list lives (an ``/idea list`` filter).
    """

    key: str
    title: str
    lines: tuple[str, ...] = ()
    metrics: Mapping[str, int] = field(default_factory=dict)
    participants: frozenset[int] = frozenset()
    more: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """A built digest: what the renderer shows, in order."""

    guild_id: int
    period: Period
    schedule_label: str
    sections: tuple[DigestSection, ...]
    #: The chart's data: per period (oldest first) its label, activity and ideas by status.
    chart: tuple[ChartPoint, ...] = ()
    note: str | None = None
    late: bool = False
    extra: bool = False
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class ChartPoint:
    label: str
    activity: int
    by_status: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class DigestRun:
    """A row of ``digest_runs``: a period's digest and what became of it."""

    id: int
    guild_id: int
    kind: RunKind
    period: Period
    status: RunStatus
    late: bool
    note: str | None
    channel_id: int | None
    draft_message_id: int | None
    message_ids: tuple[int, ...]
    created_at: datetime
    published_at: datetime | None
    actor_id: int | None


@dataclass(frozen=True, slots=True)
class IdeaRow:
    """An idea as a digest lists it."""

    number: int
    title: str
    author_id: int
    status: str
    support: int
    reason: str | None = None
    gained: int = 0


@dataclass(frozen=True, slots=True)
class IdeaTimes:
    """Seconds from submission to first response and to decision (None: not yet), for
    ideas submitted in a window; ``age`` is seconds from submission to the window's end."""

    to_response: float | None
    to_decision: float | None
    age: float


@dataclass(frozen=True, slots=True)
class SpanStats:
    """Responsiveness of the ideas submitted in a window (hidden and withdrawn ones left
    out), as the store computes it: ``answered`` within the response target, ``counted``
    by the response rate (answered, or past their target unanswered), and the median
    seconds to first response and to decision (None: no idea has one)."""

    submitted: int
    answered: int
    counted: int
    median_response: float | None
    median_decision: float | None
