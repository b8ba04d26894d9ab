"""The SQL the benchmarks run beside the services: seeding data, and the plain
``executemany`` and queries each figure is divided by.

Benchmarks compare a service with the same rows written (or read) the plainest way
SQLite allows; those statements live here, with every other statement, so that SQL stays
in storage. A benchmark names what it writes (``"points_ledger"``) and passes rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from bot.storage import points as points_repo
from bot.storage.database import Tx

Rows = Sequence[Sequence[Any]]
Write = tuple[str, Rows]

#: The statements a benchmark may write rows with, by name.
STATEMENTS: dict[str, str] = {
    "points_ledger": (
        "INSERT INTO points_ledger (guild_id, member_id, delta, kind, reason, source_kind, "
        "source_id, award_key, actor_id, withheld, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "points_ledger_with_id": (
        "INSERT INTO points_ledger (id, guild_id, member_id, delta, kind, reason, "
        "source_kind, source_id, award_key, actor_id, withheld, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "points_totals": (
        "INSERT INTO points_totals (guild_id, member_id, all_time, season, updated_at) "
        "VALUES (?, ?, ?, ?, ?)"
    ),
    "points_totals_add": (
        "INSERT INTO points_totals (guild_id, member_id, all_time, season, updated_at) "
        "VALUES (?1, ?2, ?3, ?3, ?4) ON CONFLICT (guild_id, member_id) DO UPDATE SET "
        "all_time = all_time + excluded.all_time, season = season + excluded.season, "
        "updated_at = excluded.updated_at"
    ),
    # What the points service's own upsert writes (caps counted in the totals row).
    "points_totals_service": points_repo._TOTALS_UPSERT,
    "poll_ballots": (
        "INSERT INTO poll_ballots (poll_id, voter, guild_id, answer) VALUES (?, ?, ?, ?)"
    ),
}

#: The plain queries a benchmark divides by, by name.
QUERIES: dict[str, str] = {
    "points_top10": (
        "SELECT member_id, all_time FROM points_totals WHERE guild_id = ? "
        "ORDER BY all_time DESC LIMIT 10"
    ),
    "poll_ballots_between": "SELECT count(*) FROM poll_ballots WHERE poll_id BETWEEN ? AND ?",
}


def sqlite_version() -> str:
    return sqlite3.sqlite_version


def migrated(path: Path) -> None:
    """A database file in WAL mode with every migration applied."""
    from bot.storage.migrations import apply_migrations, load_migrations

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        apply_migrations(conn, load_migrations(), backup_dir=None, db_name=path.stem)
    finally:
        conn.close()


def write_on(conn: Tx, *writes: Write) -> None:
    """Write rows with executemany in one transaction on an open connection."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, rows in writes:
            conn.executemany(STATEMENTS[name], rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def seed(path: Path, *writes: Write) -> None:
    """Seed a benchmark database file in one transaction, then ANALYZE it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        write_on(conn, *writes)
        conn.execute("ANALYZE")
    finally:
        conn.close()


def query(conn: Tx, name: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one of :data:`QUERIES` on a connection the caller has."""
    return conn.execute(QUERIES[name], tuple(params)).fetchall()


class RawWriter:
    """A plain aiosqlite connection: rows in explicit transactions with executemany, the
    baseline of the write benchmarks (``async with RawWriter(path) as raw``)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> Self:
        self._conn = await aiosqlite.connect(self._path, isolation_level=None)
        await self._conn.execute("PRAGMA journal_mode = WAL")
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def write(self, *writes: Write) -> None:
        """One transaction: each named statement with its rows."""
        conn = self._conn
        assert conn is not None, "use RawWriter in an async with block"
        await conn.execute("BEGIN IMMEDIATE")
        for name, rows in writes:
            await conn.executemany(STATEMENTS[name], rows)
        await conn.execute("COMMIT")
