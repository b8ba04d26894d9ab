"""``PointsService``: the one entry point of the points feature (see the package docs)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Collection, Container, Iterable
from datetime import datetime
from typing import Literal

from bot.domain.points import AwardKind, InnovatorScore, Period, PointsRules
from bot.domain.points_model import (
    AwardResult,
    HelpfulMarker,
    LeaderboardPage,
    LedgerEntry,
    MemberPoints,
    RoleChange,
    SeasonStart,
)
from bot.services.guild_settings import GuildSettingsService
from bot.services.points.awards import DirectAwards
from bot.services.points.ledger import Changed
from bot.services.points.pipeline import AwardPipeline, PlannedAward
from bot.services.points.projector import OutboxProjector
from bot.services.points.queries import PointsQueries
from bot.services.points.rules import RulesCache
from bot.storage import Tx
from bot.storage.database import Database


class PointsService:
    """Awards, queries and the outbox consumer of the points feature.

    A façade: each method hands over to the collaborator that does that job, so callers
    see one service while each job stays small enough to read on its own.
    """

    def __init__(
        self,
        db: Database,
        guild_settings: GuildSettingsService,
        clock: Callable[[], datetime],
    ) -> None:
        self._rules = RulesCache(guild_settings)
        self._pipeline = AwardPipeline(db, self._rules, clock)
        self._awards = DirectAwards(db, self._rules, self._pipeline, clock)
        self._projector = OutboxProjector(db, self._rules, clock)
        self._queries = PointsQueries(db, self._rules, clock)
        #: Set by :meth:`notify`; the consumer task waits on it (with a fallback poll).
        self.wakeup = self._projector.wakeup

    # -- settings --------------------------------------------------------------------------
    async def rules(self, guild_id: int) -> PointsRules:
        """The guild's points rules (rebuilt only when its settings changed)."""
        return await self._rules.get(guild_id)

    # -- awards ----------------------------------------------------------------------------
    async def award(
        self,
        guild_id: int,
        member_id: int,
        kind: AwardKind,
        *,
        key: str,
        source_kind: str,
        source_id: int | None,
        reason: str,
        actor_id: int | None = None,
        points: int | None = None,
    ) -> AwardResult:
        """Award ``kind``'s points (or ``points``) once per ``key``; caps apply.

        Returns once the award is committed; awards made at the same moment share one
        write unit. Nobody awards themselves: an award whose actor is the recipient is
        skipped.
        """
        return await self._pipeline.award(
            guild_id,
            member_id,
            kind,
            key=key,
            source_kind=source_kind,
            source_id=source_id,
            reason=reason,
            actor_id=actor_id,
            points=points,
        )

    async def mark_helpful(
        self,
        guild_id: int,
        message_id: int,
        answerer_id: int,
        marker: HelpfulMarker,
        askers: Callable[[], AsyncIterable[int]],
    ) -> AwardResult:
        """A ✅ on an answer in a help channel: pays the answerer when the asker or a
        moderator marked it. ``askers()`` (who asked) is read lazily, only when needed."""
        return await self._awards.mark_helpful(guild_id, message_id, answerer_id, marker, askers)

    async def unmark_helpful(
        self,
        guild_id: int,
        message_id: int,
        *,
        removed_by: int | None,
        markers: Callable[[Collection[int]], AsyncIterable[HelpfulMarker]],
        askers: Callable[[], AsyncIterable[int]],
    ) -> AwardResult | None:
        """A ✅ left an answer: takes back what it paid, then lets the first qualifying ✅
        still on the answer carry the award. None when that ✅ had not paid."""
        return await self._awards.unmark_helpful(
            guild_id, message_id, removed_by=removed_by, markers=markers, askers=askers
        )

    async def award_helpful(
        self, guild_id: int, answerer_id: int, message_id: int, *, actor_id: int
    ) -> AwardResult:
        """Pay for a helpful answer, once at a time per message (no eligibility check:
        :meth:`mark_helpful` is the ✅ use case)."""
        return await self._awards.award_helpful(
            guild_id, answerer_id, message_id, actor_id=actor_id
        )

    async def revoke_helpful(
        self, guild_id: int, message_id: int, *, actor_id: int | None
    ) -> AwardResult | None:
        """Take back an answer's standing payment if ``actor_id``'s ✅ made it (None:
        whoever's did)."""
        return await self._awards.revoke_helpful(guild_id, message_id, actor_id=actor_id)

    async def award_participation(self, guild_id: int, member_id: int, poll_id: int) -> AwardResult:
        """Taking part in a poll or survey: once per poll and member."""
        return await self._awards.award_participation(guild_id, member_id, poll_id)

    async def plan_participation(
        self, guild_id: int, member_id: int, poll_id: int
    ) -> PlannedAward | None:
        """The participation award for ``poll_id``, decided now and paid with
        :meth:`pay_planned` in the caller's own write unit (None: nothing to pay)."""
        return await self._awards.plan_participation(guild_id, member_id, poll_id)

    def plan_participation_now(
        self, guild_id: int, member_id: int, poll_id: int
    ) -> tuple[bool, PlannedAward | None]:
        """:meth:`plan_participation` without an await when the guild's rules are cached:
        (True, award or None); (False, None) means await :meth:`plan_participation`."""
        return self._awards.plan_participation_now(guild_id, member_id, poll_id)

    def apply_in_unit(self, tx: Tx, guild_id: int) -> bool:
        """Apply the outbox's new events inside the caller's unit when that is cheap and
        safe; False: wake the consumer as usual (see ``OutboxProjector.apply_in_unit``)."""
        return self._projector.apply_in_unit(tx, guild_id)

    @staticmethod
    def pay_planned(tx: Tx, awards: list[PlannedAward], at: datetime) -> list[AwardResult]:
        """Pay planned awards inside the caller's unit ``tx`` (keys once, caps in order).

        If it raises, none of them was written and the rest of the unit stands."""
        return AwardPipeline.pay_planned(tx, awards, at)

    async def award_policy_feedback(
        self, guild_id: int, member_id: int, policy_id: int
    ) -> AwardResult:
        """Feedback on a policy change: once per policy and member."""
        return await self._awards.award_policy_feedback(guild_id, member_id, policy_id)

    async def award_challenge(
        self,
        guild_id: int,
        member_id: int,
        challenge_id: int,
        place: Literal["finalist", "winner"],
        *,
        actor_id: int | None = None,
        points: int | None = None,
    ) -> AwardResult:
        """A challenge finalist or winner: once per challenge, member and place. ``points``:
        the challenge's own reward (None: the server's setting)."""
        return await self._awards.award_challenge(
            guild_id, member_id, challenge_id, place, actor_id=actor_id, points=points
        )

    async def adjust(
        self,
        guild_id: int,
        member_id: int,
        delta: int,
        reason: str,
        actor_id: int,
        *,
        key: str,
    ) -> AwardResult:
        """A moderator's correction, recorded with a mod_actions row (InvalidInput for a
        bad bound or reason, PermissionDenied for one's own points)."""
        return await self._awards.adjust(guild_id, member_id, delta, reason, actor_id, key=key)

    async def reverse(
        self,
        guild_id: int,
        source_kind: str,
        source_id: int,
        *,
        key: str,
        reason: str,
        actor_id: int | None = None,
    ) -> list[AwardResult]:
        """Reverse whatever a source (a voided poll, a disqualified entry...) stands at."""
        return await self._awards.reverse(
            guild_id, source_kind, source_id, key=key, reason=reason, actor_id=actor_id
        )

    # -- the outbox ------------------------------------------------------------------------
    def notify(self) -> None:
        """Wake the outbox consumer: call after committing events (cheap, never blocks)."""
        self._projector.notify()

    async def consume_outbox(self) -> Changed:
        """Apply every event after the cursor; returns the (guild, member) pairs whose totals
        changed."""
        return await self._projector.consume_outbox()

    # -- standings -------------------------------------------------------------------------
    async def show(
        self,
        guild_id: int,
        member_id: int,
        *,
        recent: int = 5,
        exclude: Container[int] | None = None,
        viewer_id: int | None = None,
    ) -> MemberPoints:
        """A member's totals, rank (leaving out ``exclude``) and latest entries; those an
        anonymous idea paid them only when ``viewer_id`` is the member."""
        return await self._queries.show(
            guild_id, member_id, recent=recent, exclude=exclude, viewer_id=viewer_id
        )

    async def history(
        self, guild_id: int, member_id: int, *, limit: int = 20, viewer_id: int | None = None
    ) -> list[LedgerEntry]:
        """A member's latest ledger entries, newest first (moderators); those an anonymous
        idea paid them only when ``viewer_id`` is the member (others use /idea show)."""
        return await self._queries.history(guild_id, member_id, limit=limit, viewer_id=viewer_id)

    async def totals(self, guild_id: int, member_id: int) -> tuple[int, int]:
        """(all-time, season) points of one member."""
        return await self._queries.totals(guild_id, member_id)

    async def leaderboard(
        self,
        guild_id: int,
        period: Period = Period.ALL,
        family: str | None = None,
        *,
        page: int = 0,
        per_page: int = 10,
        exclude: Container[int] = frozenset(),
    ) -> LeaderboardPage:
        """One page of a leaderboard; members in ``exclude`` (left, staff) are skipped."""
        return await self._queries.leaderboard(
            guild_id, period, family, page=page, per_page=per_page, exclude=exclude
        )

    async def innovators(
        self, guild_id: int, *, limit: int = 10, exclude: Container[int] = frozenset()
    ) -> list[InnovatorScore]:
        """The members whose ideas most often become real, over the last 365 days."""
        return await self._queries.innovators(guild_id, limit=limit, exclude=exclude)

    async def role_totals(self, guild_id: int, member_ids: Collection[int]) -> dict[int, int]:
        """The total each member's role rewards follow (all-time or season, per guild)."""
        return await self._queries.role_totals(guild_id, member_ids)

    async def reward_role_changes(
        self,
        guild_id: int,
        member_ids: Iterable[int],
        held_roles: Callable[[int], Awaitable[Collection[int] | None]],
    ) -> list[RoleChange]:
        """The reward roles to give and take so members' roles match their totals;
        ``held_roles`` (a member's role ids, None once gone) is asked only when needed."""
        return await self._queries.reward_role_changes(guild_id, member_ids, held_roles)

    async def members_with_points(self, guild_id: int) -> list[int]:
        """Every member with a totals row in the guild."""
        return await self._queries.members_with_points(guild_id)

    async def claim_role_notice(self, guild_id: int, role_id: int) -> bool:
        """True once per role the bot cannot manage: moderators are told a single time."""
        return await self._queries.claim_role_notice(guild_id, role_id)

    async def release_role_notice(self, guild_id: int, role_id: int) -> None:
        """Allow a new notice about a role once it works again."""
        await self._queries.release_role_notice(guild_id, role_id)

    async def start_season(self, guild_id: int, actor_id: int) -> SeasonStart:
        """Archive the season's totals, reset them and open the next season (all-time kept)."""
        return await self._queries.start_season(guild_id, actor_id)

    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        """The privacy handler: anonymise the member's ledger entries, remove their totals.

        Pending events are applied first, so none of them re-creates what is forgotten.
        """
        await self._projector.consume_outbox()
        return await self._queries.forget(guild_id, member_id)

    async def ledger_sums(self, guild_id: int) -> dict[int, int]:
        """Every member's ledger sum (consistency checks and tests)."""
        return await self._queries.ledger_sums(guild_id)
