"""The outbox projector: applies the ideas feature's domain events to points.

Each write unit applies up to :data:`BATCH` events and moves the cursor with them, so a
restart neither loses nor repeats an event. Each event is a nested unit
(:func:`~bot.storage.savepoint`): one that cannot be applied is skipped alone, and
logged, instead of blocking every later award behind it.

Votes are settled per (idea, voter) pair: the pair pays at most one point at any time,
so any toggle sequence nets 0 or 1; hiding an idea reverses what it stood at, and
un-hiding restores exactly that; merges move votes and unmerges move them back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from bot.domain import events
from bot.domain import points as rules_mod
from bot.domain.points import FORGOTTEN, PAIR_WINDOW, AwardKind, CapGroup, PointsRules, VoteAction
from bot.services.points.ledger import Changed, pay, reverse_source
from bot.services.points.rules import RulesCache
from bot.storage import Tx, savepoint
from bot.storage import points as repo
from bot.storage.database import Database
from bot.storage.points import IdeaStats, NewEntry, OutboxEvent, VotePair, ts

log = logging.getLogger(__name__)

#: The outbox consumer's name in ``outbox_cursors``.
CONSUMER = "points"
#: Events applied per write unit: large enough to catch up fast, small enough that one
#: unit never holds the writer for long.
BATCH = 200
#: At most this many events are applied inside a use case's own unit (apply_in_unit):
#: a backlog is the consumer's job, and must not slow down the unit that found it.
INLINE_MAX = 8


@dataclass(slots=True)
class _Batch:
    processed: int = 0
    changed: Changed = field(default_factory=set)


def _ids(value: Any) -> list[int]:
    """Member ids from an event payload field, without 0/None (forgotten members)."""
    if not isinstance(value, list):
        return []
    return [int(v) for v in value if v]


class OutboxProjector:
    """Keeps points in step with the outbox (see the module docstring)."""

    def __init__(self, db: Database, rules: RulesCache, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._rules = rules
        self._clock = clock
        #: Set by :meth:`notify`; the consumer task waits on it (with a fallback poll).
        self.wakeup = asyncio.Event()
        self._consume_lock = asyncio.Lock()

    def notify(self) -> None:
        """Wake the outbox consumer: call after committing events (cheap, never blocks)."""
        self.wakeup.set()

    async def consume_outbox(self) -> Changed:
        """Apply every event after the cursor; returns the (guild, member) pairs whose totals
        changed. Awards and the cursor move in the same transaction, so a restart neither
        loses nor repeats an event."""
        changed: Changed = set()
        async with self._consume_lock:
            stalled = 0
            while stalled < 2:
                after = await self._db.read(lambda tx: repo.get_cursor(tx, CONSUMER))
                guilds = await self._db.read(partial(repo.guilds_after, after=after, limit=BATCH))
                if not guilds:
                    break
                rules = {guild: await self._rules.get(guild) for guild in guilds}
                batch = await self._db.write(partial(self._consume_unit, rules=rules))
                changed |= batch.changed
                # No progress means an event of a guild whose settings were not loaded yet
                # arrived meanwhile: one more round loads them.
                stalled = 0 if batch.processed else stalled + 1
        return changed

    def apply_in_unit(self, tx: Tx, guild_id: int) -> bool:
        """Inside the unit of a use case that just emitted events of ``guild_id``: apply
        what the outbox holds after the cursor right there, moving the cursor in the same
        commit, so the consumer has nothing to do (a capture then costs one commit, not
        two). Done only when that is a few events of this guild whose rules are cached
        and no reward roles follow the totals (the consumer gives those); returns whether
        it was done, else the caller wakes the consumer as usual."""
        rules = self._rules.known(guild_id)
        if rules is None or rules.role_rewards:
            return False
        cursor = repo.get_cursor(tx, CONSUMER)
        pending = repo.events_after(tx, cursor, INLINE_MAX + 1)
        if len(pending) > INLINE_MAX or any(e.guild_id != guild_id for e in pending):
            return False
        batch = self._apply_events(tx, cursor, pending, {guild_id: rules})
        return batch.processed == len(pending)

    def _consume_unit(self, tx: Tx, rules: dict[int, PointsRules]) -> _Batch:
        cursor = repo.get_cursor(tx, CONSUMER)
        return self._apply_events(tx, cursor, repo.events_after(tx, cursor, BATCH), rules)

    def _apply_events(
        self, tx: Tx, cursor: int, pending: list[OutboxEvent], rules: dict[int, PointsRules]
    ) -> _Batch:
        # Entries, caps and cooldowns use the time points are recorded; the event's own
        # time only dates the idea statistics. An event that happened before a season
        # start but is applied after it then counts in the new season, and its entry is
        # dated in that season too, so season totals and the ledger always agree.
        now = self._clock()
        batch = _Batch()
        last = cursor
        for event in pending:
            guild_rules = rules.get(event.guild_id)
            if guild_rules is None:  # arrived after the settings were loaded: next round
                break
            changed: Changed = set()
            try:
                with savepoint(tx, "points_event"):
                    self._apply(tx, event, guild_rules, changed, now)
            except Exception:
                log.exception("Outbox event %s (%s) could not be applied", event.id, event.kind)
            else:
                batch.changed |= changed
            last = event.id
            batch.processed += 1
        if last != cursor:
            repo.set_cursor(tx, CONSUMER, last)
        return batch

    def _apply(
        self,
        tx: Tx,
        event: OutboxEvent,
        rules: PointsRules,
        changed: Changed,
        now: datetime,
    ) -> None:
        kind, p = event.kind, event.payload
        if kind == events.MEMBER_FORGOTTEN:
            if event.actor_id:
                repo.forget_member(tx, event.guild_id, event.actor_id)
            return
        if event.subject_id is None:
            return
        idea = event.subject_id
        at, happened = now, ts(event.created_at)
        if kind == events.IDEA_SUBMITTED:
            self._on_submitted(tx, event, rules, changed, now)
        elif kind in (events.IDEA_VOTE_CAST, events.IDEA_VOTE_RETRACTED):
            author, voter = int(p.get("author_id") or 0), int(p.get("voter_id") or 0)
            if not voter:
                return
            stats = repo.get_or_create_stats(tx, event.guild_id, idea, author, ts(event.created_at))
            value = int(p.get("value") or 0) if kind == events.IDEA_VOTE_CAST else 0
            if voter != stats.author_id and kind == events.IDEA_VOTE_CAST:
                repo.add_engagement(tx, event.guild_id, voter, idea, happened)
            pair = repo.get_or_create_pair(tx, event.guild_id, idea, voter, stats.author_id)
            if pair.event_id >= event.id:
                return  # a replay: a later event (a merge...) already set this vote
            pair.event_id = event.id
            self._set_standing(tx, rules, pair, stats, value, at, changed)
            repo.save_stats(tx, stats)
        elif kind == events.IDEA_STATUS_CHANGED:
            self._on_status(tx, event, rules, changed, now)
        elif kind == events.IDEA_MERGED:
            self._on_merge(tx, event, rules, changed, now, undo=False)
        elif kind == events.IDEA_UNMERGED:
            self._on_merge(tx, event, rules, changed, now, undo=True)
        elif kind == events.IDEA_COMMENTED:
            member = int(p.get("member_id") or 0)
            author = int(p.get("author_id") or 0)
            if member and member != author:
                repo.get_or_create_stats(tx, event.guild_id, idea, author, happened)
                repo.add_engagement(tx, event.guild_id, member, idea, happened)

    def _on_submitted(
        self,
        tx: Tx,
        event: OutboxEvent,
        rules: PointsRules,
        changed: Changed,
        at: datetime,
    ) -> None:
        assert event.subject_id is not None
        idea = event.subject_id
        author = int(event.payload.get("author_id") or 0)
        stats = repo.get_or_create_stats(tx, event.guild_id, idea, author, ts(event.created_at))
        value = rules.value(AwardKind.IDEA_SUBMITTED)
        if stats.hidden or not value or not author:
            return
        result = pay(
            tx,
            rules,
            guild_id=event.guild_id,
            member_id=author,
            kind=AwardKind.IDEA_SUBMITTED,
            delta=value,
            key=f"idea_submitted:{idea}",
            reason=f"submitted idea #{idea}",
            source_kind="idea",
            source_id=idea,
            actor_id=event.actor_id,
            at=at,
        )
        if result.delta:
            changed.add((event.guild_id, author))

    def _set_standing(
        self,
        tx: Tx,
        rules: PointsRules,
        pair: VotePair,
        stats: IdeaStats,
        standing: int,
        at: datetime,
        changed: Changed,
    ) -> None:
        """Record how a vote now stands, keep the support count, then settle its award."""
        counted = pair.voter_id != stats.author_id
        stats.support_votes += counted * ((standing > 0) - (pair.standing > 0))
        pair.standing = standing
        self._settle(tx, rules, pair, stats, at, changed)
        repo.save_pair(tx, pair)

    def _settle(
        self,
        tx: Tx,
        rules: PointsRules,
        pair: VotePair,
        stats: IdeaStats,
        at: datetime,
        changed: Changed,
    ) -> None:
        """Pay or take back the pair's point so it matches the vote as it stands.

        Nothing moves while the idea is hidden: hiding reversed what stood, and un-hiding
        restores it and settles again.
        """
        if stats.hidden or pair.voter_id is None or pair.author_id == FORGOTTEN:
            return
        pair.author_id = stats.author_id
        action = rules_mod.vote_action(
            pair.standing, pair.paid, self_vote=pair.voter_id == pair.author_id
        )
        guild = pair.guild_id
        if action is VoteAction.PAY:
            value = rules.value(AwardKind.VOTE_RECEIVED)
            if value <= 0:
                return
            pair.seq += 1
            key = f"vote:{pair.id}:{pair.seq}"
            reason = f"support vote on idea #{pair.idea_id}"
            if pair.first_paid_at is None:
                recent = repo.recent_pair_awards(
                    tx, guild, pair.voter_id, pair.author_id, ts(at - PAIR_WINDOW), pair.id
                )
                if not rules_mod.pair_allows(recent, rules.vote_pair_limit):
                    # Recorded at 0 so the audit shows why nothing was paid.
                    repo.insert_entry(
                        tx,
                        NewEntry(
                            guild,
                            pair.author_id,
                            0,
                            AwardKind.VOTE_RECEIVED.value,
                            f"{reason} (same voter's limit of {rules.vote_pair_limit} a day)",
                            "idea",
                            pair.idea_id,
                            key,
                            None,
                            value,
                            ts(at),
                        ),
                    )
                    return
            result = pay(
                tx,
                rules,
                guild_id=guild,
                member_id=pair.author_id,
                kind=AwardKind.VOTE_RECEIVED,
                delta=value,
                key=key,
                reason=reason,
                source_kind="idea",
                source_id=pair.idea_id,
                actor_id=None,
                at=at,
            )
            if result.delta > 0:
                pair.paid = result.delta
                pair.paid_day = rules_mod.day_key(at)
                pair.first_paid_at = pair.first_paid_at or ts(at)
                changed.add((guild, pair.author_id))
        elif action is VoteAction.REVOKE:
            pair.seq += 1
            result = pay(
                tx,
                rules,
                guild_id=guild,
                member_id=pair.author_id,
                kind=AwardKind.VOTE_RECEIVED,
                delta=-pair.paid,
                key=f"vote:{pair.id}:{pair.seq}",
                reason=f"vote on idea #{pair.idea_id} taken back",
                source_kind="idea",
                source_id=pair.idea_id,
                actor_id=None,
                at=at,
                capped=False,
            )
            if result.status == "awarded" and pair.paid_day is not None:
                # Give the cap back to the day the point was counted on: toggling must
                # neither gain points nor burn the author's cap.
                repo.give_back_cap(
                    tx, guild, pair.author_id, CapGroup.VOTES, pair.paid_day, pair.paid
                )
            pair.paid, pair.paid_day = 0, None
            changed.add((guild, pair.author_id))

    def _on_status(
        self,
        tx: Tx,
        event: OutboxEvent,
        rules: PointsRules,
        changed: Changed,
        at: datetime,
    ) -> None:
        assert event.subject_id is not None
        idea, p = event.subject_id, event.payload
        happened = ts(event.created_at)
        guild = event.guild_id
        author = int(p.get("author_id") or 0)
        new, old = str(p.get("new") or ""), str(p.get("old") or "")
        stats = repo.get_or_create_stats(tx, guild, idea, author, happened)
        if new == "hidden":
            if not stats.hidden:
                stats.hidden = True
                stats.hide_seq += 1
                for result in reverse_source(
                    tx,
                    rules,
                    guild,
                    "idea",
                    idea,
                    f"hide:{idea}:{stats.hide_seq}",
                    f"idea #{idea} hidden: its points are reversed",
                    event.actor_id,
                    at,
                ):
                    if result.delta:
                        changed.add((guild, result.member_id))
                repo.save_stats(tx, stats)
            return
        if stats.hidden or old == "hidden":
            self._unhide(tx, rules, stats, event, changed, at)
        stats.status = new
        if new in ("planned", "in_progress", "implemented") and stats.planned_at is None:
            stats.planned_at = happened
        if new == "implemented" and stats.implemented_at is None:
            stats.implemented_at = happened
        repo.save_stats(tx, stats)
        recipients = list(dict.fromkeys([author, *_ids(p.get("contributors"))]))
        for milestone in rules_mod.milestones_for(new):
            value = rules.value(milestone)
            if not value:
                continue
            for member in recipients:
                if not member:
                    continue
                result = pay(
                    tx,
                    rules,
                    guild_id=guild,
                    member_id=member,
                    kind=milestone,
                    delta=value,
                    key=f"{milestone.value}:{idea}:{member}",
                    reason=f"idea #{idea} {new.replace('_', ' ')}",
                    source_kind="idea",
                    source_id=idea,
                    actor_id=event.actor_id,
                    at=at,
                )
                if result.delta:
                    changed.add((guild, member))

    def _unhide(
        self,
        tx: Tx,
        rules: PointsRules,
        stats: IdeaStats,
        event: OutboxEvent,
        changed: Changed,
        at: datetime,
    ) -> None:
        """Restore exactly what the last hiding reversed, then settle votes cast meanwhile."""
        if not stats.hidden:
            return
        guild, idea = stats.guild_id, stats.idea_id
        for row in repo.entries_with_key_prefix(tx, guild, f"hide:{idea}:{stats.hide_seq}:"):
            member = row.member_id
            if member == FORGOTTEN or not row.delta:
                continue
            result = pay(
                tx,
                rules,
                guild_id=guild,
                member_id=member,
                kind=AwardKind(row.kind),
                delta=-row.delta,
                key=f"unhide:{idea}:{stats.hide_seq}:{member}:{row.kind}",
                reason=f"idea #{idea} visible again: its points are restored",
                source_kind="idea",
                source_id=idea,
                actor_id=event.actor_id,
                at=at,
                capped=False,
            )
            if result.delta:
                changed.add((guild, member))
        stats.hidden = False
        for pair in repo.pairs_of_idea(tx, guild, idea):
            self._settle(tx, rules, pair, stats, at, changed)
            repo.save_pair(tx, pair)

    def _on_merge(
        self,
        tx: Tx,
        event: OutboxEvent,
        rules: PointsRules,
        changed: Changed,
        at: datetime,
        *,
        undo: bool,
    ) -> None:
        """Mirror what a merge does to votes: the source's votes are cleared (parked for an
        unmerge) and the moved ones count for the target; an unmerge puts both back."""
        assert event.subject_id is not None
        p, guild = event.payload, event.guild_id
        target_id = int(p.get("target_id") or 0)
        if not target_id:
            return
        when = ts(event.created_at)
        source_id = event.subject_id
        source = repo.get_or_create_stats(
            tx, guild, source_id, int(p.get("source_author_id") or 0), when
        )
        target = repo.get_or_create_stats(
            tx, guild, target_id, int(p.get("target_author_id") or 0), when
        )
        # A pair already set by this event or a later one is left alone: replaying the
        # outbox from an old cursor must not move votes cast after the merge.
        if not undo:
            moved = set(_ids(p.get("moved_voters")))
            for pair in repo.pairs_of_idea(tx, guild, source_id):
                if pair.voter_id is None or not pair.standing or pair.event_id >= event.id:
                    continue
                standing = pair.parked = pair.standing
                pair.event_id = event.id
                self._set_standing(tx, rules, pair, source, 0, at, changed)
                if pair.voter_id not in moved:
                    continue
                arriving = repo.get_or_create_pair(
                    tx, guild, target_id, pair.voter_id, target.author_id
                )
                if arriving.standing == 0 and arriving.event_id < event.id:
                    arriving.moved_from = source_id
                    arriving.event_id = event.id
                    self._set_standing(tx, rules, arriving, target, standing, at, changed)
        else:
            restored = set(_ids(p.get("restored_voters")))
            for pair in repo.pairs_of_idea(tx, guild, target_id):
                if pair.moved_from == source_id and pair.event_id < event.id:
                    pair.moved_from = None
                    pair.event_id = event.id
                    self._set_standing(tx, rules, pair, target, 0, at, changed)
            for pair in repo.pairs_of_idea(tx, guild, source_id):
                if pair.voter_id in restored and pair.parked and pair.event_id < event.id:
                    standing, pair.parked = pair.parked, 0
                    pair.event_id = event.id
                    self._set_standing(tx, rules, pair, source, standing, at, changed)
        repo.save_stats(tx, source)
        repo.save_stats(tx, target)
