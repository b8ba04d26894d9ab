"""Ranking formulas for idea lists: top, new, trending and the Wilson lower bound.

The storage layer may sort in SQL for pagination; these functions are the definition its
queries must agree with (and what in-memory fakes use).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from bot.domain.errors import DomainError

# z for a two-sided 95% interval.
Z_95 = 1.959963984540054


class SortOrder(StrEnum):
    """The sorts `/idea list` offers."""

    TOP = "top"
    NEW = "new"
    TRENDING = "trending"
    WILSON = "wilson"


class Rankable(Protocol):
    """What a sort needs to know about an idea (any object with these attributes)."""

    @property
    def idea_id(self) -> int: ...
    @property
    def support(self) -> int: ...
    @property
    def oppose(self) -> int: ...
    @property
    def votes_last_7d(self) -> int: ...
    @property
    def submitted_at(self) -> datetime: ...


def parse_sort(value: str) -> SortOrder:
    """Read a sort name as typed in a command option."""
    try:
        return SortOrder(value.strip().lower())
    except ValueError:
        options = ", ".join(f"`{s.value}`" for s in SortOrder)
        raise DomainError("bad_sort", f"Sort by one of {options}.") from None


def net_votes(support: int, oppose: int) -> int:
    """Support minus oppose: the `top` sort."""
    return support - oppose


def trending_score(votes_last_7d: int, hours_since_submitted: float) -> float:
    """``(votes in the last 7 days + 1) / (hours since submitted + 2) ** 1.5``.

    The +1 lets a brand-new idea with no votes appear above stale ones; the +2 keeps the
    first hours from dominating. A negative age (clock skew between hosts) counts as zero.
    """
    hours = max(0.0, hours_since_submitted)
    return (max(0, votes_last_7d) + 1) / (hours + 2.0) ** 1.5


def wilson_lower_bound(support: int, oppose: int, z: float = Z_95) -> float:
    """Lower bound of the Wilson score interval for the support share (0 when no votes).

    Ranks "9 of 10 support" above "1 of 1": the bound is cautious with few votes.
    """
    n = support + oppose
    if n <= 0 or support <= 0:
        # Exactly 0 (the formula gives 0 too, give or take a rounding error).
        return 0.0
    p = support / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt((p * (1 - p) + z2 / (4 * n)) / n)
    # Clamp: rounding can push the bound a hair outside [0, 1].
    return min(1.0, max(0.0, (centre - margin) / (1 + z2 / n)))


def hours_between(earlier: datetime, later: datetime) -> float:
    """Hours from ``earlier`` to ``later`` (both aware)."""
    return (later - earlier).total_seconds() / 3600.0


SortKey = tuple[float, ...]
R = TypeVar("R", bound=Rankable)


def sort_key(sort: SortOrder, now: datetime) -> Callable[[Rankable], SortKey]:
    """A key for ``sorted``: best first in ascending order; ties go to the newer idea.

    ``now`` fixes the clock for trending so one listing is ranked consistently.
    """

    def newest(item: Rankable) -> SortKey:
        return (-item.submitted_at.timestamp(), -item.idea_id)

    if sort is SortOrder.NEW:
        return newest
    if sort is SortOrder.TOP:
        return lambda item: (-net_votes(item.support, item.oppose), *newest(item))
    if sort is SortOrder.TRENDING:
        return lambda item: (
            -trending_score(item.votes_last_7d, hours_between(item.submitted_at, now)),
            *newest(item),
        )
    return lambda item: (
        -wilson_lower_bound(item.support, item.oppose),
        -net_votes(item.support, item.oppose),
        *newest(item),
    )


def rank(items: Iterable[R], sort: SortOrder, now: datetime) -> list[R]:
    """Return ``items`` ordered for ``sort`` (a new list)."""
    return sorted(items, key=sort_key(sort, now))
