"""Timers are rows; APScheduler only wakes the dispatcher for the earliest one.

Poll closes, policy deadlines, reminders and batched DMs are stored in ``timers`` with a
``due_at``. One APScheduler date job (``timers:next``) is armed for the earliest due row;
when it fires, every due row is handed to the handler registered for its kind and marked
done. What fell due while the bot was down runs at start. A failing handler is retried
with backoff, so a Discord outage delays a post instead of losing it.

Timers are also how what must appear in Discord is published durably: a service writes a
timer row due *now* in the same transaction as the change (a new idea's card, a status
change's announcements); the caller then runs it at once with :meth:`TimerService.run_now`.
If the process dies before it finishes, the row is still there and runs at the next start;
if Discord fails, it is retried. ``Timer.first_try`` tells a handler that nothing of it can
have been posted yet, so it need not look for a post a crashed attempt may have made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain.publishing import Publication
from bot.storage import Tx
from bot.storage import timers as repo
from bot.storage.common import to_iso
from bot.storage.database import Database

log = logging.getLogger(__name__)

JOB_ID = "timers:next"
BATCH = 100
MAX_BACKOFF = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    guild_id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int
    #: Run right after the commit that created it, in this process: no earlier attempt can
    #: have posted anything. False at start-up and on retries.
    first_try: bool = False


#: What a handler may return: a unit written in the same transaction that marks the timer
#: done (e.g. "the card is message N"), so recording the outcome costs no second commit.
FinishUnit = Callable[[Tx], Any]
TimerHandler = Callable[[Timer], Awaitable[FinishUnit | None]]


class TimerService:
    """Stores timers and runs each once when due, across restarts."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))
        self._handlers: dict[str, TimerHandler] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._armed_for: datetime | None = None
        self._lock = asyncio.Lock()
        self._running: set[int] = set()  # timer ids a handler is working on
        self._after: dict[str, list[Callable[[Timer], None]]] = {}

    def register(self, kind: str, handler: TimerHandler) -> None:
        self._handlers[kind] = handler

    def after(self, kind: str, callback: Callable[[Timer], None]) -> None:
        """Call ``callback`` (cheap, never blocking) each time a timer of ``kind`` is done
        here, after the commit marking it done: another feature follows a publication
        (a webhook waits for an idea's card). Lost with the process, like any wake-up."""
        self._after.setdefault(kind, []).append(callback)

    async def start(self, scheduler: AsyncIOScheduler) -> None:
        """Attach to the scheduler and run everything that fell due while we were down."""
        self._scheduler = scheduler
        await self.run_due()

    async def schedule(
        self,
        guild_id: int,
        kind: str,
        key: str,
        due_at: datetime,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Create or move the timer ``(kind, key)``; it runs once at ``due_at``."""
        await self._db.write(
            lambda c: repo.upsert_timer(c, guild_id, kind, key, to_iso(due_at), payload or {})
        )
        if self._armed_for is None or due_at < self._armed_for:
            await self._arm()

    async def run_now(self, kind: str, key: str) -> bool:
        """Run the pending timer ``(kind, key)`` at once (a publication just committed).

        Returns True when it ran to completion here; False when it was done already, is
        running elsewhere, or failed (then it is retried with backoff like any timer).
        """
        row = await self._db.read(lambda c: repo.get_timer(c, kind, key))
        if row is None or row["done_at"] is not None or row["id"] in self._running:
            return False
        self._running.add(row["id"])
        ok = await self._run_one(row, first_try=False)
        if not ok:
            await self._arm()
        return bool(ok)

    async def run_written(self, written: Publication) -> bool:
        """Run a timer row the caller's own unit just committed, without reading it back:
        a publication on the hot path (a captured idea's card). ``first_try``: no earlier
        attempt can have posted anything."""
        if written.id in self._running:
            return False
        self._running.add(written.id)
        timer = Timer(
            written.id,
            written.guild_id,
            written.kind,
            written.key,
            datetime.fromisoformat(written.due_at),
            dict(written.payload),
            0,
            first_try=True,
        )
        try:
            ok = await self._run_handler(timer, written.due_at)
        finally:
            self._running.discard(written.id)
        if not ok:
            await self._arm()
        return bool(ok)

    async def wake(self) -> None:
        """Re-arm for the earliest pending row, after a unit of another service wrote timer
        rows directly (in its own transaction). Losing this call loses nothing: rows that
        are due run at the next start."""
        await self._arm()

    async def save_progress(self, timer: Timer) -> None:
        """Persist ``timer.payload`` (a handler records the steps it has done)."""
        await self._db.write(lambda c: repo.set_payload(c, timer.id, timer.payload))

    async def cancel(self, kind: str, key: str) -> bool:
        return await self._db.write(lambda c: repo.cancel_timer(c, kind, key))

    async def run_due(self) -> int:
        """Run every due timer now; returns how many ran successfully."""
        async with self._lock:
            done = 0
            while True:
                rows = await self._db.read(
                    partial(repo.due_timers, now=to_iso(self._clock()), limit=BATCH)
                )
                if not rows:
                    break
                for row in rows:
                    if row["id"] in self._running:
                        continue
                    self._running.add(row["id"])  # claimed before the next await
                    # Read again: run_now may have finished (or progressed) it since.
                    fresh = await self._db.read(partial(repo.get_timer_by_id, timer_id=row["id"]))
                    if fresh is None or fresh["done_at"] is not None:
                        self._running.discard(row["id"])
                        continue
                    done += await self._run_one(fresh)
                if len(rows) < BATCH:
                    break
            await self._arm()
            return done

    async def _run_one(self, row: Any, *, first_try: bool = False) -> int:
        """Run a claimed row (its id is in ``_running``) and release it."""
        timer = Timer(
            row["id"],
            row["guild_id"],
            row["kind"],
            row["key"],
            datetime.fromisoformat(row["due_at"]),
            orjson.loads(row["payload"]),
            row["attempts"],
            first_try,
        )
        try:
            return await self._run_handler(timer, row["due_at"])
        finally:
            self._running.discard(timer.id)

    async def _run_handler(self, timer: Timer, due_at: str) -> int:
        handler = self._handlers.get(timer.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for timer kind {timer.kind!r}")
            finish = await handler(timer)
        except Exception as exc:
            error = repr(exc)
            delay = min(MAX_BACKOFF, timedelta(seconds=30 * 2**timer.attempts))
            log.exception(
                "Timer %s:%s failed (attempt %d); retrying in %s",
                timer.kind,
                timer.key,
                timer.attempts + 1,
                delay,
            )
            retry_at = to_iso(self._clock() + delay)
            await self._db.write(lambda c: repo.retry_timer(c, timer.id, retry_at, error))
            return 0

        def unit(conn: Tx) -> None:
            repo.finish_timer(conn, timer.id, due_at)
            if finish is not None:
                finish(conn)

        await self._db.write(unit)
        for callback in self._after.get(timer.kind, ()):
            try:
                callback(timer)
            except Exception:
                log.exception("A follower of timer %s:%s failed", timer.kind, timer.key)
        return 1

    async def _arm(self) -> None:
        if self._scheduler is None:
            return
        nxt = await self._db.read(repo.next_due)
        if nxt is None:
            self._armed_for = None
            if self._scheduler.get_job(JOB_ID):
                self._scheduler.remove_job(JOB_ID)
            return
        when = max(datetime.fromisoformat(nxt), self._clock())
        self._armed_for = when
        self._scheduler.add_job(
            self.run_due, "date", run_date=when, id=JOB_ID, replace_existing=True
        )
