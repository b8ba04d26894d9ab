"""DM batching: at most one DM per member per hour; the author hears at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.ideas import IdeaStatus
from bot.domain.notify import DM_INTERVAL, DmPlan, PendingNotice, dm_allowed_at, plan_dms

NOW = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
S = IdeaStatus


def notice(
    member: int,
    idea: int,
    minutes_ago: float,
    *,
    author: bool = False,
    new: IdeaStatus = S.PLANNED,
) -> PendingNotice:
    return PendingNotice(
        member_id=member,
        idea_id=idea,
        old_status=S.UNDER_REVIEW,
        new_status=new,
        reason=None,
        at=NOW - timedelta(minutes=minutes_ago),
        for_author=author,
    )


def test_interval_is_one_hour() -> None:
    assert timedelta(hours=1) == DM_INTERVAL


def test_nothing_pending() -> None:
    assert plan_dms([], {1: NOW}, NOW) == DmPlan(send={}, waiting={}, next_due=None)


def test_never_dmed_follower_gets_one_dm_with_everything_oldest_first() -> None:
    a, b, c = notice(1, 10, 5), notice(1, 11, 30), notice(1, 10, 1, new=S.IN_PROGRESS)
    plan = plan_dms([a, b, c], {}, NOW)
    assert plan.send == {1: [b, a, c]}
    assert plan.waiting == {} and plan.next_due is None


def test_follower_dmed_recently_waits_until_the_hour_is_up() -> None:
    last = NOW - timedelta(minutes=20)
    plan = plan_dms([notice(1, 10, 2)], {1: last}, NOW)
    assert plan.send == {}
    assert plan.waiting == {1: last + DM_INTERVAL}
    assert plan.next_due == last + DM_INTERVAL


def test_exactly_one_hour_later_is_allowed() -> None:
    plan = plan_dms([notice(1, 10, 2)], {1: NOW - DM_INTERVAL}, NOW)
    assert list(plan.send) == [1]


def test_author_notice_is_immediate_and_carries_the_batched_ones() -> None:
    follower_change = notice(1, 10, 40)
    own_change = notice(1, 99, 1, author=True)
    plan = plan_dms([own_change, follower_change], {1: NOW - timedelta(minutes=5)}, NOW)
    assert plan.send == {1: [follower_change, own_change]}
    assert plan.waiting == {}


def test_several_changes_to_the_authors_idea_coalesce_into_one_dm() -> None:
    first = notice(7, 5, 3, author=True, new=S.UNDER_REVIEW)
    second = notice(7, 5, 2, author=True, new=S.PLANNED)
    plan = plan_dms([second, first], {7: NOW - timedelta(minutes=1)}, NOW)
    assert plan.send == {7: [first, second]}


def test_members_are_planned_independently() -> None:
    last_2 = NOW - timedelta(minutes=50)
    last_3 = NOW - timedelta(minutes=10)
    pending = [notice(1, 10, 1), notice(2, 10, 1), notice(3, 10, 1), notice(4, 10, 1, author=True)]
    plan = plan_dms(pending, {2: last_2, 3: last_3, 4: NOW}, NOW)
    assert set(plan.send) == {1, 4}
    assert plan.waiting == {2: last_2 + DM_INTERVAL, 3: last_3 + DM_INTERVAL}
    assert plan.next_due == last_2 + DM_INTERVAL


def test_custom_interval() -> None:
    last = NOW - timedelta(minutes=20)
    assert list(plan_dms([notice(1, 1, 1)], {1: last}, NOW, interval=timedelta(minutes=15)).send)
    assert dm_allowed_at(last, NOW, timedelta(minutes=30)) == last + timedelta(minutes=30)
    assert dm_allowed_at(None, NOW) == NOW


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_dms([notice(1, 1, 1)], {}, NOW.replace(tzinfo=None))
    naive = PendingNotice(1, 1, S.NEW, S.PLANNED, None, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="aware"):
        plan_dms([naive], {}, NOW)


_notices = st.lists(
    st.builds(
        notice,
        member=st.integers(min_value=1, max_value=6),
        idea=st.integers(min_value=1, max_value=20),
        minutes_ago=st.floats(min_value=0, max_value=600),
        author=st.booleans(),
    ),
    max_size=40,
)
_last = st.dictionaries(
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=180).map(lambda m: NOW - timedelta(minutes=m)),
)


@given(_notices, _last)
def test_properties(pending: list[PendingNotice], last: dict[int, datetime]) -> None:
    plan = plan_dms(pending, last, NOW)
    members = {n.member_id for n in pending}
    # Every member with something pending is either sent to now or told when: never both.
    assert set(plan.send) | set(plan.waiting) == members
    assert not set(plan.send) & set(plan.waiting)
    for member, notices in plan.send.items():
        # One DM carries every pending notice of that member, oldest first.
        assert sorted(map(id, notices)) == sorted(id(n) for n in pending if n.member_id == member)
        assert [n.at for n in notices] == sorted(n.at for n in notices)
        # The hourly limit holds unless the member authored one of the changed ideas.
        recent = member in last and NOW - last[member] < DM_INTERVAL
        assert not recent or any(n.for_author for n in notices)
    for member, due in plan.waiting.items():
        assert due > NOW and due == last[member] + DM_INTERVAL
        assert not any(n.for_author for n in pending if n.member_id == member)
    assert plan.next_due == (min(plan.waiting.values()) if plan.waiting else None)
