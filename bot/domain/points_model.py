"""What the points feature hands from services to cogs and renderers: plain records.

Cogs and renderers read these, never a service module's internals, so the service can be
rearranged without touching Discord code (ideas keep theirs in ``idea_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from bot.domain.points import LABELS, AwardKind, Period

AwardStatus = Literal["awarded", "capped", "duplicate", "skipped"]


class AwardResult(NamedTuple):
    """What one award did. ``delta`` is what was paid; ``withheld`` what a cap kept back.

    A named tuple: thousands are built per second on the award path, and a frozen
    dataclass costs several times more to construct.
    """

    status: AwardStatus
    member_id: int
    delta: int = 0
    withheld: int = 0
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger entry as members and moderators see it."""

    id: int
    delta: int
    kind: str
    reason: str
    source_kind: str
    source_id: int | None
    actor_id: int | None
    withheld: int
    created_at: datetime

    @property
    def label(self) -> str:
        """The kind in words (unknown kinds as stored)."""
        try:
            return LABELS[AwardKind(self.kind)]
        except ValueError:
            return self.kind


@dataclass(frozen=True, slots=True)
class MemberPoints:
    """What ``/points show`` tells: totals, rank and the latest entries."""

    member_id: int
    all_time: int
    season: int
    season_no: int
    rank: int | None
    recent: list[LedgerEntry]


@dataclass(frozen=True, slots=True)
class LeaderboardPage:
    """One page of a leaderboard; ``has_next`` says whether another follows."""

    period: Period
    family: str | None
    page: int
    per_page: int
    rows: list[tuple[int, int, int]]  # (rank, member id, points)
    has_next: bool
    season_no: int


@dataclass(frozen=True, slots=True)
class SeasonStart:
    """The outcome of starting a season: numbers, archived members, the top 3.

    ``recheck_roles`` are the reward roles whose holders may now be owed a change (when
    roles follow season totals, every one of them just went back to 0).
    """

    closed: int
    opened: int
    archived: int
    top: list[tuple[int, int]]
    recheck_roles: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleChange:
    """The reward roles to give a member and to take from them (role ids, sorted)."""

    member_id: int
    add: tuple[int, ...]
    remove: tuple[int, ...]


class HelpfulMarker(NamedTuple):
    """Someone whose ✅ is on an answer: who, and whether they moderate the guild."""

    member_id: int
    moderator: bool
