"""Direct awards: what use cases pay or take back themselves, outside the outbox.

A ✅ on a helpful answer (and its removal, with the carry-over to another qualifying ✅),
poll participation, policy feedback, challenge places, moderators' adjustments and
reversals of a whole source. Awards that may arrive in bursts go through the
:class:`~bot.services.points.pipeline.AwardPipeline`; the others are one write unit each.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Collection
from datetime import datetime
from typing import Literal

from bot.domain import points as rules_mod
from bot.domain.points import AwardKind, CapGroup, PointsRules
from bot.domain.points_model import AwardResult, HelpfulMarker
from bot.errors import PermissionDenied
from bot.services._util import domain_errors
from bot.services.points.ledger import pay, reverse_source
from bot.services.points.pipeline import AwardPipeline, PlannedAward
from bot.services.points.rules import RulesCache
from bot.storage import Tx, common
from bot.storage import points as repo
from bot.storage.database import Database
from bot.storage.points import KeyedEntry

#: Award keys of helpful answers: ``helpful:<message>`` (then ``…:<n>`` once the n-th
#: payment was taken back) and ``helpful_undo:<message>:<n>``.
_UNDO = "helpful_undo:"


def _helpful_state(tx: Tx, guild_id: int, message_id: int) -> tuple[list[KeyedEntry], int]:
    """(the message's helpful awards, oldest first; how many were taken back)."""
    rows = repo.source_entries(tx, guild_id, "message", message_id, AwardKind.HELPFUL_ANSWER)
    undone = sum(r.award_key.startswith(_UNDO) for r in rows)
    awards = [r for r in rows if not r.award_key.startswith(_UNDO)]
    return awards, undone


async def _asked(
    marker: HelpfulMarker, answerer_id: int, askers: Callable[[], AsyncIterable[int]]
) -> bool:
    """Whether ``marker`` asked what the answer answers. ``askers`` may cost Discord
    requests, so it is read only when the rule depends on it, and only as far as needed."""
    if not rules_mod.asker_decides(marker.member_id, answerer_id, moderator=marker.moderator):
        return False
    async for asker in askers():
        if asker == marker.member_id:
            return True
    return False


class DirectAwards:
    """Awards and reversals made by use cases (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        rules: RulesCache,
        pipeline: AwardPipeline,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._rules = rules
        self._pipeline = pipeline
        self._clock = clock
        #: Per guild, its rules and what each of its participation awards shares under
        #: them (None: participation pays nothing there); see plan_participation_now.
        self._participation: dict[int, tuple[PointsRules, PlannedAward | None]] = {}

    # -- ✅ helpful answers ------------------------------------------------------------------
    async def mark_helpful(
        self,
        guild_id: int,
        message_id: int,
        answerer_id: int,
        marker: HelpfulMarker,
        askers: Callable[[], AsyncIterable[int]],
    ) -> AwardResult:
        """A ✅ on an answer: pays its author when the asker or a moderator put it there
        (:func:`~bot.domain.points.may_mark_helpful`); otherwise "skipped".

        ``askers()`` yields who asked (the thread's starter, then the author of the message
        answered); it is read lazily, and not at all for a moderator's ✅.
        """
        asked = await _asked(marker, answerer_id, askers)
        if not rules_mod.may_mark_helpful(
            marker.member_id, answerer_id, moderator=marker.moderator, asked=asked
        ):
            return AwardResult("skipped", answerer_id)
        return await self.award_helpful(
            guild_id, answerer_id, message_id, actor_id=marker.member_id
        )

    async def unmark_helpful(
        self,
        guild_id: int,
        message_id: int,
        *,
        removed_by: int | None,
        markers: Callable[[Collection[int]], AsyncIterable[HelpfulMarker]],
        askers: Callable[[], AsyncIterable[int]],
    ) -> AwardResult | None:
        """A ✅ left an answer (``removed_by`` None: a moderator cleared them all).

        When it was the ✅ that paid, its points go back, and the first ✅ still on the
        answer that may mark it helpful carries the award
        (:func:`~bot.domain.points.carries_helpful`). Returns what was taken back, or None
        when that ✅ had not paid.

        ``markers(skip)`` yields the ✅s left on the answer, in order, leaving out the
        members in ``skip`` (they cannot carry it: no need to look them up); it is read
        only once points were taken back. ``askers()`` as for :meth:`mark_helpful`.
        """
        undone = await self.revoke_helpful(guild_id, message_id, actor_id=removed_by)
        if undone is None or removed_by is None:  # all cleared: no ✅ is left to carry it
            return undone
        answerer = undone.member_id
        async for marker in markers(rules_mod.cannot_carry_helpful(answerer, removed_by)):
            asked = await _asked(marker, answerer, askers)
            if rules_mod.carries_helpful(
                marker.member_id, answerer, removed_by, moderator=marker.moderator, asked=asked
            ):
                await self.award_helpful(guild_id, answerer, message_id, actor_id=marker.member_id)
                break
        return undone

    async def award_helpful(
        self, guild_id: int, answerer_id: int, message_id: int, *, actor_id: int
    ) -> AwardResult:
        """A ✅ on an answer. A message pays once at a time: while its point stands, more
        ✅s change nothing; once the ✅ that paid is removed (:meth:`revoke_helpful`),
        another qualifying ✅ may pay again, so toggling never gains anything."""
        if answerer_id == actor_id or not answerer_id:
            return AwardResult("skipped", answerer_id)
        rules = await self._rules.get(guild_id)
        value = rules.value(AwardKind.HELPFUL_ANSWER)
        if not value:
            return AwardResult("skipped", answerer_id)
        at = self._clock()

        def unit(tx: Tx) -> AwardResult:
            awards, undone = _helpful_state(tx, guild_id, message_id)
            if len(awards) > undone:
                return AwardResult("duplicate", answerer_id)
            n = len(awards)
            return pay(
                tx,
                rules,
                guild_id=guild_id,
                member_id=answerer_id,
                kind=AwardKind.HELPFUL_ANSWER,
                delta=value,
                key=f"helpful:{message_id}" if n == 0 else f"helpful:{message_id}:{n}",
                reason="helpful answer",
                source_kind="message",
                source_id=message_id,
                actor_id=actor_id,
                at=at,
            )

        return await self._db.write(unit)

    async def revoke_helpful(
        self, guild_id: int, message_id: int, *, actor_id: int | None
    ) -> AwardResult | None:
        """The ✅ that paid for an answer was removed: take its points back (and give the
        day's cap back). None when that member's ✅ is not the one that paid; ``actor_id``
        None means whoever's ✅ paid (a moderator cleared the reactions)."""
        rules = await self._rules.get(guild_id)
        at = self._clock()

        def unit(tx: Tx) -> AwardResult | None:
            awards, undone = _helpful_state(tx, guild_id, message_id)
            if len(awards) <= undone:
                return None
            paid = awards[-1]
            if actor_id is not None and paid.actor_id != actor_id:
                return None
            member, delta = paid.member_id, paid.delta
            result = pay(
                tx,
                rules,
                guild_id=guild_id,
                member_id=member,
                kind=AwardKind.HELPFUL_ANSWER,
                delta=-delta,
                key=f"{_UNDO}{message_id}:{len(awards) - 1}",
                reason="✅ removed from the answer",
                source_kind="message",
                source_id=message_id,
                actor_id=actor_id,
                at=at,
                capped=False,
            )
            if delta > 0 and member:
                paid_day = rules_mod.day_key(paid.created_at)
                repo.give_back_cap(tx, guild_id, member, CapGroup.HELPFUL, paid_day, delta)
            return result

        return await self._db.write(unit)

    # -- polls, policies, challenges -------------------------------------------------------
    async def award_participation(self, guild_id: int, member_id: int, poll_id: int) -> AwardResult:
        """Taking part in a poll or survey: once per poll and member."""
        return await self._pipeline.award(
            guild_id,
            member_id,
            AwardKind.PARTICIPATION,
            key=f"participation:{poll_id}:{member_id}",
            source_kind="poll",
            source_id=poll_id,
            reason=f"took part in poll #{poll_id}",
        )

    async def plan_participation(
        self, guild_id: int, member_id: int, poll_id: int
    ) -> PlannedAward | None:
        """:meth:`award_participation` decided now, to be paid in the ballot's own unit."""
        return await self._pipeline.plan(
            guild_id,
            member_id,
            AwardKind.PARTICIPATION,
            key=f"participation:{poll_id}:{member_id}",
            source_kind="poll",
            source_id=poll_id,
            reason=f"took part in poll #{poll_id}",
        )

    def plan_participation_now(
        self, guild_id: int, member_id: int, poll_id: int
    ) -> tuple[bool, PlannedAward | None]:
        """:meth:`plan_participation` without awaiting, when the guild's rules are built
        already: (True, the award or None), else (False, None) and the caller awaits.

        A burst of ballots plans thousands a second: what the awards share (points, cap)
        is worked out once per change of the guild's rules, and each award only adds its
        member and poll."""
        rules = self._pipeline.known_rules(guild_id)
        if rules is None:
            return False, None
        shared = self._participation.get(guild_id)
        if shared is None or shared[0] is not rules:
            template = self._pipeline.plan_with(
                rules, guild_id, 1, AwardKind.PARTICIPATION, key="", source_kind="poll",
                source_id=None, reason="",
            )  # fmt: skip
            shared = self._participation[guild_id] = (rules, template)
        template = shared[1]
        if template is None or not member_id:
            return True, None
        return True, PlannedAward(
            guild_id,
            member_id,
            AwardKind.PARTICIPATION,
            template.delta,
            f"participation:{poll_id}:{member_id}",
            f"took part in poll #{poll_id}",
            "poll",
            poll_id,
            None,
            rules,
            template.cap_index,
            template.cap,
        )

    async def award_policy_feedback(
        self, guild_id: int, member_id: int, policy_id: int
    ) -> AwardResult:
        """Feedback on a policy change: once per policy and member."""
        return await self._pipeline.award(
            guild_id,
            member_id,
            AwardKind.POLICY_FEEDBACK,
            key=f"policy_feedback:{policy_id}:{member_id}",
            source_kind="policy",
            source_id=policy_id,
            reason=f"feedback on policy #{policy_id}",
        )

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
        kind = AwardKind.CHALLENGE_WINNER if place == "winner" else AwardKind.CHALLENGE_FINALIST
        return await self._pipeline.award(
            guild_id,
            member_id,
            kind,
            key=f"challenge_{place}:{challenge_id}:{member_id}",
            source_kind="challenge",
            source_id=challenge_id,
            reason=f"challenge #{challenge_id} {place}",
            actor_id=actor_id,
            points=points,
        )

    # -- moderators' corrections -----------------------------------------------------------
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
        """A moderator's correction: a new entry plus a mod_actions row, in one transaction.

        Raises InvalidInput (bound, reason) or PermissionDenied (one's own points) and then
        changes nothing.
        """
        rules = await self._rules.get(guild_id)
        with domain_errors():
            cleaned = rules_mod.check_adjustment(delta, reason, rules.adjust_max)
        if member_id == actor_id:
            raise PermissionDenied("You cannot adjust your own points; ask another moderator.")
        at = self._clock()

        def unit(tx: Tx) -> AwardResult:
            result = pay(
                tx,
                rules,
                guild_id=guild_id,
                member_id=member_id,
                kind=AwardKind.ADJUSTMENT,
                delta=delta,
                key=f"adjust:{key}",
                reason=cleaned,
                source_kind="adjustment",
                source_id=None,
                actor_id=actor_id,
                at=at,
                capped=False,
            )
            if result.status == "awarded":
                common.record_mod_action(
                    tx,
                    guild_id,
                    actor_id,
                    "points.adjust",
                    str(member_id),
                    f"{delta:+d} {cleaned}",
                )
            return result

        return await self._db.write(unit)

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
        at = self._clock()
        rules = await self._rules.get(guild_id)
        return await self._db.write(
            lambda tx: reverse_source(
                tx,
                rules,
                guild_id,
                source_kind,
                source_id,
                f"reverse:{key}",
                reason,
                actor_id,
                at,
            )
        )
