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
    "ideas": (
        "INSERT INTO ideas (id, guild_id, number, title, body, author_id, status, source, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'message', ?, ?)"
    ),
    "idea_events": (
        "INSERT INTO idea_events (guild_id, idea_id, kind, actor_id, old_status, "
        "new_status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ),
    "idea_followers": "INSERT INTO idea_followers (idea_id, member_id, guild_id) VALUES (?, ?, ?)",
    "idea_followers_again": (
        "INSERT OR IGNORE INTO idea_followers (idea_id, member_id, guild_id) VALUES (?, ?, ?)"
    ),
    "idea_votes": (
        "INSERT INTO idea_votes (idea_id, member_id, guild_id, value, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?)"
    ),
    "idea_counts_add": "UPDATE ideas SET support = support + ?, oppose = oppose + ? WHERE id = ?",
    # Run once (one empty row): every idea's counts from its votes.
    "idea_counts_recount": (
        "UPDATE ideas SET "
        "support = (SELECT count(*) FROM idea_votes v WHERE v.idea_id = ideas.id "
        "AND v.value = 1), "
        "oppose = (SELECT count(*) FROM idea_votes v WHERE v.idea_id = ideas.id "
        "AND v.value = -1)"
    ),
    "outbox": (
        "INSERT INTO outbox (guild_id, kind, subject_id, actor_id, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    ),
}

#: The plain queries a benchmark divides by, by name.
QUERIES: dict[str, str] = {
    "points_top10": (
        "SELECT member_id, all_time FROM points_totals WHERE guild_id = ? "
        "ORDER BY all_time DESC LIMIT 10"
    ),
    "poll_ballots_between": "SELECT count(*) FROM poll_ballots WHERE poll_id BETWEEN ? AND ?",
    "idea_authors": "SELECT id, author_id FROM ideas",
    "open_ideas": (
        "SELECT id, number, author_id FROM ideas WHERE status IN "
        "('new', 'under_review', 'planned', 'in_progress') AND merged_into IS NULL"
    ),
    # Ideas whose counts differ from their stored votes (a check, not a figure).
    "ideas_miscounted": (
        "SELECT count(*) FROM ideas i WHERE support != (SELECT count(*) FROM idea_votes v "
        "WHERE v.idea_id = i.id AND v.value = 1) OR oppose != (SELECT count(*) FROM "
        "idea_votes v WHERE v.idea_id = i.id AND v.value = -1)"
    ),
    "open_ideas_sample": (
        "SELECT number, title, body FROM ideas WHERE status IN "
        "('new', 'under_review', 'planned', 'in_progress') AND id % ? = 0"
    ),
    "indexed_ideas": (
        "SELECT count(*) FROM ideas WHERE status NOT IN ('hidden', 'withdrawn', "
        "'duplicate') AND merged_into IS NULL"
    ),
    "fts_match": "SELECT rowid FROM ideas_fts WHERE ideas_fts MATCH ? ORDER BY rank LIMIT 5",
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


def checkpoint(conn: Tx) -> None:
    """Copy the write-ahead log into the file and empty it (after seeding, and before a
    measured run, so that it does not pay for the previous run's pages)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


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

    def __init__(self, path: Path, *, busy_timeout_ms: int | None = None) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> Self:
        """Connect; with ``busy_timeout_ms``, configured as the bot's writer is
        (bot.storage.database), so only the way rows are written differs."""
        self._conn = await aiosqlite.connect(self._path, isolation_level=None)
        pragmas = ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"]
        if self._busy_timeout_ms is not None:
            pragmas += [
                f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}",
                "PRAGMA foreign_keys = ON",
                "PRAGMA temp_store = MEMORY",
            ]
        for pragma in pragmas:
            await self._conn.execute(pragma)
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

    async def checkpoint(self) -> None:
        """Empty the write-ahead log (see :func:`checkpoint`)."""
        conn = self._conn
        assert conn is not None, "use RawWriter in an async with block"
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def write(self, *writes: Write) -> None:
        """One transaction: each named statement with its rows."""
        conn = self._conn
        assert conn is not None, "use RawWriter in an async with block"
        await conn.execute("BEGIN IMMEDIATE")
        for name, rows in writes:
            await conn.executemany(STATEMENTS[name], rows)
        await conn.execute("COMMIT")

    async def create_ideas(self) -> None:
        """The table of :meth:`store_idea` (bench ideas (d)'s durable minimal bot)."""
        conn = self._conn
        assert conn is not None, "open the RawWriter first"
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS ideas (id INTEGER PRIMARY KEY, guild_id INTEGER, "
            "author_id INTEGER, source_message_id INTEGER UNIQUE, title TEXT)"
        )

    async def store_idea(
        self, guild_id: int | None, author_id: int, source_message_id: int, title: str
    ) -> None:
        """One row in autocommit: the least a bot can store durably (one hop, one commit)."""
        conn = self._conn
        assert conn is not None, "open the RawWriter first"
        await conn.execute(
            "INSERT INTO ideas (guild_id, author_id, source_message_id, title) VALUES (?, ?, ?, ?)",
            (guild_id, author_id, source_message_id, title),
        )
