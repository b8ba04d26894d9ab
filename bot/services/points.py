"""Contribution points: awards, adjustments and reversals, the outbox consumer, leaderboards,
seasons, role-reward totals and the "forget this member" handler.

Every change is one write unit: the award key is checked, the cap read, the ledger entry
appended and the totals and cap counters updated in the same transaction. The writer runs
units one after another, so concurrent awards cannot race past a cap, and no code ever
reads a balance and writes it back.

Award keys (unique per guild; a replayed event or a double click is a no-op):

- ``idea_submitted:<idea>`` to the author;
- ``vote:<pair>:<n>`` where ``pair`` is the (idea, voter) row and ``n`` counts its
  changes: the pair pays at most one award at any time, so toggling nets 0 or 1;
- ``idea_planned:<idea>:<member>`` / ``idea_implemented:<idea>:<member>`` to the author and
  each contributor, once per idea whatever the status does afterwards;
- ``hide:<idea>:<h>:<member>:<kind>`` reverses what a hidden idea stood at (h-th hiding),
  ``unhide:…`` with the same tail restores exactly that;
- ``helpful:<message>``, ``participation:<poll>:<member>``,
  ``policy_feedback:<policy>:<member>``, ``challenge_<place>:<challenge>:<member>``,
  ``adjust:<interaction>``, ``reverse:<key>:<member>:<kind>``.

Keys name at most the recipient, and forgetting a member rewrites those keys.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Collection, Container
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from bot.domain import events
from bot.domain import points as rules_mod
from bot.domain.points import (
    CAP_GROUP,
    FORGOTTEN,
    INNOVATOR_WINDOW,
    PAIR_WINDOW,
    AwardKind,
    CapGroup,
    InnovatorScore,
    Period,
    PointsRules,
    VoteAction,
)
from bot.domain.points_model import (
    AwardResult,
    AwardStatus,
    LeaderboardPage,
    LedgerEntry,
    MemberPoints,
    SeasonStart,
)
from bot.errors import Conflict, PermissionDenied
from bot.services._util import domain_errors
from bot.services.guild_settings import GuildSettingsService
from bot.storage import common
from bot.storage import points as repo
from bot.storage.database import Database
from bot.storage.points import IdeaStats, KeyedEntry, NewEntry, OutboxEvent, VotePair, ts

log = logging.getLogger(__name__)

#: The outbox consumer's name in ``outbox_cursors``.
CONSUMER = "points"
#: Events applied per write unit: large enough to catch up fast, small enough that one
#: unit never holds the writer for long.
BATCH = 200
#: Awards written per unit when many arrive at once (the writer's own batch size).
AWARD_BATCH = 500
#: A second season start within this long is taken for a double click.
SEASON_GUARD = timedelta(minutes=1)

Changed = set[tuple[int, int]]


@dataclass(slots=True)
class _AwardRequest:
    guild_id: int
    member_id: int
    kind: AwardKind
    delta: int
    key: str
    reason: str
    source_kind: str
    source_id: int | None
    actor_id: int | None
    rules: PointsRules
    future: asyncio.Future[AwardResult]
    cap_index: int  # the daily cap's place in CAP_INDEX order (-1: the kind has none)
    cap: int  # the cap (0: none)


#: Each cap group's place among the totals row's cap counters.
CAP_INDEX: dict[CapGroup, int] = {CapGroup(name): i for i, name in enumerate(repo.CAP_COLUMNS)}


@dataclass(slots=True)
class _Batch:
    processed: int = 0
    changed: Changed = field(default_factory=set)


def _helpful_state(
    conn: sqlite3.Connection, guild_id: int, message_id: int
) -> tuple[list[KeyedEntry], int]:
    """(the message's helpful awards, oldest first; how many were taken back)."""
    rows = repo.source_entries(conn, guild_id, "message", message_id, AwardKind.HELPFUL_ANSWER)
    undone = sum(r.award_key.startswith("helpful_undo:") for r in rows)
    awards = [r for r in rows if not r.award_key.startswith("helpful_undo:")]
    return awards, undone


def _ids(value: Any) -> list[int]:
    """Member ids from an event payload field, without 0/None (forgotten members)."""
    if not isinstance(value, list):
        return []
    return [int(v) for v in value if v]


class PointsService:
    """Awards, queries and the outbox consumer of the points feature."""

    def __init__(
        self,
        db: Database,
        guild_settings: GuildSettingsService,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._settings = guild_settings
        self._clock = clock
        #: Set by :meth:`notify`; the consumer task waits on it (with a fallback poll).
        self.wakeup = asyncio.Event()
        self._consume_lock = asyncio.Lock()
        self._rules: dict[int, tuple[object, PointsRules]] = {}
        self._awards: list[_AwardRequest] = []
        self._flush_scheduled = False
        self._retries: set[asyncio.Task[None]] = set()

    # -- settings --------------------------------------------------------------------------
    async def rules(self, guild_id: int) -> PointsRules:
        """The guild's points rules (rebuilt only when its settings changed)."""
        known = self._known_rules(guild_id)
        if known is not None:
            return known
        config = await self._settings.get(guild_id)
        cached = self._rules.get(guild_id)
        if cached is not None and cached[0] is config:
            return cached[1]
        built = rules_mod.rules_from_config(config)
        if built.invalid_role_rewards:
            log.warning(
                "Guild %s has role rewards that are not `points:role`: %s",
                guild_id,
                built.invalid_role_rewards,
            )
        self._rules[guild_id] = (config, built)
        return built

    def _known_rules(self, guild_id: int) -> PointsRules | None:
        """The rules if built for the guild's current settings, without awaiting (the
        award path runs thousands of times a second)."""
        config = self._settings.cached(guild_id)
        cached = self._rules.get(guild_id)
        if config is None or cached is None or cached[0] is not config:
            return None
        return cached[1]

    def notify(self) -> None:
        """Wake the outbox consumer: call after committing events (cheap, never blocks)."""
        self.wakeup.set()

    # -- the core write: one award ---------------------------------------------------------
    @staticmethod
    def _pay(
        conn: sqlite3.Connection,
        rules: PointsRules,
        *,
        guild_id: int,
        member_id: int | None,
        kind: AwardKind,
        delta: int,
        key: str,
        reason: str,
        source_kind: str,
        source_id: int | None,
        actor_id: int | None,
        at: datetime,
        capped: bool = True,
    ) -> AwardResult:
        """Check the key and the cap, append the entry, update totals and the counter."""
        if not member_id:
            return AwardResult("skipped", 0)
        group = CAP_GROUP.get(kind) if capped else None
        day = rules_mod.day_key(at)
        used_before, used = repo.precheck(conn, guild_id, key, member_id, group, day)
        if used_before:
            return AwardResult("duplicate", member_id)
        granted = rules_mod.capped_delta(delta, used, rules.cap(group)) if group else delta
        withheld = delta - granted
        when = ts(at)
        entry_id = repo.insert_entry(
            conn,
            NewEntry(
                guild_id,
                member_id,
                granted,
                kind.value,
                reason if not withheld else f"{reason} (daily cap reached)",
                source_kind,
                source_id,
                key,
                actor_id,
                withheld,
                when,
            ),
        )
        if entry_id is None:
            return AwardResult("duplicate", member_id)
        if granted:
            counted = {group.value: granted} if group is not None and granted > 0 else None
            repo.add_to_totals(conn, guild_id, member_id, granted, when, day, counted)
        status: AwardStatus = "capped" if withheld else "awarded"
        return AwardResult(status, member_id, granted, withheld, entry_id)

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

        Returns once the award is committed. Nobody awards themselves: an award whose actor
        is the recipient is skipped. Awards made at the same moment share one write unit
        (see :meth:`_pay_many`): one transaction, caps checked in order inside it.
        """
        rules = self._known_rules(guild_id) or await self.rules(guild_id)
        delta = rules.value(kind) if points is None else points
        if delta == 0 or member_id == actor_id or not member_id:
            return AwardResult("skipped", member_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AwardResult] = loop.create_future()
        group = CAP_GROUP.get(kind)
        self._awards.append(
            _AwardRequest(
                guild_id,
                member_id,
                kind,
                delta,
                key,
                reason,
                source_kind,
                source_id,
                actor_id,
                rules,
                future,
                -1 if group is None else CAP_INDEX[group],
                rules.cap(group),
            )
        )
        if not self._flush_scheduled:
            # A callback, not a task: it runs after every award already scheduled on the
            # loop has queued itself, so awards made at the same moment share units.
            self._flush_scheduled = True
            loop.call_soon(self._flush_awards)
        return await future

    def _flush_awards(self) -> None:
        """Hand queued awards to the writer in units of up to :data:`AWARD_BATCH`.

        Nothing here waits: each unit's results are handed out by a callback when its
        batch commits, so while the writer commits one unit the loop already wakes the
        callers of the previous one and queues the next (the writer is never idle).
        """
        self._flush_scheduled = False
        queued, self._awards = self._awards, []
        at = self._clock()
        for start in range(0, len(queued), AWARD_BATCH):
            chunk = queued[start : start + AWARD_BATCH]
            try:
                done = self._db.submit(
                    partial(self._pay_many, batch=chunk, at=at), weight=len(chunk)
                )
            except Exception as exc:  # the database is closing: nothing was written
                for req in chunk:
                    if not req.future.done():
                        req.future.set_exception(exc)
                continue
            done.add_done_callback(partial(self._settle_chunk, chunk, at))

    def _settle_chunk(
        self, chunk: list[_AwardRequest], at: datetime, done: asyncio.Future[list[AwardResult]]
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            # One bad award must not fail the others: retry each in its own unit.
            log.warning("A batch of %d awards failed; retrying one by one", len(chunk))
            for req in chunk:
                task = asyncio.create_task(self._pay_alone(req, at), name="cocreate:points-retry")
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)
            return
        for req, result in zip(chunk, done.result(), strict=True):
            if not req.future.done():
                req.future.set_result(result)

    async def _pay_alone(self, req: _AwardRequest, at: datetime) -> None:
        try:
            result = await self._db.write(
                lambda conn: self._pay(
                    conn,
                    req.rules,
                    guild_id=req.guild_id,
                    member_id=req.member_id,
                    kind=req.kind,
                    delta=req.delta,
                    key=req.key,
                    reason=req.reason,
                    source_kind=req.source_kind,
                    source_id=req.source_id,
                    actor_id=req.actor_id,
                    at=at,
                )
            )
        except Exception as exc:
            if not req.future.done():
                req.future.set_exception(exc)
        else:
            if not req.future.done():
                req.future.set_result(result)

    @classmethod
    def _pay_many(
        cls, conn: sqlite3.Connection, batch: list[_AwardRequest], at: datetime
    ) -> list[AwardResult]:
        """:meth:`_pay` for many awards in one unit, with the same outcome as paying them one
        after another: keys already used (before or earlier in the batch) are duplicates,
        and each cap counter runs through the batch in order.

        Used keys are rare (a replayed event, a double click), so the batch is first
        written as if none were, with ``ON CONFLICT DO NOTHING``; only when fewer rows went
        in than were planned is the attempt undone and the batch planned again knowing
        which keys exist. That saves a key lookup per award on the common path.
        """
        when, day = ts(at), rules_mod.day_key(at)
        conn.execute("SAVEPOINT awards")
        try:
            entries, totals, results = cls._plan(conn, batch, set(), when, day)
            if repo.insert_entries(conn, entries) != len(entries):
                conn.execute("ROLLBACK TO awards")
                used_keys: set[tuple[int, str]] = set()
                keys_by_guild: dict[int, list[str]] = {}
                for req in batch:
                    keys_by_guild.setdefault(req.guild_id, []).append(req.key)
                for guild, keys in keys_by_guild.items():
                    used_keys.update((guild, k) for k in repo.existing_keys(conn, guild, keys))
                entries, totals, results = cls._plan(conn, batch, used_keys, when, day)
                if repo.insert_entries(conn, entries) != len(entries):
                    raise RuntimeError("award keys changed while a batch was written")
            repo.add_to_totals_many(conn, totals)
        finally:
            conn.execute("RELEASE awards")
        return results

    @staticmethod
    def _plan(
        conn: sqlite3.Connection,
        batch: list[_AwardRequest],
        used_keys: set[tuple[int, str]],
        when: str,
        day: str,
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[AwardResult]]:
        """Ledger rows, totals rows (with cap counts) and results for ``batch``, given the
        keys already used (keys repeated inside the batch are found here)."""
        members_by_guild: dict[int, set[int]] = {}
        for req in batch:
            if req.cap_index >= 0:
                members_by_guild.setdefault(req.guild_id, set()).add(req.member_id)
        # What today's cap counters held before this batch...
        stored: dict[tuple[int, int], tuple[int, ...]] = {}
        for guild, members in members_by_guild.items():
            for member, counts in repo.caps_used(conn, guild, day, members).items():
                stored[guild, member] = counts
        # ...and what this batch adds: (guild, member) -> [points, count per cap group].
        acc: dict[tuple[int, int], list[int]] = {}
        width = 1 + len(CAP_INDEX)
        next_id = repo.max_entry_id(conn) + 1
        entries: list[tuple[Any, ...]] = []
        results: list[AwardResult] = []
        seen = used_keys.copy()
        for req in batch:
            guild, member, delta = req.guild_id, req.member_id, req.delta
            award_key = (guild, req.key)
            if award_key in seen:
                results.append(AwardResult("duplicate", member))
                continue
            seen.add(award_key)
            slot = (guild, member)
            row = acc.get(slot)
            granted = delta
            index = req.cap_index
            if index >= 0 and delta > 0 and req.cap > 0:
                base = stored.get(slot)
                spent = (base[index] if base else 0) + (row[1 + index] if row else 0)
                granted = min(delta, max(0, req.cap - spent))
            if granted:
                if row is None:
                    row = acc[slot] = [0] * width
                row[0] += granted
                if index >= 0 and granted > 0:
                    row[1 + index] += granted
            withheld = delta - granted
            entries.append(  # StrEnum members bind as their text: no .value lookups here
                (
                    next_id,
                    guild,
                    member,
                    granted,
                    req.kind,
                    f"{req.reason} (daily cap reached)" if withheld else req.reason,
                    req.source_kind,
                    req.source_id,
                    req.key,
                    req.actor_id,
                    withheld,
                    when,
                )
            )
            results.append(
                AwardResult("capped" if withheld else "awarded", member, granted, withheld, next_id)
            )
            next_id += 1
        totals = [(g, m, row[0], when, day, *row[1:]) for (g, m), row in acc.items()]
        return entries, totals, results

    async def award_helpful(
        self, guild_id: int, answerer_id: int, message_id: int, *, actor_id: int
    ) -> AwardResult:
        """A ✅ on an answer. A message pays once at a time: while its point stands, more
        ✅s change nothing; once the ✅ that paid is removed (:meth:`revoke_helpful`),
        another qualifying ✅ may pay again, so toggling never gains anything."""
        if answerer_id == actor_id or not answerer_id:
            return AwardResult("skipped", answerer_id)
        rules = await self.rules(guild_id)
        value = rules.value(AwardKind.HELPFUL_ANSWER)
        if not value:
            return AwardResult("skipped", answerer_id)
        at = self._clock()

        def unit(conn: sqlite3.Connection) -> AwardResult:
            awards, undone = _helpful_state(conn, guild_id, message_id)
            if len(awards) > undone:
                return AwardResult("duplicate", answerer_id)
            n = len(awards)
            return self._pay(
                conn,
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
        rules = await self.rules(guild_id)
        at = self._clock()

        def unit(conn: sqlite3.Connection) -> AwardResult | None:
            awards, undone = _helpful_state(conn, guild_id, message_id)
            if len(awards) <= undone:
                return None
            paid = awards[-1]
            if actor_id is not None and paid.actor_id != actor_id:
                return None
            member, delta = paid.member_id, paid.delta
            result = self._pay(
                conn,
                rules,
                guild_id=guild_id,
                member_id=member,
                kind=AwardKind.HELPFUL_ANSWER,
                delta=-delta,
                key=f"helpful_undo:{message_id}:{len(awards) - 1}",
                reason="✅ removed from the answer",
                source_kind="message",
                source_id=message_id,
                actor_id=actor_id,
                at=at,
                capped=False,
            )
            if delta > 0 and member:
                paid_day = rules_mod.day_key(paid.created_at)
                repo.give_back_cap(conn, guild_id, member, CapGroup.HELPFUL, paid_day, delta)
            return result

        return await self._db.write(unit)

    async def award_participation(self, guild_id: int, member_id: int, poll_id: int) -> AwardResult:
        """Taking part in a poll or survey: once per poll and member."""
        return await self.award(
            guild_id,
            member_id,
            AwardKind.PARTICIPATION,
            key=f"participation:{poll_id}:{member_id}",
            source_kind="poll",
            source_id=poll_id,
            reason=f"took part in poll #{poll_id}",
        )

    async def award_policy_feedback(
        self, guild_id: int, member_id: int, policy_id: int
    ) -> AwardResult:
        """Feedback on a policy change: once per policy and member."""
        return await self.award(
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
    ) -> AwardResult:
        """A challenge finalist or winner: once per challenge, member and place."""
        kind = AwardKind.CHALLENGE_WINNER if place == "winner" else AwardKind.CHALLENGE_FINALIST
        return await self.award(
            guild_id,
            member_id,
            kind,
            key=f"challenge_{place}:{challenge_id}:{member_id}",
            source_kind="challenge",
            source_id=challenge_id,
            reason=f"challenge #{challenge_id} {place}",
            actor_id=actor_id,
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
        """A moderator's correction: a new entry plus a mod_actions row, in one transaction.

        Raises InvalidInput (bound, reason) or PermissionDenied (one's own points) and then
        changes nothing.
        """
        rules = await self.rules(guild_id)
        with domain_errors():
            cleaned = rules_mod.check_adjustment(delta, reason, rules.adjust_max)
        if member_id == actor_id:
            raise PermissionDenied("You cannot adjust your own points; ask another moderator.")
        at = self._clock()

        def unit(conn: sqlite3.Connection) -> AwardResult:
            result = self._pay(
                conn,
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
                    conn,
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
        rules = await self.rules(guild_id)
        return await self._db.write(
            lambda conn: self._reverse_source(
                conn,
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

    def _reverse_source(
        self,
        conn: sqlite3.Connection,
        rules: PointsRules,
        guild_id: int,
        source_kind: str,
        source_id: int,
        key_prefix: str,
        reason: str,
        actor_id: int | None,
        at: datetime,
    ) -> list[AwardResult]:
        results = []
        for member, kind, net in repo.net_by_member_and_kind(
            conn, guild_id, source_kind, source_id
        ):
            results.append(
                self._pay(
                    conn,
                    rules,
                    guild_id=guild_id,
                    member_id=member,
                    kind=AwardKind(kind),
                    delta=-net,
                    key=f"{key_prefix}:{member}:{kind}",
                    reason=reason,
                    source_kind=source_kind,
                    source_id=source_id,
                    actor_id=actor_id,
                    at=at,
                    capped=False,
                )
            )
        return results

    # -- the outbox consumer ---------------------------------------------------------------
    async def consume_outbox(self) -> Changed:
        """Apply every event after the cursor; returns the (guild, member) pairs whose totals
        changed. Awards and the cursor move in the same transaction, so a restart neither
        loses nor repeats an event."""
        changed: Changed = set()
        async with self._consume_lock:
            stalled = 0
            while stalled < 2:
                after = await self._db.read(lambda c: repo.get_cursor(c, CONSUMER))
                guilds = await self._db.read(partial(repo.guilds_after, after=after, limit=BATCH))
                if not guilds:
                    break
                rules = {guild: await self.rules(guild) for guild in guilds}
                batch = await self._db.write(partial(self._consume_unit, rules=rules))
                changed |= batch.changed
                # No progress means an event of a guild whose settings were not loaded yet
                # arrived meanwhile: one more round loads them.
                stalled = 0 if batch.processed else stalled + 1
        return changed

    def _consume_unit(self, conn: sqlite3.Connection, rules: dict[int, PointsRules]) -> _Batch:
        cursor = repo.get_cursor(conn, CONSUMER)
        pending = repo.events_after(conn, cursor, BATCH)
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
            # A nested savepoint: an event that cannot be applied is skipped alone (and
            # logged) instead of blocking every later award behind it.
            conn.execute("SAVEPOINT points_event")
            try:
                self._apply(conn, event, guild_rules, changed, now)
            except Exception:
                conn.execute("ROLLBACK TO points_event")
                log.exception("Outbox event %s (%s) could not be applied", event.id, event.kind)
            else:
                batch.changed |= changed
            conn.execute("RELEASE points_event")
            last = event.id
            batch.processed += 1
        if last != cursor:
            repo.set_cursor(conn, CONSUMER, last)
        return batch

    def _apply(
        self,
        conn: sqlite3.Connection,
        event: OutboxEvent,
        rules: PointsRules,
        changed: Changed,
        now: datetime,
    ) -> None:
        kind, p = event.kind, event.payload
        if kind == events.MEMBER_FORGOTTEN:
            if event.actor_id:
                repo.forget_member(conn, event.guild_id, event.actor_id)
            return
        if event.subject_id is None:
            return
        idea = event.subject_id
        at, happened = now, ts(event.created_at)
        if kind == events.IDEA_SUBMITTED:
            self._on_submitted(conn, event, rules, changed, now)
        elif kind in (events.IDEA_VOTE_CAST, events.IDEA_VOTE_RETRACTED):
            author, voter = int(p.get("author_id") or 0), int(p.get("voter_id") or 0)
            if not voter:
                return
            stats = repo.get_or_create_stats(
                conn, event.guild_id, idea, author, ts(event.created_at)
            )
            value = int(p.get("value") or 0) if kind == events.IDEA_VOTE_CAST else 0
            if voter != stats.author_id and kind == events.IDEA_VOTE_CAST:
                repo.add_engagement(conn, event.guild_id, voter, idea, happened)
            pair = repo.get_or_create_pair(conn, event.guild_id, idea, voter, stats.author_id)
            if pair.event_id >= event.id:
                return  # a replay: a later event (a merge...) already set this vote
            pair.event_id = event.id
            self._set_standing(conn, rules, pair, stats, value, at, changed)
            repo.save_stats(conn, stats)
        elif kind == events.IDEA_STATUS_CHANGED:
            self._on_status(conn, event, rules, changed, now)
        elif kind == events.IDEA_MERGED:
            self._on_merge(conn, event, rules, changed, now, undo=False)
        elif kind == events.IDEA_UNMERGED:
            self._on_merge(conn, event, rules, changed, now, undo=True)
        elif kind == events.IDEA_COMMENTED:
            member = int(p.get("member_id") or 0)
            author = int(p.get("author_id") or 0)
            if member and member != author:
                repo.get_or_create_stats(conn, event.guild_id, idea, author, happened)
                repo.add_engagement(conn, event.guild_id, member, idea, happened)

    def _on_submitted(
        self,
        conn: sqlite3.Connection,
        event: OutboxEvent,
        rules: PointsRules,
        changed: Changed,
        at: datetime,
    ) -> None:
        assert event.subject_id is not None
        idea = event.subject_id
        author = int(event.payload.get("author_id") or 0)
        stats = repo.get_or_create_stats(conn, event.guild_id, idea, author, ts(event.created_at))
        value = rules.value(AwardKind.IDEA_SUBMITTED)
        if stats.hidden or not value or not author:
            return
        result = self._pay(
            conn,
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
        conn: sqlite3.Connection,
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
        self._settle(conn, rules, pair, stats, at, changed)
        repo.save_pair(conn, pair)

    def _settle(
        self,
        conn: sqlite3.Connection,
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
                    conn, guild, pair.voter_id, pair.author_id, ts(at - PAIR_WINDOW), pair.id
                )
                if not rules_mod.pair_allows(recent, rules.vote_pair_limit):
                    # Recorded at 0 so the audit shows why nothing was paid.
                    repo.insert_entry(
                        conn,
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
            result = self._pay(
                conn,
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
            result = self._pay(
                conn,
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
                    conn, guild, pair.author_id, CapGroup.VOTES, pair.paid_day, pair.paid
                )
            pair.paid, pair.paid_day = 0, None
            changed.add((guild, pair.author_id))

    def _on_status(
        self,
        conn: sqlite3.Connection,
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
        stats = repo.get_or_create_stats(conn, guild, idea, author, happened)
        if new == "hidden":
            if not stats.hidden:
                stats.hidden = True
                stats.hide_seq += 1
                for result in self._reverse_source(
                    conn,
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
                repo.save_stats(conn, stats)
            return
        if stats.hidden or old == "hidden":
            self._unhide(conn, rules, stats, event, changed, at)
        stats.status = new
        if new in ("planned", "in_progress", "implemented") and stats.planned_at is None:
            stats.planned_at = happened
        if new == "implemented" and stats.implemented_at is None:
            stats.implemented_at = happened
        repo.save_stats(conn, stats)
        recipients = list(dict.fromkeys([author, *_ids(p.get("contributors"))]))
        for milestone in rules_mod.milestones_for(new):
            value = rules.value(milestone)
            if not value:
                continue
            for member in recipients:
                if not member:
                    continue
                result = self._pay(
                    conn,
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
        conn: sqlite3.Connection,
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
        for row in repo.entries_with_key_prefix(conn, guild, f"hide:{idea}:{stats.hide_seq}:"):
            member = row.member_id
            if member == FORGOTTEN or not row.delta:
                continue
            result = self._pay(
                conn,
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
        for pair in repo.pairs_of_idea(conn, guild, idea):
            self._settle(conn, rules, pair, stats, at, changed)
            repo.save_pair(conn, pair)

    def _on_merge(
        self,
        conn: sqlite3.Connection,
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
            conn, guild, source_id, int(p.get("source_author_id") or 0), when
        )
        target = repo.get_or_create_stats(
            conn, guild, target_id, int(p.get("target_author_id") or 0), when
        )
        # A pair already set by this event or a later one is left alone: replaying the
        # outbox from an old cursor must not move votes cast after the merge.
        if not undo:
            moved = set(_ids(p.get("moved_voters")))
            for pair in repo.pairs_of_idea(conn, guild, source_id):
                if pair.voter_id is None or not pair.standing or pair.event_id >= event.id:
                    continue
                standing = pair.parked = pair.standing
                pair.event_id = event.id
                self._set_standing(conn, rules, pair, source, 0, at, changed)
                if pair.voter_id not in moved:
                    continue
                arriving = repo.get_or_create_pair(
                    conn, guild, target_id, pair.voter_id, target.author_id
                )
                if arriving.standing == 0 and arriving.event_id < event.id:
                    arriving.moved_from = source_id
                    arriving.event_id = event.id
                    self._set_standing(conn, rules, arriving, target, standing, at, changed)
        else:
            restored = set(_ids(p.get("restored_voters")))
            for pair in repo.pairs_of_idea(conn, guild, target_id):
                if pair.moved_from == source_id and pair.event_id < event.id:
                    pair.moved_from = None
                    pair.event_id = event.id
                    self._set_standing(conn, rules, pair, target, 0, at, changed)
            for pair in repo.pairs_of_idea(conn, guild, source_id):
                if pair.voter_id in restored and pair.parked and pair.event_id < event.id:
                    standing, pair.parked = pair.parked, 0
                    pair.event_id = event.id
                    self._set_standing(conn, rules, pair, source, standing, at, changed)
        repo.save_stats(conn, source)
        repo.save_stats(conn, target)

    # -- queries ---------------------------------------------------------------------------
    async def show(
        self,
        guild_id: int,
        member_id: int,
        *,
        recent: int = 5,
        exclude: Container[int] | None = None,
    ) -> MemberPoints:
        """A member's totals, rank and latest entries. The rank counts the members with
        more points, leaving out those in ``exclude`` (who left, staff) as leaderboards do.
        """

        def read(conn: sqlite3.Connection) -> tuple[MemberPoints, list[int]]:
            all_time, season = repo.member_totals(conn, guild_id, member_id)
            above: list[int] = []
            rank = None
            if all_time > 0:
                if exclude is None:
                    rank = repo.rank_of(conn, guild_id, all_time)
                else:
                    above = repo.members_above(conn, guild_id, all_time)
            entries = repo.recent_entries(conn, guild_id, member_id, recent)
            season_no, _ = repo.current_season(conn, guild_id)
            card = MemberPoints(member_id, all_time, season, season_no, rank, entries)
            return card, above

        card, above = await self._db.read(read)
        if exclude is not None and card.all_time > 0:
            # Filtered here, on the loop: ``exclude`` may look at Discord's member cache.
            rank = 1 + sum(1 for m in above if m not in exclude)
            card = MemberPoints(
                card.member_id, card.all_time, card.season, card.season_no, rank, card.recent
            )
        return card

    async def history(self, guild_id: int, member_id: int, *, limit: int = 20) -> list[LedgerEntry]:
        """A member's latest ledger entries, newest first (moderators)."""
        return await self._db.read(lambda c: repo.recent_entries(c, guild_id, member_id, limit))

    async def totals(self, guild_id: int, member_id: int) -> tuple[int, int]:
        """(all-time, season) points of one member."""
        return await self._db.read(lambda c: repo.member_totals(c, guild_id, member_id))

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
        """One page of a leaderboard; members in ``exclude`` (left, staff) are skipped.

        All-time and season boards read the maintained totals; week, month and
        kind-filtered boards sum the ledger through covering indexes.
        """
        with domain_errors():
            kinds = rules_mod.family_kinds(family)
        page = max(0, page)
        offset = page * per_page
        window = rules_mod.window_start(period, self._clock())
        totals = rules_mod.uses_totals(period, family)
        kind_values = None if kinds is None else {k.value for k in kinds}
        season_no = 1

        def fetch(conn: sqlite3.Connection, start: int, count: int) -> list[tuple[int, int]]:
            # The season lookup (only season boards need it) is a primary-key read done in
            # the same hop as the page: a thread hop costs more than either query.
            nonlocal season_no
            started = None
            if period is Period.SEASON:
                season_no, started = repo.current_season(conn, guild_id)
            if totals:
                return repo.top_from_totals(
                    conn, guild_id, season=period is Period.SEASON, start=start, count=count
                )
            if window is not None:
                since = ts(window)
            elif started is not None:
                since = started
            else:
                since = ""
            return repo.top_from_ledger(
                conn, guild_id, since=since, kinds=kind_values, start=start, count=count
            )

        rows, more = await self._collect(fetch, offset, per_page, exclude)
        ranked = [(offset + i + 1, member, pts) for i, (member, pts) in enumerate(rows)]
        return LeaderboardPage(period, family, page, per_page, ranked, more, season_no)

    async def _collect(
        self,
        fetch: Callable[[sqlite3.Connection, int, int], list[tuple[int, int]]],
        offset: int,
        limit: int,
        exclude: Container[int],
    ) -> tuple[list[tuple[int, int]], bool]:
        """Skip excluded members, return ranked rows [offset, offset+limit) and whether more
        follow. Rows are read in growing chunks; the filter runs here, on the event loop,
        because it may consult discord.py's member cache."""
        kept: list[tuple[int, int]] = []
        seen = start = 0
        # Enough for the page, one more row (is there a next page?) and a few excluded
        # members; a short read is cheaper than a second hop only when exclusions are rare.
        chunk = offset + limit + 1 + max(4, (offset + limit) // 4)
        while True:
            rows = await self._db.read(_window(fetch, start, chunk))
            for member, points in rows:
                if member in exclude:
                    continue
                if seen >= offset:
                    if len(kept) == limit:
                        return kept, True
                    kept.append((member, points))
                seen += 1
            if len(rows) < chunk:
                return kept, False
            start += chunk
            chunk *= 2

    async def innovators(
        self, guild_id: int, *, limit: int = 10, exclude: Container[int] = frozenset()
    ) -> list[InnovatorScore]:
        """The members whose ideas most often become real, over the last 365 days."""
        since = ts(self._clock() - INNOVATOR_WINDOW)

        def read(conn: sqlite3.Connection) -> list[InnovatorScore]:
            ideas = repo.innovator_ideas(conn, guild_id, since)
            engaged = repo.engagement_counts(conn, guild_id, since)
            return rules_mod.innovator_scores(ideas, engaged, since)

        scores = await self._db.read(read)
        return rules_mod.rank_innovators((s for s in scores if s.member_id not in exclude), limit)

    async def role_totals(self, guild_id: int, member_ids: Collection[int]) -> dict[int, int]:
        """The total each member's role rewards follow (all-time or season, per guild)."""
        rules = await self.rules(guild_id)
        season = rules.role_basis is rules_mod.RoleBasis.SEASON
        found = await self._db.read(lambda c: repo.totals_of(c, guild_id, member_ids))
        return {m: found.get(m, (0, 0))[1 if season else 0] for m in member_ids}

    async def members_with_points(self, guild_id: int) -> list[int]:
        """Every member with a totals row in the guild."""
        return await self._db.read(lambda c: list(repo.iter_member_ids(c, guild_id)))

    async def claim_role_notice(self, guild_id: int, role_id: int) -> bool:
        """True once per role the bot cannot manage: moderators are told a single time."""
        at = ts(self._clock())
        return await self._db.write(lambda c: repo.claim_role_notice(c, guild_id, role_id, at))

    async def release_role_notice(self, guild_id: int, role_id: int) -> None:
        """Allow a new notice about a role once it works again."""
        await self._db.write(lambda c: repo.release_role_notice(c, guild_id, role_id))

    # -- seasons ---------------------------------------------------------------------------
    async def start_season(self, guild_id: int, actor_id: int) -> SeasonStart:
        """Archive the season's totals, reset them and open the next season (all-time kept)."""
        now = self._clock()

        def unit(conn: sqlite3.Connection) -> SeasonStart:
            current, started = repo.current_season(conn, guild_id)
            if started is not None and now - datetime.fromisoformat(started) < SEASON_GUARD:
                raise Conflict(f"Season {current} started moments ago; nothing was changed.")
            opening = rules_mod.next_season(current)
            archived = repo.start_season(conn, guild_id, current, opening, actor_id, ts(now))
            common.record_mod_action(
                conn,
                guild_id,
                actor_id,
                "points.season_start",
                f"season {opening}",
                f"season {current} archived ({archived} members)",
            )
            top = repo.season_archive(conn, guild_id, current, 3)
            return SeasonStart(current, opening, archived, top)

        return await self._db.write(unit)

    # -- privacy ---------------------------------------------------------------------------
    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        """The privacy handler: anonymise the member's ledger entries, remove their totals.

        Pending events are applied first, so none of them re-creates what is forgotten.
        """
        await self.consume_outbox()
        return await self._db.write(lambda c: repo.forget_member(c, guild_id, member_id))

    # -- consistency (tests, maintenance) --------------------------------------------------
    async def ledger_sums(self, guild_id: int) -> dict[int, int]:
        """Every member's ledger sum (consistency checks and tests)."""
        return await self._db.read(lambda c: repo.ledger_sums(c, guild_id))


def _window(
    fetch: Callable[[sqlite3.Connection, int, int], list[tuple[int, int]]], start: int, count: int
) -> Callable[[sqlite3.Connection], list[tuple[int, int]]]:
    return lambda conn: fetch(conn, start, count)
