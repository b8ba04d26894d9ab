"""Contribution points: what each contribution pays, caps, cooldowns, seasons, windows,
role rewards and the innovator score.

Pure: no I/O. The points service asks these functions every question whose answer is a
rule, inside the same write unit as the ledger insert, so a decision and its record can
never disagree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from bot.domain.errors import DomainError
from bot.domain.text import clean_line, has_visible


class AwardKind(StrEnum):
    """Why points moved. Values are stored in the ledger, so never rename them.

    Reversals (a hidden idea) and restorations keep the kind of what they undo, so a
    leaderboard filtered by kind stays right.
    """

    IDEA_SUBMITTED = "idea_submitted"
    VOTE_RECEIVED = "vote_received"
    IDEA_PLANNED = "idea_planned"
    IDEA_IMPLEMENTED = "idea_implemented"
    HELPFUL_ANSWER = "helpful_answer"
    PARTICIPATION = "participation"
    POLICY_FEEDBACK = "policy_feedback"
    CHALLENGE_FINALIST = "challenge_finalist"
    CHALLENGE_WINNER = "challenge_winner"
    ADJUSTMENT = "adjustment"


class CapGroup(StrEnum):
    """Kinds that share one daily cap per member."""

    VOTES = "votes"
    IDEAS = "ideas"
    HELPFUL = "helpful"
    PARTICIPATION = "participation"


#: The daily cap each kind counts against. Milestones (planned, implemented, challenges)
#: are decided by staff, so they are not capped; moderators' adjustments neither.
CAP_GROUP: Final[Mapping[AwardKind, CapGroup]] = {
    AwardKind.VOTE_RECEIVED: CapGroup.VOTES,
    AwardKind.IDEA_SUBMITTED: CapGroup.IDEAS,
    AwardKind.HELPFUL_ANSWER: CapGroup.HELPFUL,
    AwardKind.PARTICIPATION: CapGroup.PARTICIPATION,
    AwardKind.POLICY_FEEDBACK: CapGroup.PARTICIPATION,
}

#: Setting key of each kind's value and each group's cap (all in [guild_defaults]).
VALUE_KEYS: Final[Mapping[AwardKind, str]] = {
    AwardKind.IDEA_SUBMITTED: "points_idea_submitted",
    AwardKind.VOTE_RECEIVED: "points_vote_received",
    AwardKind.IDEA_PLANNED: "points_idea_planned",
    AwardKind.IDEA_IMPLEMENTED: "points_idea_implemented",
    AwardKind.HELPFUL_ANSWER: "points_helpful_answer",
    AwardKind.PARTICIPATION: "points_participation",
    AwardKind.POLICY_FEEDBACK: "points_policy_feedback",
    AwardKind.CHALLENGE_FINALIST: "points_challenge_finalist",
    AwardKind.CHALLENGE_WINNER: "points_challenge_winner",
}
CAP_KEYS: Final[Mapping[CapGroup, str]] = {
    CapGroup.VOTES: "points_cap_votes_daily",
    CapGroup.IDEAS: "points_cap_ideas_daily",
    CapGroup.HELPFUL: "points_cap_helpful_daily",
    CapGroup.PARTICIPATION: "points_cap_participation_daily",
}

#: Leaderboard "kind" filters: a family of ledger kinds members recognise.
KIND_FAMILIES: Final[Mapping[str, frozenset[AwardKind]]] = {
    "ideas": frozenset(
        {AwardKind.IDEA_SUBMITTED, AwardKind.IDEA_PLANNED, AwardKind.IDEA_IMPLEMENTED}
    ),
    "votes": frozenset({AwardKind.VOTE_RECEIVED}),
    "helpful": frozenset({AwardKind.HELPFUL_ANSWER}),
    "participation": frozenset({AwardKind.PARTICIPATION, AwardKind.POLICY_FEEDBACK}),
    "challenges": frozenset({AwardKind.CHALLENGE_FINALIST, AwardKind.CHALLENGE_WINNER}),
    "adjustments": frozenset({AwardKind.ADJUSTMENT}),
}

LABELS: Final[Mapping[AwardKind, str]] = {
    AwardKind.IDEA_SUBMITTED: "idea submitted",
    AwardKind.VOTE_RECEIVED: "vote received",
    AwardKind.IDEA_PLANNED: "idea planned",
    AwardKind.IDEA_IMPLEMENTED: "idea implemented",
    AwardKind.HELPFUL_ANSWER: "helpful answer",
    AwardKind.PARTICIPATION: "participation",
    AwardKind.POLICY_FEEDBACK: "policy feedback",
    AwardKind.CHALLENGE_FINALIST: "challenge finalist",
    AwardKind.CHALLENGE_WINNER: "challenge winner",
    AwardKind.ADJUSTMENT: "adjustment",
}

#: Ledger member id of a forgotten member.
FORGOTTEN: Final = 0
#: The giver→receiver cooldown looks back this far.
PAIR_WINDOW: Final = timedelta(hours=24)
#: The innovator score looks back this far.
INNOVATOR_WINDOW: Final = timedelta(days=365)
REASON_MAX: Final = 200


class RoleBasis(StrEnum):
    """Which total role rewards follow."""

    ALL_TIME = "all_time"
    SEASON = "season"


class Period(StrEnum):
    """Leaderboard periods: rolling windows from the ledger, or maintained totals."""

    WEEK = "week"
    MONTH = "month"
    SEASON = "season"
    ALL = "all"


_WINDOWS: Final[Mapping[Period, timedelta]] = {
    Period.WEEK: timedelta(days=7),
    Period.MONTH: timedelta(days=30),
}


@dataclass(frozen=True, slots=True)
class RoleReward:
    """A role held while a member's total is at least ``threshold``."""

    threshold: int
    role_id: int


@dataclass(frozen=True, slots=True)
class PointsRules:
    """One guild's points settings, typed."""

    values: Mapping[AwardKind, int]
    caps: Mapping[CapGroup, int]
    vote_pair_limit: int = 3
    adjust_max: int = 500
    role_rewards: tuple[RoleReward, ...] = ()
    role_basis: RoleBasis = RoleBasis.ALL_TIME
    exclude_staff: bool = False
    invalid_role_rewards: tuple[str, ...] = field(default=())

    def value(self, kind: AwardKind) -> int:
        """Points ``kind`` pays (0 when the guild turned it off)."""
        return int(self.values.get(kind, 0))

    def cap(self, group: CapGroup | None) -> int:
        """The daily cap of ``group``; 0 means no cap."""
        return 0 if group is None else int(self.caps.get(group, 0))


DEFAULT_VALUES: Final[Mapping[AwardKind, int]] = {
    AwardKind.IDEA_SUBMITTED: 2,
    AwardKind.VOTE_RECEIVED: 1,
    AwardKind.IDEA_PLANNED: 10,
    AwardKind.IDEA_IMPLEMENTED: 50,
    AwardKind.HELPFUL_ANSWER: 5,
    AwardKind.PARTICIPATION: 1,
    AwardKind.POLICY_FEEDBACK: 2,
    AwardKind.CHALLENGE_FINALIST: 25,
    AwardKind.CHALLENGE_WINNER: 100,
}
DEFAULT_CAPS: Final[Mapping[CapGroup, int]] = {
    CapGroup.VOTES: 20,
    CapGroup.IDEAS: 10,
    CapGroup.HELPFUL: 25,
    CapGroup.PARTICIPATION: 10,
}


def rules_from_config(config: Any) -> PointsRules:
    """Build :class:`PointsRules` from a guild's settings (anything indexable by key).

    A malformed role-reward entry is reported in ``invalid_role_rewards`` rather than
    raised: one typo must not stop every award in the guild.
    """
    values = {kind: int(config[key]) for kind, key in VALUE_KEYS.items()}
    caps = {group: int(config[key]) for group, key in CAP_KEYS.items()}
    rewards, invalid = parse_role_rewards(config["points_role_rewards"])
    basis_text = str(config["points_role_basis"]).strip().lower().replace("-", "_")
    basis = RoleBasis(basis_text) if basis_text in set(RoleBasis) else RoleBasis.ALL_TIME
    return PointsRules(
        values=values,
        caps=caps,
        vote_pair_limit=int(config["points_vote_pair_limit"]),
        adjust_max=int(config["points_adjust_max"]),
        role_rewards=rewards,
        role_basis=basis,
        exclude_staff=bool(config["points_exclude_staff"]),
        invalid_role_rewards=invalid,
    )


DEFAULT_RULES: Final = PointsRules(values=DEFAULT_VALUES, caps=DEFAULT_CAPS)

_REWARD = re.compile(r"^\s*(\d{1,9})\s*[:=]\s*(?:<@&)?(\d{15,21})>?\s*$")


def parse_role_reward(text: str) -> RoleReward:
    """Parse ``"50:<role id>"`` (or ``50:<@&id>``) into a :class:`RoleReward`."""
    match = _REWARD.match(text)
    if not match:
        raise DomainError(
            "bad_role_reward",
            f"`{text}` is not a role reward; write `points:role`, e.g. `50:<@&123…>`.",
        )
    return RoleReward(int(match.group(1)), int(match.group(2)))


def parse_role_rewards(items: Iterable[str]) -> tuple[tuple[RoleReward, ...], tuple[str, ...]]:
    """Parse every entry; returns (rewards sorted by threshold, the entries that failed)."""
    rewards: list[RoleReward] = []
    invalid: list[str] = []
    for item in items:
        try:
            rewards.append(parse_role_reward(item))
        except DomainError:
            invalid.append(item)
    return tuple(sorted(set(rewards), key=lambda r: (r.threshold, r.role_id))), tuple(invalid)


def roles_for(total: int, rewards: Iterable[RoleReward]) -> frozenset[int]:
    """Every reward role a member with ``total`` points should hold (they accumulate)."""
    return frozenset(r.role_id for r in rewards if r.threshold > 0 and total >= r.threshold)


def role_changes(
    total: int, rewards: Iterable[RoleReward], current: Iterable[int]
) -> tuple[frozenset[int], frozenset[int]]:
    """(roles to add, roles to remove) so that ``current`` matches ``total``.

    Only reward roles are ever removed: a role a moderator gave by hand stays.
    """
    rewards = tuple(rewards)
    managed = frozenset(r.role_id for r in rewards)
    wanted = roles_for(total, rewards)
    held = frozenset(current) & managed
    return wanted - held, held - wanted


def roles_to_recheck_after_season(rules: PointsRules) -> tuple[int, ...]:
    """Reward roles whose holders may be owed a change once a season starts: every one
    when roles follow season totals (each just went back to 0), none otherwise."""
    if rules.role_basis is not RoleBasis.SEASON:
        return ()
    return tuple(r.role_id for r in rules.role_rewards)


# -- helpful answers -----------------------------------------------------------------------
def may_mark_helpful(marker_id: int, answerer_id: int, *, moderator: bool, asked: bool) -> bool:
    """Whether a ✅ marks an answer helpful: the asker's (who started the thread, or wrote
    the message the answer replies to) or a moderator's; never the answerer's own."""
    return bool(answerer_id) and marker_id != answerer_id and (moderator or asked)


def asker_decides(marker_id: int, answerer_id: int, *, moderator: bool) -> bool:
    """Whether :func:`may_mark_helpful` depends on ``asked``: finding who asked may cost
    Discord requests, so it is looked up only then."""
    return not moderator and bool(answerer_id) and marker_id != answerer_id


def cannot_carry_helpful(answerer_id: int, removed_by: int) -> frozenset[int]:
    """Members whose ✅ cannot carry an answer's award once the ✅ that paid was removed:
    the answerer and whoever removed theirs (no need to look them up)."""
    return frozenset((answerer_id, removed_by))


def carries_helpful(
    marker_id: int, answerer_id: int, removed_by: int, *, moderator: bool, asked: bool
) -> bool:
    """Whether a ✅ still on an answer carries its award once the ✅ that paid was removed:
    one that may mark it helpful, other than the remover's (the first such ✅ carries it)."""
    return marker_id not in cannot_carry_helpful(answerer_id, removed_by) and may_mark_helpful(
        marker_id, answerer_id, moderator=moderator, asked=asked
    )


# -- caps and cooldowns --------------------------------------------------------------------
def capped_delta(delta: int, used_today: int, cap: int) -> int:
    """What may be paid of ``delta`` when ``used_today`` of a daily ``cap`` is spent.

    Positive awards are cut to what the cap has left (possibly 0); a cap of 0 means none;
    negative deltas (reversals) are never capped.
    """
    if cap <= 0 or delta <= 0:
        return delta
    return max(0, min(delta, cap - used_today))


def pair_allows(recent_awards: int, limit: int) -> bool:
    """Whether a giver may pay a receiver once more, after ``recent_awards`` in the window.

    Counts distinct ideas: restoring a vote a member took back is not a new award.
    """
    return limit <= 0 or recent_awards < limit


def day_key(moment: datetime) -> str:
    """The UTC day a cap counter belongs to."""
    return moment.astimezone(UTC).date().isoformat()


# -- votes ------------------------------------------------------------------------------------
def vote_should_pay(standing: int, *, self_vote: bool) -> bool:
    """Whether a vote as it stands pays the idea's author: support, from someone else."""
    return standing > 0 and not self_vote


class VoteAction(StrEnum):
    """What settling a vote pair does: pay the point, take it back, or nothing."""

    PAY = "pay"
    REVOKE = "revoke"
    NONE = "none"


def vote_action(standing: int, paid: int, *, self_vote: bool) -> VoteAction:
    """Bring what a (idea, voter) pair pays in line with the vote as it stands.

    The pair pays at most one point at any time, so any toggle sequence nets 0 or 1.
    """
    should = vote_should_pay(standing, self_vote=self_vote)
    if should and paid <= 0:
        return VoteAction.PAY
    if not should and paid > 0:
        return VoteAction.REVOKE
    return VoteAction.NONE


# -- idea milestones ---------------------------------------------------------------------------
_PLANNED_LIKE: Final = frozenset({"planned", "in_progress", "implemented"})


def milestones_for(new_status: str) -> tuple[AwardKind, ...]:
    """Milestone awards reaching ``new_status`` earns (each paid once per idea and member).

    Reaching in progress or implemented without passing "planned" still earns the planned
    award: the idea was planned, staff just skipped the label.
    """
    kinds: list[AwardKind] = []
    if new_status in _PLANNED_LIKE:
        kinds.append(AwardKind.IDEA_PLANNED)
    if new_status == "implemented":
        kinds.append(AwardKind.IDEA_IMPLEMENTED)
    return tuple(kinds)


# -- adjustments -------------------------------------------------------------------------------
def check_adjustment(delta: int, reason: str, limit: int) -> str:
    """Validate a moderator's adjustment; returns the cleaned reason."""
    cleaned = clean_line(reason)
    if delta == 0:
        raise DomainError("bad_delta", "An adjustment of 0 points changes nothing.")
    if abs(delta) > limit:
        raise DomainError("delta_too_large", f"An adjustment is at most {limit} points either way.")
    if not has_visible(cleaned):
        raise DomainError("reason_required", "Give a reason: members can see their history.")
    if len(cleaned) > REASON_MAX:
        raise DomainError("reason_too_long", f"Keep the reason under {REASON_MAX} characters.")
    return cleaned


# -- leaderboards and seasons ------------------------------------------------------------------
def window_start(period: Period, now: datetime) -> datetime | None:
    """Start of a rolling window (week = 7 days, month = 30), None for totals-based ones."""
    span = _WINDOWS.get(period)
    return None if span is None else now - span


def uses_totals(period: Period, family: str | None) -> bool:
    """Whether a leaderboard reads maintained totals (fast) rather than the ledger."""
    return family is None and period in (Period.SEASON, Period.ALL)


def family_kinds(family: str | None) -> frozenset[AwardKind] | None:
    """The ledger kinds of a leaderboard filter, or None for all kinds."""
    if family is None:
        return None
    try:
        return KIND_FAMILIES[family]
    except KeyError:
        known = ", ".join(KIND_FAMILIES)
        raise DomainError("bad_kind", f"Unknown kind `{family}`; known: {known}.") from None


def next_season(current: int | None) -> int:
    """The number of the season a start opens (the first season is 1, implicitly open)."""
    return (current or 1) + 1


# -- innovator score ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InnovatorScore:
    """One member's innovator score and its parts (the digest and /points innovators)."""

    member_id: int
    implemented: int
    planned: int
    vote_root_sum: float
    engaged: int

    @property
    def score(self) -> float:
        """The total of the four parts (see :func:`innovator_score`)."""
        return innovator_score(self.implemented, self.planned, self.vote_root_sum, self.engaged)


def vote_roots(votes_per_idea: Iterable[int]) -> float:
    """Σ √(votes received) over a member's ideas: many ideas with some support beat one
    idea with a mob behind it."""
    return sum(math.sqrt(max(0, v)) for v in votes_per_idea)


def innovator_score(implemented: int, planned: int, vote_root_sum: float, engaged: int) -> float:
    """10 × implemented + 5 × planned/in progress + Σ√votes + 0.5 × ideas engaged with."""
    return 10 * implemented + 5 * planned + vote_root_sum + 0.5 * engaged


def rank_innovators(scores: Iterable[InnovatorScore], limit: int) -> list[InnovatorScore]:
    """Highest score first; ties broken by implemented, then member id (stable output)."""
    return sorted(
        (s for s in scores if s.score > 0),
        key=lambda s: (-s.score, -s.implemented, s.member_id),
    )[:limit]


def innovator_scores(
    ideas: Iterable[Sequence[Any]], engaged: Mapping[int, int], since: str
) -> list[InnovatorScore]:
    """Fold per-idea rows and engagement counts into each member's score parts.

    ``ideas`` are (author, status, support votes, submitted at, planned at, implemented
    at) with times as sortable ISO text, like ``since``. Implemented counts ideas
    implemented within the window; planned counts ideas now planned or in progress that
    got there within it; votes count ideas submitted within it.
    """
    implemented: dict[int, int] = {}
    planned: dict[int, int] = {}
    votes: dict[int, list[int]] = {}
    for author, status, support, submitted_at, planned_at, implemented_at in ideas:
        author = int(author)
        if status == "implemented" and implemented_at is not None and implemented_at >= since:
            implemented[author] = implemented.get(author, 0) + 1
        if status in ("planned", "in_progress") and planned_at is not None and planned_at >= since:
            planned[author] = planned.get(author, 0) + 1
        if submitted_at >= since:
            votes.setdefault(author, []).append(int(support))
    members = set(implemented) | set(planned) | set(votes) | set(engaged)
    return [
        InnovatorScore(
            member,
            implemented.get(member, 0),
            planned.get(member, 0),
            vote_roots(votes.get(member, [])),
            engaged.get(member, 0),
        )
        for member in members
        if member != FORGOTTEN
    ]
