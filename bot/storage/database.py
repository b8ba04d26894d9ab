"""SQLite through aiosqlite: one writer connection fed by a group-commit queue, one reader.

Why a group commit: a commit per write costs an fsync-ish round trip (measured ≈ 4,000
rows/s here) while one transaction over many rows runs at ≈ 100,000 rows/s. Writers
submit a *unit of work* — a plain function that runs SQL on the writer's ``sqlite3``
connection — and await the commit of the batch their unit landed in, so a caller never
reports "recorded" before it is durable, and 1,000 concurrent voters cost a handful of
commits.

Each unit runs inside a SAVEPOINT, so a unit that raises (a rule broken, a constraint hit)
is rolled back alone and its caller gets the exception, while the rest of the batch
commits. A whole batch runs in *one* hop to aiosqlite's connection thread: hopping per
statement would cost more than the SQL itself.

Units must only touch the connection they are given (no awaits, no network): they run on
the database thread while the event loop goes on.

Checkpoints (copying the write-ahead log back into the database file) run on a third
connection, in its own thread, shortly after commits: SQLite's automatic checkpoint
would otherwise run inside whichever commit crosses 1,000 log pages and stall every
writer waiting on that batch (measured: a 500-award batch took 16 ms instead of 6). The
writer keeps a much higher automatic threshold only as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The connection a unit of work runs on. Services annotate their units with it and hand
#: it to storage functions; they never run SQL on it, nor import ``sqlite3`` to name it.
Tx: TypeAlias = sqlite3.Connection
Unit = Callable[[Tx], Any]


class Savepoint:
    """A nested unit inside the current transaction (see :func:`savepoint`)."""

    __slots__ = ("_conn", "_name")

    def __init__(self, conn: Tx, name: str) -> None:
        if not name.isidentifier():  # it goes into the SQL text: a fixed name, never input
            raise ValueError(f"not a savepoint name: {name!r}")
        self._conn = conn
        self._name = name

    def __enter__(self) -> Savepoint:
        self._conn.execute(f"SAVEPOINT {self._name}")
        return self

    def rollback(self) -> None:
        """Undo what the block wrote so far and stay inside it (plan again, write again)."""
        self._conn.execute(f"ROLLBACK TO {self._name}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._conn.execute(f"ROLLBACK TO {self._name}")
        self._conn.execute(f"RELEASE {self._name}")


def savepoint(conn: Tx, name: str) -> Savepoint:
    """``with savepoint(tx, "name"):`` runs a block as a nested unit of ``tx``'s
    transaction: if the block raises, what it wrote is undone and the exception goes on,
    while the rest of the unit stands (catch it to skip just that part). The ``as`` target
    can :meth:`~Savepoint.rollback` part-way.

    A class, not a generator context manager: it runs once per outbox event, and the
    cheaper form keeps that overhead out of the writer's batches.
    """
    return Savepoint(conn, name)


class DatabaseClosed(RuntimeError):
    """A write was submitted after the database began closing."""


class DatabaseUnavailable(Exception):
    """The database file cannot be used at all; ``problem`` says why, SQLite's own error
    is the ``__cause__``. Nothing was written to the file: the operator decides.

    - ``not_sqlite``: not an SQLite database, or a damaged one;
    - ``locked``: another process holds a lock on it (longer than ``busy_timeout_ms``);
    - ``cannot_open``: it (or its folder) cannot be created, opened or written.
    """

    NOT_SQLITE = "not_sqlite"
    LOCKED = "locked"
    CANNOT_OPEN = "cannot_open"

    def __init__(self, path: str | Path, problem: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = Path(path)
        self.problem = problem
        self.detail = detail


# SQLite's primary result codes that mean the file itself is unusable.
_UNUSABLE = {
    sqlite3.SQLITE_NOTADB: DatabaseUnavailable.NOT_SQLITE,
    sqlite3.SQLITE_CORRUPT: DatabaseUnavailable.NOT_SQLITE,
    sqlite3.SQLITE_BUSY: DatabaseUnavailable.LOCKED,
    sqlite3.SQLITE_CANTOPEN: DatabaseUnavailable.CANNOT_OPEN,
    sqlite3.SQLITE_PERM: DatabaseUnavailable.CANNOT_OPEN,
    sqlite3.SQLITE_READONLY: DatabaseUnavailable.CANNOT_OPEN,
}


def unavailable(error: BaseException, path: str | Path) -> DatabaseUnavailable | None:
    """The storage problem behind ``error``, or None if it is not one.

    Looks through the exceptions ``error`` was raised from (a migration wraps SQLite's
    error, the sandbox driver wraps the bot's): a :class:`DatabaseUnavailable` is returned
    as is; an SQLite error meaning the file is unusable becomes one about ``path``.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        exc = pending.pop(0)
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, DatabaseUnavailable):
            return exc
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(exc, sqlite3.Error) and isinstance(code, int):
            problem = _UNUSABLE.get(code & 0xFF)  # extended codes keep the primary in the low byte
            if problem is not None:
                return DatabaseUnavailable(path, problem, str(exc))
        pending += [e for e in (exc.__cause__, exc.__context__) if e is not None]
    return None


@dataclass(slots=True)
class _Pending:
    unit: Unit
    future: asyncio.Future[Any]
    weight: int = 1  # rows the unit writes, counted against ``batch_max_rows``


def sum_rows(queue: deque[_Pending], enough: int) -> int:
    """The rows queued, counted only up to ``enough`` (the queue may be long)."""
    rows = 0
    for item in queue:
        rows += item.weight
        if rows >= enough:
            break
    return rows


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(slots=True)
class WriterStats:
    """Counters for benchmarks and /about."""

    batches: int = 0
    units: int = 0
    failed_units: int = 0
    largest_batch: int = 0
    checkpoints: int = 0


async def _run_in_thread(
    conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    # aiosqlite owns one thread per connection and exposes only per-statement calls;
    # `_execute` is the call they all go through (stable across aiosqlite 0.17–0.22).
    # Running a whole batch in one hop is what makes the group commit fast. Private, so
    # pyproject.toml pins aiosqlite and tests/integration/test_aiosqlite_internals.py checks.
    result: T = await conn._execute(fn, *args, **kwargs)
    return result


#: Seconds between background checkpoints while writes keep coming.
CHECKPOINT_INTERVAL = 0.05
#: The writer's own automatic checkpoint threshold (pages), used only if the background
#: checkpointer falls far behind (SQLite's default is 1,000).
FALLBACK_AUTOCHECKPOINT = 20_000


def _configure(conn: sqlite3.Connection, busy_timeout_ms: int, *, writer: bool) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    if writer:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("SQLite journal mode is %s, not WAL", mode)
        conn.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_AUTOCHECKPOINT:d}")
    conn.execute("PRAGMA synchronous = NORMAL")
    # Every unit runs in a SAVEPOINT, whose undo copies of changed pages go to a statement
    # journal: a temporary *file* by default. In memory it costs a copy, not file writes
    # (measured: ≈ 18 → 6 µs per vote unit; see `cocreate bench ideas`).
    conn.execute("PRAGMA temp_store = MEMORY")


def _checkpoint(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """A PASSIVE checkpoint: copies what no reader still needs, never blocks writers.

    Returns SQLite's (busy, frames in the log, frames checkpointed)."""
    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _run_batch(conn: sqlite3.Connection, batch: Sequence[_Pending]) -> list[tuple[bool, Any]]:
    """Run every unit of ``batch`` in one transaction, each isolated by a savepoint.

    Returns (ok, result-or-exception) per unit. If COMMIT itself fails, the transaction is
    rolled back and the exception propagates: every caller in the batch gets it.
    """
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for item in batch:
            conn.execute("SAVEPOINT unit")
            try:
                value = item.unit(conn)
            except BaseException as exc:
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append((False, exc))
            else:
                conn.execute("RELEASE unit")
                outcomes.append((True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


class Database:
    """The bot's SQLite database: migrations, a group-commit writer and a reader."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 5000,
        batch_max_rows: int = 500,
        batch_max_delay_ms: float = 2.0,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.batch_max_rows = max(1, batch_max_rows)
        self.batch_max_delay = max(0.0, batch_max_delay_ms) / 1000
        self.stats = WriterStats()
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        # A second reader for long reports (opened on first use): beside the reader, so a
        # report's big read runs in parallel with its others and never queues ahead of
        # members' reads.
        self._report: aiosqlite.Connection | None = None
        self._report_lock = asyncio.Lock()
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._committed = asyncio.Event()
        # Units waiting for the writer, and the future the idle writer waits on (set by
        # the next submit). Cheaper than an asyncio.Queue read under wait_for, which costs a
        # task, a timer and a cancellation per batch: see `cocreate bench ideas` (d).
        self._queue: deque[_Pending] = deque()
        self._arrived: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        """Create the folder, open the connections and start the writer task.

        Opening an open database does nothing (the CLI opens it before logging in to
        Discord, then the bot's start-up opens it again). A file that cannot be used
        raises :class:`DatabaseUnavailable`, untouched.
        """
        if self._task is not None:
            return
        if str(self.path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                detail = f"cannot create its folder: {exc.strerror or exc}"
                raise DatabaseUnavailable(
                    self.path, DatabaseUnavailable.CANNOT_OPEN, detail
                ) from exc
        try:
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
            await _run_in_thread(
                self._writer, _configure, self._writer_conn, self.busy_timeout_ms, writer=True
            )
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await _run_in_thread(
                self._reader, _configure, self._reader_conn, self.busy_timeout_ms, writer=False
            )
            if str(self.path) != ":memory:":
                self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
                await _run_in_thread(
                    self._checkpointer,
                    _configure,
                    self._checkpointer._conn,
                    self.busy_timeout_ms,
                    writer=False,
                )
        except BaseException as exc:
            for conn in (self._checkpointer, self._reader, self._writer):
                if conn is not None:
                    await conn.close()
            self._checkpointer = self._reader = self._writer = None
            problem = unavailable(exc, self.path)
            if problem is not None:
                raise problem from exc
            raise
        self._closing = False
        self._task = asyncio.create_task(self._writer_loop(), name="cocreate-db-writer")
        if self._checkpointer is not None:
            self._checkpoint_task = asyncio.create_task(
                self._checkpoint_loop(self._checkpointer), name="cocreate-db-checkpoint"
            )

    @property
    def _writer_conn(self) -> sqlite3.Connection:
        assert self._writer is not None
        return self._writer._conn

    @property
    def _reader_conn(self) -> sqlite3.Connection:
        assert self._reader is not None
        return self._reader._conn

    @property
    def is_open(self) -> bool:
        return self._task is not None and not self._closing

    async def close(self) -> None:
        """Commit everything already queued, then close both connections."""
        if self._task is None:
            return
        self._closing = True
        self._wake_writer()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            self._checkpoint_task = None
        for conn in (self._report, self._checkpointer, self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._report = self._checkpointer = self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writes ----------------------------------------------------------------------
    async def write(self, unit: Callable[[Tx], T], *, weight: int = 1) -> T:
        """Run ``unit`` in the next batch and return its result once the batch committed.

        If ``unit`` raises, its changes are rolled back and the exception is re-raised
        here; the other units of the batch are unaffected. ``weight`` is how many rows the
        unit stands for (see :meth:`submit`).
        """
        return await self.submit(unit, weight=weight)

    def submit(self, unit: Callable[[Tx], T], *, weight: int = 1) -> asyncio.Future[T]:
        """Queue ``unit`` without waiting: the future resolves when its batch committed.

        For callers that batch many requests into one unit themselves and hand results
        out from a callback (no task per submission). ``weight`` counts toward
        ``batch_max_rows``: a batch that is already full commits at once instead of
        waiting ``batch_max_delay`` for more writers.
        """
        if self._closing or self._task is None:
            raise DatabaseClosed("the database is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(unit, future, max(1, weight)))
        self._wake_writer()
        return future

    def _wake_writer(self) -> None:
        arrived = self._arrived
        if arrived is not None and not arrived.done():
            arrived.set_result(None)

    async def _next_arrival(self, within: float | None) -> None:
        """Wait until a unit is submitted (or close begins), at most ``within`` seconds."""
        loop = asyncio.get_running_loop()
        arrived = self._arrived = loop.create_future()
        timer = None if within is None else loop.call_later(within, _settle, arrived)
        try:
            await arrived
        finally:
            self._arrived = None
            if timer is not None:
                timer.cancel()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Write one statement through the group commit; returns the affected row count."""
        return await self.write(lambda conn: conn.execute(sql, params).rowcount)

    async def _writer_loop(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        while True:
            if not queue:
                if self._closing:
                    break  # everything queued before close() is committed
                await self._next_arrival(None)
                continue
            # Units submitted in the same loop turn are here already. A lone unit commits at
            # once: waiting for company that is not coming costs its caller the delay and
            # the process a timer wake-up (≈ 70 µs of CPU here, a third of a write; see
            # `cocreate bench ideas` (d)), and units arriving meanwhile form the next batch.
            # Only when others came with it (a burst) does the batch wait up to
            # batch_max_delay for more, unless it is full already.
            deadline = loop.time() + self.batch_max_delay
            while (
                len(queue) > 1
                and not self._closing
                and sum_rows(queue, self.batch_max_rows) < self.batch_max_rows
            ):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await self._next_arrival(remaining)
            batch = [queue.popleft()]
            rows = batch[0].weight
            while queue and rows < self.batch_max_rows:
                item = queue.popleft()
                batch.append(item)
                rows += item.weight
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        assert self._writer is not None
        try:
            outcomes = await _run_in_thread(self._writer, _run_batch, self._writer_conn, batch)
        except BaseException as exc:  # the commit failed: nobody in this batch is durable
            self._failed(batch, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._committed.set()
        self.stats.batches += 1
        self.stats.units += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for item, (ok, value) in zip(batch, outcomes, strict=True):
            if item.future.done():  # the caller gave up waiting; the write still happened
                continue
            if ok:
                item.future.set_result(value)
            else:
                self.stats.failed_units += 1
                item.future.set_exception(value)

    def _failed(self, batch: list[_Pending], exc: BaseException) -> None:
        if unavailable(exc, self.path) is not None:  # the file, not the code: no traceback
            log.error("Batch of %d writes failed to commit: %s", len(batch), exc)
        else:
            log.error("Batch of %d writes failed to commit", len(batch), exc_info=exc)
        for item in batch:
            if not item.future.done():
                item.future.set_exception(exc)

    async def _checkpoint_loop(self, conn: aiosqlite.Connection) -> None:
        """After commits, checkpoint on the checkpointer's own thread, at most every
        :data:`CHECKPOINT_INTERVAL` seconds (each run copies only what is new)."""
        while True:
            await self._committed.wait()
            self._committed.clear()
            try:
                busy, frames, done = await _run_in_thread(conn, _checkpoint, conn._conn)
            except sqlite3.Error:
                log.warning("Background checkpoint failed; SQLite's own will run", exc_info=True)
            else:
                self.stats.checkpoints += 1
                log.debug("Checkpoint: %d of %d log frames (busy=%d)", done, frames, busy)
            await asyncio.sleep(CHECKPOINT_INTERVAL)

    async def run_exclusive(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer connection outside any batch (migrations, maintenance).

        Only valid while no writes are queued: ``fn`` manages its own transactions.
        """
        if self._writer is None:
            raise DatabaseClosed("the database is closed")
        if self._queue:
            raise RuntimeError("run_exclusive needs an idle writer")
        return await _run_in_thread(self._writer, fn, self._writer_conn)

    # -- reads -----------------------------------------------------------------------
    async def read(self, fn: Callable[[Tx], T]) -> T:
        """Run a read-only function on the reader connection (sees committed data only)."""
        if self._reader is None:
            raise DatabaseClosed("the database is closed")
        return await _run_in_thread(self._reader, fn, self._reader_conn)

    async def report(self, fn: Callable[[Tx], T]) -> T:
        """Run a read-only function on the report connection (a second reader, opened on
        first use; the reader itself for an in-memory database, which has only one)."""
        if self._reader is None:
            raise DatabaseClosed("the database is closed")
        if str(self.path) == ":memory:":
            return await self.read(fn)
        if self._report is None:
            async with self._report_lock:
                if self._report is None:
                    conn = await aiosqlite.connect(self.path, isolation_level=None)
                    await _run_in_thread(
                        conn, _configure, conn._conn, self.busy_timeout_ms, writer=False
                    )
                    self._report = conn
        return await _run_in_thread(self._report, fn, self._report._conn)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await self.read(lambda conn: conn.execute(sql, params).fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return await self.read(lambda conn: conn.execute(sql, params).fetchone())

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    # -- maintenance -----------------------------------------------------------------
    async def backup_to(self, target: str | Path) -> Path:
        """Write a consistent copy of the live database to ``target`` (VACUUM INTO)."""
        dest = Path(target)

        def vacuum_into(conn: sqlite3.Connection) -> None:
            if dest.exists():
                raise FileExistsError(f"{dest} already exists")
            dest.parent.mkdir(parents=True, exist_ok=True)
            conn.execute("VACUUM INTO ?", (str(dest),))

        await self.read(vacuum_into)
        return dest

    async def size_bytes(self) -> int:
        """Database size as SQLite sees it (pages × page size)."""
        row = await self.fetchone(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        )
        return int(row[0]) if row else 0
