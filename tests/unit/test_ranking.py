"""Ranking formulas: net votes, trending, Wilson lower bound, and list order."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.domain.errors import DomainError
from bot.domain.ranking import (
    Z_95,
    SortOrder,
    hours_between,
    net_votes,
    parse_sort,
    rank,
    sort_key,
    trending_score,
    wilson_lower_bound,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
votes = st.integers(min_value=0, max_value=100_000)
hours = st.floats(min_value=0, max_value=24 * 365 * 5, allow_nan=False)


@dataclass(frozen=True)
class Row:
    idea_id: int
    support: int = 0
    oppose: int = 0
    votes_last_7d: int = 0
    submitted_at: datetime = NOW


def test_net_votes() -> None:
    assert net_votes(7, 3) == 4
    assert net_votes(0, 2) == -2


class TestTrending:
    def test_formula(self) -> None:
        assert trending_score(0, 0) == pytest.approx(1 / 2**1.5)
        assert trending_score(9, 98) == pytest.approx(10 / 100**1.5)

    def test_negative_age_counts_as_zero(self) -> None:
        assert trending_score(3, -5) == trending_score(3, 0)

    @given(votes, hours, st.floats(min_value=0.01, max_value=1000))
    def test_decreasing_with_age(self, v: int, h: float, more: float) -> None:
        assert trending_score(v, h + more) < trending_score(v, h)

    @given(votes, hours)
    def test_increasing_with_votes(self, v: int, h: float) -> None:
        assert trending_score(v + 1, h) > trending_score(v, h)


class TestWilson:
    def test_no_votes_is_zero(self) -> None:
        assert wilson_lower_bound(0, 0) == 0.0
        assert wilson_lower_bound(0, 857) == 0.0

    def test_known_value(self) -> None:
        # 8 of 10 at 95%: lower bound ≈ 0.4902 (standard Wilson interval).
        assert wilson_lower_bound(8, 2) == pytest.approx(0.4902, abs=1e-4)
        assert pytest.approx(1.96, abs=1e-3) == Z_95

    def test_cautious_with_few_votes(self) -> None:
        assert wilson_lower_bound(9, 1) > wilson_lower_bound(1, 0)
        assert wilson_lower_bound(90, 10) > wilson_lower_bound(9, 1)

    @given(votes, votes)
    def test_within_unit_interval_and_below_the_observed_share(self, s: int, o: int) -> None:
        lb = wilson_lower_bound(s, o)
        assert 0.0 <= lb <= 1.0
        if s + o:
            assert lb <= s / (s + o) + 1e-12

    @given(votes, votes)
    def test_monotonic_in_support(self, s: int, o: int) -> None:
        assume(s + o > 0)
        assert wilson_lower_bound(s + 1, o) >= wilson_lower_bound(s, o)

    @given(votes, votes)
    def test_monotonic_against_oppose(self, s: int, o: int) -> None:
        assert wilson_lower_bound(s, o + 1) <= wilson_lower_bound(s, o)

    @given(votes, votes, st.floats(min_value=0.5, max_value=3.0))
    def test_wider_z_is_more_cautious(self, s: int, o: int, z: float) -> None:
        assume(s + o > 0)
        assert wilson_lower_bound(s, o, z + 0.5) <= wilson_lower_bound(s, o, z) + 1e-12


class TestSorts:
    def test_parse(self) -> None:
        assert parse_sort(" Trending ") is SortOrder.TRENDING
        with pytest.raises(DomainError) as exc:
            parse_sort("hot")
        assert exc.value.code == "bad_sort"

    def test_top_is_net_votes_ties_to_newer(self) -> None:
        old = Row(1, support=5, oppose=1, submitted_at=NOW - timedelta(days=3))
        new = Row(2, support=4, oppose=0, submitted_at=NOW - timedelta(days=1))
        best = Row(3, support=10, oppose=2, submitted_at=NOW - timedelta(days=9))
        worst = Row(4, support=0, oppose=3)
        assert [r.idea_id for r in rank([old, new, best, worst], SortOrder.TOP, NOW)] == [
            3,
            2,
            1,
            4,
        ]

    def test_new(self) -> None:
        rows = [Row(i, submitted_at=NOW - timedelta(hours=h)) for i, h in [(1, 5), (2, 1), (3, 9)]]
        assert [r.idea_id for r in rank(rows, SortOrder.NEW, NOW)] == [2, 1, 3]

    def test_same_instant_ties_break_on_higher_id(self) -> None:
        rows = [Row(1), Row(3), Row(2)]
        assert [r.idea_id for r in rank(rows, SortOrder.NEW, NOW)] == [3, 2, 1]

    def test_trending_prefers_recent_votes_on_recent_ideas(self) -> None:
        fresh = Row(1, votes_last_7d=20, submitted_at=NOW - timedelta(hours=10))
        stale = Row(2, support=500, votes_last_7d=6, submitted_at=NOW - timedelta(days=60))
        quiet = Row(3, submitted_at=NOW - timedelta(hours=1))
        order = [r.idea_id for r in rank([stale, fresh, quiet], SortOrder.TRENDING, NOW)]
        assert order == [1, 3, 2]

    def test_wilson_prefers_confident_support(self) -> None:
        many = Row(1, support=90, oppose=10)
        few = Row(2, support=3, oppose=0)
        split = Row(3, support=30, oppose=70)
        single = Row(4, support=1, oppose=0)
        order = [r.idea_id for r in rank([few, split, single, many], SortOrder.WILSON, NOW)]
        # 90/10 ≈ 0.83, 3/0 ≈ 0.44, 30/70 ≈ 0.22, 1/0 ≈ 0.21
        assert order == [1, 2, 3, 4]

    def test_sort_key_uses_the_given_clock(self) -> None:
        row = Row(1, votes_last_7d=2, submitted_at=NOW - timedelta(hours=4))
        key = sort_key(SortOrder.TRENDING, NOW)(row)
        assert key[0] == pytest.approx(-trending_score(2, 4))
        later = sort_key(SortOrder.TRENDING, NOW + timedelta(hours=10))(row)
        assert later[0] > key[0]

    @given(st.lists(st.tuples(votes, votes), min_size=2, max_size=20))
    def test_top_order_is_non_increasing_in_net_votes(self, pairs: list[tuple[int, int]]) -> None:
        rows = [Row(i, support=s, oppose=o) for i, (s, o) in enumerate(pairs)]
        nets = [net_votes(r.support, r.oppose) for r in rank(rows, SortOrder.TOP, NOW)]
        assert nets == sorted(nets, reverse=True)


def test_hours_between() -> None:
    assert hours_between(NOW, NOW + timedelta(minutes=90)) == 1.5
    assert math.isclose(hours_between(NOW, NOW - timedelta(hours=2)), -2.0)
