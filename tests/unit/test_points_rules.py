"""The pure points rules: values, caps, cooldowns, votes, milestones, adjustments, role
rewards, windows and the innovator score (with a worked example)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import DomainError
from bot.domain.points import (
    CAP_GROUP,
    DEFAULT_RULES,
    AwardKind,
    CapGroup,
    InnovatorScore,
    Period,
    PointsRules,
    RoleBasis,
    RoleReward,
    VoteAction,
    asker_decides,
    cannot_carry_helpful,
    capped_delta,
    carries_helpful,
    check_adjustment,
    day_key,
    family_kinds,
    innovator_score,
    innovator_scores,
    may_mark_helpful,
    milestones_for,
    next_season,
    pair_allows,
    parse_role_reward,
    parse_role_rewards,
    rank_innovators,
    role_changes,
    roles_for,
    roles_to_recheck_after_season,
    rules_from_config,
    uses_totals,
    vote_action,
    vote_roots,
    window_start,
)
from bot.settings import load_settings

ROLE_A, ROLE_B = 111111111111111111, 222222222222222222


def test_defaults_in_config_match_the_issue() -> None:
    rules = rules_from_config(load_settings(environ={}).guild_defaults)
    assert rules.values == DEFAULT_RULES.values
    assert rules.value(AwardKind.IDEA_SUBMITTED) == 2
    assert rules.value(AwardKind.VOTE_RECEIVED) == 1
    assert rules.value(AwardKind.IDEA_PLANNED) == 10
    assert rules.value(AwardKind.IDEA_IMPLEMENTED) == 50
    assert rules.value(AwardKind.HELPFUL_ANSWER) == 5
    assert rules.value(AwardKind.PARTICIPATION) == 1
    assert rules.value(AwardKind.POLICY_FEEDBACK) == 2
    assert rules.value(AwardKind.CHALLENGE_FINALIST) == 25
    assert rules.value(AwardKind.CHALLENGE_WINNER) == 100
    assert rules.cap(CapGroup.VOTES) == 20 and rules.cap(CapGroup.PARTICIPATION) == 10
    assert rules.vote_pair_limit == 3 and rules.adjust_max == 500
    assert rules.role_basis is RoleBasis.ALL_TIME and not rules.exclude_staff
    assert rules.role_rewards == ()


def test_config_overrides_and_bad_entries() -> None:
    config = dict(load_settings(environ={}).guild_defaults)
    config.update(
        points_vote_received=3,
        points_role_rewards=[f"250:<@&{ROLE_B}>", f"50:{ROLE_A}", "lots:of points"],
        points_role_basis="Season",
    )
    rules = rules_from_config(config)
    assert rules.value(AwardKind.VOTE_RECEIVED) == 3
    assert rules.role_rewards == (RoleReward(50, ROLE_A), RoleReward(250, ROLE_B))
    assert rules.invalid_role_rewards == ("lots:of points",)
    assert rules.role_basis is RoleBasis.SEASON
    config["points_role_basis"] = "weekly"  # unknown: the safe default, not a crash
    assert rules_from_config(config).role_basis is RoleBasis.ALL_TIME


def test_every_kind_with_a_value_has_a_setting_and_caps_cover_farmable_kinds() -> None:
    config = load_settings(environ={}).guild_defaults
    for key in ("points_cap_votes_daily", "points_cap_participation_daily"):
        assert key in config
    assert CAP_GROUP[AwardKind.VOTE_RECEIVED] is CapGroup.VOTES
    assert CAP_GROUP[AwardKind.PARTICIPATION] is CAP_GROUP[AwardKind.POLICY_FEEDBACK]
    assert AwardKind.IDEA_IMPLEMENTED not in CAP_GROUP  # outcomes are never capped
    assert AwardKind.ADJUSTMENT not in CAP_GROUP


@pytest.mark.parametrize(
    ("delta", "used", "cap", "expected"),
    [
        (1, 0, 20, 1),
        (1, 19, 20, 1),
        (1, 20, 20, 0),
        (2, 9, 10, 1),  # cut to what is left, not refused
        (5, 30, 20, 0),  # already over (cap lowered meanwhile)
        (3, 100, 0, 3),  # 0 = no cap
        (-1, 20, 20, -1),  # reversals are never capped
    ],
)
def test_capped_delta(delta: int, used: int, cap: int, expected: int) -> None:
    assert capped_delta(delta, used, cap) == expected


@given(
    deltas=st.lists(st.integers(min_value=1, max_value=10), max_size=40),
    cap=st.integers(min_value=1, max_value=50),
)
def test_a_day_of_capped_awards_never_passes_the_cap(deltas: list[int], cap: int) -> None:
    used = 0
    for delta in deltas:
        granted = capped_delta(delta, used, cap)
        assert 0 <= granted <= delta
        used += granted
    assert used <= cap
    assert used == min(cap, sum(deltas))


def test_pair_cooldown() -> None:
    assert pair_allows(0, 3) and pair_allows(2, 3)
    assert not pair_allows(3, 3)
    assert pair_allows(99, 0)  # 0 = no limit


def test_vote_actions_follow_the_vote_as_it_stands() -> None:
    assert vote_action(1, 0, self_vote=False) is VoteAction.PAY
    assert vote_action(1, 1, self_vote=False) is VoteAction.NONE
    assert vote_action(0, 1, self_vote=False) is VoteAction.REVOKE
    assert vote_action(-1, 1, self_vote=False) is VoteAction.REVOKE  # switched to oppose
    assert vote_action(-1, 0, self_vote=False) is VoteAction.NONE  # oppose pays nothing
    assert vote_action(1, 0, self_vote=True) is VoteAction.NONE  # self votes pay nothing
    assert vote_action(0, 0, self_vote=False) is VoteAction.NONE


@given(st.lists(st.sampled_from([1, 0, -1]), max_size=60))
def test_any_toggle_sequence_pays_at_most_one_award(standings: list[int]) -> None:
    paid, net = 0, 0
    for standing in standings:
        action = vote_action(standing, paid, self_vote=False)
        if action is VoteAction.PAY:
            paid, net = 1, net + 1
        elif action is VoteAction.REVOKE:
            paid, net = 0, net - 1
        assert net in (0, 1) and net == paid
    assert net == (1 if standings and standings[-1] == 1 else 0)


def test_milestones() -> None:
    assert milestones_for("planned") == (AwardKind.IDEA_PLANNED,)
    assert milestones_for("in_progress") == (AwardKind.IDEA_PLANNED,)
    assert milestones_for("implemented") == (AwardKind.IDEA_PLANNED, AwardKind.IDEA_IMPLEMENTED)
    assert milestones_for("declined") == ()
    assert milestones_for("under_review") == ()


def test_adjustment_rules() -> None:
    assert check_adjustment(-500, "  Spam   cleanup ", 500) == "Spam cleanup"
    for delta, reason, code in (
        (501, "too much", "delta_too_large"),
        (-501, "too much", "delta_too_large"),
        (0, "nothing", "bad_delta"),
        (5, "   ", "reason_required"),
        (5, "x" * 201, "reason_too_long"),
    ):
        with pytest.raises(DomainError) as caught:
            check_adjustment(delta, reason, 500)
        assert caught.value.code == code


def test_role_rewards_accumulate_and_only_reward_roles_are_removed() -> None:
    rewards = parse_role_rewards([f"250:{ROLE_B}", f"50:<@&{ROLE_A}>"])[0]
    assert roles_for(49, rewards) == frozenset()
    assert roles_for(50, rewards) == {ROLE_A}
    assert roles_for(300, rewards) == {ROLE_A, ROLE_B}
    other_role = 333333333333333333
    add, remove = role_changes(60, rewards, [other_role, ROLE_B])
    assert add == {ROLE_A} and remove == {ROLE_B}  # the hand-given other role stays
    assert role_changes(300, rewards, [ROLE_A, ROLE_B]) == (frozenset(), frozenset())
    with pytest.raises(DomainError):
        parse_role_reward("fifty:123")


def test_windows_and_periods() -> None:
    now = datetime(2026, 5, 20, 12, tzinfo=UTC)
    assert window_start(Period.WEEK, now) == now - timedelta(days=7)
    assert window_start(Period.MONTH, now) == now - timedelta(days=30)
    assert window_start(Period.ALL, now) is None
    assert uses_totals(Period.ALL, None) and uses_totals(Period.SEASON, None)
    assert not uses_totals(Period.WEEK, None) and not uses_totals(Period.ALL, "votes")
    assert family_kinds(None) is None
    assert family_kinds("participation") == {AwardKind.PARTICIPATION, AwardKind.POLICY_FEEDBACK}
    with pytest.raises(DomainError):
        family_kinds("karma")
    assert day_key(datetime(2026, 5, 20, 23, 30, tzinfo=UTC)) == "2026-05-20"
    assert next_season(None) == 2 and next_season(4) == 5


def test_innovator_score_worked_example() -> None:
    """Ada, over the last 365 days: 2 ideas implemented, 1 planned (another in progress
    counts the same), ideas that received 9, 4, 0 and 1 support votes, and 3 other
    members' ideas voted on or discussed:

        10 × 2 + 5 × 2 + (√9 + √4 + √0 + √1) + 0.5 × 3 = 20 + 10 + 6 + 1.5 = 37.5
    """
    roots = vote_roots([9, 4, 0, 1])
    assert roots == 6
    ada = InnovatorScore(member_id=1, implemented=2, planned=2, vote_root_sum=roots, engaged=3)
    assert ada.score == 37.5
    assert innovator_score(0, 0, math.sqrt(2), 0) == pytest.approx(1.41421356)


def test_innovator_scores_fold_the_window_exactly() -> None:
    since = "2025-06-01T00:00:00.000000+00:00"
    inside, before = "2026-01-10T00:00:00.000000+00:00", "2025-01-10T00:00:00.000000+00:00"
    ideas = [
        # author, status, support votes, submitted, planned at, implemented at
        (1, "implemented", 9, inside, inside, inside),
        (1, "implemented", 4, before, before, inside),  # shipped in the window: counts
        (1, "in_progress", 0, inside, inside, None),
        (1, "planned", 1, inside, inside, None),
        (1, "planned", 16, before, before, None),  # planned before the window: no
        (1, "declined", 25, before, None, None),  # outside the window: no votes either
        (2, "new", 4, inside, None, None),
    ]
    scores = {s.member_id: s for s in innovator_scores(ideas, {1: 3, 3: 2}, since)}
    ada = scores[1]
    assert (ada.implemented, ada.planned, ada.engaged) == (2, 2, 3)
    assert ada.vote_root_sum == 3 + 0 + 1  # √9 + √0 + √1 (ideas submitted in the window)
    assert ada.score == 10 * 2 + 5 * 2 + 4 + 1.5
    assert scores[2].score == 2 and scores[3].score == 1
    ranked = rank_innovators(scores.values(), 2)
    assert [s.member_id for s in ranked] == [1, 2]


ASKER, ANSWERER, MOD, OTHER = 1, 2, 3, 4


def test_only_the_asker_or_a_moderator_marks_an_answer_helpful() -> None:
    assert may_mark_helpful(ASKER, ANSWERER, moderator=False, asked=True)
    assert may_mark_helpful(MOD, ANSWERER, moderator=True, asked=False)
    assert not may_mark_helpful(OTHER, ANSWERER, moderator=False, asked=False)
    # Never one's own answer, not even a moderator's or an asker answering themselves.
    assert not may_mark_helpful(ANSWERER, ANSWERER, moderator=True, asked=True)
    # A forgotten answerer (id 0) is paid nothing.
    assert not may_mark_helpful(MOD, 0, moderator=True, asked=False)


def test_who_asked_is_looked_up_only_when_it_decides() -> None:
    assert asker_decides(OTHER, ANSWERER, moderator=False)
    assert not asker_decides(MOD, ANSWERER, moderator=True)  # a moderator qualifies anyway
    assert not asker_decides(ANSWERER, ANSWERER, moderator=False)  # never qualifies
    assert not asker_decides(OTHER, 0, moderator=False)
    for marker in (ASKER, MOD, OTHER, ANSWERER):
        for moderator in (False, True):
            if not asker_decides(marker, ANSWERER, moderator=moderator):
                # Then `asked` cannot change the answer.
                assert may_mark_helpful(
                    marker, ANSWERER, moderator=moderator, asked=True
                ) == may_mark_helpful(marker, ANSWERER, moderator=moderator, asked=False)


def test_a_remaining_qualifying_check_mark_carries_the_award() -> None:
    removed_by = ASKER
    assert cannot_carry_helpful(ANSWERER, removed_by) == {ANSWERER, ASKER}
    assert carries_helpful(MOD, ANSWERER, removed_by, moderator=True, asked=False)
    assert not carries_helpful(OTHER, ANSWERER, removed_by, moderator=False, asked=False)
    # The remover's own ✅ (were it still listed) and the answerer's never carry it.
    assert not carries_helpful(ASKER, ANSWERER, removed_by, moderator=True, asked=True)
    assert not carries_helpful(ANSWERER, ANSWERER, removed_by, moderator=True, asked=True)
    # A moderator removed theirs: the asker's ✅ still on the answer carries it.
    assert carries_helpful(ASKER, ANSWERER, MOD, moderator=False, asked=True)


def test_a_season_start_rechecks_reward_roles_only_when_they_follow_the_season() -> None:
    rewards = (RoleReward(3, ROLE_A), RoleReward(50, ROLE_B))
    all_time = PointsRules(values={}, caps={}, role_rewards=rewards)
    season = PointsRules(values={}, caps={}, role_rewards=rewards, role_basis=RoleBasis.SEASON)
    assert roles_to_recheck_after_season(all_time) == ()
    assert roles_to_recheck_after_season(season) == (ROLE_A, ROLE_B)
    assert roles_to_recheck_after_season(DEFAULT_RULES) == ()
