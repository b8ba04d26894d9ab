"""When to DM whom about idea status changes.

Mass DMs look like spam to Discord, so followers who opted in get at most one DM per hour,
listing every change since their last one. The author of an idea hears about a change to it
at once; that DM also carries anything else pending for them, so nobody gets two DMs where
one would do.

Pure: the caller loads pending notices and last-DM times, sends ``plan.send``, records the
send times, and wakes up again at ``plan.next_due``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bot.domain.ideas import IdeaStatus

DM_INTERVAL: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PendingNotice:
    """One status change waiting to be told to one member.

    ``for_author`` marks the idea's author's own notice: it is sent immediately.
    """

    member_id: int
    idea_id: int
    old_status: IdeaStatus
    new_status: IdeaStatus
    reason: str | None
    at: datetime
    for_author: bool = False


@dataclass(frozen=True, slots=True)
class DmPlan:
    """What to send now and what waits.

    ``send`` maps member → every pending notice for them, oldest first (one DM each).
    ``waiting`` maps member → the earliest time their batched DM may go out.
    ``next_due`` is the earliest of those times (None when nobody waits).
    """

    send: dict[int, list[PendingNotice]]
    waiting: dict[int, datetime]
    next_due: datetime | None


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")


def dm_allowed_at(
    last_dm_at: datetime | None, now: datetime, interval: timedelta = DM_INTERVAL
) -> datetime:
    """The earliest moment a batched DM may go to a member last DMed at ``last_dm_at``."""
    if last_dm_at is None:
        return now
    return max(now, last_dm_at + interval)


def plan_dms(
    pending: Iterable[PendingNotice],
    last_dm_at: Mapping[int, datetime],
    now: datetime,
    *,
    interval: timedelta = DM_INTERVAL,
) -> DmPlan:
    """Decide who gets a DM now and who waits until when.

    A member gets a DM now when one of their notices is for an idea they authored, or when
    their last DM (``last_dm_at``; absent = never) is at least ``interval`` ago. Either way
    the DM lists all their pending notices, oldest first.
    """
    _require_aware("now", now)
    by_member: dict[int, list[PendingNotice]] = {}
    for notice in pending:
        _require_aware("PendingNotice.at", notice.at)
        by_member.setdefault(notice.member_id, []).append(notice)

    send: dict[int, list[PendingNotice]] = {}
    waiting: dict[int, datetime] = {}
    for member_id, notices in by_member.items():
        last = last_dm_at.get(member_id)
        if last is not None:
            _require_aware("last_dm_at", last)
        due = dm_allowed_at(last, now, interval)
        if due <= now or any(n.for_author for n in notices):
            # Stable sort: same-instant notices keep the order they were recorded in.
            send[member_id] = sorted(notices, key=lambda n: n.at)
        else:
            waiting[member_id] = due
    return DmPlan(send=send, waiting=waiting, next_due=min(waiting.values(), default=None))
