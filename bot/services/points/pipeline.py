"""The award pipeline: awards made at the same moment share one write unit.

:meth:`AwardPipeline.award` queues a request and returns once its unit committed. A loop
callback hands everything queued to the writer in units of up to :data:`AWARD_BATCH`,
where :meth:`AwardPipeline._pay_many` plans the whole unit at once: one statement per
question instead of one per award, with the same outcome as paying them one by one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from bot.domain import points as rules_mod
from bot.domain.points import CAP_GROUP, AwardKind, CapGroup, PointsRules
from bot.domain.points_model import AwardResult
from bot.services.points.ledger import pay
from bot.services.points.rules import RulesCache
from bot.storage import Tx, savepoint
from bot.storage import points as repo
from bot.storage.database import Database
from bot.storage.points import ts

log = logging.getLogger(__name__)

#: Awards written per unit when many arrive at once (the writer's own batch size).
AWARD_BATCH = 500
#: Each cap group's place among the totals row's cap counters.
CAP_INDEX: dict[CapGroup, int] = {CapGroup(name): i for i, name in enumerate(repo.CAP_COLUMNS)}


@dataclass(slots=True)
class PlannedAward:
    """An award decided outside a write unit (its points and cap known from the rules),
    to be paid inside one: by the pipeline, or by a use case's own unit with
    :meth:`AwardPipeline.pay_planned` so that the change and its award commit together."""

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
    cap_index: int  # the daily cap's place in CAP_INDEX order (-1: the kind has none)
    cap: int  # the cap (0: none)
    future: asyncio.Future[AwardResult] | None = None  # set when queued in the pipeline


class AwardPipeline:
    """Batched, pipelined awards with daily caps (see the module docstring)."""

    def __init__(self, db: Database, rules: RulesCache, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._rules = rules
        self._clock = clock
        self._awards: list[PlannedAward] = []
        self._flush_scheduled = False
        self._retries: set[asyncio.Task[None]] = set()

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
        planned = await self.plan(
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
        if planned is None:
            return AwardResult("skipped", member_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AwardResult] = loop.create_future()
        planned.future = future
        self._awards.append(planned)
        if not self._flush_scheduled:
            # A callback, not a task: it runs after every award already scheduled on the
            # loop has queued itself, so awards made at the same moment share units.
            self._flush_scheduled = True
            loop.call_soon(self._flush_awards)
        return await future

    async def plan(
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
    ) -> PlannedAward | None:
        """The award :meth:`award` would pay, decided now and paid later with
        :meth:`pay_planned` inside the caller's write unit; None when it would be skipped
        (no points for ``kind``, or an actor awarding themselves)."""
        rules = self._rules.known(guild_id) or await self._rules.get(guild_id)
        return self.plan_with(
            rules,
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

    def known_rules(self, guild_id: int) -> PointsRules | None:
        """The guild's rules if built for its current settings (None: :meth:`plan`)."""
        return self._rules.known(guild_id)

    @staticmethod
    def plan_with(
        rules: PointsRules,
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
    ) -> PlannedAward | None:
        """:meth:`plan` with the guild's ``rules`` in hand: no await, for paths that run
        thousands of times a second (a burst of ballots)."""
        delta = rules.value(kind) if points is None else points
        if delta == 0 or member_id == actor_id or not member_id:
            return None
        group = CAP_GROUP.get(kind)
        return PlannedAward(
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
            -1 if group is None else CAP_INDEX[group],
            rules.cap(group),
        )

    @classmethod
    def pay_planned(cls, tx: Tx, awards: list[PlannedAward], at: datetime) -> list[AwardResult]:
        """Pay ``awards`` inside the caller's unit ``tx``, with the same outcome as
        :meth:`award` (keys once, caps in order). If it raises, nothing of it was written
        and the rest of the unit stands: the caller may pay them through :meth:`award`."""
        return cls._pay_many(tx, awards, at)

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
                    if req.future is not None and not req.future.done():
                        req.future.set_exception(exc)
                continue
            done.add_done_callback(partial(self._settle_chunk, chunk, at))

    def _settle_chunk(
        self, chunk: list[PlannedAward], at: datetime, done: asyncio.Future[list[AwardResult]]
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
            if req.future is not None and not req.future.done():
                req.future.set_result(result)

    async def _pay_alone(self, req: PlannedAward, at: datetime) -> None:
        try:
            result = await self._db.write(
                lambda tx: pay(
                    tx,
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
            if req.future is not None and not req.future.done():
                req.future.set_exception(exc)
        else:
            if req.future is not None and not req.future.done():
                req.future.set_result(result)

    @classmethod
    def _pay_many(cls, tx: Tx, batch: list[PlannedAward], at: datetime) -> list[AwardResult]:
        """:func:`~bot.services.points.ledger.pay` for many awards in one unit, with the
        same outcome as paying them one after another: keys already used (before or
        earlier in the batch) are duplicates, and each cap counter runs through the batch
        in order.

        Used keys are rare (a replayed event, a double click), so the batch is first
        written as if none were, with ``ON CONFLICT DO NOTHING``; only when fewer rows went
        in than were planned is the attempt undone and the batch planned again knowing
        which keys exist. That saves a key lookup per award on the common path.
        """
        when, day = ts(at), rules_mod.day_key(at)
        with savepoint(tx, "awards") as attempt:
            entries, totals, results = cls._plan(tx, batch, set(), when, day)
            if repo.insert_entries(tx, entries) != len(entries):
                attempt.rollback()
                used_keys: set[tuple[int, str]] = set()
                keys_by_guild: dict[int, list[str]] = {}
                for req in batch:
                    keys_by_guild.setdefault(req.guild_id, []).append(req.key)
                for guild, keys in keys_by_guild.items():
                    used_keys.update((guild, k) for k in repo.existing_keys(tx, guild, keys))
                entries, totals, results = cls._plan(tx, batch, used_keys, when, day)
                if repo.insert_entries(tx, entries) != len(entries):
                    raise RuntimeError("award keys changed while a batch was written")
            repo.add_to_totals_many(tx, totals)
        return results

    @staticmethod
    def _plan(
        tx: Tx,
        batch: list[PlannedAward],
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
            for member, counts in repo.caps_used(tx, guild, day, members).items():
                stored[guild, member] = counts
        # ...and what this batch adds: (guild, member) -> [points, count per cap group].
        acc: dict[tuple[int, int], list[int]] = {}
        width = 1 + len(CAP_INDEX)
        next_id = repo.max_entry_id(tx) + 1
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
